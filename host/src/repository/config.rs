//! Infrahub's `.infrahub.yml` model, exactly: `InfrahubRepositoryConfig` of
//! the Python SDK (`infrahub_sdk/schema/repository.py`, 1.23).
//!
//! Every key, type and default is Infrahub's, every mapping refuses unknown
//! keys (`extra="forbid"`), and names are unique within each named list, so a
//! file infragen accepts is one Infrahub accepts. infragen adds three checks
//! of its own, each because it runs what Infrahub would only import: a
//! generator's `query` must be declared in `queries`, its `file_path` must be a
//! `.wasm` component, and no path may leave the repository. Runtime policy and
//! limits are never read from here; they live in `infragen.toml`
//! ([`crate::policy`]).
//!
//! Type coercion follows pydantic's lax mode where YAML can express it: a
//! boolean field also takes `yes`/`no`/`on`/`off`/`y`/`n`/`t`/`f`/`1`/`0`
//! (Python's YAML loader reads `yes` as `true` anyway), while a string field
//! takes only a string, as pydantic 2 does.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::error::{Escape, KeyHint, RepositoryError, quote_all};
use super::yaml::{Node, Value};

/// The parsed `.infrahub.yml`: every top-level key of Infrahub's model, with
/// Infrahub's default (an empty list) when absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepositoryConfig {
    /// `check_definitions`: Python checks. Parsed for fidelity; infragen
    /// does not run them.
    pub check_definitions: Vec<CheckDefinition>,
    /// `schemas`: schema files or directories, repository-relative.
    pub schemas: Vec<PathBuf>,
    /// `jinja2_transforms`: parsed for fidelity; not run by infragen.
    pub jinja2_transforms: Vec<Jinja2Transform>,
    /// `artifact_definitions`: parsed for fidelity; not run by infragen.
    pub artifact_definitions: Vec<ArtifactDefinition>,
    /// `python_transforms`: parsed for fidelity; not run by infragen.
    pub python_transforms: Vec<PythonTransform>,
    /// `generator_definitions`: what infragen runs.
    pub generator_definitions: Vec<GeneratorDefinition>,
    /// `queries`: named GraphQL documents (`.gql` files).
    pub queries: Vec<Query>,
    /// `graphql_fragments`: fragment files or directories. Parsed for
    /// fidelity; infragen does not splice them into queries.
    pub graphql_fragments: Vec<GraphqlFragment>,
    /// `objects`: object files or directories (the design data).
    pub objects: Vec<PathBuf>,
    /// `menus`: menu files (`kind: Menu`), loaded by a sync after the objects, as
    /// Infrahub's import loads them; infragen has no UI, but a client reads them.
    pub menus: Vec<PathBuf>,
}

/// One `generator_definitions` entry (`InfrahubGeneratorDefinitionConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorDefinition {
    /// The definition's name; also the identifier of its tracking groups.
    pub name: String,
    /// The WebAssembly component, relative to the repository root; in an Infrahub
    /// repository, a Python module, which is imported but not run (see
    /// [`GeneratorDefinition::is_component`]).
    pub file_path: PathBuf,
    /// Name of the entry in `queries` whose result the generator receives.
    pub query: String,
    /// `{graphql variable: "attr__value" | "rel__attr__value"}`: how each
    /// query variable is read from a target.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Name of the group whose members are the targets, one run each.
    pub targets: String,
    /// Infrahub's Python class name (default `Generator`); kept so the file
    /// round-trips, meaningless for a component.
    pub class_name: String,
    /// Whether Infrahub converts the query result to SDK nodes (default
    /// `false`).
    pub convert_query_response: bool,
    /// Whether the generator runs as a check of proposed changes (default
    /// `true`).
    pub execute_in_proposed_change: bool,
    /// Whether the generator runs after a merge (default `true`); also picks
    /// the tracking group kind (`CoreGeneratorGroup` when true,
    /// `CoreGeneratorAwareGroup` when false).
    pub execute_after_merge: bool,
    /// Extra files the generator depends on (default none).
    pub watch: Option<Watch>,
}

impl GeneratorDefinition {
    /// Whether infragen can run it: its `file_path` is a WebAssembly component, not an
    /// Infrahub Python generator.
    pub fn is_component(&self) -> bool {
        self.file_path
            .extension()
            .is_some_and(|extension| extension == "wasm")
    }
}

/// `watch` of a generator or transform (`InfrahubWatchConfig`): files and
/// directories whose change should re-run it, beyond what Infrahub detects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watch {
    /// Repository-relative files or directories (`dir/` matches recursively),
    /// as written; Infrahub's server canonicalizes them.
    pub files: Vec<String>,
}

