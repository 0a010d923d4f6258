//! The bookkeeping Infrahub keeps about generators, written by the host (never
//! by a plugin): the stored query, the definition, and one instance per
//! (definition, target) whose status follows each run.

use serde_json::{Value, json};

use super::RunnerError;
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
    let query = backend
        .upsert(
            branch,
            "CoreGraphQLQuery",
            &json!({ "name": { "value": definition.query }, "query": { "value": query_text } }),
        )
        .await
        .map_err(backend_error("recording the stored query"))?;
    let parameters = serde_json::to_value(&definition.parameters).unwrap_or(Value::Null);
    let recorded = backend
        .upsert(
            branch,
            "CoreGeneratorDefinition",
            &json!({
                "name": { "value": definition.name },
                "parameters": { "value": parameters },
                "file_path": { "value": definition.file_path.display().to_string() },
                "class_name": { "value": definition.class_name },
                "convert_query_response": { "value": definition.convert_query_response },
                "execute_in_proposed_change": { "value": definition.execute_in_proposed_change },
                "execute_after_merge": { "value": definition.execute_after_merge },
                "query": { "id": query.id },
                "targets": { "id": targets_group_id },
            }),
        )
        .await
        .map_err(backend_error("recording the generator definition"))?;
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
