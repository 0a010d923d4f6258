//! The mutations: `<Kind>Create`, `<Kind>Update`, `<Kind>Upsert`, `<Kind>Delete`,
//! `RelationshipAdd` and `RelationshipRemove`, with Infrahub's input shapes, upsert identity
//! (id → default_filter when there is no HFID → hfid → the HFID computed from the payload),
//! replace semantics for many-relationships, both sides of every relationship kept in step,
//! uniqueness constraints and cascade delete.

use super::types::MutationOp;
use crate::error::DeleteRefused;
use crate::graph::Tx;
use crate::node::{Node, coerce_value, value_key};
use crate::schema::{Cardinality, KindSchema, RelationshipSchema, Schema};
use crate::{ipam, pools, profiles, templates};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Infrahub's not-found message (the SDK's delete-unused depends on its prefix).
pub fn not_found(id: &str, kind: &str) -> String {
    format!("Unable to find the node {id} / {kind} in the database.")
}

/// The result of one mutation field.
pub(crate) enum Outcome {
    /// The node the mutation wrote (for `object { … }`).
    Node(String),
    /// Only `ok`.
    Ok,
    /// A pool allocation (for `node { … }`).
    Allocated(crate::pools::Allocation),
}

/// Run `<Kind><op>(data: …)`.
pub(crate) fn run(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    op: MutationOp,
    data: &Value,
) -> Result<Outcome, String> {
    let data = data.as_object().ok_or_else(|| {
        "Expected type 'Input!' for argument 'data', found a non-object value.".to_string()
    })?;
    let input_ty = format!(
        "{}{}Input",
        k.kind,
        match op {
            MutationOp::Create => "Create",
            MutationOp::Update => "Update",
            MutationOp::Upsert => "Upsert",
            MutationOp::Delete => "Delete",
        }
    );
    for key in data.keys() {
        let ok = match key.as_str() {
            "id" => true,
            "hfid" => op != MutationOp::Create,
            _ if op == MutationOp::Delete => false,
            name => {
                k.attribute(name).is_some_and(|a| !a.read_only)
                    || k.relationship(name).is_some_and(|r| !r.read_only)
            }
        };
        if !ok {
            return Err(format!(
                "Field '{key}' is not defined by type '{input_ty}'."
            ));
        }
    }
    match op {
        MutationOp::Create => match create(tx, k, data, None) {
            Ok(id) => Ok(Outcome::Node(id)),
            Err(CreateError::HfidTaken(_, m)) | Err(CreateError::Other(m)) => Err(m),
        },
        MutationOp::Update => {
            let existing = find_target(tx, k, data)?;
            update(tx, existing, data, false).map(Outcome::Node)
        }
        MutationOp::Upsert => upsert(tx, k, data).map(Outcome::Node),
        MutationOp::Delete => {
            let existing = find_target(tx, k, data)?;
            delete(tx, &existing.id).map_err(|refused| refused.to_string())?;
            Ok(Outcome::Ok)
        }
    }
}

/// The node named by `id` or `hfid` in an Update/Delete payload.
fn find_target(tx: &Tx<'_>, k: &KindSchema, data: &Map<String, Value>) -> Result<Node, String> {
    if let Some(id) = data.get("id").and_then(Value::as_str) {
        return match tx.get(id) {
            Some(n) if tx.schema.is_a(&n.kind, &k.kind) => Ok((*n).clone()),
            _ => Err(not_found(id, &k.kind)),
        };
    }
    if let Some(h) = data.get("hfid").and_then(Value::as_array) {
        let h: Vec<String> = h.iter().filter_map(value_key).collect();
        let found = tx.find_by_hfid(&k.kind, &h);
        return match found.as_slice() {
            [one] => Ok((**one).clone()),
            [] => Err(not_found(&format!("{h:?}"), &k.kind)),
            _ => Err(format!(
                "Multiple {} nodes have the same hfid {h:?}",
                k.kind
            )),
        };
    }
    Err(format!(
        "Node must have at least one identifier (ID or HFID) to query it ({})",
        k.kind
    ))
}

/// `<Kind>Create` of an input-form payload, for the store's own writers (pools, templates,
/// object files).
pub(crate) fn create_node(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
) -> Result<String, String> {
    match create(tx, k, data, None) {
        Ok(id) => Ok(id),
        Err(CreateError::HfidTaken(_, m)) | Err(CreateError::Other(m)) => Err(m),
    }
}