/// One `queries` entry: a named GraphQL document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The name generators refer to.
    pub name: String,
    /// The `.gql` file, relative to the repository root.
    pub file_path: PathBuf,
}

/// One `graphql_fragments` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlFragment {
    /// Logical name of the fragment file or directory.
    pub name: String,
    /// A `.gql` file or a directory of them.
    pub file_path: PathBuf,
}

/// One `check_definitions` entry (`InfrahubCheckDefinitionConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckDefinition {
    /// The check's name.
    pub name: String,
    /// The Python file.
    pub file_path: PathBuf,
    /// Query variables read from each target (default empty).
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// The target group, or `None` for a global check.
    pub targets: Option<String>,
    /// The Python class (default `Check`).
    pub class_name: String,
}

/// One `jinja2_transforms` entry (`InfrahubJinja2TransformConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jinja2Transform {
    /// The transform's name.
    pub name: String,
    /// Name of the query it renders.
    pub query: String,
    /// The template file.
    pub template_path: PathBuf,
    /// Free text (default none).
    pub description: Option<String>,
    /// Extra dependency files (default none).
    pub watch: Option<Watch>,
}

/// One `artifact_definitions` entry
/// (`InfrahubRepositoryArtifactDefinitionConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactDefinition {
    /// The definition's name.
    pub name: String,
    /// Name of the artifacts it creates (default none).
    pub artifact_name: Option<String>,
    /// Input parameters (required, may be empty).
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Content type of the rendered artifact.
    pub content_type: String,
    /// The target group.
    pub targets: String,
    /// Name of the transform that renders it.
    pub transformation: String,
}

/// One `python_transforms` entry (`InfrahubPythonTransformConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonTransform {
    /// The transform's name.
    pub name: String,
    /// The Python file.
    pub file_path: PathBuf,
    /// The Python class (default `Transform`).
    pub class_name: String,
    /// Whether the query result is converted to SDK nodes (default `false`).
    pub convert_query_response: bool,
    /// Free text (default none).
    pub description: Option<String>,
    /// Extra dependency files (default none).
    pub watch: Option<Watch>,
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "check_definitions",
    "schemas",
    "jinja2_transforms",
    "artifact_definitions",
    "python_transforms",
    "generator_definitions",
    "queries",
    "graphql_fragments",
    "objects",
    "menus",
];
const GENERATOR_KEYS: &[&str] = &[
    "name",
    "file_path",
    "query",
    "parameters",
    "targets",
    "class_name",
    "convert_query_response",
    "execute_in_proposed_change",
    "execute_after_merge",
    "watch",
];
const QUERY_KEYS: &[&str] = &["name", "file_path"];
const CHECK_KEYS: &[&str] = &["name", "file_path", "parameters", "targets", "class_name"];
const JINJA2_KEYS: &[&str] = &["name", "query", "template_path", "description", "watch"];
const ARTIFACT_KEYS: &[&str] = &[
    "name",
    "artifact_name",
    "parameters",
    "content_type",
    "targets",
    "transformation",
];
const PYTHON_TRANSFORM_KEYS: &[&str] = &[
    "name",
    "file_path",
    "class_name",
    "convert_query_response",
    "description",
    "watch",
];
const WATCH_KEYS: &[&str] = &["files"];

/// Keys of `infragen.toml`: a user who puts a limit in `.infrahub.yml` is
/// told where it belongs.
const POLICY_KEYS: &[&str] = &[
    "sandbox",
    "memory",
    "deadline",
    "timeout",
    "fuel",
    "max_host_calls",
    "max_argument_size",
    "max_response_size",
    "log_cap",
    "concurrency",
    "limits",
    "policy",
];

/// What must be true of a path beyond staying inside the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// A generator's WebAssembly component.
    Component,
    /// A regular file infragen reads (a query).
    File,
    /// A YAML/JSON file or a directory of them (schemas, objects).
    YamlSource,
    /// Nothing to run with: checks infragen never reads; transforms and menus a sync reads,
    /// naming in its warning one it cannot.
    Nothing,
}

/// A path named by the configuration, with where it was written, so the
/// repository can check it against the file system and report the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathUse {
    pub(crate) line: u64,
    pub(crate) field: String,
    pub(crate) written: String,
    pub(crate) path: PathBuf,
    pub(crate) need: Need,
}

/// Parses and validates the text of the configuration file `file`, returning
/// the configuration and every path it names (for the file-system checks).
pub(crate) fn parse(
    file: &'static str,
    root: &Node,
) -> Result<(RepositoryConfig, Vec<PathUse>), RepositoryError> {
    let mut reader = Reader {
        file,
        paths: Vec::new(),
    };
    let config = reader.config(root)?;
    Ok((config, reader.paths))
}

