//! Change events: one per created, updated or deleted node, with per-field new and previous
//! values. Durable (a row per event in SQLite, resumable by sequence number) and live
//! (a broadcast channel).

use std::sync::Arc;

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

/// The events this process committed last, as written, so that reading the log from a
/// recent position (a cascade does, each round) does not parse back what was just
/// serialised. It holds one unbroken stretch of sequence numbers; a reader is served from
/// it only when the log's last event is its last, so nothing another process wrote can be
/// missed.
#[derive(Debug, Default)]
pub(crate) struct RecentEvents {
    events: std::collections::VecDeque<Arc<Event>>,
}

impl RecentEvents {
    /// Most events kept (a few megabytes).
    const CAPACITY: usize = 8_192;

    /// `events` were committed, numbered and in order; one that does not follow the last
    /// kept (another process wrote in between) starts the stretch again.
    pub fn committed(&mut self, events: &[Arc<Event>]) {
        let Some(first) = events.first() else {
            return;
        };
        if self
            .events
            .back()
            .is_some_and(|last| last.seq + 1 != first.seq)
        {
            self.events.clear();
        }
        self.events.extend(events.iter().cloned());
        while self.events.len() > Self::CAPACITY {
            self.events.pop_front();
        }
    }

    /// At most `limit` events after `seq`, when every one of them is here: `last` is the
    /// number of the log's last event.
    pub fn since(&self, seq: i64, last: i64, limit: usize) -> Option<Vec<Arc<Event>>> {
        let (front, back) = (self.events.front()?.seq, self.events.back()?.seq);
        if back != last || seq + 1 < front {
            return None;
        }
        let skip = usize::try_from(seq + 1 - front).ok()?;
        Some(self.events.iter().skip(skip).take(limit).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> Arc<Event> {
        Arc::new(Event {
            seq,
            name: "infrahub.node.created".into(),
            branch: "main".into(),
            action: Action::Created,
            kind: "DcimDevice".into(),
            id: format!("node-{seq}"),
            origin: "live".into(),
            attributes: Vec::new(),
            relationships: Vec::new(),
        })
    }

    fn seqs(events: Option<Vec<Arc<Event>>>) -> Option<Vec<i64>> {
        events.map(|events| events.iter().map(|e| e.seq).collect())
    }

    #[test]
    fn recent_events_answer_only_for_an_unbroken_stretch_reaching_the_log_s_end() {
        let mut recent = RecentEvents::default();
        assert_eq!(seqs(recent.since(0, 0, 10)), None, "nothing kept");
        recent.committed(&[event(3), event(4)]);
        recent.committed(&[event(5)]);
        assert_eq!(seqs(recent.since(2, 5, 10)), Some(vec![3, 4, 5]));
        assert_eq!(seqs(recent.since(3, 5, 1)), Some(vec![4]));
        assert_eq!(seqs(recent.since(5, 5, 10)), Some(vec![]));
        // Events 1 and 2 were never kept here.
        assert_eq!(seqs(recent.since(0, 5, 10)), None);
        // Another process wrote event 6.
        assert_eq!(seqs(recent.since(4, 6, 10)), None);
        // Then this process wrote 7: the stretch starts again at 7.
        recent.committed(&[event(7)]);
        assert_eq!(seqs(recent.since(6, 7, 10)), Some(vec![7]));
        assert_eq!(seqs(recent.since(5, 7, 10)), None);
    }

    #[test]
    fn recent_events_keep_the_last_ones_up_to_their_capacity() {
        let mut recent = RecentEvents::default();
        let all: Vec<Arc<Event>> = (1..=RecentEvents::CAPACITY as i64 + 10)
            .map(event)
            .collect();
        recent.committed(&all);
        let last = all.len() as i64;
        assert_eq!(seqs(recent.since(9, last, 1)), None);
        assert_eq!(seqs(recent.since(10, last, 1)), Some(vec![11]));
    }
}
