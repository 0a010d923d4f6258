//! Reading nodes in Infrahub's query shape.
//!
//! `nodes::get`, `nodes::filters` and GraphQL queries return nodes as
//! Infrahub does:
//!
//! ```json
//! {
//!   "id": "…", "hfid": ["leaf1"], "display_label": "leaf1", "__typename": "NetworkDevice",
//!   "name":   {"value": "leaf1"},
//!   "site":   {"node": {"id": "…", "__typename": "LocationSite"}},
//!   "interfaces": {"edges": [{"node": {"id": "…"}}, …]}
//! }
//! ```
//!
//! [`Node`] reads that shape so that generator code says
//! `device.attr_str("name")` rather than `device["name"]["value"].as_str()`.

use serde_json::Value;

/// One node as Infrahub's query returns it, with accessors for its
/// attributes and relationships.
///
/// Accessors return `None` (or an empty list) when a field is absent, null or
/// of another type, leaving it to the generator to decide whether that is a
/// gate failure; [`Node::json`] gives the raw JSON for anything else.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    json: Value,
}

impl Node {
    /// Wraps the JSON of one node.
    pub fn new(json: Value) -> Self {
        Node { json }
    }

    /// The nodes of a connection (`{"edges": [{"node": …}, …]}`), the shape of
    /// a query's top-level result (`data["NetworkDevice"]`) and of a
    /// cardinality-many relationship. Anything else gives an empty list.
    pub fn from_edges(connection: &Value) -> Vec<Node> {
        edges(connection)
            .map(|node| Node::new(node.clone()))
            .collect()
    }

    /// The raw JSON.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The raw JSON, by value.
    pub fn into_json(self) -> Value {
        self.json
    }

    /// The node's id.
    pub fn id(&self) -> Option<&str> {
        self.json.get("id")?.as_str()
    }

    /// The node's schema kind, from `__typename`.
    pub fn kind(&self) -> Option<&str> {
        self.json.get("__typename")?.as_str()
    }

