//! The AI/DC design built by cascades, at the seed's size and at 4×, 16× and
//! 64× it: prints figures, asserts nothing beyond every cascade succeeding.
//!
//! ```text
//! cargo bench -p infragen-tests --bench cascade               # seed, 4x, 16x
//! cargo bench -p infragen-tests --bench cascade -- 16x        # seed and 16x
//! cargo bench -p infragen-tests --bench cascade -- seed 64x   # seed and 64x
//! CASCADE_BENCH_SIZES=1,4,16,64 cargo bench … --bench cascade # every size
//! CASCADE_BENCH_CONCURRENCY=1,8 cargo bench … --bench cascade # other levels
//! CASCADE_BENCH_REPEAT=5,16 cargo bench … --bench cascade     # 16x five times, only
//! CASCADE_BENCH_PHASES=1 cargo bench … --bench cascade         # a breakdown of every size
//! ```
//!
//! A measurement is: a fresh embedded store in a temp dir, the repository
//! imported on `main` as `infragen sync` does (timed apart, as *sync*),
//! branch `br1`, then one `generate-fabric fabric_name=…` cascade per fabric,
//! one after the other, through `infragen::cascade::Cascade` and the
//! embedded backend (typed calls into the store). Each cascade runs the fabric, then the pods
//! its stamps trigger, then the racks theirs. *Wall* is the time of all the
//! cascades together, with the cascade's concurrency and the runtime's
//! concurrent-run limit both set to the measured level (default 4, the
//! CLI's).
//!
//! Designs (see `common::design`): the **seed** (Fabric-A and Fabric-B, 48
//! devices, 160 links) and the seed's two fabrics copied 4, 16 or 64 times
//! under new names (`Fabric-A` → `Fabric-A01` …), each copy cabled and
//! addressed as the seed is. The seed is always measured (three times; the
//! median is its figure) because every other size is given as a ratio to
//! it: *×seed* is the size's wall time over the seed's, *×linear* that ratio
//! over the number of copies (1.00 is linear; the goal is ≤ 1.25). The
//! goal for the seed itself is ≤ 0.5 s. On a shared machine the speed drifts
//! by tens of percent within minutes, so the seed is also measured three times
//! after each size, and a line under the size gives the seed samples just
//! before and after it, and ×linear against their median.
//!
//! *CPU* is the process's CPU time (user + system, all threads: generators,
//! store, runtime) over the cascades, from `getrusage`, including a checkpoint of the
//! WAL when they end (the copy of their pages into the database file, which the store
//! does on a thread of its own as the WAL grows) and the drop of the build's store and
//! runtime (a large build's node cache frees most of its views inside the span as it
//! evicts them; the seed's never fills, and frees them all there); *writes* the node
//! writes of the store's event log over the same span (created + updated +
//! deleted events); *µs/write* is CPU over writes (goal ≤ 50 µs); *cores* is CPU over
//! wall up to that drop, the cores the cascades kept busy. It stays near one at any
//! concurrency: a run holds the store's write turn from its start to its commit
//! (`store/src/run.rs`), so the runs of a round take turns, and only what lies outside
//! a run overlaps.
//!
//! *Atomic runs* (each run's writes kept in memory and committed at once,
//! each checked for ownership: the default) are compared with *per-write
//! commits* (every write its own SQLite transaction, as before atomic runs
//! and as over HTTP) and with atomic runs *without the ownership check* (the
//! store computes no write effects; the host checks only named ids): the
//! seed is measured in the three modes in turn, and the ratios of their
//! median walls and CPU to the default's are printed.
//!
//! *Where the CPU goes*: three more seed builds with the host's and the store's phase spans
//! timed (see `phases`: a plugin's queries, node writes, allocations; a run's commit and its
//! parts; the tracking groups; …; the CPU time of the thread inside each span), and the
//! median of each phase per build and per write,
//! down to what the phases leave of the CPU time. Timing the spans costs those builds ~5%
//! more CPU, most of it counted in the "rest" lines; the figures above are from builds
//! with no span timed. With `CASCADE_BENCH_PHASES` set, one more build of each larger size
//! is broken down the same way (and each repeated build, with `CASCADE_BENCH_REPEAT`).
//! Under each breakdown, the WAL frames (pages) those builds' commits appended per node
//! write, by the table or index each page belongs to (`infragen_store::diagnostics` counts
//! them as the store's VFS writes them; SQLite's `dbstat` names the pages' B-trees): what
//! a commit writes, and what grows with the design.
//!
//! 64× is not measured unless named (it builds 128 fabrics; at 1.25× linear
//! with a 0.5 s seed that is under 40 s, but with a store slower than its
//! goals it takes far longer). One seed measurement at the first level, not
//! reported, compiles the three components into an empty artifact cache
//! first. The bench's own Tokio runtime has two worker threads, like the
//! machines it is run on.

