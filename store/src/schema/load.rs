//! Reading schema files: YAML/JSON parsing, Infrahub's defaults, inheritance and validation.
//!
//! Every problem becomes one line `<file>: <generic|node|extension> <Kind>: <field>: <what>`;
//! a set of files is accepted whole or not at all.

use super::{
    AttributeKind, AttributeSchema, BranchSupport, Cardinality, Choice, ComputedAttribute,
    ComputedKind, Direction, KindSchema, OnDelete, RelationshipKind, RelationshipSchema, Schema,
};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Namespaces reserved for the built-in schema.
const RESTRICTED_NAMESPACES: &[&str] = &[
    "Account",
    "Branch",
    "Builtin",
    "Core",
    "Deprecated",
    "Diff",
    "Infrahub",
    "Internal",
    "Lineage",
    "Schema",
    "Profile",
    "Template",
];

/// The `state` of a kind, attribute or relationship that is not there (Infrahub's
/// `HashableModelState.ABSENT`): loading it removes it, or adds nothing.
const ABSENT: &str = "absent";

/// Attribute and relationship names a node cannot use (they are node fields already).
const RESERVED_NAMES: &[&str] = &[
    "id",
    "hfid",
    "display_label",
    "type",
    "kind",
    "branch",
    "node_metadata",
    "permissions",
    "__typename",
    "ancestors",
    "descendants",
];

/// Whether a schema file may not use `name` for an attribute or relationship. The core
/// schema may, as Infrahub's internal kinds may (`CoreAccountRole.permissions`).
fn is_reserved(file: &str, name: &str) -> bool {
    file != super::core::CORE_FILE && RESERVED_NAMES.contains(&name)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindDef {
    name: String,
    /// The id Infrahub gives a schema element (`schema export` writes it); unused
    /// here, where kinds and fields are known by name.
    #[serde(default)]
    id: Option<String>,
    namespace: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    branch: Option<BranchSupport>,
    #[serde(default)]
    default_filter: Option<String>,
    #[serde(default)]
    human_friendly_id: Option<Vec<String>>,
    #[serde(default)]
    display_label: Option<String>,
    #[serde(default)]
    display_labels: Option<Vec<String>>,
    #[serde(default)]
    include_in_menu: Option<bool>,
    #[serde(default)]
    menu_placement: Option<String>,
    #[serde(default)]
    icon: Option<String>,
    #[serde(default)]
    order_by: Option<Vec<String>>,
    #[serde(default)]
    uniqueness_constraints: Option<Vec<Vec<String>>>,
    #[serde(default)]
    documentation: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    inherit_from: Option<Vec<String>>,
    #[serde(default)]
    generate_profile: Option<bool>,
    #[serde(default)]
    generate_template: Option<bool>,
    #[serde(default)]
    hierarchical: Option<bool>,
    #[serde(default)]
    hierarchy: Option<String>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    children: Option<String>,
    #[serde(default)]
    restricted_namespaces: Option<Vec<String>>,
    #[serde(default)]
    attributes: Vec<Value>,
    #[serde(default)]
    relationships: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttrDef {
    name: String,
    /// The id Infrahub gives a schema element (`schema export` writes it); unused
    /// here, where kinds and fields are known by name.
    #[serde(default)]
    id: Option<String>,
    /// Whether a List attribute keeps its order (Infrahub's `ordered`); every value
    /// is stored as given here.
    #[serde(default)]
    ordered: Option<bool>,
    kind: AttributeKind,
    #[serde(default, rename = "enum")]
    enum_: Option<Vec<Value>>,
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    max_length: Option<u64>,
    #[serde(default)]
    min_length: Option<u64>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    read_only: Option<bool>,
    #[serde(default)]
    unique: Option<bool>,
    #[serde(default)]
    optional: Option<bool>,
    #[serde(default)]
    branch: Option<BranchSupport>,
    #[serde(default)]
    order_weight: Option<i64>,
    #[serde(default)]
    default_value: Option<Value>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    allow_override: Option<String>,
    #[serde(default)]
    deprecation: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    computed_attribute: Option<Value>,
    #[serde(default)]
    display: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelDef {
    name: String,
    /// The id Infrahub gives a schema element (`schema export` writes it); unused
    /// here, where kinds and fields are known by name.
    #[serde(default)]
    id: Option<String>,
    peer: String,
    #[serde(default)]
    kind: Option<RelationshipKind>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    cardinality: Option<Cardinality>,
    #[serde(default)]
    min_count: Option<u64>,
    #[serde(default)]
    max_count: Option<u64>,
    #[serde(default)]
    common_parent: Option<String>,
    #[serde(default)]
    common_relatives: Option<Vec<String>>,
    #[serde(default)]
    order_weight: Option<i64>,
    #[serde(default)]
    optional: Option<bool>,
    #[serde(default)]
    branch: Option<BranchSupport>,
    #[serde(default)]
    direction: Option<Direction>,
    #[serde(default)]
    hierarchical: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    on_delete: Option<OnDelete>,
    #[serde(default)]
    allow_override: Option<String>,
    #[serde(default)]
    read_only: Option<bool>,
    #[serde(default)]
    deprecation: Option<String>,
    #[serde(default)]
    display: Option<Value>,
}

/// A serde error, with the offending field named when serde could not say it.
fn explain(v: &Value, e: serde_json::Error) -> String {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let bad = rest.split('`').next().unwrap_or_default();
        if let Some(obj) = v.as_object()
            && let Some((k, _)) = obj.iter().find(|(_, x)| x.as_str() == Some(bad))
        {
            return format!("{k}: {msg}");
        }
    }
    msg
}

/// A kind as written in a file, before inheritance.
struct Raw {
    file: String,
    generic: bool,
    def: KindDef,
    attributes: Vec<AttributeSchema>,
    relationships: Vec<RelationshipSchema>,
}

/// Collected problems, each a full line.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, file: &str, what: &str, field: Option<&str>, msg: impl std::fmt::Display) {
        match field {
            Some(f) => self.0.push(format!("{file}: {what}: {f}: {msg}")),
            None => self.0.push(format!("{file}: {what}: {msg}")),
        }
    }
}

