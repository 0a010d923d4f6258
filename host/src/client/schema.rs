//! What the client needs to know of the schema: the fields of each kind, to
//! build query selections the way the Python SDK does.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

/// A relationship of a kind, as far as query selections care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationshipField {
    /// Relationship name.
    pub name: String,
    /// Cardinality one (`{ node }`) rather than many (`{ edges }`).
    pub cardinality_one: bool,
    /// Card-many relationships of kind Attribute or Parent are selected by
    /// default; others only when asked for with `include`.
    pub listed_by_default: bool,
    /// The kind of its peers, when the schema says.
    pub peer: Option<String>,
}

/// The fields of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindFields {
    /// Attribute names, in schema order.
    pub attributes: Vec<String>,
    /// The attributes of kind `Text`, whose `__value` filter takes a `String`.
    pub text_attributes: Vec<String>,
    /// Relationships, in schema order.
    pub relationships: Vec<RelationshipField>,
    /// The paths of its human-friendly id (`name__value`, `device__name__value`), empty
    /// when it has none.
    pub human_friendly_id: Vec<String>,
}

impl KindFields {
    /// The filters that find the node an upsert of `data` lands on by its natural key
    /// (Infrahub matches an upsert without `id` by its human-friendly id), or `None` when
    /// `data` does not spell the key out in a way a filter can follow (a kind without a
    /// human-friendly id, a part missing). A relationship part may name its peer by `id`,
    /// or by `hfid` when `peer_key` gives the peer kind's human-friendly id.
    pub fn natural_key_filters<'a>(
        &self,
        data: &Value,
        peer_key: impl Fn(&str) -> Option<&'a [String]>,
    ) -> Option<serde_json::Map<String, Value>> {
        if self.human_friendly_id.is_empty() {
            return None;
        }
        let mut filters = serde_json::Map::new();
        if let Some(Value::Array(values)) = data.get("hfid") {
            // The key given whole, in the order of the schema's paths.
            if values.len() != self.human_friendly_id.len() {
                return None;
            }
            for (path, value) in self.human_friendly_id.iter().zip(values) {
                filters.insert(path.clone(), value.clone());
            }
            return Some(filters);
        }
        for path in &self.human_friendly_id {
            let parts: Vec<&str> = path.split("__").collect();
            match parts.as_slice() {
                [attribute, property] => {
                    let field = data.get(*attribute)?;
                    let value = match field {
                        Value::Object(map) => map.get(*property)?,
                        scalar => scalar,
                    };
                    filters.insert(path.clone(), value.clone());
                }
                [relationship, attribute, property] => {
                    let peer = data.get(*relationship)?;
                    if let Some(id) = peer.get("id").and_then(Value::as_str) {
                        filters.insert(format!("{relationship}__ids"), Value::from(vec![id]));
                        continue;
                    }
                    // The peer by its own key: the part of it this path names.
                    let Value::Array(values) = peer.get("hfid")? else {
                        return None;
                    };
                    let key = peer_key(relationship)?;
                    if values.len() != key.len() {
                        return None;
                    }
                    let at = key
                        .iter()
                        .position(|part| *part == format!("{attribute}__{property}"))?;
                    filters.insert(path.clone(), values[at].clone());
                }
                _ => return None,
            }
        }
        Some(filters)
    }
}

/// The kinds of one branch's schema.
#[derive(Debug, Clone, Default)]
pub struct SchemaIndex {
    kinds: HashMap<String, KindFields>,
}

#[derive(Deserialize)]
struct SchemaDocument {
    #[serde(default)]
    nodes: Vec<KindDocument>,
    #[serde(default)]
    generics: Vec<KindDocument>,
    #[serde(default)]
    profiles: Vec<KindDocument>,
    #[serde(default)]
    templates: Vec<KindDocument>,
}

#[derive(Deserialize)]
struct KindDocument {
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    #[serde(default)]
    attributes: Vec<AttributeDocument>,
    #[serde(default)]
    relationships: Vec<RelationshipDocument>,
    #[serde(default)]
    human_friendly_id: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct AttributeDocument {
    name: String,
    #[serde(default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct RelationshipDocument {
    name: String,
    #[serde(default)]
    cardinality: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    peer: Option<String>,
}

impl SchemaIndex {
    /// Reads a schema in the shape of Infrahub's `GET /api/schema`.
    pub fn from_json(schema: Value) -> Result<SchemaIndex, String> {
        let document: SchemaDocument = serde_json::from_value(schema)
            .map_err(|error| format!("the schema is not in Infrahub's shape: {error}"))?;
        let mut kinds = HashMap::new();
        let all = document
            .nodes
            .into_iter()
            .chain(document.generics)
            .chain(document.profiles)
            .chain(document.templates);
        for kind in all {
            let Some(name) = kind
                .kind
                .or_else(|| Some(format!("{}{}", kind.namespace?, kind.name?)))
            else {
                continue;
            };
            let text_attributes = kind
                .attributes
                .iter()
                .filter(|a| a.kind.as_deref() == Some("Text"))
                .map(|a| a.name.clone())
                .collect();
            let fields = KindFields {
                attributes: kind.attributes.into_iter().map(|a| a.name).collect(),
                text_attributes,
                relationships: kind
                    .relationships
                    .into_iter()
                    .map(|r| {
                        let cardinality_one = r.cardinality.as_deref() == Some("one");
                        let listed = matches!(r.kind.as_deref(), Some("Attribute" | "Parent"));
                        RelationshipField {
                            name: r.name,
                            cardinality_one,
                            listed_by_default: listed,
                            peer: r.peer,
                        }
                    })
                    .collect(),
                human_friendly_id: kind.human_friendly_id.unwrap_or_default(),
            };
            kinds.insert(name, fields);
        }
        Ok(SchemaIndex { kinds })
    }

