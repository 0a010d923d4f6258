//! The mutation root fields, turned into write-engine calls: `<Kind>Create`, `<Kind>Update`,
//! `<Kind>Upsert`, `<Kind>Delete`, `RelationshipAdd`, `RelationshipRemove` and the pools'
//! `Infrahub<IPPrefix|IPAddress>PoolGetResource`.
//!
//! Only the GraphQL side lives here: the shape of each input type (which fields it
//! defines) and what a field answers ([`Outcome`]). Everything a write does (upsert
//! identity, relationships, uniqueness, cascade delete, allocations) is the engine's
//! ([`crate::engine`]).

use super::answer::{Answer, Fields};
use super::query::{Resolver, ResponsePath};
use super::types::{self, split_mutation};
use super::{GqlError, Prepared, all_fields, args_json, collect_fields};
use crate::engine::{self, EngineError};
use crate::graph::Tx;
use crate::pools::{Allocation, IpPool};
use async_graphql_parser::Positioned;
use async_graphql_parser::types::{ExecutableDocument, Field};
use serde_json::{Map, Value, json};

/// The result of one mutation field.
enum Outcome {
    /// The node the mutation wrote (for `object { … }`).
    Node(String),
    /// Only `ok`.
    Ok,
    /// A pool allocation (for `node { … }`).
    Allocated(Allocation),
}

/// Run the mutation root field `name` with its `data` argument.
fn run_field(tx: &mut Tx<'_>, name: &str, data: &Value) -> Result<Outcome, GqlError> {
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

/// Answers the root fields of the mutation `prepared` of `doc`, in document order, each with
/// `answer` (but `__typename`, answered here): a field that fails is `null` in `data` and
/// has its error, and the fields after it still run, as on Infrahub.
pub(crate) fn answer_mutation<'d>(
    doc: &'d ExecutableDocument,
    prepared: &Prepared<'d>,
    mut answer: impl FnMut(&'d Positioned<Field>) -> Result<Answer, GqlError>,
) -> Answer {
    let mut fields = Vec::new();
    collect_fields(
        doc,
        prepared.selection,
        &prepared.vars,
        &|tc| tc.is_none_or(|t| t == "Mutation"),
        &mut fields,
        0,
    );
    let mut data = Fields::new();
    let mut errors = Vec::new();
    for f in fields {
        let key = f.node.response_key().node.to_string();
        let answered = if f.node.name.node == "__typename" {
            Ok(json!("Mutation").into())
        } else {
            answer(f)
        };
        match answered {
            Ok(v) => {
                data.insert(key, v);
            }
            Err(mut e) => {
                e.path = vec![json!(key.clone())];
                if e.pos.is_none() {
                    e.pos = Some(f.pos);
                }
                tracing::debug!(field = %key, error = %e.message, "mutation failed");
                errors.push(e);
                data.insert(key, Value::Null);
            }
        }
    }
    crate::store::respond(Answer::Object(data), &errors)
}

/// Runs the mutation root field `f` of `doc` on `tx` and answers it as Infrahub does: `ok`,
/// the `object` written (with the selection asked for) or the allocated `node`. What it
/// writes stays in `tx`, for the caller to commit (one field, one transaction) or to keep
/// in an open run (see [`crate::run`]).
pub(crate) fn answer_field(
    tx: &mut Tx<'_>,
    doc: &ExecutableDocument,
    vars: &Map<String, Value>,
    f: &Positioned<Field>,
) -> Result<Answer, GqlError> {
    answer_field_naming(tx, doc, vars, f).map(|(answer, _)| answer)
}

/// [`answer_field`], with the node the field names: the one written, allocated,
/// deleted, or whose relationship it edited (what a check of its effects calls the
/// target).
pub(crate) fn answer_field_naming(
    tx: &mut Tx<'_>,
    doc: &ExecutableDocument,
    vars: &Map<String, Value>,
    f: &Positioned<Field>,
) -> Result<(Answer, Option<String>), GqlError> {
    let name = f.node.name.node.as_str();
    let args = args_json(&f.node, vars)?;
    let data = args.get("data").cloned().unwrap_or(Value::Null);
    let outcome = run_field(tx, name, &data).map_err(|e| {
        // A database failure while reading can look like a missing node: report it.
        let mut e = tx.take_failure().map_or(e, GqlError::from);
        e.pos = Some(f.pos);
        e
    })?;
    let target = match &outcome {
        Outcome::Node(id) => Some(id.clone()),
        Outcome::Allocated(a) => Some(a.id.clone()),
        Outcome::Ok => data.get("id").and_then(Value::as_str).map(str::to_owned),
    };
    let tx = &*tx;
    let r = Resolver::new(tx, doc, vars);
    let mut m = Fields::new();
    for sf in all_fields(doc, &f.node.selection_set.node, vars) {
        let v: Answer = match (sf.node.name.node.as_str(), &outcome) {
            ("ok", _) => json!(true).into(),
            ("__typename", _) => json!(name).into(),
            ("node", Outcome::Allocated(a)) => {
                let node = tx.get(&a.id);
                let mut o = Fields::new();
                for nf in all_fields(doc, &sf.node.selection_set.node, vars) {
                    let v = match nf.node.name.node.as_str() {
                        "id" => json!(a.id),
                        "kind" => json!(a.kind),
                        "identifier" => json!(a.identifier),
                        "branch" => json!(tx.branch),
                        "display_label" => {
                            json!(node.as_ref().and_then(|n| tx.display_label(n)))
                        }
                        "__typename" => json!("PoolAllocatedNode"),
                        _ => Value::Null,
                    };
                    o.insert(&nf.node.response_key().node, v);
                }
                Answer::Object(o)
            }
            ("object", Outcome::Node(id)) => match (tx.get(id), split_mutation(tx.schema, name)) {
                (Some(n), Some((k, _))) => r.node_object(
                    &n,
                    &k.kind,
                    &sf.node.selection_set.node,
                    &ResponsePath::root(name).key("object"),
                ),
                _ => Answer::NULL,
            },
            _ => Answer::NULL,
        };
        m.insert(&sf.node.response_key().node, v);
    }
    Ok((Answer::Object(m), target))
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
