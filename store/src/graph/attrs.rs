//! A node's attributes on one branch, stored as one row: the `attrs` table holds, per node
//! and branch, every attribute value that branch has of its own, and `value_key` indexes the
//! values by their text form for lookups.
//!
//! The graph was first stored with one row per attribute, each also indexed by its value:
//! two B-tree inserts per attribute written, one row read per attribute loaded. A seed
//! build writes ~11,000 attribute values, four per node: now one row per node and one index
//! entry per value (SQLite's B-tree inserts in a seed build 245M → 154M instructions, the
//! build 3% fewer), and loading a node's attributes reads one row per branch.
//!
//! - `attrs (id, branch, kind, data, bases)`: `data` is a JSON object, attribute name →
//!   value. On `main`, and for a node created on the branch, it holds the set values
//!   (unset = absent). On a branch, for a node of `main`, it holds each attribute the
//!   branch changed, `null` where the branch unset it; `bases` holds, for those, main's
//!   value when the branch first changed it (the three-way merge's base). `bases` is NULL
//!   on rows that have none.
//! - `value_key (attr, key, branch, id)`: one entry per non-null value of a row, by its
//!   text form ([`crate::node::value_key`]); `attr` is the number `attr_name (n, kind,
//!   name)` gives the node's kind and the attribute, given the first time a value of it is
//!   indexed and never changed or reused. A read binds the kind and attribute and finds the
//!   number in the statement (`attr = (SELECT n FROM attr_name WHERE kind = ? AND name =
//!   ?)`, read once per execution); an attribute never indexed has none, and matches nothing.
//!
//! The index was first keyed by the kind's and attribute's names (`attr_key (kind, name,
//! key, branch, id)`): every B-tree descent compared the same ~20 bytes of names before the
//! key that tells entries apart, and each entry carried them. By number an entry is ~35%
//! smaller (a seed store's index 218 → 146 pages), and a seed build takes 2.2% fewer
//! instructions and writes 7% fewer WAL frames (the README's Benchmarks have the figures).
//! Stores written before are moved once when opened ([`migrate_value_index`]).

use crate::node::value_key_ref;
use crate::rows::{Insert, Row};
use crate::stored_id::{self, Id};
use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// A node's rows on `main` and on this branch (`?2`), by the node's id: `+branch` as in
/// [`super::NODE_ROWS_OF_ID`].
pub(crate) const ATTRS_OF_ID: &str =
    "SELECT branch, data FROM attrs WHERE id = ?1 AND +branch IN ('main', ?2)";

/// One node's row on one branch, as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AttrImage {
    /// Attribute name → value (`null`: unset on this branch, over main's value).
    pub data: Map<String, Value>,
    /// Attribute name → main's value when the branch first changed it.
    pub bases: Map<String, Value>,
}

impl AttrImage {
    /// The row's image from its columns.
    pub(crate) fn parse(data: &str, bases: Option<&str>) -> serde_json::Result<Self> {
        Ok(AttrImage {
            data: serde_json::from_str(data)?,
            bases: match bases {
                Some(text) => serde_json::from_str(text)?,
                None => Map::new(),
            },
        })
    }

    /// Whether the row holds nothing (and is removed rather than written).
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty() && self.bases.is_empty()
    }
}

/// A row's text as stored: a JSON column that is not valid is the store's corruption, reported
/// as SQLite reports a column of the wrong type.
pub(crate) fn parse_error(column: usize, e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
}

/// The row of `id` on `branch`, with the node's kind; `None` when it has none.
pub(crate) fn read(
    conn: &Connection,
    id: &str,
    branch: &str,
) -> rusqlite::Result<Option<(String, AttrImage)>> {
    let row = conn
        .prepare_cached("SELECT kind, data, bases FROM attrs WHERE id = ?1 AND branch = ?2")?
        .query_row(params![Id::of(id), branch], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .optional()?;
    row.map(|(kind, data, bases)| {
        AttrImage::parse(&data, bases.as_deref())
            .map(|image| (kind, image))
            .map_err(|e| parse_error(1, e))
    })
    .transpose()
}

/// Writes rows of the `attrs` table, several to a statement.
const PUT_ROWS: Insert = Insert {
    head: "INSERT OR REPLACE INTO attrs (id, branch, kind, data, bases)",
    tuple: "(?, ?, ?, ?, ?)",
    most: 32,
};

/// The rows of the `attrs` table a commit writes: each node's row on each branch at most
/// once, so they are written together ([`AttrRows::write`]) once every node's is known.
#[derive(Default)]
pub(crate) struct AttrRows<'a> {
    put: Vec<Row<'a, 5>>,
}

