//! The mutation root fields, turned into write-engine calls: `<Kind>Create`, `<Kind>Update`,
//! `<Kind>Upsert`, `<Kind>Delete`, `RelationshipAdd`, `RelationshipRemove` and the pools'
//! `Infrahub<IPPrefix|IPAddress>PoolGetResource`.
//!
//! Only the GraphQL side lives here: the shape of each input type (which fields it
//! defines) and what a field answers ([`Outcome`]). Everything a write does (upsert
//! identity, relationships, uniqueness, cascade delete, allocations) is the engine's
//! ([`crate::engine`]).

use super::GqlError;
use super::types::{self, split_mutation};
use crate::engine::{self, EngineError};
use crate::graph::Tx;
use crate::pools::{Allocation, IpPool};
use serde_json::Value;

/// The result of one mutation field.
pub(crate) enum Outcome {
    /// The node the mutation wrote (for `object { … }`).
    Node(String),
    /// Only `ok`.
    Ok,
    /// A pool allocation (for `node { … }`).
    Allocated(Allocation),
}

/// Run the mutation root field `name` with its `data` argument.
pub(crate) fn run_field(tx: &mut Tx<'_>, name: &str, data: &Value) -> Result<Outcome, GqlError> {
    let done = match name {
        "RelationshipAdd" | "RelationshipRemove" => {
            relationship_edit(tx, data, name == "RelationshipAdd").map(|()| Outcome::Ok)
        }
        types::POOL_PREFIX_MUTATION => {
            engine::allocate_from_input(tx, IpPool::Prefix, data).map(Outcome::Allocated)
        }
        types::POOL_ADDRESS_MUTATION => {
            engine::allocate_from_input(tx, IpPool::Address, data).map(Outcome::Allocated)
        }
        _ => match split_mutation(tx.schema, name) {
            Some((k, op)) => engine::write_node(tx, k, op, data).map(|written| match written {
                Some(id) => Outcome::Node(id),
                None => Outcome::Ok,
            }),
            None => {
                return Err(GqlError::msg(format!(
                    "Cannot query field '{name}' on type 'Mutation'."
                )));
            }
        },
    };
    done.map_err(GqlError::from)
}

/// `RelationshipAdd` / `RelationshipRemove(data: {id, name, nodes})`.
fn relationship_edit(tx: &mut Tx<'_>, data: &Value, add: bool) -> Result<(), EngineError> {
    let id = data
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| EngineError::invalid("RelationshipNodesInput: 'id' is required"))?;
    let name = data
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| EngineError::invalid("RelationshipNodesInput: 'name' is required"))?;
    let nodes: &[Value] = data
        .get("nodes")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    engine::edit_relationship(tx, id, name, nodes, add)
}
