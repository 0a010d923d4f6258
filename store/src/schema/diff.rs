//! How one schema differs from another, in the shape of Infrahub's `SchemaDiff`: kinds
//! added, changed and removed; for a changed kind, its properties and its attributes and
//! relationships (by name) added, changed and removed. `infrahubctl schema check` prints
//! it, and reads an empty diff as "No diff".

use super::{KindSchema, Schema};
use serde_json::{Map, Value, json};

/// What loading `candidate` in place of `current` changes.
pub fn diff(current: &Schema, candidate: &Schema) -> Value {
    let mut added = Map::new();
    let mut changed = Map::new();
    let mut removed = Map::new();
    for k in candidate.kinds() {
        match current.get(&k.kind) {
            None => {
                added.insert(k.kind.clone(), empty());
            }
            Some(before) => {
                if let Some(d) = kind_diff(before, k) {
                    changed.insert(k.kind.clone(), d);
                }
            }
        }
    }
    for k in current.kinds() {
        if candidate.get(&k.kind).is_none() {
            removed.insert(k.kind.clone(), empty());
        }
    }
    json!({"added": added, "changed": changed, "removed": removed})
}

/// Whether `diff` (from [`diff`]) changes nothing.
pub fn is_empty(diff: &Value) -> bool {
    ["added", "changed", "removed"]
        .iter()
        .all(|section| diff[section].as_object().is_none_or(|m| m.is_empty()))
}

fn empty() -> Value {
    json!({"added": {}, "changed": {}, "removed": {}})
}

/// The properties, attributes and relationships that differ, or `None` when none does.
fn kind_diff(before: &KindSchema, after: &KindSchema) -> Option<Value> {
    let before = serde_json::to_value(before).unwrap_or(Value::Null);
    let after = serde_json::to_value(after).unwrap_or(Value::Null);
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return None;
    };
    let mut changed = Map::new();
    for (field, value) in after {
        // `used_by` follows from the other kinds; a kind that gains a user is not changed.
        if field == "used_by" || before.get(field) == Some(value) {
            continue;
        }
        let elements = match field.as_str() {
            "attributes" | "relationships" => element_diff(&before[field], value),
            _ => Value::Null,
        };
        changed.insert(field.clone(), elements);
    }
    (!changed.is_empty()).then(|| json!({"added": {}, "changed": changed, "removed": {}}))
}

/// Attributes or relationships compared by name.
fn element_diff(before: &Value, after: &Value) -> Value {
    let by_name = |list: &Value| -> Map<String, Value> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| Some((e.get("name")?.as_str()?.to_owned(), e.clone())))
            .collect()
    };
    let (before, after) = (by_name(before), by_name(after));
    let mut added = Map::new();
    let mut changed = Map::new();
    let mut removed = Map::new();
    for (name, element) in &after {
        match before.get(name) {
            None => {
                added.insert(name.clone(), Value::Null);
            }
            Some(old) if old != element => {
                let fields: Map<String, Value> = element
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(field, value)| old.get(field.as_str()) != Some(value))
                    .map(|(field, _)| (field.clone(), Value::Null))
                    .collect();
                changed.insert(
                    name.clone(),
                    json!({"added": {}, "changed": fields, "removed": {}}),
                );
            }
            Some(_) => {}
        }
    }
    for name in before.keys() {
        if !after.contains_key(name) {
            removed.insert(name.clone(), Value::Null);
        }
    }
    json!({"added": added, "changed": changed, "removed": removed})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::core::{CORE_FILE, CORE_SCHEMA};
    use crate::schema::load::build;

    const DEVICE: &str = "version: '1.0'\nnodes:\n  - name: Device\n    namespace: Net\n    attributes:\n      - {name: hostname, kind: Text, unique: true}\n";

    fn schema(files: &[&str]) -> Schema {
        let files: Vec<(String, String)> = files
            .iter()
            .enumerate()
            .map(|(i, text)| (format!("{i}.yml"), (*text).to_owned()))
            .collect();
        build(&[(CORE_FILE.into(), CORE_SCHEMA.into())], &files).expect("valid schema")
    }

    #[test]
    fn the_same_schema_has_an_empty_diff() {
        let s = schema(&[DEVICE]);
        assert_eq!(
            diff(&s, &schema(&[DEVICE])),
            json!({"added": {}, "changed": {}, "removed": {}})
        );
    }

    #[test]
    fn a_new_kind_is_added_and_a_new_attribute_is_a_changed_kind() {
        let before = schema(&[DEVICE]);
        let with_rack = "version: '1.0'\nnodes:\n  - name: Rack\n    namespace: Net\n    attributes:\n      - {name: name, kind: Text, unique: true}\n";
        let d = diff(&before, &schema(&[DEVICE, with_rack]));
        // With its derived profile kind, as Infrahub's diff has it.
        let new_kind = json!({"added": {}, "changed": {}, "removed": {}});
        assert_eq!(
            d["added"],
            json!({"NetRack": new_kind, "ProfileNetRack": new_kind})
        );
        assert_eq!(d["changed"], json!({}));

        let with_serial = format!("{DEVICE}      - {{name: serial, kind: Text, optional: true}}\n");
        let d = diff(&before, &schema(&[&with_serial]));
        assert_eq!(
            d["changed"]["NetDevice"]["changed"]["attributes"],
            json!({"added": {"serial": null}, "changed": {}, "removed": {}})
        );
        // The reverse removes it.
        let d = diff(&schema(&[&with_serial]), &before);
        assert_eq!(
            d["changed"]["NetDevice"]["changed"]["attributes"]["removed"],
            json!({"serial": null})
        );
    }

    #[test]
    fn a_changed_attribute_names_the_fields_that_changed() {
        let before = schema(&[DEVICE]);
        let labelled = DEVICE.replace("unique: true}", "unique: true, label: Host}");
        let d = diff(&before, &schema(&[&labelled]));
        assert_eq!(
            d["changed"]["NetDevice"]["changed"]["attributes"]["changed"],
            json!({"hostname": {"added": {}, "changed": {"label": null}, "removed": {}}})
        );
    }
}
