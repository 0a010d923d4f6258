//! Schema features the AI/DC design relies on, end to end.

mod common;

use common::{errors, gql, node_id, ok};
use infragen_store::Store;
use serde_json::json;

fn aidc() -> Store {
    let s = Store::in_memory().unwrap();
    let schema = include_str!("fixtures/aidc_like.yml");
    s.load_schema(&[("aidc.yml".into(), schema.into())])
        .unwrap();
    let fab = ok(
        &s,
        "main",
        r#"mutation { NetworkFabricCreate(data: {name: {value: "fab1"}, index: {value: 1}}) { object { id } } }"#,
    );
    let fab = fab["NetworkFabricCreate"]["object"]["id"].as_str().unwrap();
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ NetworkPodCreate(data: {{name: {{value: "pod1"}}, index: {{value: 1}}, parent: {{id: "{fab}"}}}}) {{ ok }} }}"#
        ),
    );
    s
}

#[test]
fn racks_are_unique_per_pod_and_index() {
    let s = aidc();
    ok(&s, "main", &r#"mutation { NetworkRackUpsert(data: {name: {value: "r1"}, index: {value: 1}, pod: POD}) { ok } }"#.replace("POD", &pod_ref(&s)));
    let r = gql(&s, "main", &r#"mutation { NetworkRackUpsert(data: {name: {value: "r2"}, index: {value: 1}, pod: POD}) { ok } }"#.replace("POD", &pod_ref(&s)));
    let msg = &errors(&r)[0];
    assert!(
        msg.starts_with("Violates uniqueness constraint 'pod-index__value' with '"),
        "{msg}"
    );
    // Same name again: the HFID identifies the rack, so this is an update.
    ok(&s, "main", &r#"mutation { NetworkRackUpsert(data: {name: {value: "r1"}, index: {value: 1}, amount_of_leafs: {value: 2}, pod: POD}) { ok } }"#.replace("POD", &pod_ref(&s)));
    assert_eq!(
        ok(&s, "main", "{ NetworkRack { count } }")["NetworkRack"]["count"],
        1
    );
}

fn pod_ref(s: &Store) -> String {
    let id = node_id(s, "NetworkPod", "name", "pod1");
    format!(r#"{{id: "{id}"}}"#)
}

#[test]
fn number_parameters_and_max_count_are_enforced() {
    let s = aidc();
    let r = gql(&s, "main", &r#"mutation { NetworkRackCreate(data: {name: {value: "r1"}, index: {value: 1}, amount_of_leafs: {value: 3}, pod: POD}) { ok } }"#.replace("POD", &pod_ref(&s)));
    assert_eq!(
        errors(&r),
        ["amount_of_leafs: 3 is above the maximum value 2"]
    );
    let mut ids = Vec::new();
    for i in 1..=3 {
        let d = ok(&s, "main", &format!(r#"mutation {{ NetworkRackCreate(data: {{name: {{value: "r{i}"}}, index: {{value: {i}}}, pod: POD}}) {{ object {{ id }} }} }}"#).replace("POD", &pod_ref(&s)));
        ids.push(
            d["NetworkRackCreate"]["object"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let r = gql(
        &s,
        "main",
        &format!(
            r#"mutation {{ NetworkLinkCreate(data: {{name: {{value: "l1"}}, endpoints: [{{id: "{}"}}, {{id: "{}"}}, {{id: "{}"}}]}}) {{ ok }} }}"#,
            ids[0], ids[1], ids[2]
        ),
    );
    assert_eq!(
        errors(&r),
        ["endpoints: at most 2 related nodes are allowed, got 3"]
    );

    // RelationshipAdd checks the bound of the relationship it edits, and writes nothing
    // when it is exceeded.
    let link = ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ NetworkLinkCreate(data: {{name: {{value: "l2"}}, endpoints: [{{id: "{}"}}, {{id: "{}"}}]}}) {{ object {{ id }} }} }}"#,
            ids[0], ids[1]
        ),
    )["NetworkLinkCreate"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let endpoints = |s: &Store| {
        let data = ok(
            s,
            "main",
            r#"{ NetworkLink(name__value: "l2") { edges { node { endpoints { edges { node { id } } } } } } }"#,
        );
        data["NetworkLink"]["edges"][0]["node"]["endpoints"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let before = endpoints(&s);
    assert_eq!(before.len(), 2);
    let r = gql(
        &s,
        "main",
        &format!(
            r#"mutation {{ RelationshipAdd(data: {{id: "{link}", name: "endpoints", nodes: [{{id: "{}"}}]}}) {{ ok }} }}"#,
            ids[2]
        ),
    );
    assert_eq!(
        errors(&r),
        ["endpoints: at most 2 related nodes are allowed, got 3"]
    );
    assert_eq!(endpoints(&s), before);
    // Removing one of the two stays within the bound.
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ RelationshipRemove(data: {{id: "{link}", name: "endpoints", nodes: [{{id: "{}"}}]}}) {{ ok }} }}"#,
            ids[0]
        ),
    );
    assert_eq!(endpoints(&s), [ids[1].clone()]);
}

#[test]
fn agnostic_design_nodes_are_the_same_on_every_branch_and_display_label_paths_work() {
    let s = aidc();
    s.create_branch("br1").unwrap();
    let pod = pod_ref(&s);
    ok(
        &s,
        "br1",
        &format!(
            r#"mutation {{ NetworkPodUpdate(data: {{checksum: {{value: "abc"}}, id: {}}}) {{ ok }} }}"#,
            &pod[5..pod.len() - 1]
        ),
    );
    let d = ok(
        &s,
        "main",
        "{ NetworkPod { edges { node { display_label checksum { value } role { value } parent { node { display_label } } } } } }",
    );
    assert_eq!(
        d["NetworkPod"]["edges"][0]["node"],
        json!({"display_label": "pod1", "checksum": {"value": "abc"}, "role": {"value": "cpu"}, "parent": {"node": {"display_label": "fab1"}}})
    );
    let r = gql(
        &s,
        "main",
        r#"mutation { NetworkRackCreate(data: {name: {value: "r"}, index: {value: 1}, label: {value: "x"}}) { ok } }"#,
    );
    assert_eq!(
        errors(&r),
        ["Field 'label' is not defined by type 'NetworkRackCreateInput'."],
        "read-only attributes are not writable"
    );
}

#[test]
fn branch_aware_attributes_of_a_shared_node_vary_per_branch_until_merged() {
    let s = aidc();
    s.create_branch("br1").unwrap();
    let pod = pod_ref(&s);
    let id = &pod[5..pod.len() - 1];
    // `name` is branch-aware (from the generic), `index` is agnostic, the node is agnostic.
    ok(
        &s,
        "br1",
        &format!(
            r#"mutation {{ NetworkPodUpdate(data: {{id: {id}, name: {{value: "pod1-b"}}, index: {{value: 7}}}}) {{ ok }} }}"#
        ),
    );
    let q = "{ NetworkPod { edges { node { name { value } index { value } } } } }";
    assert_eq!(
        ok(&s, "main", q)["NetworkPod"]["edges"][0]["node"],
        json!({"name": {"value": "pod1"}, "index": {"value": 7}})
    );
    assert_eq!(
        ok(&s, "br1", q)["NetworkPod"]["edges"][0]["node"],
        json!({"name": {"value": "pod1-b"}, "index": {"value": 7}})
    );
    assert_eq!(
        ok(
            &s,
            "br1",
            r#"{ NetworkPod(name__value: "pod1-b") { count } }"#
        )["NetworkPod"]["count"],
        1
    );
    assert_eq!(
        ok(
            &s,
            "br1",
            r#"{ NetworkPod(name__value: "pod1") { count } }"#
        )["NetworkPod"]["count"],
        0
    );
    assert_eq!(
        ok(
            &s,
            "main",
            r#"{ NetworkPod(name__value: "pod1") { count } }"#
        )["NetworkPod"]["count"],
        1
    );
    // Main changes the shared field again; the branch sees it.
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ NetworkPodUpdate(data: {{id: {id}, index: {{value: 8}}}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(
        ok(&s, "br1", q)["NetworkPod"]["edges"][0]["node"],
        json!({"name": {"value": "pod1-b"}, "index": {"value": 8}})
    );
    s.merge_branch("br1").unwrap();
    assert_eq!(
        ok(&s, "main", q)["NetworkPod"]["edges"][0]["node"],
        json!({"name": {"value": "pod1-b"}, "index": {"value": 8}})
    );
}

/// An update is checked against the uniqueness of what it changes: moving a rack into a
/// pod, or renumbering it, onto another rack's (pod, index) is refused and changes nothing;
/// renaming it onto another rack's HFID too; changing anything else is not refused.
#[test]
fn an_update_is_refused_where_it_makes_a_rack_share_its_pod_and_index_or_name() {
    let s = aidc();
    let fab =
        ok(&s, "main", r#"{ NetworkFabric { edges { node { id } } } }"#)["NetworkFabric"]["edges"]
            [0]["node"]["id"]
            .as_str()
            .unwrap()
            .to_string();
    let pod2 = ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ NetworkPodCreate(data: {{name: {{value: "pod2"}}, index: {{value: 2}}, parent: {{id: "{fab}"}}}}) {{ object {{ id }} }} }}"#
        ),
    )["NetworkPodCreate"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pod1 = pod_ref(&s);
    let rack = |name: &str, index: u32, pod: &str| {
        ok(&s, "main", &format!(r#"mutation {{ NetworkRackCreate(data: {{name: {{value: "{name}"}}, index: {{value: {index}}}, pod: {pod}}}) {{ object {{ id }} }} }}"#))
            ["NetworkRackCreate"]["object"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    rack("r1", 1, &pod1);
    let r2 = rack("r2", 1, &format!(r#"{{id: "{pod2}"}}"#));
    let r3 = rack("r3", 2, &pod1);
    let racks = |s: &Store| {
        ok(
            s,
            "main",
            "{ NetworkRack { edges { node { name { value } index { value } amount_of_leafs { value } pod { node { display_label } } } } } }",
        )
    };
    let before = racks(&s);
    let update = |data: String| {
        gql(
            &s,
            "main",
            &format!("mutation {{ NetworkRackUpdate(data: {{{data}}}) {{ ok }} }}"),
        )
    };
    let pod1_id = pod1.trim_start_matches("{id: \"").trim_end_matches("\"}");
    for (data, taken) in [
        (
            format!(r#"id: "{r2}", pod: {pod1}"#),
            format!("{pod1_id}-1"),
        ),
        (
            format!(r#"id: "{r3}", index: {{value: 1}}"#),
            format!("{pod1_id}-1"),
        ),
    ] {
        let r = update(data.clone());
        assert_eq!(
            errors(&r),
            [format!(
                "Violates uniqueness constraint 'pod-index__value' with '{taken}'"
            )],
            "{data}"
        );
        assert_eq!(racks(&s), before, "{data}");
    }
    let r = update(format!(r#"id: "{r3}", name: {{value: "r1"}}"#));
    assert_eq!(
        errors(&r),
        ["Violates uniqueness constraint 'name' with 'r1'"]
    );
    assert_eq!(racks(&s), before);
    // Anything else is no conflict, even on a rack sharing its index with another pod's.
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ NetworkRackUpdate(data: {{id: "{r2}", amount_of_leafs: {{value: 2}}}}) {{ ok }} }}"#
        ),
    );
    let after = racks(&s);
    let leafs: Vec<(&str, i64)> = after["NetworkRack"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["name"]["value"].as_str().unwrap(),
                e["node"]["amount_of_leafs"]["value"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(leafs, [("r1", 1), ("r2", 2), ("r3", 1)]);
}
