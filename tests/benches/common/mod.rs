//! What the benches of whole designs share: the AI/DC repository, as it is
//! or with its fabrics copied under new names, and the process figures they
//! print (CPU time, peak memory, node writes from the event log).
//!
//! A module under `benches/common/`, so Cargo does not take it for a bench.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use infragen::backend::Backend;
use infragen::cascade::{Cascade, CascadeConfig, CascadeReport, Start};
use infragen::policy::RuntimePolicy;
use infragen::repository::Repository;
use infragen::runner::{Runner, TargetSelection};
use infragen::runtime::Runtime;
use infragen_store::{Action, Store};
use infragen_tests::{fresh_guest, workspace_root};

/// The seed's fabrics, each built by one cascade.
pub const SEED_FABRICS: [&str; 2] = ["Fabric-A", "Fabric-B"];
/// The seed's object files that hold design names (fabrics, pods, halls,
/// racks); the others (groups, templates, pools, rules) are shared.
const DESIGN_FILES: [&str; 2] = ["10_fabrics.yml", "11_racks.yml"];

/// A repository to measure, in a temp dir.
pub struct Design {
    /// `seed`, `4x`, `16x` …
    pub label: String,
    /// Copies of the seed's fabrics it holds (1: the seed itself).
    pub copies: usize,
    /// The repository root.
    pub root: PathBuf,
    /// Its fabrics' names, in the order the seed lists them, copy by copy.
    pub fabrics: Vec<String>,
    /// Keeps the repository alive.
    _dir: tempfile::TempDir,
}

