//! Mutations: input shapes the Python SDK sends, upsert identity (reference §1.8),
//! uniqueness, many-relationship replacement, RelationshipAdd/Remove, cascade delete.

mod common;

use common::*;
use serde_json::json;

fn count(s: &infragen_store::Store, kind: &str) -> u64 {
    ok(s, "main", &format!("{{ {kind} {{ count }} }}"))[kind]["count"]
        .as_u64()
        .unwrap()
}

/// A mutation's answer lists its fields in the order the mutation selects them, as a
/// query's does (and as Infrahub answers): the root fields, `object`'s fields and `ok`.
#[test]
fn a_mutation_answer_keeps_the_order_of_its_selection() {
    let s = store();
    let answer = s.answer_blocking(
        "main",
        &infragen_store::GraphqlRequest::new(
            r#"mutation {
                b: DcimDeviceCreate(data: {name: {value: "leaf2"}}) { object { name { value } hfid } ok }
                a: DcimDeviceCreate(data: {name: {value: "leaf1"}}) { __typename ok }
            }"#,
        ),
    );
    assert_eq!(
        answer.to_text(),
        r#"{"data":{"b":{"object":{"name":{"value":"leaf2"},"hfid":["leaf2"]},"ok":true},"a":{"__typename":"DcimDeviceCreate","ok":true}}}"#
    );
}

#[test]
fn create_returns_ok_and_the_object() {
    let s = store();
    let d = ok(
        &s,
        "main",
        r#"mutation { DcimDeviceCreate(data: {name: {value: "leaf1"}, asn: {value: 65000}}) { ok object { id hfid name { value } status { value } } } }"#,
    );
    let r = &d["DcimDeviceCreate"];
    assert_eq!(r["ok"], true);
    assert_eq!(r["object"]["hfid"], json!(["leaf1"]));
    assert_eq!(
        r["object"]["status"],
        json!({"value": "active"}),
        "default_value applied"
    );
}

#[test]
fn the_sdk_upsert_document_with_trailing_commas_and_value_variables_is_accepted() {
    let s = store();
    let a = device(&s, "main", "a", "");
    let b = device(&s, "main", "b", "");
    let query = format!(
        r#"
mutation ($value_3f2a9c: String!) {{
    CoreGeneratorGroupUpsert(
        data: {{
            name: {{
                value: "my_gen-e291d513b7aefcfa5f736b208c79b8c5"
            }}
            description: {{
                value: $value_3f2a9c
            }}
            members: [
                {{
                    id: "{a}"
                }},
                {{
                    id: "{b}"
                }},
            ]
        }}
    ){{
        ok
        object {{
            id
        }}
    }}
}}"#
    );
    let r = gql_vars(
        &s,
        "main",
        &query,
        json!({"value_3f2a9c": "name: site1, é/x"}),
    );
    assert!(r.get("errors").is_none(), "{r:#}");
    let d = ok(
        &s,
        "main",
        "{ CoreGeneratorGroup { edges { node { description { value } members { count } } } } }",
    );
    assert_eq!(
        d["CoreGeneratorGroup"]["edges"][0]["node"],
        json!({"description": {"value": "name: site1, é/x"}, "members": {"count": 2}})
    );
}

#[test]
fn upsert_by_id_updates_that_node() {
    let s = store();
    let id = device(&s, "main", "leaf1", "");
    let d = ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ DcimDeviceUpsert(data: {{id: "{id}", name: {{value: "leaf1-renamed"}}}}) {{ ok object {{ id name {{ value }} }} }} }}"#
        ),
    );
    assert_eq!(
        d["DcimDeviceUpsert"]["object"],
        json!({"id": id, "name": {"value": "leaf1-renamed"}})
    );
    assert_eq!(count(&s, "DcimDevice"), 1);
}

#[test]
fn upsert_by_unknown_id_is_unable_to_find_the_node() {
    let s = store();
    let r = gql(
        &s,
        "main",
        r#"mutation { DcimDeviceUpsert(data: {id: "nope", name: {value: "x"}}) { ok } }"#,
    );
    assert_eq!(
        errors(&r),
        ["Unable to find the node nope / DcimDevice in the database."]
    );
    assert_eq!(r["data"], json!({"DcimDeviceUpsert": null}));
}

