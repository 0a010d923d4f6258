//! The GraphQL type system of the dialect, derived from the schema on the fly: which fields
//! each type has and which arguments each field takes. Used to validate a document before it
//! runs (unknown kinds, fields and arguments are GraphQL errors, never a crash).

use super::GqlError;
use crate::schema::{AttributeKind, Cardinality, KindSchema, Schema};
use async_graphql_parser::Positioned;
use async_graphql_parser::types::{ExecutableDocument, Field, Selection, SelectionSet};

/// A GraphQL output type of the dialect.
#[derive(Debug, Clone, Copy)]
pub enum Ty<'a> {
    /// The query root.
    Query,
    /// The mutation root.
    Mutation,
    /// `InfrahubInfo`.
    Info,
    /// `InfrahubStatus`.
    Status,
    /// `StatusSummary`.
    StatusSummary,
    /// `Paginated<Kind>`.
    Paginated(&'a KindSchema),
    /// `Edged<Kind>`.
    Edge(&'a KindSchema),
    /// A node object or generic interface.
    Node(&'a KindSchema),
    /// An attribute object.
    Attr(AttributeKind),
    /// `NestedEdged<Peer>` (cardinality one, and the edges of cardinality many).
    One(&'a KindSchema),
    /// `NestedPaginated<Peer>`.
    Many(&'a KindSchema),
    /// `RelationshipProperty`.
    Props,
    /// `<Kind>Create|Update|Upsert` result.
    MutResult(&'a KindSchema),
    /// `{ ok }` results.
    OkOnly,
    /// `Infrahub<IPPrefix|IPAddress>PoolGetResource` results: `ok`, `node`.
    PoolResult,
    /// `PoolAllocatedNode`: `id`, `kind`, `identifier`, `display_label`, `branch`.
    PoolNode,
    /// `Branch`: a branch as Infrahub describes it.
    Branch,
    /// `Branch<Create|Delete|Merge|Rebase|Validate>` results: `ok`, `object`, `task`,
    /// `messages`.
    BranchResult,
    /// `TaskInfo`: `id`.
    Task,
    /// A type of Infrahub's branch diff (`DiffTree`, `DiffTreeSummary`, `DiffNode`, …).
    Diff(DiffTy),
    /// A type of Infrahub's `Relationship` listing (`Relationships`, its edges, nodes and
    /// peers).
    Rel(RelTy),
    /// A scalar or an object we answer with null.
    Leaf,
}

/// The object types of Infrahub's `Relationship` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelTy {
    /// `Relationships`: `count`, `edges`.
    List,
    /// `RelationshipEdge`: `node`.
    Edge,
    /// `Relationship`: `identifier`, `peers`.
    Node,
    /// `RelationshipPeer`: `id`, `kind`.
    Peer,
}

impl RelTy {
    /// The GraphQL type name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RelTy::List => "Relationships",
            RelTy::Edge => "RelationshipEdge",
            RelTy::Node => "Relationship",
            RelTy::Peer => "RelationshipPeer",
        }
    }

    fn field(self, name: &str) -> Option<Ty<'static>> {
        match (self, name) {
            (RelTy::List, "count") | (RelTy::Node, "identifier") => Some(Ty::Leaf),
            (RelTy::Peer, "id" | "kind") => Some(Ty::Leaf),
            (RelTy::List, "edges") => Some(Ty::Rel(RelTy::Edge)),
            (RelTy::Edge, "node") => Some(Ty::Rel(RelTy::Node)),
            (RelTy::Node, "peers") => Some(Ty::Rel(RelTy::Peer)),
            _ => None,
        }
    }
}

/// The object types of Infrahub's branch diff, each with the fields Infrahub gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffTy {
    /// `DiffTree`: the counts and the nodes.
    Tree,
    /// `DiffTreeSummary`: the counts only.
    Summary,
    /// `DiffNode`.
    Node,
    /// `DiffAttribute`.
    Attribute,
    /// `DiffRelationship`.
    Relationship,
    /// `DiffSingleRelationship`: one peer.
    Element,
    /// `DiffProperty`.
    Property,
    /// `ConflictDetails`.
    Conflict,
    /// `DiffNodeParent`.
    Parent,
}

