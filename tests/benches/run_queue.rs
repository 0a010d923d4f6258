//! Run queue benchmark: prints figures, asserts nothing beyond every cascade succeeding.
//!
//! `cargo bench -p infragen-tests --bench run_queue`:
//!
//! - **Per run**: what the durable run queue costs one run — its enqueueing (one
//!   write transaction deciding run, join or skip), its start and its end (two small
//!   commits), and its share of the round's change counts — on a store file whose history
//!   is empty and on one holding 20,000 ended runs: the cost does not grow with the
//!   history (every lookup is an index probe on the run's key).
//! - **Seed**: the AI/DC seed built by its two cascades (as `benches/cascade.rs` builds
//!   it) with the run queue and without it (`Cascade::with_run_queue(None)`), in turn,
//!   five times each: the ratio of the medians is the queue's share of a real cascade.
//!
//! The machine is shared and noisy: compare figures within one run.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::design;
use infragen::backend::Backend;
use infragen::cascade::{Cascade, CascadeConfig, Start};
use infragen::embedded::EmbeddedBackend;
use infragen::repository::Repository;
use infragen::runner::TargetSelection;
use infragen::sync::sync_repository;
use infragen_store::{ClaimOwner, Enqueued, NewRun, RunResult, RunStatus, Store};
use serde_json::{Map, Value};

const SAMPLES: usize = 5;
const RUNS: usize = 500;
const HISTORY: usize = 20_000;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn new_run(target: usize) -> NewRun {
    NewRun {
        branch: "main".into(),
        generator: "generate-rack".into(),
        target: format!("target-{target}"),
        target_label: format!("Rack-{target}"),
        causes: r#"[{"kind":"rule","rule":"rack-checksum"}]"#.into(),
        attempt: 1,
        newest_event: Some(target as i64),
    }
}

/// One run's whole life in the queue: enqueued, started, finished, counted.
fn one_run(store: &Store, owner: &ClaimOwner, target: usize) {
    let decided = store
        .enqueue_runs(&[new_run(target)], owner)
        .expect("enqueue");
    let [Enqueued::Queued(id)] = decided[..] else {
        panic!("{decided:?}")
    };
    store.start_run(id, target as i64).expect("start");
    store
        .finish_run(
            id,
            RunStatus::Succeeded,
            &RunResult {
                created: 12,
                kept: 40,
                deleted: 0,
                error: None,
                log: r#"{"lines":[{"level":"info","message":"rack done"}],"bytes":9,"truncated":false}"#
                    .into(),
            },
        )
        .expect("finish");
    store.set_run_changes(&[(id, 12, 3)]).expect("changes");
}

fn per_run(history: usize) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("store.db")).expect("store");
    let owner = ClaimOwner::current();
    for target in 0..history {
        one_run(&store, &owner, 1_000_000 + target);
    }
    let mut samples = Vec::new();
    for sample in 0..SAMPLES {
        let started = Instant::now();
        for run in 0..RUNS {
            one_run(&store, &owner, sample * RUNS + run);
        }
        samples.push(started.elapsed() / RUNS as u32);
    }
    median(samples)
}

/// The seed's two cascades on a fresh store: their wall time and their runs.
async fn seed(root: &std::path::Path, cache: &std::path::Path, queued: bool) -> (Duration, usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("store.db")).expect("store opens");
    let repository = Arc::new(Repository::open(root).expect("repository opens"));
    let backend: Arc<dyn Backend> = Arc::new(EmbeddedBackend::new(store.clone()));
    sync_repository(&store, &repository, backend.as_ref(), "main")
        .await
        .expect("the repository syncs");
    store.create_branch("br1").expect("branch");
    let runner = common::runner(repository, backend, 4, cache);
    let mut cascade = Cascade::new(runner, Arc::new(store.clone()), CascadeConfig::default());
    if !queued {
        cascade = cascade.with_run_queue(None);
    }
    let started = Instant::now();
    let mut runs = 0;
    for fabric in ["Fabric-A", "Fabric-B"] {
        let mut parameters = Map::new();
        parameters.insert("fabric_name".to_owned(), Value::from(fabric));
        let report = cascade
            .run(
                "br1",
                Start::Definition {
                    name: "generate-fabric".to_owned(),
                    selection: TargetSelection::Matching(parameters),
                },
            )
            .await
            .expect("the cascade runs");
        assert!(report.is_success(), "{report}");
        runs += report.runs.len();
    }
    (started.elapsed(), runs)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("run queue");
    let empty = per_run(0);
    let full = per_run(HISTORY);
    println!(
        "  per run (enqueue + start + finish + change counts), median of {SAMPLES}×{RUNS}: \
         {:.1} µs with an empty history, {:.1} µs with {HISTORY} runs kept ({:.2}×)",
        empty.as_secs_f64() * 1e6,
        full.as_secs_f64() * 1e6,
        full.as_secs_f64() / empty.as_secs_f64()
    );

    let seed_design = design(1);
    let cache = tempfile::tempdir().expect("cache dir");
    // Compiles the components into the cache first.
    let (_, runs) = seed(&seed_design.root, cache.path(), true).await;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        without.push(seed(&seed_design.root, cache.path(), false).await.0);
        with.push(seed(&seed_design.root, cache.path(), true).await.0);
    }
    let (with, without) = (median(with), median(without));
    println!(
        "  the seed's two cascades ({runs} runs), medians of {SAMPLES} in turn: {:.3} s with \
         the run queue, {:.3} s without: {:.3}×",
        with.as_secs_f64(),
        without.as_secs_f64(),
        with.as_secs_f64() / without.as_secs_f64()
    );
}
