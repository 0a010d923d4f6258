//! `infragen:generator/graphql`: read-only queries.

use async_graphql_parser::types::OperationType;

use super::{HostError, HostState, parse_json_object};
use crate::contract::v0_1::{ErrorKind, infragen};

/// The smallest a node of a query's answer is, for the node budget of a query (the
/// response cap over this).
const QUERY_BYTES_PER_NODE: u64 = 32;

impl infragen::generator::graphql::Host for HostState {
    async fn query(&mut self, document: String, variables: String) -> Result<String, HostError> {
        self.run
            .begin_call("graphql.query", document.len() + variables.len())?;
        let variables = parse_json_object("the query variables", &variables)?;
        refuse_writes(&document)?;
        let budget = infragen_store::QueryBudget {
            // A node of an answer is tens of bytes at least: a query that resolves more
            // than this could not be handed over anyway.
            max_nodes: (self.run.limits.max_response_bytes / QUERY_BYTES_PER_NODE).max(1),
            deadline: Some(self.run.deadline),
        };
        let response = self
            .run
            .backend
            .query_text(&self.run.branch, &document, &variables, budget)
            .await?;
        self.run.check_response("graphql.query", response.len())?;
        Ok(response)
    }
}

/// Refuses documents that do not parse or that contain a mutation or a
/// subscription: writes must go through `nodes`, where they are tracked and
/// checked against the generator's policy.
///
/// Parsed once per text for this check and the embedded store's execution. A text
/// parsed before is taken as it is; only a new one is parsed, on a fresh native stack
/// (see [`crate::native_stack`]): mapping one costs 8 MiB mapped and unmapped, ~3% of a
/// seed build's samples when every query switched for this check.
fn refuse_writes(document: &str) -> Result<(), HostError> {
    let parsed = match infragen_store::parsed_document(document) {
        Some(parsed) => parsed,
        None => crate::native_stack::fresh(|| infragen_store::parse_document(document)).map_err(
            |error| HostError::invalid_input(format!("the query does not parse: {error}")),
        )?,
    };
    for (name, operation) in parsed.operations.iter() {
        let kind = match operation.node.ty {
            OperationType::Query => continue,
            OperationType::Mutation => "mutation",
            OperationType::Subscription => "subscription",
        };
        let name = name.map(|name| format!(" `{name}`")).unwrap_or_default();
        return Err(HostError::guest(
            ErrorKind::PermissionDenied,
            format!(
                "graphql.query is read-only but the document contains the {kind}{name}; \
                 write through nodes.upsert, nodes.update or nodes.delete so the write is tracked"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<(), HostError>) -> String {
        match result {
            Err(HostError::Guest(error)) => error.message,
            other => panic!("expected a guest error, got {other:?}"),
        }
    }

    #[test]
    fn queries_pass() {
        assert!(
            refuse_writes("query Q($n: String!) { NetworkDevice(name__value: $n) { count } }")
                .is_ok()
        );
        assert!(refuse_writes("{ InfrahubInfo { version } }").is_ok());
    }

    #[test]
    fn a_mutation_anywhere_in_the_document_is_refused_by_name() {
        let document = "query A { X { count } } mutation Sneaky { NetworkDeviceDelete(data: {id: \"1\"}) { ok } }";
        assert_eq!(
            message(refuse_writes(document)),
            "graphql.query is read-only but the document contains the mutation `Sneaky`; \
             write through nodes.upsert, nodes.update or nodes.delete so the write is tracked"
        );
    }

    #[test]
    fn an_unparsable_document_is_invalid_input() {
        assert!(message(refuse_writes("query {")).starts_with("the query does not parse"));
    }
}
