//! Target groups: a generator runs on the members of its `targets` group,
//! and a group nobody declares makes every run a silent no-op (Infrahub
//! then reports zero targets, not an error).

use infragen_store::schema::Schema;

use super::Problem;
use super::objects::{Objects, StoreLookup};
use super::repository::Config;
use super::schema::LoadedSchema;
use super::yaml::Node;

/// The generic every group kind inherits.
const GROUP_GENERIC: &str = "CoreGroup";

pub(crate) fn check(
    config: &Config,
    objects: &Objects,
    schema: Option<&LoadedSchema>,
    store: &StoreLookup,
    problems: &mut Vec<Problem>,
) {
    let schema = schema.map(|loaded| loaded.schema.as_ref());
    for definition in &config.definitions {
        let group = &definition.targets.text;
        if declared_by_objects(objects, schema, group) || store.has(GROUP_GENERIC, group) {
            continue;
        }
        let in_store = match store.path() {
            Some(path) => format!(
                " and the store {} has no group of that name",
                path.display()
            ),
            None => String::new(),
        };
        problems.push(Problem::at(
            &config.file,
            definition.targets.line,
            format!(
                "generator `{}`: target group `{group}` is not declared: no object file has a \
                 group named `{group}`{in_store}; declare it under `objects` \
                 (`kind: CoreStandardGroup`, `data: [{{name: {group}}}]`)",
                definition.name.text
            ),
        ));
    }
}

/// Whether an object file declares a group named `group` (the check here,
/// and `plugin new` deciding whether to write one).
pub(crate) fn declared_by_objects(objects: &Objects, schema: Option<&Schema>, group: &str) -> bool {
    objects
        .items(|kind| is_group_kind(schema, kind))
        .any(|(_, item)| item.get("name").and_then(Node::text).as_deref() == Some(group))
}

/// Whether object documents of `kind` declare groups. Without a schema (it
/// failed to load and was reported), Infrahub's naming is the guide.
fn is_group_kind(schema: Option<&Schema>, kind: &str) -> bool {
    match schema {
        Some(schema) => schema.is_a(kind, GROUP_GENERIC),
        None => kind.ends_with("Group"),
    }
}
