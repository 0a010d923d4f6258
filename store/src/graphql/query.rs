//! Resolving selections into Infrahub-shaped JSON: `count`/`edges { node }`, nodes with
//! `id`, `hfid`, `display_label`, attribute objects and relationships.

use super::answer::{Answer, Fields};
use super::filters::{Filters, ancestors, descendants};
use super::types::RelTy;
use super::{GqlError, args_json, collect_fields};
use crate::NodeId;
use crate::graph::Tx;
use crate::ip::IpWithPrefix;
use crate::node::Node;
use crate::schema::{AttributeKind, AttributeSchema, Cardinality, KindSchema};
use async_graphql_parser::Positioned;
use async_graphql_parser::types::{ExecutableDocument, Field, SelectionSet};
use async_graphql_value::Name;
use foldhash::HashMap;
use serde_json::{Map, Value, json};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// The Infrahub server version this dialect follows (answered by `InfrahubInfo.version`).
pub const INFRAHUB_COMPAT_VERSION: &str = "1.11.9";

/// Whether diff node `node` passes `DiffTree`'s `filters` (`ids`, and `status`, `kind`,
/// `namespace` with `includes`/`excludes`).
fn diff_filters_match(schema: &crate::schema::Schema, filters: &Value, node: &Value) -> bool {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let kind = text(&node["kind"]);
    let namespace = schema
        .get(&kind)
        .map(|k| k.namespace.clone())
        .unwrap_or_default();
    let ids_ok = filters["ids"]
        .as_array()
        .is_none_or(|ids| ids.iter().any(|id| id == &node["uuid"]));
    let passes = |filter: &Value, value: &str| {
        let listed = |key: &str| {
            filter[key]
                .as_array()
                .map(|l| l.iter().any(|x| x.as_str() == Some(value)))
        };
        listed("includes").unwrap_or(true) && !listed("excludes").unwrap_or(false)
    };
    ids_ok
        && passes(&filters["status"], &text(&node["status"]))
        && passes(&filters["kind"], &kind)
        && passes(&filters["namespace"], &namespace)
}

/// The generic `AccountProfile` answers with.
pub(crate) const ACCOUNT_GENERIC: &str = "CoreGenericAccount";

/// The `CoreAccount` an API token stands for, as `AccountProfile` shows it: active, of
/// type `Script` (a token used by programs), described by its scope, in no group.
fn account_node(account: &crate::store::Account) -> Node {
    let mut node = Node::new("CoreAccount");
    node.id = NodeId::new(&account.id);
    for (name, value) in [
        ("name", account.name.as_str()),
        ("label", account.name.as_str()),
        ("account_type", "Script"),
        ("status", "active"),
    ] {
        node.attrs.insert(name.to_owned(), json!(value));
    }
    node.attrs.insert(
        "description".to_owned(),
        json!(format!(
            "infragen API token with the {} scope",
            account.scope
        )),
    );
    node
}

/// Resolves selection sets against one branch view.
pub(crate) struct Resolver<'a, 's> {
    pub tx: &'a Tx<'s>,
    pub doc: &'a ExecutableDocument,
    pub vars: &'a Map<String, Value>,
    pub errors: RefCell<Vec<GqlError>>,
    budget: Option<QueryBudget>,
    /// Nodes resolved so far.
    spent: std::cell::Cell<u64>,
    /// Why the query was stopped, once its budget ran out.
    exhausted: RefCell<Option<String>>,
    /// Who asked (`AccountProfile`), when a server authenticated the request.
    account: Option<&'a crate::store::Account>,
    /// Where the ids of the nodes resolved go, when the caller wants them.
    related: Option<&'a super::RelatedNodes>,
    /// The fields each selection set selects, by the set's address and the type names its
    /// fragments were matched against (see [`Resolver::collected`]).
    collected: RefCell<CollectedFields<'a>>,
}

/// The fields a selection set selects for one type (the set's fields and those of the
/// fragments that apply), by the set's address, then the names that decided which
/// fragments apply. A listing resolves the same selection for every node in it: collected
/// once per query rather than once per node and attribute (~30,000 lists a seed build).
type CollectedFields<'a> = HashMap<usize, Vec<(String, String, Rc<[&'a Positioned<Field>]>)>>;

