//! `infragen plugin new`: a generator's three parts, written so that they
//! agree from the start.
//!
//! A generator is a target group, a stored GraphQL query and the component
//! itself, registered in `.infrahub.yml`; the usual mistakes are parts that
//! do not match (a query name, a variable, a group nobody declares). The
//! scaffolder derives every name from one (`NAME`), checks the target kind
//! and the parameter paths against the repository's schema where there is
//! one, and writes:
//!
//! - `plugins/NAME/`: a crate that builds to a component (its own Cargo
//!   workspace, depending on the SDK by path, see [`sdk`], and starting from
//!   the SDK workspace's `Cargo.lock`);
//! - `plugins/NAME/NAME.gql`: the query, one variable per parameter;
//! - an object file declaring the target group, unless one already does;
//! - the `queries` and `generator_definitions` entries, added to
//!   `.infrahub.yml` as text so its comments and layout stay
//!   (`infrahub_yml`).
//!
//! Everything is checked before anything is written, and nothing existing is
//! overwritten.

mod infrahub_yml;
pub mod sdk;
mod templates;

use std::path::{Path, PathBuf};

use infragen_store::graphql::types::filter_arg_ok;
use infragen_store::schema::{Cardinality, Schema};

pub use infrahub_yml::EditError;
use infrahub_yml::{Entry, Field};
use templates::Variable;

use crate::validate::objects;
use crate::validate::repository::{self as repository_view, Config, Files};
use crate::validate::schema;

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// The generator definition's name; also the crate's and the directory's.
    pub name: String,
    /// The schema kind of the targets (`LocationRack`).
    pub target_kind: String,
    /// `(variable, path)`: query variables and where on the target their
    /// values come from (`rack_name`, `name__value`).
    pub parameters: Vec<(String, String)>,
    /// The target group; `NAME-targets` when `None`.
    pub targets: Option<String>,
    /// The SDK crate directory the plugin depends on (see [`sdk::find`]).
    pub sdk: PathBuf,
}

/// What [`new_plugin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaffolded {
    /// New files, relative to the repository root, in the order written.
    pub created: Vec<String>,
    /// The configuration file that was edited (or created).
    pub config_file: String,
    /// Whether the configuration file was created (there was none).
    pub config_created: bool,
    /// The command that builds the component.
    pub build_command: String,
    /// Things the user should know: what could not be checked.
    pub notes: Vec<String>,
}

/// Why nothing was scaffolded.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// A name or path given on the command line is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Something of that name already exists.
    #[error("{0} already exists; choose another name or remove it first")]
    Exists(String),
    /// The repository's `.infrahub.yml` must be fixed first.
    #[error("{file} must be fixed first: {problem}")]
    Repository {
        /// The configuration file.
        file: String,
        /// The problem, with its line.
        problem: crate::validate::Problem,
    },
    /// The target kind or a parameter does not fit the repository's schema.
    #[error("{0}")]
    Schema(String),
    /// `.infrahub.yml` has a shape the text edit cannot change safely.
    #[error(
        "{file} was not changed: {source}. Add these entries by hand, then run \
         `infragen validate`:\n{entries}"
    )]
    Edit {
        /// The configuration file.
        file: String,
        /// What the edit could not handle.
        source: EditError,
        /// The entries to add.
        entries: String,
    },
    /// The SDK directory is not usable.
    #[error("{0}")]
    Sdk(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// Every name the parts share, derived from the generator's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Names {
    pub(crate) generator: String,
    /// `plugins/NAME`
    pub(crate) crate_dir: String,
    /// The Rust type implementing `Generator` (`rack-notes` → `RackNotes`).
    pub(crate) rust_type: String,
    /// The query's name, a GraphQL name (`rack-notes` → `rack_notes`).
    pub(crate) query: String,
    /// `plugins/NAME/QUERY.gql`
    pub(crate) query_file: String,
    /// Where `cargo build --release --target wasm32-wasip2` puts the
    /// component.
    pub(crate) component: String,
    pub(crate) group: String,
}