/// Parse YAML (or JSON, which is YAML) text into a JSON value; multi-document files give
/// several values.
fn parse_documents(file: &str, text: &str) -> Result<Vec<Value>, String> {
    // The parser's message is its first line ("error: line L column C: …"); the lines after
    // it draw the same place again, and one problem is one line.
    let invalid = |e: serde_saphyr::Error| {
        let message = e.to_string();
        let first = message.lines().next().unwrap_or_default().to_owned();
        format!("{file}: invalid YAML: {first}")
    };
    let docs: Vec<Value> =
        if text.matches("\n---").count() + usize::from(text.starts_with("---")) > 1 {
            serde_saphyr::from_multiple(text).map_err(invalid)?
        } else {
            vec![serde_saphyr::from_str(text).map_err(invalid)?]
        };
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Build a schema from the core schema files followed by `files`. Returns every problem found.
pub fn build(core: &[(String, String)], files: &[(String, String)]) -> Result<Schema, Vec<String>> {
    let (schema, late) = build_with_late_rules(core, files)?;
    if late.0.is_empty() {
        Ok(schema)
    } else {
        Err(late.0)
    }
}

/// [`build`] for schema files a store already holds, accepted when they were loaded: what
/// only a rule added since finds (the relationship directions of
/// [`check_identifier_directions`]) is logged rather than refused, so that the store still
/// opens and a corrected schema can be loaded into it. A load of new files is refused until
/// the problem is fixed.
pub fn build_stored(
    core: &[(String, String)],
    files: &[(String, String)],
) -> Result<Schema, Vec<String>> {
    let (schema, late) = build_with_late_rules(core, files)?;
    for problem in late.0 {
        tracing::warn!(%problem, "the stored schema breaks a rule added since it was loaded; loading new schema files is refused until it is fixed");
    }
    Ok(schema)
}

/// The schema, and the problems only the rules added after stores were written find.
fn build_with_late_rules(
    core: &[(String, String)],
    files: &[(String, String)],
) -> Result<(Schema, Problems), Vec<String>> {
    let mut p = Problems::default();
    let mut raws: Vec<Raw> = Vec::new();
    let mut extensions: Vec<(String, Value)> = Vec::new();
    for (file, text) in core.iter().chain(files.iter()) {
        let docs = match parse_documents(file, text) {
            Ok(d) => d,
            Err(e) => {
                p.0.push(e);
                continue;
            }
        };
        for doc in docs {
            read_document(file, &doc, &mut raws, &mut extensions, &mut p);
        }
    }
    if !p.0.is_empty() {
        return Err(p.0);
    }
    // Duplicate kinds.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for r in &raws {
        let kind = format!("{}{}", r.def.namespace, r.def.name);
        if let Some(first) = seen.insert(kind.clone(), r.file.clone()) {
            p.push(
                &r.file,
                &what(r.generic, &kind),
                None,
                format!("already defined in {first}"),
            );
        }
    }
    // Extensions add attributes and relationships to existing kinds.
    for (file, ext) in &extensions {
        let kind = ext
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let Some(target) = raws
            .iter_mut()
            .find(|r| format!("{}{}", r.def.namespace, r.def.name) == kind)
        else {
            p.push(
                file,
                &format!("extension {kind}"),
                Some("kind"),
                "unknown kind",
            );
            continue;
        };
        if let Some(obj) = ext.as_object() {
            for key in obj.keys() {
                if !matches!(key.as_str(), "kind" | "attributes" | "relationships") {
                    p.push(
                        file,
                        &format!("extension {kind}"),
                        Some(key),
                        "unknown field, expected one of `kind`, `attributes`, `relationships`",
                    );
                }
            }
        }
        let w = format!("extension {kind}");
        for a in ext
            .get("attributes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(a) = read_attribute(file, &w, a, &mut p) {
                target.attributes.push(a);
            }
        }
        for r in ext
            .get("relationships")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(r) = read_relationship(file, &w, &kind, r, &mut p) {
                target.relationships.push(r);
            }
        }
    }
    if !p.0.is_empty() {
        return Err(p.0);
    }
    let mut late = Problems::default();
    let schema = resolve(raws, files, &mut p, &mut late);
    if !p.0.is_empty() {
        return Err(p.0);
    }
    Ok((schema, late))
}

