//! IPAM: IP namespaces, and which prefix holds which prefix or address.
//!
//! Prefixes (`BuiltinIPPrefix` kinds) and addresses (`BuiltinIPAddress` kinds) are stored with
//! their canonical value (`10.0.32.0/19`, `10.0.32.1/32`, see [`crate::ip`]) and an
//! `ip_namespace`; one left unset belongs to the `default` namespace, which always exists.
//! Containment is not stored: `parent`, `children`, `ip_addresses` and `ip_prefix` are
//! computed from the values whenever they are read, so they can never go stale; the IPAM
//! index (`graph::ip_index`) answers them with range scans and point probes.

use crate::graph::{IpEntry, Tx};
use crate::ip::{IpWithPrefix, to_u128};
use crate::node::Node;
use serde_json::Value;

/// The generic every prefix kind inherits.
pub const PREFIX_GENERIC: &str = "BuiltinIPPrefix";
/// The generic every address kind inherits.
pub const ADDRESS_GENERIC: &str = "BuiltinIPAddress";
/// The namespace kind the store creates `default` of.
pub const NAMESPACE_KIND: &str = "IpamNamespace";
/// The name of the namespace that always exists.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The `default` namespace's id, when it exists on this view.
pub(crate) fn default_namespace(tx: &Tx<'_>) -> Option<String> {
    tx.ids_by_attr(NAMESPACE_KIND, "name", DEFAULT_NAMESPACE)
        .iter()
        .next()
        .cloned()
}

/// Create the `default` namespace if it is missing; whether it was created.
pub(crate) fn ensure_default_namespace(tx: &mut Tx<'_>) -> bool {
    if tx.schema.get(NAMESPACE_KIND).is_none() || default_namespace(tx).is_some() {
        return false;
    }
    let mut n = Node::new(NAMESPACE_KIND);
    n.attrs
        .insert("name".into(), Value::String(DEFAULT_NAMESPACE.into()));
    tx.put(n);
    true
}

/// The namespace a prefix or address is in (unset = `default`).
pub(crate) fn namespace_of(tx: &Tx<'_>, node: &Node) -> Option<String> {
    node.peers("ip_namespace")
        .first()
        .map(String::from)
        .or_else(|| default_namespace(tx))
}

fn value_of(node: &Node, attr: &str) -> Option<IpWithPrefix> {
    node.attr(attr)
        .as_str()
        .and_then(|s| IpWithPrefix::parse(s).ok())
}

/// Whether an indexed entry is in namespace `ns` (an unset namespace is `default`).
fn in_namespace(e: &IpEntry, ns: Option<&str>, default: Option<&str>) -> bool {
    let own = if e.ns.is_empty() {
        default
    } else {
        Some(e.ns.as_str())
    };
    own == ns
}

/// The prefixes (or addresses) of namespace `ns` that start inside `r`, ordered by first
/// address then prefix length: one range scan of the IPAM index.
fn within(tx: &Tx<'_>, ns: Option<&str>, r: &IpWithPrefix, addresses: bool) -> Vec<IpEntry> {
    let default = default_namespace(tx);
    tx.ip_range(r.version(), addresses, r.first(), r.last())
        .into_iter()
        .filter(|e| in_namespace(e, ns, default.as_deref()))
        .collect()
}

/// The prefixes (or addresses) of namespace `ns` that start inside `r` at or after `from`.
pub(crate) fn within_from(
    tx: &Tx<'_>,
    ns: Option<&str>,
    r: &IpWithPrefix,
    from: u128,
    addresses: bool,
) -> Vec<IpEntry> {
    let default = default_namespace(tx);
    tx.ip_range(r.version(), addresses, from.max(r.first()), r.last())
        .into_iter()
        .filter(|e| in_namespace(e, ns, default.as_deref()))
        .collect()
}

/// The prefixes of namespace `ns` that start inside `r` (`r` itself included).
pub(crate) fn prefixes_within(tx: &Tx<'_>, ns: Option<&str>, r: &IpWithPrefix) -> Vec<IpEntry> {
    within(tx, ns, r, false)
}

/// The addresses of namespace `ns` inside `r`.
pub(crate) fn addresses_within(tx: &Tx<'_>, ns: Option<&str>, r: &IpWithPrefix) -> Vec<IpEntry> {
    within(tx, ns, r, true)
}

