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

impl Action {
    /// `created`, `updated` or `deleted`, as the event carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
        }
    }

    /// The event's name: `infrahub.node.created|updated|deleted`.
    pub fn event_name(self) -> &'static str {
        match self {
            Action::Created => "infrahub.node.created",
            Action::Updated => "infrahub.node.updated",
            Action::Deleted => "infrahub.node.deleted",
        }
    }
}

/// What happened to one attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeAction {
    /// The attribute had no value and has one.
    Added,
    /// The attribute's value changed.
    Updated,
    /// The attribute's value was unset (or its node deleted).
    Removed,
}

impl AttributeAction {
    /// `added`, `updated` or `removed`, as the event carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeAction::Added => "added",
            AttributeAction::Updated => "updated",
            AttributeAction::Removed => "removed",
        }
    }
}

/// What happened to one peer of a relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerStatus {
    /// The peer was added.
    Added,
    /// The peer was removed (or the node holding it deleted).
    Removed,
}

impl PeerStatus {
    /// `added` or `removed`, as the event carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerStatus::Added => "added",
            PeerStatus::Removed => "removed",
        }
    }
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
    pub action: AttributeAction,
}

/// One added or removed relationship peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationshipChange {
    /// Relationship name.
    pub name: String,
    /// `added` or `removed`.
    pub peer_status: PeerStatus,
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

/// How an event is kept in the store's `events` table: JSON, without what the row or the
/// action already say (the sequence number is the row's key, the name follows from the
/// action) and with each change as an array rather than an object of named fields. A
/// seed build writes ~3,000 events; in full they were a third of the bytes its commits
/// wrote, and their serialisation 3–4% of its CPU. Rows written before this form (full
/// [`Event`] objects) read as they always did.
pub(crate) mod stored {
    use super::{Action, AttributeAction, AttributeChange, Event, PeerStatus, RelationshipChange};
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// The version of the compact form. Full events have no `v`; the compact form starts
    /// with it (`Compact`'s first field), which is how [`decode`] tells them apart.
    const VERSION: u8 = 2;
    const VERSIONED: &str = "{\"v\":";

    /// (name, kind, value, previous value, action)
    type AttributeRow<T, V> = (T, T, V, V, AttributeAction);
    /// (name, peer status, peer id, peer kind)
    type RelationshipRow<T> = (T, PeerStatus, T, T);

    #[derive(Serialize, Deserialize)]
    struct Compact<T, V> {
        v: u8,
        /// Branch.
        b: T,
        /// Action.
        a: Action,
        /// Kind.
        k: T,
        /// Node id.
        i: T,
        /// Origin.
        o: T,
        #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
        at: Vec<AttributeRow<T, V>>,
        #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
        r: Vec<RelationshipRow<T>>,
    }

    /// `event` as an `events` row's text.
    pub(crate) fn encode(event: &Event) -> serde_json::Result<String> {
        serde_json::to_string(&Compact::<&str, &Value> {
            v: VERSION,
            b: &event.branch,
            a: event.action,
            k: &event.kind,
            i: &event.id,
            o: &event.origin,
            at: event
                .attributes
                .iter()
                .map(|a| {
                    (
                        a.name.as_str(),
                        a.kind.as_str(),
                        &a.value,
                        &a.value_previous,
                        a.action,
                    )
                })
                .collect(),
            r: event
                .relationships
                .iter()
                .map(|r| {
                    (
                        r.name.as_str(),
                        r.peer_status,
                        r.peer_id.as_str(),
                        r.peer_kind.as_str(),
                    )
                })
                .collect(),
        })
    }

