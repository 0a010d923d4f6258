//! Opening a store of 1,000,000 nodes and running one rack target: prints
//! the time, the peak memory and the CPU per node write of a fresh process
//! doing it; asserts nothing beyond the run succeeding.
//!
//! ```text
//! cargo bench -p infragen-tests --bench large_store
//! LARGE_STORE_NODES=100000 cargo bench -p infragen-tests --bench large_store
//! ```
//!
//! **The store** is built once and kept in `<target dir>/bench-cache/`
//! (named by a fingerprint of the design files, the components and the node
//! count; delete the directory to rebuild it, e.g. after a change of the
//! store's file format). It holds the AI/DC seed, synced on `main` and
//! generated there (every fabric and pod, and every rack but `Rack-A2-1`),
//! next to bulk filler of the design's kinds up to `LARGE_STORE_NODES`
//! nodes (default 1,000,000): devices `filler-NNNNNNN` (role leaf), each
//! with 14 interfaces and one loopback address in 100.64.0.0/10 on its first
//! interface — 16 nodes a device, none linked to the seed, loaded through
//! object files 500 devices at a time. Building 1,000,000 nodes took 53 s to
//! 286 s on 2-core machines (19,000 to 3,500 nodes/s, as the store and the
//! machines changed); `LARGE_STORE_NODES=100000` gives a first reading in
//! seconds.
//!
//! **Before measuring**, the parent opens the cached file once and prints how long
//! that took: a store written by an earlier binary is upgraded by its first open
//! (a core schema that orders new relationships has their rows read in one pass),
//! and that one-time cost would otherwise be paid by every measured copy.
//!
//! **A measurement** copies the cached file to a temp dir and syncs it (so it
//! is in the page cache and at rest on disk: this is a warm open) and runs
//! this bench binary again as a child process, which opens the copy, creates
//! branch `bench` (in the *branch* rows; the *main* rows run on `main`), and
//! runs `generate-rack rack_name=Rack-A2-1` on it through
//! `infragen::runner::Runner` and the embedded backend, with a warm artifact
//! cache (the parent
//! compiles the components into `bench-cache/artifacts` first). The child
//! reports, from inside:
//!
//! - *open*: `Store::open`; *run*: the branch, the runtime, the repository
//!   and the rack run; *total*: both (goal ≤ 200 ms);
//! - *rss open*: the resident set after the open (`VmRSS`), *peak rss*: the
//!   peak resident set of the whole process at the end (`VmHWM`, goal ≤
//!   150 MB), binary and runtime included;
//! - *writes*: node events of the run (created + updated + deleted), and
//!   *cpu*: the process's CPU time over *total*, per write.
//!
//! *process* is the child's wall time as the parent sees it (spawn to exit).
//! Three measurements per mode (`LARGE_STORE_RUNS`).

mod common;

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Design, cpu_time, design, node_count, status_kb, writes_since};
use infragen::backend::Backend;
use infragen::embedded::EmbeddedBackend;
use infragen::repository::Repository;
use infragen::runner::{Runner, TargetOutcome, TargetSelection};
use infragen::runtime::Runtime;
use infragen::sync::sync_repository;
use infragen_store::Store;
use infragen_tests::graphql;
use serde_json::{Map, Value};

/// Nodes in the store unless `LARGE_STORE_NODES` says otherwise.
const NODES: usize = 1_000_000;
/// The rack left for the measured run.
const RACK: &str = "Rack-A2-1";
/// Bump when the way the store is built changes.
const RECIPE: &str =
    "seed generated on main but Rack-A2-1, filler devices of 16 nodes, v7 (ids stored as bytes)";
/// Filler nodes a device: itself, its interfaces and its loopback address.
const INTERFACES: usize = 14;
const NODES_PER_DEVICE: usize = 1 + INTERFACES + 1;
/// Filler devices an object load writes.
const BATCH: usize = 500;
/// Measurements per mode unless `LARGE_STORE_RUNS` says otherwise.
const RUNS: usize = 3;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: a number")))
        .unwrap_or(default)
}

fn backend(store: &Store) -> Arc<dyn Backend> {
    Arc::new(EmbeddedBackend::new(store.clone()))
}

fn runner(store: &Store, root: &Path, artifacts: &Path, concurrency: usize) -> Runner {
    let repository = Arc::new(Repository::open(root).expect("repository opens"));
    common::runner(repository, backend(store), concurrency, artifacts)
}

fn selection(key: &str, value: &str) -> TargetSelection {
    let mut parameters = Map::new();
    parameters.insert(key.to_owned(), Value::from(value));
    TargetSelection::Matching(parameters)
}

