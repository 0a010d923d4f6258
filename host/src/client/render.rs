//! Rendering of the GraphQL documents the host sends.
//!
//! Payloads always travel as typed variables (`$data: NetworkDeviceUpsertInput!`),
//! never pasted into the document. Filters are rendered as literals because
//! their types vary per attribute, except where the type is known: the
//! `__value` of a `Text` attribute is a `String` (see [`bound_filter_arguments`]).
//! Every key is checked to be a GraphQL name and every string escaped, so no
//! value a plugin passes can change the document's structure.

use serde_json::{Map, Value};

use super::schema::KindFields;

/// Whether `name` is a GraphQL name (`[_A-Za-z][_0-9A-Za-z]*`).
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first == '_' || first.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A JSON value as a GraphQL literal.
pub fn literal(value: &Value) -> Result<String, String> {
    Ok(match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => string_literal(text),
        Value::Array(items) => {
            let items: Result<Vec<String>, String> = items.iter().map(literal).collect();
            format!("[{}]", items?.join(", "))
        }
        Value::Object(fields) => {
            let mut rendered = Vec::with_capacity(fields.len());
            for (key, value) in fields {
                if !is_name(key) {
                    return Err(format!("{key:?} is not a GraphQL name"));
                }
                rendered.push(format!("{key}: {}", literal(value)?));
            }
            format!("{{{}}}", rendered.join(", "))
        }
    })
}

fn string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The filter arguments of a top-level query, from a JSON object.
pub fn filter_arguments(filters: &Value) -> Result<Vec<String>, String> {
    Ok(bound_filter_arguments(filters, &[])?.arguments)
}

/// Filter arguments, some of them bound to variables.
#[derive(Debug, Default, PartialEq)]
pub struct FilterArguments {
    /// `name: value` or `name: $variable`, one per filter.
    pub arguments: Vec<String>,
    /// `$variable: Type`, one per variable used.
    pub declarations: Vec<String>,
    /// The variables' values.
    pub variables: Map<String, Value>,
}

/// [`filter_arguments`], except that the string value of the `<attribute>__value` filter of
/// each attribute in `text_attributes` is passed as a `String!` variable. A document
/// looking a node up by its name is then the same text whatever the name, so a server
/// that keeps parsed documents parses it once (over HTTP, parsing a new lookup took ~12%
/// of a write's instructions).
pub fn bound_filter_arguments(
    filters: &Value,
    text_attributes: &[String],
) -> Result<FilterArguments, String> {
    let Value::Object(fields) = filters else {
        return Err("filters must be a JSON object".to_owned());
    };
    let mut bound = FilterArguments::default();
    for (key, value) in fields {
        if !is_name(key) {
            return Err(format!("{key:?} is not a filter name"));
        }
        if key == "offset" || key == "limit" {
            return Err(format!("{key} is set by the host, which reads every page"));
        }
        let text = key
            .strip_suffix("__value")
            .is_some_and(|attribute| text_attributes.iter().any(|a| a == attribute));
        if text && value.is_string() {
            let variable = format!("v{}", bound.variables.len());
            bound.arguments.push(format!("{key}: ${variable}"));
            bound.declarations.push(format!("${variable}: String!"));
            bound.variables.insert(variable, value.clone());
        } else {
            bound.arguments.push(format!("{key}: {}", literal(value)?));
        }
    }
    Ok(bound)
}

const PEER: &str = "id hfid display_label __typename";

/// The node selection of a kind, as the Python SDK's default query: every
/// attribute's value, card-one relationships as peer references, and
/// card-many relationships when they are of kind Attribute or Parent or
/// named in `include`.
pub fn node_selection(fields: &KindFields, include: &[String]) -> String {
    let mut selection = vec![PEER.to_owned()];
    for attribute in &fields.attributes {
        selection.push(format!("{attribute} {{ value }}"));
    }
    for relationship in &fields.relationships {
        if relationship.cardinality_one {
            selection.push(format!("{} {{ node {{ {PEER} }} }}", relationship.name));
        } else if relationship.listed_by_default || include.contains(&relationship.name) {
            selection.push(format!(
                "{} {{ count edges {{ node {{ {PEER} }} }} }}",
                relationship.name
            ));
        }
    }
    selection.join(" ")
}