impl DiffTy {
    fn name(self) -> &'static str {
        match self {
            DiffTy::Tree => "DiffTree",
            DiffTy::Summary => "DiffTreeSummary",
            DiffTy::Node => "DiffNode",
            DiffTy::Attribute => "DiffAttribute",
            DiffTy::Relationship => "DiffRelationship",
            DiffTy::Element => "DiffSingleRelationship",
            DiffTy::Property => "DiffProperty",
            DiffTy::Conflict => "ConflictDetails",
            DiffTy::Parent => "DiffNodeParent",
        }
    }

    fn field(self, name: &str) -> Option<Ty<'static>> {
        const COUNTS: [&str; 4] = ["num_added", "num_updated", "num_removed", "num_conflicts"];
        let leaf =
            |names: &[&str]| (COUNTS.contains(&name) || names.contains(&name)).then_some(Ty::Leaf);
        let diff = |ty| Some(Ty::Diff(ty));
        let branches = [
            "base_branch",
            "diff_branch",
            "from_time",
            "to_time",
            "num_untracked_base_changes",
            "num_untracked_diff_changes",
        ];
        match (self, name) {
            (DiffTy::Tree, "nodes") => diff(DiffTy::Node),
            (DiffTy::Tree, _) => leaf(&[branches.as_slice(), &["name"]].concat()),
            (DiffTy::Summary, _) => leaf(&[branches.as_slice(), &["num_unchanged"]].concat()),
            (DiffTy::Node, "attributes") => diff(DiffTy::Attribute),
            (DiffTy::Node, "relationships") => diff(DiffTy::Relationship),
            (DiffTy::Node, "parent") => diff(DiffTy::Parent),
            (DiffTy::Attribute | DiffTy::Node | DiffTy::Element | DiffTy::Property, "conflict") => {
                diff(DiffTy::Conflict)
            }
            (DiffTy::Attribute | DiffTy::Element, "properties") => diff(DiffTy::Property),
            (DiffTy::Relationship, "elements") => diff(DiffTy::Element),
            (DiffTy::Node, _) => leaf(&[
                "uuid",
                "kind",
                "label",
                "status",
                "path_identifier",
                "contains_conflict",
                "last_changed_at",
            ]),
            (DiffTy::Attribute, _) => leaf(&[
                "name",
                "last_changed_at",
                "status",
                "path_identifier",
                "contains_conflict",
            ]),
            (DiffTy::Relationship, _) => leaf(&[
                "name",
                "label",
                "last_changed_at",
                "cardinality",
                "status",
                "path_identifier",
                "contains_conflict",
            ]),
            (DiffTy::Element, _) => leaf(&[
                "last_changed_at",
                "status",
                "peer_id",
                "peer_label",
                "path_identifier",
                "contains_conflict",
            ]),
            (DiffTy::Property, _) => [
                "property_type",
                "last_changed_at",
                "previous_value",
                "new_value",
                "previous_label",
                "new_label",
                "status",
                "path_identifier",
            ]
            .contains(&name)
            .then_some(Ty::Leaf),
            (DiffTy::Conflict, _) => [
                "uuid",
                "base_branch_action",
                "base_branch_value",
                "base_branch_changed_at",
                "base_branch_label",
                "diff_branch_action",
                "diff_branch_value",
                "diff_branch_changed_at",
                "diff_branch_label",
                "selected_branch",
                "resolvable",
            ]
            .contains(&name)
            .then_some(Ty::Leaf),
            (DiffTy::Parent, _) => ["uuid", "kind", "relationship_name"]
                .contains(&name)
                .then_some(Ty::Leaf),
        }
    }
}

/// The mutations of Infrahub's branch API (`infrahubctl branch …`, `client.branch.*`).
pub const BRANCH_MUTATIONS: [&str; 5] = [
    "BranchCreate",
    "BranchDelete",
    "BranchMerge",
    "BranchRebase",
    "BranchValidate",
];

