//! Node ids as the graph's SQLite tables hold them.
//!
//! The store's ids are version 7 UUIDs in their canonical text: 36 lowercase, hyphenated
//! characters (see [`crate::node::new_id`]). They are most of the bytes of the graph's keys
//! — a relationship row's key is two of them — and, being ordered by time, ids made
//! together share their first ~26 characters, which every comparison in a B-tree descent
//! reads before it finds a difference. Stored as their 16 bytes (a `BLOB`), a relationship
//! row's key takes ~40% fewer bytes and the shared prefix is ~11 bytes. The seed build's
//! relationship and value-index rows took ~25% less CPU to insert, commit and delete (the
//! `sqlite3` shell, the same rows both ways); the graph's tables of a seed build take 29%
//! fewer pages, and a seed build ~8% less CPU per node write.
//!
//! An id that is not a canonical UUID (a create may name its own id, in any text) is stored
//! as its text. Each id has exactly one stored form, and reading it back gives the id's
//! text exactly: a `BLOB` is only ever the 16 bytes of a canonical UUID, whose text
//! [`text`] rebuilds. SQLite orders every `TEXT` before every `BLOB` and finds no `TEXT`
//! equal to a `BLOB`, so lookups, joins between the tables and uniqueness hold whichever
//! form an id has; among UUIDs, the bytes order as the text does (hex digits, hyphens at
//! fixed places).
//!
//! Every id bound to a statement on `node`, `attrs`, `value_key`, `link`, `ip` or
//! `branch_rows` goes through [`Id`] (or [`key`]), and every id read from them through
//! [`Stored`] (or [`text`]). Stores written before hold text: they are converted once when
//! opened (`convert_text_ids`).

use crate::NodeId;
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, Value, ValueRef};

/// The `meta` key saying the graph's ids are stored in this module's form.
pub const META_KEY: &str = "ids_stored_as_uuid_bytes";

/// An id bound to a statement in its stored form (`params![Id::of(id), branch]`): the
/// bytes are kept here, so binding them copies nothing to the heap.
#[derive(Clone, Copy, Debug)]
pub struct Id<'a>(Form<'a>);

#[derive(Clone, Copy, Debug)]
enum Form<'a> {
    Bytes([u8; 16]),
    Text(&'a str),
}

impl<'a> Id<'a> {
    /// `id` in its stored form.
    pub fn of(id: &'a str) -> Self {
        Id(match uuid_bytes(id) {
            Some(bytes) => Form::Bytes(bytes),
            None => Form::Text(id),
        })
    }
}

impl ToSql for Id<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match &self.0 {
            Form::Bytes(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            Form::Text(text) => ToSqlOutput::from(*text),
        })
    }
}

/// `id`'s stored form, owned (a row gathered for a multi-row insert): the 16 bytes of a
/// canonical UUID, else its text.
pub fn key(id: &str) -> ToSqlOutput<'_> {
    match uuid_bytes(id) {
        Some(bytes) => ToSqlOutput::Owned(Value::Blob(bytes.to_vec())),
        None => ToSqlOutput::from(id),
    }
}

/// An id read back from its stored form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored(pub String);

impl FromSql for Stored {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        text(value).map(Stored)
    }
}

/// An id read back from its stored form as a [`NodeId`]: a UUID's text is spelled out in
/// place, with no `String` made for it.
impl FromSql for NodeId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        with_text(value, NodeId::new)
    }
}

/// The id whose stored form is `value`.
pub fn text(value: ValueRef<'_>) -> FromSqlResult<String> {
    with_text(value, str::to_owned)
}

/// `make` given the text of the id whose stored form is `value`: a UUID's is spelled out on
/// the stack.
fn with_text<T>(value: ValueRef<'_>, make: impl FnOnce(&str) -> T) -> FromSqlResult<T> {
    match value {
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(make)
            .map_err(|e| FromSqlError::Other(Box::new(e))),
        ValueRef::Blob(b) => {
            let bytes: [u8; 16] = b.try_into().map_err(|_| FromSqlError::InvalidBlobSize {
                expected_size: 16,
                blob_size: b.len(),
            })?;
            let mut buffer = uuid::Uuid::encode_buffer();
            Ok(make(
                uuid::Uuid::from_bytes(bytes)
                    .hyphenated()
                    .encode_lower(&mut buffer),
            ))
        }
        _ => Err(FromSqlError::InvalidType),
    }
}

