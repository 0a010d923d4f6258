//! The query dialect: Infrahub's response shape and every filter.

mod common;

use common::*;
use infragen_store::WriteOp;
use serde_json::json;

/// leaf1 (leaf, 65001, site dc1 in region eu), leaf2 (leaf, 65002), spine1 (spine, no asn);
/// leaf1 has eth1, eth2.
fn fabric() -> (infragen_store::Store, String, String) {
    let s = store();
    ok(
        &s,
        "main",
        r#"mutation { LocationRegionCreate(data: {name: {value: "eu"}}) { ok } }"#,
    );
    ok(
        &s,
        "main",
        r#"mutation { LocationSiteCreate(data: {name: {value: "dc1"}, parent: {hfid: ["eu"]}}) { ok } }"#,
    );
    let leaf1 = device(
        &s,
        "main",
        "leaf1",
        r#"role: {value: "leaf"} asn: {value: 65001} site: {hfid: ["dc1"]} mgmt: {value: "10.0.0.1/24"}"#,
    );
    let leaf2 = device(
        &s,
        "main",
        "leaf2",
        r#"role: {value: "leaf"} asn: {value: 65002}"#,
    );
    device(&s, "main", "spine1", r#"role: {value: "spine"}"#);
    interface(&s, "main", &leaf1, "eth1");
    interface(&s, "main", &leaf1, "eth2");
    (s, leaf1, leaf2)
}

fn device_names(s: &infragen_store::Store, filter: &str) -> Vec<String> {
    names(
        &ok(
            s,
            "main",
            &format!("{{ DcimDevice{filter} {{ edges {{ node {{ name {{ value }} }} }} }} }}"),
        ),
        "DcimDevice",
    )
}

/// An answer lists each object's fields in the order its query selects them (GraphQL's
/// ordered map, as Infrahub answers), not by name: a transform that walks an answer's
/// fields, or a client that prints one, sees them as the query wrote them. An alias keeps
/// its place, a fragment's fields come where the fragment is spread, a field selected twice
/// answers once where it was first selected, and the root fields keep their order too.
#[test]
fn an_answer_lists_fields_in_the_order_the_query_selects_them() {
    let (s, leaf1, _) = fabric();
    let query = r#"{
        DcimDevice(name__value: "leaf1") {
            edges { node { role { value } name { value } zz: id ...Labels asn { is_default value } role { value } } }
            count
        }
        DcimInterface { count }
    }
    fragment Labels on DcimDevice { display_label __typename }"#;
    let answer = s.answer_blocking("main", &infragen_store::GraphqlRequest::new(query));
    assert_eq!(
        answer.to_text(),
        format!(
            r#"{{"data":{{"DcimDevice":{{"edges":[{{"node":{{"role":{{"value":"leaf"}},"name":{{"value":"leaf1"}},"zz":"{leaf1}","display_label":"leaf1","__typename":"DcimDevice","asn":{{"is_default":false,"value":65001}}}}}}],"count":1}},"DcimInterface":{{"count":2}}}}}}"#
        )
    );
    // The same content as a `Value`, whose objects list fields by name.
    assert_eq!(
        s.execute_blocking("main", &infragen_store::GraphqlRequest::new(query)),
        answer.into_value()
    );
}

#[test]
fn a_kind_query_returns_count_and_edges_in_order_by() {
    let (s, ..) = fabric();
    let d = ok(
        &s,
        "main",
        "{ DcimDevice { count edges { node { name { value } } } } }",
    );
    assert_eq!(d["DcimDevice"]["count"], 3);
    assert_eq!(names(&d, "DcimDevice"), ["leaf1", "leaf2", "spine1"]);
}