/// The fields of a `Branch`.
pub const BRANCH_FIELDS: [&str; 12] = [
    "id",
    "name",
    "description",
    "origin_branch",
    "branched_from",
    "created_at",
    "is_default",
    "is_isolated",
    "sync_with_git",
    "has_schema_changes",
    "graph_version",
    "status",
];

/// The prefix pool's allocation mutation.
pub const POOL_PREFIX_MUTATION: &str = "InfrahubIPPrefixPoolGetResource";
/// The address pool's allocation mutation.
pub const POOL_ADDRESS_MUTATION: &str = "InfrahubIPAddressPoolGetResource";

/// The mutation a root mutation field names.
pub use crate::engine::WriteOp as MutationOp;

/// Split `NetworkDeviceUpsert` into the kind and the operation.
pub fn split_mutation<'s>(schema: &'s Schema, field: &str) -> Option<(&'s KindSchema, MutationOp)> {
    for (suffix, op) in [
        ("Create", MutationOp::Create),
        ("Update", MutationOp::Update),
        ("Upsert", MutationOp::Upsert),
        ("Delete", MutationOp::Delete),
    ] {
        if let Some(kind) = field.strip_suffix(suffix)
            && let Some(k) = schema.get(kind)
        {
            if k.is_generic && op != MutationOp::Update {
                return None;
            }
            return Some((k, op));
        }
    }
    None
}

impl<'a> Ty<'a> {
    /// The GraphQL type name (for messages).
    pub fn name(&self) -> String {
        match self {
            Ty::Query => "Query".into(),
            Ty::Mutation => "Mutation".into(),
            Ty::Info => "InfrahubInfo".into(),
            Ty::Status => "Status".into(),
            Ty::StatusSummary => "StatusSummary".into(),
            Ty::Paginated(k) => format!("Paginated{}", k.kind),
            Ty::Edge(k) => format!("Edged{}", k.kind),
            Ty::Node(k) => k.kind.clone(),
            Ty::Attr(a) => a.graphql_type().into(),
            Ty::One(k) => format!("NestedEdged{}", k.kind),
            Ty::Many(k) => format!("NestedPaginated{}", k.kind),
            Ty::Props => "RelationshipProperty".into(),
            Ty::MutResult(k) => format!("{}Mutation", k.kind),
            Ty::OkOnly => "OkResult".into(),
            Ty::PoolResult => "PoolGetResourceResult".into(),
            Ty::PoolNode => "PoolAllocatedNode".into(),
            Ty::Branch => "Branch".into(),
            Ty::BranchResult => "BranchMutationResult".into(),
            Ty::Task => "TaskInfo".into(),
            Ty::Diff(d) => d.name().into(),
            Ty::Rel(r) => r.name().into(),
            Ty::Leaf => "Scalar".into(),
        }
    }