/// The 16 bytes of `id` when it is a UUID in canonical text (lowercase, hyphenated), whose
/// text [`text`] gives back exactly; `None` for any other text. Every id bound to a statement
/// passes through here (~1% of a seed build's samples at first): the digits are read at
/// fixed places through a table, and checked once at the end.
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    /// Where each byte's two digits are in the text: after 4, 6, 8 and 10 bytes, a hyphen.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let b = id.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let mut out = [0u8; 16];
    let mut invalid = 0;
    for (byte, at) in out.iter_mut().zip(AT) {
        let (high, low) = (HEX[usize::from(b[at])], HEX[usize::from(b[at + 1])]);
        invalid |= high | low;
        *byte = high << 4 | low;
    }
    (invalid & NOT_HEX == 0).then_some(out)
}

/// Marks a byte that is not a lowercase hexadecimal digit in [`HEX`] (uppercase ones would
/// not round-trip).
const NOT_HEX: u8 = 0x10;

/// Each byte's value as a lowercase hexadecimal digit, or [`NOT_HEX`].
const HEX: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut digit = 0;
    while digit < 10 {
        table[b'0' as usize + digit] = digit as u8;
        digit += 1;
    }
    let mut letter = 0;
    while letter < 6 {
        table[b'a' as usize + letter] = 10 + letter as u8;
        letter += 1;
    }
    table
};

/// The graph's id columns: each table and its columns holding node ids.
pub const ID_COLUMNS: [(&str, &[&str]); 7] = [
    ("node", &["id"]),
    ("attrs", &["id"]),
    ("attr_key", &["id"]),
    ("value_key", &["id"]),
    ("link", &["src", "dst"]),
    ("ip", &["id"]),
    ("branch_rows", &["id"]),
];

