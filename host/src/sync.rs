//! `infragen sync`: what Infrahub does when it imports a repository, for the
//! embedded store.
//!
//! The schema files are loaded, then the object files, then the repository itself
//! is recorded (`CoreReadOnlyRepository`, named after its directory), then every
//! query and generator definition of `.infrahub.yml` (`CoreGraphQLQuery`,
//! `CoreGeneratorDefinition`, the definitions pointing at the repository), its
//! transforms (`CoreTransformJinja2`, `CoreTransformPython`) and artifact
//! definitions (`CoreArtifactDefinition`); the repository's generator definitions
//! and transforms that `.infrahub.yml` no longer declares are deleted; and last
//! the object files that declare generator actions or trigger rules: those name
//! generator definitions, which must exist before the rules can point at them,
//! and the definitions in turn point at their target groups, which the other
//! object files declare. Loading twice changes nothing.
//!
//! Transforms and artifact definitions are recorded as Infrahub records them, so
//! that what asks for them finds them; infragen renders neither.

use infragen_store::Store;
use infragen_store::objects::declared_kinds;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;

use crate::backend::{Backend, BackendError};
use crate::repository::{Repository, RepositoryError};
use crate::runner::RunnerError;
use crate::runner::records;

/// Kinds whose object files load after the generator definitions.
pub(crate) const AFTER_DEFINITIONS: [&str; 7] = [
    "CoreGeneratorAction",
    "CoreGroupAction",
    "CoreNodeTriggerRule",
    "CoreGroupTriggerRule",
    "CoreNodeTriggerAttributeMatch",
    "CoreNodeTriggerRelationshipMatch",
    "CoreTriggerRule",
];

/// Why a repository could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The repository or one of its files.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// The store refused the schema or the objects.
    #[error(transparent)]
    Store(#[from] infragen_store::StoreError),
    /// An object file is not readable YAML.
    #[error("{0}")]
    ObjectFile(String),
    /// A generator definition could not be recorded.
    #[error("{0}")]
    Definition(String),
    /// A query of `queries` could not be recorded as a stored query.
    #[error("recording the stored query `{name}`: {source}")]
    StoredQuery {
        /// The query's name in `.infrahub.yml`.
        name: String,
        /// What the backend said.
        #[source]
        source: BackendError,
    },
    /// The repository's nodes of a kind (to find those it no longer declares) could not be
    /// read.
    #[error("reading the repository's {kind} nodes: {source}")]
    ReadRecorded {
        /// The kind.
        kind: String,
        /// What the backend said.
        #[source]
        source: BackendError,
    },
    /// The repository, a transform or an artifact definition could not be recorded.
    #[error("recording {what} `{name}`: {source}")]
    Record {
        /// What it is (`the repository`, `the Jinja2 transform`, …).
        what: &'static str,
        /// Its name.
        name: String,
        /// What the backend said.
        #[source]
        source: BackendError,
    },
}

impl SyncError {
    /// A [`SyncError::Record`] for `what` called `name`, from what the backend said.
    fn recording(what: &'static str, name: &str) -> impl FnOnce(BackendError) -> SyncError {
        let name = name.to_owned();
        move |source| SyncError::Record { what, name, source }
    }
}

/// What a sync did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// Whether the schema changed.
    pub schema_updated: bool,
    /// The schema's hash after loading.
    pub schema_hash: String,
    /// Object files loaded (trigger and menu files included).
    pub object_files: usize,
    /// Objects written or found unchanged.
    pub objects: usize,
    /// Nodes whose data changed.
    pub nodes_changed: usize,
    /// Generator definitions recorded, in `.infrahub.yml` order.
    pub definitions: Vec<String>,
    /// Stored queries recorded (`CoreGraphQLQuery`): every entry of `queries`, in
    /// `.infrahub.yml` order, those a generator uses included.
    pub queries: Vec<String>,
    /// Transforms recorded (`CoreTransformJinja2`, `CoreTransformPython`), Jinja2 first,
    /// each in `.infrahub.yml` order.
    pub transforms: Vec<String>,
    /// Artifact definitions recorded (`CoreArtifactDefinition`), in `.infrahub.yml` order.
    pub artifact_definitions: Vec<String>,
    /// Transforms of this repository deleted because `.infrahub.yml` no longer declares
    /// them.
    pub transforms_removed: Vec<String>,
    /// Generator definitions of this repository deleted because `.infrahub.yml` no longer
    /// declares them.
    pub definitions_removed: Vec<String>,
    /// Check definitions recorded (`CoreCheckDefinition`), in `.infrahub.yml` order.
    pub checks: Vec<String>,
    /// Check definitions of this repository deleted because `.infrahub.yml` no longer
    /// declares them.
    pub checks_removed: Vec<String>,
}

