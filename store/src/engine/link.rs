//! Relationships: resolving the related nodes of a payload (`{id}`, `{hfid, kind}`, a bare
//! id, or `{from_pool}`) to peer ids, and setting a relationship to exactly a set of peers
//! with both sides of every edge kept in step.

use super::error::{EngineError, Result};
use super::pool;
use super::write;
use crate::NodeId;
use crate::graph::Tx;
use crate::node::{Node, value_key};
use crate::schema::{Cardinality, KindSchema, RelationshipSchema};
use foldhash::{HashSet, HashSetExt};
use serde_json::{Map, Value};

/// The most related nodes a payload's relationship lists for its duplicates to be looked
/// for in the list itself rather than through a set.
const SHORT_LIST: usize = 8;

/// Relationships given in a payload, resolved to peer ids.
/// A `from_pool` item is allocated here, with `owner` (the node being written) naming the
/// server's default identifier.
pub(crate) fn read_rels<'k>(
    tx: &mut Tx<'_>,
    k: &'k KindSchema,
    data: &Map<String, Value>,
    owner: &Node,
) -> Result<Vec<(&'k RelationshipSchema, Vec<String>)>> {
    let mut out = Vec::new();
    for r in &k.relationships {
        let Some(v) = data.get(&r.name) else { continue };
        let items: Vec<&Value> = match (r.cardinality, v) {
            (_, Value::Null) => Vec::new(),
            (Cardinality::Many, Value::Array(a)) => a.iter().collect(),
            (Cardinality::One, Value::Array(_)) => {
                return Err(EngineError::invalid(format!(
                    "{}: expected one related node, got a list",
                    r.name
                )));
            }
            (_, other) => vec![other],
        };
        // In the payload's order, each once. A long list is deduplicated through a set:
        // a group's members may come as thousands of items (a run's tracking group).
        let mut peers: Vec<String> = Vec::new();
        let mut seen = (items.len() > SHORT_LIST).then(|| HashSet::with_capacity(items.len()));
        for item in items {
            let id = match item.get("from_pool") {
                Some(spec) => Some(pool::relationship_from_pool(tx, owner, r, spec)?),
                None => resolve_peer(tx, r, item)?,
            };
            let Some(id) = id else { continue };
            let new = match &mut seen {
                Some(seen) => seen.insert(id.clone()),
                None => !peers.contains(&id),
            };
            if new {
                peers.push(id);
            }
        }
        out.push((r, peers));
    }
    Ok(out)
}

/// A `RelatedNodeInput` (`{id}`, `{hfid, kind}`, or a bare id string) → the peer's id.
pub(crate) fn resolve_peer(
    tx: &Tx<'_>,
    r: &RelationshipSchema,
    item: &Value,
) -> Result<Option<String>> {
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
            Some(kind) => (id.to_string(), kind.to_string()),
            // Not a node id: Infrahub then looks the value up by the peer kind's
            // `default_filter` (a group by name, a prefix by its value).
            None => match tx.find_by_default_filter_any(&peer_kind, id).as_slice() {
                [one] => (one.id.to_string(), one.kind.clone()),
                [] => return Err(EngineError::not_found(id, peer_kind)),
                _ => {
                    return Err(EngineError::invalid(format!(
                        "Multiple {peer_kind} nodes match {id:?} by their default filter"
                    )));
                }
            },
        }
    } else if let Some(h) = item.get("hfid").and_then(Value::as_array) {
        let h: Vec<String> = h.iter().filter_map(value_key).collect();
        let found = tx.find_by_hfid(&peer_kind, &h);
        match found.as_slice() {
            [one] => (one.id.to_string(), one.kind.clone()),
            [] => return Err(EngineError::not_found(format!("{h:?}"), peer_kind)),
            _ => {
                return Err(EngineError::invalid(format!(
                    "Multiple {peer_kind} nodes have the same hfid {h:?}"
                )));
            }
        }
    } else if item.get("from_pool").is_some() {
        return Err(EngineError::invalid(format!(
            "{}: from_pool is not accepted here (only in create, update and upsert payloads)",
            r.name
        )));
    } else if item.is_null() || item.get("id").is_some_and(Value::is_null) {
        return Ok(None);
    } else {
        return Err(EngineError::invalid(format!(
            "{}: a related node needs an id or an hfid",
            r.name
        )));
    };
    if !tx.schema.is_a(&found_kind, &r.peer) {
        return Err(EngineError::invalid(format!(
            "{}: node {found_id} is a {found_kind}, expected a {}",
            r.name, r.peer
        )));
    }
    Ok(Some(found_id))
}