/// Create, or when a node with the same HFID exists leave it alone: (id, created).
pub(crate) fn create_or_existing(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
) -> Result<(String, bool), String> {
    match create(tx, k, data, None) {
        Ok(id) => Ok((id, true)),
        Err(CreateError::HfidTaken(ids, m)) => match ids.as_slice() {
            [one] => Ok((one.clone(), false)),
            _ => Err(m),
        },
        Err(CreateError::Other(m)) => Err(m),
    }
}

/// `<Kind>Upsert` of an input-form payload.
pub(crate) fn upsert(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
) -> Result<String, String> {
    // 1. id
    if let Some(id) = data.get("id").and_then(Value::as_str) {
        return match tx.get(id) {
            Some(n) if tx.schema.is_a(&n.kind, &k.kind) => update(tx, (*n).clone(), data, false),
            _ => Err(not_found(id, &k.kind)),
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
                return Err(format!(
                    "Multiple {} nodes have the same hfid {h:?}",
                    k.kind
                ));
            }
        }
    }
    // 4. create; an HFID violation means "that node is the one": update it
    let mut data = data.clone();
    data.remove("hfid");
    match create(tx, k, &data, Some(())) {
        Ok(id) => Ok(id),
        Err(CreateError::HfidTaken(ids, _)) => match ids.as_slice() {
            [one] => {
                let n = tx.get(one).ok_or_else(|| not_found(one, &k.kind))?;
                update(tx, (*n).clone(), &data, true)
            }
            _ => Err(format!("Multiple {} nodes have the same hfid", k.kind)),
        },
        Err(CreateError::Other(m)) => Err(m),
    }
}

enum CreateError {
    /// Another node has this HFID (its ids, and the message if that is an error).
    HfidTaken(Vec<String>, String),
    Other(String),
}

impl From<String> for CreateError {
    fn from(s: String) -> Self {
        CreateError::Other(s)
    }
}

fn create_impl(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
) -> Result<String, CreateError> {
    if k.is_generic {
        return Err(CreateError::Other(format!(
            "{} is a generic and cannot be created",
            k.kind
        )));
    }
    let mut data = data.clone();
    let template = templates::fill_from_template(tx, k, &mut data)?;
    let data = &data;
    let mut node = Node::new(&k.kind);
    if let Some(id) = data.get("id").and_then(Value::as_str) {
        if tx.get(id).is_some() {
            return Err(CreateError::Other(format!(
                "A node with the id {id} already exists"
            )));
        }
        node.id = id.to_string();
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
                coerce_value(a, v)?
            }
            _ => a.default_value.clone().unwrap_or(Value::Null),
        };
        if !v.is_null() {
            node.attrs.insert(a.name.clone(), v);
        }
    }
    let id = node.id.clone();
    let mut rels = read_rels(tx, k, data, &node)?;
    if (tx.schema.is_a(&k.kind, ipam::PREFIX_GENERIC)
        || tx.schema.is_a(&k.kind, ipam::ADDRESS_GENERIC))
        && !rels
            .iter()
            .any(|(r, p)| r.name == "ip_namespace" && !p.is_empty())
        && let (Some(r), Some(ns)) = (k.relationship("ip_namespace"), ipam::default_namespace(tx))
    {
        rels.retain(|(r, _)| r.name != "ip_namespace");
        rels.push((r.clone(), vec![ns]));
    }
    tx.put(node);
    for (r, peers) in rels {
        link(tx, &id, &r, peers)?;
    }
    profiles::apply(tx, &id, &explicit);
    check_mandatory_rels(tx, &id)?;
    check_unique(tx, &id)?;
    if !from_pool.is_empty()
        && let Some(n) = tx.get(&id)
    {
        let mut n = (*n).clone();
        for (a, spec) in from_pool {
            let v = pools::number_from_pool(tx, k, a, &n, spec)?;
            n.attrs.insert(a.name.clone(), v);
        }
        tx.put(n);
    }
    check_mandatory_attrs(tx, &id)?;
    if let Some(t) = template {
        templates::create_components(tx, &id, &t)?;
    }
    profiles::propagate(tx, &id);
    Ok(id)
}

fn check_mandatory_attrs(tx: &Tx<'_>, id: &str) -> Result<(), String> {
    let Some(n) = tx.get(id) else { return Ok(()) };
    let Some(k) = tx.schema.get(&n.kind) else {
        return Ok(());
    };
    match k
        .attributes
        .iter()
        .find(|a| !a.optional && n.attr(&a.name).is_null())
    {
        Some(a) => Err(format!("{} is mandatory for {}", a.name, k.kind)),
        None => Ok(()),
    }
}

fn create(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
    _upsert: Option<()>,
) -> Result<String, CreateError> {
    // A failed create must leave no trace in the transaction.
    let checkpoint = tx.checkpoint();
    let r = create_impl(tx, k, data);
    if r.is_ok() {
        tx.release(checkpoint);
    } else {
        tx.rollback_to(checkpoint);
    }
    r
}