/// Refuses relationships that share an identifier with directions that do not pair, as
/// Infrahub's `validate_identifiers` does: within one kind, two relationships under one
/// identifier must be an `outbound` and an `inbound` one; across two kinds, a lone
/// relationship and its peer's lone reverse must be both `bidirectional` or an `outbound`
/// and an `inbound`; a kind's `outbound`/`inbound` pair cannot face a lone `bidirectional`
/// reverse. The store keeps one row per relationship instance and reads each side from the
/// end its direction names (see `Schema::link_end`): sides that disagree would read their
/// rows from different ends and each miss the other's peers.
///
/// The group relationships the store gives every kind (`member_of_groups`,
/// `subscriber_of_groups`, kind `Group`) are its own and pair by name, not direction (a group
/// can be a member of a group); they are left out, as are kinds derived from others
/// (profiles, templates), which repeat their source's relationships.
fn check_identifier_directions(
    kinds: &BTreeMap<String, KindSchema>,
    origin: &BTreeMap<String, String>,
    p: &mut Problems,
) {
    let mut by_identifier: BTreeMap<&str, BTreeMap<&str, Vec<&RelationshipSchema>>> =
        BTreeMap::new();
    for k in kinds.values().filter(|k| origin.contains_key(&k.kind)) {
        for r in k
            .relationships
            .iter()
            .filter(|r| r.kind != RelationshipKind::Group)
        {
            by_identifier
                .entry(&r.identifier)
                .or_default()
                .entry(&k.kind)
                .or_default()
                .push(r);
        }
    }
    for (identifier, per_kind) in &by_identifier {
        for (kind, rels) in per_kind {
            let Some(k) = kinds.get(*kind) else {
                continue;
            };
            let file = origin.get(*kind).map(String::as_str).unwrap_or_default();
            let w = what(k.is_generic, kind);
            let lone_reverse = |r: &RelationshipSchema| {
                per_kind
                    .get(r.peer.as_str())
                    .filter(|reverse| reverse.len() == 1 && r.peer != **kind)
                    .map(|reverse| reverse[0])
            };
            match rels.as_slice() {
                // Both sides are lone: said once, from the side whose kind sorts first.
                [r] => {
                    if let Some(reverse) = lone_reverse(r)
                        && !r.direction.pairs_with(reverse.direction)
                        && (reverse.peer != **kind || *kind < r.peer.as_str())
                    {
                        p.push(
                            file,
                            &w,
                            Some(&format!("relationship '{}'", r.name)),
                            format!(
                                "direction {} does not pair with {} of its reverse '{}' on {} \
                                 (identifier '{identifier}'): sides of one relationship are both \
                                 bidirectional, or one outbound and one inbound",
                                r.direction.name(),
                                reverse.direction.name(),
                                reverse.name,
                                r.peer
                            ),
                        );
                    }
                }
                [a, b]
                    if a.direction.pairs_with(b.direction)
                        && a.direction != Direction::Bidirectional =>
                {
                    if let Some(reverse) = [a, b]
                        .into_iter()
                        .filter_map(|r| lone_reverse(r))
                        .find(|reverse| reverse.direction == Direction::Bidirectional)
                    {
                        p.push(
                            file,
                            &w,
                            None,
                            format!(
                                "relationships {} (outbound) and {} (inbound) share identifier \
                                 '{identifier}', but the reverse '{}' on {} is bidirectional",
                                [a, b]
                                    .iter()
                                    .find(|r| r.direction == Direction::Outbound)
                                    .map_or("", |r| r.name.as_str()),
                                [a, b]
                                    .iter()
                                    .find(|r| r.direction == Direction::Inbound)
                                    .map_or("", |r| r.name.as_str()),
                                reverse.name,
                                a.peer,
                            ),
                        );
                    }
                }
                _ => {
                    let listed: Vec<String> = rels
                        .iter()
                        .map(|r| format!("{} ({})", r.name, r.direction.name()))
                        .collect();
                    p.push(
                        file,
                        &w,
                        None,
                        format!(
                            "relationships {} share identifier '{identifier}': one kind may \
                             hold two relationships under one identifier only as an outbound \
                             and an inbound one",
                            listed.join(", ")
                        ),
                    );
                }
            }
        }
    }
}

/// Gives every relationship without a `branch` of its own the branch support Infrahub
/// gives it (`SchemaBranch.process_branch_support`): its kind's when the peer's is the same,
/// `local` when either is, otherwise `aware` — a relationship between a branch-agnostic node
/// and a branch-aware one varies per branch, whichever side declares it. Where the store
/// keeps a relationship's rows follows from this (see `KindSchema::is_branch_aware_field`),
/// and `GET /api/schema` shows it as Infrahub does. A peer the schema does not know is left
/// to the cross-reference checks.
fn derive_relationship_branches(kinds: &mut BTreeMap<String, KindSchema>) {
    let support: BTreeMap<String, BranchSupport> = kinds
        .iter()
        .map(|(name, k)| (name.clone(), k.branch))
        .collect();
    for k in kinds.values_mut() {
        for r in k.relationships.iter_mut().filter(|r| r.branch.is_none()) {
            let Some(&peer) = support.get(&r.peer) else {
                continue;
            };
            r.branch = Some(relationship_branch(k.branch, peer));
        }
    }
}

/// The branch support of a relationship between a `node` kind and a `peer` kind, neither
/// side saying: see [`derive_relationship_branches`].
fn relationship_branch(node: BranchSupport, peer: BranchSupport) -> BranchSupport {
    if node == peer {
        node
    } else if node == BranchSupport::Local || peer == BranchSupport::Local {
        BranchSupport::Local
    } else {
        BranchSupport::Aware
    }
}

