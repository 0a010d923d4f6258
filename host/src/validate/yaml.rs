//! YAML documents as trees that remember the line of every node, so that
//! each problem `validate` finds in `.infrahub.yml` or an object file points
//! at the line to fix.
//!
//! The tree is the repository's ([`crate::repository::yaml`]); what differs
//! is the reading: several documents per file, the YAML options the store's
//! object loader uses, and no judgement of the shape — `.infrahub.yml` has
//! already passed [`crate::repository`]'s checks when it is read here, and
//! object files are only searched for the few kinds `validate` cross-checks
//! (groups and trigger rules). Names are compared as scalar text.

use crate::repository::yaml::Value;
pub(crate) use crate::repository::yaml::{Located, Node};

/// Why a text is not YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: u64,
    pub(crate) message: String,
}

/// Every document of `text`, empty ones dropped.
pub(crate) fn documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let documents: Vec<Node> = serde_saphyr::from_multiple(text).map_err(|error| {
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
        .filter(|document| document.value != Value::Null)
        .collect())
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
        assert_eq!(
            documents[1].get("b").and_then(Node::text).as_deref(),
            Some("2")
        );
    }

    #[test]
    fn a_syntax_error_has_its_line() {
        let error = documents("a: 1\nb: [\n").expect_err("unclosed");
        assert!(error.line >= 2, "{error:?}");
    }
}
