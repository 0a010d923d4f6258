//! Trigger rules (Infrahub's `CoreNodeTriggerRule` and
//! `CoreGeneratorAction` object files): a rule watches a kind's attributes
//! and runs an action, the action runs a generator. A name that resolves to
//! nothing never fires, so a broken cascade would only show as a generator
//! that silently stopped running.

use infragen_store::schema::Schema;

use super::Problem;
use super::objects::{ObjectDocument, Objects, StoreLookup};
use super::repository::Config;
use super::schema::LoadedSchema;
use super::yaml::{Located, Node};

const GENERATOR_ACTION: &str = "CoreGeneratorAction";
const ACTION_GENERIC: &str = "CoreAction";
pub(crate) const NODE_TRIGGER_RULE: &str = "CoreNodeTriggerRule";
const ATTRIBUTE_MATCH: &str = "CoreNodeTriggerAttributeMatch";

pub(crate) fn check(
    config: &Config,
    objects: &Objects,
    schema: Option<&LoadedSchema>,
    store: &StoreLookup,
    problems: &mut Vec<Problem>,
) {
    let schema = schema.map(|loaded| loaded.schema.as_ref());
    for (document, item) in objects.items(|kind| kind == GENERATOR_ACTION) {
        let Some(generator) = item
            .located("generator")
            .or_else(|| first_of(item, "generator"))
        else {
            continue;
        };
        if config.definition(&generator.text).is_none() {
            problems.push(Problem::at(
                &document.file,
                generator.line,
                format!(
                    "generator action `{}` runs generator `{}`, which {} does not define \
                     (defined: {})",
                    name_of(item),
                    generator.text,
                    config.file,
                    config.generator_names()
                ),
            ));
        }
    }

    let is_action = |kind: &str| {
        kind == GENERATOR_ACTION || schema.is_some_and(|schema| schema.is_a(kind, ACTION_GENERIC))
    };
    let actions: Vec<String> = objects
        .items(is_action)
        .filter_map(|(_, item)| item.get("name").and_then(Node::text))
        .collect();
    for (document, rule) in objects.items(|kind| kind == NODE_TRIGGER_RULE) {
        if let Some(action) = rule.located("action").or_else(|| first_of(rule, "action"))
            && !actions.contains(&action.text)
            && !store.has(ACTION_GENERIC, &action.text)
        {
            let declared = if actions.is_empty() {
                "none is declared".to_owned()
            } else {
                let names: Vec<String> = actions.iter().map(|name| format!("`{name}`")).collect();
                format!("declared: {}", names.join(", "))
            };
            problems.push(Problem::at(
                &document.file,
                action.line,
                format!(
                    "trigger rule `{}` runs action `{}`, which no object file declares as a \
                     {GENERATOR_ACTION} ({declared})",
                    name_of(rule),
                    action.text
                ),
            ));
        }
        if let Some(schema) = schema {
            check_kind(document, rule, schema, problems);
        }
    }
}

/// The rule's `node_kind` exists and each attribute it matches is one of
/// that kind's.
fn check_kind(
    document: &ObjectDocument,
    rule: &Node,
    schema: &Schema,
    problems: &mut Vec<Problem>,
) {
    let Some(node_kind) = rule.located("node_kind") else {
        return;
    };
    let Some(kind) = schema.get(&node_kind.text) else {
        let hint = similar_kind(schema, &node_kind.text)
            .map(|kind| format!("; did you mean `{kind}`?"))
            .unwrap_or_default();
        problems.push(Problem::at(
            &document.file,
            node_kind.line,
            format!(
                "trigger rule `{}` watches kind `{}`, which the schema does not define{hint}",
                name_of(rule),
                node_kind.text
            ),
        ));
        return;
    };
    for attribute in attribute_matches(rule) {
        if kind.attribute(&attribute.text).is_none() {
            let names: Vec<String> = kind
                .attributes
                .iter()
                .map(|attribute| format!("`{}`", attribute.name))
                .collect();
            problems.push(Problem::at(
                &document.file,
                attribute.line,
                format!(
                    "trigger rule `{}` matches attribute `{}`, which `{}` does not have (its \
                     attributes: {})",
                    name_of(rule),
                    attribute.text,
                    kind.kind,
                    names.join(", ")
                ),
            ));
        }
    }
}

/// The `attribute_name` of every attribute match of a rule, whether
/// `matches` is written in the dict form (`{kind, data: [...]}`) or the
/// list form (`[{kind, data}, ...]`).
fn attribute_matches(rule: &Node) -> Vec<Located> {
    let Some(matches) = rule.get("matches") else {
        return Vec::new();
    };
    let groups: Vec<&Node> = if matches.get("data").is_some() {
        vec![matches]
    } else {
        matches.items().iter().collect()
    };
    let mut found = Vec::new();
    for group in groups {
        let kind = group.get("kind").and_then(Node::text);
        if kind.is_some_and(|kind| kind != ATTRIBUTE_MATCH) {
            continue;
        }
        let data = group.get("data");
        let items: Vec<&Node> = match data {
            Some(data) if !data.items().is_empty() => data.items().iter().collect(),
            Some(data) => vec![data],
            None => Vec::new(),
        };
        found.extend(
            items
                .into_iter()
                .filter_map(|item| item.located("attribute_name")),
        );
    }
    found
}

/// A reference written as an HFID list (`[name]`) rather than a string.
fn first_of(item: &Node, key: &str) -> Option<Located> {
    let first = item.get(key)?.items().first()?;
    Some(Located {
        text: first.text()?,
        line: first.line,
    })
}

fn name_of(item: &Node) -> String {
    item.get("name")
        .and_then(Node::text)
        .unwrap_or_else(|| "(unnamed)".to_owned())
}

/// A kind that differs only in case, or whose name without the namespace
/// matches (`Pod` for `NetworkPod`).
fn similar_kind<'s>(schema: &'s Schema, wanted: &str) -> Option<&'s str> {
    let lower = wanted.to_lowercase();
    schema
        .kinds()
        .find(|kind| kind.kind.to_lowercase() == lower || kind.name.to_lowercase() == lower)
        .map(|kind| kind.kind.as_str())
}
