//! Relationships stored once: one `link` row per relationship instance and branch, as
//! Infrahub keeps one relationship object per pair of nodes under the relationship's
//! identifier, whichever side declared it.
//!
//! `link (src, rel, dst, branch, pos, live, base)`: `rel` is the identifier both sides share,
//! as its number in `rel_name (n, name)` — given the first time a row of it is written, never
//! changed nor reused, so a number a transaction has read stays right for it (see
//! [`rel_number_or_new`], `Tx::rel_number`); the identifier's text (~17 bytes) was in every
//! row and again in `link_in`, and compared at each step of a descent through either.
//! `src` and `dst` are the two nodes, in the order [`Schema::link_end`] gives: an `outbound`
//! side's node is `src`, an `inbound` side's `dst`; of two bidirectional sides (the
//! default) with different names, the one whose name sorts first is `src`; a bidirectional
//! relationship with one name has no order, so its row holds the two ids sorted. A node's
//! relationship is read from the rows at its end: by the key for `src`, by `link_in` for
//! `dst`, from both for one without order.
//!
//! Before, each side was a row of its own (and an index entry of its own), written only when
//! both sides were declared: a relationship's other side declared later (a schema loaded
//! since) listed none of the existing peers, and an edge cost four B-tree inserts instead of
//! two.
//!
//! A relationship whose sides disagree on direction (one `outbound`, the other
//! `bidirectional`) is not supported: Infrahub pairs `outbound` with `inbound`.

use crate::schema::{KindSchema, RelationshipSchema, Schema};
use crate::stored_id::{Id, Stored};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

pub(crate) use crate::schema::LinkEnd as End;

impl End {
    /// The row's (`src`, `dst`) for node `id`'s relationship at this end to `peer`.
    pub(crate) fn ends<'a>(self, id: &'a str, peer: &'a str) -> (&'a str, &'a str) {
        match self {
            End::Src => (id, peer),
            End::Dst => (peer, id),
            End::Either if peer < id => (peer, id),
            End::Either => (id, peer),
        }
    }

    /// Whether this end's rows may be read from `src` (`true`) or from `dst` (`false`).
    pub(crate) fn reads(self) -> &'static [bool] {
        match self {
            End::Src => &[true],
            End::Dst => &[false],
            End::Either => &[true, false],
        }
    }
}

/// Whether another relationship of `kind` reads rows `r` reads too (same identifier, an end
/// in common): the peer's kind then tells them apart.
pub(crate) fn shares_rows(schema: &Schema, kind: &KindSchema, r: &RelationshipSchema) -> bool {
    let end = schema.link_end(r);
    kind.relationships.iter().any(|x| {
        x.name != r.name
            && x.identifier == r.identifier
            && end
                .reads()
                .iter()
                .any(|&at| schema.link_end(x).holds_at(at))
    })
}

/// A node's rows on `main` and on this branch (`?2`) of the identifiers its kind reads at
/// each end (see [`Schema::link_identifiers`]; `?3`… the numbers of the `src_identifiers` at
/// `src`, then of the `dst_identifiers` at `dst`): (branch, the identifier's place in that
/// list, the other end, whether the node is `src`, live, pos). One indexed lookup per
/// identifier and end, never a row of another identifier: a namespace is at an end of every
/// prefix's `ip_namespace` and reads none of them. `None` when the kind reads no row at all.
/// See `NODE_ROWS_OF_ID` for `+branch`.
pub(crate) fn links_of_node(src_identifiers: usize, dst_identifiers: usize) -> Option<String> {
    let parts: Vec<String> = (0..src_identifiers)
        .map(|at| {
            format!(
                "SELECT branch, {}, dst, 1, live, pos FROM link \
                 WHERE src = ?1 AND rel = ?{} AND +branch IN ('main', ?2)",
                at,
                at + 3
            )
        })
        .chain((0..dst_identifiers).map(|at| {
            format!(
                "SELECT branch, {}, src, 0, live, pos FROM link \
                 WHERE dst = ?1 AND rel = ?{} AND +branch IN ('main', ?2)",
                src_identifiers + at,
                src_identifiers + at + 3
            )
        }))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" UNION ALL "))
}

