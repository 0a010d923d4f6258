//! Kinds the store derives from the loaded ones, as Infrahub does:
//!
//! - `Profile<Kind>` for every node of a loaded file unless it sets `generate_profile: false`:
//!   the node's writable attributes, all optional and without defaults, plus
//!   `profile_name`/`profile_priority` (from `CoreProfile`) and `related_nodes`; the node gets
//!   a `profiles` relationship to it.
//! - `Template<Kind>` for every node with `generate_template: true` and, recursively, the
//!   peers of its Component relationships (a generic peer gets a template generic, and each
//!   node using it a template node): the writable attributes, all optional and without
//!   defaults, `template_name` (from `CoreObjectTemplate`), Component and Parent
//!   relationships pointing at the peers' templates, other relationships pointing at the real
//!   peers (with a template-only identifier, so the real peer does not list templates), and
//!   `profiles`. The node gets an `object_template` relationship to its template.

use super::{
    AttributeSchema, BranchSupport, Cardinality, Direction, KindSchema, RelationshipKind,
    RelationshipSchema,
};
use std::collections::{BTreeMap, BTreeSet};

/// Namespace of the derived profile kinds.
pub const PROFILE_NAMESPACE: &str = "Profile";
/// Namespace of the derived template kinds.
pub const TEMPLATE_NAMESPACE: &str = "Template";
/// Identifier pairing `profiles` (on nodes and templates) with `related_nodes` (on profiles).
pub const PROFILE_IDENTIFIER: &str = "node__profile";

fn rel(
    name: &str,
    peer: &str,
    kind: RelationshipKind,
    cardinality: Cardinality,
    identifier: &str,
) -> RelationshipSchema {
    RelationshipSchema {
        name: name.into(),
        peer: peer.into(),
        kind,
        label: None,
        description: None,
        identifier: identifier.into(),
        cardinality,
        min_count: 0,
        max_count: 0,
        optional: true,
        branch: None,
        direction: Direction::Bidirectional,
        on_delete: None,
        read_only: false,
        order_weight: None,
        inherited: false,
        hierarchical: None,
    }
}

/// The writable attributes of `k`, loosened for a profile or template: optional, not
/// unique, without default.
fn loose_attributes(k: &KindSchema) -> Vec<AttributeSchema> {
    k.attributes
        .iter()
        .filter(|a| !a.read_only)
        .map(|a| {
            let mut a = a.clone();
            a.optional = true;
            a.unique = false;
            a.default_value = None;
            a.inherited = false;
            a
        })
        .collect()
}

fn base_kind(namespace: &str, of: &KindSchema, generic: bool) -> KindSchema {
    KindSchema {
        kind: format!("{namespace}{}", of.kind),
        namespace: namespace.into(),
        name: of.kind.clone(),
        is_generic: generic,
        label: Some(format!(
            "{} {}",
            if namespace == PROFILE_NAMESPACE {
                "Profile"
            } else {
                "Template"
            },
            of.label.clone().unwrap_or_else(|| of.kind.clone())
        )),
        description: None,
        branch: of.branch,
        default_filter: None,
        human_friendly_id: None,
        display_label: None,
        display_labels: None,
        order_by: None,
        uniqueness_constraints: None,
        inherit_from: Vec::new(),
        hierarchical: false,
        hierarchy: None,
        parent: None,
        children: None,
        used_by: Vec::new(),
        attributes: Vec::new(),
        relationships: Vec::new(),
        extra: BTreeMap::new(),
    }
}

/// Add the profile kinds (`user` = kinds defined by loaded files, not the core schema).
pub(crate) fn add_profiles(kinds: &mut BTreeMap<String, KindSchema>, user: &BTreeSet<String>) {
    let Some(core) = kinds.get("CoreProfile").cloned() else {
        return;
    };
    let wanted: Vec<String> = kinds
        .values()
        .filter(|k| !k.is_generic && user.contains(&k.kind))
        .filter(|k| k.extra.get("generate_profile") != Some(&serde_json::Value::Bool(false)))
        .filter(|k| k.relationship("profiles").is_none())
        .map(|k| k.kind.clone())
        .collect();
    for name in wanted {
        let Some(k) = kinds.get(&name).cloned() else {
            continue;
        };
        let mut p = base_kind(PROFILE_NAMESPACE, &k, false);
        p.inherit_from = vec![core.kind.clone()];
        p.default_filter = core.default_filter.clone();
        p.human_friendly_id = core.human_friendly_id.clone();
        p.display_labels = core.display_labels.clone();
        p.attributes = core
            .attributes
            .iter()
            .cloned()
            .map(|mut a| {
                a.inherited = true;
                a
            })
            .collect();
        p.attributes.extend(
            loose_attributes(&k)
                .into_iter()
                .filter(|a| !core.attributes.iter().any(|c| c.name == a.name)),
        );
        p.relationships = vec![rel(
            "related_nodes",
            &k.kind,
            RelationshipKind::Generic,
            Cardinality::Many,
            PROFILE_IDENTIFIER,
        )];
        if let Some(node) = kinds.get_mut(&name) {
            node.relationships.push(rel(
                "profiles",
                &p.kind,
                RelationshipKind::Profile,
                Cardinality::Many,
                PROFILE_IDENTIFIER,
            ));
        }
        kinds.insert(p.kind.clone(), p);
    }
}

