//! Generator-run benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p infragen-tests --bench runs`: one run of the widgets
//! generator upserting 1,000 nodes
//! - against the embedded store in-process,
//! - against the same store served over HTTP on loopback (`infragen serve`'s
//!   router), the run one run transaction, reported as a ratio to in-process,
//! - the same with run transactions turned off, each write its own commit as on
//!   Infrahub, reported as a ratio to the run in one transaction,
//! - against an in-memory recording double, which isolates the host's own
//!   cost per write (runtime, sandbox checks, JSON) from the store's;
//! - and, for scale, 1,000 `{ __typename }` queries sent one after the other over
//!   the same HTTP transport: the cost of a request that does nothing (auth, a
//!   reader's snapshot, the round trip between the runtime's threads), the floor
//!   under any write sent on its own request.
//!
//! Each figure is the median of 5 runs of a fresh 1,000-node design, on one
//! runtime that compiled the component beforehand; the machine is shared, so
//! compare figures within one run.
//!
//! `RUNS_BENCH_ONLY=http` (or `in-process`, `http-per-write`, `host`, `http-floor`) measures one
//! of them alone, for a profiler.

use std::sync::Arc;
use std::time::{Duration, Instant};

use infragen::backend::Backend;
use infragen::runner::{Runner, TargetSelection};
use infragen_tests::{RecordingBackend, WidgetRepository, fresh_guest, request, runtime};
use serde_json::json;

const WIDGETS: i64 = 1000;

/// The median sample; zero when the measurement was not asked for.
fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

async fn fresh_design() -> WidgetRepository {
    let repo = WidgetRepository::new().await;
    repo.set("alpha", &format!("size: {{value: {WIDGETS}}}"))
        .await;
    repo
}

fn alpha() -> TargetSelection {
    TargetSelection::Matching(
        json!({ "set": "alpha" })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let only = std::env::var("RUNS_BENCH_ONLY").ok();
    if let Some(only) = &only {
        assert!(
            ["in-process", "http", "http-per-write", "host", "http-floor"].contains(&only.as_str()),
            "RUNS_BENCH_ONLY={only:?}: expected in-process, http, http-per-write, host or http-floor"
        );
    }
    let measured = |name: &str| only.as_deref().is_none_or(|only| only == name);
    let rounds = |name: &str| if measured(name) { 5 } else { 0 };
    // One runtime for every round, the component compiled before the first: a run
    // measures its writes, not Cranelift.
    let shared = runtime(None);
    let plugin = shared
        .load(&fresh_guest("widgets-generator"))
        .await
        .expect("plugin");
    let runner = |repo: &WidgetRepository, backend: Arc<dyn infragen::backend::Backend>, policy| {
        Runner::new(
            Arc::new(infragen::repository::Repository::open(repo.dir.path()).expect("repository")),
            shared.clone(),
            backend,
            policy,
        )
    };
    // In-process: the runner the product uses by default.
    let mut in_process = Vec::new();
    for _ in 0..rounds("in-process") {
        let repo = fresh_design().await;
        let runner = runner(
            &repo,
            Arc::new(infragen::embedded::EmbeddedBackend::new(repo.store.clone())),
            infragen::policy::RuntimePolicy::load(repo.dir.path()).expect("policy"),
        );
        let started = Instant::now();
        let report = runner
            .run_definition("widgets", "main", &alpha(), 1)
            .await
            .expect("run");
        in_process.push(started.elapsed());
        assert_eq!(report.failed(), 0, "{report}");
    }
    let in_process = median(in_process);

    // HTTP: the same store behind its HTTP API on loopback, the run in one run
    // transaction; then with transactions turned off, one commit per write.
    let mut over_http = Vec::new();
    let mut per_write_commits = Vec::new();
    for (name, samples) in [
        ("http", &mut over_http),
        ("http-per-write", &mut per_write_commits),
    ] {
        let mut limits = infragen::http_api::Limits::default();
        if name == "http-per-write" {
            limits.transactions.open = 0;
        }
        for _ in 0..rounds(name) {
            let repo = fresh_design().await;
            let (backend, server) =
                infragen_tests::served_over_http_with(&repo.store, limits.clone()).await;
            let runner = runner(&repo, backend, infragen::policy::RuntimePolicy::default());
            let started = Instant::now();
            let report = runner
                .run_definition("widgets", "main", &alpha(), 1)
                .await
                .expect("run");
            samples.push(started.elapsed());
            assert_eq!(report.failed(), 0, "{report}");
            server.abort();
        }
    }
    let over_http = median(over_http);
    let per_write_commits = median(per_write_commits);

    // The host alone: the plugin's 1,000 upserts against an in-memory double.
    let mut host_only = Vec::new();
    for _ in 0..rounds("host") {
        let backend = Arc::new(RecordingBackend::default());
        backend.insert(
            "set-1",
            "TestWidgetSet",
            json!({ "name": { "value": "alpha" }, "size": { "value": WIDGETS } }),
        );
        let mut run = request(
            "widgets",
            ("set-1", "TestWidgetSet", "alpha"),
            json!({ "set": "alpha" }),
        );
        run.limits.max_host_calls = 1_000_000;
        let started = Instant::now();
        plugin.run(run, backend).await.expect("run");
        host_only.push(started.elapsed());
    }
    let host_only = median(host_only);

    // The floor: requests that do nothing, over the same transport.
    let mut floor = Vec::new();
    for _ in 0..rounds("http-floor") {
        let repo = fresh_design().await;
        let (backend, server) = infragen_tests::served_over_http(&repo.store).await;
        let started = Instant::now();
        for _ in 0..WIDGETS {
            let data = backend
                .query("main", "{ __typename }", &json!({}))
                .await
                .expect("query");
            assert_eq!(data, json!({ "__typename": "Query" }));
        }
        floor.push(started.elapsed());
        server.abort();
    }
    let floor = median(floor);

    let per_write = |total: Duration| total.as_secs_f64() * 1e6 / WIDGETS as f64;
    let line = |what: &str, total: Duration, compared: String| {
        if !total.is_zero() {
            println!(
                "{what:<40}{:>8.1} ms   {:>6.1} µs/write{compared}",
                total.as_secs_f64() * 1e3,
                per_write(total)
            );
        }
    };
    // A ratio to the in-process run only when both were measured.
    let to_in_process = |total: Duration, text: &dyn Fn(f64) -> String| {
        if in_process.is_zero() || total.is_zero() {
            String::new()
        } else {
            text(total.as_secs_f64() / in_process.as_secs_f64())
        }
    };
    line(
        "1,000-upsert run, in-process store",
        in_process,
        String::new(),
    );
    line(
        "1,000-upsert run, store over HTTP",
        over_http,
        to_in_process(over_http, &|ratio| format!("   ({ratio:.2}x in-process)")),
    );
    line(
        "the same, one commit per write",
        per_write_commits,
        if over_http.is_zero() || per_write_commits.is_zero() {
            String::new()
        } else {
            format!(
                "   ({:.2}x the run in one transaction)",
                per_write_commits.as_secs_f64() / over_http.as_secs_f64()
            )
        },
    );
    line(
        "1,000 `{ __typename }` queries over HTTP",
        floor,
        if over_http.is_zero() || floor.is_zero() {
            String::new()
        } else {
            format!(
                "   ({:.0}% of the run over HTTP)",
                100.0 * floor.as_secs_f64() / over_http.as_secs_f64()
            )
        },
    );
    line(
        "1,000 upserts, host only (no store)",
        host_only,
        to_in_process(host_only, &|ratio| {
            format!("   ({:.0}% of the in-process run)", 100.0 * ratio)
        }),
    );
}