    /// The fields of `kind`, if the schema has it.
    pub fn kind(&self, kind: &str) -> Option<&KindFields> {
        self.kinds.get(kind)
    }

    /// [`KindFields::natural_key_filters`] of `kind`, its peers' keys read from this schema.
    pub fn natural_key_filters(
        &self,
        kind: &str,
        data: &Value,
    ) -> Option<serde_json::Map<String, Value>> {
        let fields = self.kind(kind)?;
        fields.natural_key_filters(data, |relationship| {
            let peer = fields
                .relationships
                .iter()
                .find(|r| r.name == relationship)?
                .peer
                .as_deref()?;
            Some(self.kind(peer)?.human_friendly_id.as_slice())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keyed(hfid: &[&str]) -> KindFields {
        KindFields {
            human_friendly_id: hfid.iter().map(|p| p.to_string()).collect(),
            ..KindFields::default()
        }
    }

    fn object(value: Value) -> Option<serde_json::Map<String, Value>> {
        value.as_object().cloned()
    }

    fn no_peers(_: &str) -> Option<&'static [String]> {
        None
    }

    #[test]
    fn an_upserts_natural_key_becomes_the_filters_that_find_its_node() {
        let interface = keyed(&["device__name__value", "name__value"]);
        let data = json!({"name": {"value": "eth1"}, "device": {"id": "d1"}});
        assert_eq!(
            interface.natural_key_filters(&data, no_peers),
            object(json!({"device__ids": ["d1"], "name__value": "eth1"}))
        );
        assert_eq!(
            interface.natural_key_filters(&json!({"hfid": ["leaf1", "eth1"]}), no_peers),
            object(json!({"device__name__value": "leaf1", "name__value": "eth1"}))
        );
        assert_eq!(
            keyed(&["name__value"]).natural_key_filters(&json!({"name": "spine1"}), no_peers),
            object(json!({"name__value": "spine1"}))
        );
    }

    #[test]
    fn a_peer_named_by_its_own_key_is_filtered_by_the_part_the_path_names() {
        let device_key = vec!["name__value".to_owned()];
        let interface = keyed(&["device__name__value", "name__value"]);
        let data = json!({"name": {"value": "eth1"}, "device": {"hfid": ["leaf1"]}});
        let filters = interface.natural_key_filters(&data, |relationship| {
            (relationship == "device").then_some(device_key.as_slice())
        });
        assert_eq!(
            filters,
            object(json!({"device__name__value": "leaf1", "name__value": "eth1"}))
        );
    }

    #[test]
    fn a_natural_key_the_data_does_not_spell_out_gives_no_filters() {
        let interface = keyed(&["device__name__value", "name__value"]);
        // The device by its own key, with no schema to read that key from.
        let by_hfid = json!({"name": {"value": "eth1"}, "device": {"hfid": ["leaf1"]}});
        assert_eq!(interface.natural_key_filters(&by_hfid, no_peers), None);
        let no_device = json!({"name": {"value": "eth1"}});
        assert_eq!(interface.natural_key_filters(&no_device, no_peers), None);
        let short = json!({"hfid": ["eth1"]});
        assert_eq!(interface.natural_key_filters(&short, no_peers), None);
        let unkeyed = json!({"name": {"value": "x"}});
        assert_eq!(keyed(&[]).natural_key_filters(&unkeyed, no_peers), None);
    }

    #[test]
    fn kinds_are_read_from_nodes_and_generics_with_relationship_cardinality() {
        let index = SchemaIndex::from_json(json!({
            "nodes": [{
                "kind": "NetworkDevice",
                "attributes": [{"name": "name"}, {"name": "role"}],
                "relationships": [
                    {"name": "pod", "cardinality": "one", "kind": "Attribute", "peer": "NetworkPod"},
                    {"name": "interfaces", "cardinality": "many", "kind": "Component"},
                    {"name": "tags", "cardinality": "many", "kind": "Attribute"},
                ]
            }],
            "generics": [{"namespace": "Dcim", "name": "Interface", "attributes": [{"name": "name"}]}]
        }))
        .expect("valid schema");
        let device = index.kind("NetworkDevice").expect("device");
        assert_eq!(device.attributes, ["name", "role"]);
        assert_eq!(
            device.relationships,
            vec![
                RelationshipField {
                    name: "pod".into(),
                    cardinality_one: true,
                    listed_by_default: true,
                    peer: Some("NetworkPod".into()),
                },
                RelationshipField {
                    name: "interfaces".into(),
                    cardinality_one: false,
                    listed_by_default: false,
                    peer: None,
                },
                RelationshipField {
                    name: "tags".into(),
                    cardinality_one: false,
                    listed_by_default: true,
                    peer: None,
                },
            ]
        );
        assert_eq!(
            index.kind("DcimInterface").expect("generic").attributes,
            ["name"]
        );
        assert!(index.kind("Missing").is_none());
    }
}