mod common;
mod phases;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Design, Writes, cascade, cpu_time, design, generate_fabric, writes_since};
use infragen::backend::Backend;
use infragen::embedded::EmbeddedBackend;
use infragen::repository::Repository;
use infragen::sync::sync_repository;
use infragen_store::Store;
use infragen_tests::{Relay, RelayHooks, graphql};

/// Concurrency measured unless `CASCADE_BENCH_CONCURRENCY` names others:
/// the CLI's default.
const CONCURRENCY: usize = 4;
/// Sizes (copies of the seed's fabrics) measured unless named.
const SIZES: [usize; 3] = [1, 4, 16];
/// Seed measurements per level; their median is the seed's figure.
const SEED_SAMPLES: usize = 3;
/// The branch the cascades run on (the repository is synced on `main`).
const BRANCH: &str = "br1";

/// The embedded backend changed for a comparison (see [`Commits`]): the checked writes
/// take the trait's plain defaults, so the store computes no write effects and the host
/// checks only the ids a request names (as over HTTP); with [`Commits::PerWrite`] no run
/// is begun, so every write commits on its own.
struct Variant(Commits);

impl RelayHooks for Variant {
    fn runs(&self) -> bool {
        self.0 != Commits::PerWrite
    }
    fn checks(&self) -> bool {
        false
    }
}

/// How runs commit.
#[derive(Clone, Copy, PartialEq)]
enum Commits {
    /// One commit per run, each write checked for ownership (the default).
    Atomic,
    /// One commit per run, no ownership check.
    AtomicUnchecked,
    /// One commit per write.
    PerWrite,
}

/// One measurement.
struct Measurement {
    sync: Duration,
    wall: Duration,
    /// Wall time of the first and of the last cascade.
    first: Duration,
    last: Duration,
    cascades: usize,
    runs: usize,
    devices: i64,
    links: i64,
    cpu: Duration,
    /// CPU over wall until the drop of the store and runtime: the cores the cascades kept
    /// busy.
    cores: f64,
    writes: Writes,
    /// The WAL frames the cascades appended, by table or index (builds with their phases
    /// timed only).
    frames: Option<BTreeMap<String, u64>>,
}

async fn count(store: &Store, kind: &str) -> i64 {
    graphql(store, BRANCH, &format!("{{ {kind} {{ count }} }}")).await[kind]["count"]
        .as_i64()
        .expect("count")
}

/// Syncs `design` into a fresh store, then builds every fabric with one
/// cascade each at `concurrency`.
async fn measure(design: &Design, concurrency: usize, cache: &std::path::Path) -> Measurement {
    measure_with(design, concurrency, cache, Commits::Atomic).await
}

/// [`measure`], with the time inside each phase span over the cascades.
async fn measure_phases(
    design: &Design,
    concurrency: usize,
    cache: &std::path::Path,
) -> (Measurement, BTreeMap<&'static str, Duration>) {
    let mut phases = BTreeMap::new();
    let m = measure_recording(
        design,
        concurrency,
        cache,
        Commits::Atomic,
        Some(&mut phases),
    )
    .await;
    (m, phases)
}

async fn measure_with(
    design: &Design,
    concurrency: usize,
    cache: &std::path::Path,
    commits: Commits,
) -> Measurement {
    measure_recording(design, concurrency, cache, commits, None).await
}

