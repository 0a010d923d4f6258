//! Adding entries to `.infrahub.yml` as text, so that everything else in the
//! file — comments, order, quoting, blank lines — stays exactly as written.
//!
//! Only the common shape is edited: a block mapping at the top level whose
//! list keys are block sequences (`queries:` then `  - name: …` lines), empty
//! (`queries:` or `queries: []`) or absent. Anything else (a flow sequence
//! with items, anchors, several documents) is refused rather than guessed
//! at. Every edit is checked by parsing the file before and after: the only
//! difference must be the new items at the end of their lists.

use serde_json::{Map, Value};

/// One list entry to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A bare string item (an `objects` path).
    Scalar(String),
    /// A mapping: keys in order, each a string or a mapping of strings
    /// (`parameters`).
    Mapping(Vec<(String, Field)>),
}

/// A value in an [`Entry::Mapping`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    Text(String),
    Map(Vec<(String, String)>),
}

impl Entry {
    /// The entry as the YAML parser will read it back.
    fn json(&self) -> Value {
        let fields = match self {
            Entry::Scalar(text) => return Value::String(text.clone()),
            Entry::Mapping(fields) => fields,
        };
        let mut object = Map::new();
        for (key, field) in fields {
            let value = match field {
                Field::Text(text) => Value::String(text.clone()),
                Field::Map(entries) => Value::Object(
                    entries
                        .iter()
                        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
                        .collect(),
                ),
            };
            object.insert(key.clone(), value);
        }
        Value::Object(object)
    }

    /// The entry's lines, relative to the column after `- `.
    fn lines(&self) -> Vec<String> {
        let fields = match self {
            Entry::Scalar(text) => return vec![scalar(text)],
            Entry::Mapping(fields) => fields,
        };
        let mut lines = Vec::new();
        for (key, field) in fields {
            match field {
                Field::Text(text) => lines.push(format!("{key}: {}", scalar(text))),
                Field::Map(entries) if entries.is_empty() => lines.push(format!("{key}: {{}}")),
                Field::Map(entries) => {
                    lines.push(format!("{key}:"));
                    for (key, value) in entries {
                        lines.push(format!("  {}: {}", scalar(key), scalar(value)));
                    }
                }
            }
        }
        lines
    }

    /// The entry as a list item indented by `indent` spaces, one line each.
    pub(crate) fn render(&self, indent: usize) -> Vec<String> {
        let pad = " ".repeat(indent);
        self.lines()
            .iter()
            .enumerate()
            .map(|(index, line)| {
                if index == 0 {
                    format!("{pad}- {line}")
                } else {
                    format!("{pad}  {line}")
                }
            })
            .collect()
    }
}

/// A plain scalar when YAML reads it back as the same string, else a
/// double-quoted one (JSON's string syntax is YAML's).
pub(crate) fn scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        text.to_owned()
    } else {
        Value::String(text.to_owned()).to_string()
    }
}

/// Why the file was not edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The file has a shape the text edit does not handle.
    #[error("{0}")]
    Shape(String),
}

/// `text` with each `(key, entry)` appended to the list under `key`.
pub(crate) fn append(text: &str, additions: &[(&str, Entry)]) -> Result<String, EditError> {
    let before = parse(text)?;
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut edited = text.to_owned();
    for (key, entry) in additions {
        edited = append_one(&edited, key, entry, newline)?;
    }
    // The safety net: the edit must mean exactly "these items were added".
    let mut expected = match before {
        Value::Null => Map::new(),
        Value::Object(object) => object,
        _ => unreachable!("parse refuses anything but a mapping"),
    };
    for (key, entry) in additions {
        let list = expected
            .entry((*key).to_owned())
            .or_insert(Value::Array(Vec::new()));
        if list.is_null() {
            *list = Value::Array(Vec::new());
        }
        match list {
            Value::Array(items) => items.push(entry.json()),
            _ => return Err(shape(key, "is not a list")),
        }
    }
    let after = parse(&edited)?;
    if after != Value::Object(expected) {
        return Err(EditError::Shape(
            "the edited file would not read back as the original plus the new entries".to_owned(),
        ));
    }
    Ok(edited)
}

fn parse(text: &str) -> Result<Value, EditError> {
    let value: Value = serde_saphyr::from_str(text)
        .map_err(|error| EditError::Shape(format!("it is not valid YAML ({error})")))?;
    match value {
        Value::Null | Value::Object(_) => Ok(value),
        _ => Err(EditError::Shape(
            "its top level is not a mapping of keys".to_owned(),
        )),
    }
}

fn shape(key: &str, what: &str) -> EditError {
    EditError::Shape(format!("`{key}` {what}"))
}

/// Whether a line starts a top-level key (column 0, not a comment, not a
/// sequence item, not a document marker).
fn is_top_level(line: &str) -> bool {
    line.chars()
        .next()
        .is_some_and(|c| !c.is_whitespace() && c != '#' && c != '-')
}

