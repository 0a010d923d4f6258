//! Allocations from IP pools: [`crate::pools`] finds the pool and the free resource (or the
//! node reserved under the request's identifier); the engine creates the node and records
//! the reservation on it.

use super::error::{EngineError, Result};
use super::write::create_node;
use crate::graph::Tx;
use crate::node::Node;
use crate::pools::{self, Allocation, IpPool, Plan, Request};
use crate::schema::RelationshipSchema;
use serde_json::Value;

/// Allocate from IP `pool` (a `which` pool): the node reserved under the request's
/// identifier, or a new node holding the next free resource.
pub(crate) fn allocate(
    tx: &mut Tx<'_>,
    which: IpPool,
    pool: &Node,
    req: Request,
) -> Result<Allocation> {
    match pools::plan(tx, which, pool, req)? {
        Plan::Reserved(a) => Ok(a),
        Plan::Create {
            kind,
            input,
            label,
            identifier,
        } => {
            let id = create_node(tx, &kind, &input).map_err(|e| e.context(label))?;
            if let Some(ident) = &identifier {
                pools::reserve(tx, &id, &pool.id, ident);
            }
            Ok(Allocation {
                id,
                kind: kind.kind.clone(),
                identifier,
            })
        }
    }
}

/// `rel: {from_pool: {id | hfid, identifier?, data?, prefix_length?}}` on relationship `r`
/// of `owner`: allocate from the IP pool and return the new peer's id (see
/// [`pools::relationship_request`] for the defaults).
pub(crate) fn relationship_from_pool(
    tx: &mut Tx<'_>,
    owner: &Node,
    r: &RelationshipSchema,
    spec: &Value,
) -> Result<String> {
    let (pool, which, req) = pools::relationship_request(tx, owner, r, spec)?;
    let a = allocate(tx, which, &pool, req).map_err(|e| e.context(&r.name))?;
    if !tx.schema.is_a(&a.kind, &r.peer) {
        return Err(EngineError::invalid(format!(
            "{}: pool '{}' created a {}, which is not a {}",
            r.name,
            pools::pool_name(&pool),
            a.kind,
            r.peer
        )));
    }
    Ok(a.id)
}

/// `Infrahub<IPPrefix|IPAddress>PoolGetResource(data: …)`: the input checked field by field,
/// the pool found by `id` or `hfid`, and the allocation.
pub(crate) fn allocate_from_input(
    tx: &mut Tx<'_>,
    which: IpPool,
    data: &Value,
) -> Result<Allocation> {
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
    allocate(tx, which, &pool, req)
}
