//! Stored queries: declared, parseable, fed exactly by the definition's
//! `parameters`, and selecting only what the schema has.
//!
//! The parameters of a definition become the query's variables at run time
//! (`{rack_name: name__value}` → `$rack_name`), so a required variable
//! nobody provides fails every run, and a parameter no variable takes is
//! almost always a typo of one that is needed.

use std::collections::BTreeMap;

use async_graphql_parser::types::{BaseType, DocumentOperations, ExecutableDocument, Type};
use infragen_store::GraphqlRequest;
use serde_json::{Map, Value};

use super::Problem;
use super::repository::{Config, Files, ReadError};
use super::schema::LoadedSchema;

/// A query's variables: name → (required, line in the `.gql`).
type Variables = BTreeMap<String, (bool, u64)>;

/// A query file that parsed.
struct Parsed {
    file: String,
    variables: Variables,
}

pub(crate) fn check(
    config: &Config,
    files: &Files,
    schema: Option<&LoadedSchema>,
    problems: &mut Vec<Problem>,
) {
    let mut parsed: BTreeMap<&str, Parsed> = BTreeMap::new();
    for query in &config.queries {
        let name = &query.name.text;
        let path = &query.file_path.text;
        let text = match files.text(path) {
            Ok(text) => text,
            Err(error) => {
                let hint = if matches!(error, ReadError::Missing) {
                    format!(
                        "; `plugin new` writes it, or create it with `query {name}(...) {{ ... }}`"
                    )
                } else {
                    String::new()
                };
                problems.push(Problem::at(
                    &config.file,
                    query.file_path.line,
                    format!("query `{name}`: file_path `{path}` {error}{hint}"),
                ));
                continue;
            }
        };
        let document = match async_graphql_parser::parse_query(&text) {
            Ok(document) => document,
            Err(error) => {
                let line = error.positions().next().map_or(1, |pos| pos.line as u64);
                problems.push(Problem::at(
                    path,
                    line,
                    format!("query `{name}` does not parse: {}", syntax_message(&error)),
                ));
                continue;
            }
        };
        if let Some(schema) = schema {
            check_fields(name, path, &text, &document, schema, problems);
        }
        parsed.insert(
            name,
            Parsed {
                file: path.clone(),
                variables: variables(&document),
            },
        );
    }

    for definition in &config.definitions {
        let generator = &definition.name.text;
        let query = &definition.query.text;
        if config.query(query).is_none() {
            problems.push(Problem::at(
                &config.file,
                definition.query.line,
                format!(
                    "generator `{generator}` uses query `{query}`, which is not declared in \
                     `queries` (declared: {})",
                    config.query_names()
                ),
            ));
            continue;
        }
        let Some(parsed) = parsed.get(query.as_str()) else {
            continue; // reported with the query
        };
        for (variable, path) in &definition.parameters {
            if path.is_none() {
                problems.push(Problem::at(
                    &config.file,
                    variable.line,
                    format!(
                        "generator `{generator}`: parameter `{}` must be a path on the target \
                         such as `name__value` or `site__name__value`",
                        variable.text
                    ),
                ));
            }
            if !parsed.variables.contains_key(&variable.text) {
                problems.push(Problem::at(
                    &config.file,
                    variable.line,
                    format!(
                        "generator `{generator}`: parameter `{}` is not a variable of query \
                         `{query}` ({}); rename it to the variable it is meant for, or remove it",
                        variable.text,
                        describe_variables(&parsed.variables)
                    ),
                ));
            }
        }
        for (variable, (required, line)) in &parsed.variables {
            let provided = definition
                .parameters
                .iter()
                .any(|(name, _)| &name.text == variable);
            if *required && !provided {
                problems.push(Problem::at(
                    &config.file,
                    definition.query.line,
                    format!(
                        "generator `{generator}`: query `{query}` requires `${variable}` ({}:{line}), \
                         which its `parameters` do not provide; add `{variable}: <attribute>__value`",
                        parsed.file
                    ),
                ));
            }
        }
    }
}