#[test]
fn node_fields_have_infrahub_shapes() {
    let (s, leaf1, _) = fabric();
    let d = ok(
        &s,
        "main",
        r#"{ DcimDevice(name__value: "leaf1") { edges { node {
        id hfid display_label __typename
        name { value } asn { value } role { value label color }
        mgmt { value ip prefixlen netmask hostmask version with_netmask }
        site { node { id display_label __typename } }
        interfaces { count edges { node { __typename hfid name { value } } } } } } } }"#,
    );
    let n = &d["DcimDevice"]["edges"][0]["node"];
    assert_eq!(n["id"], json!(leaf1));
    assert_eq!(n["hfid"], json!(["leaf1"]));
    assert_eq!(n["display_label"], json!("leaf1"));
    assert_eq!(n["__typename"], json!("DcimDevice"));
    assert_eq!(n["asn"], json!({"value": 65001}));
    assert_eq!(
        n["role"],
        json!({"value": "leaf", "label": "Leaf", "color": "#00ff00"})
    );
    assert_eq!(
        n["mgmt"],
        json!({"value": "10.0.0.1/24", "ip": "10.0.0.1", "prefixlen": 24, "netmask": "255.255.255.0", "hostmask": "0.0.0.255", "version": 4, "with_netmask": "10.0.0.1/255.255.255.0"})
    );
    assert_eq!(n["site"]["node"]["display_label"], json!("dc1"));
    assert_eq!(n["site"]["node"]["__typename"], json!("LocationSite"));
    assert_eq!(n["interfaces"]["count"], 2);
    assert_eq!(
        n["interfaces"]["edges"][1]["node"],
        json!({"__typename": "DcimPhysicalInterface", "hfid": ["leaf1", "eth2"], "name": {"value": "eth2"}})
    );
}

#[test]
fn an_empty_cardinality_one_relationship_is_node_null() {
    let (s, ..) = fabric();
    let d = ok(
        &s,
        "main",
        r#"{ DcimDevice(name__value: "leaf2") { edges { node { site { node { id } } } } } }"#,
    );
    assert_eq!(
        d["DcimDevice"]["edges"][0]["node"]["site"],
        json!({"node": null})
    );
}

#[test]
fn ip_network_attributes_expose_network_fields() {
    let s = store();
    ok(
        &s,
        "main",
        r#"mutation { IpamPrefixCreate(data: {prefix: {value: "10.1.0.0/16"}}) { ok } }"#,
    );
    let d = ok(
        &s,
        "main",
        "{ IpamPrefix { edges { node { prefix { value prefixlen netmask broadcast_address num_addresses version } } } } }",
    );
    assert_eq!(
        d["IpamPrefix"]["edges"][0]["node"]["prefix"],
        json!({"value": "10.1.0.0/16", "prefixlen": 16, "netmask": "255.255.0.0", "broadcast_address": "10.1.255.255", "num_addresses": 65536, "version": 4})
    );
}

#[test]
fn generics_are_queryable_with_inline_fragments() {
    let (s, leaf1, _) = fabric();
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ DcimLoopbackCreate(data: {{name: {{value: "lo0"}}, device: {{id: "{leaf1}"}}, address: {{value: "10.255.0.1/32"}}}}) {{ ok }} }}"#
        ),
    );
    let d = ok(
        &s,
        "main",
        r#"{ DcimInterface { count edges { node { __typename name { value } ... on DcimLoopback { address { value } } ... on DcimPhysicalInterface { speed { value } } } } } }"#,
    );
    assert_eq!(d["DcimInterface"]["count"], 3);
    let edges = d["DcimInterface"]["edges"].as_array().unwrap();
    assert_eq!(
        edges[0]["node"],
        json!({"__typename": "DcimPhysicalInterface", "name": {"value": "eth1"}, "speed": {"value": null}})
    );
    assert_eq!(
        edges[2]["node"],
        json!({"__typename": "DcimLoopback", "name": {"value": "lo0"}, "address": {"value": "10.255.0.1/32"}})
    );
    // Every node implements CoreNode: the 8 written here (the region among them) and
    // the built-in `default` IP namespace.
    let d = ok(&s, "main", "{ CoreNode { count } }");
    assert_eq!(d["CoreNode"]["count"], 9);
}

