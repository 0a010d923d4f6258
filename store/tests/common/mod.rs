//! Shared test helpers: a store with the fixture schema, and one-line GraphQL calls.
#![allow(dead_code)]

pub mod session;

use infragen_store::{GraphqlRequest, Store};
use serde_json::Value;

pub const DCIM: &str = include_str!("../fixtures/dcim.yml");

/// An in-memory store with the fixture schema loaded.
pub fn store() -> Store {
    let s = Store::in_memory().expect("in-memory store");
    s.load_schema(&[("dcim.yml".to_string(), DCIM.to_string())])
        .expect("fixture schema loads");
    s
}

/// A store in the file at `path`, with the fixture schema.
pub fn file_store(path: &std::path::Path) -> Store {
    let s = Store::open(path).expect("store");
    s.load_schema(&[("dcim.yml".to_string(), DCIM.to_string())])
        .expect("schema");
    s
}

/// Run a document on a branch; return the full response.
pub fn gql(s: &Store, branch: &str, query: &str) -> Value {
    s.execute_blocking(branch, &GraphqlRequest::new(query))
}

/// Run a document with variables.
pub fn gql_vars(s: &Store, branch: &str, query: &str, vars: Value) -> Value {
    s.execute_blocking(branch, &GraphqlRequest::new(query).with_variables(vars))
}

/// `<Kind>Create` on `branch` with `data` (the input's fields, in GraphQL syntax), which
/// must succeed; returns the new node's id.
pub fn create_node(s: &Store, branch: &str, kind: &str, data: &str) -> String {
    let d = ok(
        s,
        branch,
        &format!(r#"mutation {{ {kind}Create(data: {{ {data} }}) {{ ok object {{ id }} }} }}"#),
    );
    d[format!("{kind}Create")]["object"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Run a document that must succeed; return `data`.
pub fn ok(s: &Store, branch: &str, query: &str) -> Value {
    let r = gql(s, branch, query);
    assert!(r.get("errors").is_none(), "unexpected errors: {r:#}");
    r["data"].clone()
}

/// The id of the one node of `kind` whose `attr` is `value`, on main.
pub fn node_id(s: &Store, kind: &str, attr: &str, value: &str) -> String {
    let d = ok(
        s,
        "main",
        &format!(r#"{{ {kind}({attr}__value: "{value}") {{ edges {{ node {{ id }} }} }} }}"#),
    );
    d[kind]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no {kind} with {attr} {value}: {d}"))
        .to_owned()
}

/// The messages of a response's errors.
pub fn errors(r: &Value) -> Vec<String> {
    r["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Upsert a device by name; return its id.
pub fn device(s: &Store, branch: &str, name: &str, extra: &str) -> String {
    let d = ok(
        s,
        branch,
        &format!(
            r#"mutation {{ DcimDeviceUpsert(data: {{ name: {{ value: "{name}" }} {extra} }}) {{ ok object {{ id }} }} }}"#
        ),
    );
    d["DcimDeviceUpsert"]["object"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Upsert an interface of a device; return its id.
pub fn interface(s: &Store, branch: &str, device_id: &str, name: &str) -> String {
    let d = ok(
        s,
        branch,
        &format!(
            r#"mutation {{ DcimPhysicalInterfaceUpsert(data: {{ name: {{ value: "{name}" }} device: {{ id: "{device_id}" }} }}) {{ ok object {{ id }} }} }}"#
        ),
    );
    d["DcimPhysicalInterfaceUpsert"]["object"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Names of the nodes in `data[kind].edges`.
pub fn names(data: &Value, kind: &str) -> Vec<String> {
    data[kind]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            e["node"]["name"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// `RelationshipAdd` (`add`) or `RelationshipRemove` of `member` to the `members` of group
/// `group`, on `branch`.
pub fn group_member(s: &Store, branch: &str, group: &str, member: &str, add: bool) {
    ok(s, branch, &group_member_document(group, member, add));
}

/// The document [`group_member`] sends.
pub fn group_member_document(group: &str, member: &str, add: bool) -> String {
    let op = if add {
        "RelationshipAdd"
    } else {
        "RelationshipRemove"
    };
    format!(
        r#"mutation {{ {op}(data: {{id: "{group}", name: "members", nodes: [{{id: "{member}"}}]}}) {{ ok }} }}"#
    )
}

/// A small deterministic generator (xorshift64*) for the model tests, so that a failing
/// seed can be replayed.
pub struct Rng(u64);

impl Rng {
    /// The generator for `seed` (any value, zero included).
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// Turns the store file at `path` back into the form stores were written in before ids
/// were stored as a UUID's bytes (see `infragen_store::stored_id`): every id of the graph's
/// tables as its text, and no note that they were converted, so the next open converts them.
pub fn ids_as_text(path: &std::path::Path) {
    use rusqlite::functions::FunctionFlags;
    use rusqlite::types::Value as Sql;
    let conn = rusqlite::Connection::open(path).expect("the file");
    conn.create_scalar_function(
        "id_text",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                rusqlite::types::ValueRef::Null => Sql::Null,
                value => Sql::Text(infragen_store::stored_id::text(value)?),
            })
        },
    )
    .expect("a function");
    for (table, columns) in infragen_store::stored_id::ID_COLUMNS {
        let set: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} = id_text({c})"))
            .collect();
        conn.execute(&format!("UPDATE {table} SET {}", set.join(", ")), [])
            .expect("ids as text");
    }
    conn.execute(
        "DELETE FROM meta WHERE key = ?1",
        [infragen_store::stored_id::META_KEY],
    )
    .expect("no note of the conversion");
}

/// The id a column of the graph's tables holds, whichever form it is stored in.
pub fn stored_id(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<String> {
    Ok(row.get::<_, infragen_store::stored_id::Stored>(column)?.0)
}
