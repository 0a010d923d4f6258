//! The repository: `.infrahub.yml` and the files it names.
//!
//! A repository is a directory laid out as Infrahub expects: `.infrahub.yml`
//! (or `.infrahub.yaml`) at its root registers generators, queries, schemas
//! and objects. [`Repository::open`] parses that file with Infrahub's exact
//! model ([`config`]), then checks every path it names against the file
//! system. This is the first step of a run (CLI → **repository** → runtime →
//! client → transport); nothing here knows how generators run.
//!
//! Every file is read through a [`cap_std::fs::Dir`] rooted at the
//! repository: a path written in `.infrahub.yml` — or asked for later through
//! [`Repository::read`] — is refused if it is absolute, climbs out with `..`,
//! or goes through a symbolic link that points outside. A repository may be
//! written by someone the operator does not trust, like its plugins.
//!
//! When both `.infrahub.yml` and `.infrahub.yaml` exist, `.infrahub.yml` is
//! read and the other ignored (with a warning in the log), as `infrahubctl`
//! does: the same repository must mean the same thing to Infrahub and to
//! infragen.

pub mod config;
mod error;
pub(crate) mod yaml;

use std::io;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;

pub use config::{
    ArtifactDefinition, CheckDefinition, GeneratorDefinition, GraphqlFragment, Jinja2Transform,
    PythonTransform, Query, RepositoryConfig, Watch,
};
pub use error::{Escape, KeyHint, RepositoryError};

use config::{Need, PathUse};

/// The configuration file names Infrahub looks for, preferred first.
pub const CONFIG_FILE_NAMES: [&str; 2] = [".infrahub.yml", ".infrahub.yaml"];

/// Extensions of schema and object files, as Infrahub's loader accepts them.
const DATA_EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// What a `schemas` or `objects` entry must be.
const DATA_SOURCE: &str = "a YAML or JSON file (.yml, .yaml, .json) or a directory of them";

/// How deep [`Repository::schema_files`] and [`Repository::object_files`]
/// follow directories; deeper is taken for a symlink loop.
const MAX_DIRECTORY_DEPTH: usize = 32;

/// An opened, validated repository.
#[derive(Debug)]
pub struct Repository {
    /// The capability every file is read through.
    dir: Dir,
    /// The directory as given, for messages and for the caller.
    root: PathBuf,
    /// `.infrahub.yml` or `.infrahub.yaml`: the one that was read.
    config_file: &'static str,
    config: RepositoryConfig,
}

