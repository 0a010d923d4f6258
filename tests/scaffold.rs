//! `infragen plugin new` as a plugin author meets it: scaffold a generator in
//! a fresh repository, build it, validate the repository, run it on the
//! store.

use std::path::{Path, PathBuf};
use std::process::Command;

use infragen_tests::{infragen_bin, workspace_root};
use serde_json::Value;

/// Runs `infragen` in `dir`; (exit code, stdout, stderr).
fn infragen(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(infragen_bin())
        .current_dir(dir)
        .args(args)
        .env(
            "INFRAGEN_CACHE_DIR",
            std::env::temp_dir().join("infragen-scaffold-test-cache"),
        )
        .env_remove("INFRAGEN_SDK")
        .env_remove("INFRAGEN_STORE")
        .output()
        .expect("infragen runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Where scaffolded plugins are built: kept between runs (under the
/// workspace's target directory) so that only the first build compiles the
/// SDK and its dependencies.
fn plugin_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("scaffold-plugins")
}

/// A repository with the widgets schema and one widget set, `alpha`, that
/// joins the group the scaffolded generator will target.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("schemas")).expect("schemas dir");
    std::fs::create_dir_all(root.join("objects")).expect("objects dir");
    std::fs::copy(
        workspace_root().join("tests/fixtures/widgets/schemas/widgets.yml"),
        root.join("schemas/widgets.yml"),
    )
    .expect("schema");
    std::fs::write(
        root.join("objects/sets.yml"),
        "apiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: TestWidgetSet\n  data:\n    \
         - {name: alpha, size: 3, member_of_groups: [widget-notes-targets]}\n",
    )
    .expect("objects");
    std::fs::write(
        root.join(".infrahub.yml"),
        "# A repository for the scaffold test.\nschemas:\n  - schemas\nobjects:\n  - objects\n",
    )
    .expect("config");
    dir
}

#[test]
fn a_scaffolded_generator_builds_validates_and_runs_on_its_target() {
    let repo = repository();
    let root = repo.path();

    let (code, stdout, stderr) = infragen(
        root,
        &[
            "plugin",
            "new",
            "widget-notes",
            "--target-kind",
            "TestWidgetSet",
            "--param",
            "set=name__value",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "created plugins/widget-notes/Cargo.toml\n\
         created plugins/widget-notes/.gitignore\n\
         created plugins/widget-notes/src/lib.rs\n\
         created plugins/widget-notes/widget_notes.gql\n\
         created plugins/widget-notes/Cargo.lock\n\
         created objects/00_widget-notes-targets.yml\n\
         edited  .infrahub.yml\n\
         next:\n  \
         cargo build --release --target wasm32-wasip2 --manifest-path plugins/widget-notes/Cargo.toml\n  \
         infragen validate\n  \
         infragen sync\n  \
         infragen generator widget-notes\n"
    );

    // Before the build, the component is the only thing missing.
    let (code, stdout, _) = infragen(root, &["validate"]);
    assert_eq!(code, 1);
    assert!(
        stdout.ends_with("does not exist; has the component been built? (`cargo build --release --target wasm32-wasip2 --manifest-path plugins/widget-notes/Cargo.toml`)\n1 problem in 1 generator, 1 query, 2 object files, 0 trigger rules\n"),
        "{stdout}"
    );

    // The build command the scaffolder printed, with a target directory
    // shared between test runs; the component is copied to where the
    // default target directory would have put it.
    let started = std::time::Instant::now();
    let target_dir = plugin_target_dir();
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
            "plugins/widget-notes/Cargo.toml",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the scaffolded plugin builds");
    eprintln!(
        "building the scaffolded plugin took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let component = "plugins/widget-notes/target/wasm32-wasip2/release/widget_notes.wasm";
    std::fs::create_dir_all(root.join(component).parent().expect("parent")).expect("dir");
    std::fs::copy(
        target_dir.join("wasm32-wasip2/release/widget_notes.wasm"),
        root.join(component),
    )
    .expect("copy the component");

    let (code, stdout, stderr) = infragen(root, &["validate"]);
    assert_eq!(
        (code, stdout.as_str()),
        (
            0,
            "ok: no problems in 1 generator, 1 query, 2 object files, 0 trigger rules\n"
        ),
        "{stderr}"
    );

    let store = root.join("store.db");
    let store = store.to_str().expect("utf-8 path");
    for args in [
        ["--store", store, "schema", "load", "schemas"],
        ["--store", store, "object", "load", "objects"],
    ] {
        let (code, _, stderr) = infragen(root, &args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
    }
    let (code, stdout, stderr) = infragen(
        root,
        &[
            "--store",
            store,
            "generator",
            "widget-notes",
            "--no-cascade",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("a JSON report");
    let targets = report["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 1, "{report}");
    assert_eq!(targets[0]["target"]["display_label"], "alpha");
    assert_eq!(targets[0]["outcome"]["status"], "succeeded");
    assert_eq!(
        targets[0]["outcome"]["log"]["lines"],
        serde_json::json!([{
            "level": "info",
            "message": "TestWidgetSet alpha: 1 node(s) in the query result, parameters {\"set\":\"alpha\"}",
        }])
    );
}
