//! Branches: `main` plus branches created from it. A branch sees main plus its own changes;
//! its writes stay on it until merged; agnostic kinds are shared; local kinds never merge.
//! Merging is a three-way merge per field against the main version each branch row was
//! copied from: a field changed on both sides to different values is a conflict.

use crate::graph::{MAIN, State, Tx, with_fields};
use crate::node::Node;
use crate::persistence::RowWrite;
use crate::schema::{BranchSupport, Cardinality};
use serde::Serialize;
use std::collections::BTreeSet;

/// A branch as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BranchInfo {
    /// Branch name.
    pub name: String,
    /// Whether it is the default branch (`main`).
    pub is_default: bool,
    /// Creation time (RFC 3339, UTC).
    pub created_at: String,
    /// Number of nodes the branch changed and has not merged.
    pub changes: usize,
}

/// Check a branch name (Infrahub-like: lowercase start, then letters, digits, `-_./`).
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if !first_ok || !rest_ok || name.len() > 250 || name.contains("..") || name.ends_with('/') {
        return Err("use letters, digits and - _ . / (starting with a letter or digit)".into());
    }
    Ok(())
}

/// Three-way merge of one node. `Err` lists the conflicting fields.
fn merge_node(
    base: &Node,
    branch: &Node,
    main: &Node,
    schema: &crate::schema::Schema,
) -> Result<Node, Vec<String>> {
    let mut out = main.clone();
    let mut conflicts = Vec::new();
    let attrs: BTreeSet<&String> = base
        .attrs
        .keys()
        .chain(branch.attrs.keys())
        .chain(main.attrs.keys())
        .collect();
    for a in attrs {
        let (b0, b, m) = (base.attr(a), branch.attr(a), main.attr(a));
        if b == b0 || b == m {
            continue;
        }
        if m == b0 {
            if b.is_null() {
                out.attrs.remove(a);
            } else {
                out.attrs.insert(a.clone(), b.clone());
            }
        } else {
            conflicts.push(format!(
                "{} {} attribute '{a}': main={m} branch={b}",
                main.kind, main.id
            ));
        }
    }
    let k = schema.get(&main.kind);
    let rels: BTreeSet<&String> = base
        .rels
        .keys()
        .chain(branch.rels.keys())
        .chain(main.rels.keys())
        .collect();
    for r in rels {
        let (b0, b, m) = (base.peers(r), branch.peers(r), main.peers(r));
        if b == b0 || b == m {
            continue;
        }
        let one = k
            .and_then(|k| k.relationship(r))
            .is_some_and(|rs| rs.cardinality == Cardinality::One);
        if one {
            if m == b0 {
                out.rels.insert(r.clone(), b.to_vec());
            } else {
                conflicts.push(format!(
                    "{} {} relationship '{r}': main={m:?} branch={b:?}",
                    main.kind, main.id
                ));
            }
            continue;
        }
        let mut merged: Vec<String> = m
            .iter()
            .filter(|p| !b0.contains(p) || b.contains(p))
            .cloned()
            .collect();
        for p in b.iter().filter(|p| !b0.contains(p)) {
            if !merged.contains(p) {
                merged.push(p.clone());
            }
        }
        if merged.is_empty() {
            out.rels.remove(r);
        } else {
            out.rels.insert(r.clone(), merged);
        }
    }
    if conflicts.is_empty() {
        Ok(out)
    } else {
        Err(conflicts)
    }
}

/// Compute a merge of `name` into main: the main writes (with events) plus the removal of
/// the branch rows, or the conflicts.
pub(crate) fn plan_merge(
    state: &State,
    name: &str,
) -> Result<(Vec<RowWrite>, Vec<crate::events::Event>), Vec<String>> {
    let Some(b) = state.branches.get(name) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut tx = Tx::new(state, MAIN);
    tx.origin = "merge";
    let mut conflicts = Vec::new();
    let mut ids: Vec<&String> = b.overlay.keys().collect();
    ids.sort();
    let mut removals = Vec::new();
    for id in ids {
        let ov = &b.overlay[id];
        let support = state
            .schema
            .get(&ov.kind)
            .map(|k| k.branch)
            .unwrap_or(BranchSupport::Aware);
        if support == BranchSupport::Local {
            continue;
        }
        removals.push(RowWrite::Remove {
            branch: name.to_string(),
            id: id.clone(),
        });
        let main_now = state.main.get(id);
        match (&ov.base, &ov.node, main_now) {
            (None, Some(n), _) => tx.put((**n).clone()),
            (None, None, _) | (Some(_), None, None) => {}
            (Some(base), None, Some(m)) => {
                if **m != **base {
                    conflicts.push(format!(
                        "{} {}: deleted on the branch, changed on main",
                        m.kind, id
                    ));
                } else {
                    tx.delete(id);
                }
            }
            (Some(_), Some(n), None) => conflicts.push(format!(
                "{} {}: changed on the branch, deleted on main",
                n.kind, id
            )),
            (Some(base), Some(n), Some(m)) if support == BranchSupport::Agnostic => {
                // A shared node: only its branch-aware fields are the branch's to merge.
                let aware = state
                    .schema
                    .get(&ov.kind)
                    .map(|k| k.branch_aware_fields())
                    .unwrap_or_default();
                let (base, n) = (with_fields(m, base, &aware), with_fields(m, n, &aware));
                match merge_node(&base, &n, m, &state.schema) {
                    Ok(merged) => tx.put(merged),
                    Err(mut c) => conflicts.append(&mut c),
                }
            }
            (Some(base), Some(n), Some(m)) => match merge_node(base, n, m, &state.schema) {
                Ok(merged) => tx.put(merged),
                Err(mut c) => conflicts.append(&mut c),
            },
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    let (mut rows, events) = tx.finish();
    rows.extend(removals);
    Ok((rows, events))
}