fn what(generic: bool, kind: &str) -> String {
    format!("{} {kind}", if generic { "generic" } else { "node" })
}

fn read_document(
    file: &str,
    doc: &Value,
    raws: &mut Vec<Raw>,
    extensions: &mut Vec<(String, Value)>,
    p: &mut Problems,
) {
    let Some(obj) = doc.as_object() else {
        p.0.push(format!(
            "{file}: expected a mapping with `version`, `generics`, `nodes`, `extensions`"
        ));
        return;
    };
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "version" | "generics" | "nodes" | "extensions"
        ) {
            p.0.push(format!(
                "{file}: unknown top-level field `{key}`, expected one of `version`, `generics`, `nodes`, `extensions`"
            ));
        }
    }
    match obj.get("version") {
        Some(Value::String(v)) if v == "1.0" => {}
        Some(v) => p.0.push(format!(
            "{file}: version: unsupported version {v}, expected \"1.0\""
        )),
        None => {
            p.0.push(format!("{file}: version: missing, expected \"1.0\""))
        }
    }
    for (section, generic) in [("generics", true), ("nodes", false)] {
        let Some(list) = obj.get(section) else {
            continue;
        };
        let Some(list) = list.as_array() else {
            p.0.push(format!("{file}: {section}: expected a list"));
            continue;
        };
        for (i, item) in list.iter().enumerate() {
            let label = match (
                item.get("namespace").and_then(Value::as_str),
                item.get("name").and_then(Value::as_str),
            ) {
                (Some(ns), Some(n)) => format!("{ns}{n}"),
                _ => format!("#{}", i + 1),
            };
            let w = what(generic, &label);
            let def: KindDef = match serde_json::from_value(item.clone()) {
                Ok(d) => d,
                Err(e) => {
                    p.push(file, &w, None, explain(item, e));
                    continue;
                }
            };
            check_kind_def(file, &w, generic, &def, p);
            // `state: absent` is how Infrahub's schema format says "not (any more)".
            if def.state.as_deref() == Some(ABSENT) {
                continue;
            }
            let kind = format!("{}{}", def.namespace, def.name);
            let mut attributes = Vec::new();
            for a in &def.attributes {
                if let Some(a) = read_attribute(file, &w, a, p) {
                    attributes.push(a);
                }
            }
            let mut relationships = Vec::new();
            for r in &def.relationships {
                if let Some(r) = read_relationship(file, &w, &kind, r, p) {
                    relationships.push(r);
                }
            }
            raws.push(Raw {
                file: file.to_string(),
                generic,
                def,
                attributes,
                relationships,
            });
        }
    }
    if let Some(ext) = obj.get("extensions") {
        match ext.get("nodes").and_then(Value::as_array) {
            Some(nodes) => {
                for n in nodes {
                    extensions.push((file.to_string(), n.clone()));
                }
            }
            None => {
                p.0.push(format!("{file}: extensions: expected `nodes: [...]`"))
            }
        }
    }
}

fn is_namespace(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_uppercase())
        && c.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        && (3..=32).contains(&s.len())
}

fn is_kind_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_uppercase())
        && c.all(|ch| ch.is_ascii_alphanumeric())
        && (2..=32).contains(&s.len())
}

fn is_field_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_lowercase())
        && c.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        && !s.contains("__")
        && s.len() <= 32
}

fn check_kind_def(file: &str, w: &str, generic: bool, def: &KindDef, p: &mut Problems) {
    if !is_namespace(&def.namespace) {
        p.push(file, w, Some("namespace"), format!(
            "'{}' is not a valid namespace (an uppercase letter then lowercase letters or digits, 3 to 32 characters)",
            def.namespace
        ));
    } else if RESTRICTED_NAMESPACES.contains(&def.namespace.as_str()) && !file.starts_with("<core>")
    {
        p.push(
            file,
            w,
            Some("namespace"),
            format!("'{}' is reserved for the built-in schema", def.namespace),
        );
    }
    if !is_kind_name(&def.name) {
        p.push(file, w, Some("name"), format!(
            "'{}' is not a valid name (an uppercase letter then letters or digits, 2 to 32 characters)",
            def.name
        ));
    }
    let node_only = [
        ("inherit_from", def.inherit_from.is_some()),
        ("hierarchy", def.hierarchy.is_some()),
        ("parent", def.parent.is_some()),
        ("children", def.children.is_some()),
        ("generate_template", def.generate_template.is_some()),
    ];
    let generic_only = [
        ("hierarchical", def.hierarchical.is_some()),
        ("restricted_namespaces", def.restricted_namespaces.is_some()),
    ];
    if generic {
        for (f, set) in node_only {
            if set {
                p.push(file, w, Some(f), "only allowed on nodes, not on generics");
            }
        }
    } else {
        for (f, set) in generic_only {
            if set {
                p.push(file, w, Some(f), "only allowed on generics, not on nodes");
            }
        }
    }
    let _ = (
        &def.id,
        &def.include_in_menu,
        &def.menu_placement,
        &def.icon,
        &def.documentation,
        &def.generate_profile,
    );
}

