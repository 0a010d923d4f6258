//! The in-memory graph: every node of `main` with indexes by kind and attribute value, and
//! each branch's overlay (its own versions of nodes, with the main version each was copied
//! from). [`Tx`] reads a branch's view and collects writes; [`Tx::finish`] turns them into
//! SQLite rows and change events.
//!
//! SQLite is the truth; this is a cache rebuilt at open (and when another process commits),
//! so reads never touch the disk.

use crate::events::{self, Event};
use crate::node::{Node, value_key};
use crate::persistence::{NodeRow, RowWrite};
use crate::schema::{BranchSupport, RelationshipKind, Schema};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// The name of the default branch.
pub const MAIN: &str = "main";

/// A branch's own changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct BranchState {
    #[allow(dead_code)] // kept for a future rebase
    pub created_seq: i64,
    pub created_at: String,
    pub overlay: HashMap<String, Overlay>,
}

/// A branch version of one node.
#[derive(Debug, Clone)]
pub(crate) struct Overlay {
    pub kind: String,
    /// None = deleted on the branch.
    pub node: Option<Arc<Node>>,
    /// The main version the branch started from (None = created on the branch).
    pub base: Option<Arc<Node>>,
}

type AttrIndex = HashMap<String, BTreeSet<String>>;

/// Everything in memory.
#[derive(Default)]
pub(crate) struct State {
    pub schema: Arc<Schema>,
    pub main: HashMap<String, Arc<Node>>,
    by_kind: HashMap<String, BTreeSet<String>>,
    by_attr: HashMap<(String, String), AttrIndex>,
    pub branches: BTreeMap<String, BranchState>,
}

impl State {
    pub fn new(
        schema: Arc<Schema>,
        rows: Vec<NodeRow>,
        branches: Vec<(String, i64, String)>,
    ) -> Self {
        let mut s = State {
            schema,
            ..Default::default()
        };
        for (name, seq, at) in branches {
            s.branches.insert(
                name,
                BranchState {
                    created_seq: seq,
                    created_at: at,
                    overlay: HashMap::new(),
                },
            );
        }
        for r in rows {
            if r.branch == MAIN {
                if let Some(n) = r.data {
                    s.insert_main(Arc::new(n));
                }
            } else if let Some(b) = s.branches.get_mut(&r.branch) {
                b.overlay.insert(
                    r.id,
                    Overlay {
                        kind: r.kind,
                        node: r.data.map(Arc::new),
                        base: r.base.map(Arc::new),
                    },
                );
            }
        }
        s
    }

    fn insert_main(&mut self, n: Arc<Node>) {
        self.by_kind
            .entry(n.kind.clone())
            .or_default()
            .insert(n.id.clone());
        for (a, v) in &n.attrs {
            if let Some(k) = value_key(v) {
                self.by_attr
                    .entry((n.kind.clone(), a.clone()))
                    .or_default()
                    .entry(k)
                    .or_default()
                    .insert(n.id.clone());
            }
        }
        self.main.insert(n.id.clone(), n);
    }

    fn remove_main(&mut self, id: &str) {
        let Some(n) = self.main.remove(id) else {
            return;
        };
        if let Some(set) = self.by_kind.get_mut(&n.kind) {
            set.remove(id);
        }
        for (a, v) in &n.attrs {
            if let Some(k) = value_key(v)
                && let Some(idx) = self.by_attr.get_mut(&(n.kind.clone(), a.clone()))
                && let Some(set) = idx.get_mut(&k)
            {
                set.remove(id);
                if set.is_empty() {
                    idx.remove(&k);
                }
            }
        }
    }

    /// Apply committed rows.
    pub fn apply(&mut self, writes: Vec<RowWrite>) {
        for w in writes {
            match w {
                RowWrite::Put(r) if r.branch == MAIN => {
                    self.remove_main(&r.id);
                    if let Some(n) = r.data {
                        self.insert_main(Arc::new(n));
                    }
                }
                RowWrite::Put(r) => {
                    if let Some(b) = self.branches.get_mut(&r.branch) {
                        b.overlay.insert(
                            r.id,
                            Overlay {
                                kind: r.kind,
                                node: r.data.map(Arc::new),
                                base: r.base.map(Arc::new),
                            },
                        );
                    }
                }
                RowWrite::Remove { branch, id } if branch == MAIN => self.remove_main(&id),
                RowWrite::Remove { branch, id } => {
                    if let Some(b) = self.branches.get_mut(&branch) {
                        b.overlay.remove(&id);
                    }
                }
            }
        }
    }

