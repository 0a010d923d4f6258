//! The schema model: generics and nodes with their attributes and relationships, after
//! Infrahub's defaults and inheritance have been applied.
//!
//! [`load`] turns schema files into a [`Schema`] (or a list of errors naming file, kind and
//! field); [`core`] is the built-in core schema every store starts with.

pub mod core;
pub mod derived;
pub mod diff;
pub mod load;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The kind of an attribute (Infrahub's attribute kinds).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeKind {
    ID,
    Dropdown,
    Text,
    TextArea,
    DateTime,
    Email,
    Password,
    HashedPassword,
    URL,
    File,
    MacAddress,
    Color,
    Number,
    NumberPool,
    Bandwidth,
    IPHost,
    IPNetwork,
    IPAddress,
    Boolean,
    Checkbox,
    List,
    JSON,
    Any,
}

impl AttributeKind {
    /// The kind's name, as schema files spell it (and as `Debug` prints it).
    pub fn name(self) -> &'static str {
        match self {
            AttributeKind::ID => "ID",
            AttributeKind::Dropdown => "Dropdown",
            AttributeKind::Text => "Text",
            AttributeKind::TextArea => "TextArea",
            AttributeKind::DateTime => "DateTime",
            AttributeKind::Email => "Email",
            AttributeKind::Password => "Password",
            AttributeKind::HashedPassword => "HashedPassword",
            AttributeKind::URL => "URL",
            AttributeKind::File => "File",
            AttributeKind::MacAddress => "MacAddress",
            AttributeKind::Color => "Color",
            AttributeKind::Number => "Number",
            AttributeKind::NumberPool => "NumberPool",
            AttributeKind::Bandwidth => "Bandwidth",
            AttributeKind::IPHost => "IPHost",
            AttributeKind::IPNetwork => "IPNetwork",
            AttributeKind::IPAddress => "IPAddress",
            AttributeKind::Boolean => "Boolean",
            AttributeKind::Checkbox => "Checkbox",
            AttributeKind::List => "List",
            AttributeKind::JSON => "JSON",
            AttributeKind::Any => "Any",
        }
    }

    /// The GraphQL object type that carries an attribute of this kind.
    pub fn graphql_type(self) -> &'static str {
        match self {
            AttributeKind::Dropdown => "Dropdown",
            AttributeKind::Number | AttributeKind::NumberPool | AttributeKind::Bandwidth => {
                "NumberAttribute"
            }
            AttributeKind::Boolean => "BooleanAttribute",
            AttributeKind::Checkbox => "CheckboxAttribute",
            AttributeKind::IPHost => "IPHost",
            AttributeKind::IPNetwork => "IPNetwork",
            AttributeKind::IPAddress => "IPAddress",
            AttributeKind::JSON => "JSONAttribute",
            AttributeKind::List => "ListAttribute",
            AttributeKind::Any => "AnyAttribute",
            AttributeKind::MacAddress => "MacAddress",
            _ => "TextAttribute",
        }
    }

    /// The GraphQL scalar of `value` (used for filters and SDL).
    pub fn scalar(self) -> &'static str {
        match self {
            AttributeKind::Number | AttributeKind::NumberPool | AttributeKind::Bandwidth => {
                "BigInt"
            }
            AttributeKind::Boolean | AttributeKind::Checkbox => "Boolean",
            AttributeKind::JSON | AttributeKind::List | AttributeKind::Any => "GenericScalar",
            _ => "String",
        }
    }
}

/// The generic every node implements, never named by Infrahub's `inherit_from`: a
/// relationship to it can hold any node of the store.
pub(crate) const CORE_NODE: &str = "CoreNode";

/// Relationship kinds.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelationshipKind {
    Generic,
    Attribute,
    Component,
    Parent,
    Group,
    Hierarchy,
    Profile,
    Template,
}

/// One or many peers.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cardinality {
    One,
    Many,
}

/// How a kind's data relates to branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BranchSupport {
    /// Each branch has its own version; merged into main.
    Aware,
    /// One version shared by all branches.
    Agnostic,
    /// Lives only on the branch where it was written; never merged.
    Local,
}

