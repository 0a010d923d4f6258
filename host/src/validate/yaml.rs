//! YAML documents as trees that remember the line of every node, so that
//! each problem `validate` finds in `.infrahub.yml` or an object file points
//! at the line to fix.
//!
//! Unlike the repository's own reader, this one never judges the shape of a
//! file: `.infrahub.yml` has already passed [`crate::repository`]'s checks
//! when it is read here, and object files are only searched for the few
//! kinds `validate` cross-checks (groups and trigger rules). Scalars are kept
//! as the text YAML resolved them to; that is all a name comparison needs.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// One node and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Yaml {
    pub(crate) line: u64,
    pub(crate) value: Tree,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tree {
    Null,
    /// A string, number or boolean, as text.
    Scalar(String),
    Seq(Vec<Yaml>),
    /// Entries in document order.
    Map(Vec<(Yaml, Yaml)>),
}

/// Why a text is not YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: u64,
    pub(crate) message: String,
}

/// Every document of `text`, empty ones dropped.
pub(crate) fn documents(text: &str) -> Result<Vec<Yaml>, SyntaxError> {
    let documents: Vec<Yaml> = serde_saphyr::from_multiple(text).map_err(|error| {
        let line = error.location().map_or(1, |location| location.line());
        // One line, no control characters: a hostile file must not drive
        // the terminal through a message.
        let message = error
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        SyntaxError { line, message }
    })?;
    Ok(documents
        .into_iter()
        .filter(|document| document.value != Tree::Null)
        .collect())
}

impl Yaml {
    /// The value under `key` of a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Yaml> {
        self.entries()
            .iter()
            .find(|(name, _)| name.str() == Some(key))
            .map(|(_, value)| value)
    }

    /// The text of a scalar.
    pub(crate) fn str(&self) -> Option<&str> {
        match &self.value {
            Tree::Scalar(text) => Some(text),
            _ => None,
        }
    }

    /// The items of a sequence (none for anything else).
    pub(crate) fn items(&self) -> &[Yaml] {
        match &self.value {
            Tree::Seq(items) => items,
            _ => &[],
        }
    }

    /// The entries of a mapping (none for anything else).
    pub(crate) fn entries(&self) -> &[(Yaml, Yaml)] {
        match &self.value {
            Tree::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The scalar under `key` with its line.
    pub(crate) fn located(&self, key: &str) -> Option<Located> {
        let node = self.get(key)?;
        Some(Located {
            text: node.str()?.to_owned(),
            line: node.line,
        })
    }
}

/// A scalar and the line it is written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub(crate) text: String,
    pub(crate) line: u64,
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Tree>::deserialize(deserializer)?;
        Ok(Yaml {
            line: spanned.referenced.line(),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Tree, D::Error> {
        Tree::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Tree, E> {
        Ok(Tree::Scalar(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Tree, E> {
        Ok(Tree::Scalar(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Tree, E> {
        Ok(Tree::Scalar(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Tree, E> {
        Ok(Tree::Scalar(value.to_string()))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Tree, E> {
        Ok(Tree::Scalar(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Tree, E> {
        Ok(Tree::Scalar(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Yaml>()? {
            items.push(item);
        }
        Ok(Tree::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Yaml>()? {
            let value = map.next_value::<Yaml>()?;
            entries.push((key, value));
        }
        Ok(Tree::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_keeps_the_lines_of_its_values() {
        let documents =
            documents("# groups\n---\nspec:\n  data:\n    - name: racks\n---\n---\nb: 2\n")
                .expect("parses");
        assert_eq!(documents.len(), 2, "the empty document is dropped");
        let item = &documents[0]
            .get("spec")
            .and_then(|spec| spec.get("data"))
            .expect("data")
            .items()[0];
        assert_eq!(
            item.located("name"),
            Some(Located {
                text: "racks".to_owned(),
                line: 5
            })
        );
        assert_eq!(documents[1].get("b").and_then(Yaml::str), Some("2"));
    }

    #[test]
    fn a_syntax_error_has_its_line() {
        let error = documents("a: 1\nb: [\n").expect_err("unclosed");
        assert!(error.line >= 2, "{error:?}");
    }
}
