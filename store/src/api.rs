//! The typed API: the store's operations called as functions, with no GraphQL document in
//! between.
//!
//! The host's in-process backend uses it for every generator call but a plugin's own GraphQL
//! query. Each method does what the matching GraphQL operation of the host does — the same
//! engine call, in one SQLite transaction per write, with the same events and the same error
//! (message and [`ErrorCode`](crate::ErrorCode)) — without rendering, parsing or validating
//! a document, and without a hop to another thread: the callers are the host's runs, whose
//! store operations are short and serialised by the store's connection anyway.
//!
//! | method                     | what the host sends over HTTP                          |
//! |----------------------------|--------------------------------------------------------|
//! | [`Store::write_node`]      | `<Kind>Create/Update/Upsert/Delete(data: …)`           |
//! | [`Store::edit_relationship`] | `RelationshipAdd/Remove(data: {id, name, nodes})`    |
//! | [`Store::allocate`]        | `Infrahub<IPPrefix|IPAddress>PoolGetResource(data: …)` |
//! | [`Store::nodes`]           | `<Kind>(filters) { edges { node { <default selection> } } }` |

use crate::engine::{self, EngineError, WriteOp};
use crate::error::{Result, StoreError};
use crate::graph::Tx;
use crate::graphql::filters::Filters;
use crate::graphql::types::filter_arg_ok;
use crate::node::Node;
use crate::persistence::check_branch;
use crate::pools::IpPool;
use crate::schema::{Cardinality, KindSchema, RelationshipKind, Schema};
use crate::store::Store;
use foldhash::HashMap;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

/// A node a write left in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Its id.
    pub id: String,
    /// Its concrete kind.
    pub kind: String,
    /// Its human-friendly id, when its kind has one and every part is set.
    pub hfid: Option<Vec<String>>,
}

/// Which kind of IP pool an allocation is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// A `CoreIPPrefixPool`: the next free prefix.
    Prefix,
    /// A `CoreIPAddressPool`: the next free address.
    Address,
}

/// What a pool handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocated {
    /// The created (or reserved) node's id.
    pub id: String,
    /// Its concrete kind.
    pub kind: String,
    /// The identifier it is reserved under.
    pub identifier: Option<String>,
    /// The prefix or address, in canonical text form (`10.0.0.0/31`).
    pub value: String,
}

/// The kind named `kind`, which must be writable with `op` (a generic only by update).
fn writable_kind<'s>(schema: &'s Schema, kind: &str, op: WriteOp) -> Result<&'s KindSchema> {
    match schema.get(kind) {
        Some(k) if !k.is_generic || op == WriteOp::Update => Ok(k),
        _ => Err(StoreError::BadRequest(format!(
            "Cannot query field '{kind}{}' on type 'Mutation'.",
            op.name()
        ))),
    }
}

/// A failed engine call, unless reading the database failed first: a read that failed can
/// look like a missing node, and the database's error is the one to report.
fn engine_failure(tx: &Tx<'_>, error: EngineError) -> StoreError {
    tx.take_failure().unwrap_or(StoreError::Engine(error))
}

impl Store {
    /// `<Kind><op>` of `data`, a payload in Infrahub's input form (`{name: {value: …},
    /// device: {id: …}}`), on `branch`. Answers the node written; `None` for a delete.
    pub fn write_node(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
    ) -> Result<Option<Written>> {
        self.write_op(|conn, schema| {
            check_branch(conn, branch)?;
            let mut tx = self.tx(conn, schema, branch);
            let written = write_node(&mut tx, kind, op, data)?;
            Ok((tx.finish()?, written))
        })
    }

    /// Sets attribute `attribute` of node `id` (a `kind`, or a kind inheriting it) on
    /// `branch` to `value` when it holds another, in one transaction: `None` when there is
    /// no such node, else whether the value changed (an unchanged value writes nothing).
    pub fn stamp(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        attribute: &str,
        value: &Value,
    ) -> Result<Option<bool>> {
        self.write_op(|conn, schema| {
            check_branch(conn, branch)?;
            let mut tx = self.tx(conn, schema, branch);
            let stamped = stamp(&mut tx, kind, id, attribute, value)?;
            Ok((tx.finish()?, stamped))
        })
    }

    /// Adds `peers` to (or, with `add` false, removes them from) relationship `name` of node
    /// `id` on `branch`, keeping the peers' side in step.
    pub fn edit_relationship(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
        add: bool,
    ) -> Result<()> {
        self.write_op(|conn, schema| {
            check_branch(conn, branch)?;
            let mut tx = self.tx(conn, schema, branch);
            edit_relationship(&mut tx, id, name, peers, add)?;
            Ok((tx.finish()?, ()))
        })
    }

