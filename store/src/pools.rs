//! Resource pools: `CoreIPPrefixPool`, `CoreIPAddressPool` and `CoreNumberPool`, with
//! Infrahub's resource-manager semantics.
//!
//! - The next free sub-prefix (or address) of the requested size is searched across the
//!   pool's resources, highest `allocation_weight` first, then in the pool's order.
//! - Length, member type and the kind to create default to the request's `data`, then the
//!   pool's `default_*` attributes; the created node gets the `data` attributes too.
//! - An `identifier` reserves the result: asking again with it returns the same node (and a
//!   different length is an error). The reservation is kept on the allocated node itself
//!   ([`RESERVATION`]), so it is seen exactly where the node is seen (the branch it was
//!   allocated on, then main after a merge) and is released when the node is deleted.
//! - Allocations run inside a store write, which holds the graph lock and SQLite's write
//!   lock from computing to committing, so concurrent requests (threads or processes) are
//!   serialized and never get the same resource.
//!
//! This module only reads: it finds pools, parses requests and plans an allocation
//! ([`plan`]); the write engine (`engine::pool`) creates the allocated node and records the
//! reservation ([`reserve`]). So pools never call back into the engine.

use crate::engine::error::{EngineError, Result};
use crate::graph::{FreeKey, Tx};
use crate::ip::{self, IpWithPrefix};
use crate::ipam;
use crate::node::{Node, value_key};
use crate::schema::{AttributeKind, AttributeSchema, KindSchema, RelationshipSchema};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// Hidden attribute of an allocated node: `<pool id>/<identifier>`.
pub const RESERVATION: &str = "__reserved_by";

/// Which IP pool a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpPool {
    /// `CoreIPPrefixPool`: hands out prefixes.
    Prefix,
    /// `CoreIPAddressPool`: hands out addresses.
    Address,
}

impl IpPool {
    /// The pool kind.
    pub(crate) fn pool_kind(self) -> &'static str {
        match self {
            IpPool::Prefix => "CoreIPPrefixPool",
            IpPool::Address => "CoreIPAddressPool",
        }
    }
    /// The GraphQL input type of its allocation mutation.
    pub(crate) fn input_type(self) -> &'static str {
        match self {
            IpPool::Prefix => "IPPrefixPoolGetResourceInput",
            IpPool::Address => "IPAddressPoolGetResourceInput",
        }
    }
    fn generic(self) -> &'static str {
        match self {
            IpPool::Prefix => ipam::PREFIX_GENERIC,
            IpPool::Address => ipam::ADDRESS_GENERIC,
        }
    }
    fn value_attr(self) -> &'static str {
        match self {
            IpPool::Prefix => "prefix",
            IpPool::Address => "address",
        }
    }
    /// The request field naming the kind to create (`prefix_type` / `address_type`).
    pub(crate) fn type_field(self) -> &'static str {
        match self {
            IpPool::Prefix => "prefix_type",
            IpPool::Address => "address_type",
        }
    }
    fn default_type_attr(self) -> &'static str {
        match self {
            IpPool::Prefix => "default_prefix_type",
            IpPool::Address => "default_address_type",
        }
    }
}

/// What an allocation returned.
#[derive(Debug, Clone)]
pub(crate) struct Allocation {
    /// The allocated node.
    pub id: String,
    /// Its concrete kind.
    pub kind: String,
    /// The identifier it is reserved under.
    pub identifier: Option<String>,
}

/// One request, after defaults from the mutation input or a `from_pool`.
#[derive(Debug, Default)]
pub(crate) struct Request {
    identifier: Option<String>,
    prefix_length: Option<u8>,
    member_type: Option<String>,
    node_kind: Option<String>,
    data: Map<String, Value>,
}

/// What an allocation will do.
pub(crate) enum Plan {
    /// Return the node already reserved under the request's identifier.
    Reserved(Allocation),
    /// Create a node of `kind` from `input` (the next free resource and the request's
    /// `data`), then reserve it under `identifier` if there is one.
    Create {
        /// The kind to create.
        kind: Box<KindSchema>,
        /// Its input-form payload.
        input: Map<String, Value>,
        /// The pool, as `<Kind> '<name>'`, for error messages.
        label: String,
        /// The request's identifier.
        identifier: Option<String>,
    },
}

/// A pool's name (its id when it has none).
pub(crate) fn pool_name(pool: &Node) -> String {
    value_key(pool.attr("name")).unwrap_or_else(|| pool.id.to_string())
}

