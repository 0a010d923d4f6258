//! Node change events as trigger rules see them, and where they come from.
//!
//! Infrahub labels every `infrahub.node.*` event with the node's kind, id and
//! branch, and adds one related resource per changed attribute or
//! relationship, with values rendered as Python's `str()` renders them
//! (`NULL` for a missing value). Rules match on those strings, so the
//! rendering here follows Python: a rule written for Infrahub, such as
//! `value: "True"` on a Boolean, means the same here.

use infragen_store::Store;
use serde::Serialize;
use serde_json::Value;

/// One changed attribute of an event (`infrahub.node.attribute_update`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeUpdate {
    /// Attribute name.
    pub name: String,
    /// New value, rendered (`NULL` when removed).
    pub value: String,
    /// Previous value, rendered (`NULL` when added).
    pub value_previous: String,
    /// `added`, `updated` or `removed`.
    pub action: String,
}

/// One added or removed peer of an event (`infrahub.node.relationship_update`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelationshipUpdate {
    /// Relationship name.
    pub name: String,
    /// `added` or `removed`.
    pub peer_status: String,
    /// The peer's id.
    pub peer_id: String,
}

/// `infrahub.node.created|updated|deleted`, as rules see it.
#[derive(Debug, Clone)]
pub struct NodeEvent {
    /// Position in the store's event log.
    pub seq: i64,
    /// Branch the change was made on.
    pub branch: String,
    /// `created`, `updated` or `deleted`.
    pub action: String,
    /// The node's kind.
    pub kind: String,
    /// The node's id.
    pub id: String,
    /// What changed, rendered when first read (see [`Changes`]).
    changes: Changes,
}

/// An event's changed attributes and relationships, as rules read them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rendered {
    attributes: Vec<AttributeUpdate>,
    relationships: Vec<RelationshipUpdate>,
}

/// The changes of an event from the store's log are rendered the first time a rule
/// reads them: most events (a device's interfaces, created with it) concern no rule,
/// and rendering every value of every event the cascade reads took about 1% of a
/// cascade's CPU, most of it in allocations.
#[derive(Debug, Clone)]
struct Changes {
    rendered: std::sync::OnceLock<Rendered>,
    source: Option<std::sync::Arc<infragen_store::Event>>,
}

impl NodeEvent {
    /// An event with its changes given already rendered.
    pub fn new(
        seq: i64,
        branch: impl Into<String>,
        action: impl Into<String>,
        kind: impl Into<String>,
        id: impl Into<String>,
        attributes: Vec<AttributeUpdate>,
        relationships: Vec<RelationshipUpdate>,
    ) -> Self {
        NodeEvent {
            seq,
            branch: branch.into(),
            action: action.into(),
            kind: kind.into(),
            id: id.into(),
            changes: Changes {
                rendered: std::sync::OnceLock::from(Rendered {
                    attributes,
                    relationships,
                }),
                source: None,
            },
        }
    }

    /// Changed attributes.
    pub fn attributes(&self) -> &[AttributeUpdate] {
        &self.rendered().attributes
    }

    /// Changed relationships.
    pub fn relationships(&self) -> &[RelationshipUpdate] {
        &self.rendered().relationships
    }

    /// Whether the event changes the attribute or relationship `field` of its node.
    pub fn changes(&self, field: &str) -> bool {
        self.attributes().iter().any(|change| change.name == field)
            || self
                .relationships()
                .iter()
                .any(|change| change.name == field)
    }

    fn rendered(&self) -> &Rendered {
        self.changes
            .rendered
            .get_or_init(|| match &self.changes.source {
                Some(event) => render_changes(event),
                // `new` always renders; an event without a source has none to render.
                None => Rendered {
                    attributes: Vec::new(),
                    relationships: Vec::new(),
                },
            })
    }
}

/// Equal when they say the same: an event read from the log equals one given rendered.
impl PartialEq for NodeEvent {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && self.branch == other.branch
            && self.action == other.action
            && self.kind == other.kind
            && self.id == other.id
            && self.rendered() == other.rendered()
    }
}

impl Eq for NodeEvent {}

