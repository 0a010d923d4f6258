//! The happy paths of [`Repository`]; the refusals are UI tests under
//! `tests/ui/repository/`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;

/// A repository in a temporary directory holding `files` (path → text).
fn repository(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
        fs::write(path, text).expect("write");
    }
    dir
}

const AIDC: &str = r#"# The AI/DC design, registered as Infrahub would.
---
schemas:
  - schemas
objects:
  - objects

queries:
  - name: generate_fabric
    file_path: generators/generate_fabric.gql
  - name: generate_pod
    file_path: generators/generate_pod.gql

generator_definitions:
  - name: generate-fabric
    file_path: plugins/generate_fabric.wasm
    targets: fabrics
    query: generate_fabric
    parameters:
      fabric_name: name__value
    convert_query_response: false
    execute_in_proposed_change: false
    execute_after_merge: false
  - name: generate-pod
    file_path: plugins/generate_pod.wasm
    targets: pods
    query: generate_pod
    class_name: PodGenerator
    parameters:
      pod_name: name__value
      fabric: fabric__name__value
    watch:
      files: [shared/]
"#;

fn aidc() -> tempfile::TempDir {
    repository(&[
        (".infrahub.yml", AIDC),
        ("schemas/dcim.yml", "nodes: []\n"),
        ("objects/fabric.yml", "kind: Object\n"),
        (
            "generators/generate_fabric.gql",
            "query ($fabric_name: String!) { TopologyFabric(name__value: $fabric_name) { count } }\n",
        ),
        (
            "generators/generate_pod.gql",
            "query { TopologyPod { count } }\n",
        ),
        ("plugins/generate_fabric.wasm", "\0asm"),
        ("plugins/generate_pod.wasm", "\0asm"),
    ])
}

#[test]
fn a_realistic_repository_parses_into_exact_values() {
    let dir = aidc();
    let repository = Repository::open(dir.path()).expect("opens");
    assert_eq!(repository.root(), dir.path());
    assert_eq!(repository.config_file(), ".infrahub.yml");
    let config = repository.config();
    assert_eq!(config.schemas, vec![PathBuf::from("schemas")]);
    assert_eq!(config.objects, vec![PathBuf::from("objects")]);
    assert_eq!(
        config.queries,
        vec![
            Query {
                name: "generate_fabric".into(),
                file_path: "generators/generate_fabric.gql".into()
            },
            Query {
                name: "generate_pod".into(),
                file_path: "generators/generate_pod.gql".into()
            },
        ]
    );
    assert_eq!(
        config.generator_definitions,
        vec![
            GeneratorDefinition {
                name: "generate-fabric".into(),
                file_path: "plugins/generate_fabric.wasm".into(),
                query: "generate_fabric".into(),
                parameters: BTreeMap::from([("fabric_name".to_owned(), json!("name__value"))]),
                targets: "fabrics".into(),
                class_name: "Generator".into(),
                convert_query_response: false,
                execute_in_proposed_change: false,
                execute_after_merge: false,
                watch: None,
            },
            GeneratorDefinition {
                name: "generate-pod".into(),
                file_path: "plugins/generate_pod.wasm".into(),
                query: "generate_pod".into(),
                parameters: BTreeMap::from([
                    ("fabric".to_owned(), json!("fabric__name__value")),
                    ("pod_name".to_owned(), json!("name__value")),
                ]),
                targets: "pods".into(),
                class_name: "PodGenerator".into(),
                convert_query_response: false,
                execute_in_proposed_change: true,
                execute_after_merge: true,
                watch: Some(Watch {
                    files: vec!["shared/".into()]
                }),
            },
        ]
    );
    assert_eq!(
        repository
            .generator("generate-pod")
            .map(|g| g.targets.as_str()),
        Some("pods")
    );
    assert!(repository.generator("generate-rack").is_none());
}

#[test]
fn query_text_reads_the_declared_gql_file() {
    let dir = aidc();
    let repository = Repository::open(dir.path()).expect("opens");
    assert_eq!(
        repository.query_text("generate_pod").expect("declared"),
        "query { TopologyPod { count } }\n"
    );
    assert_eq!(
        repository
            .query_text("generate_rack")
            .expect_err("undeclared")
            .to_string(),
        "query `generate_rack` is not declared in `queries` of .infrahub.yml"
    );
}