/// Find a pool by id, by HFID (`[name]`) or by name; it must be a `kind` (None: any pool).
pub(crate) fn find_pool(
    tx: &Tx<'_>,
    kind: Option<&str>,
    id: Option<&str>,
    hfid: Option<&Value>,
) -> Result<std::sync::Arc<Node>> {
    let wanted = kind.unwrap_or("CoreResourcePool");
    let name = match (id, hfid) {
        (Some(id), _) => {
            if let Some(n) = tx.get(id) {
                return if tx.schema.is_a(&n.kind, wanted) {
                    Ok(n)
                } else {
                    Err(EngineError::invalid(format!(
                        "{id} is a {}, not a {wanted}: it cannot hand out this resource",
                        n.kind
                    )))
                };
            }
            id.to_string()
        }
        (None, Some(h)) => match h.as_array().map(Vec::as_slice) {
            Some([one]) => value_key(one).unwrap_or_default(),
            _ => {
                return Err(EngineError::invalid(format!(
                    "{wanted}: hfid must be [name], got {h}"
                )));
            }
        },
        (None, None) => {
            return Err(EngineError::invalid(format!(
                "Node must have at least one identifier (ID or HFID) to query it ({wanted})"
            )));
        }
    };
    let found: Vec<String> = tx
        .schema
        .concrete_kinds(wanted)
        .iter()
        .flat_map(|k| tx.ids_by_attr(k, "name", &name))
        .collect();
    match found.first().and_then(|id| tx.get(id)) {
        Some(n) => Ok(n),
        None => Err(EngineError::not_found(name, wanted)),
    }
}

fn small_number(v: &Value, field: &str) -> Result<Option<u8>> {
    match v {
        Value::Null => Ok(None),
        _ => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|n| u8::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                EngineError::invalid(format!("{field}: {v} is not a valid prefix length"))
            }),
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.filter(|v| !v.is_null()).and_then(value_key)
}

/// The request of `Infrahub<IPPrefix|IPAddress>PoolGetResource(data: …)` (a `which` pool),
/// whose fields the caller has checked.
pub(crate) fn resource_request(which: IpPool, data: &Map<String, Value>) -> Result<Request> {
    let extra = match data.get("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(EngineError::invalid(format!(
                "data: expected an object, got {other}"
            )));
        }
    };
    Ok(Request {
        identifier: text(data.get("identifier")),
        prefix_length: small_number(
            data.get("prefix_length").unwrap_or(&Value::Null),
            "prefix_length",
        )?,
        member_type: text(data.get("member_type")),
        node_kind: text(data.get(which.type_field())),
        data: extra,
    })
}

/// The pool and request of `rel: {from_pool: {id | hfid, identifier?, data?,
/// prefix_length?}}` on relationship `r` of `owner`. Without an `identifier` the server's
/// default applies, `hfid=<kind>__<hfid> rel=<relationship>`, when the owner has an HFID
/// (otherwise each call allocates anew, as on the server); without a kind to create, the
/// relationship's peer when it is a node kind.
pub(crate) fn relationship_request(
    tx: &Tx<'_>,
    owner: &Node,
    r: &RelationshipSchema,
    spec: &Value,
) -> Result<(std::sync::Arc<Node>, IpPool, Request)> {
    let spec = spec.as_object().ok_or_else(|| {
        EngineError::invalid(format!(
            "{}: from_pool expects an object, got {spec}",
            r.name
        ))
    })?;
    let pool = find_pool(
        tx,
        None,
        spec.get("id").and_then(Value::as_str),
        spec.get("hfid"),
    )
    .map_err(|e| e.context(format!("{}: from_pool", r.name)))?;
    let which = if tx.schema.is_a(&pool.kind, "CoreIPPrefixPool") {
        IpPool::Prefix
    } else if tx.schema.is_a(&pool.kind, "CoreIPAddressPool") {
        IpPool::Address
    } else {
        return Err(EngineError::invalid(format!(
            "{}: from_pool: pool '{}' is a {}; a relationship takes its peer from a CoreIPPrefixPool or CoreIPAddressPool",
            r.name,
            pool_name(&pool),
            pool.kind
        )));
    };
    let identifier = text(spec.get("identifier")).or_else(|| {
        tx.hfid(owner)
            .map(|h| format!("hfid={}__{} rel={}", owner.kind, h.join("__"), r.name))
    });
    let mut node_kind = text(spec.get(which.type_field()));
    if node_kind.is_none()
        && text(Some(pool.attr(which.default_type_attr()))).is_none()
        && tx.schema.get(&r.peer).is_some_and(|k| !k.is_generic)
    {
        node_kind = Some(r.peer.clone());
    }
    let req = Request {
        identifier,
        prefix_length: small_number(
            spec.get("prefix_length").unwrap_or(&Value::Null),
            "prefix_length",
        )?,
        member_type: text(spec.get("member_type")),
        node_kind,
        data: spec
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    };
    Ok((pool, which, req))
}