fn read_attribute(file: &str, w: &str, v: &Value, p: &mut Problems) -> Option<AttributeSchema> {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let field = format!("attribute '{name}'");
    let def: AttrDef = match serde_json::from_value(v.clone()) {
        Ok(d) => d,
        Err(e) => {
            p.push(file, w, Some(&field), explain(v, e));
            return None;
        }
    };
    let before = p.0.len();
    if !is_field_name(&def.name) || is_reserved(file, &def.name) {
        p.push(file, w, Some(&field), "invalid name (lowercase letters, digits and single underscores; not a reserved field name)");
    }
    if def.kind == AttributeKind::Dropdown && def.choices.as_ref().is_none_or(|c| c.is_empty()) {
        p.push(file, w, Some(&field), "a Dropdown needs `choices`");
    }
    if def.kind != AttributeKind::Dropdown && def.choices.is_some() {
        p.push(
            file,
            w,
            Some(&field),
            "`choices` is only allowed on a Dropdown",
        );
    }
    if def.enum_.is_some()
        && !matches!(
            def.kind,
            AttributeKind::Text | AttributeKind::TextArea | AttributeKind::Number
        )
    {
        p.push(
            file,
            w,
            Some(&field),
            "`enum` is only allowed on Text and Number attributes",
        );
    }
    if let Some(dv) = &def.default_value {
        if let Some(e) = &def.enum_
            && !e.contains(dv)
        {
            p.push(
                file,
                w,
                Some(&field),
                format!("default_value {dv} is not one of the enum values"),
            );
        }
        if let Some(c) = &def.choices
            && !c.iter().any(|c| Some(c.name.as_str()) == dv.as_str())
        {
            p.push(
                file,
                w,
                Some(&field),
                format!("default_value {dv} is not one of the choices"),
            );
        }
    }
    let _ = (
        &def.id,
        &def.ordered,
        &def.allow_override,
        &def.deprecation,
        &def.display,
    );
    let computed_attribute = def.computed_attribute.as_ref().and_then(|v| {
        read_computed(v)
            .map_err(|e| p.push(file, w, Some(&field), e))
            .ok()
    });
    if p.0.len() > before || def.state.as_deref() == Some(ABSENT) {
        return None;
    }
    Some(AttributeSchema {
        name: def.name,
        kind: def.kind,
        r#enum: def.enum_,
        choices: def.choices,
        regex: def.regex,
        max_length: def.max_length,
        min_length: def.min_length,
        label: def.label,
        description: def.description,
        read_only: def.read_only.unwrap_or(false),
        unique: def.unique.unwrap_or(false),
        optional: def.optional.unwrap_or(false),
        default_value: def.default_value,
        branch: def.branch,
        order_weight: def.order_weight,
        parameters: def.parameters,
        computed_attribute,
        inherited: false,
    })
}

/// `computed_attribute` as Infrahub declares it: `kind` (`User`, `Jinja2`,
/// `TransformPython`), with the `jinja2_template` or the `transform` that kind needs. A
/// template must compile; its variables are checked with the kind's other paths.
fn read_computed(v: &Value) -> Result<ComputedAttribute, String> {
    let Some(fields) = v.as_object() else {
        return Err(format!(
            "computed_attribute: expected a mapping with `kind`, got {v}"
        ));
    };
    if let Some(key) = fields
        .keys()
        .find(|k| !["kind", "jinja2_template", "transform"].contains(&k.as_str()))
    {
        return Err(format!(
            "computed_attribute: unknown key '{key}' (expected kind, jinja2_template, transform)"
        ));
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        match fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "computed_attribute: {key}: expected a text, got {other}"
            )),
        }
    };
    let (jinja2_template, transform) = (text("jinja2_template")?, text("transform")?);
    let kind = match fields.get("kind").and_then(Value::as_str) {
        Some("User") => ComputedKind::User,
        Some("Jinja2") => ComputedKind::Jinja2,
        Some("TransformPython") => ComputedKind::TransformPython,
        Some(other) => {
            return Err(format!(
                "computed_attribute: kind: expected User, Jinja2 or TransformPython, got '{other}'"
            ));
        }
        None => {
            return Err(
                "computed_attribute: kind: missing (User, Jinja2 or TransformPython)".to_owned(),
            );
        }
    };
    let mut variables = Vec::new();
    match (kind, &jinja2_template, &transform) {
        (ComputedKind::Jinja2, None, _) => {
            return Err(
                "computed_attribute: jinja2_template is required when kind is Jinja2".to_owned(),
            );
        }
        (ComputedKind::TransformPython, _, None) => {
            return Err(
                "computed_attribute: transform is required when kind is TransformPython".to_owned(),
            );
        }
        (ComputedKind::Jinja2, Some(template), _) => {
            variables = crate::computed::variables(template)
                .map_err(|e| format!("computed_attribute: jinja2_template: {e}"))?;
        }
        _ => {}
    }
    Ok(ComputedAttribute {
        kind,
        jinja2_template,
        transform,
        variables,
    })
}

