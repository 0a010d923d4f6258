//! Profiles: a node's `profiles` supply the attribute values the node does not set itself.
//!
//! Values are materialised on the node (so filters, indexes and HFIDs see them) and the
//! attributes they fill are remembered in a hidden attribute ([`FROM_PROFILE`]), which is
//! what `is_from_profile` answers from. A value the node sets itself always wins; a value
//! equal to the schema default counts as not set, as Infrahub's `is_default` does. Among
//! several profiles the lowest `profile_priority` wins, then the oldest profile. Whenever a
//! node's own values or profiles change, or a profile changes, the affected nodes are
//! recomputed in the same transaction.

use crate::graph::Tx;
use crate::node::Node;
use crate::schema::KindSchema;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Hidden attribute: the names of the attributes whose value came from a profile.
pub const FROM_PROFILE: &str = "__from_profile";

/// Whether attribute `name` of `node` holds a profile's value.
pub fn is_from_profile(node: &Node, name: &str) -> bool {
    node.attr(FROM_PROFILE)
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(name)))
}

/// Recompute the profile-supplied values of node `id`; `explicit` are the attributes the
/// current write sets itself.
pub(crate) fn apply(tx: &mut Tx<'_>, id: &str, explicit: &BTreeSet<String>) {
    let Some(node) = tx.get(id) else { return };
    let Some(k) = tx.schema.get(&node.kind) else {
        return;
    };
    if !uses_profiles(k, &node, node.peers("profiles")) {
        return;
    }
    let profiles = ranked(tx, node.peers("profiles"));
    let mut out = (*node).clone();
    recompute(k, &mut out, &profiles, explicit);
    if out != *node {
        tx.put(out);
    }
}

/// Gives `node`, about to be created with the profiles `profile_ids`, the values they
/// supply: what [`apply`] would recompute once the node is written and linked to them,
/// without writing it twice (a device made from a template creates every interface with
/// the template's profiles).
pub(crate) fn fill_new(
    tx: &Tx<'_>,
    k: &KindSchema,
    node: &mut Node,
    profile_ids: &[String],
    explicit: &BTreeSet<String>,
) {
    if uses_profiles(k, node, profile_ids) {
        recompute(k, node, &ranked(tx, profile_ids), explicit);
    }
}

/// Whether `node` (of kind `k`), with the profiles `profile_ids`, has profile values to
/// recompute: no profile and no value from one is the common case, with nothing to do.
fn uses_profiles<S: AsRef<str>>(k: &KindSchema, node: &Node, profile_ids: &[S]) -> bool {
    k.relationship("profiles").is_some()
        && (!profile_ids.is_empty() || !node.attr(FROM_PROFILE).is_null())
}

/// The profiles `ids` read for their values alone (a profile is a hub, linked to every
/// node using it), highest precedence first: lowest `profile_priority`, then oldest.
fn ranked<S: AsRef<str>>(tx: &Tx<'_>, ids: &[S]) -> Vec<Arc<Node>> {
    let mut profiles: Vec<Arc<Node>> = ids
        .iter()
        .filter_map(|p| tx.attributes_of(p.as_ref()))
        .collect();
    profiles.sort_by_key(|p| {
        (
            p.attr("profile_priority").as_i64().unwrap_or(1000),
            p.id.clone(),
        )
    });
    profiles
}

/// `node`'s attributes recomputed from `profiles` (ranked): every attribute the node does
/// not hold a value of its own for (and `explicit` does not set) takes the first profile
/// value, or goes back to its default when it held a profile's value no profile gives any
/// more; [`FROM_PROFILE`] names those from a profile.
fn recompute(k: &KindSchema, node: &mut Node, profiles: &[Arc<Node>], explicit: &BTreeSet<String>) {
    let mut marked = BTreeSet::new();
    for a in k.attributes.iter().filter(|a| !a.read_only) {
        let was_profile = is_from_profile(node, &a.name);
        if explicit.contains(&a.name) {
            continue;
        }
        let current = node.attr(&a.name);
        let own = !was_profile && !current.is_null() && a.default_value.as_ref() != Some(current);
        if own {
            continue;
        }
        let from = profiles
            .iter()
            .map(|p| p.attr(&a.name))
            .find(|v| !v.is_null())
            .cloned();
        match from {
            Some(v) => {
                node.attrs.insert(a.name.clone(), v);
                marked.insert(a.name.clone());
            }
            None if was_profile => match &a.default_value {
                Some(d) => {
                    node.attrs.insert(a.name.clone(), d.clone());
                }
                None => {
                    node.attrs.remove(&a.name);
                }
            },
            None => {}
        }
    }
    if marked.is_empty() {
        node.attrs.remove(FROM_PROFILE);
    } else {
        node.attrs.insert(
            FROM_PROFILE.into(),
            Value::Array(marked.into_iter().map(Value::String).collect()),
        );
    }
}

/// After profile `id` changed: recompute every node that uses it.
pub(crate) fn propagate(tx: &mut Tx<'_>, id: &str) {
    let Some(p) = tx.get(id) else { return };
    if !tx.schema.is_a(&p.kind, "CoreProfile") {
        return;
    }
    for n in p.peers("related_nodes").to_vec() {
        apply(tx, &n, &BTreeSet::new());
    }
}
