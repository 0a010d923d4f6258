//! Branches: `main` plus branches created from it. A branch sees main plus its own changes,
//! field by field and edge by edge (main's later changes to what it did not change show
//! through); its writes stay on it until merged; agnostic kinds are shared; local kinds never
//! merge. Merging is three-way per attribute and per edge: an attribute changed on both sides
//! to different values, a node deleted on one side and changed on the other, or a
//! cardinality-one relationship pointed elsewhere on both sides, is a conflict.

use crate::NodeId;
use crate::error::StoreError;
use crate::events::Event;
use crate::graph::{MAIN, Tx};
use crate::schema::{BranchSupport, Cardinality, Schema};
use crate::stored_id::{Id, Stored};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

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

/// Every branch as Infrahub's `Branch` query answers it (`main` first), or only the one
/// named `only`.
pub(crate) fn api_branches(
    conn: &Connection,
    only: Option<&str>,
) -> rusqlite::Result<Vec<serde_json::Map<String, Value>>> {
    let describe = |name: &str, created_at: &str, description: &str, sync: bool| {
        let mut fields = serde_json::Map::new();
        let default = name == MAIN;
        for (field, value) in [
            ("id", Value::from(name)),
            ("name", Value::from(name)),
            ("description", Value::from(description)),
            ("origin_branch", Value::from(MAIN)),
            ("branched_from", Value::from(created_at)),
            ("created_at", Value::from(created_at)),
            ("is_default", Value::from(default)),
            ("is_isolated", Value::from(!default)),
            ("sync_with_git", Value::from(sync)),
            ("has_schema_changes", Value::from(false)),
            // Infrahub's version of its graph's layout, which has no meaning here.
            ("graph_version", Value::Null),
            ("status", Value::from("OPEN")),
        ] {
            fields.insert(field.to_owned(), value);
        }
        fields
    };
    let mut out = Vec::new();
    if only.is_none_or(|name| name == MAIN) {
        let began: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [crate::persistence::CREATED_AT],
                |r| r.get(0),
            )
            .optional()?;
        out.push(describe(
            MAIN,
            began.as_deref().unwrap_or_default(),
            "Default Branch",
            true,
        ));
    }
    let mut st = conn.prepare(
        "SELECT b.name, b.created_at, coalesce(i.description, ''), coalesce(i.sync_with_git, 0) \
         FROM branches b LEFT JOIN branch_info i ON i.name = b.name \
         WHERE ?1 IS NULL OR b.name = ?1 ORDER BY b.created_seq, b.name",
    )?;
    let rows = st.query_map([only], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, bool>(3)?,
        ))
    })?;
    for row in rows {
        let (name, created_at, description, sync) = row?;
        out.push(describe(&name, &created_at, &description, sync));
    }
    Ok(out)
}

/// The longest branch name Infrahub accepts.
const MAX_NAME: usize = 250;
/// The shortest branch name Infrahub accepts.
const MIN_NAME: usize = 3;

/// Checks a branch name by Infrahub's rules (git's ref-name rules, `Branch.name` in
/// Infrahub's core): 3 to 250 characters, and every rule it breaks is named, in Infrahub's
/// words and order.
pub fn check_name(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if !(MIN_NAME..=MAX_NAME).contains(&length) {
        return Err(format!(
            "Branch name must be {MIN_NAME} to {MAX_NAME} characters long, not {length}"
        ));
    }
    let disallowed = |c: char| c < ' ' || c == '\u{7f}' || " ~^:?*[".contains(c);
    let rules: [(bool, &str); 10] = [
        (name.contains("/."), "/."),
        (name.contains(".."), ".."),
        (name.starts_with('/'), "starts with /"),
        (name.contains("//"), "//"),
        (name.contains("@{"), "@{"),
        (name.contains('\\'), "backslash (\\)"),
        (
            name.chars().any(disallowed),
            "disallowed ASCII characters/patterns",
        ),
        (name.ends_with(".lock"), "ends with .lock"),
        (name.ends_with('/'), "ends with /"),
        (name.ends_with('.'), "ends with ."),
    ];
    let broken: Vec<&str> = rules
        .iter()
        .filter(|(broken, _)| *broken)
        .map(|(_, rule)| *rule)
        .collect();
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Branch name contains invalid patterns or characters: {}",
            broken.join(", ")
        ))
    }
}

