//! `CoreGeneratorDefinitionRun`: Infrahub's mutation that runs a generator definition on
//! its targets (`data: {id: <definition id>, nodes: [<target id>, …]}`; without `nodes`,
//! every member of its target group), answering `{ok, task {id}}` — by default once the runs
//! and the cascade they trigger have ended (`wait_until_completion: false` answers at once).
//!
//! The store only stores; running generators is the server's, so the mutation is answered
//! here, by the [`GeneratorRuns`] `infragen serve` gives the router, before the document
//! reaches the store. Without one (the API alone), the store answers that it does not know
//! the mutation.

use async_graphql_parser::types::OperationType;
use async_trait::async_trait;
use infragen_store::GraphqlRequest;
use serde_json::{Value, json};

use super::call;

/// The mutation's name.
pub const DEFINITION_RUN: &str = "CoreGeneratorDefinitionRun";

/// What runs a generator definition for the HTTP API.
#[async_trait]
pub trait GeneratorRuns: Send + Sync {
    /// Runs the definition whose `CoreGeneratorDefinition` node is `definition_id` on
    /// `branch`, for the targets `nodes` (every member when empty), and the cascade its
    /// changes trigger; waits for the end when `wait`. Answers the task's id.
    async fn run_definition(
        &self,
        branch: &str,
        definition_id: &str,
        nodes: Vec<String>,
        wait: bool,
    ) -> Result<String, DefinitionRunError>;
}

/// Why `CoreGeneratorDefinitionRun` did not run, or did not succeed; its text is the
/// GraphQL error's message.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionRunError {
    /// No generator definition has this id (Infrahub's wording).
    #[error("Unable to find the node {0} / CoreGeneratorDefinition in the database.")]
    UnknownDefinition(String),
    /// The cascade could not start.
    #[error(transparent)]
    NotRun(#[from] crate::cascade::follow::RequestError),
    /// It ran, and not every run succeeded: the cascade's report.
    #[error("the generator runs did not all succeed:\n{0}")]
    Failed(Box<crate::cascade::CascadeReport>),
}

/// A `CoreGeneratorDefinitionRun` call, read from a request.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct DefinitionRun {
    /// The response key (the alias, or the name).
    key: String,
    definition_id: String,
    nodes: Vec<String>,
    wait: bool,
}

/// The call `request` makes, when its operation is a mutation of `CoreGeneratorDefinitionRun`
/// alone; an error when it is malformed or mixed with other fields; `None` for any other
/// document (the store answers it).
pub(super) fn definition_run(request: &GraphqlRequest) -> Option<Result<DefinitionRun, String>> {
    let document = call::parsed(request, DEFINITION_RUN)?;
    let operation = call::operation(&document, request, OperationType::Mutation)?;
    let run = match call::only_field(operation, &[DEFINITION_RUN])? {
        Ok(run) => run,
        Err(message) => return Some(Err(message)),
    };
    let arguments = match call::arguments(run, request.variables.as_ref()) {
        Ok(arguments) => arguments,
        Err(message) => return Some(Err(message)),
    };
    // `context` (the account) changes nothing here.
    let wait = arguments
        .get("wait_until_completion")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let data = arguments.get("data").unwrap_or(&Value::Null);
    let Some(definition_id) = data.get("id").and_then(Value::as_str) else {
        return Some(Err(format!(
            "{DEFINITION_RUN}: data.id, the generator definition's id, is required"
        )));
    };
    let nodes = match data.get("nodes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(nodes)) => {
            let ids: Option<Vec<String>> = nodes
                .iter()
                .map(|node| node.as_str().map(str::to_owned))
                .collect();
            match ids {
                Some(ids) => ids,
                None => {
                    return Some(Err(format!(
                        "{DEFINITION_RUN}: data.nodes lists node ids (strings)"
                    )));
                }
            }
        }
        Some(_) => {
            return Some(Err(format!(
                "{DEFINITION_RUN}: data.nodes lists node ids (strings)"
            )));
        }
    };
    Some(Ok(DefinitionRun {
        key: call::key(run),
        definition_id: definition_id.to_owned(),
        nodes,
        wait,
    }))
}

/// Runs `call` on `branch` and answers it in the mutation's shape.
pub(super) async fn answer(runs: &dyn GeneratorRuns, branch: &str, call: DefinitionRun) -> Value {
    match runs
        .run_definition(branch, &call.definition_id, call.nodes, call.wait)
        .await
    {
        Ok(task) => json!({"data": {call.key: {"ok": true, "task": {"id": task}}}}),
        Err(error) => {
            json!({"data": null, "errors": [{"message": error.to_string(), "path": [call.key]}]})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(query: &str, variables: Value) -> Option<Result<DefinitionRun, String>> {
        let mut request = GraphqlRequest::new(query);
        request.variables = Some(variables);
        definition_run(&request)
    }

    #[test]
    fn the_definition_and_its_nodes_are_read_from_literals_and_from_variables() {
        assert_eq!(
            call(
                r#"mutation { run: CoreGeneratorDefinitionRun(data: {id: "d1", nodes: ["a", "b"]}, wait_until_completion: false) { ok } }"#,
                Value::Null
            ),
            Some(Ok(DefinitionRun {
                key: "run".into(),
                definition_id: "d1".into(),
                nodes: vec!["a".into(), "b".into()],
                wait: false,
            }))
        );
        assert_eq!(
            call(
                "mutation Run($d: String!) { CoreGeneratorDefinitionRun(data: {id: $d}) { ok task { id } } }",
                json!({"d": "d2"})
            ),
            Some(Ok(DefinitionRun {
                key: DEFINITION_RUN.into(),
                definition_id: "d2".into(),
                nodes: Vec::new(),
                wait: true,
            }))
        );
    }

    #[test]
    fn other_documents_go_to_the_store_and_a_malformed_call_is_refused() {
        assert_eq!(
            call("{ CoreGeneratorDefinition { count } }", Value::Null),
            None
        );
        assert_eq!(
            call("query { CoreGeneratorDefinitionRun { ok } }", Value::Null),
            None
        );
        assert_eq!(
            call(
                r#"mutation { CoreGeneratorDefinitionRun(data: {nodes: ["a"]}) { ok } }"#,
                Value::Null
            ),
            Some(Err(
                "CoreGeneratorDefinitionRun: data.id, the generator definition's id, is required"
                    .into()
            ))
        );
        assert_eq!(
            call(
                r#"mutation { CoreGeneratorDefinitionRun(data: {id: "d"}) { ok } TagCreate(data: {}) { ok } }"#,
                Value::Null
            ),
            Some(Err(
                "CoreGeneratorDefinitionRun must be the only field of its mutation here".into()
            ))
        );
    }
}
