//! The repository as `validate` reads it: `.infrahub.yml` with the line of
//! every value it cross-checks, and the repository's files through a
//! directory capability.
//!
//! [`Repository::open`](crate::repository::Repository::open) is the gate:
//! it judges `.infrahub.yml` against Infrahub's model and stops at the first
//! problem. The problems it shares with `validate` (an undeclared query, a
//! component that is missing or not a `.wasm`, a missing query or data file)
//! come after the whole file has been read, so when the gate stops at one of
//! those the file is well-formed and `validate` goes on to find them all.
//! Anything else (invalid YAML, an unknown key, a path leaving the
//! repository) is reported as the gate words it, and checking stops there.

use std::io;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;

use super::Problem;
use super::yaml::{self, Located, Node};
use crate::repository::{self, RepositoryError};

/// How deep data directories are followed (as the repository does).
const MAX_DIRECTORY_DEPTH: usize = 32;

/// Extensions of schema and object files.
const DATA_EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// The repository's files, read through a capability rooted at it.
pub(crate) struct Files {
    dir: Dir,
}

/// Why a repository file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Nothing at that path.
    Missing,
    /// A directory where a file is needed.
    Directory,
    /// Larger than the caller's cap, with the size.
    TooLarge(u64),
    /// Not UTF-8 text.
    NotText,
    /// Anything else, as the operating system or cap-std said it.
    Other(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Missing => f.write_str("does not exist in the repository"),
            ReadError::Directory => f.write_str("is a directory; expected a file"),
            ReadError::TooLarge(size) => write!(f, "is too large ({size} bytes)"),
            ReadError::NotText => f.write_str("is not UTF-8 text"),
            ReadError::Other(message) => f.write_str(message),
        }
    }
}

impl Files {
    pub(crate) fn open(root: &Path) -> io::Result<Files> {
        Ok(Files {
            dir: Dir::open_ambient_dir(root, cap_std::ambient_authority())?,
        })
    }

    pub(crate) fn exists(&self, path: &str) -> bool {
        self.dir.symlink_metadata(path).is_ok()
    }

    /// The bytes of the file at `path`, refused above `limit` bytes.
    pub(crate) fn bytes(&self, path: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
        let metadata = self.dir.metadata(path).map_err(classify)?;
        if metadata.is_dir() {
            return Err(ReadError::Directory);
        }
        if metadata.len() > limit {
            return Err(ReadError::TooLarge(metadata.len()));
        }
        self.dir.read(path).map_err(classify)
    }

    /// The text of the file at `path`.
    pub(crate) fn text(&self, path: &str) -> Result<String, ReadError> {
        let bytes = self.bytes(path, 64 << 20)?;
        String::from_utf8(bytes).map_err(|_| ReadError::NotText)
    }

    /// The data files (`.yml`, `.yaml`, `.json`) at `path`: the file itself,
    /// or those beneath the directory, sorted, as Infrahub's loader collects
    /// them.
    pub(crate) fn data_files(&self, path: &str) -> Result<Vec<String>, ReadError> {
        let mut found = Vec::new();
        self.collect(Path::new(path), true, 0, &mut found)?;
        let mut found: Vec<String> = found.iter().map(|path| display(path)).collect();
        found.sort();
        Ok(found)
    }

    fn collect(
        &self,
        path: &Path,
        named: bool,
        depth: usize,
        found: &mut Vec<PathBuf>,
    ) -> Result<(), ReadError> {
        let metadata = self.dir.metadata(path).map_err(classify)?;
        if metadata.is_file() {
            if named || has_data_extension(path) {
                found.push(path.to_owned());
            }
            return Ok(());
        }
        if !metadata.is_dir() || depth >= MAX_DIRECTORY_DEPTH {
            return Ok(());
        }
        for entry in self.dir.read_dir(path).map_err(classify)? {
            let entry = entry.map_err(classify)?;
            self.collect(&path.join(entry.file_name()), false, depth + 1, found)?;
        }
        Ok(())
    }
}

fn classify(error: io::Error) -> ReadError {
    match error.kind() {
        io::ErrorKind::NotFound => ReadError::Missing,
        _ => ReadError::Other(error.to_string()),
    }
}

fn has_data_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| DATA_EXTENSIONS.contains(&extension))
}

/// A relative path with `/` separators and no `./`.
fn display(path: &Path) -> String {
    path.components()
        .filter(|component| !matches!(component, std::path::Component::CurDir))
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// One `generator_definitions` entry, located.
#[derive(Debug, Clone)]
pub(crate) struct Definition {
    pub(crate) name: Located,
    pub(crate) file_path: Located,
    pub(crate) query: Located,
    pub(crate) targets: Located,
    /// `(variable, path)`; the path is `None` when it is not a string.
    pub(crate) parameters: Vec<(Located, Option<Located>)>,
}

/// One `queries` entry, located.
#[derive(Debug, Clone)]
pub(crate) struct QueryEntry {
    pub(crate) name: Located,
    pub(crate) file_path: Located,
}

/// What `validate` needs of `.infrahub.yml`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    pub(crate) file: String,
    pub(crate) definitions: Vec<Definition>,
    pub(crate) queries: Vec<QueryEntry>,
    pub(crate) schemas: Vec<Located>,
    pub(crate) objects: Vec<Located>,
    pub(crate) menus: Vec<Located>,
}

