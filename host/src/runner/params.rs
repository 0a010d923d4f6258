//! A definition's `parameters` read off its target: `{fabric_name:
//! "name__value"}` on Fabric-A gives `{"fabric_name": "Fabric-A"}`, and
//! `site__name__value` follows the card-one relationship `site` first.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::RunnerError;
use crate::backend::Backend;

/// A node's JSON as the backend returns it, fetched by id.
async fn fetch(
    backend: &dyn Backend,
    branch: &str,
    kind: &str,
    id: &str,
) -> Result<Value, RunnerError> {
    backend
        .node_by_id(branch, kind, id)
        .await
        .map_err(|error| RunnerError::backend(format!("reading {kind} {id}"), &error))?
        .ok_or_else(|| {
            RunnerError::Target(format!("{kind} {id} does not exist on branch {branch}"))
        })
}

/// What identifies the parameters read off target `id` along the paths [`paths_key`]
/// gives (see [`super::KnownParams`]).
pub fn cache_key(id: &str, paths: &str) -> String {
    let mut key = String::with_capacity(id.len() + 1 + paths.len());
    write_cache_key(&mut key, id, paths);
    key
}

/// [`cache_key`] written into `key`, replacing what it held: one buffer for every member
/// of a group.
pub fn write_cache_key(key: &mut String, id: &str, paths: &str) {
    key.clear();
    key.push_str(id);
    key.push(' ');
    key.push_str(paths);
}

/// A definition's parameter paths, as one text (`variable=path,…`): made once per
/// definition prepared, not once per target.
pub fn paths_key(parameters: &BTreeMap<String, Value>) -> String {
    let paths: Vec<String> = parameters
        .iter()
        .map(|(variable, path)| format!("{variable}={path}"))
        .collect();
    paths.join(",")
}

/// A field read off a node for a parameter: (the node's id, the attribute or
/// relationship read). A change to another field of the node leaves the parameter as
/// it was (see [`super::KnownParams`]).
pub type FieldRead = (String, String);

/// Extracts every parameter of `parameters` from the target `kind`/`id`; adds each
/// field read to `read` (the target's, and the peers' on relationship paths).
pub async fn extract(
    backend: &dyn Backend,
    branch: &str,
    kind: &str,
    id: &str,
    label: &str,
    parameters: &BTreeMap<String, Value>,
    read: &mut Vec<FieldRead>,
) -> Result<Map<String, Value>, RunnerError> {
    let mut values = Map::new();
    if parameters.is_empty() {
        return Ok(values);
    }
    let target = fetch(backend, branch, kind, id).await?;
    for (variable, path) in parameters {
        let Some(path) = path.as_str() else {
            return Err(RunnerError::Definition(format!(
                "parameter `{variable}` must be a path such as \"name__value\", not {path}"
            )));
        };
        let start = Start {
            node: &target,
            kind,
            id,
            label,
        };
        let value = walk(backend, branch, &start, path, read).await?;
        values.insert(variable.clone(), value);
    }
    Ok(values)
}

/// Where a parameter path starts: the target, as fetched.
struct Start<'a> {
    node: &'a Value,
    kind: &'a str,
    id: &'a str,
    label: &'a str,
}

async fn walk(
    backend: &dyn Backend,
    branch: &str,
    start: &Start<'_>,
    path: &str,
    read: &mut Vec<FieldRead>,
) -> Result<Value, RunnerError> {
    let Start {
        kind, id, label, ..
    } = *start;
    let segments: Vec<&str> = path.split("__").collect();
    let mut node = start.node.clone();
    let mut node_id = id.to_owned();
    let mut node_kind = kind.to_owned();
    let mut index = 0;
    loop {
        let Some(field_name) = segments.get(index) else {
            return Err(RunnerError::Definition(format!(
                "parameter path {path:?} ends on a node, not a value"
            )));
        };
        read.push((node_id.clone(), (*field_name).to_owned()));
        let field = node.get(*field_name).cloned().unwrap_or(Value::Null);
        let missing = || {
            RunnerError::Target(format!(
                "target `{label}` ({kind}): {node_kind} has no field `{field_name}` for parameter path {path:?}"
            ))
        };
        if let Some(peer) = field.get("node") {
            // A card-one relationship: follow it to the peer.
            let (Some(peer_id), Some(peer_kind)) = (
                peer.get("id").and_then(Value::as_str),
                peer.get("__typename").and_then(Value::as_str),
            ) else {
                return Err(RunnerError::Target(format!(
                    "target `{label}` ({kind}): relationship `{field_name}` is empty, so parameter path {path:?} has no value"
                )));
            };
            node = fetch(backend, branch, peer_kind, peer_id).await?;
            node_id = peer_id.to_owned();
            node_kind = peer_kind.to_owned();
            index += 1;
            continue;
        }
        if field.get("edges").is_some() {
            return Err(RunnerError::Definition(format!(
                "parameter path {path:?} goes through `{field_name}`, a cardinality-many relationship"
            )));
        }
        let property = segments.get(index + 1).copied().unwrap_or("value");
        if segments.len() > index + 2 {
            return Err(RunnerError::Definition(format!(
                "parameter path {path:?} continues after the attribute property `{property}`"
            )));
        }
        if !field.is_object() {
            return Err(missing());
        }
        return Ok(field.get(property).cloned().unwrap_or(Value::Null));
    }
}
