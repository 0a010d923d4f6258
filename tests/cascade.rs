//! The cascade on the widgets repository: rule matching and branch scope,
//! membership errors, retries of transient failures, the loop cap, and
//! `infragen serve` running a generator when a write through its API matches
//! a rule. (The AI/DC cascade itself is specified in `aidc.rs`.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use infragen::backend::{Backend, BackendError, ErrorKind};
use infragen::cascade::{
    Cascade, CascadeConfig, CascadeError, CascadeLimits, CascadeReport, Cause, EventFeed,
    RetryPolicy, RuleProblem, Start,
};
use infragen::runner::{Runner, TargetOutcome, TargetSelection};
use infragen_tests::{
    KillOnDrop, Relay, RelayHooks, WidgetRepository, graphql, infragen_bin, runtime,
};
use serde_json::{Value, json};

/// One trigger rule with one attribute match, all running `generator`.
struct Rule<'a> {
    name: &'a str,
    scope: &'a str,
    attribute: &'a str,
    value_match: &'a str,
    value: Option<&'a str>,
    generator: &'a str,
}

/// An object file with one generator action per generator and the rules.
/// A fresh embedded store in a directory of its own (dropped with it), and the in-process
/// backend over it: what a sync test imports into.
fn fresh_store() -> (
    tempfile::TempDir,
    infragen_store::Store,
    infragen::embedded::EmbeddedBackend,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = infragen_store::Store::open(dir.path().join("store.db")).expect("store");
    let backend = infragen::embedded::EmbeddedBackend::new(store.clone());
    (dir, store, backend)
}

fn rules_file(rules: &[Rule<'_>]) -> String {
    let mut generators: Vec<&str> = rules.iter().map(|rule| rule.generator).collect();
    generators.dedup();
    let mut text = String::from(
        "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: CoreGeneratorAction\n  data:\n",
    );
    for generator in &generators {
        text.push_str(&format!(
            "    - name: run-{generator}\n      generator: {generator}\n"
        ));
    }
    text.push_str(
        "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: CoreNodeTriggerRule\n  data:\n",
    );
    for rule in rules {
        text.push_str(&format!(
            "    - name: {}\n      branch_scope: {}\n      node_kind: TestWidgetSet\n      mutation_action: updated\n      action: run-{}\n      matches:\n        kind: CoreNodeTriggerAttributeMatch\n        data:\n          - attribute_name: {}\n            value_match: {}\n",
            rule.name, rule.scope, rule.generator, rule.attribute, rule.value_match
        ));
        if let Some(value) = rule.value {
            text.push_str(&format!("            value: \"{value}\"\n"));
        }
    }
    text
}

/// The widgets repository with its definitions recorded and `rules` loaded.
async fn with_rules(rules: &[Rule<'_>]) -> WidgetRepository {
    let repo = WidgetRepository::new().await;
    for definition in ["widgets", "widgets-unparameterized"] {
        repo.runner
            .prepare(definition, "main")
            .await
            .expect("the definition is recorded");
    }
    repo.store
        .load_objects("main", &[("rules.yml".to_owned(), rules_file(rules))])
        .expect("the rules load");
    repo
}

/// A cascade starting with `widgets set=alpha`.
fn widgets_on_alpha() -> Start {
    Start::Definition {
        name: "widgets".into(),
        selection: TargetSelection::Matching(
            json!({ "set": "alpha" })
                .as_object()
                .expect("object")
                .clone(),
        ),
    }
}

fn config() -> CascadeConfig {
    CascadeConfig {
        concurrency: 1,
        ..CascadeConfig::default()
    }
}

fn cascade_of(repo: &WidgetRepository, runner: Runner, config: CascadeConfig) -> Cascade {
    Cascade::new(runner, Arc::new(repo.store.clone()), config)
}

/// Writes `mutation` on `branch` and runs the cascade its events trigger.
async fn change(repo: &WidgetRepository, branch: &str, mutation: &str) -> CascadeReport {
    let seq = repo.store.last_event_seq().expect("seq");
    graphql(&repo.store, branch, mutation).await;
    let events = EventFeed::since(&repo.store, seq).expect("events");
    cascade_of(repo, repo.runner.clone(), config())
        .run(branch, Start::Events(events))
        .await
        .expect("the cascade runs")
}

/// (round, generator, target, succeeded, causes) per run.
fn runs(report: &CascadeReport) -> Vec<(usize, String, String, bool, Vec<Cause>)> {
    report
        .runs
        .iter()
        .map(|run| {
            (
                run.round,
                run.definition.clone(),
                run.report.target.display_label.clone(),
                !run.failed(),
                run.causes.clone(),
            )
        })
        .collect()
}

fn rule(name: &str) -> Cause {
    Cause::Rule { rule: name.into() }
}

fn size_rule<'a>(scope: &'a str) -> Rule<'a> {
    Rule {
        name: "size-changed",
        scope,
        attribute: "size",
        value_match: "any",
        value: None,
        generator: "widgets",
    }
}

async fn widget_count(repo: &WidgetRepository, branch: &str, name: &str) -> i64 {
    graphql(
        &repo.store,
        branch,
        &format!("{{ TestWidget(name__value: \"{name}\") {{ count }} }}"),
    )
    .await["TestWidget"]["count"]
        .as_i64()
        .expect("count")
}

const ALPHA_SIZE: &str =
    "mutation { TestWidgetSetUpdate(data: {hfid: [\"alpha\"], size: {value: SIZE}}) { ok } }";

#[tokio::test]
async fn other_branches_rules_fire_everywhere_but_on_main() {
    let repo = with_rules(&[size_rule("other_branches")]).await;
    repo.store.create_branch("br1").expect("branch");

    let on_main = change(&repo, "main", &ALPHA_SIZE.replace("SIZE", "4")).await;
    assert!(on_main.runs.is_empty(), "{on_main}");
    assert_eq!(widget_count(&repo, "main", "alpha-4").await, 0);

    let on_b1 = change(&repo, "br1", &ALPHA_SIZE.replace("SIZE", "5")).await;
    assert_eq!(
        runs(&on_b1),
        vec![(
            1,
            "widgets".into(),
            "alpha".into(),
            true,
            vec![rule("size-changed")]
        )]
    );
    assert_eq!(widget_count(&repo, "br1", "alpha-5").await, 1);
    assert_eq!(widget_count(&repo, "main", "alpha-5").await, 0);
}

#[tokio::test]
async fn default_branch_rules_fire_only_on_main() {
    let repo = with_rules(&[size_rule("default_branch")]).await;
    repo.store.create_branch("br1").expect("branch");

    let on_b1 = change(&repo, "br1", &ALPHA_SIZE.replace("SIZE", "5")).await;
    assert!(on_b1.runs.is_empty(), "{on_b1}");

    let on_main = change(&repo, "main", &ALPHA_SIZE.replace("SIZE", "4")).await;
    assert_eq!(
        runs(&on_main),
        vec![(
            1,
            "widgets".into(),
            "alpha".into(),
            true,
            vec![rule("size-changed")]
        )]
    );
    assert_eq!(widget_count(&repo, "main", "alpha-4").await, 1);
}

#[tokio::test]
async fn value_globs_select_the_changes_that_fire() {
    let repo = with_rules(&[Rule {
        value: Some("1?"),
        value_match: "value",
        ..size_rule("all_branches")
    }])
    .await;
    let small = change(&repo, "main", &ALPHA_SIZE.replace("SIZE", "4")).await;
    assert!(small.runs.is_empty(), "{small}");
    let teen = change(&repo, "main", &ALPHA_SIZE.replace("SIZE", "12")).await;
    assert_eq!(runs(&teen).len(), 1, "{teen}");
    assert_eq!(widget_count(&repo, "main", "alpha-12").await, 1);
}

#[tokio::test]
async fn a_rule_firing_on_a_node_outside_the_target_group_is_an_error_and_runs_nothing() {
    let repo = with_rules(&[size_rule("all_branches")]).await;
    repo.set("gamma", "size: {value: 1}").await;
    let gamma = repo.set_id("gamma").await;

    let report = change(
        &repo,
        "main",
        "mutation { TestWidgetSetUpdate(data: {hfid: [\"gamma\"], size: {value: 2}}) { ok } }",
    )
    .await;
    assert!(report.runs.is_empty(), "{report}");
    assert_eq!(
        report.rule_errors,
        vec![RuleProblem {
            rule: "size-changed".into(),
            message: format!(
                "it fired on {gamma}, which is not a member of group `widget-sets`, the targets \
                 of generator `widgets`; nothing was run"
            ),
        }]
    );
    assert!(!report.is_success());
    assert_eq!(widget_count(&repo, "main", "gamma-1").await, 0);
}

/// A cascade of `widgets` over the set named `set` on `branch`, with `engine`.
async fn run_on_set(
    engine: &Cascade,
    branch: &str,
    set: &str,
) -> Result<CascadeReport, CascadeError> {
    engine
        .run(
            branch,
            Start::Definition {
                name: "widgets".into(),
                selection: TargetSelection::Matching(
                    json!({ "set": set }).as_object().expect("object").clone(),
                ),
            },
        )
        .await
}

/// A cascade over `set` on `branch` with `engine`: the names of the sets it ran on.
async fn cascade_on_set(engine: &Cascade, branch: &str, set: &str) -> Vec<String> {
    let report = run_on_set(engine, branch, set)
        .await
        .unwrap_or_else(|error| panic!("the cascade over set {set} on {branch} runs: {error}"));
    assert!(report.is_success(), "{report}");
    runs(&report)
        .into_iter()
        .map(|(_, _, target, _, _)| target)
        .collect()
}

/// Renames the widget set `from` to `to` on `branch`.
async fn rename_set(repo: &WidgetRepository, branch: &str, from: &str, to: &str) {
    graphql(
        &repo.store,
        branch,
        &format!(
            "mutation {{ TestWidgetSetUpdate(data: {{hfid: [\"{from}\"], name: {{value: \"{to}\"}}}}) {{ ok }} }}"
        ),
    )
    .await;
}