/// What deleting a node does to the peers of this relationship.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDelete {
    NoAction,
    Cascade,
}

/// Relationship direction.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Bidirectional,
    Outbound,
    Inbound,
}

impl Direction {
    /// The direction's name, as schema files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Bidirectional => "bidirectional",
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }

    /// Whether two sides of one relationship may have these directions: both
    /// bidirectional, or one outbound and one inbound (as Infrahub requires).
    pub fn pairs_with(self, other: Direction) -> bool {
        matches!(
            (self, other),
            (Direction::Bidirectional, Direction::Bidirectional)
                | (Direction::Outbound, Direction::Inbound)
                | (Direction::Inbound, Direction::Outbound)
        )
    }
}

/// Where a node stands in the store's row of one of its relationships: the store keeps one
/// row per relationship instance (`src`, identifier, `dst`), read from either node (see
/// [`Schema::link_end`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEnd {
    /// The row's `src`.
    Src,
    /// The row's `dst`.
    Dst,
    /// Either end: a relationship whose two sides are one (a same-named relationship between
    /// nodes of one kind) or whose other side is not declared; the row holds its ids sorted.
    Either,
}

impl LinkEnd {
    /// Whether a node at a row's `src` (`at_src`) or at its `dst` holds the row through a
    /// relationship at this end.
    pub fn holds_at(self, at_src: bool) -> bool {
        match self {
            LinkEnd::Src => at_src,
            LinkEnd::Dst => !at_src,
            LinkEnd::Either => true,
        }
    }
}

/// A Dropdown choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// The stored value.
    pub name: String,
    /// Human label.
    #[serde(default)]
    pub label: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Display colour.
    #[serde(default)]
    pub color: Option<String>,
}

/// An attribute after defaults.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeSchema {
    /// Attribute name.
    pub name: String,
    /// Attribute kind.
    pub kind: AttributeKind,
    /// Allowed values (Text).
    pub r#enum: Option<Vec<serde_json::Value>>,
    /// Allowed values (Dropdown).
    pub choices: Option<Vec<Choice>>,
    /// Regex the value must match (stored, not enforced).
    pub regex: Option<String>,
    /// Maximum length of a text value.
    pub max_length: Option<u64>,
    /// Minimum length of a text value.
    pub min_length: Option<u64>,
    /// Label.
    pub label: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Not writable through mutations.
    pub read_only: bool,
    /// Value unique among nodes of the kind.
    pub unique: bool,
    /// May be absent (default false).
    pub optional: bool,
    /// Value used on create when none is given.
    pub default_value: Option<serde_json::Value>,
    /// Branch support (inherits the kind's).
    pub branch: Option<BranchSupport>,
    /// Ordering weight.
    pub order_weight: Option<i64>,
    /// Extra parameters (min_value, max_value …), kept verbatim.
    pub parameters: Option<serde_json::Value>,
    /// How the value is computed, where it is (`computed_attribute`).
    pub computed_attribute: Option<ComputedAttribute>,
    /// Inherited from a generic.
    pub inherited: bool,
}

impl AttributeSchema {
    /// The template of a Jinja2 computed attribute (see [`crate::computed`]).
    pub fn jinja2_template(&self) -> Option<&str> {
        self.jinja2().map(|(template, _)| template)
    }

    /// The template of a Jinja2 computed attribute and the variables it reads.
    pub fn jinja2(&self) -> Option<(&str, &[String])> {
        let computed = self
            .computed_attribute
            .as_ref()
            .filter(|c| c.kind == ComputedKind::Jinja2)?;
        Some((computed.jinja2_template.as_deref()?, &computed.variables))
    }
}

