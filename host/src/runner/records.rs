//! The bookkeeping Infrahub keeps about generators, written by the host (never
//! by a plugin): the stored query, the definition, and one instance per
//! (definition, target) whose status follows each run.

use serde_json::{Value, json};

use super::RunnerError;
use super::known_params::{DefinitionRecord, KnownParams};
use crate::backend::Backend;
use crate::repository::GeneratorDefinition;

/// Status of a `CoreGeneratorInstance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Running.
    Processing,
    /// Last run succeeded.
    Ready,
    /// Last run failed.
    Error,
}

impl InstanceStatus {
    fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Processing => "Processing",
            InstanceStatus::Ready => "Ready",
            InstanceStatus::Error => "Error",
        }
    }
}

fn backend_error(what: &str) -> impl Fn(crate::backend::BackendError) -> RunnerError + '_ {
    move |error| RunnerError::backend(what, &error)
}

/// Upserts the stored query and the definition; returns the definition's id.
pub async fn record_definition(
    backend: &dyn Backend,
    branch: &str,
    definition: &GeneratorDefinition,
    query_text: &str,
    targets_group_id: &str,
) -> Result<String, RunnerError> {
    record_definition_knowing(
        backend,
        branch,
        definition,
        query_text,
        targets_group_id,
        None,
    )
    .await
}

/// [`record_definition`], written only where `known` has no record of writing the same,
/// with no event since that changed what was written: a cascade prepares each definition it
/// runs once per round, and each time the upserts went through the store's create path
/// before finding the node (its HFID), linking the definition to its target group and
/// query on the way — a cost that grew with the group (~0.8 ms a definition at 64x the
/// seed).
pub async fn record_definition_knowing(
    backend: &dyn Backend,
    branch: &str,
    definition: &GeneratorDefinition,
    query_text: &str,
    targets_group_id: &str,
    known: Option<&KnownParams>,
) -> Result<String, RunnerError> {
    let query_fields =
        json!({ "name": { "value": definition.query }, "query": { "value": query_text } });
    let parameters = serde_json::to_value(&definition.parameters).unwrap_or(Value::Null);
    let definition_fields = |query_id: &str| {
        json!({
            "name": { "value": definition.name },
            "parameters": { "value": parameters },
            "file_path": { "value": definition.file_path.display().to_string() },
            "class_name": { "value": definition.class_name },
            "convert_query_response": { "value": definition.convert_query_response },
            "execute_in_proposed_change": { "value": definition.execute_in_proposed_change },
            "execute_after_merge": { "value": definition.execute_after_merge },
            "query": { "id": query_id },
            "targets": { "id": targets_group_id },
        })
    };
    // What is written, but the query's id (known once the query is written).
    let unlinked = known.map(|_| definition_fields(""));
    let written = unlinked
        .as_ref()
        .map(|unlinked| format!("{query_fields}\n{unlinked}"));
    if let (Some(known), Some(written)) = (known, &written)
        && let Some(id) = known.definition_record(branch, &definition.name, written)
    {
        return Ok(id);
    }
    let query = backend
        .upsert(branch, "CoreGraphQLQuery", &query_fields)
        .await
        .map_err(backend_error("recording the stored query"))?;
    let recorded = backend
        .upsert(
            branch,
            "CoreGeneratorDefinition",
            &definition_fields(&query.id),
        )
        .await
        .map_err(backend_error("recording the generator definition"))?;
    if let (Some(known), Some(written), Some(unlinked)) = (known, written, unlinked) {
        let fields = |payload: &Value| {
            payload
                .as_object()
                .into_iter()
                .flat_map(|fields| fields.keys().cloned())
                .collect()
        };
        known.insert_definition_record(
            branch,
            &definition.name,
            DefinitionRecord {
                written,
                definition_id: recorded.id.clone(),
                definition_fields: fields(&unlinked),
                query_id: query.id,
                query_fields: fields(&query_fields),
            },
        );
    }
    Ok(recorded.id)
}

/// Infrahub's instance name: `"{definition}: {target display label}"`.
pub fn instance_name(definition: &str, target_label: &str) -> String {
    format!("{definition}: {target_label}")
}

/// Creates or updates the instance of (definition, target) with `status`.
pub async fn set_instance_status(
    backend: &dyn Backend,
    branch: &str,
    name: &str,
    definition_id: &str,
    target_id: &str,
    status: InstanceStatus,
) -> Result<String, RunnerError> {
    let instance = backend
        .upsert(
            branch,
            "CoreGeneratorInstance",
            &json!({
                "name": { "value": name },
                "status": { "value": status.as_str() },
                "object": { "id": target_id },
                "definition": { "id": definition_id },
            }),
        )
        .await
        .map_err(backend_error("recording the generator instance"))?;
    Ok(instance.id)
}
