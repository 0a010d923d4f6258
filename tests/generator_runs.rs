//! Generator runs end to end on the embedded store, with the small widgets
//! generator (tests/guests/widgets) and its fixture repository: what a run
//! creates, that re-running changes nothing, that shrinking deletes exactly
//! the surplus (down to zero), that targets never touch each other's output,
//! that a failed run (an error, a trap, its deadline) writes nothing and gives its pool
//! allocations back, and that the write policy holds against the hostile generator
//! (tests/guests/hostile, the fixture's `hostile` definition).

use infragen::http_api as http;
use infragen::runner::TargetOutcome;
use infragen_tests::{Relay, RelayHooks, WidgetRepository, graphql, store_contents};
use serde_json::{Value, json};

fn w(name: &str, position: i64, set: &str) -> (String, i64, String) {
    (name.to_owned(), position, set.to_owned())
}

fn outcome(report: &infragen::runner::DefinitionReport) -> &TargetOutcome {
    assert_eq!(report.targets.len(), 1, "{report}");
    &report.targets[0].outcome
}

fn failure(report: &infragen::runner::DefinitionReport) -> String {
    match outcome(report) {
        TargetOutcome::Failed { message, .. } => message.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

async fn group_members(repo: &WidgetRepository, kind: &str, name: &str) -> Vec<String> {
    let data = graphql(
        &repo.store,
        "main",
        &format!("{{ {kind}(name__value: \"{name}\") {{ edges {{ node {{ members {{ edges {{ node {{ display_label }} }} }} }} }} }} }}"),
    )
    .await;
    let mut members: Vec<String> = data[kind]["edges"][0]["node"]["members"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter_map(|e| e["node"]["display_label"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    members.sort();
    members
}

/// Infrahub's tracking group name for `{"set": "alpha"}`:
/// md5('{"set":"alpha"}').
const ALPHA_GROUP: &str = "widgets-657fb77ffe8f5afa42f907bcdf01d863";
/// The same for set beta.
const BETA_GROUP: &str = "widgets-65719704f6c740d25ff8eb0704e42b01";

#[tokio::test]
async fn a_run_creates_exactly_the_expected_objects_and_records_its_group() {
    let repo = WidgetRepository::new().await;

    let report = repo.run("widgets", json!({ "set": "alpha" })).await;

    let TargetOutcome::Succeeded {
        written,
        new,
        kept,
        deleted,
        stamps_changed,
        ..
    } = outcome(&report)
    else {
        panic!("run failed: {report}");
    };
    assert_eq!(
        (*written, *new, *kept, *deleted, *stamps_changed),
        (3, 3, 0, 0, 1)
    );
    assert_eq!(
        repo.widgets().await,
        vec![
            w("alpha-1", 1, "alpha"),
            w("alpha-2", 2, "alpha"),
            w("alpha-3", 3, "alpha")
        ]
    );
    assert_eq!(
        group_members(&repo, "CoreGeneratorGroup", ALPHA_GROUP).await,
        ["alpha-1", "alpha-2", "alpha-3"]
    );
    let data = graphql(
        &repo.store,
        "main",
        "{ CoreGeneratorInstance { edges { node { name { value } status { value } } } } \
           CoreGeneratorDefinition { edges { node { name { value } targets { node { display_label } } } } } }",
    )
    .await;
    assert_eq!(
        data["CoreGeneratorInstance"]["edges"][0]["node"]["name"]["value"],
        "widgets: alpha"
    );
    assert_eq!(
        data["CoreGeneratorInstance"]["edges"][0]["node"]["status"]["value"],
        "Ready"
    );
    assert_eq!(
        data["CoreGeneratorDefinition"]["edges"][0]["node"]["targets"]["node"]["display_label"],
        "widget-sets"
    );
}

#[tokio::test]
async fn rerunning_changes_nothing_and_only_the_instance_status_emits_events() {
    let repo = WidgetRepository::new().await;
    repo.run("widgets", json!({ "set": "alpha" })).await;
    let before = repo.store.last_event_seq().expect("seq");

    let report = repo.run("widgets", json!({ "set": "alpha" })).await;

    let TargetOutcome::Succeeded {
        written,
        new,
        kept,
        deleted,
        stamps_changed,
        ..
    } = outcome(&report)
    else {
        panic!("rerun failed: {report}");
    };
    assert_eq!(
        (*written, *new, *kept, *deleted, *stamps_changed),
        (3, 0, 3, 0, 0)
    );
    let kinds: Vec<String> = repo
        .store
        .events_since(before)
        .expect("events")
        .into_iter()
        .map(|event| event.kind)
        .collect();
    assert!(
        kinds.iter().all(|kind| kind == "CoreGeneratorInstance"),
        "only the instance's Processing/Ready status may change, got events for {kinds:?}"
    );
}

#[tokio::test]
async fn shrinking_the_design_deletes_exactly_the_surplus_down_to_zero() {
    let repo = WidgetRepository::new().await;
    repo.run("widgets", json!({})).await;
    assert_eq!(repo.widgets().await.len(), 5);

    repo.set("alpha", "size: {value: 1}").await;
    let report = repo.run("widgets", json!({ "set": "alpha" })).await;
    let TargetOutcome::Succeeded { deleted, .. } = outcome(&report) else {
        panic!("{report}")
    };
    assert_eq!(*deleted, 2);
    assert_eq!(
        repo.widgets().await,
        vec![
            w("alpha-1", 1, "alpha"),
            w("beta-1", 1, "beta"),
            w("beta-2", 2, "beta")
        ]
    );

    repo.set("alpha", "size: {value: 0}").await;
    let report = repo.run("widgets", json!({ "set": "alpha" })).await;
    let TargetOutcome::Succeeded {
        written, deleted, ..
    } = outcome(&report)
    else {
        panic!("{report}")
    };
    assert_eq!(
        (*written, *deleted),
        (0, 1),
        "a run that writes nothing still deletes its previous output"
    );
    assert_eq!(
        repo.widgets().await,
        vec![w("beta-1", 1, "beta"), w("beta-2", 2, "beta")]
    );
    assert!(
        group_members(&repo, "CoreGeneratorGroup", ALPHA_GROUP)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn two_targets_with_equal_parameters_get_separate_groups_and_never_touch_each_other() {
    let repo = WidgetRepository::new().await;
    // No parameters: Infrahub would give both targets the group
    // `widgets-unparameterized` and each run would delete the other's output.
    let report = repo.run("widgets-unparameterized", json!({})).await;
    assert_eq!(report.failed(), 0, "{report}");
    let beta_id = repo.set_id("beta").await;
    assert_eq!(
        group_members(&repo, "CoreGeneratorAwareGroup", "widgets-unparameterized").await,
        ["alpha-1", "alpha-2", "alpha-3"]
    );
    assert_eq!(
        group_members(
            &repo,
            "CoreGeneratorAwareGroup",
            &format!("widgets-unparameterized-{beta_id}")
        )
        .await,
        ["beta-1", "beta-2"]
    );

    repo.set("alpha", "size: {value: 0}").await;
    let report = repo.run("widgets-unparameterized", json!({})).await;
    assert_eq!(report.failed(), 0, "{report}");
    assert_eq!(
        repo.widgets().await,
        vec![w("beta-1", 1, "beta"), w("beta-2", 2, "beta")]
    );
}

/// The run's own bookkeeping: its instance's status changes whether it succeeds or not.
const BOOKKEEPING: &[&str] = &["CoreGeneratorInstance"];

/// Runs `widgets` on alpha in `mode`, which must fail with a message containing
/// `expected`, and checks that the store is exactly as before the run but for the
/// instance's status, now `Error`.
async fn fails_leaving_the_store_as_it_was(repo: &WidgetRepository, mode: &str, expected: &str) {
    repo.set(
        "alpha",
        &format!("size: {{value: 6}}, mode: {{value: \"{mode}\"}}"),
    )
    .await;
    let before = store_contents(&repo.store, "main", BOOKKEEPING);
    let report = repo.run("widgets", json!({ "set": "alpha" })).await;
    let message = failure(&report);
    assert!(
        message.starts_with("generator `widgets` failed on target `alpha` (")
            && message.contains(expected),
        "{message}"
    );
    assert_eq!(
        store_contents(&repo.store, "main", BOOKKEEPING),
        before,
        "a failed run writes nothing"
    );
    let data = graphql(&repo.store, "main", "{ CoreGeneratorInstance(name__value: \"widgets: alpha\") { edges { node { status { value } } } } }").await;
    assert_eq!(
        data["CoreGeneratorInstance"]["edges"][0]["node"]["status"]["value"],
        "Error"
    );
}

#[tokio::test]
async fn a_run_failing_halfway_writes_nothing_and_a_rerun_completes_it() {
    let repo = WidgetRepository::new().await;
    repo.set("alpha", "size: {value: 2}").await;
    repo.run("widgets", json!({ "set": "alpha" })).await;

    fails_leaving_the_store_as_it_was(
        &repo,
        "fail-halfway",
        "): generator: failing halfway on purpose after 3 of 6 widgets",
    )
    .await;
    let names = repo.widget_names().await;
    assert_eq!(names, ["alpha-1", "alpha-2"]);
    assert_eq!(
        group_members(&repo, "CoreGeneratorGroup", ALPHA_GROUP).await,
        ["alpha-1", "alpha-2"],
        "a failed run leaves the group as it was"
    );

    repo.set("alpha", "mode: {value: \"normal\"}").await;
    let report = repo.run("widgets", json!({ "set": "alpha" })).await;
    assert_eq!(report.failed(), 0, "{report}");
    let names = repo.widget_names().await;
    assert_eq!(
        names,
        [
            "alpha-1", "alpha-2", "alpha-3", "alpha-4", "alpha-5", "alpha-6"
        ]
    );
}

#[tokio::test]
async fn a_run_that_traps_halfway_writes_nothing() {
    let repo = WidgetRepository::new().await;
    repo.set("alpha", "size: {value: 2}").await;
    repo.run("widgets", json!({ "set": "alpha" })).await;
    fails_leaving_the_store_as_it_was(
        &repo,
        "trap-halfway",
        "trapping halfway on purpose after 3 of 6 widgets",
    )
    .await;
}

#[tokio::test]
async fn a_run_stopped_by_its_deadline_halfway_writes_nothing() {
    let repo = WidgetRepository::new().await;
    repo.set("alpha", "size: {value: 2}").await;
    repo.run("widgets", json!({ "set": "alpha" })).await;
    fails_leaving_the_store_as_it_was(
        &repo,
        "stall-halfway",
        "the run exceeded its deadline of 3s and was stopped",
    )
    .await;
}

/// `definition` on set `set` only.
async fn run_on(
    repo: &WidgetRepository,
    definition: &str,
    set: &str,
) -> infragen::runner::DefinitionReport {
    repo.run(definition, json!({ "set": set })).await
}

/// The hostile generator writes on set alpha, then stalls holding the store's write turn
/// without using it; the turn passes to the widgets run on beta once it has waited a
/// quarter of a second, and the stalled run, stopped by its deadline, writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_run_does_not_hold_up_another_generators_run() {
    let repo = WidgetRepository::new().await;
    for set in ["alpha", "beta"] {
        run_on(&repo, "widgets", set).await;
    }
    // The hostile definition's records, written by a first run (failing: its attack
    // `normal` is unknown).
    run_on(&repo, "hostile", "alpha").await;
    repo.set("alpha", "mode: {value: \"write-then-stall\"}")
        .await;
    let before = store_contents(&repo.store, "main", &["CoreGeneratorInstance"]);
    let alpha_done = std::sync::atomic::AtomicBool::new(false);
    let alpha = async {
        let report = run_on(&repo, "hostile", "alpha").await;
        alpha_done.store(true, std::sync::atomic::Ordering::SeqCst);
        report
    };
    let beta = async {
        // alpha's run starts right after its instance turns `Processing`.
        while repo.instance_status("hostile: alpha").await.as_deref() != Some("Processing")
            && !alpha_done.load(std::sync::atomic::Ordering::SeqCst)
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let report = run_on(&repo, "widgets", "beta").await;
        let alpha_still_stalled = !alpha_done.load(std::sync::atomic::Ordering::SeqCst);
        (report, alpha_still_stalled)
    };
    let (alpha, (beta, alpha_still_stalled)) = tokio::join!(alpha, beta);

    assert!(
        matches!(
            outcome(&beta),
            TargetOutcome::Succeeded {
                written: 2,
                new: 0,
                kept: 2,
                deleted: 0,
                ..
            }
        ),
        "{beta}"
    );
    assert!(
        alpha_still_stalled,
        "beta's run waited for alpha's to end ({alpha})"
    );
    assert!(
        failure(&alpha).ends_with("the run exceeded its deadline of 3s and was stopped"),
        "{alpha}"
    );
    assert_eq!(
        store_contents(&repo.store, "main", &["CoreGeneratorInstance"]),
        before
    );
    assert_eq!(
        repo.widgets().await,
        vec![
            w("alpha-1", 1, "alpha"),
            w("alpha-2", 2, "alpha"),
            w("alpha-3", 3, "alpha"),
            w("beta-1", 1, "beta"),
            w("beta-2", 2, "beta"),
        ]
    );
}

/// A query of a few hundred bytes following set → widgets → set → widgets (1,697 nodes)
/// stops at the run's node budget (its response cap, 32 KiB for the hostile definition,
/// over 32 bytes a node: 1,024) with `limit-exceeded`, and the widgets run
/// beside it writes exactly its output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_following_a_relationship_cycle_stops_at_its_budget() {
    let repo = WidgetRepository::new().await;
    repo.set("beta", "size: {value: 40}").await;
    for set in ["alpha", "beta"] {
        run_on(&repo, "widgets", set).await;
    }
    run_on(&repo, "hostile", "alpha").await;
    repo.set(
        "alpha",
        "mode: {value: \"query-cycle\"}, victim: {value: \"4\"}",
    )
    .await;
    let before = store_contents(&repo.store, "main", &["CoreGeneratorInstance"]);

    let (hostile, benign) = tokio::join!(
        run_on(&repo, "hostile", "alpha"),
        run_on(&repo, "widgets", "beta")
    );

    assert!(
        failure(&hostile).ends_with(
            "limit-exceeded: the query resolved more than 1024 nodes, its budget; ask for fewer \
             nodes or fewer levels of relationships"
        ),
        "{hostile}"
    );
    assert!(
        matches!(
            outcome(&benign),
            TargetOutcome::Succeeded {
                written: 40,
                new: 0,
                kept: 40,
                deleted: 0,
                ..
            }
        ),
        "{benign}"
    );
    assert_eq!(
        store_contents(&repo.store, "main", &["CoreGeneratorInstance"]),
        before
    );
}

#[tokio::test]
async fn a_failed_run_gives_its_pool_allocation_back() {
    let repo = WidgetRepository::new().await;
    repo.prefix_pool("widget-pool", "10.9.0.0/30").await;
    repo.set(
        "alpha",
        "size: {value: 2}, victim: {value: \"widget-pool\"}",
    )
    .await;
    repo.run("widgets", json!({ "set": "alpha" })).await;
    fails_leaving_the_store_as_it_was(
        &repo,
        "allocate-then-fail",
        "): generator: failing halfway on purpose after 3 of 6 widgets",
    )
    .await;

    // The pool holds two /31s; both are free again.
    let mut allocated = Vec::new();
    for identifier in ["first", "second", "third"] {
        let result = repo.store.allocate(
            "main",
            infragen_store::PoolKind::Prefix,
            &json!({ "hfid": ["widget-pool"], "identifier": identifier }),
        );
        allocated.push(result.map(|a| a.value).map_err(|e| e.code()));
    }
    assert_eq!(
        allocated,
        [
            Ok("10.9.0.0/31".to_owned()),
            Ok("10.9.0.2/31".to_owned()),
            Err(infragen_store::ErrorCode::PoolExhausted)
        ]
    );
}

#[tokio::test]
async fn writing_a_core_kind_is_refused_with_a_permission_error() {
    let repo = WidgetRepository::new().await;
    repo.set("alpha", "mode: {value: \"write-core\"}").await;
    let message = failure(&repo.run("hostile", json!({ "set": "alpha" })).await);
    assert!(
        message.ends_with(
            "permission-denied: generator `hostile` may not write CoreStandardGroup: kind CoreStandardGroup \
             is in Infrahub's Core namespace, which generators may not write"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn deleting_a_node_the_generator_does_not_own_is_refused() {
    let repo = WidgetRepository::new().await;
    repo.run("widgets", json!({ "set": "beta" })).await;
    let victim = repo.id_of("TestWidget", "beta-1").await;
    repo.set(
        "alpha",
        &format!("mode: {{value: \"delete-foreign\"}}, victim: {{value: \"{victim}\"}}"),
    )
    .await;

    let message = failure(&repo.run("hostile", json!({ "set": "alpha" })).await);

    assert!(
        message.ends_with(&format!(
            "permission-denied: generator `hostile` may not delete TestWidget {victim}: it is not in the \
             tracking group of this generator for target `alpha`, and this run did not write it"
        )),
        "{message}"
    );
    assert_eq!(repo.widgets().await.len(), 2, "beta's widgets are intact");
}

#[tokio::test]
async fn a_mutation_sent_through_query_is_refused() {
    let repo = WidgetRepository::new().await;
    repo.set("alpha", "mode: {value: \"query-mutation\"}").await;
    let message = failure(&repo.run("hostile", json!({ "set": "alpha" })).await);
    assert!(
        message.ends_with(
            "permission-denied: graphql.query is read-only but the document contains the mutation; \
             write through nodes.upsert, nodes.update or nodes.delete so the write is tracked"
        ),
        "{message}"
    );
    assert!(repo.widgets().await.is_empty());
}

#[tokio::test]
async fn selecting_a_target_nobody_has_is_an_error_naming_the_group() {
    let repo = WidgetRepository::new().await;
    let selection = infragen::runner::TargetSelection::Matching(
        json!({ "set": "gamma" })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let error = repo
        .runner
        .run_definition("widgets", "main", &selection, 1)
        .await
        .err()
        .map(|error| error.to_string());
    assert_eq!(
        error.as_deref(),
        Some("no member of group `widget-sets` has set=gamma")
    );
}

/// The same design generated through `infragen serve`'s HTTP API and
/// in-process ends up with the same store contents.
/// A runner for `repo`'s repository that reaches its store over HTTP, through
/// `infragen serve`'s router on loopback; the server stops with the returned handle.
async fn over_http(
    repo: &WidgetRepository,
) -> (
    infragen::runner::Runner,
    tokio::task::JoinHandle<Result<(), infragen::http_api::HttpError>>,
) {
    over_http_with(repo, infragen::http_api::Limits::default()).await
}

/// [`over_http`] to a server with `limits`.
async fn over_http_with(
    repo: &WidgetRepository,
    limits: infragen::http_api::Limits,
) -> (
    infragen::runner::Runner,
    tokio::task::JoinHandle<Result<(), infragen::http_api::HttpError>>,
) {
    let (backend, server) = infragen_tests::served_over_http_with(&repo.store, limits).await;
    let runner = infragen::runner::Runner::new(
        std::sync::Arc::new(
            infragen::repository::Repository::open(repo.dir.path()).expect("repository"),
        ),
        infragen_tests::runtime(None),
        backend,
        infragen::policy::RuntimePolicy::load(repo.dir.path()).expect("policy"),
    );
    (runner, server)
}

#[tokio::test]
async fn the_http_transport_produces_the_same_store_contents_as_in_process() {
    let in_process = WidgetRepository::new().await;
    in_process.run("widgets", json!({})).await;

    let served = WidgetRepository::new().await;
    let (runner, server) = over_http(&served).await;
    let report = runner
        .run_definition(
            "widgets",
            "main",
            &infragen::runner::TargetSelection::All,
            2,
        )
        .await
        .expect("runs over HTTP");
    server.abort();

    assert_eq!(report.failed(), 0, "{report}");
    assert_eq!(served.widgets().await, in_process.widgets().await);
    assert_eq!(
        group_members(&served, "CoreGeneratorGroup", ALPHA_GROUP).await,
        group_members(&in_process, "CoreGeneratorGroup", ALPHA_GROUP).await
    );
}

/// Over HTTP a write cannot be undone, so the host finds the node an upsert would land on
/// before sending it — by its id, or by its natural key — and refuses a node the run does
/// not own.
#[tokio::test]
async fn over_http_an_upsert_landing_on_another_targets_node_by_its_natural_key_is_refused() {
    // Checked by what the write did, inside the run's transaction, as in process.
    overwrite_by_name_over_http(http::Limits::default(), |beta_1| {
        format!(
            "permission-denied: generator `hostile` may not change TestWidget.position of \
             TestWidget {beta_1} (beta-1): it belongs to tracking group `{BETA_GROUP}`; a \
             generator changes what it created, and other nodes only where an operator grants \
             it (update = [\"TestWidget.position\"] in [generators.hostile.writes])"
        )
    })
    .await;
}

/// Without run transactions (Infrahub), the node an upsert would land on is looked up
/// before it is sent, and the write is refused unsent.
#[tokio::test]
async fn without_run_transactions_an_upsert_landing_on_another_targets_node_is_refused_unsent() {
    overwrite_by_name_over_http(without_transactions(), |beta_1| {
        format!(
            "permission-denied: generator `hostile` may not write TestWidget {beta_1}: it is not \
             the output of this generator for target `alpha`"
        )
    })
    .await;
}

/// The hostile generator on alpha overwrites beta-1 by its name, through a server with
/// `limits`; the run fails with the refusal `expected(beta-1's id)` and the store is as it
/// was.
async fn overwrite_by_name_over_http(limits: http::Limits, expected: impl Fn(&str) -> String) {
    let repo = WidgetRepository::new().await;
    let (runner, server) = over_http_with(&repo, limits).await;
    let all = infragen::runner::TargetSelection::All;
    let report = runner
        .run_definition("widgets", "main", &all, 2)
        .await
        .expect("runs");
    assert_eq!(report.failed(), 0, "{report}");
    let beta_1 = repo.id_of("TestWidget", "beta-1").await;
    // The hostile definition's records, written by a first run (failing: its attack
    // `normal` is unknown).
    run_alpha(&runner, "hostile").await;
    repo.set(
        "alpha",
        "mode: {value: \"overwrite-by-name\"}, victim: {value: \"beta-1\"}",
    )
    .await;
    let before = store_contents(&repo.store, "main", &["CoreGeneratorInstance"]);

    let report = run_alpha(&runner, "hostile").await;
    server.abort();

    let message = failure(&report);
    assert!(message.ends_with(&expected(&beta_1)), "{message}");
    assert_eq!(
        store_contents(&repo.store, "main", &["CoreGeneratorInstance"]),
        before
    );
}

/// Over HTTP to a server without run transactions (Infrahub), writes commit one by one:
/// what a failed run wrote stays, in its tracking group, and the next successful run
/// reconciles it.
#[tokio::test]
async fn without_run_transactions_a_failed_runs_writes_join_its_group_and_the_next_run_reconciles_them()
 {
    let repo = WidgetRepository::new().await;
    let (runner, server) = over_http_with(&repo, without_transactions()).await;
    repo.set("alpha", "size: {value: 2}").await;
    let report = run_alpha(&runner, "widgets").await;
    assert_eq!(report.failed(), 0, "{report}");

    repo.set("alpha", "size: {value: 6}, mode: {value: \"fail-halfway\"}")
        .await;
    let report = run_alpha(&runner, "widgets").await;
    assert_eq!(report.failed(), 1, "{report}");
    assert_eq!(
        group_members(&repo, "CoreGeneratorGroup", ALPHA_GROUP).await,
        ["alpha-1", "alpha-2", "alpha-3"],
        "the failed run's writes joined the group, nothing was deleted"
    );

    repo.set("alpha", "size: {value: 2}, mode: {value: \"normal\"}")
        .await;
    let report = run_alpha(&runner, "widgets").await;
    server.abort();
    assert_eq!(report.failed(), 0, "{report}");
    assert_eq!(
        repo.widgets().await,
        [w("alpha-1", 1, "alpha"), w("alpha-2", 2, "alpha")]
    );
    assert_eq!(
        group_members(&repo, "CoreGeneratorGroup", ALPHA_GROUP).await,
        ["alpha-1", "alpha-2"]
    );
}

/// `definition` on set alpha alone (`set=alpha`), through `runner`.
async fn run_alpha(
    runner: &infragen::runner::Runner,
    definition: &str,
) -> infragen::runner::DefinitionReport {
    let alpha = infragen::runner::TargetSelection::Matching(
        json!({ "set": "alpha" })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    runner
        .run_definition(definition, "main", &alpha, 1)
        .await
        .expect("runs")
}

/// A server that answers the opening of a run transaction as Infrahub does (404).
fn without_transactions() -> infragen::http_api::Limits {
    infragen::http_api::Limits {
        transactions: infragen::http_api::TransactionLimits {
            open: 0,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Over HTTP to `infragen serve`, a run is one run transaction: a run that fails half-way
/// leaves the whole store as it was, its tracking group included, and the next run starts
/// from the last good output.
#[tokio::test]
async fn over_http_a_failed_run_writes_nothing_and_the_next_run_starts_from_the_last_output() {
    let repo = WidgetRepository::new().await;
    let (runner, server) = over_http(&repo).await;
    repo.set("alpha", "size: {value: 2}").await;
    let report = run_alpha(&runner, "widgets").await;
    assert_eq!(report.failed(), 0, "{report}");
    repo.set("alpha", "size: {value: 6}, mode: {value: \"fail-halfway\"}")
        .await;
    // The instance's status is the host's own record of the run, written outside it.
    let before = store_contents(&repo.store, "main", &["CoreGeneratorInstance"]);

    let report = run_alpha(&runner, "widgets").await;

    assert_eq!(report.failed(), 1, "{report}");
    assert_eq!(
        store_contents(&repo.store, "main", &["CoreGeneratorInstance"]),
        before,
        "nothing of the failed run is written"
    );
    assert_eq!(
        group_members(&repo, "CoreGeneratorGroup", ALPHA_GROUP).await,
        ["alpha-1", "alpha-2"]
    );

    repo.set("alpha", "size: {value: 3}, mode: {value: \"normal\"}")
        .await;
    let report = run_alpha(&runner, "widgets").await;
    server.abort();
    assert_eq!(report.failed(), 0, "{report}");
    assert_eq!(
        repo.widgets().await,
        [
            w("alpha-1", 1, "alpha"),
            w("alpha-2", 2, "alpha"),
            w("alpha-3", 3, "alpha")
        ]
    );
    assert_eq!(
        group_members(&repo, "CoreGeneratorGroup", ALPHA_GROUP).await,
        ["alpha-1", "alpha-2", "alpha-3"]
    );
}

/// A deleted target's generator can never run again; a full run of the
/// definition removes what it made (Infrahub leaves it forever, #3289).
#[tokio::test]
async fn a_full_run_removes_the_output_of_a_deleted_target() {
    let repo = WidgetRepository::new().await;
    repo.run("widgets", json!({})).await;
    let beta = repo.set_id("beta").await;
    graphql(
        &repo.store,
        "main",
        &format!("mutation {{ TestWidgetSetDelete(data: {{id: \"{beta}\"}}) {{ ok }} }}"),
    )
    .await;

    let report = repo.run("widgets", json!({})).await;

    assert_eq!(report.failed(), 0, "{report}");
    assert_eq!(report.targets.len(), 1, "only alpha is left to run");
    assert_eq!(report.reaped.len(), 1, "{report}");
    assert_eq!(report.reaped[0].instance, "widgets: beta");
    assert_eq!(report.reaped[0].deleted, 2);
    let names = repo.widget_names().await;
    assert_eq!(names, ["alpha-1", "alpha-2", "alpha-3"]);
    let data = graphql(
        &repo.store,
        "main",
        "{ CoreGeneratorInstance { edges { node { name { value } } } } }",
    )
    .await;
    assert_eq!(
        data["CoreGeneratorInstance"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// Records, right after each run's commit, the committed status of instance `watched`,
/// read from the store with no run open.
struct StatusAfterCommits {
    store: infragen_store::Store,
    watched: &'static str,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>,
}

#[async_trait::async_trait]
impl RelayHooks for StatusAfterCommits {
    async fn committed(&self) {
        let data = graphql(
            &self.store,
            "main",
            &format!(
                "{{ CoreGeneratorInstance(name__value: \"{}\") {{ edges {{ node {{ status {{ value }} }} }} }} }}",
                self.watched
            ),
        )
        .await;
        let status = data["CoreGeneratorInstance"]["edges"][0]["node"]["status"]["value"]
            .as_str()
            .map(str::to_owned);
        self.seen.lock().expect("not poisoned").push(status);
    }
}

/// A run's output and its instance's `Ready` are one commit: the moment the output is
/// committed the instance is `Ready`, never still `Processing` over it (a process stopped
/// there would leave a finished run to be run again).
#[tokio::test]
async fn a_run_commits_its_output_and_its_instance_ready_together() {
    let repo = WidgetRepository::new().await;
    let after_commits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let watch = Relay::new(
        std::sync::Arc::new(infragen::embedded::EmbeddedBackend::new(repo.store.clone())),
        StatusAfterCommits {
            store: repo.store.clone(),
            watched: "widgets: alpha",
            seen: after_commits.clone(),
        },
    );
    let repo = WidgetRepository {
        runner: infragen::runner::Runner::new(
            std::sync::Arc::new(
                infragen::repository::Repository::open(repo.dir.path()).expect("repository opens"),
            ),
            infragen_tests::runtime(None),
            std::sync::Arc::new(watch),
            infragen::policy::RuntimePolicy::load(repo.dir.path()).expect("policy loads"),
        ),
        dir: repo.dir,
        store: repo.store,
    };

    let report = repo.run("widgets", json!({ "set": "alpha" })).await;
    assert!(
        matches!(outcome(&report), TargetOutcome::Succeeded { new: 3, .. }),
        "{report}"
    );
    assert_eq!(
        *after_commits.lock().expect("not poisoned"),
        [Some("Ready".to_owned())],
        "the instance's status right after the run's commit"
    );
    assert_eq!(repo.widgets().await.len(), 3);
}

/// A document nested ~10,000 selection sets deep (3,000 relationships of the cycle above,
/// each three or four sets) is refused as a document that does not parse, by the
/// parser's own recursion limit: the run fails with that error, the process goes on and
/// nothing of the store changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_nested_too_deep_to_parse_is_refused_and_changes_nothing() {
    let repo = WidgetRepository::new().await;
    run_on(&repo, "hostile", "alpha").await;
    repo.set(
        "alpha",
        "mode: {value: \"query-cycle\"}, victim: {value: \"3000\"}",
    )
    .await;
    let before = store_contents(&repo.store, "main", &["CoreGeneratorInstance"]);

    let hostile = run_on(&repo, "hostile", "alpha").await;

    assert!(
        failure(&hostile)
            .ends_with("invalid-input: the query does not parse: recursion limit exceeded."),
        "{hostile}"
    );
    assert_eq!(
        store_contents(&repo.store, "main", &["CoreGeneratorInstance"]),
        before
    );
}

/// A target's first run writes its instance once before the run — created `Processing`, as
/// Infrahub's one write before its run creates it — and `Ready` in the run's own commit:
/// two events, no `Pending` in between.
#[tokio::test]
async fn a_first_run_creates_its_instance_processing_then_makes_it_ready() {
    let repo = WidgetRepository::new().await;
    let before = repo.store.last_event_seq().expect("seq");
    repo.run("widgets", json!({ "set": "alpha" })).await;
    let statuses: Vec<(String, Value, Value)> = repo
        .store
        .events_since(before)
        .expect("events")
        .into_iter()
        .filter(|event| event.kind == "CoreGeneratorInstance")
        .map(|event| {
            let status = event
                .attributes
                .iter()
                .find(|change| change.name == "status")
                .map(|change| (change.value_previous.clone(), change.value.clone()))
                .unwrap_or_default();
            (event.name, status.0, status.1)
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (
                "infrahub.node.created".to_owned(),
                Value::Null,
                json!("Processing")
            ),
            (
                "infrahub.node.updated".to_owned(),
                json!("Processing"),
                json!("Ready")
            ),
        ]
    );
}