    fn branch_support(&self, kind: &str) -> BranchSupport {
        self.schema
            .get(kind)
            .map(|k| k.branch)
            .unwrap_or(BranchSupport::Aware)
    }
}

#[derive(Debug, Clone)]
struct Pending {
    store_branch: String,
    node: Option<Arc<Node>>,
}

/// A branch's view of the graph plus uncommitted writes.
pub(crate) struct Tx<'s> {
    pub state: &'s State,
    pub schema: &'s Schema,
    pub branch: String,
    pending: HashMap<String, Pending>,
    order: Vec<String>,
    /// `origin` of the events this transaction emits.
    pub origin: &'static str,
}

impl<'s> Tx<'s> {
    pub fn new(state: &'s State, branch: &str) -> Self {
        Tx {
            state,
            schema: &state.schema,
            branch: branch.to_string(),
            pending: HashMap::new(),
            order: Vec::new(),
            origin: "live",
        }
    }

    fn on_main(&self) -> bool {
        self.branch == MAIN
    }

    /// Where a node of `kind` is written when this transaction's branch writes it.
    pub fn store_branch(&self, kind: &str) -> String {
        if self.on_main() || self.state.branch_support(kind) == BranchSupport::Agnostic {
            MAIN.to_string()
        } else {
            self.branch.clone()
        }
    }

