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

/// How an event is kept in the store's `events` table.
///
/// Written as a compact binary record (a `BLOB`, see [`stored::encode`]): what the row or
/// the action already say is left out (the sequence number is the row's key, the name
/// follows from the action), each string is its length and its bytes, and a value is
/// tagged (null, a boolean, a string as such, anything else as its JSON text). A seed
/// build writes ~3,000 events, one per node written: as JSON their serialisation escaped
/// some forty strings per event, one character at a time.
///
/// Rows written before hold text and read as they always did: the full [`Event`] object of
/// the first versions, then a compact JSON form (`{"v":2,…}`).
pub(crate) mod stored {
    use super::{Action, AttributeAction, AttributeChange, Event, PeerStatus, RelationshipChange};
    use serde::Deserialize;
    use serde_json::Value;

    /// The form of a binary record: its first byte.
    const FORM: u8 = 3;
    /// The version of the compact JSON form, which rows of layout 2 and before hold.
    const JSON_VERSION: u8 = 2;
    const VERSIONED: &str = "{\"v\":";

    /// Why a stored event could not be read back.
    #[derive(Debug, thiserror::Error)]
    pub enum DecodeError {
        /// A text row that is not an event in a JSON form this version reads.
        #[error(transparent)]
        Json(#[from] serde_json::Error),
        /// A text row in a JSON form newer than this version reads.
        #[error("stored in form {0}, this version reads form {JSON_VERSION}")]
        JsonForm(u8),
        /// A binary record in a form this version does not read.
        #[error("a binary record of form {0}, this version reads form {FORM}")]
        Form(u8),
        /// The record ends inside a field.
        #[error("the record ends inside {0}")]
        Truncated(&'static str),
        /// A string field is not UTF-8.
        #[error("{0} is not UTF-8")]
        NotUtf8(&'static str),
        /// A one-byte code outside its set.
        #[error("{what} has no code {code}")]
        Code {
            /// Which field.
            what: &'static str,
            /// The byte found.
            code: u8,
        },
        /// Bytes after the last field.
        #[error("{0} bytes after the record's end")]
        Trailing(usize),
        /// Neither text nor a binary record (a number or a null in the column).
        #[error("the row holds neither text nor a binary record")]
        NotARecord,
    }

    /// (name, kind, value, previous value, action)
    type AttributeRow = (String, String, Value, Value, AttributeAction);
    /// (name, peer status, peer id, peer kind)
    type RelationshipRow = (String, PeerStatus, String, String);

    /// The compact JSON form (read only).
    #[derive(Deserialize)]
    struct Compact {
        v: u8,
        /// Branch.
        b: String,
        /// Action.
        a: Action,
        /// Kind.
        k: String,
        /// Node id.
        i: String,
        /// Origin.
        o: String,
        #[serde(default = "Vec::new")]
        at: Vec<AttributeRow>,
        #[serde(default = "Vec::new")]
        r: Vec<RelationshipRow>,
    }

    // Value tags of the binary form.
    const NULL: u8 = 0;
    const FALSE: u8 = 1;
    const TRUE: u8 = 2;
    const STRING: u8 = 3;
    const JSON: u8 = 4;

    /// `event` as an `events` row's binary record: the form byte, the action, the branch,
    /// kind, id and origin, then the attribute changes and the relationship changes, each
    /// list its length first.
    pub(crate) fn encode(event: &Event) -> serde_json::Result<Vec<u8>> {
        let mut out =
            Vec::with_capacity(96 + 48 * event.attributes.len() + 96 * event.relationships.len());
        out.push(FORM);
        out.push(action_code(event.action));
        for text in [&event.branch, &event.kind, &event.id, &event.origin] {
            put_str(&mut out, text);
        }
        put_len(&mut out, event.attributes.len());
        for a in &event.attributes {
            put_str(&mut out, &a.name);
            put_str(&mut out, &a.kind);
            put_value(&mut out, &a.value)?;
            put_value(&mut out, &a.value_previous)?;
            out.push(attribute_action_code(a.action));
        }
        put_len(&mut out, event.relationships.len());
        for r in &event.relationships {
            put_str(&mut out, &r.name);
            out.push(peer_status_code(r.peer_status));
            put_str(&mut out, &r.peer_id);
            put_str(&mut out, &r.peer_kind);
        }
        Ok(out)
    }

    /// The event of row `seq` from its `data`: a binary record, or text in either JSON form.
    pub(crate) fn decode(
        seq: i64,
        data: rusqlite::types::ValueRef<'_>,
    ) -> Result<Event, DecodeError> {
        match data {
            rusqlite::types::ValueRef::Blob(bytes) => decode_record(seq, bytes),
            rusqlite::types::ValueRef::Text(text) => {
                let text =
                    std::str::from_utf8(text).map_err(|_| DecodeError::NotUtf8("the row"))?;
                decode_json(seq, text)
            }
            _ => Err(DecodeError::NotARecord),
        }
    }

    /// The bytes of a row's `data`, whichever form it holds (to look for an id in it
    /// before decoding).
    pub(crate) fn bytes(data: rusqlite::types::ValueRef<'_>) -> &[u8] {
        match data {
            rusqlite::types::ValueRef::Blob(bytes) | rusqlite::types::ValueRef::Text(bytes) => {
                bytes
            }
            _ => &[],
        }
    }

    /// The branch a binary record names (its first string), without decoding the rest;
    /// `None` for anything that is not a record of this form.
    pub(crate) fn branch_of(bytes: &[u8]) -> Option<&str> {
        Reader { bytes }.head().ok().map(|(_, branch)| branch)
    }

    fn decode_record(seq: i64, bytes: &[u8]) -> Result<Event, DecodeError> {
        let mut r = Reader { bytes };
        let (action, branch) = r.head()?;
        let branch = branch.to_owned();
        let kind = r.string("the kind")?;
        let id = r.string("the id")?;
        let origin = r.string("the origin")?;
        let count = r.len("the attribute count")?;
        let mut attributes = Vec::with_capacity(count.min(r.bytes.len()));
        for _ in 0..count {
            let name = r.string("an attribute's name")?;
            let kind = r.string("an attribute's kind")?;
            let value = r.value()?;
            let value_previous = r.value()?;
            let action = r.code("an attribute's action", &ATTRIBUTE_ACTIONS)?;
            attributes.push(AttributeChange {
                name,
                kind,
                value,
                value_previous,
                action,
            });
        }
        let count = r.len("the relationship count")?;
        let mut relationships = Vec::with_capacity(count.min(r.bytes.len()));
        for _ in 0..count {
            let name = r.string("a relationship's name")?;
            let peer_status = r.code("a peer's status", &PEER_STATUSES)?;
            let peer_id = r.string("a peer's id")?;
            let peer_kind = r.string("a peer's kind")?;
            relationships.push(RelationshipChange {
                name,
                peer_status,
                peer_id,
                peer_kind,
            });
        }
        if !r.bytes.is_empty() {
            return Err(DecodeError::Trailing(r.bytes.len()));
        }
        Ok(Event {
            seq,
            name: action.event_name().to_owned(),
            branch,
            action,
            kind,
            id,
            origin,
            attributes,
            relationships,
        })
    }

    /// A text row: the full event of the first versions, or the compact JSON form.
    fn decode_json(seq: i64, text: &str) -> Result<Event, DecodeError> {
        if !text.starts_with(VERSIONED) {
            let mut event: Event = serde_json::from_str(text)?;
            event.seq = seq;
            return Ok(event);
        }
        let c: Compact = serde_json::from_str(text)?;
        if c.v != JSON_VERSION {
            return Err(DecodeError::JsonForm(c.v));
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

    /// The actions by their one-byte code (see [`action_code`]).
    pub(super) const ACTIONS: [Action; 3] = [Action::Created, Action::Updated, Action::Deleted];
    /// The attribute actions by their code (see [`attribute_action_code`]).
    pub(super) const ATTRIBUTE_ACTIONS: [AttributeAction; 3] = [
        AttributeAction::Added,
        AttributeAction::Updated,
        AttributeAction::Removed,
    ];
    /// The peer statuses by their code (see [`peer_status_code`]).
    pub(super) const PEER_STATUSES: [PeerStatus; 2] = [PeerStatus::Added, PeerStatus::Removed];

    pub(super) fn action_code(action: Action) -> u8 {
        match action {
            Action::Created => 0,
            Action::Updated => 1,
            Action::Deleted => 2,
        }
    }

    pub(super) fn attribute_action_code(action: AttributeAction) -> u8 {
        match action {
            AttributeAction::Added => 0,
            AttributeAction::Updated => 1,
            AttributeAction::Removed => 2,
        }
    }

    pub(super) fn peer_status_code(status: PeerStatus) -> u8 {
        match status {
            PeerStatus::Added => 0,
            PeerStatus::Removed => 1,
        }
    }

    /// A length as LEB128: seven bits a byte, low first, the high bit set on all but the last.
    fn put_len(out: &mut Vec<u8>, len: usize) {
        let mut n = len as u64;
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    fn put_str(out: &mut Vec<u8>, text: &str) {
        put_len(out, text.len());
        out.extend_from_slice(text.as_bytes());
    }

    fn put_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
        match value {
            Value::Null => out.push(NULL),
            Value::Bool(false) => out.push(FALSE),
            Value::Bool(true) => out.push(TRUE),
            Value::String(text) => {
                out.push(STRING);
                put_str(out, text);
            }
            other => {
                out.push(JSON);
                put_str(out, &serde_json::to_string(other)?);
            }
        }
        Ok(())
    }

    /// The unread rest of a binary record.
    struct Reader<'a> {
        bytes: &'a [u8],
    }

    impl<'a> Reader<'a> {
        fn byte(&mut self, what: &'static str) -> Result<u8, DecodeError> {
            let (&first, rest) = self
                .bytes
                .split_first()
                .ok_or(DecodeError::Truncated(what))?;
            self.bytes = rest;
            Ok(first)
        }

        /// A record's head: its form (this one's, else an error), its action and its branch.
        fn head(&mut self) -> Result<(Action, &'a str), DecodeError> {
            let form = self.byte("the form")?;
            if form != FORM {
                return Err(DecodeError::Form(form));
            }
            Ok((self.code("the action", &ACTIONS)?, self.str("the branch")?))
        }

        /// A one-byte code: its place in `table`.
        fn code<T: Copy>(&mut self, what: &'static str, table: &[T]) -> Result<T, DecodeError> {
            let code = self.byte(what)?;
            table
                .get(usize::from(code))
                .copied()
                .ok_or(DecodeError::Code { what, code })
        }

        fn len(&mut self, what: &'static str) -> Result<usize, DecodeError> {
            let mut n: u64 = 0;
            for shift in (0..64).step_by(7) {
                let b = self.byte(what)?;
                n |= u64::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return usize::try_from(n).map_err(|_| DecodeError::Truncated(what));
                }
            }
            Err(DecodeError::Truncated(what))
        }

        fn slice(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
            let len = self.len(what)?;
            if len > self.bytes.len() {
                return Err(DecodeError::Truncated(what));
            }
            let (field, rest) = self.bytes.split_at(len);
            self.bytes = rest;
            Ok(field)
        }

        fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
            std::str::from_utf8(self.slice(what)?).map_err(|_| DecodeError::NotUtf8(what))
        }

        fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
            self.str(what).map(str::to_owned)
        }

        fn value(&mut self) -> Result<Value, DecodeError> {
            Ok(match self.byte("a value")? {
                NULL => Value::Null,
                FALSE => Value::Bool(false),
                TRUE => Value::Bool(true),
                STRING => Value::String(self.string("a value")?),
                JSON => serde_json::from_str(self.str("a value")?)?,
                code => {
                    return Err(DecodeError::Code {
                        what: "a value",
                        code,
                    });
                }
            })
        }
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

    fn blob(bytes: &[u8]) -> rusqlite::types::ValueRef<'_> {
        rusqlite::types::ValueRef::Blob(bytes)
    }

