//! The `infragen` binary as a user meets it.

use std::process::Command;

use infragen_tests::{KillOnDrop, guest, infragen_bin};

fn infragen(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(infragen_bin())
        .args(args)
        .env_remove("INFRAGEN_QUEUE")
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
        "Generators defined in repository: 3\n\
         widgets (widgets_generator.wasm::Generator) Target: widget-sets\n\
         widgets-unparameterized (widgets_generator.wasm::Generator) Target: widget-sets\n\
         hostile (hostile_generator.wasm::Generator) Target: widget-sets\n"
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
        opened
            .token_account(token)
            .expect("scope")
            .map(|account| account.scope),
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

/// A copy of the widgets fixture with its plugin and object files declaring the sets:
/// alpha (6 widgets, stalling halfway until its 3 s deadline) and beta (2 widgets).
fn widgets_repository_stalling_on_alpha() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = infragen_tests::workspace_root().join("tests/fixtures/widgets");
    for entry in walk(&fixture) {
        let relative = entry.strip_prefix(&fixture).expect("inside the fixture");
        let target = dir.path().join(relative);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&entry, &target).expect("copy");
    }
    for (package, file) in [
        ("widgets-generator", "widgets_generator.wasm"),
        ("hostile-generator", "hostile_generator.wasm"),
    ] {
        std::fs::copy(guest(package), dir.path().join(file)).expect("copy plugin");
    }
    let config = dir.path().join(".infrahub.yml");
    let mut text = std::fs::read_to_string(&config).expect("read .infrahub.yml");
    text.push_str("objects:\n  - objects\n");
    std::fs::write(&config, text).expect("write .infrahub.yml");
    std::fs::create_dir(dir.path().join("objects")).expect("objects dir");
    std::fs::write(
        dir.path().join("objects/01-group.yml"),
        "apiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: CoreStandardGroup\n  data:\n    - {name: widget-sets}\n",
    )
    .expect("group");
    std::fs::write(
        dir.path().join("objects/02-sets.yml"),
        "apiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: TestWidgetSet\n  data:\n    \
         - {name: alpha, size: 6, mode: stall-halfway, member_of_groups: [widget-sets]}\n    \
         - {name: beta, size: 2, member_of_groups: [widget-sets]}\n",
    )
    .expect("sets");
    dir
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[cfg(unix)]
/// `infragen sync` of `repo` into `store`; both as arguments.
fn synced<'a>(repo: &'a tempfile::TempDir, store: &'a std::path::Path) -> (&'a str, &'a str) {
    let store_arg = store.to_str().expect("utf-8 path");
    let repo_arg = repo.path().to_str().expect("utf-8 path");
    let (code, _, stderr) = infragen(&["sync", "--store", store_arg, "--repository", repo_arg]);
    assert_eq!(code, 0, "{stderr}");
    (store_arg, repo_arg)
}