/// What one query may cost while it runs: the nodes it resolves (each node of the
/// answer, at any depth) and the time it may take. A document of a few hundred bytes
/// can follow a relationship cycle (device → interfaces → device → …) into millions of
/// nodes; the budget stops it as it runs, not after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryBudget {
    /// Nodes the answer may hold.
    pub max_nodes: u64,
    /// When the query must be over.
    pub deadline: Option<std::time::Instant>,
}

fn key(f: &Field) -> &Name {
    &f.response_key().node
}

/// Where in the response a value goes: its key or list index, under its parent's. An
/// error's `path` is built from it only when an error is recorded, not copied out for
/// every node of an answer (a listing of a pod's interfaces resolves hundreds).
#[derive(Clone, Copy)]
pub(crate) struct ResponsePath<'p> {
    parent: Option<&'p ResponsePath<'p>>,
    step: Step<'p>,
}

#[derive(Clone, Copy)]
enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

impl<'p> ResponsePath<'p> {
    /// A top-level field's key.
    pub(crate) fn root(key: &'p str) -> Self {
        ResponsePath {
            parent: None,
            step: Step::Key(key),
        }
    }

    /// `key` under this path.
    pub(crate) fn key(&'p self, key: &'p str) -> Self {
        ResponsePath {
            parent: Some(self),
            step: Step::Key(key),
        }
    }

    /// List index `index` under this path.
    fn index(&'p self, index: usize) -> Self {
        ResponsePath {
            parent: Some(self),
            step: Step::Index(index),
        }
    }

    /// The path as a response's `errors[].path`, from the top.
    fn to_values(self) -> Vec<Value> {
        let mut steps = vec![self.step];
        let mut at = self.parent;
        while let Some(parent) = at {
            steps.push(parent.step);
            at = parent.parent;
        }
        steps
            .into_iter()
            .rev()
            .map(|step| match step {
                Step::Key(key) => Value::String(key.to_owned()),
                Step::Index(index) => Value::from(index),
            })
            .collect()
    }
}

impl<'a, 's> Resolver<'a, 's> {
    pub fn new(tx: &'a Tx<'s>, doc: &'a ExecutableDocument, vars: &'a Map<String, Value>) -> Self {
        Resolver {
            tx,
            doc,
            vars,
            errors: RefCell::new(Vec::new()),
            budget: None,
            spent: std::cell::Cell::new(0),
            exhausted: RefCell::new(None),
            account: None,
            related: None,
            collected: RefCell::new(HashMap::default()),
        }
    }

    /// The same, recording the id of every node it resolves into `related`.
    pub fn with_related(mut self, related: Option<&'a super::RelatedNodes>) -> Self {
        self.related = related;
        self
    }

    /// The same, answering `AccountProfile` with `account`.
    pub fn with_account(mut self, account: Option<&'a crate::store::Account>) -> Self {
        self.account = account;
        self
    }

