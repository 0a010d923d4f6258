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

use async_graphql_value::Name;
use foldhash::HashMap;
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
///
/// Small objects (nearly all) find a key again by looking through their fields; past
/// [`INDEXED_FROM`] fields a hash index takes over, so that a document selecting many
/// thousands of aliases on one object costs what it costs to write them, not their square.
///
/// Keys are kept as the parsed document's own names (a reference-counted string), taken
/// with [`IntoKey`] from a `&Name` without a copy: a listing answers the same few response
/// keys for every node in it, and copying each into a `String` of its own was 5% of a
/// cascade's allocations.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    fields: Vec<(Name, Answer)>,
    /// Each key's position in `fields`, once there are [`INDEXED_FROM`] of them.
    index: Option<HashMap<Name, usize>>,
}

/// What [`Fields::insert`] takes as a key: a document's name as it is, or any text (copied
/// into a name).
pub trait IntoKey {
    /// The key as a name.
    fn into_key(self) -> Name;
}

impl IntoKey for &Name {
    fn into_key(self) -> Name {
        self.clone()
    }
}

impl IntoKey for Name {
    fn into_key(self) -> Name {
        self
    }
}

impl IntoKey for &str {
    fn into_key(self) -> Name {
        Name::new(self)
    }
}

impl IntoKey for &String {
    fn into_key(self) -> Name {
        Name::new(self)
    }
}

impl IntoKey for String {
    fn into_key(self) -> Name {
        Name::new(self)
    }
}

/// How many fields an object holds before [`Fields`] indexes them.
const INDEXED_FROM: usize = 16;

impl PartialEq for Fields {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

impl Fields {
    /// No fields.
    pub fn new() -> Self {
        Fields::default()
    }

    /// No fields, with room for `capacity` of them: an object answers one field per field
    /// its selection selects, known before the first is answered.
    pub fn with_capacity(capacity: usize) -> Self {
        Fields {
            fields: Vec::with_capacity(capacity),
            index: None,
        }
    }

    /// Sets `key` to `value`. A key inserted again keeps its first place and takes the new
    /// value, as a map would (the same response key selected twice answers once, where it
    /// was first selected).
    pub fn insert(&mut self, key: impl IntoKey, value: impl Into<Answer>) {
        let key = key.into_key();
        let value = value.into();
        match self.position(&key) {
            Some(at) => self.fields[at].1 = value,
            None => {
                if let Some(index) = &mut self.index {
                    index.insert(key.clone(), self.fields.len());
                }
                self.fields.push((key, value));
                if self.index.is_none() && self.fields.len() >= INDEXED_FROM {
                    self.index = Some(
                        self.fields
                            .iter()
                            .enumerate()
                            .map(|(at, (k, _))| (k.clone(), at))
                            .collect(),
                    );
                }
            }
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.fields.iter().position(|(k, _)| k.as_str() == key),
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Answer> {
        self.position(key).map(|at| &self.fields[at].1)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Answer> {
        let at = self.position(key)?;
        let (_, value) = self.fields.remove(at);
        if let Some(index) = &mut self.index {
            index.remove(key);
            for position in index.values_mut() {
                if *position > at {
                    *position -= 1;
                }
            }
        }
        Some(value)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_str())
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
                    .fields
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.into_value()))
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
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (key, value) in &self.fields {
            map.serialize_entry(key.as_str(), value)?;
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
    fn many_fields_keep_their_order_and_a_key_inserted_again_its_place() {
        let mut fields = Fields::new();
        for i in 0..1000 {
            fields.insert(format!("k{}", 999 - i), json!(i));
        }
        fields.insert("k999", json!("again"));
        fields.insert("k0", json!("last"));
        assert_eq!(fields.keys().count(), 1000);
        assert_eq!(fields.keys().next(), Some("k999"));
        assert_eq!(fields.keys().last(), Some("k0"));
        assert_eq!(fields.get("k999"), Some(&json!("again").into()));
        assert_eq!(fields.get("k500"), Some(&json!(499).into()));
        assert_eq!(fields.remove("k998"), Some(json!(1).into()));
        assert_eq!(fields.get("k998"), None);
        assert_eq!(fields.get("k0"), Some(&json!("last").into()));
        fields.insert("k998", json!("back"));
        assert_eq!(fields.keys().last(), Some("k998"));
        assert_eq!(fields.keys().count(), 1000);
        let text = Answer::Object(fields).to_text();
        assert!(
            text.starts_with(r#"{"k999":"again","k997":2,"#),
            "{}",
            &text[..40]
        );
        assert!(text.ends_with(r#""k0":"last","k998":"back"}"#));
    }

    /// A document's name is kept as it is, not copied, whichever object it keys; text is
    /// copied into a name of its own.
    #[test]
    fn a_document_s_name_keys_every_object_without_a_copy() {
        let name = Name::new("interfaces");
        let (mut first, mut second) = (Fields::new(), Fields::new());
        first.insert(&name, json!(1));
        second.insert(&name, json!(2));
        for fields in [&first, &second] {
            let key = fields.keys().next().expect("one key");
            assert_eq!(key, "interfaces");
            assert_eq!(
                key.as_ptr(),
                name.as_str().as_ptr(),
                "the document's own text"
            );
        }
        let text = "interfaces".to_owned();
        let mut copied = Fields::new();
        copied.insert(&text, json!(3));
        let key = copied.keys().next().expect("one key");
        assert_eq!(key, "interfaces");
        assert_ne!(key.as_ptr(), text.as_ptr());
        assert_eq!(Answer::Object(first).to_text(), r#"{"interfaces":1}"#);
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
