//! Change events: one per created, updated or deleted node, with per-field new and previous
//! values. Durable (a row per event in SQLite, resumable by sequence number) and live
//! (a broadcast channel).

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
