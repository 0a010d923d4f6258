//! The AI/DC design built by cascades (issue 7): prints figures, asserts
//! nothing beyond every cascade succeeding.
//!
//! `cargo bench -p infragen-tests --bench cascade`. A measurement is: a fresh
//! embedded store in a temp dir, the repository imported on `main` as
//! `infragen sync` does (timed apart, as *sync*), branch `b1`, then one
//! `generate-fabric fabric_name=…` cascade per fabric, one after the other,
//! through `infragen::cascade::Cascade` and the in-process GraphQL transport.
//! Each cascade runs the fabric, then the pods its stamps trigger, then the
//! racks theirs. *Wall* is the time of all the cascades together, with the
//! cascade's concurrency and the runtime's concurrent-run limit both set to
//! the measured level.
//!
//! Two designs:
//!
//! - **seed**: the repository as it is (Fabric-A and Fabric-B, 48 devices,
//!   160 links);
//! - **16×**: a generated repository holding the seed's two fabrics 16 times
//!   over. Copy `NN` of a design name gets `NN` after the fabric letter
//!   (`Fabric-A` → `Fabric-A01`, `Pod-A2` → `Pod-A01-2`, `Rack-B3-4` →
//!   `Rack-B01-3-4`, `Hall-A1` → `Hall-A01-1`); every name the generators
//!   derive (hostnames, pools, links) comes from those, so copies never
//!   collide, and each fabric takes its own /16 from `FabricSupernetPool`.
//!   Indexes, sizes and templates are the seed's, so each copy is cabled and
//!   addressed as the seed is. Its device and link counts are printed next to
//!   the seed's.
//!
//! Both run at concurrency 1, 2, 8 and 32 on a warm artifact cache (one
//! seed measurement first, not reported, compiles the three components).
//! The bench's own Tokio runtime has two worker threads, like the machines
//! it is run on.
//!
//! Slow on purpose: the 16× design takes 13–14 minutes per level on two
//! cores today, close to an hour in all, because each of its cascades is
//! slower than the one before (the store's cost per write grows with what the
//! branch already holds; *first* and *last* show it).
//! `CASCADE_BENCH_CONCURRENCY=1,8` measures only the levels it names.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use infragen::backend::Backend;
use infragen::cascade::{Cascade, CascadeConfig, Start};
use infragen::client::GraphqlBackend;
use infragen::policy::RuntimePolicy;
use infragen::repository::Repository;
use infragen::runner::{Runner, TargetSelection};
use infragen::runtime::Runtime;
use infragen::sync::sync_repository;
use infragen::transport::InProcess;
use infragen_store::Store;
use infragen_tests::{graphql, workspace_root};
use serde_json::{Map, Value};

/// Concurrency levels measured, unless `CASCADE_BENCH_CONCURRENCY` names
/// others (`CASCADE_BENCH_CONCURRENCY=1,8`: the 16× design takes minutes per
/// level).
const CONCURRENCIES: [usize; 4] = [1, 2, 8, 32];
/// Copies of the seed's fabrics in the larger design.
const COPIES: usize = 16;
/// The seed's fabrics, each built by one cascade.
const SEED_FABRICS: [&str; 2] = ["Fabric-A", "Fabric-B"];
/// The seed's object files that hold design names (fabrics, pods, halls,
/// racks); the others (groups, templates, pools, rules) are shared.
const DESIGN_FILES: [&str; 2] = ["10_fabrics.yml", "11_racks.yml"];
/// The branch the cascades run on (the repository is synced on `main`).
const BRANCH: &str = "b1";

/// A repository to measure.
struct Design {
    label: String,
    root: PathBuf,
    fabrics: Vec<String>,
    /// Keeps a generated repository alive.
    _dir: Option<tempfile::TempDir>,
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
    rounds: usize,
    created: usize,
    devices: i64,
    links: i64,
}

/// `text` in copy `copy` of the seed: the copy number goes after the fabric
/// letter of every design name (see the module docs).
fn renamed(text: &str, copy: usize) -> String {
    let mut text = text.to_owned();
    for letter in ["A", "B"] {
        text = text.replace(
            &format!("Fabric-{letter}"),
            &format!("Fabric-{letter}{copy:02}"),
        );
        for prefix in ["Pod", "Rack", "Hall"] {
            text = text.replace(
                &format!("{prefix}-{letter}"),
                &format!("{prefix}-{letter}{copy:02}-"),
            );
        }
    }
    text
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy file");
        }
    }
}

