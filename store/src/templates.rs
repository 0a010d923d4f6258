//! Object templates: creating a node with `object_template` (an id or an HFID) copies the
//! template's attribute values and relationships the payload does not set, then creates the
//! template's Component children (a device template's interfaces) on the new node,
//! recursively. A child that already exists (same HFID) is left alone, so upserting a node
//! again never duplicates its children. Templates apply on creation only, as in Infrahub.

use crate::graph::Tx;
use crate::graphql::mutation::{self, counterpart};
use crate::node::{Node, value_key};
use crate::profiles;
use crate::schema::derived::TEMPLATE_NAMESPACE;
use crate::schema::{Cardinality, KindSchema, RelationshipKind};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The template a payload names in `object_template`, if any.
fn named_template(
    tx: &Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
) -> Result<Option<Arc<Node>>, String> {
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
        tx.get(id).ok_or_else(|| mutation::not_found(id, &r.peer))?
    } else if let Some(h) = item.get("hfid").and_then(Value::as_array) {
        let h: Vec<String> = h.iter().filter_map(value_key).collect();
        let found = tx.find_by_hfid(&r.peer, &h);
        match found.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(format!(
                    "object_template: {}",
                    mutation::not_found(&format!("{h:?}"), &r.peer)
                ));
            }
            _ => {
                return Err(format!(
                    "object_template: several {} have the hfid {h:?}",
                    r.peer
                ));
            }
        }
    } else {
        return Err("object_template: a template needs an id or an hfid".into());
    };
    if !tx.schema.is_a(&found.kind, &r.peer) {
        return Err(format!(
            "object_template: node {} is a {}, expected a {}",
            found.id, found.kind, r.peer
        ));
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

/// Before a create: fill `data` from the template it names; returns the template.
pub(crate) fn fill_from_template(
    tx: &Tx<'_>,
    k: &KindSchema,
    data: &mut Map<String, Value>,
) -> Result<Option<Arc<Node>>, String> {
    let Some(t) = named_template(tx, k, data)? else {
        return Ok(None);
    };
    copy_fields(tx, &t, k, data);
    Ok(Some(t))
}

/// After a create: make the template's Component children on node `id`, recursively.
pub(crate) fn create_components(tx: &mut Tx<'_>, id: &str, template: &Node) -> Result<(), String> {
    let schema = tx.schema;
    let Some(tk) = schema.get(&template.kind) else {
        return Ok(());
    };
    for r in tk
        .relationships
        .iter()
        .filter(|r| r.kind == RelationshipKind::Component)
    {
        for child in template.peers(&r.name).to_vec() {
            let Some(ct) = tx.get(&child) else { continue };
            let Some(ctk) = schema.get(&ct.kind) else {
                continue;
            };
            if ctk.namespace != TEMPLATE_NAMESPACE {
                continue;
            }
            let Some(real) = schema.get(&ctk.name) else {
                continue;
            };
            let Some(parent_rel) = counterpart(schema, &ct.kind, r) else {
                continue;
            };
            let mut data = Map::new();
            data.insert(parent_rel.name.clone(), json!({ "id": id }));
            copy_fields(tx, &ct, real, &mut data);
            let (child_id, created) = mutation::create_or_existing(tx, real, &data)
                .map_err(|e| format!("{} from template {}: {e}", real.kind, ct.id))?;
            if created {
                create_components(tx, &child_id, &ct)?;
            }
        }
    }
    Ok(())
}
