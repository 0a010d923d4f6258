//! `infragen sync`: what Infrahub does when it imports a repository, for the
//! embedded store.
//!
//! The schema files are loaded, then the object files, then every query and
//! generator definition of `.infrahub.yml` is recorded (`CoreGraphQLQuery`,
//! `CoreGeneratorDefinition`), and last the object files that declare
//! generator actions or trigger rules: those name generator definitions,
//! which must exist before the rules can point at them, and the definitions
//! in turn point at their target groups, which the other object files
//! declare. Loading twice changes nothing.

use infragen_store::Store;
use infragen_store::objects::declared_kinds;
use serde::Serialize;
use serde_json::{Value, json};

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
}

/// What a sync did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// Whether the schema changed.
    pub schema_updated: bool,
    /// The schema's hash after loading.
    pub schema_hash: String,
    /// Object files loaded (trigger files included).
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
}

impl std::fmt::Display for SyncReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "schema {} ({}); {} object file(s), {} object(s), {} changed; generator definitions: {}; stored queries: {}",
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
        )
    }
}

/// What `.infrahub.yml` declares that a sync leaves out, by section: `jinja2_transforms:
/// a, b`. An Infrahub repository's transforms and artifacts are not rendered here, so a
/// user is told which of theirs are not there rather than finding them missing.
fn not_imported(config: &crate::repository::RepositoryConfig) -> Vec<String> {
    let sections: [(&str, Vec<String>); 5] = [
        (
            "jinja2_transforms",
            config
                .jinja2_transforms
                .iter()
                .map(|t| t.name.clone())
                .collect(),
        ),
        (
            "python_transforms",
            config
                .python_transforms
                .iter()
                .map(|t| t.name.clone())
                .collect(),
        ),
        (
            "artifact_definitions",
            config
                .artifact_definitions
                .iter()
                .map(|a| a.name.clone())
                .collect(),
        ),
        (
            "check_definitions",
            config
                .check_definitions
                .iter()
                .map(|c| c.name.clone())
                .collect(),
        ),
        (
            "menus",
            config
                .menus
                .iter()
                .map(|m| m.display().to_string())
                .collect(),
        ),
    ];
    sections
        .into_iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(section, names)| format!("{section}: {}", names.join(", ")))
        .collect()
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

    let mut definitions = Vec::new();
    for definition in &repository.config().generator_definitions {
        let query_text = repository.query_text(&definition.query)?;
        let groups = backend
            .filters(
                branch,
                "CoreGroup",
                &json!({ "name__value": definition.targets }),
                &[],
            )
            .await
            .map_err(|error| {
                SyncError::Definition(format!(
                    "generator `{}`: reading its target group `{}`: {error}",
                    definition.name, definition.targets
                ))
            })?;
        let Some(group_id) = groups
            .first()
            .and_then(|group| group.get("id"))
            .and_then(Value::as_str)
        else {
            return Err(SyncError::Definition(format!(
                "generator `{}` targets group `{}`, which no object file declares",
                definition.name, definition.targets
            )));
        };
        records::record_definition(backend, branch, definition, &query_text, group_id)
            .await
            .map_err(|error: RunnerError| SyncError::Definition(error.to_string()))?;
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

    let not_imported = not_imported(config);
    if !not_imported.is_empty() {
        tracing::warn!(
            "{}: not imported (infragen renders no transforms or artifacts, runs no checks \
             and has no menus): {}",
            repository.config_file(),
            not_imported.join("; ")
        );
    }

    if !rules.is_empty() {
        let load = store.load_objects(branch, &rules)?;
        objects += load.objects;
        nodes_changed += load.nodes_changed;
    }
    Ok(SyncReport {
        schema_updated: schema.schema_updated,
        schema_hash: schema.hash,
        object_files: design.len() + rules.len(),
        objects,
        nodes_changed,
        definitions,
        queries: config
            .queries
            .iter()
            .map(|query| query.name.clone())
            .collect(),
    })
}
