//! Object templates: creating a node with `object_template` (an id or an HFID) copies the
//! template's attribute values and relationships the payload does not set, then creates the
//! template's Component children (a device template's interfaces) on the new node,
//! recursively. A child that already exists (same HFID) is left alone, so upserting a node
//! again never duplicates its children. Templates apply on creation only, as in Infrahub.
//!
//! This module only reads: it fills a payload from a template ([`fill_from_template`]) and
//! lists the children to create ([`components`]); the write engine creates them.

use crate::engine::error::{EngineError, Result};
use crate::graph::Tx;
use crate::node::{Node, value_key};
use crate::profiles;
use crate::schema::derived::TEMPLATE_NAMESPACE;
use crate::schema::{Cardinality, KindSchema, RelationshipKind, RelationshipSchema};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::sync::Arc;

/// The template a payload names in `object_template`, if any.
fn named_template(
    tx: &Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
) -> Result<Option<Arc<Node>>> {
    let Some(r) = k.relationship("object_template") else {
        return Ok(None);
    };
    let Some(item) = data.get("object_template").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let found = if let Some(id) = item
        .as_str()
        .or_else(|| item.get("id").and_then(Value::as_str))
    {
        tx.get(id)
            .ok_or_else(|| EngineError::not_found(id, &r.peer))?
    } else if let Some(h) = item.get("hfid").and_then(Value::as_array) {
        let h: Vec<String> = h.iter().filter_map(value_key).collect();
        let found = tx.find_by_hfid(&r.peer, &h);
        match found.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(
                    EngineError::not_found(format!("{h:?}"), &r.peer).context("object_template")
                );
            }
            _ => {
                return Err(EngineError::invalid(format!(
                    "object_template: several {} have the hfid {h:?}",
                    r.peer
                )));
            }
        }
    } else {
        return Err(EngineError::invalid(
            "object_template: a template needs an id or an hfid",
        ));
    };
    if !tx.schema.is_a(&found.kind, &r.peer) {
        return Err(EngineError::invalid(format!(
            "object_template: node {} is a {}, expected a {}",
            found.id, found.kind, r.peer
        )));
    }
    Ok(Some(found))
}

/// The values a template sets itself (not its name, not what its profiles supply) and its
/// relationships to real nodes, in input form, for the fields `target` has and `data` lacks.
fn copy_fields(tx: &Tx<'_>, template: &Node, target: &KindSchema, data: &mut Map<String, Value>) {
    let Some(tk) = tx.schema.get(&template.kind) else {
        return;
    };
    for a in &tk.attributes {
        let v = template.attr(&a.name);
        if a.name == "template_name"
            || v.is_null()
            || profiles::is_from_profile(template, &a.name)
            || target.attribute(&a.name).is_none_or(|t| t.read_only)
            || data.contains_key(&a.name)
        {
            continue;
        }
        data.insert(a.name.clone(), json!({ "value": v }));
    }
    for r in &tk.relationships {
        if matches!(
            r.kind,
            RelationshipKind::Component | RelationshipKind::Parent | RelationshipKind::Template
        ) || data.contains_key(&r.name)
            || target.relationship(&r.name).is_none_or(|t| t.read_only)
        {
            continue;
        }
        let peers = template.peers(&r.name);
        if peers.is_empty() {
            continue;
        }
        let ids: Vec<Value> = peers.iter().map(|p| json!({ "id": p })).collect();
        let v = match r.cardinality {
            Cardinality::One => ids.into_iter().next().unwrap_or(Value::Null),
            Cardinality::Many => Value::Array(ids),
        };
        data.insert(r.name.clone(), v);
    }
}

/// A create's payload after [`fill_from_template`].
pub(crate) struct Filled<'d> {
    /// The payload with the template's fields added; the caller's own when it names no
    /// template (not copied: most creates name none).
    pub data: Cow<'d, Map<String, Value>>,
    /// The template the payload names.
    pub template: Option<Arc<Node>>,
}

/// Before a create: `data` filled from the template it names, and the template.
pub(crate) fn fill_from_template<'d>(
    tx: &Tx<'_>,
    k: &KindSchema,
    data: &'d Map<String, Value>,
) -> Result<Filled<'d>> {
    let Some(t) = named_template(tx, k, data)? else {
        return Ok(Filled {
            data: Cow::Borrowed(data),
            template: None,
        });
    };
    let mut filled = data.clone();
    copy_fields(tx, &t, k, &mut filled);
    Ok(Filled {
        data: Cow::Owned(filled),
        template: Some(t),
    })
}

/// A Component child a template asks for on a node created from it.
pub(crate) struct Component<'s> {
    /// The real kind of the child to create.
    pub kind: &'s KindSchema,
    /// The real kind's relationship to the new node (an interface's `device`).
    pub parent: Option<&'s RelationshipSchema>,
    /// Its input-form payload: the back-reference to the new node and the child template's
    /// values and relationships.
    pub data: Map<String, Value>,
    /// The child template (whose own children the child gets in turn).
    pub template: Arc<Node>,
}

/// After a create from `template`: the Component children to create on node `id`, in the
/// template's order (the caller creates each, and their own [`components`] when new).
pub(crate) fn components<'s>(tx: &Tx<'s>, id: &str, template: &Node) -> Vec<Component<'s>> {
    let schema = tx.schema;
    let Some(tk) = schema.get(&template.kind) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in tk
        .relationships
        .iter()
        .filter(|r| r.kind == RelationshipKind::Component)
    {
        for child in template.peers(&r.name) {
            let Some(ct) = tx.get(child) else { continue };
            let Some(ctk) = schema.get(&ct.kind) else {
                continue;
            };
            if ctk.namespace != TEMPLATE_NAMESPACE {
                continue;
            }
            let Some(real) = schema.get(&ctk.name) else {
                continue;
            };
            let Some(parent_rel) = schema.counterpart(&ct.kind, r) else {
                continue;
            };
            let mut data = Map::new();
            data.insert(parent_rel.name.clone(), json!({ "id": id }));
            copy_fields(tx, &ct, real, &mut data);
            out.push(Component {
                kind: real,
                parent: real.relationship(&parent_rel.name),
                data,
                template: ct,
            });
        }
    }
    out
}