impl std::fmt::Display for SyncReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "schema {} ({}); {} object file(s), {} object(s), {} changed; generator definitions: {}; stored queries: {}; transforms: {}; artifact definitions: {}",
            self.schema_hash,
            if self.schema_updated {
                "updated"
            } else {
                "unchanged"
            },
            self.object_files,
            self.objects,
            self.nodes_changed,
            none_or_list(&self.definitions),
            none_or_list(&self.queries),
            none_or_list(&self.transforms),
            none_or_list(&self.artifact_definitions),
        )?;
        if !self.definitions_removed.is_empty() {
            write!(
                f,
                "; generator definitions removed: {}",
                self.definitions_removed.join(", ")
            )?;
        }
        if !self.transforms_removed.is_empty() {
            write!(
                f,
                "; transforms removed: {}",
                self.transforms_removed.join(", ")
            )?;
        }
        if !self.checks.is_empty() {
            write!(f, "; check definitions: {}", self.checks.join(", "))?;
        }
        if !self.checks_removed.is_empty() {
            write!(
                f,
                "; check definitions removed: {}",
                self.checks_removed.join(", ")
            )?;
        }
        Ok(())
    }
}

/// What `attribute` is assigned in the body of `class <class_name>` of a Python source, as
/// written (`"cabling_plan"`, `30  # seconds`), with or without a type annotation (`timeout:
/// int = 30`): Infrahub imports the class to read its attributes; infragen runs no Python,
/// so it reads the assignment from the source, and gives `None` when the class or the
/// assignment is not there.
fn class_attribute<'s>(source: &'s str, class_name: &str, attribute: &str) -> Option<&'s str> {
    let mut lines = source.lines();
    lines.find(|line| {
        line.strip_prefix("class ")
            .and_then(|rest| rest.strip_prefix(class_name))
            .is_some_and(|rest| rest.starts_with('(') || rest.starts_with(':'))
    })?;
    // The body's own statements are at the indentation of its first line; a method's
    // assignments are deeper.
    let mut body_indent = None;
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            return None;
        }
        if *body_indent.get_or_insert(indent) != indent {
            continue;
        }
        // `name = value`, or annotated, `name: int = value`.
        let Some(rest) = line.trim().strip_prefix(attribute).map(str::trim_start) else {
            continue;
        };
        let value = match rest.strip_prefix(':') {
            Some(annotated) => annotated.split_once('=').map(|(_, value)| value),
            None => rest.strip_prefix('='),
        };
        if let Some(value) = value {
            return Some(value.trim());
        }
    }
    None
}

/// The query a Python transform's or check's class names (`query = "name"`, either quote),
/// or `None` when it is not written that way ([`class_attribute`]).
fn python_class_query(source: &str, class_name: &str) -> Option<String> {
    let value = class_attribute(source, class_name, "query")?;
    let quoted = |quote: char| {
        value
            .strip_prefix(quote)
            .and_then(|rest| rest.split_once(quote))
            .map(|(name, _)| name.to_owned())
    };
    quoted('"').or_else(|| quoted('\''))
}

/// A Python transform's or check's class's `timeout = <seconds>`, where it sets one as a
/// number.
fn python_class_timeout(source: &str, class_name: &str) -> Option<u64> {
    let value = class_attribute(source, class_name, "timeout")?;
    value.split('#').next()?.trim().parse().ok()
}

/// The timeout of a Python transform or check whose class sets none: the SDK's
/// (`InfrahubTransform.timeout`, `InfrahubCheck.timeout`), which Infrahub's import records.
const PYTHON_TIMEOUT: u64 = 60;

