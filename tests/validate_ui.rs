//! UI tests of `infragen validate`: each case under `tests/ui/validate/<case>/`
//! is a small repository with one mistake, next to the exact report it must
//! produce (`<case>.stdout`), so the wording, file and line of every problem
//! are reviewed like code. `INFRAGEN_BLESS=1` rewrites the expected files
//! after an intended change.
//!
//! Components are not checked in (`*.wasm` is ignored): a case names each
//! one in a `NAME.wasm.from` file, holding a test guest's crate name (the
//! built guest is copied in) or `core-module` (a core WebAssembly module,
//! not a component).

use std::path::{Path, PathBuf};
use std::process::Command;

use infragen::validate::{Options, validate};
use infragen_tests::{assert_matches_expected, guest, infragen_bin, workspace_root};
use serde_json::Value;

/// The smallest valid core module: magic and version, no sections.
const CORE_MODULE: &[u8] = b"\0asm\x01\0\0\0";

fn cases() -> Vec<PathBuf> {
    let dir = workspace_root().join("tests/ui/validate");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/ui/validate exists")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}

/// A copy of `case` with its components in place.
fn materialize(case: &Path, into: &Path) {
    std::fs::create_dir_all(into).expect("create dir");
    for entry in std::fs::read_dir(case).expect("read case") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let target = into.join(&name);
        if entry.file_type().expect("file type").is_dir() {
            materialize(&entry.path(), &target);
        } else if let Some(component) = name.strip_suffix(".from") {
            let source = std::fs::read_to_string(entry.path()).expect("read .from");
            let component_path = into.join(component);
            match source.trim() {
                "core-module" => std::fs::write(component_path, CORE_MODULE),
                package => std::fs::copy(guest(package), component_path).map(drop),
            }
            .expect("write component");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy case file");
        }
    }
}

#[test]
fn every_validate_case_reports_exactly_its_problems() {
    let cases = cases();
    assert!(
        cases.len() >= 18,
        "expected the validate cases, found {}",
        cases.len()
    );
    for case in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        materialize(&case, dir.path());
        let report = validate(dir.path(), &Options::default()).expect("validation runs");
        assert_matches_expected(&format!("{report}\n"), &case.with_extension("stdout"));
    }
}

fn infragen_validate(args: &[&str]) -> (i32, String, String) {
    let store = tempfile::tempdir().expect("temp dir");
    let output = Command::new(infragen_bin())
        .args(["--store"])
        .arg(store.path().join("absent.db"))
        .arg("validate")
        .args(args)
        .output()
        .expect("infragen runs");
    assert!(
        !store.path().join("absent.db").exists(),
        "validate never creates a store"
    );
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_projects_own_repository_is_clean() {
    for package in ["generate-fabric", "generate-pod", "generate-rack"] {
        guest(package);
    }
    let root = workspace_root();
    let (code, stdout, stderr) = infragen_validate(&[root.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("ok: no problems in 3 generators, 3 queries, ")
            && stdout.lines().count() == 1,
        "{stdout}"
    );
}

#[test]
fn json_lists_each_problem_with_file_and_line_and_the_exit_code_says_not_clean() {
    let dir = tempfile::tempdir().expect("temp dir");
    materialize(
        &workspace_root().join("tests/ui/validate/query-undeclared"),
        dir.path(),
    );
    let (code, stdout, stderr) =
        infragen_validate(&["--json", dir.path().to_str().expect("utf-8 path")]);
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        report["problems"],
        serde_json::json!([{
            "file": ".infrahub.yml",
            "line": 9,
            "message": "generator `widgets` uses query `widget_sets`, which is not declared in `queries` (declared: `widget_set`)",
        }])
    );
    assert_eq!(report["checked"]["generators"], 1);
}

#[test]
fn a_target_group_that_only_the_store_has_counts_as_declared() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("repository");
    materialize(
        &workspace_root().join("tests/ui/validate/target-group-undeclared"),
        &repo,
    );
    let store_path = dir.path().join("store.db");
    let store = infragen_store::Store::open(&store_path).expect("store opens");
    let response = store.execute_blocking(
        infragen_store::MAIN,
        &infragen_store::GraphqlRequest::new(
            "mutation { CoreStandardGroupUpsert(data: {name: {value: \"widget-sets\"}}) { ok } }",
        ),
    );
    assert!(response.get("errors").is_none(), "{response}");
    drop(store);

    let without = validate(&repo, &Options::default()).expect("validation runs");
    assert_eq!(without.problems.len(), 1, "{without}");
    let with = validate(
        &repo,
        &Options {
            store: Some(store_path),
        },
    )
    .expect("validation runs");
    assert!(with.is_clean(), "{with}");
}
