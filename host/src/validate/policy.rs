//! `infragen.toml`: a `[generators.NAME]` table for a generator that does
//! not exist configures nothing, so a typo there silently leaves the real
//! generator on the default limits; and a write grant
//! (`[generators.NAME.writes]`) for a kind or attribute the schema does not
//! have grants nothing, so the run it was meant for is refused.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::Problem;
use super::repository::{Config, Files, ReadError};
use super::schema::LoadedSchema;
use crate::policy::{self, RuntimePolicy};

/// Only the generator names of the file, with where they are written.
#[derive(Deserialize)]
struct GeneratorNames {
    #[serde(default)]
    generators: BTreeMap<toml::Spanned<String>, serde::de::IgnoredAny>,
}

pub(crate) fn check(
    config: &Config,
    files: &Files,
    schema: Option<&LoadedSchema>,
    problems: &mut Vec<Problem>,
) {
    let file = policy::FILE_NAME;
    let text = match files.text(file) {
        Ok(text) => text,
        Err(ReadError::Missing) => return,
        Err(error) => {
            problems.push(Problem::whole(file, error.to_string()));
            return;
        }
    };
    let parsed = match RuntimePolicy::parse(Path::new(file), &text) {
        Ok(parsed) => parsed,
        Err(error) => {
            let message = error.to_string();
            let message = message
                .strip_prefix(&format!("{file}: "))
                .unwrap_or(&message);
            problems.push(match line_of_toml_error(message) {
                Some(line) => Problem::at(file, line, first_line(message)),
                None => Problem::whole(file, first_line(message)),
            });
            return;
        }
    };
    if let Some(schema) = schema {
        check_grants(&parsed, &text, schema, problems);
    }
    let Ok(names) = toml::from_str::<GeneratorNames>(&text) else {
        return; // RuntimePolicy accepted it, so this cannot fail
    };
    for name in names.generators.keys() {
        if config.definition(name.get_ref()).is_some() {
            continue;
        }
        let line = line_at(&text, name.span().start);
        problems.push(Problem::at(
            file,
            line,
            format!(
                "[generators.{}] configures generator `{}`, which {} does not define \
                 (defined: {})",
                name.get_ref(),
                name.get_ref(),
                config.file,
                config.generator_names()
            ),
        ));
    }
}

/// Every `Kind.attribute` a grant names exists in the schema.
fn check_grants(
    policy: &RuntimePolicy,
    text: &str,
    schema: &LoadedSchema,
    problems: &mut Vec<Problem>,
) {
    for name in policy.configured_generators() {
        let grants = policy.grants_for(name);
        for (key, entries) in [("stamp", &grants.stamp), ("update", &grants.update)] {
            for entry in entries {
                let Some((kind, attribute)) = entry.split_once('.') else {
                    continue; // RuntimePolicy refused those already
                };
                let found = match schema.schema.get(kind) {
                    None => Some(format!("the schema has no kind {kind}")),
                    Some(k) if k.attribute(attribute).is_none() => {
                        Some(format!("{kind} has no attribute {attribute}"))
                    }
                    Some(_) => None,
                };
                let Some(why) = found else { continue };
                let line = text
                    .find(&format!("\"{entry}\""))
                    .map_or(1, |offset| line_at(text, offset));
                problems.push(Problem::at(
                    policy::FILE_NAME,
                    line,
                    format!(
                        "[generators.{name}.writes] {key} grants {entry}, but {why}: it grants nothing"
                    ),
                ));
            }
        }
    }
}

/// The 1-based line of byte `offset`.
fn line_at(text: &str, offset: usize) -> u64 {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() as u64 + 1)
}

/// toml's messages start `TOML parse error at line N, column M`.
fn line_of_toml_error(message: &str) -> Option<u64> {
    let rest = message.split_once("at line ")?.1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The part of a message that reads on one line: toml's excerpt follows on
/// the next lines, its explanation on the last.
fn first_line(message: &str) -> String {
    let lines: Vec<&str> = message.lines().map(str::trim).collect();
    match (lines.first(), lines.last()) {
        (Some(first), Some(last)) if lines.len() > 1 && first.starts_with("TOML parse error") => {
            (*last).to_owned()
        }
        _ => message.replace('\n', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines() {
        let text = "a = 1\n[generators.x]\n";
        assert_eq!(line_at(text, 0), 1);
        assert_eq!(line_at(text, 6), 2);
    }

    #[test]
    fn toml_errors_keep_their_line_and_explanation() {
        let error = RuntimePolicy::parse(Path::new("infragen.toml"), "[sandbox]\nmemroy = 1\n")
            .expect_err("unknown key");
        let message = error.to_string();
        assert_eq!(line_of_toml_error(&message), Some(2));
        assert!(first_line(&message).contains("unknown field"), "{message}");
    }
}
