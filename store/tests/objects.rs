//! Object files: expand_range, nested children in both forms, references by HFID and id,
//! idempotent loads, all-or-nothing loads, and the exact error of each malformed case
//! (`tests/ui/objects/<case>.yml` beside `<case>.stderr`). `object load` on the command line
//! is tested with the command line, in the host (`host/src/cli/store.rs`).

mod common;

use common::{DCIM, node_id, ok};
use infragen_store::Store;
use infragen_store::objects::{MAX_LOAD_ITEMS, MAX_RANGE_VALUES, expand_range};
use serde_json::json;
use std::path::Path;

fn store() -> Store {
    common::store()
}

fn load(
    s: &Store,
    files: &[(&str, &str)],
) -> infragen_store::Result<infragen_store::objects::ObjectLoad> {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    s.load_objects("main", &files)
}

#[test]
fn expand_range_expands_numbers_letters_lists_and_keeps_escapes() {
    assert_eq!(
        expand_range("Ethernet[1-3]").unwrap(),
        ["Ethernet1", "Ethernet2", "Ethernet3"]
    );
    assert_eq!(
        expand_range("rack-[a-c]").unwrap(),
        ["rack-a", "rack-b", "rack-c"]
    );
    assert_eq!(
        expand_range("port[1,3,5]").unwrap(),
        ["port1", "port3", "port5"]
    );
    assert_eq!(
        expand_range("Ethernet1/[1-2]/[1-2]").unwrap(),
        [
            "Ethernet1/1/1",
            "Ethernet1/1/2",
            "Ethernet1/2/1",
            "Ethernet1/2/2"
        ]
    );
    assert_eq!(
        expand_range("leaf[01-03]").unwrap(),
        ["leaf01", "leaf02", "leaf03"]
    );
    assert_eq!(expand_range(r"lab \[old\]").unwrap(), ["lab [old]"]);
    assert_eq!(expand_range("plain").unwrap(), ["plain"]);
    assert_eq!(
        expand_range("Ethernet[1-").unwrap_err(),
        r"'Ethernet[1-': '[' without a closing ']' (write \[ for a literal bracket)"
    );
}

#[test]
fn expand_range_refuses_more_values_than_the_cap_before_expanding() {
    assert_eq!(MAX_RANGE_VALUES, 10_000);
    // At the cap: accepted.
    assert_eq!(expand_range("m[1-100][1-100]").unwrap().len(), 10_000);
    assert_eq!(expand_range("m[1-10000]").unwrap().len(), 10_000);
    // One over, by one group or by the product of several.
    assert_eq!(
        expand_range("m[1-10001]").unwrap_err(),
        "'m[1-10001]': expands to 10001 values, more than the limit of 10000 for one value"
    );
    assert_eq!(
        expand_range("m[1-100][1-100][a-b]").unwrap_err(),
        "'m[1-100][1-100][a-b]': expands to 20000 values, more than the limit of 10000 for one value"
    );
    // The product is computed with checked arithmetic: no overflow, no allocation.
    assert_eq!(
        expand_range("m[1-100000][1-100000]").unwrap_err(),
        "'m[1-100000][1-100000]': expands to 10000000000 values, more than the limit of 10000 for one value"
    );
    assert_eq!(
        expand_range("m[0-18446744073709551615]").unwrap_err(),
        "'m[0-18446744073709551615]': expands to more than 18446744073709551615 values, more than the limit of 10000 for one value"
    );
    assert_eq!(
        expand_range("m[1-4294967296][1-4294967296][1-2]").unwrap_err(),
        "'m[1-4294967296][1-4294967296][1-2]': expands to more than 18446744073709551615 values, more than the limit of 10000 for one value"
    );
    // Lists add up within a group.
    assert!(expand_range("m[1-5000,1-5000]").is_ok());
    assert!(expand_range("m[1-5000,1-5000,x]").is_err());
}

const TOPOLOGY: &str = include_str!("fixtures/topology.yml");