impl<'a> AttrRows<'a> {
    /// `image` becomes the row of `id` (of `kind`) on `branch`; an empty image removes the
    /// row, at once. The value index is the caller's ([`KeyWrites`]).
    pub(crate) fn put(
        &mut self,
        conn: &Connection,
        id: &'a str,
        branch: &'a str,
        kind: &'a str,
        image: &AttrImage,
    ) -> rusqlite::Result<()> {
        if image.is_empty() {
            conn.prepare_cached("DELETE FROM attrs WHERE id = ?1 AND branch = ?2")?
                .execute(params![Id::of(id), branch])?;
            return Ok(());
        }
        let text = |map: &Map<String, Value>| {
            serde_json::to_string(map)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
        };
        let bases = match image.bases.is_empty() {
            true => ToSqlOutput::from(rusqlite::types::Null),
            false => ToSqlOutput::from(text(&image.bases)?),
        };
        self.put.push([
            stored_id::key(id),
            ToSqlOutput::from(branch),
            ToSqlOutput::from(kind),
            ToSqlOutput::from(text(&image.data)?),
            bases,
        ]);
        Ok(())
    }

    /// The row of `id` (of `kind`) on `branch`, where it has none yet: `values` in name
    /// order, a null one left out (unset), as [`AttrRows::put`] writes the same values'
    /// image; no row at all when every value is null.
    pub(crate) fn put_new(
        &mut self,
        id: &'a str,
        branch: &'a str,
        kind: &'a str,
        values: &[(&String, &Value)],
    ) -> rusqlite::Result<()> {
        /// The values as a JSON object, without the nulls.
        struct Set<'v>(&'v [(&'v String, &'v Value)]);
        impl serde::Serialize for Set<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(None)?;
                for (name, value) in self.0.iter().filter(|(_, value)| !value.is_null()) {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
        debug_assert!(values.windows(2).all(|w| w[0].0 < w[1].0));
        if values.iter().all(|(_, value)| value.is_null()) {
            return Ok(());
        }
        let text = serde_json::to_string(&Set(values))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.put.push([
            stored_id::key(id),
            ToSqlOutput::from(branch),
            ToSqlOutput::from(kind),
            ToSqlOutput::from(text),
            ToSqlOutput::from(rusqlite::types::Null),
        ]);
        Ok(())
    }

    /// Room for `additional` more rows.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.put.reserve(additional);
    }

    /// Writes the rows put.
    pub(crate) fn write(self, conn: &Connection) -> rusqlite::Result<()> {
        PUT_ROWS.run(conn, &self.put)
    }
}

/// Whether attribute `name`'s values are indexed. Not the names a profile filled
/// ([`crate::profiles::FROM_PROFILE`]): a hidden attribute no query can filter on and no
/// lookup asks for, on every node made with a profile (a fifth of a seed build's values).
pub(crate) fn looked_up(name: &str) -> bool {
    name != crate::profiles::FROM_PROFILE
}

/// One entry of the value index: (kind, attribute, key, branch, node id).
type KeyEntry<'a> = (&'a str, &'a str, Cow<'a, str>, &'a str, &'a str);

/// Adds value index entries, several to a statement.
const ADD_KEYS: Insert = Insert {
    head: "INSERT OR IGNORE INTO value_key (attr, key, branch, id)",
    tuple: "(?, ?, ?, ?)",
    most: 32,
};

/// The number of attribute `name` of `kind` in the value index; `None` when no value of it
/// was ever indexed.
fn attr_number(conn: &Connection, kind: &str, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT n FROM attr_name WHERE kind = ?1 AND name = ?2")?
        .query_row([kind, name], |r| r.get(0))
        .optional()
}

/// The number of attribute `name` of `kind`, given now when it has none. Inside the
/// caller's write transaction: a number given by a transaction that does not commit is
/// given again by the next one, so numbers are read from the store, never kept across
/// transactions.
fn attr_number_or_new(conn: &Connection, kind: &str, name: &str) -> rusqlite::Result<i64> {
    if let Some(n) = attr_number(conn, kind, name)? {
        return Ok(n);
    }
    conn.prepare_cached("INSERT INTO attr_name (kind, name) VALUES (?1, ?2)")?
        .execute([kind, name])?;
    Ok(conn.last_insert_rowid())
}