    fn overlay(&self) -> Option<&'s HashMap<String, Overlay>> {
        if self.on_main() {
            return None;
        }
        self.state.branches.get(&self.branch).map(|b| &b.overlay)
    }

    /// The node as committed, seen from this branch.
    pub fn committed(&self, id: &str) -> Option<Arc<Node>> {
        if let Some(ov) = self.overlay().and_then(|o| o.get(id)) {
            if self.state.branch_support(&ov.kind) == BranchSupport::Agnostic {
                // A shared node whose branch-aware fields this branch changed.
                let main = self.state.main.get(id)?;
                return Some(match &ov.node {
                    Some(branch) => {
                        Arc::new(with_fields(main, branch, &self.aware_fields(&ov.kind)))
                    }
                    None => main.clone(),
                });
            }
            return ov.node.clone();
        }
        let n = self.state.main.get(id)?;
        if !self.on_main() && self.state.branch_support(&n.kind) == BranchSupport::Local {
            return None;
        }
        Some(n.clone())
    }

    /// The node as this transaction sees it.
    pub fn get(&self, id: &str) -> Option<Arc<Node>> {
        match self.pending.get(id) {
            Some(p) => p.node.clone(),
            None => self.committed(id),
        }
    }

    fn adjust(
        &self,
        kind: &str,
        mut ids: BTreeSet<String>,
        matches: &dyn Fn(&Node) -> bool,
    ) -> BTreeSet<String> {
        if let Some(ov) = self.overlay() {
            for (id, o) in ov {
                if o.kind != kind {
                    continue;
                }
                match self.committed(id) {
                    Some(n) if matches(&n) => {
                        ids.insert(id.clone());
                    }
                    _ => {
                        ids.remove(id);
                    }
                }
            }
        }
        for (id, p) in &self.pending {
            match &p.node {
                Some(n) if n.kind == kind && matches(n) => {
                    ids.insert(id.clone());
                }
                _ => {
                    ids.remove(id);
                }
            }
        }
        ids
    }

    fn main_visible(&self, kind: &str) -> bool {
        self.on_main() || self.state.branch_support(kind) != BranchSupport::Local
    }

    /// Ids of the nodes of a concrete `kind` visible here, in id (= creation) order.
    pub fn ids_of_kind(&self, kind: &str) -> Cow<'s, BTreeSet<String>> {
        let base: Cow<'s, BTreeSet<String>> = match self.state.by_kind.get(kind) {
            Some(set) if self.main_visible(kind) => Cow::Borrowed(set),
            _ => Cow::Owned(BTreeSet::new()),
        };
        if self.overlay().is_none_or(|o| o.is_empty()) && self.pending.is_empty() {
            return base;
        }
        Cow::Owned(self.adjust(kind, base.into_owned(), &|_| true))
    }

    /// Ids of the nodes of a concrete `kind` whose attribute `attr` has the text form `key`.
    pub fn ids_by_attr(&self, kind: &str, attr: &str, key: &str) -> Cow<'s, BTreeSet<String>> {
        let found = self
            .state
            .by_attr
            .get(&(kind.to_string(), attr.to_string()))
            .and_then(|idx| idx.get(key));
        let base: Cow<'s, BTreeSet<String>> = match found {
            Some(set) if self.main_visible(kind) => Cow::Borrowed(set),
            _ => Cow::Owned(BTreeSet::new()),
        };
        if self.overlay().is_none_or(|o| o.is_empty()) && self.pending.is_empty() {
            return base;
        }
        Cow::Owned(self.adjust(kind, base.into_owned(), &|n| {
            value_key(n.attr(attr)).as_deref() == Some(key)
        }))
    }

    /// Record a new version of a node.
    pub fn put(&mut self, node: Node) {
        let sb = self.store_branch(&node.kind);
        let id = node.id.clone();
        if !self.pending.contains_key(&id) {
            self.order.push(id.clone());
        }
        self.pending.insert(
            id,
            Pending {
                store_branch: sb,
                node: Some(Arc::new(node)),
            },
        );
    }

    /// Record a deletion.
    pub fn delete(&mut self, id: &str) {
        let Some(n) = self.get(id) else { return };
        let sb = self.store_branch(&n.kind);
        if !self.pending.contains_key(id) {
            self.order.push(id.to_string());
        }
        self.pending.insert(
            id.to_string(),
            Pending {
                store_branch: sb,
                node: None,
            },
        );
    }

    /// Turn the pending writes into rows and events (sequence numbers assigned on commit).
    pub fn finish(self) -> (Vec<RowWrite>, Vec<Event>) {
        let mut rows = Vec::new();
        let mut evs = Vec::new();
        let schema = self.schema;
        let attr_kind = |kind: &str, attr: &str| {
            schema
                .get(kind)
                .and_then(|k| k.attribute(attr))
                .map(|a| format!("{:?}", a.kind))
                .unwrap_or_default()
        };
        let peer_kind = |id: &str| {
            self.get(id)
                .or_else(|| self.committed(id))
                .map(|n| n.kind.clone())
                .unwrap_or_default()
        };
        let skip_rel = |kind: &str, rel: &str| {
            schema
                .get(kind)
                .and_then(|k| k.relationship(rel))
                .is_some_and(|r| r.kind == RelationshipKind::Group)
        };
        for id in &self.order {
            let Some(p) = self.pending.get(id) else {
                continue;
            };
            let before = self.committed(id);
            if before.as_deref() == p.node.as_deref() {
                continue;
            }
            let kind = p
                .node
                .as_ref()
                .or(before.as_ref())
                .map(|n| n.kind.clone())
                .unwrap_or_default();
            if let Some((action, attributes, relationships)) = events::diff(
                before.as_deref(),
                p.node.as_deref(),
                &attr_kind,
                &peer_kind,
                &skip_rel,
            ) {
                evs.push(Event {
                    seq: 0,
                    name: format!(
                        "infrahub.node.{}",
                        serde_json::to_value(action)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default()
                    ),
                    branch: self.branch.clone(),
                    action,
                    kind: kind.clone(),
                    id: id.clone(),
                    origin: self.origin.to_string(),
                    attributes,
                    relationships,
                });
            }
            let aware = self.aware_fields(&kind);
            if p.store_branch == MAIN && !self.on_main() && !aware.is_empty() {
                // A shared node written from a branch: shared fields go to main, branch-aware
                // fields stay on the branch.
                let main_now = self.state.main.get(id);
                let existing = self
                    .state
                    .branches
                    .get(&self.branch)
                    .and_then(|b| b.overlay.get(id));
                match (&p.node, main_now) {
                    (Some(n), Some(m)) => {
                        let main_new = with_fields(n, m, &aware);
                        if main_new != **m {
                            rows.push(RowWrite::Put(NodeRow {
                                branch: MAIN.into(),
                                id: id.clone(),
                                kind: kind.clone(),
                                data: Some(main_new),
                                base: None,
                            }));
                        }
                        let differs = aware.iter().any(|f| {
                            n.attrs.get(*f) != m.attrs.get(*f) || n.rels.get(*f) != m.rels.get(*f)
                        });
                        if differs || existing.is_some() {
                            let base = existing
                                .and_then(|o| o.base.clone())
                                .unwrap_or_else(|| m.clone());
                            rows.push(RowWrite::Put(NodeRow {
                                branch: self.branch.clone(),
                                id: id.clone(),
                                kind,
                                data: Some((**n).clone()),
                                base: Some((*base).clone()),
                            }));
                        }
                    }
                    (Some(n), None) => rows.push(RowWrite::Put(NodeRow {
                        branch: MAIN.into(),
                        id: id.clone(),
                        kind,
                        data: Some((**n).clone()),
                        base: None,
                    })),
                    (None, _) => {
                        rows.push(RowWrite::Remove {
                            branch: MAIN.into(),
                            id: id.clone(),
                        });
                        if existing.is_some() {
                            rows.push(RowWrite::Remove {
                                branch: self.branch.clone(),
                                id: id.clone(),
                            });
                        }
                    }
                }
            } else if p.store_branch == MAIN {
                match &p.node {
                    Some(n) => rows.push(RowWrite::Put(NodeRow {
                        branch: MAIN.into(),
                        id: id.clone(),
                        kind,
                        data: Some((**n).clone()),
                        base: None,
                    })),
                    None => rows.push(RowWrite::Remove {
                        branch: MAIN.into(),
                        id: id.clone(),
                    }),
                }
            } else {
                let existing = self
                    .state
                    .branches
                    .get(&p.store_branch)
                    .and_then(|b| b.overlay.get(id));
                let base = match existing {
                    Some(o) => o.base.clone(),
                    None if self.state.branch_support(&kind) == BranchSupport::Local => None,
                    None => self.state.main.get(id).cloned(),
                };
                match (&p.node, &base) {
                    (None, None) => rows.push(RowWrite::Remove {
                        branch: p.store_branch.clone(),
                        id: id.clone(),
                    }),
                    _ => rows.push(RowWrite::Put(NodeRow {
                        branch: p.store_branch.clone(),
                        id: id.clone(),
                        kind,
                        data: p.node.as_deref().cloned(),
                        base: base.as_deref().cloned(),
                    })),
                }
            }
        }
        (rows, evs)
    }
}