/// The node reserved in `pool` under `identifier`, if this view sees it.
fn reserved(
    tx: &Tx<'_>,
    which: IpPool,
    pool: &str,
    identifier: &str,
) -> Option<std::sync::Arc<Node>> {
    let key = format!("{pool}/{identifier}");
    tx.schema
        .concrete_kinds(which.generic())
        .iter()
        .find_map(|k| tx.ids_by_attr(k, RESERVATION, &key).iter().next().cloned())
        .and_then(|id| tx.get(&id))
}

/// Plan an allocation from IP `pool` (a `which` pool): the node reserved under the
/// request's identifier, or the next free resource in a node of the kind the request (or
/// the pool's default) names.
pub(crate) fn plan(tx: &Tx<'_>, which: IpPool, pool: &Node, mut req: Request) -> Result<Plan> {
    let label = format!("{} '{}'", pool.kind, pool_name(pool));
    let data_len = req.data.remove("prefixlen");
    let data_type = req.data.remove(which.type_field());
    let length = match req.prefix_length {
        Some(l) => Some(l),
        None => match data_len {
            Some(v) => small_number(&v, "data.prefixlen")?,
            None => small_number(pool.attr("default_prefix_length"), "default_prefix_length")?,
        },
    };
    if let Some(ident) = &req.identifier
        && let Some(n) = reserved(tx, which, &pool.id, ident)
    {
        let have = n
            .attr(which.value_attr())
            .as_str()
            .and_then(|s| IpWithPrefix::parse(s).ok());
        if let (Some(want), Some(have)) = (length, have)
            && have.prefixlen != want
        {
            return Err(EngineError::Conflict(format!(
                "{label}: identifier '{ident}' is reserved for {}, a /{}; it cannot be asked for again with prefix length {want}",
                value_key(n.attr(which.value_attr())).unwrap_or_default(),
                have.prefixlen
            )));
        }
        return Ok(Plan::Reserved(Allocation {
            id: n.id.to_string(),
            kind: n.kind.clone(),
            identifier: req.identifier,
        }));
    }
    let kind_name = req
        .node_kind
        .clone()
        .or_else(|| data_type.as_ref().and_then(|v| text(Some(v))))
        .or_else(|| text(Some(pool.attr(which.default_type_attr()))))
        .ok_or_else(|| {
            EngineError::invalid(format!(
                "{label}: no {} given and the pool has no {}",
                which.type_field(),
                which.default_type_attr()
            ))
        })?;
    let k = match tx.schema.get(&kind_name) {
        Some(k) if !k.is_generic && tx.schema.is_a(&k.kind, which.generic()) => k.clone(),
        Some(_) => {
            return Err(EngineError::invalid(format!(
                "{label}: {} '{kind_name}' is not a node kind that inherits {}",
                which.type_field(),
                which.generic()
            )));
        }
        None => {
            return Err(EngineError::invalid(format!(
                "{label}: unknown {} '{kind_name}'",
                which.type_field()
            )));
        }
    };
    let ns = pool
        .peers("ip_namespace")
        .first()
        .map(String::from)
        .or_else(|| ipam::default_namespace(tx));
    let mut resources: Vec<(i64, usize, IpWithPrefix)> = Vec::new();
    for (i, rid) in pool.peers("resources").iter().enumerate() {
        let Some(r) = tx.get(rid) else { continue };
        let Some(p) = r
            .attr("prefix")
            .as_str()
            .and_then(|s| IpWithPrefix::parse(s).ok())
        else {
            continue;
        };
        let weight = r.attr("allocation_weight").as_i64().unwrap_or(0);
        resources.push((-weight, i, p));
    }
    resources.sort_by_key(|(w, i, _)| (*w, *i));
    let value = match which {
        IpPool::Prefix => {
            let len = length.ok_or_else(|| {
                EngineError::invalid(format!(
                    "{label}: no prefix_length given and the pool has no default_prefix_length"
                ))
            })?;
            next_prefix(tx, ns.as_deref(), &resources, len)
        }
        IpPool::Address => next_address(tx, ns.as_deref(), &resources, length),
    };
    let Some(value) = value else {
        let what = match (which, length) {
            (IpPool::Prefix, Some(l)) => format!("/{l}"),
            _ => "address".to_string(),
        };
        let within: Vec<String> = resources
            .iter()
            .map(|(_, _, p)| format!("{}/{}", p.network(), p.prefixlen))
            .collect();
        return Err(EngineError::PoolExhausted {
            pool: label,
            detail: format!(
                "no free {what} left in {}",
                if within.is_empty() {
                    "its resources (it has none)".to_string()
                } else {
                    within.join(", ")
                }
            ),
        });
    };
    let mut input = node_input(&k, &req.data).map_err(|e| e.context(&label))?;
    input.insert(which.value_attr().into(), json!({ "value": value }));
    if k.relationship("ip_namespace").is_some()
        && !input.contains_key("ip_namespace")
        && let Some(ns) = &ns
    {
        input.insert("ip_namespace".into(), json!({ "id": ns }));
    }
    if which == IpPool::Prefix
        && k.attribute("member_type").is_some()
        && !input.contains_key("member_type")
    {
        let member = req
            .member_type
            .clone()
            .or_else(|| text(Some(pool.attr("default_member_type"))));
        if let Some(m) = member {
            input.insert("member_type".into(), json!({ "value": m }));
        }
    }
    Ok(Plan::Create {
        kind: Box::new(k),
        input,
        label,
        identifier: req.identifier,
    })
}