impl Names {
    fn new(generator: &str, group: Option<&str>) -> Names {
        let crate_dir = format!("plugins/{generator}");
        let snake = generator.replace('-', "_");
        Names {
            generator: generator.to_owned(),
            rust_type: generator
                .split(['-', '_'])
                .filter(|part| !part.is_empty())
                .map(|part| {
                    let mut chars = part.chars();
                    chars.next().map_or_else(String::new, |first| {
                        first.to_ascii_uppercase().to_string() + chars.as_str()
                    })
                })
                .collect(),
            query_file: format!("{crate_dir}/{snake}.gql"),
            component: format!("{crate_dir}/target/wasm32-wasip2/release/{snake}.wasm"),
            query: snake,
            crate_dir,
            group: group.map_or_else(|| format!("{generator}-targets"), str::to_owned),
        }
    }
}

/// A generator or group name: what is safe as a crate name, a directory, a
/// YAML scalar and (with `-` as `_`) a GraphQL name.
fn check_name(what: &str, name: &str) -> Result<(), ScaffoldError> {
    let ok = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ScaffoldError::Invalid(format!(
            "{what} `{name}` must start with a lowercase letter and hold only lowercase letters, \
             digits, `-` and `_` (at most 64): it names a crate, a directory and a query"
        )))
    }
}

fn check_parameter(variable: &str, path: &str) -> Result<(), ScaffoldError> {
    let graphql_name = variable
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && variable
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !graphql_name {
        return Err(ScaffoldError::Invalid(format!(
            "parameter `{variable}` must be a GraphQL variable name (letters, digits, `_`)"
        )));
    }
    let segments: Vec<&str> = path.split("__").collect();
    let shape = matches!(segments.as_slice(), [_, "value"] | [_, _, "value"])
        && segments.iter().all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !shape {
        return Err(ScaffoldError::Invalid(format!(
            "parameter `{variable}={path}`: the path must be `ATTRIBUTE__value` (`name__value`) \
             or `RELATIONSHIP__ATTRIBUTE__value` (`site__name__value`)"
        )));
    }
    Ok(())
}