#[test]
fn nested_children_in_both_forms_ranges_and_hfid_references_are_loaded() {
    let s = store();
    let r = load(&s, &[("topology.yml", TOPOLOGY)]).unwrap();
    // 1 region + 2 sites + 3 devices + 8 + 2 interfaces.
    assert_eq!((r.files, r.objects), (1, 16));
    let d = ok(
        &s,
        "main",
        r#"{ DcimDevice { edges { node { name { value } role { value } site { node { name { value } parent { node { name { value } } } } } interfaces { count edges { node { __typename name { value } } } } } } } }"#,
    );
    let devices = d["DcimDevice"]["edges"].as_array().unwrap();
    assert_eq!(devices.len(), 3);
    assert_eq!(devices[0]["node"]["name"]["value"], "leaf1");
    assert_eq!(
        devices[0]["node"]["site"]["node"],
        json!({"name": {"value": "paris"}, "parent": {"node": {"name": {"value": "europe"}}}})
    );
    assert_eq!(devices[0]["node"]["interfaces"]["count"], 4);
    assert_eq!(devices[1]["node"]["name"]["value"], "leaf2");
    assert_eq!(devices[1]["node"]["interfaces"]["count"], 4);
    assert_eq!(
        devices[2]["node"],
        json!({
            "name": {"value": "spine1"}, "role": {"value": "spine"},
            "site": {"node": {"name": {"value": "berlin"}, "parent": {"node": {"name": {"value": "europe"}}}}},
            "interfaces": {"count": 2, "edges": [
                {"node": {"__typename": "DcimPhysicalInterface", "name": {"value": "Ethernet1"}}},
                {"node": {"__typename": "DcimLoopback", "name": {"value": "Loopback0"}}}
            ]}
        })
    );
}

#[test]
fn loading_the_same_files_twice_changes_nothing() {
    let s = store();
    let first = load(&s, &[("topology.yml", TOPOLOGY)]).unwrap();
    assert_eq!(first.nodes_changed, 16);
    let seq = s.last_event_seq().unwrap();
    let again = load(&s, &[("topology.yml", TOPOLOGY)]).unwrap();
    assert_eq!((again.objects, again.nodes_changed), (16, 0));
    assert_eq!(s.last_event_seq().unwrap(), seq, "no event on a reload");
    let d = ok(&s, "main", "{ DcimInterface { count } }");
    assert_eq!(d["DcimInterface"]["count"], 10);
}

#[test]
fn references_by_id_and_objects_of_an_earlier_file_resolve() {
    let s = store();
    load(&s, &[("topology.yml", TOPOLOGY)]).unwrap();
    let paris = node_id(&s, "LocationSite", "name", "paris");
    let by_id = format!(
        "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: DcimDevice\n  data:\n    - name: border1\n      site: {paris}\n"
    );
    let racks = "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: LocationRack\n  data:\n    - {name: r1, parent: paris}\n";
    load(&s, &[("a.yml", by_id.as_str()), ("b.yml", racks)]).unwrap();
    let d = ok(
        &s,
        "main",
        r#"{ DcimDevice(name__value: "border1") { edges { node { site { node { name { value } children { count } } } } } } }"#,
    );
    assert_eq!(
        d["DcimDevice"]["edges"][0]["node"]["site"]["node"],
        json!({"name": {"value": "paris"}, "children": {"count": 1}})
    );
}