/// The target directory: `$CARGO_TARGET_DIR`, else the workspace's `target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `text` in copy `copy` of the seed: the copy number goes after the fabric
/// letter of every design name (`Fabric-A` → `Fabric-A01`, `Pod-A2` →
/// `Pod-A01-2`, `Rack-B3-4` → `Rack-B01-3-4`, `Hall-A1` → `Hall-A01-1`).
pub fn renamed(text: &str, copy: usize) -> String {
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

/// The AI/DC repository in a temp dir, with the seed's two fabrics `copies`
/// times over: the seed's `.infrahub.yml`, `infragen.toml`, schemas, queries and shared object
/// files, the components at the paths `.infrahub.yml` names (taken from the
/// target dir, built there when missing), and the design files as they are
/// (`copies == 1`) or one renamed copy of them per copy. Every name the
/// generators derive (hostnames, pools, links) comes from the design names,
/// so copies never collide, and each fabric takes its own /16 from
/// `FabricSupernetPool` (a /8: at most 128 copies). Indexes, sizes and
/// templates are the seed's, so each copy is cabled and addressed as the
/// seed is.
pub fn design(copies: usize) -> Design {
    assert!((1..=128).contains(&copies), "1 to 128 copies");
    let root = workspace_root();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(root.join(".infrahub.yml"), dir.path().join(".infrahub.yml"))
        .expect("copy .infrahub.yml");
    // The generators' write grants.
    std::fs::copy(root.join("infragen.toml"), dir.path().join("infragen.toml"))
        .expect("copy infragen.toml");
    copy_dir(&root.join("schemas"), &dir.path().join("schemas"));
    copy_dir(&root.join("generators"), &dir.path().join("generators"));
    // The components `.infrahub.yml` names (`file_path: …/generate_fabric.wasm` is package
    // `generate-fabric`), found in (or built into) the target dir: the workspace's own
    // `target/` may not hold them, so the repository is not opened in place.
    let config = std::fs::read_to_string(root.join(".infrahub.yml")).expect("read .infrahub.yml");
    let components: Vec<&str> = config
        .lines()
        .filter_map(|line| line.trim().strip_prefix("file_path:"))
        .map(str::trim)
        .filter(|path| path.ends_with(".wasm"))
        .collect();
    assert!(!components.is_empty(), ".infrahub.yml names no component");
    for component in components {
        let package = Path::new(component)
            .file_stem()
            .expect("component file name")
            .to_string_lossy()
            .replace('_', "-");
        let to = dir.path().join(component);
        std::fs::create_dir_all(to.parent().expect("component dir")).expect("create dir");
        std::fs::copy(fresh_guest(&package), &to).expect("copy component");
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
        match DESIGN_FILES.iter().find(|design| **design == name) {
            Some(design) if copies > 1 => {
                let (stem, extension) = design.rsplit_once('.').expect("extension");
                for copy in 1..=copies {
                    let renamed_text = renamed(&text, copy);
                    assert_ne!(renamed_text, text, "{name} holds no design name to rename");
                    std::fs::write(
                        objects.join(format!("{stem}_{copy:02}.{extension}")),
                        renamed_text,
                    )
                    .expect("write object file");
                }
            }
            _ => std::fs::write(objects.join(&name), text).expect("write object file"),
        }
    }

    let fabrics = if copies == 1 {
        SEED_FABRICS.iter().map(|name| (*name).to_owned()).collect()
    } else {
        (1..=copies)
            .flat_map(|copy| SEED_FABRICS.iter().map(move |name| renamed(name, copy)))
            .collect()
    };
    Design {
        label: if copies == 1 {
            "seed".to_owned()
        } else {
            format!("{copies}x")
        },
        copies,
        root: dir.path().to_owned(),
        fabrics,
        _dir: dir,
    }
}

/// A runner of `repository`'s generators writing through `backend`, with up to
/// `concurrency` runs at once and compiled components cached in `cache`, under the
/// repository's policy.
pub fn runner(
    repository: Arc<Repository>,
    backend: Arc<dyn Backend>,
    concurrency: usize,
    cache: &Path,
) -> Runner {
    let runtime = Runtime::builder()
        .max_concurrent_runs(concurrency as u32)
        .cache_dir(Some(cache.to_owned()))
        .build()
        .expect("runtime starts");
    let policy = RuntimePolicy::load(repository.root()).expect("policy");
    Runner::new(repository, runtime, backend, policy)
}

/// A cascade of `repository`'s generators writing through `backend` to `store`, with
/// `concurrency` runs at once (the cascade's and the runtime's), components compiled into
/// `cache`.
pub fn cascade(
    store: &Store,
    repository: Arc<Repository>,
    backend: Arc<dyn Backend>,
    concurrency: usize,
    cache: &Path,
) -> Cascade {
    Cascade::new(
        runner(repository, backend, concurrency, cache),
        Arc::new(store.clone()),
        CascadeConfig {
            concurrency,
            ..CascadeConfig::default()
        },
    )
}

/// One `generate-fabric fabric_name=<fabric>` cascade on `branch`, which must succeed:
/// the fabric, then the pods and racks it triggers.
pub async fn generate_fabric(cascade: &Cascade, branch: &str, fabric: &str) -> CascadeReport {
    let mut parameters = serde_json::Map::new();
    parameters.insert("fabric_name".to_owned(), fabric.into());
    let report = cascade
        .run(
            branch,
            Start::Definition {
                name: "generate-fabric".to_owned(),
                selection: TargetSelection::Matching(parameters),
            },
        )
        .await
        .expect("the cascade runs");
    assert!(report.is_success(), "{fabric}\n{report}");
    report
}

/// CPU time of the whole process so far (user + system, every thread).
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// A field of `/proc/self/status` in kB (`VmHWM`: peak resident set;
/// `VmRSS`: resident set now).
pub fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Node writes in the store's event log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Writes {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
}

impl Writes {
    pub fn total(&self) -> usize {
        self.created + self.updated + self.deleted
    }
}

/// The node writes (created, updated and deleted events) after event `seq`.
pub fn writes_since(store: &Store, mut seq: i64) -> Writes {
    let mut writes = Writes::default();
    loop {
        let events = store.events_since(seq).expect("events");
        let Some(last) = events.last() else {
            return writes;
        };
        seq = last.seq;
        for event in &events {
            match event.action {
                Action::Created => writes.created += 1,
                Action::Updated => writes.updated += 1,
                Action::Deleted => writes.deleted += 1,
            }
        }
    }
}

/// Every node on `branch`: the counts of every node kind added up.
pub async fn node_count(store: &Store, branch: &str) -> i64 {
    let kinds: Vec<String> = store
        .schema()
        .kinds()
        .filter(|kind| !kind.is_generic)
        .map(|kind| kind.kind.clone())
        .collect();
    let mut total = 0;
    for chunk in kinds.chunks(50) {
        let fields: Vec<String> = chunk
            .iter()
            .map(|kind| format!("{kind} {{ count }}"))
            .collect();
        let data =
            infragen_tests::graphql(store, branch, &format!("{{ {} }}", fields.join(" "))).await;
        total += chunk
            .iter()
            .map(|kind| data[kind]["count"].as_i64().expect("count"))
            .sum::<i64>();
    }
    total
}
