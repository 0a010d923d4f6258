//! A GraphQL answer as a query shapes it: each object's fields in the order the query
//! selects them.
//!
//! GraphQL answers are ordered maps (the spec's "ordered map" in `ExecuteSelectionSet`),
//! and Infrahub answers so: a transform that walks an answer's fields, or a client that
//! prints one, sees them in the order the query wrote them. `serde_json::Map` keeps its
//! keys by name here (the workspace does not turn on `preserve_order`, which would make
//! every JSON object of every payload an insertion-ordered hash map, measured at +6.5%
//! instructions over a cascade). So the resolver builds this instead, and it is written out
//! as text in order ([`Answer::to_text`]); callers that want a [`Value`] get one with
//! [`Answer::into_value`], fields then by name.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// A resolved answer, or part of one.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A leaf (a scalar, or JSON the answer carries as it is: an attribute's JSON value,
    /// or a part built elsewhere as a [`Value`], whose objects list fields by name).
    Value(Value),
    /// A list, in order.
    List(Vec<Answer>),
    /// An object, its fields in selection order.
    Object(Fields),
}

/// An object's fields, in the order they were first inserted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(Vec<(String, Answer)>);

impl Fields {
    /// No fields.
    pub fn new() -> Self {
        Fields(Vec::new())
    }

    /// Sets `key` to `value`. A key inserted again keeps its first place and takes the new
    /// value, as a map would (the same response key selected twice answers once, where it
    /// was first selected).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Answer>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key, value)),
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Answer> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Answer> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

impl Answer {
    /// JSON `null`.
    pub const NULL: Answer = Answer::Value(Value::Null);

    /// Written out as JSON text, every object's fields in order.
    pub fn to_text(&self) -> String {
        // Writing into a `String` cannot fail, and every key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// As a [`Value`]: the same content, objects' fields then by name.
    pub fn into_value(self) -> Value {
        match self {
            Answer::Value(value) => value,
            Answer::List(items) => {
                Value::Array(items.into_iter().map(Answer::into_value).collect())
            }
            Answer::Object(fields) => Value::Object(
                fields
                    .0
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect(),
            ),
        }
    }

    /// The field `key` of an object answer (not of a [`Value`] leaf).
    pub fn get(&self, key: &str) -> Option<&Answer> {
        match self {
            Answer::Object(fields) => fields.get(key),
            _ => None,
        }
    }
}

impl From<Value> for Answer {
    fn from(value: Value) -> Self {
        Answer::Value(value)
    }
}

impl From<Fields> for Answer {
    fn from(fields: Fields) -> Self {
        Answer::Object(fields)
    }
}

impl From<Vec<Answer>> for Answer {
    fn from(items: Vec<Answer>) -> Self {
        Answer::List(items)
    }
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Answer::Value(value) => value.serialize(serializer),
            Answer::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Answer::Object(fields) => fields.serialize(serializer),
        }
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(fields: &[(&str, Answer)]) -> Answer {
        let mut out = Fields::new();
        for (k, v) in fields {
            out.insert(*k, v.clone());
        }
        Answer::Object(out)
    }

    #[test]
    fn text_keeps_insertion_order_and_value_sorts_by_name() {
        let answer = object(&[
            ("zeta", json!(1).into()),
            (
                "alpha",
                Answer::List(vec![object(&[
                    ("b", json!(null).into()),
                    ("a", json!("x").into()),
                ])]),
            ),
        ]);
        assert_eq!(
            answer.to_text(),
            r#"{"zeta":1,"alpha":[{"b":null,"a":"x"}]}"#
        );
        assert_eq!(
            serde_json::to_string(&answer.into_value()).unwrap(),
            r#"{"alpha":[{"a":"x","b":null}],"zeta":1}"#
        );
    }

    #[test]
    fn a_key_inserted_again_keeps_its_first_place_with_the_last_value() {
        let mut fields = Fields::new();
        fields.insert("name", json!(1));
        fields.insert("id", json!(2));
        fields.insert("name", json!(3));
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["name", "id"]);
        assert_eq!(Answer::Object(fields).to_text(), r#"{"name":3,"id":2}"#);
    }

    #[test]
    fn text_escapes_as_serde_json_does() {
        let mut fields = Fields::new();
        fields.insert("quote\"key", json!("line\nbreak \u{1} é"));
        let text = Answer::Object(fields).to_text();
        assert_eq!(
            text,
            serde_json::to_string(&json!({"quote\"key": "line\nbreak \u{1} é"})).unwrap()
        );
    }
}
