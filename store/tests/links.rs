//! Relationships stored once: one `link` row per relationship instance, under the identifier
//! both sides share, read from either side; a side declared later lists the peers already
//! linked; stores written with a row per side read, branch and merge the same once opened.

mod common;

use common::*;
use infragen_store::Store;
use serde_json::json;

/// Every relationship row of the store file: (src, identifier, dst, branch, live).
fn link_rows(path: &std::path::Path) -> Vec<(String, String, String, String, bool)> {
    let conn = rusqlite::Connection::open(path).expect("the file");
    let mut rows: Vec<_> = conn
        .prepare(
            "SELECT l.src, r.name, l.dst, l.branch, l.live FROM link l \
             JOIN rel_name r ON r.n = l.rel",
        )
        .expect("prepare")
        .query_map([], |r| {
            Ok((
                stored_id(r, 0)?,
                r.get(1)?,
                stored_id(r, 2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    rows.sort();
    rows
}

/// Names of `kind`'s node `id`'s peers through `rel` (cardinality many) on `branch`.
fn peers(s: &Store, branch: &str, kind: &str, id: &str, rel: &str) -> Vec<String> {
    let d = ok(
        s,
        branch,
        &format!(
            r#"{{ {kind}(ids: ["{id}"]) {{ edges {{ node {{ {rel} {{ edges {{ node {{ display_label }} }} }} }} }} }} }}"#
        ),
    );
    d[kind]["edges"][0]["node"][rel]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{kind} {id} {rel}: {d}"))
        .iter()
        .map(|e| e["node"]["display_label"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The id of `kind`'s node `id`'s peer through `rel` (cardinality one) on `branch`.
fn peer(s: &Store, branch: &str, kind: &str, id: &str, rel: &str) -> serde_json::Value {
    let d = ok(
        s,
        branch,
        &format!(
            r#"{{ {kind}(ids: ["{id}"]) {{ edges {{ node {{ {rel} {{ node {{ id }} }} }} }} }} }}"#
        ),
    );
    d[kind]["edges"][0]["node"][rel]["node"]["id"].clone()
}

/// A new region `r1` and a site `name` in it: (region, site).
fn site_in_new_region(s: &Store, name: &str) -> (String, String) {
    let region = create_node(s, "main", "LocationRegion", r#"name: {value: "r1"}"#);
    let site = create_node(
        s,
        "main",
        "LocationSite",
        &format!(r#"name: {{value: "{name}"}} parent: {{id: "{region}"}}"#),
    );
    (region, site)
}

fn sorted<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a < b { (a, b) } else { (b, a) }
}

/// A device's interfaces, its site and a site's region are three relationships: a row each,
/// whichever sides declare them. Of two bidirectional sides the one whose name sorts first
/// is the row's `src`; a relationship with no other side holds its two ids sorted; a
/// hierarchy's `parent` (outbound) is `src`. Each side reads the row.
#[test]
fn a_relationship_is_one_row_under_its_identifier_read_from_either_side() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let s = file_store(&path);
    let (region, site) = site_in_new_region(&s, "s1");
    let leaf = device(&s, "main", "leaf1", &format!(r#"site: {{id: "{site}"}}"#));
    let eth0 = interface(&s, "main", &leaf, "eth0");
    let eth1 = interface(&s, "main", &leaf, "eth1");

    let rows = link_rows(&path);
    let hierarchy = rows
        .iter()
        .find(|(src, _, dst, _, _)| src == &site && dst == &region)
        .map(|(_, rel, _, _, _)| rel.clone())
        .expect("the site's parent is a row from the site (outbound) to the region");
    let row = |(a, b): (&str, &str), rel: &str| {
        (
            a.to_owned(),
            rel.to_owned(),
            b.to_owned(),
            "main".to_owned(),
            true,
        )
    };
    // An interface's `device` sorts before a device's `interfaces`: the interface is `src`.
    // A device's `site` has no other side: the ids sorted.
    let mut expected = vec![
        row((&eth0, &leaf), "device__interface"),
        row((&eth1, &leaf), "device__interface"),
        row(sorted(&leaf, &site), "device__site"),
        row((&site, &region), &hierarchy),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    let conn = rusqlite::Connection::open(&path).expect("the file");
    let old: i64 = conn
        .query_row("SELECT COUNT(*) FROM edge", [], |r| r.get(0))
        .expect("count");
    assert_eq!(old, 0, "no row per side");

    assert_eq!(
        peers(&s, "main", "DcimDevice", &leaf, "interfaces"),
        ["eth0", "eth1"]
    );
    assert_eq!(
        peer(&s, "main", "DcimPhysicalInterface", &eth1, "device"),
        json!(leaf)
    );
    assert_eq!(peer(&s, "main", "DcimDevice", &leaf, "site"), json!(site));
    assert_eq!(
        peer(&s, "main", "LocationSite", &site, "parent"),
        json!(region)
    );
    assert_eq!(
        peers(&s, "main", "LocationRegion", &region, "children"),
        ["s1"]
    );
    // Removing the interface removes the one row; its device no longer lists it.
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ DcimPhysicalInterfaceDelete(data: {{id: "{eth0}"}}) {{ ok }} }}"#),
    );
    assert_eq!(
        peers(&s, "main", "DcimDevice", &leaf, "interfaces"),
        ["eth1"]
    );
    assert_eq!(link_rows(&path).len(), 3);
}

/// The schema that declares a site's devices, the other side of a device's `site`.
const SITE_DEVICES: &str = r#"
version: "1.0"
extensions:
  nodes:
    - kind: LocationSite
      relationships:
        - {name: devices, peer: DcimDevice, cardinality: many, identifier: device__site}
"#;

/// A relationship's other side declared after peers were linked through the first (a schema
/// loaded since) lists them, on main and on a branch, and writes through it show on the
/// first side. With a row per side, the site listed no device: its side had never been
/// written.
#[test]
fn a_side_declared_later_lists_the_peers_already_linked() {
    let s = store();
    let (region, site) = site_with_a_device_on_each_branch(&s);
    let other = create_node(
        &s,
        "main",
        "LocationSite",
        &format!(r#"name: {{value: "s2"}} parent: {{id: "{region}"}}"#),
    );
    declare_and_read_the_sites_devices(&s, &site);

    // Moved from the new side: the device's own side follows.
    let leaf1 = node_id(&s, "DcimDevice", "name", "leaf1");
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ LocationSiteUpdate(data: {{id: "{other}", devices: [{{id: "{leaf1}"}}]}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(peer(&s, "main", "DcimDevice", &leaf1, "site"), json!(other));
    assert_eq!(
        peers(&s, "main", "LocationSite", &site, "devices"),
        Vec::<String>::new()
    );
    assert_eq!(
        peers(&s, "main", "LocationSite", &other, "devices"),
        ["leaf1"]
    );
}

/// A store written before a commit on a branch listed both ends of its relationship rows
/// with the branch (`branch_rows`): the site a device made on the branch links to, through
/// a side the site did not declare yet, was not listed, and once a schema declared the side
/// the branch read main's view of the site (its devices without the branch's). Opening the
/// store lists it, once.
#[test]
fn a_store_that_did_not_list_a_relationship_rows_far_end_lists_it_once_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let (_, site) = site_with_a_device_on_each_branch(&file_store(&path));
    // As such a store was left: the site, which has no rows of its own on br1, not listed
    // with it (the commit listed it), and the repair not noted.
    let conn = rusqlite::Connection::open(&path).expect("the file");
    let unlisted = conn
        .execute(
            "DELETE FROM branch_rows WHERE branch = 'br1' \
             AND id NOT IN (SELECT id FROM node WHERE branch = 'br1')",
            [],
        )
        .expect("unlist");
    assert_eq!(
        unlisted, 1,
        "only the site is listed without rows of its own"
    );
    conn.execute("DELETE FROM meta WHERE key = 'branch_rows_link_ends'", [])
        .expect("the repair unnoted");
    drop(conn);

    declare_and_read_the_sites_devices(&file_store(&path), &site);
}

/// Region `r1` and its site `s1` on main, device `leaf1` at the site on main and `leaf2`
/// made at it on branch `br1` (the site declares no side for its devices yet); answers the
/// region's and the site's ids.
fn site_with_a_device_on_each_branch(s: &Store) -> (String, String) {
    let region = create_node(s, "main", "LocationRegion", r#"name: {value: "r1"}"#);
    let site = create_node(
        s,
        "main",
        "LocationSite",
        &format!(r#"name: {{value: "s1"}} parent: {{id: "{region}"}}"#),
    );
    device(s, "main", "leaf1", &format!(r#"site: {{id: "{site}"}}"#));
    s.create_branch("br1").unwrap();
    device(s, "br1", "leaf2", &format!(r#"site: {{id: "{site}"}}"#));
    (region, site)
}

/// Loads the sites' side of their devices and reads `site`'s devices on main, then on
/// `br1`. In between, an update of the site to what it holds (it writes nothing) reads it
/// on main as a run's writes do, keeping main's view in the node cache (a query keeps
/// nothing it loads): the branch's read may then find main's view there.
fn declare_and_read_the_sites_devices(s: &Store, site: &str) {
    s.load_schema(&[("sites.yml".to_string(), SITE_DEVICES.to_string())])
        .expect("the extension loads");
    assert_eq!(peers(s, "main", "LocationSite", site, "devices"), ["leaf1"]);
    let events = s.last_event_seq().expect("events");
    ok(
        s,
        "main",
        &format!(
            r#"mutation {{ LocationSiteUpdate(data: {{id: "{site}", name: {{value: "s1"}}}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(
        s.last_event_seq().expect("events"),
        events,
        "nothing written"
    );
    assert_eq!(
        peers(s, "br1", "LocationSite", site, "devices"),
        ["leaf1", "leaf2"]
    );
}

/// Turns a store's relationship rows back into the layout stores were written in before
/// `link`: a row per side a kind declares, `rel` its name, `peer` the other end (this
/// schema's relationships: a device's interfaces and an interface's device, a device's
/// site with no other side, a site's parent and a region's children).
fn to_rows_per_side(path: &std::path::Path) {
    ids_as_text(path);
    let conn = rusqlite::Connection::open(path).expect("the file");
    type Row = (String, String, String, String, i64, bool, Option<bool>);
    let rows: Vec<Row> = conn
        .prepare(
            "SELECT l.src, r.name, l.dst, l.branch, l.pos, l.live, l.base FROM link l \
             JOIN rel_name r ON r.n = l.rel",
        )
        .expect("prepare")
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
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    assert!(
        !rows.is_empty(),
        "the store has relationship rows to turn back"
    );
    let kind = |id: &str| -> String {
        conn.query_row("SELECT kind FROM node WHERE id = ?1 LIMIT 1", [id], |r| {
            r.get(0)
        })
        .expect("a kind")
    };
    for (src, rel, dst, branch, pos, live, base) in rows {
        let (device, other) = if kind(&src) == "DcimDevice" {
            (src.clone(), dst.clone())
        } else {
            (dst.clone(), src.clone())
        };
        let sides: Vec<(&str, &str, &str)> = match rel.as_str() {
            "device__interface" => {
                vec![(&device, "interfaces", &other), (&other, "device", &device)]
            }
            "device__site" => vec![(&device, "site", &other)],
            // A hierarchy's `parent` is outbound: the child is `src`.
            "parent__child" => vec![(&src, "parent", &dst), (&dst, "children", &src)],
            other => panic!("no side for {other}"),
        };
        for (id, name, peer) in sides {
            conn.execute(
                "INSERT INTO edge (id, rel, peer, branch, pos, live, base) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![id, name, peer, branch, pos, live, base],
            )
            .expect("a side's row");
        }
    }
    conn.execute("DELETE FROM link", [])
        .expect("the new rows gone");
}

/// Turns a store's relationship rows back into the layout stores were written in before
/// layout 3: `link.rel` the identifier itself, no `rel_name`.
fn to_rel_names(path: &std::path::Path) {
    rusqlite::Connection::open(path)
        .expect("the file")
        .execute_batch(
            "CREATE TABLE link_by_name ( \
                 src TEXT NOT NULL, rel TEXT NOT NULL, dst TEXT NOT NULL, branch TEXT NOT NULL, \
                 pos INTEGER NOT NULL, live INTEGER NOT NULL, base INTEGER, \
                 PRIMARY KEY (src, rel, dst, branch) \
             ) WITHOUT ROWID; \
             INSERT INTO link_by_name SELECT l.src, r.name, l.dst, l.branch, l.pos, l.live, l.base \
                 FROM link l JOIN rel_name r ON r.n = l.rel; \
             DROP TABLE link; \
             ALTER TABLE link_by_name RENAME TO link; \
             CREATE INDEX link_in ON link (dst, rel, branch, live, pos); \
             DELETE FROM rel_name; \
             UPDATE meta SET value = '2' WHERE key = 'layout';",
        )
        .expect("the rows as layout 2 kept them");
}

/// Writes main's and a branch's relationships to a store file, turns its rows back into an
/// older layout with `back`, opens it again and checks what it reads: main's peers, a
/// branch's additions and removals over them, main's later change showing where the branch
/// changed nothing, and a merge per edge. `moved` checks the file once opened.
fn reads_and_merges_the_same_once_opened(
    back: impl FnOnce(&std::path::Path),
    moved: impl FnOnce(&std::path::Path),
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let (leaf1, leaf2, site) = {
        let s = file_store(&path);
        let (_, site) = site_in_new_region(&s, "s1");
        let leaf1 = device(&s, "main", "leaf1", &format!(r#"site: {{id: "{site}"}}"#));
        let leaf2 = device(&s, "main", "leaf2", "");
        for name in ["eth0", "eth1"] {
            interface(&s, "main", &leaf1, name);
        }
        s.create_branch("br1").unwrap();
        interface(&s, "br1", &leaf1, "eth2");
        let eth0 = node_id(&s, "DcimPhysicalInterface", "name", "eth0");
        ok(
            &s,
            "br1",
            &format!(
                r#"mutation {{ DcimPhysicalInterfaceUpdate(data: {{id: "{eth0}", device: {{id: "{leaf2}"}}}}) {{ ok }} }}"#
            ),
        );
        (leaf1, leaf2, site)
    };
    back(&path);
    let s = Store::open(&path).expect("store reopened");
    moved(&path);
    assert_eq!(
        peers(&s, "main", "DcimDevice", &leaf1, "interfaces"),
        ["eth0", "eth1"]
    );
    assert_eq!(peer(&s, "main", "DcimDevice", &leaf1, "site"), json!(site));
    assert_eq!(
        peers(&s, "br1", "DcimDevice", &leaf1, "interfaces"),
        ["eth1", "eth2"]
    );
    assert_eq!(
        peers(&s, "br1", "DcimDevice", &leaf2, "interfaces"),
        ["eth0"]
    );
    assert_eq!(
        peers(&s, "main", "DcimDevice", &leaf2, "interfaces"),
        Vec::<String>::new()
    );
    // Main's later change shows on the branch, which did not change that relationship.
    interface(&s, "main", &leaf2, "eth9");
    assert_eq!(
        peers(&s, "br1", "DcimDevice", &leaf2, "interfaces"),
        ["eth0", "eth9"]
    );
    s.merge_branch("br1").unwrap();
    assert_eq!(
        peers(&s, "main", "DcimDevice", &leaf1, "interfaces"),
        ["eth1", "eth2"]
    );
    assert_eq!(
        peers(&s, "main", "DcimDevice", &leaf2, "interfaces"),
        ["eth0", "eth9"]
    );
}

/// A store written with a row per side opens with a row per relationship, and reads and
/// merges as it did. Fails when the rows are not moved: every relationship then reads empty.
#[test]
fn a_store_written_with_a_row_per_side_reads_and_merges_the_same_when_opened() {
    reads_and_merges_the_same_once_opened(to_rows_per_side, |path| {
        let old: i64 = rusqlite::Connection::open(path)
            .expect("the file")
            .query_row("SELECT COUNT(*) FROM edge", [], |r| r.get(0))
            .expect("count");
        assert_eq!(old, 0, "the rows per side are moved");
    });
}

/// A store whose relationship rows hold their identifier as text (layout 2) opens with
/// each row under its identifier's number — the same rows, each identifier numbered once,
/// the layout noted — and reads and merges as it did. Fails when the rows are not moved:
/// every relationship then reads empty.
#[test]
fn a_store_whose_rows_name_their_identifier_moves_them_under_numbers_when_opened() {
    let written = std::cell::RefCell::new(Vec::new());
    reads_and_merges_the_same_once_opened(
        |path| {
            *written.borrow_mut() = link_rows(path);
            to_rel_names(path);
        },
        |path| {
            assert_eq!(link_rows(path), *written.borrow(), "the same rows");
            let conn = rusqlite::Connection::open(path).expect("the file");
            let count =
                |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect("a count") };
            assert_eq!(
                count("SELECT COUNT(*) FROM link WHERE typeof(rel) <> 'integer'"),
                0,
                "every row keyed by number"
            );
            assert_eq!(
                count("SELECT COUNT(*) FROM rel_name"),
                count("SELECT COUNT(DISTINCT rel) FROM link"),
                "each identifier numbered once"
            );
            let layout: String = conn
                .query_row("SELECT value FROM meta WHERE key = 'layout'", [], |r| {
                    r.get(0)
                })
                .expect("the layout noted");
            assert_eq!(layout, "3");
            assert_eq!(link_in_index(&conn).as_deref(), Some(LINK_IN));
        },
    );
    let identifiers: std::collections::BTreeSet<String> = written
        .into_inner()
        .into_iter()
        .map(|(_, rel, ..)| rel)
        .collect();
    assert_eq!(
        identifiers.into_iter().collect::<Vec<_>>(),
        ["device__interface", "device__site", "parent__child"],
        "rows of three identifiers were moved"
    );
}

/// The index of the relationship rows by the node they point at, as the schema makes it.
const LINK_IN: &str = "CREATE INDEX link_in ON link (dst, rel, branch, live, pos)";

/// `link_in`'s definition, if the store has it.
fn link_in_index(conn: &rusqlite::Connection) -> Option<String> {
    conn.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'link_in'",
        [],
        |r| r.get(0),
    )
    .ok()
}

/// The rows move under numbers in one transaction and their index by `dst` is built in the
/// next: a process stopped between the two leaves the rows whole and the index missing, and
/// the next open builds it. Fails if a store without the index is not given it back.
#[test]
fn a_store_left_between_the_move_and_its_index_gets_the_index_when_opened() {
    reads_and_merges_the_same_once_opened(
        |path| {
            let conn = rusqlite::Connection::open(path).expect("the file");
            conn.execute_batch("DROP INDEX link_in")
                .expect("the index dropped");
            assert_eq!(link_in_index(&conn), None);
        },
        |path| {
            let conn = rusqlite::Connection::open(path).expect("the file");
            assert_eq!(link_in_index(&conn).as_deref(), Some(LINK_IN));
        },
    );
}

/// A group in a group: a group's `members` and its `member_of_groups` share one identifier,
/// each reading its own rows (the member holds `member_of_groups`, the row's `src`), so a
/// group lists its parent apart from its members, and the parent its member group.
#[test]
fn a_group_in_a_group_lists_its_members_and_its_parent_apart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let s = file_store(&path);
    let outer = create_node(&s, "main", "CoreStandardGroup", r#"name: {value: "outer"}"#);
    let inner = create_node(&s, "main", "CoreStandardGroup", r#"name: {value: "inner"}"#);
    let leaf = device(&s, "main", "leaf1", "");
    group_member(&s, "main", &inner, &leaf, true);
    group_member(&s, "main", &outer, &inner, true);
    assert_eq!(
        peers(&s, "main", "CoreStandardGroup", &inner, "members"),
        ["leaf1"]
    );
    assert_eq!(
        peers(&s, "main", "CoreStandardGroup", &inner, "member_of_groups"),
        ["outer"]
    );
    assert_eq!(
        peers(&s, "main", "CoreStandardGroup", &outer, "members"),
        ["inner"]
    );
    assert_eq!(
        peers(&s, "main", "CoreStandardGroup", &outer, "member_of_groups"),
        Vec::<String>::new()
    );
    assert_eq!(
        peers(&s, "main", "DcimDevice", &leaf, "member_of_groups"),
        ["inner"]
    );
    let mut expected = vec![
        (
            leaf.clone(),
            "group_member".to_owned(),
            inner.clone(),
            "main".to_owned(),
            true,
        ),
        (
            inner.clone(),
            "group_member".to_owned(),
            outer.clone(),
            "main".to_owned(),
            true,
        ),
    ];
    expected.sort();
    let rows: Vec<_> = link_rows(&path)
        .into_iter()
        .filter(|(_, rel, _, _, _)| rel == "group_member")
        .collect();
    assert_eq!(rows, expected);
}

/// A store whose rows were written in another order (every bidirectional row's ids sorted,
/// as the first `link` rows were, with no order noted) is put in the schema's order when
/// opened: groups list their members and devices their groups. Fails without the turn: a
/// group whose id sorts after its member's then reads the member as its parent. (A group in
/// a group written so stays as written: both kinds hold both sides.)
#[test]
fn a_store_written_in_another_row_order_is_put_in_the_schemas_when_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let (early, late, leaf) = {
        let s = file_store(&path);
        let early = create_node(&s, "main", "CoreStandardGroup", r#"name: {value: "early"}"#);
        let leaf = device(&s, "main", "leaf1", "");
        let late = create_node(&s, "main", "CoreStandardGroup", r#"name: {value: "late"}"#);
        group_member(&s, "main", &early, &leaf, true);
        group_member(&s, "main", &late, &leaf, true);
        (early, late, leaf)
    };
    let mut rows_in_id_order = {
        let conn = rusqlite::Connection::open(&path).expect("the file");
        conn.execute_batch(
            "UPDATE OR REPLACE link SET src = dst, dst = src WHERE src > dst; \
             DELETE FROM meta WHERE key = 'link_orders';",
        )
        .expect("rows in id order");
        link_rows(&path)
            .into_iter()
            .filter(|(_, rel, _, _, _)| rel == "group_member")
            .map(|(src, _, dst, _, _)| (src, dst))
            .collect::<Vec<_>>()
    };
    rows_in_id_order.sort();
    assert!(
        rows_in_id_order.iter().any(|(src, _)| src != &leaf),
        "one group's id sorts before the device's: {rows_in_id_order:?}"
    );
    let s = Store::open(&path).expect("store reopened");
    for group in [&early, &late] {
        assert_eq!(
            peers(&s, "main", "CoreStandardGroup", group, "members"),
            ["leaf1"]
        );
        assert_eq!(
            peers(&s, "main", "CoreStandardGroup", group, "member_of_groups"),
            Vec::<String>::new()
        );
    }
    assert_eq!(
        peers(&s, "main", "DcimDevice", &leaf, "member_of_groups"),
        ["early", "late"]
    );
    let rows: Vec<_> = link_rows(&path)
        .into_iter()
        .filter(|(_, rel, _, _, _)| rel == "group_member")
        .map(|(src, _, dst, _, _)| (src, dst))
        .collect();
    let mut expected = vec![(leaf.clone(), early), (leaf, late)];
    expected.sort();
    assert_eq!(rows, expected, "the device at `src` of both");
}
