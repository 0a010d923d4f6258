//! The checks a written node must pass before its write is kept: mandatory attributes and
//! relationships, relationship counts, and uniqueness (the HFID, `unique` attributes,
//! `uniqueness_constraints`).
//!
//! They only read through [`Tx`]; the writer ([`super::write`]) runs them after writing into
//! a checkpoint and rolls the checkpoint back when one fails.

use super::error::{EngineError, Result};
use crate::graph::Tx;
use crate::node::{Node, into_value_key, value_key};
use crate::schema::{KindSchema, RelationshipSchema};

/// A uniqueness violation, with the HFID reported apart: an upsert turns "another node has
/// this HFID" into an update of that node.
pub(crate) enum Unique {
    /// Other nodes (their ids) have this node's HFID; the error is what a create reports.
    HfidTaken(Vec<String>, EngineError),
    /// Another constraint is violated.
    Other(EngineError),
}

impl From<Unique> for EngineError {
    fn from(u: Unique) -> Self {
        match u {
            Unique::HfidTaken(_, e) | Unique::Other(e) => e,
        }
    }
}

/// Every mandatory attribute of node `id` has a value.
pub(crate) fn check_mandatory_attrs(tx: &Tx<'_>, id: &str) -> Result<()> {
    let Some(n) = tx.get(id) else { return Ok(()) };
    let Some(k) = tx.schema.get(&n.kind) else {
        return Ok(());
    };
    match k
        .attributes
        .iter()
        .find(|a| !a.optional && n.attr(&a.name).is_null())
    {
        Some(a) => Err(EngineError::Mandatory {
            kind: k.kind.clone(),
            field: a.name.clone(),
        }),
        None => Ok(()),
    }
}

/// Every mandatory relationship of node `id` has a peer, and every relationship's peer count
/// is within its `min_count` and `max_count`.
pub(crate) fn check_mandatory_rels(tx: &Tx<'_>, id: &str) -> Result<()> {
    let Some(n) = tx.get(id) else { return Ok(()) };
    let Some(k) = tx.schema.get(&n.kind) else {
        return Ok(());
    };
    for r in &k.relationships {
        check_count(&k.kind, r, n.peers(&r.name).len())?;
    }
    Ok(())
}

/// [`check_mandatory_rels`] for relationship `r` of node `id` only: what editing that one
/// relationship can break. A relationship without a bound is not read at all, so adding
/// members to a group does not read its other members.
pub(crate) fn check_relationship_count(
    tx: &Tx<'_>,
    id: &str,
    kind: &str,
    r: &RelationshipSchema,
) -> Result<()> {
    if r.optional && r.max_count == 0 && r.min_count == 0 {
        return Ok(());
    }
    check_count(kind, r, tx.peers_of(id, &r.name).len())
}

/// Whether `count` peers of relationship `r` of a `kind` node are allowed.
fn check_count(kind: &str, r: &RelationshipSchema, count: usize) -> Result<()> {
    let count = count as u64;
    if !r.optional && count == 0 {
        return Err(EngineError::Mandatory {
            kind: kind.to_owned(),
            field: r.name.clone(),
        });
    }
    if r.max_count > 0 && count > r.max_count {
        return Err(EngineError::invalid(format!(
            "{}: at most {} related nodes are allowed, got {count}",
            r.name, r.max_count
        )));
    }
    if count > 0 && count < r.min_count {
        return Err(EngineError::invalid(format!(
            "{}: at least {} related nodes are required, got {count}",
            r.name, r.min_count
        )));
    }
    Ok(())
}

/// Uniqueness of node `id`: the HFID (reported apart, see [`Unique`]), `unique` attributes
/// and `uniqueness_constraints`.
pub(crate) fn check_unique(tx: &Tx<'_>, id: &str) -> std::result::Result<(), Unique> {
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
            .map(|o| o.id.to_string())
            .filter(|o| o != id)
            .collect();
        if !others.is_empty() {
            let paths = k.human_friendly_id.clone().unwrap_or_default();
            let constraint = match paths.as_slice() {
                [one] if one.split("__").count() == 2 => {
                    one.split("__").next().unwrap_or_default().to_string()
                }
                _ => paths.join("-"),
            };
            let e = EngineError::Uniqueness {
                constraint,
                value: h.join("-"),
            };
            return Err(Unique::HfidTaken(others, e));
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
            return Err(Unique::Other(EngineError::Uniqueness {
                constraint: a.name.clone(),
                value: v,
            }));
        }
    }
    for c in k.uniqueness_constraints.iter().flatten() {
        if k.human_friendly_id.as_ref() == Some(c) {
            continue;
        }
        let vals = constraint_values(tx, &n, c);
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
            let ovals = constraint_values(tx, &other, c);
            if ovals == vals {
                let shown: Vec<String> = vals.into_iter().flatten().collect();
                return Err(Unique::Other(EngineError::Uniqueness {
                    constraint: c.join("-"),
                    value: shown.join("-"),
                }));
            }
        }
    }
    Ok(())
}

/// The uniqueness constraint node `id` violates, if any (its HFID included), as the error a
/// write of it would report: what a merge checks of the nodes it writes on main.
pub(crate) fn uniqueness_violation(tx: &Tx<'_>, id: &str) -> Option<EngineError> {
    check_unique(tx, id).err().map(EngineError::from)
}