#[test]
fn filter_ids() {
    let (s, leaf1, leaf2) = fabric();
    assert_eq!(
        device_names(&s, &format!(r#"(ids: ["{leaf2}", "{leaf1}"])"#)),
        ["leaf1", "leaf2"]
    );
}

#[test]
fn an_empty_ids_list_matches_nothing() {
    // The safe reading: a caller filtering by an empty set of ids gets no node, never all.
    let (s, ..) = fabric();
    assert!(device_names(&s, "(ids: [])").is_empty());
}

#[test]
fn filter_hfid() {
    let (s, ..) = fabric();
    assert_eq!(device_names(&s, r#"(hfid: ["spine1"])"#), ["spine1"]);
    let d = ok(
        &s,
        "main",
        r#"{ DcimInterface(hfid: ["leaf1", "eth2"]) { edges { node { name { value } } } } }"#,
    );
    assert_eq!(names(&d, "DcimInterface"), ["eth2"]);
}

#[test]
fn filter_attribute_value_and_values() {
    let (s, ..) = fabric();
    assert_eq!(
        device_names(&s, r#"(role__value: "leaf")"#),
        ["leaf1", "leaf2"]
    );
    assert_eq!(device_names(&s, "(asn__value: 65002)"), ["leaf2"]);
    assert_eq!(
        device_names(&s, r#"(name__values: ["spine1", "leaf2", "nope"])"#),
        ["leaf2", "spine1"]
    );
    assert_eq!(
        device_names(&s, "(asn__values: [65001, 65002])"),
        ["leaf1", "leaf2"]
    );
}

#[test]
fn filter_isnull() {
    let (s, ..) = fabric();
    assert_eq!(device_names(&s, "(asn__isnull: true)"), ["spine1"]);
    assert_eq!(device_names(&s, "(asn__isnull: false)"), ["leaf1", "leaf2"]);
    assert_eq!(
        device_names(&s, "(site__isnull: true)"),
        ["leaf2", "spine1"]
    );
}

#[test]
fn filter_relationship_ids_and_peer_attributes() {
    let (s, leaf1, _) = fabric();
    let d = ok(
        &s,
        "main",
        &format!(r#"{{ DcimInterface(device__ids: ["{leaf1}"]) {{ count }} }}"#),
    );
    assert_eq!(d["DcimInterface"]["count"], 2);
    let d = ok(
        &s,
        "main",
        r#"{ DcimInterface(device__name__value: "leaf1", name__value: "eth2") { edges { node { hfid } } } }"#,
    );
    assert_eq!(
        d["DcimInterface"]["edges"][0]["node"]["hfid"],
        json!(["leaf1", "eth2"])
    );
    assert_eq!(device_names(&s, r#"(site__name__value: "dc1")"#), ["leaf1"]);
    assert_eq!(
        device_names(&s, r#"(site__name__values: ["dc1", "dc2"])"#),
        ["leaf1"]
    );
    assert_eq!(
        device_names(&s, r#"(interfaces__name__value: "eth1")"#),
        ["leaf1"]
    );
}

#[test]
fn filter_any_value_and_partial_match() {
    let (s, ..) = fabric();
    assert_eq!(device_names(&s, r#"(any__value: "spine")"#), ["spine1"]);
    assert_eq!(
        device_names(&s, r#"(name__value: "LEAF", partial_match: true)"#),
        ["leaf1", "leaf2"]
    );
    assert_eq!(
        device_names(&s, r#"(any__value: "650", partial_match: true)"#),
        ["leaf1", "leaf2"]
    );
}

#[test]
fn filter_offset_and_limit_keep_the_total_count() {
    let (s, ..) = fabric();
    let d = ok(
        &s,
        "main",
        "{ DcimDevice(offset: 1, limit: 1) { count edges { node { name { value } } } } }",
    );
    assert_eq!(d["DcimDevice"]["count"], 3);
    assert_eq!(names(&d, "DcimDevice"), ["leaf2"]);
    let r = gql_vars(
        &s,
        "main",
        "query Filters_DcimDevice($offset: Int!, $limit: Int!) { DcimDevice(offset: $offset, limit: $limit) { count edges { node { name { value } } } } }",
        json!({"offset": 2, "limit": 50}),
    );
    assert_eq!(names(&r["data"], "DcimDevice"), ["spine1"]);
}

#[test]
fn nested_many_relationships_take_filters() {
    let (s, ..) = fabric();
    let d = ok(
        &s,
        "main",
        r#"{ DcimDevice(name__value: "leaf1") { edges { node { interfaces(name__value: "eth2") { count edges { node { name { value } } } } } } } }"#,
    );
    assert_eq!(
        d["DcimDevice"]["edges"][0]["node"]["interfaces"]["count"],
        1
    );
    let d = ok(
        &s,
        "main",
        r#"{ DcimDevice(name__value: "leaf1") { edges { node { interfaces(limit: 1, offset: 1) { count edges { node { name { value } } } } } } } }"#,
    );
    assert_eq!(
        d["DcimDevice"]["edges"][0]["node"]["interfaces"]["count"],
        2
    );
    assert_eq!(
        d["DcimDevice"]["edges"][0]["node"]["interfaces"]["edges"][0]["node"]["name"]["value"],
        "eth2"
    );
}

#[test]
fn ordering_is_natural_and_can_be_disabled() {
    let s = store();
    let d = device(&s, "main", "leaf1", "");
    for n in ["eth10", "eth2", "eth1"] {
        interface(&s, "main", &d, n);
    }
    let q = ok(
        &s,
        "main",
        "{ DcimInterface { edges { node { name { value } } } } }",
    );
    assert_eq!(names(&q, "DcimInterface"), ["eth1", "eth2", "eth10"]);
    let q = ok(
        &s,
        "main",
        "{ DcimInterface(order: {disable: true}) { edges { node { name { value } } } } }",
    );
    assert_eq!(
        names(&q, "DcimInterface"),
        ["eth10", "eth2", "eth1"],
        "creation order"
    );
}

#[test]
fn hierarchy_parent_children_ancestors_descendants() {
    let s = store();
    ok(
        &s,
        "main",
        r#"mutation { LocationRegionCreate(data: {name: {value: "eu"}}) { ok } }"#,
    );
    ok(
        &s,
        "main",
        r#"mutation { LocationSiteCreate(data: {name: {value: "ams"}, parent: {hfid: ["eu"]}}) { ok } }"#,
    );
    ok(
        &s,
        "main",
        r#"mutation { LocationRackCreate(data: {name: {value: "r1"}, parent: {hfid: ["ams"]}}) { ok } }"#,
    );
    ok(
        &s,
        "main",
        r#"mutation { LocationRackCreate(data: {name: {value: "r2"}, parent: {hfid: ["ams"]}}) { ok } }"#,
    );
    let d = ok(
        &s,
        "main",
        r#"{ LocationRack(name__value: "r1") { edges { node {
        parent { node { display_label } }
        ancestors { count edges { node { __typename display_label } } } } } } }"#,
    );
    let n = &d["LocationRack"]["edges"][0]["node"];
    assert_eq!(n["parent"]["node"]["display_label"], "ams");
    assert_eq!(n["ancestors"]["count"], 2);
    assert_eq!(
        n["ancestors"]["edges"][1]["node"],
        json!({"__typename": "LocationRegion", "display_label": "eu"})
    );
    let d = ok(
        &s,
        "main",
        r#"{ LocationRegion { edges { node { children { count } descendants { count edges { node { display_label } } } } } } }"#,
    );
    let n = &d["LocationRegion"]["edges"][0]["node"];
    assert_eq!(n["children"]["count"], 1);
    assert_eq!(n["descendants"]["count"], 3);
    let site =
        ok(&s, "main", r#"{ LocationSite { edges { node { id } } } }"#)["LocationSite"]["edges"][0]
            ["node"]["id"]
            .clone();
    let d = ok(
        &s,
        "main",
        &format!(
            r#"{{ LocationRack(parent__ids: ["{}"]) {{ count }} }}"#,
            site.as_str().unwrap()
        ),
    );
    assert_eq!(d["LocationRack"]["count"], 2);
    let d = ok(
        &s,
        "main",
        r#"{ LocationGeneric(ancestors__name__value: "eu") { count } }"#,
    );
    assert_eq!(d["LocationGeneric"]["count"], 3);
}

#[test]
fn variables_aliases_fragments_and_directives() {
    let (s, ..) = fabric();
    let r = gql_vars(
        &s,
        "main",
        r#"
        query Q($name: String!, $withRole: Boolean!) {
            first: DcimDevice(name__value: $name) { edges { node { ...F role @include(if: $withRole) { value } } } }
            InfrahubInfo { version }
        }
        fragment F on DcimDevice { label: name { value } }"#,
        json!({"name": "leaf2", "withRole": false}),
    );
    assert_eq!(
        r["data"]["first"]["edges"][0]["node"],
        json!({"label": {"value": "leaf2"}})
    );
    assert_eq!(
        r["data"]["InfrahubInfo"]["version"],
        infragen_store::graphql::INFRAHUB_COMPAT_VERSION
    );
}

#[test]
fn several_indexed_conditions_must_all_hold() {
    let (s, leaf1, leaf2) = fabric();
    interface(&s, "main", &leaf2, "eth1");
    // Each condition alone has an index; together only their intersection matches.
    assert_eq!(
        device_names(&s, r#"(role__value: "leaf", asn__value: 65002)"#),
        ["leaf2"]
    );
    assert_eq!(
        device_names(&s, r#"(role__value: "leaf", site__name__value: "dc1")"#),
        ["leaf1"]
    );
    assert!(device_names(&s, r#"(role__value: "spine", site__name__value: "dc1")"#).is_empty());
    let interfaces = |filter: String| {
        let d = ok(
            &s,
            "main",
            &format!("{{ DcimInterface{filter} {{ edges {{ node {{ hfid }} }} }} }}"),
        );
        d["DcimInterface"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["hfid"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        interfaces(format!(
            r#"(name__value: "eth1", device__ids: ["{leaf2}"])"#
        )),
        [json!(["leaf2", "eth1"])]
    );
    assert_eq!(
        interfaces(format!(
            r#"(name__value: "eth1", device__ids: ["{leaf1}", "{leaf2}"])"#
        )),
        [json!(["leaf1", "eth1"]), json!(["leaf2", "eth1"])]
    );
    assert!(
        interfaces(format!(
            r#"(name__value: "eth2", device__ids: ["{leaf2}"])"#
        ))
        .is_empty()
    );
}

/// The typed listing (what a guest receives from `nodes.filters`) is the SDK's default
/// selection written as JSON text: keys in order, strings escaped exactly as `serde_json`
/// prints them, peers as `{__typename, display_label, hfid, id}`, a cardinality-many
/// relationship only when included.
#[test]
fn the_typed_listing_is_the_default_selection_as_json_text() {
    let s = store();
    let name = "leaf \"1\" \\ é\n\u{1}";
    let d = s
        .write_node(
            "main",
            "DcimDevice",
            WriteOp::Create,
            &json!({"name": {"value": name}, "role": {"value": "leaf"}, "asn": {"value": 65001}}),
        )
        .unwrap()
        .unwrap()
        .id;
    let eth = interface(&s, "main", &d, "eth0");
    let none = serde_json::Map::new();
    let device_peer =
        json!({"__typename": "DcimDevice", "display_label": name, "hfid": [name], "id": d});
    let interface_peer = json!({
        "__typename": "DcimPhysicalInterface", "display_label": "eth0", "hfid": [name, "eth0"], "id": eth,
    });
    let device = json!({
        "__typename": "DcimDevice", "display_label": name, "hfid": [name], "id": d,
        "asn": {"value": 65001}, "mgmt": {"value": null}, "name": {"value": name},
        "role": {"value": "leaf"}, "serial": {"value": null}, "status": {"value": "active"},
        "interfaces": {"count": 1, "edges": [{"node": interface_peer}]},
        "site": {"node": null},
    });

    let with = s
        .nodes_json("main", "DcimDevice", &none, &["interfaces".to_owned()])
        .unwrap();
    assert_eq!(with, vec![serde_json::to_string(&device).unwrap()]);
    let without = s.nodes_json("main", "DcimDevice", &none, &[]).unwrap();
    let mut device = device;
    device.as_object_mut().unwrap().remove("interfaces");
    assert_eq!(without, vec![serde_json::to_string(&device).unwrap()]);

    // Through the generic, the interface's own kind answers for it.
    let interfaces = s.nodes_json("main", "DcimInterface", &none, &[]).unwrap();
    let interface = json!({
        "__typename": "DcimPhysicalInterface", "display_label": "eth0", "hfid": [name, "eth0"], "id": eth,
        "description": {"value": null}, "mtu": {"value": 1500}, "name": {"value": "eth0"},
        "device": {"node": device_peer},
    });
    assert_eq!(interfaces, vec![serde_json::to_string(&interface).unwrap()]);
    // And the value form is the same objects.
    assert_eq!(
        s.nodes("main", "DcimInterface", &none, &[]).unwrap(),
        vec![interface]
    );
}

/// One attribute read on its own (`attribute_value`, what a stamp compares with) is the
/// value the node's default selection shows: on main, through a generic, on a branch
/// that sees main's later change and keeps its own, and inside a run with its own write.
#[tokio::test]
async fn one_attribute_read_alone_is_the_value_the_default_selection_shows() {
    let s = store();
    let d = device(
        &s,
        "main",
        "leaf1",
        r#"role: {value: "leaf"} asn: {value: 65001}"#,
    );
    let eth = interface(&s, "main", &d, "eth0");
    let none = serde_json::Map::new();
    let listed = s.nodes("main", "DcimDevice", &none, &[]).unwrap();
    for name in ["name", "role", "asn", "serial", "status", "mgmt"] {
        assert_eq!(
            s.attribute_value("main", "DcimDevice", &d, name).unwrap(),
            Some(listed[0][name]["value"].clone()),
            "{name}"
        );
    }
    let value = |branch: &str, kind: &str, id: &str, name: &str| {
        s.attribute_value(branch, kind, id, name).unwrap()
    };
    assert_eq!(value("main", "DcimDevice", &d, "asn"), Some(json!(65001)));
    assert_eq!(value("main", "DcimDevice", &d, "serial"), Some(json!(null)));
    assert_eq!(
        value("main", "DcimDevice", &d, "status"),
        Some(json!("active"))
    );
    assert_eq!(
        value("main", "DcimInterface", &eth, "mtu"),
        Some(json!(1500))
    );
    // No node of that kind has the id.
    assert_eq!(value("main", "DcimInterface", &d, "name"), None);
    assert_eq!(value("main", "DcimDevice", "no-such-id", "name"), None);

    s.create_branch("br1").unwrap();
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ DcimDeviceUpdate(data: {{id: "{d}", role: {{value: "spine"}}}}) {{ ok }} }}"#
        ),
    );
    ok(
        &s,
        "br1",
        &format!(
            r#"mutation {{ DcimDeviceUpdate(data: {{id: "{d}", asn: {{value: 65010}}}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(value("br1", "DcimDevice", &d, "role"), Some(json!("spine")));
    assert_eq!(value("br1", "DcimDevice", &d, "asn"), Some(json!(65010)));
    assert_eq!(value("main", "DcimDevice", &d, "asn"), Some(json!(65001)));

    let run = s.begin_run("main").await.unwrap();
    run.write_node(
        "DcimDevice",
        WriteOp::Update,
        &json!({"id": d, "serial": {"value": "S1"}}),
    )
    .unwrap();
    assert_eq!(
        run.attribute_value("DcimDevice", &d, "serial").unwrap(),
        Some(json!("S1"))
    );
    drop(run);
    assert_eq!(value("main", "DcimDevice", &d, "serial"), Some(json!(null)));

    // A name that is not an attribute of the kind shows no value, as in a listing.
    assert_eq!(value("main", "DcimDevice", &d, "colour"), Some(json!(null)));
    assert_eq!(value("main", "DcimDevice", &d, "site"), Some(json!(null)));
    assert_eq!(
        value("main", "DcimInterface", &eth, "speed"),
        Some(json!(null))
    );
    assert_eq!(
        s.attribute_value("main", "DcimNothing", &d, "name")
            .unwrap_err()
            .to_string(),
        s.nodes("main", "DcimNothing", &none, &[])
            .unwrap_err()
            .to_string()
    );
    assert_eq!(
        s.attribute_value("nope", "DcimDevice", &d, "name")
            .unwrap_err()
            .to_string(),
        s.nodes("nope", "DcimDevice", &none, &[])
            .unwrap_err()
            .to_string()
    );
}

/// `partial_match` narrows from the filtered attribute's rows instead of reading every node
/// of the kind; what it answers is what checking every node would: case aside (Unicode
/// too), on a branch that sees main's later changes and keeps its own, and in a run that
/// changed and created nodes it has not committed.
#[tokio::test]
async fn a_partial_match_answers_what_checking_every_node_would() {
    let s = store();
    let leaf1 = device(&s, "main", "leaf1", r#"role: {value: "leaf"}"#);
    let leaf2 = device(&s, "main", "Leaf2", r#"role: {value: "leaf"}"#);
    let spine = device(&s, "main", "spine1", r#"role: {value: "spine"}"#);
    let etage = device(&s, "main", "ÉTAGE-leaf", r#"role: {value: "spine"}"#);
    let partial = |branch: &str, filter: &str| {
        let mut names = names(
            &ok(
                &s,
                branch,
                &format!(
                    "{{ DcimDevice({filter}, partial_match: true) {{ edges {{ node {{ name {{ value }} }} }} }} }}"
                ),
            ),
            "DcimDevice",
        );
        names.sort();
        names
    };
    assert_eq!(
        partial("main", r#"name__value: "LEAF""#),
        ["Leaf2", "leaf1", "ÉTAGE-leaf"]
    );
    assert_eq!(partial("main", r#"name__value: "étage""#), ["ÉTAGE-leaf"]);
    assert_eq!(
        partial("main", r#"name__value: "leaf", role__value: "LE""#),
        ["Leaf2", "leaf1"]
    );
    assert!(partial("main", r#"name__value: "router""#).is_empty());

    s.create_branch("br1").unwrap();
    let update = |branch: &str, id: &str, name: &str| {
        ok(
            &s,
            branch,
            &format!(
                r#"mutation {{ DcimDeviceUpdate(data: {{id: "{id}", name: {{value: "{name}"}}}}) {{ ok }} }}"#
            ),
        );
    };
    update("main", &spine, "spine-leaf");
    update("br1", &leaf1, "core1");
    ok(
        &s,
        "br1",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{leaf2}"}}) {{ ok }} }}"#),
    );
    device(&s, "br1", "leaf9", "");
    assert_eq!(
        partial("br1", r#"name__value: "leaf""#),
        ["leaf9", "spine-leaf", "ÉTAGE-leaf"]
    );
    assert_eq!(
        partial("main", r#"name__value: "leaf""#),
        ["Leaf2", "leaf1", "spine-leaf", "ÉTAGE-leaf"]
    );

    let run = s.begin_run("main").await.unwrap();
    run.write_node(
        "DcimDevice",
        WriteOp::Update,
        &json!({"id": etage, "name": {"value": "x"}}),
    )
    .unwrap();
    run.write_node(
        "DcimDevice",
        WriteOp::Create,
        &json!({"name": {"value": "LEAF-run"}}),
    )
    .unwrap();
    let filters = json!({"name__value": "leaf", "partial_match": true});
    let mut seen: Vec<String> = run
        .nodes("DcimDevice", filters.as_object().unwrap(), &[])
        .unwrap()
        .iter()
        .map(|node| node["name"]["value"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    assert_eq!(seen, ["LEAF-run", "Leaf2", "leaf1", "spine-leaf"]);
}

#[test]
fn an_error_in_a_nested_listing_names_its_place_in_the_response() {
    let (s, ..) = fabric();
    let r = gql(
        &s,
        "main",
        r#"{ DcimDevice(name__value: "leaf1") { edges { node { name { value } interfaces(ids: [null]) { count } } } } }"#,
    );
    assert_eq!(errors(&r), ["ids: null is not allowed in the list"]);
    assert_eq!(
        r["errors"][0]["path"],
        json!(["DcimDevice", "edges", 0, "node", "interfaces"])
    );
    assert_eq!(
        r["data"]["DcimDevice"]["edges"][0]["node"],
        json!({"name": {"value": "leaf1"}, "interfaces": null})
    );
}

/// `Relationship(ids: [identifier])` lists each relationship of those identifiers once per
/// pair of nodes, with both peers and their kinds (what `infrahubctl dump` exports
/// many-to-many relationships with), a count of all, `limit`/`offset` pages, and
/// `excluded_namespaces` leaves out pairs touching those namespaces.
#[test]
fn relationships_are_listed_once_per_pair_with_both_peers() {
    let (s, leaf1, leaf2) = fabric();
    let group = ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ CoreStandardGroupCreate(data: {{name: {{value: "leaves"}}, members: [{{id: "{leaf1}"}}, {{id: "{leaf2}"}}]}}) {{ object {{ id }} }} }}"#
        ),
    )["CoreStandardGroupCreate"]["object"]["id"]
        .as_str()
        .expect("group id")
        .to_owned();
    let query = |args: &str| {
        ok(
            &s,
            "main",
            &format!(
                "{{ Relationship({args}) {{ count edges {{ node {{ identifier peers {{ id kind }} }} }} }} }}"
            ),
        )["Relationship"]
            .clone()
    };
    let pair = |member: &str| {
        json!({"node": {"identifier": "group_member", "peers": [
            {"id": group, "kind": "CoreStandardGroup"},
            {"id": member, "kind": "DcimDevice"},
        ]}})
    };
    assert_eq!(
        query(r#"ids: ["group_member"]"#),
        json!({"count": 2, "edges": [pair(&leaf1), pair(&leaf2)]})
    );
    assert_eq!(
        query(r#"ids: ["group_member"], limit: 1, offset: 1"#),
        json!({"count": 2, "edges": [pair(&leaf2)]})
    );
    assert_eq!(
        query(r#"ids: ["group_member"], excluded_namespaces: ["Dcim"]"#),
        json!({"count": 0, "edges": []})
    );
    assert_eq!(
        query(r#"ids: ["group_subscriber"]"#),
        json!({"count": 0, "edges": []})
    );
    let refused = s.execute_blocking(
        "main",
        &infragen_store::GraphqlRequest::new(r#"{ Relationship(kinds: ["x"]) { count } }"#),
    );
    assert_eq!(
        errors(&refused),
        ["Unknown argument 'kinds' on field 'Query.Relationship'."]
    );
}
