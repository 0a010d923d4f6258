//! Schema loading: Infrahub's defaults, inheritance, the core schema, all-or-nothing loads,
//! and (UI tests) the exact message of every validation error.

mod common;

use infragen_store::schema::{BranchSupport, Cardinality, Direction, RelationshipKind};
use infragen_store::{Store, StoreError};
use std::path::Path;

const MINIMAL: &str = r#"
version: "1.0"
nodes:
  - name: Widget
    namespace: Test
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: parts, peer: TestWidget}
"#;

#[test]
fn attribute_and_relationship_defaults_follow_infrahub() {
    let s = Store::in_memory().unwrap();
    s.load_schema(&[("w.yml".into(), MINIMAL.into())]).unwrap();
    let schema = s.schema();
    let k = schema.get("TestWidget").expect("kind = namespace + name");
    assert_eq!(k.branch, BranchSupport::Aware);
    let a = k.attribute("name").unwrap();
    assert!(!a.optional, "attributes are mandatory by default");
    assert!(!a.unique);
    assert!(!a.read_only);
    let r = k.relationship("parts").unwrap();
    assert!(r.optional, "relationships are optional by default");
    assert_eq!(r.cardinality, Cardinality::Many);
    assert_eq!(r.kind, RelationshipKind::Generic);
    assert_eq!(r.direction, Direction::Bidirectional);
    assert_eq!(r.identifier, "testwidget__testwidget");
    assert!(!r.cascades());
}

#[test]
fn nodes_inherit_attributes_relationships_and_identity_from_generics() {
    let s = common::store();
    let schema = s.schema();
    let k = schema.get("DcimPhysicalInterface").unwrap();
    let attrs: Vec<&str> = k.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(attrs, ["name", "description", "mtu", "speed"]);
    assert!(k.attribute("name").unwrap().inherited);
    assert!(
        k.relationship("device")
            .is_some_and(|r| r.inherited && r.kind == RelationshipKind::Parent)
    );
    assert_eq!(
        k.human_friendly_id.as_deref(),
        Some(&["device__name__value".to_string(), "name__value".to_string()][..])
    );
    assert!(k.inherit_from.contains(&"DcimInterface".to_string()));
    assert!(
        k.inherit_from.contains(&"CoreNode".to_string()),
        "every node implements CoreNode"
    );
    let g = schema.get("DcimInterface").unwrap();
    assert_eq!(g.used_by, ["DcimLoopback", "DcimPhysicalInterface"]);
    assert!(
        schema
            .get("DcimDevice")
            .unwrap()
            .relationship("interfaces")
            .unwrap()
            .cascades(),
        "Component cascades by default"
    );
}

#[test]
fn hierarchical_generics_give_parent_and_children() {
    let s = common::store();
    let schema = s.schema();
    let site = schema.get("LocationSite").unwrap();
    assert_eq!(site.hierarchy.as_deref(), Some("LocationGeneric"));
    assert_eq!(
        site.relationship("parent").map(|r| r.peer.as_str()),
        Some("LocationRegion")
    );
    assert_eq!(
        site.relationship("children").map(|r| r.peer.as_str()),
        Some("LocationRack")
    );
    assert!(
        site.relationship("parent")
            .is_some_and(|r| !r.optional && r.min_count == 1),
        "a parent of another concrete kind is mandatory, as on Infrahub"
    );
    // `parent: ""` (the top of the hierarchy) relates to the hierarchy's generic,
    // optionally, as does `children: ""` at the bottom.
    let region = schema.get("LocationRegion").unwrap();
    let parent = region.relationship("parent").unwrap();
    assert_eq!(
        (parent.peer.as_str(), parent.optional),
        ("LocationGeneric", true)
    );
    let rack = schema.get("LocationRack").unwrap();
    assert_eq!(
        rack.relationship("children").map(|r| r.peer.as_str()),
        Some("LocationGeneric")
    );
    // The mandatory parent is enforced as Infrahub words it, and the top of the
    // hierarchy answers `parent` (the SDK asks every hierarchical kind for it).
    let r = common::gql(
        &s,
        "main",
        r#"mutation { LocationSiteCreate(data: {name: {value: "ams"}}) { ok } }"#,
    );
    assert_eq!(common::errors(&r), ["parent is mandatory for LocationSite"]);
    common::ok(
        &s,
        "main",
        r#"mutation { LocationRegionCreate(data: {name: {value: "eu"}}) { ok } }"#,
    );
    let r = common::ok(
        &s,
        "main",
        "{ LocationRegion { edges { node { parent { node { id } } children { count } } } } }",
    );
    assert_eq!(
        r["LocationRegion"]["edges"][0]["node"],
        serde_json::json!({"parent": {"node": null}, "children": {"count": 0}})
    );
}