/// A widget repository, with branch `br1`, and an engine that ran its first cascade
/// there, over the set `alpha`: the start of the tests of one engine running cascade
/// after cascade (as `serve` does).
async fn engine_after_a_first_cascade() -> (WidgetRepository, Cascade) {
    let repo = with_rules(&[]).await;
    let engine = cascade_of(&repo, repo.runner.clone(), config());
    repo.store.create_branch("br1").expect("branch");
    assert_eq!(cascade_on_set(&engine, "br1", "alpha").await, ["alpha"]);
    (repo, engine)
}

/// One engine runs cascade after cascade (as `serve` does) and keeps the targets'
/// parameters between them: what it keeps must follow every change to the design,
/// including those no event records.
#[tokio::test]
async fn an_engine_running_cascade_after_cascade_sees_each_targets_parameters_as_they_are_now() {
    let (repo, engine) = engine_after_a_first_cascade().await;

    // Renamed on the branch: the parameter follows the event.
    rename_set(&repo, "br1", "alpha", "delta").await;
    assert_eq!(cascade_on_set(&engine, "br1", "delta").await, ["delta"]);
    assert_eq!(widget_count(&repo, "br1", "delta-1").await, 1);

    // Renamed on main: the branch sees it only where it has not renamed the set itself.
    rename_set(&repo, "main", "beta", "epsilon").await;
    assert_eq!(cascade_on_set(&engine, "br1", "epsilon").await, ["epsilon"]);

    // The branch renames `epsilon` (and the next cascade reads it as `zeta`, running
    // only `delta`, so nothing touches the set after)…
    rename_set(&repo, "br1", "epsilon", "zeta").await;
    assert_eq!(cascade_on_set(&engine, "br1", "delta").await, ["delta"]);
    // …then is deleted and made again, which no event records: it starts from main,
    // where the sets are `alpha` and `epsilon`.
    repo.store.delete_branch("br1").expect("delete");
    repo.store.create_branch("br1").expect("branch again");
    assert_eq!(cascade_on_set(&engine, "br1", "epsilon").await, ["epsilon"]);
    assert_eq!(widget_count(&repo, "br1", "epsilon-1").await, 1);
    assert_eq!(widget_count(&repo, "br1", "zeta-1").await, 0);
    let stale = run_on_set(&engine, "br1", "zeta")
        .await
        .expect_err("no set is called zeta on the new branch");
    assert_eq!(
        stale.to_string(),
        "no member of group `widget-sets` has set=zeta"
    );
}

/// The definition `widgets` as stored on `branch`: its id and class name.
async fn widgets_definition(repo: &WidgetRepository, branch: &str) -> (String, Value) {
    let node = graphql(
        &repo.store,
        branch,
        r#"{ CoreGeneratorDefinition(name__value: "widgets") { edges { node { id class_name { value } } } } }"#,
    )
    .await["CoreGeneratorDefinition"]["edges"][0]["node"]
        .clone();
    let id = node["id"].as_str().expect("the definition's id").to_owned();
    (id, node["class_name"]["value"].clone())
}

/// One engine runs cascade after cascade (as `serve` does): a definition edited on the
/// store between cascades is written back as the repository says by the next cascade,
/// and one nothing changed stays as it was recorded.
#[tokio::test]
async fn an_engine_running_cascade_after_cascade_records_each_definition_as_the_repository_says() {
    let (repo, engine) = engine_after_a_first_cascade().await;
    let (id, recorded) = widgets_definition(&repo, "br1").await;
    assert_eq!(recorded, json!("Generator"));
    // Nothing changed it: the next cascade runs as recorded.
    assert_eq!(cascade_on_set(&engine, "br1", "beta").await, ["beta"]);
    assert_eq!(
        widgets_definition(&repo, "br1").await,
        (id.clone(), recorded.clone())
    );

    graphql(
        &repo.store,
        "br1",
        &format!(
            r#"mutation {{ CoreGeneratorDefinitionUpdate(data: {{id: "{id}", class_name: {{value: "Edited"}}}}) {{ ok }} }}"#
        ),
    )
    .await;
    assert_eq!(
        widgets_definition(&repo, "br1").await,
        (id.clone(), json!("Edited"))
    );
    assert_eq!(cascade_on_set(&engine, "br1", "alpha").await, ["alpha"]);
    assert_eq!(
        widgets_definition(&repo, "br1").await,
        (id.clone(), recorded.clone())
    );

    // Its stored query edited (after a cascade that wrote nothing, the record settled):
    // written back as the repository's file says.
    assert_eq!(cascade_on_set(&engine, "br1", "beta").await, ["beta"]);
    let query_text = || async {
        graphql(
            &repo.store,
            "br1",
            r#"{ CoreGraphQLQuery(name__value: "widget_set") { edges { node { query { value } } } } }"#,
        )
        .await["CoreGraphQLQuery"]["edges"][0]["node"]["query"]["value"]
            .clone()
    };
    let file = std::fs::read_to_string(repo.dir.path().join("widget_set.gql")).expect("query file");
    assert_eq!(query_text().await, json!(file));
    graphql(
        &repo.store,
        "br1",
        r#"mutation { CoreGraphQLQueryUpsert(data: {name: {value: "widget_set"}, query: {value: "query { Edited }"}}) { ok } }"#,
    )
    .await;
    assert_eq!(query_text().await, json!("query { Edited }"));
    assert_eq!(cascade_on_set(&engine, "br1", "beta").await, ["beta"]);
    assert_eq!(query_text().await, json!(file));

    // Deleted (once the record settled again): made again by the next cascade.
    assert_eq!(cascade_on_set(&engine, "br1", "beta").await, ["beta"]);
    graphql(
        &repo.store,
        "br1",
        &format!(r#"mutation {{ CoreGeneratorDefinitionDelete(data: {{id: "{id}"}}) {{ ok }} }}"#),
    )
    .await;
    assert_eq!(
        graphql(
            &repo.store,
            "br1",
            r#"{ CoreGeneratorDefinition(name__value: "widgets") { count } }"#,
        )
        .await["CoreGeneratorDefinition"]["count"],
        json!(0)
    );
    assert_eq!(cascade_on_set(&engine, "br1", "alpha").await, ["alpha"]);
    let (again, class_name) = widgets_definition(&repo, "br1").await;
    assert_ne!(again, id, "a new definition node");
    assert_eq!(class_name, recorded);
}

/// Creates the set `name` of size 1 on `branch`, joining the group with id `group` from
/// its own side.
async fn new_set_in_group(repo: &WidgetRepository, branch: &str, name: &str, group: &str) {
    graphql(
        &repo.store,
        branch,
        &format!(
            "mutation {{ TestWidgetSetUpsert(data: {{name: {{value: \"{name}\"}}, size: {{value: 1}}, \
             member_of_groups: [{{id: \"{group}\"}}]}}) {{ ok }} }}"
        ),
    )
    .await;
}

/// The engine keeps the target group's member list between cascades: a set joining the
/// group from its own side, on the branch or on main, is a member at the next cascade,
/// one renamed is listed under its new name, and one leaving the group is not.
#[tokio::test]
async fn an_engine_running_cascade_after_cascade_lists_the_target_group_as_it_is_now() {
    let (repo, engine) = engine_after_a_first_cascade().await;
    let group = repo.id_of("CoreStandardGroup", "widget-sets").await;

    // Joins from its own side on the branch: the edge is also a change to the group.
    new_set_in_group(&repo, "br1", "gamma", &group).await;
    assert_eq!(cascade_on_set(&engine, "br1", "gamma").await, ["gamma"]);
    assert_eq!(widget_count(&repo, "br1", "gamma-1").await, 1);

    // On main, which the branch sees.
    new_set_in_group(&repo, "main", "theta", &group).await;
    assert_eq!(cascade_on_set(&engine, "br1", "theta").await, ["theta"]);

    // Renamed without any run touching it after: listed (and labelled) by its new name.
    rename_set(&repo, "br1", "beta", "iota").await;
    assert_eq!(cascade_on_set(&engine, "br1", "iota").await, ["iota"]);

    // Leaves the group from its own side.
    let gamma = graphql(
        &repo.store,
        "br1",
        "{ TestWidgetSet(name__value: \"gamma\") { edges { node { id } } } }",
    )
    .await["TestWidgetSet"]["edges"][0]["node"]["id"]
        .as_str()
        .expect("gamma's id")
        .to_owned();
    graphql(
        &repo.store,
        "br1",
        &format!(
            "mutation {{ RelationshipRemove(data: {{id: \"{gamma}\", name: \"member_of_groups\", \
             nodes: [{{id: \"{group}\"}}]}}) {{ ok }} }}"
        ),
    )
    .await;
    let gone = run_on_set(&engine, "br1", "gamma")
        .await
        .expect_err("gamma has left the group");
    assert_eq!(
        gone.to_string(),
        "no member of group `widget-sets` has set=gamma"
    );
    assert_eq!(cascade_on_set(&engine, "br1", "alpha").await, ["alpha"]);
}

#[tokio::test]
async fn a_rule_pair_feeding_each_other_stops_at_the_cap_naming_both_rules() {
    let repo = with_rules(&[
        Rule {
            name: "counter-odd",
            scope: "all_branches",
            attribute: "counter",
            value_match: "value",
            value: Some("*[13579]"),
            generator: "widgets",
        },
        Rule {
            name: "counter-even",
            scope: "all_branches",
            attribute: "counter",
            value_match: "value",
            value: Some("*[02468]"),
            generator: "widgets-unparameterized",
        },
    ])
    .await;
    repo.set(
        "alpha",
        "size: {value: 0}, mode: {value: \"bump-peer\"}, victim: {value: \"beta\"}",
    )
    .await;
    repo.set(
        "beta",
        "size: {value: 0}, mode: {value: \"bump-peer\"}, victim: {value: \"alpha\"}",
    )
    .await;

    let limits = CascadeLimits {
        max_runs: 1_000,
        max_runs_per_target: 3,
    };
    let report = cascade_of(
        &repo,
        repo.runner.clone(),
        CascadeConfig { limits, ..config() },
    )
    .run("main", widgets_on_alpha())
    .await
    .expect("the cascade runs");

    // widgets(alpha) bumps beta to 1 (odd: widgets on beta), which bumps
    // alpha to 1 (widgets on alpha), beta to 2 (even: the other generator on
    // beta), alpha to 2, beta to 3, ... until widgets on alpha would run a
    // fourth time.
    let stopped = report.stopped.as_ref().expect("stopped at the cap");
    assert_eq!(
        stopped.to_string(),
        format!(
            "the cascade was stopped after {} runs: widgets on {} would run more than 3 times; \
             rules involved: counter-even, counter-odd",
            report.runs.len(),
            repo.set_id("alpha").await
        ),
        "{report}"
    );
    assert!(report.runs.iter().all(|run| !run.failed()), "{report}");
    assert!(!report.is_success());
    let rounds: Vec<usize> = report.runs.iter().map(|run| run.round).collect();
    assert_eq!(rounds, (1..=report.runs.len()).collect::<Vec<_>>());
}

/// The real backend, but the first `failures` stored queries fail as an
/// unreachable server fails; without runs, as the backend before atomic runs.
struct Unreachable {
    failures: AtomicUsize,
}

impl RelayHooks for Unreachable {
    fn answer(&self, document: &str) -> Option<Result<Value, BackendError>> {
        // Only the generator's stored query, not the cascade's own reads.
        (document.contains("TestWidgetSet(")
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok())
        .then(|| {
            Err(BackendError::new(
                ErrorKind::Backend,
                "cannot reach http://infrahub:8000: connection refused",
            ))
        })
    }
    fn runs(&self) -> bool {
        false
    }
    fn checks(&self) -> bool {
        false
    }
}

async fn run_with_unreachable(repo: &WidgetRepository, failures: usize) -> CascadeReport {
    let runner = Runner::new(
        Arc::new(infragen::repository::Repository::open(repo.dir.path()).expect("repository")),
        runtime(None),
        Arc::new(Relay::new(
            repo.runner.backend().clone(),
            Unreachable {
                failures: AtomicUsize::new(failures),
            },
        )),
        infragen::policy::RuntimePolicy::default(),
    );
    let config = CascadeConfig {
        retry: RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
        },
        ..config()
    };
    cascade_of(repo, runner, config)
        .run("main", widgets_on_alpha())
        .await
        .expect("the cascade runs")
}