/// [`measure_with`]; with `phases`, the phase spans are timed over the cascades (and
/// their WAL checkpoint) into it.
async fn measure_recording(
    design: &Design,
    concurrency: usize,
    cache: &std::path::Path,
    commits: Commits,
    phases: Option<&mut BTreeMap<&'static str, Duration>>,
) -> Measurement {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("store.db")).expect("store opens");
    let repository = Arc::new(Repository::open(&design.root).expect("repository opens"));
    let embedded = EmbeddedBackend::new(store.clone());
    let backend: Arc<dyn Backend> = match commits {
        Commits::Atomic => Arc::new(embedded),
        commits => Arc::new(Relay::new(Arc::new(embedded), Variant(commits))),
    };

    let started = Instant::now();
    sync_repository(&store, &repository, backend.as_ref(), "main")
        .await
        .expect("the repository syncs");
    store.create_branch(BRANCH).expect("branch");
    let sync = started.elapsed();

    let cascade = cascade(&store, repository, backend, concurrency, cache);

    let mut runs = 0;
    let mut cascades = Vec::new();
    let seq = store.last_event_seq().expect("last event");
    let db = dir.path().join("store.db");
    // The sync's pages into the database file before the clock starts, the cascades'
    // before it stops: their checkpoint is part of their cost, wherever it runs.
    checkpoint(&db);
    let recording = phases.is_some().then(phases::Recording::start);
    if recording.is_some() {
        infragen_store::diagnostics::count_wal_frames();
    }
    let cpu_started = cpu_time();
    let started = Instant::now();
    for fabric in &design.fabrics {
        let cascade_started = Instant::now();
        let report = generate_fabric(&cascade, BRANCH, fabric).await;
        cascades.push(cascade_started.elapsed());
        runs += report.runs.len();
    }
    let wall = started.elapsed();
    let frames = recording
        .is_some()
        .then(|| infragen_store::diagnostics::counted_wal_frames(&db));
    let checkpoint_started = phases::thread_cpu();
    checkpoint(&db);
    let last_checkpoint = phases::thread_cpu() - checkpoint_started;
    // What the build keeps is freed inside its span too: a large build frees most of the
    // views its node cache held as the cache evicts them, while the seed's cache never
    // fills and held them all until the store went; counted only after the span, the
    // seed's writes looked ~2 µs cheaper than a large build's for no work of the store's.
    let before_teardown = cpu_time() - cpu_started;
    let teardown_started = phases::thread_cpu();
    drop(cascade);
    drop(store);
    let teardown = phases::thread_cpu() - teardown_started;
    let cpu = cpu_time() - cpu_started;
    if let (Some(recording), Some(phases)) = (recording, phases) {
        *phases = recording.finish();
        // The bench's own, on a connection of its own: no span.
        *phases.entry("wal_checkpoint").or_default() += last_checkpoint;
        *phases.entry("teardown").or_default() += teardown;
    }
    let store = Store::open(&db).expect("the store opens again to be counted");
    let frames = frames.map(|frames| frames_by_btree(&db, &frames));

    Measurement {
        sync,
        wall,
        first: cascades[0],
        last: cascades[cascades.len() - 1],
        cascades: cascades.len(),
        runs,
        devices: count(&store, "NetworkDevice").await,
        links: count(&store, "NetworkLink").await,
        cpu,
        cores: before_teardown.as_secs_f64() / wall.as_secs_f64(),
        writes: writes_since(&store, seq),
        frames,
    }
}

/// `frames` (WAL frames appended, by page number) by the table or index each page belongs
/// to in the store at `db` now (SQLite's `dbstat`); pages no B-tree holds any more (freed
/// since) count as "free pages".
fn frames_by_btree(db: &std::path::Path, frames: &BTreeMap<u32, u64>) -> BTreeMap<String, u64> {
    let conn = rusqlite::Connection::open(db).expect("the store opens for dbstat");
    let mut pages = conn
        .prepare("SELECT pageno, name FROM dbstat")
        .expect("dbstat");
    let owner: BTreeMap<u32, String> = pages
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("dbstat")
        .collect::<Result<_, _>>()
        .expect("dbstat rows");
    let mut by_btree: BTreeMap<&str, u64> = BTreeMap::new();
    for (page, count) in frames {
        let name = owner.get(page).map_or("free pages", String::as_str);
        *by_btree.entry(name).or_default() += count;
    }
    by_btree
        .into_iter()
        .map(|(name, count)| (name.to_owned(), count))
        .collect()
}