#[test]
fn core_schema_has_the_kinds_generators_rely_on() {
    let s = Store::in_memory().unwrap();
    let schema = s.schema();
    for kind in [
        "CoreNode",
        "CoreGroup",
        "CoreStandardGroup",
        "CoreGeneratorGroup",
        "CoreGeneratorAwareGroup",
        "CoreGeneratorDefinition",
        "CoreGeneratorInstance",
        "CoreGeneratorAction",
        "CoreTriggerRule",
        "CoreNodeTriggerRule",
        "CoreNodeTriggerAttributeMatch",
        "CoreIPPrefixPool",
        "CoreIPAddressPool",
        "CoreNumberPool",
    ] {
        assert!(schema.get(kind).is_some(), "{kind} missing");
    }
    let g = schema.get("CoreGeneratorGroup").unwrap();
    assert_eq!(g.branch, BranchSupport::Local);
    // Derived from its unique name, as Infrahub derives it.
    assert_eq!(g.human_friendly_id, Some(vec!["name__value".to_owned()]));
    assert_eq!(g.default_filter.as_deref(), Some("name__value"));
    assert_eq!(
        g.relationship("members").unwrap().identifier,
        "group_member"
    );
    assert_eq!(
        schema.get("CoreGeneratorAwareGroup").unwrap().branch,
        BranchSupport::Aware
    );
    assert_eq!(
        schema.get("CoreNodeTriggerRule").unwrap().branch,
        BranchSupport::Agnostic
    );
}

#[test]
fn an_invalid_file_changes_nothing_even_beside_valid_ones() {
    let s = common::store();
    let before = s.schema().hash.clone();
    let bad = "version: \"1.0\"\nnodes:\n  - {name: Thing, namespace: Test, attributes: [{name: x, kind: Nope}]}\n";
    let err = s
        .load_schema(&[
            ("ok.yml".into(), MINIMAL.into()),
            ("bad.yml".into(), bad.into()),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::Schema(_)));
    assert_eq!(s.schema().hash, before);
    assert!(s.schema().get("TestWidget").is_none());
}

#[test]
fn reloading_the_same_file_is_a_no_op_and_a_changed_file_replaces_it() {
    let s = Store::in_memory().unwrap();
    let first = s.load_schema(&[("w.yml".into(), MINIMAL.into())]).unwrap();
    assert!(first.schema_updated);
    let again = s.load_schema(&[("w.yml".into(), MINIMAL.into())]).unwrap();
    assert!(!again.schema_updated);
    let changed = MINIMAL.replace(
        "{name: name, kind: Text}",
        "{name: name, kind: Text}\n      - {name: size, kind: Number, optional: true}",
    );
    assert!(
        s.load_schema(&[("w.yml".into(), changed)])
            .unwrap()
            .schema_updated
    );
    assert!(
        s.schema()
            .get("TestWidget")
            .unwrap()
            .attribute("size")
            .is_some()
    );
}

/// UI tests: every `tests/ui/schema/<case>.yml` must fail with exactly `<case>.stderr`.
/// `BLESS=1 cargo test -p infragen-store --test schema` rewrites the expected files.
#[test]
fn schema_validation_errors_match_their_expected_messages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/schema");
    let bless = std::env::var_os("BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 15,
        "expected the full set of cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&case).unwrap();
        let s = Store::in_memory().unwrap();
        let actual = match s.load_schema(&[(name.clone(), text)]) {
            Ok(_) => "<loaded without error>".to_string(),
            Err(e) => e.to_string(),
        };
        assert!(
            s.schema().files.is_empty(),
            "{name}: a failed load must change nothing"
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

#[test]
fn the_same_file_loaded_from_another_path_replaces_the_first() {
    let s = Store::in_memory().unwrap();
    s.load_schema(&[("schemas/w.yml".into(), MINIMAL.into())])
        .unwrap();
    let again = s
        .load_schema(&[("./schemas/w.yml".into(), MINIMAL.into())])
        .unwrap();
    assert!(!again.schema_updated, "same content, same schema");
    assert_eq!(s.schema().files.len(), 1);
}

/// `infrahubctl schema load` sends the files as JSON, each under the name of its kinds;
/// `serve --repository` imported them as YAML. The same kinds are the same schema: no
/// change, the same hash, an empty diff — as Infrahub answers.
#[test]
fn the_same_schema_as_json_under_another_name_is_no_change() {
    let s = Store::in_memory().unwrap();
    let first = s.load_schema(&[("w.yml".into(), MINIMAL.into())]).unwrap();
    let json = r#"{"version": "1.0", "nodes": [{"name": "Widget", "namespace": "Test",
        "attributes": [{"name": "name", "kind": "Text"}],
        "relationships": [{"name": "parts", "peer": "TestWidget"}]}]}"#;
    let again = s
        .load_schema(&[("api:TestWidget".into(), json.into())])
        .unwrap();
    assert!(!again.schema_updated);
    assert_eq!(
        (again.hash.as_str(), again.previous_hash.as_str()),
        (first.hash.as_str(), first.hash.as_str())
    );
    assert_eq!(
        again.diff,
        serde_json::json!({"added": {}, "changed": {}, "removed": {}})
    );
    // One attribute more is a change, and its diff names it.
    let changed = json.replace(
        r#"{"name": "name", "kind": "Text"}"#,
        r#"{"name": "name", "kind": "Text"}, {"name": "size", "kind": "Number", "optional": true}"#,
    );
    let third = s
        .load_schema(&[("api:TestWidget".into(), changed)])
        .unwrap();
    assert!(third.schema_updated);
    assert_ne!(third.hash, first.hash);
    assert_eq!(
        third.diff["changed"]["TestWidget"]["changed"]["attributes"]["added"],
        serde_json::json!({"size": null})
    );
}