/// Every variable of every operation of the document.
fn variables(document: &ExecutableDocument) -> Variables {
    let operations: Vec<_> = match &document.operations {
        DocumentOperations::Single(operation) => vec![operation],
        DocumentOperations::Multiple(operations) => operations.values().collect(),
    };
    let mut variables = Variables::new();
    for operation in operations {
        for definition in &operation.node.variable_definitions {
            let required =
                !definition.node.var_type.node.nullable && definition.node.default_value.is_none();
            variables.insert(
                definition.node.name.node.to_string(),
                (required, definition.pos.line as u64),
            );
        }
    }
    variables
}

fn describe_variables(variables: &Variables) -> String {
    if variables.is_empty() {
        return "it declares no variables".to_owned();
    }
    let names: Vec<String> = variables.keys().map(|name| format!("`${name}`")).collect();
    format!("its variables: {}", names.join(", "))
}

/// Runs the query on the empty in-memory store with placeholder variables:
/// the store validates the whole document against the schema first, and
/// its errors name each unknown kind, field and argument with a position.
/// With no data, nothing else can go wrong; a document that passes
/// validation produces no problem here.
fn check_fields(
    name: &str,
    path: &str,
    text: &str,
    document: &ExecutableDocument,
    schema: &LoadedSchema,
    problems: &mut Vec<Problem>,
) {
    let mut placeholders = Map::new();
    let operations: Vec<_> = match &document.operations {
        DocumentOperations::Single(operation) => vec![operation],
        DocumentOperations::Multiple(operations) => operations.values().collect(),
    };
    for operation in operations {
        for definition in &operation.node.variable_definitions {
            placeholders.insert(
                definition.node.name.node.to_string(),
                placeholder(&definition.node.var_type.node),
            );
        }
    }
    let request = GraphqlRequest::new(text).with_variables(Value::Object(placeholders));
    let response = schema
        .store
        .execute_blocking(infragen_store::MAIN, &request);
    if !response["data"].is_null() {
        return;
    }
    for error in response["errors"].as_array().into_iter().flatten() {
        let message = error["message"].as_str().unwrap_or("invalid query");
        let line = error["locations"][0]["line"].as_u64();
        let message = format!("query `{name}`: {message}");
        problems.push(match line {
            Some(line) => Problem::at(path, line, message),
            None => Problem::whole(path, message),
        });
    }
}

/// A value of the variable's type, for validation only.
fn placeholder(ty: &Type) -> Value {
    match &ty.base {
        BaseType::List(_) => Value::Array(Vec::new()),
        BaseType::Named(name) => match name.as_str() {
            "Int" | "BigInt" | "Float" => Value::from(0),
            "Boolean" => Value::Bool(false),
            _ => Value::String(String::new()),
        },
    }
}

/// The parser's message on one line: pest's multi-line rendering keeps the
/// essential part after `= `.
fn syntax_message(error: &async_graphql_parser::Error) -> String {
    let text = error.to_string();
    let essential = text
        .lines()
        .rev()
        .find_map(|line| line.trim_start().strip_prefix("= "))
        .unwrap_or_else(|| text.lines().next().unwrap_or_default());
    essential.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_variables_are_those_without_null_or_default() {
        let document = async_graphql_parser::parse_query(
            "query q($a: String!, $b: String, $c: Int! = 3) {\n  X { count }\n}",
        )
        .expect("parses");
        let found = variables(&document);
        assert_eq!(found["a"], (true, 1));
        assert_eq!(found["b"], (false, 1));
        assert_eq!(found["c"], (false, 1));
    }

    #[test]
    fn a_syntax_error_is_one_line() {
        let error = async_graphql_parser::parse_query("query q {\n  X {\n}").expect_err("bad");
        let message = syntax_message(&error);
        assert!(!message.contains('\n'), "{message}");
        assert!(!message.is_empty());
    }
}
