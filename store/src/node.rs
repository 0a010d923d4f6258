//! A stored node: its kind, attribute values and relationship peers; and how user input
//! becomes a stored value for each attribute kind.

use crate::NodeId;
use crate::fields::Fields;
use crate::ip;
use crate::schema::{AttributeKind, AttributeSchema};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;

/// One node as stored (one version of it, on one branch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Unique id (a time-ordered UUID).
    pub id: NodeId,
    /// Concrete node kind.
    pub kind: String,
    /// Attribute values by name (absent = null).
    #[serde(default)]
    pub attrs: Fields<Value>,
    /// Relationship peers (ids) by relationship name, in insertion order.
    #[serde(default)]
    pub rels: Fields<Vec<NodeId>>,
}

impl Node {
    /// A new empty node of `kind` with a fresh id.
    pub fn new(kind: &str) -> Self {
        Self {
            id: new_id().into(),
            kind: kind.to_string(),
            attrs: Fields::new(),
            rels: Fields::new(),
        }
    }
    /// The attribute value (Null when absent).
    pub fn attr(&self, name: &str) -> &Value {
        self.attrs.get(name).unwrap_or(&Value::Null)
    }
    /// Peers of a relationship.
    pub fn peers(&self, name: &str) -> &[NodeId] {
        self.rels.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A fresh time-ordered UUID (v7), so id order is creation order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Case-insensitive `contains` (Infrahub's `partial_match`), allocation-free for ASCII.
pub(crate) fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    if !hay.is_ascii() || !needle.is_ascii() {
        return hay.to_lowercase().contains(&needle.to_lowercase());
    }
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// The text form of a stored value used for equality, HFIDs and indexes.
pub fn value_key(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(json_text(other)),
    }
}

/// [`value_key`] of a value the caller owns: a string is moved, not copied (an HFID or a
/// label is read from values made for it, one per component).
pub(crate) fn into_value_key(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        other => value_key(&other),
    }
}

/// [`value_key`], borrowed from `v` where it is a string: a commit writes a key per
/// attribute it stores.
pub(crate) fn value_key_ref(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => value_key(other).map(Cow::Owned),
    }
}

/// `value` as compact JSON text: what its `Display` writes, written straight into memory
/// rather than through a formatter, which costs several times as much (every stored
/// attribute and every query answer a generator reads is written so).
pub fn json_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// Whether `v`'s [`value_key`] is `key`, without building the key for text and booleans:
/// looking a node up by its identity compares every candidate's values.
pub(crate) fn value_key_is(v: &Value, key: &str) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => s == key,
        Value::Bool(b) => key == if *b { "true" } else { "false" },
        other => value_key(other).as_deref() == Some(key),
    }
}