/// The value index entries a commit adds and removes, written together once its rows are
/// ([`KeyWrites::write`]): one statement per entry cost three times the B-tree insert it
/// makes (a seed build writes ~11,000).
#[derive(Default)]
pub(crate) struct KeyWrites<'a> {
    add: Vec<KeyEntry<'a>>,
    remove: Vec<KeyEntry<'a>>,
}

impl<'a> KeyWrites<'a> {
    /// Room for `additional` more entries added: a commit adds about one per value it
    /// writes.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.add.reserve(additional);
    }

    /// Attribute `name` of `id` (of `kind`) on `branch` goes from value `old` to `new`
    /// (either may be null: no entry).
    pub(crate) fn change(
        &mut self,
        (id, branch, kind, name): (&'a str, &'a str, &'a str, &'a str),
        old: Option<Value>,
        new: &'a Value,
    ) {
        if !looked_up(name) {
            return;
        }
        let old = old
            .as_ref()
            .and_then(value_key_ref)
            .map(|k| Cow::Owned(k.into_owned()));
        let new = value_key_ref(new);
        if old == new {
            return;
        }
        if let Some(old) = old {
            self.remove.push((kind, name, old, branch, id));
        }
        if let Some(new) = new {
            self.add.push((kind, name, new, branch, id));
        }
    }

    /// Removes, then adds, the entries, several additions to a statement. Each kind and
    /// attribute's number is read once per call: a commit's entries are of a few dozen kinds
    /// and attributes, its thousands of entries of a seed build's run.
    pub(crate) fn write(self, conn: &Connection) -> rusqlite::Result<()> {
        let mut numbers: HashMap<(&str, &str), Option<i64>> = HashMap::new();
        for (kind, name, key, branch, id) in &self.remove {
            let n = match numbers.entry((kind, name)) {
                Entry::Occupied(known) => *known.get(),
                Entry::Vacant(new) => *new.insert(attr_number(conn, kind, name)?),
            };
            // An attribute without a number has no entry to remove.
            let Some(n) = n else { continue };
            conn.prepare_cached(
                "DELETE FROM value_key WHERE attr = ?1 AND key = ?2 AND branch = ?3 AND id = ?4",
            )?
            .execute(params![n, key, branch, Id::of(id)])?;
        }
        let mut rows: Vec<Row<'_, 4>> = Vec::with_capacity(self.add.len());
        for (kind, name, key, branch, id) in &self.add {
            let n = match numbers.get(&(*kind, *name)) {
                Some(Some(n)) => *n,
                _ => {
                    let n = attr_number_or_new(conn, kind, name)?;
                    numbers.insert((kind, name), Some(n));
                    n
                }
            };
            rows.push([
                ToSqlOutput::from(n),
                ToSqlOutput::from(key.as_ref()),
                ToSqlOutput::from(*branch),
                stored_id::key(id),
            ]);
        }
        ADD_KEYS.run(conn, &rows)?;
        Ok(())
    }
}

/// Removes the value index entries of `id`'s row on `branch` (the row itself stays: the
/// caller removes it with the node's other rows).
pub(crate) fn remove_keys(conn: &Connection, id: &str, branch: &str) -> rusqlite::Result<()> {
    let Some((kind, image)) = read(conn, id, branch)? else {
        return Ok(());
    };
    let mut writes = KeyWrites::default();
    for (name, value) in &image.data {
        writes.change((id, branch, &kind, name), Some(value.clone()), &Value::Null);
    }
    writes.write(conn)
}