/// Where `path` leaves the repository, judged from its text alone: absolute,
/// or with more `..` than directories before them. Symlinks are caught when
/// the path is opened through the repository's directory capability.
pub(crate) fn lexical_escape(path: &Path) -> Option<Escape> {
    let mut depth = 0usize;
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Some(Escape::Absolute),
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(up) => depth = up,
                None => return Some(Escape::ParentDir),
            },
            Component::Normal(_) => depth += 1,
        }
    }
    None
}

/// A mapping whose keys were checked against a model: no unknown key, none
/// twice.
struct Entries<'n> {
    /// `generator_definitions[0]`, or empty at the top level.
    place: String,
    line: u64,
    fields: Vec<(&'static str, &'n Node)>,
}

impl<'n> Entries<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.fields
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, node)| *node)
    }

    /// The place of `key` in messages: `generator_definitions[0].name`.
    fn field(&self, key: &str) -> String {
        if self.place.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.place)
        }
    }
}

struct Reader {
    file: &'static str,
    paths: Vec<PathUse>,
}

impl Reader {
    fn config(&mut self, root: &Node) -> Result<RepositoryConfig, RepositoryError> {
        let mut config = RepositoryConfig::default();
        if root.value == Value::Null {
            // An empty file is a repository that declares nothing, as an
            // empty mapping is for pydantic.
            return Ok(config);
        }
        let top = self.mapping(root, "", TOP_LEVEL_KEYS)?;
        // Keys in document order, so the first problem reported is the
        // first in the file.
        for &(key, node) in &top.fields {
            match key {
                "check_definitions" => {
                    config.check_definitions = self.named_list(node, key, Self::check)?
                }
                "schemas" => config.schemas = self.paths(node, key, Need::YamlSource)?,
                "jinja2_transforms" => {
                    config.jinja2_transforms = self.named_list(node, key, Self::jinja2)?
                }
                "artifact_definitions" => {
                    config.artifact_definitions = self.named_list(node, key, Self::artifact)?
                }
                "python_transforms" => {
                    config.python_transforms = self.named_list(node, key, Self::python_transform)?
                }
                "generator_definitions" => {
                    config.generator_definitions = self.named_list(node, key, Self::generator)?
                }
                "queries" => config.queries = self.named_list(node, key, Self::query)?,
                "graphql_fragments" => {
                    config.graphql_fragments = self.named_list(node, key, Self::fragment)?
                }
                "objects" => config.objects = self.paths(node, key, Need::YamlSource)?,
                "menus" => config.menus = self.paths(node, key, Need::Nothing)?,
                _ => unreachable!("`mapping` admits only TOP_LEVEL_KEYS"),
            }
        }
        self.generators_are_runnable(&config, &top)?;
        Ok(config)
    }

    /// infragen's own rules for generators: the query is declared and the
    /// file is a WebAssembly component.
    fn generators_are_runnable(
        &self,
        config: &RepositoryConfig,
        top: &Entries<'_>,
    ) -> Result<(), RepositoryError> {
        let Some(list) = top.get("generator_definitions") else {
            return Ok(());
        };
        let Value::Seq(items) = &list.value else {
            return Ok(());
        };
        for (generator, item) in config.generator_definitions.iter().zip(items) {
            let line_of =
                |key: &str| field_node(item, key).map_or(item.line, |node: &Node| node.line);
            if !config
                .queries
                .iter()
                .any(|query| query.name == generator.query)
            {
                let declared = if config.queries.is_empty() {
                    "none is declared".to_owned()
                } else {
                    let names: Vec<&str> = config
                        .queries
                        .iter()
                        .map(|query| query.name.as_str())
                        .collect();
                    format!("declared: {}", quote_all(&names))
                };
                return Err(RepositoryError::UndeclaredQuery {
                    file: self.file,
                    line: line_of("query"),
                    generator: generator.name.clone(),
                    query: generator.query.clone(),
                    declared,
                });
            }
            // A definition whose file_path is not a component (an Infrahub Python
            // generator) is accepted: it is imported, and refused when run (see
            // `GeneratorDefinition::is_component`).
        }
        Ok(())
    }

