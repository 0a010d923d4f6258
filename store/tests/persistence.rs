//! Persistence in SQLite: reopening keeps schema, data, branches and tokens; concurrent
//! writers lose nothing; another process's commits are picked up.

mod common;

use common::*;
use infragen_store::{GraphqlRequest, Store};
use serde_json::json;

fn temp_store() -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/store.db");
    let s = Store::open(&path).unwrap();
    s.load_schema(&[("dcim.yml".into(), DCIM.into())]).unwrap();
    (dir, path, s)
}

#[test]
fn closing_and_reopening_keeps_schema_data_branches_and_tokens() {
    let (_dir, path, s) = temp_store();
    let d = device(&s, "main", "leaf1", r#"role: {value: "leaf"}"#);
    interface(&s, "main", &d, "eth1");
    s.create_branch("br1").unwrap();
    device(&s, "br1", "leaf2", "");
    let token = s
        .create_token("ci", infragen_store::TokenScope::Admin)
        .unwrap();
    let hash = s.schema().hash.clone();
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema().hash, hash);
    let q =
        "{ DcimDevice { edges { node { name { value } role { value } interfaces { count } } } } }";
    assert_eq!(
        ok(&s, "main", q)["DcimDevice"]["edges"],
        json!([{"node": {"name": {"value": "leaf1"}, "role": {"value": "leaf"}, "interfaces": {"count": 1}}}])
    );
    assert_eq!(names(&ok(&s, "br1", q), "DcimDevice"), ["leaf1", "leaf2"]);
    assert_eq!(
        s.token_account(&token)
            .unwrap()
            .map(|account| account.scope),
        Some(infragen_store::TokenScope::Admin)
    );
    assert_eq!(
        s.token_account("not-a-token")
            .unwrap()
            .map(|account| account.scope),
        None
    );
    // 256 bits from the operating system, as 64 hex digits; never the same twice.
    let another = s
        .create_token("ci", infragen_store::TokenScope::Read)
        .unwrap();
    for t in [&token, &another] {
        assert_eq!(t.len(), 64, "{t}");
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{t}"
        );
    }
    assert_ne!(token, another);
}