impl Config {
    pub(crate) fn query(&self, name: &str) -> Option<&QueryEntry> {
        self.queries.iter().find(|query| query.name.text == name)
    }

    pub(crate) fn definition(&self, name: &str) -> Option<&Definition> {
        self.definitions
            .iter()
            .find(|definition| definition.name.text == name)
    }

    /// `` `a`, `b` `` or `none is defined`, for messages.
    pub(crate) fn generator_names(&self) -> String {
        names(self.definitions.iter().map(|definition| &definition.name))
    }

    /// `` `a`, `b` `` or `none is declared`, for messages.
    pub(crate) fn query_names(&self) -> String {
        names(self.queries.iter().map(|query| &query.name))
    }
}

fn names<'a>(names: impl Iterator<Item = &'a Located>) -> String {
    let names: Vec<String> = names.map(|name| format!("`{}`", name.text)).collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Reads `.infrahub.yml` after the gate; `Err` carries the one problem that
/// stops checking.
pub(crate) fn read_config(root: &Path, files: &Files) -> Result<Config, Problem> {
    let Some(file) = repository::CONFIG_FILE_NAMES
        .into_iter()
        .find(|name| files.exists(name))
    else {
        return Err(Problem::whole(
            repository::CONFIG_FILE_NAMES[0],
            "no .infrahub.yml (or .infrahub.yaml) at the repository root: this is not an \
             Infrahub repository",
        ));
    };
    if let Err(error) = repository::Repository::open(root)
        && !found_again_by_validate(&error)
    {
        return Err(gate_problem(file, &error));
    }
    let text = files
        .text(file)
        .map_err(|error| Problem::whole(file, error.to_string()))?;
    let documents = yaml::documents(&text).map_err(|error| {
        Problem::at(file, error.line, format!("invalid YAML: {}", error.message))
    })?;
    let mut config = Config {
        file: file.to_owned(),
        ..Config::default()
    };
    let Some(root) = documents.first() else {
        return Ok(config);
    };
    for item in root
        .get("generator_definitions")
        .map_or(&[][..], Node::items)
    {
        let located = |key: &str| {
            item.located(key).unwrap_or(Located {
                text: String::new(),
                line: item.line,
            })
        };
        config.definitions.push(Definition {
            name: located("name"),
            file_path: located("file_path"),
            query: located("query"),
            targets: located("targets"),
            parameters: item
                .get("parameters")
                .map_or(&[][..], Node::entries)
                .iter()
                .filter_map(|(key, value)| {
                    let variable = Located {
                        text: key.text()?,
                        line: key.line,
                    };
                    let path = value.text().map(|text| Located {
                        text: text.to_owned(),
                        line: value.line,
                    });
                    Some((variable, path))
                })
                .collect(),
        });
    }
    for item in root.get("queries").map_or(&[][..], Node::items) {
        if let (Some(name), Some(file_path)) = (item.located("name"), item.located("file_path")) {
            config.queries.push(QueryEntry { name, file_path });
        }
    }
    let paths = |key: &str| -> Vec<Located> {
        root.get(key)
            .map_or(&[][..], Node::items)
            .iter()
            .filter_map(|item| {
                Some(Located {
                    text: item.text()?,
                    line: item.line,
                })
            })
            .collect()
    };
    config.schemas = paths("schemas");
    config.objects = paths("objects");
    config.menus = paths("menus");
    Ok(config)
}

/// Whether the gate stopped at a problem `validate` reports itself, with
/// every other occurrence (see the module documentation).
fn found_again_by_validate(error: &RepositoryError) -> bool {
    matches!(
        error,
        RepositoryError::UndeclaredQuery { .. }
            | RepositoryError::Missing { .. }
            | RepositoryError::WrongFileKind { .. }
    )
}

/// The gate's error as a problem: its message already starts with
/// `file:line:` when it has one.
fn gate_problem(file: &str, error: &RepositoryError) -> Problem {
    let message = error.to_string();
    let prefix = format!("{file}:");
    let Some(rest) = message.strip_prefix(&prefix) else {
        return Problem::whole(file, message);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<u64>() {
        Ok(line) => {
            let rest = &rest[digits.len()..];
            // `:column: ` after a YAML syntax error, `: ` otherwise.
            let rest = rest.trim_start_matches(':');
            let rest = match rest.find(": ") {
                Some(index) if rest[..index].chars().all(|c| c.is_ascii_digit()) => {
                    &rest[index + 2..]
                }
                _ => rest.trim_start(),
            };
            Problem::at(file, line, rest.to_owned())
        }
        Err(_) => Problem::whole(file, rest.trim_start().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gates_location_becomes_the_problems() {
        let problem = gate_problem(
            ".infrahub.yml",
            &RepositoryError::Syntax {
                file: ".infrahub.yml",
                line: 3,
                column: 7,
                message: "did not find expected key".to_owned(),
            },
        );
        assert_eq!(
            problem.to_string(),
            ".infrahub.yml:3: invalid YAML: did not find expected key"
        );
        let problem = gate_problem(
            ".infrahub.yml",
            &RepositoryError::MissingKey {
                file: ".infrahub.yml",
                line: 4,
                context: "generator_definitions[0]".to_owned(),
                key: "query".to_owned(),
            },
        );
        assert_eq!(
            problem.to_string(),
            ".infrahub.yml:4: generator_definitions[0] is missing the required key `query`"
        );
    }
}
