//! Object templates and profiles, with the AI/DC seed's shapes: a 33-interface spine
//! template whose interfaces take role and MTU from interface profiles.

mod common;

use common::{errors, gql, ok};
use infragen_store::Store;
use serde_json::{Value, json};

const RESOURCES: &str = include_str!("fixtures/aidc_resources.yml");
const SEED: &str = include_str!("fixtures/aidc_seed.yml");

fn seeded() -> Store {
    let s = Store::in_memory().expect("in-memory store");
    s.load_schema(&[("aidc_resources.yml".into(), RESOURCES.into())])
        .expect("fixture schema loads");
    s.load_objects("main", &[("aidc_seed.yml".into(), SEED.into())])
        .expect("seed loads");
    s
}

const CREATE_SPINE: &str = r#"mutation { NetworkDeviceUpsert(data: {hostname: {value: "spine1"}, object_template: {hfid: ["spine-switch"]}}) { ok object { id } } }"#;

/// (name, role, mtu, role is_from_profile) of every interface of `device`, in name order.
fn interfaces(s: &Store, device: &str) -> Vec<(String, Value, Value, bool)> {
    let d = ok(
        s,
        "main",
        &format!(
            r#"{{ NetworkInterface(device__hostname__value: "{device}") {{ count edges {{ node {{ name {{ value }} role {{ value is_from_profile }} mtu {{ value }} }} }} }} }}"#
        ),
    );
    d["NetworkInterface"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["name"]["value"].as_str().unwrap().to_string(),
                n["role"]["value"].clone(),
                n["mtu"]["value"].clone(),
                n["role"]["is_from_profile"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn generate_template_derives_template_kinds_for_the_node_and_its_components() {
    let s = seeded();
    let schema = s.schema();
    let t = schema
        .get("TemplateNetworkDevice")
        .expect("device template kind");
    assert!(t.inherit_from.contains(&"CoreObjectTemplate".to_string()));
    assert_eq!(
        t.human_friendly_id,
        Some(vec!["template_name__value".to_string()])
    );
    assert_eq!(
        t.relationship("interfaces").unwrap().peer,
        "TemplateNetworkInterface"
    );
    let ti = schema
        .get("TemplateNetworkInterface")
        .expect("interface template kind");
    assert_eq!(
        ti.human_friendly_id,
        Some(vec![
            "device__template_name__value".to_string(),
            "name__value".to_string()
        ])
    );
    assert_eq!(
        schema
            .get("NetworkDevice")
            .unwrap()
            .relationship("object_template")
            .unwrap()
            .peer,
        "TemplateNetworkDevice"
    );
    assert!(schema.get("ProfileNetworkInterface").is_some());
    let d = ok(
        &s,
        "main",
        r#"{ TemplateNetworkDevice { edges { node { template_name { value } role { value } interfaces { count } } } } }"#,
    );
    assert_eq!(
        d["TemplateNetworkDevice"]["edges"][0]["node"],
        json!({"template_name": {"value": "spine-switch"}, "role": {"value": "spine"}, "interfaces": {"count": 33}})
    );
}

#[test]
fn a_device_from_a_33_interface_template_has_its_interfaces_and_upserting_again_keeps_33() {
    let s = seeded();
    ok(&s, "main", CREATE_SPINE);
    let d = ok(
        &s,
        "main",
        r#"{ NetworkDevice { edges { node { role { value } device_type { node { name { value } } } interfaces { count } } } } }"#,
    );
    assert_eq!(
        d["NetworkDevice"]["edges"][0]["node"],
        json!({"role": {"value": "spine"}, "device_type": {"node": {"name": {"value": "PowerSwitch Z9864F-ON"}}}, "interfaces": {"count": 33}})
    );
    let ifs = interfaces(&s, "spine1");
    assert_eq!(ifs.len(), 33);
    let mut expected: Vec<(String, Value, Value, bool)> =
        vec![("Loopback0".into(), json!("loopback"), Value::Null, false)];
    expected.extend((1..=27).map(|i| (format!("Ethernet{i}"), json!("leaf"), json!(9200), true)));
    expected.extend((28..=32).map(|i| {
        (
            format!("Ethernet{i}"),
            json!("super_spine"),
            json!(9200),
            true,
        )
    }));
    let mut sorted = ifs.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(sorted, expected);
    // Upserting the same device again (as every generator run does) adds nothing.
    ok(&s, "main", CREATE_SPINE);
    assert_eq!(interfaces(&s, "spine1").len(), 33);
    let d = ok(&s, "main", "{ NetworkInterface { count } }");
    assert_eq!(d["NetworkInterface"]["count"], 33);
}

#[test]
fn a_profile_change_is_seen_by_its_nodes_but_not_over_their_own_values() {
    let s = seeded();
    ok(&s, "main", CREATE_SPINE);
    // One interface sets its own MTU.
    ok(
        &s,
        "main",
        r#"mutation { NetworkInterfaceUpsert(data: {device: {hfid: ["spine1"]}, name: {value: "Ethernet1"}, mtu: {value: 1500}}) { ok } }"#,
    );
    ok(
        &s,
        "main",
        r#"mutation { ProfileNetworkInterfaceUpsert(data: {profile_name: {value: "profile-interface-leaf"}, mtu: {value: 9000}, role: {value: "spine"}}) { ok } }"#,
    );
    let d = ok(
        &s,
        "main",
        r#"{ NetworkInterface(device__hostname__value: "spine1", name__values: ["Ethernet1", "Ethernet2", "Ethernet28"]) { edges { node { name { value } role { value is_from_profile } mtu { value is_from_profile } } } } }"#,
    );
    assert_eq!(
        d["NetworkInterface"]["edges"],
        json!([
            {"node": {"name": {"value": "Ethernet1"}, "role": {"value": "spine", "is_from_profile": true}, "mtu": {"value": 1500, "is_from_profile": false}}},
            {"node": {"name": {"value": "Ethernet2"}, "role": {"value": "spine", "is_from_profile": true}, "mtu": {"value": 9000, "is_from_profile": true}}},
            {"node": {"name": {"value": "Ethernet28"}, "role": {"value": "super_spine", "is_from_profile": true}, "mtu": {"value": 9200, "is_from_profile": true}}}
        ])
    );
    // Filters see profile values.
    let d = ok(
        &s,
        "main",
        r#"{ NetworkInterface(role__value: "spine") { count } }"#,
    );
    assert_eq!(d["NetworkInterface"]["count"], 27);
    // Taking the profile away takes its values away.
    ok(
        &s,
        "main",
        r#"mutation { NetworkInterfaceUpsert(data: {device: {hfid: ["spine1"]}, name: {value: "Ethernet2"}, profiles: []}) { ok } }"#,
    );
    let d = ok(
        &s,
        "main",
        r#"{ NetworkInterface(device__hostname__value: "spine1", name__value: "Ethernet2") { edges { node { role { value is_from_profile } mtu { value } } } } }"#,
    );
    assert_eq!(
        d["NetworkInterface"]["edges"][0]["node"],
        json!({"role": {"value": null, "is_from_profile": false}, "mtu": {"value": null}})
    );
}

#[test]
fn an_unknown_template_is_an_error_and_creates_nothing() {
    let s = seeded();
    let r = gql(
        &s,
        "main",
        r#"mutation { NetworkDeviceUpsert(data: {hostname: {value: "spine9"}, object_template: {hfid: ["no-such-template"]}}) { ok } }"#,
    );
    assert_eq!(
        errors(&r),
        [
            "object_template: Unable to find the node [\"no-such-template\"] / TemplateNetworkDevice in the database."
        ]
    );
    let d = ok(&s, "main", "{ NetworkDevice { count } }");
    assert_eq!(d["NetworkDevice"]["count"], 0);
}

/// A Component peer that is a generic: a template generic and one template node per kind
/// that uses it.
const GENERIC_COMPONENTS: &str = r#"
version: "1.0"
generics:
  - name: Port
    namespace: Lab
    human_friendly_id: [box__name__value, name__value]
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: box, peer: LabBox, kind: Parent, cardinality: one, optional: false, identifier: box__port}
nodes:
  - name: Box
    namespace: Lab
    generate_template: true
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
    relationships:
      - {name: ports, peer: LabPort, kind: Component, cardinality: many, identifier: box__port}
  - name: CopperPort
    namespace: Lab
    inherit_from: [LabPort]
  - name: FibrePort
    namespace: Lab
    inherit_from: [LabPort]
    attributes:
      - {name: wavelength, kind: Number, optional: true}
"#;

#[test]
fn a_generic_component_gets_a_template_generic_and_children_keep_their_kind() {
    let s = Store::in_memory().unwrap();
    s.load_schema(&[("lab.yml".into(), GENERIC_COMPONENTS.into())])
        .unwrap();
    let schema = s.schema();
    assert!(schema.get("TemplateLabPort").is_some_and(|k| k.is_generic));
    assert!(
        schema
            .get("TemplateLabFibrePort")
            .is_some_and(|k| k.inherit_from.contains(&"TemplateLabPort".to_string()))
    );
    let objects = r#"
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: TemplateLabBox
  data:
    - template_name: two-port-box
      ports:
        - kind: TemplateLabCopperPort
          data: {name: c1}
        - kind: TemplateLabFibrePort
          data: {name: f1, wavelength: 1310}
"#;
    s.load_objects("main", &[("lab.yml".into(), objects.into())])
        .unwrap();
    ok(
        &s,
        "main",
        r#"mutation { LabBoxCreate(data: {name: {value: "box1"}, object_template: {hfid: ["two-port-box"]}}) { ok } }"#,
    );
    let d = ok(
        &s,
        "main",
        r#"{ LabPort(box__name__value: "box1") { edges { node { __typename name { value } ... on LabFibrePort { wavelength { value } } } } } }"#,
    );
    assert_eq!(
        d["LabPort"]["edges"],
        json!([
            {"node": {"__typename": "LabCopperPort", "name": {"value": "c1"}}},
            {"node": {"__typename": "LabFibrePort", "name": {"value": "f1"}, "wavelength": {"value": 1310}}}
        ])
    );
}

#[test]
fn a_profile_changed_on_a_branch_changes_its_nodes_there_only() {
    let s = seeded();
    ok(&s, "main", CREATE_SPINE);
    s.create_branch("br1").expect("branch");
    let mtu = |branch: &str| {
        let d = ok(
            &s,
            branch,
            r#"{ NetworkInterface(device__hostname__value: "spine1", name__value: "Ethernet2") { edges { node { mtu { value is_from_profile } } } } }"#,
        );
        d["NetworkInterface"]["edges"][0]["node"]["mtu"].clone()
    };
    let before = mtu("main");
    assert_eq!(before["is_from_profile"], true, "{before}");
    assert_ne!(before["value"], 9100);
    ok(
        &s,
        "br1",
        r#"mutation { ProfileNetworkInterfaceUpsert(data: {profile_name: {value: "profile-interface-leaf"}, mtu: {value: 9100}}) { ok } }"#,
    );
    assert_eq!(mtu("br1"), json!({"value": 9100, "is_from_profile": true}));
    assert_eq!(mtu("main"), before);
}

/// Racks whose slots come from templates: a slot is identified by its rack's (unique) name
/// and its position, and its label is unique within its rack — a constraint the template
/// kind does not carry, so a template can hold two slots with one label.
const RACKS: &str = r#"
version: "1.0"
nodes:
  - name: Rack
    namespace: Lab
    generate_template: true
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
    relationships:
      - {name: slots, peer: LabSlot, kind: Component, cardinality: many, optional: true, identifier: rack__slot}
  - name: Slot
    namespace: Lab
    human_friendly_id: [rack__name__value, position__value]
    uniqueness_constraints: [["rack", "label__value"]]
    attributes:
      - {name: position, kind: Number}
      - {name: label, kind: Text}
    relationships:
      - {name: rack, peer: LabRack, kind: Parent, cardinality: one, optional: false, identifier: rack__slot}
"#;

/// A store with the rack schema and a template `name` whose slots have these (position,
/// label); the template slots' ids.
fn rack_template(name: &str, slots: &[(u32, &str)]) -> (Store, Vec<String>) {
    let s = Store::in_memory().expect("in-memory store");
    s.load_schema(&[("racks.yml".into(), RACKS.into())])
        .expect("rack schema loads");
    let template = common::create_node(
        &s,
        "main",
        "TemplateLabRack",
        &format!(r#"template_name: {{value: "{name}"}}"#),
    );
    let mut ids = Vec::new();
    for (position, label) in slots {
        ids.push(common::create_node(
            &s,
            "main",
            "TemplateLabSlot",
            &format!(
                r#"rack: {{id: "{template}"}}, position: {{value: {position}}}, label: {{value: "{label}"}}"#
            ),
        ));
    }
    (s, ids)
}

/// (position, label, id) of every slot of rack `rack`, by position.
fn slots(s: &Store, rack: &str) -> Vec<(u64, String, String)> {
    let d = ok(
        s,
        "main",
        &format!(
            r#"{{ LabSlot(rack__name__value: "{rack}") {{ edges {{ node {{ id position {{ value }} label {{ value }} }} }} }} }}"#
        ),
    );
    let mut out: Vec<(u64, String, String)> = d["LabSlot"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["position"]["value"].as_u64().expect("position"),
                n["label"]["value"].as_str().expect("label").to_string(),
                n["id"].as_str().expect("id").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_template_whose_children_break_a_uniqueness_constraint_creates_nothing() {
    let (s, template_slots) = rack_template("twice-a", &[(1, "a"), (2, "a")]);
    let seq = s.last_event_seq().expect("event log");
    let r = gql(
        &s,
        "main",
        r#"mutation { LabRackCreate(data: {name: {value: "r1"}, object_template: {hfid: ["twice-a"]}}) { ok } }"#,
    );
    // The second slot is refused, naming its template slot and the constraint; the
    // value is the new rack's id (rolled back with it) and the label.
    let [error] = errors(&r).try_into().expect("one error");
    let head = format!(
        "LabSlot from template {}: Violates uniqueness constraint 'rack-label__value' with '",
        template_slots[1]
    );
    assert!(
        error.starts_with(&head) && error.ends_with("-a'"),
        "{error}"
    );
    assert_eq!(
        s.last_event_seq().expect("event log"),
        seq,
        "nothing written"
    );
    let d = ok(
        &s,
        "main",
        "{ LabRack { count } LabSlot { count } TemplateLabSlot { count } }",
    );
    assert_eq!(d["LabRack"]["count"], 0);
    assert_eq!(d["LabSlot"]["count"], 0);
    assert_eq!(d["TemplateLabSlot"]["count"], 2);
}

#[test]
fn a_template_child_named_like_a_slot_the_payload_brings_keeps_that_slot() {
    let (s, _) = rack_template("a-b", &[(1, "a"), (2, "b")]);
    ok(
        &s,
        "main",
        r#"mutation { LabRackCreate(data: {name: {value: "r0"}, object_template: {hfid: ["a-b"]}}) { ok } }"#,
    );
    let first = slots(&s, "r0");
    assert_eq!(
        first
            .iter()
            .map(|(p, l, _)| (*p, l.as_str()))
            .collect::<Vec<_>>(),
        [(1, "a"), (2, "b")]
    );
    let moved = &first[0].2;
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ LabRackCreate(data: {{name: {{value: "r3"}}, slots: [{{id: "{moved}"}}], object_template: {{hfid: ["a-b"]}}}}) {{ ok }} }}"#
        ),
    );
    let now = slots(&s, "r3");
    assert_eq!(
        now.iter()
            .map(|(p, l, _)| (*p, l.as_str()))
            .collect::<Vec<_>>(),
        [(1, "a"), (2, "b")]
    );
    assert_eq!(&now[0].2, moved, "the slot the payload brought is kept");
    assert_eq!(slots(&s, "r0").len(), 1);
}

#[test]
fn children_of_one_template_get_each_their_own_identity_on_every_parent() {
    let (s, _) = rack_template("a-b-c", &[(1, "a"), (2, "b"), (3, "c")]);
    for rack in ["r1", "r2"] {
        ok(
            &s,
            "main",
            &format!(
                r#"mutation {{ LabRackCreate(data: {{name: {{value: "{rack}"}}, object_template: {{hfid: ["a-b-c"]}}}}) {{ ok }} }}"#
            ),
        );
    }
    for rack in ["r1", "r2"] {
        assert_eq!(
            slots(&s, rack)
                .iter()
                .map(|(p, l, _)| (*p, l.as_str()))
                .collect::<Vec<_>>(),
            [(1, "a"), (2, "b"), (3, "c")]
        );
    }
    // Upserting a rack again finds its slots by their identity and adds none.
    ok(
        &s,
        "main",
        r#"mutation { LabRackUpsert(data: {name: {value: "r1"}, object_template: {hfid: ["a-b-c"]}}) { ok } }"#,
    );
    let d = ok(&s, "main", "{ LabSlot { count } }");
    assert_eq!(d["LabSlot"]["count"], 6);
}