    fn generator(&mut self, entries: &Entries<'_>) -> Result<GeneratorDefinition, RepositoryError> {
        Ok(GeneratorDefinition {
            name: self.required_string(entries, "name")?,
            file_path: {
                // A component is read by the host and must exist; a Python generator's
                // module is Infrahub's to run, never read here.
                let is_wasm = entries
                    .get("file_path")
                    .and_then(|node| match &node.value {
                        Value::Str(text) => Some(text.ends_with(".wasm")),
                        _ => None,
                    })
                    .unwrap_or(true);
                let need = if is_wasm {
                    Need::Component
                } else {
                    Need::Nothing
                };
                self.required_path(entries, "file_path", need)?
            },
            query: self.required_string(entries, "query")?,
            parameters: self
                .optional(entries, "parameters", Self::dict)?
                .unwrap_or_default(),
            targets: self.required_string(entries, "targets")?,
            class_name: self
                .optional(entries, "class_name", Self::string)?
                .unwrap_or_else(|| "Generator".to_owned()),
            convert_query_response: self
                .optional(entries, "convert_query_response", Self::boolean)?
                .unwrap_or(false),
            execute_in_proposed_change: self
                .optional(entries, "execute_in_proposed_change", Self::boolean)?
                .unwrap_or(true),
            execute_after_merge: self
                .optional(entries, "execute_after_merge", Self::boolean)?
                .unwrap_or(true),
            watch: self.watch(entries)?,
        })
    }

    fn query(&mut self, entries: &Entries<'_>) -> Result<Query, RepositoryError> {
        Ok(Query {
            name: self.required_string(entries, "name")?,
            file_path: self.required_path(entries, "file_path", Need::File)?,
        })
    }

    fn fragment(&mut self, entries: &Entries<'_>) -> Result<GraphqlFragment, RepositoryError> {
        Ok(GraphqlFragment {
            name: self.required_string(entries, "name")?,
            file_path: self.required_path(entries, "file_path", Need::Nothing)?,
        })
    }

    fn check(&mut self, entries: &Entries<'_>) -> Result<CheckDefinition, RepositoryError> {
        Ok(CheckDefinition {
            name: self.required_string(entries, "name")?,
            file_path: self.required_path(entries, "file_path", Need::Nothing)?,
            parameters: self
                .optional(entries, "parameters", Self::dict)?
                .unwrap_or_default(),
            targets: self
                .optional(entries, "targets", Self::nullable_string)?
                .flatten(),
            class_name: self
                .optional(entries, "class_name", Self::string)?
                .unwrap_or_else(|| "Check".to_owned()),
        })
    }

    fn jinja2(&mut self, entries: &Entries<'_>) -> Result<Jinja2Transform, RepositoryError> {
        Ok(Jinja2Transform {
            name: self.required_string(entries, "name")?,
            query: self.required_string(entries, "query")?,
            template_path: self.required_path(entries, "template_path", Need::Nothing)?,
            description: self
                .optional(entries, "description", Self::nullable_string)?
                .flatten(),
            watch: self.watch(entries)?,
        })
    }

    fn artifact(&mut self, entries: &Entries<'_>) -> Result<ArtifactDefinition, RepositoryError> {
        Ok(ArtifactDefinition {
            name: self.required_string(entries, "name")?,
            artifact_name: self
                .optional(entries, "artifact_name", Self::nullable_string)?
                .flatten(),
            parameters: self.required(entries, "parameters", Self::dict)?,
            content_type: self.required_string(entries, "content_type")?,
            targets: self.required_string(entries, "targets")?,
            transformation: self.required_string(entries, "transformation")?,
        })
    }

    fn python_transform(
        &mut self,
        entries: &Entries<'_>,
    ) -> Result<PythonTransform, RepositoryError> {
        Ok(PythonTransform {
            name: self.required_string(entries, "name")?,
            file_path: self.required_path(entries, "file_path", Need::Nothing)?,
            class_name: self
                .optional(entries, "class_name", Self::string)?
                .unwrap_or_else(|| "Transform".to_owned()),
            convert_query_response: self
                .optional(entries, "convert_query_response", Self::boolean)?
                .unwrap_or(false),
            description: self
                .optional(entries, "description", Self::nullable_string)?
                .flatten(),
            watch: self.watch(entries)?,
        })
    }