    /// The event of row `seq` from its text, in either form.
    pub(crate) fn decode(seq: i64, text: &str) -> serde_json::Result<Event> {
        if !text.starts_with(VERSIONED) {
            let mut event: Event = serde_json::from_str(text)?;
            event.seq = seq;
            return Ok(event);
        }
        let c: Compact<String, Value> = serde_json::from_str(text)?;
        if c.v != VERSION {
            return Err(serde::de::Error::custom(format!(
                "stored in form {}, this version reads form {VERSION}",
                c.v
            )));
        }
        Ok(Event {
            seq,
            name: c.a.event_name().to_owned(),
            branch: c.b,
            action: c.a,
            kind: c.k,
            id: c.i,
            origin: c.o,
            attributes: c
                .at
                .into_iter()
                .map(
                    |(name, kind, value, value_previous, action)| AttributeChange {
                        name,
                        kind,
                        value,
                        value_previous,
                        action,
                    },
                )
                .collect(),
            relationships: c
                .r
                .into_iter()
                .map(
                    |(name, peer_status, peer_id, peer_kind)| RelationshipChange {
                        name,
                        peer_status,
                        peer_id,
                        peer_kind,
                    },
                )
                .collect(),
        })
    }
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

    fn changed(seq: i64) -> Event {
        Event {
            seq,
            name: "infrahub.node.updated".into(),
            branch: "br1".into(),
            action: Action::Updated,
            kind: "DcimInterface".into(),
            id: "0195-a".into(),
            origin: "merge".into(),
            attributes: vec![
                AttributeChange {
                    name: "mtu".into(),
                    kind: "Number".into(),
                    value: serde_json::json!(9216),
                    value_previous: serde_json::json!(1500),
                    action: AttributeAction::Updated,
                },
                AttributeChange {
                    name: "tags".into(),
                    kind: "JSON".into(),
                    value: serde_json::json!({"a": [1, "two", null]}),
                    value_previous: Value::Null,
                    action: AttributeAction::Added,
                },
            ],
            relationships: vec![RelationshipChange {
                name: "device".into(),
                peer_status: PeerStatus::Removed,
                peer_id: "0195-d".into(),
                peer_kind: "DcimDevice".into(),
            }],
        }
    }

    #[test]
    fn an_action_is_named_alike_in_json_in_events_and_in_event_names() {
        for action in [Action::Created, Action::Updated, Action::Deleted] {
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
            assert_eq!(
                action.event_name(),
                format!("infrahub.node.{}", action.as_str())
            );
        }
    }

    #[test]
    fn a_stored_event_reads_back_whole_and_is_written_compact() {
        for event in [changed(7), Arc::unwrap_or_clone(event(8))] {
            let text = stored::encode(&event).unwrap();
            assert_eq!(stored::decode(event.seq, &text).unwrap(), event);
            let full = serde_json::to_string(&event).unwrap();
            assert!(text.len() < full.len() * 3 / 4, "{text}");
            for key in ["seq", "name", "value_previous", "peer_status"] {
                assert!(!text.contains(&format!("\"{key}\"")), "{key} in {text}");
            }
        }
        assert_eq!(
            stored::encode(&changed(7)).unwrap(),
            r#"{"v":2,"b":"br1","a":"updated","k":"DcimInterface","i":"0195-a","o":"merge","at":[["mtu","Number",9216,1500,"updated"],["tags","JSON",{"a":[1,"two",null]},null,"added"]],"r":[["device","removed","0195-d","DcimDevice"]]}"#
        );
    }

    /// Rows written before the compact form hold the full event; its number is the row's.
    #[test]
    fn an_event_stored_in_full_reads_as_before() {
        let full = serde_json::to_string(&changed(7)).unwrap();
        assert_eq!(stored::decode(7, &full).unwrap(), changed(7));
        assert_eq!(stored::decode(9, &full).unwrap().seq, 9);
        assert!(stored::decode(7, r#"{"v":2,"b":"main"}"#).is_err());
        let later = stored::encode(&changed(7))
            .unwrap()
            .replacen(r#""v":2"#, r#""v":3"#, 1);
        assert_eq!(
            stored::decode(7, &later).unwrap_err().to_string(),
            "stored in form 3, this version reads form 2"
        );
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