/// What a Python transform's or check's class declares that Infrahub's import records.
struct PythonClass {
    /// The query it names; `.infrahub.yml` declares it.
    query: String,
    /// Its timeout, [`PYTHON_TIMEOUT`] where it sets none.
    timeout: u64,
}

/// Reads class `class_name` of `file_path` for the entry `(section, name)` of
/// `.infrahub.yml`. `Ok(Err(why))`, the entry as the sync's warning names it, when the file
/// cannot be read or the class names no query; an error when the query it names is not
/// declared.
fn read_python_class(
    repository: &Repository,
    (section, name): (&str, &str),
    file_path: &Path,
    class_name: &str,
) -> Result<Result<PythonClass, String>, SyncError> {
    let source = match repository.read_string(file_path) {
        Ok(source) => source,
        Err(error) => return Ok(Err(format!("{section}: {name} ({error})"))),
    };
    let Some(query) = python_class_query(&source, class_name) else {
        return Ok(Err(format!(
            "{section}: {name} (no `query = \"…\"` in class {class_name} of {})",
            file_path.display()
        )));
    };
    repository.query_text(&query)?;
    Ok(Ok(PythonClass {
        query,
        timeout: python_class_timeout(&source, class_name).unwrap_or(PYTHON_TIMEOUT),
    }))
}