#[test]
fn upsert_by_default_filter_when_the_kind_has_no_hfid() {
    let s = store();
    let a = device(&s, "main", "a", "");
    let g1 = ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ CoreStandardGroupUpsert(data: {{name: {{value: "g"}}, members: [{{id: "{a}"}}]}}) {{ object {{ id }} }} }}"#
        ),
    );
    let g2 = ok(
        &s,
        "main",
        r#"mutation { CoreStandardGroupUpsert(data: {name: {value: "g"}, label: {value: "G"}}) { object { id label { value } } } }"#,
    );
    assert_eq!(
        g1["CoreStandardGroupUpsert"]["object"]["id"],
        g2["CoreStandardGroupUpsert"]["object"]["id"]
    );
    assert_eq!(count(&s, "CoreStandardGroup"), 1);
}

#[test]
fn upsert_by_explicit_hfid() {
    let s = store();
    let d = device(&s, "main", "leaf1", "");
    let i = interface(&s, "main", &d, "eth1");
    let r = ok(
        &s,
        "main",
        r#"mutation { DcimPhysicalInterfaceUpsert(data: {hfid: ["leaf1", "eth1"], description: {value: "uplink"}}) { object { id description { value } } } }"#,
    );
    assert_eq!(
        r["DcimPhysicalInterfaceUpsert"]["object"],
        json!({"id": i, "description": {"value": "uplink"}})
    );
}