    /// The human-friendly id, one element per component; empty when the kind
    /// has none or the query did not ask for it.
    pub fn hfid(&self) -> Vec<&str> {
        match self.json.get("hfid") {
            Some(Value::Array(parts)) => parts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// What a person would call the node (`display_label`).
    pub fn display_label(&self) -> Option<&str> {
        self.json.get("display_label")?.as_str()
    }

    /// The value of attribute `name` (`{"name": {"value": …}}`). `None` when
    /// the attribute is absent or its value is null, which is how Infrahub
    /// reports an unset optional attribute.
    pub fn attr_value(&self, name: &str) -> Option<&Value> {
        match self.json.get(name)?.get("value")? {
            Value::Null => None,
            value => Some(value),
        }
    }

    /// The value of a text or dropdown attribute.
    pub fn attr_str(&self, name: &str) -> Option<&str> {
        self.attr_value(name)?.as_str()
    }

    /// The value of a number attribute.
    pub fn attr_i64(&self, name: &str) -> Option<i64> {
        self.attr_value(name)?.as_i64()
    }

    /// The value of a boolean attribute.
    pub fn attr_bool(&self, name: &str) -> Option<bool> {
        self.attr_value(name)?.as_bool()
    }

    /// The peer id of the cardinality-one relationship `name`
    /// (`{"site": {"node": {"id": …}}}`); `None` when unset.
    pub fn rel_id(&self, name: &str) -> Option<&str> {
        self.json.get(name)?.get("node")?.get("id")?.as_str()
    }

    /// The peer ids of the cardinality-many relationship `name`
    /// (`{"interfaces": {"edges": [{"node": {"id": …}}]}}`), in the order the
    /// backend returned them.
    pub fn rel_ids(&self, name: &str) -> Vec<&str> {
        match self.json.get(name) {
            Some(connection) => edges(connection)
                .filter_map(|node| node.get("id")?.as_str())
                .collect(),
            None => Vec::new(),
        }
    }

    /// The peer of the cardinality-one relationship `name`, with whatever
    /// fields the query selected on it; `None` when unset.
    pub fn rel_node(&self, name: &str) -> Option<Node> {
        match self.json.get(name)?.get("node")? {
            Value::Null => None,
            peer => Some(Node::new(peer.clone())),
        }
    }

    /// The peers of the cardinality-many relationship `name`.
    pub fn rel_nodes(&self, name: &str) -> Vec<Node> {
        match self.json.get(name) {
            Some(connection) => Node::from_edges(connection),
            None => Vec::new(),
        }
    }
}

impl From<Value> for Node {
    fn from(json: Value) -> Self {
        Node::new(json)
    }
}

/// The `node` of each edge of a connection, skipping null nodes.
fn edges(connection: &Value) -> impl Iterator<Item = &Value> {
    connection
        .get("edges")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|edge| edge.get("node"))
        .filter(|node| !node.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A device as `nodes::get("NetworkDevice", …, ["interfaces"])` returns it
    /// from Infrahub.
    fn leaf() -> Node {
        Node::new(json!({
            "id": "1870e0b4-5f61-4bb5-a3d1-c5100e0b7a4e",
            "hfid": ["leaf-pod-a1-1"],
            "display_label": "leaf-pod-a1-1",
            "__typename": "NetworkDevice",
            "name": {"value": "leaf-pod-a1-1"},
            "index": {"value": 1},
            "role": {"value": "leaf"},
            "description": {"value": null},
            "is_managed": {"value": true},
            "site": {"node": {
                "id": "1870e0b4-0000-4000-8000-00000000517e",
                "display_label": "DC-1",
                "__typename": "LocationSite",
                "name": {"value": "DC-1"}
            }},
            "platform": {"node": null},
            "interfaces": {"edges": [
                {"node": {"id": "if-1", "__typename": "NetworkInterface", "name": {"value": "Ethernet1"}}},
                {"node": {"id": "if-2", "__typename": "NetworkInterface", "name": {"value": "Ethernet2"}}}
            ]}
        }))
    }

    #[test]
    fn identity_fields() {
        let leaf = leaf();
        assert_eq!(leaf.id(), Some("1870e0b4-5f61-4bb5-a3d1-c5100e0b7a4e"));
        assert_eq!(leaf.kind(), Some("NetworkDevice"));
        assert_eq!(leaf.hfid(), vec!["leaf-pod-a1-1"]);
        assert_eq!(leaf.display_label(), Some("leaf-pod-a1-1"));
    }

    #[test]
    fn attributes_by_type() {
        let leaf = leaf();
        assert_eq!(leaf.attr_value("name"), Some(&json!("leaf-pod-a1-1")));
        assert_eq!(leaf.attr_str("role"), Some("leaf"));
        assert_eq!(leaf.attr_i64("index"), Some(1));
        assert_eq!(leaf.attr_bool("is_managed"), Some(true));
    }

    #[test]
    fn absent_null_and_mistyped_attributes_are_none() {
        let leaf = leaf();
        assert_eq!(leaf.attr_value("description"), None, "null value");
        assert_eq!(leaf.attr_value("serial"), None, "not selected");
        assert_eq!(leaf.attr_i64("name"), None, "text read as number");
        assert_eq!(leaf.attr_str("index"), None, "number read as text");
        assert_eq!(leaf.attr_bool("role"), None);
    }

    #[test]
    fn cardinality_one_relationship() {
        let leaf = leaf();
        assert_eq!(
            leaf.rel_id("site"),
            Some("1870e0b4-0000-4000-8000-00000000517e")
        );
        let site = leaf.rel_node("site").unwrap();
        assert_eq!(site.kind(), Some("LocationSite"));
        assert_eq!(site.attr_str("name"), Some("DC-1"));
        assert_eq!(leaf.rel_id("platform"), None, "unset peer");
        assert_eq!(leaf.rel_node("platform"), None, "unset peer");
        assert_eq!(leaf.rel_id("rack"), None, "not selected");
    }

    #[test]
    fn cardinality_many_relationship() {
        let leaf = leaf();
        assert_eq!(leaf.rel_ids("interfaces"), vec!["if-1", "if-2"]);
        let names: Vec<_> = leaf
            .rel_nodes("interfaces")
            .iter()
            .map(|i| i.attr_str("name").unwrap().to_string())
            .collect();
        assert_eq!(names, ["Ethernet1", "Ethernet2"]);
        assert!(leaf.rel_ids("links").is_empty());
        assert!(leaf.rel_nodes("site").is_empty(), "card-one has no edges");
    }

    #[test]
    fn hfid_is_empty_when_absent_or_null() {
        assert!(Node::new(json!({"id": "x"})).hfid().is_empty());
        assert!(
            Node::new(json!({"id": "x", "hfid": null}))
                .hfid()
                .is_empty()
        );
        assert_eq!(
            Node::new(json!({"hfid": ["ss-fabric-a-1", "Ethernet28"]})).hfid(),
            ["ss-fabric-a-1", "Ethernet28"]
        );
    }

    #[test]
    fn top_level_query_result_reads_as_edges() {
        let data = json!({"DesignPod": {"edges": [
            {"node": {"id": "p1", "name": {"value": "Pod-A1"}}},
            {"node": null},
            {"node": {"id": "p2", "name": {"value": "Pod-A2"}}}
        ]}});
        let pods = Node::from_edges(&data["DesignPod"]);
        let ids: Vec<_> = pods.iter().map(|p| p.id().unwrap()).collect();
        assert_eq!(ids, ["p1", "p2"]);
        assert!(Node::from_edges(&json!(null)).is_empty());
        assert!(Node::from_edges(&json!({"edges": "nope"})).is_empty());
    }
}