    /// The next free resource of a pool (or the one reserved under the input's
    /// `identifier`), with `input` as the pool mutation takes it: `{id | hfid, identifier?,
    /// prefix_length?, member_type?, prefix_type? | address_type?, data?}`.
    pub fn allocate(&self, branch: &str, pool: PoolKind, input: &Value) -> Result<Allocated> {
        self.write_op(|conn, schema| {
            check_branch(conn, branch)?;
            let mut tx = self.tx(conn, schema, branch);
            let allocated = allocate(&mut tx, pool, input, self.path())?;
            Ok((tx.finish()?, allocated))
        })
    }

    /// Every node of `kind` (a node kind or a generic) on `branch` matching `filters` (the
    /// query's filter arguments: `name__value`, `role__values`, `ids`, `pod__ids`, …), in
    /// the shape of the Python SDK's default selection: `id`, `hfid`, `display_label`,
    /// `__typename`, each attribute as `{value}`, each cardinality-one relationship as
    /// `{node: <peer> | null}`, and the cardinality-many relationships of kind Attribute or
    /// Parent, or named in `include`, as `{count, edges: [{node: <peer>}]}`; a peer is
    /// `{id, hfid, display_label, __typename}`.
    pub fn nodes(
        &self,
        branch: &str,
        kind: &str,
        filters: &Map<String, Value>,
        include: &[String],
    ) -> Result<Vec<Value>> {
        self.read_op(|conn, schema| {
            check_branch(conn, branch)?;
            nodes(&self.tx(conn, schema, branch), kind, filters, include)
        })
    }

    /// [`Store::nodes`] as JSON text, one object per node: what a guest receives.
    pub fn nodes_json(
        &self,
        branch: &str,
        kind: &str,
        filters: &Map<String, Value>,
        include: &[String],
    ) -> Result<Vec<String>> {
        self.read_op(|conn, schema| {
            check_branch(conn, branch)?;
            nodes_json(&self.tx(conn, schema, branch), kind, filters, include)
        })
    }

    /// The value of attribute `attribute` of node `id` on `branch`, as the node's default
    /// selection shows it (see [`attribute_value`]).
    pub fn attribute_value(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        attribute: &str,
    ) -> Result<Option<Value>> {
        self.read_op(|conn, schema| {
            check_branch(conn, branch)?;
            attribute_value(&self.tx(conn, schema, branch), kind, id, attribute)
        })
    }
}

/// The value of attribute `attribute` of node `id`, as the node's default selection shows
/// it, without writing the selection out: `None` when no node of `kind`, or of a kind
/// inheriting it, has that id; `Value::Null` when the attribute is unset, or when `kind`
/// has no attribute of that name (a listing shows no value for it either: writing one is
/// what fails).
pub(crate) fn attribute_value(
    tx: &Tx<'_>,
    kind: &str,
    id: &str,
    attribute: &str,
) -> Result<Option<Value>> {
    let k = tx
        .schema
        .get(kind)
        .ok_or_else(|| StoreError::UnknownKind(kind.to_owned()))?;
    if !tx.kind_of(id).is_some_and(|own| tx.schema.is_a(&own, kind)) {
        return Ok(None);
    }
    let value = if k.attribute(attribute).is_some() {
        tx.attr_of(id, attribute)
    } else {
        Value::Null
    };
    match tx.take_failure() {
        Some(failure) => Err(failure),
        None => Ok(Some(value)),
    }
}

/// [`Store::write_node`] inside `tx`.
pub(crate) fn write_node(
    tx: &mut Tx<'_>,
    kind: &str,
    op: WriteOp,
    data: &Value,
) -> Result<Option<Written>> {
    let k = writable_kind(tx.schema, kind, op)?;
    let id = engine::write_node(tx, k, op, data).map_err(|error| engine_failure(tx, error))?;
    Ok(id.and_then(|id| tx.get(&id)).map(|node| Written {
        id: node.id.to_string(),
        kind: node.kind.clone(),
        hfid: tx.hfid(&node),
    }))
}

/// [`Store::stamp`] inside `tx`: the attribute is read and, when it differs, written,
/// as one operation of the caller's.
pub(crate) fn stamp(
    tx: &mut Tx<'_>,
    kind: &str,
    id: &str,
    attribute: &str,
    value: &Value,
) -> Result<Option<bool>> {
    let Some(current) = attribute_value(tx, kind, id, attribute)? else {
        return Ok(None);
    };
    if current == *value {
        return Ok(Some(false));
    }
    let data = json!({ "id": id, attribute: { "value": value } });
    write_node(tx, kind, WriteOp::Update, &data)?;
    Ok(Some(true))
}

