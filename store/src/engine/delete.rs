//! What a node delete removes and when it is refused, as Infrahub does it
//! (`backend/infrahub/core/node/delete_validator.py`, `NodeDeleteValidator`).
//!
//! * **The delete set** ([`cascade_set`]): the node and, transitively, the peers of each of
//!   its relationships with `on_delete: cascade`. Infrahub gives a relationship without
//!   `on_delete` the value `cascade` when it is a Component relationship and `no-action`
//!   otherwise ([`RelationshipSchema::cascades`]); nothing else cascades, in particular not
//!   the child side of a Parent relationship (a parent whose own side is not a Component
//!   cannot be deleted while it has children: their Parent relationship is mandatory).
//! * **The refusal** ([`check_mandatory`]): a mandatory (`optional: false`) relationship of a
//!   node *outside* the delete set that points at a node in it refuses the whole delete, with
//!   Infrahub's message (see [`DeleteRefused`]). A holder deleted in the same cascade does not
//!   block, but when something else blocks, Infrahub lists every mandatory link into the set,
//!   those of deleted holders included; so do we (each link says whether it blocks).
//!
//! One deliberate difference, where Infrahub is narrower: it looks for blocking holders only
//! of the kinds of the nodes the caller asked to delete, so a mandatory relationship pointing
//! at a node reached by the cascade (of another kind) is silently left empty. Here every
//! node of the set is checked.
//!
//! And one exception that follows Infrahub: a relationship whose peer is `CoreNode` never
//! blocks. Infrahub matches the relationship's peer against the deleted node's kind and its
//! declared `inherit_from`, which does not name the implicit `CoreNode`; so deleting a
//! generator's target is not refused by the mandatory `CoreGeneratorInstance.object`
//! (opsmill/infrahub#6293 reports exactly that delete going through). This store adds
//! `CoreNode` to every node's `inherit_from`, hence the explicit exception.
//!
//! [`cascade_set`] and [`check_mandatory`] only read through [`Tx`] (`get`, `incoming`, the
//! schema); [`delete`] writes the delete once the check has passed, so a refused delete
//! writes nothing.

use super::error::{DeleteRefused, MandatoryLink};
use crate::graph::Tx;
use crate::profiles;
use crate::schema::{KindSchema, RelationshipSchema, Schema};
use std::collections::{BTreeSet, VecDeque};

use foldhash::{HashMap, HashMapExt};

/// Delete a node as Infrahub does: with its cascade (the peers of `on_delete: cascade`
/// relationships, transitively, [`cascade_set`]), refused while a mandatory relationship of
/// a node outside the cascade points into it ([`check_mandatory`]); every remaining peer is
/// unlinked and the nodes that lose a profile get their values recomputed. A refused delete
/// writes nothing.
pub(crate) fn delete(tx: &mut Tx<'_>, id: &str) -> Result<(), DeleteRefused> {
    let doomed = cascade_set(tx, id);
    check_mandatory(tx, &doomed)?;
    let schema = tx.schema;
    let seen: BTreeSet<&str> = doomed.iter().map(String::as_str).collect();
    // Nodes that lose a profile get their values recomputed afterwards.
    let users: Vec<String> = doomed
        .iter()
        .filter_map(|d| tx.get(d))
        .filter(|n| schema.is_a(&n.kind, "CoreProfile"))
        .flat_map(|n| n.peers("related_nodes").to_vec())
        .filter(|u| !seen.contains(u.as_str()))
        .map(String::from)
        .collect();
    // Nodes left behind that computed a value through an edge into the set.
    let mut readers: Vec<(String, String)> = Vec::new();
    for d in &doomed {
        // Every edge that points at the node, whichever side declares it.
        for (src, rel) in tx.incoming(d) {
            if !seen.contains(src.as_str()) {
                tx.remove_edge(&src, &rel, d);
                readers.push((src, rel));
            }
        }
        tx.delete(d);
    }
    for u in users {
        profiles::apply(tx, &u, &BTreeSet::new());
        super::write::render_node_and_readers(tx, &u);
    }
    for (reader, rel) in readers {
        super::write::render_through(tx, &reader, &rel);
    }
    Ok(())
}

/// The ids a delete of `id` removes, in discovery order (breadth first, `id` first): `id`
/// and, transitively, the peers of every relationship that cascades. Ids that do not
/// resolve to a node are left out.
pub(crate) fn cascade_set(tx: &Tx<'_>, id: &str) -> Vec<String> {
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([id.to_string()]);
    while let Some(cur) = queue.pop_front() {
        if !seen.insert(cur.clone()) {
            continue;
        }
        let Some(n) = tx.get(&cur) else { continue };
        order.push(cur);
        let Some(k) = tx.schema.get(&n.kind) else {
            continue;
        };
        for r in k.relationships.iter().filter(|r| r.cascades()) {
            queue.extend(
                n.peers(&r.name)
                    .iter()
                    .filter(|p| !seen.contains(p.as_str()))
                    .map(String::from),
            );
        }
    }
    order
}