fn read_relationship(
    file: &str,
    w: &str,
    kind: &str,
    v: &Value,
    p: &mut Problems,
) -> Option<RelationshipSchema> {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let field = format!("relationship '{name}'");
    let def: RelDef = match serde_json::from_value(v.clone()) {
        Ok(d) => d,
        Err(e) => {
            p.push(file, w, Some(&field), explain(v, e));
            return None;
        }
    };
    if !is_field_name(&def.name) || is_reserved(file, &def.name) {
        p.push(file, w, Some(&field), "invalid name (lowercase letters, digits and single underscores; not a reserved field name)");
        return None;
    }
    if def.state.as_deref() == Some(ABSENT) {
        return None;
    }
    let _ = (
        &def.id,
        &def.common_parent,
        &def.common_relatives,
        &def.allow_override,
        &def.deprecation,
        &def.display,
    );
    let mut ids = [kind.to_lowercase(), def.peer.to_lowercase()];
    ids.sort();
    Some(RelationshipSchema {
        identifier: def.identifier.unwrap_or_else(|| ids.join("__")),
        name: def.name,
        peer: def.peer,
        kind: def.kind.unwrap_or(RelationshipKind::Generic),
        label: def.label,
        description: def.description,
        cardinality: def.cardinality.unwrap_or(Cardinality::Many),
        min_count: def.min_count.unwrap_or(0),
        max_count: def.max_count.unwrap_or(0),
        optional: def.optional.unwrap_or(true),
        branch: def.branch,
        direction: def.direction.unwrap_or(Direction::Bidirectional),
        on_delete: def.on_delete,
        read_only: def.read_only.unwrap_or(false),
        order_weight: def.order_weight,
        inherited: false,
        hierarchical: def.hierarchical,
    })
}