/// A paginated query of `kind` with `filters`.
pub fn filters_query(kind: &str, filters: &FilterArguments, selection: &str) -> String {
    let mut arguments = filters.arguments.clone();
    arguments.push("offset: $offset".to_owned());
    arguments.push("limit: $limit".to_owned());
    let mut declarations = filters.declarations.clone();
    declarations.push("$offset: Int!".to_owned());
    declarations.push("$limit: Int!".to_owned());
    format!(
        "query Filters_{kind}({}) {{ {kind}({}) {{ count edges {{ node {{ {selection} }} }} }} }}",
        declarations.join(", "),
        arguments.join(", ")
    )
}

/// `<Kind><operation>(data: $data)` with the result fields the host needs.
pub fn node_mutation(kind: &str, operation: &str) -> String {
    format!(
        "mutation {kind}{operation}($data: {kind}{operation}Input!) {{ {kind}{operation}(data: $data) {{ ok object {{ id hfid __typename }} }} }}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_escaped_so_values_cannot_change_the_document() {
        assert_eq!(
            literal(&json!("a\"b\\c\nd\u{1}")).expect("renders"),
            r#""a\"b\\c\nd\u0001""#
        );
        assert_eq!(
            literal(&json!("\") { evil }")).expect("renders"),
            r#""\") { evil }""#
        );
    }

    #[test]
    fn filters_render_as_arguments_and_refuse_non_names() {
        assert_eq!(
            filter_arguments(
                &json!({"name__value": "leaf1", "role__values": ["leaf", "spine"], "ids": []})
            )
            .expect("renders"),
            vec![
                "ids: []".to_owned(),
                "name__value: \"leaf1\"".to_owned(),
                "role__values: [\"leaf\", \"spine\"]".to_owned(),
            ]
        );
        assert_eq!(
            filter_arguments(&json!({"name__value) { x } y(": 1})),
            Err("\"name__value) { x } y(\" is not a filter name".to_owned())
        );
        assert_eq!(
            filter_arguments(&json!({"limit": 5})),
            Err("limit is set by the host, which reads every page".to_owned())
        );
    }

    #[test]
    fn the_string_value_of_a_text_attribute_is_bound_to_a_variable() {
        let text = ["name".to_owned(), "label".to_owned()];
        let bound = bound_filter_arguments(
            &json!({
                "device__ids": ["d1"],
                "label__value": "x\") { evil }",
                "name__value": "leaf1",
                "name__values": ["a"],
                "speed__value": 400,
            }),
            &text,
        )
        .expect("renders");
        assert_eq!(
            bound,
            FilterArguments {
                arguments: vec![
                    "device__ids: [\"d1\"]".to_owned(),
                    "label__value: $v0".to_owned(),
                    "name__value: $v1".to_owned(),
                    "name__values: [\"a\"]".to_owned(),
                    "speed__value: 400".to_owned(),
                ],
                declarations: vec!["$v0: String!".to_owned(), "$v1: String!".to_owned()],
                variables: json!({"v0": "x\") { evil }", "v1": "leaf1"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            }
        );
        // A number given to a text attribute stays a literal: its type is not a String.
        assert_eq!(
            bound_filter_arguments(&json!({"name__value": 7}), &text)
                .expect("renders")
                .arguments,
            vec!["name__value: 7".to_owned()]
        );
    }

    #[test]
    fn a_lookup_by_name_is_the_same_document_whatever_the_name() {
        let text = ["name".to_owned()];
        let query = |name: &str| {
            let bound =
                bound_filter_arguments(&json!({ "name__value": name }), &text).expect("renders");
            filters_query("DcimDevice", &bound, "id")
        };
        assert_eq!(query("leaf1"), query("spine2"));
        assert_eq!(
            query("leaf1"),
            "query Filters_DcimDevice($v0: String!, $offset: Int!, $limit: Int!) \
             { DcimDevice(name__value: $v0, offset: $offset, limit: $limit) \
             { count edges { node { id } } } }"
        );
        // Without text attributes the value is pasted in, as before.
        let literal = filters_query(
            "DcimDevice",
            &bound_filter_arguments(&json!({ "name__value": "leaf1" }), &[]).expect("renders"),
            "id",
        );
        assert_eq!(
            literal,
            "query Filters_DcimDevice($offset: Int!, $limit: Int!) \
             { DcimDevice(name__value: \"leaf1\", offset: $offset, limit: $limit) \
             { count edges { node { id } } } }"
        );
    }

    #[test]
    fn names_follow_the_graphql_grammar() {
        assert!(is_name("NetworkDevice"));
        assert!(is_name("_x1"));
        assert!(!is_name("1x"));
        assert!(!is_name(""));
        assert!(!is_name("a-b"));
    }
}
