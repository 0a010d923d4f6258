//! A YAML document as a tree that remembers the line of every node.
//!
//! `.infrahub.yml` is validated by hand (see [`super::config`]) rather than
//! through `#[derive(Deserialize)]`, so that every message can name the file,
//! the line, and where in the document the problem is
//! (`generator_definitions[0]`), in words a user can act on. This module only
//! turns the text into that tree; it knows nothing of Infrahub's model.
//! `validate` reads object files into the same tree (several documents each).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter, Spanned};

/// One YAML node and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) line: u64,
}

/// What a node holds, after YAML 1.2 core-schema resolution (`yes` and `on`
/// stay strings; the boolean fields accept them the way Infrahub does, see
/// [`super::config`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order, duplicates kept, so that a repeated key
    /// can be reported with both of its lines.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// The kind of value, as a message says what it found ("found a list").
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// A scalar as written, for naming a mapping key that is not a string.
    pub(crate) fn key_text(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(value) => value.to_string(),
            Value::Int(value) => value.to_string(),
            Value::UInt(value) => value.to_string(),
            Value::Float(value) => value.to_string(),
            Value::Str(value) => value.clone(),
            Value::Seq(_) => "[…]".to_owned(),
            Value::Map(_) => "{…}".to_owned(),
        }
    }
}

/// A scalar's text and the line it is written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub(crate) text: String,
    pub(crate) line: u64,
}

impl Node {
    /// The value under `key` of a mapping (the first, when repeated).
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(name, _)| name.text().as_deref() == Some(key))
            .map(|(_, value)| value)
    }

    /// A scalar as text, as YAML resolved it (`true`, `3`); none for null,
    /// lists and mappings.
    pub(crate) fn text(&self) -> Option<String> {
        match &self.value {
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
            scalar => Some(scalar.key_text()),
        }
    }

    /// The items of a sequence (none for anything else).
    pub(crate) fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// The entries of a mapping (none for anything else).
    pub(crate) fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The scalar under `key` with its line.
    pub(crate) fn located(&self, key: &str) -> Option<Located> {
        let node = self.get(key)?;
        Some(Located {
            text: node.text()?,
            line: node.line,
        })
    }
}

/// Why a text is not one YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: u64,
    pub(crate) column: u64,
    pub(crate) message: String,
}

/// Parses `text` as a single YAML document; an empty document is `Null`.
///
/// Repeated keys are kept (the caller reports them with both lines), YAML
/// 1.1 booleans are not inferred, and unknown tags are refused, as Python's
/// `yaml.safe_load` refuses them.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        reject_unsupported_tags: true,
    };
    let documents: Vec<Node> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|error| {
            let location = error.location();
            // The plain message, without the library's own location suffix
            // and snippet: the caller prefixes `file:line:column`. Control
            // characters are blanked so a hostile file cannot drive the
            // terminal through an error message.
            let message = serde_saphyr::DefaultMessageFormatter
                .format_message(error.without_snippet())
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            SyntaxError {
                line: location.map_or(1, |location| location.line()),
                column: location.map_or(1, |location| location.column()),
                message,
            }
        })?;
    let mut documents = documents.into_iter();
    let first = documents.next().unwrap_or(Node {
        value: Value::Null,
        line: 1,
    });
    if let Some(second) = documents.next() {
        return Err(SyntaxError {
            line: second.line,
            column: 1,
            message: "a second YAML document starts here; the file must hold exactly one"
                .to_owned(),
        });
    }
    Ok(first)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            line: spanned.referenced.line(),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::UInt(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Ok(Value::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::Str(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(value: &str, line: u64) -> Node {
        Node {
            value: Value::Str(value.to_owned()),
            line,
        }
    }

    #[test]
    fn nodes_carry_their_lines_and_yaml_1_1_booleans_stay_strings() {
        let node = parse("# comment\na: yes\nb:\n  - true\n  - 3\n").expect("parses");
        let Value::Map(entries) = node.value else {
            panic!("a mapping")
        };
        assert_eq!(entries[0], (string("a", 2), string("yes", 2)));
        assert_eq!(entries[1].0, string("b", 3));
        assert_eq!(
            entries[1].1.value,
            Value::Seq(vec![
                Node {
                    value: Value::Bool(true),
                    line: 4
                },
                Node {
                    value: Value::UInt(3),
                    line: 5
                },
            ])
        );
    }

    #[test]
    fn repeated_keys_are_kept_for_the_caller_to_report() {
        let node = parse("a: 1\na: 2\n").expect("parses");
        let Value::Map(entries) = node.value else {
            panic!("a mapping")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].0, string("a", 2));
    }

    #[test]
    fn an_empty_file_is_null_and_two_documents_are_refused() {
        assert_eq!(parse("").expect("parses").value, Value::Null);
        let error = parse("---\na: 1\n---\nb: 2\n").expect_err("two documents");
        assert_eq!(error.line, 4);
    }
}