/// How an attribute's value is computed (`computed_attribute`), as Infrahub declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComputedAttribute {
    /// `User` (not computed), `Jinja2` or `TransformPython`.
    pub kind: ComputedKind,
    /// The template of a `Jinja2` attribute: its variables are paths of the node
    /// (`name__value`, `device__hostname__value`).
    pub jinja2_template: Option<String>,
    /// The Python transform of a `TransformPython` attribute (not run by infragen).
    pub transform: Option<String>,
    /// The variables the template reads (paths of the node), found when the schema loads.
    #[serde(skip)]
    pub variables: Vec<String>,
}

/// What computes an attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ComputedKind {
    /// Whoever writes the node: not computed.
    User,
    /// A Jinja2 template over the node's own values and those of its cardinality-one
    /// peers, rendered by the store whenever the node is written.
    Jinja2,
    /// A Python transform: Infrahub runs it on its workers; infragen does not.
    TransformPython,
}

/// A relationship after defaults.
#[derive(Debug, Clone, Serialize)]
pub struct RelationshipSchema {
    /// Relationship name.
    pub name: String,
    /// Peer kind (node or generic).
    pub peer: String,
    /// Relationship kind (default Generic).
    pub kind: RelationshipKind,
    /// Label.
    pub label: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Pairs both sides of a relationship.
    pub identifier: String,
    /// One or many (default many).
    pub cardinality: Cardinality,
    /// Minimum number of peers.
    pub min_count: u64,
    /// Maximum number of peers (0 = no maximum).
    pub max_count: u64,
    /// May be empty (default true).
    pub optional: bool,
    /// Branch support.
    pub branch: Option<BranchSupport>,
    /// Direction.
    pub direction: Direction,
    /// Deleting this node deletes the peers (Component relationships cascade by default).
    pub on_delete: Option<OnDelete>,
    /// Not writable through mutations.
    pub read_only: bool,
    /// Ordering weight.
    pub order_weight: Option<i64>,
    /// Inherited from a generic.
    pub inherited: bool,
    /// The hierarchy relationship (`parent`/`children`) of a hierarchical generic.
    pub hierarchical: Option<String>,
}

impl RelationshipSchema {
    /// Whether deleting the owner deletes the peers.
    pub fn cascades(&self) -> bool {
        match self.on_delete {
            Some(OnDelete::Cascade) => true,
            Some(OnDelete::NoAction) => false,
            None => self.kind == RelationshipKind::Component,
        }
    }
}

/// A generic or a node after defaults and inheritance.
#[derive(Debug, Clone, Serialize)]
pub struct KindSchema {
    /// `namespace + name`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// A generic (interface) rather than a node.
    pub is_generic: bool,
    /// Label.
    pub label: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Branch support (default aware).
    pub branch: BranchSupport,
    /// Upsert identity when there is no HFID, e.g. `name__value`.
    pub default_filter: Option<String>,
    /// Human-friendly id paths (`name__value`, `device__name__value`).
    pub human_friendly_id: Option<Vec<String>>,
    /// Display label template or path.
    pub display_label: Option<String>,
    /// Display label paths (older form).
    pub display_labels: Option<Vec<String>>,
    /// Default ordering paths.
    pub order_by: Option<Vec<String>>,
    /// Uniqueness constraints: `attr__value` or relationship names.
    pub uniqueness_constraints: Option<Vec<Vec<String>>>,
    /// Generics this kind inherits from (nodes only).
    pub inherit_from: Vec<String>,
    /// A hierarchical generic.
    pub hierarchical: bool,
    /// The hierarchical generic a node belongs to.
    pub hierarchy: Option<String>,
    /// Allowed parent kind in a hierarchy.
    pub parent: Option<String>,
    /// Allowed children kind in a hierarchy.
    pub children: Option<String>,
    /// Nodes that inherit this generic (generics only).
    pub used_by: Vec<String>,
    /// Attributes, own and inherited.
    pub attributes: Vec<AttributeSchema>,
    /// Relationships, own and inherited.
    pub relationships: Vec<RelationshipSchema>,
    /// Other fields kept verbatim for the schema endpoint (icon, menu placement …).
    #[serde(skip)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A `display_label` template (`{{ name__value }} ({{ role__value }})`) as its pieces:
/// each path with the text before it, then the text after the last. `None` when the label
/// is a plain path, not a template.
pub(crate) fn label_template(label: &str) -> Option<(Vec<(&str, &str)>, &str)> {
    if !label.contains("{{") {
        return None;
    }
    let mut pieces = Vec::new();
    let mut rest = label;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        pieces.push((&rest[..start], after[..end].trim()));
        rest = &after[end + 2..];
    }
    Some((pieces, rest))
}