fn seed() -> Design {
    Design {
        label: "seed".to_owned(),
        root: workspace_root(),
        fabrics: SEED_FABRICS.iter().map(|name| (*name).to_owned()).collect(),
        _dir: None,
    }
}

/// The seed's two fabrics `COPIES` times over, in a temp repository: the
/// seed's `.infrahub.yml`, schemas, queries, components (at the paths
/// `.infrahub.yml` names) and shared object files, and one renamed copy of
/// the design files per copy.
fn larger() -> Design {
    let root = workspace_root();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(root.join(".infrahub.yml"), dir.path().join(".infrahub.yml"))
        .expect("copy .infrahub.yml");
    copy_dir(&root.join("schemas"), &dir.path().join("schemas"));
    copy_dir(&root.join("generators"), &dir.path().join("generators"));
    let seed = Repository::open(&root).expect("repository opens");
    for definition in &seed.config().generator_definitions {
        let to = dir.path().join(&definition.file_path);
        std::fs::create_dir_all(to.parent().expect("component dir")).expect("create dir");
        std::fs::copy(root.join(&definition.file_path), &to).unwrap_or_else(|error| {
            panic!(
                "{} (run scripts/build-plugins): {error}",
                definition.file_path.display()
            )
        });
    }

    let objects = dir.path().join("objects");
    std::fs::create_dir_all(&objects).expect("create objects");
    for entry in std::fs::read_dir(root.join("objects")).expect("read objects") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("read object file");
        if let Some(design) = DESIGN_FILES.iter().find(|design| **design == name) {
            let (stem, extension) = design.rsplit_once('.').expect("extension");
            for copy in 1..=COPIES {
                let renamed_text = renamed(&text, copy);
                assert_ne!(renamed_text, text, "{name} holds no design name to rename");
                std::fs::write(
                    objects.join(format!("{stem}_{copy:02}.{extension}")),
                    renamed_text,
                )
                .expect("write object file");
            }
        } else {
            std::fs::write(objects.join(&name), text).expect("write object file");
        }
    }

    Design {
        label: format!("{COPIES}x"),
        root: dir.path().to_owned(),
        fabrics: (1..=COPIES)
            .flat_map(|copy| SEED_FABRICS.iter().map(move |name| renamed(name, copy)))
            .collect(),
        _dir: Some(dir),
    }
}

async fn count(store: &Store, kind: &str) -> i64 {
    graphql(store, BRANCH, &format!("{{ {kind} {{ count }} }}")).await[kind]["count"]
        .as_i64()
        .expect("count")
}

/// Syncs `design` into a fresh store, then builds every fabric with one
/// cascade each at `concurrency`.
async fn measure(design: &Design, concurrency: usize, cache: &Path) -> Measurement {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("store.db")).expect("store opens");
    let repository = Arc::new(Repository::open(&design.root).expect("repository opens"));
    let backend: Arc<dyn Backend> = Arc::new(GraphqlBackend::new(InProcess::new(store.clone())));

    let started = Instant::now();
    sync_repository(&store, &repository, backend.as_ref(), "main")
        .await
        .expect("the repository syncs");
    store.create_branch(BRANCH).expect("branch");
    let sync = started.elapsed();

    let runtime = Runtime::builder()
        .max_concurrent_runs(concurrency as u32)
        .cache_dir(Some(cache.to_owned()))
        .build()
        .expect("runtime starts");
    let policy = RuntimePolicy::load(repository.root()).expect("policy");
    let runner = Runner::new(repository, runtime, backend, policy);
    let cascade = Cascade::new(
        runner,
        Arc::new(store.clone()),
        CascadeConfig {
            concurrency,
            ..CascadeConfig::default()
        },
    );

    let mut runs = 0;
    let mut rounds = 0;
    let mut created = 0;
    let mut cascades = Vec::new();
    let started = Instant::now();
    for fabric in &design.fabrics {
        let mut parameters = Map::new();
        parameters.insert("fabric_name".to_owned(), Value::from(fabric.as_str()));
        let cascade_started = Instant::now();
        let report = cascade
            .run(
                BRANCH,
                Start::Definition {
                    name: "generate-fabric".to_owned(),
                    selection: TargetSelection::Matching(parameters),
                },
            )
            .await
            .expect("the cascade runs");
        cascades.push(cascade_started.elapsed());
        assert!(report.is_success(), "{}: {fabric}\n{report}", design.label);
        runs += report.runs.len();
        rounds += report.rounds;
        created += report
            .generators
            .iter()
            .map(|summary| summary.created)
            .sum::<usize>();
    }
    let wall = started.elapsed();

    Measurement {
        sync,
        wall,
        first: cascades[0],
        last: cascades[cascades.len() - 1],
        cascades: cascades.len(),
        runs,
        rounds,
        created,
        devices: count(&store, "NetworkDevice").await,
        links: count(&store, "NetworkLink").await,
    }
}

