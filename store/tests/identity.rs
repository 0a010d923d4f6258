//! Upsert identity as Infrahub resolves it for kinds without a human-friendly id: by the
//! kind's `default_filter`, which the core IP kinds define (`address__value`,
//! `prefix__value`) and every kind inheriting them takes.

mod common;

use common::{errors, gql, ok};
use infragen_store::Store;
use serde_json::json;

const RESOURCES: &str = include_str!("fixtures/aidc_resources.yml");

fn store() -> Store {
    let s = Store::in_memory().expect("in-memory store");
    s.load_schema(&[("aidc_resources.yml".into(), RESOURCES.into())])
        .expect("fixture schema loads");
    s
}

#[test]
fn an_ip_address_upserted_twice_is_one_node_updated() {
    let s = store();
    let upsert = |description: &str| {
        ok(
            &s,
            "main",
            &format!(
                "mutation {{ IpamIPAddressUpsert(data: {{address: {{value: \"10.1.0.1/31\"}}, \
                 description: {{value: \"{description}\"}}}}) {{ ok object {{ id }} }} }}"
            ),
        )["IpamIPAddressUpsert"]["object"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let first = upsert("first");
    let second = upsert("second");
    assert_eq!(first, second);
    let listed = ok(
        &s,
        "main",
        "{ IpamIPAddress { count edges { node { id address { value } description { value } } } } }",
    );
    assert_eq!(
        listed["IpamIPAddress"],
        json!({"count": 1, "edges": [{"node": {
            "id": first,
            "address": {"value": "10.1.0.1/31"},
            "description": {"value": "second"},
        }}]})
    );
    // Another address is another node.
    let other = ok(
        &s,
        "main",
        "mutation { IpamIPAddressUpsert(data: {address: {value: \"10.1.0.0/31\"}}) { ok object { id } } }",
    );
    assert_ne!(
        other["IpamIPAddressUpsert"]["object"]["id"].as_str(),
        Some(first.as_str())
    );
    let count = gql(&s, "main", "{ IpamIPAddress { count } }");
    assert_eq!(count["data"]["IpamIPAddress"]["count"], 2);
}

#[test]
fn the_core_ip_kinds_have_infrahubs_default_filters() {
    let s = store();
    let schema = s.schema_json();
    let default_filter = |kind: &str| {
        ["nodes", "generics"]
            .iter()
            .flat_map(|section| schema[*section].as_array().cloned().unwrap_or_default())
            .find(|k| {
                format!(
                    "{}{}",
                    k["namespace"].as_str().unwrap_or_default(),
                    k["name"].as_str().unwrap_or_default()
                ) == kind
            })
            .map(|k| k["default_filter"].clone())
    };
    assert_eq!(
        default_filter("BuiltinIPAddress"),
        Some(json!("address__value"))
    );
    assert_eq!(
        default_filter("BuiltinIPPrefix"),
        Some(json!("prefix__value"))
    );
    assert_eq!(
        default_filter("IpamIPAddress"),
        Some(json!("address__value"))
    );
}

/// A related node given as `{id: "<not a node id>"}` is found by the peer kind's default
/// filter, as Infrahub finds it: the Python SDK sends `{id: "devices"}` for
/// `member_of_groups=["devices"]`.
#[test]
fn a_related_node_given_by_name_resolves_through_the_peer_kinds_default_filter() {
    let s = store();
    let group = ok(
        &s,
        "main",
        "mutation { CoreStandardGroupCreate(data: {name: {value: \"devices\"}}) { ok object { id } } }",
    )["CoreStandardGroupCreate"]["object"]["id"]
        .clone();
    let address = ok(
        &s,
        "main",
        "mutation { IpamIPAddressCreate(data: {address: {value: \"10.2.0.1/32\"}, \
         member_of_groups: [{id: \"devices\"}]}) { ok object { id } } }",
    )["IpamIPAddressCreate"]["object"]["id"]
        .clone();
    let members = ok(
        &s,
        "main",
        "{ CoreStandardGroup(name__value: \"devices\") { edges { node { id members { edges { node { id } } } } } } }",
    );
    assert_eq!(
        members["CoreStandardGroup"]["edges"],
        json!([{"node": {"id": group, "members": {"edges": [{"node": {"id": address}}]}}}])
    );
    let missing = gql(
        &s,
        "main",
        "mutation { IpamIPAddressCreate(data: {address: {value: \"10.2.0.2/32\"}, \
         member_of_groups: [{id: \"nobody\"}]}) { ok } }",
    );
    assert_eq!(
        errors(&missing),
        ["Unable to find the node nobody / CoreGroup in the database."]
    );
    let count = gql(&s, "main", "{ IpamIPAddress { count } }");
    assert_eq!(
        count["data"]["IpamIPAddress"]["count"], 1,
        "nothing written"
    );
}