/// Turn an input `value` for attribute `a` into the stored value, or say why it is refused.
pub fn coerce_value(a: &AttributeSchema, v: Value) -> Result<Value, String> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let name = &a.name;
    let out = match a.kind {
        AttributeKind::Number | AttributeKind::NumberPool | AttributeKind::Bandwidth => match &v {
            Value::Number(n) if n.is_i64() || n.is_u64() => v,
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("{name}: '{s}' is not a valid Number"))?,
            _ => return Err(format!("{name}: {v} is not a valid Number")),
        },
        AttributeKind::Boolean | AttributeKind::Checkbox => match &v {
            Value::Bool(_) => v,
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(format!("{name}: {v} is not a valid Boolean")),
        },
        AttributeKind::JSON | AttributeKind::Any => v,
        AttributeKind::List => match &v {
            Value::Array(_) => v,
            _ => return Err(format!("{name}: {v} is not a valid List")),
        },
        AttributeKind::IPHost | AttributeKind::IPAddress => match &v {
            Value::String(s) => {
                Value::String(ip::normalize_host(s).map_err(|e| format!("{name}: {e}"))?)
            }
            _ => return Err(format!("{name}: {v} is not a valid IP address")),
        },
        AttributeKind::IPNetwork => match &v {
            Value::String(s) => {
                Value::String(ip::normalize_network(s).map_err(|e| format!("{name}: {e}"))?)
            }
            _ => return Err(format!("{name}: {v} is not a valid IP network")),
        },
        AttributeKind::Dropdown => {
            let s = v
                .as_str()
                .ok_or_else(|| format!("{name}: {v} is not a valid Dropdown value"))?;
            let ok = a.choices.iter().flatten().any(|c| c.name == s);
            if !ok {
                let names: Vec<&str> = a
                    .choices
                    .iter()
                    .flatten()
                    .map(|c| c.name.as_str())
                    .collect();
                return Err(format!(
                    "{name}: '{s}' is not a valid choice, expected one of: {}",
                    names.join(", ")
                ));
            }
            v
        }
        _ => match &v {
            Value::String(s) => {
                let len = s.chars().count() as u64;
                if a.max_length.is_some_and(|m| len > m) {
                    return Err(format!(
                        "{name}: '{s}' is longer than {} characters",
                        a.max_length.unwrap_or_default()
                    ));
                }
                if a.min_length.is_some_and(|m| len < m) {
                    return Err(format!(
                        "{name}: '{s}' is shorter than {} characters",
                        a.min_length.unwrap_or_default()
                    ));
                }
                v
            }
            Value::Number(n) => Value::String(n.to_string()),
            _ => return Err(format!("{name}: {v} is not a valid {}", a.kind.name())),
        },
    };
    if let (Some(n), Some(p)) = (out.as_i64(), a.parameters.as_ref()) {
        if let Some(min) = p
            .get("min_value")
            .and_then(Value::as_i64)
            .filter(|m| n < *m)
        {
            return Err(format!("{name}: {n} is below the minimum value {min}"));
        }
        if let Some(max) = p
            .get("max_value")
            .and_then(Value::as_i64)
            .filter(|m| n > *m)
        {
            return Err(format!("{name}: {n} is above the maximum value {max}"));
        }
    }
    if let Some(allowed) = &a.r#enum
        && !allowed.contains(&out)
    {
        let list: Vec<String> = allowed
            .iter()
            .map(|x| value_key(x).unwrap_or_default())
            .collect();
        return Err(format!(
            "{name}: {out} is not one of the allowed values: {}",
            list.join(", ")
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Ids come from a thread-local generator, not a system call each: still version-7
    /// UUIDs, distinct, in the order they were made (the rows' B-trees grow at their end).
    #[test]
    fn new_ids_are_distinct_version_7_uuids_in_creation_order() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 7, "{id}");
            assert_eq!(parsed.to_string(), *id, "canonical text");
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids);
    }

    #[test]
    fn json_text_is_what_display_writes() {
        for value in [
            json!(null),
            json!("a \"quoted\" name\n\u{1}é"),
            json!(1500),
            json!(-1.25),
            json!(true),
            json!([1, "two", null, {"b": [], "a": {}}]),
            json!({"z": 1, "a": {"nested": ["x"]}}),
        ] {
            assert_eq!(json_text(&value), value.to_string());
        }
    }

    #[test]
    fn a_value_is_its_key_and_nothing_else() {
        let values = [
            json!(null),
            json!("eth0"),
            json!(""),
            json!("true"),
            json!(true),
            json!(false),
            json!(1500),
            json!(-3),
            json!(1.5),
            json!(["a"]),
            json!({"a": 1}),
        ];
        let keys = [
            "eth0",
            "",
            "true",
            "false",
            "1500",
            "-3",
            "1.5",
            "[\"a\"]",
            "{\"a\":1}",
            "null",
        ];
        for value in &values {
            for key in keys {
                assert_eq!(
                    value_key_is(value, key),
                    value_key(value).as_deref() == Some(key),
                    "{value} against {key:?}"
                );
            }
        }
    }
}