/// Converts the ids a store written before this form holds as text into their stored form,
/// in the caller's transaction; true when anything was converted. Each table is read once;
/// only rows holding a canonical UUID as text are written.
pub(crate) fn convert_text_ids(conn: &Connection) -> rusqlite::Result<bool> {
    conn.create_scalar_function(
        "infragen_id_key",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => match std::str::from_utf8(t).ok().and_then(uuid_bytes) {
                    Some(bytes) => Value::Blob(bytes.to_vec()),
                    None => Value::Text(String::from_utf8_lossy(t).into_owned()),
                },
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                ValueRef::Integer(i) => Value::Integer(i),
                ValueRef::Real(r) => Value::Real(r),
                ValueRef::Null => Value::Null,
            })
        },
    )?;
    let mut converted = 0;
    for (table, columns) in ID_COLUMNS {
        let set = columns
            .iter()
            .map(|c| format!("{c} = infragen_id_key({c})"))
            .collect::<Vec<_>>()
            .join(", ");
        let any_text = columns
            .iter()
            .map(|c| format!("(typeof({c}) = 'text' AND typeof(infragen_id_key({c})) = 'blob')"))
            .collect::<Vec<_>>()
            .join(" OR ");
        converted += conn.execute(&format!("UPDATE {table} SET {set} WHERE {any_text}"), [])?;
    }
    conn.remove_function("infragen_id_key", 1)?;
    Ok(converted > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: &str) -> Value {
        match key(id) {
            ToSqlOutput::Owned(v) => v,
            ToSqlOutput::Borrowed(ValueRef::Text(t)) => {
                Value::Text(String::from_utf8(t.to_vec()).expect("UTF-8"))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The id stored as `v`, read back as text; read as a [`NodeId`] it is the same text.
    fn back(v: &Value) -> String {
        let text = text(ValueRef::from(v)).expect("an id");
        let id = NodeId::column_result(ValueRef::from(v)).expect("an id");
        assert_eq!(id.as_str(), text);
        text
    }

    #[test]
    fn canonical_uuids_are_stored_as_their_bytes_and_read_back_exactly() {
        for _ in 0..100 {
            let id = crate::node::new_id();
            let v = stored(&id);
            let Value::Blob(bytes) = &v else {
                panic!("{id}: {v:?}")
            };
            assert_eq!(
                bytes.as_slice(),
                uuid::Uuid::parse_str(&id).unwrap().as_bytes()
            );
            assert_eq!(back(&v), id);
        }
    }

    #[test]
    fn any_other_text_is_stored_as_itself() {
        for id in [
            "",
            "my-device",
            // Uppercase digits, braces, no hyphens, a hyphen moved, one digit short or more.
            "01A24566-1E7E-7652-B5D6-F53888C18EA3",
            "{01a24566-1e7e-7652-b5d6-f53888c18ea3}",
            "01a245661e7e7652b5d6f53888c18ea3",
            "01a24566-1e7e7-652-b5d6-f53888c18ea3",
            "01a24566-1e7e-7652-b5d6-f53888c18ea",
            "01a24566-1e7e-7652-b5d6-f53888c18ea3a",
            "01a24566-1e7e-7652-b5d6-f53888c18eg3",
            "01a24566-1e7e-7652-b5d6-f53888c1-ea3",
        ] {
            assert_eq!(stored(id), Value::Text(id.to_owned()), "{id}");
            assert_eq!(back(&stored(id)), id);
        }
    }

    #[test]
    fn uuids_stored_as_bytes_order_as_their_text() {
        let mut ids: Vec<String> = (0..200).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        ids.sort();
        let mut bytes: Vec<Vec<u8>> = ids
            .iter()
            .map(|id| match stored(id) {
                Value::Blob(b) => b,
                other => panic!("{other:?}"),
            })
            .collect();
        let in_text_order = bytes.clone();
        bytes.sort();
        assert_eq!(bytes, in_text_order);
    }

    #[test]
    fn a_blob_of_another_size_is_an_error_not_an_id() {
        assert!(matches!(
            text(ValueRef::Blob(&[1, 2, 3])),
            Err(FromSqlError::InvalidBlobSize {
                expected_size: 16,
                blob_size: 3
            })
        ));
        assert!(matches!(
            text(ValueRef::Integer(7)),
            Err(FromSqlError::InvalidType)
        ));
    }

    #[test]
    fn text_ids_of_a_store_written_before_are_converted_once() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE node (id TEXT, branch TEXT, PRIMARY KEY (id, branch)) WITHOUT ROWID;
             CREATE TABLE attrs (id TEXT PRIMARY KEY) WITHOUT ROWID;
             CREATE TABLE attr_key (id TEXT PRIMARY KEY) WITHOUT ROWID;
             CREATE TABLE value_key (id TEXT PRIMARY KEY) WITHOUT ROWID;
             CREATE TABLE link (src TEXT, dst TEXT, PRIMARY KEY (src, dst)) WITHOUT ROWID;
             CREATE TABLE ip (id TEXT PRIMARY KEY) WITHOUT ROWID;
             CREATE TABLE branch_rows (id TEXT PRIMARY KEY) WITHOUT ROWID;",
        )
        .unwrap();
        let (a, b) = (crate::node::new_id(), crate::node::new_id());
        let own = "my-own-id";
        conn.execute(
            "INSERT INTO node VALUES (?1, 'main'), (?2, 'main'), (?3, 'b1')",
            [&a, &b, own],
        )
        .unwrap();
        conn.execute("INSERT INTO link VALUES (?1, ?2), (?3, ?1)", [&a, &b, own])
            .unwrap();
        conn.execute("INSERT INTO ip VALUES (?1)", [&b]).unwrap();
        assert!(convert_text_ids(&conn).unwrap());
        let rows = |sql: &str| -> Vec<(String, String)> {
            let mut st = conn.prepare(sql).unwrap();
            st.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Stored>(1)?.0))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
        };
        let mut expected = vec![
            ("blob".to_owned(), a.clone()),
            ("blob".to_owned(), b.clone()),
            ("text".to_owned(), own.to_owned()),
        ];
        expected.sort_by(|x, y| x.1.cmp(&y.1));
        let mut found = rows("SELECT typeof(id), id FROM node");
        found.sort_by(|x, y| x.1.cmp(&y.1));
        assert_eq!(found, expected);
        assert_eq!(
            rows("SELECT typeof(src) || typeof(dst), src FROM link ORDER BY typeof(src)"),
            [
                ("blobblob".to_owned(), a.clone()),
                ("textblob".to_owned(), own.to_owned())
            ]
        );
        // Found by their stored form, and nothing left to convert.
        let count: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM link l JOIN node n ON n.id = l.dst WHERE l.src = ?1",
                [Id::of(&a)],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(count, 1);
        assert!(!convert_text_ids(&conn).unwrap());
        // The function used for the conversion is gone with it.
        assert!(
            conn.query_row("SELECT infragen_id_key('x')", [], |_| Ok(()))
                .is_err()
        );
    }
}
