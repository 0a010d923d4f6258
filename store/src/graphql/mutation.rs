//! The mutation root fields, turned into write-engine calls: `<Kind>Create`, `<Kind>Update`,
//! `<Kind>Upsert`, `<Kind>Delete`, `RelationshipAdd`, `RelationshipRemove` and the pools'
//! `Infrahub<IPPrefix|IPAddress>PoolGetResource`.
//!
//! Only the GraphQL side lives here: the shape of each input type (which fields it
//! defines) and what a field answers ([`Outcome`]). Everything a write does (upsert
//! identity, relationships, uniqueness, cascade delete, allocations) is the engine's
//! ([`crate::engine`]).

use super::GqlError;
use super::types::{self, MutationOp, split_mutation};
use crate::engine::{self, EngineError};
use crate::graph::Tx;
use crate::pools::{self, Allocation, IpPool};
use crate::schema::KindSchema;
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
            get_resource(tx, IpPool::Prefix, data).map(Outcome::Allocated)
        }
        types::POOL_ADDRESS_MUTATION => {
            get_resource(tx, IpPool::Address, data).map(Outcome::Allocated)
        }
        _ => match split_mutation(tx.schema, name) {
            Some((k, op)) => run(tx, k, op, data),
            None => {
                return Err(GqlError::msg(format!(
                    "Cannot query field '{name}' on type 'Mutation'."
                )));
            }
        },
    };
    done.map_err(GqlError::from)
}

/// Run `<Kind><op>(data: …)`.
fn run(
    tx: &mut Tx<'_>,
    k: &KindSchema,
    op: MutationOp,
    data: &Value,
) -> Result<Outcome, EngineError> {
    let data = data.as_object().ok_or_else(|| {
        EngineError::invalid(
            "Expected type 'Input!' for argument 'data', found a non-object value.",
        )
    })?;
    let input_ty = format!(
        "{}{}Input",
        k.kind,
        match op {
            MutationOp::Create => "Create",
            MutationOp::Update => "Update",
            MutationOp::Upsert => "Upsert",
            MutationOp::Delete => "Delete",
        }
    );
    for key in data.keys() {
        let ok = match key.as_str() {
            "id" => true,
            "hfid" => op != MutationOp::Create,
            _ if op == MutationOp::Delete => false,
            name => {
                k.attribute(name).is_some_and(|a| !a.read_only)
                    || k.relationship(name).is_some_and(|r| !r.read_only)
            }
        };
        if !ok {
            return Err(EngineError::invalid(format!(
                "Field '{key}' is not defined by type '{input_ty}'."
            )));
        }
    }
    match op {
        MutationOp::Create => engine::create_node(tx, k, data).map(Outcome::Node),
        MutationOp::Update => {
            let existing = engine::find_target(tx, k, data)?;
            engine::update(tx, existing, data, false).map(Outcome::Node)
        }
        MutationOp::Upsert => engine::upsert(tx, k, data).map(Outcome::Node),
        MutationOp::Delete => {
            let existing = engine::find_target(tx, k, data)?;
            engine::delete(tx, &existing.id)?;
            Ok(Outcome::Ok)
        }
    }
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

/// `Infrahub<IPPrefix|IPAddress>PoolGetResource(data: …)`.
fn get_resource(tx: &mut Tx<'_>, which: IpPool, data: &Value) -> Result<Allocation, EngineError> {
    let input = which.input_type();
    let data = data.as_object().ok_or_else(|| {
        EngineError::invalid(format!(
            "Expected type '{input}!' for argument 'data', found a non-object value."
        ))
    })?;
    for key in data.keys() {
        let known = matches!(
            key.as_str(),
            "id" | "hfid" | "identifier" | "prefix_length" | "data"
        ) || key == which.type_field()
            || (which == IpPool::Prefix && key == "member_type");
        if !known {
            return Err(EngineError::invalid(format!(
                "Field '{key}' is not defined by type '{input}'."
            )));
        }
    }
    let pool = pools::find_pool(
        tx,
        Some(which.pool_kind()),
        data.get("id").and_then(Value::as_str),
        data.get("hfid"),
    )?;
    let req = pools::resource_request(which, data)?;
    engine::allocate(tx, which, &pool, req)
}
