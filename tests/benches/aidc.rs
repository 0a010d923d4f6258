//! The AI/DC seed design end to end, in-process: prints figures, asserts
//! nothing (beyond every run succeeding).
//!
//! `cargo bench -p infragen-tests --bench aidc`: for each pass, a fresh
//! embedded store in a temp dir, the repository imported on `main` as
//! `infragen sync` does (schema, seed objects, generator definitions, trigger
//! rules), branch `br1`, then generate-fabric, generate-pod and generate-rack
//! over their whole target groups, one tier after the other, at the CLI's
//! default concurrency (4), through `infragen::runner::Runner` (what
//! `infragen generator --no-cascade` runs) and the embedded backend
//! (typed calls into the store). The trigger rules are loaded but nothing follows them here
//! (the cascade has its own bench, `cascade`).
//!
//! Pass 1 starts with an empty artifact cache (the three components are
//! compiled); passes 2–4 reuse it, and their median is reported. A re-run of
//! the three tiers on the last pass's store (which changes nothing) is timed
//! too. Writes are the `written` figures of the runner's reports (nodes the
//! runs upserted or allocated as their output); changed stamps (interface
//! status, downstream checksums) are shown next to them, not counted.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use infragen::backend::Backend;
use infragen::embedded::EmbeddedBackend;
use infragen::repository::Repository;
use infragen::runner::{Runner, TargetOutcome, TargetSelection};
use infragen::sync::sync_repository;
use infragen_tests::{fresh_guest, workspace_root};

const TIERS: [&str; 3] = ["generate-fabric", "generate-pod", "generate-rack"];
const CONCURRENCY: usize = 4;
const PASSES: usize = 4;

struct Pass {
    sync: Duration,
    tiers: [Duration; 3],
    written: [usize; 3],
    stamps: [usize; 3],
    targets: [usize; 3],
}

fn repository() -> Arc<Repository> {
    Arc::new(Repository::open(&workspace_root()).expect("repository opens"))
}

fn backend(store: &infragen_store::Store) -> Arc<dyn Backend> {
    Arc::new(EmbeddedBackend::new(store.clone()))
}

fn runner(store: &infragen_store::Store, cache: &std::path::Path) -> Runner {
    common::runner(repository(), backend(store), CONCURRENCY, cache)
}

async fn tiers(runner: &Runner) -> ([Duration; 3], [usize; 3], [usize; 3], [usize; 3]) {
    let mut times = [Duration::ZERO; 3];
    let mut written = [0; 3];
    let mut stamps = [0; 3];
    let mut targets = [0; 3];
    for (i, definition) in TIERS.iter().enumerate() {
        let started = Instant::now();
        let report = runner
            .run_definition(definition, "br1", &TargetSelection::All, CONCURRENCY)
            .await
            .expect("definition runs");
        times[i] = started.elapsed();
        assert_eq!(report.failed(), 0, "{report}");
        targets[i] = report.targets.len();
        written[i] = report
            .targets
            .iter()
            .map(|t| match &t.outcome {
                TargetOutcome::Succeeded { written, .. } => *written,
                TargetOutcome::Failed { .. } => 0,
            })
            .sum();
        stamps[i] = report
            .targets
            .iter()
            .map(|t| match &t.outcome {
                TargetOutcome::Succeeded { stamps_changed, .. } => *stamps_changed,
                TargetOutcome::Failed { .. } => 0,
            })
            .sum();
    }
    (times, written, stamps, targets)
}

async fn pass(cache: &std::path::Path) -> (Pass, tempfile::TempDir, infragen_store::Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let store = infragen_store::Store::open(dir.path().join("store.db")).expect("store opens");
    sync_repository(&store, &repository(), backend(&store).as_ref(), "main")
        .await
        .expect("the repository syncs");
    store.create_branch("br1").expect("branch");
    let sync = started.elapsed();
    let runner = runner(&store, cache);
    let (tiers, written, stamps, targets) = tiers(&runner).await;
    (
        Pass {
            sync,
            tiers,
            written,
            stamps,
            targets,
        },
        dir,
        store,
    )
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:8.1} ms", d.as_secs_f64() * 1000.0)
}

fn rate(writes: usize, d: Duration) -> String {
    format!("{:8.0} writes/s", writes as f64 / d.as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("AI/DC seed design end to end, in-process, concurrency {CONCURRENCY}");
    println!("plugin sizes:");
    for plugin in TIERS {
        let bytes = std::fs::metadata(fresh_guest(plugin))
            .expect("plugin built")
            .len();
        println!(
            "  {plugin:<16} {:7.1} KB ({bytes} bytes)",
            bytes as f64 / 1000.0
        );
    }

    let cache = tempfile::tempdir().expect("cache dir");
    let mut passes = Vec::new();
    let mut last = None;
    for _ in 0..PASSES {
        let (p, dir, store) = pass(cache.path()).await;
        passes.push(p);
        last = Some((dir, store));
    }

    let show = |label: &str, p: &Pass| {
        println!("{label}");
        println!(
            "  sync (schema, objects, definitions, rules) and branch {}",
            ms(p.sync)
        );
        for (i, definition) in TIERS.iter().enumerate() {
            println!(
                "  {definition:<16} {:2} targets {} {:5} written {} (+{} changed stamps)",
                p.targets[i],
                ms(p.tiers[i]),
                p.written[i],
                rate(p.written[i], p.tiers[i]),
                p.stamps[i]
            );
        }
        let total: Duration = p.tiers.iter().sum();
        let written: usize = p.written.iter().sum();
        println!(
            "  three tiers      {:2} targets {} {written:5} written {}",
            p.targets.iter().sum::<usize>(),
            ms(total),
            rate(written, total)
        );
        println!("  total with sync             {}", ms(total + p.sync));
    };
    show(
        "pass 1 (cold: components compiled into an empty cache)",
        &passes[0],
    );

    let warm = &passes[1..];
    let med = |f: &dyn Fn(&Pass) -> Duration| median(warm.iter().map(f).collect());
    let median_pass = Pass {
        sync: med(&|p| p.sync),
        tiers: [
            med(&|p| p.tiers[0]),
            med(&|p| p.tiers[1]),
            med(&|p| p.tiers[2]),
        ],
        written: warm[0].written,
        stamps: warm[0].stamps,
        targets: warm[0].targets,
    };
    show(
        &format!("median of passes 2–{PASSES} (warm cache)"),
        &median_pass,
    );
    let totals: Vec<String> = warm
        .iter()
        .map(|p| {
            ms(p.tiers.iter().sum::<Duration>() + p.sync)
                .trim()
                .to_owned()
        })
        .collect();
    println!("  (warm totals with sync: {})", totals.join(", "));

    // Re-running everything on a generated store: every write is kept.
    let (_dir, store) = last.expect("a pass ran");
    let runner = runner(&store, cache.path());
    let (times, written, stamps, _) = tiers(&runner).await;
    let total: Duration = times.iter().sum();
    println!("re-run of the three tiers on a generated store (changes nothing)");
    for (i, definition) in TIERS.iter().enumerate() {
        println!(
            "  {definition:<16} {} {:5} kept, {} changed stamps",
            ms(times[i]),
            written[i],
            stamps[i]
        );
    }
    println!("  three tiers      {}", ms(total));
}
