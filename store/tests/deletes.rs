//! Node deletes as Infrahub does them: refused, with Infrahub's message and nothing written,
//! while a mandatory relationship of a node that stays points at a node being deleted;
//! cascading only where `on_delete: cascade` says so (Component relationships by default),
//! transitively; optional relationships simply unlinked.

mod common;

use common::{create_node, errors, gql, names, ok};
use infragen_store::schema::Cardinality;
use infragen_store::{Action, Store};
use serde_json::{Value, json};

/// A fabric: pods, racks that must have a pod, devices in racks (Component / Parent), ports
/// deleted with their device (`on_delete: cascade` on a Generic relationship), power
/// supplies whose Parent relationship has no Component on the device's side, tags, and
/// cables whose mandatory `port` only the cable stores (no other side on the port).
const FABRIC: &str = r#"
version: "1.0"
nodes:
  - name: Pod
    namespace: Location
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
    relationships:
      - {name: racks, peer: LocationRack, cardinality: many, identifier: pod__rack}
  - name: Rack
    namespace: Location
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
    relationships:
      - {name: pod, peer: LocationPod, cardinality: one, optional: false, identifier: pod__rack}
      - {name: devices, peer: FabricDevice, kind: Component, cardinality: many, identifier: rack__device}
  - name: Device
    namespace: Fabric
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
    relationships:
      - {name: rack, peer: LocationRack, kind: Parent, cardinality: one, optional: false, identifier: rack__device}
      - {name: ports, peer: FabricPort, cardinality: many, on_delete: cascade, identifier: device__port}
      - {name: psus, peer: FabricPsu, cardinality: many, identifier: device__psu}
      - {name: tags, peer: FabricTag, cardinality: many, identifier: device__tag}
  - name: Port
    namespace: Fabric
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: device, peer: FabricDevice, cardinality: one, optional: false, identifier: device__port}
  - name: Psu
    namespace: Fabric
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: device, peer: FabricDevice, kind: Parent, cardinality: one, optional: false, identifier: device__psu}
  - name: Tag
    namespace: Fabric
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
    relationships:
      - {name: devices, peer: FabricDevice, cardinality: many, identifier: device__tag}
  - name: Cable
    namespace: Fabric
    attributes:
      - {name: name, kind: Text}
    relationships:
      - {name: port, peer: FabricPort, cardinality: one, optional: false, identifier: cable__port}
"#;

fn store() -> Store {
    let s = Store::in_memory().expect("in-memory store");
    s.load_schema(&[("fabric.yml".to_string(), FABRIC.to_string())])
        .expect("fabric schema loads");
    s
}

/// `<Kind>Create` on main with a `name` and the given extra input; return the new id.
fn create(s: &Store, kind: &str, name: &str, extra: &str) -> String {
    create_on(s, "main", kind, name, extra)
}

fn delete(s: &Store, kind: &str, id: &str) -> Value {
    delete_on(s, "main", kind, id)
}

fn count(s: &Store, kind: &str) -> u64 {
    ok(s, "main", &format!("{{ {kind} {{ count }} }}"))[kind]["count"]
        .as_u64()
        .expect("count")
}