/// One attribute a branch holds (see [`crate::graph::attrs`]): what the branch set, and
/// main's value when it first did (`Null` for a node new on the branch).
pub(crate) struct AttrRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) value: Value,
    pub(crate) base: Value,
}

/// One side of a branch's relationship row (see [`crate::graph::links`]): whether the branch
/// has the edge, whether main had it. A row is a side of each node whose kind declares it.
pub(crate) struct EdgeRow {
    pub(crate) id: String,
    pub(crate) rel: String,
    pub(crate) peer: String,
    pub(crate) live: bool,
    pub(crate) base: bool,
}

/// A branch's node rows (`?1`), read from the nodes listed with it (`branch_rows`, see
/// [`crate::persistence::BRANCH_ROWS`]) rather than from every row of the graph.
pub(crate) const NODE_ROWS_OF_BRANCH: &str = "SELECT n.id, n.kind, n.live, n.base_rev \
     FROM branch_rows r CROSS JOIN node n ON n.id = r.id AND n.branch = r.branch \
     WHERE r.branch = ?1 ORDER BY r.id";
/// A branch's attribute rows (one per node, see [`crate::graph::attrs`]), as
/// [`NODE_ROWS_OF_BRANCH`].
pub(crate) const ATTR_ROWS_OF_BRANCH: &str = "SELECT a.id, a.kind, a.data, a.bases \
     FROM branch_rows r CROSS JOIN attrs a ON a.id = r.id AND a.branch = r.branch \
     WHERE r.branch = ?1 ORDER BY r.id";
/// What a branch holds of its own: nodes it created or deleted, attribute values and
/// edges it changed (with what main had when it first changed them).
pub(crate) struct BranchRows {
    /// Nodes created on the branch (id, kind).
    pub(crate) created: Vec<(String, String)>,
    /// Nodes deleted on the branch (id, kind, main's revision when they were deleted).
    pub(crate) deleted: Vec<(String, String, Option<i64>)>,
    pub(crate) attrs: Vec<AttrRow>,
    pub(crate) edges: Vec<EdgeRow>,
}

