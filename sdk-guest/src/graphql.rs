//! Read-only GraphQL on the run's branch (the contract's `graphql` interface).
//!
//! [`query`] returns the response's `data` as a [`Value`]; [`query_as`] deserializes it
//! straight into a type of the plugin's own, built from [`Connection`], [`Attribute`] and
//! [`Related`] for the shapes Infrahub answers with. The second builds no `Value` tree and
//! copies nothing: for a query returning hundreds of nodes (a pod's interfaces, say), most
//! of what the plugin spends on reading the answer.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// Runs a read-only GraphQL `document` with `variables` (anything that
/// serialises to a JSON object, e.g. `json!({"name": "Fabric-A"})`) and
/// returns the response's `data` member.
///
/// Mutations are refused by the host with `permission-denied`: writes go
/// through [`nodes`](crate::nodes) so that they are tracked.
pub fn query(document: &str, variables: impl Serialize) -> Result<Value> {
    let data = answer(document, variables)?;
    serde_json::from_str(&data)
        .map_err(|error| Error::invalid_input(format!("GraphQL response is not JSON: {error}")))
}

/// [`query`], with the response's `data` deserialized into `T`: fields the document
/// selects and `T` does not name are skipped, and a field `T` names that the answer lacks
/// (or holds in another shape) is an `invalid-input` error naming it.
///
/// ```no_run
/// use infragen_sdk::graphql::{self, Attribute, Connection, Related};
/// use serde::Deserialize;
/// use serde_json::json;
///
/// #[derive(Deserialize)]
/// struct Interfaces {
///     #[serde(rename = "NetworkInterface")]
///     interfaces: Connection<Interface>,
/// }
///
/// #[derive(Deserialize)]
/// struct Interface {
///     id: String,
///     name: Attribute<String>,
///     device: Related,
/// }
///
/// # fn run() -> infragen_sdk::Result<()> {
/// let answer: Interfaces = graphql::query_as(
///     "query ($devices: [ID]) { NetworkInterface(device__ids: $devices) { \
///      edges { node { id name { value } device { node { id } } } } } }",
///     json!({"devices": ["18a5…"]}),
/// )?;
/// for interface in answer.interfaces.into_nodes() {
///     let name = interface.name.value.unwrap_or_default();
///     let device = interface.device.id().unwrap_or_default();
///     infragen_sdk::info!("{device}: {name}");
/// }
/// # Ok(())
/// # }
/// ```
pub fn query_as<T: DeserializeOwned>(document: &str, variables: impl Serialize) -> Result<T> {
    let data = answer(document, variables)?;
    parse_as(&data)
}

/// The host's answer to `document` with `variables`: the response's `data`, as JSON text.
fn answer(document: &str, variables: impl Serialize) -> Result<String> {
    let variables = crate::json_object(&variables, "GraphQL variables")?;
    Ok(crate::bindings::infragen::generator::graphql::query(
        document, &variables,
    )?)
}

/// `data` (a response's `data` member, as JSON text) as a `T`.
fn parse_as<T: DeserializeOwned>(data: &str) -> Result<T> {
    serde_json::from_str(data).map_err(|error| {
        Error::invalid_input(format!(
            "GraphQL response does not have the shape asked for: {error}"
        ))
    })
}

/// A list of nodes as Infrahub answers it: `{"edges": [{"node": …}, …]}` (the top level of
/// a query, and a cardinality-many relationship).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Connection<N> {
    /// The nodes, each in its edge.
    pub edges: Vec<Edge<N>>,
}

impl<N> Connection<N> {
    /// The nodes, in the answer's order.
    pub fn into_nodes(self) -> impl Iterator<Item = N> {
        self.edges.into_iter().map(|edge| edge.node)
    }

    /// The nodes, borrowed, in the answer's order.
    pub fn nodes(&self) -> impl Iterator<Item = &N> {
        self.edges.iter().map(|edge| &edge.node)
    }
}

/// One node of a [`Connection`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Edge<N> {
    /// The node.
    pub node: N,
}

/// An attribute as a query selects its value: `{"value": …}`, the value `None` when the
/// attribute is unset (Infrahub answers `null`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Attribute<T> {
    /// The value.
    pub value: Option<T>,
}

/// A cardinality-one relationship as a query selects its peer's id: `{"node": {"id": …}}`,
/// the node `None` when the relationship is unset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Related {
    /// The peer.
    pub node: Option<Peer>,
}

impl Related {
    /// The peer's id, when there is a peer.
    pub fn id(&self) -> Option<&str> {
        self.node.as_ref().map(|peer| peer.id.as_str())
    }
}

/// The peer of a [`Related`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Peer {
    /// Its id.
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Interfaces {
        #[serde(rename = "NetworkInterface")]
        interfaces: Connection<Interface>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Interface {
        id: String,
        name: Attribute<String>,
        mtu: Attribute<i64>,
        device: Related,
    }

    #[test]
    fn an_answer_reads_into_the_plugin_s_types_skipping_what_they_do_not_name() {
        let data = r#"{"NetworkInterface": {"count": 2, "edges": [
            {"node": {"id": "i1", "__typename": "NetworkInterface", "name": {"value": "Ethernet1"},
                      "mtu": {"value": 9000}, "device": {"node": {"id": "d1", "hfid": ["leaf1"]}}}},
            {"node": {"id": "i2", "name": {"value": "Ethernet2"}, "mtu": {"value": null},
                      "device": {"node": null}}}
        ]}}"#;
        let answer: Interfaces = parse_as(data).unwrap();
        let interfaces: Vec<Interface> = answer.interfaces.into_nodes().collect();
        assert_eq!(
            interfaces,
            [
                Interface {
                    id: "i1".into(),
                    name: Attribute {
                        value: Some("Ethernet1".into())
                    },
                    mtu: Attribute { value: Some(9000) },
                    device: Related {
                        node: Some(Peer { id: "d1".into() })
                    },
                },
                Interface {
                    id: "i2".into(),
                    name: Attribute {
                        value: Some("Ethernet2".into())
                    },
                    mtu: Attribute { value: None },
                    device: Related { node: None },
                },
            ]
        );
        assert_eq!(interfaces[0].device.id(), Some("d1"));
        assert_eq!(interfaces[1].device.id(), None);
    }

    #[test]
    fn an_answer_of_another_shape_is_invalid_input_naming_the_field() {
        let missing = r#"{"NetworkInterface": {"edges": [{"node": {"id": "i1", "name": {"value": "e1"}, "mtu": {"value": 1}}}]}}"#;
        let error = parse_as::<Interfaces>(missing).unwrap_err();
        assert_eq!(
            error,
            Error::invalid_input(
                "GraphQL response does not have the shape asked for: missing field `device` at line 1 column 99"
            )
        );
        let wrong =
            r#"{"NetworkInterface": {"edges": [{"node": {"id": "i1", "name": {"value": 7}}}]}}"#;
        let error = parse_as::<Interfaces>(wrong).unwrap_err();
        assert_eq!(
            error,
            Error::invalid_input(
                "GraphQL response does not have the shape asked for: invalid type: integer `7`, expected a string at line 1 column 73"
            )
        );
    }
}
