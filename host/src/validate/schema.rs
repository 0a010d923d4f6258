//! The repository's schema, loaded into a store that lives in memory only:
//! the kinds, attributes and GraphQL dialect the other checks compare
//! against, with nothing written anywhere.

use std::sync::Arc;

use infragen_store::Store;
use infragen_store::schema::Schema;

use super::Problem;
use super::repository::{Config, Files, ReadError};

/// The loaded schema and the empty store that serves its GraphQL dialect.
pub(crate) struct LoadedSchema {
    pub(crate) store: Store,
    pub(crate) schema: Arc<Schema>,
}

/// Loads every schema file `schemas` names on top of the core schema. `None`
/// (with the problems reported) when a file is missing or refused: checks
/// against a partial schema would only add noise.
pub(crate) fn load(
    config: &Config,
    files: &Files,
    problems: &mut Vec<Problem>,
) -> Option<LoadedSchema> {
    let (texts, complete) = entry_texts(config, files, &config.schemas, problems);
    let store = match Store::in_memory() {
        Ok(store) => store,
        Err(error) => {
            problems.push(Problem::whole(
                &config.file,
                format!("cannot start an in-memory store to check the schema: {error}"),
            ));
            return None;
        }
    };
    if !complete {
        return None;
    }
    if !texts.is_empty()
        && let Err(error) = store.load_schema(&texts)
    {
        // One problem per problem the loader found (never per line of text).
        let found = match error {
            infragen_store::StoreError::Schema(found) => found,
            other => vec![other.to_string()],
        };
        for line in &found {
            problems.push(match super::named_file(line, &texts) {
                Some((file, message)) => Problem::whole(file, format!("schema refused: {message}")),
                None => Problem::whole(&config.file, format!("the schema is refused: {line}")),
            });
        }
        return None;
    }
    let schema = store.schema();
    Some(LoadedSchema { store, schema })
}

/// `(path, text)` of every data file the entries of `entries` (`schemas`, `objects`,
/// `menus`) name, in their order; an entry that cannot be read is a problem and left out,
/// and `false` says one was.
pub(crate) fn entry_texts(
    config: &Config,
    files: &Files,
    entries: &[super::yaml::Located],
    problems: &mut Vec<Problem>,
) -> (Vec<(String, String)>, bool) {
    let mut texts = Vec::new();
    let mut complete = true;
    for entry in entries {
        match data_texts(files, &entry.text) {
            Ok(found) => texts.extend(found),
            Err((path, error)) => {
                complete = false;
                problems.push(data_problem(config, entry, &path, &error));
            }
        }
    }
    (texts, complete)
}

/// `(path, text)` of every data file at `entry`, or the path that failed.
fn data_texts(files: &Files, entry: &str) -> Result<Vec<(String, String)>, (String, ReadError)> {
    let paths = files
        .data_files(entry)
        .map_err(|error| (entry.to_owned(), error))?;
    paths
        .into_iter()
        .map(|path| match files.text(&path) {
            Ok(text) => Ok((path, text)),
            Err(error) => Err((path, error)),
        })
        .collect()
}

/// A `schemas`, `objects` or `menus` entry that could not be read.
fn data_problem(
    config: &Config,
    entry: &super::yaml::Located,
    path: &str,
    error: &ReadError,
) -> Problem {
    if path == entry.text {
        Problem::at(&config.file, entry.line, format!("`{path}` {error}"))
    } else {
        Problem::whole(path, error.to_string())
    }
}
