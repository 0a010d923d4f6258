//! Computed attributes (`computed_attribute: {kind: Jinja2}`): rendered whenever their node
//! is written, from its own values and its cardinality-one peers', and again when a peer
//! they read changes, as Infrahub renders them; a template that cannot render leaves the
//! attribute empty and the write stands.

mod common;

use common::{create_node, ok};
use infragen_store::Store;
use serde_json::json;

const SCHEMA: &str = r#"
version: "1.0"
nodes:
  - name: Switch
    namespace: Test
    human_friendly_id: [hostname__value]
    attributes:
      - {name: hostname, kind: Text, unique: true}
    relationships:
      - {name: ports, peer: TestPort, cardinality: many, kind: Component, identifier: switch__port}
  - name: Port
    namespace: Test
    human_friendly_id: [switch__hostname__value, name__value]
    order_by: [index__value]
    attributes:
      - {name: name, kind: Text}
      - {name: speed, kind: Number, optional: true}
      - name: index
        kind: Text
        optional: true
        read_only: true
        computed_attribute:
          kind: Jinja2
          jinja2_template: '{{ "%03d" | format(name__value | split_interface | last | int) }}'
      - name: label
        kind: Text
        optional: true
        read_only: true
        computed_attribute:
          kind: Jinja2
          jinja2_template: '{{ switch__hostname__value | replace("sw-", "", 1) }}:{{ name__value | lower }}@{{ speed__value }}'
      - name: broken
        kind: Text
        optional: true
        read_only: true
        computed_attribute: {kind: Jinja2, jinja2_template: "{{ name__value | no_such_filter }}"}
      - name: description
        kind: Text
        optional: true
        computed_attribute: {kind: TransformPython, transform: port_description}
    relationships:
      - {name: switch, peer: TestSwitch, cardinality: one, kind: Parent, optional: false, identifier: switch__port}
  - name: Cable
    namespace: Test
    attributes:
      - {name: code, kind: Text}
      - name: title
        kind: Text
        optional: true
        read_only: true
        computed_attribute: {kind: Jinja2, jinja2_template: "{{ code__value }} to {{ endpoint__label__value }}"}
    relationships:
      - {name: endpoint, peer: TestPort, cardinality: one, optional: true, identifier: cable__port}
"#;

fn store() -> Store {
    let s = Store::in_memory().expect("store");
    s.load_schema(&[("ports.yml".to_string(), SCHEMA.to_string())])
        .expect("the schema loads");
    s
}

const PORTS: &str = "{ TestPort { edges { node { name { value } index { value } label { value } broken { value } description { value } } } } }";

#[test]
fn computed_attributes_are_rendered_on_create_and_update_and_order_the_nodes() {
    let s = store();
    let switch = create_node(&s, "main", "TestSwitch", r#"hostname: {value: "sw-sw-a"}"#);
    for (name, speed) in [
        ("Ethernet10", "100"),
        ("Ethernet2", "25"),
        ("Loopback0", "null"),
    ] {
        create_node(
            &s,
            "main",
            "TestPort",
            &format!(
                r#"name: {{value: "{name}"}}, speed: {{value: {speed}}}, switch: {{id: "{switch}"}}"#
            ),
        );
    }
    // `order_by: [index__value]`: by the computed index, as text.
    assert_eq!(
        ok(&s, "main", PORTS),
        json!({"TestPort": {"edges": [
            {"node": {"name": {"value": "Loopback0"}, "index": {"value": "000"}, "label": {"value": "sw-a:loopback0@None"},
                      "broken": {"value": null}, "description": {"value": null}}},
            {"node": {"name": {"value": "Ethernet2"}, "index": {"value": "002"}, "label": {"value": "sw-a:ethernet2@25"},
                      "broken": {"value": null}, "description": {"value": null}}},
            {"node": {"name": {"value": "Ethernet10"}, "index": {"value": "010"}, "label": {"value": "sw-a:ethernet10@100"},
                      "broken": {"value": null}, "description": {"value": null}}}
        ]}})
    );

    // An update renders them again from the new values; a write that changes nothing
    // they read changes nothing.
    let seq = s.last_event_seq().expect("events");
    ok(
        &s,
        "main",
        r#"mutation { TestPortUpsert(data: {hfid: ["sw-sw-a", "Ethernet2"], name: {value: "Ethernet2"}, speed: {value: 25}}) { ok } }"#,
    );
    assert_eq!(s.last_event_seq().expect("events"), seq, "nothing changed");
    ok(
        &s,
        "main",
        r#"mutation { TestPortUpsert(data: {hfid: ["sw-sw-a", "Ethernet2"], name: {value: "Ethernet7"}, speed: {value: 40}}) { ok } }"#,
    );
    let events = s.events_since(seq).expect("events");
    assert_eq!(events.len(), 1);
    let mut changed: Vec<(String, serde_json::Value)> = events[0]
        .attributes
        .iter()
        .map(|a| {
            (
                a.name.clone(),
                serde_json::to_value(&a.value).expect("value"),
            )
        })
        .collect();
    changed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        changed,
        [
            ("index".to_owned(), json!("007")),
            ("label".to_owned(), json!("sw-a:ethernet7@40")),
            ("name".to_owned(), json!("Ethernet7")),
            ("speed".to_owned(), json!(40)),
        ]
    );
    let names: Vec<serde_json::Value> = ok(&s, "main", PORTS)["TestPort"]["edges"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|e| json!([e["node"]["name"]["value"], e["node"]["index"]["value"]]))
        .collect();
    assert_eq!(
        names,
        [
            json!(["Loopback0", "000"]),
            json!(["Ethernet7", "007"]),
            json!(["Ethernet10", "010"])
        ]
    );
}