impl Repository {
    /// Finds `.infrahub.yml` (preferred) or `.infrahub.yaml` at `root`,
    /// parses and validates it, and checks that every path it names stays in
    /// the repository and that the files infragen reads exist: each
    /// generator's component, each query, each schema and object path.
    ///
    /// Paths infragen does not need to run (checks, transforms, templates,
    /// fragments, menus, `watch`) are only checked not to leave the repository:
    /// a sync reads the menus and the transforms it records, and names those
    /// it cannot read.
    pub fn open(root: &Path) -> Result<Repository, RepositoryError> {
        let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority()).map_err(|source| {
            RepositoryError::OpenRoot {
                root: root.to_owned(),
                source,
            }
        })?;
        let config_file = find_config_file(&dir, root)?;
        let text = read_text(&dir, Path::new(config_file))?;
        let node = yaml::parse(&text).map_err(|error| RepositoryError::Syntax {
            file: config_file,
            line: error.line,
            column: error.column,
            message: error.message,
        })?;
        let (config, paths) = config::parse(config_file, &node)?;
        for path in &paths {
            check_path(&dir, config_file, path)?;
        }
        Ok(Repository {
            dir,
            root: root.to_owned(),
            config_file,
            config,
        })
    }

    /// The repository directory, as given to [`Repository::open`].
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The name of the configuration file that was read (`.infrahub.yml` or
    /// `.infrahub.yaml`), for messages that point the user at it.
    pub fn config_file(&self) -> &str {
        self.config_file
    }

    /// The parsed `.infrahub.yml`.
    pub fn config(&self) -> &RepositoryConfig {
        &self.config
    }

    /// The generator definition named `name`, if the repository declares
    /// one.
    pub fn generator(&self, name: &str) -> Option<&GeneratorDefinition> {
        self.config
            .generator_definitions
            .iter()
            .find(|generator| generator.name == name)
    }

    /// The text of the `.gql` file of the query named `name` in `queries`:
    /// the document a generator's targets are queried with.
    pub fn query_text(&self, name: &str) -> Result<String, RepositoryError> {
        let query = self
            .config
            .queries
            .iter()
            .find(|query| query.name == name)
            .ok_or_else(|| RepositoryError::UnknownQuery {
                file: self.config_file,
                name: name.to_owned(),
            })?;
        self.read_string(&query.file_path)
    }

    /// Any repository file, read through the repository's directory
    /// capability: a path that is absolute, climbs out with `..`, or goes
    /// through a symlink leading outside is refused.
    pub fn read(&self, relative: &Path) -> Result<Vec<u8>, RepositoryError> {
        refuse_lexical_escape(relative)?;
        self.dir
            .read(relative)
            .map_err(|source| read_error(relative, source))
    }

    /// The schema files of `schemas` as (repository-relative path, text):
    /// each entry in the order written, a directory recursed with its files
    /// sorted by path, only `.yml`, `.yaml` and `.json` files (as Infrahub's
    /// loader). This is what `infrahubctl schema load` would send.
    pub fn schema_files(&self) -> Result<Vec<(String, String)>, RepositoryError> {
        self.data_files(&self.config.schemas)
    }

    /// The object files of `objects`, collected as [`Repository::schema_files`]
    /// collects schemas: the design data a store is seeded with.
    pub fn object_files(&self) -> Result<Vec<(String, String)>, RepositoryError> {
        self.data_files(&self.config.objects)
    }

    /// The menu files of one entry of `menus` (a file, or a directory of them, collected as
    /// [`Repository::object_files`] collects objects). [`Repository::open`] checks only that
    /// a menu path stays inside: a sync reads them, and names one it cannot read.
    pub fn menu_files(&self, entry: &Path) -> Result<Vec<(String, String)>, RepositoryError> {
        self.data_files(&[entry.to_path_buf()])
    }

    fn data_files(&self, entries: &[PathBuf]) -> Result<Vec<(String, String)>, RepositoryError> {
        let mut files = Vec::new();
        for entry in entries {
            refuse_lexical_escape(entry)?;
            let mut found = Vec::new();
            collect_data_files(&self.dir, entry, true, 0, &mut found)?;
            found.sort();
            for path in found {
                let text = self.read_string(&path)?;
                files.push((display_relative(&path), text));
            }
        }
        Ok(files)
    }

    /// A repository file as text, read through the repository's directory capability (see
    /// [`Repository::read`]).
    pub fn read_string(&self, relative: &Path) -> Result<String, RepositoryError> {
        read_text(&self.dir, relative)
    }
}

/// `.infrahub.yml` if present, else `.infrahub.yaml`, as `infrahubctl`
/// chooses.
fn find_config_file(dir: &Dir, root: &Path) -> Result<&'static str, RepositoryError> {
    let present: Vec<&'static str> = CONFIG_FILE_NAMES
        .into_iter()
        .filter(|name| dir.symlink_metadata(name).is_ok())
        .collect();
    match present.as_slice() {
        [] => {
            let near_misses = ["infrahub.yml", "infrahub.yaml", ".infrahub.yml.yml"];
            let hint = near_misses
                .iter()
                .find(|name| dir.symlink_metadata(name).is_ok())
                .map(|name| format!("; found `{name}` — rename it to `.infrahub.yml`"))
                .unwrap_or_default();
            Err(RepositoryError::NoConfig {
                root: root.to_owned(),
                hint,
            })
        }
        [chosen] => Ok(chosen),
        [chosen, ignored, ..] => {
            tracing::warn!(
                repository = %root.display(),
                "both {chosen} and {ignored} exist; reading {chosen} and ignoring {ignored}, as Infrahub does"
            );
            Ok(chosen)
        }
    }
}