fn update(
    tx: &mut Tx<'_>,
    mut node: Node,
    data: &Map<String, Value>,
    skip_hfid_check: bool,
) -> Result<String, String> {
    let k = tx
        .schema
        .get(&node.kind)
        .ok_or_else(|| format!("unknown kind {}", node.kind))?
        .clone();
    let mut explicit = BTreeSet::new();
    for a in &k.attributes {
        let Some(given) = data.get(&a.name) else {
            continue;
        };
        if let Some(spec) = given.get("from_pool") {
            let v = pools::number_from_pool(tx, &k, a, &node, spec)?;
            node.attrs.insert(a.name.clone(), v);
            explicit.insert(a.name.clone());
            continue;
        }
        let Some(v) = given.get("value") else {
            continue;
        };
        let v = coerce_value(a, v.clone())?;
        if v.is_null() {
            if !a.optional {
                return Err(format!("{} is mandatory for {}", a.name, k.kind));
            }
            node.attrs.remove(&a.name);
        } else {
            explicit.insert(a.name.clone());
            node.attrs.insert(a.name.clone(), v);
        }
    }
    let id = node.id.clone();
    let rels = read_rels(tx, &k, data, &node)?;
    tx.put(node);
    for (r, peers) in rels {
        link(tx, &id, &r, peers)?;
    }
    profiles::apply(tx, &id, &explicit);
    profiles::propagate(tx, &id);
    check_mandatory_rels(tx, &id)?;
    match check_unique(tx, &id) {
        Ok(()) => Ok(id),
        Err(CreateError::HfidTaken(..)) if skip_hfid_check => Ok(id),
        Err(CreateError::HfidTaken(_, m)) | Err(CreateError::Other(m)) => Err(m),
    }
}

/// Relationships given in a payload, resolved to peer ids.
/// A `from_pool` item is allocated here, with `owner` (the node being written) naming the
/// server's default identifier.
fn read_rels(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    data: &Map<String, Value>,
    owner: &Node,
) -> Result<Vec<(RelationshipSchema, Vec<String>)>, String> {
    let mut out = Vec::new();
    for r in &k.relationships {
        let Some(v) = data.get(&r.name) else { continue };
        let items: Vec<&Value> = match (r.cardinality, v) {
            (_, Value::Null) => Vec::new(),
            (Cardinality::Many, Value::Array(a)) => a.iter().collect(),
            (Cardinality::One, Value::Array(_)) => {
                return Err(format!("{}: expected one related node, got a list", r.name));
            }
            (_, other) => vec![other],
        };
        let mut peers = Vec::new();
        for item in items {
            let id = match item.get("from_pool") {
                Some(spec) => Some(pools::relationship_from_pool(tx, owner, r, spec)?),
                None => resolve_peer(tx, r, item)?,
            };
            if let Some(id) = id
                && !peers.contains(&id)
            {
                peers.push(id);
            }
        }
        out.push((r.clone(), peers));
    }
    Ok(out)
}

/// A `RelatedNodeInput` (`{id}`, `{hfid, kind}`, or a bare id string) → the peer's id.
fn resolve_peer(
    tx: &Tx<'_>,
    r: &RelationshipSchema,
    item: &Value,
) -> Result<Option<String>, String> {
    let peer_kind = item
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or(&r.peer)
        .to_string();
    // Only the peer's id and kind are needed: a peer with many peers is not read whole.
    let (found_id, found_kind) = if let Some(id) = item
        .as_str()
        .or_else(|| item.get("id").and_then(Value::as_str))
    {
        match tx.kind_of(id) {
            Some(kind) => (id.to_string(), kind),
            None => return Err(not_found(id, &peer_kind)),
        }
    } else if let Some(h) = item.get("hfid").and_then(Value::as_array) {
        let h: Vec<String> = h.iter().filter_map(value_key).collect();
        let found = tx.find_by_hfid(&peer_kind, &h);
        match found.as_slice() {
            [one] => (one.id.clone(), one.kind.clone()),
            [] => return Err(not_found(&format!("{h:?}"), &peer_kind)),
            _ => {
                return Err(format!(
                    "Multiple {peer_kind} nodes have the same hfid {h:?}"
                ));
            }
        }
    } else if item.get("from_pool").is_some() {
        return Err(format!(
            "{}: from_pool is not accepted here (only in create, update and upsert payloads)",
            r.name
        ));
    } else if item.is_null() || item.get("id").is_some_and(Value::is_null) {
        return Ok(None);
    } else {
        return Err(format!("{}: a related node needs an id or an hfid", r.name));
    };
    if !tx.schema.is_a(&found_kind, &r.peer) {
        return Err(format!(
            "{}: node {found_id} is a {found_kind}, expected a {}",
            r.name, r.peer
        ));
    }
    Ok(Some(found_id))
}