/// The relationship a computed attribute's variable reads through: `device` for
/// `device__name__value`, none for the node's own `name__value` (the loader accepts only
/// these two shapes).
fn peer_of_path(path: &str) -> Option<&str> {
    let mut parts = path.split("__");
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(rel), Some(_), Some(_), None) => Some(rel),
        _ => None,
    }
}

impl KindSchema {
    /// Whether a node of this kind shows as a peer (its HFID and display label) and sorts
    /// among peers (`order_by`) from its own attributes alone, so a reader can skip its
    /// edges: a namespace has one to every prefix and address of the store.
    pub fn labelled_by_own_attributes(&self) -> bool {
        let own = |path: &str| {
            let mut segments = path.trim().split("__");
            segments
                .next()
                .is_some_and(|first| self.attribute(first).is_some())
                && segments.count() <= 1
        };
        let label_paths = self
            .display_label
            .iter()
            .flat_map(|label| match label_template(label) {
                Some((pieces, _)) => pieces.into_iter().map(|(_, path)| path).collect(),
                None => vec![label.as_str()],
            });
        self.human_friendly_id
            .iter()
            .chain(&self.display_labels)
            .chain(&self.order_by)
            .flatten()
            .map(String::as_str)
            .chain(label_paths)
            .all(own)
    }

    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&AttributeSchema> {
        self.attributes.iter().find(|a| a.name == name)
    }
    /// The relationship each variable of this kind's Jinja2 computed attributes reads a
    /// peer's value through (`device` for `{{ device__name__value }}`), once per variable
    /// that reads a peer: none where every template reads the node's own values.
    pub fn computed_peer_reads(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .iter()
            .filter_map(AttributeSchema::jinja2)
            .flat_map(|(_, variables)| variables)
            .filter_map(|variable| peer_of_path(variable))
    }

    /// Whether a Jinja2 computed attribute of this kind reads a peer's value through the
    /// relationship `rel`.
    pub fn computes_through(&self, rel: &str) -> bool {
        self.computed_peer_reads().any(|through| through == rel)
    }

    /// The relationship called `name`.
    pub fn relationship(&self, name: &str) -> Option<&RelationshipSchema> {
        self.relationships.iter().find(|r| r.name == name)
    }
    /// On a branch-agnostic kind, whether the attribute or relationship `field` is
    /// explicitly `branch: aware`: its values vary per branch while the node itself is
    /// shared.
    pub fn is_branch_aware_field(&self, field: &str) -> bool {
        let aware = Some(BranchSupport::Aware);
        self.branch == BranchSupport::Agnostic
            && (self.attribute(field).is_some_and(|a| a.branch == aware)
                || self.relationship(field).is_some_and(|r| r.branch == aware))
    }

    /// Whether nodes of this kind form a parent/children tree.
    pub fn is_hierarchical(&self) -> bool {
        self.hierarchical || self.hierarchy.is_some()
    }
}

/// [`Schema::link_end`] with `first_names` (see [`Schema`]'s field).
fn link_end(first_names: &foldhash::HashMap<String, String>, r: &RelationshipSchema) -> LinkEnd {
    match r.direction {
        Direction::Outbound => LinkEnd::Src,
        Direction::Inbound => LinkEnd::Dst,
        Direction::Bidirectional => match first_names.get(&r.identifier) {
            Some(first) if *first == r.name => LinkEnd::Src,
            Some(_) => LinkEnd::Dst,
            None => LinkEnd::Either,
        },
    }
}