/// Runs [`links_of_node`] for node `id` of `kind` on `branch`, handing each row to `row`
/// with its identifier. `number` gives an identifier's number in `link.rel` (`None`: no row
/// has it); when none has one, nothing is read.
pub(crate) fn read_links_of_node(
    conn: &Connection,
    schema: &Schema,
    (kind, id, branch): (&str, &str, &str),
    number: impl Fn(&str) -> rusqlite::Result<Option<i64>>,
    mut row: impl FnMut(&rusqlite::Row<'_>, &str) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let (src, dst) = schema.link_identifiers(kind);
    let Some(sql) = links_of_node(src.len(), dst.len()) else {
        return Ok(());
    };
    let identifiers: Vec<&String> = src.iter().chain(dst).collect();
    let numbers = identifiers
        .iter()
        .map(|identifier| number(identifier))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if numbers.iter().all(Option::is_none) {
        return Ok(());
    }
    let mut st = conn.prepare_cached(&sql)?;
    st.raw_bind_parameter(1, Id::of(id))?;
    st.raw_bind_parameter(2, branch)?;
    for (at, n) in numbers.iter().enumerate() {
        st.raw_bind_parameter(at + 3, n)?;
    }
    let mut rows = st.raw_query();
    while let Some(r) = rows.next()? {
        let at: i64 = r.get(1)?;
        if let Some(identifier) = usize::try_from(at).ok().and_then(|at| identifiers.get(at)) {
            row(r, identifier)?;
        }
    }
    Ok(())
}

/// Every row with a node (`?1`) at either end, on `main` and on this branch (`?2`), of any
/// identifier: (branch, identifier, the other end, whether the node is `src`, live, pos).
/// What points at a node may be a relationship its kind does not declare (a prefix's
/// `ip_namespace`).
pub(crate) const LINKS_AT_NODE: &str = "SELECT branch, (SELECT name FROM rel_name WHERE n = rel), dst, 1, live, pos FROM link \
     WHERE src = ?1 AND +branch IN ('main', ?2) \
     UNION ALL SELECT branch, (SELECT name FROM rel_name WHERE n = rel), src, 0, live, pos FROM link \
     WHERE dst = ?1 AND +branch IN ('main', ?2)";

/// One relationship's rows of a node at `src` (`?1`, the identifier's number `?2`, as
/// `Tx::rel_number` gives it), on `main` and on this branch (`?3`): (branch, the other end,
/// live, pos).
pub(crate) const LINKS_FROM: &str = "SELECT branch, dst, live, pos FROM link \
     WHERE src = ?1 AND rel = ?2 AND +branch IN ('main', ?3)";
/// [`LINKS_FROM`] for a node at `dst`.
pub(crate) const LINKS_TO: &str = "SELECT branch, src, live, pos FROM link \
     WHERE dst = ?1 AND rel = ?2 AND +branch IN ('main', ?3)";

/// One row's versions (`?1`, the identifier's number `?2`, `?3`) on `main` and on this
/// branch (`?4`): (branch, live).
pub(crate) const LINK_ROWS_OF_KEY: &str = "SELECT branch, live FROM link \
     WHERE src = ?1 AND rel = ?2 AND dst = ?3 AND +branch IN ('main', ?4)";

/// The rows of one relationship of a node (`?1` at `src` or `dst`, identifier number `?2`)
/// the branch (`?3`) has of its own.
pub(crate) fn branch_has(
    conn: &Connection,
    id: &str,
    rel: i64,
    end: End,
    branch: &str,
) -> rusqlite::Result<bool> {
    for &at_src in end.reads() {
        let sql = if at_src {
            "SELECT 1 FROM link WHERE src = ?1 AND rel = ?2 AND branch = ?3 LIMIT 1"
        } else {
            "SELECT 1 FROM link WHERE dst = ?1 AND rel = ?2 AND branch = ?3 LIMIT 1"
        };
        if conn
            .prepare_cached(sql)?
            .exists(params![Id::of(id), rel, branch])?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Removes node `id`'s rows, at either end, on `branch` (on every branch with `None`).
pub(crate) fn remove_of_node(
    conn: &Connection,
    id: &str,
    branch: Option<&str>,
) -> rusqlite::Result<()> {
    match branch {
        Some(branch) => {
            for sql in [
                "DELETE FROM link WHERE src = ?1 AND branch = ?2",
                "DELETE FROM link WHERE dst = ?1 AND branch = ?2",
            ] {
                conn.prepare_cached(sql)?
                    .execute(params![Id::of(id), branch])?;
            }
        }
        None => {
            for sql in [
                "DELETE FROM link WHERE src = ?1",
                "DELETE FROM link WHERE dst = ?1",
            ] {
                conn.prepare_cached(sql)?.execute([Id::of(id)])?;
            }
        }
    }
    Ok(())
}

/// One `link` row of a branch, as a merge, a diff or a validation reads it.
pub(crate) struct LinkRow {
    pub(crate) src: String,
    pub(crate) rel: String,
    pub(crate) dst: String,
    pub(crate) live: bool,
    pub(crate) base: bool,
}

/// A branch's `link` rows, found through the nodes listed with it (see
/// [`crate::persistence::BRANCH_ROWS`]; every commit lists the nodes it writes, so one end of
/// each row at least), in the order they were written.
pub(crate) const LINK_ROWS_OF_BRANCH: &str = "SELECT l.src, (SELECT name FROM rel_name WHERE n = l.rel), l.dst, l.live, COALESCE(l.base, 0), l.pos \
     FROM branch_rows r CROSS JOIN link l ON l.src = r.id AND l.branch = r.branch WHERE r.branch = ?1 \
     UNION SELECT l.src, (SELECT name FROM rel_name WHERE n = l.rel), l.dst, l.live, COALESCE(l.base, 0), l.pos \
     FROM branch_rows r CROSS JOIN link l ON l.dst = r.id AND l.branch = r.branch WHERE r.branch = ?1 \
     ORDER BY 6";

/// Reads [`LINK_ROWS_OF_BRANCH`].
pub(crate) fn branch_rows(conn: &Connection, branch: &str) -> rusqlite::Result<Vec<LinkRow>> {
    conn.prepare(LINK_ROWS_OF_BRANCH)?
        .query_map([branch], |r| {
            Ok(LinkRow {
                src: r.get::<_, Stored>(0)?.0,
                rel: r.get(1)?,
                dst: r.get::<_, Stored>(2)?.0,
                live: r.get(3)?,
                base: r.get(4)?,
            })
        })?
        .collect()
}

/// The kind of a stored node on any branch (a node's kind is the same on every branch).
pub(crate) fn stored_kind(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT kind FROM node WHERE id = ?1 LIMIT 1")?
        .query_row([Id::of(id)], |r| r.get(0))
        .optional()
}

/// Each side of a `link` row a node's kind declares, as (node, relationship name, peer):
/// none for an end whose kind (looked up with `kind_of`) has no relationship of the row's
/// identifier at that end.
pub(crate) fn sides_of(
    schema: &Schema,
    row: &LinkRow,
    mut kind_of: impl FnMut(&str) -> Option<String>,
) -> Vec<(String, String, String)> {
    let mut sides = Vec::new();
    let src_kind = kind_of(&row.src);
    let dst_kind = kind_of(&row.dst);
    for (at_src, id, own, peer, peer_kind) in [
        (true, &row.src, &src_kind, &row.dst, &dst_kind),
        (false, &row.dst, &dst_kind, &row.src, &src_kind),
    ] {
        let Some(k) = own.as_deref().and_then(|k| schema.get(k)) else {
            continue;
        };
        let Some(r) = schema.relationship_at(k, &row.rel, at_src, || peer_kind.clone()) else {
            continue;
        };
        let side = (id.clone(), r.name.clone(), peer.clone());
        // A bidirectional relationship from a node to itself is one side.
        if !sides.contains(&side) {
            sides.push(side);
        }
    }
    sides
}

/// The `meta` key holding the order the rows were written in: the identifiers ordered by a
/// first name, with it (JSON), as [`Schema::link_orders`] gave them.
const LINK_ORDERS: &str = "link_orders";

/// Whether the rows are in the order `schema` gives ([`settle_orders`] has nothing to do).
pub(crate) fn orders_settled(conn: &Connection, schema: &Schema) -> rusqlite::Result<bool> {
    Ok(stored_orders(conn)?.as_deref() == Some(orders_text(schema).as_str()))
}

fn stored_orders(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT value FROM meta WHERE key = ?1",
        [LINK_ORDERS],
        |r| r.get(0),
    )
    .optional()
}

fn orders_text(schema: &Schema) -> String {
    serde_json::Value::from_iter(
        schema
            .link_orders()
            .into_iter()
            .map(|(identifier, first)| (identifier.to_owned(), serde_json::Value::from(first))),
    )
    .to_string()
}

/// Puts the rows in the order `schema` gives (see [`Schema::link_end`]), inside the
/// caller's write transaction, and notes it: the rows of each identifier whose order
/// changed since they were written (a bidirectional side of another name declared or
/// removed) are turned round. A store that noted no order had every row's ids sorted.
/// Returns how many identifiers changed order.
///
/// No index leads with the identifier, so the rows of every changed identifier are read
/// in one pass over the table: a schema (or a binary's core schema) that declares ten new
/// identifiers costs one scan of a large store's rows, not ten.
pub(crate) fn settle_orders(conn: &Connection, schema: &Schema) -> rusqlite::Result<usize> {
    let text = orders_text(schema);
    let stored = stored_orders(conn)?;
    if stored.as_deref() == Some(text.as_str()) {
        return Ok(0);
    }
    let before: BTreeMap<String, String> = stored
        .and_then(|stored| serde_json::from_str(&stored).ok())
        .unwrap_or_default();
    let now = schema.link_orders();
    let changed: BTreeMap<&str, Option<&str>> = before
        .keys()
        .map(String::as_str)
        .chain(now.keys().copied())
        .filter_map(|identifier| {
            let first = now.get(identifier).copied();
            (before.get(identifier).map(String::as_str) != first).then_some((identifier, first))
        })
        .collect();
    if !changed.is_empty() {
        let mut rows: BTreeMap<&str, Vec<(String, String, String)>> = BTreeMap::new();
        let placeholders = vec!["?"; changed.len()].join(", ");
        let mut read = conn.prepare(&format!(
            "SELECT (SELECT name FROM rel_name WHERE n = rel), src, dst, branch FROM link \
             WHERE rel IN (SELECT n FROM rel_name WHERE name IN ({placeholders}))"
        ))?;
        let mut found = read.query(rusqlite::params_from_iter(changed.keys()))?;
        while let Some(r) = found.next()? {
            let rel: String = r.get(0)?;
            let Some((&identifier, _)) = changed.get_key_value(rel.as_str()) else {
                continue;
            };
            rows.entry(identifier).or_default().push((
                r.get::<_, Stored>(1)?.0,
                r.get::<_, Stored>(2)?.0,
                r.get(3)?,
            ));
        }
        for (identifier, rows) in rows {
            reorder(conn, schema, identifier, changed[identifier], rows)?;
        }
    }
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![LINK_ORDERS, text],
    )?;
    Ok(changed.len())
}

/// Turns `identifier`'s `rows` (`src`, `dst`, `branch`) into the order `first` gives: the
/// node holding the relationship named `first` at `src`, or (`None`) the ids sorted. Which
/// end holds which side is read from the two nodes' kinds; where both kinds hold both
/// sides (a group in a group, written with its ids sorted), nothing tells them apart and
/// the row stays.
fn reorder(
    conn: &Connection,
    schema: &Schema,
    identifier: &str,
    first: Option<&str>,
    rows: Vec<(String, String, String)>,
) -> rusqlite::Result<()> {
    let mut turn = conn.prepare(
        "UPDATE OR REPLACE link SET src = ?2, dst = ?1 \
         WHERE src = ?1 AND rel = (SELECT n FROM rel_name WHERE name = ?3) AND dst = ?2 \
         AND branch = ?4",
    )?;
    let Some(first) = first else {
        // Sorted as the ids' text is, which is what the writes compare (an id not stored
        // as a UUID's bytes sorts apart from the others in SQL).
        for (src, dst, branch) in rows {
            if src > dst {
                turn.execute(params![Id::of(&src), Id::of(&dst), identifier, branch])?;
            }
        }
        return Ok(());
    };
    // The names of `identifier` a node's kind holds: (`first`, another).
    let holds = |id: &str| -> rusqlite::Result<(bool, bool)> {
        let kind = stored_kind(conn, id)?;
        let Some(k) = kind.as_deref().and_then(|kind| schema.get(kind)) else {
            return Ok((false, false));
        };
        let mine = k
            .relationships
            .iter()
            .filter(|r| r.identifier == identifier);
        Ok(mine.fold((false, false), |(first_held, other), r| {
            (first_held || r.name == first, other || r.name != first)
        }))
    };
    for (src, dst, branch) in rows {
        let ((src_first, src_other), (dst_first, dst_other)) = (holds(&src)?, holds(&dst)?);
        // Turned only where the kinds leave no doubt: a row between two nodes that may each
        // hold either side (a group in a group) is kept as it was written.
        let as_written = src_first && dst_other;
        let turned = dst_first && src_other;
        if turned && !as_written {
            turn.execute(params![Id::of(&src), Id::of(&dst), identifier, branch])?;
        }
    }
    Ok(())
}

/// Moves the rows of stores written with one `edge` row per side (`(id, rel, peer, branch,
/// pos, live, base)`, `rel` the relationship's name) into `link`, once, in one transaction:
/// each side becomes its relationship instance's row (both sides the same row), a side
/// whose node or relationship the schema no longer knows is dropped, as it was invisible.
/// Returns how many `edge` rows were moved (0: nothing to do).
///
/// Such a store holds its ids as text: this runs before they are converted
/// ([`crate::stored_id::convert_text_ids`]), and reads and writes them as text.
pub(crate) fn migrate_edge_rows(conn: &mut Connection, schema: &Schema) -> rusqlite::Result<usize> {
    let any: bool = conn.prepare("SELECT 1 FROM edge LIMIT 1")?.exists([])?;
    if !any {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut moved = 0;
    {
        let mut read = tx.prepare(
            "SELECT e.id, (SELECT kind FROM node n WHERE n.id = e.id LIMIT 1), e.rel, e.peer, \
             e.branch, e.pos, e.live, e.base FROM edge e",
        )?;
        let mut write = tx.prepare(
            "INSERT OR IGNORE INTO link (src, rel, dst, branch, pos, live, base) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            moved += 1;
            let id: String = r.get(0)?;
            let Some(kind) = r.get::<_, Option<String>>(1)? else {
                continue;
            };
            let rel: String = r.get(2)?;
            let Some(r_schema) = schema.get(&kind).and_then(|k| k.relationship(&rel)) else {
                continue;
            };
            let peer: String = r.get(3)?;
            let (src, dst) = schema.link_end(r_schema).ends(&id, &peer);
            write.execute(params![
                src,
                rel_number_or_new(&tx, &r_schema.identifier)?,
                dst,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, bool>(6)?,
                r.get::<_, Option<i64>>(7)?
            ])?;
        }
    }
    tx.execute("DELETE FROM edge", [])?;
    // Written in the order `schema` gives.
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![LINK_ORDERS, orders_text(schema)],
    )?;
    tx.commit()?;
    Ok(moved)
}

/// The number `rel_name` gives relationship identifier `name`, if it has one.
pub(crate) fn rel_number(conn: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT n FROM rel_name WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()
}

/// The number of relationship identifier `name` in `link.rel`, given now when it has none.
/// Inside the caller's write transaction: a number given by a transaction that does not
/// commit is given again by the next one, so numbers are read from the store, never kept
/// across transactions (as the value index's attribute numbers, see
/// [`super::attrs`]).
pub(crate) fn rel_number_or_new(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    if let Some(n) = rel_number(conn, name)? {
        return Ok(n);
    }
    conn.prepare_cached("INSERT INTO rel_name (name) VALUES (?1)")?
        .execute([name])?;
    Ok(conn.last_insert_rowid())
}

/// Rebuilds the `link` table of stores written before layout 3, whose rows held their
/// relationship identifier as text (~17 bytes in the row and again in `link_in`, compared
/// at each step of every descent through either), with each identifier's number in
/// `rel_name`: once, the rows in one transaction and their index by `dst` in the next.
/// Returns whether it did.
pub(crate) fn migrate_rel_numbers(conn: &mut Connection) -> rusqlite::Result<bool> {
    let by_name = |conn: &Connection| -> rusqlite::Result<bool> {
        conn.prepare(
            "SELECT 1 FROM pragma_table_info('link') WHERE name = 'rel' AND type = 'TEXT'",
        )?
        .exists([])
    };
    // Looked up first: rebuilding takes the write lock, which another process may hold.
    if !by_name(conn)? {
        return Ok(false);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Another process may have rebuilt it meanwhile.
    if !by_name(&tx)? {
        return Ok(false);
    }
    tx.execute_batch(
        "INSERT OR IGNORE INTO rel_name (name) SELECT DISTINCT rel FROM link ORDER BY rel; \
         CREATE TABLE link_by_number ( \
             src TEXT NOT NULL, rel INTEGER NOT NULL, dst TEXT NOT NULL, branch TEXT NOT NULL, \
             pos INTEGER NOT NULL, live INTEGER NOT NULL, base INTEGER, \
             PRIMARY KEY (src, rel, dst, branch) \
         ) WITHOUT ROWID; \
         INSERT INTO link_by_number (src, rel, dst, branch, pos, live, base) \
             SELECT l.src, r.n, l.dst, l.branch, l.pos, l.live, l.base \
             FROM link l JOIN rel_name r ON r.name = l.rel; \
         DROP TABLE link; \
         ALTER TABLE link_by_number RENAME TO link;",
    )?;
    tx.commit()?;
    // The index of the rows by `dst` (`link_in`, dropped with the old table) in a
    // transaction of its own, made by the schema as every open makes what is missing: built
    // in the one above, after a million rows moved, SQLite failed it with `SQLITE_FULL` (a
    // store of 1M nodes, 1.1 GB; the same statements on their own, or split so, pass).
    // Until it is built the rows are whole and only the reads from `dst` slower; a process
    // stopped in between builds it when it next opens the store.
    conn.execute_batch(crate::persistence::SCHEMA_SQL)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> crate::persistence::Db {
        crate::persistence::Db::open(":memory:").expect("an in-memory store")
    }

    /// An identifier is numbered once and keeps its number; a number given by a
    /// transaction that rolls back is not kept anywhere, and is given again.
    #[test]
    fn an_identifier_is_numbered_once_and_a_rolled_back_number_given_again() {
        let mut db = store();
        let conn = &mut db.conn;
        let tx = conn.transaction().expect("a transaction");
        let first = rel_number_or_new(&tx, "device__interface").expect("a number");
        assert_eq!(
            rel_number_or_new(&tx, "device__interface").ok(),
            Some(first)
        );
        let other = rel_number_or_new(&tx, "device__site").expect("a number");
        assert_ne!(first, other);
        tx.commit().expect("commit");

        let tx = conn.transaction().expect("a transaction");
        let lost = rel_number_or_new(&tx, "parent__child").expect("a number");
        tx.rollback().expect("rollback");
        assert_eq!(rel_number(conn, "parent__child").ok(), Some(None));
        assert_eq!(rel_number_or_new(conn, "parent__child").ok(), Some(lost));
        assert_eq!(
            rel_number(conn, "device__interface").ok(),
            Some(Some(first))
        );
    }

    /// A `link` table keyed by number (a store made by this binary) is left alone; one
    /// keyed by name (layout 2) is rebuilt once, every row kept with its identifier's
    /// number, and its index by `dst` made again.
    #[test]
    fn a_link_table_keyed_by_name_is_moved_once_with_every_row() {
        let mut db = store();
        assert!(!migrate_rel_numbers(&mut db.conn).expect("looked at"));
        db.conn
            .execute_batch(
                "DROP TABLE link; \
                 CREATE TABLE link (src TEXT NOT NULL, rel TEXT NOT NULL, dst TEXT NOT NULL, \
                 branch TEXT NOT NULL, pos INTEGER NOT NULL, live INTEGER NOT NULL, base INTEGER, \
                 PRIMARY KEY (src, rel, dst, branch)) WITHOUT ROWID; \
                 INSERT INTO link VALUES ('a', 'device__interface', 'b', 'main', 1, 1, NULL), \
                 ('c', 'device__interface', 'b', 'br1', 2, 0, 1), ('a', 'device__site', 's', 'main', 3, 1, NULL);",
            )
            .expect("the layout before");
        assert!(migrate_rel_numbers(&mut db.conn).expect("moved"));
        type Row = (String, String, String, String, i64, bool, Option<i64>);
        let rows: Vec<Row> = db
            .conn
            .prepare(
                "SELECT l.src, r.name, l.dst, l.branch, l.pos, l.live, l.base FROM link l \
                 JOIN rel_name r ON r.n = l.rel ORDER BY l.pos",
            )
            .expect("a query")
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("read back");
        let row = |src: &str, rel: &str, dst: &str, branch: &str, pos, live, base| {
            (
                src.into(),
                rel.into(),
                dst.into(),
                branch.into(),
                pos,
                live,
                base,
            )
        };
        assert_eq!(
            rows,
            [
                row("a", "device__interface", "b", "main", 1, true, None),
                row("c", "device__interface", "b", "br1", 2, false, Some(1)),
                row("a", "device__site", "s", "main", 3, true, None),
            ]
        );
        let index: bool = db
            .conn
            .prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'link_in'")
            .expect("a query")
            .exists([])
            .expect("looked up");
        assert!(index, "the index by `dst` is made again");
        assert!(
            !migrate_rel_numbers(&mut db.conn).expect("looked at"),
            "once"
        );
    }
}
