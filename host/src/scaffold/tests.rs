//! Unit tests of the scaffolder on temporary repositories (building and
//! running the result is `tests/scaffold.rs`).

use std::path::Path;

use super::*;

const SCHEMA: &str = r#"---
version: "1.0"
nodes:
  - name: Site
    namespace: Demo
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: index, kind: Number}
  - name: Rack
    namespace: Demo
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
    relationships:
      - {name: site, peer: DemoSite, cardinality: one, kind: Attribute}
"#;

const CONFIG: &str =
    "# The demo repository.\n---\nschemas:\n  - schemas # the model\n\nobjects:\n  - objects\n";

/// A repository with the demo schema, an objects directory and `config`.
fn repository(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("schemas")).expect("schemas dir");
    std::fs::create_dir_all(dir.path().join("objects")).expect("objects dir");
    std::fs::write(dir.path().join("schemas/demo.yml"), SCHEMA).expect("schema");
    std::fs::write(dir.path().join(".infrahub.yml"), config).expect("config");
    dir
}

fn spec(name: &str, kind: &str, parameters: &[(&str, &str)]) -> PluginSpec {
    PluginSpec {
        name: name.to_owned(),
        target_kind: kind.to_owned(),
        parameters: parameters
            .iter()
            .map(|(variable, path)| ((*variable).to_owned(), (*path).to_owned()))
            .collect(),
        targets: None,
        sdk: sdk::find(None).expect("the checkout's SDK"),
    }
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|_| panic!("{path} exists"))
}

#[test]
fn the_three_parts_are_written_and_registered_keeping_the_configs_comments() {
    let repo = repository(CONFIG);
    let done = new_plugin(
        repo.path(),
        &spec(
            "rack-notes",
            "DemoRack",
            &[("rack", "name__value"), ("site", "site__name__value")],
        ),
    )
    .expect("scaffolds");
    assert_eq!(
        done.created,
        [
            "plugins/rack-notes/Cargo.toml",
            "plugins/rack-notes/.gitignore",
            "plugins/rack-notes/src/lib.rs",
            "plugins/rack-notes/rack_notes.gql",
            "plugins/rack-notes/Cargo.lock",
            "objects/00_rack-notes-targets.yml",
        ]
    );
    assert!(!done.config_created);
    assert_eq!(
        read(repo.path(), ".infrahub.yml"),
        "# The demo repository.\n---\nschemas:\n  - schemas # the model\n\nobjects:\n  - objects\n\
         queries:\n  - name: rack_notes\n    file_path: plugins/rack-notes/rack_notes.gql\n\
         generator_definitions:\n  - name: rack-notes\n    \
         file_path: plugins/rack-notes/target/wasm32-wasip2/release/rack_notes.wasm\n    \
         targets: rack-notes-targets\n    query: rack_notes\n    parameters:\n      \
         rack: name__value\n      site: site__name__value\n"
    );
    let query = read(repo.path(), "plugins/rack-notes/rack_notes.gql");
    assert!(
        query.contains(
            "query rack_notes($rack: String!, $site: String!) {\n  \
             DemoRack(name__value: $rack, site__name__value: $site) {\n    edges {\n      node {\n        \
             id\n        display_label\n        name { value }\n        site { node { name { value } } }\n"
        ),
        "{query}"
    );
    let lib = read(repo.path(), "plugins/rack-notes/src/lib.rs");
    assert!(lib.contains("struct RackNotes;"), "{lib}");
    assert!(
        lib.contains("infragen_sdk::export_generator!(RackNotes);"),
        "{lib}"
    );
    let manifest = read(repo.path(), "plugins/rack-notes/Cargo.toml");
    assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
    assert!(manifest.contains("crate-type = [\"cdylib\"]"), "{manifest}");
}

