//! Change events: one per created, updated or deleted node, with per-field new and previous
//! values. Durable (a row per event in SQLite, resumable by sequence number) and live
//! (a broadcast channel).

use crate::node::Node;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What happened to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The node was created.
    Created,
    /// At least one attribute or relationship changed.
    Updated,
    /// The node was deleted.
    Deleted,
}

/// One changed attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    /// Attribute name.
    pub name: String,
    /// Attribute kind (`Text`, `Number` …).
    pub kind: String,
    /// New value (null when removed).
    pub value: Value,
    /// Previous value (null when added).
    pub value_previous: Value,
    /// `added`, `updated` or `removed`.
    pub action: String,
}

/// One added or removed relationship peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationshipChange {
    /// Relationship name.
    pub name: String,
    /// `added` or `removed`.
    pub peer_status: String,
    /// Peer id.
    pub peer_id: String,
    /// Peer kind.
    pub peer_kind: String,
}

/// A node change event (`infrahub.node.<action>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the store's event log, starting at 1, strictly increasing.
    pub seq: i64,
    /// `infrahub.node.created|updated|deleted`.
    pub name: String,
    /// Branch the change was made on.
    pub branch: String,
    /// What happened.
    pub action: Action,
    /// Node kind.
    pub kind: String,
    /// Node id.
    pub id: String,
    /// `live` for a mutation, `merge` for a branch merge.
    pub origin: String,
    /// Changed attributes.
    pub attributes: Vec<AttributeChange>,
    /// Changed relationships.
    pub relationships: Vec<RelationshipChange>,
}

/// Compare two versions of a node; `None` when nothing changed. `peer_kind` resolves peer ids.
pub(crate) fn diff(
    before: Option<&Node>,
    after: Option<&Node>,
    attr_kind: &dyn Fn(&str, &str) -> String,
    peer_kind: &dyn Fn(&str) -> String,
    skip_rel: &dyn Fn(&str, &str) -> bool,
) -> Option<(Action, Vec<AttributeChange>, Vec<RelationshipChange>)> {
    let (action, node) = match (before, after) {
        (None, Some(a)) => (Action::Created, a),
        (Some(b), None) => (Action::Deleted, b),
        (Some(_), Some(a)) => (Action::Updated, a),
        (None, None) => return None,
    };
    let empty = Node {
        id: node.id.clone(),
        kind: node.kind.clone(),
        attrs: Default::default(),
        rels: Default::default(),
    };
    let b = before.unwrap_or(&empty);
    let a = after.unwrap_or(&empty);
    let mut attrs = Vec::new();
    let names: std::collections::BTreeSet<&String> = b.attrs.keys().chain(a.attrs.keys()).collect();
    // `__`-prefixed attributes are the store's bookkeeping (pool reservations, profile
    // markers), not node data.
    for n in names.into_iter().filter(|n| !n.starts_with("__")) {
        let (old, new) = (b.attr(n), a.attr(n));
        if old == new {
            continue;
        }
        let act = match (old.is_null(), new.is_null()) {
            (true, false) => "added",
            (false, true) => "removed",
            _ => "updated",
        };
        attrs.push(AttributeChange {
            name: n.clone(),
            kind: attr_kind(&node.kind, n),
            value: new.clone(),
            value_previous: old.clone(),
            action: act.to_string(),
        });
    }
    let mut rels = Vec::new();
    let rnames: std::collections::BTreeSet<&String> = b.rels.keys().chain(a.rels.keys()).collect();
    for n in rnames {
        if skip_rel(&node.kind, n) {
            continue;
        }
        let (old, new) = (b.peers(n), a.peers(n));
        for p in new.iter().filter(|p| !old.contains(p)) {
            rels.push(RelationshipChange {
                name: n.clone(),
                peer_status: "added".into(),
                peer_id: p.clone(),
                peer_kind: peer_kind(p),
            });
        }
        for p in old.iter().filter(|p| !new.contains(p)) {
            rels.push(RelationshipChange {
                name: n.clone(),
                peer_status: "removed".into(),
                peer_id: p.clone(),
                peer_kind: peer_kind(p),
            });
        }
    }
    if action == Action::Updated && attrs.is_empty() && rels.is_empty() {
        return None;
    }
    Some((action, attrs, rels))
}