/// What the store depends on: the recipe, the size, the design files and
/// the components.
fn fingerprint(design: &Design, nodes: usize) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    RECIPE.hash(&mut hasher);
    nodes.hash(&mut hasher);
    let mut files = Vec::new();
    let mut dirs = vec![design.root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    for file in files {
        file.strip_prefix(&design.root)
            .expect("under the root")
            .hash(&mut hasher);
        std::fs::read(&file).expect("read").hash(&mut hasher);
    }
    hasher.finish()
}

/// Filler devices `first..first + count` as one object file.
fn filler(first: usize, count: usize) -> String {
    let mut devices = String::from(
        "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: NetworkDevice\n  \
         parameters: {expand_range: true}\n  data:\n",
    );
    let mut addresses = String::from(
        "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: IpamIPAddress\n  data:\n",
    );
    for i in first..first + count {
        devices.push_str(&format!(
            "    - hostname: filler-{i:07}\n      role: leaf\n      index: 1\n      \
             interfaces:\n        data: [{{name: \"Ethernet[1-{INTERFACES}]\", mtu: 9100}}]\n"
        ));
        let host = 0x6440_0000u32 + i as u32; // 100.64.0.0/10
        addresses.push_str(&format!(
            "    - address: {}/32\n      interface: [filler-{i:07}, Ethernet1]\n",
            std::net::Ipv4Addr::from(host)
        ));
    }
    devices + &addresses
}