/// Refuse the delete of `doomed` (a [`cascade_set`]) when a mandatory relationship of a node
/// outside it points at a node in it. The error lists every mandatory link into the set
/// ([`mandatory_links`]).
pub(crate) fn check_mandatory(tx: &Tx<'_>, doomed: &[String]) -> Result<(), DeleteRefused> {
    let links = mandatory_links(tx, doomed);
    if links.iter().any(|l| l.blocking) {
        Err(DeleteRefused { links })
    } else {
        Ok(())
    }
}

/// Every mandatory relationship that points at a node of `doomed`: for each doomed node in
/// order, its holders in the order the node lists them (or, for a relationship that only
/// the holder stores, in id order). A link is blocking when its holder is not in `doomed`.
pub(crate) fn mandatory_links(tx: &Tx<'_>, doomed: &[String]) -> Vec<MandatoryLink> {
    let schema = tx.schema;
    let set: BTreeSet<&str> = doomed.iter().map(String::as_str).collect();
    let mut by_kind: HashMap<String, Vec<Dependent<'_>>> = HashMap::new();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for d in doomed {
        let Some(node) = tx.get(d) else { continue };
        let Some(k) = schema.get(&node.kind) else {
            continue;
        };
        let deps = by_kind
            .entry(node.kind.clone())
            .or_insert_with(|| dependents(schema, k));
        for dep in deps.iter() {
            let holders: Vec<String> = match dep.here {
                // Both sides are stored: the holders are among the node's own peers.
                Some(here) => node.peers(&here.name).iter().map(String::from).collect(),
                // Only the holder stores it: the edge index by peer finds them.
                None => holders_of(tx, d, &dep.kind.kind, &dep.rel.name),
            };
            for h in &holders {
                let Some(holder) = tx.get(h) else { continue };
                if holder.kind != dep.kind.kind
                    || !holder.peers(&dep.rel.name).iter().any(|p| p == d)
                {
                    continue;
                }
                if !seen.insert((h.clone(), dep.rel.name.clone(), d.clone())) {
                    continue;
                }
                out.push(MandatoryLink {
                    deleted_kind: node.kind.clone(),
                    deleted_id: d.clone(),
                    holder_kind: holder.kind.clone(),
                    holder_id: h.clone(),
                    relationship: dep.rel.name.clone(),
                    blocking: !set.contains(h.as_str()),
                });
            }
        }
    }
    out
}

/// The nodes of concrete `kind` whose relationship `rel` lists `id`, in id order (from the
/// edge index by peer: the cost is the number of edges into `id`, not the size of `kind`).
fn holders_of(tx: &Tx<'_>, id: &str, kind: &str, rel: &str) -> Vec<String> {
    tx.incoming(id)
        .into_iter()
        .filter(|(src, r)| r == rel && tx.kind_of(src).as_deref() == Some(kind))
        .map(|(src, _)| src)
        .collect()
}

/// A mandatory relationship of a concrete kind whose peer a node of some kind can be.
struct Dependent<'s> {
    /// The holder's (concrete) kind.
    kind: &'s KindSchema,
    /// The mandatory relationship on it.
    rel: &'s RelationshipSchema,
    /// Its other side on the deleted node's kind, when there is one (then the deleted node
    /// lists its holders).
    here: Option<&'s RelationshipSchema>,
}

/// The mandatory relationships, of every concrete kind, that can point at a node of kind
/// `k`: their peer is `k` itself or a generic `k` declares in `inherit_from` (not
/// `CoreNode`, see the module documentation).
fn dependents<'s>(schema: &'s Schema, k: &KindSchema) -> Vec<Dependent<'s>> {
    let targets = |peer: &str| {
        peer == k.kind
            || (peer != crate::schema::CORE_NODE && k.inherit_from.iter().any(|g| g == peer))
    };
    let mut out = Vec::new();
    for hk in schema.kinds().filter(|hk| !hk.is_generic) {
        for r in hk
            .relationships
            .iter()
            .filter(|r| !r.optional && targets(&r.peer))
        {
            out.push(Dependent {
                kind: hk,
                rel: r,
                here: schema.counterpart(&k.kind, r),
            });
        }
    }
    out
}