/// `names` joined, or `none`.
fn none_or_list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Imports `repository` into `store` on `branch` (see the module docs).
pub async fn sync_repository(
    store: &Store,
    repository: &Repository,
    backend: &dyn Backend,
    branch: &str,
) -> Result<SyncReport, SyncError> {
    let schema = store.load_schema(&repository.schema_files()?)?;

    let mut design = Vec::new();
    let mut rules = Vec::new();
    for (name, text) in repository.object_files()? {
        let kinds = declared_kinds(&name, &text).map_err(SyncError::ObjectFile)?;
        if kinds
            .iter()
            .any(|kind| AFTER_DEFINITIONS.contains(&kind.as_str()))
        {
            rules.push((name, text));
        } else {
            design.push((name, text));
        }
    }
    let mut objects = 0;
    let mut nodes_changed = 0;
    if !design.is_empty() {
        let load = store.load_objects(branch, &design)?;
        objects += load.objects;
        nodes_changed += load.nodes_changed;
    }
    // As Infrahub's import: the menus after the objects. A menu path `.infrahub.yml` names
    // but the repository lacks is named in the warning below, not a failed sync (opening
    // the repository checks only that it stays inside).
    let mut menus = Vec::new();
    let mut unread = Vec::new();
    for entry in &repository.config().menus {
        match repository.menu_files(entry) {
            Ok(mut files) => menus.append(&mut files),
            Err(error) => unread.push(format!("menus: {} ({error})", entry.display())),
        }
    }
    if !menus.is_empty() {
        let load = store.load_objects(branch, &menus)?;
        objects += load.objects;
        nodes_changed += load.nodes_changed;
    }

    let repository_id = record_repository(repository, backend, branch).await?;
    let mut definitions = Vec::new();
    let mut definition_ids = std::collections::BTreeSet::new();
    for definition in &repository.config().generator_definitions {
        let query_text = repository.query_text(&definition.query)?;
        let group_id = group_named(backend, branch, &definition.targets)
            .await
            .map_err(|error| {
                SyncError::Definition(format!(
                    "generator `{}`: reading its target group `{}`: {error}",
                    definition.name, definition.targets
                ))
            })?;
        let Some(group_id) = group_id else {
            return Err(SyncError::Definition(format!(
                "generator `{}` targets group `{}`, which no object file declares",
                definition.name, definition.targets
            )));
        };
        let definition_id =
            records::record_definition(backend, branch, definition, &query_text, &group_id)
                .await
                .map_err(|error: RunnerError| SyncError::Definition(error.to_string()))?;
        backend
            .update(
                branch,
                "CoreGeneratorDefinition",
                &json!({ "id": definition_id, "repository": { "id": repository_id } }),
            )
            .await
            .map_err(SyncError::recording(
                "the generator definition",
                &definition.name,
            ))?;
        definition_ids.insert(definition_id);
        definitions.push(definition.name.clone());
    }

    // As Infrahub imports a repository: every declared query is a stored query, whether a
    // generator uses it or not (`/api/query/{name}` runs it); those of the generators were
    // recorded with their definitions.
    let config = repository.config();
    for query in &config.queries {
        if config
            .generator_definitions
            .iter()
            .any(|definition| definition.query == query.name)
        {
            continue;
        }
        let text = repository.query_text(&query.name)?;
        backend
            .upsert(
                branch,
                "CoreGraphQLQuery",
                &json!({ "name": { "value": query.name }, "query": { "value": text } }),
            )
            .await
            .map_err(|source| SyncError::StoredQuery {
                name: query.name.clone(),
                source,
            })?;
    }

    let mut recorded =
        record_transforms_and_artifacts(repository, backend, branch, &repository_id).await?;
    // As Infrahub's import: a generator definition of this repository that `.infrahub.yml`
    // no longer declares is deleted, with its instances; one a trigger rule's action still
    // names cannot be, and is named.
    let (definitions_removed, kept) = remove_undeclared(
        backend,
        branch,
        "CoreGeneratorDefinition",
        &repository_id,
        |id, _| definition_ids.contains(id),
    )
    .await?;
    recorded.skipped.extend(kept);
    let checks = record_check_definitions(repository, backend, branch, &repository_id).await?;
    // What `.infrahub.yml` declares that the sync could not read or record, each with why:
    // a user is told which of theirs are not there rather than finding them missing.
    let not_imported: Vec<String> = unread
        .into_iter()
        .chain(recorded.skipped)
        .chain(checks.skipped)
        .collect();
    if !not_imported.is_empty() {
        tracing::warn!(
            "{}: not imported: {}",
            repository.config_file(),
            not_imported.join("; ")
        );
    }

    if !rules.is_empty() {
        let load = store.load_objects(branch, &rules)?;
        objects += load.objects;
        nodes_changed += load.nodes_changed;
    }
    // Imported: the repository is in use and in step with its files, as Infrahub marks a
    // repository after an import that succeeded (a failed sync leaves it as it was).
    backend
        .update(
            branch,
            "CoreReadOnlyRepository",
            &json!({
                "id": repository_id,
                "internal_status": { "value": "active" },
                "operational_status": { "value": "online" },
                "sync_status": { "value": "in-sync" },
            }),
        )
        .await
        .map_err(SyncError::recording(
            "the repository's status",
            &repository.root().display().to_string(),
        ))?;
    Ok(SyncReport {
        schema_updated: schema.schema_updated,
        schema_hash: schema.hash,
        object_files: design.len() + menus.len() + rules.len(),
        objects,
        nodes_changed,
        definitions,
        queries: config
            .queries
            .iter()
            .map(|query| query.name.clone())
            .collect(),
        transforms: recorded.transforms,
        artifact_definitions: recorded.artifact_definitions,
        transforms_removed: recorded.transforms_removed,
        definitions_removed,
        checks: checks.recorded,
        checks_removed: checks.removed,
    })
}