/// Whether `kind` is a prefix or address kind whose relationship `rel` is computed here.
pub(crate) fn is_computed(tx: &Tx<'_>, kind: &str, rel: &str) -> bool {
    // The name first: this is asked for every relationship a read walks, and names
    // are cheaper to compare than the schema's inheritance.
    (matches!(rel, "parent" | "children" | "ip_addresses") && tx.schema.is_a(kind, PREFIX_GENERIC))
        || (rel == "ip_prefix" && tx.schema.is_a(kind, ADDRESS_GENERIC))
}

/// The most specific prefix of namespace `ns` (other than `skip`) holding `addr` with a
/// prefix length of at most `max_len`; among equal prefixes the oldest. A point probe of the
/// index per candidate length, longest first.
fn closest(
    tx: &Tx<'_>,
    ns: Option<&str>,
    addr: &IpWithPrefix,
    max_len: u8,
    skip: &str,
) -> Option<String> {
    let default = default_namespace(tx);
    for len in (0..=max_len).rev() {
        let net = IpWithPrefix {
            addr: addr.addr,
            prefixlen: len,
        }
        .first();
        let best = tx
            .ip_range(addr.version(), false, net, net)
            .into_iter()
            .filter(|e| e.value.prefixlen == len && e.id != skip)
            .filter(|e| in_namespace(e, ns, default.as_deref()))
            .map(|e| e.id)
            .min();
        if best.is_some() {
            return best;
        }
    }
    None
}

/// The prefixes directly inside `me` (no other prefix between), in address order; `None`
/// when an older prefix with the same value as `me` holds them instead.
fn direct_children(
    tx: &Tx<'_>,
    ns: Option<&str>,
    me: &IpWithPrefix,
    id: &str,
) -> Option<Vec<IpEntry>> {
    let inside = prefixes_within(tx, ns, me);
    if inside
        .iter()
        .any(|e| e.value.prefixlen == me.prefixlen && e.id.as_str() < id)
    {
        return None;
    }
    let mut open: Vec<IpWithPrefix> = Vec::new();
    let mut out = Vec::new();
    for e in inside
        .into_iter()
        .filter(|e| e.value.prefixlen > me.prefixlen)
    {
        while open.last().is_some_and(|o| !o.contains(&e.value)) {
            open.pop();
        }
        if !open.iter().any(|o| o.prefixlen < e.value.prefixlen) {
            out.push(e.clone());
        }
        open.push(e.value);
    }
    Some(out)
}

/// The peers of a computed IPAM relationship, most specific containment first.
pub(crate) fn computed_peers(tx: &Tx<'_>, node: &Node, rel: &str) -> Vec<String> {
    let ns = namespace_of(tx, node);
    let ns = ns.as_deref();
    match rel {
        "parent" => {
            let Some(me) = value_of(node, "prefix") else {
                return Vec::new();
            };
            match me.prefixlen.checked_sub(1) {
                Some(max) => closest(tx, ns, &me, max, &node.id).into_iter().collect(),
                None => Vec::new(),
            }
        }
        "ip_prefix" => {
            let Some(me) = value_of(node, "address") else {
                return Vec::new();
            };
            closest(tx, ns, &me, me.bits(), &node.id)
                .into_iter()
                .collect()
        }
        "children" => {
            let Some(me) = value_of(node, "prefix") else {
                return Vec::new();
            };
            direct_children(tx, ns, &me, &node.id)
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.id)
                .collect()
        }
        "ip_addresses" => {
            let Some(me) = value_of(node, "prefix") else {
                return Vec::new();
            };
            let Some(children) = direct_children(tx, ns, &me, &node.id) else {
                return Vec::new();
            };
            let mut out: Vec<(u128, String)> = addresses_within(tx, ns, &me)
                .into_iter()
                .filter(|a| {
                    // An address inside a more specific prefix is that prefix's.
                    let at = children.partition_point(|c| c.value.first() <= to_u128(a.value.addr));
                    !at.checked_sub(1)
                        .is_some_and(|i| children[i].value.contains_addr(&a.value))
                })
                .map(|a| (to_u128(a.value.addr), a.id))
                .collect();
            out.sort();
            out.into_iter().map(|(_, id)| id).collect()
        }
        _ => Vec::new(),
    }
}