/// Apply inheritance and hierarchy, then check every cross-reference.
/// `late`: what the rules added after stores were written find (see [`build_stored`]).
fn resolve(
    raws: Vec<Raw>,
    files: &[(String, String)],
    p: &mut Problems,
    late: &mut Problems,
) -> Schema {
    let mut kinds: BTreeMap<String, KindSchema> = BTreeMap::new();
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    for r in raws {
        let d = r.def;
        let kind = format!("{}{}", d.namespace, d.name);
        origin.insert(kind.clone(), r.file.clone());
        let mut extra = BTreeMap::new();
        for (k, v) in [
            ("include_in_menu", d.include_in_menu.map(Value::from)),
            ("menu_placement", d.menu_placement.map(Value::from)),
            ("icon", d.icon.map(Value::from)),
            ("documentation", d.documentation.map(Value::from)),
            ("generate_profile", d.generate_profile.map(Value::from)),
            ("generate_template", d.generate_template.map(Value::from)),
            (
                "restricted_namespaces",
                d.restricted_namespaces.map(Value::from),
            ),
        ] {
            if let Some(v) = v {
                extra.insert(k.to_string(), v);
            }
        }
        kinds.insert(
            kind.clone(),
            KindSchema {
                kind,
                namespace: d.namespace,
                name: d.name,
                is_generic: r.generic,
                label: d.label,
                description: d.description,
                branch: d.branch.unwrap_or(BranchSupport::Aware),
                default_filter: d.default_filter,
                human_friendly_id: d.human_friendly_id,
                display_label: d.display_label,
                display_labels: d.display_labels,
                order_by: d.order_by,
                uniqueness_constraints: d.uniqueness_constraints,
                inherit_from: d.inherit_from.unwrap_or_default(),
                hierarchical: d.hierarchical.unwrap_or(false),
                hierarchy: d.hierarchy,
                parent: d.parent,
                children: d.children,
                used_by: Vec::new(),
                attributes: r.attributes,
                relationships: r.relationships,
                extra,
            },
        );
    }
    let generics: BTreeSet<String> = kinds
        .values()
        .filter(|k| k.is_generic)
        .map(|k| k.kind.clone())
        .collect();
    // Inheritance: copy generic attributes/relationships into nodes; every node that is not a
    // group implements CoreNode.
    let snapshot = kinds.clone();
    for k in kinds.values_mut() {
        if k.is_generic {
            continue;
        }
        let file = origin.get(&k.kind).cloned().unwrap_or_default();
        let w = what(false, &k.kind);
        for g in &k.inherit_from {
            match snapshot.get(g) {
                None => p.push(
                    &file,
                    &w,
                    Some("inherit_from"),
                    format!("unknown generic '{g}'"),
                ),
                Some(gk) if !gk.is_generic => p.push(
                    &file,
                    &w,
                    Some("inherit_from"),
                    format!("'{g}' is a node, not a generic"),
                ),
                Some(_) => {}
            }
        }
        if !k.inherit_from.iter().any(|g| g == "CoreNode") && snapshot.contains_key("CoreNode") {
            k.inherit_from.push("CoreNode".to_string());
        }
        let mut own_attrs = std::mem::take(&mut k.attributes);
        let mut own_rels = std::mem::take(&mut k.relationships);
        let mut attrs = Vec::new();
        let mut rels = Vec::new();
        for g in k.inherit_from.clone() {
            let Some(gk) = snapshot.get(&g) else { continue };
            if gk.hierarchical && k.hierarchy.is_none() {
                k.hierarchy = Some(g.clone());
            }
            for a in &gk.attributes {
                if own_attrs.iter().any(|o| o.name == a.name)
                    || attrs.iter().any(|o: &AttributeSchema| o.name == a.name)
                {
                    continue;
                }
                let mut a = a.clone();
                a.inherited = true;
                attrs.push(a);
            }
            for r in &gk.relationships {
                if own_rels.iter().any(|o| o.name == r.name)
                    || rels.iter().any(|o: &RelationshipSchema| o.name == r.name)
                {
                    continue;
                }
                let mut r = r.clone();
                r.inherited = true;
                rels.push(r);
            }
            // Inherited schema-level settings when the node does not set them.
            if k.human_friendly_id.is_none() {
                k.human_friendly_id = gk.human_friendly_id.clone();
            }
            if k.default_filter.is_none() {
                k.default_filter = gk.default_filter.clone();
            }
            if k.display_labels.is_none() && k.display_label.is_none() {
                k.display_labels = gk.display_labels.clone();
                k.display_label = gk.display_label.clone();
            }
            if k.order_by.is_none() {
                k.order_by = gk.order_by.clone();
            }
            if k.uniqueness_constraints.is_none() {
                k.uniqueness_constraints = gk.uniqueness_constraints.clone();
            }
        }
        // Generic attributes come first, like Infrahub.
        attrs.append(&mut own_attrs);
        rels.append(&mut own_rels);
        k.attributes = attrs;
        k.relationships = rels;
    }
    // As on Infrahub, every generic but the groups' has the group relationships too, so
    // a query through a generic (`AccountProfile`, `... on` a generic) can ask for them.
    if let Some(core_node) = snapshot.get("CoreNode") {
        for k in kinds.values_mut() {
            if !k.is_generic || k.kind == "CoreNode" || k.kind == "CoreGroup" {
                continue;
            }
            for r in &core_node.relationships {
                if !k.relationships.iter().any(|o| o.name == r.name) {
                    let mut r = r.clone();
                    r.inherited = true;
                    k.relationships.push(r);
                }
            }
        }
    }
    derive_human_friendly_ids(&mut kinds);
    // Hierarchy relationships.
    for k in kinds.values_mut() {
        let hier_generic = if k.is_generic {
            k.hierarchical.then(|| k.kind.clone())
        } else {
            k.hierarchy.clone()
        };
        let Some(h) = hier_generic else { continue };
        let file = origin.get(&k.kind).cloned().unwrap_or_default();
        let w = what(k.is_generic, &k.kind);
        if !k.is_generic && !generics.contains(&h) {
            p.push(
                &file,
                &w,
                Some("hierarchy"),
                format!("unknown generic '{h}'"),
            );
            continue;
        }
        let identifier = "parent__child".to_string();
        // As Infrahub: an empty `parent`/`children` (the top or the bottom of a
        // hierarchy) still relates to the hierarchy's generic, so every member of a
        // hierarchy has both relationships; a parent of another concrete kind is
        // mandatory.
        let or_hierarchy = |p: &Option<String>| {
            p.clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| h.clone())
        };
        for (name, peer, card, dir) in [
            (
                "parent",
                or_hierarchy(&k.parent),
                Cardinality::One,
                Direction::Outbound,
            ),
            (
                "children",
                or_hierarchy(&k.children),
                Cardinality::Many,
                Direction::Inbound,
            ),
        ] {
            if k.relationships.iter().any(|r| r.name == name) {
                continue;
            }
            let optional =
                name == "children" || peer == k.kind || generics.contains(&peer) || k.is_generic;
            k.relationships.push(RelationshipSchema {
                name: name.to_string(),
                peer,
                kind: RelationshipKind::Hierarchy,
                label: None,
                description: None,
                identifier: identifier.clone(),
                cardinality: card,
                min_count: u64::from(!optional),
                max_count: 0,
                optional,
                // Infrahub's own: a place in a hierarchy is per branch even where the
                // nodes are shared by every branch.
                branch: Some(BranchSupport::Aware),
                direction: dir,
                on_delete: None,
                read_only: false,
                order_weight: None,
                inherited: false,
                hierarchical: Some(h.clone()),
            });
        }
    }
    // Profile and template kinds.
    let user: BTreeSet<String> = origin
        .iter()
        .filter(|(_, f)| !f.starts_with("<core>"))
        .map(|(k, _)| k.clone())
        .collect();
    super::derived::add_profiles(&mut kinds, &user);
    super::derived::add_templates(&mut kinds);
    derive_relationship_branches(&mut kinds);
    let names: BTreeSet<String> = kinds.keys().cloned().collect();
    // used_by
    let node_list: Vec<(String, Vec<String>)> = kinds
        .values()
        .filter(|k| !k.is_generic)
        .map(|k| (k.kind.clone(), k.inherit_from.clone()))
        .collect();
    for (node, gens) in node_list {
        for g in gens {
            if let Some(gk) = kinds.get_mut(&g) {
                gk.used_by.push(node.clone());
            }
        }
    }
    // Cross-reference checks (of the loaded kinds: a derived kind repeats its source's).
    for k in kinds.values() {
        let Some(file) = origin.get(&k.kind).cloned() else {
            continue;
        };
        let w = what(k.is_generic, &k.kind);
        let mut seen = BTreeSet::new();
        for a in &k.attributes {
            if !seen.insert(a.name.clone()) {
                p.push(
                    &file,
                    &w,
                    Some(&format!("attribute '{}'", a.name)),
                    "defined twice",
                );
            }
        }
        for r in &k.relationships {
            if !seen.insert(r.name.clone()) {
                p.push(
                    &file,
                    &w,
                    Some(&format!("relationship '{}'", r.name)),
                    "name already used by another attribute or relationship",
                );
            }
            if !names.contains(&r.peer) {
                p.push(
                    &file,
                    &w,
                    Some(&format!("relationship '{}'", r.name)),
                    format!("unknown peer kind '{}'", r.peer),
                );
            }
            if r.kind == RelationshipKind::Parent && r.cardinality != Cardinality::One {
                p.push(
                    &file,
                    &w,
                    Some(&format!("relationship '{}'", r.name)),
                    "a Parent relationship must have cardinality one",
                );
            }
        }
        if let Some(df) = &k.default_filter
            && path_attribute(k, df).is_none()
        {
            p.push(
                &file,
                &w,
                Some("default_filter"),
                format!("'{df}' does not name an attribute (expected <attribute>__value)"),
            );
        }
        for (field, paths) in [
            ("human_friendly_id", &k.human_friendly_id),
            ("order_by", &k.order_by),
            ("display_labels", &k.display_labels),
        ] {
            for path in paths.iter().flatten() {
                if let Err(e) = check_path(&kinds, k, path) {
                    p.push(&file, &w, Some(field), format!("'{path}': {e}"));
                }
            }
        }
        for a in &k.attributes {
            let Some((_, variables)) = a.jinja2() else {
                continue;
            };
            for variable in variables {
                if let Err(e) = check_path(&kinds, k, variable) {
                    p.push(
                        &file,
                        &w,
                        Some(&format!("attribute '{}'", a.name)),
                        format!("computed_attribute: variable '{variable}': {e}"),
                    );
                }
            }
        }
        for c in k.uniqueness_constraints.iter().flatten() {
            for entry in c {
                let ok = if entry.contains("__") {
                    check_path(&kinds, k, entry).is_ok()
                } else {
                    k.relationship(entry)
                        .is_some_and(|r| r.cardinality == Cardinality::One)
                };
                if !ok {
                    p.push(&file, &w, Some("uniqueness_constraints"), format!("'{entry}' is neither <attribute>__value nor a cardinality-one relationship"));
                }
            }
        }
    }
    check_identifier_directions(&kinds, &origin, late);
    let mut h = Sha256::new();
    for (_, t) in files {
        h.update(t.as_bytes());
        h.update([0]);
    }
    let mut hash = hex::encode(h.finalize());
    hash.truncate(32);
    Schema::new(kinds, files.to_vec(), hash)
}