/// Commits leave checkpoints to a thread of the store's; dropping the store ends it and
/// the WAL is folded into the database file, which then holds every commit on its own
/// (what an operator copying the file after a command returned relies on).
#[test]
fn a_dropped_store_leaves_every_commit_in_its_database_file() {
    let (_dir, path, s) = temp_store();
    // 800 commits, thousands of WAL frames (below the 16,000 that wake the checkpointing
    // thread: `checkpoint`'s unit tests wake it with lower thresholds); the close folds them.
    for n in 0..400 {
        let d = device(&s, "main", &format!("leaf{n}"), r#"role: {value: "leaf"}"#);
        interface(&s, "main", &d, "eth1");
    }
    drop(s);
    let wal = path.with_file_name("store.db-wal");
    assert!(
        !wal.exists(),
        "{} is left after the store was dropped",
        wal.display()
    );
    let s = Store::open(&path).unwrap();
    let q = "{ DcimDevice { count } DcimInterface { count } }";
    assert_eq!(
        ok(&s, "main", q),
        json!({"DcimDevice": {"count": 400}, "DcimInterface": {"count": 400}})
    );
}

#[test]
fn eight_concurrent_writers_lose_no_write() {
    let (_dir, _path, s) = temp_store();
    let g = ok(&s, "main", r#"mutation { CoreStandardGroupCreate(data: {name: {value: "shared"}}) { object { id } } }"#)["CoreStandardGroupCreate"]["object"]["id"].as_str().unwrap().to_string();
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let s = s.clone();
            let g = g.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let id = device(&s, "main", &format!("w{w}-d{i}"), "");
                    let r = s.execute_blocking("main", &GraphqlRequest::new(format!(r#"mutation {{ RelationshipAdd(data: {{id: "{g}", name: "members", nodes: [{{id: "{id}"}}]}}) {{ ok }} }}"#)));
                    assert!(r.get("errors").is_none(), "{r}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let d = ok(
        &s,
        "main",
        "{ DcimDevice { count } CoreStandardGroup { edges { node { members { count } } } } }",
    );
    assert_eq!(d["DcimDevice"]["count"], 80);
    assert_eq!(
        d["CoreStandardGroup"]["edges"][0]["node"]["members"]["count"],
        80
    );
}

#[test]
fn a_second_handle_on_the_same_file_sees_the_first_ones_commits() {
    let (_dir, path, a) = temp_store();
    let b = Store::open(&path).unwrap();
    device(&a, "main", "from-a", "");
    assert_eq!(
        names(
            &ok(
                &b,
                "main",
                "{ DcimDevice { edges { node { name { value } } } } }"
            ),
            "DcimDevice"
        ),
        ["from-a"]
    );
    device(&b, "main", "from-b", "");
    assert_eq!(
        ok(&a, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        2
    );
}

#[test]
fn writers_on_two_handles_of_one_file_lose_no_write() {
    let (_dir, path, a) = temp_store();
    let b = Store::open(&path).unwrap();
    let g = ok(&a, "main", r#"mutation { CoreStandardGroupCreate(data: {name: {value: "shared"}}) { object { id } } }"#)["CoreStandardGroupCreate"]["object"]["id"].as_str().unwrap().to_string();
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let s = if w % 2 == 0 { a.clone() } else { b.clone() };
            let g = g.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let id = device(&s, "main", &format!("w{w}-d{i}"), "");
                    let r = s.execute_blocking("main", &GraphqlRequest::new(format!(r#"mutation {{ RelationshipAdd(data: {{id: "{g}", name: "members", nodes: [{{id: "{id}"}}]}}) {{ ok }} }}"#)));
                    assert!(r.get("errors").is_none(), "{r}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for s in [&a, &b] {
        let d = ok(
            s,
            "main",
            "{ DcimDevice { count } CoreStandardGroup { edges { node { members { count } } } } }",
        );
        assert_eq!(d["DcimDevice"]["count"], 80);
        assert_eq!(
            d["CoreStandardGroup"]["edges"][0]["node"]["members"]["count"],
            80
        );
    }
}

#[cfg(unix)]
#[test]
fn a_new_store_is_private_to_its_user_and_an_existing_directory_is_left_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("a/b/store.db");
    let s = Store::open(&path).unwrap();
    s.load_schema(&[("dcim.yml".into(), DCIM.into())]).unwrap();
    device(&s, "main", "leaf1", "");
    assert_eq!(mode(&dir.path().join("a")), 0o700);
    assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("a/b/store.db-wal")), 0o600);
    assert_eq!(
        mode(dir.path()),
        0o755,
        "an existing directory keeps its mode"
    );
}

#[test]
fn a_store_that_cannot_be_created_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "not a directory").unwrap();
    let path = dir.path().join("file/store.db");
    let error = Store::open(&path).err().expect("a file is not a directory");
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot create the store {}: ", path.display())),
        "{error}"
    );
}

#[test]
fn tokens_from_before_scopes_keep_every_right() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE tokens (hash TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
         INSERT INTO tokens VALUES ('2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b', 'old', '2026-01-01T00:00:00Z');",
    )
    .unwrap();
    drop(conn);
    let s = Store::open(&path).unwrap();
    // sha256("secret")
    assert_eq!(
        s.token_account("secret")
            .unwrap()
            .map(|account| account.scope),
        Some(infragen_store::TokenScope::Admin)
    );
}

/// A store whose incoming edges were indexed as an earlier version did — by peer and
/// branch alone, or by peer, relationship and branch without `live` — gets `edge_in` at
/// its next open, loses the old index, and answers as before.
#[test]
fn a_store_from_before_edge_in_is_reindexed_once() {
    for old in [
        "CREATE INDEX edge_by_peer ON edge (peer, branch);",
        "CREATE INDEX edge_by_peer_rel ON edge (peer, rel, branch);",
    ] {
        let (_dir, path, s) = temp_store();
        let leaf1 = device(&s, "main", "leaf1", "");
        for name in ["eth0", "eth1"] {
            interface(&s, "main", &leaf1, name);
        }
        drop(s);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!("DROP INDEX edge_in; {old}"))
            .unwrap();
        let indexes = |conn: &rusqlite::Connection| -> Vec<String> {
            conn.prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'edge' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        assert_ne!(indexes(&conn), ["edge_in"], "{old}");
        let s = Store::open(&path).unwrap();
        assert_eq!(indexes(&conn), ["edge_in"], "{old}");
        let listed = ok(
            &s,
            "main",
            r#"{ DcimPhysicalInterface(device__ids: ["LEAF"]) { edges { node { name { value } } } } }"#
                .replace("LEAF", &leaf1)
                .as_str(),
        );
        assert_eq!(
            names(&listed, "DcimPhysicalInterface"),
            ["eth0", "eth1"],
            "{old}"
        );
    }
}

/// A commit writes a node's attribute rows several at a time (16 per statement): a kind
/// with more attributes than that keeps every value, set, changed and unset, on main and
/// on a branch, across reopening the store.
#[test]
fn a_node_with_more_attributes_than_one_statement_writes_keeps_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let names: Vec<String> = (1..=37).map(|i| format!("a{i:02}")).collect();
    let attributes: Vec<String> = names
        .iter()
        .map(|name| format!("      - {{name: {name}, kind: Text, optional: true}}"))
        .collect();
    let schema = format!(
        "version: \"1.0\"\nnodes:\n  - name: Wide\n    namespace: Test\n    \
         human_friendly_id: [a01__value]\n    attributes:\n{}\n",
        attributes.join("\n")
    );
    let s = Store::open(&path).unwrap();
    s.load_schema(&[("wide.yml".into(), schema)]).unwrap();
    let set: Vec<String> = names
        .iter()
        .map(|name| format!("{name}: {{value: \"{name}-v1\"}}"))
        .collect();
    let created = ok(
        &s,
        "main",
        &format!(
            "mutation {{ TestWideCreate(data: {{{}}}) {{ object {{ id }} }} }}",
            set.join(", ")
        ),
    );
    let id = created["TestWideCreate"]["object"]["id"].as_str().unwrap();
    s.create_branch("br1").unwrap();
    // On the branch: 20 changed (more than one statement's rows), 3 unset.
    let changed: Vec<String> = names[..20]
        .iter()
        .map(|name| format!("{name}: {{value: \"{name}-br1\"}}"))
        .chain(
            names[20..23]
                .iter()
                .map(|name| format!("{name}: {{value: null}}")),
        )
        .collect();
    ok(
        &s,
        "br1",
        &format!(
            "mutation {{ TestWideUpdate(data: {{id: \"{id}\", {}}}) {{ ok }} }}",
            changed.join(", ")
        ),
    );
    drop(s);

    let s = Store::open(&path).unwrap();
    let selection: Vec<String> = names
        .iter()
        .map(|name| format!("{name} {{ value }}"))
        .collect();
    let query = format!(
        "{{ TestWide {{ edges {{ node {{ {} }} }} }} }}",
        selection.join(" ")
    );
    let values = |branch: &str| -> Vec<serde_json::Value> {
        let edges = ok(&s, branch, &query)["TestWide"]["edges"].clone();
        assert_eq!(edges.as_array().map(Vec::len), Some(1), "{edges}");
        let node = edges[0]["node"].clone();
        names
            .iter()
            .map(|name| node[name]["value"].clone())
            .collect()
    };
    let on_main: Vec<serde_json::Value> = names
        .iter()
        .map(|name| json!(format!("{name}-v1")))
        .collect();
    let on_branch: Vec<serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| match i {
            0..20 => json!(format!("{name}-br1")),
            20..23 => serde_json::Value::Null,
            _ => json!(format!("{name}-v1")),
        })
        .collect();
    assert_eq!(values("main"), on_main);
    assert_eq!(values("br1"), on_branch);
}

/// Events are stored as binary records; a fresh handle reads back exactly the events the
/// writing one kept, and rows older versions wrote as text (the full event, then the compact
/// JSON form of layout 2) read as before, in their place.
#[test]
fn stored_events_read_back_exactly_in_either_form() {
    let (_dir, path, s) = temp_store();
    let d = device(&s, "main", "leaf1", r#"role: {value: "leaf"}"#);
    interface(&s, "main", &d, "eth1");
    let written = s.events_since(0).unwrap();
    assert!(written.len() >= 2, "{written:?}");
    let fresh = Store::open(&path).unwrap();
    assert_eq!(fresh.events_since(0).unwrap(), written);
    drop((s, fresh));

    let conn = rusqlite::Connection::open(&path).unwrap();
    let records: Vec<(String, Vec<u8>)> = conn
        .prepare("SELECT typeof(data), CAST(data AS BLOB) FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        records
            .iter()
            .all(|(kind, bytes)| kind == "blob" && bytes.first() == Some(&3)),
        "{records:?}"
    );
    // Rows as older versions wrote them: the whole event, numbered in its text too; then
    // the compact JSON form.
    let mut old = written[0].clone();
    old.seq = written.last().unwrap().seq + 1;
    let mut compact = written[1].clone();
    compact.seq = old.seq + 1;
    // Its first field is `v`, as that form wrote it (a JSON map here orders its keys).
    let fields = serde_json::json!({
        "b": compact.branch,
        "a": compact.action,
        "k": compact.kind,
        "i": compact.id,
        "o": compact.origin,
        "at": compact.attributes.iter().map(|a| serde_json::json!(
            [a.name, a.kind, a.value, a.value_previous, a.action]
        )).collect::<Vec<_>>(),
        "r": compact.relationships.iter().map(|r| serde_json::json!(
            [r.name, r.peer_status, r.peer_id, r.peer_kind]
        )).collect::<Vec<_>>(),
    })
    .to_string();
    let compact_text = format!(r#"{{"v":2,{}"#, &fields[1..]);
    conn.execute(
        "INSERT INTO events (seq, data) VALUES (?1, ?2), (?3, ?4)",
        rusqlite::params![
            old.seq,
            serde_json::to_string(&old).unwrap(),
            compact.seq,
            compact_text
        ],
    )
    .unwrap();
    drop(conn);

    let s = Store::open(&path).unwrap();
    device(&s, "main", "leaf2", "");
    let all = s.events_since(0).unwrap();
    assert_eq!(all[..written.len()], written[..]);
    assert_eq!(all[written.len()], old);
    assert_eq!(all[written.len() + 1], compact);
    let after = &all[written.len() + 2..];
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].seq, compact.seq + 1);
    assert_eq!(after[0].name, "infrahub.node.created");
    assert_eq!(Store::open(&path).unwrap().events_since(0).unwrap(), all);
}

/// An upsert of what a node already holds writes nothing: no event, no row, not even a
/// commit another connection could notice (its `data_version` stays), on main and on a
/// branch, where the node is not listed among the branch's changes either; the same upsert
/// with one value changed commits as before.
#[test]
fn an_upsert_that_changes_nothing_commits_nothing() {
    let (_dir, path, s) = temp_store();
    let region = create_node(&s, "main", "LocationRegion", r#"name: { value: "eu" }"#);
    let site = create_node(
        &s,
        "main",
        "LocationSite",
        &format!(r#"name: {{ value: "dc1" }} parent: {{ id: "{region}" }}"#),
    );
    let extra =
        format!(r#"role: {{ value: "leaf" }} asn: {{ value: 65001 }} site: {{ id: "{site}" }}"#);
    let id = device(&s, "main", "leaf1", &extra);
    s.create_branch("br1").unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    let version = || -> i64 {
        other
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .unwrap()
    };
    let branch_rows = || -> i64 {
        other
            .query_row(
                "SELECT COUNT(*) FROM branch_rows WHERE branch = 'br1' AND id = ?1",
                [infragen_store::stored_id::Id::of(&id)],
                |row| row.get(0),
            )
            .unwrap()
    };
    for branch in ["main", "br1"] {
        let (before, seq) = (version(), s.last_event_seq().unwrap());
        assert_eq!(device(&s, branch, "leaf1", &extra), id, "{branch}");
        assert_eq!(
            version(),
            before,
            "an unchanged upsert on {branch} committed"
        );
        assert_eq!(s.last_event_seq().unwrap(), seq, "{branch}");
        assert_eq!(branch_rows(), 0, "{branch}");
    }
    let changed =
        format!(r#"role: {{ value: "spine" }} asn: {{ value: 65001 }} site: {{ id: "{site}" }}"#);
    let (before, seq) = (version(), s.last_event_seq().unwrap());
    assert_eq!(device(&s, "br1", "leaf1", &changed), id);
    assert_ne!(version(), before, "a changed upsert did not commit");
    assert_eq!(s.last_event_seq().unwrap(), seq + 1);
    assert_eq!(branch_rows(), 1);
    let role = |branch: &str| {
        ok(
            &s,
            branch,
            r#"{ DcimDevice(name__value: "leaf1") { edges { node { role { value } } } } }"#,
        )["DcimDevice"]["edges"][0]["node"]["role"]["value"]
            .clone()
    };
    assert_eq!(role("br1"), json!("spine"));
    assert_eq!(role("main"), json!("leaf"));
}

/// A store written before ids were stored as a UUID's bytes (every id as its text) opens
/// with its UUID ids converted and answers as it did, on main and on a branch; an id that is
/// not a UUID (a create may name its own) stays text and is found by it; the branch then
/// merges, and the next open converts nothing.
#[test]
fn a_store_written_with_text_ids_answers_and_merges_the_same_when_opened() {
    let (_dir, path, s) = temp_store();
    let leaf1 = device(&s, "main", "leaf1", r#"role: {value: "leaf"}"#);
    interface(&s, "main", &leaf1, "eth1");
    let own = create_node(
        &s,
        "main",
        "DcimDevice",
        r#"id: "my-device", name: {value: "own1"}"#,
    );
    assert_eq!(own, "my-device");
    interface(&s, "main", &own, "eth9");
    s.create_branch("br1").unwrap();
    let leaf2 = device(&s, "br1", "leaf2", "");
    interface(&s, "br1", &leaf2, "eth2");
    interface(&s, "br1", &own, "eth10");
    ok(
        &s,
        "br1",
        &format!(
            r#"mutation {{ DcimDeviceUpdate(data: {{id: "{leaf1}", role: {{value: "spine"}}}}) {{ ok }} }}"#
        ),
    );
    let query = "{ DcimDevice { edges { node { id name { value } role { value } \
                 interfaces { edges { node { id name { value } device { node { id } } } } } } } } }";
    let answers = |s: &Store| (ok(s, "main", query), ok(s, "br1", query));
    let before = answers(&s);
    drop(s);

    ids_as_text(&path);
    let forms = || -> Vec<(String, i64)> {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut st = conn
            .prepare("SELECT typeof(src) || ' ' || typeof(dst), COUNT(*) FROM link GROUP BY 1")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert_eq!(
        forms(),
        [("text text".to_owned(), 4)],
        "the store as written before"
    );
    let s = Store::open(&path).unwrap();
    assert_eq!(answers(&s), before);
    // Each interface's row with its device: `my-device`'s two stay text at that end.
    assert_eq!(
        forms(),
        [("blob blob".to_owned(), 2), ("blob text".to_owned(), 2)]
    );
    assert_eq!(
        names(
            &ok(
                &s,
                "main",
                r#"{ DcimDevice(ids: ["my-device"]) { edges { node { name { value } } } } }"#
            ),
            "DcimDevice"
        ),
        ["own1"]
    );
    s.merge_branch("br1").unwrap();
    let (main, _) = answers(&s);
    let devices = main["DcimDevice"]["edges"].as_array().unwrap();
    let roles: Vec<(&str, &str, usize)> = devices
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["name"]["value"].as_str().unwrap(),
                n["role"]["value"].as_str().unwrap_or(""),
                n["interfaces"]["edges"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [("leaf1", "spine", 1), ("leaf2", "", 1), ("own1", "", 2)]
    );
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(answers(&s).0, main, "nothing changed by opening again");
}

/// Every table's rows of the store file at `path`, read with SQLite directly (in a fixed
/// order, values as SQLite holds them): what "nothing was changed" compares for a store
/// this binary refuses to open.
fn raw_rows(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                let values = (0..columns)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(format!("{table}: {values:?}"))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        rows.sort();
        out.extend(rows);
    }
    out
}

/// Sets the store's `layout` meta key (`None`: removes it, as in a store from before it).
fn set_layout(path: &std::path::Path, layout: Option<&str>) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute("DELETE FROM meta WHERE key = 'layout'", [])
        .unwrap();
    if let Some(layout) = layout {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('layout', ?1)",
            [layout],
        )
        .unwrap();
    }
}

fn layout_of(path: &std::path::Path) -> Option<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT value FROM meta WHERE key = 'layout'", [], |r| {
        r.get(0)
    })
    .ok()
}

/// A store converted by a newer binary is refused, naming both layouts, before anything
/// reads, converts or creates a table in it: an older binary would misread it (one from
/// before ids were stored as bytes found no node by id in a converted store).
#[test]
fn a_store_in_a_newer_layout_is_refused_and_left_exactly_as_it_was() {
    let (_dir, path, s) = temp_store();
    let leaf = device(&s, "main", "leaf1", r#"role: {value: "leaf"}"#);
    interface(&s, "main", &leaf, "eth1");
    drop(s);
    assert_eq!(
        layout_of(&path).as_deref(),
        Some("3"),
        "a new store notes its layout"
    );
    set_layout(&path, Some("4"));
    // A table an older layout had and the newer one dropped is not created again.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE edge")
        .unwrap();
    let before = raw_rows(&path);

    let error = Store::open(&path).err().expect("a newer layout is refused");
    assert!(
        matches!(
            error,
            infragen_store::StoreError::NewerLayout {
                found: 4,
                known: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "store database {} is in layout 4, written by a newer infragen; this infragen \
             reads layouts up to 3: open it with that newer infragen",
            path.display()
        )
    );
    assert_eq!(raw_rows(&path), before, "nothing read or written");
}

/// A store from before the layout was noted gets it once opened (its older tables
/// converted first); a layout that is not a number is named as a corrupted row.
#[test]
fn a_store_without_a_layout_gets_one_and_an_unreadable_layout_is_named() {
    let (_dir, path, s) = temp_store();
    let leaf = device(&s, "main", "leaf1", "");
    drop(s);
    set_layout(&path, None);
    let s = Store::open(&path).unwrap();
    assert_eq!(
        names(
            &ok(
                &s,
                "main",
                &format!(
                    r#"{{ DcimDevice(ids: ["{leaf}"]) {{ edges {{ node {{ name {{ value }} }} }} }} }}"#
                )
            ),
            "DcimDevice"
        ),
        ["leaf1"]
    );
    drop(s);
    assert_eq!(layout_of(&path).as_deref(), Some("3"));

    set_layout(&path, Some("two"));
    let before = raw_rows(&path);
    let error = Store::open(&path)
        .err()
        .expect("an unreadable layout is refused");
    assert_eq!(
        error.to_string(),
        format!(
            "store database {}: corrupted row: meta `layout` is `two`, not a layout number",
            path.display()
        )
    );
    assert_eq!(raw_rows(&path), before, "nothing read or written");
}