fn is_content(line: &str) -> bool {
    let trimmed = line.trim_start();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn append_one(text: &str, key: &str, entry: &Entry, newline: &str) -> Result<String, EditError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut seen_key = false;
    for line in &lines {
        if is_top_level(line) {
            seen_key = true;
        } else if seen_key && (line.starts_with("---") || line.starts_with("...")) {
            return Err(EditError::Shape(
                "it holds more than one YAML document".to_owned(),
            ));
        }
    }
    let render = |indent: usize| entry.render(indent);
    let key_line = lines.iter().position(|line| {
        is_top_level(line)
            && line
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
    });
    let Some(key_line) = key_line else {
        // Absent: a new list at the end of the file.
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(newline);
        }
        out.push_str(key);
        out.push(':');
        out.push_str(newline);
        for line in render(2) {
            out.push_str(&line);
            out.push_str(newline);
        }
        return Ok(out);
    };

    let mut lines: Vec<String> = lines.iter().map(|line| (*line).to_owned()).collect();
    let after_colon = lines[key_line]
        .split_once(':')
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default();
    let (value, comment) = match after_colon.find(" #") {
        Some(index) => (
            after_colon[..index].trim().to_owned(),
            after_colon[index..].to_owned(),
        ),
        None if after_colon.trim_start().starts_with('#') => {
            (String::new(), format!(" {}", after_colon.trim_start()))
        }
        None => (after_colon.trim().to_owned(), String::new()),
    };
    match value.as_str() {
        "" => {}
        "[]" => lines[key_line] = format!("{key}:{comment}"),
        _ => {
            return Err(shape(
                key,
                &format!(
                    "is written on one line (`{value}`); only lists written one `- ` item per \
                     line are edited"
                ),
            ));
        }
    }
    // The block: every line up to the next top-level key.
    let end = lines[key_line + 1..]
        .iter()
        .position(|line| is_top_level(line))
        .map_or(lines.len(), |offset| key_line + 1 + offset);
    let block = &lines[key_line + 1..end];
    let first_item = block.iter().find(|line| is_content(line));
    let indent = match first_item {
        None => 2,
        Some(line) if line.trim_start().starts_with('-') => indent_of(line),
        Some(_) => return Err(shape(key, "is not a list of `- ` items")),
    };
    if block
        .iter()
        .filter(|line| is_content(line) && indent_of(line) <= indent)
        .any(|line| !line.trim_start().starts_with('-') || indent_of(line) != indent)
    {
        return Err(shape(key, "has items at different indentations"));
    }
    // After the last line that belongs to the list: comments and blank lines
    // before the next key stay with that key.
    let insert_at = block
        .iter()
        .rposition(|line| is_content(line))
        .map_or(key_line + 1, |offset| key_line + 1 + offset + 1);
    for (offset, line) in render(indent).into_iter().enumerate() {
        lines.insert(insert_at + offset, line);
    }
    let mut out = lines.join(newline);
    if text.ends_with('\n') || insert_at >= end {
        out.push_str(newline);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str) -> Entry {
        Entry::Mapping(vec![
            ("name".to_owned(), Field::Text(name.to_owned())),
            (
                "file_path".to_owned(),
                Field::Text(format!("plugins/{name}/{name}.gql")),
            ),
        ])
    }

    #[test]
    fn an_item_goes_after_the_last_item_and_comments_stay_where_they_were() {
        let text = "# header\n---\nqueries:\n  - name: a   # first\n    file_path: a.gql\n\n# the generators\ngenerator_definitions: []\n";
        let edited = append(text, &[("queries", query("b"))]).expect("edits");
        assert_eq!(
            edited,
            "# header\n---\nqueries:\n  - name: a   # first\n    file_path: a.gql\n  - name: b\n    file_path: plugins/b/b.gql\n\n# the generators\ngenerator_definitions: []\n"
        );
    }

    #[test]
    fn an_empty_or_absent_list_gets_its_first_item() {
        let text = "generator_definitions: [] # none yet\nschemas:\n  - schemas";
        let entry = Entry::Mapping(vec![
            ("name".to_owned(), Field::Text("g".to_owned())),
            (
                "parameters".to_owned(),
                Field::Map(vec![("site".to_owned(), "name__value".to_owned())]),
            ),
        ]);
        let edited = append(
            text,
            &[("generator_definitions", entry), ("queries", query("q"))],
        )
        .expect("edits");
        assert_eq!(
            edited,
            "generator_definitions: # none yet\n  - name: g\n    parameters:\n      site: name__value\nschemas:\n  - schemas\nqueries:\n  - name: q\n    file_path: plugins/q/q.gql\n"
        );
    }

    #[test]
    fn an_indentless_list_keeps_its_indentation() {
        let text = "queries:\n- name: a\n  file_path: a.gql\nobjects:\n- objects\n";
        let edited = append(text, &[("queries", query("b"))]).expect("edits");
        assert_eq!(
            edited,
            "queries:\n- name: a\n  file_path: a.gql\n- name: b\n  file_path: plugins/b/b.gql\nobjects:\n- objects\n"
        );
    }

    #[test]
    fn shapes_it_cannot_edit_safely_are_refused() {
        let flow = append(
            "queries: [{name: a, file_path: a.gql}]\n",
            &[("queries", query("b"))],
        );
        assert!(
            matches!(&flow, Err(EditError::Shape(message)) if message.contains("one line")),
            "{flow:?}"
        );
        let documents = append(
            "queries: []\n---\nqueries: []\n",
            &[("queries", query("b"))],
        );
        assert!(documents.is_err());
    }

    #[test]
    fn values_yaml_would_misread_are_quoted() {
        assert_eq!(scalar("name__value"), "name__value");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("10"), "\"10\"");
        assert_eq!(scalar("a b: c"), "\"a b: c\"");
    }
}
