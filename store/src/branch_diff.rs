//! What a branch changed, in the shape of Infrahub's `DiffTree` (`client.get_diff_tree`,
//! `client.get_diff_summary`, `infrahubctl branch report`): one entry per node the branch
//! added, removed or updated, with the attributes and relationship peers it changed.
//!
//! Computed from the branch's own rows (what [`crate::branch`] merges), so it is always
//! current: Infrahub computes a diff when asked to (`DiffUpdate`) and stores it; here there
//! is nothing to update.

use crate::branch::BranchRows;
use crate::error::StoreError;
use crate::graph::{MAIN, Tx};
use crate::node::Node;
use crate::schema::{BranchSupport, Cardinality, Schema};
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Infrahub's `DiffAction`, as GraphQL names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Added,
    Removed,
    Updated,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Added => "ADDED",
            Action::Removed => "REMOVED",
            Action::Updated => "UPDATED",
        }
    }
}

/// One changed relationship peer.
struct PeerChange {
    peer: String,
    action: Action,
}

/// One changed node, before it is written as JSON.
struct NodeChange {
    kind: String,
    action: Action,
    /// Attribute name → (action, value before, value after).
    attributes: BTreeMap<String, (Action, Value, Value)>,
    /// Relationship name → peers added or removed.
    relationships: BTreeMap<String, Vec<PeerChange>>,
}

/// The nodes branch `name` changed, as `DiffTree.nodes` entries, ordered by kind then id.
/// Branch-local kinds are left out, as they never merge.
pub(crate) fn nodes(
    conn: &Connection,
    schema: &Schema,
    name: &str,
) -> Result<Vec<Value>, StoreError> {
    let rows = BranchRows::read(conn, schema, name)?;
    let main = Tx::new(conn, schema, MAIN);
    let view = Tx::new(conn, schema, name);
    let local = |kind: &str| {
        schema
            .get(kind)
            .is_some_and(|k| k.branch == BranchSupport::Local)
    };
    let mut changes: BTreeMap<String, NodeChange> = BTreeMap::new();
    let whole = |node: &Node, action: Action| NodeChange {
        kind: node.kind.clone(),
        action,
        attributes: node
            .attrs
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(a, v)| {
                let (before, after) = match action {
                    Action::Removed => (v.clone(), Value::Null),
                    _ => (Value::Null, v.clone()),
                };
                (a.clone(), (action, before, after))
            })
            .collect(),
        relationships: node
            .rels
            .iter()
            .filter(|(_, peers)| !peers.is_empty())
            .map(|(r, peers)| {
                let peers = peers
                    .iter()
                    .map(|p| PeerChange {
                        peer: p.to_string(),
                        action,
                    })
                    .collect();
                (r.clone(), peers)
            })
            .collect(),
    };
    for (id, kind) in &rows.created {
        if local(kind) {
            continue;
        }
        if let Some(n) = view.get(id) {
            changes.insert(id.clone(), whole(&n, Action::Added));
        }
    }
    for (id, kind, _) in &rows.deleted {
        if local(kind) {
            continue;
        }
        if let Some(n) = main.get(id) {
            changes.insert(id.clone(), whole(&n, Action::Removed));
        }
    }
    for a in &rows.attrs {
        if local(&a.kind) || a.value == a.base {
            continue;
        }
        let action = if a.base.is_null() {
            Action::Added
        } else if a.value.is_null() {
            Action::Removed
        } else {
            Action::Updated
        };
        if let Some(c) = updated(&mut changes, &a.id, &a.kind) {
            c.attributes
                .insert(a.name.clone(), (action, a.base.clone(), a.value.clone()));
        }
    }
    // An edge is a change of both its nodes, each on its own side of the relationship.
    let mut seen = std::collections::BTreeSet::new();
    for e in &rows.edges {
        if e.live == e.base {
            continue;
        }
        let kind_of = |id: &str| view.kind_of(id).or_else(|| main.kind_of(id));
        let Some(kind) = kind_of(&e.id) else {
            continue;
        };
        let action = if e.live {
            Action::Added
        } else {
            Action::Removed
        };
        let mut sides = vec![(e.id.clone(), kind.clone(), e.rel.clone(), e.peer.clone())];
        if let Some(peer_kind) = kind_of(&e.peer)
            && let Some(r) = schema.get(&kind).and_then(|k| k.relationship(&e.rel))
            && let Some(back) = schema.counterpart(&peer_kind, r)
        {
            sides.push((e.peer.clone(), peer_kind, back.name.clone(), e.id.clone()));
        }
        for (id, kind, rel, peer) in sides {
            if local(&kind) || !seen.insert((id.clone(), rel.clone(), peer.clone())) {
                continue;
            }
            if let Some(c) = updated(&mut changes, &id, &kind) {
                c.relationships
                    .entry(rel)
                    .or_default()
                    .push(PeerChange { peer, action });
            }
        }
    }
    if let Some(e) = view.take_failure().or_else(|| main.take_failure()) {
        return Err(e);
    }
    let mut out: Vec<(String, String, Value)> = changes
        .into_iter()
        .map(|(id, change)| {
            let label = view
                .get(&id)
                .or_else(|| main.get(&id))
                .and_then(|n| view.display_label(&n))
                .unwrap_or_default();
            let value = node_json(schema, &view, &main, &id, &label, &change);
            (change.kind, id, value)
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(out.into_iter().map(|(_, _, v)| v).collect())
}

/// The change of node `id` that its attribute and edge rows add to: its entry (made on
/// first use), or `None` when the branch added or removed the node as a whole, which
/// already lists everything it holds.
fn updated<'c>(
    changes: &'c mut BTreeMap<String, NodeChange>,
    id: &str,
    kind: &str,
) -> Option<&'c mut NodeChange> {
    let change = changes.entry(id.to_owned()).or_insert_with(|| NodeChange {
        kind: kind.to_owned(),
        action: Action::Updated,
        attributes: BTreeMap::new(),
        relationships: BTreeMap::new(),
    });
    (change.action == Action::Updated).then_some(change)
}