/// The kinds that get a template: nodes with `generate_template: true` and, recursively,
/// the peers of their Component relationships (generics with the nodes that use them).
fn templated(kinds: &BTreeMap<String, KindSchema>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut work: Vec<String> = kinds
        .values()
        .filter(|k| {
            !k.is_generic
                && k.extra.get("generate_template") == Some(&serde_json::Value::Bool(true))
        })
        .map(|k| k.kind.clone())
        .collect();
    while let Some(name) = work.pop() {
        if !out.insert(name.clone()) {
            continue;
        }
        let Some(k) = kinds.get(&name) else { continue };
        for r in k
            .relationships
            .iter()
            .filter(|r| r.kind == RelationshipKind::Component)
        {
            work.push(r.peer.clone());
        }
        if k.is_generic {
            work.extend(users(kinds, &k.kind));
        }
    }
    out
}

fn users(kinds: &BTreeMap<String, KindSchema>, generic: &str) -> Vec<String> {
    kinds
        .values()
        .filter(|n| !n.is_generic && n.inherit_from.iter().any(|g| g == generic))
        .map(|n| n.kind.clone())
        .collect()
}

/// Add the template kinds.
pub(crate) fn add_templates(kinds: &mut BTreeMap<String, KindSchema>) {
    let Some(core) = kinds.get("CoreObjectTemplate").cloned() else {
        return;
    };
    let set = templated(kinds);
    let tname = |k: &str| format!("{TEMPLATE_NAMESPACE}{k}");
    let mut made = Vec::new();
    for name in &set {
        let Some(k) = kinds.get(name) else { continue };
        if kinds.contains_key(&tname(name)) {
            continue;
        }
        let mut t = base_kind(TEMPLATE_NAMESPACE, k, k.is_generic);
        let parent = k
            .relationships
            .iter()
            .find(|r| r.kind == RelationshipKind::Parent && set.contains(&r.peer));
        let mut template_name = core.attributes.clone();
        for a in &mut template_name {
            a.inherited = true;
            if parent.is_some() {
                // A component template is named through its parent.
                a.optional = true;
                a.unique = false;
            }
        }
        t.attributes = template_name;
        t.attributes.extend(
            loose_attributes(k)
                .into_iter()
                .filter(|a| !core.attributes.iter().any(|c| c.name == a.name)),
        );
        for r in &k.relationships {
            if matches!(
                r.kind,
                RelationshipKind::Group | RelationshipKind::Hierarchy | RelationshipKind::Template
            ) || r.read_only
            {
                continue;
            }
            let mut c = r.clone();
            c.inherited = false;
            match r.kind {
                RelationshipKind::Component | RelationshipKind::Parent => {
                    if !set.contains(&r.peer) {
                        continue;
                    }
                    c.peer = tname(&r.peer);
                }
                RelationshipKind::Profile => {}
                _ => {
                    c.identifier = format!("template__{}", r.identifier);
                    c.optional = true;
                    c.min_count = 0;
                }
            }
            t.relationships.push(c);
        }
        match parent {
            None => {
                t.default_filter = core.default_filter.clone();
                t.human_friendly_id = core.human_friendly_id.clone();
                t.display_labels = core.display_labels.clone();
            }
            Some(p) => {
                let direct = |path: &String| path.split("__").count() == 2;
                t.human_friendly_id = k.human_friendly_id.as_ref().and_then(|h| {
                    h.iter()
                        .map(|path| {
                            let parts: Vec<&str> = path.split("__").collect();
                            match parts.as_slice() {
                                [_, _] => Some(path.clone()),
                                [r, _, _] if *r == p.name => {
                                    Some(format!("{r}__template_name__value"))
                                }
                                _ => None,
                            }
                        })
                        .collect()
                });
                t.display_labels = k
                    .display_labels
                    .as_ref()
                    .map(|d| d.iter().filter(|x| direct(x)).cloned().collect());
                t.order_by = k
                    .order_by
                    .as_ref()
                    .map(|d| d.iter().filter(|x| direct(x)).cloned().collect());
            }
        }
        t.inherit_from = vec![core.kind.clone()];
        t.inherit_from.extend(
            k.inherit_from
                .iter()
                .filter(|g| set.contains(*g))
                .map(|g| tname(g)),
        );
        if t.branch == BranchSupport::Local {
            t.branch = BranchSupport::Aware;
        }
        made.push((name.clone(), t));
    }
    for (name, t) in made {
        if let Some(node) = kinds.get_mut(&name)
            && !node.is_generic
            && node.relationship("object_template").is_none()
        {
            node.relationships.push(rel(
                "object_template",
                &t.kind,
                RelationshipKind::Template,
                Cardinality::One,
                "node__objecttemplate",
            ));
        }
        kinds.insert(t.kind.clone(), t);
    }
}

/// For a template kind, the kind it is a template of.
pub fn template_of(kind: &str) -> Option<&str> {
    kind.strip_prefix(TEMPLATE_NAMESPACE)
        .filter(|k| !k.is_empty())
}
