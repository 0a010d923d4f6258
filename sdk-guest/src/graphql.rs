//! Read-only GraphQL on the run's branch (the contract's `graphql` interface).

use serde::Serialize;
use serde_json::Value;

use crate::{Error, Result};

/// Runs a read-only GraphQL `document` with `variables` (anything that
/// serialises to a JSON object, e.g. `json!({"name": "Fabric-A"})`) and
/// returns the response's `data` member.
///
/// Mutations are refused by the host with `permission-denied`: writes go
/// through [`nodes`](crate::nodes) so that they are tracked.
pub fn query(document: &str, variables: impl Serialize) -> Result<Value> {
    let variables = crate::json_object(&variables, "GraphQL variables")?;
    let data = crate::bindings::infragen::generator::graphql::query(document, &variables)?;
    serde_json::from_str(&data)
        .map_err(|error| Error::invalid_input(format!("GraphQL response is not JSON: {error}")))
}