    fn watch(&mut self, entries: &Entries<'_>) -> Result<Option<Watch>, RepositoryError> {
        let Some(node) = entries.get("watch") else {
            return Ok(None);
        };
        if node.value == Value::Null {
            return Ok(None);
        }
        let place = entries.field("watch");
        let watch = self.mapping(node, &place, WATCH_KEYS)?;
        let files = match watch.get("files") {
            None => Vec::new(),
            Some(list) => {
                let field = watch.field("files");
                let items = self.list(list, &field, "a list of file or directory paths")?;
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| self.string(item, &format!("{field}[{index}]")))
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(Some(Watch { files }))
    }

    /// A list of mappings with a `name`, each read by `read`, names unique.
    fn named_list<T>(
        &mut self,
        node: &Node,
        list: &'static str,
        read: fn(&mut Self, &Entries<'_>) -> Result<T, RepositoryError>,
    ) -> Result<Vec<T>, RepositoryError> {
        let allowed = match list {
            "check_definitions" => CHECK_KEYS,
            "jinja2_transforms" => JINJA2_KEYS,
            "artifact_definitions" => ARTIFACT_KEYS,
            "python_transforms" => PYTHON_TRANSFORM_KEYS,
            "generator_definitions" => GENERATOR_KEYS,
            _ => QUERY_KEYS, // queries and graphql_fragments: name + file_path
        };
        let items = self.list(node, list, "a list of mappings")?;
        let mut parsed = Vec::with_capacity(items.len());
        // name → (index, line of the name)
        let mut seen: BTreeMap<String, (usize, u64)> = BTreeMap::new();
        for (index, item) in items.iter().enumerate() {
            let place = format!("{list}[{index}]");
            let entries = self.mapping(item, &place, allowed)?;
            let value = read(self, &entries)?;
            let name_node = entries.get("name").unwrap_or(item);
            if let Value::Str(name) = &name_node.value {
                if let Some(&(first_index, first_line)) = seen.get(name) {
                    return Err(RepositoryError::DuplicateName {
                        file: self.file,
                        line: name_node.line,
                        list,
                        name: name.clone(),
                        index,
                        first_index,
                        first_line,
                    });
                }
                seen.insert(name.clone(), (index, name_node.line));
            }
            parsed.push(value);
        }
        Ok(parsed)
    }

    /// A list of bare paths (`schemas`, `objects`, `menus`).
    fn paths(
        &mut self,
        node: &Node,
        list: &str,
        need: Need,
    ) -> Result<Vec<PathBuf>, RepositoryError> {
        let items = self.list(node, list, "a list of paths")?;
        items
            .iter()
            .enumerate()
            .map(|(index, item)| self.path(item, &format!("{list}[{index}]"), need))
            .collect()
    }

    /// Checks that `node` is a mapping whose keys are all in `allowed`, none
    /// repeated.
    fn mapping<'n>(
        &self,
        node: &'n Node,
        place: &str,
        allowed: &'static [&'static str],
    ) -> Result<Entries<'n>, RepositoryError> {
        let context = if place.is_empty() {
            "at the top level".to_owned()
        } else {
            format!("in {place}")
        };
        let Value::Map(pairs) = &node.value else {
            let expected = if place.is_empty() {
                "a mapping of Infrahub's top-level keys"
            } else {
                "a mapping"
            };
            return Err(self.wrong_type(node, place, expected));
        };
        let mut fields: Vec<(&'static str, &'n Node)> = Vec::with_capacity(pairs.len());
        let mut lines: Vec<u64> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let known = match &key.value {
                Value::Str(name) => allowed.iter().find(|allowed| **allowed == name.as_str()),
                _ => None,
            };
            let Some(known) = known else {
                let key_text = key.value.key_text();
                return Err(RepositoryError::UnknownKey {
                    file: self.file,
                    line: key.line,
                    hint: unknown_key_hint(&key_text, allowed),
                    key: key_text,
                    context,
                    expected: allowed,
                });
            };
            if let Some(first) = fields.iter().position(|(name, _)| name == known) {
                return Err(RepositoryError::DuplicateKey {
                    file: self.file,
                    line: key.line,
                    key: (*known).to_owned(),
                    context,
                    first_line: lines[first],
                });
            }
            fields.push((known, value));
            lines.push(key.line);
        }
        Ok(Entries {
            place: place.to_owned(),
            line: node.line,
            fields,
        })
    }

    fn required<T>(
        &self,
        entries: &Entries<'_>,
        key: &str,
        read: fn(&Self, &Node, &str) -> Result<T, RepositoryError>,
    ) -> Result<T, RepositoryError> {
        match entries.get(key) {
            Some(node) => read(self, node, &entries.field(key)),
            None => Err(RepositoryError::MissingKey {
                file: self.file,
                line: entries.line,
                context: entries.place.clone(),
                key: key.to_owned(),
            }),
        }
    }

    fn optional<T>(
        &self,
        entries: &Entries<'_>,
        key: &str,
        read: fn(&Self, &Node, &str) -> Result<T, RepositoryError>,
    ) -> Result<Option<T>, RepositoryError> {
        entries
            .get(key)
            .map(|node| read(self, node, &entries.field(key)))
            .transpose()
    }

    fn required_string(&self, entries: &Entries<'_>, key: &str) -> Result<String, RepositoryError> {
        self.required(entries, key, Self::string)
    }

    fn required_path(
        &mut self,
        entries: &Entries<'_>,
        key: &str,
        need: Need,
    ) -> Result<PathBuf, RepositoryError> {
        match entries.get(key) {
            Some(node) => self.path(node, &entries.field(key), need),
            None => Err(RepositoryError::MissingKey {
                file: self.file,
                line: entries.line,
                context: entries.place.clone(),
                key: key.to_owned(),
            }),
        }
    }

    fn list<'n>(
        &self,
        node: &'n Node,
        field: &str,
        expected: &str,
    ) -> Result<&'n [Node], RepositoryError> {
        match &node.value {
            Value::Seq(items) => Ok(items),
            _ => Err(self.wrong_type(node, field, expected)),
        }
    }

    fn string(&self, node: &Node, field: &str) -> Result<String, RepositoryError> {
        match &node.value {
            Value::Str(text) => Ok(text.clone()),
            _ => Err(self.wrong_type(node, field, "a string")),
        }
    }

    fn nullable_string(&self, node: &Node, field: &str) -> Result<Option<String>, RepositoryError> {
        match &node.value {
            Value::Null => Ok(None),
            Value::Str(text) => Ok(Some(text.clone())),
            _ => Err(self.wrong_type(node, field, "a string or null")),
        }
    }

    /// A boolean as pydantic's lax mode reads one.
    fn boolean(&self, node: &Node, field: &str) -> Result<bool, RepositoryError> {
        let value = match &node.value {
            Value::Bool(value) => Some(*value),
            Value::Int(0) | Value::UInt(0) => Some(false),
            Value::Int(1) | Value::UInt(1) => Some(true),
            Value::Str(text) => match text.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "y" | "t" | "1" => Some(true),
                "false" | "no" | "off" | "n" | "f" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        value.ok_or_else(|| self.wrong_type(node, field, "a boolean (true or false)"))
    }

    /// A repository-relative path, recorded for the file-system checks.
    fn path(&mut self, node: &Node, field: &str, need: Need) -> Result<PathBuf, RepositoryError> {
        let Value::Str(written) = &node.value else {
            return Err(self.wrong_type(node, field, "a path (a string)"));
        };
        let path = PathBuf::from(written);
        if let Some(how) = lexical_escape(&path) {
            return Err(RepositoryError::OutsideRepository {
                file: self.file,
                line: node.line,
                field: field.to_owned(),
                path: written.clone(),
                how,
            });
        }
        self.paths.push(PathUse {
            line: node.line,
            field: field.to_owned(),
            written: written.clone(),
            path: path.clone(),
            need,
        });
        Ok(path)
    }

    /// `parameters`, a `dict[str, Any]`: a mapping with string keys, values
    /// kept as JSON.
    fn dict(
        &self,
        node: &Node,
        field: &str,
    ) -> Result<BTreeMap<String, serde_json::Value>, RepositoryError> {
        const EXPECTED: &str = "a mapping of query variables to target attributes \
                                (`name: name__value`)";
        if !matches!(node.value, Value::Map(_)) {
            return Err(self.wrong_type(node, field, EXPECTED));
        }
        match self.json(node, field)? {
            serde_json::Value::Object(map) => Ok(map.into_iter().collect()),
            _ => Err(self.wrong_type(node, field, EXPECTED)),
        }
    }

    fn json(&self, node: &Node, field: &str) -> Result<serde_json::Value, RepositoryError> {
        use serde_json::Value as Json;
        Ok(match &node.value {
            Value::Null => Json::Null,
            Value::Bool(value) => Json::Bool(*value),
            Value::Int(value) => Json::from(*value),
            Value::UInt(value) => Json::from(*value),
            Value::Float(value) => serde_json::Number::from_f64(*value)
                .map(Json::Number)
                .ok_or_else(|| self.wrong_type(node, field, "a finite number"))?,
            Value::Str(text) => Json::String(text.clone()),
            Value::Seq(items) => Json::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| self.json(item, &format!("{field}[{index}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(pairs) => {
                let mut map = serde_json::Map::new();
                let mut lines: BTreeMap<&str, u64> = BTreeMap::new();
                for (key, value) in pairs {
                    let Value::Str(name) = &key.value else {
                        return Err(RepositoryError::WrongType {
                            file: self.file,
                            line: key.line,
                            field: field.to_owned(),
                            expected: "a mapping with string keys".to_owned(),
                            found: format!(
                                "the key `{}` ({})",
                                key.value.key_text(),
                                key.value.describe()
                            ),
                        });
                    };
                    if let Some(&first_line) = lines.get(name.as_str()) {
                        return Err(RepositoryError::DuplicateKey {
                            file: self.file,
                            line: key.line,
                            key: name.clone(),
                            context: format!("in {field}"),
                            first_line,
                        });
                    }
                    lines.insert(name, key.line);
                    let value = self.json(value, &format!("{field}.{name}"))?;
                    map.insert(name.clone(), value);
                }
                Json::Object(map)
            }
        })
    }

    fn wrong_type(&self, node: &Node, field: &str, expected: &str) -> RepositoryError {
        let kind = node.value.describe();
        // A short scalar is shown, so the user sees what was read.
        let found = match &node.value {
            Value::Seq(_) | Value::Map(_) | Value::Null => kind.to_owned(),
            scalar => {
                let text = scalar.key_text();
                if text.chars().count() <= 40 && !text.chars().any(char::is_control) {
                    format!("`{text}` ({kind})")
                } else {
                    kind.to_owned()
                }
            }
        };
        RepositoryError::WrongType {
            file: self.file,
            line: node.line,
            field: field.to_owned(),
            expected: expected.to_owned(),
            found,
        }
    }
}

/// The node under `key` of a mapping node, if any.
fn field_node<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    let Value::Map(pairs) = &node.value else {
        return None;
    };
    pairs
        .iter()
        .find(|(name, _)| name.value == Value::Str(key.to_owned()))
        .map(|(_, value)| value)
}