/// Removes `id`'s rows and their index entries: on `branch`, or on every branch (`None`).
pub(crate) fn remove(conn: &Connection, id: &str, branch: Option<&str>) -> rusqlite::Result<()> {
    let branches: Vec<String> = match branch {
        Some(branch) => vec![branch.to_owned()],
        None => conn
            .prepare_cached("SELECT branch FROM attrs WHERE id = ?1")?
            .query_map([Id::of(id)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?,
    };
    for branch in &branches {
        remove_keys(conn, id, branch)?;
        conn.prepare_cached("DELETE FROM attrs WHERE id = ?1 AND branch = ?2")?
            .execute(params![Id::of(id), branch])?;
    }
    Ok(())
}

/// Stores written with one row per attribute (the `attr` table): their rows become one
/// row per node and branch, and their values' index `attr_key`, once, in one transaction.
/// `true` when there was anything to move. Such a store holds its ids as text: this runs
/// before they are converted ([`crate::stored_id::convert_text_ids`]) and copies them as
/// they are.
pub(crate) fn migrate_attribute_rows(conn: &mut Connection) -> rusqlite::Result<bool> {
    // Looked up first: moving takes the write lock, which another process may hold.
    let old = conn.prepare("SELECT 1 FROM attr LIMIT 1")?.exists([])?;
    if !old {
        return Ok(false);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // `json(...)` keeps each value JSON (not text) inside the object; a NULL value (unset on
    // the branch) is JSON null. Another process may have moved them meanwhile: then `attr`
    // is empty and nothing is inserted.
    tx.execute_batch(&format!(
        "INSERT OR REPLACE INTO attrs (id, branch, kind, data, bases) \
         SELECT id, branch, kind, \
             json_group_object(name, json(COALESCE(value, 'null'))), \
             CASE WHEN MAX(has_base) = 1 \
                 THEN json_group_object(name, json(COALESCE(base, 'null'))) FILTER (WHERE has_base = 1) \
             END \
         FROM attr GROUP BY id, branch; \
         INSERT OR IGNORE INTO attr_key (kind, name, key, branch, id) \
         SELECT kind, name, key, branch, id FROM attr WHERE key IS NOT NULL AND name <> '{}'; \
         DELETE FROM attr;",
        crate::profiles::FROM_PROFILE
    ))?;
    tx.commit()?;
    Ok(true)
}

/// Stores whose value index is keyed by the kind's and attribute's names (`attr_key`):
/// each kind and attribute gets its number and the entries move to `value_key`, once, in
/// one transaction. `true` when there was anything to move. Runs after every other move of
/// an older layout (the attribute rows' fills `attr_key`) and after the ids' conversion
/// (which converts `attr_key`'s ids), so the entries move as they are.
pub(crate) fn migrate_value_index(conn: &mut Connection) -> rusqlite::Result<bool> {
    // Looked up first: moving takes the write lock, which another process may hold.
    let old = conn.prepare("SELECT 1 FROM attr_key LIMIT 1")?.exists([])?;
    if !old {
        return Ok(false);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Another process may have moved them meanwhile: then `attr_key` is empty and nothing
    // is inserted.
    tx.execute_batch(
        "INSERT OR IGNORE INTO attr_name (kind, name) \
             SELECT DISTINCT kind, name FROM attr_key ORDER BY kind, name; \
         INSERT OR IGNORE INTO value_key (attr, key, branch, id) \
             SELECT n.n, a.key, a.branch, a.id FROM attr_key a \
             JOIN attr_name n ON n.kind = a.kind AND n.name = a.name; \
         DELETE FROM attr_key;",
    )?;
    tx.commit()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> crate::persistence::Db {
        crate::persistence::Db::open(":memory:").expect("an in-memory store")
    }

    /// The rows of the old layout become the same values, bases and index entries (none for
    /// the names a profile filled, which nothing looks up).
    #[test]
    fn attribute_rows_become_one_row_per_node_and_branch() {
        let mut db = store();
        let conn = &mut db.conn;
        conn.execute_batch(
            "INSERT INTO attr (id, branch, name, kind, value, key, base, has_base) VALUES
               ('n1', 'main', 'name', 'K', '\"leaf1\"', 'leaf1', NULL, 0),
               ('n1', 'main', 'mtu', 'K', '9000', '9000', NULL, 0),
               ('n1', 'main', '__from_profile', 'K', '[\"mtu\"]', '[\"mtu\"]', NULL, 0),
               ('n1', 'b1', 'name', 'K', '\"leaf9\"', 'leaf9', '\"leaf1\"', 1),
               ('n1', 'b1', 'mtu', 'K', NULL, NULL, '9000', 1),
               ('n2', 'b1', 'tags', 'K', '[\"a\",\"b\"]', '[\"a\",\"b\"]', NULL, 0);",
        )
        .expect("old rows");
        assert!(migrate_attribute_rows(conn).expect("moved"));
        let (_, main) = read(conn, "n1", "main").expect("read").expect("a row");
        assert_eq!(
            Value::Object(main.data),
            json!({"name": "leaf1", "mtu": 9000, "__from_profile": ["mtu"]})
        );
        assert!(main.bases.is_empty());
        let (_, branch) = read(conn, "n1", "b1").expect("read").expect("a row");
        assert_eq!(
            Value::Object(branch.data),
            json!({"name": "leaf9", "mtu": null})
        );
        assert_eq!(
            Value::Object(branch.bases),
            json!({"name": "leaf1", "mtu": 9000})
        );
        let (_, plain) = read(conn, "n2", "b1").expect("read").expect("a row");
        assert_eq!(Value::Object(plain.data), json!({"tags": ["a", "b"]}));
        assert!(plain.bases.is_empty());
        let keys: Vec<(String, String, String, String)> = conn
            .prepare("SELECT name, key, branch, id FROM attr_key ORDER BY id, branch, name")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        let expected = [
            ("name", "leaf9", "b1", "n1"),
            ("mtu", "9000", "main", "n1"),
            ("name", "leaf1", "main", "n1"),
            ("tags", "[\"a\",\"b\"]", "b1", "n2"),
        ];
        assert_eq!(
            keys,
            expected
                .iter()
                .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
                .collect::<Vec<_>>()
        );
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM attr", [], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 0);
        assert!(!migrate_attribute_rows(conn).expect("nothing left"));
    }

    /// A new node's row written straight from its values is the row its image gives: the
    /// same text (name order, nulls left out), read back as the same values; a node whose
    /// every value is null gets no row, as an empty image removes one.
    #[test]
    fn a_new_node_s_row_is_the_row_of_its_image() {
        let db = store();
        let conn = &db.conn;
        let names: Vec<String> = ["description", "index", "mtu", "name", "role", "tags"]
            .iter()
            .map(|n| n.to_string())
            .collect();
        let values = [
            Value::Null,
            json!("001"),
            json!(9000),
            json!("Ethernet1"),
            json!("le\"af\u{e9}"),
            json!(["a", {"b": null}]),
        ];
        let given: Vec<(&String, &Value)> = names.iter().zip(&values).collect();
        let mut image = AttrImage::default();
        for (name, value) in &given {
            if !value.is_null() {
                image.data.insert((*name).clone(), (*value).clone());
            }
        }
        let id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let mut by_image = AttrRows::default();
        by_image.put(conn, id, "main", "K", &image).expect("put");
        let mut direct = AttrRows::default();
        direct.put_new(id, "b1", "K", &given).expect("put_new");
        assert_eq!(by_image.put.len(), 1);
        assert_eq!(direct.put.len(), 1);
        let text = |row: &Row<'_, 5>| match &row[3] {
            ToSqlOutput::Owned(rusqlite::types::Value::Text(text)) => text.clone(),
            other => panic!("the data column is not text: {other:?}"),
        };
        assert_eq!(text(&direct.put[0]), text(&by_image.put[0]));
        assert!(matches!(
            direct.put[0][4],
            ToSqlOutput::Owned(rusqlite::types::Value::Null)
                | ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Null)
        ));
        direct.write(conn).expect("written");
        let (kind, read_back) = read(conn, id, "b1").expect("read").expect("a row");
        assert_eq!(kind, "K");
        assert_eq!(read_back, image);

        let nothing = [Value::Null, Value::Null];
        let unset: Vec<(&String, &Value)> = names.iter().zip(&nothing).collect();
        let mut none = AttrRows::default();
        none.put_new(id, "b2", "K", &unset).expect("put_new");
        assert!(none.put.is_empty());
    }

    /// Writing a row keeps its index in step; removing it removes its entries.
    #[test]
    fn a_row_and_its_value_index_change_together() {
        let db = store();
        let conn = &db.conn;
        let mut image = AttrImage::default();
        image.data.insert("name".into(), json!("spine1"));
        let mut rows = AttrRows::default();
        rows.put(conn, "n1", "main", "K", &image).expect("a row");
        rows.write(conn).expect("write");
        let (spine1, spine2) = (json!("spine1"), json!("spine2"));
        let mut writes = KeyWrites::default();
        writes.change(("n1", "main", "K", "name"), None, &spine1);
        writes.write(conn).expect("index");
        let mut writes = KeyWrites::default();
        writes.change(("n1", "main", "K", "name"), Some(spine1.clone()), &spine2);
        writes.write(conn).expect("reindex");
        let keys = |conn: &Connection| -> Vec<String> {
            conn.prepare("SELECT key FROM value_key ORDER BY key")
                .expect("prepare")
                .query_map([], |r| r.get(0))
                .expect("query")
                .collect::<rusqlite::Result<_>>()
                .expect("rows")
        };
        assert_eq!(keys(conn), ["spine2"]);
        let (marker, role) = (json!(["mtu"]), json!("leaf"));
        let mut writes = KeyWrites::default();
        writes.change(
            ("n1", "main", "K", crate::profiles::FROM_PROFILE),
            None,
            &marker,
        );
        writes.change(("n1", "main", "K", "role"), None, &role);
        writes.write(conn).expect("a commit's entries");
        assert_eq!(
            keys(conn),
            ["leaf", "spine2"],
            "the profile's marker is not indexed"
        );
        let mut writes = KeyWrites::default();
        writes.change(
            ("n1", "main", "K", "role"),
            Some(role.clone()),
            &Value::Null,
        );
        writes.write(conn).expect("unindex");
        image.data.insert("name".into(), json!("spine2"));
        let mut rows = AttrRows::default();
        rows.put(conn, "n1", "main", "K", &image).expect("a row");
        rows.write(conn).expect("write");
        remove(conn, "n1", None).expect("remove");
        assert!(keys(conn).is_empty());
        assert_eq!(read(conn, "n1", "main").expect("read"), None);
    }

    /// The value index keyed by names (`attr_key`) moves under numbers, one per kind and
    /// attribute, each given once: entries written afterwards use the same number, an
    /// attribute never indexed has none (removing a value of it writes nothing), and a
    /// second move finds nothing to do.
    #[test]
    fn an_index_keyed_by_names_moves_under_numbers_given_once() {
        let mut db = store();
        let conn = &mut db.conn;
        conn.execute_batch(
            "INSERT INTO attr_key (kind, name, key, branch, id) VALUES
               ('K', 'name', 'leaf1', 'main', 'n1'),
               ('K', 'name', 'leaf2', 'main', 'n2'),
               ('K', 'role', 'leaf', 'main', 'n1'),
               ('J', 'name', 'leaf1', 'b1', 'n3');",
        )
        .expect("old entries");
        assert!(migrate_value_index(conn).expect("moved"));
        assert!(!migrate_value_index(conn).expect("nothing left"));
        let (leaf3, spine) = (json!("leaf3"), json!("spine"));
        let mut writes = KeyWrites::default();
        writes.change(("n4", "main", "K", "name"), None, &leaf3);
        writes.change(("n4", "main", "L", "name"), None, &spine);
        writes.change(
            ("n4", "main", "M", "name"),
            Some(json!("gone")),
            &Value::Null,
        );
        writes.write(conn).expect("new entries");
        let entries: Vec<(String, String, String, String, String)> = conn
            .prepare(
                "SELECT n.kind, n.name, v.key, v.branch, v.id FROM value_key v \
                 JOIN attr_name n ON n.n = v.attr ORDER BY v.attr, v.key, v.branch, v.id",
            )
            .expect("prepare")
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        let expected = [
            ("J", "name", "leaf1", "b1", "n3"),
            ("K", "name", "leaf1", "main", "n1"),
            ("K", "name", "leaf2", "main", "n2"),
            ("K", "name", "leaf3", "main", "n4"),
            ("K", "role", "leaf", "main", "n1"),
            ("L", "name", "spine", "main", "n4"),
        ];
        assert_eq!(
            entries,
            expected
                .iter()
                .map(|(a, b, c, d, e)| (
                    a.to_string(),
                    b.to_string(),
                    c.to_string(),
                    d.to_string(),
                    e.to_string()
                ))
                .collect::<Vec<_>>()
        );
        let names: Vec<(i64, String, String)> = conn
            .prepare("SELECT n, kind, name FROM attr_name ORDER BY n")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        let names: Vec<(i64, &str, &str)> = names
            .iter()
            .map(|(n, k, a)| (*n, k.as_str(), a.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (1, "J", "name"),
                (2, "K", "name"),
                (3, "K", "role"),
                (4, "L", "name")
            ],
            "one number per kind and attribute, none for M.name"
        );
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM attr_key", [], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 0);
    }
}