/// The relationship on the peer's kind that is the other side of `r`.
pub(crate) fn counterpart<'s>(
    schema: &'s Schema,
    peer_kind: &str,
    r: &RelationshipSchema,
) -> Option<&'s RelationshipSchema> {
    let pk = schema.get(peer_kind)?;
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

/// Set `rel` of node `id` to exactly `peers`, keeping the other side of each change in step.
/// Edge by edge: a peer with many peers of its own (a namespace, a group) is never read whole.
fn link(
    tx: &mut Tx<'_>,
    id: &str,
    r: &RelationshipSchema,
    peers: Vec<String>,
) -> Result<(), String> {
    if tx.kind_of(id).is_none() {
        return Err(not_found(id, ""));
    }
    let old = tx.peers_of(id, &r.name);
    if old == peers {
        return Ok(());
    }
    if r.cardinality == Cardinality::One && peers.len() > 1 {
        return Err(format!("{}: only one related node is allowed", r.name));
    }
    let schema = tx.schema;
    for p in old.iter().filter(|p| !peers.contains(p)) {
        tx.remove_edge(id, &r.name, p);
        if let Some(cp) = tx.kind_of(p).and_then(|k| counterpart(schema, &k, r)) {
            tx.remove_edge(p, &cp.name, id);
        }
    }
    for p in peers.iter().filter(|p| !old.contains(p)) {
        tx.add_edge(id, &r.name, p);
        let Some(cp) = tx.kind_of(p).and_then(|k| counterpart(schema, &k, r)) else {
            continue;
        };
        if cp.cardinality == Cardinality::One {
            // The peer pointed elsewhere: that other node loses the peer.
            for prev in tx.peers_of(p, &cp.name).into_iter().filter(|x| x != id) {
                tx.remove_edge(&prev, &r.name, p);
                tx.remove_edge(p, &cp.name, &prev);
            }
        }
        tx.add_edge(p, &cp.name, id);
    }
    Ok(())
}

fn check_mandatory_rels(tx: &Tx<'_>, id: &str) -> Result<(), String> {
    let Some(n) = tx.get(id) else { return Ok(()) };
    let Some(k) = tx.schema.get(&n.kind) else {
        return Ok(());
    };
    for r in &k.relationships {
        let count = n.peers(&r.name).len() as u64;
        if !r.optional && count == 0 {
            return Err(format!("{} is mandatory for {}", r.name, k.kind));
        }
        if r.max_count > 0 && count > r.max_count {
            return Err(format!(
                "{}: at most {} related nodes are allowed, got {count}",
                r.name, r.max_count
            ));
        }
        if count > 0 && count < r.min_count {
            return Err(format!(
                "{}: at least {} related nodes are required, got {count}",
                r.name, r.min_count
            ));
        }
    }
    Ok(())
}