/// The port's `label` and, through the port, the cable's `title` as `branch` shows them.
fn labels(s: &Store, branch: &str) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let ports = ok(
        s,
        branch,
        "{ TestPort { edges { node { name { value } label { value } } } } }",
    );
    let cables = ok(
        s,
        branch,
        "{ TestCable { edges { node { title { value } } } } }",
    );
    let values = |data: &serde_json::Value, kind: &str, field: &str| {
        data[kind]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"][field]["value"].clone())
            .collect()
    };
    (
        values(&ports, "TestPort", "label"),
        values(&cables, "TestCable", "title"),
    )
}

/// Renames switch `id` on `branch`.
fn rename(s: &Store, branch: &str, id: &str, hostname: &str) {
    ok(
        s,
        branch,
        &format!(
            r#"mutation {{ TestSwitchUpdate(data: {{id: "{id}", hostname: {{value: "{hostname}"}}}}) {{ ok }} }}"#
        ),
    );
}

/// Three switches, a port on each of the first two, and a cable reading the first port's
/// label: (the switches' ids, the ports' ids).
fn cabled(s: &Store) -> ([String; 3], [String; 2]) {
    let switches = ["sw-b", "sw-x", "sw-y"].map(|hostname| {
        create_node(
            s,
            "main",
            "TestSwitch",
            &format!(r#"hostname: {{value: "{hostname}"}}"#),
        )
    });
    let ports = [(&switches[0], "Ethernet1"), (&switches[1], "Ethernet9")].map(|(switch, name)| {
        create_node(
            s,
            "main",
            "TestPort",
            &format!(
                r#"name: {{value: "{name}"}}, speed: {{value: 10}}, switch: {{id: "{switch}"}}"#
            ),
        )
    });
    create_node(
        s,
        "main",
        "TestCable",
        &format!(r#"code: {{value: "c1"}}, endpoint: {{id: "{}"}}"#, ports[0]),
    );
    (switches, ports)
}

/// A change to a peer's value renders the nodes reading it again, in the same write, as
/// Infrahub's workers do after it: renaming a switch changes its ports' labels and, through
/// a port's label, the cable's title; the other switch's port is not touched. The change's
/// events name each node and the attribute that changed.
#[test]
fn a_peer_change_renders_the_nodes_reading_it_again_in_the_same_write() {
    let s = store();
    let (switches, _) = cabled(&s);
    assert_eq!(
        labels(&s, "main"),
        (
            vec![json!("b:ethernet1@10"), json!("x:ethernet9@10")],
            vec![json!("c1 to b:ethernet1@10")]
        )
    );
    let seq = s.last_event_seq().expect("events");
    rename(&s, "main", &switches[0], "sw-c");
    assert_eq!(
        labels(&s, "main"),
        (
            vec![json!("c:ethernet1@10"), json!("x:ethernet9@10")],
            vec![json!("c1 to c:ethernet1@10")]
        )
    );
    let mut changed: Vec<(String, Vec<String>)> = s
        .events_since(seq)
        .expect("events")
        .iter()
        .map(|e| {
            (
                e.kind.clone(),
                e.attributes.iter().map(|a| a.name.clone()).collect(),
            )
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [
            ("TestCable".to_owned(), vec!["title".to_owned()]),
            ("TestPort".to_owned(), vec!["label".to_owned()]),
            ("TestSwitch".to_owned(), vec!["hostname".to_owned()]),
        ]
    );
    // Written again unchanged: nothing to render, no event.
    let seq = s.last_event_seq().expect("events");
    rename(&s, "main", &switches[0], "sw-c");
    assert_eq!(s.last_event_seq().expect("events"), seq);
}

/// A relationship changed from the other side (a port taken into another switch's `ports`,
/// a port added and removed through `RelationshipAdd`-style edits, a port deleted under a
/// cable) renders the nodes that read through it: their own writes are not what changed.
#[test]
fn a_relationship_changed_from_the_other_side_renders_what_reads_through_it() {
    let s = store();
    let (switches, ports) = cabled(&s);
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ TestSwitchUpdate(data: {{id: "{}", ports: [{{id: "{}"}}, {{id: "{}"}}]}}) {{ ok }} }}"#,
            switches[1], ports[1], ports[0]
        ),
    );
    assert_eq!(
        labels(&s, "main"),
        (
            vec![json!("x:ethernet1@10"), json!("x:ethernet9@10")],
            vec![json!("c1 to x:ethernet1@10")]
        )
    );
    s.edit_relationship("main", &switches[2], "ports", &[ports[0].clone()], true)
        .expect("the port moves to sw-y");
    assert_eq!(
        labels(&s, "main").1,
        vec![json!("c1 to y:ethernet1@10")],
        "the cable reads the port's new label"
    );
    // The cable's endpoint is optional: deleting the port leaves the cable, and its title
    // reads no port.
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ TestPortDelete(data: {{id: "{}"}}) {{ ok }} }}"#,
            ports[0]
        ),
    );
    assert_eq!(labels(&s, "main").1, vec![json!("c1 to None")]);
}

