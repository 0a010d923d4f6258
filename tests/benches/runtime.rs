//! Runtime benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p infragen-tests --bench runtime` measures
//! - compile time of a plugin (Cranelift, no cache) and cached load time,
//! - store + instantiate + `generate` + drop of a no-op plugin and of the
//!   example plugin (23 host calls against an in-memory backend), p50/p99,
//! - the round trip of one host call, from the difference between a run
//!   making 200,000 calls and one making none.
//!
//! Machines here are shared and noisy; compare figures within one run.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use infragen::runtime::{Plugin, Runtime};
use infragen_tests::{RecordingBackend, fresh_guest, request};
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn runtime(cache: Option<&Path>) -> Runtime {
    Runtime::builder()
        .max_concurrent_runs(4)
        .cache_dir(cache.map(Path::to_owned))
        .build()
        .expect("runtime")
}

async fn time_runs(
    plugin: &Plugin,
    params: serde_json::Value,
    runs: usize,
    fresh_backend: bool,
) -> Vec<Duration> {
    let mut backend = Arc::new(RecordingBackend::default());
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        if fresh_backend {
            // Keep the recording double from growing across thousands of runs.
            backend = Arc::new(RecordingBackend::default());
            backend.insert(
                "target-1",
                "ExampleTarget",
                json!({ "name": { "value": "alpha" } }),
            );
        }
        let mut run = request(
            "bench",
            ("target-1", "ExampleTarget", "Alpha"),
            params.clone(),
        );
        run.limits.max_host_calls = 1_000_000;
        let started = Instant::now();
        plugin
            .run(run, backend.clone())
            .await
            .expect("run succeeds");
        samples.push(started.elapsed());
    }
    samples.sort();
    samples
}

fn report(name: &str, samples: &[Duration]) {
    println!(
        "{name:<44} p50 {:>8.1} µs   p99 {:>8.1} µs   ({} runs)",
        micros(percentile(samples, 0.5)),
        micros(percentile(samples, 0.99)),
        samples.len()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let example = fresh_guest("example-generator");
    let bench = fresh_guest("bench-guest");
    let example_size = std::fs::metadata(&example).expect("example").len();

    // Compile without cache, three times, fresh engine each time.
    let mut compiles = Vec::new();
    for _ in 0..3 {
        let runtime = runtime(None);
        let started = Instant::now();
        runtime.load(&example).await.expect("load");
        compiles.push(started.elapsed());
    }
    compiles.sort();
    let compile = compiles[1];
    println!(
        "compile example plugin ({} KB)              {:>8.1} ms   ({:.2} s/MB)",
        example_size / 1000,
        compile.as_secs_f64() * 1e3,
        compile.as_secs_f64() / (example_size as f64 / 1e6)
    );

    // Cached load: a new runtime (new process, in effect) finds the artifact.
    let cache = tempfile::tempdir().expect("cache dir");
    runtime(Some(cache.path()))
        .load(&example)
        .await
        .expect("warm the cache");
    let mut loads = Vec::new();
    for _ in 0..20 {
        let runtime = runtime(Some(cache.path()));
        let started = Instant::now();
        runtime.load(&example).await.expect("cached load");
        loads.push(started.elapsed());
        assert_eq!(runtime.stats().compiled, 0);
    }
    loads.sort();
    println!(
        "cached load of the example plugin            p50 {:>8.2} ms   ({:.0}x faster than compiling)",
        loads[10].as_secs_f64() * 1e3,
        compile.as_secs_f64() / loads[10].as_secs_f64()
    );

    let shared = runtime(Some(cache.path()));
    let noop = shared.load(&bench).await.expect("bench guest");
    let example_plugin = shared.load(&example).await.expect("example");

    time_runs(&noop, json!({}), 500, false).await; // warm-up
    report(
        "instantiate + generate (no-op plugin)",
        &time_runs(&noop, json!({}), 5000, false).await,
    );
    time_runs(&example_plugin, json!({ "name": "alpha" }), 200, true).await; // warm-up
    report(
        "instantiate + generate (example, 23 calls)",
        &time_runs(&example_plugin, json!({ "name": "alpha" }), 2000, true).await,
    );

    const CALLS: u64 = 200_000;
    let mut per_call = Vec::new();
    for _ in 0..5 {
        let none = time_runs(&noop, json!({ "calls": 0 }), 1, false).await[0];
        let many = time_runs(&noop, json!({ "calls": CALLS }), 1, false).await[0];
        per_call.push(many.saturating_sub(none).as_secs_f64() * 1e9 / CALLS as f64);
    }
    per_call.sort_by(f64::total_cmp);
    println!(
        "host call round trip (tracking.written)      median {:>6.0} ns   (min {:.0}, max {:.0}, 5 runs of {CALLS})",
        per_call[2], per_call[0], per_call[4]
    );
    println!("allocator: {:?}", shared.allocator());
}