    /// The same, stopped when `budget` runs out.
    pub fn with_budget(mut self, budget: QueryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The response to the query whose result is `data`: its errors, or only
    /// `LIMIT_EXCEEDED` when its budget ran out (a partial answer would look whole).
    pub fn respond(self, data: Answer) -> Answer {
        match self.exhausted.into_inner() {
            Some(reason) => crate::graphql::error_response(&[
                GqlError::msg(reason).with_code(crate::ErrorCode::LimitExceeded)
            ]),
            None => crate::store::respond(data, &self.errors.into_inner()),
        }
    }

    /// Counts one node against the budget; `false` once it is spent (and from then on).
    fn spend(&self) -> bool {
        let Some(budget) = self.budget else {
            return true;
        };
        if self.exhausted.borrow().is_some() {
            return false;
        }
        let spent = self.spent.get() + 1;
        self.spent.set(spent);
        let reason = if spent > budget.max_nodes {
            Some(format!(
                "the query resolved more than {} nodes, its budget; ask for fewer nodes or \
                 fewer levels of relationships",
                budget.max_nodes
            ))
        } else if spent.is_multiple_of(256)
            && budget
                .deadline
                .is_some_and(|deadline| std::time::Instant::now() >= deadline)
        {
            Some("the query ran past the run's deadline".to_owned())
        } else {
            None
        };
        match reason {
            Some(reason) => {
                *self.exhausted.borrow_mut() = Some(reason);
                false
            }
            None => true,
        }
    }

    fn fields(&self, set: &'a SelectionSet, type_name: &str) -> Rc<[&'a Positioned<Field>]> {
        self.collected(set, type_name, "", &|tc| tc.is_none_or(|t| t == type_name))
    }

    fn node_fields(
        &self,
        set: &'a SelectionSet,
        node: &Node,
        view: &str,
    ) -> Rc<[&'a Positioned<Field>]> {
        let schema = self.tx.schema;
        self.collected(set, view, &node.kind, &|tc| {
            tc.is_none_or(|t| t == view || schema.is_a(&node.kind, t))
        })
    }

    /// The fields `set` selects where `applies` says which fragments apply, collected once
    /// per query for each (`set`, `first`, `second`): `applies` must depend on nothing else.
    /// The document and the variables are the query's, so the answer is the same every time.
    fn collected(
        &self,
        set: &'a SelectionSet,
        first: &str,
        second: &str,
        applies: &dyn Fn(Option<&str>) -> bool,
    ) -> Rc<[&'a Positioned<Field>]> {
        let at = std::ptr::from_ref(set) as usize;
        if let Some(known) = self.collected.borrow().get(&at)
            && let Some((_, _, fields)) = known.iter().find(|(a, b, _)| a == first && b == second)
        {
            return Rc::clone(fields);
        }
        let mut out = Vec::with_capacity(set.items.len());
        collect_fields(self.doc, set, self.vars, applies, &mut out, 0);
        let fields: Rc<[&'a Positioned<Field>]> = out.into();
        self.collected.borrow_mut().entry(at).or_default().push((
            first.to_owned(),
            second.to_owned(),
            Rc::clone(&fields),
        ));
        fields
    }

    fn error(&self, e: GqlError, path: &ResponsePath<'_>) {
        let mut e = e;
        if e.path.is_empty() {
            e.path = path.to_values();
        }
        self.errors.borrow_mut().push(e);
    }

    /// Infrahub's `Branch` query: every branch (or those `name` / `ids` select), each with
    /// the fields asked for.
    fn branch_list(&self, f: &'a Field) -> Result<Answer, GqlError> {
        let args = args_json(f, self.vars)?;
        let name = args.get("name").and_then(Value::as_str);
        let ids: Option<Vec<&str>> = args
            .get("ids")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).collect());
        let conn = self.tx.connection();
        let branches = crate::branch::api_branches(conn, name)
            .map_err(crate::error::StoreError::db_of(conn))?;
        Ok(Answer::List(
            branches
                .iter()
                .filter(|b| {
                    ids.as_ref().is_none_or(|ids| {
                        b.get("id")
                            .and_then(Value::as_str)
                            .is_some_and(|id| ids.contains(&id))
                    })
                })
                .map(|b| super::branch_selection(self.doc, &f.selection_set.node, self.vars, b))
                .collect(),
        ))
    }

