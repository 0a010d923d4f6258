//! Node writes: create, update and upsert of an input-form payload (Infrahub's
//! `<Kind>CreateInput` shape: `{attr: {value} | {from_pool}, rel: {id} | {hfid} | [...]}`),
//! and the upsert identity: id → `default_filter` when the kind has no HFID → `hfid` → the
//! HFID computed from the payload.
//!
//! A create writes into a checkpoint of the transaction and rolls it back when anything
//! fails, so a failed create leaves no trace; the caller's transaction is dropped on any
//! other error.

use super::constraints::{
    SiblingScope, Unique, check_mandatory_attrs, check_mandatory_rels, check_unique, unique_values,
};
use super::error::{EngineError, Result};
use super::link::{link, read_rels};
use crate::graph::Tx;
use crate::node::{Node, coerce_value, value_key};
use crate::schema::{AttributeSchema, KindSchema};
use crate::{computed, ipam, pools, profiles, templates};
use foldhash::{HashMap, HashMapExt};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// A node write, as a mutation names it (`<Kind>Create`, `<Kind>Update`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    /// `<Kind>Create`.
    Create,
    /// `<Kind>Update`.
    Update,
    /// `<Kind>Upsert`.
    Upsert,
    /// `<Kind>Delete`.
    Delete,
}

impl WriteOp {
    /// The operation's suffix in a mutation's name (`Upsert`).
    pub fn name(self) -> &'static str {
        match self {
            WriteOp::Create => "Create",
            WriteOp::Update => "Update",
            WriteOp::Upsert => "Upsert",
            WriteOp::Delete => "Delete",
        }
    }
}

/// `op` on kind `k` with an input-form payload `data`, checked field by field against what
/// `<Kind><op>Input` defines: the id of the node written, or `None` for a delete.
pub(crate) fn write_node(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    op: WriteOp,
    data: &Value,
) -> Result<Option<String>> {
    let data = data.as_object().ok_or_else(|| {
        EngineError::invalid(
            "Expected type 'Input!' for argument 'data', found a non-object value.",
        )
    })?;
    for key in data.keys() {
        let ok = match key.as_str() {
            "id" => true,
            "hfid" => op != WriteOp::Create,
            _ if op == WriteOp::Delete => false,
            name => {
                k.attribute(name).is_some_and(|a| !a.read_only)
                    || k.relationship(name).is_some_and(|r| !r.read_only)
            }
        };
        if !ok {
            return Err(EngineError::invalid(format!(
                "Field '{key}' is not defined by type '{}{}Input'.",
                k.kind,
                op.name()
            )));
        }
    }
    match op {
        WriteOp::Create => create_node(tx, k, data).map(Some),
        WriteOp::Update => {
            let existing = find_target(tx, k, data)?;
            update(tx, existing, data, false).map(Some)
        }
        WriteOp::Upsert => upsert(tx, k, data).map(Some),
        WriteOp::Delete => {
            let existing = find_target(tx, k, data)?;
            super::delete::delete(tx, &existing.id)?;
            Ok(None)
        }
    }
}

/// The node named by `id` or `hfid` in an Update/Delete payload; it must be a `k`.
pub(crate) fn find_target(tx: &Tx<'_>, k: &KindSchema, data: &Map<String, Value>) -> Result<Node> {
    if let Some(id) = data.get("id").and_then(Value::as_str) {
        return match tx.get(id) {
            Some(n) if tx.schema.is_a(&n.kind, &k.kind) => Ok((*n).clone()),
            _ => Err(EngineError::not_found(id, &k.kind)),
        };
    }
    if let Some(h) = data.get("hfid").and_then(Value::as_array) {
        let h: Vec<String> = h.iter().filter_map(value_key).collect();
        let found = tx.find_by_hfid(&k.kind, &h);
        return match found.as_slice() {
            [one] => Ok((**one).clone()),
            [] => Err(EngineError::not_found(format!("{h:?}"), &k.kind)),
            _ => Err(EngineError::invalid(format!(
                "Multiple {} nodes have the same hfid {h:?}",
                k.kind
            ))),
        };
    }
    Err(EngineError::invalid(format!(
        "Node must have at least one identifier (ID or HFID) to query it ({})",
        k.kind
    )))
}

/// Create a node of kind `k` from `data`; its id.
pub(crate) fn create_node(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
) -> Result<String> {
    create(tx, k, data).map_err(EngineError::from)
}