#[test]
fn a_file_redefining_only_part_of_another_files_kinds_is_a_duplicate() {
    let s = Store::in_memory().unwrap();
    let two = "version: \"1.0\"\nnodes:\n  - {name: Gizmo, namespace: Test}\n  - {name: Gadget, namespace: Test}\n";
    s.load_schema(&[("two.yml".into(), two.into())]).unwrap();
    let one = "version: \"1.0\"\nnodes:\n  - {name: Gadget, namespace: Test}\n";
    let err = s
        .load_schema(&[("one.yml".into(), one.into())])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "one.yml: node TestGadget: already defined in two.yml"
    );
}

/// A kind without a human-friendly id gets Infrahub's derived one: its first unique
/// attribute (inherited ones included), else its first uniqueness constraint on a single
/// attribute's value; a declared one is kept, and a constraint through a relationship
/// derives nothing.
#[test]
fn human_friendly_ids_are_derived_as_infrahub_derives_them() {
    let s = Store::in_memory().unwrap();
    s.load_schema(&[(
        "hfid.yml".into(),
        r#"
version: "1.0"
generics:
  - name: Block
    namespace: Test
    attributes:
      - {name: name, kind: Text, unique: true}
nodes:
  - name: Pod
    namespace: Test
    inherit_from: [TestBlock]
    attributes:
      - {name: index, kind: Number}
  - name: Device
    namespace: Test
    attributes:
      - {name: role, kind: Text}
      - {name: hostname, kind: Text, unique: true}
      - {name: serial, kind: Text, unique: true}
  - name: Rack
    namespace: Test
    uniqueness_constraints: [["pod", "index__value"], ["label__value"]]
    attributes:
      - {name: index, kind: Number}
      - {name: label, kind: Text}
    relationships:
      - {name: pod, peer: TestPod, cardinality: one}
  - name: Cable
    namespace: Test
    uniqueness_constraints: [["pod"]]
    attributes:
      - {name: label, kind: Text}
    relationships:
      - {name: pod, peer: TestPod, cardinality: one}
  - name: Port
    namespace: Test
    human_friendly_id: [label__value, index__value]
    attributes:
      - {name: label, kind: Text, unique: true}
      - {name: index, kind: Number}
"#
        .into(),
    )])
    .unwrap();
    let schema = s.schema();
    let hfid = |kind: &str| schema.get(kind).expect(kind).human_friendly_id.clone();
    let path = |p: &[&str]| Some(p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    assert_eq!(hfid("TestBlock"), path(&["name__value"]));
    assert_eq!(hfid("TestPod"), path(&["name__value"]));
    assert_eq!(hfid("TestDevice"), path(&["hostname__value"]));
    assert_eq!(hfid("TestRack"), path(&["label__value"]));
    assert_eq!(hfid("TestCable"), None);
    assert_eq!(hfid("TestPort"), path(&["label__value", "index__value"]));
}

/// Every field Infrahub's schema format allows (infrahub-sdk 1.23.2's `schema/generated/
/// write.py`) is accepted, so a published repository's schema loads: the ids
/// `infrahubctl schema export` writes, and `ordered` on a List attribute.
#[test]
fn the_ids_schema_export_writes_and_ordered_are_accepted() {
    let s = Store::in_memory().unwrap();
    s.load_schema(&[(
        "exported.yml".into(),
        r#"
version: "1.0"
nodes:
  - id: 17f6a1c8-0000-4000-8000-000000000001
    name: Widget
    namespace: Test
    attributes:
      - {id: 17f6a1c8-0000-4000-8000-000000000002, name: name, kind: Text, unique: true}
      - {name: tags, kind: List, ordered: true, optional: true}
    relationships:
      - {id: 17f6a1c8-0000-4000-8000-000000000003, name: parts, peer: TestWidget, cardinality: many}
"#
        .into(),
    )])
    .unwrap();
    let widget = s.schema().get("TestWidget").cloned().unwrap();
    assert!(widget.attribute("tags").is_some());
    assert!(widget.relationship("parts").is_some());
}

/// `state: absent` is how an Infrahub schema file removes a kind, an attribute or a
/// relationship: loading it leaves them out.
#[test]
fn state_absent_removes_what_it_marks() {
    let s = Store::in_memory().unwrap();
    let widget = |extra: &str| {
        format!(
            "version: '1.0'\nnodes:\n  - name: Widget\n    namespace: Test\n    attributes:\n      - {{name: name, kind: Text, unique: true}}\n      - {{name: colour, kind: Text, optional: true{extra}}}\n    relationships:\n      - {{name: parts, peer: TestWidget, cardinality: many{extra}}}\n  - name: Gadget\n    namespace: Test\n    attributes:\n      - {{name: name, kind: Text}}\n"
        )
    };
    s.load_schema(&[("w.yml".into(), widget(""))]).unwrap();
    let loaded = s.schema().get("TestWidget").cloned().unwrap();
    assert!(loaded.attribute("colour").is_some() && loaded.relationship("parts").is_some());

    let absent = widget(", state: absent").replace(
        "  - name: Gadget\n    namespace: Test\n",
        "  - name: Gadget\n    namespace: Test\n    state: absent\n",
    );
    assert!(
        s.load_schema(&[("w.yml".into(), absent)])
            .unwrap()
            .schema_updated
    );
    let schema = s.schema();
    let widget = schema.get("TestWidget").unwrap();
    assert!(widget.attribute("colour").is_none());
    assert!(widget.relationship("parts").is_none());
    assert!(widget.attribute("name").is_some());
    assert!(schema.get("TestGadget").is_none());
}

/// A kind whose HFID, display label and order read only its own attributes can be shown
/// as a peer without its edges; one that reads a peer's attribute (an interface's device
/// hostname) cannot.
#[test]
fn a_kind_labelled_by_its_own_attributes_is_told_apart() {
    let s = Store::in_memory().unwrap();
    s.load_schema(&[(
        "net.yml".into(),
        r#"
version: "1.0"
nodes:
  - name: Device
    namespace: Net
    human_friendly_id: [hostname__value]
    display_label: "{{ hostname__value }} ({{ role__value }})"
    order_by: [hostname__value]
    attributes:
      - {name: hostname, kind: Text, unique: true}
      - {name: role, kind: Text, optional: true}
  - name: Port
    namespace: Net
    human_friendly_id: [device__hostname__value, name__value]
    display_label: name__value
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: device, peer: NetDevice, cardinality: one, optional: false}
  - name: Label
    namespace: Net
    display_label: "{{ device__hostname__value }}"
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: device, peer: NetDevice, cardinality: one}
"#
        .into(),
    )])
    .unwrap();
    let schema = s.schema();
    let labelled = |kind: &str| schema.get(kind).unwrap().labelled_by_own_attributes();
    assert!(labelled("NetDevice"));
    assert!(!labelled("NetPort"), "its HFID reads the device");
    assert!(!labelled("NetLabel"), "its display label reads the device");
}