/// The complete schema: the core schema plus every loaded file.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Every kind, sorted by name.
    kinds: Vec<KindSchema>,
    /// Where each kind is in `kinds`, by name: looking a kind up is hashed, as a write looks
    /// kinds up hundreds of times. The names are shared: a transaction notes the kind of
    /// every node it touches or looks up, and handing out the schema's copy makes that a
    /// reference count rather than a `String` each time (see [`Schema::kind_name`]).
    positions: foldhash::HashMap<std::sync::Arc<str>, usize>,
    /// The peer kind of each node (not generic) kind's relationship, by the relationship's
    /// identifier (see [`Schema::kinds_linking`]).
    identifier_peers: foldhash::HashMap<String, Vec<String>>,
    /// For each kind, the identifiers of its relationships read from a relationship row's
    /// `src` and from its `dst` (see [`Schema::link_identifiers`]).
    link_ends: foldhash::HashMap<String, (Vec<String>, Vec<String>)>,
    /// For each identifier that bidirectional relationships of two or more names share, the
    /// first name (see [`Schema::link_end`]).
    first_names: foldhash::HashMap<String, String>,
    /// For each node kind, the nodes whose Jinja2 computed attributes read its values
    /// through a relationship, as (their node kind, that relationship's name on it): whom
    /// a change of such a node's values renders again (see [`Schema::computed_readers`]).
    computed_readers: foldhash::HashMap<String, Vec<(String, String)>>,
    /// Files loaded on top of the core schema, in load order.
    pub files: Vec<(String, String)>,
    /// sha256 over the loaded files, Infrahub's schema hash stand-in.
    pub hash: String,
}

impl Schema {
    /// A schema of `kinds` (by name), loaded from `files`, with `hash`.
    pub(crate) fn new(
        kinds: BTreeMap<String, KindSchema>,
        files: Vec<(String, String)>,
        hash: String,
    ) -> Self {
        let kinds: Vec<KindSchema> = kinds.into_values().collect();
        let positions = kinds
            .iter()
            .enumerate()
            .map(|(at, k)| (k.kind.as_str().into(), at))
            .collect();
        let mut identifier_peers: foldhash::HashMap<String, Vec<String>> =
            foldhash::HashMap::default();
        for k in kinds.iter().filter(|k| !k.is_generic) {
            for r in &k.relationships {
                identifier_peers
                    .entry(r.identifier.clone())
                    .or_default()
                    .push(r.peer.clone());
            }
        }
        let mut names: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for r in kinds.iter().flat_map(|k| &k.relationships) {
            if r.direction == Direction::Bidirectional {
                names.entry(&r.identifier).or_default().insert(&r.name);
            }
        }
        let first_names: foldhash::HashMap<String, String> = names
            .into_iter()
            .filter(|(_, names)| names.len() > 1)
            .filter_map(|(identifier, names)| {
                Some((identifier.to_owned(), (*names.first()?).to_owned()))
            })
            .collect();
        let end = |r: &RelationshipSchema| link_end(&first_names, r);
        let link_ends = kinds
            .iter()
            .map(|k| {
                let at = |at_src: bool| {
                    let mut identifiers: Vec<String> = Vec::new();
                    for r in k.relationships.iter().filter(|r| end(r).holds_at(at_src)) {
                        if !identifiers.contains(&r.identifier) {
                            identifiers.push(r.identifier.clone());
                        }
                    }
                    identifiers
                };
                (k.kind.clone(), (at(true), at(false)))
            })
            .collect();
        let mut schema = Schema {
            kinds,
            positions,
            identifier_peers,
            link_ends,
            first_names,
            computed_readers: foldhash::HashMap::default(),
            files,
            hash,
        };
        let mut computed_readers: foldhash::HashMap<String, Vec<(String, String)>> =
            foldhash::HashMap::default();
        for k in schema.kinds.iter().filter(|k| !k.is_generic) {
            for rel in k.computed_peer_reads() {
                let Some(r) = k.relationship(rel) else {
                    continue;
                };
                for peer in schema.concrete_kinds(&r.peer) {
                    let readers = computed_readers.entry(peer.clone()).or_default();
                    if !readers
                        .iter()
                        .any(|(kind, name)| *kind == k.kind && *name == r.name)
                    {
                        readers.push((k.kind.clone(), r.name.clone()));
                    }
                }
            }
        }
        schema.computed_readers = computed_readers;
        schema
    }