/// A value as Python's `str()` prints it, `NULL` for none (Infrahub's rendering).
pub fn render_value(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The changes of a stored event as rules see them.
fn render_changes(event: &infragen_store::Event) -> Rendered {
    Rendered {
        attributes: event
            .attributes
            .iter()
            .map(|change| AttributeUpdate {
                name: change.name.clone(),
                value: render_value(&change.value),
                value_previous: render_value(&change.value_previous),
                action: change.action.as_str().to_owned(),
            })
            .collect(),
        relationships: event
            .relationships
            .iter()
            .map(|change| RelationshipUpdate {
                name: change.name.clone(),
                peer_status: change.peer_status.as_str().to_owned(),
                peer_id: change.peer_id.clone(),
            })
            .collect(),
    }
}

impl From<std::sync::Arc<infragen_store::Event>> for NodeEvent {
    fn from(event: std::sync::Arc<infragen_store::Event>) -> Self {
        NodeEvent {
            seq: event.seq,
            branch: event.branch.clone(),
            action: event.action.as_str().to_owned(),
            kind: event.kind.clone(),
            id: event.id.clone(),
            changes: Changes {
                rendered: std::sync::OnceLock::new(),
                source: Some(event),
            },
        }
    }
}

/// Why the events, or a reader's position in them, could not be read or recorded.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the store's events: {0}")]
pub struct FeedError(String);

impl FeedError {
    pub(crate) fn new(message: String) -> Self {
        FeedError(message)
    }
}

/// Where a cascade reads the events its runs (and anyone else) caused.
pub trait EventFeed: Send + Sync {
    /// The position of the newest event (0 when there is none).
    fn last_seq(&self) -> Result<i64, FeedError>;
    /// Every event after position `seq`, oldest first, on any branch.
    fn since(&self, seq: i64) -> Result<Vec<NodeEvent>, FeedError>;
    /// What the reader `name` recorded of its place in the log; `None` where the feed
    /// keeps no places.
    fn place(&self, name: &str) -> Result<Option<String>, FeedError> {
        let _ = name;
        Ok(None)
    }
    /// Records the reader `name`'s place.
    fn set_place(&self, name: &str, place: &str) -> Result<(), FeedError> {
        let _ = (name, place);
        Ok(())
    }
    /// What `branch`'s views stand on besides the events: it changes when the branch
    /// is deleted and made again, or the schema is loaded, which no event records.
    /// `None` where the feed cannot tell; then nothing read on the branch is kept
    /// between batches of runs.
    fn epoch(&self, branch: &str) -> Result<Option<String>, FeedError> {
        let _ = branch;
        Ok(None)
    }
}

impl EventFeed for Store {
    fn last_seq(&self) -> Result<i64, FeedError> {
        self.last_event_seq()
            .map_err(|error| FeedError(error.to_string()))
    }

    fn since(&self, seq: i64) -> Result<Vec<NodeEvent>, FeedError> {
        Ok(self
            .shared_events_since(seq)
            .map_err(|error| FeedError(error.to_string()))?
            .into_iter()
            .map(NodeEvent::from)
            .collect())
    }

    fn epoch(&self, branch: &str) -> Result<Option<String>, FeedError> {
        let schema = self.schema();
        if branch == infragen_store::MAIN {
            return Ok(Some(format!("schema {}", schema.hash)));
        }
        Ok(self
            .branch_origin(branch)
            .map_err(|error| FeedError(error.to_string()))?
            .map(|(seq, at)| {
                format!(
                    "schema {}, branch made after event {seq} at {at}",
                    schema.hash
                )
            }))
    }

    fn place(&self, name: &str) -> Result<Option<String>, FeedError> {
        self.reader_position(name)
            .map_err(|error| FeedError(error.to_string()))
    }

    fn set_place(&self, name: &str, place: &str) -> Result<(), FeedError> {
        self.set_reader_position(name, place)
            .map_err(|error| FeedError(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An event read from the store's log shows rules its changes rendered as one given
    /// rendered does, Python's way.
    #[test]
    fn a_stored_event_renders_its_changes_when_read() {
        let stored = std::sync::Arc::new(infragen_store::Event {
            seq: 7,
            name: "infrahub.node.updated".into(),
            branch: "br1".into(),
            action: infragen_store::events::Action::Updated,
            kind: "NetworkDevice".into(),
            id: "d1".into(),
            origin: "live".into(),
            attributes: vec![infragen_store::events::AttributeChange {
                name: "enabled".into(),
                kind: "Boolean".into(),
                value: json!(false),
                value_previous: Value::Null,
                action: infragen_store::events::AttributeAction::Added,
            }],
            relationships: vec![infragen_store::events::RelationshipChange {
                name: "interfaces".into(),
                peer_status: infragen_store::events::PeerStatus::Removed,
                peer_id: "i1".into(),
                peer_kind: "NetworkInterface".into(),
            }],
        });
        let read = NodeEvent::from(stored);
        let given = NodeEvent::new(
            7,
            "br1",
            "updated",
            "NetworkDevice",
            "d1",
            vec![AttributeUpdate {
                name: "enabled".into(),
                value: "False".into(),
                value_previous: "NULL".into(),
                action: "added".into(),
            }],
            vec![RelationshipUpdate {
                name: "interfaces".into(),
                peer_status: "removed".into(),
                peer_id: "i1".into(),
            }],
        );
        assert_eq!(read.attributes(), given.attributes());
        assert_eq!(read.relationships(), given.relationships());
        assert_eq!(read, given);
    }

    #[test]
    fn values_render_as_python_prints_them() {
        assert_eq!(render_value(&Value::Null), "NULL");
        assert_eq!(render_value(&json!(true)), "True");
        assert_eq!(render_value(&json!(false)), "False");
        assert_eq!(render_value(&json!(4)), "4");
        assert_eq!(render_value(&json!("cpu")), "cpu");
    }
}