/// `base` with the named attributes and relationships taken from `from`.
pub(crate) fn with_fields(base: &Node, from: &Node, fields: &[&str]) -> Node {
    let mut out = base.clone();
    for f in fields {
        match from.attrs.get(*f) {
            Some(v) => {
                out.attrs.insert(f.to_string(), v.clone());
            }
            None => {
                out.attrs.remove(*f);
            }
        }
        match from.rels.get(*f) {
            Some(v) => {
                out.rels.insert(f.to_string(), v.clone());
            }
            None => {
                out.rels.remove(*f);
            }
        }
    }
    out
}

impl Tx<'_> {
    fn aware_fields(&self, kind: &str) -> Vec<&str> {
        self.schema
            .get(kind)
            .map(|k| k.branch_aware_fields())
            .unwrap_or_default()
    }
}

/// Identity and labels computed from a node and its peers.
impl Tx<'_> {
    /// The peers of relationship `rel` as a reader sees them: stored, or computed for the
    /// IPAM containment relationships.
    pub fn peer_ids<'n>(&self, node: &'n Node, rel: &str) -> Cow<'n, [String]> {
        if crate::ipam::is_computed(self, &node.kind, rel) {
            Cow::Owned(crate::ipam::computed_peers(self, node, rel))
        } else {
            Cow::Borrowed(node.peers(rel))
        }
    }

    /// Value at `attr__value` or `rel__attr__value` (through a cardinality-one relationship).
    pub fn path_value(&self, node: &Node, path: &str) -> serde_json::Value {
        let parts: Vec<&str> = path.split("__").collect();
        match parts.as_slice() {
            [attr, _] => node.attr(attr).clone(),
            [rel, attr, _] => node
                .peers(rel)
                .first()
                .and_then(|p| self.get(p))
                .map(|p| p.attr(attr).clone())
                .unwrap_or(serde_json::Value::Null),
            _ => serde_json::Value::Null,
        }
    }

    /// The node's human-friendly id, when its kind has one and every component is set.
    pub fn hfid(&self, node: &Node) -> Option<Vec<String>> {
        let k = self.schema.get(&node.kind)?;
        let paths = k.human_friendly_id.as_ref()?;
        paths
            .iter()
            .map(|p| value_key(&self.path_value(node, p)))
            .collect()
    }

    /// The node's display label: `display_label` template (`{{ name__value }}`) or path,
    /// else the `display_labels` values joined by a space.
    pub fn display_label(&self, node: &Node) -> Option<String> {
        let k = self.schema.get(&node.kind)?;
        if let Some(t) = &k.display_label {
            if t.contains("{{") {
                let mut out = String::new();
                let mut rest = t.as_str();
                while let Some(start) = rest.find("{{") {
                    out.push_str(&rest[..start]);
                    let after = &rest[start + 2..];
                    let Some(end) = after.find("}}") else { break };
                    let path = after[..end].trim();
                    out.push_str(&value_key(&self.path_value(node, path)).unwrap_or_default());
                    rest = &after[end + 2..];
                }
                out.push_str(rest);
                return Some(out);
            }
            return value_key(&self.path_value(node, t));
        }
        if let Some(paths) = &k.display_labels {
            let parts: Vec<String> = paths
                .iter()
                .filter_map(|p| value_key(&self.path_value(node, p)))
                .collect();
            if !parts.is_empty() {
                return Some(parts.join(" "));
            }
        }
        self.hfid(node).map(|h| h.join(" "))
    }

    /// Nodes of `kind` (node or generic) whose HFID is `hfid`.
    pub fn find_by_hfid(&self, kind: &str, hfid: &[String]) -> Vec<Arc<Node>> {
        let mut out = Vec::new();
        for concrete in self.schema.concrete_kinds(kind) {
            let Some(k) = self.schema.get(&concrete) else {
                continue;
            };
            let Some(paths) = &k.human_friendly_id else {
                continue;
            };
            if paths.len() != hfid.len() {
                continue;
            }
            let direct = paths.iter().position(|p| p.split("__").count() == 2);
            let ids = match direct {
                Some(i) => {
                    let attr = paths[i].split("__").next().unwrap_or_default();
                    self.ids_by_attr(&concrete, attr, &hfid[i])
                }
                None => self.ids_of_kind(&concrete),
            };
            for id in ids.iter() {
                if let Some(n) = self.get(id)
                    && self.hfid(&n).as_deref() == Some(hfid)
                {
                    out.push(n);
                }
            }
        }
        out
    }

    /// Nodes of `kind` (or its concrete kinds) **without an HFID** whose
    /// `default_filter` attribute (`name__value`) equals `value`: how a
    /// reference by name finds a group, which has a default filter but no HFID.
    pub fn find_by_default_filter(&self, kind: &str, value: &str) -> Vec<Arc<Node>> {
        let mut out = Vec::new();
        for concrete in self.schema.concrete_kinds(kind) {
            let Some(k) = self.schema.get(&concrete) else {
                continue;
            };
            if k.human_friendly_id.is_some() {
                continue;
            }
            let Some(attr) = k
                .default_filter
                .as_deref()
                .and_then(|filter| filter.strip_suffix("__value"))
            else {
                continue;
            };
            for id in self.ids_by_attr(&concrete, attr, value).iter() {
                if let Some(n) = self.get(id) {
                    out.push(n);
                }
            }
        }
        out
    }
}

impl<'s> Tx<'s> {
    /// A copy of this transaction to try something on; [`Tx::adopt`] keeps its writes.
    pub fn fork(&self) -> Tx<'s> {
        Tx {
            state: self.state,
            schema: self.schema,
            branch: self.branch.clone(),
            pending: self.pending.clone(),
            order: self.order.clone(),
            origin: self.origin,
        }
    }

    /// Keep the writes of a fork.
    pub fn adopt(&mut self, other: Tx<'s>) {
        self.pending = other.pending;
        self.order = other.order;
    }
}