/// Scaffolds the plugin `spec` in the repository at `root`.
pub fn new_plugin(root: &Path, spec: &PluginSpec) -> Result<Scaffolded, ScaffoldError> {
    check_name("the generator name", &spec.name)?;
    if let Some(group) = &spec.targets {
        check_name("the target group", group)?;
    }
    for (variable, path) in &spec.parameters {
        check_parameter(variable, path)?;
    }
    if let Some(repeated) = spec
        .parameters
        .iter()
        .enumerate()
        .find(|(index, (variable, _))| {
            spec.parameters[..*index]
                .iter()
                .any(|(other, _)| other == variable)
        })
    {
        return Err(ScaffoldError::Invalid(format!(
            "parameter `{}` is given twice",
            repeated.1.0
        )));
    }
    let names = Names::new(&spec.name, spec.targets.as_deref());
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ScaffoldError::Io { path, source }
    };
    let files = Files::open(root).map_err(io(root))?;

    // The repository as it is.
    let config_file = crate::repository::CONFIG_FILE_NAMES
        .into_iter()
        .find(|name| files.exists(name));
    let (config, config_text) = match config_file {
        Some(file) => {
            let config = repository_view::read_config(root, &files).map_err(|problem| {
                ScaffoldError::Repository {
                    file: file.to_owned(),
                    problem,
                }
            })?;
            let text = std::fs::read_to_string(root.join(file)).map_err(io(&root.join(file)))?;
            (config, text)
        }
        None => (
            Config {
                file: crate::repository::CONFIG_FILE_NAMES[0].to_owned(),
                ..Config::default()
            },
            String::new(),
        ),
    };
    if config.definition(&names.generator).is_some() {
        return Err(ScaffoldError::Exists(format!(
            "generator `{}` in {}",
            names.generator, config.file
        )));
    }
    if config.query(&names.query).is_some() {
        return Err(ScaffoldError::Exists(format!(
            "query `{}` in {}",
            names.query, config.file
        )));
    }
    if files.exists(&names.crate_dir) {
        return Err(ScaffoldError::Exists(names.crate_dir.clone()));
    }

    let mut notes = Vec::new();
    let mut problems = Vec::new();
    let loaded = schema::load(&config, &files, &mut problems);
    let (variables, selections) = match &loaded {
        Some(loaded) if !config.schemas.is_empty() => {
            check_against_schema(&loaded.schema, &spec.target_kind, &spec.parameters)?
        }
        _ => {
            notes.push(if config.schemas.is_empty() {
                format!(
                    "{} declares no schema, so `{}` and the parameter paths were not checked",
                    config.file, spec.target_kind
                )
            } else {
                format!(
                    "the repository's schema did not load (`infragen validate` says why), so \
                     `{}` and the parameter paths were not checked",
                    spec.target_kind
                )
            });
            unchecked(&spec.parameters)
        }
    };

    // The target group: declared already, or by a new object file.
    let objects = objects::read(&config, &files, &mut problems);
    let declared = crate::validate::groups::declared_by_objects(
        &objects,
        loaded.as_ref().map(|loaded| loaded.schema.as_ref()),
        &names.group,
    );
    let objects_dir = config
        .objects
        .iter()
        .find(|entry| root.join(&entry.text).is_dir())
        .map(|entry| entry.text.trim_end_matches('/').to_owned());
    let group_file = (!declared).then(|| {
        format!(
            "{}/00_{}.yml",
            objects_dir.as_deref().unwrap_or("objects"),
            names.group
        )
    });

    // The SDK, relative when it is inside the repository.
    let sdk = sdk::dependency_path(&spec.sdk, root, &names.crate_dir)?;

    // `.infrahub.yml`, edited in memory and checked.
    let mut additions = vec![
        (
            "queries",
            Entry::Mapping(vec![
                ("name".into(), Field::Text(names.query.clone())),
                ("file_path".into(), Field::Text(names.query_file.clone())),
            ]),
        ),
        (
            "generator_definitions",
            Entry::Mapping(vec![
                ("name".into(), Field::Text(names.generator.clone())),
                ("file_path".into(), Field::Text(names.component.clone())),
                ("targets".into(), Field::Text(names.group.clone())),
                ("query".into(), Field::Text(names.query.clone())),
                ("parameters".into(), Field::Map(spec.parameters.clone())),
            ]),
        ),
    ];
    if objects_dir.is_none()
        && let Some(group_file) = &group_file
    {
        // A repository without object files gets the directory, so that
        // the files declaring targets can go next to the group's.
        let entry = if config.objects.is_empty() {
            "objects".to_owned()
        } else {
            group_file.clone()
        };
        additions.push(("objects", Entry::Scalar(entry)));
    }
    let edited =
        infrahub_yml::append(&config_text, &additions).map_err(|source| ScaffoldError::Edit {
            file: config.file.clone(),
            source,
            entries: additions
                .iter()
                .map(|(key, entry)| format!("{key}:\n{}", entry.render(2).join("\n")))
                .collect::<Vec<_>>()
                .join("\n"),
        })?;

    // Everything new, checked not to exist before anything is written.
    let mut new_files = vec![
        (
            format!("{}/Cargo.toml", names.crate_dir),
            templates::cargo_toml(&names, &sdk),
        ),
        (
            format!("{}/.gitignore", names.crate_dir),
            templates::GITIGNORE.to_owned(),
        ),
        (
            format!("{}/src/lib.rs", names.crate_dir),
            templates::lib_rs(&names, &spec.target_kind, &spec.parameters),
        ),
        (
            names.query_file.clone(),
            templates::query_gql(&names, &spec.target_kind, &variables, &selections),
        ),
    ];
    // The SDK's own lock file, when it has one: the plugin starts from the
    // dependency versions the SDK is built and tested with, and builds
    // without the network (cargo drops the entries it does not need).
    if let Some(lock) = spec
        .sdk
        .parent()
        .and_then(|workspace| std::fs::read_to_string(workspace.join("Cargo.lock")).ok())
    {
        new_files.push((format!("{}/Cargo.lock", names.crate_dir), lock));
    }
    if let Some(group_file) = &group_file {
        if files.exists(group_file) {
            return Err(ScaffoldError::Exists(group_file.clone()));
        }
        new_files.push((group_file.clone(), templates::group_object(&names)));
    }
    let mut created = Vec::new();
    for (relative, text) in &new_files {
        let path = root.join(relative);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
            })
            .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()));
        if let Err(source) = written {
            undo(root, &created, &names.crate_dir);
            return Err(ScaffoldError::Io { path, source });
        }
        created.push(relative.clone());
    }
    let config_path = root.join(&config.file);
    if let Err(source) = std::fs::write(&config_path, edited) {
        undo(root, &created, &names.crate_dir);
        return Err(ScaffoldError::Io {
            path: config_path,
            source,
        });
    }
    Ok(Scaffolded {
        created,
        config_file: config.file,
        config_created: config_file.is_none(),
        build_command: format!(
            "cargo build --release --target wasm32-wasip2 --manifest-path {}/Cargo.toml",
            names.crate_dir
        ),
        notes,
    })
}