/// The kinds a schema file defines (generics and nodes; empty when it does not parse).
pub fn kinds_defined(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for doc in parse_documents("", text).unwrap_or_default() {
        for section in ["generics", "nodes"] {
            for item in doc
                .get(section)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let (Some(ns), Some(n)) = (
                    item.get("namespace").and_then(Value::as_str),
                    item.get("name").and_then(Value::as_str),
                ) {
                    out.insert(format!("{ns}{n}"));
                }
            }
        }
    }
    out
}

/// `name__value` → the attribute `name`.
pub(crate) fn path_attribute<'a>(k: &'a KindSchema, path: &str) -> Option<&'a AttributeSchema> {
    let (attr, prop) = path.split_once("__")?;
    if prop != "value" {
        return None;
    }
    k.attribute(attr)
}

/// Check `attr__value` or `rel__attr__value` (rel of cardinality one).
fn check_path(
    kinds: &BTreeMap<String, KindSchema>,
    k: &KindSchema,
    path: &str,
) -> Result<(), String> {
    let parts: Vec<&str> = path.split("__").collect();
    match parts.as_slice() {
        [attr, "value"] => k
            .attribute(attr)
            .map(|_| ())
            .ok_or_else(|| format!("no attribute '{attr}' on {}", k.kind)),
        [rel, attr, "value"] => {
            let r = k
                .relationship(rel)
                .ok_or_else(|| format!("no relationship '{rel}' on {}", k.kind))?;
            if r.cardinality != Cardinality::One {
                return Err(format!("relationship '{rel}' has cardinality many"));
            }
            let peer = kinds
                .get(&r.peer)
                .ok_or_else(|| format!("unknown peer kind '{}'", r.peer))?;
            peer.attribute(attr)
                .map(|_| ())
                .ok_or_else(|| format!("no attribute '{attr}' on {}", peer.kind))
        }
        _ => Err("expected <attribute>__value or <relationship>__<attribute>__value".to_string()),
    }
}

/// Infrahub's derived human-friendly ids: a node or generic that declares none gets one
/// from its first unique attribute (inherited ones included), else from its first
/// uniqueness constraint on a single attribute's value. Upserts, object files and
/// references by `hfid` then identify its nodes as Infrahub does, without the schema
/// adding an HFID by hand.
fn derive_human_friendly_ids(kinds: &mut BTreeMap<String, KindSchema>) {
    for k in kinds.values_mut() {
        if k.human_friendly_id.is_some() {
            continue;
        }
        let derived =
            k.attributes
                .iter()
                .find(|attribute| attribute.unique)
                .map(|attribute| attribute.name.clone())
                .or_else(|| {
                    k.uniqueness_constraints.iter().flatten().find_map(
                        |constraint| match constraint.as_slice() {
                            [path] => path
                                .strip_suffix("__value")
                                .filter(|name| k.attributes.iter().any(|a| a.name == *name))
                                .map(str::to_owned),
                            _ => None,
                        },
                    )
                });
        if let Some(attribute) = derived {
            k.human_friendly_id = Some(vec![format!("{attribute}__value")]);
        }
    }
}
