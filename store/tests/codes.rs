//! Every GraphQL error carries a stable code in `extensions.code`, so clients classify errors
//! by code, never by message; the messages themselves stay Infrahub's.

mod common;

use common::{errors, gql, gql_vars, ok};
use infragen_store::{ErrorCode, Store};
use serde_json::{Value, json};

const RESOURCES: &str = include_str!("fixtures/aidc_resources.yml");

fn store() -> Store {
    let s = Store::in_memory().expect("in-memory store");
    s.load_schema(&[("aidc_resources.yml".into(), RESOURCES.into())])
        .expect("fixture schema loads");
    s
}

/// The (message, code) of each error of a response.
fn coded(r: &Value) -> Vec<(String, String)> {
    let messages = errors(r);
    let codes = r["errors"].as_array().into_iter().flatten().map(|e| {
        e["extensions"]["code"]
            .as_str()
            .unwrap_or("<none>")
            .to_string()
    });
    messages.into_iter().zip(codes).collect()
}

fn id(data: &Value, field: &str) -> String {
    data[field]["object"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[test]
fn the_codes_are_a_stable_documented_set() {
    let names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names,
        [
            "NOT_FOUND",
            "BRANCH_NOT_FOUND",
            "DELETE_REFUSED",
            "UNIQUENESS",
            "POOL_EXHAUSTED",
            "CONFLICT",
            "VALIDATION",
            "BAD_REQUEST",
            "INTERNAL",
            "PERMISSION_DENIED",
            "LIMIT_EXCEEDED"
        ]
    );
    for c in ErrorCode::ALL {
        assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
    }
    assert_eq!(ErrorCode::parse("404"), None);
}

#[test]
fn a_missing_node_is_not_found() {
    let s = store();
    let r = gql(
        &s,
        "main",
        r#"mutation { OrganizationManufacturerDelete(data: {id: "nope"}) { ok } }"#,
    );
    assert_eq!(
        coded(&r),
        [(
            "Unable to find the node nope / OrganizationManufacturer in the database.".into(),
            "NOT_FOUND".into()
        )]
    );
    // Also when the missing node is a related node, and behind a context prefix.
    let r = gql(
        &s,
        "main",
        r#"mutation { NetworkDeviceTypeCreate(data: {name: {value: "x"}, manufacturer: {id: "gone"}}) { ok } }"#,
    );
    assert_eq!(coded(&r)[0].1, "NOT_FOUND", "{r:#}");
}

#[test]
fn an_unknown_branch_is_branch_not_found_not_a_missing_node() {
    let s = store();
    for doc in [
        "{ OrganizationManufacturer { count } }",
        r#"mutation { OrganizationManufacturerDelete(data: {id: "x"}) { ok } }"#,
    ] {
        let r = gql(&s, "br1", doc);
        assert_eq!(
            coded(&r),
            [("Branch: br1 not found.".into(), "BRANCH_NOT_FOUND".into())]
        );
    }
}

#[test]
fn a_refused_delete_is_delete_refused() {
    let s = store();
    let m = id(
        &ok(
            &s,
            "main",
            r#"mutation { OrganizationManufacturerCreate(data: {name: {value: "acme"}}) { object { id } } }"#,
        ),
        "OrganizationManufacturerCreate",
    );
    let t = id(
        &ok(
            &s,
            "main",
            &format!(
                r#"mutation {{ NetworkDeviceTypeCreate(data: {{name: {{value: "t1"}}, manufacturer: {{id: "{m}"}}}}) {{ object {{ id }} }} }}"#
            ),
        ),
        "NetworkDeviceTypeCreate",
    );
    let r = gql(
        &s,
        "main",
        &format!(r#"mutation {{ OrganizationManufacturerDelete(data: {{id: "{m}"}}) {{ ok }} }}"#),
    );
    assert_eq!(
        coded(&r),
        [(
            format!(
                "Cannot delete OrganizationManufacturer '{m}'. It is linked to mandatory relationship manufacturer on node NetworkDeviceType '{t}' at NetworkDeviceType.manufacturer"
            ),
            "DELETE_REFUSED".into()
        )]
    );
}

#[test]
fn a_taken_identity_is_uniqueness_and_a_missing_value_validation() {
    let s = store();
    let create =
        r#"mutation { OrganizationManufacturerCreate(data: {name: {value: "acme"}}) { ok } }"#;
    ok(&s, "main", create);
    let r = gql(&s, "main", create);
    assert_eq!(
        coded(&r),
        [(
            "Violates uniqueness constraint 'name' with 'acme'".into(),
            "UNIQUENESS".into()
        )]
    );
    let r = gql(
        &s,
        "main",
        r#"mutation { NetworkDeviceTypeCreate(data: {name: {value: "t"}}) { ok } }"#,
    );
    assert_eq!(
        coded(&r),
        [(
            "manufacturer is mandatory for NetworkDeviceType".into(),
            "VALIDATION".into()
        )]
    );
}

#[test]
fn an_exhausted_pool_is_pool_exhausted_and_a_resized_reservation_a_conflict() {
    let s = store();
    let tiny = id(
        &ok(
            &s,
            "main",
            r#"mutation { IpamIPPrefixCreate(data: {prefix: {value: "10.9.0.0/30"}, role: {value: "pod_supernet"}}) { object { id } } }"#,
        ),
        "IpamIPPrefixCreate",
    );
    let pool = id(
        &ok(
            &s,
            "main",
            &format!(
                r#"mutation {{ CoreIPPrefixPoolCreate(data: {{name: {{value: "TinyPool"}}, default_prefix_length: {{value: 31}}, default_member_type: {{value: "address"}}, default_prefix_type: {{value: "IpamIPPrefix"}}, ip_namespace: {{hfid: ["default"]}}, resources: [{{id: "{tiny}"}}]}}) {{ object {{ id }} }} }}"#
            ),
        ),
        "CoreIPPrefixPoolCreate",
    );
    let allocate = |mut data: Value| {
        data["data"] = json!({"role": "pod_leaf_spine"});
        gql_vars(
            &s,
            "main",
            "mutation A($data: IPPrefixPoolGetResourceInput!) { InfrahubIPPrefixPoolGetResource(data: $data) { ok node { id } } }",
            json!({ "data": data }),
        )
    };
    for ident in ["a", "b"] {
        let r = allocate(json!({"id": pool, "identifier": ident}));
        assert!(r.get("errors").is_none(), "{r:#}");
    }
    let r = allocate(json!({"id": pool, "identifier": "c"}));
    assert_eq!(
        coded(&r),
        [(
            "No more resources available in CoreIPPrefixPool 'TinyPool': no free /31 left in 10.9.0.0/30".into(),
            "POOL_EXHAUSTED".into()
        )]
    );
    let r = allocate(json!({"id": pool, "identifier": "a", "prefix_length": 32}));
    assert_eq!(coded(&r)[0].1, "CONFLICT", "{r:#}");
}

#[test]
fn a_malformed_document_is_bad_request() {
    let s = store();
    for doc in [
        "{ OrganizationManufacturer { count ",
        "{ OrganizationManufacturr { count } }",
    ] {
        let r = gql(&s, "main", doc);
        assert_eq!(coded(&r)[0].1, "BAD_REQUEST", "{r:#}");
    }
}
