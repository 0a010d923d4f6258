//! IPAM: IP namespaces, and which prefix holds which prefix or address.
//!
//! Prefixes (`BuiltinIPPrefix` kinds) and addresses (`BuiltinIPAddress` kinds) are stored with
//! their canonical value (`10.0.32.0/19`, `10.0.32.1/32`, see [`crate::ip`]) and an
//! `ip_namespace`; one left unset belongs to the `default` namespace, which always exists.
//! Containment is not stored: `parent`, `children`, `ip_addresses` and `ip_prefix` are
//! computed from the values whenever they are read, so they can never go stale.

use crate::graph::Tx;
use crate::ip::IpWithPrefix;
use crate::node::Node;
use serde_json::Value;
use std::sync::Arc;

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
        .cloned()
        .or_else(|| default_namespace(tx))
}

fn value_of(node: &Node, attr: &str) -> Option<IpWithPrefix> {
    node.attr(attr)
        .as_str()
        .and_then(|s| IpWithPrefix::parse(s).ok())
}

/// Every prefix of namespace `ns` with its parsed value.
pub(crate) fn prefixes_in(tx: &Tx<'_>, ns: Option<&str>) -> Vec<(IpWithPrefix, Arc<Node>)> {
    nodes_in(tx, PREFIX_GENERIC, "prefix", ns)
}

/// Every address of namespace `ns` with its parsed value.
pub(crate) fn addresses_in(tx: &Tx<'_>, ns: Option<&str>) -> Vec<(IpWithPrefix, Arc<Node>)> {
    nodes_in(tx, ADDRESS_GENERIC, "address", ns)
}

fn nodes_in(
    tx: &Tx<'_>,
    generic: &str,
    attr: &str,
    ns: Option<&str>,
) -> Vec<(IpWithPrefix, Arc<Node>)> {
    let default = default_namespace(tx);
    let mut out = Vec::new();
    for kind in tx.schema.concrete_kinds(generic) {
        for id in tx.ids_of_kind(&kind).iter() {
            let Some(n) = tx.get(id) else { continue };
            let node_ns = n.peers("ip_namespace").first().cloned().or(default.clone());
            if node_ns.as_deref() != ns {
                continue;
            }
            if let Some(v) = value_of(&n, attr) {
                out.push((v, n));
            }
        }
    }
    out
}

/// Whether `kind` is a prefix or address kind whose relationship `rel` is computed here.
pub(crate) fn is_computed(tx: &Tx<'_>, kind: &str, rel: &str) -> bool {
    (tx.schema.is_a(kind, PREFIX_GENERIC) && matches!(rel, "parent" | "children" | "ip_addresses"))
        || (tx.schema.is_a(kind, ADDRESS_GENERIC) && rel == "ip_prefix")
}

/// The most specific prefix of `prefixes` that holds `inner` (excluding `skip`).
fn closest<'a>(
    prefixes: &'a [(IpWithPrefix, Arc<Node>)],
    skip: &str,
    holds: impl Fn(&IpWithPrefix) -> bool,
) -> Option<&'a Arc<Node>> {
    prefixes
        .iter()
        .filter(|(p, n)| n.id != skip && holds(p))
        .max_by_key(|(p, n)| (p.prefixlen, std::cmp::Reverse(n.id.clone())))
        .map(|(_, n)| n)
}

/// The peers of a computed IPAM relationship, most specific containment first.
pub(crate) fn computed_peers(tx: &Tx<'_>, node: &Node, rel: &str) -> Vec<String> {
    let ns = namespace_of(tx, node);
    let prefixes = prefixes_in(tx, ns.as_deref());
    match rel {
        "parent" => {
            let Some(me) = value_of(node, "prefix") else {
                return Vec::new();
            };
            closest(&prefixes, &node.id, |p| {
                p.contains(&me) && p.prefixlen < me.prefixlen
            })
            .map(|n| vec![n.id.clone()])
            .unwrap_or_default()
        }
        "ip_prefix" => {
            let Some(me) = value_of(node, "address") else {
                return Vec::new();
            };
            closest(&prefixes, &node.id, |p| p.contains_addr(&me))
                .map(|n| vec![n.id.clone()])
                .unwrap_or_default()
        }
        "children" => {
            let Some(me) = value_of(node, "prefix") else {
                return Vec::new();
            };
            let mut out: Vec<(IpWithPrefix, String)> = Vec::new();
            for (p, n) in &prefixes {
                if n.id == node.id || !(me.contains(p) && p.prefixlen > me.prefixlen) {
                    continue;
                }
                let parent = closest(&prefixes, &n.id, |q| {
                    q.contains(p) && q.prefixlen < p.prefixlen
                });
                if parent.is_some_and(|x| x.id == node.id) {
                    out.push((*p, n.id.clone()));
                }
            }
            out.sort_by_key(|(p, _)| p.first());
            out.into_iter().map(|(_, id)| id).collect()
        }
        "ip_addresses" => {
            let Some(me) = value_of(node, "prefix") else {
                return Vec::new();
            };
            let mut out: Vec<(u128, String)> = Vec::new();
            for (a, n) in addresses_in(tx, ns.as_deref()) {
                if !me.contains_addr(&a) {
                    continue;
                }
                let holder = closest(&prefixes, "", |p| p.contains_addr(&a));
                if holder.is_some_and(|x| x.id == node.id) {
                    out.push((crate::ip::to_u128(a.addr), n.id.clone()));
                }
            }
            out.sort();
            out.into_iter().map(|(_, id)| id).collect()
        }
        _ => Vec::new(),
    }
}