/// Create, or when a node with the same HFID exists leave it alone: (id, created).
pub(crate) fn create_or_existing(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
) -> Result<(String, bool)> {
    match create(tx, k, data) {
        Ok(id) => Ok((id, true)),
        Err(Unique::HfidTaken(ids, e)) => match ids.as_slice() {
            [one] => Ok((one.clone(), false)),
            _ => Err(e),
        },
        Err(Unique::Other(e)) => Err(e),
    }
}

/// Upsert of `data` as a `k`: update the node the payload identifies (id, then
/// `default_filter` when the kind has no HFID, then `hfid`, then the HFID the payload
/// computes to), else create it.
pub(crate) fn upsert(tx: &mut Tx<'_>, k: &KindSchema, data: &Map<String, Value>) -> Result<String> {
    // 1. id
    if let Some(id) = data.get("id").and_then(Value::as_str) {
        return match tx.get(id) {
            Some(n) if tx.schema.is_a(&n.kind, &k.kind) => update(tx, (*n).clone(), data, false),
            _ => Err(EngineError::not_found(id, &k.kind)),
        };
    }
    // 2. default_filter, only when the kind has no HFID
    if k.human_friendly_id.is_none()
        && let Some(df) = &k.default_filter
    {
        let attr = df.split("__").next().unwrap_or_default();
        if let Some(v) = data
            .get(attr)
            .and_then(|a| a.get("value"))
            .and_then(value_key)
        {
            let found: Vec<String> = tx
                .schema
                .concrete_kinds(&k.kind)
                .iter()
                .flat_map(|c| tx.ids_by_attr(c, attr, &v))
                .collect();
            if let Some(id) = found.first()
                && let Some(n) = tx.get(id)
            {
                return update(tx, (*n).clone(), data, false);
            }
        }
    }
    // 3. explicit hfid
    if let Some(h) = data.get("hfid").and_then(Value::as_array) {
        let h: Vec<String> = h.iter().filter_map(value_key).collect();
        let found = tx.find_by_hfid(&k.kind, &h);
        match found.as_slice() {
            [one] => return update(tx, (**one).clone(), data, false),
            [] => {}
            _ => {
                return Err(EngineError::invalid(format!(
                    "Multiple {} nodes have the same hfid {h:?}",
                    k.kind
                )));
            }
        }
    }
    // 4. create; an HFID violation means "that node is the one": update it
    let data = if data.contains_key("hfid") {
        let mut data = data.clone();
        data.remove("hfid");
        Cow::Owned(data)
    } else {
        Cow::Borrowed(data)
    };
    let data = data.as_ref();
    match create(tx, k, data) {
        Ok(id) => Ok(id),
        Err(Unique::HfidTaken(ids, _)) => match ids.as_slice() {
            [one] => {
                let n = tx
                    .get(one)
                    .ok_or_else(|| EngineError::not_found(one.as_str(), &k.kind))?;
                update(tx, (*n).clone(), data, true)
            }
            _ => Err(EngineError::invalid(format!(
                "Multiple {} nodes have the same hfid",
                k.kind
            ))),
        },
        Err(Unique::Other(e)) => Err(e),
    }
}

/// Create inside a checkpoint: a failed create leaves no trace in the transaction.
fn create(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
) -> std::result::Result<String, Unique> {
    let checkpoint = tx.checkpoint();
    let r = create_impl(tx, k, data, Identity::Checked);
    if r.is_ok() {
        tx.release(checkpoint);
    } else {
        tx.rollback_to(checkpoint);
    }
    r
}

/// How a create checks the new node's identity (its HFID and uniqueness constraints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identity {
    /// Against every node of its kind.
    Checked,
    /// Not here: the caller compares it with its siblings (see [`SiblingScope`]).
    AmongSiblings,
}

