//! Reading a GraphQL document that calls one of the fields the server answers itself
//! (`CoreGeneratorDefinitionRun`, `InfrahubTask`): its operation, the field, and the
//! field's arguments with the request's variables in place.

use async_graphql_parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
};
use infragen_store::GraphqlRequest;
use serde_json::{Map, Value};

/// The document of `request`, when it parses and mentions `name` at all (a cheap test
/// first: most documents are for the store).
pub(super) fn parsed(request: &GraphqlRequest, name: &str) -> Option<ExecutableDocument> {
    if !request.query.contains(name) {
        return None;
    }
    async_graphql_parser::parse_query(&request.query).ok()
}

/// The operation `request` asks to run in `document`, when it is of type `ty`.
pub(super) fn operation<'d>(
    document: &'d ExecutableDocument,
    request: &GraphqlRequest,
    ty: OperationType,
) -> Option<&'d OperationDefinition> {
    let operation = match (&document.operations, &request.operation_name) {
        (DocumentOperations::Single(operation), _) => &operation.node,
        (DocumentOperations::Multiple(operations), Some(name)) => {
            &operations.get(name.as_str())?.node
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            &operations.values().next()?.node
        }
        (DocumentOperations::Multiple(_), None) => return None,
    };
    (operation.ty == ty).then_some(operation)
}

/// The field of `operation` named one of `names`, when there is one: `Ok` when it is the
/// operation's only field, `Err` naming it otherwise (the server answers it apart from the
/// store, so it cannot be mixed with the store's fields).
pub(super) fn only_field<'o>(
    operation: &'o OperationDefinition,
    names: &[&str],
) -> Option<Result<&'o Field, String>> {
    let items = &operation.selection_set.node.items;
    let field = items.iter().find_map(|item| match &item.node {
        Selection::Field(field) if names.contains(&field.node.name.node.as_str()) => {
            Some(&field.node)
        }
        _ => None,
    })?;
    if items.len() != 1 {
        let kind = match operation.ty {
            OperationType::Mutation => "mutation",
            _ => "query",
        };
        return Some(Err(format!(
            "{} must be the only field of its {kind} here",
            field.name.node
        )));
    }
    Some(Ok(field))
}

/// The arguments of `field` as JSON, the request's `variables` in place of variables.
pub(super) fn arguments(
    field: &Field,
    variables: Option<&Value>,
) -> Result<Map<String, Value>, String> {
    let mut values = Map::new();
    for (name, value) in &field.arguments {
        let value = value
            .node
            .clone()
            .into_const_with(|variable| {
                async_graphql_value::ConstValue::from_json(
                    variables
                        .and_then(|variables| variables.get(variable.as_str()))
                        .cloned()
                        .unwrap_or(Value::Null),
                )
            })
            .and_then(|value| value.into_json())
            .map_err(|error| format!("{}: {error}", field.name.node))?;
        values.insert(name.node.to_string(), value);
    }
    Ok(values)
}

/// The response key of `field` (its alias, or its name).
pub(super) fn key(field: &Field) -> String {
    field.response_key().node.to_string()
}