/// The id of the group called `name` (any group kind), if there is one: what a generator
/// or artifact definition of `.infrahub.yml` names as its `targets`.
async fn group_named(
    backend: &dyn Backend,
    branch: &str,
    name: &str,
) -> Result<Option<String>, BackendError> {
    let groups = backend
        .filters(branch, "CoreGroup", &json!({ "name__value": name }), &[])
        .await?;
    Ok(groups
        .first()
        .and_then(|group| group.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// Records the repository being imported as `CoreReadOnlyRepository`, named after its
/// directory and located at its path, and gives its id: what the import records points
/// at it, and what it no longer declares is found through it. Where another repository
/// already has that name, the name takes a suffix from the path (`design-1a2b3c4d`).
async fn record_repository(
    repository: &Repository,
    backend: &dyn Backend,
    branch: &str,
) -> Result<String, SyncError> {
    let root = repository.root();
    let location = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    let location = location.display().to_string();
    let base = Path::new(&location)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repository".to_owned());
    // Another repository of that name (elsewhere, or one `infrahubctl repository add`
    // recorded) is not this one: taking it over would let this import delete what the
    // other declared. This one is then named apart, the same way at every sync.
    let taken = backend
        .filters(
            branch,
            "CoreGenericRepository",
            &json!({ "name__value": base }),
            &[],
        )
        .await
        .map_err(|source| SyncError::ReadRecorded {
            kind: "CoreGenericRepository".to_owned(),
            source,
        })?
        .iter()
        .any(|node| {
            node.get("location")
                .and_then(|field| field.get("value"))
                .and_then(Value::as_str)
                != Some(location.as_str())
        });
    let name = if taken {
        let digest = hex::encode(Sha256::digest(location.as_bytes()));
        format!("{base}-{}", &digest[..8])
    } else {
        base
    };
    let recorded = backend
        .upsert(
            branch,
            "CoreReadOnlyRepository",
            &json!({
                "name": { "value": name },
                "location": { "value": location },
            }),
        )
        .await
        .map_err(SyncError::recording("the repository", &name))?;
    Ok(recorded.id)
}

/// Deletes the nodes of `kind` that point at the repository `repository_id` and that
/// `declared(id, name)` says `.infrahub.yml` no longer declares: the names deleted, and for
/// each that could not be (a mandatory relationship still points at it), why.
async fn remove_undeclared(
    backend: &dyn Backend,
    branch: &str,
    kind: &str,
    repository_id: &str,
    declared: impl Fn(&str, &str) -> bool,
) -> Result<(Vec<String>, Vec<String>), SyncError> {
    let stored = backend
        .filters(
            branch,
            kind,
            &json!({ "repository__ids": [repository_id] }),
            &[],
        )
        .await
        .map_err(|source| SyncError::ReadRecorded {
            kind: kind.to_owned(),
            source,
        })?;
    let (mut removed, mut kept) = (Vec::new(), Vec::new());
    for node in stored {
        let (Some(id), Some(name)) = (
            node.get("id").and_then(Value::as_str),
            node.get("name")
                .and_then(|field| field.get("value"))
                .and_then(Value::as_str),
        ) else {
            continue;
        };
        if declared(id, name) {
            continue;
        }
        match backend.delete(branch, kind, id).await {
            Ok(()) => removed.push(name.to_owned()),
            Err(error) => kept.push(format!(
                "removing the {kind} {name}, which .infrahub.yml no longer declares ({error})"
            )),
        }
    }
    Ok((removed, kept))
}

/// What [`record_transforms_and_artifacts`] recorded, and what it could not.
struct Recorded {
    transforms: Vec<String>,
    artifact_definitions: Vec<String>,
    /// Transforms of the repository deleted because `.infrahub.yml` no longer declares them.
    transforms_removed: Vec<String>,
    /// Entries left out, each with why (`artifact_definitions: a (no group `g`)`).
    skipped: Vec<String>,
}

/// Records the repository's transforms with their queries (recorded before) and the
/// repository `repository_id`, deletes those of its transforms `.infrahub.yml` no longer
/// declares, and records its artifact definitions with their target groups and
/// transforms, as Infrahub does when it imports a repository. A Python transform whose
/// query cannot be read from its source (or whose file cannot be read), and an artifact
/// definition whose group or transform is not there, are left out and named in the
/// sync's warning (Infrahub logs such an import error and goes on); a transform naming a
/// query `.infrahub.yml` does not declare fails the sync.
async fn record_transforms_and_artifacts(
    repository: &Repository,
    backend: &dyn Backend,
    branch: &str,
    repository_id: &str,
) -> Result<Recorded, SyncError> {
    let config = repository.config();
    let mut recorded = Recorded {
        transforms: Vec::new(),
        artifact_definitions: Vec::new(),
        transforms_removed: Vec::new(),
        skipped: Vec::new(),
    };

    let mut transform_ids = std::collections::BTreeMap::new();
    let mut transforms = Vec::new();
    for t in &config.jinja2_transforms {
        repository.query_text(&t.query)?;
        let mut data = json!({
            "name": { "value": t.name },
            "template_path": { "value": t.template_path.display().to_string() },
            "query": { "hfid": [t.query] },
            "repository": { "id": repository_id },
        });
        if let Some(description) = &t.description {
            data["description"] = json!({ "value": description });
        }
        transforms.push(("the Jinja2 transform", "CoreTransformJinja2", &t.name, data));
    }
    for t in &config.python_transforms {
        let entry = ("python_transforms", t.name.as_str());
        let class = match read_python_class(repository, entry, &t.file_path, &t.class_name)? {
            Ok(class) => class,
            Err(why) => {
                recorded.skipped.push(why);
                continue;
            }
        };
        let mut data = json!({
            "name": { "value": t.name },
            "file_path": { "value": t.file_path.display().to_string() },
            "class_name": { "value": t.class_name },
            "convert_query_response": { "value": t.convert_query_response },
            "timeout": { "value": class.timeout },
            "query": { "hfid": [class.query] },
            "repository": { "id": repository_id },
        });
        if let Some(description) = &t.description {
            data["description"] = json!({ "value": description });
        }
        transforms.push(("the Python transform", "CoreTransformPython", &t.name, data));
    }
    for (what, kind, name, data) in transforms {
        let written = backend
            .upsert(branch, kind, &data)
            .await
            .map_err(SyncError::recording(what, name))?;
        transform_ids.insert(name.clone(), written.id);
        recorded.transforms.push(name.clone());
    }
    // As Infrahub's import: a transform of this repository that `.infrahub.yml` no longer
    // declares is deleted (one an artifact definition still uses cannot be, and is named).
    for kind in ["CoreTransformJinja2", "CoreTransformPython"] {
        let (removed, kept) = remove_undeclared(backend, branch, kind, repository_id, |_, name| {
            transform_ids.contains_key(name)
        })
        .await?;
        recorded.transforms_removed.extend(removed);
        recorded.skipped.extend(kept);
    }

    for a in &config.artifact_definitions {
        let Some(transform_id) = transform_ids.get(&a.transformation) else {
            recorded.skipped.push(format!(
                "artifact_definitions: {} (its transform `{}` is not recorded)",
                a.name, a.transformation
            ));
            continue;
        };
        let group_id = group_named(backend, branch, &a.targets)
            .await
            .map_err(SyncError::recording("the artifact definition", &a.name))?;
        let Some(group_id) = group_id else {
            recorded.skipped.push(format!(
                "artifact_definitions: {} (no group `{}`)",
                a.name, a.targets
            ));
            continue;
        };
        let data = json!({
            "name": { "value": a.name },
            "artifact_name": { "value": a.artifact_name.as_deref().unwrap_or(&a.name) },
            "parameters": { "value": a.parameters },
            "content_type": { "value": a.content_type },
            "targets": { "id": group_id },
            "transformation": { "id": transform_id },
        });
        backend
            .upsert(branch, "CoreArtifactDefinition", &data)
            .await
            .map_err(SyncError::recording("the artifact definition", &a.name))?;
        recorded.artifact_definitions.push(a.name.clone());
    }
    Ok(recorded)
}

/// What [`record_check_definitions`] recorded, removed and left out.
struct RecordedChecks {
    recorded: Vec<String>,
    removed: Vec<String>,
    /// Entries left out, each with why (`check_definitions: a (no group `g`)`).
    skipped: Vec<String>,
}

/// Records the repository's check definitions (`CoreCheckDefinition`) as Infrahub's import
/// does: each with its file, class, parameters, the query and the timeout its class sets
/// (read from the source: no Python runs here; [`PYTHON_TIMEOUT`] when it sets none), its
/// target group and the repository; and deletes those of the repository `.infrahub.yml` no
/// longer declares. infragen runs no check: they are there for what a client reads of the
/// repository. A check whose file, query line or group is missing is left out and named in
/// the sync's warning; one naming a query `.infrahub.yml` does not declare fails the sync.
async fn record_check_definitions(
    repository: &Repository,
    backend: &dyn Backend,
    branch: &str,
    repository_id: &str,
) -> Result<RecordedChecks, SyncError> {
    let mut checks = RecordedChecks {
        recorded: Vec::new(),
        removed: Vec::new(),
        skipped: Vec::new(),
    };
    for c in &repository.config().check_definitions {
        let entry = ("check_definitions", c.name.as_str());
        let class = match read_python_class(repository, entry, &c.file_path, &c.class_name)? {
            Ok(class) => class,
            Err(why) => {
                checks.skipped.push(why);
                continue;
            }
        };
        let mut data = json!({
            "name": { "value": c.name },
            "file_path": { "value": c.file_path.display().to_string() },
            "class_name": { "value": c.class_name },
            "timeout": { "value": class.timeout },
            "parameters": { "value": c.parameters },
            "query": { "hfid": [class.query] },
            "repository": { "id": repository_id },
        });
        if let Some(targets) = &c.targets {
            let group_id = group_named(backend, branch, targets)
                .await
                .map_err(SyncError::recording("the check definition", &c.name))?;
            let Some(group_id) = group_id else {
                checks.skipped.push(format!(
                    "check_definitions: {} (no group `{targets}`)",
                    c.name
                ));
                continue;
            };
            data["targets"] = json!({ "id": group_id });
        }
        backend
            .upsert(branch, "CoreCheckDefinition", &data)
            .await
            .map_err(SyncError::recording("the check definition", &c.name))?;
        checks.recorded.push(c.name.clone());
    }
    let (removed, kept) = remove_undeclared(
        backend,
        branch,
        "CoreCheckDefinition",
        repository_id,
        |_, name| checks.recorded.iter().any(|recorded| recorded == name),
    )
    .await?;
    checks.removed = removed;
    checks.skipped.extend(kept);
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::{python_class_query, python_class_timeout};

    /// The query is read from the named class's body, in either quote, and from no other
    /// class; a class that assigns it otherwise (or not at all) gives none.
    #[test]
    fn a_python_transforms_query_is_read_from_its_class_body() {
        let source = "from infrahub_sdk.transforms import InfrahubTransform\n\n\
            class Other(InfrahubTransform):\n    query = \"other_query\"\n\n\
            class Cabling(InfrahubTransform):\n\n    \"\"\"The cabling plan.\"\"\"\n    \
            timeout = 10\n    query = 'cabling_plan'  # the plan\n\n    \
            async def transform(self, data):\n        query = \"not this\"\n";
        assert_eq!(
            python_class_query(source, "Cabling").as_deref(),
            Some("cabling_plan")
        );
        assert_eq!(
            python_class_query(source, "Other").as_deref(),
            Some("other_query")
        );
        assert_eq!(python_class_query(source, "Cab"), None);
        assert_eq!(python_class_query(source, "Missing"), None);
        let computed = "class Computed(InfrahubTransform):\n    query = QUERY_NAME\n";
        assert_eq!(python_class_query(computed, "Computed"), None);
        let after = "class Empty(InfrahubTransform):\n    pass\n\nquery = \"module_level\"\n";
        assert_eq!(python_class_query(after, "Empty"), None);
        let method_first = "class Late(InfrahubTransform):\n    def helper(self):\n        \
            query = \"local\"\n\n    query = \"late_query\"\n";
        assert_eq!(
            python_class_query(method_first, "Late").as_deref(),
            Some("late_query")
        );
    }

    /// A check class's timeout is the number its body assigns, annotated or not, a comment
    /// after it aside; none where it assigns something else or nothing.
    #[test]
    fn a_check_classs_timeout_is_read_from_its_body() {
        let source = "class Naming(InfrahubCheck):\n    query = \"naming\"\n    \
            timeout = 30  # seconds\n\n    def validate(self, data):\n        timeout = 5\n\n\
            class Computed(InfrahubCheck):\n    timeout = 3 * 10\n\n\
            class Plain(InfrahubCheck):\n    query = \"plain\"\n    timeouts = 5\n\n\
            class Annotated(InfrahubCheck):\n    query: str = \"annotated\"\n    timeout: int = 45\n";
        assert_eq!(python_class_timeout(source, "Naming"), Some(30));
        assert_eq!(python_class_timeout(source, "Computed"), None);
        assert_eq!(python_class_timeout(source, "Plain"), None);
        assert_eq!(python_class_timeout(source, "Annotated"), Some(45));
        assert_eq!(
            python_class_query(source, "Annotated").as_deref(),
            Some("annotated")
        );
    }
}