#[test]
fn the_scaffold_validates_clean_but_for_the_component_not_yet_built() {
    let repo = repository(CONFIG);
    new_plugin(
        repo.path(),
        &spec("notes", "DemoSite", &[("index", "index__value")]),
    )
    .expect("scaffolds");
    let query = read(repo.path(), "plugins/notes/notes.gql");
    assert!(query.contains("query notes($index: BigInt!)"), "{query}");
    let report = crate::validate::validate(repo.path(), &crate::validate::Options::default())
        .expect("validates");
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [".infrahub.yml:13: generator `notes`: file_path \
          `plugins/notes/target/wasm32-wasip2/release/notes.wasm` does not exist; has the \
          component been built? (`cargo build --release --target wasm32-wasip2 --manifest-path \
          plugins/notes/Cargo.toml`)"]
    );
}

#[test]
fn an_existing_generator_is_refused_and_nothing_is_written() {
    let repo = repository(CONFIG);
    new_plugin(repo.path(), &spec("notes", "DemoSite", &[])).expect("first");
    let before = read(repo.path(), ".infrahub.yml");
    let error = new_plugin(repo.path(), &spec("notes", "DemoSite", &[])).expect_err("twice");
    assert_eq!(
        error.to_string(),
        "generator `notes` in .infrahub.yml already exists; choose another name or remove it first"
    );
    assert_eq!(read(repo.path(), ".infrahub.yml"), before);
}

#[test]
fn a_kind_or_path_the_schema_does_not_have_is_refused() {
    let repo = repository(CONFIG);
    let error = new_plugin(repo.path(), &spec("notes", "Rack", &[])).expect_err("no such kind");
    assert_eq!(
        error.to_string(),
        "the repository's schema has no kind `Rack` (similar: DemoRack)"
    );
    let error = new_plugin(
        repo.path(),
        &spec("notes", "DemoRack", &[("rack", "label__value")]),
    )
    .expect_err("no such attribute");
    assert_eq!(
        error.to_string(),
        "parameter `rack=label__value`: `DemoRack` has no attribute (or card-one relationship \
         and attribute) that path reads; its attributes: name"
    );
    let error = new_plugin(repo.path(), &spec("notes", "DemoRack", &[("rack", "name")]))
        .expect_err("not a path");
    assert!(error.to_string().contains("ATTRIBUTE__value"), "{error}");
    assert!(!repo.path().join("plugins").exists());
}

#[test]
fn a_group_already_declared_is_reused() {
    let repo = repository(CONFIG);
    std::fs::write(
        repo.path().join("objects/groups.yml"),
        "apiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: CoreStandardGroup\n  data:\n    - name: sites\n",
    )
    .expect("groups");
    let mut spec = spec("notes", "DemoSite", &[]);
    spec.targets = Some("sites".to_owned());
    let done = new_plugin(repo.path(), &spec).expect("scaffolds");
    assert!(
        done.created
            .iter()
            .all(|file| !file.starts_with("objects/")),
        "{:?}",
        done.created
    );
    assert!(read(repo.path(), ".infrahub.yml").contains("    targets: sites\n"));
}

#[test]
fn a_new_repository_gets_its_configuration_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let done = new_plugin(dir.path(), &spec("notes", "DemoSite", &[])).expect("scaffolds");
    assert!(done.config_created);
    assert_eq!(done.notes.len(), 1, "the kind could not be checked");
    let config = read(dir.path(), ".infrahub.yml");
    assert!(config.ends_with("objects:\n  - objects\n"), "{config}");
}

#[test]
fn a_list_written_on_one_line_is_refused_with_the_entries_to_add() {
    let repo = repository("schemas: [schemas]\nqueries: [{name: a, file_path: a.gql}]\n");
    std::fs::write(repo.path().join("a.gql"), "query a { DemoSite { count } }").expect("gql");
    let error = new_plugin(repo.path(), &spec("notes", "DemoSite", &[])).expect_err("flow list");
    let message = error.to_string();
    assert!(
        message.starts_with(
            ".infrahub.yml was not changed: `queries` is written on one line \
             (`[{name: a, file_path: a.gql}]`)"
        ),
        "{message}"
    );
    assert!(
        message.contains("queries:\n  - name: notes\n    file_path: plugins/notes/notes.gql"),
        "{message}"
    );
    assert!(!repo.path().join("plugins").exists());
}