    fn text(text: &str) -> rusqlite::types::ValueRef<'_> {
        rusqlite::types::ValueRef::Text(text.as_bytes())
    }

    /// Every value kind a change carries, strings with what JSON would escape, and a number
    /// of changes past one byte of length.
    fn varied(seq: i64) -> Event {
        let mut event = changed(seq);
        event.id = "0195-\u{e9}t\u{e9} \"quoted\"\n\\".into();
        for (n, value) in [
            Value::Bool(true),
            Value::Bool(false),
            serde_json::json!(-1.5e300),
            serde_json::json!(u64::MAX),
            serde_json::json!("a\u{1f}b\t\u{1F600}"),
            serde_json::json!([]),
            serde_json::json!({}),
            Value::String(String::new()),
        ]
        .into_iter()
        .enumerate()
        {
            event.attributes.push(AttributeChange {
                name: format!("a{n}"),
                kind: "Any".into(),
                value: value.clone(),
                value_previous: value,
                action: AttributeAction::Removed,
            });
        }
        for n in 0..200 {
            event.relationships.push(RelationshipChange {
                name: "members".into(),
                peer_status: PeerStatus::Added,
                peer_id: format!("peer-{n}"),
                peer_kind: "x".repeat(n),
            });
        }
        event
    }

    #[test]
    fn a_stored_event_reads_back_whole_and_is_written_compact() {
        for event in [changed(7), Arc::unwrap_or_clone(event(8)), varied(9)] {
            let record = stored::encode(&event).unwrap();
            assert_eq!(stored::decode(event.seq, blob(&record)).unwrap(), event);
        }
        for event in [changed(7), Arc::unwrap_or_clone(event(8))] {
            let record = stored::encode(&event).unwrap();
            let full = serde_json::to_string(&event).unwrap();
            assert!(
                record.len() < full.len() / 2,
                "{} of {}",
                record.len(),
                full.len()
            );
        }
        let mut expected = vec![3, 1];
        for text in ["br1", "DcimInterface", "0195-a", "merge"] {
            expected.push(text.len() as u8);
            expected.extend_from_slice(text.as_bytes());
        }
        expected.extend_from_slice(b"\x02\x03mtu\x06Number\x04\x049216\x04\x041500\x01");
        expected.extend_from_slice(b"\x04tags\x04JSON\x04\x14{\"a\":[1,\"two\",null]}\x00\x00");
        expected.extend_from_slice(b"\x01\x06device\x01\x060195-d\x0aDcimDevice");
        assert_eq!(stored::encode(&changed(7)).unwrap(), expected);
        assert_eq!(stored::branch_of(&expected), Some("br1"));
        assert_eq!(
            stored::branch_of(&expected[..4]),
            None,
            "cut inside the branch"
        );
        assert_eq!(
            stored::branch_of(b"{\"v\":2,\"b\":\"br1\"}"),
            None,
            "not a record"
        );
    }