    /// The type of field `name`, if this type has it.
    pub fn field(&self, schema: &'a Schema, name: &str) -> Option<Ty<'a>> {
        if name == "__typename" {
            return Some(Ty::Leaf);
        }
        match self {
            Ty::Query => match name {
                "InfrahubInfo" => Some(Ty::Info),
                "InfrahubStatus" => Some(Ty::Status),
                "Branch" => Some(Ty::Branch),
                "AccountProfile" => schema.get(super::query::ACCOUNT_GENERIC).map(Ty::Node),
                "DiffTree" => Some(Ty::Diff(DiffTy::Tree)),
                "DiffTreeSummary" => Some(Ty::Diff(DiffTy::Summary)),
                "Relationship" => Some(Ty::Rel(RelTy::List)),
                _ => schema.get(name).map(Ty::Paginated),
            },
            Ty::Mutation => match name {
                "RelationshipAdd" | "RelationshipRemove" => Some(Ty::OkOnly),
                POOL_PREFIX_MUTATION | POOL_ADDRESS_MUTATION => Some(Ty::PoolResult),
                _ if BRANCH_MUTATIONS.contains(&name) => Some(Ty::BranchResult),
                _ => split_mutation(schema, name).map(|(k, op)| {
                    if op == MutationOp::Delete {
                        Ty::OkOnly
                    } else {
                        Ty::MutResult(k)
                    }
                }),
            },
            Ty::Info => matches!(name, "version" | "deployment_id").then_some(Ty::Leaf),
            Ty::Status => (name == "summary").then_some(Ty::StatusSummary),
            Ty::StatusSummary => matches!(name, "schema_hash_synced").then_some(Ty::Leaf),
            Ty::Paginated(k) => match name {
                "count" | "permissions" => Some(Ty::Leaf),
                "edges" => Some(Ty::Edge(k)),
                _ => None,
            },
            Ty::Edge(k) => match name {
                "node" => Some(Ty::Node(k)),
                "node_metadata" => Some(Ty::Leaf),
                _ => None,
            },
            Ty::Node(k) => node_field(schema, k, name),
            Ty::Attr(kind) => attr_field(*kind, name).then_some(Ty::Leaf),
            Ty::One(k) => match name {
                "node" => Some(Ty::Node(k)),
                "properties" => Some(Ty::Props),
                "relationship_metadata" | "node_metadata" => Some(Ty::Leaf),
                _ => None,
            },
            Ty::Many(k) => match name {
                "count" | "permissions" => Some(Ty::Leaf),
                "edges" => Some(Ty::One(k)),
                _ => None,
            },
            Ty::Props => matches!(
                name,
                "is_protected" | "updated_at" | "source" | "owner" | "is_visible"
            )
            .then_some(Ty::Leaf),
            Ty::MutResult(k) => match name {
                "ok" => Some(Ty::Leaf),
                "object" => Some(Ty::Node(k)),
                _ => None,
            },
            Ty::OkOnly => (name == "ok").then_some(Ty::Leaf),
            Ty::PoolResult => match name {
                "ok" => Some(Ty::Leaf),
                "node" => Some(Ty::PoolNode),
                _ => None,
            },
            Ty::PoolNode => matches!(
                name,
                "id" | "kind" | "identifier" | "display_label" | "branch"
            )
            .then_some(Ty::Leaf),
            Ty::Branch => BRANCH_FIELDS.contains(&name).then_some(Ty::Leaf),
            Ty::BranchResult => match name {
                "ok" | "messages" => Some(Ty::Leaf),
                "object" => Some(Ty::Branch),
                "task" => Some(Ty::Task),
                _ => None,
            },
            Ty::Task => (name == "id").then_some(Ty::Leaf),
            Ty::Diff(d) => d.field(name),
            Ty::Rel(r) => r.field(name),
            Ty::Leaf => None,
        }
    }
}

fn node_field<'a>(schema: &'a Schema, k: &'a KindSchema, name: &str) -> Option<Ty<'a>> {
    match name {
        "id" | "hfid" | "display_label" => return Some(Ty::Leaf),
        "ancestors" | "descendants" if k.is_hierarchical() => {
            let h = k.hierarchy.as_deref().unwrap_or(&k.kind);
            return schema.get(h).map(Ty::Many);
        }
        _ => {}
    }
    if let Some(a) = k.attribute(name) {
        return Some(Ty::Attr(a.kind));
    }
    let r = k.relationship(name)?;
    let peer = schema.get(&r.peer)?;
    Some(match r.cardinality {
        Cardinality::One => Ty::One(peer),
        Cardinality::Many => Ty::Many(peer),
    })
}

/// Fields of an attribute object.
pub fn attr_field(kind: AttributeKind, name: &str) -> bool {
    const COMMON: &[&str] = &[
        "value",
        "id",
        "is_default",
        "is_from_profile",
        "is_protected",
        "is_visible",
        "updated_at",
        "source",
        "owner",
        "permissions",
        "__typename",
    ];
    if COMMON.contains(&name) {
        return true;
    }
    match kind {
        AttributeKind::Dropdown => matches!(name, "label" | "color" | "description"),
        AttributeKind::IPHost => matches!(
            name,
            "ip" | "hostmask"
                | "netmask"
                | "prefixlen"
                | "version"
                | "with_hostmask"
                | "with_netmask"
        ),
        AttributeKind::IPNetwork => matches!(
            name,
            "broadcast_address"
                | "hostmask"
                | "netmask"
                | "prefixlen"
                | "num_addresses"
                | "version"
                | "with_hostmask"
                | "with_netmask"
                | "network_address"
        ),
        AttributeKind::IPAddress => matches!(name, "version"),
        _ => false,
    }
}

/// Whether `arg` is a filter argument of `kind` (top-level or nested many).
pub fn filter_arg_ok(schema: &Schema, k: &KindSchema, arg: &str, top_level: bool) -> bool {
    match arg {
        "offset" | "limit" | "ids" | "order" => return true,
        "partial_match" | "any__value" | "any__values" => return top_level,
        "hfid" => return k.human_friendly_id.is_some(),
        "isnull" => return !top_level,
        "display_label__value" | "display_label__values" | "display_label__isnull" => return true,
        _ => {}
    }
    let parts: Vec<&str> = arg.split("__").collect();
    match parts.as_slice() {
        [attr, op] => {
            if k.attribute(attr).is_some() {
                return matches!(
                    *op,
                    "value" | "values" | "isnull" | "is_protected" | "is_visible"
                );
            }
            if k.relationship(attr).is_some()
                || (k.is_hierarchical() && matches!(*attr, "ancestors" | "descendants"))
            {
                return matches!(*op, "ids" | "isnull");
            }
            false
        }
        [attr, prop, "id"] => k.attribute(attr).is_some() && matches!(*prop, "source" | "owner"),
        [rel, attr, op] => {
            let peer_kind = if k.is_hierarchical() && matches!(*rel, "ancestors" | "descendants") {
                k.hierarchy.clone().or_else(|| Some(k.kind.clone()))
            } else {
                k.relationship(rel).map(|r| r.peer.clone())
            };
            let Some(peer) = peer_kind.and_then(|p| schema.get(&p)) else {
                return false;
            };
            peer.attribute(attr).is_some() && matches!(*op, "value" | "values" | "isnull")
        }
        _ => false,
    }
}

/// Most field selections one document may expand to (fragments included), so a small
/// document cannot make the store do exponential work.
const MAX_SELECTIONS: usize = 20_000;

/// Validate a whole operation; every unknown field, argument, type or fragment is reported.
pub(crate) fn validate(
    schema: &Schema,
    doc: &ExecutableDocument,
    root: Ty<'_>,
    set: &SelectionSet,
) -> Vec<GqlError> {
    let mut errors = Vec::new();
    let mut budget = MAX_SELECTIONS;
    validate_set(schema, doc, root, set, &mut errors, 0, &mut budget);
    errors
}

fn validate_set(
    schema: &Schema,
    doc: &ExecutableDocument,
    ty: Ty<'_>,
    set: &SelectionSet,
    errors: &mut Vec<GqlError>,
    depth: usize,
    budget: &mut usize,
) {
    if *budget == 0 {
        return;
    }
    if depth > 64 {
        errors.push(GqlError::msg("Query is nested too deeply."));
        return;
    }
    for sel in &set.items {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        if *budget == 0 {
            errors.push(GqlError::msg(format!(
                "Query is too complex: more than {MAX_SELECTIONS} field selections once fragments are expanded."
            )));
            return;
        }
        match &sel.node {
            Selection::Field(f) => validate_field(schema, doc, ty, f, errors, depth, budget),
            Selection::InlineFragment(fr) => {
                let sub = match &fr.node.type_condition {
                    None => Some(ty),
                    Some(tc) => cond_type(schema, ty, tc.node.on.node.as_str(), tc.pos, errors),
                };
                if let Some(sub) = sub {
                    validate_set(
                        schema,
                        doc,
                        sub,
                        &fr.node.selection_set.node,
                        errors,
                        depth + 1,
                        budget,
                    );
                }
            }
            Selection::FragmentSpread(sp) => match doc.fragments.get(&sp.node.fragment_name.node) {
                None => errors.push(GqlError::at(
                    format!("Unknown fragment '{}'.", sp.node.fragment_name.node),
                    sp.pos,
                )),
                Some(fd) => {
                    let tc = &fd.node.type_condition;
                    if let Some(sub) =
                        cond_type(schema, ty, tc.node.on.node.as_str(), tc.pos, errors)
                    {
                        validate_set(
                            schema,
                            doc,
                            sub,
                            &fd.node.selection_set.node,
                            errors,
                            depth + 1,
                            budget,
                        );
                    }
                }
            },
        }
    }
}

fn cond_type<'a>(
    schema: &'a Schema,
    ty: Ty<'a>,
    on: &str,
    pos: async_graphql_parser::Pos,
    errors: &mut Vec<GqlError>,
) -> Option<Ty<'a>> {
    if ty.name() == on {
        return Some(ty);
    }
    match (ty, schema.get(on)) {
        (Ty::Node(_), Some(k)) => Some(Ty::Node(k)),
        (_, None) => {
            errors.push(GqlError::at(format!("Unknown type '{on}'."), pos));
            None
        }
        (_, Some(_)) => {
            errors.push(GqlError::at(format!("Fragment cannot be spread here as objects of type '{}' can never be of type '{on}'.", ty.name()), pos));
            None
        }
    }
}