fn concurrencies() -> Vec<usize> {
    match std::env::var("CASCADE_BENCH_CONCURRENCY") {
        Ok(list) => list
            .split(',')
            .map(|level| {
                level
                    .trim()
                    .parse()
                    .expect("CASCADE_BENCH_CONCURRENCY: comma-separated numbers")
            })
            .collect(),
        Err(_) => CONCURRENCIES.to_vec(),
    }
}

fn secs(d: Duration) -> String {
    format!("{:7.2} s", d.as_secs_f64())
}

fn header() {
    println!(
        "  {:>11} {:>9} {:>9} {:>8} {:>9} {:>9} {:>5} {:>6} {:>7} {:>7} {:>5} {:>6} {:>9}",
        "concurrency",
        "sync",
        "wall",
        "cascades",
        "first",
        "last",
        "runs",
        "rounds",
        "created",
        "devices",
        "links",
        "runs/s",
        "created/s"
    );
}

fn row(concurrency: usize, m: &Measurement, suffix: &str) {
    let wall = m.wall.as_secs_f64();
    println!(
        "  {concurrency:>11} {} {} {:>8} {} {} {:>5} {:>6} {:>7} {:>7} {:>5} {:>6.1} {:>9.0}{suffix}",
        secs(m.sync),
        secs(m.wall),
        m.cascades,
        secs(m.first),
        secs(m.last),
        m.runs,
        m.rounds,
        m.created,
        m.devices,
        m.links,
        m.runs as f64 / wall,
        m.created as f64 / wall,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let concurrencies = concurrencies();
    let cache = tempfile::tempdir().expect("cache dir");
    let seed = seed();
    let larger = larger();

    let started = Instant::now();
    measure(&seed, 2, cache.path()).await;
    println!(
        "warm-up (seed at concurrency 2, components compiled into an empty cache): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "(sync: the repository imported on main, and branch {BRANCH}; wall: the cascades \
         together, one after the other; first, last: the first and the last cascade; rounds \
         and created: added up over the cascades; devices, links: on {BRANCH} afterwards)"
    );

    println!(
        "seed: {} cascades (generate-fabric fabric_name=…)",
        seed.fabrics.len()
    );
    header();
    let mut seed_results = Vec::new();
    for &concurrency in &concurrencies {
        let m = measure(&seed, concurrency, cache.path()).await;
        row(concurrency, &m, "");
        seed_results.push(m);
    }

    println!(
        "{}: the seed's fabrics {COPIES} times over, {} cascades (one per fabric); last \
         columns: wall time, and wall time per run, over the seed's at the same concurrency",
        larger.label,
        larger.fabrics.len()
    );
    header();
    let mut larger_results = Vec::new();
    for (&concurrency, seed) in concurrencies.iter().zip(&seed_results) {
        let m = measure(&larger, concurrency, cache.path()).await;
        let ratio = m.wall.as_secs_f64() / seed.wall.as_secs_f64();
        let per_run = ratio * seed.runs as f64 / m.runs as f64;
        row(
            concurrency,
            &m,
            &format!("  {ratio:6.1}x {per_run:5.1}x/run"),
        );
        larger_results.push(m);
    }

    if let (Some(seed), Some(m)) = (seed_results.last(), larger_results.last()) {
        println!(
            "size: seed {} devices, {} links, {} runs; {} {} devices ({:.1}x), {} links ({:.1}x), \
             {} runs ({:.1}x)",
            seed.devices,
            seed.links,
            seed.runs,
            larger.label,
            m.devices,
            m.devices as f64 / seed.devices as f64,
            m.links,
            m.links as f64 / seed.links as f64,
            m.runs,
            m.runs as f64 / seed.runs as f64,
        );
    }
    println!("total bench time {:.1} s", started.elapsed().as_secs_f64());
}