#[test]
fn upsert_by_the_hfid_computed_from_the_payload_including_a_relationship_component() {
    let s = store();
    let d = device(&s, "main", "leaf1", r#"asn: {value: 1}"#);
    // Same name → the HFID ["leaf1"] matches: update, not duplicate (there is a
    // default_filter too, but the HFID takes precedence for kinds that have one).
    let again = device(&s, "main", "leaf1", r#"asn: {value: 2}"#);
    assert_eq!(d, again);
    let i1 = interface(&s, "main", &d, "eth1");
    let i2 = interface(&s, "main", &d, "eth1");
    assert_eq!(
        i1, i2,
        "[device__name__value, name__value] identifies the interface"
    );
    let other = device(&s, "main", "leaf2", "");
    let i3 = interface(&s, "main", &other, "eth1");
    assert_ne!(i1, i3, "same name on another device is another interface");
    assert_eq!(count(&s, "DcimInterface"), 2);
}

#[test]
fn kinds_without_hfid_or_default_filter_always_create() {
    let s = store();
    for _ in 0..2 {
        ok(
            &s,
            "main",
            r#"mutation { IpamPrefixUpsert(data: {prefix: {value: "10.0.0.0/8"}}) { ok } }"#,
        );
    }
    assert_eq!(count(&s, "IpamPrefix"), 2);
}

#[test]
fn any_other_uniqueness_violation_is_an_error() {
    let s = store();
    device(&s, "main", "leaf1", r#"serial: {value: "SN1"}"#);
    let r = gql(
        &s,
        "main",
        r#"mutation { DcimDeviceUpsert(data: {name: {value: "leaf2"}, serial: {value: "SN1"}}) { ok } }"#,
    );
    assert_eq!(
        errors(&r),
        ["Violates uniqueness constraint 'serial' with 'SN1'"]
    );
    assert_eq!(count(&s, "DcimDevice"), 1);
    let r = gql(
        &s,
        "main",
        r#"mutation { DcimDeviceCreate(data: {name: {value: "leaf1"}}) { ok } }"#,
    );
    assert_eq!(
        errors(&r),
        ["Violates uniqueness constraint 'name' with 'leaf1'"]
    );
}

#[test]
fn validation_errors_name_the_field() {
    let s = store();
    let cases = [
        (
            r#"DcimDeviceCreate(data: {asn: {value: 1}})"#,
            "name is mandatory for DcimDevice",
        ),
        (
            r#"DcimDeviceCreate(data: {name: {value: "x"}, role: {value: "core"}})"#,
            "role: 'core' is not a valid choice, expected one of: leaf, spine",
        ),
        (
            r#"DcimDeviceCreate(data: {name: {value: "x"}, asn: {value: "many"}})"#,
            "asn: 'many' is not a valid Number",
        ),
        (
            r#"DcimDeviceCreate(data: {name: {value: "x"}, status: {value: "gone"}})"#,
            "status: \"gone\" is not one of the allowed values: active, planned",
        ),
        (
            r#"DcimDeviceCreate(data: {name: {value: "x"}, mgmt: {value: "10.0.0.300/24"}})"#,
            "mgmt: '10.0.0.300/24' is not a valid IP address",
        ),
        (
            r#"IpamPrefixCreate(data: {prefix: {value: "10.0.0.1/24"}})"#,
            "prefix: '10.0.0.1/24' has host bits set (network is 10.0.0.0/24)",
        ),
        (
            r#"DcimDeviceCreate(data: {name: {value: "x"}, colour: {value: "red"}})"#,
            "Field 'colour' is not defined by type 'DcimDeviceCreateInput'.",
        ),
        (
            r#"DcimPhysicalInterfaceCreate(data: {name: {value: "eth1"}})"#,
            "device is mandatory for DcimPhysicalInterface",
        ),
        (
            r#"DcimDeviceCreate(data: {name: {value: "x"}, site: {id: "missing"}})"#,
            "Unable to find the node missing / LocationSite in the database.",
        ),
    ];
    for (m, expected) in cases {
        let r = gql(&s, "main", &format!("mutation {{ {m} {{ ok }} }}"));
        assert_eq!(errors(&r), [expected], "{m}");
    }
    assert_eq!(count(&s, "DcimDevice"), 0, "failed mutations write nothing");
}

#[test]
fn update_and_upsert_replace_many_relationships() {
    let s = store();
    let a = device(&s, "main", "a", "");
    let b = device(&s, "main", "b", "");
    let c = device(&s, "main", "c", "");
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ CoreStandardGroupUpsert(data: {{name: {{value: "g"}}, members: [{{id: "{a}"}}, {{id: "{b}"}}]}}) {{ ok }} }}"#
        ),
    );
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ CoreStandardGroupUpsert(data: {{name: {{value: "g"}}, members: [{{id: "{c}"}}, {{id: "{b}"}}]}}) {{ ok }} }}"#
        ),
    );
    let members = |s: &infragen_store::Store| -> Vec<String> {
        let d = ok(
            s,
            "main",
            r#"{ CoreStandardGroup { edges { node { members { edges { node { id } } } } } } }"#,
        );
        d["CoreStandardGroup"]["edges"][0]["node"]["members"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut got = members(&s);
    got.sort();
    let mut want = vec![b.clone(), c.clone()];
    want.sort();
    assert_eq!(got, want);
    // The other side follows: a is no longer a member of any group.
    let d = ok(
        &s,
        "main",
        &format!(
            r#"{{ DcimDevice(ids: ["{a}"]) {{ edges {{ node {{ member_of_groups {{ count }} }} }} }} }}"#
        ),
    );
    assert_eq!(
        d["DcimDevice"]["edges"][0]["node"]["member_of_groups"]["count"],
        0
    );
    // `members: []` clears; omitting members leaves them.
    ok(
        &s,
        "main",
        r#"mutation { CoreStandardGroupUpsert(data: {name: {value: "g"}, label: {value: "x"}}) { ok } }"#,
    );
    assert_eq!(members(&s).len(), 2);
    ok(
        &s,
        "main",
        r#"mutation { CoreStandardGroupUpsert(data: {name: {value: "g"}, members: []}) { ok } }"#,
    );
    assert!(members(&s).is_empty());
}

#[test]
fn moving_a_component_updates_both_parents() {
    let s = store();
    let a = device(&s, "main", "a", "");
    let b = device(&s, "main", "b", "");
    let i = interface(&s, "main", &a, "eth1");
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ DcimPhysicalInterfaceUpdate(data: {{id: "{i}", device: {{id: "{b}"}}}}) {{ ok }} }}"#
        ),
    );
    let d = ok(
        &s,
        "main",
        "{ DcimDevice { edges { node { name { value } interfaces { count } } } } }",
    );
    assert_eq!(
        d["DcimDevice"]["edges"][0]["node"]["interfaces"]["count"],
        0
    );
    assert_eq!(
        d["DcimDevice"]["edges"][1]["node"]["interfaces"]["count"],
        1
    );
}

