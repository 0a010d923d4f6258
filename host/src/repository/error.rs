//! Why a repository was refused.
//!
//! Every message names the file and, for a problem inside `.infrahub.yml`,
//! the line and the place in the document (`generator_definitions[0]`), so a
//! user can fix it without reading infragen's source. The wording of each is
//! pinned by the UI tests under `tests/ui/repository/`.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a repository could not be opened, or a file of it could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepositoryError {
    /// The repository directory itself could not be opened.
    #[error("cannot open the repository {}: {source}", root.display())]
    OpenRoot {
        /// The directory given.
        root: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// Neither `.infrahub.yml` nor `.infrahub.yaml` is at the repository root.
    #[error(
        "{}: no .infrahub.yml (or .infrahub.yaml) at the repository root{hint}",
        root.display()
    )]
    NoConfig {
        /// The directory searched.
        root: PathBuf,
        /// A near miss found there (`infrahub.yml` without the dot), as a
        /// sentence starting with `; `, or empty.
        hint: String,
    },

    /// The text is not a single well-formed YAML document.
    #[error("{file}:{line}:{column}: invalid YAML: {message}")]
    Syntax {
        /// The configuration file (`.infrahub.yml`).
        file: &'static str,
        /// Line of the problem, 1-based.
        line: u64,
        /// Column of the problem, 1-based.
        column: u64,
        /// What the YAML parser expected.
        message: String,
    },

    /// A key that Infrahub's model does not have (every model is
    /// `extra="forbid"`).
    #[error(
        "{file}:{line}: unknown key `{key}` {context} (expected one of {}){hint}",
        quote_all(expected)
    )]
    UnknownKey {
        /// The configuration file.
        file: &'static str,
        /// Line of the key.
        line: u64,
        /// The key as written.
        key: String,
        /// Where: `at the top level` or `in generator_definitions[0]`.
        context: String,
        /// The keys allowed there, in Infrahub's order.
        expected: &'static [&'static str],
        /// What the user probably meant.
        hint: KeyHint,
    },

    /// The same key twice in one mapping.
    #[error("{file}:{line}: key `{key}` appears twice {context} (first at line {first_line})")]
    DuplicateKey {
        /// The configuration file.
        file: &'static str,
        /// Line of the second occurrence.
        line: u64,
        /// The repeated key.
        key: String,
        /// Where: `at the top level` or `in generator_definitions[0]`.
        context: String,
        /// Line of the first occurrence.
        first_line: u64,
    },

    /// A required key is absent.
    #[error("{file}:{line}: {context} is missing the required key `{key}`")]
    MissingKey {
        /// The configuration file.
        file: &'static str,
        /// Line where the entry starts.
        line: u64,
        /// The entry: `generator_definitions[0]`.
        context: String,
        /// The missing key.
        key: String,
    },

    /// A value of the wrong type.
    #[error(
        "{file}:{line}: {} must be {expected}, found {found}",
        quoted_field(field)
    )]
    WrongType {
        /// The configuration file.
        file: &'static str,
        /// Line of the value.
        line: u64,
        /// The value's place: `generator_definitions[0].execute_after_merge`,
        /// or empty for the whole document.
        field: String,
        /// What Infrahub's model accepts there.
        expected: String,
        /// What the file has (`a list`, `an integer`, …).
        found: String,
    },

    /// Two entries of one list share a name (Infrahub's `unique_items`).
    #[error(
        "{file}:{line}: {list}[{index}] is named `{name}`, like {list}[{first_index}] at line \
         {first_line}; names must be unique within `{list}`"
    )]
    DuplicateName {
        /// The configuration file.
        file: &'static str,
        /// Line of the second entry's name.
        line: u64,
        /// The list: `generator_definitions`.
        list: &'static str,
        /// The repeated name.
        name: String,
        /// Index of the second entry.
        index: usize,
        /// Index of the first entry.
        first_index: usize,
        /// Line of the first entry's name.
        first_line: u64,
    },

    /// A generator names a query that `queries` does not declare.
    #[error(
        "{file}:{line}: generator `{generator}` uses query `{query}`, which is not declared in \
         `queries` ({declared})"
    )]
    UndeclaredQuery {
        /// The configuration file.
        file: &'static str,
        /// Line of the generator's `query` value.
        line: u64,
        /// The generator definition.
        generator: String,
        /// The query it names.
        query: String,
        /// The queries that are declared, or `none is declared`.
        declared: String,
    },

    /// A path in `.infrahub.yml` reaches outside the repository.
    #[error(
        "{file}:{line}: `{field}` = `{path}` {how}; paths in {file} are relative to the repository root and must stay inside it"
    )]
    OutsideRepository {
        /// The configuration file.
        file: &'static str,
        /// Line of the path.
        line: u64,
        /// The path's place: `generator_definitions[0].file_path`.
        field: String,
        /// The path as written.
        path: String,
        /// How it escapes.
        how: Escape,
    },

    /// A path in `.infrahub.yml` names nothing in the repository.
    #[error("{file}:{line}: `{field}` = `{path}` does not exist in the repository{hint}")]
    Missing {
        /// The configuration file.
        file: &'static str,
        /// Line of the path.
        line: u64,
        /// The path's place: `queries[0].file_path`.
        field: String,
        /// The path as written.
        path: String,
        /// A likely cause starting with ` (`, or empty.
        hint: String,
    },

    /// A path in `.infrahub.yml` names something of the wrong kind: a
    /// directory where a file is needed, or a schema or object file that is
    /// not YAML or JSON.
    #[error("{file}:{line}: `{field}` = `{path}` is {found}; expected {expected}")]
    WrongFileKind {
        /// The configuration file.
        file: &'static str,
        /// Line of the path.
        line: u64,
        /// The path's place.
        field: String,
        /// The path as written.
        path: String,
        /// What it is.
        found: &'static str,
        /// What the field needs.
        expected: &'static str,
    },

    /// A path given to [`Repository::read`](super::Repository::read) reaches
    /// outside the repository.
    #[error("{}: {how}; repository files are read relative to the repository root and must stay inside it", path.display())]
    Escapes {
        /// The path asked for.
        path: PathBuf,
        /// How it escapes.
        how: Escape,
    },

    /// [`Repository::query_text`](super::Repository::query_text) was asked
    /// for a query that `queries` does not declare.
    #[error("query `{name}` is not declared in `queries` of {file}")]
    UnknownQuery {
        /// The configuration file.
        file: &'static str,
        /// The name asked for.
        name: String,
    },

    /// A repository file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file, relative to the repository root.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// A text file is not UTF-8.
    #[error("{}: not valid UTF-8 text", path.display())]
    NotUtf8 {
        /// The file, relative to the repository root.
        path: PathBuf,
    },

    /// Directories nest deeper than infragen follows (most likely a symlink
    /// loop inside the repository).
    #[error("{}: directories nest more than {limit} levels deep (a symlink loop?)", path.display())]
    TooDeep {
        /// The directory where the walk stopped.
        path: PathBuf,
        /// The depth limit.
        limit: usize,
    },
}