/// Record on the allocated node `id` that it is reserved in pool `pool_id` under
/// `identifier` (see [`RESERVATION`]).
pub(crate) fn reserve(tx: &mut Tx<'_>, id: &str, pool_id: &str, identifier: &str) {
    if let Some(n) = tx.get(id) {
        let mut n = (*n).clone();
        n.attrs.insert(
            RESERVATION.into(),
            Value::String(format!("{pool_id}/{identifier}")),
        );
        tx.put(n);
    }
}

/// `data` in Infrahub's input form: plain attribute values become `{value}`, plain peer ids
/// become `{id}`; input-form values pass through.
pub(crate) fn node_input(k: &KindSchema, data: &Map<String, Value>) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (key, v) in data {
        let input = if k.attribute(key).is_some() {
            match v {
                Value::Object(o) if o.contains_key("value") || o.contains_key("from_pool") => {
                    v.clone()
                }
                _ => json!({ "value": v }),
            }
        } else if k.relationship(key).is_some() {
            let one = |x: &Value| match x {
                Value::String(s) => json!({ "id": s }),
                other => other.clone(),
            };
            match v {
                Value::Array(a) => Value::Array(a.iter().map(one).collect()),
                other => one(other),
            }
        } else {
            return Err(EngineError::invalid(format!(
                "data: '{key}' is not an attribute or relationship of {}",
                k.kind
            )));
        };
        out.insert(key.clone(), input);
    }
    Ok(out)
}

/// The first free `/len` inside the resources, in order.
fn next_prefix(
    tx: &Tx<'_>,
    ns: Option<&str>,
    resources: &[(i64, usize, IpWithPrefix)],
    len: u8,
) -> Option<String> {
    for (_, _, r) in resources {
        if len < r.prefixlen || len > r.bits() {
            continue;
        }
        let size = 1u128.checked_shl(u32::from(r.bits() - len))?;
        // Every block below `from` is used (an earlier search found it so).
        let key = free_key(tx, ns, r, false, size);
        let from = tx.free_from(&key).unwrap_or(r.first());
        // Prefixes nest or are disjoint: what overlaps the resource without holding it
        // starts inside it, and what overlaps the blocks from `from` on starts there.
        let used: Vec<(u128, u128)> = ipam::within_from(tx, ns, r, from, false)
            .iter()
            .filter(|e| !e.value.contains(r))
            .map(|e| (e.value.first(), e.value.last()))
            .collect();
        if let Some(start) = first_free(from, r.last(), size, used) {
            tx.note_free(key, start);
            return Some(format!("{}/{len}", ip::from_u128(start, r.version() == 4)));
        }
    }
    None
}

/// The free-space search of resource `r` in namespace `ns` on the transaction's branch.
fn free_key(tx: &Tx<'_>, ns: Option<&str>, r: &IpWithPrefix, is_addr: bool, size: u128) -> FreeKey {
    FreeKey {
        branch: tx.branch.clone(),
        ns: ns.unwrap_or_default().to_owned(),
        family: r.version(),
        is_addr,
        first: r.first(),
        last: r.last(),
        size,
    }
}

/// The lowest aligned block of `size` addresses in `[start, end]` that overlaps none of `used`.
fn first_free(start: u128, end: u128, size: u128, mut used: Vec<(u128, u128)>) -> Option<u128> {
    used.sort_unstable();
    let mut cand = start;
    for (s, e) in used {
        if e < cand {
            continue;
        }
        let last = cand.checked_add(size - 1)?;
        if last < s {
            break;
        }
        // Overlap: move past this range, to the next aligned block.
        let next = e.checked_add(1)?;
        cand = next.checked_add(size - 1)? / size * size;
    }
    let last = cand.checked_add(size - 1)?;
    (last <= end).then_some(cand)
}

