//! Malformed documents, unknown kinds, fields and arguments are GraphQL errors, never a crash.

mod common;

use common::*;
use infragen_store::GraphqlRequest;
use serde_json::json;

#[test]
fn a_syntax_error_is_a_graphql_error_with_a_location() {
    let s = store();
    let r = gql(&s, "main", "{ DcimDevice { count ");
    assert_eq!(r["data"], json!(null));
    let msg = &errors(&r)[0];
    assert!(msg.starts_with("Syntax Error: "), "{msg}");
    assert_eq!(r["errors"][0]["locations"][0]["line"], 1);
}

#[test]
fn an_unknown_kind_is_cannot_query_field_on_query() {
    let s = store();
    let r = gql(&s, "main", "{ DcimDevise { count } }");
    assert_eq!(
        r,
        json!({"data": null, "errors": [{"message": "Cannot query field 'DcimDevise' on type 'Query'.", "locations": [{"line": 1, "column": 3}], "extensions": {"code": "BAD_REQUEST"}}]})
    );
}

#[test]
fn unknown_fields_and_arguments_are_all_reported_and_nothing_runs() {
    let s = store();
    let r = gql(
        &s,
        "main",
        r#"mutation {
        DcimDeviceCreate(data: {name: {value: "a"}}) { ok object { colour { value } } }
        DcimDeviceUpsert(data: {name: {value: "b"}}, force: true) { ok }
    }"#,
    );
    assert_eq!(
        errors(&r),
        [
            "Cannot query field 'colour' on type 'DcimDevice'.",
            "Unknown argument 'force' on field 'Mutation.DcimDeviceUpsert'."
        ]
    );
    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        0
    );
    let r = gql(
        &s,
        "main",
        r#"{ DcimDevice(colour__value: "x") { count } }"#,
    );
    assert_eq!(
        errors(&r),
        ["Unknown argument 'colour__value' on field 'Query.DcimDevice'."]
    );
    let r = gql(&s, "main", "{ DcimDevice { edges { node { name } } } }");
    assert_eq!(
        errors(&r),
        [
            "Field 'name' of type 'TextAttribute' must have a selection of subfields. Did you mean 'name { ... }'?"
        ]
    );
    let r = gql(
        &s,
        "main",
        "{ DcimDevice { edges { node { ... on Nope { id } } } } }",
    );
    assert_eq!(errors(&r), ["Unknown type 'Nope'."]);
    let r = gql(&s, "main", "mutation { NopeCreate(data: {}) { ok } }");
    assert_eq!(
        errors(&r),
        ["Cannot query field 'NopeCreate' on type 'Mutation'."]
    );
}

#[test]
fn variables_must_be_provided_and_defined() {
    let s = store();
    let r = gql(
        &s,
        "main",
        "query ($name: String!) { DcimDevice(name__value: $name) { count } }",
    );
    assert_eq!(
        errors(&r),
        ["Variable '$name' of required type 'String!' was not provided."]
    );
    let r = gql(&s, "main", "{ DcimDevice(name__value: $name) { count } }");
    assert_eq!(errors(&r), ["Variable '$name' is not defined."]);
    let r = s.execute_blocking(
        "main",
        &GraphqlRequest::new(
            "query A { InfrahubInfo { version } } query B { InfrahubInfo { version } }",
        ),
    );
    assert_eq!(
        errors(&r),
        ["Must provide operation name if query contains multiple operations."]
    );
}

#[test]
fn hostile_inputs_do_not_crash() {
    let s = store();
    for doc in [
        "",
        "{",
        "}}}}",
        "query { __typename }",
        "subscription { DcimDevice { count } }",
        "fragment F on DcimDevice { ...F } { DcimDevice { edges { node { ...F } } } }",
        "{ DcimDevice(limit: -1) { count } }",
        "{ DcimDevice(offset: \"x\") { count } }",
        "mutation { DcimDeviceCreate(data: 5) { ok } }",
        "mutation { DcimDeviceCreate(data: {name: 5}) { ok } }",
        "mutation { DcimDeviceUpdate(data: {}) { ok } }",
        "mutation { RelationshipAdd(data: {}) { ok } }",
        "mutation { DcimInterfaceCreate(data: {name: {value: \"x\"}}) { ok } }",
    ] {
        let r = gql(&s, "main", doc);
        assert!(
            r.get("errors").is_some() || r.get("data").is_some(),
            "{doc}: {r}"
        );
    }
    assert_eq!(
        gql(&s, "main", "query { __typename }"),
        json!({"data": {"__typename": "Query"}})
    );
}

#[test]
fn a_small_document_that_expands_exponentially_is_refused() {
    let s = store();
    let mut doc = String::from("fragment F0 on DcimDevice { id }\n");
    for i in 1..20 {
        doc.push_str(&format!(
            "fragment F{i} on DcimDevice {{ ...F{p} ...F{p} }}\n",
            p = i - 1
        ));
    }
    doc.push_str("{ DcimDevice { edges { node { ...F19 } } } }");
    let r = gql(&s, "main", &doc);
    assert_eq!(
        errors(&r),
        ["Query is too complex: more than 20000 field selections once fragments are expanded."]
    );
}