    /// The (node kind, relationship name) pairs whose nodes' Jinja2 computed attributes
    /// read the values of a node of `kind` through that relationship: a change to such a
    /// node's values renders its readers' again, as Infrahub's workers do.
    pub fn computed_readers(&self, kind: &str) -> &[(String, String)] {
        self.computed_readers.get(kind).map_or(&[], Vec::as_slice)
    }
    /// The generic or node called `kind`.
    pub fn get(&self, kind: &str) -> Option<&KindSchema> {
        self.positions.get(kind).map(|&at| &self.kinds[at])
    }

    /// `kind`'s name as a shared string: the schema's own where the schema has the kind,
    /// a new one where it does not (a node stored under a kind since removed).
    pub fn kind_name(&self, kind: &str) -> std::sync::Arc<str> {
        match self.positions.get_key_value(kind) {
            Some((name, _)) => std::sync::Arc::clone(name),
            None => kind.into(),
        }
    }
    /// How many relationships of node (not generic) kinds share `identifier` and may point
    /// at a node of `peer_kind`: where only one does, every relationship of that identifier
    /// touching such a node has a node of that kind at its other end (an interface's
    /// `device`, where a template interface's `device` has an identifier of its own).
    pub fn kinds_linking(&self, identifier: &str, peer_kind: &str) -> usize {
        self.identifier_peers.get(identifier).map_or(0, |peers| {
            peers
                .iter()
                .filter(|peer| self.is_a(peer_kind, peer))
                .count()
        })
    }
    /// Where a node holding `r` stands in its rows: an `outbound` side at `src`, an
    /// `inbound` side at `dst`, as Infrahub pairs them; of bidirectional sides with two
    /// names under one identifier (a group's `members` and a node's `member_of_groups`),
    /// the side whose name sorts first at `src`, so that each reads its own rows only (a
    /// group's parents are not looked for among its thousand members). A bidirectional
    /// relationship with one name has its row's ids sorted, read from both ends. A side of
    /// another name declared later turns its rows round once (`graph::links::reorient`).
    pub fn link_end(&self, r: &RelationshipSchema) -> LinkEnd {
        link_end(&self.first_names, r)
    }

    /// Every identifier whose rows are ordered by the first of its bidirectional names,
    /// with that name; the others' rows are ordered by their ids.
    pub fn link_orders(&self) -> BTreeMap<&str, &str> {
        self.first_names
            .iter()
            .map(|(identifier, first)| (identifier.as_str(), first.as_str()))
            .collect()
    }