/// How a path leaves the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// It is absolute (`/etc/x.wasm`).
    Absolute,
    /// Its `..` components climb above the repository root.
    ParentDir,
    /// It goes through a symbolic link that points outside the repository.
    Symlink,
}

impl fmt::Display for Escape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Escape::Absolute => "is an absolute path",
            Escape::ParentDir => "climbs above the repository root with `..`",
            Escape::Symlink => "goes through a symbolic link that leads outside the repository",
        })
    }
}

/// What an unknown key was probably meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHint {
    /// No suggestion.
    None,
    /// A near spelling of an allowed key.
    DidYouMean(&'static str),
    /// The key is a runtime limit, which belongs in `infragen.toml`.
    RuntimePolicy,
}

impl fmt::Display for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyHint::None => Ok(()),
            KeyHint::DidYouMean(key) => write!(f, "; did you mean `{key}`?"),
            KeyHint::RuntimePolicy => f.write_str(
                "; runtime policy and limits belong in infragen.toml, never in .infrahub.yml",
            ),
        }
    }
}

/// `` `a`, `b`, `c` ``
pub(crate) fn quote_all(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A field in backticks, or "the document" for the root.
fn quoted_field(field: &str) -> String {
    if field.is_empty() {
        "the document".to_owned()
    } else {
        format!("`{field}`")
    }
}
