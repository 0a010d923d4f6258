//! Run claims benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p infragen-tests --bench claims`: what claiming a run costs (a claim and
//! its release, two small SQLite commits on the store file) against a whole run of the
//! widgets generator on that store (a re-run writing 3 unchanged widgets, bookkeeping
//! included), measured in turn in one process: the claim's share of a run. Each figure is
//! the median of its samples; the machine is shared, so compare figures within one run.

use std::time::{Duration, Instant};

use infragen_store::ClaimOwner;
use infragen_tests::WidgetRepository;
use serde_json::json;

const SAMPLES: usize = 7;
const CLAIMS: usize = 200;
const RUNS: usize = 20;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let repo = WidgetRepository::new().await;
    // The first run creates; the measured ones re-run.
    repo.run("widgets", json!({ "set": "alpha" })).await;
    let owner = ClaimOwner::current();
    let (mut claims, mut runs) = (Vec::new(), Vec::new());
    for sample in 0..SAMPLES {
        let started = Instant::now();
        for i in 0..CLAIMS {
            let key = format!("main\u{1f}bench\u{1f}{sample}-{i}");
            repo.store.claim_run(&key, &owner).expect("claim");
            repo.store.release_run(&key, &owner).expect("release");
        }
        claims.push(started.elapsed() / CLAIMS as u32);

        let started = Instant::now();
        for _ in 0..RUNS {
            let report = repo.run("widgets", json!({ "set": "alpha" })).await;
            assert_eq!(report.failed(), 0, "{report}");
        }
        runs.push(started.elapsed() / RUNS as u32);
    }
    let (claim, run) = (median(claims), median(runs));
    println!("run claims");
    println!(
        "  claim + release: {:8.1} µs; a whole (re-)run: {:8.1} µs; the claim is {:.1}% of a run",
        claim.as_secs_f64() * 1e6,
        run.as_secs_f64() * 1e6,
        100.0 * claim.as_secs_f64() / run.as_secs_f64()
    );
}