/// Builds the store at `path`: the seed generated on main but [`RACK`], then
/// filler up to `nodes`.
async fn build(path: &Path, design: &Design, artifacts: &Path, nodes: usize) {
    let started = Instant::now();
    let store = Store::open(path).expect("store opens");
    let repository = Repository::open(&design.root).expect("repository opens");
    sync_repository(&store, &repository, backend(&store).as_ref(), "main")
        .await
        .expect("the repository syncs");
    let runner = runner(&store, &design.root, artifacts, 4);
    for definition in ["generate-fabric", "generate-pod"] {
        let report = runner
            .run_definition(definition, "main", &TargetSelection::All, 4)
            .await
            .expect("definition runs");
        assert_eq!(report.failed(), 0, "{report}");
    }
    let racks = graphql(
        &store,
        "main",
        "{ LocationRack { edges { node { name { value } } } } }",
    )
    .await;
    for rack in racks["LocationRack"]["edges"].as_array().expect("racks") {
        let name = rack["node"]["name"]["value"].as_str().expect("rack name");
        if name != RACK {
            let report = runner
                .run_definition("generate-rack", "main", &selection("rack_name", name), 4)
                .await
                .expect("rack runs");
            assert_eq!(report.failed(), 0, "{report}");
        }
    }
    let design_nodes = node_count(&store, "main").await as usize;
    println!(
        "  the seed, generated but {RACK}: {design_nodes} nodes ({:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let devices = nodes
        .saturating_sub(design_nodes)
        .div_ceil(NODES_PER_DEVICE);
    let mut written = 0;
    let mut reported = 0;
    while written < devices {
        let count = BATCH.min(devices - written);
        store
            .load_objects("main", &[("filler.yml".to_owned(), filler(written, count))])
            .expect("filler loads");
        written += count;
        if written * 10 / devices > reported {
            reported = written * 10 / devices;
            println!(
                "  filler: {written} devices, {} nodes ({:.0} s)",
                written * NODES_PER_DEVICE,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let total = node_count(&store, "main").await;
    println!(
        "  built: {total} nodes on main in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// The child: open the store at `path`, run the rack target on `branch`,
/// print what it measured.
async fn child(path: &Path, root: &Path, artifacts: &Path, branch: &str) {
    let cpu_started = cpu_time();
    let started = Instant::now();
    let store = Store::open(path).expect("store opens");
    let open = started.elapsed();
    let rss_open = status_kb("VmRSS");
    let seq = store.last_event_seq().expect("last event");
    if branch != "main" {
        store.create_branch(branch).expect("branch");
    }
    let runner = runner(&store, root, artifacts, 1);
    let report = runner
        .run_definition("generate-rack", branch, &selection("rack_name", RACK), 1)
        .await
        .expect("rack runs");
    let total = started.elapsed();
    let cpu = cpu_time() - cpu_started;
    let hwm = status_kb("VmHWM");
    assert_eq!(report.failed(), 0, "{report}");
    assert_eq!(report.targets.len(), 1, "one target: {report}");
    let output = match &report.targets[0].outcome {
        TargetOutcome::Succeeded { written, .. } => *written,
        TargetOutcome::Failed { .. } => 0,
    };
    let writes = writes_since(&store, seq);
    println!(
        "RESULT open_us={} total_us={} cpu_us={} rss_open_kb={rss_open} hwm_kb={hwm} \
         writes={} created={} updated={} deleted={} output={output}",
        open.as_micros(),
        total.as_micros(),
        cpu.as_micros(),
        writes.total(),
        writes.created,
        writes.updated,
        writes.deleted,
    );
}

/// One child run on a fresh copy of `cached`; the fields of its `RESULT`
/// line and its wall time as seen from here.
fn measure(
    cached: &Path,
    root: &Path,
    artifacts: &Path,
    branch: &str,
) -> (Map<String, Value>, Duration) {
    let dir = tempfile::tempdir_in(cached.parent().expect("cache dir")).expect("temp dir");
    let copy = dir.path().join("store.db");
    std::fs::copy(cached, &copy).expect("copy the store");
    // Written back before the child starts: a store at rest, in the page cache. Else the
    // child's first checkpoint (an fsync of the file) would pay for writing the copy.
    std::fs::File::open(&copy)
        .and_then(|file| file.sync_all())
        .expect("sync the copy");
    let started = Instant::now();
    let output = Command::new(std::env::current_exe().expect("this bench"))
        .arg("child")
        .args([&copy, root, artifacts])
        .arg(branch)
        .output()
        .expect("the child runs");
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    let fields = line
        .split_whitespace()
        .map(|field| {
            let (key, value) = field.split_once('=').expect("key=value");
            (
                key.to_owned(),
                Value::from(value.parse::<u64>().expect("a number")),
            )
        })
        .collect();
    (fields, wall)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        let [_, _, path, root, artifacts, branch] = &args[..] else {
            panic!("child DB ROOT ARTIFACTS BRANCH");
        };
        child(
            Path::new(path),
            Path::new(root),
            Path::new(artifacts),
            branch,
        )
        .await;
        return;
    }

    let nodes = env_number("LARGE_STORE_NODES", NODES);
    let runs = env_number("LARGE_STORE_RUNS", RUNS);
    let design = design(1);
    let cache: PathBuf = common::target_dir().join("bench-cache");
    let artifacts = cache.join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("cache dir");
    let cached = cache.join(format!(
        "large-store-{nodes}-{:016x}.db",
        fingerprint(&design, nodes)
    ));

    // Compiles the components into the artifact cache when they are not there.
    let runtime = Runtime::builder()
        .cache_dir(Some(artifacts.clone()))
        .build()
        .expect("runtime starts");
    let repository = Repository::open(&design.root).expect("repository opens");
    for definition in &repository.config().generator_definitions {
        runtime
            .load(&design.root.join(&definition.file_path))
            .await
            .expect("component loads");
    }

    if cached.is_file() {
        println!("store: {} (cached)", cached.display());
    } else {
        println!("store: building {} …", cached.display());
        let building = cached.with_extension("building");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", building.display()));
        }
        build(&building, &design, &artifacts, nodes).await;
        std::fs::rename(&building, &cached).expect("rename the built store");
    }
    // A store written by an earlier binary is brought up to this one's layout and core
    // schema by its first open (the rows of relationships the core schema now orders, the
    // schema's tables), once. Done here on the cached file, so each measured open is an
    // open of a store this binary has opened before, and the one-time cost is shown apart.
    let upgrading = Instant::now();
    drop(Store::open(&cached).expect("the cached store opens"));
    println!(
        "  {:.0} MB on disk; opened once here in {:.1} ms (a first open by this binary)",
        std::fs::metadata(&cached).expect("store").len() as f64 / 1e6,
        upgrading.elapsed().as_secs_f64() * 1000.0
    );

    println!(
        "open and one rack target ({RACK}) in a fresh process, {runs} runs per mode; goals: \
         total ≤ 200 ms, peak rss ≤ 150 MB, ≤ 50 µs CPU/write"
    );
    println!(
        "  {:>6} {:>9} {:>9} {:>9} {:>10} {:>12} {:>12} {:>7} {:>9} {:>9}",
        "mode",
        "open",
        "total",
        "process",
        "cpu",
        "rss open",
        "peak rss",
        "writes",
        "µs/write",
        "output"
    );
    let ms = |us: u64| format!("{:6.1} ms", us as f64 / 1000.0);
    for (mode, branch) in [("main", "main"), ("branch", "bench")] {
        for _ in 0..runs {
            let (m, wall) = measure(&cached, &design.root, &artifacts, branch);
            let get = |key: &str| m[key].as_u64().expect("field");
            println!(
                "  {mode:>6} {} {} {} {:>10} {:>9.1} MB {:>9.1} MB {:>7} {:>9.1} {:>9}",
                ms(get("open_us")),
                ms(get("total_us")),
                ms(wall.as_micros() as u64),
                ms(get("cpu_us")),
                get("rss_open_kb") as f64 * 1024.0 / 1e6,
                get("hwm_kb") as f64 * 1024.0 / 1e6,
                get("writes"),
                get("cpu_us") as f64 / get("writes").max(1) as f64,
                get("output"),
            );
        }
    }
}