/// Ids of the peers of a many relationship of the node `id`.
fn peer_ids(s: &Store, kind: &str, id: &str, rel: &str) -> Vec<String> {
    let d = ok(
        s,
        "main",
        &format!(
            r#"{{ {kind}(ids: ["{id}"]) {{ edges {{ node {{ {rel} {{ edges {{ node {{ id }} }} }} }} }} }} }}"#
        ),
    );
    d[kind]["edges"][0]["node"][rel]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every node of every concrete kind (core kinds included) with all its attribute values
/// and relationship peers, as the GraphQL API shows them on `main`.
fn dump(s: &Store) -> Value {
    let schema = s.schema();
    let mut out = serde_json::Map::new();
    for k in schema.kinds().filter(|k| !k.is_generic) {
        let mut fields = vec!["id".to_string()];
        fields.extend(
            k.attributes
                .iter()
                .map(|a| format!("{} {{ value }}", a.name)),
        );
        fields.extend(k.relationships.iter().map(|r| match r.cardinality {
            Cardinality::One => format!("{} {{ node {{ id }} }}", r.name),
            Cardinality::Many => format!("{} {{ edges {{ node {{ id }} }} }}", r.name),
        }));
        let q = format!(
            "{{ {} {{ count edges {{ node {{ {} }} }} }} }}",
            k.kind,
            fields.join(" ")
        );
        out.insert(k.kind.clone(), ok(s, "main", &q)[&k.kind].clone());
    }
    Value::Object(out)
}

/// Infrahub's sentence for one mandatory link (`delete_validator.py`).
fn link(kind: &str, id: &str, rel: &str, holder_kind: &str, holder: &str) -> String {
    format!(
        "Cannot delete {kind} '{id}'. It is linked to mandatory relationship {rel} on node {holder_kind} '{holder}' at {holder_kind}.{rel}"
    )
}

/// Deleted-event ids since `seq`, ignoring the peers' update events.
fn deleted_since(s: &Store, seq: i64) -> Vec<String> {
    let mut ids: Vec<String> = s
        .events_since(seq)
        .expect("events")
        .into_iter()
        .filter(|e| e.action == Action::Deleted)
        .map(|e| e.id)
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn deleting_a_pod_that_racks_must_have_is_refused_and_the_store_is_unchanged() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let r1 = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let r2 = create(
        &s,
        "LocationRack",
        "r2",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let d1 = create(
        &s,
        "FabricDevice",
        "d1",
        &format!(r#"rack: {{ id: "{r1}" }}"#),
    );
    create(
        &s,
        "FabricPort",
        "p1",
        &format!(r#"device: {{ id: "{d1}" }}"#),
    );
    create(
        &s,
        "FabricTag",
        "t1",
        &format!(r#"devices: [{{ id: "{d1}" }}]"#),
    );
    let before = dump(&s);
    let seq = s.last_event_seq().unwrap();

    let r = delete(&s, "LocationPod", &pod);

    assert_eq!(
        errors(&r),
        [[
            link("LocationPod", &pod, "pod", "LocationRack", &r1),
            link("LocationPod", &pod, "pod", "LocationRack", &r2),
        ]
        .join(", ")],
        "{r:#}"
    );
    assert_eq!(r["data"], json!({"LocationPodDelete": null}));
    assert_eq!(dump(&s), before, "a refused delete writes nothing");
    assert_eq!(s.last_event_seq().unwrap(), seq, "and emits no event");
    assert_eq!(before["LocationRack"]["count"], 2);
}

#[test]
fn the_sdk_sees_the_substring_infrahub_sends_for_one_blocking_rack() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let rack = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let r = delete(&s, "LocationPod", &pod);
    assert_eq!(
        errors(&r),
        [format!(
            "Cannot delete LocationPod '{pod}'. It is linked to mandatory relationship pod on node LocationRack '{rack}' at LocationRack.pod"
        )]
    );
    // Once the rack is gone, the pod goes too, and the pod is unlinked from nothing.
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ LocationRackDelete(data: {{ id: "{rack}" }}) {{ ok }} }}"#),
    );
    assert_eq!(
        peer_ids(&s, "LocationPod", &pod, "racks"),
        Vec::<String>::new()
    );
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ LocationPodDelete(data: {{ id: "{pod}" }}) {{ ok }} }}"#),
    );
    assert_eq!(count(&s, "LocationPod"), 0);
}