/// What [`check_unique`] reads off `n`: its HFID, the values of its kind's unique
/// attributes and of each uniqueness constraint. An update that leaves them as they were
/// cannot make the node share them with another, so it is not checked again — as Infrahub
/// checks only the constraints on the fields an update names. (An interface cabled by a
/// later run is updated, and checking its constraints read every interface of its device.)
pub(crate) fn unique_values(tx: &Tx<'_>, n: &Node) -> Vec<Vec<Option<String>>> {
    let Some(k) = tx.schema.get(&n.kind) else {
        return Vec::new();
    };
    let mut values = Vec::new();
    if k.human_friendly_id.is_some() {
        values.push(
            tx.hfid(n)
                .unwrap_or_default()
                .into_iter()
                .map(Some)
                .collect(),
        );
    }
    for a in k.attributes.iter().filter(|a| a.unique) {
        values.push(vec![value_key(n.attr(&a.name))]);
    }
    for c in k.uniqueness_constraints.iter().flatten() {
        values.push(constraint_values(tx, n, c));
    }
    values
}

/// The values of a uniqueness constraint's paths on `node`: an attribute path's value, or a
/// bare relationship's peer id (`None` where unset).
fn constraint_values(tx: &Tx<'_>, node: &Node, paths: &[String]) -> Vec<Option<String>> {
    paths
        .iter()
        .map(|path| {
            if path.contains("__") {
                into_value_key(tx.path_value(node, path))
            } else {
                node.peers(path).first().map(String::from)
            }
        })
        .collect()
}

/// The identity constraints of a template's children of one kind, where only their siblings
/// can break them: each constraint (the HFID and each uniqueness constraint) reads the
/// child's parent — the node just created from the template, which nothing else points at
/// — directly or through an attribute unique among the parent's kind, and otherwise the
/// child's own attribute values. Two siblings then collide exactly when those values are
/// the same, which a set of the values seen answers without the index lookups of
/// [`check_unique`] (a seed build creates ~2,000 interfaces from device templates, each
/// checked twice through its device). Where a constraint reads anything else, or the kind
/// has `unique` attributes, or the parent already holds children of the kind, there is no
/// scope and every child is checked in full.
pub(crate) struct SiblingScope<'s> {
    /// Per constraint, the child's own attributes it reads.
    constraints: Vec<Vec<&'s str>>,
    /// Per constraint, the values of the siblings admitted.
    seen: Vec<foldhash::HashSet<Vec<String>>>,
}

impl<'s> SiblingScope<'s> {
    /// The scope of children of `kind` held by `parent` (just created) through relationship
    /// `rel` of the children, if only siblings can collide (see [`SiblingScope`]).
    pub(crate) fn of(
        tx: &Tx<'s>,
        kind: &'s KindSchema,
        rel: &RelationshipSchema,
        parent: &str,
    ) -> Option<Self> {
        if kind.attributes.iter().any(|a| a.unique) {
            return None;
        }
        let mut constraints = Vec::new();
        if let Some(hfid) = &kind.human_friendly_id {
            constraints.push(own_parts(tx, hfid, rel)?);
        }
        for c in kind.uniqueness_constraints.iter().flatten() {
            if kind.human_friendly_id.as_ref() == Some(c) {
                continue;
            }
            constraints.push(own_parts(tx, c, rel)?);
        }
        if !tx.holders(parent, &rel.name, &kind.kind).is_empty() {
            return None;
        }
        let seen = vec![Default::default(); constraints.len()];
        Some(Self { constraints, seen })
    }

    /// Whether child `id`, just created, shares no constraint's values with a sibling
    /// admitted before; if so it is admitted. A constraint with a value unset is not
    /// enforced (as [`check_unique`] skips it).
    pub(crate) fn admit(&mut self, tx: &Tx<'_>, id: &str) -> bool {
        let Some(n) = tx.get(id) else { return false };
        let keys: Vec<Option<Vec<String>>> = self
            .constraints
            .iter()
            .map(|attrs| attrs.iter().map(|a| value_key(n.attr(a))).collect())
            .collect();
        let taken = keys
            .iter()
            .zip(&self.seen)
            .any(|(key, seen)| key.as_ref().is_some_and(|key| seen.contains(key)));
        if taken {
            return false;
        }
        for (key, seen) in keys.into_iter().zip(&mut self.seen) {
            if let Some(key) = key {
                seen.insert(key);
            }
        }
        true
    }
}

/// The child's own attributes a constraint's `paths` read, if each of its other paths
/// reads the parent through `rel` (bare, or an attribute unique among the parent's only
/// kind) and at least one does.
fn own_parts<'s>(
    tx: &Tx<'s>,
    paths: &'s [String],
    rel: &RelationshipSchema,
) -> Option<Vec<&'s str>> {
    let mut own = Vec::new();
    let mut through_parent = false;
    for path in paths {
        let parts: Vec<&str> = path.split("__").collect();
        match parts.as_slice() {
            [attr, "value"] => own.push(*attr),
            [r] if *r == rel.name => through_parent = true,
            [r, attr, "value"] if *r == rel.name => {
                let [peer_kind] = tx.schema.concrete_kinds(&rel.peer) else {
                    return None;
                };
                let unique = tx
                    .schema
                    .get(peer_kind)
                    .and_then(|k| k.attribute(attr))
                    .is_some_and(|a| a.unique);
                if !unique {
                    return None;
                }
                through_parent = true;
            }
            _ => return None,
        }
    }
    through_parent.then_some(own)
}
