//! Resource pools and IPAM: the AI/DC address plan (a /16 per fabric from the /8 supernet
//! pool, a /28 then a /19 from a fabric pool, /31 point-to-points), identifiers,
//! concurrency, exhaustion, address pools and `from_pool`.

mod common;

use common::{errors, gql_vars, node_id, ok};
use infragen_store::Store;
use serde_json::{Value, json};

const RESOURCES: &str = include_str!("fixtures/aidc_resources.yml");

/// The host's documents, verbatim.
const ALLOCATE_PREFIX: &str = "mutation AllocateIPPrefix($data: IPPrefixPoolGetResourceInput!) { InfrahubIPPrefixPoolGetResource(data: $data) { ok node { id kind identifier display_label } } }";
const ALLOCATE_ADDRESS: &str = "mutation AllocateIPAddress($data: IPAddressPoolGetResourceInput!) { InfrahubIPAddressPoolGetResource(data: $data) { ok node { id kind identifier display_label } } }";

fn store() -> Store {
    let s = Store::in_memory().expect("in-memory store");
    s.load_schema(&[("aidc_resources.yml".into(), RESOURCES.into())])
        .expect("fixture schema loads");
    s
}

fn prefix(s: &Store, prefix: &str, role: &str) -> String {
    let d = ok(
        s,
        "main",
        &format!(
            r#"mutation {{ IpamIPPrefixUpsert(data: {{prefix: {{value: "{prefix}"}}, role: {{value: "{role}"}}}}) {{ object {{ id }} }} }}"#
        ),
    );
    d["IpamIPPrefixUpsert"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An address in the default namespace, on `branch`.
fn address(s: &Store, branch: &str, address: &str) {
    ok(
        s,
        branch,
        &format!(
            r#"mutation {{ IpamIPAddressCreate(data: {{address: {{value: "{address}"}}}}) {{ ok }} }}"#
        ),
    );
}

fn prefix_pool(s: &Store, name: &str, resources: &[&str], length: u8, member: &str) -> String {
    let res: Vec<String> = resources
        .iter()
        .map(|r| format!(r#"{{id: "{r}"}}"#))
        .collect();
    let d = ok(
        s,
        "main",
        &format!(
            r#"mutation {{ CoreIPPrefixPoolCreate(data: {{name: {{value: "{name}"}}, default_prefix_length: {{value: {length}}}, default_member_type: {{value: "{member}"}}, default_prefix_type: {{value: "IpamIPPrefix"}}, ip_namespace: {{hfid: ["default"]}}, resources: [{}]}}) {{ object {{ id }} }} }}"#,
            res.join(", ")
        ),
    );
    d["CoreIPPrefixPoolCreate"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn address_pool(s: &Store, name: &str, resource: &str, length: u8) -> String {
    let d = ok(
        s,
        "main",
        &format!(
            r#"mutation {{ CoreIPAddressPoolCreate(data: {{name: {{value: "{name}"}}, default_address_type: {{value: "IpamIPAddress"}}, default_prefix_length: {{value: {length}}}, ip_namespace: {{hfid: ["default"]}}, resources: [{{id: "{resource}"}}]}}) {{ object {{ id }} }} }}"#
        ),
    );
    d["CoreIPAddressPoolCreate"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Allocate with the host's document; the full response.
fn allocate(s: &Store, doc: &str, data: Value) -> Value {
    gql_vars(s, "main", doc, json!({ "data": data }))
}

/// The value (`prefix` or `address`) of the node an allocation returned.
fn allocated(s: &Store, response: &Value, field: &str) -> String {
    let (root, attr) = match field {
        "InfrahubIPPrefixPoolGetResource" => (field, "prefix"),
        _ => (field, "address"),
    };
    assert!(
        response.get("errors").is_none(),
        "unexpected errors: {response:#}"
    );
    let node = &response["data"][root]["node"];
    let kind = node["kind"].as_str().unwrap();
    let id = node["id"].as_str().unwrap();
    let d = ok(
        s,
        "main",
        &format!(r#"{{ {kind}(ids: ["{id}"]) {{ edges {{ node {{ {attr} {{ value }} }} }} }} }}"#),
    );
    d[kind]["edges"][0]["node"][attr]["value"]
        .as_str()
        .unwrap()
        .to_string()
}

fn next_prefix(s: &Store, pool: &str, extra: Value) -> String {
    let mut data = json!({ "id": pool });
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    let r = allocate(s, ALLOCATE_PREFIX, data);
    allocated(s, &r, "InfrahubIPPrefixPoolGetResource")
}

#[test]
fn the_supernet_pool_gives_each_fabric_a_16_and_a_fabric_pool_gives_a_19_after_its_28() {
    let s = store();
    let supernet = prefix(&s, "10.0.0.0/8", "supernet");
    let fabric_supernet_pool = prefix_pool(&s, "FabricSupernetPool", &[&supernet], 16, "prefix");
    // The fabric generator: a /16 per fabric, by the fabric's name.
    let fabric_a = next_prefix(
        &s,
        &fabric_supernet_pool,
        json!({"identifier": "Fabric-A", "data": {"role": "fabric_supernet"}}),
    );
    let fabric_b = next_prefix(
        &s,
        &fabric_supernet_pool,
        json!({"identifier": "Fabric-B", "data": {"role": {"value": "fabric_supernet"}}}),
    );
    assert_eq!(
        (fabric_a.as_str(), fabric_b.as_str()),
        ("10.0.0.0/16", "10.1.0.0/16")
    );
    // Per fabric: super-spine loopbacks (/28) first, then a /19 per pod.
    let fabric_a_id = ok(
        &s,
        "main",
        r#"{ IpamIPPrefix(prefix__value: "10.0.0.0/16") { edges { node { id role { value } member_type { value } } } } }"#,
    );
    let node = &fabric_a_id["IpamIPPrefix"]["edges"][0]["node"];
    assert_eq!(node["role"]["value"], "fabric_supernet");
    assert_eq!(node["member_type"]["value"], "prefix");
    let fabric_pool = prefix_pool(
        &s,
        "Fabric-A-pool",
        &[node["id"].as_str().unwrap()],
        19,
        "prefix",
    );
    let loopbacks = next_prefix(
        &s,
        &fabric_pool,
        json!({"prefix_length": 28, "data": {"role": "super_spine_loopback"}}),
    );
    let pod1 = next_prefix(&s, &fabric_pool, json!({"data": {"role": "pod_supernet"}}));
    let pod2 = next_prefix(&s, &fabric_pool, json!({"data": {"role": "pod_supernet"}}));
    assert_eq!(
        [loopbacks.as_str(), pod1.as_str(), pod2.as_str()],
        ["10.0.0.0/28", "10.0.32.0/19", "10.0.64.0/19"]
    );
}

#[test]
fn a_prefix_pool_hands_out_consecutive_31s_for_point_to_points() {
    let s = store();
    let pod = prefix(&s, "10.0.32.0/19", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 27, "prefix");
    let loopbacks = next_prefix(&s, &pool, json!({"data": {"role": "pod_loopback"}}));
    assert_eq!(loopbacks, "10.0.32.0/27");
    let mut p2p = Vec::new();
    for (src, dst) in [("if-a", "if-b"), ("if-c", "if-d"), ("if-e", "if-f")] {
        let r = allocate(
            &s,
            ALLOCATE_PREFIX,
            json!({"id": pool, "identifier": format!("{src}{dst}"), "prefix_length": 31, "member_type": "address", "prefix_type": "IpamIPPrefix", "data": {"role": "pod_leaf_spine"}}),
        );
        assert_eq!(r["data"]["InfrahubIPPrefixPoolGetResource"]["ok"], true);
        let node = &r["data"]["InfrahubIPPrefixPoolGetResource"]["node"];
        assert_eq!(node["kind"], "IpamIPPrefix");
        assert_eq!(node["identifier"], format!("{src}{dst}"));
        p2p.push(allocated(&s, &r, "InfrahubIPPrefixPoolGetResource"));
    }
    assert_eq!(p2p, ["10.0.32.32/31", "10.0.32.34/31", "10.0.32.36/31"]);
    let d = ok(
        &s,
        "main",
        r#"{ IpamIPPrefix(prefix__value: "10.0.32.34/31") { edges { node { member_type { value } role { value } display_label } } } }"#,
    );
    assert_eq!(
        d["IpamIPPrefix"]["edges"][0]["node"],
        json!({"member_type": {"value": "address"}, "role": {"value": "pod_leaf_spine"}, "display_label": "10.0.32.34/31"})
    );
}

#[test]
fn the_same_identifier_returns_the_same_prefix_and_a_different_length_is_refused() {
    let s = store();
    let pod = prefix(&s, "10.0.32.0/19", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
    let ask = |len: u8| {
        allocate(
            &s,
            ALLOCATE_PREFIX,
            json!({"hfid": ["Pod-A1-pool"], "identifier": "spine1-eth1leaf1-eth1", "prefix_length": len, "data": {"role": "pod_leaf_spine"}}),
        )
    };
    let first = ask(31);
    let again = ask(31);
    assert_eq!(
        first["data"]["InfrahubIPPrefixPoolGetResource"]["node"]["id"],
        again["data"]["InfrahubIPPrefixPoolGetResource"]["node"]["id"]
    );
    assert_eq!(
        allocated(&s, &again, "InfrahubIPPrefixPoolGetResource"),
        "10.0.32.0/31"
    );
    let d = ok(&s, "main", "{ IpamIPPrefix { count } }");
    assert_eq!(d["IpamIPPrefix"]["count"], 2, "the /19 and one /31");
    let wrong = ask(30);
    assert_eq!(
        errors(&wrong),
        [
            "CoreIPPrefixPool 'Pod-A1-pool': identifier 'spine1-eth1leaf1-eth1' is reserved for 10.0.32.0/31, a /31; it cannot be asked for again with prefix length 30"
        ]
    );
    let _ = pool;
}

#[test]
fn two_hundred_concurrent_allocations_from_one_pool_are_all_distinct() {
    let s = store();
    let pod = prefix(&s, "10.0.32.0/19", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (s, pool) = (s.clone(), pool.clone());
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let r = allocate(
                            &s,
                            ALLOCATE_PREFIX,
                            json!({"id": pool, "identifier": format!("link-{t}-{i}"), "data": {"role": "pod_leaf_spine"}}),
                        );
                        allocated(&s, &r, "InfrahubIPPrefixPoolGetResource")
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("allocating thread"))
        .collect();
    let distinct: std::collections::BTreeSet<&String> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (200, 200));
    // They are exactly the first 200 /31s of the /19.
    assert!(distinct.contains(&"10.0.32.0/31".to_string()));
    assert!(distinct.contains(&"10.0.33.142/31".to_string()));
    assert!(!distinct.contains(&"10.0.33.144/31".to_string()));
}

#[test]
fn an_exhausted_pool_is_an_error_naming_the_pool() {
    let s = store();
    let tiny = prefix(&s, "10.9.0.0/30", "pod_supernet");
    let pool = prefix_pool(&s, "TinyPool", &[&tiny], 31, "address");
    next_prefix(&s, &pool, json!({"data": {"role": "pod_leaf_spine"}}));
    next_prefix(&s, &pool, json!({"data": {"role": "pod_leaf_spine"}}));
    let r = allocate(
        &s,
        ALLOCATE_PREFIX,
        json!({"id": pool, "data": {"role": "pod_leaf_spine"}}),
    );
    assert_eq!(
        errors(&r),
        [
            "No more resources available in CoreIPPrefixPool 'TinyPool': no free /31 left in 10.9.0.0/30"
        ]
    );
    assert_eq!(r["data"]["InfrahubIPPrefixPoolGetResource"], Value::Null);
}

#[test]
fn an_address_pool_skips_the_network_and_broadcast_addresses() {
    let s = store();
    let lo = prefix(&s, "10.0.0.0/29", "super_spine_loopback");
    let pool = address_pool(&s, "Loopbacks", &lo, 32);
    let mut got = Vec::new();
    for i in 0..6 {
        let r = allocate(
            &s,
            ALLOCATE_ADDRESS,
            json!({"id": pool, "identifier": format!("spine{i}")}),
        );
        assert_eq!(
            r["data"]["InfrahubIPAddressPoolGetResource"]["node"]["kind"],
            "IpamIPAddress"
        );
        got.push(allocated(&s, &r, "InfrahubIPAddressPoolGetResource"));
    }
    assert_eq!(
        got,
        [
            "10.0.0.1/32",
            "10.0.0.2/32",
            "10.0.0.3/32",
            "10.0.0.4/32",
            "10.0.0.5/32",
            "10.0.0.6/32"
        ]
    );
    let r = allocate(&s, ALLOCATE_ADDRESS, json!({"id": pool}));
    assert_eq!(
        errors(&r),
        [
            "No more resources available in CoreIPAddressPool 'Loopbacks': no free address left in 10.0.0.0/29"
        ]
    );
    // The address input has no prefix_type (the SDK's quirk is refused as the server does).
    let r = allocate(
        &s,
        ALLOCATE_ADDRESS,
        json!({"id": pool, "prefix_type": "IpamIPAddress"}),
    );
    assert_eq!(
        errors(&r),
        ["Field 'prefix_type' is not defined by type 'IPAddressPoolGetResourceInput'."]
    );
}

#[test]
fn from_pool_on_a_relationship_allocates_once_per_node_and_relationship() {
    let s = store();
    let lo = prefix(&s, "10.0.0.0/28", "super_spine_loopback");
    let pool = address_pool(&s, "Loopbacks", &lo, 32);
    let upsert = |name: &str| {
        ok(
            &s,
            "main",
            &format!(
                r#"mutation {{ NetworkDeviceUpsert(data: {{hostname: {{value: "{name}"}}, role: {{value: "spine"}}, loopback_ip: {{from_pool: {{id: "{pool}"}}}}}}) {{ object {{ loopback_ip {{ node {{ address {{ value }} }} }} }} }} }}"#
            ),
        )["NetworkDeviceUpsert"]["object"]["loopback_ip"]["node"]["address"]["value"]
            .clone()
    };
    assert_eq!(upsert("spine1"), "10.0.0.1/32");
    assert_eq!(upsert("spine2"), "10.0.0.2/32");
    // Again: the server's default identifier `hfid=<kind>__<hfid> rel=<name>` holds it.
    assert_eq!(upsert("spine1"), "10.0.0.1/32");
    let d = ok(&s, "main", "{ IpamIPAddress { count } }");
    assert_eq!(d["IpamIPAddress"]["count"], 2);
    // The pool's name works as well as its id.
    let d = ok(
        &s,
        "main",
        r#"mutation { NetworkDeviceUpsert(data: {hostname: {value: "spine3"}, role: {value: "spine"}, loopback_ip: {from_pool: {id: "Loopbacks", identifier: "spine3-lo"}}}) { object { loopback_ip { node { address { value } ip_prefix { node { prefix { value } } } } } } } }"#,
    );
    assert_eq!(
        d["NetworkDeviceUpsert"]["object"]["loopback_ip"]["node"],
        json!({"address": {"value": "10.0.0.3/32"}, "ip_prefix": {"node": {"prefix": {"value": "10.0.0.0/28"}}}})
    );
}

#[test]
fn prefixes_know_their_parent_children_and_addresses() {
    let s = store();
    prefix(&s, "10.0.0.0/8", "supernet");
    prefix(&s, "10.0.0.0/16", "fabric_supernet");
    prefix(&s, "10.0.32.0/19", "pod_supernet");
    prefix(&s, "10.1.0.0/16", "fabric_supernet");
    address(&s, "main", "10.0.32.1/32");
    let d = ok(
        &s,
        "main",
        r#"{ IpamIPPrefix(prefix__value: "10.0.0.0/16") { edges { node { prefix { value } ip_namespace { node { name { value } } } parent { node { prefix { value } } } children { edges { node { prefix { value } } } } } } } }"#,
    );
    assert_eq!(
        d["IpamIPPrefix"]["edges"][0]["node"],
        json!({
            "prefix": {"value": "10.0.0.0/16"},
            "ip_namespace": {"node": {"name": {"value": "default"}}},
            "parent": {"node": {"prefix": {"value": "10.0.0.0/8"}}},
            "children": {"edges": [{"node": {"prefix": {"value": "10.0.32.0/19"}}}]}
        })
    );
    let d = ok(
        &s,
        "main",
        r#"{ IpamIPPrefix(prefix__value: "10.0.32.0/19") { edges { node { ip_addresses { edges { node { address { value } } } } } } } }"#,
    );
    assert_eq!(
        d["IpamIPPrefix"]["edges"][0]["node"]["ip_addresses"]["edges"],
        json!([{"node": {"address": {"value": "10.0.32.1/32"}}}])
    );
    // Values are stored canonically; a prefix with host bits is refused.
    let r = common::gql(
        &s,
        "main",
        r#"mutation { IpamIPPrefixCreate(data: {prefix: {value: "10.0.32.1/19"}, role: {value: "pod_supernet"}}) { ok } }"#,
    );
    assert_eq!(
        errors(&r),
        ["prefix: '10.0.32.1/19' has host bits set (network is 10.0.32.0/19)"]
    );
}

#[test]
fn reservations_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let (pool, first) = {
        let s = Store::open(&path).unwrap();
        s.load_schema(&[("aidc_resources.yml".into(), RESOURCES.into())])
            .unwrap();
        let pod = prefix(&s, "10.0.32.0/19", "pod_supernet");
        let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
        let first = next_prefix(
            &s,
            &pool,
            json!({"identifier": "l1", "data": {"role": "pod_leaf_spine"}}),
        );
        (pool, first)
    };
    let s = Store::open(&path).unwrap();
    let again = next_prefix(
        &s,
        &pool,
        json!({"identifier": "l1", "data": {"role": "pod_leaf_spine"}}),
    );
    let other = next_prefix(
        &s,
        &pool,
        json!({"identifier": "l2", "data": {"role": "pod_leaf_spine"}}),
    );
    assert_eq!(
        [first.as_str(), again.as_str(), other.as_str()],
        ["10.0.32.0/31", "10.0.32.0/31", "10.0.32.2/31"]
    );
    // One default namespace, however often the store is opened.
    let d = ok(
        &s,
        "main",
        "{ IpamNamespace { count edges { node { name { value } } } } }",
    );
    assert_eq!(d["IpamNamespace"]["count"], 1);
}

#[test]
fn an_allocation_on_a_branch_is_seen_there_and_merged_with_its_reservation() {
    let s = store();
    let pod = prefix(&s, "10.0.32.0/19", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
    s.create_branch("fabric-a").unwrap();
    let r = gql_vars(
        &s,
        "fabric-a",
        ALLOCATE_PREFIX,
        json!({"data": {"id": pool, "identifier": "l1", "data": {"role": "pod_leaf_spine"}}}),
    );
    assert!(r.get("errors").is_none(), "{r:#}");
    let id = r["data"]["InfrahubIPPrefixPoolGetResource"]["node"]["id"].clone();
    let count = |b: &str| ok(&s, b, "{ IpamIPPrefix { count } }")["IpamIPPrefix"]["count"].clone();
    assert_eq!((count("main"), count("fabric-a")), (json!(1), json!(2)));
    s.merge_branch("fabric-a").unwrap();
    let again = allocate(
        &s,
        ALLOCATE_PREFIX,
        json!({"id": pool, "identifier": "l1", "data": {"role": "pod_leaf_spine"}}),
    );
    assert_eq!(
        again["data"]["InfrahubIPPrefixPoolGetResource"]["node"]["id"],
        id
    );
}

#[test]
fn a_number_pool_fills_a_number_attribute_once_per_node() {
    let s = store();
    ok(
        &s,
        "main",
        r#"mutation { CoreNumberPoolCreate(data: {name: {value: "leaf-index"}, node: {value: "NetworkDevice"}, node_attribute: {value: "index"}, start_range: {value: 1}, end_range: {value: 2}}) { ok } }"#,
    );
    let upsert = |name: &str| {
        common::gql(
            &s,
            "main",
            &format!(
                r#"mutation {{ NetworkDeviceUpsert(data: {{hostname: {{value: "{name}"}}, role: {{value: "leaf"}}, index: {{from_pool: {{id: "leaf-index"}}}}}}) {{ object {{ index {{ value }} }} }} }}"#
            ),
        )
    };
    let index = |r: Value| r["data"]["NetworkDeviceUpsert"]["object"]["index"]["value"].clone();
    assert_eq!(index(upsert("leaf1")), 1);
    assert_eq!(index(upsert("leaf2")), 2);
    assert_eq!(index(upsert("leaf1")), 1, "the node keeps its number");
    assert_eq!(
        errors(&upsert("leaf3")),
        [
            "No more resources available in CoreNumberPool 'leaf-index': every number from 1 to 2 is taken"
        ]
    );
}

/// `objects/04_ipam.yml` of the seed design, loaded as an object file.
const SEED_IPAM: &str = r#"
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: IpamIPPrefix
  data:
    - {prefix: 10.0.0.0/8, role: supernet}
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: CoreIPPrefixPool
  data:
    - name: FabricSupernetPool
      default_member_type: prefix
      default_prefix_type: IpamIPPrefix
      default_prefix_length: 16
      ip_namespace: default
      resources: ["10.0.0.0/8"]
"#;

#[test]
fn the_seed_supernet_pool_loads_from_an_object_file_and_allocates() {
    let s = store();
    s.load_objects("main", &[("04_ipam.yml".into(), SEED_IPAM.into())])
        .unwrap();
    let r = allocate(
        &s,
        ALLOCATE_PREFIX,
        json!({"hfid": ["FabricSupernetPool"], "identifier": "Fabric-A", "data": {"role": {"value": "fabric_supernet"}}}),
    );
    assert_eq!(
        allocated(&s, &r, "InfrahubIPPrefixPoolGetResource"),
        "10.0.0.0/16"
    );
    assert_eq!(
        r["data"]["InfrahubIPPrefixPoolGetResource"]["node"]["display_label"],
        "10.0.0.0/16"
    );
    // Loading the seed again changes nothing, and the reservation still holds.
    let again = s
        .load_objects("main", &[("04_ipam.yml".into(), SEED_IPAM.into())])
        .unwrap();
    assert_eq!(again.nodes_changed, 0);
    let r = allocate(
        &s,
        ALLOCATE_PREFIX,
        json!({"hfid": ["FabricSupernetPool"], "identifier": "Fabric-A", "data": {"role": "fabric_supernet"}}),
    );
    assert_eq!(
        allocated(&s, &r, "InfrahubIPPrefixPoolGetResource"),
        "10.0.0.0/16"
    );
}

#[test]
fn two_store_handles_on_one_file_never_hand_out_the_same_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let pool = {
        let s = Store::open(&path).unwrap();
        s.load_schema(&[("aidc_resources.yml".into(), RESOURCES.into())])
            .unwrap();
        let pod = prefix(&s, "10.0.32.0/19", "pod_supernet");
        prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address")
    };
    // Each handle has its own SQLite connection and in-memory graph, like two processes.
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (path, pool) = (path.clone(), pool.clone());
            std::thread::spawn(move || {
                let s = Store::open(&path).unwrap();
                (0..40)
                    .map(|i| {
                        let r = allocate(
                            &s,
                            ALLOCATE_PREFIX,
                            json!({"id": pool, "identifier": format!("p{t}-{i}"), "data": {"role": "pod_leaf_spine"}}),
                        );
                        allocated(&s, &r, "InfrahubIPPrefixPoolGetResource")
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let distinct: std::collections::BTreeSet<&String> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (80, 80));
}

/// The id of the `IpamIPPrefix` (or `IpamIPAddress`) holding `value`.
fn p2p(s: &Store, pool: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| next_prefix(s, pool, json!({"data": {"role": "pod_leaf_spine"}})))
        .collect()
}

#[test]
fn space_freed_below_the_last_allocation_is_handed_out_again() {
    let s = store();
    let pod = prefix(&s, "10.0.32.0/19", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
    assert_eq!(
        p2p(&s, &pool, 3),
        ["10.0.32.0/31", "10.0.32.2/31", "10.0.32.4/31"]
    );
    // Deleted: the first free block again.
    let second = node_id(&s, "IpamIPPrefix", "prefix", "10.0.32.2/31");
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ IpamIPPrefixDelete(data: {{id: "{second}"}}) {{ ok }} }}"#),
    );
    assert_eq!(p2p(&s, &pool, 2), ["10.0.32.2/31", "10.0.32.6/31"]);
    // Moved elsewhere: its old block is free.
    let first = node_id(&s, "IpamIPPrefix", "prefix", "10.0.32.0/31");
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ IpamIPPrefixUpdate(data: {{id: "{first}", prefix: {{value: "10.0.40.0/31"}}}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(p2p(&s, &pool, 2), ["10.0.32.0/31", "10.0.32.8/31"]);
}

#[test]
fn a_prefix_created_over_the_next_free_block_is_not_allocated_into() {
    let s = store();
    let pod = prefix(&s, "10.0.32.0/19", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
    assert_eq!(p2p(&s, &pool, 2), ["10.0.32.0/31", "10.0.32.2/31"]);
    // A /29 starting below the last allocation and covering what would come next.
    prefix(&s, "10.0.32.0/29", "pod_loopback");
    assert_eq!(p2p(&s, &pool, 1), ["10.0.32.8/31"]);
    // A /28 starting above it is found by the search too.
    prefix(&s, "10.0.32.16/28", "pod_loopback");
    assert_eq!(
        p2p(&s, &pool, 5),
        [
            "10.0.32.10/31",
            "10.0.32.12/31",
            "10.0.32.14/31",
            "10.0.32.32/31",
            "10.0.32.34/31"
        ]
    );
}

#[test]
fn an_address_freed_below_the_last_allocation_is_handed_out_again() {
    let s = store();
    let lo = prefix(&s, "10.0.0.0/29", "super_spine_loopback");
    let pool = address_pool(&s, "Loopbacks", &lo, 32);
    let next = |s: &Store| {
        let r = allocate(s, ALLOCATE_ADDRESS, json!({ "id": pool }));
        allocated(s, &r, "InfrahubIPAddressPoolGetResource")
    };
    assert_eq!(
        (next(&s), next(&s), next(&s)),
        (
            "10.0.0.1/32".into(),
            "10.0.0.2/32".into(),
            "10.0.0.3/32".into()
        )
    );
    let freed = node_id(&s, "IpamIPAddress", "address", "10.0.0.1/32");
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ IpamIPAddressDelete(data: {{id: "{freed}"}}) {{ ok }} }}"#),
    );
    assert_eq!(
        (next(&s), next(&s)),
        ("10.0.0.1/32".into(), "10.0.0.4/32".into())
    );
}

#[test]
fn space_another_process_frees_is_handed_out_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let s = Store::open(&path).unwrap();
    s.load_schema(&[("aidc_resources.yml".into(), RESOURCES.into())])
        .unwrap();
    let pod = prefix(&s, "10.0.32.0/19", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
    assert_eq!(p2p(&s, &pool, 2), ["10.0.32.0/31", "10.0.32.2/31"]);
    // Another handle on the file (its own connection, like another process) deletes one.
    let other = Store::open(&path).unwrap();
    let first = node_id(&other, "IpamIPPrefix", "prefix", "10.0.32.0/31");
    ok(
        &other,
        "main",
        &format!(r#"mutation {{ IpamIPPrefixDelete(data: {{id: "{first}"}}) {{ ok }} }}"#),
    );
    assert_eq!(p2p(&s, &pool, 2), ["10.0.32.0/31", "10.0.32.4/31"]);
}

/// Prefixes and addresses both point at their namespace through `ip_namespace`: a
/// listing of one kind by namespace holds that kind's nodes only, on main and on a branch.
#[test]
fn a_listing_by_namespace_holds_only_its_own_kind() {
    let s = store();
    prefix(&s, "10.0.0.0/16", "fabric_supernet");
    prefix(&s, "10.1.0.0/16", "fabric_supernet");
    address(&s, "main", "10.0.0.1/32");
    let namespace = node_id(&s, "BuiltinIPNamespace", "name", "default");
    s.create_branch("br1").unwrap();
    address(&s, "br1", "10.1.0.1/32");
    for (branch, addresses) in [
        ("main", json!(["10.0.0.1/32"])),
        ("br1", json!(["10.0.0.1/32", "10.1.0.1/32"])),
    ] {
        let vars = json!({"ns": [namespace]});
        let d = gql_vars(
            &s,
            branch,
            r#"query($ns: [ID]) { IpamIPPrefix(ip_namespace__ids: $ns) { count edges { node { prefix { value } } } } IpamIPAddress(ip_namespace__ids: $ns) { edges { node { address { value } } } } }"#,
            vars,
        );
        assert_eq!(errors(&d), Vec::<String>::new(), "{branch}");
        assert_eq!(d["data"]["IpamIPPrefix"]["count"], 2, "{branch}");
        let prefixes: Vec<&Value> = d["data"]["IpamIPPrefix"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["node"]["prefix"]["value"])
            .collect();
        assert_eq!(
            prefixes,
            [&json!("10.0.0.0/16"), &json!("10.1.0.0/16")],
            "{branch}"
        );
        let found: Vec<Value> = d["data"]["IpamIPAddress"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["address"]["value"].clone())
            .collect();
        assert_eq!(Value::Array(found), addresses, "{branch}");
    }
}

/// One document in `run`, which must succeed; its `data`.
fn in_run(run: &infragen_store::RunTransaction, document: &str) -> Value {
    let answer = run.execute(&infragen_store::GraphqlRequest::new(document), None);
    assert!(answer.get("errors").is_none(), "in the run: {answer:#}");
    answer["data"].clone()
}

/// The next /31 of `pool` allocated in `run`: its id and prefix.
fn next_in_run(run: &infragen_store::RunTransaction, pool: &str) -> (String, String) {
    let d = in_run(
        run,
        &format!(
            r#"mutation {{ InfrahubIPPrefixPoolGetResource(data: {{id: "{pool}", data: {{role: "pod_leaf_spine"}}}}) {{ node {{ id }} }} }}"#
        ),
    );
    let id = d["InfrahubIPPrefixPoolGetResource"]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = in_run(
        run,
        &format!(
            r#"{{ IpamIPPrefix(ids: ["{id}"]) {{ edges {{ node {{ prefix {{ value }} }} }} }} }}"#
        ),
    );
    let prefix = read["IpamIPPrefix"]["edges"][0]["node"]["prefix"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, prefix)
}

/// A run that allocates a block and deletes it again gives the block back: to its own next
/// allocation, and to the allocations after its commit. (Found by `pool_model.rs`: the hint
/// of where free space starts, noted at the allocation, outlived the delete, and the block
/// stayed unused for good.)
#[tokio::test]
async fn a_block_a_run_allocates_and_deletes_again_is_handed_out_again() {
    let s = store();
    let pod = prefix(&s, "10.0.32.0/28", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
    let run = s.begin_run("main").await.unwrap();
    let (first, at) = next_in_run(&run, &pool);
    assert_eq!(at, "10.0.32.0/31");
    assert_eq!(next_in_run(&run, &pool).1, "10.0.32.2/31");
    in_run(
        &run,
        &format!(r#"mutation {{ IpamIPPrefixDelete(data: {{id: "{first}"}}) {{ ok }} }}"#),
    );
    assert_eq!(next_in_run(&run, &pool).1, "10.0.32.0/31");
    let (fourth, at) = next_in_run(&run, &pool);
    assert_eq!(at, "10.0.32.4/31");
    in_run(
        &run,
        &format!(r#"mutation {{ IpamIPPrefixDelete(data: {{id: "{fourth}"}}) {{ ok }} }}"#),
    );
    run.commit().unwrap();
    assert_eq!(p2p(&s, &pool, 2), ["10.0.32.4/31", "10.0.32.6/31"]);
}

/// A prefix a run creates around blocks it allocated, reaching past them, is used space for
/// the run's next allocation. (Found by `pool_model.rs`: the search started at the hint
/// noted after the allocations and did not see a prefix starting below it.)
#[tokio::test]
async fn a_prefix_a_run_creates_around_its_allocations_is_not_allocated_into() {
    let s = store();
    let pod = prefix(&s, "10.0.32.0/28", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
    let run = s.begin_run("main").await.unwrap();
    assert_eq!(next_in_run(&run, &pool).1, "10.0.32.0/31");
    assert_eq!(next_in_run(&run, &pool).1, "10.0.32.2/31");
    in_run(
        &run,
        r#"mutation { IpamIPPrefixCreate(data: {prefix: {value: "10.0.32.0/29"}, role: {value: "pod_loopback"}}) { ok } }"#,
    );
    assert_eq!(next_in_run(&run, &pool).1, "10.0.32.8/31");
    run.commit().unwrap();
    assert_eq!(p2p(&s, &pool, 1), ["10.0.32.10/31"]);
}

/// A prefix kind with a relationship whose other side is declared too, so that an edit of
/// a site's prefixes changes the prefix's edges and nothing else of it.
const LINKED_PREFIXES: &str = r#"
version: "1.0"
nodes:
  - name: Prefix
    namespace: Test
    inherit_from: [BuiltinIPPrefix]
    relationships:
      - {name: sites, peer: TestSite, cardinality: many, identifier: site__prefix}
  - name: Site
    namespace: Test
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
    relationships:
      - {name: prefixes, peer: TestPrefix, cardinality: many, identifier: site__prefix}
"#;

/// A prefix whose only change in a transaction is an edge (a site takes it) still holds its
/// block: the search after a delete, which starts at the resource's first block, must see
/// it there.
#[test]
fn a_prefix_changed_only_by_an_edge_in_a_document_keeps_its_block() {
    let s = store();
    s.load_schema(&[("linked.yml".into(), LINKED_PREFIXES.into())])
        .unwrap();
    let pod = prefix(&s, "10.0.32.0/29", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
    let linked = json!({"prefix_type": "TestPrefix"});
    let blocks: Vec<String> = (0..3)
        .map(|_| next_prefix(&s, &pool, linked.clone()))
        .collect();
    assert_eq!(blocks, ["10.0.32.0/31", "10.0.32.2/31", "10.0.32.4/31"]);
    let first = node_id(&s, "TestPrefix", "prefix", "10.0.32.0/31");
    let third = node_id(&s, "TestPrefix", "prefix", "10.0.32.4/31");
    ok(
        &s,
        "main",
        r#"mutation { TestSiteCreate(data: {name: {value: "ams"}}) { ok } }"#,
    );
    let d = ok(
        &s,
        "main",
        &format!(
            r#"mutation {{
                s: TestSiteUpdate(data: {{hfid: ["ams"], prefixes: [{{id: "{first}"}}]}}) {{ ok }}
                d: TestPrefixDelete(data: {{id: "{third}"}}) {{ ok }}
                a: InfrahubIPPrefixPoolGetResource(data: {{id: "{pool}", prefix_type: "TestPrefix"}}) {{ node {{ display_label }} }}
            }}"#
        ),
    );
    assert_eq!(d["a"]["node"]["display_label"], "10.0.32.4/31");
}

/// 3,000 allocations in one run, each its own request: the run's own prefixes are looked up
/// by where they start, not read one by one for every allocation (this took ~2.4 s in a
/// release build, and grew with the square of the run; ~55 ms now).
#[tokio::test]
async fn three_thousand_allocations_in_one_run_are_all_distinct() {
    let s = store();
    let pod = prefix(&s, "10.0.0.0/16", "pod_supernet");
    let pool = prefix_pool(&s, "big", &[&pod], 31, "address");
    let run = s.begin_run("main").await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..3000 {
        let d = in_run(
            &run,
            &format!(
                r#"mutation {{ InfrahubIPPrefixPoolGetResource(data: {{id: "{pool}", data: {{role: "pod_leaf_spine"}}}}) {{ node {{ display_label }} }} }}"#
            ),
        );
        let label = d["InfrahubIPPrefixPoolGetResource"]["node"]["display_label"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(seen.insert(label.clone()), "{label} handed out twice");
    }
    run.commit().unwrap();
    assert_eq!(seen.first().map(String::as_str), Some("10.0.0.0/31"));
    assert_eq!(seen.len(), 3000);
    assert_eq!(p2p(&s, &pool, 1), ["10.0.23.112/31"]);
}

/// The value of the node an allocation in `run` gave, as the run reads it back.
fn allocated_in_run(
    run: &infragen_store::RunTransaction,
    document: &str,
    field: &str,
) -> (String, String) {
    let d = in_run(run, document);
    let node = &d[field]["node"];
    (
        node["id"].as_str().unwrap().to_owned(),
        node["display_label"].as_str().unwrap().to_owned(),
    )
}

/// In one run, IPv6 prefixes and IPv4 addresses: a block or an address the run allocated
/// and deleted again is its next allocation's, through the run's index of its own.
#[tokio::test]
async fn in_one_run_ipv6_blocks_and_addresses_deleted_again_are_handed_out_again() {
    let s = store();
    let v6 = prefix(&s, "2001:db8::/56", "pod_supernet");
    let pool6 = prefix_pool(&s, "v6", &[&v6], 64, "prefix");
    let lo = prefix(&s, "10.0.0.0/29", "super_spine_loopback");
    let loopbacks = address_pool(&s, "Loopbacks", &lo, 32);
    let run = s.begin_run("main").await.unwrap();
    let next6 = || {
        allocated_in_run(
            &run,
            &format!(
                r#"mutation {{ InfrahubIPPrefixPoolGetResource(data: {{id: "{pool6}", data: {{role: "pod_supernet"}}}}) {{ node {{ id display_label }} }} }}"#
            ),
            "InfrahubIPPrefixPoolGetResource",
        )
    };
    let next4 = || {
        allocated_in_run(
            &run,
            &format!(
                r#"mutation {{ InfrahubIPAddressPoolGetResource(data: {{id: "{loopbacks}"}}) {{ node {{ id display_label }} }} }}"#
            ),
            "InfrahubIPAddressPoolGetResource",
        )
    };
    let blocks: Vec<(String, String)> = (0..3).map(|_| next6()).collect();
    let labels: Vec<&str> = blocks.iter().map(|(_, label)| label.as_str()).collect();
    assert_eq!(
        labels,
        ["2001:db8::/64", "2001:db8:0:1::/64", "2001:db8:0:2::/64"]
    );
    let addresses: Vec<(String, String)> = (0..3).map(|_| next4()).collect();
    let labels: Vec<&str> = addresses.iter().map(|(_, label)| label.as_str()).collect();
    assert_eq!(labels, ["10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"]);
    in_run(
        &run,
        &format!(
            r#"mutation {{ a: IpamIPPrefixDelete(data: {{id: "{}"}}) {{ ok }} b: IpamIPAddressDelete(data: {{id: "{}"}}) {{ ok }} }}"#,
            blocks[1].0, addresses[1].0
        ),
    );
    assert_eq!(next6().1, "2001:db8:0:1::/64");
    assert_eq!(next6().1, "2001:db8:0:3::/64");
    assert_eq!(next4().1, "10.0.0.2/32");
    assert_eq!(next4().1, "10.0.0.4/32");
    run.commit().unwrap();
}

/// A block a run allocated and then moved elsewhere is free again for the run's next
/// allocation.
#[tokio::test]
async fn a_block_a_run_allocates_and_moves_away_is_handed_out_again() {
    let s = store();
    let pod = prefix(&s, "10.0.32.0/28", "pod_supernet");
    let pool = prefix_pool(&s, "Pod-A1-pool", &[&pod], 31, "address");
    let run = s.begin_run("main").await.unwrap();
    let (first, _) = next_in_run(&run, &pool);
    assert_eq!(next_in_run(&run, &pool).1, "10.0.32.2/31");
    in_run(
        &run,
        &format!(
            r#"mutation {{ IpamIPPrefixUpdate(data: {{id: "{first}", prefix: {{value: "10.0.40.0/31"}}}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(next_in_run(&run, &pool).1, "10.0.32.0/31");
    assert_eq!(next_in_run(&run, &pool).1, "10.0.32.4/31");
    run.commit().unwrap();
}