/// The first free address inside the resources; the network and broadcast addresses are
/// skipped unless the resource `is_pool` (or is a /31, /32, /127, /128).
fn next_address(
    tx: &Tx<'_>,
    ns: Option<&str>,
    resources: &[(i64, usize, IpWithPrefix)],
    length: Option<u8>,
) -> Option<String> {
    for (_, _, r) in resources {
        let len = length.unwrap_or(r.prefixlen);
        if len > r.bits() {
            continue;
        }
        let is_pool = tx
            .schema
            .concrete_kinds(ipam::PREFIX_GENERIC)
            .iter()
            .flat_map(|k| tx.ids_by_attr(k, "prefix", &format!("{}/{}", r.network(), r.prefixlen)))
            .filter_map(|id| tx.get(&id))
            .any(|n| n.attr("is_pool") == &Value::Bool(true));
        let (mut first, mut last) = (r.first(), r.last());
        if !is_pool {
            match r.version() {
                4 if r.prefixlen < 31 => {
                    first += 1;
                    last -= 1;
                }
                6 if r.prefixlen < 127 => first += 1,
                _ => {}
            }
        }
        let key = free_key(tx, ns, r, true, 1);
        let first = tx.free_from(&key).map_or(first, |from| from.max(first));
        let used: BTreeSet<u128> = ipam::within_from(tx, ns, r, first, true)
            .iter()
            .map(|e| ip::to_u128(e.value.addr))
            .collect();
        let mut cand = first;
        for u in used.range(first..) {
            if *u == cand {
                cand = cand.checked_add(1)?;
            } else {
                break;
            }
        }
        if cand <= last {
            tx.note_free(key, cand);
            return Some(format!("{}/{len}", ip::from_u128(cand, r.version() == 4)));
        }
    }
    None
}

/// `attr: {from_pool: {id}}` on a Number attribute: the next free number of a
/// `CoreNumberPool`. The identifier is always the node: a node that already holds a number
/// from the pool's range keeps it.
pub(crate) fn number_from_pool(
    tx: &Tx<'_>,
    k: &KindSchema,
    a: &AttributeSchema,
    node: &Node,
    spec: &Value,
) -> Result<Value> {
    if !matches!(a.kind, AttributeKind::Number | AttributeKind::NumberPool) {
        return Err(EngineError::invalid(format!(
            "{}: from_pool on a {:?} attribute is not supported; attributes take values from a CoreNumberPool (Number attributes), IP pools are used through relationships",
            a.name, a.kind
        )));
    }
    let spec = spec.as_object().ok_or_else(|| {
        EngineError::invalid(format!(
            "{}: from_pool expects an object, got {spec}",
            a.name
        ))
    })?;
    let pool = find_pool(
        tx,
        Some("CoreNumberPool"),
        spec.get("id").and_then(Value::as_str),
        spec.get("hfid"),
    )
    .map_err(|e| e.context(format!("{}: from_pool", a.name)))?;
    let label = format!("{} '{}'", pool.kind, pool_name(&pool));
    let pool_node = text(Some(pool.attr("node"))).unwrap_or_default();
    let pool_attr = text(Some(pool.attr("node_attribute"))).unwrap_or_default();
    if !(tx.schema.is_a(&k.kind, &pool_node)) || pool_attr != a.name {
        return Err(EngineError::invalid(format!(
            "{}: {label} serves {pool_node}.{pool_attr}, not {}.{}",
            a.name, k.kind, a.name
        )));
    }
    let (start, end) = (
        pool.attr("start_range").as_i64().unwrap_or(0),
        pool.attr("end_range").as_i64().unwrap_or(-1),
    );
    if let Some(n) = node
        .attr(&a.name)
        .as_i64()
        .filter(|n| (start..=end).contains(n))
    {
        return Ok(Value::from(n));
    }
    let mut used = BTreeSet::new();
    for kind in tx.schema.concrete_kinds(&pool_node) {
        for id in tx.ids_of_kind(kind).iter() {
            if id == &node.id {
                continue;
            }
            if let Some(v) = tx.get(id).and_then(|n| n.attr(&a.name).as_i64()) {
                used.insert(v);
            }
        }
    }
    (start..=end)
        .find(|n| !used.contains(n))
        .map(Value::from)
        .ok_or_else(|| EngineError::PoolExhausted {
            pool: label,
            detail: format!("every number from {start} to {end} is taken"),
        })
}