/// Removes what a failed scaffold wrote.
fn undo(root: &Path, created: &[String], crate_dir: &str) {
    for relative in created {
        let _ = std::fs::remove_file(root.join(relative));
    }
    let _ = std::fs::remove_dir_all(root.join(crate_dir));
}

/// The query's variables and extra selections, typed and checked against
/// the schema: the kind exists, and each path is a filter of it that reads
/// an attribute directly or through a card-one relationship.
fn check_against_schema(
    schema: &Schema,
    kind_name: &str,
    parameters: &[(String, String)],
) -> Result<(Vec<Variable>, Vec<String>), ScaffoldError> {
    let Some(kind) = schema.get(kind_name) else {
        let similar: Vec<&str> = schema
            .kinds()
            // Not the derived profile and template kinds: nobody targets those.
            .filter(|kind| !matches!(kind.namespace.as_str(), "Profile" | "Template"))
            .filter(|kind| {
                kind.kind.to_lowercase().contains(&kind_name.to_lowercase())
                    || kind_name.to_lowercase().contains(&kind.name.to_lowercase())
            })
            .map(|kind| kind.kind.as_str())
            .take(5)
            .collect();
        let hint = if similar.is_empty() {
            String::new()
        } else {
            format!(" (similar: {})", similar.join(", "))
        };
        return Err(ScaffoldError::Schema(format!(
            "the repository's schema has no kind `{kind_name}`{hint}"
        )));
    };
    let mut variables = Vec::new();
    let mut selections = Vec::new();
    for (variable, path) in parameters {
        let segments: Vec<&str> = path.split("__").collect();
        let attribute = match segments.as_slice() {
            [attribute, _] => kind.attribute(attribute),
            [relationship, attribute, _] => kind
                .relationship(relationship)
                .filter(|relationship| relationship.cardinality == Cardinality::One)
                .and_then(|relationship| schema.get(&relationship.peer))
                .and_then(|peer| peer.attribute(attribute)),
            _ => None,
        };
        let Some(attribute) = attribute.filter(|_| filter_arg_ok(schema, kind, path, true)) else {
            let attributes: Vec<&str> = kind
                .attributes
                .iter()
                .map(|attribute| attribute.name.as_str())
                .collect();
            return Err(ScaffoldError::Schema(format!(
                "parameter `{variable}={path}`: `{kind_name}` has no attribute (or card-one \
                 relationship and attribute) that path reads; its attributes: {}",
                attributes.join(", ")
            )));
        };
        variables.push(Variable {
            name: variable.clone(),
            path: path.clone(),
            scalar: attribute.kind.scalar().to_owned(),
        });
        let selection = selection_of(path);
        if !selections.contains(&selection) {
            selections.push(selection);
        }
    }
    Ok((variables, selections))
}

/// Variables typed `String`, when there is no schema to read types from.
fn unchecked(parameters: &[(String, String)]) -> (Vec<Variable>, Vec<String>) {
    let variables = parameters
        .iter()
        .map(|(name, path)| Variable {
            name: name.clone(),
            path: path.clone(),
            scalar: "String".to_owned(),
        })
        .collect();
    let mut selections: Vec<String> = Vec::new();
    for (_, path) in parameters {
        let selection = selection_of(path);
        if !selections.contains(&selection) {
            selections.push(selection);
        }
    }
    (variables, selections)
}

/// The selection that shows a parameter's value in the query result:
/// `name { value }`, or `site { node { name { value } } }`.
fn selection_of(path: &str) -> String {
    match path.split("__").collect::<Vec<_>>().as_slice() {
        [relationship, attribute, _] => {
            format!("{relationship} {{ node {{ {attribute} {{ value }} }} }}")
        }
        [attribute, ..] => format!("{attribute} {{ value }}"),
        [] => String::new(),
    }
}

#[cfg(test)]
mod tests;