    /// The identifiers of `kind`'s relationships that a node of it reads from the `src` of
    /// a relationship row, and from its `dst` (see [`Schema::link_end`]): the rows of
    /// other identifiers at a node (every prefix's `ip_namespace` at its namespace, which
    /// declares no other side) are none of its own.
    pub fn link_identifiers(&self, kind: &str) -> (&[String], &[String]) {
        self.link_ends
            .get(kind)
            .map_or((&[], &[]), |(src, dst)| (src.as_slice(), dst.as_slice()))
    }
    /// All kinds, sorted by name.
    pub fn kinds(&self) -> impl Iterator<Item = &KindSchema> {
        self.kinds.iter()
    }
    /// Whether `kind` is `target` or inherits it (every node inherits `CoreNode`).
    pub fn is_a(&self, kind: &str, target: &str) -> bool {
        if kind == target {
            return true;
        }
        match self.get(kind) {
            Some(k) => k.inherit_from.iter().any(|g| g == target),
            None => false,
        }
    }
    /// Concrete node kinds that are `kind` (itself if it is a node, its users if a generic),
    /// borrowed from the schema: identities and filters ask for every lookup.
    pub fn concrete_kinds(&self, kind: &str) -> &[String] {
        match self.get(kind) {
            Some(k) if !k.is_generic => std::slice::from_ref(&k.kind),
            Some(k) => &k.used_by,
            None => &[],
        }
    }
    /// The relationship of `kind` holding a relationship row of `identifier` whose end
    /// `at_src` (the row's `src`, else its `dst`) is a node of `kind` (see
    /// [`Schema::link_end`]); `peer_kind` gives the other end's kind, asked only when
    /// two relationships of `kind` could hold the row.
    pub fn relationship_at<'k, K: AsRef<str>>(
        &self,
        kind: &'k KindSchema,
        identifier: &str,
        at_src: bool,
        peer_kind: impl FnOnce() -> Option<K>,
    ) -> Option<&'k RelationshipSchema> {
        let mut found = kind
            .relationships
            .iter()
            .filter(|r| r.identifier == identifier && self.link_end(r).holds_at(at_src));
        let first = found.next()?;
        let Some(second) = found.next() else {
            return Some(first);
        };
        let peer_kind = peer_kind()?;
        [first, second]
            .into_iter()
            .chain(found)
            .find(|r| self.is_a(peer_kind.as_ref(), &r.peer))
    }

    /// The relationship on `peer_kind` that is the other side of `r` (same identifier; when
    /// several share it, the one with another name and direction).
    pub fn counterpart(
        &self,
        peer_kind: &str,
        r: &RelationshipSchema,
    ) -> Option<&RelationshipSchema> {
        let pk = self.get(peer_kind)?;
        let cands: Vec<&RelationshipSchema> = pk
            .relationships
            .iter()
            .filter(|x| x.identifier == r.identifier)
            .collect();
        if cands.len() <= 1 {
            return cands.first().copied();
        }
        cands
            .iter()
            .find(|x| x.name != r.name && x.direction != r.direction)
            .or_else(|| cands.iter().find(|x| x.name != r.name))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::{AttributeKind, label_template};

    #[test]
    fn an_attribute_kind_is_named_as_schema_files_spell_it() {
        let names = [
            "ID",
            "Dropdown",
            "Text",
            "TextArea",
            "DateTime",
            "Email",
            "Password",
            "HashedPassword",
            "URL",
            "File",
            "MacAddress",
            "Color",
            "Number",
            "NumberPool",
            "Bandwidth",
            "IPHost",
            "IPNetwork",
            "IPAddress",
            "Boolean",
            "Checkbox",
            "List",
            "JSON",
            "Any",
        ];
        for name in names {
            let kind: AttributeKind =
                serde_json::from_value(serde_json::Value::from(name)).expect(name);
            assert_eq!(kind.name(), name);
            assert_eq!(format!("{kind:?}"), name);
        }
    }

    /// A kind the schema has is named by one shared string, however often it is asked
    /// for; a kind it does not have (a node stored under a kind since removed) still gets
    /// its name.
    #[test]
    fn a_kind_s_name_is_shared_by_every_lookup() {
        let schema = super::load::build(
            &[],
            &[(
                "w.yml".into(),
                "version: '1.0'\nnodes:\n  - name: Widget\n    namespace: Test\n    \
                 attributes:\n      - name: name\n        kind: Text\n"
                    .into(),
            )],
        )
        .expect("the schema builds");
        let first = schema.kind_name("TestWidget");
        let again = schema.kind_name("TestWidget");
        assert_eq!(&*first, "TestWidget");
        assert!(std::sync::Arc::ptr_eq(&first, &again), "one shared name");
        assert_eq!(&*schema.kind_name("TestGone"), "TestGone");
    }

    #[test]
    fn a_label_template_is_its_paths_with_the_text_around_them() {
        assert_eq!(
            label_template("{{ hostname__value }} ({{role__value}})"),
            Some((vec![("", "hostname__value"), (" (", "role__value")], ")"))
        );
        assert_eq!(label_template("name__value"), None);
        // An unclosed `{{` is text, shown once.
        assert_eq!(
            label_template("a {{ b__value }} c {{ d"),
            Some((vec![("a ", "b__value")], " c {{ d"))
        );
    }
}