/// Set `rel` of node `id` to exactly `peers`, keeping the other side of each change in step.
/// Edge by edge: a peer with many peers of its own (a namespace, a group) is never read whole.
pub(crate) fn link(
    tx: &mut Tx<'_>,
    id: &str,
    r: &RelationshipSchema,
    peers: Vec<String>,
) -> Result<()> {
    if tx.kind_of(id).is_none() {
        return Err(EngineError::not_found(id, ""));
    }
    let old = tx.peers_of(id, &r.name);
    if old == peers {
        return Ok(());
    }
    if r.cardinality == Cardinality::One && peers.len() > 1 {
        return Err(EngineError::invalid(format!(
            "{}: only one related node is allowed",
            r.name
        )));
    }
    // As sets where a relationship holds many peers (a group's members, thousands); a
    // new node's device or profile is looked for in the short lists themselves.
    if old.len() + peers.len() <= SHORT_LIST {
        for p in old
            .iter()
            .filter(|p| !peers.iter().any(|k| k == p.as_str()))
        {
            unlink_peer(tx, id, r, p);
        }
        for p in peers
            .iter()
            .filter(|p| !old.iter().any(|o| o.as_str() == p.as_str()))
        {
            link_peer(tx, id, r, p);
        }
        return Ok(());
    }
    let kept: HashSet<&str> = peers.iter().map(String::as_str).collect();
    let before: HashSet<&str> = old.iter().map(NodeId::as_str).collect();
    for p in old.iter().filter(|p| !kept.contains(p.as_str())) {
        unlink_peer(tx, id, r, p);
    }
    for p in peers.iter().filter(|p| !before.contains(p.as_str())) {
        link_peer(tx, id, r, p);
    }
    Ok(())
}

/// Adds `peer` to `rel` of node `id`, with the other side of the edge; a peer whose side
/// holds one node leaves the node it pointed at.
fn link_peer(tx: &mut Tx<'_>, id: &str, r: &RelationshipSchema, p: &str) {
    tx.add_edge(id, &r.name, p);
    let Some(cp) = tx.kind_of(p).and_then(|k| tx.schema.counterpart(&k, r)) else {
        return;
    };
    let mut left = Vec::new();
    if cp.cardinality == Cardinality::One {
        // The peer pointed elsewhere: that other node loses the peer.
        for prev in tx.peers_of(p, &cp.name).into_iter().filter(|x| x != id) {
            tx.remove_edge(&prev, &r.name, p);
            tx.remove_edge(p, &cp.name, &prev);
            left.push(prev);
        }
    }
    tx.add_edge(p, &cp.name, id);
    // The peer's side changed without a write of the peer: what it computes through that
    // side is rendered here (the node itself is rendered by its own write).
    write::render_through(tx, p, &cp.name);
    for prev in left {
        write::render_through(tx, &prev, &r.name);
    }
}

/// Removes `peer` from `rel` of node `id`, with the other side of the edge.
fn unlink_peer(tx: &mut Tx<'_>, id: &str, r: &RelationshipSchema, p: &str) {
    tx.remove_edge(id, &r.name, p);
    if let Some(cp) = tx.kind_of(p).and_then(|k| tx.schema.counterpart(&k, r)) {
        tx.remove_edge(p, &cp.name, id);
        write::render_through(tx, p, &cp.name);
    }
}

/// Add (or remove) the related nodes `items` to (from) the many relationship `name` of node
/// `id`; the node must still satisfy its relationship counts afterwards.
pub(crate) fn edit_relationship(
    tx: &mut Tx<'_>,
    id: &str,
    name: &str,
    items: &[Value],
    add: bool,
) -> Result<()> {
    let kind = tx
        .kind_of(id)
        .ok_or_else(|| EngineError::not_found(id, "CoreNode"))?;
    let schema = tx.schema;
    let k = schema
        .get(&kind)
        .ok_or_else(|| EngineError::not_found(id, "CoreNode"))?;
    let r = k.relationship(name).ok_or_else(|| {
        EngineError::invalid(format!("'{name}' is not a relationship of {}", k.kind))
    })?;
    if r.cardinality != Cardinality::Many {
        return Err(EngineError::invalid(format!(
            "'{name}' of {} has cardinality one; RelationshipAdd/Remove need a many relationship",
            k.kind
        )));
    }
    // Edge by edge, each a point lookup: the node (a group of thousands of members) is
    // never read whole.
    let mut seen = HashSet::new();
    for item in items {
        let Some(p) = resolve_peer(tx, r, item)? else {
            continue;
        };
        if !seen.insert(p.clone()) || tx.has_edge(id, name, &p) == add {
            continue;
        }
        if add {
            link_peer(tx, id, r, &p);
        } else {
            unlink_peer(tx, id, r, &p);
        }
    }
    super::constraints::check_relationship_count(tx, id, &kind, r)
}