#[tokio::test]
async fn an_unreachable_backend_is_retried_and_the_run_then_succeeds() {
    let repo = with_rules(&[]).await;
    let report = run_with_unreachable(&repo, 1).await;
    assert_eq!(
        runs(&report),
        vec![
            (
                1,
                "widgets".into(),
                "alpha".into(),
                false,
                vec![Cause::Requested]
            ),
            (
                2,
                "widgets".into(),
                "alpha".into(),
                true,
                vec![Cause::Retry { attempt: 2 }]
            ),
        ]
    );
    assert!(matches!(
        &report.runs[0].report.outcome,
        TargetOutcome::Failed { retryable: true, message, .. }
            if message.ends_with("query `widget_set`: cannot reach http://infrahub:8000: connection refused")
    ));
    assert_eq!(report.runs[1].attempt, 2);
    assert!(report.is_success(), "{report}");
    assert_eq!(widget_count(&repo, "main", "alpha-3").await, 1);
}

#[tokio::test]
async fn retries_stop_after_the_last_attempt() {
    let repo = with_rules(&[]).await;
    let report = run_with_unreachable(&repo, 10).await;
    let attempts: Vec<(u32, bool)> = report
        .runs
        .iter()
        .map(|run| (run.attempt, run.failed()))
        .collect();
    assert_eq!(attempts, vec![(1, true), (2, true), (3, true)]);
    assert_eq!(report.unresolved().len(), 1);
    assert!(!report.is_success());
}

#[tokio::test]
async fn a_failing_generator_is_not_retried() {
    let repo = with_rules(&[]).await;
    repo.set("alpha", "mode: {value: \"fail-halfway\"}").await;
    let report = run_with_unreachable(&repo, 0).await;
    assert_eq!(report.runs.len(), 1, "{report}");
    assert!(matches!(
        &report.runs[0].report.outcome,
        TargetOutcome::Failed {
            retryable: false,
            ..
        }
    ));
}