/// On a branch, a peer's change renders its readers on the branch; main keeps its values
/// until the branch is merged, and then has the branch's.
#[test]
fn a_peer_change_on_a_branch_renders_its_readers_on_the_branch() {
    let s = store();
    let (switches, _) = cabled(&s);
    s.create_branch("br1").expect("branch");
    rename(&s, "br1", &switches[1], "sw-q");
    let before = (
        vec![json!("b:ethernet1@10"), json!("x:ethernet9@10")],
        vec![json!("c1 to b:ethernet1@10")],
    );
    assert_eq!(labels(&s, "main"), before);
    let on_branch = (
        vec![json!("b:ethernet1@10"), json!("q:ethernet9@10")],
        vec![json!("c1 to b:ethernet1@10")],
    );
    assert_eq!(labels(&s, "br1"), on_branch);
    s.merge_branch("br1").expect("merge");
    assert_eq!(labels(&s, "main"), on_branch);
}

/// A write's effects, which the host checks against what a generator may change, leave
/// the computed attributes out: they follow from the values the write set, which are
/// checked themselves. (On a store written before computed attributes, a generator
/// allowed to update an interface's `speed` was refused for its `label` and `index`.)
#[tokio::test]
async fn a_write_checked_for_its_effects_is_not_refused_for_what_the_store_computes() {
    let s = store();
    let switch = create_node(&s, "main", "TestSwitch", r#"hostname: {value: "sw-d"}"#);
    create_node(
        &s,
        "main",
        "TestPort",
        &format!(
            r#"name: {{value: "Ethernet4"}}, speed: {{value: 10}}, switch: {{id: "{switch}"}}"#
        ),
    );
    let seen = std::sync::Mutex::new(Vec::new());
    let speed_only = |e: &infragen_store::WriteEffect| {
        seen.lock()
            .expect("lock")
            .push((e.kind.clone(), e.attributes.clone()));
        match e.attributes.iter().find(|a| a.as_str() != "speed") {
            Some(other) => Err(format!("{other} may not be changed")),
            None => Ok(()),
        }
    };
    let run = s.begin_run("main").await.expect("run");
    run.write_node_checked(
        "TestPort",
        infragen_store::WriteOp::Upsert,
        &json!({"hfid": ["sw-d", "Ethernet4"], "name": {"value": "Ethernet4"}, "speed": {"value": 40}}),
        &speed_only,
    )
    .expect("a change of speed is allowed, and its label follows");
    run.commit().expect("commit");
    assert_eq!(
        *seen.lock().expect("lock"),
        [("TestPort".to_owned(), vec!["speed".to_owned()])]
    );
    assert_eq!(
        ok(&s, "main", PORTS)["TestPort"]["edges"][0]["node"]["label"]["value"],
        json!("d:ethernet4@40")
    );
}

/// A profile's value, given to the nodes that use the profile, is what their computed
/// attributes read: changing the profile renders them again.
#[test]
fn a_profile_change_renders_the_nodes_using_it_again() {
    let s = store();
    let switch = create_node(&s, "main", "TestSwitch", r#"hostname: {value: "sw-p"}"#);
    let profile = create_node(
        &s,
        "main",
        "ProfileTestPort",
        r#"profile_name: {value: "fast"}, speed: {value: 100}"#,
    );
    create_node(
        &s,
        "main",
        "TestPort",
        &format!(
            r#"name: {{value: "Ethernet3"}}, switch: {{id: "{switch}"}}, profiles: [{{id: "{profile}"}}]"#
        ),
    );
    assert_eq!(labels(&s, "main").0, vec![json!("p:ethernet3@100")]);
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ ProfileTestPortUpdate(data: {{id: "{profile}", speed: {{value: 200}}}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(labels(&s, "main").0, vec![json!("p:ethernet3@200")]);
}