    /// `Relationship(ids: [identifier, …])`: each relationship whose identifier is listed,
    /// once per pair of nodes it links, with both peers (`{count edges {node {identifier
    /// peers {id kind}}}}`) — what `infrahubctl dump` exports many-to-many relationships
    /// with. Pairs come in the order of their first side's kind and id; `limit` and
    /// `offset` page them, and nodes of `excluded_namespaces` are left out.
    fn relationship_list(&self, f: &'a Field) -> Result<Answer, GqlError> {
        let args = args_json(f, self.vars)?;
        let strings = |name: &str| -> Vec<String> {
            args.get(name)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let identifiers = strings("ids");
        let excluded = strings("excluded_namespaces");
        let schema = &self.tx.schema;
        let outside = |kind: &str| {
            schema
                .get(kind)
                .is_some_and(|k| excluded.contains(&k.namespace))
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut pairs = Vec::new();
        for k in schema
            .kinds()
            .filter(|k| !k.is_generic && !excluded.contains(&k.namespace))
        {
            for r in k
                .relationships
                .iter()
                .filter(|r| identifiers.contains(&r.identifier))
            {
                for id in self.tx.ids_of_kind(&k.kind) {
                    for peer in self.tx.peers_of(&id, &r.name) {
                        let Some(peer_kind) = self.tx.kind_of(&peer) else {
                            continue;
                        };
                        let peer = String::from(peer);
                        let (low, high) = if id <= peer {
                            (id.clone(), peer.clone())
                        } else {
                            (peer.clone(), id.clone())
                        };
                        if outside(&peer_kind) || !seen.insert((r.identifier.clone(), low, high)) {
                            continue;
                        }
                        pairs.push(json!({"node": {
                            "identifier": r.identifier,
                            "peers": [{"id": id, "kind": k.kind}, {"id": peer, "kind": &*peer_kind}],
                        }}));
                    }
                }
            }
        }
        let count = pairs.len();
        let edges = page(pairs, &args);
        Ok(super::project_value(
            self.doc,
            &f.selection_set.node,
            self.vars,
            &json!({"count": count, "edges": edges}),
            RelTy::List.name(),
            &|field| {
                match field {
                    "edges" => RelTy::Edge,
                    "node" => RelTy::Node,
                    _ => RelTy::Peer,
                }
                .name()
            },
        ))
    }

    /// `DiffTree` (with its nodes) or `DiffTreeSummary` of the branch the `branch` argument
    /// names (else the request's): what the branch changed since it was created. `null`
    /// for `main`, which has no diff.
    fn branch_diff(&self, f: &'a Field, with_nodes: bool) -> Result<Answer, GqlError> {
        let args = args_json(f, self.vars)?;
        // The diff always runs from the branch's creation to now: a time window or a
        // named, stored diff would be answered wrongly, so they are refused.
        for unsupported in ["from_time", "to_time", "name", "proposed_change_id"] {
            if args.get(unsupported).is_some_and(|v| !v.is_null()) {
                return Err(GqlError::msg(format!(
                    "`{unsupported}` is not supported: infragen's diff of a branch always \
                     covers every change since the branch was created"
                ))
                .with_code(crate::ErrorCode::Validation));
            }
        }
        let branch = args
            .get("branch")
            .and_then(Value::as_str)
            .unwrap_or(&self.tx.branch)
            .to_owned();
        let conn = self.tx.connection();
        if branch == crate::graph::MAIN {
            return Ok(Answer::NULL);
        }
        let info = crate::branch::api_branches(conn, Some(&branch))
            .map_err(crate::error::StoreError::db_of(conn))?;
        let Some(info) = info.first() else {
            return Err(crate::error::StoreError::BranchNotFound(branch).into());
        };
        let branched_from = info["branched_from"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut nodes = crate::branch_diff::nodes(conn, self.tx.schema, &branch)?;
        let filters = args.get("filters").cloned().unwrap_or(Value::Null);
        nodes.retain(|n| diff_filters_match(self.tx.schema, &filters, n));
        let nodes = page(nodes, &args);
        let mut tree =
            crate::branch_diff::tree(&branch, &branched_from, &crate::clock::now(), nodes);
        let ty = if with_nodes {
            super::types::DiffTy::Tree
        } else {
            if let Some(o) = tree.as_object_mut() {
                o.remove("nodes");
            }
            super::types::DiffTy::Summary
        };
        Ok(self.project(&f.selection_set.node, &tree, ty))
    }

    /// The fields `set` selects of `value`, an object (or list of objects) of diff type `ty`,
    /// in the order `set` selects them.
    fn project(&self, set: &'a SelectionSet, value: &Value, ty: super::types::DiffTy) -> Answer {
        let object = match value {
            Value::Array(items) => {
                return Answer::List(items.iter().map(|v| self.project(set, v, ty)).collect());
            }
            Value::Object(object) => object,
            other => return other.clone().into(),
        };
        let mut out = Fields::new();
        for f in self
            .fields(set, super::types::Ty::Diff(ty).name().as_str())
            .iter()
            .copied()
        {
            let name = f.node.name.node.as_str();
            let v: Answer = match name {
                "__typename" => json!(super::types::Ty::Diff(ty).name()).into(),
                _ => {
                    let v = object.get(name).cloned().unwrap_or(Value::Null);
                    match super::types::Ty::Diff(ty).field(self.tx.schema, name) {
                        Some(super::types::Ty::Diff(sub)) => {
                            self.project(&f.node.selection_set.node, &v, sub)
                        }
                        _ => v.into(),
                    }
                }
            };
            out.insert(key(&f.node), v);
        }
        Answer::Object(out)
    }

    /// The query root.
    pub fn query_root(&self, set: &'a SelectionSet) -> Answer {
        let mut out = Fields::new();
        for f in self.fields(set, "Query").iter().copied() {
            let name = f.node.name.node.as_str();
            let k = key(&f.node);
            let path = ResponsePath::root(k);
            let v: Answer = match name {
                "__typename" => json!("Query").into(),
                "InfrahubInfo" => self.simple(&f.node, "InfrahubInfo", &|n| match n {
                    "version" => json!(INFRAHUB_COMPAT_VERSION),
                    "deployment_id" => {
                        json!(format!("infragen-store-{}", env!("CARGO_PKG_VERSION")))
                    }
                    _ => Value::Null,
                }),
                "Branch" => match self.branch_list(&f.node) {
                    Ok(v) => v,
                    Err(e) => {
                        self.error(e, &path);
                        Answer::NULL
                    }
                },
                "AccountProfile" => match self.account {
                    Some(account) => {
                        let node = account_node(account);
                        self.node_object(&node, ACCOUNT_GENERIC, &f.node.selection_set.node, &path)
                    }
                    None => {
                        self.error(
                            GqlError::msg(
                                "AccountProfile describes the account of the request's API \
                                 token; this request has none (the embedded store has no \
                                 accounts)",
                            )
                            .with_code(crate::ErrorCode::NotFound),
                            &path,
                        );
                        Answer::NULL
                    }
                },
                "Relationship" => match self.relationship_list(&f.node) {
                    Ok(v) => v,
                    Err(e) => {
                        self.error(e, &path);
                        Answer::NULL
                    }
                },
                "DiffTree" | "DiffTreeSummary" => {
                    match self.branch_diff(&f.node, name == "DiffTree") {
                        Ok(v) => v,
                        Err(e) => {
                            self.error(e, &path);
                            Answer::NULL
                        }
                    }
                }
                "InfrahubStatus" => {
                    let mut m = Fields::new();
                    for sf in self
                        .fields(&f.node.selection_set.node, "Status")
                        .iter()
                        .copied()
                    {
                        let v = match sf.node.name.node.as_str() {
                            "summary" => self.simple(&sf.node, "StatusSummary", &|n| {
                                if n == "schema_hash_synced" {
                                    json!(true)
                                } else {
                                    Value::Null
                                }
                            }),
                            "__typename" => json!("Status").into(),
                            _ => Answer::NULL,
                        };
                        m.insert(key(&sf.node), v);
                    }
                    Answer::Object(m)
                }
                kind => match self.tx.schema.get(kind) {
                    Some(ks) => match self.paginated(&f.node, ks, &path) {
                        Ok(v) => v,
                        Err(e) => {
                            self.error(e, &path);
                            Answer::NULL
                        }
                    },
                    None => Answer::NULL,
                },
            };
            out.insert(k, v);
        }
        Answer::Object(out)
    }

    fn simple(&self, f: &'a Field, type_name: &str, get: &dyn Fn(&str) -> Value) -> Answer {
        let selected = self.fields(&f.selection_set.node, type_name);
        let mut m = Fields::with_capacity(selected.len());
        for sf in selected.iter().copied() {
            let n = sf.node.name.node.as_str();
            let v = if n == "__typename" {
                json!(type_name)
            } else {
                get(n)
            };
            m.insert(key(&sf.node), v);
        }
        Answer::Object(m)
    }

    /// `Kind(filters) { count edges { node { … } } }`.
    pub fn paginated(
        &self,
        f: &'a Field,
        k: &KindSchema,
        path: &ResponsePath<'_>,
    ) -> Result<Answer, GqlError> {
        let args = args_json(f, self.vars)?;
        let filters = Filters::parse(&args, k).map_err(|m| GqlError::at(m, f.name.pos))?;
        let wants_edges = self
            .fields(&f.selection_set.node, "")
            .iter()
            .any(|sf| sf.node.name.node == "edges");
        let (total, page) = filters.select(self.tx, k);
        let page = if wants_edges { page } else { Vec::new() };
        Ok(self.paginated_value(
            f,
            k,
            total,
            page,
            path,
            &format!("Paginated{}", k.kind),
            &format!("Edged{}", k.kind),
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn paginated_value(
        &self,
        f: &'a Field,
        k: &KindSchema,
        total: usize,
        page: Vec<Arc<Node>>,
        path: &ResponsePath<'_>,
        ty: &str,
        edge_ty: &str,
    ) -> Answer {
        let selected = self.fields(&f.selection_set.node, ty);
        let mut m = Fields::with_capacity(selected.len());
        for sf in selected.iter().copied() {
            let v: Answer = match sf.node.name.node.as_str() {
                "count" => json!(total).into(),
                "__typename" => json!(ty).into(),
                "edges" => {
                    let mut edges = Vec::with_capacity(page.len());
                    let edges_path = path.key(sf.node.response_key().node.as_str());
                    for (i, n) in page.iter().enumerate() {
                        let p = edges_path.index(i);
                        let edge_selected = self.fields(&sf.node.selection_set.node, edge_ty);
                        let mut e = Fields::with_capacity(edge_selected.len());
                        for ef in edge_selected.iter().copied() {
                            let v: Answer = match ef.node.name.node.as_str() {
                                "node" => self.node_object(
                                    n,
                                    &k.kind,
                                    &ef.node.selection_set.node,
                                    &p.key("node"),
                                ),
                                "properties" => self.properties(&ef.node),
                                "__typename" => json!(edge_ty).into(),
                                _ => Answer::NULL,
                            };
                            e.insert(key(&ef.node), v);
                        }
                        edges.push(Answer::Object(e));
                    }
                    Answer::List(edges)
                }
                _ => Answer::NULL,
            };
            m.insert(key(&sf.node), v);
        }
        Answer::Object(m)
    }

    fn properties(&self, f: &'a Field) -> Answer {
        self.simple(f, "RelationshipProperty", &|n| match n {
            "is_protected" => json!(false),
            "is_visible" => json!(true),
            _ => Value::Null,
        })
    }

    /// A node object.
    pub fn node_object(
        &self,
        node: &Node,
        view: &str,
        set: &'a SelectionSet,
        path: &ResponsePath<'_>,
    ) -> Answer {
        let Some(ks) = self.tx.schema.get(&node.kind) else {
            return Answer::NULL;
        };
        if !self.spend() {
            return Answer::NULL;
        }
        // Groups are not members of groups: only what implements CoreNode is recorded.
        if let Some(related) = self.related
            && self.tx.schema.is_a(&node.kind, "CoreNode")
        {
            related.insert(&node.id);
        }
        let selected = self.node_fields(set, node, view);
        let mut m = Fields::with_capacity(selected.len());
        for f in selected.iter().copied() {
            let name = f.node.name.node.as_str();
            let k = key(&f.node);
            let v: Answer = match name {
                "id" => json!(node.id).into(),
                "__typename" => json!(node.kind).into(),
                "hfid" => self
                    .tx
                    .hfid(node)
                    .map(|h| json!(h))
                    .unwrap_or(Value::Null)
                    .into(),
                "display_label" => self
                    .tx
                    .display_label(node)
                    .map(Value::String)
                    .unwrap_or(Value::Null)
                    .into(),
                "ancestors" | "descendants" => {
                    let list = if name == "ancestors" {
                        ancestors(self.tx, node)
                    } else {
                        descendants(self.tx, node)
                    };
                    let peer = ks
                        .hierarchy
                        .as_deref()
                        .and_then(|h| self.tx.schema.get(h))
                        .unwrap_or(ks);
                    self.many(&f.node, peer, list, path, k)
                }
                _ => {
                    if let Some(a) = ks.attribute(name) {
                        self.attr_object(node, a, &f.node)
                    } else if let Some(r) = ks.relationship(name) {
                        if self.exhausted.borrow().is_some() {
                            break;
                        }
                        let peers: Vec<Arc<Node>> = self
                            .tx
                            .peer_ids(node, name)
                            .iter()
                            .filter_map(|p| self.tx.get(p))
                            .collect();
                        let Some(peer) = self.tx.schema.get(&r.peer) else {
                            continue;
                        };
                        match r.cardinality {
                            Cardinality::One => self.one(&f.node, peer, peers.first(), path, k),
                            Cardinality::Many => self.many(&f.node, peer, peers, path, k),
                        }
                    } else {
                        Answer::NULL
                    }
                }
            };
            m.insert(k, v);
        }
        Answer::Object(m)
    }

    fn one(
        &self,
        f: &'a Field,
        peer: &KindSchema,
        n: Option<&Arc<Node>>,
        path: &ResponsePath<'_>,
        k: &str,
    ) -> Answer {
        let ty = format!("NestedEdged{}", peer.kind);
        let field_path = path.key(k);
        let selected = self.fields(&f.selection_set.node, &ty);
        let mut m = Fields::with_capacity(selected.len());
        for sf in selected.iter().copied() {
            let v: Answer = match sf.node.name.node.as_str() {
                "node" => match n {
                    Some(n) => self.node_object(
                        n,
                        &peer.kind,
                        &sf.node.selection_set.node,
                        &field_path.key("node"),
                    ),
                    None => Answer::NULL,
                },
                "properties" => self.properties(&sf.node),
                "__typename" => json!(ty).into(),
                _ => Answer::NULL,
            };
            m.insert(key(&sf.node), v);
        }
        Answer::Object(m)
    }

    fn many(
        &self,
        f: &'a Field,
        peer: &KindSchema,
        peers: Vec<Arc<Node>>,
        path: &ResponsePath<'_>,
        k: &str,
    ) -> Answer {
        let p = path.key(k);
        let filters = match args_json(f, self.vars)
            .and_then(|a| Filters::parse(&a, peer).map_err(|m| GqlError::at(m, f.name.pos)))
        {
            Ok(fl) => fl,
            Err(e) => {
                self.error(e, &p);
                return Answer::NULL;
            }
        };
        let (total, page) = filters.select_among(self.tx, peer, peers);
        self.paginated_value(
            f,
            peer,
            total,
            page,
            &p,
            &format!("NestedPaginated{}", peer.kind),
            &format!("NestedEdged{}", peer.kind),
        )
    }

    fn attr_object(&self, node: &Node, a: &AttributeSchema, f: &'a Field) -> Answer {
        let value = node.attr(&a.name).clone();
        // Only an IP attribute's value is parsed: a failed parse writes out its error.
        let ip = matches!(
            a.kind,
            AttributeKind::IPHost | AttributeKind::IPNetwork | AttributeKind::IPAddress
        )
        .then(|| value.as_str().and_then(|s| IpWithPrefix::parse(s).ok()))
        .flatten();
        let choice = a
            .choices
            .iter()
            .flatten()
            .find(|c| Some(c.name.as_str()) == value.as_str());
        let ty = a.kind.graphql_type();
        self.simple(f, ty, &|n| match n {
            "value" => value.clone(),
            "id" => json!([node.id.as_str(), "-", a.name.as_str()].concat()),
            "is_default" => json!(a.default_value.as_ref() == Some(&value)),
            "is_from_profile" => json!(crate::profiles::is_from_profile(node, &a.name)),
            "is_protected" => json!(false),
            "is_visible" => json!(true),
            "label" => choice
                .and_then(|c| c.label.clone())
                .map(Value::String)
                .unwrap_or(Value::Null),
            "color" => choice
                .and_then(|c| c.color.clone())
                .map(Value::String)
                .unwrap_or(Value::Null),
            "description" => choice
                .and_then(|c| c.description.clone())
                .map(Value::String)
                .unwrap_or(Value::Null),
            "prefixlen" => ip.map(|p| json!(p.prefixlen)).unwrap_or(Value::Null),
            "version" => ip.map(|p| json!(p.version())).unwrap_or(Value::Null),
            "ip" => ip.map(|p| json!(p.addr.to_string())).unwrap_or(Value::Null),
            "netmask" => ip
                .map(|p| json!(p.netmask().to_string()))
                .unwrap_or(Value::Null),
            "hostmask" => ip
                .map(|p| json!(p.hostmask().to_string()))
                .unwrap_or(Value::Null),
            "with_netmask" => ip
                .map(|p| json!(format!("{}/{}", p.addr, p.netmask())))
                .unwrap_or(Value::Null),
            "with_hostmask" => ip
                .map(|p| json!(format!("{}/{}", p.addr, p.hostmask())))
                .unwrap_or(Value::Null),
            "broadcast_address" => ip
                .map(|p| json!(p.broadcast().to_string()))
                .unwrap_or(Value::Null),
            "network_address" => ip
                .map(|p| json!(p.network().to_string()))
                .unwrap_or(Value::Null),
            "num_addresses" => ip
                .map(|p| {
                    u64::try_from(p.num_addresses())
                        .map(|n| json!(n))
                        .unwrap_or_else(|_| json!(p.num_addresses().to_string()))
                })
                .unwrap_or(Value::Null),
            _ => Value::Null,
        })
    }
}

/// The part of `items` a field's `offset` and `limit` arguments ask for (all of them when
/// neither is given).
fn page<T>(items: Vec<T>, args: &serde_json::Map<String, Value>) -> Vec<T> {
    let offset = args.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let limit = args
        .get("limit")
        .and_then(Value::as_u64)
        .map(|l| l as usize);
    items
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}