/// Checks one path named by the configuration against the file system.
fn check_path(dir: &Dir, config_file: &'static str, path: &PathUse) -> Result<(), RepositoryError> {
    if path.need == Need::Nothing {
        return Ok(()); // never read; its text was checked while parsing
    }
    let located = |source: io::Error| {
        if is_escape(&source) {
            RepositoryError::OutsideRepository {
                file: config_file,
                line: path.line,
                field: path.field.clone(),
                path: path.written.clone(),
                how: Escape::Symlink,
            }
        } else if source.kind() == io::ErrorKind::NotFound {
            RepositoryError::Missing {
                file: config_file,
                line: path.line,
                field: path.field.clone(),
                path: path.written.clone(),
                hint: if path.need == Need::Component {
                    " (has the component been built?)".to_owned()
                } else {
                    String::new()
                },
            }
        } else {
            RepositoryError::Read {
                path: path.path.clone(),
                source,
            }
        }
    };
    // `metadata` follows symlinks, inside the capability only.
    let metadata = dir.metadata(&path.path).map_err(located)?;
    let wrong_kind = |found: &'static str, expected: &'static str| RepositoryError::WrongFileKind {
        file: config_file,
        line: path.line,
        field: path.field.clone(),
        path: path.written.clone(),
        found,
        expected,
    };
    match path.need {
        Need::Component | Need::File if !metadata.is_file() => Err(wrong_kind(
            if metadata.is_dir() {
                "a directory"
            } else {
                "not a regular file"
            },
            "a file",
        )),
        Need::YamlSource if metadata.is_file() && !has_data_extension(&path.path) => {
            Err(wrong_kind("not a .yml, .yaml or .json file", DATA_SOURCE))
        }
        Need::YamlSource if !metadata.is_file() && !metadata.is_dir() => {
            Err(wrong_kind("neither a file nor a directory", DATA_SOURCE))
        }
        _ => Ok(()),
    }
}

/// Adds to `found` the data files at `path`: the file itself, or every data
/// file beneath the directory. A file named in `.infrahub.yml` was checked at
/// open to be YAML or JSON; inside directories, other files (READMEs,
/// scripts) are skipped, as Infrahub skips them.
fn collect_data_files(
    dir: &Dir,
    path: &Path,
    named: bool,
    depth: usize,
    found: &mut Vec<PathBuf>,
) -> Result<(), RepositoryError> {
    let metadata = dir
        .metadata(path)
        .map_err(|source| read_error(path, source))?;
    if metadata.is_file() {
        if named || has_data_extension(path) {
            found.push(path.to_owned());
        }
        return Ok(());
    }
    if !metadata.is_dir() {
        return Ok(());
    }
    if depth >= MAX_DIRECTORY_DEPTH {
        return Err(RepositoryError::TooDeep {
            path: path.to_owned(),
            limit: MAX_DIRECTORY_DEPTH,
        });
    }
    let entries = dir
        .read_dir(path)
        .map_err(|source| read_error(path, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| read_error(path, source))?;
        let child = path.join(entry.file_name());
        collect_data_files(dir, &child, false, depth + 1, found)?;
    }
    Ok(())
}

fn has_data_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| DATA_EXTENSIONS.contains(&extension))
}

fn read_text(dir: &Dir, relative: &Path) -> Result<String, RepositoryError> {
    let bytes = dir
        .read(relative)
        .map_err(|source| read_error(relative, source))?;
    String::from_utf8(bytes).map_err(|_| RepositoryError::NotUtf8 {
        path: relative.to_owned(),
    })
}

fn refuse_lexical_escape(relative: &Path) -> Result<(), RepositoryError> {
    match config::lexical_escape(relative) {
        Some(how) => Err(RepositoryError::Escapes {
            path: relative.to_owned(),
            how,
        }),
        None => Ok(()),
    }
}

/// A failed read, telling a symlink escape apart from other I/O errors.
fn read_error(path: &Path, source: io::Error) -> RepositoryError {
    if is_escape(&source) {
        RepositoryError::Escapes {
            path: path.to_owned(),
            how: Escape::Symlink,
        }
    } else {
        RepositoryError::Read {
            path: path.to_owned(),
            source,
        }
    }
}

/// Whether cap-std refused a path for leaving the directory. cap-std reports
/// it as `PermissionDenied` with this fixed message (cap-primitives
/// `errors::escape_attempt`); a genuinely unreadable file has the OS message.
fn is_escape(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::PermissionDenied
        && error.to_string().contains("outside of the filesystem")
}

/// A relative path with `/` separators and no `./`, as messages and schema
/// identifiers show it.
fn display_relative(path: &Path) -> String {
    path.components()
        .filter(|component| !matches!(component, std::path::Component::CurDir))
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests;