/// A relationship that says nothing of branches gets the support Infrahub gives it (its
/// kind's when the peer's is the same, `local` when either is, otherwise `aware`), whichever
/// side declares it; one that says keeps its own, and those the store adds say `aware`, as
/// Infrahub's do.
#[test]
fn a_relationship_without_a_branch_of_its_own_gets_infrahubs() {
    let s = Store::in_memory().unwrap();
    s.load_schema(&[(
        "branches.yml".to_owned(),
        r#"
version: "1.0"
nodes:
  - name: Aware
    namespace: Test
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: to_aware, peer: TestAware, cardinality: many, identifier: aware__aware, direction: outbound}
      - {name: to_agnostic, peer: TestAgnostic, cardinality: many, identifier: aware__agnostic}
      - {name: to_local, peer: TestLocal, cardinality: many, identifier: aware__local}
  - name: Agnostic
    namespace: Test
    branch: agnostic
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: to_agnostic, peer: TestAgnostic, cardinality: many, identifier: agnostic__agnostic, direction: outbound}
      - {name: to_aware, peer: TestAware, cardinality: many, identifier: aware__agnostic}
      - {name: to_local, peer: TestLocal, cardinality: many, identifier: agnostic__local}
      - {name: pinned, peer: TestAware, cardinality: many, identifier: agnostic__pinned, branch: agnostic}
  - name: Local
    namespace: Test
    branch: local
    attributes:
      - {name: name, kind: Text}
  - name: Hall
    namespace: Test
    branch: agnostic
    inherit_from: [TestPlace]
    parent: ""
    children: TestHall
generics:
  - name: Place
    namespace: Test
    hierarchical: true
    attributes:
      - {name: name, kind: Text}
"#
        .to_owned(),
    )])
    .expect("schema");
    let schema = s.schema();
    let support = |kind: &str, rel: &str| {
        schema
            .get(kind)
            .and_then(|k| k.relationship(rel))
            .unwrap_or_else(|| panic!("{kind}.{rel}"))
            .branch
    };
    use BranchSupport::{Agnostic, Aware, Local};
    assert_eq!(support("TestAware", "to_aware"), Some(Aware));
    assert_eq!(support("TestAware", "to_agnostic"), Some(Aware));
    assert_eq!(support("TestAware", "to_local"), Some(Local));
    assert_eq!(support("TestAgnostic", "to_agnostic"), Some(Agnostic));
    assert_eq!(support("TestAgnostic", "to_aware"), Some(Aware));
    assert_eq!(support("TestAgnostic", "to_local"), Some(Local));
    assert_eq!(support("TestAgnostic", "pinned"), Some(Agnostic));
    // As Infrahub's own: every node's group relationships, and a place in a hierarchy,
    // even of nodes every branch shares.
    assert_eq!(support("TestAgnostic", "member_of_groups"), Some(Aware));
    assert_eq!(support("TestLocal", "member_of_groups"), Some(Aware));
    assert_eq!(support("TestHall", "parent"), Some(Aware));
    assert_eq!(support("TestHall", "children"), Some(Aware));
}

