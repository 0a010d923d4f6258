//! Computed attributes (`computed_attribute: {kind: Jinja2}`): rendered whenever their node
//! is written, from its own values and its cardinality-one peers', as Infrahub renders
//! them; a template that cannot render leaves the attribute empty and the write stands.

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

/// What a template over a peer reads is the peer as it is when the node is written: a
/// later change to the peer reaches the node at its next write (Infrahub renders its
/// dependents again on its workers; infragen does not).
#[test]
fn a_peer_path_is_read_when_the_node_is_written() {
    let s = store();
    let switch = create_node(&s, "main", "TestSwitch", r#"hostname: {value: "sw-b"}"#);
    create_node(
        &s,
        "main",
        "TestPort",
        &format!(
            r#"name: {{value: "Ethernet1"}}, speed: {{value: 10}}, switch: {{id: "{switch}"}}"#
        ),
    );
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ TestSwitchUpdate(data: {{id: "{switch}", hostname: {{value: "sw-c"}}}}) {{ ok }} }}"#
        ),
    );
    let label =
        |s: &Store| ok(s, "main", PORTS)["TestPort"]["edges"][0]["node"]["label"]["value"].clone();
    assert_eq!(label(&s), json!("b:ethernet1@10"));
    ok(
        &s,
        "main",
        r#"mutation { TestPortUpsert(data: {hfid: ["sw-c", "Ethernet1"], name: {value: "Ethernet1"}, speed: {value: 20}}) { ok } }"#,
    );
    assert_eq!(label(&s), json!("c:ethernet1@20"));
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