fn validate_field(
    schema: &Schema,
    doc: &ExecutableDocument,
    ty: Ty<'_>,
    f: &Positioned<Field>,
    errors: &mut Vec<GqlError>,
    depth: usize,
    budget: &mut usize,
) {
    let name = f.node.name.node.as_str();
    let Some(sub) = ty.field(schema, name) else {
        errors.push(GqlError::at(
            format!("Cannot query field '{name}' on type '{}'.", ty.name()),
            f.pos,
        ));
        return;
    };
    for (arg, _) in &f.node.arguments {
        let a = arg.node.as_str();
        let ok = match (ty, sub) {
            (Ty::Query, Ty::Paginated(k)) => filter_arg_ok(schema, k, a, true),
            (Ty::Node(_), Ty::Many(k)) => filter_arg_ok(schema, k, a, false),
            (Ty::Query, Ty::Branch) => matches!(a, "name" | "ids"),
            (Ty::Query, Ty::Rel(RelTy::List)) => {
                matches!(a, "ids" | "excluded_namespaces" | "limit" | "offset")
            }
            (Ty::Query, Ty::Diff(DiffTy::Tree)) => matches!(
                a,
                "name"
                    | "branch"
                    | "from_time"
                    | "to_time"
                    | "root_node_uuids"
                    | "include_parents"
                    | "filters"
                    | "limit"
                    | "offset"
                    | "proposed_change_id"
            ),
            (Ty::Query, Ty::Diff(DiffTy::Summary)) => matches!(
                a,
                "name" | "branch" | "from_time" | "to_time" | "filters" | "proposed_change_id"
            ),
            (Ty::Mutation, Ty::BranchResult) => matches!(
                a,
                "data" | "context" | "background_execution" | "wait_until_completion"
            ),
            (Ty::Mutation, _) => matches!(a, "data" | "context"),
            _ => false,
        };
        if !ok {
            errors.push(GqlError::at(
                format!("Unknown argument '{a}' on field '{}.{name}'.", ty.name()),
                arg.pos,
            ));
        }
    }
    if ty_is_mutation_needing_data(ty, name) && f.node.get_argument("data").is_none() {
        errors.push(GqlError::at(format!("Field '{name}' argument 'data' of type 'Input!' is required, but it was not provided."), f.pos));
    }
    let has_sel = !f.node.selection_set.node.items.is_empty();
    match sub {
        Ty::Leaf => {}
        _ if !has_sel => errors.push(GqlError::at(
            format!("Field '{name}' of type '{}' must have a selection of subfields. Did you mean '{name} {{ ... }}'?", sub.name()),
            f.pos,
        )),
        _ => validate_set(
            schema,
            doc,
            sub,
            &f.node.selection_set.node,
            errors,
            depth + 1,
            budget,
        ),
    }
}

fn ty_is_mutation_needing_data(ty: Ty<'_>, _name: &str) -> bool {
    matches!(ty, Ty::Mutation) && _name != "__typename"
}