/// UI tests: every `tests/ui/objects/<case>.yml` must fail with exactly `<case>.stderr`, and
/// write nothing. `BLESS=1 cargo test -p infragen-store --test objects` rewrites them.
#[test]
fn object_file_errors_match_their_expected_messages_and_write_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/objects");
    let bless = std::env::var_os("BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "expected the full set of cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&case).unwrap();
        let s = store();
        let actual = match s.load_objects("main", &[(name.clone(), text)]) {
            Ok(_) => "<loaded without error>".to_string(),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            s.last_event_seq().unwrap(),
            0,
            "{name}: a refused load must write nothing"
        );
        let expected_path = case.with_extension("stderr");
        if bless {
            std::fs::write(&expected_path, format!("{actual}\n")).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected.trim_end() != actual {
            failures.push(format!(
                "--- {name}\nexpected: {}\nactual:   {actual}",
                expected.trim_end()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ (BLESS=1 to update):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Infrahub object files put nodes in groups with `member_of_groups: [name]`;
/// groups have no HFID, so the name resolves through their default filter,
/// and the group's `members` shows the node (one relationship, two sides).
#[test]
fn member_of_groups_by_name_puts_the_node_in_the_group() {
    let s = store();
    load(
        &s,
        &[(
            "groups.yml",
            r#"
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreStandardGroup
  data:
    - {name: edge-sites}
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: LocationRegion
  data:
    - {name: eu}
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: LocationSite
  data:
    - {name: paris, parent: eu, member_of_groups: [edge-sites]}
"#,
        )],
    )
    .unwrap();
    let r = ok(
        &s,
        "main",
        "{ CoreStandardGroup(name__value: \"edge-sites\") { edges { node { members { edges { node { display_label } } } } } } }",
    );
    assert_eq!(
        r["CoreStandardGroup"]["edges"][0]["node"]["members"]["edges"],
        json!([{"node": {"display_label": "paris"}}])
    );
}

/// Every row of every table of a store's SQLite file, as text: the whole store, to compare.
fn dump(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let mut tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    let mut rows = Vec::new();
    for t in tables {
        let mut stmt = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut q = stmt.query([]).unwrap();
        while let Some(r) = q.next().unwrap() {
            let cells: Vec<String> = (0..n)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect();
            rows.push(format!("{t}: {}", cells.join(" | ")));
        }
    }
    rows.sort();
    rows
}

/// A range over the cap is refused while the files are checked: the valid documents and
/// files before it are not written either, and the store (every row of its SQLite file,
/// its events, what a query sees) is exactly as it was.
#[test]
fn a_range_over_the_cap_refuses_the_whole_load_and_leaves_the_store_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let s = Store::open(&db).unwrap();
    s.load_schema(&[("dcim.yml".to_string(), DCIM.to_string())])
        .unwrap();
    load(&s, &[("topology.yml", TOPOLOGY)]).unwrap();
    let seq = s.last_event_seq().unwrap();
    let before = dump(&db);
    assert!(before.len() > 16, "the dump sees the loaded nodes");
    let devices = r#"{ DcimDevice { count } DcimInterface { count } }"#;
    let seen = ok(&s, "main", devices);

    let valid = "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: DcimDevice\n  data:\n    - {name: border1, site: paris}\n";
    let too_large = r#"
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: DcimDevice
  data:
    - name: spine9
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: DcimDevice
  parameters: {expand_range: true}
  data:
    - name: "leaf[1-4]"
      interfaces:
        kind: DcimPhysicalInterface
        data:
          - name: "Ethernet[1-100000]/[1-100000]"
"#;
    let err = load(&s, &[("a.yml", valid), ("b.yml", too_large)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "b.yml: document 2: DcimDevice item 0 > interfaces item 0: field 'name': 'Ethernet[1-100000]/[1-100000]': expands to 10000000000 values, more than the limit of 10000 for one value"
    );
    assert_eq!(s.last_event_seq().unwrap(), seq, "no event");
    assert_eq!(ok(&s, "main", devices), seen);

    // Each value under the cap, but nested ranges multiply: 1,000 leaves × (1 + 1,000 ports).
    let nested = too_large
        .replace("Ethernet[1-100000]/[1-100000]", "Ethernet[1-1000]")
        .replace("leaf[1-4]", "leaf[1-1000]");
    let err = load(&s, &[("a.yml", valid), ("b.yml", &nested)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "b.yml: document 2: DcimDevice item 0: expand_range: the item expands to 1001000 items with its nested children, which takes the load over the limit of {MAX_LOAD_ITEMS} items (nested ranges multiply); narrow the ranges or split the load"
        )
    );
    assert_eq!(s.last_event_seq().unwrap(), seq, "no event");
    drop(s);
    assert_eq!(dump(&db), before, "not one row of the store changed");
    let reopened = Store::open(&db).unwrap();
    assert_eq!(ok(&reopened, "main", devices), seen);
}

/// The load cap counts every item of every file, nested children and expanded ranges
/// included, and names the item that takes the load over it.
#[test]
fn the_load_cap_counts_items_across_files_and_names_the_one_over_it() {
    assert_eq!(MAX_LOAD_ITEMS, 250_000);
    let s = store();
    let file = |names: &[&str]| {
        let mut y = String::from(
            "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: DcimDevice\n  parameters: {expand_range: true}\n  data:\n",
        );
        for n in names {
            y.push_str(&format!("    - name: \"{n}\"\n"));
        }
        y
    };
    // 24 × 10,000 = 240,000 in the first file; the second file's third item crosses.
    let a = file(&["d[1-10000]"; 24]);
    let b = file(&["e[1-4000]", "f[1-4000]", "g[1-4000]"]);
    let err = load(&s, &[("a.yml", &a), ("b.yml", &b)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "b.yml: document 1: DcimDevice item 2: expand_range: the item expands to 4000 items with its nested children, which takes the load over the limit of 250000 items (nested ranges multiply); narrow the ranges or split the load"
    );
    assert_eq!(s.last_event_seq().unwrap(), 0);
    // Nested children in list form multiply too; their own parameters turn expansion on.
    let list_form = r#"
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: DcimDevice
  parameters: {expand_range: true}
  data:
    - name: spine1
    - name: "leaf[1-1000]"
      interfaces:
        - kind: DcimPhysicalInterface
          data: {name: "Ethernet1"}
        - kind: DcimPhysicalInterface
          parameters: {expand_range: false}
          data: [{name: "Ethernet[2-1000]"}]
        - kind: DcimLoopback
          data: [{name: "Loopback[0-498]"}]
"#;
    let err = load(&s, &[("c.yml", list_form)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.yml: document 1: DcimDevice item 1: expand_range: the item expands to 502000 items with its nested children, which takes the load over the limit of 250000 items (nested ranges multiply); narrow the ranges or split the load"
    );
    assert_eq!(s.last_event_seq().unwrap(), 0);
    // Without expand_range the brackets are names, one item each.
    let literal = a.replace("  parameters: {expand_range: true}\n", "");
    let b_literal = b.replace("  parameters: {expand_range: true}\n", "");
    assert_eq!(
        load(&s, &[("a.yml", &literal), ("b.yml", &b_literal)])
            .unwrap()
            .objects,
        27
    );
}

/// An Infrahub repository's permissions file: object and global permissions, roles holding
/// them (nested, by kind), and a group holding the roles. Loaded again, nothing changes;
/// an action or a decision Infrahub does not have is refused with nothing written.
#[test]
fn permissions_roles_and_groups_load_as_infrahub_declares_them_and_again_change_nothing() {
    let s = store();
    let file = r#"---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreObjectPermission
  data:
    - {namespace: Dcim, name: Device, action: any, decision: 6, description: Devices}
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreAccountRole
  data:
    - name: operators
      permissions:
        kind: CoreObjectPermission
        data:
          - {namespace: "*", name: "*", action: view, decision: 6}
          - {namespace: "*", name: "*", action: any, decision: 4}
    - name: mergers
      permissions:
        kind: CoreGlobalPermission
        data:
          - {action: merge_branch, decision: 6}
          - {action: review_proposed_change, decision: 2}
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreAccountGroup
  data:
    - {name: operator-group, roles: [operators, mergers]}
"#;
    let first = load(&s, &[("permissions.yml", file)]).unwrap();
    assert_eq!((first.objects, first.nodes_changed), (8, 8));
    let query = r#"{
      CoreObjectPermission { edges { node { namespace { value } name { value } action { value } decision { value } hfid roles { edges { node { name { value } } } } } } }
      CoreGlobalPermission { edges { node { action { value } decision { value } hfid roles { edges { node { name { value } } } } } } }
      CoreAccountGroup { edges { node { name { value } roles { edges { node { name { value } } } } } } }
    }"#;
    let loaded = ok(&s, "main", query);
    assert_eq!(
        loaded,
        json!({
          "CoreObjectPermission": {"edges": [
            {"node": {"namespace": {"value": "*"}, "name": {"value": "*"}, "action": {"value": "any"}, "decision": {"value": 4},
                      "hfid": ["*", "*", "any", "4"], "roles": {"edges": [{"node": {"name": {"value": "operators"}}}]}}},
            {"node": {"namespace": {"value": "*"}, "name": {"value": "*"}, "action": {"value": "view"}, "decision": {"value": 6},
                      "hfid": ["*", "*", "view", "6"], "roles": {"edges": [{"node": {"name": {"value": "operators"}}}]}}},
            {"node": {"namespace": {"value": "Dcim"}, "name": {"value": "Device"}, "action": {"value": "any"}, "decision": {"value": 6},
                      "hfid": ["Dcim", "Device", "any", "6"], "roles": {"edges": []}}}
          ]},
          "CoreGlobalPermission": {"edges": [
            {"node": {"action": {"value": "merge_branch"}, "decision": {"value": 6}, "hfid": ["merge_branch", "6"],
                      "roles": {"edges": [{"node": {"name": {"value": "mergers"}}}]}}},
            {"node": {"action": {"value": "review_proposed_change"}, "decision": {"value": 2}, "hfid": ["review_proposed_change", "2"],
                      "roles": {"edges": [{"node": {"name": {"value": "mergers"}}}]}}}
          ]},
          "CoreAccountGroup": {"edges": [
            {"node": {"name": {"value": "operator-group"},
                      "roles": {"edges": [{"node": {"name": {"value": "operators"}}}, {"node": {"name": {"value": "mergers"}}}]}}}
          ]}
        })
    );
    let again = load(&s, &[("permissions.yml", file)]).unwrap();
    assert_eq!((again.objects, again.nodes_changed), (8, 0));
    assert_eq!(ok(&s, "main", query), loaded);

    let seq = s.last_event_seq().unwrap();
    let unknown_action = r#"---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreGlobalPermission
  data:
    - {action: rule_the_world, decision: 6}
"#;
    let err = load(&s, &[("bad.yml", unknown_action)]).unwrap_err();
    assert!(
        err.to_string()
            .contains("action: 'rule_the_world' is not a valid choice"),
        "{err}"
    );
    let unknown_decision = r#"---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreObjectPermission
  data:
    - {namespace: Dcim, name: Device, action: any, decision: 3}
"#;
    let err = load(&s, &[("bad.yml", unknown_decision)]).unwrap_err();
    assert!(
        err.to_string()
            .contains("decision: 3 is not one of the allowed values: 1, 2, 4, 6"),
        "{err}"
    );
    assert_eq!(s.last_event_seq().unwrap(), seq);
}

/// Transforms and artifact definitions as Infrahub records them, declared in an object
/// file that names its peers by name; a repository's query over artifacts answers (no
/// artifact is rendered here, so it finds none).
#[test]
fn transforms_and_artifact_definitions_are_recorded_and_artifacts_can_be_asked_for() {
    let s = store();
    let file = r#"---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreRepository
  data:
    - {name: design, location: "https://example.org/design.git"}
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreGraphQLQuery
  data:
    - {name: startup_config, query: "query startup_config { CoreAccount { count } }"}
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreStandardGroup
  data:
    - {name: leafs}
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreTransformJinja2
  data:
    - {name: startup, template_path: templates/startup.j2, query: startup_config, repository: design}
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreArtifactDefinition
  data:
    - name: startup-file
      artifact_name: startup-config
      parameters: {device: name__value}
      content_type: text/plain
      targets: leafs
      transformation: startup
"#;
    let first = load(&s, &[("transforms.yml", file)]).unwrap();
    assert_eq!((first.objects, first.nodes_changed), (5, 5));
    let answer = ok(
        &s,
        "main",
        r#"{
          CoreTransformation { edges { node { __typename name { value } timeout { value }
            query { node { name { value } } } repository { node { name { value } } }
            ... on CoreTransformJinja2 { template_path { value } } } } }
          CoreArtifactDefinition { edges { node { name { value } artifact_name { value } content_type { value }
            parameters { value } targets { node { name { value } } } transformation { node { name { value } } } } } }
          CoreArtifact(name__values: ["startup-config"]) { count edges { node { id checksum { value } } } }
        }"#,
    );
    assert_eq!(
        answer,
        json!({
          "CoreTransformation": {"edges": [{"node": {
            "__typename": "CoreTransformJinja2", "name": {"value": "startup"}, "timeout": {"value": 60},
            "query": {"node": {"name": {"value": "startup_config"}}},
            "repository": {"node": {"name": {"value": "design"}}},
            "template_path": {"value": "templates/startup.j2"}}}]},
          "CoreArtifactDefinition": {"edges": [{"node": {
            "name": {"value": "startup-file"}, "artifact_name": {"value": "startup-config"},
            "content_type": {"value": "text/plain"}, "parameters": {"value": {"device": "name__value"}},
            "targets": {"node": {"name": {"value": "leafs"}}},
            "transformation": {"node": {"name": {"value": "startup"}}}}}]},
          "CoreArtifact": {"count": 0, "edges": []}
        })
    );
    let again = load(&s, &[("transforms.yml", file)]).unwrap();
    assert_eq!(again.nodes_changed, 0);
}

/// A menu file (`kind: Menu`), as `infrahubctl menu load` reads one: items are
/// `CoreMenuItem`s, nested under `children` without naming a kind; an item that names a kind
/// gets the path of that kind's objects, and a child its place among its siblings as its
/// weight, unless it gives them (an item at the top keeps the schema's default, 2000).
/// Loaded again, nothing changes.
#[test]
fn a_menu_file_loads_its_items_in_their_hierarchy_with_infrahubctls_defaults() {
    let s = store();
    let menu = r#"---
apiVersion: infrahub.app/v1
kind: Menu
spec:
  data:
    - namespace: Dcim
      name: Inventory
      label: Inventory
      icon: "mdi:server"
      children:
        data:
          - {namespace: Dcim, name: Devices, label: Devices, kind: DcimDevice}
          - {namespace: Dcim, name: Interfaces, label: Interfaces, kind: DcimInterface, path: /custom/interfaces}
          - {namespace: Location, name: Sites, label: Sites, order_weight: 50}
    - {namespace: Location, name: Regions, label: Regions, kind: LocationRegion}
"#;
    let first = load(&s, &[("menu.yml", menu)]).unwrap();
    assert_eq!((first.objects, first.nodes_changed), (5, 5));
    let query = r#"{ CoreMenuItem { edges { node { namespace { value } name { value } label { value } kind { value } path { value } icon { value } order_weight { value } parent { node { name { value } } } children { count } } } } }"#;
    let items = ok(&s, "main", query);
    let item = |ns: &str,
                name: &str,
                label: &str,
                kind: Option<&str>,
                path: Option<&str>,
                icon: Option<&str>,
                weight: u64,
                parent: Option<&str>,
                children: u64| {
        json!({"node": {
            "namespace": {"value": ns}, "name": {"value": name}, "label": {"value": label},
            "kind": {"value": kind}, "path": {"value": path}, "icon": {"value": icon},
            "order_weight": {"value": weight},
            "parent": {"node": parent.map(|p| json!({"name": {"value": p}}))},
            "children": {"count": children},
        }})
    };
    let mut edges = items["CoreMenuItem"]["edges"].as_array().unwrap().clone();
    edges.sort_by_key(|e| {
        e["node"]["name"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    });
    assert_eq!(
        edges,
        vec![
            item(
                "Dcim",
                "Devices",
                "Devices",
                Some("DcimDevice"),
                Some("/objects/DcimDevice"),
                None,
                1000,
                Some("Inventory"),
                0
            ),
            item(
                "Dcim",
                "Interfaces",
                "Interfaces",
                Some("DcimInterface"),
                Some("/custom/interfaces"),
                None,
                2000,
                Some("Inventory"),
                0
            ),
            item(
                "Dcim",
                "Inventory",
                "Inventory",
                None,
                None,
                Some("mdi:server"),
                2000,
                None,
                3
            ),
            item(
                "Location",
                "Regions",
                "Regions",
                Some("LocationRegion"),
                Some("/objects/LocationRegion"),
                None,
                2000,
                None,
                0
            ),
            item(
                "Location",
                "Sites",
                "Sites",
                None,
                None,
                None,
                50,
                Some("Inventory"),
                0
            ),
        ]
    );
    let seq = s.last_event_seq().unwrap();
    let again = load(&s, &[("menu.yml", menu)]).unwrap();
    assert_eq!((again.objects, again.nodes_changed), (5, 0));
    assert_eq!(s.last_event_seq().unwrap(), seq, "no event on a reload");
}