#[test]
fn relationship_add_and_remove_edit_membership_without_replacing() {
    let s = store();
    let a = device(&s, "main", "a", "");
    let b = device(&s, "main", "b", "");
    let g = ok(
        &s,
        "main",
        r#"mutation { CoreStandardGroupCreate(data: {name: {value: "g"}}) { object { id } } }"#,
    )["CoreStandardGroupCreate"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ RelationshipAdd(data: {{id: "{g}", name: "members", nodes: [{{id: "{a}"}}]}}) {{ ok }} }}"#
        ),
    );
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ RelationshipAdd(data: {{id: "{g}", name: "members", nodes: [{{id: "{b}"}}, {{id: "{a}"}}]}}) {{ ok }} }}"#
        ),
    );
    let n = || {
        ok(
            &s,
            "main",
            "{ CoreStandardGroup { edges { node { members { count } } } } }",
        )["CoreStandardGroup"]["edges"][0]["node"]["members"]["count"]
            .clone()
    };
    assert_eq!(n(), 2);
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ RelationshipRemove(data: {{id: "{g}", name: "members", nodes: [{{id: "{a}"}}]}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(n(), 1);
    let r = gql(
        &s,
        "main",
        &format!(
            r#"mutation {{ RelationshipAdd(data: {{id: "{g}", name: "owners", nodes: []}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(
        errors(&r),
        ["'owners' is not a relationship of CoreStandardGroup"]
    );
}

#[test]
fn delete_cascades_to_components_and_unlinks_peers() {
    let s = store();
    let a = device(&s, "main", "a", "");
    interface(&s, "main", &a, "eth1");
    interface(&s, "main", &a, "eth2");
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ CoreStandardGroupCreate(data: {{name: {{value: "g"}}, members: [{{id: "{a}"}}]}}) {{ ok }} }}"#
        ),
    );
    let d = ok(
        &s,
        "main",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{a}"}}) {{ ok }} }}"#),
    );
    assert_eq!(d, json!({"DcimDeviceDelete": {"ok": true}}));
    assert_eq!(count(&s, "DcimInterface"), 0);
    let g = ok(
        &s,
        "main",
        "{ CoreStandardGroup { edges { node { members { count } } } } }",
    );
    assert_eq!(
        g["CoreStandardGroup"]["edges"][0]["node"]["members"]["count"],
        0
    );
    // Deleting it again: the message the SDK's delete-unused ignores.
    let r = gql(
        &s,
        "main",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{a}"}}) {{ ok }} }}"#),
    );
    assert!(errors(&r)[0].contains("Unable to find the node"), "{r}");
}

#[test]
fn delete_by_hfid() {
    let s = store();
    let a = device(&s, "main", "a", "");
    interface(&s, "main", &a, "eth1");
    ok(
        &s,
        "main",
        r#"mutation { DcimPhysicalInterfaceDelete(data: {hfid: ["a", "eth1"]}) { ok } }"#,
    );
    assert_eq!(count(&s, "DcimInterface"), 0);
    assert_eq!(count(&s, "DcimDevice"), 1);
}

#[test]
fn several_mutations_in_one_document_run_in_order() {
    let s = store();
    let r = gql(
        &s,
        "main",
        r#"mutation {
        a: DcimDeviceCreate(data: {name: {value: "a"}}) { ok }
        b: DcimDeviceCreate(data: {name: {value: "a"}}) { ok }
        c: DcimDeviceCreate(data: {name: {value: "c"}}) { ok }
    }"#,
    );
    assert_eq!(
        r["data"],
        json!({"a": {"ok": true}, "b": null, "c": {"ok": true}})
    );
    assert_eq!(
        errors(&r),
        ["Violates uniqueness constraint 'name' with 'a'"]
    );
    assert_eq!(r["errors"][0]["path"], json!(["b"]));
}