/// Reads `infragen serve`'s stdout lines on a thread.
fn lines_of(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Resizes alpha to 4 and beta to 3 in one request: with a size rule, a cascade of two
/// runs, alpha's first.
async fn resize_alpha_and_beta(repo: &WidgetRepository) {
    graphql(
        &repo.store,
        "main",
        "mutation { a: TestWidgetSetUpdate(data: {hfid: [\"alpha\"], size: {value: 4}}) { ok } \
         b: TestWidgetSetUpdate(data: {hfid: [\"beta\"], size: {value: 3}}) { ok } }",
    )
    .await;
}

/// `infragen serve` on the repository's store, on a free port: the server (killed when
/// dropped), its stdout line by line, and its address.
fn start_serve(repo: &WidgetRepository) -> (KillOnDrop, std::sync::mpsc::Receiver<String>, String) {
    start_serve_with(repo, &[])
}

/// [`start_serve`] with more arguments to `serve`.
fn start_serve_with(
    repo: &WidgetRepository,
    args: &[&str],
) -> (KillOnDrop, std::sync::mpsc::Receiver<String>, String) {
    let mut child = repo
        .serve_command(args)
        .env_remove("INFRAGEN_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("infragen serve starts");
    let lines = lines_of(&mut child);
    let server = KillOnDrop(child);
    let first = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("serve prints its address");
    let address = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    (server, lines, address)
}

/// Waits for serve's report of a cascade on main that ran widgets on alpha for rule
/// `size-changed`.
fn expect_alpha_sized_cascade(lines: &std::sync::mpsc::Receiver<String>) {
    let printed = cascade_report(lines);
    assert!(
        printed[0].contains("widgets")
            && printed[0].contains("alpha")
            && printed[0].ends_with("[rule size-changed]"),
        "{printed:#?}"
    );
}

/// The lines serve prints up to the report of its next cascade on main.
fn cascade_report(lines: &std::sync::mpsc::Receiver<String>) -> Vec<String> {
    let mut printed = Vec::new();
    while !printed
        .last()
        .is_some_and(|line: &String| line.starts_with("cascade on branch main"))
    {
        printed.push(
            lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no cascade report; printed so far: {printed:#?}")),
        );
    }
    printed
}

#[tokio::test]
async fn a_write_through_infragen_serve_that_matches_a_rule_runs_the_generator() {
    let repo = with_rules(&[size_rule("all_branches")]).await;
    let token = repo
        .store
        .create_token("test", infragen_store::TokenScope::Admin)
        .expect("token");
    let (_server, lines, address) = start_serve(&repo);

    let http =
        infragen::transport::Http::new(infragen::transport::HttpConfig::new(address, Some(token)))
            .expect("client");
    let transport: &dyn infragen::transport::Transport = &http;
    let response = transport
        .execute("main", &ALPHA_SIZE.replace("SIZE", "4"), json!({}))
        .await
        .expect("the write is accepted");
    assert_eq!(
        response["data"]["TestWidgetSetUpdate"]["ok"], true,
        "{response}"
    );

    expect_alpha_sized_cascade(&lines);
    let count = transport
        .execute(
            "main",
            "{ TestWidget(name__value: \"alpha-4\") { count } }",
            json!({}),
        )
        .await
        .expect("query");
    assert_eq!(count["data"]["TestWidget"]["count"], 1, "{count}");
}

/// `serve` records how far it followed the event log: a write made while it was down
/// (killed, here) runs its cascade when it starts again.
#[tokio::test]
async fn a_write_made_while_serve_was_down_runs_its_cascade_when_serve_starts() {
    let repo = with_rules(&[size_rule("all_branches")]).await;
    let (server, _lines, _address) = start_serve(&repo);
    drop(server);

    graphql(&repo.store, "main", &ALPHA_SIZE.replace("SIZE", "4")).await;
    assert!(
        repo.widgets().await.is_empty(),
        "nothing ran the generator yet"
    );

    let (_server, lines, _address) = start_serve(&repo);
    expect_alpha_sized_cascade(&lines);
    let names = repo.widget_names().await;
    assert_eq!(names, ["alpha-1", "alpha-2", "alpha-3", "alpha-4"]);
}

/// SIGINT stops `serve` the way it stops `infragen generator`: the running run finishes,
/// no other starts, what was left is reported and the exit code is 1; the next `serve`
/// matches the interrupted changes again and completes their cascade.
#[tokio::test]
async fn serve_stopped_by_sigint_mid_cascade_completes_it_when_started_again() {
    let repo = with_rules(&[size_rule("all_branches")]).await;
    // alpha's run writes one widget of two and stalls until its 3 s deadline.
    repo.set(
        "alpha",
        "size: {value: 2}, mode: {value: \"stall-halfway\"}",
    )
    .await;
    let (mut server, lines, _address) = start_serve_with(&repo, &["--concurrency", "1"]);
    resize_alpha_and_beta(&repo).await;
    repo.wait_until_processing("widgets: alpha").await;
    let status = Command::new("kill")
        .args(["-INT", &server.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let report = cascade_report(&lines);
    let exit = server.0.wait().expect("serve ends");
    assert_eq!(exit.code(), Some(1), "{report:#?}");
    let beta = repo.set_id("beta").await;
    assert!(
        report.contains(&format!(
            "interrupted: the running runs finished; 1 run left queued, not run: widgets on {beta}"
        )),
        "beta is reported left queued: {report:#?}"
    );
    assert!(
        repo.widget_names().await.is_empty(),
        "the stalled run wrote nothing, beta's never started"
    );

    repo.set("alpha", "mode: {value: \"normal\"}").await;
    let (_server, lines, _address) = start_serve_with(&repo, &["--concurrency", "1"]);
    // beta's run, left queued in the run queue by the stopped process, is resumed first;
    // then the changes serve had not finished are matched again: alpha runs, and beta's
    // run is found done by the resumed one, which read the store after them.
    let resumed = cascade_report(&lines);
    assert!(
        resumed[0].contains(" beta ")
            && resumed[0].ends_with("[resumed: its process was interrupted]")
            && resumed
                .last()
                .is_some_and(|line| line.contains("1 run, 0 failed")),
        "{resumed:#?}"
    );
    let caught_up = cascade_report(&lines);
    assert!(
        caught_up[0].contains(" alpha ")
            && caught_up[0].ends_with("[rule size-changed]")
            && caught_up
                .iter()
                .any(|line| line.contains(" beta  already done by run #")),
        "{caught_up:#?}"
    );
    assert!(
        caught_up.last().is_some_and(
            |line| line.contains("1 run, 0 failed (0 still failing), 1 done by another run")
        ),
        "{caught_up:#?}"
    );
    assert_eq!(
        repo.widget_names().await,
        [
            "alpha-1", "alpha-2", "alpha-3", "alpha-4", "beta-1", "beta-2", "beta-3"
        ]
    );
}

/// A run killed with SIGKILL (here in `infragen generator`) is resumed by the next
/// `serve` on the store when it starts.
#[tokio::test]
async fn serve_resumes_at_start_a_run_another_process_was_killed_in() {
    let repo = WidgetRepository::new().await;
    repo.set("alpha", "mode: {value: \"stall-halfway\"}").await;
    let dir = repo.dir.path();
    let mut generator = Command::new(infragen_bin())
        .arg("--store")
        .arg(dir.join("store.db"))
        .args(["generator", "widgets", "set=alpha", "--repository"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("infragen generator starts");
    repo.wait_until_processing("widgets: alpha").await;
    generator.kill().expect("SIGKILL");
    generator.wait().expect("killed");
    repo.set("alpha", "mode: {value: \"normal\"}").await;

    let (_server, lines, _address) = start_serve(&repo);
    let report = cascade_report(&lines);
    assert!(
        report[0].contains("alpha")
            && report[0].ends_with("[resumed: its process was interrupted]"),
        "{report:#?}"
    );
    assert_eq!(repo.widget_names().await, ["alpha-1", "alpha-2", "alpha-3"]);
}

/// A cascade killed after a run's commit but before the runs its stamps trigger have
/// all started: the next `infragen generator` on the store, finding the cascade's claim
/// stale, matches the changes after the cascade's recorded place again and runs what
/// they triggered — here a run that had not even started when the process died — and
/// resumes the one that was running.
#[tokio::test]
async fn the_runs_a_killed_cascade_had_not_started_are_run_by_the_next_one() {
    let repo = with_rules(&[Rule {
        name: "counter-changed",
        scope: "all_branches",
        attribute: "counter",
        value_match: "any",
        value: None,
        generator: "widgets",
    }])
    .await;
    repo.set("gamma", "size: {value: 1}").await;
    let gamma = repo.set_id("gamma").await;
    let group = repo.id_of("CoreStandardGroup", "widget-sets").await;
    graphql(
        &repo.store,
        "main",
        &format!(
            "mutation {{ RelationshipAdd(data: {{id: \"{group}\", name: \"members\", \
             nodes: [{{id: \"{gamma}\"}}]}}) {{ ok }} }}"
        ),
    )
    .await;
    // alpha bumps the counters of beta and gamma, which triggers widgets on both; beta's
    // run (first in the group) stalls until its deadline, gamma's waits its turn.
    repo.set(
        "alpha",
        "mode: {value: \"bump-peer\"}, victim: {value: \"beta,gamma\"}",
    )
    .await;
    repo.set("beta", "mode: {value: \"stall-halfway\"}").await;
    let dir = repo.dir.path();
    let generator = |set: &str| {
        Command::new(infragen_bin())
            .arg("--store")
            .arg(dir.join("store.db"))
            .args(["generator", "widgets", &format!("set={set}")])
            .args(["--concurrency", "1", "--repository"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("infragen generator starts")
    };
    let mut first = generator("alpha");
    repo.wait_until_processing("widgets: beta").await;
    first.kill().expect("SIGKILL");
    first.wait().expect("killed");
    assert_eq!(
        repo.instance_status("widgets: gamma").await,
        None,
        "gamma's run never started"
    );

    repo.set("beta", "mode: {value: \"normal\"}").await;
    let output = generator("beta").wait_with_output().expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let on = |set: &str| {
        stdout
            .lines()
            .find(|line| line.split_whitespace().nth(3) == Some(set))
            .unwrap_or_else(|| panic!("no run on {set}: {stdout}"))
            .to_owned()
    };
    let beta = on("beta");
    assert!(
        beta.contains(" ok ") && beta.contains("resumed: its process was interrupted"),
        "{stdout}"
    );
    // gamma's run was queued (in the run queue) when the process died: it is resumed,
    // and the changes after the cascade's place queue it again too.
    let gamma = on("gamma");
    assert!(
        gamma.contains(" ok ")
            && gamma.ends_with("[resumed: its process was interrupted; rule counter-changed]"),
        "{stdout}"
    );
    assert_eq!(
        repo.widget_names().await,
        [
            "alpha-1", "alpha-2", "alpha-3", "beta-1", "beta-2", "gamma-1"
        ]
    );
}

#[tokio::test]
async fn sync_refuses_a_definition_whose_target_group_no_object_file_declares() {
    // The widgets repository (plugin built and copied), synced into a fresh store.
    let widgets = WidgetRepository::new().await;
    let repository =
        infragen::repository::Repository::open(widgets.dir.path()).expect("repository");
    let (_dir, store, backend) = fresh_store();
    let error = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect_err("no object file declares widget-sets");
    assert_eq!(
        error.to_string(),
        "generator `widgets` targets group `widget-sets`, which no object file declares"
    );
}

/// Every query of `.infrahub.yml` is a stored query after a sync, as after Infrahub imports
/// the repository — not only those a generator uses — and a second sync changes nothing.
#[tokio::test]
async fn sync_records_every_declared_query_and_again_changes_nothing() {
    let repo = tempfile::tempdir().expect("temp dir");
    let write = |path: &str, text: &str| infragen_tests::write_file(repo.path(), path, text);
    write(
        ".infrahub.yml",
        "---\nqueries:\n  - name: startup_config\n    file_path: queries/startup_config.gql\n  - name: cabling_plan\n    file_path: queries/cabling_plan.gql\n",
    );
    write(
        "queries/startup_config.gql",
        "query startup_config { CoreAccount { edges { node { name { value } } } } }\n",
    );
    write(
        "queries/cabling_plan.gql",
        "query cabling_plan { CoreStandardGroup { count } }\n",
    );
    let repository = infragen::repository::Repository::open(repo.path()).expect("repository");
    let (_dir, store, backend) = fresh_store();
    let first = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync");
    assert_eq!(first.queries, ["startup_config", "cabling_plan"]);
    assert!(
        first
            .to_string()
            .ends_with("generator definitions: none; stored queries: startup_config, cabling_plan; transforms: none; artifact definitions: none"),
        "{first}"
    );
    let stored = || async {
        backend
            .query(
                "main",
                "{ CoreGraphQLQuery { edges { node { name { value } query { value } depth { value } models { value } } } } }",
                &serde_json::json!({}),
            )
            .await
            .expect("stored queries")
    };
    let expected = serde_json::json!({"CoreGraphQLQuery": {"edges": [
        {"node": {"name": {"value": "startup_config"},
                  "query": {"value": "query startup_config { CoreAccount { edges { node { name { value } } } } }\n"},
                  "depth": {"value": null}, "models": {"value": null}}},
        {"node": {"name": {"value": "cabling_plan"},
                  "query": {"value": "query cabling_plan { CoreStandardGroup { count } }\n"},
                  "depth": {"value": null}, "models": {"value": null}}}
    ]}});
    assert_eq!(stored().await, expected);
    let seq = store.last_event_seq().expect("events");
    infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync again");
    assert_eq!(
        store.last_event_seq().expect("events"),
        seq,
        "nothing changed"
    );
    assert_eq!(stored().await, expected);
}

/// The menus `.infrahub.yml` lists (a file, or a directory of them) are loaded after the
/// objects, as Infrahub's import loads them and as `infrahubctl menu load` would: items of
/// `CoreMenuItem` in their hierarchy, each item naming a kind given that kind's path, each
/// child its place among its siblings as its weight; the report counts the menu files and
/// items; a second sync changes nothing.
#[tokio::test]
async fn sync_loads_the_menus_after_the_objects_and_again_changes_nothing() {
    let repo = tempfile::tempdir().expect("temp dir");
    let write = |path: &str, text: &str| infragen_tests::write_file(repo.path(), path, text);
    write(
        ".infrahub.yml",
        "---\nobjects:\n  - objects/groups.yml\nmenus:\n  - menus/main.yml\n  - menus/more\n",
    );
    write(
        "objects/groups.yml",
        &infragen_tests::standard_group_file("devices"),
    );
    let menu = |name: &str, children: &str| {
        format!(
            "---\napiVersion: infrahub.app/v1\nkind: Menu\nspec:\n  data:\n    - namespace: Infra\n      name: {name}\n      label: {name}\n      children:\n        data:\n{children}"
        )
    };
    write(
        "menus/main.yml",
        &menu(
            "Groups",
            "          - {namespace: Infra, name: Standard, label: Standard groups, kind: CoreStandardGroup}\n          - {namespace: Infra, name: Queries, label: Queries, kind: CoreGraphQLQuery}\n",
        ),
    );
    write(
        "menus/more/extra.yml",
        &menu(
            "Accounts",
            "          - {namespace: Infra, name: People, label: People, kind: CoreAccount, order_weight: 10}\n",
        ),
    );
    let repository = infragen::repository::Repository::open(repo.path()).expect("repository");
    let (_dir, store, backend) = fresh_store();
    let first = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync");
    // One object file (the group) and two menu files: 1 + 3 + 2 items.
    assert_eq!((first.object_files, first.objects), (3, 6));
    let menu_items = || async {
        backend
            .query(
                "main",
                "{ CoreMenuItem(namespace__value: \"Infra\") { edges { node { name { value } path { value } order_weight { value } parent { node { name { value } } } } } } }",
                &serde_json::json!({}),
            )
            .await
            .expect("menu items")
    };
    let item = |name: &str, path: Option<&str>, weight: u64, parent: Option<&str>| {
        serde_json::json!({"node": {
            "name": {"value": name}, "path": {"value": path}, "order_weight": {"value": weight},
            "parent": {"node": parent.map(|p| serde_json::json!({"name": {"value": p}}))},
        }})
    };
    let sorted = |answer: serde_json::Value| {
        let mut edges = answer["CoreMenuItem"]["edges"]
            .as_array()
            .expect("edges")
            .clone();
        edges.sort_by_key(|e| {
            e["node"]["name"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        });
        edges
    };
    let expected = vec![
        item("Accounts", None, 2000, None),
        item("Groups", None, 2000, None),
        item("People", Some("/objects/CoreAccount"), 10, Some("Accounts")),
        item(
            "Queries",
            Some("/objects/CoreGraphQLQuery"),
            2000,
            Some("Groups"),
        ),
        item(
            "Standard",
            Some("/objects/CoreStandardGroup"),
            1000,
            Some("Groups"),
        ),
    ];
    assert_eq!(sorted(menu_items().await), expected);
    let seq = store.last_event_seq().expect("events");
    let again = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync again");
    assert_eq!(again.nodes_changed, 0);
    assert_eq!(
        store.last_event_seq().expect("events"),
        seq,
        "nothing changed"
    );
    assert_eq!(sorted(menu_items().await), expected);
}

/// A repository's check definitions are recorded as Infrahub's import records them (no
/// check runs here): each with its file, class, parameters, target group, the repository,
/// and the query and timeout its class sets (60 seconds, the SDK's, where it sets none); a
/// second sync changes nothing; one `.infrahub.yml` no longer declares is deleted, and one
/// whose class names no query is left out and named.
#[tokio::test]
async fn sync_records_the_check_definitions_and_deletes_those_no_longer_declared() {
    let parent = tempfile::tempdir().expect("temp dir");
    let root = parent.path().join("checked");
    let write = |path: &str, text: &str| infragen_tests::write_file(&root, path, text);
    let config = |checks: &str| {
        format!(
            "---\nqueries:\n  - {{name: naming_query, file_path: queries/naming.gql}}\n\
             check_definitions:\n{checks}objects:\n  - objects/groups.yml\n"
        )
    };
    let both = "  - {name: naming, file_path: checks/naming.py, class_name: Naming, targets: devices, parameters: {device: name__value}}\n\
                \x20 - {name: global, file_path: checks/global.py}\n\
                \x20 - {name: opaque, file_path: checks/opaque.py, class_name: Opaque}\n";
    write(".infrahub.yml", &config(both));
    write(
        "queries/naming.gql",
        "query naming_query { CoreStandardGroup { count } }\n",
    );
    write(
        "checks/naming.py",
        "from infrahub_sdk.checks import InfrahubCheck\n\n\
         class Naming(InfrahubCheck):\n    query = \"naming_query\"\n    timeout = 30\n\n    \
         def validate(self, data):\n        pass\n",
    );
    write(
        "checks/global.py",
        "class Check(InfrahubCheck):\n    query = 'naming_query'\n",
    );
    write(
        "checks/opaque.py",
        "class Opaque(InfrahubCheck):\n    query = QUERY\n",
    );
    write(
        "objects/groups.yml",
        &infragen_tests::standard_group_file("devices"),
    );
    let repository = infragen::repository::Repository::open(&root).expect("repository");
    let (_dir, store, backend) = fresh_store();
    let report = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync");
    assert_eq!(report.checks, ["naming", "global"]);
    assert!(
        report
            .to_string()
            .ends_with("; check definitions: naming, global"),
        "{report}"
    );
    let recorded = || async {
        backend
            .query(
                "main",
                "{ CoreCheckDefinition { edges { node { name { value } file_path { value } class_name { value }
                       timeout { value } rebase { value } parameters { value } query { node { name { value } } }
                       targets { node { display_label } } repository { node { name { value } } } } } } }",
                &serde_json::json!({}),
            )
            .await
            .expect("recorded")
    };
    let global = serde_json::json!({"node": {
        "name": {"value": "global"}, "file_path": {"value": "checks/global.py"},
        "class_name": {"value": "Check"}, "timeout": {"value": 60}, "rebase": {"value": false},
        "parameters": {"value": {}}, "query": {"node": {"name": {"value": "naming_query"}}},
        "targets": {"node": null}, "repository": {"node": {"name": {"value": "checked"}}}}});
    let naming = serde_json::json!({"node": {
        "name": {"value": "naming"}, "file_path": {"value": "checks/naming.py"},
        "class_name": {"value": "Naming"}, "timeout": {"value": 30}, "rebase": {"value": false},
        "parameters": {"value": {"device": "name__value"}},
        "query": {"node": {"name": {"value": "naming_query"}}},
        "targets": {"node": {"display_label": "devices"}},
        "repository": {"node": {"name": {"value": "checked"}}}}});
    assert_eq!(
        recorded().await,
        serde_json::json!({"CoreCheckDefinition": {"edges": [global.clone(), naming]}})
    );
    let seq = store.last_event_seq().expect("events");
    infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync again");
    assert_eq!(
        store.last_event_seq().expect("events"),
        seq,
        "nothing changed"
    );

    // `naming` declared no more: deleted.
    write(
        ".infrahub.yml",
        &config("  - {name: global, file_path: checks/global.py}\n"),
    );
    let repository = infragen::repository::Repository::open(&root).expect("repository");
    let report = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync without naming");
    assert_eq!(report.checks, ["global"]);
    assert_eq!(report.checks_removed, ["naming"]);
    assert_eq!(
        recorded().await,
        serde_json::json!({"CoreCheckDefinition": {"edges": [global]}})
    );
}

/// A repository's transforms and artifact definitions are recorded as Infrahub imports
/// them: the repository itself (named after its directory, at its path), each transform
/// with its query and the repository, each artifact definition with its group and
/// transform; a second sync changes nothing; a transform `.infrahub.yml` no longer declares
/// is deleted, unless an artifact definition still uses it.
#[tokio::test]
async fn sync_records_the_repository_its_transforms_and_artifact_definitions_once() {
    let parent = tempfile::tempdir().expect("temp dir");
    let root = parent.path().join("dc-design");
    let write = |path: &str, text: &str| infragen_tests::write_file(&root, path, text);
    write(
        ".infrahub.yml",
        "---
queries:
  - {name: startup_config, file_path: queries/startup_config.gql}
  - {name: cabling_plan, file_path: queries/cabling_plan.gql}
jinja2_transforms:
  - {name: startup, description: Startup configuration, query: startup_config, template_path: templates/startup.j2}
  - {name: unused, query: startup_config, template_path: templates/unused.j2}
python_transforms:
  - {name: cabling, file_path: transforms/cabling.py, class_name: Cabling, convert_query_response: true}
artifact_definitions:
  - {name: startup-file, artifact_name: startup-config, parameters: {device: name__value}, content_type: text/plain, targets: devices, transformation: startup}
  - {name: cabling-file, parameters: {}, content_type: text/csv, targets: devices, transformation: cabling}
objects:
  - objects/groups.yml
",
    );
    write(
        "queries/startup_config.gql",
        "query startup_config { CoreAccount { count } }\n",
    );
    write(
        "queries/cabling_plan.gql",
        "query cabling_plan { CoreStandardGroup { count } }\n",
    );
    write(
        "transforms/cabling.py",
        "from infrahub_sdk.transforms import InfrahubTransform\n\n\
         class Cabling(InfrahubTransform):\n    query = \"cabling_plan\"\n    timeout = 20\n\n    \
         async def transform(self, data):\n        return data\n",
    );
    write(
        "objects/groups.yml",
        &infragen_tests::standard_group_file("devices"),
    );
    let repository = infragen::repository::Repository::open(&root).expect("repository");
    let (_dir, store, backend) = fresh_store();
    let report = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync");
    assert_eq!(report.transforms, ["startup", "unused", "cabling"]);
    assert_eq!(
        report.artifact_definitions,
        ["startup-file", "cabling-file"]
    );
    let recorded = || async {
        backend
            .query(
                "main",
                "{ CoreReadOnlyRepository { edges { node { name { value } location { value }
                       internal_status { value } operational_status { value } sync_status { value } } } }
                   CoreTransformJinja2 { edges { node { name { value } description { value } template_path { value }
                       query { node { name { value } } } repository { node { name { value } } } } } }
                   CoreTransformPython { edges { node { name { value } file_path { value } class_name { value }
                       convert_query_response { value } timeout { value } query { node { name { value } } } } } }
                   CoreArtifactDefinition { edges { node { name { value } artifact_name { value } parameters { value }
                       content_type { value } targets { node { display_label } } transformation { node { display_label } } } } } }",
                &serde_json::json!({}),
            )
            .await
            .expect("recorded")
    };
    let location = std::fs::canonicalize(&root).expect("the repository's path");
    let expected = serde_json::json!({
        "CoreReadOnlyRepository": {"edges": [
            {"node": {"name": {"value": "dc-design"}, "location": {"value": location.display().to_string()},
                      "internal_status": {"value": "active"}, "operational_status": {"value": "online"},
                      "sync_status": {"value": "in-sync"}}}
        ]},
        "CoreTransformJinja2": {"edges": [
            {"node": {"name": {"value": "startup"}, "description": {"value": "Startup configuration"},
                      "template_path": {"value": "templates/startup.j2"},
                      "query": {"node": {"name": {"value": "startup_config"}}},
                      "repository": {"node": {"name": {"value": "dc-design"}}}}}
        ]},
        "CoreTransformPython": {"edges": [
            {"node": {"name": {"value": "cabling"}, "file_path": {"value": "transforms/cabling.py"},
                      "class_name": {"value": "Cabling"}, "convert_query_response": {"value": true},
                      "timeout": {"value": 20},
                      "query": {"node": {"name": {"value": "cabling_plan"}}}}}
        ]},
        "CoreArtifactDefinition": {"edges": [
            {"node": {"name": {"value": "cabling-file"}, "artifact_name": {"value": "cabling-file"},
                      "parameters": {"value": {}}, "content_type": {"value": "text/csv"},
                      "targets": {"node": {"display_label": "devices"}},
                      "transformation": {"node": {"display_label": "cabling"}}}},
            {"node": {"name": {"value": "startup-file"}, "artifact_name": {"value": "startup-config"},
                      "parameters": {"value": {"device": "name__value"}}, "content_type": {"value": "text/plain"},
                      "targets": {"node": {"display_label": "devices"}},
                      "transformation": {"node": {"display_label": "startup"}}}}
        ]}
    });
    // With `unused`, which the last sync below removes.
    let mut first = expected.clone();
    first["CoreTransformJinja2"]["edges"]
        .as_array_mut()
        .expect("edges")
        .push(serde_json::json!(
            {"node": {"name": {"value": "unused"}, "description": {"value": null},
                      "template_path": {"value": "templates/unused.j2"},
                      "query": {"node": {"name": {"value": "startup_config"}}},
                      "repository": {"node": {"name": {"value": "dc-design"}}}}}
        ));
    assert_eq!(recorded().await, first);
    let seq = store.last_event_seq().expect("events");
    let again = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync again");
    assert_eq!(
        store.last_event_seq().expect("events"),
        seq,
        "nothing changed"
    );
    assert!(again.transforms_removed.is_empty());
    assert_eq!(recorded().await, first);

    // Declared no more: `unused` is deleted, as Infrahub's import deletes it; `cabling` is
    // still the transform of an artifact definition (which the import keeps), so it stays.
    let config = std::fs::read_to_string(root.join(".infrahub.yml")).expect("config");
    write(
        ".infrahub.yml",
        &config
            .replace("  - {name: unused, query: startup_config, template_path: templates/unused.j2}\n", "")
            .replace(
                "python_transforms:\n  - {name: cabling, file_path: transforms/cabling.py, class_name: Cabling, convert_query_response: true}\n",
                "",
            ),
    );
    let repository = infragen::repository::Repository::open(&root).expect("repository");
    let pruned = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync after the transforms went");
    assert_eq!(pruned.transforms, ["startup"]);
    assert_eq!(pruned.transforms_removed, ["unused"]);
    assert!(
        pruned.to_string().ends_with("transforms removed: unused"),
        "{pruned}"
    );
    assert_eq!(recorded().await, expected);
}

/// Generator definitions point at the repository that declared them, and one that
/// `.infrahub.yml` no longer declares is deleted by the next sync, as Infrahub's import
/// deletes it — unless a generator action still names it, which keeps it and says why.
#[tokio::test]
async fn sync_deletes_the_generator_definitions_the_repository_no_longer_declares() {
    let parent = tempfile::tempdir().expect("temp dir");
    let root = parent.path().join("widgets-repo");
    let write = |path: &str, text: &str| infragen_tests::write_file(&root, path, text);
    let definition = |name: &str| {
        format!(
            "  - {{name: {name}, file_path: {name}.wasm, targets: widget-sets, query: widget_set}}\n"
        )
    };
    let config = |names: &[&str]| {
        let mut text = "---\nqueries:\n  - {name: widget_set, file_path: widget_set.gql}\n\
                        objects:\n  - objects\ngenerator_definitions:\n"
            .to_owned();
        for name in names {
            text.push_str(&definition(name));
        }
        text
    };
    write(".infrahub.yml", &config(&["alpha", "beta", "gamma"]));
    // A sync records the definitions; it does not load their components.
    for name in ["alpha", "beta", "gamma"] {
        write(&format!("{name}.wasm"), "");
    }
    write(
        "widget_set.gql",
        "query widget_set { CoreAccount { count } }\n",
    );
    write(
        "objects/01_groups.yml",
        &infragen_tests::standard_group_file("widget-sets"),
    );
    write(
        "objects/02_actions.yml",
        "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: CoreGeneratorAction\n  data:\n    - {name: run-gamma, generator: gamma}\n",
    );
    let (_dir, store, backend) = fresh_store();
    let sync = || async {
        let repository = infragen::repository::Repository::open(&root).expect("repository");
        infragen::sync::sync_repository(&store, &repository, &backend, "main")
            .await
            .expect("sync")
    };
    let first = sync().await;
    assert_eq!(first.definitions, ["alpha", "beta", "gamma"]);
    let definitions = || async {
        backend
            .query(
                "main",
                "{ CoreGeneratorDefinition { edges { node { name { value } repository { node { name { value } } } } } } }",
                &serde_json::json!({}),
            )
            .await
            .expect("definitions")
    };
    let listed = |names: &[&str]| {
        let edges: Vec<serde_json::Value> = names
            .iter()
            .map(|name| serde_json::json!({"node": {"name": {"value": name}, "repository": {"node": {"name": {"value": "widgets-repo"}}}}}))
            .collect();
        serde_json::json!({"CoreGeneratorDefinition": {"edges": edges}})
    };
    assert_eq!(definitions().await, listed(&["alpha", "beta", "gamma"]));
    let seq = store.last_event_seq().expect("events");
    assert!(sync().await.definitions_removed.is_empty());
    assert_eq!(
        store.last_event_seq().expect("events"),
        seq,
        "nothing changed"
    );

    write(".infrahub.yml", &config(&["alpha"]));
    let pruned = sync().await;
    assert_eq!(pruned.definitions, ["alpha"]);
    assert_eq!(pruned.definitions_removed, ["beta"]);
    assert!(
        pruned
            .to_string()
            .ends_with("; generator definitions removed: beta"),
        "{pruned}"
    );
    // `gamma` is still named by the action `run-gamma`.
    assert_eq!(definitions().await, listed(&["alpha", "gamma"]));
}

/// Two repositories whose directories have the same name, synced into one store, are two
/// repositories: the second is named apart (a suffix from its path), so its import does not
/// take over the first and delete the definitions the first declared; each sync of either
/// finds its own again and changes nothing.
#[tokio::test]
async fn sync_of_two_repositories_with_one_directory_name_keeps_them_apart() {
    let parent = tempfile::tempdir().expect("temp dir");
    let roots = [
        parent.path().join("a/design"),
        parent.path().join("b/design"),
    ];
    for (root, definition) in roots.iter().zip(["alpha", "beta"]) {
        let write = |path: &str, text: &str| infragen_tests::write_file(root, path, text);
        write(
            ".infrahub.yml",
            &format!(
                "---\nqueries:\n  - {{name: widget_set, file_path: widget_set.gql}}\nobjects:\n  - objects\n\
                 generator_definitions:\n  - {{name: {definition}, file_path: {definition}.wasm, targets: widget-sets, query: widget_set}}\n"
            ),
        );
        write(&format!("{definition}.wasm"), "");
        write(
            "widget_set.gql",
            "query widget_set { CoreAccount { count } }\n",
        );
        write(
            "objects/groups.yml",
            &infragen_tests::standard_group_file("widget-sets"),
        );
    }
    let (_dir, store, backend) = fresh_store();
    let sync = |root: &std::path::Path| {
        let repository = infragen::repository::Repository::open(root).expect("repository");
        let (store, backend) = (&store, &backend);
        async move {
            infragen::sync::sync_repository(store, &repository, backend, "main")
                .await
                .expect("sync")
        }
    };
    sync(&roots[0]).await;
    let second = sync(&roots[1]).await;
    assert!(second.definitions_removed.is_empty(), "{second}");
    let listed = || async {
        backend
            .query(
                "main",
                "{ CoreGeneratorDefinition { edges { node { name { value } repository { node { name { value } location { value } } } } } } }",
                &serde_json::json!({}),
            )
            .await
            .expect("definitions")
    };
    let location = |root: &std::path::Path| {
        std::fs::canonicalize(root)
            .expect("the repository's path")
            .display()
            .to_string()
    };
    let suffix = {
        use sha2::Digest;
        sha2::Sha256::digest(location(&roots[1]).as_bytes())
            .iter()
            .take(4)
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    let expected = serde_json::json!({"CoreGeneratorDefinition": {"edges": [
        {"node": {"name": {"value": "alpha"}, "repository": {"node": {
            "name": {"value": "design"}, "location": {"value": location(&roots[0])}}}}},
        {"node": {"name": {"value": "beta"}, "repository": {"node": {
            "name": {"value": format!("design-{suffix}")}, "location": {"value": location(&roots[1])}}}}}
    ]}});
    assert_eq!(listed().await, expected);
    let seq = store.last_event_seq().expect("events");
    sync(&roots[0]).await;
    sync(&roots[1]).await;
    assert_eq!(
        store.last_event_seq().expect("events"),
        seq,
        "nothing changed"
    );
    assert_eq!(listed().await, expected);
}

#[tokio::test]
async fn sync_imports_the_ai_dc_repository_with_its_rules_and_changes_nothing_the_second_time() {
    let repository = infragen::repository::Repository::open(&infragen_tests::workspace_root())
        .expect("repository");
    let (_dir, store, backend) = fresh_store();
    let first = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync");
    assert_eq!(
        first.definitions,
        ["generate-fabric", "generate-pod", "generate-rack"]
    );
    let rules = infragen::cascade::load_rules(&backend, "main")
        .await
        .expect("rules");
    let names: Vec<(&str, &str, &str)> = rules
        .iter()
        .map(|rule| {
            (
                rule.name.as_str(),
                rule.node_kind.as_str(),
                rule.generator.as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (
                "trigger-pod-generator-amount-of-spines",
                "NetworkPod",
                "generate-pod"
            ),
            (
                "trigger-pod-generator-checksum",
                "NetworkPod",
                "generate-pod"
            ),
            ("trigger-pod-generator-index", "NetworkPod", "generate-pod"),
            ("trigger-pod-generator-role", "NetworkPod", "generate-pod"),
            (
                "trigger-rack-generator-amount-of-leafs",
                "LocationRack",
                "generate-rack"
            ),
            (
                "trigger-rack-generator-checksum",
                "LocationRack",
                "generate-rack"
            ),
            (
                "trigger-rack-generator-index",
                "LocationRack",
                "generate-rack"
            ),
            (
                "trigger-rack-generator-rack-type",
                "LocationRack",
                "generate-rack"
            ),
        ]
    );
    let second = infragen::sync::sync_repository(&store, &repository, &backend, "main")
        .await
        .expect("sync again");
    assert_eq!((second.schema_updated, second.nodes_changed), (false, 0));
}

/// `infragen generator widgets` on the repository's store, with `args`, its output piped
/// and without the log filter of the environment.
fn spawn_generator(repo: &WidgetRepository, args: &[&str]) -> std::process::Child {
    generator_command(repo, args)
        .env_remove("INFRAGEN_LOG")
        .spawn()
        .expect("infragen generator starts")
}

/// `infragen generator widgets <args>` on `repo`, one run at a time, its output captured.
fn generator_command(repo: &WidgetRepository, args: &[&str]) -> Command {
    let dir = repo.dir.path();
    let mut command = Command::new(infragen_bin());
    command
        .arg("--store")
        .arg(dir.join("store.db"))
        .args(["generator", "widgets"])
        .args(args)
        .args(["--concurrency", "1", "--repository"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The recorded runs of widgets on `set`, oldest first: (status, causes).
async fn recorded_runs(repo: &WidgetRepository, set: &str) -> Vec<(String, String)> {
    let id = repo.set_id(set).await;
    let mut runs: Vec<(String, String)> = repo
        .store
        .runs(&infragen_store::RunFilter {
            generator: Some("widgets".into()),
            target: Some(id),
            ..infragen_store::RunFilter::default()
        })
        .expect("the history reads")
        .into_iter()
        .map(|run| (run.status.to_string(), run.causes))
        .collect();
    runs.reverse();
    runs
}

/// Another process commits while a run is under way: the run, which reads the one
/// snapshot it began on, is a conflict at its commit, is run again on the new state and
/// succeeds; nothing of the first attempt is written twice, and the other process's write
/// stays.
#[tokio::test]
async fn a_run_during_which_another_process_commits_is_run_again_and_succeeds() {
    let repo = with_rules(&[]).await;
    // A run that lasts (30,000 reads, about half a second here, far under its limit of
    // 100,000 host calls and its 3 s deadline) and keeps reading, so that it never lets
    // its snapshot go as an idle one would.
    repo.set(
        "alpha",
        "mode: {value: \"slow\"}, victim: {value: \"30000\"}",
    )
    .await;
    // The runner's log says when a run is run again.
    let generator = generator_command(&repo, &["set=alpha"])
        .env("INFRAGEN_LOG", "warn,infragen::runner=info")
        .spawn()
        .expect("infragen generator starts");
    repo.wait_until_processing("widgets: alpha").await;
    // The instance is recorded `Processing` just before the run begins (milliseconds);
    // this write lands once it is under way, long before it ends.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    repo.set("gamma", "size: {value: 1}").await;
    let output = generator.wait_with_output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        stderr.contains("the store changed during the run; running it again"),
        "the first attempt was a conflict: {stderr}{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(repo.widget_names().await, ["alpha-1", "alpha-2", "alpha-3"]);
    assert_eq!(
        repo.instance_status("widgets: alpha").await.as_deref(),
        Some("Ready")
    );
    let sets = graphql(
        &repo.store,
        "main",
        "{ TestWidgetSet(name__value: \"gamma\") { count } }",
    )
    .await;
    assert_eq!(sets["TestWidgetSet"]["count"], 1);
}

/// Two `infragen generator` processes asked for the same runs at the same moment: each
/// (generator, target) runs once. Whichever process queues a run first runs it; the other
/// finds it in flight in the run queue, joins it, waits for its end and reports it.
#[tokio::test]
async fn two_processes_started_at_once_run_each_target_exactly_once() {
    let repo = with_rules(&[]).await;
    // Runs that last (thousands of reads each, well within their 3 s deadline), so the
    // two processes overlap; the second starts once the first is in alpha's run, so that
    // neither can finish before the other has asked (a plugin compiled by one and not
    // the other would otherwise decide the order).
    for set in ["alpha", "beta"] {
        repo.set(set, "mode: {value: \"slow\"}, victim: {value: \"5000\"}")
            .await;
    }
    let first = spawn_generator(&repo, &[]);
    repo.wait_until_processing("widgets: alpha").await;
    let second = spawn_generator(&repo, &[]);
    let outputs = [first, second].map(|child| child.wait_with_output().expect("runs"));
    let stdouts: Vec<String> = outputs
        .iter()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .collect();
    for (output, stdout) in outputs.iter().zip(&stdouts) {
        assert_eq!(
            output.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for set in ["alpha", "beta"] {
        assert_eq!(
            recorded_runs(&repo, set).await,
            [(
                "succeeded".to_owned(),
                r#"[{"kind":"requested"}]"#.to_owned()
            )],
            "{stdouts:#?}"
        );
        // One process ran it, the other joined that run.
        let ran: usize = stdouts
            .iter()
            .map(|stdout| {
                stdout
                    .lines()
                    .filter(|line| line.contains(&format!(" {set} ")) && line.contains(" ok "))
                    .count()
            })
            .sum();
        let joined: usize = stdouts
            .iter()
            .map(|stdout| {
                stdout
                    .lines()
                    .filter(|line| {
                        line.contains(&format!(" {set}  joined run #"))
                            && line.ends_with(": succeeded")
                    })
                    .count()
            })
            .sum();
        assert_eq!((ran, joined), (1, 1), "{set}: {stdouts:#?}");
        // The process that waited said so as it began to.
        let waited = outputs
            .iter()
            .filter(|output| {
                String::from_utf8_lossy(&output.stderr).lines().any(|line| {
                    line.starts_with("infragen: waiting for run #")
                        && line.contains(&format!(", widgets on {set}, which process "))
                        && line.ends_with(" has in flight")
                })
            })
            .count();
        assert_eq!(waited, 1, "{set}");
    }
    assert_eq!(
        repo.widget_names().await,
        ["alpha-1", "alpha-2", "alpha-3", "beta-1", "beta-2"]
    );
}

/// A CLI cascade and `serve` both see the change that triggers a run: it runs once, in
/// whichever process queued it first; the other reports it done by that run.
#[tokio::test]
async fn a_run_triggered_under_a_cli_cascade_and_serve_runs_once() {
    let repo = with_rules(&[Rule {
        name: "counter-changed",
        scope: "all_branches",
        attribute: "counter",
        value_match: "any",
        value: None,
        generator: "widgets",
    }])
    .await;
    repo.set(
        "alpha",
        "mode: {value: \"bump-peer\"}, victim: {value: \"beta\"}",
    )
    .await;
    repo.set("beta", "mode: {value: \"slow\"}, victim: {value: \"3000\"}")
        .await;
    let (_server, lines, _address) = start_serve(&repo);
    let output = spawn_generator(&repo, &["set=alpha"])
        .wait_with_output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let served = cascade_report(&lines).join("\n");
    assert_eq!(
        recorded_runs(&repo, "beta").await,
        [(
            "succeeded".to_owned(),
            r#"[{"kind":"rule","rule":"counter-changed"}]"#.to_owned()
        )],
        "{stdout}\n{served}"
    );
    let beta_runs = |text: &str| {
        text.lines()
            .filter(|line| line.contains(" beta ") && line.contains(" ok "))
            .count()
    };
    let beta_joined = |text: &str| {
        text.lines()
            .filter(|line| {
                line.contains(" beta  joined run #")
                    || line.contains(" beta  already done by run #")
            })
            .count()
    };
    assert_eq!(
        (
            beta_runs(&stdout) + beta_runs(&served),
            beta_joined(&stdout) + beta_joined(&served)
        ),
        (1, 1),
        "{stdout}\n{served}"
    );
    assert_eq!(recorded_runs(&repo, "alpha").await.len(), 1);
}

/// Every run is kept with its status, causes, counts and log: `infragen runs` lists them
/// (filtered, newest first), `runs show` prints one with its log, both with `--json`,
/// and `serve` answers the same over HTTP.
#[tokio::test]
async fn the_run_history_lists_every_run_with_its_log_on_the_cli_and_over_http() {
    let repo = with_rules(&[]).await;
    repo.set("beta", "mode: {value: \"fail-halfway\"}").await;
    let output = spawn_generator(&repo, &[])
        .wait_with_output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let dir = repo.dir.path();
    let runs = |args: &[&str]| {
        let output = Command::new(infragen_bin())
            .arg("--store")
            .arg(dir.join("store.db"))
            .arg("runs")
            .args(args)
            .output()
            .expect("infragen runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (alpha, beta) = (repo.set_id("alpha").await, repo.set_id("beta").await);

    let (code, listed, _) = runs(&["--json"]);
    assert_eq!(code, Some(0));
    let listed: Value = serde_json::from_str(&listed).expect("JSON");
    let summary: Vec<Value> = listed
        .as_array()
        .expect("an array")
        .iter()
        .map(|run| {
            json!([
                run["id"],
                run["target"]["display_label"],
                run["status"],
                run["causes"],
                run["created"],
                run["deleted"],
                run["error"].is_string(),
                run["log"].is_null()
            ])
        })
        .collect();
    assert_eq!(
        summary,
        [
            json!([2, "beta", "failed", [{"kind": "requested"}], null, null, true, true]),
            json!([1, "alpha", "succeeded", [{"kind": "requested"}], 3, 0, false, true]),
        ]
    );
    assert_eq!(listed[1]["target"]["id"], json!(alpha));
    assert_eq!(listed[1]["kept"], json!(0));

    let (code, table, _) = runs(&["--failed"]);
    assert_eq!(code, Some(0));
    let table: Vec<&str> = table.lines().collect();
    assert_eq!(table.len(), 2, "{table:#?}");
    assert!(table[0].starts_with("    ID  STATUS "), "{table:#?}");
    let row: Vec<&str> = table[1].split_whitespace().collect();
    assert_eq!(
        (row[0], row[1], row[2], row[3], row[4], row.last().copied()),
        ("2", "failed", "widgets", "beta", "main", Some("requested"))
    );
    let (_, by_target, _) = runs(&["--target", &alpha, "--generator", "widgets"]);
    assert_eq!(by_target.lines().count(), 2, "{by_target}");
    let (_, none, _) = runs(&["--branch", "elsewhere"]);
    assert_eq!(none, "no runs\n");

    let (code, shown, _) = runs(&["show", "2"]);
    assert_eq!(code, Some(0));
    let shown: Vec<&str> = shown.lines().collect();
    assert_eq!(
        shown[..3],
        [
            format!("run #2: widgets on beta ({beta}), branch main").as_str(),
            "status:   failed (attempt 1)",
            "causes:   requested",
        ]
    );
    assert!(
        shown.iter().any(|line| line
            .starts_with("error:    generator `widgets` failed on target `beta`")
            && line.ends_with("failing halfway on purpose after 1 of 2 widgets")),
        "{shown:#?}"
    );
    assert_eq!(
        shown[shown.len() - 2..],
        ["log:", "  info   set beta: size 2, mode fail-halfway"]
    );

    let (_, json_one, _) = runs(&["show", "2", "--json"]);
    let json_one: Value = serde_json::from_str(&json_one).expect("JSON");
    assert_eq!(
        json_one["log"]["lines"],
        json!([{"level": "info", "message": "set beta: size 2, mode fail-halfway"}])
    );

    let (code, _, error) = runs(&["show", "99"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        error,
        format!(
            "error: no run #99 in {}: see `infragen runs` for the runs kept\n",
            dir.join("store.db").display()
        )
    );

    // The same over HTTP, behind the API's tokens.
    let token = repo
        .store
        .create_token("test", infragen_store::TokenScope::Admin)
        .expect("token");
    let (_server, _lines, address) = start_serve(&repo);
    let client = reqwest::Client::new();
    let get = |path: String, token: Option<String>| {
        let client = client.clone();
        async move {
            let mut request = client.get(path);
            if let Some(token) = token {
                request = request.header("X-INFRAHUB-KEY", token);
            }
            let response = request.send().await.expect("serve answers");
            let status = response.status().as_u16();
            let body = response.text().await.expect("a body");
            (status, serde_json::from_str::<Value>(&body).expect("JSON"))
        }
    };
    let (status, over_http) = get(
        format!("{address}/api/runs?failed=true"),
        Some(token.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(over_http, json!([listed[0]]));
    let (status, one) = get(format!("{address}/api/runs/2"), Some(token.clone())).await;
    assert_eq!((status, one), (200, json_one));
    let (status, _) = get(format!("{address}/api/runs/99"), Some(token.clone())).await;
    assert_eq!(status, 404);
    let (status, _) = get(format!("{address}/api/runs"), None).await;
    assert_eq!(status, 401);
}

/// `serve` killed (SIGKILL) in the middle of a cascade and started again completes it:
/// the run it was in and the one it had queued are resumed from the run queue, and the
/// changes it had not finished acting on, matched again, find their runs done.
#[tokio::test]
async fn serve_killed_mid_cascade_completes_it_when_started_again() {
    let repo = with_rules(&[size_rule("all_branches")]).await;
    repo.set(
        "alpha",
        "mode: {value: \"slow\"}, victim: {value: \"100000\"}",
    )
    .await;
    let (server, _lines, _address) = start_serve_with(&repo, &["--concurrency", "1"]);
    resize_alpha_and_beta(&repo).await;
    repo.wait_until_processing("widgets: alpha").await;
    drop(server);
    assert!(
        repo.widget_names().await.is_empty(),
        "nothing was committed"
    );

    repo.set("alpha", "mode: {value: \"normal\"}").await;
    let (_server, lines, _address) = start_serve_with(&repo, &["--concurrency", "1"]);
    let resumed = cascade_report(&lines);
    assert!(
        resumed
            .last()
            .is_some_and(|line| line.contains("2 runs, 0 failed (0 still failing), 2 resumed in")),
        "{resumed:#?}"
    );
    let why: Vec<(&str, &str)> = resumed
        .iter()
        .filter_map(|line| {
            Some((
                line.split_whitespace().nth(3)?,
                line.rsplit_once('[')?.1.trim_end_matches(']'),
            ))
        })
        .collect();
    assert_eq!(
        why,
        [
            ("alpha", "resumed: its process was interrupted"),
            ("beta", "resumed: its process was interrupted")
        ],
        "{resumed:#?}"
    );
    let caught_up = cascade_report(&lines);
    assert!(
        caught_up.last().is_some_and(
            |line| line.contains("0 runs, 0 failed (0 still failing), 2 done by other runs")
        ),
        "{caught_up:#?}"
    );
    assert_eq!(
        repo.widget_names().await,
        [
            "alpha-1", "alpha-2", "alpha-3", "alpha-4", "beta-1", "beta-2", "beta-3"
        ]
    );
    for set in ["alpha", "beta"] {
        let runs = recorded_runs(&repo, set).await;
        let statuses: Vec<&str> = runs.iter().map(|(status, _)| status.as_str()).collect();
        assert_eq!(statuses, ["interrupted", "succeeded"], "{set}: {runs:?}");
    }
}

/// Each cascade engine prunes the run history to its retention when it starts (and at
/// most hourly after that): here, one ended run kept, plus the one the cascade adds.
#[tokio::test]
async fn a_cascade_prunes_the_run_history_to_its_retention() {
    let repo = with_rules(&[]).await;
    let keep_one = CascadeConfig {
        retention: infragen_store::Retention {
            max_age: None,
            max_runs: Some(1),
        },
        ..config()
    };
    for _ in 0..4 {
        let report = cascade_of(&repo, repo.runner.clone(), keep_one.clone())
            .run("main", widgets_on_alpha())
            .await
            .expect("the cascade runs");
        assert!(report.is_success(), "{report}");
    }
    let kept: Vec<(i64, String)> = repo
        .store
        .runs(&infragen_store::RunFilter::default())
        .expect("history")
        .into_iter()
        .map(|run| (run.id, run.status.to_string()))
        .collect();
    assert_eq!(
        kept,
        [(4, "succeeded".to_owned()), (3, "succeeded".to_owned())]
    );
    // One engine prunes once: two more cascades on it keep everything they add.
    let engine = cascade_of(&repo, repo.runner.clone(), keep_one);
    for _ in 0..3 {
        engine
            .run("main", widgets_on_alpha())
            .await
            .expect("the cascade runs");
    }
    let ids: Vec<i64> = repo
        .store
        .runs(&infragen_store::RunFilter::default())
        .expect("history")
        .iter()
        .map(|run| run.id)
        .collect();
    assert_eq!(ids, [7, 6, 5, 4]);
}

/// A stored query (recorded from `.infrahub.yml`'s `queries`) runs by name at
/// `/api/query/{name}`: with its variables in the URL (GET), or in the body as the Python
/// SDK's `query_gql_query` sends them (POST).
#[tokio::test]
async fn a_stored_query_runs_by_name_over_http() {
    let repo = with_rules(&[]).await;
    let token = repo
        .store
        .create_token("reader", infragen_store::TokenScope::Read)
        .expect("token");
    let (_server, _lines, address) = start_serve(&repo);
    let alpha = repo.set_id("alpha").await;
    let expected = json!({"data": {"TestWidgetSet": {"edges": [{"node": {
        "id": alpha, "name": {"value": "alpha"}, "size": {"value": 3}
    }}]}}});
    let client = reqwest::Client::new();
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body = response.text().await.expect("a body");
        (status, serde_json::from_str::<Value>(&body).expect("JSON"))
    };
    let got = answer(
        client
            .get(format!(
                "{address}/api/query/widget_set?branch=main&set=alpha"
            ))
            .header("X-INFRAHUB-KEY", &token)
            .send()
            .await
            .expect("serve answers"),
    )
    .await;
    assert_eq!(got, (200, expected.clone()));
    let posted = answer(
        client
            .post(format!(
                "{address}/api/query/widget_set?branch=main&update_group=false"
            ))
            .header("X-INFRAHUB-KEY", &token)
            .header("content-type", "application/json")
            .body(r#"{"variables": {"set": "alpha"}}"#)
            .send()
            .await
            .expect("serve answers"),
    )
    .await;
    assert_eq!(posted, (200, expected));
    let (status, missing) = answer(
        client
            .get(format!("{address}/api/query/no_such_query"))
            .header("X-INFRAHUB-KEY", &token)
            .send()
            .await
            .expect("serve answers"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        missing["errors"][0]["message"],
        "Unable to find the node no_such_query / CoreGraphQLQuery in the database."
    );
}

#[tokio::test]
async fn core_generator_definition_run_runs_the_named_targets_and_refuses_what_it_cannot_run() {
    let repo = with_rules(&[]).await;
    let token = repo
        .store
        .create_token("writer", infragen_store::TokenScope::Write)
        .expect("token");
    let (_server, _lines, address) = start_serve(&repo);
    let alpha = repo.set_id("alpha").await;
    let definition = repo.id_of("CoreGeneratorDefinition", "widgets").await;
    let client = reqwest::Client::new();
    let send = |query: String| {
        let request = client
            .post(format!("{address}/graphql/main"))
            .header("X-INFRAHUB-KEY", &token)
            .header("content-type", "application/json")
            .body(json!({ "query": query }).to_string());
        async move {
            let response = request.send().await.expect("serve answers");
            let status = response.status().as_u16();
            let body = response.text().await.expect("a body");
            (status, serde_json::from_str::<Value>(&body).expect("JSON"))
        }
    };

    // alpha alone: its widgets, and none of beta's.
    let (status, answer) = send(format!(
        "mutation {{ run: CoreGeneratorDefinitionRun(data: {{id: \"{definition}\", nodes: [\"{alpha}\"]}}) {{ ok task {{ id }} }} }}"
    ))
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["run"]["ok"], true, "{answer}");
    assert!(answer["data"]["run"]["task"]["id"].is_string(), "{answer}");
    assert_eq!(repo.widget_names().await, ["alpha-1", "alpha-2", "alpha-3"]);

    // A node that is not a target, and a definition that does not exist: nothing runs.
    let (_, answer) = send(format!(
        "mutation {{ CoreGeneratorDefinitionRun(data: {{id: \"{definition}\", nodes: [\"{definition}\"]}}) {{ ok }} }}"
    ))
    .await;
    assert_eq!(
        answer["errors"][0]["message"],
        format!(
            "node {definition} is not a member of group `widget-sets`, the targets of generator `widgets`"
        ),
        "{answer}"
    );
    let (_, answer) = send(
        "mutation { CoreGeneratorDefinitionRun(data: {id: \"no-such-definition\"}) { ok } }".into(),
    )
    .await;
    assert_eq!(
        answer["errors"][0]["message"],
        "Unable to find the node no-such-definition / CoreGeneratorDefinition in the database.",
        "{answer}"
    );
    assert_eq!(repo.widget_names().await, ["alpha-1", "alpha-2", "alpha-3"]);

    // Without nodes: every target.
    let (_, answer) = send(format!(
        "mutation {{ CoreGeneratorDefinitionRun(data: {{id: \"{definition}\"}}) {{ ok }} }}"
    ))
    .await;
    assert_eq!(
        answer["data"]["CoreGeneratorDefinitionRun"]["ok"], true,
        "{answer}"
    );
    assert_eq!(
        repo.widget_names().await,
        ["alpha-1", "alpha-2", "alpha-3", "beta-1", "beta-2"]
    );
}