    /// Each one-byte code reads back as the value it was written for.
    #[test]
    fn every_code_reads_back_as_its_value() {
        for action in [Action::Created, Action::Updated, Action::Deleted] {
            assert_eq!(
                stored::ACTIONS[usize::from(stored::action_code(action))],
                action
            );
        }
        for action in [
            AttributeAction::Added,
            AttributeAction::Updated,
            AttributeAction::Removed,
        ] {
            let code = stored::attribute_action_code(action);
            assert_eq!(stored::ATTRIBUTE_ACTIONS[usize::from(code)], action);
        }
        for status in [PeerStatus::Added, PeerStatus::Removed] {
            let code = stored::peer_status_code(status);
            assert_eq!(stored::PEER_STATUSES[usize::from(code)], status);
        }
    }

    /// A damaged record is an error naming what is wrong, never a panic nor a wrong event.
    #[test]
    fn a_damaged_binary_record_is_refused() {
        let record = stored::encode(&varied(9)).unwrap();
        for end in 0..record.len() {
            let error = stored::decode(9, blob(&record[..end])).unwrap_err();
            assert!(
                matches!(error, stored::DecodeError::Truncated(_)),
                "cut at {end}: {error}"
            );
        }
        let mut longer = record.clone();
        longer.extend_from_slice(b"xy");
        assert_eq!(
            stored::decode(9, blob(&longer)).unwrap_err().to_string(),
            "2 bytes after the record's end"
        );
        let mut later = record.clone();
        later[0] = 4;
        assert_eq!(
            stored::decode(9, blob(&later)).unwrap_err().to_string(),
            "a binary record of form 4, this version reads form 3"
        );
        let mut action = record.clone();
        action[1] = 9;
        assert_eq!(
            stored::decode(9, blob(&action)).unwrap_err().to_string(),
            "the action has no code 9"
        );
        let mut branch = record;
        branch[3] = 0xff;
        assert_eq!(
            stored::decode(9, blob(&branch)).unwrap_err().to_string(),
            "the branch is not UTF-8"
        );
        assert_eq!(
            stored::decode(9, rusqlite::types::ValueRef::Integer(1))
                .unwrap_err()
                .to_string(),
            "the row holds neither text nor a binary record"
        );
    }

    /// Rows written before the binary form hold text: the full event of the first
    /// versions, numbered in its text too, or the compact JSON form; either reads as it
    /// always did, under its row's number.
    #[test]
    fn an_event_stored_as_text_reads_as_before() {
        let full = serde_json::to_string(&changed(7)).unwrap();
        assert_eq!(stored::decode(7, text(&full)).unwrap(), changed(7));
        assert_eq!(stored::decode(9, text(&full)).unwrap().seq, 9);
        let compact = r#"{"v":2,"b":"br1","a":"updated","k":"DcimInterface","i":"0195-a","o":"merge","at":[["mtu","Number",9216,1500,"updated"],["tags","JSON",{"a":[1,"two",null]},null,"added"]],"r":[["device","removed","0195-d","DcimDevice"]]}"#;
        assert_eq!(stored::decode(7, text(compact)).unwrap(), changed(7));
        assert!(stored::decode(7, text(r#"{"v":2,"b":"main"}"#)).is_err());
        let later = compact.replacen(r#""v":2"#, r#""v":3"#, 1);
        assert_eq!(
            stored::decode(7, text(&later)).unwrap_err().to_string(),
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