/// [`Store::edit_relationship`] inside `tx`.
pub(crate) fn edit_relationship(
    tx: &mut Tx<'_>,
    id: &str,
    name: &str,
    peers: &[String],
    add: bool,
) -> Result<()> {
    let items: Vec<Value> = peers.iter().map(|peer| json!({ "id": peer })).collect();
    engine::edit_relationship(tx, id, name, &items, add).map_err(|error| engine_failure(tx, error))
}

/// [`Store::allocate`] inside `tx`; `path` names the database in a corruption error.
pub(crate) fn allocate(
    tx: &mut Tx<'_>,
    pool: PoolKind,
    input: &Value,
    path: &str,
) -> Result<Allocated> {
    let (which, attribute) = match pool {
        PoolKind::Prefix => (IpPool::Prefix, "prefix"),
        PoolKind::Address => (IpPool::Address, "address"),
    };
    let allocation =
        engine::allocate_from_input(tx, which, input).map_err(|error| engine_failure(tx, error))?;
    let value = tx
        .get(&allocation.id)
        .and_then(|node| node.attr(attribute).as_str().map(str::to_owned))
        .ok_or_else(|| StoreError::Corrupted {
            path: path.to_owned(),
            detail: format!(
                "the allocated {} {} has no {attribute}",
                allocation.kind, allocation.id
            ),
        })?;
    Ok(Allocated {
        id: allocation.id,
        kind: allocation.kind,
        identifier: allocation.identifier,
        value,
    })
}

/// [`Store::nodes`] as `tx` sees them.
pub(crate) fn nodes(
    tx: &Tx<'_>,
    kind: &str,
    filters: &Map<String, Value>,
    include: &[String],
) -> Result<Vec<Value>> {
    selection_values(kind, &nodes_json(tx, kind, filters, include)?)
}

/// The nodes of a listing of `kind` ([`Store::nodes_json`]) as values. The texts are the
/// store's own: one that is not JSON is a bug, reported as [`StoreError::Internal`].
pub fn selection_values(kind: &str, texts: &[String]) -> Result<Vec<Value>> {
    texts
        .iter()
        .map(|text| {
            serde_json::from_str(text).map_err(|error| {
                StoreError::Internal(format!(
                    "the default selection written for {kind} is not JSON: {error}"
                ))
            })
        })
        .collect()
}

/// [`Store::nodes_json`] as `tx` sees them.
pub(crate) fn nodes_json(
    tx: &Tx<'_>,
    kind: &str,
    filters: &Map<String, Value>,
    include: &[String],
) -> Result<Vec<String>> {
    let schema = tx.schema;
    let k = schema
        .get(kind)
        .ok_or_else(|| StoreError::UnknownKind(kind.to_owned()))?;
    if let Some(argument) = filters
        .keys()
        .find(|argument| !filter_arg_ok(schema, k, argument, true))
    {
        return Err(StoreError::BadRequest(format!(
            "Unknown argument '{argument}' on field 'Query.{kind}'."
        )));
    }
    let filters = Filters::parse(filters, k).map_err(StoreError::BadRequest)?;
    let (_, page) = filters.select_listed(tx, k, include);
    let mut peers = PeerTexts::default();
    let nodes = page
        .iter()
        .map(|node| default_selection(tx, k, node, include, &mut peers))
        .collect();
    match tx.take_failure() {
        Some(failure) => Err(failure),
        None => Ok(nodes),
    }
}

/// One field of a node's default selection, before it is written.
enum Field<'n> {
    /// Text written already: the node's own `id`, `hfid`, `display_label`, `__typename`.
    Text(String),
    /// A field the node's own kind does not have (the query was on a generic).
    Null,
    /// An attribute: `{"value": …}`.
    Attribute(&'n Value),
    /// A cardinality-one relationship: `{"node": <peer> | null}`.
    One(Option<Rc<str>>),
    /// A cardinality-many relationship: `{"count": …, "edges": [{"node": <peer>}]}`.
    Many(usize, Vec<Rc<str>>),
}

/// The fields of a node's default selection by name, in the order `serde_json`'s sorted
/// maps print them.
type Fields<'n> = BTreeMap<&'n str, Field<'n>>;

