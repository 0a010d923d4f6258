//! Tracked writes and reads of schema nodes (the contract's `nodes`
//! interface).
//!
//! Payloads are anything that serialises to a JSON object in Infrahub's
//! mutation input form: a `json!({...})` or a `#[derive(Serialize)]` struct.
//! Errors from the host are returned unchanged, so a plugin can branch on
//! their [`ErrorKind`](crate::ErrorKind).

use serde::Serialize;
use serde_json::Value;

use crate::bindings::infragen::generator::nodes as host;
use crate::{Error, Node, NodeRef, Result};

/// Creates or updates a node of `kind` (Infrahub's `<Kind>Upsert`) and tracks
/// it. `data` is a JSON object in input form, e.g.
/// `json!({"name": {"value": "leaf1"}, "site": {"id": site_id}})`.
pub fn upsert(kind: &str, data: impl Serialize) -> Result<NodeRef> {
    let data = crate::json_object(&data, "upsert data")?;
    Ok(host::upsert(kind, &data)?)
}

/// Updates an existing node (Infrahub's `<Kind>Update`) and tracks it. `data`
/// must contain `id` or `hfid`; only the fields it names change.
pub fn update(kind: &str, data: impl Serialize) -> Result<NodeRef> {
    let data = crate::json_object(&data, "update data")?;
    Ok(host::update(kind, &data)?)
}

/// Deletes a node this generator's tracking group owns for the current
/// target. A node that no longer exists is `not-found`.
pub fn delete(kind: &str, id: &str) -> Result<()> {
    Ok(host::delete(kind, id)?)
}

/// The one node of `kind` matching `filters` ([`Filter`](crate::Filter) or a
/// JSON object); `None` when there is none, `invalid-input` when several
/// match. `include` names cardinality-many relationships to return as well.
pub fn get(kind: &str, filters: impl Serialize, include: &[&str]) -> Result<Option<Node>> {
    let filters = crate::json_object(&filters, "filters")?;
    match host::get(kind, &filters, &owned(include))? {
        Some(json) => Ok(Some(Node::new(parse(kind, &json)?))),
        None => Ok(None),
    }
}

/// Every node of `kind` matching `filters`, all pages, ordered by the kind's
/// `order_by`, then id.
///
/// Each node comes in Infrahub's default selection: every attribute, the
/// node's hfid and display label, and each cardinality-one peer with its id,
/// hfid and display label. To read a few fields of many nodes, ask
/// [`graphql::query`](crate::graphql::query) for just those: the AI/DC
/// generators read interfaces that way, and a seed build takes ~7% fewer
/// instructions than with this call.
pub fn filters(kind: &str, filters: impl Serialize, include: &[&str]) -> Result<Vec<Node>> {
    let filters = crate::json_object(&filters, "filters")?;
    match parse(kind, &host::filters(kind, &filters, &owned(include))?)? {
        Value::Array(nodes) => Ok(nodes.into_iter().map(Node::new).collect()),
        other => Err(Error::invalid_input(format!(
            "filters({kind}) returned {other} instead of a JSON array"
        ))),
    }
}

/// Adds `peers` (node ids) to the cardinality-many relationship `name` of
/// node `id`. Tracks nothing: it creates no node.
pub fn relationship_add<S: AsRef<str>>(
    id: &str,
    name: &str,
    peers: impl IntoIterator<Item = S>,
) -> Result<()> {
    Ok(host::relationship_add(id, name, &collect(peers))?)
}

/// Removes `peers` from the relationship `name` of node `id`. Tracks nothing.
pub fn relationship_remove<S: AsRef<str>>(
    id: &str,
    name: &str,
    peers: impl IntoIterator<Item = S>,
) -> Result<()> {
    Ok(host::relationship_remove(id, name, &collect(peers))?)
}

/// Writes one attribute of a node the generator does not own (typically a
/// downstream target), *without* tracking it: the stamped node never becomes
/// part of this run's output, so a later run cannot delete it. Writes nothing
/// and fires no trigger when the stored value already equals `value`.
/// Returns whether the value changed.
pub fn stamp(kind: &str, id: &str, attribute: &str, value: impl Serialize) -> Result<bool> {
    let value = serde_json::to_string(&value)?;
    Ok(host::stamp(kind, id, attribute, &value)?)
}

/// Stamps `checksum` (from [`tracking::checksum`](crate::tracking::checksum))
/// on the `checksum` attribute of node `id`: the usual way to tell a
/// downstream generator that its input changed. Returns whether it changed.
pub fn stamp_checksum(kind: &str, id: &str, checksum: &str) -> Result<bool> {
    stamp(kind, id, CHECKSUM_ATTRIBUTE, checksum)
}

/// The attribute [`stamp_checksum`] writes.
pub const CHECKSUM_ATTRIBUTE: &str = "checksum";

fn owned(include: &[&str]) -> Vec<String> {
    include.iter().map(|name| name.to_string()).collect()
}

fn collect<S: AsRef<str>>(peers: impl IntoIterator<Item = S>) -> Vec<String> {
    peers
        .into_iter()
        .map(|id| id.as_ref().to_string())
        .collect()
}

fn parse(kind: &str, json: &str) -> Result<Value> {
    serde_json::from_str(json).map_err(|error| {
        Error::invalid_input(format!("{kind} node from the host is not JSON: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_stamped_as_a_json_string() {
        // What `stamp_checksum` sends as `value`: the WIT wants the
        // attribute's value as JSON, so a string arrives quoted.
        let checksum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(
            serde_json::to_string(&checksum).unwrap(),
            format!("\"{checksum}\"")
        );
        assert_eq!(CHECKSUM_ATTRIBUTE, "checksum");
    }

    #[test]
    fn peers_accept_strs_and_strings() {
        assert_eq!(collect(["a", "b"]), ["a", "b"]);
        assert_eq!(collect(vec!["c".to_string()]), ["c"]);
        assert_eq!(owned(&["parts"]), ["parts"]);
    }

    #[test]
    fn host_json_that_does_not_parse_is_invalid_input() {
        let error = parse("NetworkDevice", "{").unwrap_err();
        assert_eq!(error.kind, crate::ErrorKind::InvalidInput);
        assert!(
            error
                .message
                .starts_with("NetworkDevice node from the host is not JSON")
        );
    }
}