/// Copies every page committed to the store at `db` from its WAL into the database file
/// (`PASSIVE`: what the store's own checkpoints do, on a connection of its own).
fn checkpoint(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).expect("the store opens for a checkpoint");
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .expect("checkpoint");
}

/// Comma-separated numbers from environment variable `name`, or `default`.
fn numbers(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: comma-separated numbers"))
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}

/// The sizes to measure besides the seed: those the command line names
/// (`seed`, `4x`, `16x`, `64x`; flags such as cargo's `--bench` are
/// ignored), else `CASCADE_BENCH_SIZES`, else [`SIZES`].
fn sizes() -> Vec<usize> {
    let named: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .map(|arg| match arg.as_str() {
            "seed" => 1,
            other => other
                .trim_end_matches(['x', 'X'])
                .parse()
                .unwrap_or_else(|_| panic!("unknown section {other:?}: seed, 4x, 16x, 64x …")),
        })
        .collect();
    let mut sizes = if named.is_empty() {
        numbers("CASCADE_BENCH_SIZES", &SIZES)
    } else {
        named
    };
    sizes.retain(|&size| size > 1);
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

fn secs(d: Duration) -> String {
    format!("{:7.2} s", d.as_secs_f64())
}

fn header() {
    println!(
        "  {:>6} {:>9} {:>9} {:>9} {:>9} {:>8} {:>5} {:>7} {:>6} {:>7} {:>9} {:>5} {:>8} {:>6} {:>7}",
        "size",
        "sync",
        "wall",
        "first",
        "last",
        "cascades",
        "runs",
        "devices",
        "links",
        "writes",
        "cpu",
        "cores",
        "µs/write",
        "×seed",
        "×linear"
    );
}

fn row(label: &str, m: &Measurement, ratio: Option<(f64, usize)>) {
    let ratios = match ratio {
        Some((ratio, copies)) => format!(" {ratio:6.2} {:7.2}", ratio / copies as f64),
        None => String::new(),
    };
    println!(
        "  {label:>6} {} {} {} {} {:>8} {:>5} {:>7} {:>6} {:>7} {} {:>5.2} {:>8.1}{ratios}",
        secs(m.sync),
        secs(m.wall),
        secs(m.first),
        secs(m.last),
        m.cascades,
        m.runs,
        m.devices,
        m.links,
        m.writes.total(),
        secs(m.cpu),
        m.cores,
        m.cpu.as_secs_f64() * 1e6 / m.writes.total().max(1) as f64,
    );
}

/// A phase's time in milliseconds, zero where its span was never entered.
fn phase_ms(phases: &BTreeMap<&'static str, Duration>, name: &str) -> f64 {
    phases.get(name).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// One sample's lines of the breakdown, (indent, what, milliseconds): each phase of
/// [`phases::PHASES`], its parts and what they leave of it, then what the phases leave of
/// the CPU time.
fn phase_lines(
    m: &Measurement,
    phases: &BTreeMap<&'static str, Duration>,
) -> Vec<(usize, &'static str, f64)> {
    let mut lines = Vec::new();
    let mut phases_ms = 0.0;
    for &(phase, what) in phases::PHASES
        .iter()
        .filter(|(path, _)| !path.contains('>'))
    {
        let ms = phase_ms(phases, phase);
        phases_ms += ms;
        lines.push((0, what, ms));
        let parts: Vec<_> = phases::PHASES
            .iter()
            .filter(|(path, _)| phases::part_of(path, phase).is_some())
            .collect();
        let mut parts_ms = 0.0;
        for &&(part, what) in &parts {
            let part_ms = phase_ms(phases, part);
            parts_ms += part_ms;
            lines.push((1, what, part_ms));
        }
        if !parts.is_empty() {
            let rest = match phase {
                "plugin_run" => "the rest: the guests' own code, instantiation, host glue",
                "run_commit" => "the rest: the store's caches settled, the transaction dropped",
                "prepare" => "the rest: components loaded, the members' parameters",
                _ => "the rest",
            };
            lines.push((1, rest, ms - parts_ms));
        }
    }
    let cpu = m.cpu.as_secs_f64() * 1e3;
    lines.push((
        0,
        "the rest of the CPU: the cascades' own work, the runtime's threads",
        cpu - phases_ms,
    ));
    lines.push((0, "CPU", cpu));
    lines
}

/// Prints where the CPU of `samples` (builds of one design) goes, phase by phase: the
/// median over the samples of each line, per build and per write.
fn print_phases(label: &str, samples: &[(Measurement, BTreeMap<&'static str, Duration>)]) {
    let Some((first, _)) = samples.first() else {
        return;
    };
    let per_sample: Vec<Vec<(usize, &str, f64)>> = samples
        .iter()
        .map(|(m, phases)| phase_lines(m, phases))
        .collect();
    let writes = first.writes.total().max(1) as f64;
    println!(
        "  where {label}'s CPU goes (the host's and the store's phase spans timed, medians of \
         {}): ms per build, µs per write ({} writes)",
        samples.len(),
        first.writes.total()
    );
    for (line, (indent, what, _)) in per_sample[0].iter().enumerate() {
        let mut values: Vec<f64> = per_sample.iter().map(|lines| lines[line].2).collect();
        values.sort_by(f64::total_cmp);
        let ms = values[values.len() / 2];
        let pad = 64 - 2 * indent;
        println!(
            "    {:width$}{what:<pad$} {ms:8.1} {:7.1}",
            "",
            ms * 1e3 / writes,
            width = 2 * indent
        );
    }
    print_frames(samples.iter().map(|(m, _)| m));
}

/// Prints the WAL frames the cascades of `samples` appended per node write, by table or
/// index, over all of them: the B-trees that take nine tenths of the frames, then the rest.
fn print_frames<'m>(samples: impl Iterator<Item = &'m Measurement>) {
    let mut by_btree: BTreeMap<&str, u64> = BTreeMap::new();
    let mut writes = 0;
    for m in samples {
        let Some(frames) = &m.frames else { continue };
        writes += m.writes.total();
        for (name, count) in frames {
            *by_btree.entry(name).or_default() += count;
        }
    }
    let total: u64 = by_btree.values().sum();
    if writes == 0 || total == 0 {
        return;
    }
    let per_write = |count: u64| count as f64 / writes as f64;
    let mut by_btree: Vec<(&str, u64)> = by_btree.into_iter().collect();
    by_btree.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut shown = 0;
    let mut parts = Vec::new();
    for (name, count) in &by_btree {
        if shown * 10 >= total * 9 {
            break;
        }
        shown += count;
        parts.push(format!("{name} {:.3}", per_write(*count)));
    }
    if shown < total {
        parts.push(format!("the rest {:.3}", per_write(total - shown)));
    }
    println!(
        "  WAL frames (pages written) per node write: {:.2}; by table or index: {}",
        per_write(total),
        parts.join(", ")
    );
}

/// The seed with atomic runs (ownership checked), with atomic runs unchecked and with
/// per-write commits, in turn; prints the ratios of the medians to the default.
async fn compare_commits(seed: &Design, concurrency: usize, cache: &std::path::Path) {
    let (mut atomic, mut unchecked, mut per_write) = (Vec::new(), Vec::new(), Vec::new());
    for sample in 1..=SEED_SAMPLES {
        let m = measure_with(seed, concurrency, cache, Commits::PerWrite).await;
        row(&format!("pw#{sample}"), &m, None);
        per_write.push(m);
        let m = measure_with(seed, concurrency, cache, Commits::AtomicUnchecked).await;
        row(&format!("unch#{sample}"), &m, None);
        unchecked.push(m);
        atomic.push(measure_with(seed, concurrency, cache, Commits::Atomic).await);
    }
    let median = |samples: &mut Vec<Measurement>, key: fn(&Measurement) -> Duration| {
        samples.sort_by_key(key);
        key(&samples[samples.len() / 2]).as_secs_f64()
    };
    let wall = median(&mut atomic, |m| m.wall);
    let cpu = median(&mut atomic, |m| m.cpu);
    println!(
        "  seed, over atomic runs with ownership checks (medians of {SEED_SAMPLES}, in turn): \
         per-write commits wall {:.2}×, cpu {:.2}×; atomic without ownership checks wall \
         {:.2}×, cpu {:.2}×; writes (events) {} per-write against {} atomic",
        median(&mut per_write, |m| m.wall) / wall,
        median(&mut per_write, |m| m.cpu) / cpu,
        median(&mut unchecked, |m| m.wall) / wall,
        median(&mut unchecked, |m| m.cpu) / cpu,
        per_write[0].writes.total(),
        atomic[0].writes.total()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    phases::install();
    let every_size_phases = std::env::var_os("CASCADE_BENCH_PHASES").is_some();
    let concurrencies = numbers("CASCADE_BENCH_CONCURRENCY", &[CONCURRENCY]);
    let sizes = sizes();
    let cache = tempfile::tempdir().expect("cache dir");
    let seed = design(1);
    let started = Instant::now();

    measure(&seed, concurrencies[0], cache.path()).await;
    println!(
        "warm-up (seed, components compiled into an empty cache): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "(sync: the repository imported on main, and branch {BRANCH}; wall: the cascades, one \
         per fabric, one after the other; first, last: the first and the last cascade; \
         devices, links: on {BRANCH} afterwards; writes: node events (created + updated + \
         deleted) of the cascades; cpu: process CPU time over the cascades; ×seed: wall over \
         the seed's median wall; ×linear: ×seed over the copies)"
    );
    println!("goals: seed wall ≤ 0.5 s; ×linear ≤ 1.25; ≤ 50 µs/write");

    if let [repeat, copies] = numbers("CASCADE_BENCH_REPEAT", &[])[..] {
        // For a profiler or an A/B of two builds: one size, nothing else.
        let repeated = design(copies);
        header();
        let mut timed = Vec::new();
        for sample in 1..=repeat {
            let label = format!("{}#{sample}", repeated.label);
            if every_size_phases {
                let (m, phases) = measure_phases(&repeated, concurrencies[0], cache.path()).await;
                row(&label, &m, None);
                timed.push((m, phases));
            } else {
                let m = measure(&repeated, concurrencies[0], cache.path()).await;
                row(&label, &m, None);
            }
        }
        print_phases(&repeated.label, &timed);
        return;
    }
    for &concurrency in &concurrencies {
        println!("concurrency {concurrency}");
        header();
        let mut samples = Vec::new();
        for sample in 1..=SEED_SAMPLES {
            let m = measure(&seed, concurrency, cache.path()).await;
            row(&format!("seed#{sample}"), &m, None);
            samples.push(m);
        }
        samples.sort_by_key(|m| m.wall);
        let seed_m = &samples[samples.len() / 2];
        row("seed", seed_m, Some((1.0, 1)));
        compare_commits(&seed, concurrency, cache.path()).await;
        let mut timed = Vec::new();
        for _ in 0..SEED_SAMPLES {
            timed.push(measure_phases(&seed, concurrency, cache.path()).await);
        }
        print_phases("the seed", &timed);
        // The seed samples just before the next size.
        let mut before: Vec<Duration> = samples.iter().map(|m| m.wall).collect();
        for &copies in &sizes {
            let larger = design(copies);
            let m = measure(&larger, concurrency, cache.path()).await;
            let mut after = Vec::new();
            for _ in 0..SEED_SAMPLES {
                after.push(measure(&seed, concurrency, cache.path()).await.wall);
            }
            let mut around: Vec<Duration> = before.iter().chain(&after).copied().collect();
            around.sort();
            let seed_around = (around[around.len() / 2 - 1] + around[around.len() / 2]) / 2;
            let ratio = m.wall.as_secs_f64() / seed_m.wall.as_secs_f64();
            row(&larger.label, &m, Some((ratio, copies)));
            println!(
                "  (the seed just before and after {}: {} s; against their median: ×linear {:.2})",
                larger.label,
                around
                    .iter()
                    .map(|wall| format!("{:.2}", wall.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join(" "),
                m.wall.as_secs_f64() / seed_around.as_secs_f64() / copies as f64
            );
            before = after;
            if every_size_phases {
                let timed = measure_phases(&larger, concurrency, cache.path()).await;
                print_phases(&larger.label, &[timed]);
            }
            if m.devices != seed_m.devices * copies as i64
                || m.links != seed_m.links * copies as i64
            {
                println!(
                    "  note: {} holds {:.2}× the seed's devices and {:.2}× its links",
                    larger.label,
                    m.devices as f64 / seed_m.devices as f64,
                    m.links as f64 / seed_m.links as f64
                );
            }
        }
    }
    println!("total bench time {:.1} s", started.elapsed().as_secs_f64());
}