fn create_impl(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
    identity: Identity,
) -> std::result::Result<String, Unique> {
    if k.is_generic {
        return Err(Unique::Other(EngineError::invalid(format!(
            "{} is a generic and cannot be created",
            k.kind
        ))));
    }
    let templates::Filled { data, template } =
        templates::fill_from_template(tx, k, data).map_err(Unique::Other)?;
    let data = data.as_ref();
    let mut node = Node::new(&k.kind);
    node.attrs.reserve(k.attributes.len());
    if let Some(id) = data.get("id").and_then(Value::as_str) {
        if tx.get(id).is_some() {
            return Err(Unique::Other(EngineError::invalid(format!(
                "A node with the id {id} already exists"
            ))));
        }
        node.id = id.into();
    } else {
        tx.note_fresh(&node.id);
    }
    let mut explicit = BTreeSet::new();
    // Numbers from a pool are taken once the node is known to be new (an upsert of an
    // existing node must not use up a number).
    let mut from_pool = Vec::new();
    for a in &k.attributes {
        let raw = data.get(&a.name);
        if let Some(spec) = raw.and_then(|v| v.get("from_pool")) {
            from_pool.push((a, spec));
            explicit.insert(a.name.clone());
            continue;
        }
        let given = raw.map(|v| v.get("value").cloned().unwrap_or(Value::Null));
        let v = match given {
            Some(v) if !v.is_null() => {
                explicit.insert(a.name.clone());
                coerce_value(a, v).map_err(|m| Unique::Other(EngineError::Invalid(m)))?
            }
            _ => a.default_value.clone().unwrap_or(Value::Null),
        };
        if !v.is_null() {
            node.attrs.insert(a.name.clone(), v);
        }
    }
    let id = node.id.to_string();
    let mut rels = read_rels(tx, k, data, &node).map_err(Unique::Other)?;
    if (tx.schema.is_a(&k.kind, ipam::PREFIX_GENERIC)
        || tx.schema.is_a(&k.kind, ipam::ADDRESS_GENERIC))
        && !rels
            .iter()
            .any(|(r, p)| r.name == "ip_namespace" && !p.is_empty())
        && let (Some(r), Some(ns)) = (k.relationship("ip_namespace"), ipam::default_namespace(tx))
    {
        rels.retain(|(r, _)| r.name != "ip_namespace");
        rels.push((r, vec![ns]));
    }
    // The profiles' values are on the node when it is first written (not rewritten
    // once it is linked to them).
    let profile_ids = rels
        .iter()
        .find(|(r, _)| r.name == "profiles")
        .map_or(&[][..], |(_, peers)| peers.as_slice());
    profiles::fill_new(tx, k, &mut node, profile_ids, &explicit);
    // Computed from the node's own values: rendered before its first write, so that it
    // is written once.
    let own_values_only = computes_from_own_values(k);
    if own_values_only {
        render_into(tx, k, &mut node);
    }
    tx.put(node);
    for (r, peers) in rels {
        link(tx, &id, r, peers).map_err(Unique::Other)?;
    }
    if !own_values_only {
        compute_attributes(tx, k, &id);
    }
    check_mandatory_rels(tx, &id).map_err(Unique::Other)?;
    if identity == Identity::Checked {
        check_unique(tx, &id)?;
    }
    if !from_pool.is_empty()
        && let Some(n) = tx.get(&id)
    {
        let mut n = (*n).clone();
        for (a, spec) in from_pool {
            let v = pools::number_from_pool(tx, k, a, &n, spec).map_err(Unique::Other)?;
            n.attrs.insert(a.name.clone(), v);
        }
        render_into(tx, k, &mut n);
        tx.put(n);
    }
    check_mandatory_attrs(tx, &id).map_err(Unique::Other)?;
    if let Some(t) = template {
        create_components(tx, &id, &t).map_err(Unique::Other)?;
    }
    profiles::propagate(tx, &id);
    render_profiled(tx, k, &id);
    Ok(id)
}

/// After a create from a template: make the template's Component children on node `id`
/// (see [`templates::components`]), and theirs, recursively. A child that already exists
/// (same HFID) is kept and not descended into.
///
/// Where only a child's siblings can share its identity ([`SiblingScope`]), a child is
/// created without the index lookups of its uniqueness check and compared with its
/// siblings instead; one that shares a sibling's values, or fails, is undone and created
/// again the general way, which finds the same node or reports the same error as ever.
fn create_components(tx: &mut Tx<'_>, id: &str, template: &Node) -> Result<()> {
    let mut scopes: HashMap<&str, Option<SiblingScope<'_>>> = HashMap::new();
    for c in templates::components(tx, id, template) {
        let scope = scopes
            .entry(c.kind.kind.as_str())
            .or_insert_with(|| SiblingScope::of(tx, c.kind, c.parent?, id));
        if let Some(scope) = scope {
            let checkpoint = tx.checkpoint();
            match create_impl(tx, c.kind, &c.data, Identity::AmongSiblings) {
                Ok(child_id) if scope.admit(tx, &child_id) => {
                    tx.release(checkpoint);
                    create_components(tx, &child_id, &c.template)?;
                    continue;
                }
                _ => tx.rollback_to(checkpoint),
            }
        }
        let (child_id, created) = create_or_existing(tx, c.kind, &c.data)
            .map_err(|e| e.context(format!("{} from template {}", c.kind.kind, c.template.id)))?;
        if created {
            create_components(tx, &child_id, &c.template)?;
        }
    }
    Ok(())
}