/// A suggestion for an unknown key: where a runtime limit belongs, or the
/// allowed key it is most likely a misspelling of.
fn unknown_key_hint(key: &str, allowed: &[&'static str]) -> KeyHint {
    if POLICY_KEYS.contains(&key) {
        return KeyHint::RuntimePolicy;
    }
    let closest = allowed
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .min();
    if let Some((distance, candidate)) = closest
        && distance <= 3
        && distance * 3 <= key.len().max(3)
    {
        return KeyHint::DidYouMean(candidate);
    }
    // `generators` for `generator_definitions`: a long shared beginning.
    let shared = |candidate: &str| {
        key.chars()
            .zip(candidate.chars())
            .take_while(|(a, b)| a == b)
            .count()
    };
    let mut prefixed = allowed.iter().filter(|candidate| shared(candidate) >= 6);
    match (prefixed.next(), prefixed.next()) {
        (Some(candidate), None) => KeyHint::DidYouMean(candidate),
        _ => KeyHint::None,
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::yaml;
    use serde_json::json;

    fn parse_text(text: &str) -> Result<RepositoryConfig, RepositoryError> {
        let node = yaml::parse(text).expect("valid YAML");
        parse(".infrahub.yml", &node).map(|(config, _)| config)
    }

    fn error(text: &str) -> String {
        parse_text(text).expect_err("refused").to_string()
    }

    #[test]
    fn a_minimal_generator_gets_infrahubs_defaults() {
        let config = parse_text(
            "generator_definitions:\n  - name: g\n    file_path: g.wasm\n    query: q\n    targets: t\nqueries:\n  - name: q\n    file_path: q.gql\n",
        )
        .expect("valid");
        assert_eq!(
            config.generator_definitions,
            vec![GeneratorDefinition {
                name: "g".into(),
                file_path: "g.wasm".into(),
                query: "q".into(),
                parameters: BTreeMap::new(),
                targets: "t".into(),
                class_name: "Generator".into(),
                convert_query_response: false,
                execute_in_proposed_change: true,
                execute_after_merge: true,
                watch: None,
            }]
        );
        assert_eq!(config.schemas, Vec::<PathBuf>::new());
        assert_eq!(config.check_definitions, vec![]);
        assert_eq!(config.menus, Vec::<PathBuf>::new());
    }

    #[test]
    fn the_workspace_repository_is_infrahubs_format() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.infrahub.yml");
        let text = std::fs::read_to_string(&path).expect("the workspace has an .infrahub.yml");
        let config = parse_text(&text).expect("valid");
        assert!(!config.generator_definitions.is_empty());
        for generator in &config.generator_definitions {
            assert!(
                config
                    .queries
                    .iter()
                    .any(|query| query.name == generator.query),
                "{}",
                generator.name
            );
        }
    }

    #[test]
    fn an_empty_file_declares_nothing() {
        assert_eq!(parse_text("").expect("valid"), RepositoryConfig::default());
        assert_eq!(
            parse_text("# only a comment\n").expect("valid"),
            RepositoryConfig::default()
        );
    }

    #[test]
    fn every_other_definition_kind_is_parsed_with_its_defaults() {
        let config = parse_text(
            r#"
check_definitions:
  - name: c
    file_path: checks/c.py
jinja2_transforms:
  - name: j
    query: q
    template_path: templates/j.j2
    watch: {files: [shared/]}
artifact_definitions:
  - name: a
    parameters: {device: name__value}
    content_type: text/plain
    targets: devices
    transformation: j
python_transforms:
  - name: p
    file_path: transforms/p.py
    description: ~
graphql_fragments:
  - name: f
    file_path: fragments
menus: [menus/main.yml]
"#,
        )
        .expect("valid");
        assert_eq!(
            config.check_definitions,
            vec![CheckDefinition {
                name: "c".into(),
                file_path: "checks/c.py".into(),
                parameters: BTreeMap::new(),
                targets: None,
                class_name: "Check".into(),
            }]
        );
        assert_eq!(
            config.jinja2_transforms,
            vec![Jinja2Transform {
                name: "j".into(),
                query: "q".into(),
                template_path: "templates/j.j2".into(),
                description: None,
                watch: Some(Watch {
                    files: vec!["shared/".into()]
                }),
            }]
        );
        assert_eq!(
            config.artifact_definitions,
            vec![ArtifactDefinition {
                name: "a".into(),
                artifact_name: None,
                parameters: BTreeMap::from([("device".to_owned(), json!("name__value"))]),
                content_type: "text/plain".into(),
                targets: "devices".into(),
                transformation: "j".into(),
            }]
        );
        assert_eq!(
            config.python_transforms,
            vec![PythonTransform {
                name: "p".into(),
                file_path: "transforms/p.py".into(),
                class_name: "Transform".into(),
                convert_query_response: false,
                description: None,
                watch: None,
            }]
        );
        assert_eq!(
            config.graphql_fragments,
            vec![GraphqlFragment {
                name: "f".into(),
                file_path: "fragments".into()
            }]
        );
        assert_eq!(config.menus, vec![PathBuf::from("menus/main.yml")]);
    }

    #[test]
    fn booleans_are_read_as_pydantic_reads_them() {
        let config = parse_text(
            "generator_definitions:\n  - {name: g, file_path: g.wasm, query: q, targets: t, convert_query_response: yes, execute_in_proposed_change: 'off', execute_after_merge: 0}\nqueries: [{name: q, file_path: q.gql}]\n",
        )
        .expect("valid");
        let generator = &config.generator_definitions[0];
        assert!(generator.convert_query_response);
        assert!(!generator.execute_in_proposed_change);
        assert!(!generator.execute_after_merge);
    }

    #[test]
    fn an_artifact_definition_requires_its_parameters() {
        assert_eq!(
            error(
                "artifact_definitions:\n  - name: a\n    content_type: x\n    targets: t\n    transformation: j\n"
            ),
            ".infrahub.yml:2: artifact_definitions[0] is missing the required key `parameters`"
        );
    }

    #[test]
    fn a_runtime_limit_is_pointed_at_infragen_toml() {
        assert_eq!(
            error("generator_definitions:\n  - name: g\n    memory: 64 MiB\n"),
            ".infrahub.yml:3: unknown key `memory` in generator_definitions[0] (expected one of \
             `name`, `file_path`, `query`, `parameters`, `targets`, `class_name`, \
             `convert_query_response`, `execute_in_proposed_change`, `execute_after_merge`, \
             `watch`); runtime policy and limits belong in infragen.toml, never in .infrahub.yml"
        );
    }

    #[test]
    fn a_repeated_parameter_is_reported_with_both_lines() {
        assert_eq!(
            error(
                "generator_definitions:\n  - name: g\n    file_path: g.wasm\n    query: q\n    parameters:\n      a: x\n      a: y\n"
            ),
            ".infrahub.yml:7: key `a` appears twice in generator_definitions[0].parameters (first at line 6)"
        );
    }

    #[test]
    fn paths_that_climb_out_are_caught_from_their_text() {
        assert_eq!(lexical_escape(Path::new("a/../b.wasm")), None);
        assert_eq!(lexical_escape(Path::new("./a/b.wasm")), None);
        assert_eq!(
            lexical_escape(Path::new("a/../../b.wasm")),
            Some(Escape::ParentDir)
        );
        assert_eq!(lexical_escape(Path::new("/b.wasm")), Some(Escape::Absolute));
    }

    #[test]
    fn near_misspellings_get_a_suggestion() {
        assert_eq!(
            unknown_key_hint("exectue_after_merge", GENERATOR_KEYS),
            KeyHint::DidYouMean("execute_after_merge")
        );
        assert_eq!(unknown_key_hint("colour", GENERATOR_KEYS), KeyHint::None);
    }
}