impl BranchRows {
    pub(crate) fn read(
        conn: &Connection,
        schema: &Schema,
        name: &str,
    ) -> Result<BranchRows, StoreError> {
        let err = StoreError::db_of(conn);
        let mut created: Vec<(String, String)> = Vec::new();
        let mut deleted: Vec<(String, String, Option<i64>)> = Vec::new();
        {
            let mut st = conn.prepare(NODE_ROWS_OF_BRANCH).map_err(&err)?;
            let rows = st
                .query_map([name], |r| {
                    Ok((
                        r.get::<_, Stored>(0)?.0,
                        r.get::<_, String>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })
                .map_err(&err)?;
            for row in rows {
                let (id, kind, live, base_rev) = row.map_err(&err)?;
                if live {
                    created.push((id, kind));
                } else {
                    deleted.push((id, kind, base_rev));
                }
            }
        }
        let mut attrs = Vec::new();
        {
            let mut st = conn.prepare(ATTR_ROWS_OF_BRANCH).map_err(&err)?;
            let rows = st
                .query_map([name], |r| {
                    Ok((
                        r.get::<_, Stored>(0)?.0,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                })
                .map_err(&err)?;
            for row in rows {
                let (id, kind, data, bases) = row.map_err(&err)?;
                let image = crate::graph::attrs::AttrImage::parse(&data, bases.as_deref())
                    .map_err(|e| StoreError::Corrupted {
                        path: conn.path().unwrap_or_default().to_owned(),
                        detail: format!("attributes of {id} on branch {name}: {e}"),
                    })?;
                // Each attribute the branch holds, by name, with main's value when the
                // branch first changed it (none for a node new on the branch).
                for (attr, value) in image.data {
                    let base = image.bases.get(&attr).cloned().unwrap_or(Value::Null);
                    attrs.push(AttrRow {
                        id: id.clone(),
                        name: attr,
                        kind: kind.clone(),
                        value,
                        base,
                    });
                }
            }
        }
        let mut edges = Vec::new();
        let mut kinds: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut failure = None;
        for row in crate::graph::links::branch_rows(conn, name).map_err(&err)? {
            // A node main deleted since has no row naming its kind: its deletion event does.
            let kind_of = |id: &str| {
                if let Some(kind) = kinds.get(id) {
                    return kind.clone();
                }
                let kind = match crate::graph::links::stored_kind(conn, id) {
                    Ok(Some(kind)) => Ok(Some(kind)),
                    Ok(None) => kind_deleted_on_main(conn, name, id),
                    Err(e) => Err(err(e)),
                };
                let kind = kind.unwrap_or_else(|e| {
                    failure.get_or_insert(e);
                    None
                });
                kinds.insert(id.to_owned(), kind.clone());
                kind
            };
            for (id, rel, peer) in crate::graph::links::sides_of(schema, &row, kind_of) {
                edges.push(EdgeRow {
                    id,
                    rel,
                    peer,
                    live: row.live,
                    base: row.base,
                });
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(BranchRows {
            created,
            deleted,
            attrs,
            edges,
        })
    }
}

/// The kind of node `id`, which main deleted since branch `branch` began (so that neither
/// side shows it any more and no row of it names its kind): from main's deletion event.
/// Read only to name a merge conflict, so the events since the branch began are scanned.
fn kind_deleted_on_main(
    conn: &Connection,
    branch: &str,
    id: &str,
) -> Result<Option<String>, StoreError> {
    let err = StoreError::db_of(conn);
    let since: i64 = conn
        .query_row(
            "SELECT created_seq FROM branches WHERE name = ?1",
            [branch],
            |r| r.get(0),
        )
        .optional()
        .map_err(&err)?
        .unwrap_or(0);
    let mut st = conn
        .prepare("SELECT seq, data FROM events WHERE seq > ?1 ORDER BY seq DESC")
        .map_err(&err)?;
    let mut rows = st.query([since]).map_err(&err)?;
    while let Some(row) = rows.next().map_err(&err)? {
        let data = row.get_ref(1).map_err(&err)?;
        // The id is spelt out in every form: most rows are passed over without decoding.
        let bytes = crate::events::stored::bytes(data);
        if !id.is_empty()
            && !bytes
                .windows(id.len())
                .any(|window| window == id.as_bytes())
        {
            continue;
        }
        let seq: i64 = row.get(0).map_err(&err)?;
        let event =
            crate::events::stored::decode(seq, data).map_err(|e| StoreError::Corrupted {
                path: conn.path().unwrap_or_default().to_owned(),
                detail: format!("event {seq}: {e}"),
            })?;
        if event.id == id && event.branch == MAIN && event.action == crate::Action::Deleted {
            return Ok(Some(event.kind));
        }
    }
    Ok(None)
}

/// Merge branch `name` into main: every node the branch created, deleted or changed, three-way
/// per attribute (main's value when the branch first changed it, the branch's, main's now) and
/// per edge. Writes main's new rows and removes the branch's merged rows, inside the caller's
/// transaction; returns main's change events, or every conflict.
pub(crate) fn merge(
    conn: &Connection,
    schema: &Schema,
    name: &str,
) -> Result<Vec<Event>, StoreError> {
    let err = StoreError::db_of(conn);
    let local = |kind: &str| {
        schema
            .get(kind)
            .is_some_and(|k| k.branch == BranchSupport::Local)
    };
    let BranchRows {
        created,
        deleted,
        attrs,
        edges,
    } = BranchRows::read(conn, schema, name)?;

    let mut tx = Tx::new(conn, schema, MAIN);
    tx.origin = "merge";
    let view = Tx::new(conn, schema, name);
    let mut conflicts = Vec::new();
    let created_ids: BTreeSet<&str> = created.iter().map(|(id, _)| id.as_str()).collect();
    let deleted_ids: BTreeSet<&str> = deleted.iter().map(|(id, _, _)| id.as_str()).collect();
    let mut kept: BTreeSet<String> = BTreeSet::new();
    // The nodes the merge creates or changes on main: each must still be unique there
    // (main, or another branch merged before, may have taken its HFID or a unique value).
    let mut written: BTreeSet<String> = BTreeSet::new();

    for (id, kind) in &created {
        if local(kind) {
            kept.insert(id.clone());
            continue;
        }
        if let Some(n) = view.get(id) {
            tx.put((*n).clone());
            written.insert(id.clone());
        }
    }
    for (id, kind, base_rev) in &deleted {
        if local(kind) {
            kept.insert(id.clone());
            continue;
        }
        let main_rev: Option<i64> = conn
            .prepare_cached("SELECT rev FROM node WHERE id = ?1 AND branch = 'main'")
            .and_then(|mut st| st.query_row([Id::of(id)], |r| r.get(0)).optional())
            .map_err(&err)?;
        match main_rev {
            None => {}
            Some(rev) if Some(rev) != *base_rev => conflicts.push(format!(
                "{kind} {id}: deleted on the branch, changed on main"
            )),
            Some(_) => tx.delete(id),
        }
    }
    let mut gone_on_main = BTreeSet::new();
    for a in &attrs {
        if created_ids.contains(a.id.as_str()) || deleted_ids.contains(a.id.as_str()) {
            continue;
        }
        if local(&a.kind) {
            kept.insert(a.id.clone());
            continue;
        }
        let Some(main) = tx.get(&a.id) else {
            if gone_on_main.insert(a.id.clone()) {
                conflicts.push(format!(
                    "{} {}: changed on the branch, deleted on main",
                    a.kind, a.id
                ));
            }
            continue;
        };
        let m = main.attr(&a.name).clone();
        if a.value == a.base || a.value == m {
            continue;
        }
        if m == a.base {
            let mut n = (*main).clone();
            if a.value.is_null() {
                n.attrs.remove(&a.name);
            } else {
                n.attrs.insert(a.name.clone(), a.value.clone());
            }
            tx.put(n);
            written.insert(a.id.clone());
        } else {
            conflicts.push(format!(
                "{} {} attribute '{}': main={m} branch={}",
                a.kind, a.id, a.name, a.value
            ));
        }
    }
    let mut one_sided: BTreeSet<(String, String)> = BTreeSet::new();
    for e in &edges {
        if created_ids.contains(e.id.as_str()) || deleted_ids.contains(e.id.as_str()) {
            continue;
        }
        let Some(kind) = tx.kind_of(&e.id) else {
            let kind = match view.kind_of(&e.id) {
                Some(kind) => kind,
                None => kind_deleted_on_main(conn, name, &e.id)?
                    .unwrap_or_default()
                    .into(),
            };
            if local(&kind) {
                kept.insert(e.id.clone());
            } else if gone_on_main.insert(e.id.clone()) {
                conflicts.push(format!(
                    "{kind} {}: changed on the branch, deleted on main",
                    e.id
                ));
            }
            continue;
        };
        if local(&kind) {
            kept.insert(e.id.clone());
            continue;
        }
        if e.live == e.base {
            continue;
        }
        let on_main = tx.peers_of(&e.id, &e.rel).iter().any(|p| *p == e.peer);
        if on_main == e.live {
            continue;
        }
        if e.live {
            tx.add_edge(&e.id, &e.rel, &e.peer);
        } else {
            tx.remove_edge(&e.id, &e.rel, &e.peer);
        }
        written.insert(e.id.clone());
        let one = schema
            .get(&kind)
            .and_then(|k| k.relationship(&e.rel))
            .is_some_and(|r| r.cardinality == Cardinality::One);
        if one {
            one_sided.insert((e.id.clone(), e.rel.clone()));
        }
    }
    // A cardinality-one relationship changed on both sides now holds two peers.
    for (id, rel) in &one_sided {
        let merged = tx.peers_of(id, rel);
        if merged.len() > 1 {
            let kind = tx.kind_of(id).unwrap_or_default();
            let branch = view.peers_of(id, rel);
            let main: Vec<&NodeId> = merged.iter().filter(|p| !branch.contains(p)).collect();
            conflicts.push(format!(
                "{kind} {id} relationship '{rel}': main={main:?} branch={branch:?}"
            ));
        }
    }
    for id in &written {
        if let Some(violation) = crate::engine::uniqueness_violation(&tx, id) {
            let kind = tx.kind_of(id).unwrap_or_default();
            conflicts.push(format!("{kind} {id}: {violation}"));
        }
    }
    if let Some(e) = view.take_failure() {
        return Err(e);
    }
    if let Some(e) = tx.take_failure() {
        return Err(e);
    }
    if !conflicts.is_empty() {
        return Err(StoreError::MergeConflict {
            branch: name.to_string(),
            conflicts,
        });
    }
    let events = tx.finish()?;
    // The branch now equals main except for its local nodes: the other nodes it has rows
    // for lose them, and leave its list.
    let ids = crate::persistence::branch_node_ids(conn, name).map_err(&err)?;
    for id in ids.iter().filter(|id| !kept.contains(*id)) {
        crate::graph::attrs::remove_keys(conn, id, name).map_err(&err)?;
    }
    for table in crate::persistence::GRAPH_TABLES
        .into_iter()
        .chain([crate::persistence::BRANCH_ROWS])
    {
        let mut del = conn
            .prepare(&format!(
                "DELETE FROM {table} WHERE branch = ?1 AND id = ?2"
            ))
            .map_err(&err)?;
        for id in ids.iter().filter(|id| !kept.contains(*id)) {
            del.execute(params![name, Id::of(id)]).map_err(&err)?;
        }
    }
    // Relationship rows go with their merged nodes, but stay with a kept (local) node.
    let mut rows = conn
        .prepare(
            "SELECT src, rel, dst FROM link WHERE src = ?2 AND branch = ?1 \
             UNION SELECT src, rel, dst FROM link WHERE dst = ?2 AND branch = ?1",
        )
        .map_err(&err)?;
    let mut del = conn
        .prepare("DELETE FROM link WHERE src = ?1 AND rel = ?2 AND dst = ?3 AND branch = ?4")
        .map_err(&err)?;
    for id in ids.iter().filter(|id| !kept.contains(*id)) {
        // The identifier's number, read and deleted by as it is stored.
        let found: Vec<(String, i64, String)> = rows
            .query_map(params![name, Id::of(id)], |r| {
                Ok((
                    r.get::<_, Stored>(0)?.0,
                    r.get(1)?,
                    r.get::<_, Stored>(2)?.0,
                ))
            })
            .map_err(&err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(&err)?;
        for (src, rel, dst) in found {
            if !kept.contains(&src) && !kept.contains(&dst) {
                del.execute(params![Id::of(&src), rel, Id::of(&dst), name])
                    .map_err(&err)?;
            }
        }
    }
    Ok(events)
}

#[cfg(test)]
mod name_tests {
    use super::check_name;

    #[test]
    fn names_follow_infrahubs_rules_and_every_broken_rule_is_named() {
        for good in [
            "br1",
            "feature/new-pod",
            "Fabric_A.2",
            "release-1.0/x",
            "a.b",
        ] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        let refused = |name: &str| check_name(name).expect_err(name);
        let invalid = "Branch name contains invalid patterns or characters: ";
        assert_eq!(refused("a//b"), format!("{invalid}//"));
        assert_eq!(refused("a/.b"), format!("{invalid}/."));
        assert_eq!(refused("x.lock"), format!("{invalid}ends with .lock"));
        assert_eq!(refused("ab."), format!("{invalid}ends with ."));
        assert_eq!(refused("/ab"), format!("{invalid}starts with /"));
        assert_eq!(refused("ab/"), format!("{invalid}ends with /"));
        assert_eq!(refused("a@{b"), format!("{invalid}@{{"));
        assert_eq!(refused("a\\b"), format!("{invalid}backslash (\\)"));
        assert_eq!(
            refused("not valid"),
            format!("{invalid}disallowed ASCII characters/patterns")
        );
        assert_eq!(
            refused("a:b\tc"),
            format!("{invalid}disallowed ASCII characters/patterns")
        );
        // Several at once, in Infrahub's order.
        assert_eq!(
            refused("/a/..b/"),
            format!("{invalid}/., .., starts with /, ends with /")
        );
        assert_eq!(
            refused(""),
            "Branch name must be 3 to 250 characters long, not 0"
        );
        assert_eq!(
            refused("b1"),
            "Branch name must be 3 to 250 characters long, not 2"
        );
        assert_eq!(
            refused(&"x".repeat(251)),
            "Branch name must be 3 to 250 characters long, not 251"
        );
    }
}
