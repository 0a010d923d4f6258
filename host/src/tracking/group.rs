//! Tracking groups: where a generator's output for one target is remembered,
//! so the next run can delete what it no longer produces.
//!
//! Naming follows Infrahub's SDK byte for byte, so a group made by infragen
//! and one made by a real server interoperate: `{definition}-{md5(params)}`
//! where the params are serialised as `ujson.dumps(params, sort_keys=True)`
//! (compact, ASCII-only, forward slashes escaped).
//!
//! Unlike Infrahub, a group belongs to exactly one (definition, target) pair:
//! its `subscribers` hold the `CoreGeneratorInstance` of that pair. When two
//! targets would get the same name (equal parameters, or a definition without
//! parameters), the first keeps Infrahub's name and the others get
//! `{definition}-{md5(params)}-{target id}`, so no run can ever delete another
//! target's output.

use md5::{Digest, Md5};
use serde_json::Value;

/// The group kind Infrahub uses for a definition: branch-local
/// `CoreGeneratorGroup` when the generator re-runs after merge, else the
/// branch-aware `CoreGeneratorAwareGroup`.
pub fn group_kind(execute_after_merge: bool) -> &'static str {
    if execute_after_merge {
        "CoreGeneratorGroup"
    } else {
        "CoreGeneratorAwareGroup"
    }
}

/// Infrahub's name of the tracking group of `definition` run with `params`.
pub fn infrahub_group_name(definition: &str, params: &serde_json::Map<String, Value>) -> String {
    let hash = if params.is_empty() {
        String::new()
    } else {
        dict_hash(params)
    };
    infrahub_group_name_hashed(definition, params, &hash)
}

/// [`infrahub_group_name`] where `hash` is already `params`' [`dict_hash`].
pub fn infrahub_group_name_hashed(
    definition: &str,
    params: &serde_json::Map<String, Value>,
    hash: &str,
) -> String {
    if params.is_empty() {
        return definition.to_owned();
    }
    format!("{definition}-{hash}")
}

/// The name used when Infrahub's name is taken by another target's group.
pub fn target_group_name(
    definition: &str,
    params: &serde_json::Map<String, Value>,
    target_id: &str,
) -> String {
    format!("{}-{}", infrahub_group_name(definition, params), target_id)
}

/// The group's description, as the SDK writes it: `key: value, …`.
pub fn group_description(params: &serde_json::Map<String, Value>) -> String {
    params
        .iter()
        .map(|(key, value)| match value {
            Value::String(text) => format!("{key}: {text}"),
            other => format!("{key}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `md5(ujson.dumps(params, sort_keys=True))` as lowercase hex.
pub fn dict_hash(params: &serde_json::Map<String, Value>) -> String {
    let mut text = String::new();
    write_ujson(&Value::Object(params.clone()), &mut text);
    hex::encode(Md5::digest(text.as_bytes()))
}

/// ujson's default serialisation with sorted keys: no spaces, non-ASCII as
/// `\uXXXX` (surrogate pairs above the BMP), `/` escaped as `\/`.
fn write_ujson(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_ujson(item, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_ujson(&fields[key], out);
            }
            out.push('}');
        }
    }
}

fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: Value) -> serde_json::Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("params are an object"),
        }
    }

    #[test]
    fn the_hash_matches_infrahubs_dict_hash() {
        // dict_hash({"name": "site1"}), verified against the real SDK.
        assert_eq!(
            dict_hash(&params(json!({"name": "site1"}))),
            "e291d513b7aefcfa5f736b208c79b8c5"
        );
    }

    #[test]
    fn ujson_escapes_slashes_and_non_ascii_and_sorts_keys() {
        let mut text = String::new();
        write_ujson(&json!({"u": "é", "name": "dc1/x", "b": 1}), &mut text);
        assert_eq!(text, r#"{"b":1,"name":"dc1\/x","u":"\u00e9"}"#);
        // md5 of those bytes, computed independently.
        assert_eq!(
            dict_hash(&params(json!({"u": "é", "name": "dc1/x", "b": 1}))),
            "e67522388028519993c79d0532e99ada"
        );
    }

    #[test]
    fn names_follow_infrahub_and_fall_back_per_target() {
        let p = params(json!({"name": "site1"}));
        assert_eq!(
            infrahub_group_name("my_gen", &p),
            "my_gen-e291d513b7aefcfa5f736b208c79b8c5"
        );
        assert_eq!(
            infrahub_group_name("my_gen", &serde_json::Map::new()),
            "my_gen"
        );
        assert_eq!(
            target_group_name("my_gen", &p, "abc"),
            "my_gen-e291d513b7aefcfa5f736b208c79b8c5-abc"
        );
        assert_eq!(
            group_description(&params(json!({"name": "site1", "n": 2}))),
            "n: 2, name: site1"
        );
    }

    #[test]
    fn group_kind_follows_execute_after_merge() {
        assert_eq!(group_kind(true), "CoreGeneratorGroup");
        assert_eq!(group_kind(false), "CoreGeneratorAwareGroup");
    }
}