#[test]
fn on_delete_cascade_deletes_peers_transitively_with_a_deleted_event_each() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let rack = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let d1 = create(
        &s,
        "FabricDevice",
        "d1",
        &format!(r#"rack: {{ id: "{rack}" }}"#),
    );
    let d2 = create(
        &s,
        "FabricDevice",
        "d2",
        &format!(r#"rack: {{ id: "{rack}" }}"#),
    );
    let p1 = create(
        &s,
        "FabricPort",
        "p1",
        &format!(r#"device: {{ id: "{d1}" }}"#),
    );
    let p2 = create(
        &s,
        "FabricPort",
        "p2",
        &format!(r#"device: {{ id: "{d1}" }}"#),
    );
    let p3 = create(
        &s,
        "FabricPort",
        "p3",
        &format!(r#"device: {{ id: "{d2}" }}"#),
    );
    let seq = s.last_event_seq().unwrap();

    // rack → devices (Component: cascade by default) → ports (`on_delete: cascade`).
    let r = delete(&s, "LocationRack", &rack);

    assert!(r.get("errors").is_none(), "{r:#}");
    assert_eq!(r["data"], json!({"LocationRackDelete": {"ok": true}}));
    for kind in ["LocationRack", "FabricDevice", "FabricPort"] {
        assert_eq!(count(&s, kind), 0, "{kind}");
    }
    // The pod stays; only its optional `racks` lost the rack (the pod's update event is the
    // one non-delete event, checked apart).
    assert_eq!(count(&s, "LocationPod"), 1);
    let events = s.events_since(seq).unwrap();
    let (updated, deleted): (Vec<_>, Vec<_>) = events
        .into_iter()
        .partition(|e| e.action == Action::Updated);
    assert_eq!(
        updated.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![pod.clone()]
    );
    assert!(deleted.iter().all(|e| e.action == Action::Deleted));
    assert_eq!(
        sorted(deleted.into_iter().map(|e| e.id).collect()),
        sorted(vec![rack, d1, d2, p1, p2, p3])
    );
    assert_eq!(
        peer_ids(&s, "LocationPod", &pod, "racks"),
        Vec::<String>::new()
    );
}

#[test]
fn a_holder_deleted_in_the_same_cascade_does_not_block() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let rack = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let d1 = create(
        &s,
        "FabricDevice",
        "d1",
        &format!(r#"rack: {{ id: "{rack}" }}"#),
    );
    let d2 = create(
        &s,
        "FabricDevice",
        "d2",
        &format!(r#"rack: {{ id: "{rack}" }}"#),
    );
    // Each port's mandatory `device` points at d1, and each port is in d1's cascade.
    let p1 = create(
        &s,
        "FabricPort",
        "p1",
        &format!(r#"device: {{ id: "{d1}" }}"#),
    );
    let p2 = create(
        &s,
        "FabricPort",
        "p2",
        &format!(r#"device: {{ id: "{d1}" }}"#),
    );
    let kept = create(
        &s,
        "FabricPort",
        "p3",
        &format!(r#"device: {{ id: "{d2}" }}"#),
    );
    let seq = s.last_event_seq().unwrap();

    let r = delete(&s, "FabricDevice", &d1);

    assert!(r.get("errors").is_none(), "{r:#}");
    assert_eq!(deleted_since(&s, seq), sorted(vec![d1, p1, p2]));
    assert_eq!(count(&s, "FabricPort"), 1);
    assert_eq!(peer_ids(&s, "FabricDevice", &d2, "ports"), [kept]);
    assert_eq!(peer_ids(&s, "LocationRack", &rack, "devices"), [d2]);
}

#[test]
fn optional_relationships_are_simply_unlinked() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let rack = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let d1 = create(
        &s,
        "FabricDevice",
        "d1",
        &format!(r#"rack: {{ id: "{rack}" }}"#),
    );
    let d2 = create(
        &s,
        "FabricDevice",
        "d2",
        &format!(r#"rack: {{ id: "{rack}" }}"#),
    );
    let tag = create(
        &s,
        "FabricTag",
        "t1",
        &format!(r#"devices: [{{ id: "{d1}" }}, {{ id: "{d2}" }}]"#),
    );
    let seq = s.last_event_seq().unwrap();

    // The tag's `devices` is optional and does not cascade: the tag stays, without d1.
    let r = delete(&s, "FabricDevice", &d1);
    assert!(r.get("errors").is_none(), "{r:#}");
    assert_eq!(deleted_since(&s, seq), vec![d1.clone()]);
    assert_eq!(peer_ids(&s, "FabricTag", &tag, "devices"), vec![d2.clone()]);
    assert_eq!(
        peer_ids(&s, "LocationRack", &rack, "devices"),
        vec![d2.clone()]
    );

    // Deleting the tag leaves the device alone (its `tags` is optional too).
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ FabricTagDelete(data: {{ id: "{tag}" }}) {{ ok }} }}"#),
    );
    assert_eq!(count(&s, "FabricDevice"), 1);
    assert_eq!(
        peer_ids(&s, "FabricDevice", &d2, "tags"),
        Vec::<String>::new()
    );
}

#[test]
fn a_parent_relationship_does_not_cascade_so_its_children_block_the_delete() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let rack = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let d1 = create(
        &s,
        "FabricDevice",
        "d1",
        &format!(r#"rack: {{ id: "{rack}" }}"#),
    );
    // The PSU's side is a mandatory Parent relationship; the device's side is a plain
    // Generic one without `on_delete`, which Infrahub does not cascade.
    let psu = create(
        &s,
        "FabricPsu",
        "psu1",
        &format!(r#"device: {{ id: "{d1}" }}"#),
    );
    let before = dump(&s);

    let r = delete(&s, "FabricDevice", &d1);

    assert_eq!(
        errors(&r),
        [link("FabricDevice", &d1, "device", "FabricPsu", &psu)]
    );
    assert_eq!(dump(&s), before);
}

#[test]
fn when_refused_every_mandatory_link_into_the_delete_set_is_listed_as_infrahub_does() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let rack = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let d1 = create(
        &s,
        "FabricDevice",
        "d1",
        &format!(r#"rack: {{ id: "{rack}" }}"#),
    );
    let port = create(
        &s,
        "FabricPort",
        "p1",
        &format!(r#"device: {{ id: "{d1}" }}"#),
    );
    let psu = create(
        &s,
        "FabricPsu",
        "psu1",
        &format!(r#"device: {{ id: "{d1}" }}"#),
    );
    let before = dump(&s);

    // The port would go with the device and does not block; the PSU does. Infrahub names
    // both (its error lists every dependent once any of them blocks).
    let r = delete(&s, "FabricDevice", &d1);

    assert_eq!(
        errors(&r),
        [[
            link("FabricDevice", &d1, "device", "FabricPort", &port),
            link("FabricDevice", &d1, "device", "FabricPsu", &psu),
        ]
        .join(", ")]
    );
    assert_eq!(dump(&s), before);
}

#[test]
fn a_mandatory_relationship_only_its_holder_stores_blocks_too_even_through_the_cascade() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let rack = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let d1 = create(
        &s,
        "FabricDevice",
        "d1",
        &format!(r#"rack: {{ id: "{rack}" }}"#),
    );
    let port = create(
        &s,
        "FabricPort",
        "p1",
        &format!(r#"device: {{ id: "{d1}" }}"#),
    );
    // The cable's `port` has no other side on FabricPort.
    let cable = create(
        &s,
        "FabricCable",
        "c1",
        &format!(r#"port: {{ id: "{port}" }}"#),
    );
    let before = dump(&s);

    let r = delete(&s, "FabricPort", &port);
    assert_eq!(
        errors(&r),
        [link("FabricPort", &port, "port", "FabricCable", &cable)]
    );

    // Reached through the device's cascade, the port is still protected.
    let r = delete(&s, "FabricDevice", &d1);
    assert_eq!(
        errors(&r),
        [[
            link("FabricDevice", &d1, "device", "FabricPort", &port),
            link("FabricPort", &port, "port", "FabricCable", &cable),
        ]
        .join(", ")]
    );
    assert_eq!(dump(&s), before);

    // Without the cable, the device goes with its port.
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ FabricCableDelete(data: {{ id: "{cable}" }}) {{ ok }} }}"#),
    );
    let seq = s.last_event_seq().unwrap();
    let r = delete(&s, "FabricDevice", &d1);
    assert!(r.get("errors").is_none(), "{r:#}");
    assert_eq!(deleted_since(&s, seq), sorted(vec![d1, port]));
}

#[test]
fn a_refused_delete_in_a_document_leaves_the_other_mutations_alone() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let rack = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let r = gql(
        &s,
        "main",
        &format!(
            r#"mutation {{
  a: LocationPodDelete(data: {{ id: "{pod}" }}) {{ ok }}
  b: FabricTagCreate(data: {{ name: {{ value: "t1" }} }}) {{ ok }}
}}"#
        ),
    );
    assert_eq!(
        errors(&r),
        [link("LocationPod", &pod, "pod", "LocationRack", &rack)]
    );
    assert_eq!(r["data"], json!({"a": null, "b": {"ok": true}}));
    assert_eq!(count(&s, "LocationPod"), 1);
    assert_eq!(count(&s, "FabricTag"), 1);
}

#[test]
fn a_generator_instance_does_not_protect_its_target() {
    // `CoreGeneratorInstance.object` is mandatory but its peer is `CoreNode`, which Infrahub
    // never matches against a deleted node: deleting a generator's target is allowed.
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let q = create(
        &s,
        "CoreGraphQLQuery",
        "q",
        r#"query: { value: "query { x }" }"#,
    );
    let g = create(&s, "CoreStandardGroup", "targets", "");
    let def = create(
        &s,
        "CoreGeneratorDefinition",
        "gen",
        &format!(
            r#"parameters: {{ value: {{}} }} file_path: {{ value: "g.py" }} class_name: {{ value: "G" }} query: {{ id: "{q}" }} targets: {{ id: "{g}" }}"#
        ),
    );
    create(
        &s,
        "CoreGeneratorInstance",
        "gen-pod1",
        &format!(
            r#"status: {{ value: "Ready" }} object: {{ id: "{pod}" }} definition: {{ id: "{def}" }}"#
        ),
    );

    let r = delete(&s, "LocationPod", &pod);

    assert!(r.get("errors").is_none(), "{r:#}");
    assert_eq!(count(&s, "LocationPod"), 0);
}

#[test]
fn deleted_events_are_the_cascade_and_nothing_else() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let rack = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let d1 = create(
        &s,
        "FabricDevice",
        "d1",
        &format!(r#"rack: {{ id: "{rack}" }}"#),
    );
    let seq = s.last_event_seq().unwrap();
    let r = delete(&s, "FabricDevice", &d1);
    assert!(r.get("errors").is_none(), "{r:#}");
    assert_eq!(deleted_since(&s, seq), [d1]);
}

/// `<Kind>Create` on `branch` with a `name` and the given extra input; return the new id.
fn create_on(s: &Store, branch: &str, kind: &str, name: &str, extra: &str) -> String {
    create_node(
        s,
        branch,
        kind,
        &format!(r#"name: {{ value: "{name}" }} {extra}"#),
    )
}

fn delete_on(s: &Store, branch: &str, kind: &str, id: &str) -> Value {
    gql(
        s,
        branch,
        &format!(r#"mutation {{ {kind}Delete(data: {{ id: "{id}" }}) {{ ok }} }}"#),
    )
}

/// The names of the nodes of `kind` that `branch` shows, sorted.
fn names_on(s: &Store, branch: &str, kind: &str) -> Vec<String> {
    let d = ok(
        s,
        branch,
        &format!("{{ {kind} {{ edges {{ node {{ name {{ value }} }} }} }} }}"),
    );
    sorted(names(&d, kind))
}

/// Pods `pod1` and `pod2`, rack `r1` in `pod1`, then branch `br1`: their ids.
fn two_pods_and_a_rack_then_a_branch(s: &Store) -> (String, String, String) {
    let pod1 = create(s, "LocationPod", "pod1", "");
    let pod2 = create(s, "LocationPod", "pod2", "");
    let rack = create(
        s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod1}" }}"#),
    );
    s.create_branch("br1").unwrap();
    (pod1, pod2, rack)
}

/// On a branch, the holders that count are the ones the branch shows: a rack main gave the
/// pod after the branch began blocks the pod's delete there, with Infrahub's sentence, and
/// nothing changes on either side.
#[test]
fn on_a_branch_a_holder_main_added_since_blocks_the_delete() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    s.create_branch("br1").unwrap();
    let rack = create(
        &s,
        "LocationRack",
        "r2",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let before = dump(&s);
    let r = delete_on(&s, "br1", "LocationPod", &pod);
    assert_eq!(
        errors(&r),
        [link("LocationPod", &pod, "pod", "LocationRack", &rack)]
    );
    assert_eq!(names_on(&s, "br1", "LocationPod"), ["pod1"]);
    assert_eq!(names_on(&s, "br1", "LocationRack"), ["r2"]);
    assert_eq!(dump(&s), before);
}

/// A rack the branch moved to another pod no longer holds the first one there: the branch
/// deletes it, main keeps it and its rack.
#[test]
fn on_a_branch_a_holder_the_branch_moved_away_does_not_block() {
    let s = store();
    let (pod1, pod2, rack) = two_pods_and_a_rack_then_a_branch(&s);
    ok(
        &s,
        "br1",
        &format!(
            r#"mutation {{ LocationRackUpdate(data: {{ id: "{rack}", pod: {{ id: "{pod2}" }} }}) {{ ok }} }}"#
        ),
    );
    let before = dump(&s);
    let r = delete_on(&s, "br1", "LocationPod", &pod1);
    assert!(r.get("errors").is_none(), "{r:#}");
    assert_eq!(names_on(&s, "br1", "LocationPod"), ["pod2"]);
    assert_eq!(peer_ids_on(&s, "br1", &rack), pod2);
    assert_eq!(dump(&s), before);
    // Main still holds the rack in pod1.
    assert_eq!(peer_ids_on(&s, "main", &rack), pod1);
}

/// The pod `rack` is in, as `branch` shows it.
fn peer_ids_on(s: &Store, branch: &str, rack: &str) -> String {
    let d = ok(
        s,
        branch,
        &format!(
            r#"{{ LocationRack(ids: ["{rack}"]) {{ edges {{ node {{ pod {{ node {{ id }} }} }} }} }} }}"#
        ),
    );
    d["LocationRack"]["edges"][0]["node"]["pod"]["node"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A cascade on a branch follows what the branch shows: a rack's delete takes its devices
/// (main's, one the branch created, one main added since) and their ports, there only.
#[test]
fn on_a_branch_a_cascade_takes_what_the_branch_shows_and_only_there() {
    let s = store();
    let pod = create(&s, "LocationPod", "pod1", "");
    let rack = create(
        &s,
        "LocationRack",
        "r1",
        &format!(r#"pod: {{ id: "{pod}" }}"#),
    );
    let in_rack = format!(r#"rack: {{ id: "{rack}" }}"#);
    let d1 = create(&s, "FabricDevice", "d1", &in_rack);
    create(
        &s,
        "FabricPort",
        "p1",
        &format!(r#"device: {{ id: "{d1}" }}"#),
    );
    s.create_branch("br1").unwrap();
    let d2 = create_on(&s, "br1", "FabricDevice", "d2", &in_rack);
    create_on(
        &s,
        "br1",
        "FabricPort",
        "p2",
        &format!(r#"device: {{ id: "{d2}" }}"#),
    );
    create(&s, "FabricDevice", "d3", &in_rack);
    let before = dump(&s);
    let r = delete_on(&s, "br1", "LocationRack", &rack);
    assert!(r.get("errors").is_none(), "{r:#}");
    assert_eq!(names_on(&s, "br1", "LocationRack"), Vec::<String>::new());
    assert_eq!(names_on(&s, "br1", "FabricDevice"), Vec::<String>::new());
    assert_eq!(names_on(&s, "br1", "FabricPort"), Vec::<String>::new());
    assert_eq!(names_on(&s, "br1", "LocationPod"), ["pod1"]);
    assert_eq!(dump(&s), before);
}

/// Inside a run the holders are what the run shows: a rack it moved away does not block,
/// one it created does.
#[tokio::test]
async fn in_a_run_the_holders_are_what_the_run_shows() {
    let s = store();
    let (pod1, pod2, rack) = two_pods_and_a_rack_then_a_branch(&s);
    let run = s.begin_run("br1").await.unwrap();
    let send = |document: String| run.execute(&infragen_store::GraphqlRequest::new(document), None);
    let moved = send(format!(
        r#"mutation {{ LocationRackUpdate(data: {{ id: "{rack}", pod: {{ id: "{pod2}" }} }}) {{ ok }} }}"#
    ));
    assert!(moved.get("errors").is_none(), "{moved:#}");
    let deleted = send(format!(
        r#"mutation {{ LocationPodDelete(data: {{ id: "{pod1}" }}) {{ ok }} }}"#
    ));
    assert!(deleted.get("errors").is_none(), "{deleted:#}");
    let created = send(format!(
        r#"mutation {{ LocationRackCreate(data: {{ name: {{ value: "r3" }}, pod: {{ id: "{pod2}" }} }}) {{ object {{ id }} }} }}"#
    ));
    let r3 = created["data"]["LocationRackCreate"]["object"]["id"]
        .as_str()
        .expect("r3")
        .to_owned();
    let refused = send(format!(
        r#"mutation {{ LocationPodDelete(data: {{ id: "{pod2}" }}) {{ ok }} }}"#
    ));
    assert_eq!(
        errors(&refused),
        [[
            link("LocationPod", &pod2, "pod", "LocationRack", &rack),
            link("LocationPod", &pod2, "pod", "LocationRack", &r3),
        ]
        .join(", ")]
    );
    run.commit().unwrap();
    assert_eq!(names_on(&s, "br1", "LocationPod"), ["pod2"]);
    assert_eq!(names_on(&s, "br1", "LocationRack"), ["r1", "r3"]);
    assert_eq!(names_on(&s, "main", "LocationPod"), ["pod1", "pod2"]);
    assert_eq!(names_on(&s, "main", "LocationRack"), ["r1"]);
}
