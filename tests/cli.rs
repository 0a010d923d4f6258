//! The `infragen` binary as a user meets it.

use std::process::Command;

use infragen_tests::{guest, infragen_bin};

fn infragen(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(infragen_bin())
        .args(args)
        .env(
            "INFRAGEN_CACHE_DIR",
            std::env::temp_dir().join("infragen-cli-test-cache"),
        )
        .output()
        .expect("infragen runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (code, stdout, _) = infragen(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with(
            "Runs Infrahub-style infrastructure generators as sandboxed WebAssembly components"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("plugin"), "{stdout}");
}

#[test]
fn inspect_describes_an_accepted_plugin() {
    let path = guest("example-generator");
    let bytes = std::fs::read(&path).expect("read plugin");
    let (code, stdout, stderr) =
        infragen(&["plugin", "inspect", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("size:             {} bytes\n", bytes.len())),
        "{stdout}"
    );
    assert!(
        stdout.contains("world:            infragen:generator/generator\n"),
        "{stdout}"
    );
    assert!(stdout.contains("contract version: 0.1.0\n"), "{stdout}");
    assert!(
        stdout.contains("  infragen:generator/nodes@0.1.0\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("exports:\n  infragen:generator/plugin@0.1.0\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("accepted:         yes (this host implements infragen:generator@0.1.0)"),
        "{stdout}"
    );
    assert!(stdout.contains("digest:           sha256:"), "{stdout}");
}

#[test]
fn inspect_explains_a_refusal_and_exits_2() {
    let path = guest("future-major-guest");
    let (code, stdout, _) = infragen(&["plugin", "inspect", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 2);
    assert!(stdout.contains("contract version: 1.0.0\n"), "{stdout}");
    assert!(
        stdout.contains("accepted:         no: built against infragen:generator@1.0.0, but this host implements infragen:generator@0.1.0"),
        "{stdout}"
    );
}

#[test]
fn inspect_json_is_machine_readable() {
    let path = guest("other-world-guest");
    let (code, stdout, _) = infragen(&[
        "plugin",
        "inspect",
        "--json",
        path.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code, 2);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(json["exports"], serde_json::json!(["hello"]));
    assert_eq!(json["world"], serde_json::Value::Null);
    assert!(
        json["verdict"]
            .as_str()
            .expect("verdict")
            .starts_with("this component does not implement")
    );
}

#[test]
fn inspect_of_a_missing_file_fails_with_its_path() {
    let (code, _, stderr) = infragen(&["plugin", "inspect", "/nonexistent.wasm"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: cannot read plugin /nonexistent.wasm: No such file or directory (os error 2)\n"
    );
}

fn generator(repo: &infragen_tests::WidgetRepository, args: &[&str]) -> (i32, String, String) {
    let dir = repo.dir.path();
    let store = dir.join("store.db");
    let mut full = vec![
        "--store",
        store.to_str().expect("utf-8 path"),
        "generator",
        "--repository",
        dir.to_str().expect("utf-8 path"),
    ];
    full.extend_from_slice(args);
    infragen(&full)
}

#[tokio::test]
async fn generator_list_names_each_definition_like_infrahubctl() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let (code, stdout, stderr) = generator(&repo, &["--list"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "Generators defined in repository: 2\n\
         widgets (widgets_generator.wasm::Generator) Target: widget-sets\n\
         widgets-unparameterized (widgets_generator.wasm::Generator) Target: widget-sets\n"
    );
}

/// The line without its timing (`0.01s`), which varies.
fn untimed(line: &str) -> String {
    line.split_whitespace()
        .filter(|word| !(word.ends_with('s') && word[..word.len() - 1].parse::<f64>().is_ok()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn generator_prints_a_line_per_run_and_a_summary_per_generator() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let (code, stdout, stderr) = generator(&repo, &["widgets"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<String> = stdout.lines().map(untimed).collect();
    assert_eq!(
        lines,
        [
            "1 widgets ok alpha written 3 new 3 kept 0 deleted 0 [requested]",
            "1 widgets ok beta written 2 new 2 kept 0 deleted 0 [requested]",
            "generator runs ok failed created updated deleted time",
            "widgets 2 2 0 5 0 0",
            "cascade on branch main: 1 round, 2 runs, 0 failed (0 still failing) in",
        ],
        "{stdout}"
    );
}

#[tokio::test]
async fn generator_no_cascade_prints_a_line_per_target_and_a_summary() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let (code, stdout, stderr) = generator(&repo, &["widgets", "--no-cascade"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<String> = stdout.lines().map(untimed).collect();
    assert_eq!(
        lines,
        [
            "ok alpha written 3 new 3 kept 0 deleted 0",
            "ok beta written 2 new 2 kept 0 deleted 0",
            "widgets: 2 targets on branch main: 2 ok, 0 failed in",
        ],
        "{stdout}"
    );
}

#[tokio::test]
async fn generator_exits_non_zero_when_a_target_fails() {
    let repo = infragen_tests::WidgetRepository::new().await;
    repo.set("alpha", "mode: {value: \"fail-halfway\"}").await;
    let (code, stdout, _) = generator(&repo, &["widgets", "set=alpha"]);
    assert_eq!(code, 1);
    let id = repo.set_id("alpha").await;
    let lines: Vec<String> = stdout.lines().map(untimed).collect();
    assert_eq!(
        lines,
        [
            format!(
                "1 widgets failed alpha generator `widgets` failed on target `alpha` ({id}): \
                 generator: failing halfway on purpose after 2 of 3 widgets [requested]"
            ),
            "generator runs ok failed created updated deleted time".to_owned(),
            "widgets 1 0 1 0 0 0".to_owned(),
            "cascade on branch main: 1 round, 1 run, 1 failed (1 still failing) in".to_owned(),
        ],
        "{stdout}"
    );
}

#[test]
fn a_token_is_created_with_the_scope_asked_for_and_an_unknown_scope_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.db");
    let store = store.to_str().expect("utf-8 path");
    let (code, stdout, stderr) =
        infragen(&["--store", store, "token", "create", "ci", "--scope", "read"]);
    assert_eq!(code, 0, "{stderr}");
    let token = stdout.trim();
    assert_eq!(token.len(), 64, "{stdout}");
    let opened = infragen_store::Store::open(store).expect("store opens");
    assert_eq!(
        opened.token_scope(token).expect("scope"),
        Some(infragen_store::TokenScope::Read)
    );

    let (code, _, stderr) =
        infragen(&["--store", store, "token", "create", "ci", "--scope", "root"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "invalid value 'root' for '--scope <SCOPE>': unknown scope `root`: a token's scope is \
             read, write or admin"
        ),
        "{stderr}"
    );
}