/// A store whose schema was loaded before the direction rule existed still opens (the rule
/// is logged, not refused, for what the store already holds); loading new files on top of
/// it is refused with the problem named, until a corrected file replaces it.
#[test]
fn a_stored_schema_breaking_the_direction_rule_still_opens_and_new_loads_name_it() {
    const PAIRED: &str = r#"
version: "1.0"
nodes:
  - name: Device
    namespace: Test
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: site, peer: TestSite, cardinality: one, identifier: device__site}
  - name: Site
    namespace: Test
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: devices, peer: TestDevice, cardinality: many, identifier: device__site}
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let s = Store::open(&path).unwrap();
    s.load_schema(&[("dcim.yml".to_owned(), PAIRED.to_owned())])
        .unwrap();
    drop(s);
    // As an older binary would have let it be loaded: one side outbound.
    let unpaired = PAIRED.replace(
        "identifier: device__site}\n  - name: Site",
        "identifier: device__site, direction: outbound}\n  - name: Site",
    );
    assert_ne!(unpaired, PAIRED);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE schema_files SET text = ?1 WHERE name = 'dcim.yml'",
            [&unpaired],
        )
        .unwrap();

    let s = Store::open(&path).expect("the store opens");
    let site = s
        .schema()
        .get("TestDevice")
        .and_then(|k| k.relationship("site"))
        .map(|r| r.direction);
    assert_eq!(site, Some(Direction::Outbound));
    let extra = r#"
version: "1.0"
nodes:
  - name: Rack
    namespace: Test
    attributes:
      - {name: name, kind: Text}
"#;
    let refused = s
        .load_schema(&[("racks.yml".to_owned(), extra.to_owned())])
        .expect_err("refused");
    assert_eq!(
        refused.to_string(),
        "dcim.yml: node TestDevice: relationship 'site': direction outbound does not pair \
         with bidirectional of its reverse 'devices' on TestSite (identifier 'device__site'): \
         sides of one relationship are both bidirectional, or one outbound and one inbound"
    );
    assert!(s.schema().get("TestRack").is_none());
    s.load_schema(&[
        ("dcim.yml".to_owned(), PAIRED.to_owned()),
        ("racks.yml".to_owned(), extra.to_owned()),
    ])
    .expect("a corrected file loads, with the new one");
    assert!(s.schema().get("TestRack").is_some());
}