/// Update `node` with `data`. `skip_hfid_check`: the upsert found this node by the HFID the
/// payload computes to, so sharing it is expected.
pub(crate) fn update(
    tx: &mut Tx<'_>,
    mut node: Node,
    data: &Map<String, Value>,
    skip_hfid_check: bool,
) -> Result<String> {
    let schema = tx.schema;
    let k = schema
        .get(&node.kind)
        .ok_or_else(|| EngineError::invalid(format!("unknown kind {}", node.kind)))?;
    let unique_before = unique_values(tx, &node);
    let mut explicit = BTreeSet::new();
    for a in &k.attributes {
        let Some(given) = data.get(&a.name) else {
            continue;
        };
        if let Some(spec) = given.get("from_pool") {
            let v = pools::number_from_pool(tx, k, a, &node, spec)?;
            node.attrs.insert(a.name.clone(), v);
            explicit.insert(a.name.clone());
            continue;
        }
        let Some(v) = given.get("value") else {
            continue;
        };
        let v = coerce_value(a, v.clone()).map_err(EngineError::Invalid)?;
        if v.is_null() {
            if !a.optional {
                return Err(EngineError::Mandatory {
                    kind: k.kind.clone(),
                    field: a.name.clone(),
                });
            }
            node.attrs.remove(&a.name);
        } else {
            explicit.insert(a.name.clone());
            node.attrs.insert(a.name.clone(), v);
        }
    }
    let id = node.id.to_string();
    let rels = read_rels(tx, k, data, &node)?;
    // As on create; a node with profiles may have its values changed by them below, and is
    // rendered again after.
    let own_values_only = computes_from_own_values(k);
    let profiled = !node.peers("profiles").is_empty() || data.contains_key("profiles");
    if own_values_only {
        render_into(tx, k, &mut node);
    }
    tx.put(node);
    for (r, peers) in rels {
        link(tx, &id, r, peers)?;
    }
    profiles::apply(tx, &id, &explicit);
    // A computed value that changes renders the node's readers itself.
    let readers_rendered = (!own_values_only || profiled) && compute_attributes(tx, k, &id);
    profiles::propagate(tx, &id);
    if !readers_rendered {
        render_readers(tx, &id);
    }
    render_profiled(tx, k, &id);
    check_mandatory_rels(tx, &id)?;
    let unchanged = tx
        .get(&id)
        .is_some_and(|now| unique_values(tx, &now) == unique_before);
    if unchanged {
        return Ok(id);
    }
    match check_unique(tx, &id) {
        Ok(()) => Ok(id),
        Err(Unique::HfidTaken(..)) if skip_hfid_check => Ok(id),
        Err(u) => Err(u.into()),
    }
}

/// Renders the Jinja2 computed attributes of node `id` from what it holds now (see
/// [`crate::computed`]): every write of a node ends with its computed values in step with
/// its own values and its cardinality-one peers'. One that does not render is left empty,
/// and a warning says why. Where a value changes, the nodes that read the node through a
/// relationship are rendered again too ([`render_readers`]), and it says so (`true`).
pub(crate) fn compute_attributes(tx: &mut Tx<'_>, k: &KindSchema, id: &str) -> bool {
    compute_attributes_at(tx, k, id, 0)
}

/// How far a change is followed from reader to reader ([`render_readers`]): a schema
/// whose computed attributes read each other round a cycle stops there.
const MOST_READER_HOPS: usize = 8;

fn compute_attributes_at(tx: &mut Tx<'_>, k: &KindSchema, id: &str, hops: usize) -> bool {
    // Most kinds compute nothing: their writes do not read the node again.
    if !k.attributes.iter().any(|a| a.jinja2().is_some()) {
        return false;
    }
    let Some(node) = tx.get(id) else {
        return false;
    };
    let values = rendered_values(tx, k, &node);
    if !values.iter().any(|(a, value)| node.attr(&a.name) != value) {
        return false;
    }
    let mut node = (*node).clone();
    set_values(&mut node, values);
    tx.put(node);
    render_readers_at(tx, id, hops + 1);
    true
}