/// `infragen generator ARGS` on `store` and `repo`, its output piped.
fn spawn_generator(store: &str, repo: &str, args: &[&str]) -> std::process::Child {
    Command::new(infragen_bin())
        .arg("generator")
        .args(args)
        .args(["--store", store, "--repository", repo])
        .env(
            "INFRAGEN_CACHE_DIR",
            std::env::temp_dir().join("infragen-cli-test-cache"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("infragen runs")
}

/// Waits until the generator instance `name` is `Processing`: its run is under way.
fn wait_until_processing(store: &infragen_store::Store, name: &str) {
    let processing = format!(
        "{{ CoreGeneratorInstance(name__value: \"{name}\") {{ edges {{ node {{ status {{ value }} }} }} }} }}"
    );
    let started = std::time::Instant::now();
    loop {
        let answer =
            store.execute_blocking("main", &infragen_store::GraphqlRequest::new(&processing));
        if answer["data"]["CoreGeneratorInstance"]["edges"][0]["node"]["status"]["value"]
            == "Processing"
        {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{name} never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// kill -9 in the middle of a run leaves its instance `Processing` under a claim whose
/// process is gone: the next `infragen generator` on the store, whatever it was asked,
/// says so and runs it again; nothing of the killed run was written.
#[test]
fn a_run_killed_with_sigkill_is_resumed_by_the_next_generator_command() {
    let repo = widgets_repository_stalling_on_alpha();
    let store = repo.path().join("store.db");
    let (store_arg, repo_arg) = synced(&repo, &store);

    let mut child = spawn_generator(store_arg, repo_arg, &["widgets", "set=alpha"]);
    let opened = infragen_store::Store::open(&store).expect("store opens");
    wait_until_processing(&opened, "widgets: alpha");
    child.kill().expect("SIGKILL");
    child.wait().expect("killed");
    let widgets = "{ TestWidget { count } }";
    let count = |store: &infragen_store::Store| {
        store.execute_blocking("main", &infragen_store::GraphqlRequest::new(widgets))["data"]
            ["TestWidget"]["count"]
            .clone()
    };
    assert_eq!(count(&opened), 0, "the killed run wrote nothing");

    // alpha no longer stalls; the next command is about beta only.
    let fixed = opened.execute_blocking(
        "main",
        &infragen_store::GraphqlRequest::new(
            "mutation { TestWidgetSetUpdate(data: {hfid: [\"alpha\"], mode: {value: \"normal\"}}) { ok } }",
        ),
    );
    assert_eq!(fixed["data"]["TestWidgetSetUpdate"]["ok"], true, "{fixed}");
    let output = spawn_generator(store_arg, repo_arg, &["widgets", "set=beta"])
        .wait_with_output()
        .expect("infragen runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let lines: Vec<String> = stdout.lines().map(untimed).collect();
    assert!(
        lines.contains(&"1 widgets ok alpha written 6 new 6 kept 0 deleted 0 [resumed: its process was interrupted]".to_owned()),
        "{stdout}"
    );
    assert!(
        lines
            .contains(&"1 widgets ok beta written 2 new 2 kept 0 deleted 0 [requested]".to_owned()),
        "{stdout}"
    );
    assert_eq!(count(&opened), 8);
}

#[test]
fn sigint_lets_the_running_run_finish_starts_no_other_and_says_what_was_left() {
    interrupting_leaves_the_rest_queued_for_the_next_run("-INT");
}

#[test]
fn sigterm_stops_as_sigint_does() {
    interrupting_leaves_the_rest_queued_for_the_next_run("-TERM");
}

/// `signal` while alpha's run is under way: it finishes, beta's does not start and is
/// reported left queued; the next `infragen generator` (asked for alpha only) resumes
/// beta's run from the run queue.
fn interrupting_leaves_the_rest_queued_for_the_next_run(signal: &str) {
    let repo = widgets_repository_stalling_on_alpha();
    let store = repo.path().join("store.db");
    let (store_arg, repo_arg) = synced(&repo, &store);

    let child = spawn_generator(store_arg, repo_arg, &["widgets", "--concurrency", "1"]);
    // Once alpha's run is under way (it stalls until its 3 s deadline), interrupt.
    let opened = infragen_store::Store::open(&store).expect("store opens");
    wait_until_processing(&opened, "widgets: alpha");
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let output = child.wait_with_output().expect("infragen ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("infragen: stopping: no new run starts, the running ones finish"),
        "{stderr}"
    );
    assert!(
        stdout.contains("the run exceeded its deadline of 3s and was stopped"),
        "alpha's run finished (at its deadline): {stdout}"
    );
    let beta = opened.execute_blocking(
        "main",
        &infragen_store::GraphqlRequest::new(
            "{ TestWidgetSet(name__value: \"beta\") { edges { node { id } } } }",
        ),
    )["data"]["TestWidgetSet"]["edges"][0]["node"]["id"]
        .as_str()
        .expect("beta")
        .to_owned();
    assert!(
        stdout.contains(&format!(
            "interrupted: the running runs finished; 1 run left queued, not run: widgets on {beta}"
        )),
        "{stdout}"
    );
    let widgets = opened.execute_blocking(
        "main",
        &infragen_store::GraphqlRequest::new("{ TestWidget { count } }"),
    );
    assert_eq!(
        widgets["data"]["TestWidget"]["count"], 0,
        "alpha wrote nothing (its run failed), beta never ran"
    );

    // Asked for alpha only, the next run resumes beta's, which the stopped process left
    // queued.
    opened.execute_blocking(
        "main",
        &infragen_store::GraphqlRequest::new(
            "mutation { TestWidgetSetUpdate(data: {hfid: [\"alpha\"], mode: {value: \"normal\"}}) { ok } }",
        ),
    );
    let output = spawn_generator(
        store_arg,
        repo_arg,
        &["widgets", "set=alpha", "--concurrency", "1"],
    )
    .wait_with_output()
    .expect("infragen runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let runs: Vec<(&str, &str)> = stdout
        .lines()
        .filter_map(|line| {
            let set = line.split_whitespace().nth(3)?;
            let why = line.rsplit_once('[')?.1;
            Some((set, why))
        })
        .collect();
    assert_eq!(
        runs,
        [
            ("alpha", "requested]"),
            ("beta", "resumed: its process was interrupted]")
        ],
        "{stdout}"
    );
    let widgets = opened.execute_blocking(
        "main",
        &infragen_store::GraphqlRequest::new("{ TestWidget { count } }"),
    );
    assert_eq!(widgets["data"]["TestWidget"]["count"], 6 + 2);
}

/// `infragen generator` on the widgets repository, compiling its plugin afresh (an
/// empty cache) with the extra global arguments `compile`.
fn generator_compiling(
    repo: &infragen_tests::WidgetRepository,
    compile: &[&str],
) -> (i32, String, String) {
    let cache = tempfile::tempdir().expect("cache dir");
    let dir = repo.dir.path();
    let output = Command::new(infragen_bin())
        .args(compile)
        .arg("--store")
        .arg(dir.join("store.db"))
        .args(["generator", "widgets", "--repository"])
        .arg(dir)
        .env("INFRAGEN_CACHE_DIR", cache.path())
        .env_remove("INFRAHUB_ADDRESS")
        .output()
        .expect("infragen runs");
    // The first line says which backend; the rest is the run's.
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let (announced, rest) = stderr.split_once('\n').unwrap_or((&stderr, ""));
    assert_eq!(
        announced,
        format!(
            "infragen: using the embedded store {}",
            dir.join("store.db").display()
        )
    );
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        rest.to_owned(),
    )
}

/// `infragen generator` says on its first line which backend it uses, and an
/// `INFRAHUB_ADDRESS` inherited from the environment never wins over an explicit `--store`.
#[tokio::test]
async fn the_generator_says_which_backend_and_an_explicit_store_wins_over_the_environment() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let dir = repo.dir.path();
    let store = dir.join("store.db");
    let run = |args: &[&str], address: Option<&str>| {
        let mut command = Command::new(infragen_bin());
        command
            .args(args)
            .args(["generator", "widgets", "--no-cascade", "--repository"])
            .arg(dir)
            .current_dir(dir)
            .env(
                "INFRAGEN_CACHE_DIR",
                std::env::temp_dir().join("infragen-cli-test-cache"),
            )
            .env_remove("INFRAHUB_ADDRESS")
            .env_remove("INFRAGEN_STORE");
        if let Some(address) = address {
            command.env("INFRAHUB_ADDRESS", address);
        }
        let output = command.output().expect("infragen runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let store_arg = store.to_str().expect("utf-8 path");
    // --store given: the environment's server is ignored, and the run is on the store.
    let (code, stderr) = run(&["--store", store_arg], Some("http://127.0.0.1:9"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stderr.lines().next(),
        Some(
            format!(
                "infragen: using the embedded store {store_arg} (--store given; \
                 INFRAHUB_ADDRESS=http://127.0.0.1:9 ignored)"
            )
            .as_str()
        )
    );
    assert_eq!(repo.widget_names().await.len(), 5);
    // Without --store, the environment's server is used, and said so.
    let (code, stderr) = run(&[], Some("http://127.0.0.1:9"));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr.lines().next(),
        Some("infragen: using the Infrahub server at http://127.0.0.1:9 (from INFRAHUB_ADDRESS)")
    );
    // Both given explicitly: refused, nothing run.
    let output = Command::new(infragen_bin())
        .args([
            "--store",
            store_arg,
            "generator",
            "widgets",
            "--address",
            "http://127.0.0.1:9",
        ])
        .arg("--repository")
        .arg(dir)
        .env_remove("INFRAHUB_ADDRESS")
        .output()
        .expect("infragen runs");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: both --store {store_arg} and --address http://127.0.0.1:9 were given: \
             a run uses one backend, choose one\n"
        )
    );
}

#[tokio::test]
async fn compiling_a_plugin_past_its_memory_bound_stops_the_compiler_and_writes_nothing() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let before = infragen_tests::store_contents(&repo.store, "main", &[]);
    let (code, stdout, stderr) = generator_compiling(&repo, &["--compile-memory", "1 MiB"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let plugin = repo.dir.path().join("widgets_generator.wasm");
    assert!(
        stderr.starts_with(&format!(
            "error: cannot load plugin {}: compiling needed more than its memory bound of \
             1 MiB and was stopped (a pathological function?): memory allocation of ",
            plugin.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        infragen_tests::store_contents(&repo.store, "main", &[]),
        before
    );
}

#[tokio::test]
async fn compiling_a_plugin_past_its_time_bound_stops_the_compiler() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let (code, stdout, stderr) = generator_compiling(&repo, &["--compile-time", "1ms"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let plugin = repo.dir.path().join("widgets_generator.wasm");
    assert_eq!(
        stderr,
        format!(
            "error: cannot load plugin {}: compiling took longer than its bound of 1ms and \
             was stopped (a pathological function?)\n",
            plugin.display()
        )
    );
}

#[tokio::test]
async fn within_its_bounds_a_plugin_compiled_by_the_worker_runs() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let (code, stdout, stderr) = generator_compiling(
        &repo,
        &["--compile-time", "60s", "--compile-memory", "512MiB"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.lines().last().is_some_and(
            |line| line.starts_with("cascade on branch main: 1 round, 2 runs, 0 failed")
        ),
        "{stdout}"
    );
}

#[test]
fn a_malformed_compile_bound_is_refused_with_the_units_that_exist() {
    let (code, _, stderr) = infragen(&["--compile-memory", "lots", "generator", "--list"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: invalid value 'lots' for '--compile-memory <SIZE>': "),
        "{stderr}"
    );
}

/// A store a newer infragen converted is refused by every command, naming both layouts,
/// and left as it was: this binary would misread it.
#[test]
fn a_store_in_a_newer_layout_is_refused_with_both_layouts_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.db");
    let store = store.to_str().expect("utf-8 path");
    let (code, _, stderr) = infragen(&["--store", store, "branch", "create", "br1"]);
    assert_eq!(code, 0, "{stderr}");
    rusqlite::Connection::open(store)
        .and_then(|conn| conn.execute("UPDATE meta SET value = '4' WHERE key = 'layout'", []))
        .expect("the layout set");
    let refused = format!(
        "cannot open the store {store}: store database {store} is in layout 4, written by a \
         newer infragen; this infragen reads layouts up to 3: open it with that newer infragen\n"
    );
    for args in [
        &["branch", "list"][..],
        &["branch", "create", "br2"],
        &["runs"],
    ] {
        let (code, stdout, stderr) = infragen(&[&["--store", store][..], args].concat());
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(stdout, "", "{args:?}");
        assert_eq!(
            stderr.lines().last().map(|l| format!("{l}\n")),
            Some(format!("error: {refused}")),
            "{args:?}: {stderr}"
        );
    }
    let names: Vec<String> = rusqlite::Connection::open(store)
        .and_then(|conn| {
            conn.prepare("SELECT name FROM branches ORDER BY name")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
        .expect("the branches read");
    assert_eq!(names, ["br1"], "no branch created");
}

/// Branch names follow Infrahub's rules; a refused one is named with every rule it
/// breaks, and nothing is created.
#[test]
fn a_branch_name_infrahub_refuses_is_refused_with_its_rules() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.db");
    let store = store.to_str().expect("utf-8 path");
    for (name, rules) in [
        ("a//b", "//"),
        ("a/.b", "/."),
        ("x.lock", "ends with .lock"),
        ("ab.", "ends with ."),
        ("my branch", "disallowed ASCII characters/patterns"),
    ] {
        let (code, _, stderr) = infragen(&["--store", store, "branch", "create", name]);
        assert_eq!(code, 1, "{name}");
        assert_eq!(
            stderr,
            format!("error: Branch name contains invalid patterns or characters: {rules}\n"),
            "{name}"
        );
    }
    let (code, stdout, _) = infragen(&["--store", store, "branch", "list"]);
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 1, "only main: {stdout}");
}

/// `branch validate` says whether a branch would merge, or lists its conflicts and exits 1;
/// it writes nothing either way.
#[test]
fn branch_validate_lists_the_conflicts_a_merge_would_name_and_writes_nothing() {
    const SCHEMA: &str = "version: '1.0'
nodes:
  - name: Switch
    namespace: Testing
    human_friendly_id: [hostname__value]
    attributes:
      - {name: hostname, kind: Text, unique: true}
      - {name: asn, kind: Number, optional: true}
";
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let store = path.to_str().expect("utf-8 path");
    let write = |branch: &str, asn: u32| {
        let opened = infragen_store::Store::open(&path).expect("store opens");
        let answer = opened.execute_blocking(
            branch,
            &infragen_store::GraphqlRequest::new(format!(
                r#"mutation {{ TestingSwitchUpsert(data: {{hostname: {{value: "sw1"}}, asn: {{value: {asn}}}}}) {{ object {{ id }} }} }}"#
            )),
        );
        answer["data"]["TestingSwitchUpsert"]["object"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("upserted: {answer}"))
            .to_owned()
    };
    {
        let opened = infragen_store::Store::open(&path).expect("store opens");
        opened
            .load_schema(&[("switch.yml".into(), SCHEMA.into())])
            .expect("schema loads");
        opened.create_branch("change-1").expect("branch");
    }
    let id = write("main", 1);
    write("change-1", 2);
    assert_eq!(
        infragen(&["--store", store, "branch", "validate", "change-1"]),
        (
            0,
            "branch 'change-1' would merge into main\n".into(),
            String::new()
        )
    );
    write("main", 3);
    assert_eq!(
        infragen(&["--store", store, "branch", "validate", "change-1"]),
        (
            1,
            format!("TestingSwitch {id} attribute 'asn': main=3 branch=2\n"),
            "error: branch 'change-1' would not merge into main: 1 conflict(s)\n".into()
        )
    );
    let (code, _, stderr) = infragen(&["--store", store, "branch", "validate", "nope"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "error: Branch: nope not found.\n")
    );
    // Nothing merged: main still has its own value.
    let opened = infragen_store::Store::open(&path).expect("store opens");
    let asn = opened.execute_blocking(
        "main",
        &infragen_store::GraphqlRequest::new(
            "{ TestingSwitch { edges { node { asn { value } } } } }",
        ),
    );
    assert_eq!(
        asn["data"]["TestingSwitch"]["edges"][0]["node"]["asn"]["value"],
        3
    );
}

/// An Infrahub repository may hold Python generators: `serve` imports the repository
/// (their definitions included, so trigger rules can name them) and starts, warning about
/// the definitions it will not run; `infragen generator` refuses to run one, saying why.
#[tokio::test]
async fn a_repository_with_python_generators_is_served_and_its_python_generators_skipped() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let dir = repo.dir.path();
    let config = dir.join(".infrahub.yml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replacen(
            "generator_definitions:\n",
            "generator_definitions:\n  - name: python-widgets\n    file_path: generators/widgets.py\n    \
             targets: widget-sets\n    query: widget_set\n    class_name: WidgetsGenerator\n",
            1,
        ),
    )
    .expect("config written");

    let (code, _, stderr) = generator(&repo, &["python-widgets"]);
    assert_eq!(code, 1);
    assert!(
        stderr.ends_with(
            "error: generator `python-widgets` is a Python generator (file_path \
             `generators/widgets.py`): infragen runs WebAssembly components, so it is not run \
             here (build it for wasm32-wasip2 and point file_path at the .wasm, or run it with \
             infrahubctl against `infragen serve`)\n"
        ),
        "{stderr}"
    );

    let mut serve = repo
        .serve_command(&[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.stdout.take().expect("stdout")),
        &mut first,
    )
    .expect("a line");
    let _ = serve.kill();
    let output = serve.wait_with_output().expect("serve ends");
    assert!(
        first.starts_with("listening on http://127.0.0.1:"),
        "{first}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.lines().any(|line| line
            == "infragen: warning: not running 1 generator definition that is not WebAssembly \
                (Infrahub Python generators; run them with infrahubctl against this server): \
                python-widgets (generators/widgets.py)"),
        "{stderr}"
    );
    // Imported: its definition is in the store for the rules that name it.
    assert!(
        !repo
            .id_of("CoreGeneratorDefinition", "python-widgets")
            .await
            .is_empty()
    );
}

/// `infragen serve` on `store` with `repo`, accepting API token `token`; its address.
fn serve_on(store: &str, repo: &tempfile::TempDir, token: &str) -> (std::process::Child, String) {
    serve_configured(
        store,
        repo,
        &format!("[store]\napi_tokens = [\"{token}\"]\n"),
    )
}

/// `infragen serve` on `store` with `repo` and `config` as its configuration file; its
/// address.
fn serve_configured(
    store: &str,
    repo: &tempfile::TempDir,
    config: &str,
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut serve = serve_command(store, repo, config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut first = String::new();
    std::io::BufReader::new(serve.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("serve prints its address");
    let address = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    (serve, address)
}

/// The `infragen serve` command of [`serve_configured`], its configuration file written.
fn serve_command(store: &str, repo: &tempfile::TempDir, config: &str) -> Command {
    let path = repo.path().join("serve.toml");
    std::fs::write(&path, config).expect("config");
    let mut serve = Command::new(infragen_bin());
    serve
        .args([
            "--store",
            store,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--repository",
        ])
        .arg(repo.path())
        .arg("--config")
        .arg(&path)
        .env(
            "INFRAGEN_CACHE_DIR",
            std::env::temp_dir().join("infragen-cli-test-cache"),
        );
    serve
}

/// `[store.transactions]` in serve's configuration file sets the limits of its run
/// transactions: the idle expiry is the one the opening answer gives and the one an unused
/// transaction is dropped after, and `open = 0` turns them off (404, as from a server
/// without them). A value out of range stops serve before it listens, naming the file,
/// the table and the range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_its_run_transaction_limits_from_its_configuration_file() {
    let repo = widgets_repository_stalling_on_alpha();
    let store = repo.path().join("store.db");
    let (store_arg, _) = synced(&repo, &store);
    let token = "cli-test-token";
    let client = reqwest::Client::new();
    let post = |url: String| {
        client
            .post(url)
            .header("x-infrahub-key", token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let text = response.text().await.expect("answer");
        let body: serde_json::Value = serde_json::from_str(&text).expect("JSON answer");
        (status, body)
    };

    let (serve, address) = serve_configured(
        store_arg,
        &repo,
        &format!("[store]\napi_tokens = [\"{token}\"]\n\n[store.transactions]\nidle = \"1s\"\n"),
    );
    let serve = KillOnDrop(serve);
    let (status, opened) = answer(
        post(format!("{address}/api/transactions?branch=main"))
            .await
            .expect("begin"),
    )
    .await;
    assert_eq!(
        (status, &opened["idle_ms"]),
        (201, &serde_json::json!(1000))
    );
    let id = opened["id"].as_str().expect("id").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, refused) = answer(
        post(format!("{address}/api/transactions/{id}/commit"))
            .await
            .expect("commit"),
    )
    .await;
    drop(serve);
    assert_eq!(status, 410, "{refused}");
    assert_eq!(
        refused["errors"][0]["message"],
        format!(
            "run transaction {id} is not open: it was committed or abandoned, or dropped after 1s without a request"
        )
    );

    let (serve, address) = serve_configured(
        store_arg,
        &repo,
        &format!("[store]\napi_tokens = [\"{token}\"]\n\n[store.transactions]\nopen = 0\n"),
    );
    let serve = KillOnDrop(serve);
    let (status, refused) = answer(
        post(format!("{address}/api/transactions?branch=main"))
            .await
            .expect("begin"),
    )
    .await;
    drop(serve);
    assert_eq!(status, 404, "{refused}");
    assert_eq!(
        refused["errors"][0]["message"],
        "run transactions are turned off on this server; write one mutation at a time"
    );

    let output = serve_command(store_arg, &repo, "[store.transactions]\nidle = \"0s\"\n")
        .output()
        .expect("serve runs");
    let path = repo.path().join("serve.toml");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: {}: [store.transactions]: idle = 0ns is outside the supported range 1s to 24h\n",
            path.display()
        )
    );
    assert!(output.stdout.is_empty(), "it never listened");
}

/// A generator run through `infragen serve` whose process is killed with SIGKILL half-way
/// leaves nothing of its writes (they were in its run transaction), holds no other writer
/// up for long, and the next run writes its whole output once.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_through_serve_killed_with_sigkill_leaves_nothing_and_the_next_run_writes_it_once() {
    let repo = widgets_repository_stalling_on_alpha();
    let store = repo.path().join("store.db");
    let (store_arg, repo_arg) = synced(&repo, &store);
    let token = "cli-test-token";
    let (mut serve, address) = serve_on(store_arg, &repo, token);
    let through_serve = |args: &[&str]| {
        Command::new(infragen_bin())
            .arg("generator")
            .args(args)
            .args([
                "--repository",
                repo_arg,
                "--address",
                &address,
                "--token",
                token,
            ])
            .env(
                "INFRAGEN_CACHE_DIR",
                std::env::temp_dir().join("infragen-cli-test-cache"),
            )
            .env_remove("INFRAGEN_STORE")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("infragen runs")
    };

    // alpha writes 3 of its 6 widgets, then stalls inside its run transaction.
    let mut child = through_serve(&["widgets", "set=alpha"]);
    let opened = infragen_store::Store::open(&store).expect("store opens");
    wait_until_processing(&opened, "widgets: alpha");
    std::thread::sleep(std::time::Duration::from_millis(800));
    child.kill().expect("SIGKILL");
    child.wait().expect("killed");
    let widgets = |store: &infragen_store::Store| {
        let answer = store.execute_blocking(
            "main",
            &infragen_store::GraphqlRequest::new(
                "{ TestWidget { edges { node { name { value } } } } }",
            ),
        );
        let mut names: Vec<String> = answer["data"]["TestWidget"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|edge| edge["node"]["name"]["value"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        widgets(&opened),
        Vec::<String>::new(),
        "the killed run wrote nothing"
    );

    // Another writer through the server is not held up by the dead run's transaction.
    let http = infragen::transport::Http::new(infragen::transport::HttpConfig::new(
        address.clone(),
        Some(token.to_owned()),
    ))
    .expect("client");
    let backend = infragen::client::GraphqlBackend::new(http);
    let started = std::time::Instant::now();
    infragen::backend::Backend::update(
        &backend,
        "main",
        "TestWidgetSet",
        &serde_json::json!({"hfid": ["alpha"], "mode": {"value": "normal"}}),
    )
    .await
    .expect("alpha no longer stalls");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the dead run's transaction held the write turn"
    );

    let output = through_serve(&["widgets", "set=alpha"])
        .wait_with_output()
        .expect("infragen runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout
            .lines()
            .map(untimed)
            .any(|line| line == "ok alpha written 6 new 6 kept 0 deleted 0"),
        "{stdout}"
    );
    assert_eq!(
        widgets(&opened),
        [
            "alpha-1", "alpha-2", "alpha-3", "alpha-4", "alpha-5", "alpha-6"
        ]
    );
}

/// The work queue's configuration errors, each named before anything connects, and a
/// password never repeated.
#[test]
fn a_work_queue_url_or_access_file_that_cannot_be_used_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let worker = |queue: &str, access: &[&str]| {
        let mut args = vec![
            "worker",
            "--queue",
            queue,
            "--address",
            "http://127.0.0.1:1",
            "--queue-scope",
            "s",
            "--name",
            "w1",
        ];
        args.extend_from_slice(access);
        infragen(&args)
    };

    let (code, _, stderr) = worker("http://infragen:s3cret@nats-host:4222", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim_end(),
        "error: `http://***@nats-host:4222` is not a NATS server's URL (`nats://HOST:PORT` or \
         `tls://HOST:PORT`): scheme `http` (the queue speaks NATS: `nats` or `tls`)"
    );

    let seed = dir.path().join("worker.nk");
    std::fs::write(&seed, "# no seed here\n").expect("seed file");
    let seed = seed.to_str().expect("UTF-8 path");
    let (code, _, stderr) = worker("nats://127.0.0.1:1", &["--queue-nkey", seed]);
    assert_eq!(code, 1);
    assert!(
        stderr.ends_with(&format!(
            "error: worker w1 stopped: --queue-nkey: the NKey seed file {seed}: holds no user \
             NKey seed (a line starting with `SU`)\n"
        )),
        "{stderr}"
    );

    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().expect("UTF-8 path");
    let (code, _, stderr) = worker("tls://127.0.0.1:1", &["--queue-ca", missing]);
    assert_eq!(code, 1);
    assert!(
        stderr.ends_with(&format!(
            "error: worker w1 stopped: --queue-ca: the CA certificates file {missing}: No such \
             file or directory (os error 2)\n"
        )),
        "{stderr}"
    );

    // A client certificate needs its key, and the options need a queue.
    let (code, _, stderr) = worker("tls://127.0.0.1:1", &["--queue-cert", missing]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "error: the following required arguments were not provided:\n  --queue-key <FILE>"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = infragen(&["serve", "--queue-ca", missing]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "error: the following required arguments were not provided:\n  --queue <QUEUE>"
        ),
        "{stderr}"
    );
}

/// `sync` of an Infrahub repository with transforms, artifacts, and a check and a menu file
/// it lacks: it records the queries, the transforms and the artifact definitions it can,
/// says so on stdout, and names on one warning line each entry it leaves out, with why.
#[test]
fn sync_records_transforms_and_artifact_definitions_and_names_what_it_leaves_out() {
    let repo = tempfile::tempdir().expect("temp dir");
    let write = |path: &str, text: &str| infragen_tests::write_file(repo.path(), path, text);
    write(
        ".infrahub.yml",
        "---
queries:
  - {name: startup_config, file_path: queries/startup_config.gql}
jinja2_transforms:
  - {name: startup, query: startup_config, template_path: templates/startup.j2}
python_transforms:
  - {name: cabling, file_path: transforms/cabling.py, class_name: Cabling}
  - {name: inventory, file_path: transforms/inventory.py, class_name: Inventory}
artifact_definitions:
  - {name: startup-file, parameters: {}, content_type: text/plain, targets: devices, transformation: startup}
  - {name: cabling-file, parameters: {}, content_type: text/plain, targets: devices, transformation: cabling}
  - {name: orphan-file, parameters: {}, content_type: text/plain, targets: nowhere, transformation: startup}
check_definitions:
  - {name: naming, file_path: checks/naming.py}
menus:
  - menus/menu.yml
objects:
  - objects/groups.yml
",
    );
    write(
        "queries/startup_config.gql",
        "query startup_config { CoreAccount { count } }\n",
    );
    write(
        "transforms/cabling.py",
        "class Cabling(InfrahubTransform):\n    query = QUERY\n",
    );
    write(
        "objects/groups.yml",
        &infragen_tests::standard_group_file("devices"),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.db");
    let (code, stdout, stderr) = infragen(&[
        "sync",
        "--store",
        store.to_str().expect("utf-8 path"),
        "--repository",
        repo.path().to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.ends_with(
            "generator definitions: none; stored queries: startup_config; transforms: startup; \
             artifact definitions: startup-file\n"
        ),
        "{stdout}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("not imported"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].ends_with(
            ".infrahub.yml: not imported: \
             menus: menus/menu.yml (menus/menu.yml: No such file or directory (os error 2)); \
             python_transforms: cabling (no `query = \"…\"` in class Cabling of transforms/cabling.py); \
             python_transforms: inventory (transforms/inventory.py: No such file or directory (os error 2)); \
             artifact_definitions: cabling-file (its transform `cabling` is not recorded); \
             artifact_definitions: orphan-file (no group `nowhere`); \
             check_definitions: naming (checks/naming.py: No such file or directory (os error 2))"
        ),
        "{stderr}"
    );
}