#[test]
fn directories_of_schemas_are_recursed_in_sorted_order() {
    let dir = repository(&[
        (
            ".infrahub.yml",
            "schemas:\n  - schemas\n  - extra/late.yaml\n",
        ),
        ("schemas/b.yml", "b"),
        ("schemas/a/z.yml", "a/z"),
        ("schemas/a/m.json", "a/m"),
        ("schemas/a-b/x.yml", "a-b/x"),
        ("schemas/README.md", "not a schema"),
        ("schemas/c/deep/d.yaml", "c/deep/d"),
        ("extra/late.yaml", "late"),
    ]);
    let repository = Repository::open(dir.path()).expect("opens");
    let files = repository.schema_files().expect("readable");
    let names: Vec<(&str, &str)> = files
        .iter()
        .map(|(path, text)| (path.as_str(), text.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("schemas/a/m.json", "a/m"),
            ("schemas/a/z.yml", "a/z"),
            ("schemas/a-b/x.yml", "a-b/x"),
            ("schemas/b.yml", "b"),
            ("schemas/c/deep/d.yaml", "c/deep/d"),
            ("extra/late.yaml", "late"),
        ]
    );
    assert_eq!(repository.object_files().expect("none"), vec![]);
}

#[test]
fn object_files_are_collected_like_schemas() {
    let dir = repository(&[
        (".infrahub.yml", "objects: [./objects]\n"),
        ("objects/02-pods.yml", "pods"),
        ("objects/01-fabric.yml", "fabric"),
    ]);
    let repository = Repository::open(dir.path()).expect("opens");
    assert_eq!(
        repository.object_files().expect("readable"),
        vec![
            ("objects/01-fabric.yml".to_owned(), "fabric".to_owned()),
            ("objects/02-pods.yml".to_owned(), "pods".to_owned()),
        ]
    );
}

#[test]
fn infrahub_yml_is_preferred_over_infrahub_yaml() {
    let dir = repository(&[
        (".infrahub.yml", "schemas: [from-yml.yml]\n"),
        (".infrahub.yaml", "schemas: [from-yaml.yml]\n"),
        ("from-yml.yml", ""),
    ]);
    let repository = Repository::open(dir.path()).expect("opens");
    assert_eq!(repository.config_file(), ".infrahub.yml");
    assert_eq!(
        repository.config().schemas,
        vec![PathBuf::from("from-yml.yml")]
    );
}

#[test]
fn infrahub_yaml_is_read_when_it_is_the_only_one() {
    let dir = repository(&[(".infrahub.yaml", "menus: [menu.yml]\n")]);
    let repository = Repository::open(dir.path()).expect("opens");
    assert_eq!(repository.config_file(), ".infrahub.yaml");
    assert_eq!(repository.config().menus, vec![PathBuf::from("menu.yml")]);
}

#[test]
fn read_stays_inside_the_repository() {
    let outer = repository(&[("secret.txt", "secret"), ("repo/.infrahub.yml", "")]);
    let root = outer.path().join("repo");
    std::os::unix::fs::symlink(outer.path().join("secret.txt"), root.join("link.txt"))
        .expect("symlink");
    fs::write(root.join("inside.txt"), "inside").expect("write");
    fs::create_dir(root.join("sub")).expect("mkdir");
    let repository = Repository::open(&root).expect("opens");

    assert_eq!(
        repository.read(Path::new("inside.txt")).expect("inside"),
        b"inside"
    );
    assert_eq!(
        repository
            .read(Path::new("sub/../inside.txt"))
            .expect("still inside"),
        b"inside"
    );
    for (path, how) in [
        ("../secret.txt", Escape::ParentDir),
        ("link.txt", Escape::Symlink),
    ] {
        match repository.read(Path::new(path)) {
            Err(RepositoryError::Escapes { how: found, .. }) => assert_eq!(found, how, "{path}"),
            other => panic!("{path}: expected an escape, got {other:?}"),
        }
    }
    let absolute = outer.path().join("secret.txt");
    assert!(matches!(
        repository.read(&absolute),
        Err(RepositoryError::Escapes {
            how: Escape::Absolute,
            ..
        })
    ));
}

#[test]
fn the_error_stays_small_enough_to_return_by_value() {
    // Callers embed it in their own error enums (clippy's
    // `result_large_err` fires at 128 bytes).
    assert!(
        std::mem::size_of::<RepositoryError>() <= 112,
        "RepositoryError is {} bytes",
        std::mem::size_of::<RepositoryError>()
    );
}