/// Renders again the computed attributes of every node that reads node `id`'s values
/// through a relationship (an interface's `{{ device__name__value }}-{{ name__value }}`,
/// when its device is renamed), as Infrahub's workers do after a change; here in the same
/// transaction as the change. Nothing is read where no kind reads `id`'s kind.
pub(crate) fn render_readers(tx: &mut Tx<'_>, id: &str) {
    render_readers_at(tx, id, 0);
}

fn render_readers_at(tx: &mut Tx<'_>, id: &str, hops: usize) {
    let schema = tx.schema;
    if hops > MOST_READER_HOPS {
        return;
    }
    let Some(kind) = tx.kind_of(id) else { return };
    for (reader_kind, rel) in schema.computed_readers(&kind) {
        let Some(k) = schema.get(reader_kind) else {
            continue;
        };
        for reader in tx.holders(id, rel, reader_kind) {
            compute_attributes_at(tx, k, &reader, hops);
        }
    }
}

/// After a write of profile `id` (of kind `k`; nothing for other kinds): the nodes it
/// gives values to, whose computed attributes may read them, rendered again, and their
/// readers.
fn render_profiled(tx: &mut Tx<'_>, k: &KindSchema, id: &str) {
    let schema = tx.schema;
    if !schema.is_a(&k.kind, "CoreProfile") {
        return;
    }
    let Some(profile) = tx.get(id) else { return };
    for related in profile.peers("related_nodes").to_vec() {
        render_node_and_readers(tx, &related);
    }
}

/// Renders node `id`'s computed attributes, then those of the nodes reading its values:
/// for a node whose values changed without a write of its own (a profile's).
pub(crate) fn render_node_and_readers(tx: &mut Tx<'_>, id: &str) {
    let schema = tx.schema;
    let readers_rendered = tx
        .kind_of(id)
        .and_then(|kind| schema.get(&kind))
        .is_some_and(|k| compute_attributes(tx, k, id));
    if !readers_rendered {
        render_readers(tx, id);
    }
}

/// Renders again the computed attributes of `id` when they read through `rel`, whose
/// peers just changed from the other side (an interface added to a device's `interfaces`
/// reads the device through its `device`).
pub(crate) fn render_through(tx: &mut Tx<'_>, id: &str, rel: &str) {
    let schema = tx.schema;
    if let Some(k) = tx.kind_of(id).and_then(|kind| schema.get(&kind))
        && k.computes_through(rel)
    {
        compute_attributes(tx, k, id);
    }
}

/// Whether every Jinja2 attribute of `k` reads only the node's own values (`name__value`),
/// none of its peers'.
fn computes_from_own_values(k: &KindSchema) -> bool {
    k.computed_peer_reads().next().is_none()
}

/// The value of each Jinja2 attribute of `k` rendered for `node` (null where it does not
/// render, with a warning saying why).
fn rendered_values<'k>(
    tx: &Tx<'_>,
    k: &'k KindSchema,
    node: &Node,
) -> Vec<(&'k AttributeSchema, Value)> {
    k.attributes
        .iter()
        .filter_map(|a| {
            let (template, variables) = a.jinja2()?;
            let value =
                match computed::render(template, variables, |path| tx.path_value(node, path)) {
                    Ok(text) => Value::String(text),
                    Err(reason) => {
                        tracing::warn!(
                            kind = %k.kind,
                            id = %node.id,
                            attribute = %a.name,
                            %reason,
                            "a computed attribute could not be rendered; it is left empty"
                        );
                        Value::Null
                    }
                };
            Some((a, value))
        })
        .collect()
}

/// Renders `k`'s Jinja2 attributes of `node` into it.
fn render_into(tx: &Tx<'_>, k: &KindSchema, node: &mut Node) {
    let values = rendered_values(tx, k, node);
    set_values(node, values);
}

/// Sets each of `values` on `node` (null: unset).
fn set_values(node: &mut Node, values: Vec<(&AttributeSchema, Value)>) {
    for (a, value) in values {
        if value.is_null() {
            node.attrs.remove(&a.name);
        } else {
            node.attrs.insert(a.name.clone(), value);
        }
    }
}