/// Uniqueness: the HFID (reported apart, an upsert turns it into an update), `unique`
/// attributes and `uniqueness_constraints`.
fn check_unique(tx: &Tx<'_>, id: &str) -> Result<(), CreateError> {
    let Some(n) = tx.get(id) else { return Ok(()) };
    let Some(k) = tx.schema.get(&n.kind) else {
        return Ok(());
    };
    // The HFID first: an upsert turns this violation into an update of that node.
    if k.human_friendly_id.is_some()
        && let Some(h) = tx.hfid(&n)
    {
        let others: Vec<String> = tx
            .find_by_hfid(&n.kind, &h)
            .into_iter()
            .map(|o| o.id.clone())
            .filter(|o| o != id)
            .collect();
        if !others.is_empty() {
            let paths = k.human_friendly_id.clone().unwrap_or_default();
            let msg = match paths.as_slice() {
                [one] if one.split("__").count() == 2 => format!(
                    "Violates uniqueness constraint '{}' with '{}'",
                    one.split("__").next().unwrap_or_default(),
                    h.join("-")
                ),
                _ => format!(
                    "Violates uniqueness constraint '{}' with '{}'",
                    paths.join("-"),
                    h.join("-")
                ),
            };
            return Err(CreateError::HfidTaken(others, msg));
        }
    }
    for a in k.attributes.iter().filter(|a| a.unique) {
        let Some(v) = value_key(n.attr(&a.name)) else {
            continue;
        };
        if tx.ids_by_attr(&n.kind, &a.name, &v).iter().any(|o| o != id) {
            // Identical to the HFID? Then it is an HFID violation.
            if k.human_friendly_id.as_deref() == Some(&[format!("{}__value", a.name)][..]) {
                continue;
            }
            return Err(CreateError::Other(format!(
                "Violates uniqueness constraint '{}' with '{v}'",
                a.name
            )));
        }
    }
    for c in k.uniqueness_constraints.iter().flatten() {
        if k.human_friendly_id.as_ref() == Some(c) {
            continue;
        }
        let vals: Vec<Option<String>> = c
            .iter()
            .map(|e| {
                if e.contains("__") {
                    value_key(&tx.path_value(&n, e))
                } else {
                    n.peers(e).first().cloned()
                }
            })
            .collect();
        if vals.iter().any(Option::is_none) {
            continue;
        }
        let parts: Vec<(&str, &str)> = c
            .iter()
            .map(String::as_str)
            .zip(vals.iter().map(|v| v.as_deref().unwrap_or_default()))
            .collect();
        let candidates = tx.identity_candidates(&n.kind, &parts);
        for o in candidates.iter().filter(|o| *o != id) {
            let Some(other) = tx.get(o) else { continue };
            let ovals: Vec<Option<String>> = c
                .iter()
                .map(|e| {
                    if e.contains("__") {
                        value_key(&tx.path_value(&other, e))
                    } else {
                        other.peers(e).first().cloned()
                    }
                })
                .collect();
            if ovals == vals {
                let shown: Vec<String> = vals.into_iter().flatten().collect();
                return Err(CreateError::Other(format!(
                    "Violates uniqueness constraint '{}' with '{}'",
                    c.join("-"),
                    shown.join("-")
                )));
            }
        }
    }
    Ok(())
}

/// Delete a node as Infrahub does: with its cascade (the peers of `on_delete: cascade`
/// relationships, transitively), refused while a mandatory relationship of a node outside
/// the cascade points into it (see [`super::delete`]); every remaining peer is unlinked.
/// A refused delete writes nothing.
pub(crate) fn delete(tx: &mut Tx<'_>, id: &str) -> Result<(), DeleteRefused> {
    let doomed = super::delete::cascade_set(tx, id);
    super::delete::check_mandatory(tx, &doomed)?;
    let schema = tx.schema;
    let seen: BTreeSet<&str> = doomed.iter().map(String::as_str).collect();
    // Nodes that lose a profile get their values recomputed afterwards.
    let users: Vec<String> = doomed
        .iter()
        .filter_map(|d| tx.get(d))
        .filter(|n| schema.is_a(&n.kind, "CoreProfile"))
        .flat_map(|n| n.peers("related_nodes").to_vec())
        .filter(|u| !seen.contains(u.as_str()))
        .collect();
    for d in &doomed {
        // Every edge that points at the node, whichever side declares it.
        for (src, rel) in tx.incoming(d) {
            if !seen.contains(src.as_str()) {
                tx.remove_edge(&src, &rel, d);
            }
        }
        tx.delete(d);
    }
    for u in users {
        profiles::apply(tx, &u, &BTreeSet::new());
    }
    Ok(())
}

/// `RelationshipAdd` / `RelationshipRemove`.
pub(crate) fn relationship_edit(tx: &mut Tx<'_>, data: &Value, add: bool) -> Result<(), String> {
    let id = data
        .get("id")
        .and_then(Value::as_str)
        .ok_or("RelationshipNodesInput: 'id' is required")?;
    let name = data
        .get("name")
        .and_then(Value::as_str)
        .ok_or("RelationshipNodesInput: 'name' is required")?;
    let node = tx.get(id).ok_or_else(|| not_found(id, "CoreNode"))?;
    let k = tx
        .schema
        .get(&node.kind)
        .ok_or_else(|| not_found(id, "CoreNode"))?;
    let r = k
        .relationship(name)
        .ok_or_else(|| format!("'{name}' is not a relationship of {}", k.kind))?
        .clone();
    if r.cardinality != Cardinality::Many {
        return Err(format!(
            "'{name}' of {} has cardinality one; RelationshipAdd/Remove need a many relationship",
            k.kind
        ));
    }
    let mut peers = node.peers(name).to_vec();
    for item in data
        .get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(p) = resolve_peer(tx, &r, item)? else {
            continue;
        };
        if add {
            if !peers.contains(&p) {
                peers.push(p);
            }
        } else {
            peers.retain(|x| *x != p);
        }
    }
    link(tx, id, &r, peers)?;
    check_mandatory_rels(tx, id)
}