/// A node as the SDK's default selection shows it, with the fields of `view` (the kind
/// queried, maybe a generic) resolved on the node's own kind, as JSON text.
///
/// Written straight to text, keys in order (as `serde_json`'s sorted maps print them):
/// a listing's answer goes to the guest as text, and building `Value` trees only to print
/// them cost more than choosing the nodes did.
fn default_selection(
    tx: &Tx<'_>,
    view: &KindSchema,
    node: &Node,
    include: &[String],
    peers: &mut PeerTexts,
) -> String {
    let own = tx.schema.get(&node.kind).unwrap_or(view);
    let mut fields = peer_fields(tx, node);
    for attribute in &view.attributes {
        let field = match own.attribute(&attribute.name) {
            Some(_) => Field::Attribute(node.attr(&attribute.name)),
            None => Field::Null,
        };
        fields.insert(&attribute.name, field);
    }
    for relationship in &view.relationships {
        let one = relationship.cardinality == Cardinality::One;
        let listed = matches!(
            relationship.kind,
            RelationshipKind::Attribute | RelationshipKind::Parent
        ) || include.contains(&relationship.name);
        if !one && !listed {
            continue;
        }
        let field = if own.relationship(&relationship.name).is_none() {
            Field::Null
        } else {
            let Some(peer_kind) = tx.schema.get(&relationship.peer) else {
                continue;
            };
            let ids = tx.peer_ids(node, &relationship.name);
            if one {
                Field::One(ids.iter().find_map(|id| peers.shown(tx, id)))
            } else {
                let nodes: Vec<Arc<Node>> =
                    ids.iter().filter_map(|id| shown_peer(tx, id)).collect();
                // In the peer kind's order, as a nested query lists them.
                let (count, nodes) = Filters::default().select_among(tx, peer_kind, nodes);
                Field::Many(count, nodes.iter().map(|p| peers.of(tx, p)).collect())
            }
        };
        fields.insert(&relationship.name, field);
    }
    write_object(&fields)
}

/// `fields` as one JSON object.
fn write_object(fields: &Fields<'_>) -> String {
    let mut out = String::with_capacity(64 * fields.len());
    out.push('{');
    for (i, (name, field)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json(&mut out, name);
        out.push(':');
        match field {
            Field::Text(text) => out.push_str(text),
            Field::Null => out.push_str("null"),
            Field::Attribute(value) => {
                out.push_str("{\"value\":");
                push_json(&mut out, value);
                out.push('}');
            }
            Field::One(peer) => {
                out.push_str("{\"node\":");
                out.push_str(peer.as_deref().unwrap_or("null"));
                out.push('}');
            }
            Field::Many(count, edges) => {
                out.push_str("{\"count\":");
                out.push_str(&count.to_string());
                out.push_str(",\"edges\":[");
                for (j, peer) in edges.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push_str("{\"node\":");
                    out.push_str(peer);
                    out.push('}');
                }
                out.push_str("]}");
            }
        }
    }
    out.push('}');
    out
}

/// `value` as JSON text, escaped exactly as `serde_json` prints it, appended to `out`.
fn push_json<T: serde::Serialize + ?Sized>(out: &mut String, value: &T) {
    // Serializing a string, a number or a small value into memory cannot fail.
    if let Ok(text) = serde_json::to_string(value) {
        out.push_str(&text);
    }
}

/// `value` as JSON text.
fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Field<'static> {
    let mut text = String::new();
    push_json(&mut text, value);
    Field::Text(text)
}

/// The peers one listing has shown, as JSON text: the interfaces of a device all name
/// that device, whose label is computed and written once, and shared.
#[derive(Default)]
struct PeerTexts(HashMap<String, Rc<str>>);

impl PeerTexts {
    /// Node `id` as a peer, if it is visible.
    fn shown(&mut self, tx: &Tx<'_>, id: &str) -> Option<Rc<str>> {
        if let Some(shown) = self.0.get(id) {
            return Some(Rc::clone(shown));
        }
        let node = shown_peer(tx, id)?;
        Some(self.of(tx, &node))
    }

    /// `node` as a peer.
    fn of(&mut self, tx: &Tx<'_>, node: &Node) -> Rc<str> {
        let text = self
            .0
            .entry(node.id.to_string())
            .or_insert_with(|| write_object(&peer_fields(tx, node)).into());
        Rc::clone(text)
    }
}

/// A peer as [`peer_fields`] shows it: without its edges when its kind's labels and order
/// read only its own attributes. Listing addresses showed each one's namespace, and
/// loading a namespace whole reads an edge per prefix and address of the store.
fn shown_peer(tx: &Tx<'_>, id: &str) -> Option<Arc<Node>> {
    let kind = tx.kind_of(id)?;
    match tx.schema.get(&kind) {
        Some(k) if k.labelled_by_own_attributes() => tx.attributes_of(id),
        _ => tx.get(id),
    }
}

/// `{id, hfid, display_label, __typename}` of a node: the whole of it as a peer, the
/// start of its default selection.
fn peer_fields<'n>(tx: &Tx<'_>, node: &'n Node) -> Fields<'n> {
    Fields::from([
        ("__typename", json_text(&node.kind)),
        ("display_label", json_text(&tx.display_label(node))),
        ("hfid", json_text(&tx.hfid(node))),
        ("id", json_text(&node.id)),
    ])
}