/// `num_added`, `num_updated`, `num_removed` over `actions`.
fn counts(actions: impl Iterator<Item = Action>) -> (usize, usize, usize) {
    actions.fold((0, 0, 0), |(a, u, r), action| match action {
        Action::Added => (a + 1, u, r),
        Action::Updated => (a, u + 1, r),
        Action::Removed => (a, u, r + 1),
    })
}

fn node_json(
    schema: &Schema,
    view: &Tx<'_>,
    main: &Tx<'_>,
    id: &str,
    label: &str,
    change: &NodeChange,
) -> Value {
    let path = format!("data/{id}");
    let attributes: Vec<Value> = change
        .attributes
        .iter()
        .map(|(name, (action, before, after))| {
            let (a, u, r) = counts(std::iter::once(*action));
            let text = |v: &Value| match v {
                Value::Null => Value::Null,
                Value::String(s) => Value::String(s.clone()),
                other => Value::String(other.to_string()),
            };
            json!({
                "name": name,
                "status": action.as_str(),
                "path_identifier": format!("{path}/{name}"),
                "last_changed_at": Value::Null,
                "contains_conflict": false,
                "conflict": Value::Null,
                "num_added": a, "num_updated": u, "num_removed": r, "num_conflicts": 0,
                "properties": [{
                    "property_type": "HAS_VALUE",
                    "previous_value": text(before),
                    "new_value": text(after),
                    "previous_label": Value::Null,
                    "new_label": Value::Null,
                    "status": action.as_str(),
                    "path_identifier": format!("{path}/{name}/value"),
                    "last_changed_at": Value::Null,
                    "conflict": Value::Null,
                }],
            })
        })
        .collect();
    let relationship_schema =
        |rel: &str| schema.get(&change.kind).and_then(|k| k.relationship(rel));
    let relationships: Vec<Value> = change
        .relationships
        .iter()
        .map(|(name, peers)| {
            let (a, u, r) = counts(peers.iter().map(|p| p.action));
            // A relationship of an added or removed node is added or removed with it.
            let status = change.action;
            let rel = relationship_schema(name);
            let cardinality = match rel.map(|r| r.cardinality) {
                Some(Cardinality::One) => "ONE",
                _ => "MANY",
            };
            let elements: Vec<Value> = peers
                .iter()
                .map(|p| {
                    let peer_label = view
                        .get(&p.peer)
                        .or_else(|| main.get(&p.peer))
                        .and_then(|n| view.display_label(&n));
                    let (a, u, r) = counts(std::iter::once(p.action));
                    json!({
                        "status": p.action.as_str(),
                        "peer_id": p.peer,
                        "peer_label": peer_label,
                        "path_identifier": format!("{path}/{name}/{}", p.peer),
                        "last_changed_at": Value::Null,
                        "contains_conflict": false,
                        "conflict": Value::Null,
                        "properties": [],
                        "num_added": a, "num_updated": u, "num_removed": r, "num_conflicts": 0,
                    })
                })
                .collect();
            json!({
                "name": name,
                "label": rel.and_then(|r| r.label.clone()),
                "status": status.as_str(),
                "cardinality": cardinality,
                "path_identifier": format!("{path}/{name}"),
                "last_changed_at": Value::Null,
                "contains_conflict": false,
                "elements": elements,
                "num_added": a, "num_updated": u, "num_removed": r, "num_conflicts": 0,
            })
        })
        .collect();
    let (a, u, r) = counts(
        change
            .attributes
            .values()
            .map(|(action, _, _)| *action)
            .chain(change.relationships.values().flatten().map(|p| p.action)),
    );
    json!({
        "uuid": id,
        "kind": change.kind,
        "label": label,
        "status": change.action.as_str(),
        "path_identifier": path,
        "contains_conflict": false,
        "conflict": Value::Null,
        "last_changed_at": Value::Null,
        "parent": Value::Null,
        "attributes": attributes,
        "relationships": relationships,
        "num_added": a, "num_updated": u, "num_removed": r, "num_conflicts": 0,
    })
}

/// The `DiffTree` (or, without `nodes`, the `DiffTreeSummary`) of branch `name`, created
/// at `branched_from`, as of `now`.
pub(crate) fn tree(name: &str, branched_from: &str, now: &str, nodes: Vec<Value>) -> Value {
    let (a, u, r) = counts(nodes.iter().map(|n| match n["status"].as_str() {
        Some("ADDED") => Action::Added,
        Some("REMOVED") => Action::Removed,
        _ => Action::Updated,
    }));
    json!({
        "base_branch": MAIN,
        "diff_branch": name,
        "from_time": branched_from,
        "to_time": now,
        "name": Value::Null,
        "num_added": a, "num_updated": u, "num_removed": r, "num_conflicts": 0,
        "num_unchanged": 0,
        "num_untracked_base_changes": 0,
        "num_untracked_diff_changes": 0,
        "nodes": nodes,
    })
}
