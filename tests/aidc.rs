//! The AI/DC reference design end to end (issue 6): the fabric, pod and rack
//! generators of `plugins/` run through the `infragen` binary on the embedded
//! store, on the seed design of `objects/` (reference §3.3).
//!
//! Every expected link, prefix and address is computed here from the seed's
//! inputs (templates, indexes, amounts, sorting methods) and the formulas of
//! reference §2.5 and §2.7, never copied from output.
//!
//! The seed generated one target at a time in a fixed order (fabrics, then
//! pods, then racks, each target by its own `infragen generator NAME KEY=VALUE`
//! run) is built once per set of inputs into a fixture directory under the system
//! temp dir, guarded by a file lock (nextest runs each test in its own
//! process); tests copy its store file and never touch the fixture itself.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use infragen_tests::{guest, infragen_bin, workspace_root};
use serde_json::Value;

// ---------------------------------------------------------------------------
// The seed design's inputs (objects/), and the formulas.
// ---------------------------------------------------------------------------

/// A device template: its interfaces by role, in natural order, and its total
/// interface count (loopback included).
struct Template {
    name: &'static str,
    total: usize,
    /// (role, first port, last port, name prefix): `Ethernet{n}`, `Ethernet1/{n}`…
    ranges: &'static [(&'static str, u32, u32, &'static str)],
}

const TEMPLATES: &[Template] = &[
    Template {
        name: "super-spine-switch",
        total: 33,
        ranges: &[("spine", 1, 28, "Ethernet")],
    },
    Template {
        name: "spine-switch",
        total: 33,
        ranges: &[
            ("leaf", 1, 27, "Ethernet"),
            ("super_spine", 28, 32, "Ethernet"),
        ],
    },
    Template {
        name: "leaf-switch-compute",
        total: 33,
        ranges: &[("server", 1, 26, "Ethernet"), ("spine", 27, 32, "Ethernet")],
    },
    Template {
        name: "leaf-switch-storage",
        total: 17,
        ranges: &[
            ("storage", 1, 10, "Ethernet"),
            ("spine", 11, 16, "Ethernet"),
        ],
    },
    Template {
        name: "dell-z9864f-on-super-spine-switch",
        total: 65,
        ranges: &[("spine", 1, 64, "Ethernet1/")],
    },
    Template {
        name: "dell-z9864f-on-spine-switch",
        total: 65,
        ranges: &[
            ("leaf", 1, 32, "Ethernet1/"),
            ("super_spine", 33, 64, "Ethernet1/"),
        ],
    },
    Template {
        name: "dell-s5232f-on-leaf-switch-compute",
        total: 35,
        ranges: &[
            ("spine", 1, 16, "Ethernet1/1/"),
            ("server", 17, 34, "Ethernet1/1/"),
        ],
    },
    Template {
        name: "dell-s5232f-on-leaf-switch-storage",
        total: 35,
        ranges: &[
            ("spine", 1, 16, "Ethernet1/1/"),
            ("storage", 17, 34, "Ethernet1/1/"),
        ],
    },
];

fn template(name: &str) -> &'static Template {
    TEMPLATES
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no template {name}"))
}

impl Template {
    /// The interfaces with `role`, naturally sorted (what `sort_interface_list`
    /// gives for these names).
    fn ports(&self, role: &str) -> Vec<String> {
        self.ranges
            .iter()
            .filter(|(r, ..)| *r == role)
            .flat_map(|(_, first, last, prefix)| {
                (*first..=*last).map(move |n| format!("{prefix}{n}"))
            })
            .collect()
    }
}

struct Fabric {
    name: &'static str,
    /// 0-based position of the fabric's /16 when fabrics run in order.
    position: u32,
    super_spines: usize,
    template: &'static str,
    /// `fabric_interface_sorting_method` is the reverse one.
    reverse_super_spine_ports: bool,
}

const FABRICS: &[Fabric] = &[
    Fabric {
        name: "Fabric-A",
        position: 0,
        super_spines: 6,
        template: "super-spine-switch",
        reverse_super_spine_ports: true,
    },
    Fabric {
        name: "Fabric-B",
        position: 1,
        super_spines: 4,
        template: "dell-z9864f-on-super-spine-switch",
        reverse_super_spine_ports: false,
    },
];

#[derive(Clone, Copy)]
struct Pod {
    name: &'static str,
    fabric: &'static str,
    index: usize,
    spines: usize,
    template: &'static str,
}

const PODS: &[Pod] = &[
    Pod {
        name: "Pod-A2",
        fabric: "Fabric-A",
        index: 2,
        spines: 4,
        template: "spine-switch",
    },
    Pod {
        name: "Pod-A3",
        fabric: "Fabric-A",
        index: 3,
        spines: 4,
        template: "spine-switch",
    },
    Pod {
        name: "Pod-B2",
        fabric: "Fabric-B",
        index: 2,
        spines: 4,
        template: "dell-z9864f-on-spine-switch",
    },
    Pod {
        name: "Pod-B3",
        fabric: "Fabric-B",
        index: 3,
        spines: 4,
        template: "dell-z9864f-on-spine-switch",
    },
];

#[derive(Clone, Copy)]
struct Rack {
    name: &'static str,
    pod: &'static str,
    index: usize,
    leafs: usize,
    template: &'static str,
}

const C: &str = "leaf-switch-compute";
const S: &str = "leaf-switch-storage";
const DC: &str = "dell-s5232f-on-leaf-switch-compute";
const DS: &str = "dell-s5232f-on-leaf-switch-storage";

/// The 16 racks, in the order of group `racks` (objects/11_racks.yml).
const RACKS: &[Rack] = &[
    Rack {
        name: "Rack-A2-1",
        pod: "Pod-A2",
        index: 1,
        leafs: 2,
        template: C,
    },
    Rack {
        name: "Rack-A2-2",
        pod: "Pod-A2",
        index: 2,
        leafs: 1,
        template: C,
    },
    Rack {
        name: "Rack-A2-3",
        pod: "Pod-A2",
        index: 3,
        leafs: 2,
        template: C,
    },
    Rack {
        name: "Rack-A2-4",
        pod: "Pod-A2",
        index: 4,
        leafs: 1,
        template: S,
    },
    Rack {
        name: "Rack-A3-1",
        pod: "Pod-A3",
        index: 1,
        leafs: 2,
        template: C,
    },
    Rack {
        name: "Rack-A3-2",
        pod: "Pod-A3",
        index: 2,
        leafs: 1,
        template: C,
    },
    Rack {
        name: "Rack-A3-3",
        pod: "Pod-A3",
        index: 3,
        leafs: 1,
        template: S,
    },
    Rack {
        name: "Rack-A3-4",
        pod: "Pod-A3",
        index: 4,
        leafs: 1,
        template: C,
    },
    Rack {
        name: "Rack-B2-1",
        pod: "Pod-B2",
        index: 1,
        leafs: 2,
        template: DC,
    },
    Rack {
        name: "Rack-B2-2",
        pod: "Pod-B2",
        index: 2,
        leafs: 1,
        template: DC,
    },
    Rack {
        name: "Rack-B2-3",
        pod: "Pod-B2",
        index: 3,
        leafs: 2,
        template: DC,
    },
    Rack {
        name: "Rack-B2-4",
        pod: "Pod-B2",
        index: 4,
        leafs: 1,
        template: DC,
    },
    Rack {
        name: "Rack-B3-1",
        pod: "Pod-B3",
        index: 1,
        leafs: 2,
        template: DC,
    },
    Rack {
        name: "Rack-B3-2",
        pod: "Pod-B3",
        index: 2,
        leafs: 1,
        template: DC,
    },
    Rack {
        name: "Rack-B3-3",
        pod: "Pod-B3",
        index: 3,
        leafs: 1,
        template: DS,
    },
    Rack {
        name: "Rack-B3-4",
        pod: "Pod-B3",
        index: 4,
        leafs: 1,
        template: DS,
    },
];

fn fabric(name: &str) -> &'static Fabric {
    FABRICS.iter().find(|f| f.name == name).expect("fabric")
}

fn pod(name: &str) -> Pod {
    *PODS.iter().find(|p| p.name == name).expect("pod")
}

fn rack(name: &str) -> Rack {
    *RACKS.iter().find(|r| r.name == name).expect("rack")
}

fn super_spine_name(fabric: &str, i: usize) -> String {
    format!("ss-{}-{i}", fabric.to_lowercase())
}

fn spine_name(pod: &str, i: usize) -> String {
    format!("spine-{}-{i}", pod.to_lowercase())
}

fn leaf_name(rack: &Rack, leaf: usize) -> String {
    format!("leaf-{}-{}-{leaf}", rack.pod.to_lowercase(), rack.index)
}

/// One cable: its name and both ends (device, interface), lower tier first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Link {
    name: String,
    src: (String, String),
    dst: (String, String),
}

fn link(src: (String, String), dst: (String, String)) -> Link {
    Link {
        name: format!("{}-{}__{}-{}", src.0, src.1, dst.0, dst.1),
        src,
        dst,
    }
}

/// Reference §2.5, pod: uplink j of spine s (0-based) ↔ super spine j, at
/// position (index − 2)·N + s of its spine-role ports, in plan order.
fn pod_plan(pod: Pod) -> Vec<Link> {
    let fabric = fabric(pod.fabric);
    let n = fabric.super_spines;
    let mut down = template(fabric.template).ports("spine");
    if fabric.reverse_super_spine_ports {
        down.reverse();
    }
    let up = template(pod.template).ports("super_spine");
    let mut plan = Vec::new();
    for s in 0..pod.spines {
        for (j, uplink) in up.iter().take(n).enumerate() {
            plan.push(link(
                (spine_name(pod.name, s + 1), uplink.clone()),
                (
                    super_spine_name(fabric.name, j + 1),
                    down[(pod.index - 2) * n + s].clone(),
                ),
            ));
        }
    }
    plan
}

/// Reference §2.5, rack: uplink j of leaf L ↔ spine j, at position
/// 2·(index − 1) + (L − 1) of its leaf-role ports, in plan order.
fn rack_plan(rack: Rack, spines: usize) -> Vec<Link> {
    let pod = pod(rack.pod);
    let up = template(rack.template).ports("spine");
    let down = template(pod.template).ports("leaf");
    let mut plan = Vec::new();
    for leaf in 1..=rack.leafs {
        for (j, uplink) in up.iter().take(spines).enumerate() {
            plan.push(link(
                (leaf_name(&rack, leaf), uplink.clone()),
                (
                    spine_name(pod.name, j + 1),
                    down[2 * (rack.index - 1) + (leaf - 1)].clone(),
                ),
            ));
        }
    }
    plan
}

fn sorted(mut links: Vec<Link>) -> Vec<Link> {
    links.sort();
    links
}

/// Every link of the seed design.
fn seed_links() -> Vec<Link> {
    let mut links: Vec<Link> = PODS.iter().flat_map(|p| pod_plan(*p)).collect();
    links.extend(RACKS.iter().flat_map(|r| rack_plan(*r, pod(r.pod).spines)));
    sorted(links)
}

/// (hostname, role, index, pod, rack, template) of a device.
type Device = (
    String,
    String,
    Option<i64>,
    String,
    Option<String>,
    &'static str,
);

/// Every device of the seed.
fn seed_devices() -> Vec<Device> {
    let mut devices = Vec::new();
    for f in FABRICS {
        let fabric_pod = format!("Pod-{}1", &f.name[7..]);
        for i in 1..=f.super_spines {
            devices.push((
                super_spine_name(f.name, i),
                "super_spine".into(),
                None,
                fabric_pod.clone(),
                None,
                f.template,
            ));
        }
    }
    for p in PODS {
        for i in 1..=p.spines {
            devices.push((
                spine_name(p.name, i),
                "spine".into(),
                None,
                p.name.to_owned(),
                None,
                p.template,
            ));
        }
    }
    for r in RACKS {
        for l in 1..=r.leafs {
            devices.push((
                leaf_name(r, l),
                "leaf".into(),
                Some(l as i64),
                r.pod.to_owned(),
                Some(r.name.to_owned()),
                r.template,
            ));
        }
    }
    devices.sort();
    devices
}

// ---------------------------------------------------------------------------
// IPv4 arithmetic for the pool rules (reference §2.7).
// ---------------------------------------------------------------------------

fn parse(cidr: &str) -> (u32, u8) {
    let (ip, len) = cidr
        .split_once('/')
        .unwrap_or_else(|| panic!("not a CIDR: {cidr}"));
    let octets: Vec<u32> = ip.split('.').map(|o| o.parse().expect("octet")).collect();
    assert_eq!(octets.len(), 4, "{cidr}");
    (
        octets.iter().fold(0, |acc, o| (acc << 8) | o),
        len.parse().expect("length"),
    )
}

fn show(ip: u32, len: u8) -> String {
    format!(
        "{}.{}.{}.{}/{len}",
        ip >> 24,
        (ip >> 16) & 255,
        (ip >> 8) & 255,
        ip & 255
    )
}

fn mask(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

/// Whether the address or prefix `inner` lies inside the prefix `outer`.
fn inside(inner: &str, outer: &str) -> bool {
    let (i, il) = parse(inner);
    let (o, ol) = parse(outer);
    il >= ol && (i & mask(ol)) == (o & mask(ol))
}

fn network(cidr: &str) -> String {
    let (ip, len) = parse(cidr);
    show(ip & mask(len), len)
}

/// The /16 of a fabric, the /19 of a pod, when targets run one at a time in
/// the seed's order: the /28 of super-spine loopbacks takes the first /19 of
/// the /16, so the pods get the second and third.
fn fabric_supernet(f: &Fabric) -> u32 {
    (10 << 24) | (f.position << 16)
}

fn pod_supernet(p: Pod) -> u32 {
    fabric_supernet(fabric(p.fabric)) + ((p.index as u32 - 1) << 13)
}

// ---------------------------------------------------------------------------
// The CLI on a store of its own.
// ---------------------------------------------------------------------------

struct Env {
    dir: tempfile::TempDir,
}

fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("infragen-aidc-test-cache")
}

fn infragen_in(store: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut command = Command::new(infragen_bin());
    command
        .arg("--store")
        .arg(store)
        .args(args)
        .env("INFRAGEN_CACHE_DIR", cache_dir())
        .env_remove("INFRAHUB_ADDRESS")
        .env_remove("INFRAGEN_STORE")
        .env_remove("INFRAGEN_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("infragen runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let output = child.wait_with_output().expect("infragen exits");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The repository imported (schema, objects, definitions, trigger rules) and
/// branch `br1` created, nothing generated.
fn load_seed(store: &Path) {
    let root = workspace_root();
    for args in [
        vec!["sync", "--repository", root.to_str().expect("utf-8")],
        vec!["branch", "create", "br1"],
    ] {
        let (code, stdout, stderr) = infragen_in(store, &args, None);
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    }
}

/// Runs `generator NAME VARS… --no-cascade --json` on br1 (one tier, what
/// these tests specify) and returns (exit code, report).
fn generate_in(store: &Path, definition: &str, vars: &[&str], concurrency: usize) -> (i32, Value) {
    generator_in(store, definition, vars, concurrency, &["--no-cascade"])
}

/// Runs `generator NAME VARS… --json` on br1 with `extra` flags.
fn generator_in(
    store: &Path,
    definition: &str,
    vars: &[&str],
    concurrency: usize,
    extra: &[&str],
) -> (i32, Value) {
    let root = workspace_root();
    let concurrency = concurrency.to_string();
    let mut args = vec![
        "generator",
        definition,
        "--repository",
        root.to_str().expect("utf-8"),
        "--branch",
        "br1",
        "--concurrency",
        &concurrency,
        "--json",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(vars);
    let (code, stdout, stderr) = infragen_in(store, &args, None);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("{definition} {vars:?}: no JSON report ({e}): {stdout}{stderr}")
    });
    (code, report)
}

fn assert_all_succeeded(report: &Value) {
    let targets = report["targets"].as_array().expect("targets");
    assert!(!targets.is_empty(), "{report:#}");
    for target in targets {
        assert_eq!(target["outcome"]["status"], "succeeded", "{target:#}");
    }
}

/// The three tiers, one definition after the other.
fn generate_seed(store: &Path, concurrency: usize) -> Vec<Value> {
    ["generate-fabric", "generate-pod", "generate-rack"]
        .iter()
        .map(|definition| {
            let (code, report) = generate_in(store, definition, &[], concurrency);
            assert_eq!(code, 0, "{report:#}");
            assert_all_succeeded(&report);
            report
        })
        .collect()
}

/// The three tiers, one target per `infragen generator NAME KEY=VALUE` run,
/// in the seed's order (group order). `--concurrency 1` over a whole group
/// does not guarantee that order (see
/// `concurrency_1_runs_the_targets_of_a_group_in_group_order`).
fn generate_seed_in_order(store: &Path) -> Vec<Value> {
    let fabrics = FABRICS
        .iter()
        .map(|f| ("generate-fabric", format!("fabric_name={}", f.name)));
    let pods = ["Pod-A1", "Pod-A2", "Pod-A3", "Pod-B1", "Pod-B2", "Pod-B3"]
        .iter()
        .map(|p| ("generate-pod", format!("pod_name={p}")));
    let racks = RACKS
        .iter()
        .map(|r| ("generate-rack", format!("rack_name={}", r.name)));
    fabrics
        .chain(pods)
        .chain(racks)
        .map(|(definition, var)| {
            let (code, report) = generate_in(store, definition, &[&var], 1);
            assert_eq!(code, 0, "{report:#}");
            assert_all_succeeded(&report);
            report
        })
        .collect()
}

/// Compares two maps and lists only the entries that differ.
fn assert_same<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    actual: &BTreeMap<K, V>,
    expected: &BTreeMap<K, V>,
    what: &str,
) {
    let mut differences = Vec::new();
    for (key, value) in expected {
        match actual.get(key) {
            Some(got) if got == value => {}
            got => differences.push(format!("{key:?}: expected {value:?}, got {got:?}")),
        }
    }
    for (key, value) in actual {
        if !expected.contains_key(key) {
            differences.push(format!("{key:?}: unexpected {value:?}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{what}: {} difference(s):\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// What the fixture depends on: the binary, the plugins and the design files.
fn fingerprint() -> u64 {
    use std::hash::{Hash, Hasher};
    let root = workspace_root();
    let mut files = vec![infragen_bin(), root.join(".infrahub.yml")];
    // Built here when missing (the repository's `file_path`s point at them).
    for plugin in ["generate-fabric", "generate-pod", "generate-rack"] {
        files.push(guest(plugin));
    }
    for dir in ["schemas", "objects", "generators"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("design dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        files.extend(entries);
    }
    let mut hasher = std::hash::DefaultHasher::new();
    // Bump when the way the fixture is built changes.
    "one target per run, in group order, synced, v3".hash(&mut hasher);
    for file in files {
        let meta = std::fs::metadata(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        file.hash(&mut hasher);
        meta.len().hash(&mut hasher);
        meta.modified().expect("mtime").hash(&mut hasher);
    }
    hasher.finish()
}

/// The directory holding the seed generated one target at a time in group
/// order, shared by every test process of these inputs.
fn seed_fixture() -> &'static Path {
    static FIXTURE: OnceLock<PathBuf> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("infragen-aidc-seed-{:016x}", fingerprint()));
        std::fs::create_dir_all(&dir).expect("fixture dir");
        let done = dir.join("done");
        if done.is_file() {
            return dir;
        }
        let lock = std::fs::File::create(dir.join("lock")).expect("lock file");
        lock.lock().expect("lock the fixture");
        if !done.is_file() {
            for entry in std::fs::read_dir(&dir).expect("fixture dir") {
                let path = entry.expect("entry").path();
                if path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("store.db"))
                {
                    std::fs::remove_file(path).expect("remove a partial fixture");
                }
            }
            let store = dir.join("store.db");
            load_seed(&store);
            let reports = generate_seed_in_order(&store);
            std::fs::write(
                dir.join("reports.json"),
                serde_json::to_string(&reports).expect("json"),
            )
            .expect("write reports");
            std::fs::write(&done, b"").expect("mark the fixture done");
        }
        drop(lock);
        dir
    })
}

impl Env {
    fn empty() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The seed loaded, nothing generated.
    fn seeded() -> Env {
        let env = Env::empty();
        load_seed(&env.store());
        env
    }

    /// A private copy of the seed generated one target at a time.
    fn generated() -> Env {
        let env = Env::empty();
        let fixture = seed_fixture();
        for entry in std::fs::read_dir(fixture).expect("fixture dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("name").to_owned();
            if name.to_string_lossy().starts_with("store.db") {
                std::fs::copy(&path, env.dir.path().join(name)).expect("copy the fixture store");
            }
        }
        env
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }

    fn generate(&self, definition: &str, vars: &[&str], concurrency: usize) -> (i32, Value) {
        generate_in(&self.store(), definition, vars, concurrency)
    }

    /// One run that must succeed on every target.
    fn generate_ok(&self, definition: &str, vars: &[&str]) -> Value {
        let (code, report) = self.generate(definition, vars, 1);
        assert_eq!(code, 0, "{report:#}");
        assert_all_succeeded(&report);
        report
    }

    /// One run of one target that must fail; returns its message.
    fn generate_failure(&self, definition: &str, var: &str) -> String {
        let (code, report) = self.generate(definition, &[var], 1);
        assert_eq!(code, 1, "{report:#}");
        let target = &report["targets"][0];
        assert_eq!(target["outcome"]["status"], "failed", "{report:#}");
        target["outcome"]["message"]
            .as_str()
            .expect("message")
            .to_owned()
    }

    /// Runs a GraphQL document on br1 and returns `data`.
    fn query(&self, document: &str) -> Value {
        let (code, stdout, stderr) = infragen_in(
            &self.store(),
            &["query", "-", "--branch", "br1"],
            Some(document),
        );
        assert_eq!(code, 0, "{document}\n{stdout}{stderr}");
        let response: Value = serde_json::from_str(&stdout).expect("JSON response");
        assert!(response.get("errors").is_none(), "{document}\n{response:#}");
        response["data"].clone()
    }

    fn load_objects(&self, yaml: &str) {
        let file = self.dir.path().join("objects.yml");
        std::fs::write(&file, yaml).expect("write object file");
        let (code, stdout, stderr) = infragen_in(
            &self.store(),
            &[
                "object",
                "load",
                "--branch",
                "br1",
                file.to_str().expect("utf-8"),
            ],
            None,
        );
        assert_eq!(code, 0, "{stdout}{stderr}");
    }

    fn last_event(&self) -> i64 {
        infragen_store::Store::open(self.store())
            .expect("store opens")
            .last_event_seq()
            .expect("seq")
    }

    /// Kinds of the nodes changed since event `seq`, with their actions.
    fn events_since(&self, seq: i64) -> Vec<(String, String)> {
        infragen_store::Store::open(self.store())
            .expect("store opens")
            .events_since(seq)
            .expect("events")
            .into_iter()
            .map(|e| (e.kind, e.name))
            .collect()
    }

    fn id_of(&self, kind: &str, filter: &str) -> String {
        let data = self.query(&format!(
            "{{ {kind}({filter}) {{ edges {{ node {{ id }} }} }} }}"
        ));
        data[kind]["edges"][0]["node"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no {kind}({filter})"))
            .to_owned()
    }

    // --- what the store holds ----------------------------------------------

    fn count(&self, kind: &str, filter: &str) -> i64 {
        let filter = if filter.is_empty() {
            String::new()
        } else {
            format!("({filter})")
        };
        self.query(&format!("{{ {kind}{filter} {{ count }} }}"))[kind]["count"]
            .as_i64()
            .expect("count")
    }

    /// Every link, with its medium and ends; `src` is the end on the link's
    /// lower-tier device (the one its name starts with).
    fn links(&self) -> Vec<Link> {
        let data = self.query(
            "{ NetworkLink { edges { node { name { value } medium { value } endpoints { edges { node { \
               ... on NetworkInterface { name { value } device { node { display_label } } } } } } } } } }",
        );
        let mut links = Vec::new();
        for edge in data["NetworkLink"]["edges"].as_array().expect("edges") {
            let node = &edge["node"];
            let name = node["name"]["value"].as_str().expect("name").to_owned();
            assert_eq!(node["medium"]["value"], "copper", "{name}");
            let ends: Vec<(String, String)> = node["endpoints"]["edges"]
                .as_array()
                .expect("endpoints")
                .iter()
                .map(|e| {
                    (
                        e["node"]["device"]["node"]["display_label"]
                            .as_str()
                            .expect("device")
                            .to_owned(),
                        e["node"]["name"]["value"]
                            .as_str()
                            .expect("interface")
                            .to_owned(),
                    )
                })
                .collect();
            assert_eq!(ends.len(), 2, "{name} has {ends:?}");
            let (src, dst) = if name.starts_with(&format!("{}-{}__", ends[0].0, ends[0].1)) {
                (ends[0].clone(), ends[1].clone())
            } else {
                (ends[1].clone(), ends[0].clone())
            };
            links.push(Link { name, src, dst });
        }
        sorted(links)
    }

    /// (hostname, interface) → status of every interface.
    fn statuses(&self) -> BTreeMap<(String, String), String> {
        let data = self.query(
            "{ NetworkInterface { edges { node { name { value } status { value } device { node { display_label } } } } } }",
        );
        data["NetworkInterface"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                let n = &e["node"];
                (
                    (
                        n["device"]["node"]["display_label"]
                            .as_str()
                            .expect("device")
                            .to_owned(),
                        n["name"]["value"].as_str().expect("name").to_owned(),
                    ),
                    n["status"]["value"].as_str().expect("status").to_owned(),
                )
            })
            .collect()
    }

    /// prefix → role of every `IpamIPPrefix`.
    fn prefixes(&self) -> BTreeMap<String, String> {
        let data =
            self.query("{ IpamIPPrefix { edges { node { prefix { value } role { value } } } } }");
        let edges = data["IpamIPPrefix"]["edges"].as_array().expect("edges");
        let prefixes: BTreeMap<String, String> = edges
            .iter()
            .map(|e| {
                (
                    e["node"]["prefix"]["value"]
                        .as_str()
                        .expect("prefix")
                        .to_owned(),
                    e["node"]["role"]["value"]
                        .as_str()
                        .expect("role")
                        .to_owned(),
                )
            })
            .collect();
        assert_eq!(prefixes.len(), edges.len(), "duplicate prefixes");
        prefixes
    }

    /// (device, interface) → address of every `IpamIPAddress`; panics on an
    /// address without an interface or two addresses on one interface.
    fn addresses(&self) -> BTreeMap<(String, String), String> {
        let data = self.query(
            "{ IpamIPAddress { edges { node { address { value } interface { node { \
               ... on NetworkInterface { name { value } device { node { display_label } } } } } } } } }",
        );
        let edges = data["IpamIPAddress"]["edges"].as_array().expect("edges");
        let mut addresses = BTreeMap::new();
        for e in edges {
            let n = &e["node"];
            let address = n["address"]["value"].as_str().expect("address").to_owned();
            let interface = &n["interface"]["node"];
            let key = (
                interface["device"]["node"]["display_label"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{address} has no interface"))
                    .to_owned(),
                interface["name"]["value"]
                    .as_str()
                    .expect("interface")
                    .to_owned(),
            );
            assert!(
                addresses.insert(key.clone(), address).is_none(),
                "two addresses on {key:?}"
            );
        }
        addresses
    }

    /// pool name → its one resource.
    fn pools(&self) -> BTreeMap<String, String> {
        let data = self.query(
            "{ CoreIPPrefixPool { edges { node { name { value } resources { edges { node { display_label } } } } } } \
               CoreIPAddressPool { edges { node { name { value } resources { edges { node { display_label } } } } } } }",
        );
        let mut pools = BTreeMap::new();
        for kind in ["CoreIPPrefixPool", "CoreIPAddressPool"] {
            for e in data[kind]["edges"].as_array().expect("edges") {
                let resources = e["node"]["resources"]["edges"]
                    .as_array()
                    .expect("resources");
                assert_eq!(resources.len(), 1, "{e}");
                pools.insert(
                    e["node"]["name"]["value"]
                        .as_str()
                        .expect("name")
                        .to_owned(),
                    resources[0]["node"]["display_label"]
                        .as_str()
                        .expect("resource")
                        .to_owned(),
                );
            }
        }
        pools
    }
}

/// The target's `succeeded` figures: (written, new, kept, deleted, stamps changed).
fn figures(target: &Value) -> (i64, i64, i64, i64, i64) {
    let o = &target["outcome"];
    assert_eq!(o["status"], "succeeded", "{target:#}");
    let f = |k: &str| o[k].as_i64().expect("figure");
    (
        f("written"),
        f("new"),
        f("kept"),
        f("deleted"),
        f("stamps_changed"),
    )
}

fn only_target(report: &Value) -> &Value {
    let targets = report["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 1, "{report:#}");
    &targets[0]
}

/// The failure message of the runner for a generator error.
fn failure(definition: &str, target: &str, id: &str, message: &str) -> String {
    format!("generator `{definition}` failed on target `{target}` ({id}): generator: {message}")
}

/// Kinds the design owns: a gate or a re-run must not change any of them.
fn is_design_kind(kind: &str) -> bool {
    [
        "Network",
        "Ipam",
        "Location",
        "CoreIP",
        "Template",
        "CoreStandardGroup",
    ]
    .iter()
    .any(|prefix| kind.starts_with(prefix))
}

fn links_of(links: &[Link], device_prefix: &str) -> Vec<Link> {
    links
        .iter()
        .filter(|l| l.src.0.starts_with(device_prefix))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------
// The seed, generated.
// ---------------------------------------------------------------------------

#[test]
fn the_seed_makes_exactly_48_devices_with_their_names_roles_and_interfaces() {
    let env = Env::generated();
    let data = env.query(
        "{ NetworkDevice { count edges { node { hostname { value } role { value } index { value } \
           interfaces { count } pod { node { display_label } } rack { node { display_label } } } } } }",
    );
    assert_eq!(data["NetworkDevice"]["count"], 48);
    let mut devices: Vec<_> = data["NetworkDevice"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["hostname"]["value"]
                    .as_str()
                    .expect("hostname")
                    .to_owned(),
                n["role"]["value"].as_str().expect("role").to_owned(),
                n["index"]["value"].as_i64(),
                n["pod"]["node"]["display_label"]
                    .as_str()
                    .expect("pod")
                    .to_owned(),
                n["rack"]["node"]["display_label"]
                    .as_str()
                    .map(str::to_owned),
                n["interfaces"]["count"].as_i64().expect("interfaces"),
            )
        })
        .collect();
    devices.sort();
    let expected: Vec<_> = seed_devices()
        .into_iter()
        .map(|(h, r, i, p, rk, t)| (h, r, i, p, rk, template(t).total as i64))
        .collect();
    assert_eq!(devices, expected);

    // Spelled out per role, as the README lists them.
    let names = |role: &str, prefix: &str| -> Vec<String> {
        let mut names: Vec<String> = devices
            .iter()
            .filter(|d| d.1 == role && d.0.contains(prefix))
            .map(|d| d.0.clone())
            .collect();
        names.sort_by_key(|n| (n.len(), n.clone()));
        names
    };
    assert_eq!(
        names("super_spine", "fabric-a"),
        [
            "ss-fabric-a-1",
            "ss-fabric-a-2",
            "ss-fabric-a-3",
            "ss-fabric-a-4",
            "ss-fabric-a-5",
            "ss-fabric-a-6"
        ]
    );
    assert_eq!(
        names("super_spine", "fabric-b"),
        [
            "ss-fabric-b-1",
            "ss-fabric-b-2",
            "ss-fabric-b-3",
            "ss-fabric-b-4"
        ]
    );
    assert_eq!(
        names("spine", "pod-a"),
        [
            "spine-pod-a2-1",
            "spine-pod-a2-2",
            "spine-pod-a2-3",
            "spine-pod-a2-4",
            "spine-pod-a3-1",
            "spine-pod-a3-2",
            "spine-pod-a3-3",
            "spine-pod-a3-4"
        ]
    );
    assert_eq!(
        names("spine", "pod-b"),
        [
            "spine-pod-b2-1",
            "spine-pod-b2-2",
            "spine-pod-b2-3",
            "spine-pod-b2-4",
            "spine-pod-b3-1",
            "spine-pod-b3-2",
            "spine-pod-b3-3",
            "spine-pod-b3-4"
        ]
    );
    assert_eq!(
        names("leaf", "pod-a"),
        [
            "leaf-pod-a2-1-1",
            "leaf-pod-a2-1-2",
            "leaf-pod-a2-2-1",
            "leaf-pod-a2-3-1",
            "leaf-pod-a2-3-2",
            "leaf-pod-a2-4-1",
            "leaf-pod-a3-1-1",
            "leaf-pod-a3-1-2",
            "leaf-pod-a3-2-1",
            "leaf-pod-a3-3-1",
            "leaf-pod-a3-4-1"
        ]
    );
    assert_eq!(
        names("leaf", "pod-b"),
        [
            "leaf-pod-b2-1-1",
            "leaf-pod-b2-1-2",
            "leaf-pod-b2-2-1",
            "leaf-pod-b2-3-1",
            "leaf-pod-b2-3-2",
            "leaf-pod-b2-4-1",
            "leaf-pod-b3-1-1",
            "leaf-pod-b3-1-2",
            "leaf-pod-b3-2-1",
            "leaf-pod-b3-3-1",
            "leaf-pod-b3-4-1"
        ]
    );
    let per_fabric = |fabric: &str| {
        ["super_spine", "spine", "leaf"].map(|role| {
            devices
                .iter()
                .filter(|d| d.1 == role && d.0.contains(fabric))
                .count()
        })
    };
    assert_eq!(per_fabric("-a"), [6, 8, 11]);
    assert_eq!(per_fabric("-b"), [4, 8, 11]);

    // Every device is in `devices`.
    let data = env.query("{ CoreStandardGroup(name__value: \"devices\") { edges { node { members { edges { node { display_label } } } } } } }");
    let members: BTreeSet<String> =
        data["CoreStandardGroup"]["edges"][0]["node"]["members"]["edges"]
            .as_array()
            .expect("members")
            .iter()
            .map(|e| {
                e["node"]["display_label"]
                    .as_str()
                    .expect("label")
                    .to_owned()
            })
            .collect();
    assert_eq!(
        members,
        devices.iter().map(|d| d.0.clone()).collect::<BTreeSet<_>>()
    );

    // Totals of the README: interfaces from the templates, 2 active per link
    // plus each loopback, 160 links, 173 prefixes, 368 addresses, 13 pools.
    assert_eq!(env.count("NetworkInterface", ""), 1958);
    assert_eq!(
        env.count("NetworkInterface", "status__value: \"active\""),
        368
    );
    assert_eq!(env.count("NetworkLink", ""), 160);
    assert_eq!(env.count("IpamIPPrefix", ""), 173);
    assert_eq!(env.count("IpamIPAddress", ""), 368);
    assert_eq!(env.pools().len(), 13);
}

#[test]
fn every_link_of_the_seed_follows_the_cabling_formulas() {
    let env = Env::generated();
    let links = env.links();
    assert_eq!(links.len(), 160);
    assert_eq!(links, seed_links());
    // Fabric-A's spines have 5 uplinks for 6 super spines: ss-fabric-a-6 gets none.
    assert!(!links.iter().any(|l| l.dst.0 == "ss-fabric-a-6"));
    // No port is used twice.
    let ends: Vec<_> = links
        .iter()
        .flat_map(|l| [l.src.clone(), l.dst.clone()])
        .collect();
    assert_eq!(ends.iter().collect::<BTreeSet<_>>().len(), 320);
}

/// The links of a pod or rack, endpoint by endpoint, and every cabled port active.
fn assert_plan(env: &Env, device_prefix: &str, plan: Vec<Link>, first: &str) {
    let links = env.links();
    let actual = links_of(&links, device_prefix);
    assert_eq!(actual, sorted(plan.clone()), "{device_prefix}");
    assert_eq!(plan[0].name, first);
    let statuses = env.statuses();
    for l in &plan {
        for end in [&l.src, &l.dst] {
            assert_eq!(
                statuses.get(end).map(String::as_str),
                Some("active"),
                "{end:?} of {}",
                l.name
            );
        }
    }
}

#[test]
fn pod_a2_is_cabled_endpoint_by_endpoint() {
    let env = Env::generated();
    let plan = pod_plan(pod("Pod-A2"));
    assert_eq!(plan.len(), 20);
    // spine s uplink Ethernet(28+j) ↔ ss-fabric-a-(j+1) Ethernet(28−s), reverse sorted.
    for (k, l) in plan.iter().enumerate() {
        let (s, j) = (k / 5, k % 5);
        assert_eq!(
            l.src,
            (
                format!("spine-pod-a2-{}", s + 1),
                format!("Ethernet{}", 28 + j)
            )
        );
        assert_eq!(
            l.dst,
            (
                format!("ss-fabric-a-{}", j + 1),
                format!("Ethernet{}", 28 - s)
            )
        );
    }
    assert_plan(
        &env,
        "spine-pod-a2-",
        plan,
        "spine-pod-a2-1-Ethernet28__ss-fabric-a-1-Ethernet28",
    );
}

#[test]
fn pod_b3_is_cabled_endpoint_by_endpoint() {
    let env = Env::generated();
    let plan = pod_plan(pod("Pod-B3"));
    assert_eq!(plan.len(), 16);
    for (k, l) in plan.iter().enumerate() {
        let (s, j) = (k / 4, k % 4);
        assert_eq!(
            l.src,
            (
                format!("spine-pod-b3-{}", s + 1),
                format!("Ethernet1/{}", 33 + j)
            )
        );
        assert_eq!(
            l.dst,
            (
                format!("ss-fabric-b-{}", j + 1),
                format!("Ethernet1/{}", 5 + s)
            )
        );
    }
    assert_plan(
        &env,
        "spine-pod-b3-",
        plan,
        "spine-pod-b3-1-Ethernet1/33__ss-fabric-b-1-Ethernet1/5",
    );
}

#[test]
fn rack_a2_3_is_cabled_endpoint_by_endpoint() {
    let env = Env::generated();
    let plan = rack_plan(rack("Rack-A2-3"), 4);
    assert_eq!(plan.len(), 8);
    for (k, l) in plan.iter().enumerate() {
        let (leaf, j) = (k / 4 + 1, k % 4);
        assert_eq!(
            l.src,
            (
                format!("leaf-pod-a2-3-{leaf}"),
                format!("Ethernet{}", 27 + j)
            )
        );
        assert_eq!(
            l.dst,
            (
                format!("spine-pod-a2-{}", j + 1),
                format!("Ethernet{}", 4 + leaf)
            )
        );
    }
    assert_plan(
        &env,
        "leaf-pod-a2-3-",
        plan,
        "leaf-pod-a2-3-1-Ethernet27__spine-pod-a2-1-Ethernet5",
    );
}

#[test]
fn fabric_b_racks_are_cabled_endpoint_by_endpoint() {
    let env = Env::generated();
    // Rack-B3-4: one storage leaf, uplink Ethernet1/1/(1+j) ↔ spine j Ethernet1/7;
    // Ethernet1/8, the second port of the rack's window, stays idle.
    let plan = rack_plan(rack("Rack-B3-4"), 4);
    assert_eq!(plan.len(), 4);
    for (j, l) in plan.iter().enumerate() {
        assert_eq!(
            l.src,
            (
                "leaf-pod-b3-4-1".to_owned(),
                format!("Ethernet1/1/{}", 1 + j)
            )
        );
        assert_eq!(
            l.dst,
            (format!("spine-pod-b3-{}", j + 1), "Ethernet1/7".to_owned())
        );
    }
    assert_plan(
        &env,
        "leaf-pod-b3-4-",
        plan,
        "leaf-pod-b3-4-1-Ethernet1/1/1__spine-pod-b3-1-Ethernet1/7",
    );
    let statuses = env.statuses();
    for j in 1..=4 {
        assert_eq!(
            statuses[&(format!("spine-pod-b3-{j}"), "Ethernet1/8".to_owned())],
            "inactive"
        );
    }
    // Rack-B2-1: leaf L ↔ Ethernet1/L.
    let plan = rack_plan(rack("Rack-B2-1"), 4);
    for (k, l) in plan.iter().enumerate() {
        let (leaf, j) = (k / 4 + 1, k % 4);
        assert_eq!(
            l.src,
            (
                format!("leaf-pod-b2-1-{leaf}"),
                format!("Ethernet1/1/{}", 1 + j)
            )
        );
        assert_eq!(
            l.dst,
            (
                format!("spine-pod-b2-{}", j + 1),
                format!("Ethernet1/{leaf}")
            )
        );
    }
    assert_plan(
        &env,
        "leaf-pod-b2-1-",
        plan,
        "leaf-pod-b2-1-1-Ethernet1/1/1__spine-pod-b2-1-Ethernet1/1",
    );
}

/// Every prefix and address of the seed when targets run one at a time in the
/// seed's order, from the pool rules: first free sub-prefix in order, address
/// pools skip the network address, the lower tier gets the even address.
fn expected_sequential_ipam() -> (BTreeMap<String, String>, BTreeMap<(String, String), String>) {
    let mut prefixes = BTreeMap::from([("10.0.0.0/8".to_owned(), "supernet".to_owned())]);
    let mut addresses = BTreeMap::new();
    for f in FABRICS {
        let supernet = fabric_supernet(f);
        prefixes.insert(show(supernet, 16), "fabric_supernet".into());
        prefixes.insert(show(supernet, 28), "super_spine_loopback".into());
        for i in 1..=f.super_spines {
            addresses.insert(
                (super_spine_name(f.name, i), "Loopback0".into()),
                show(supernet + i as u32, 32),
            );
        }
    }
    for p in PODS {
        let supernet = pod_supernet(*p);
        prefixes.insert(show(supernet, 19), "pod_supernet".into());
        prefixes.insert(show(supernet, 27), "pod_loopback".into());
        let mut loopbacks: Vec<String> = (1..=p.spines).map(|i| spine_name(p.name, i)).collect();
        let racks: Vec<Rack> = RACKS.iter().filter(|r| r.pod == p.name).copied().collect();
        loopbacks.extend(
            racks
                .iter()
                .flat_map(|r| (1..=r.leafs).map(move |l| leaf_name(r, l))),
        );
        for (k, device) in loopbacks.into_iter().enumerate() {
            addresses.insert(
                (device, "Loopback0".into()),
                show(supernet + k as u32 + 1, 32),
            );
        }
        // Then /31s from the first address after the /27, in plan order.
        let pod_links = pod_plan(*p)
            .into_iter()
            .map(|l| (l, "pod_super_spine_spine"));
        let rack_links = racks
            .iter()
            .flat_map(|r| rack_plan(*r, p.spines))
            .map(|l| (l, "pod_leaf_spine"));
        for (k, (l, role)) in pod_links.chain(rack_links).enumerate() {
            let even = supernet + 32 + 2 * k as u32;
            prefixes.insert(show(even, 31), role.into());
            addresses.insert(l.src.clone(), show(even, 31));
            addresses.insert(l.dst.clone(), show(even + 1, 31));
        }
    }
    (prefixes, addresses)
}

#[test]
fn targets_run_one_at_a_time_get_exactly_the_prefixes_and_addresses_of_the_pool_rules() {
    let env = Env::generated();
    let prefixes = env.prefixes();
    let addresses = env.addresses();
    let pools = env.pools();

    // Spelled out, as the README states them: the fabric supernets, Pod-A2's
    // loopbacks and the /31 of its first link.
    assert_eq!(prefixes["10.0.0.0/16"], "fabric_supernet");
    assert_eq!(prefixes["10.1.0.0/16"], "fabric_supernet");
    assert_eq!(pools["fabric-a-prefix-pool"], "10.0.0.0/16");
    assert_eq!(pools["fabric-b-prefix-pool"], "10.1.0.0/16");
    assert_eq!(pools["fabric-a-super-spine-loopback-pool"], "10.0.0.0/28");
    assert_eq!(pools["fabric-b-super-spine-loopback-pool"], "10.1.0.0/28");
    assert_eq!(pools["fabric-a-pod-a2-prefix-pool"], "10.0.32.0/19");
    assert_eq!(pools["fabric-a-pod-a3-prefix-pool"], "10.0.64.0/19");
    assert_eq!(pools["fabric-b-pod-b2-prefix-pool"], "10.1.32.0/19");
    assert_eq!(pools["fabric-b-pod-b3-prefix-pool"], "10.1.64.0/19");
    assert_eq!(pools["fabric-a-pod-a2-loopback-pool"], "10.0.32.0/27");
    assert_eq!(pools["FabricSupernetPool"], "10.0.0.0/8");
    let loopback = |device: &str| addresses[&(device.to_owned(), "Loopback0".to_owned())].clone();
    for (i, device) in [
        "ss-fabric-a-1",
        "ss-fabric-a-2",
        "ss-fabric-a-3",
        "ss-fabric-a-4",
        "ss-fabric-a-5",
        "ss-fabric-a-6",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(loopback(device), format!("10.0.0.{}/32", i + 1));
    }
    for (device, address) in [
        ("spine-pod-a2-1", "10.0.32.1/32"),
        ("spine-pod-a2-2", "10.0.32.2/32"),
        ("spine-pod-a2-3", "10.0.32.3/32"),
        ("spine-pod-a2-4", "10.0.32.4/32"),
        ("leaf-pod-a2-1-1", "10.0.32.5/32"),
        ("leaf-pod-a2-1-2", "10.0.32.6/32"),
        ("leaf-pod-a2-2-1", "10.0.32.7/32"),
        ("leaf-pod-a2-3-1", "10.0.32.8/32"),
        ("leaf-pod-a2-3-2", "10.0.32.9/32"),
        ("leaf-pod-a2-4-1", "10.0.32.10/32"),
    ] {
        assert_eq!(loopback(device), address, "{device}");
    }
    assert_eq!(prefixes["10.0.32.32/31"], "pod_super_spine_spine");
    assert_eq!(
        addresses[&("spine-pod-a2-1".to_owned(), "Ethernet28".to_owned())],
        "10.0.32.32/31"
    );
    assert_eq!(
        addresses[&("ss-fabric-a-1".to_owned(), "Ethernet28".to_owned())],
        "10.0.32.33/31"
    );
    assert_eq!(prefixes["10.0.32.96/31"], "pod_leaf_spine");
    assert_eq!(
        addresses[&("leaf-pod-a2-3-1".to_owned(), "Ethernet27".to_owned())],
        "10.0.32.96/31"
    );
    assert_eq!(
        addresses[&("spine-pod-a2-1".to_owned(), "Ethernet5".to_owned())],
        "10.0.32.97/31"
    );

    // And all of them: 173 prefixes, 368 addresses.
    let (expected_prefixes, expected_addresses) = expected_sequential_ipam();
    assert_eq!(expected_prefixes.len(), 173);
    assert_eq!(expected_addresses.len(), 368);
    assert_same(&prefixes, &expected_prefixes, "prefixes");
    assert_same(&addresses, &expected_addresses, "addresses");

    // Each loopback is also the device's loopback_ip.
    let data = env.query("{ NetworkDevice { edges { node { hostname { value } loopback_ip { node { address { value } } } } } } }");
    for e in data["NetworkDevice"]["edges"].as_array().expect("edges") {
        let host = e["node"]["hostname"]["value"].as_str().expect("hostname");
        assert_eq!(
            e["node"]["loopback_ip"]["node"]["address"]["value"].as_str(),
            Some(loopback(host).as_str()),
            "{host}"
        );
    }
}

#[test]
/// `--concurrency 1` over whole groups gives exactly the allocation of one
/// target at a time in group order. Before the runner took each permit before
/// spawning (host/src/runner/mod.rs), tasks raced for the one permit and
/// Rack-B2-1 could run after Rack-B2-4 (leaf-pod-b2-1-1 got 10.1.32.9/32).
fn concurrency_1_runs_the_targets_of_a_group_in_group_order() {
    let env = Env::seeded();
    let reports = generate_seed(&env.store(), 1);
    let labels: Vec<&str> = reports[2]["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t["target"]["display_label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels, RACKS.iter().map(|r| r.name).collect::<Vec<_>>());
    let (expected_prefixes, expected_addresses) = expected_sequential_ipam();
    assert_same(&env.prefixes(), &expected_prefixes, "prefixes");
    assert_same(&env.addresses(), &expected_addresses, "addresses");
}

/// Which pod a device belongs to, from its name (`None` for super spines).
fn pod_of(device: &str) -> Option<Pod> {
    PODS.iter().copied().find(|p| {
        let lower = p.name.to_lowercase();
        device.starts_with(&format!("spine-{lower}-"))
            || device.starts_with(&format!("leaf-{lower}-"))
    })
}

fn fabric_of(device: &str) -> &'static Fabric {
    match pod_of(device) {
        Some(p) => fabric(p.fabric),
        None => FABRICS
            .iter()
            .find(|f| device.starts_with(&format!("ss-{}-", f.name.to_lowercase())))
            .expect("fabric of device"),
    }
}

#[test]
fn parallel_runs_give_every_address_once_and_inside_its_pool() {
    let env = Env::seeded();
    let reports = generate_seed(&env.store(), 8);
    assert_eq!(reports[0]["targets"].as_array().expect("targets").len(), 2);
    assert_eq!(reports[1]["targets"].as_array().expect("targets").len(), 6);
    assert_eq!(reports[2]["targets"].as_array().expect("targets").len(), 16);

    // The cabling does not depend on the order of runs.
    assert_eq!(env.links(), seed_links());
    let prefixes = env.prefixes();
    let addresses = env.addresses();
    let pools = env.pools();
    assert_eq!(prefixes.len(), 173);
    assert_eq!(addresses.len(), 368);
    assert_eq!(pools.len(), 13);

    // Every address once.
    let values: BTreeSet<String> = addresses
        .values()
        .map(|a| a.split('/').next().expect("ip").to_owned())
        .collect();
    assert_eq!(values.len(), 368, "an address was handed out twice");

    // The pools nest: /8 ⊃ /16 per fabric ⊃ /28 and /19 per pod ⊃ /27.
    let supernet = &pools["FabricSupernetPool"];
    let mut fabric_nets = BTreeSet::new();
    for f in FABRICS {
        let lower = f.name.to_lowercase();
        let net = &pools[&format!("{lower}-prefix-pool")];
        assert!(net.ends_with("/16") && inside(net, supernet), "{net}");
        assert_eq!(prefixes[net], "fabric_supernet");
        fabric_nets.insert(net.clone());
        let loopbacks = &pools[&format!("{lower}-super-spine-loopback-pool")];
        assert!(
            loopbacks.ends_with("/28") && inside(loopbacks, net),
            "{loopbacks}"
        );
        assert_eq!(prefixes[loopbacks], "super_spine_loopback");
        for p in PODS.iter().filter(|p| p.fabric == f.name) {
            let pod_lower = p.name.to_lowercase();
            let pod_net = &pools[&format!("{lower}-{pod_lower}-prefix-pool")];
            assert!(
                pod_net.ends_with("/19") && inside(pod_net, net),
                "{pod_net}"
            );
            assert!(!inside(loopbacks, pod_net) && !inside(pod_net, loopbacks));
            assert_eq!(prefixes[pod_net], "pod_supernet");
            let pod_loopbacks = &pools[&format!("{lower}-{pod_lower}-loopback-pool")];
            assert!(
                pod_loopbacks.ends_with("/27") && inside(pod_loopbacks, pod_net),
                "{pod_loopbacks}"
            );
            assert_eq!(prefixes[pod_loopbacks], "pod_loopback");
        }
    }
    assert_eq!(fabric_nets.len(), 2);
    let pod_nets: BTreeSet<_> = pools
        .iter()
        .filter(|(n, _)| n.contains("-pod-") && n.ends_with("-prefix-pool"))
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(pod_nets.len(), 4, "two pods share a /19: {pod_nets:?}");

    // Each loopback inside its pool.
    for ((device, interface), address) in &addresses {
        if interface != "Loopback0" {
            continue;
        }
        assert!(address.ends_with("/32"), "{device}: {address}");
        let f = fabric_of(device);
        let pool = match pod_of(device) {
            Some(p) => format!(
                "{}-{}-loopback-pool",
                f.name.to_lowercase(),
                p.name.to_lowercase()
            ),
            None => format!("{}-super-spine-loopback-pool", f.name.to_lowercase()),
        };
        assert!(
            inside(address, &pools[&pool]),
            "{device} {address} is outside {pool} ({})",
            pools[&pool]
        );
        let (ip, _) = parse(address);
        let (net, len) = parse(&pools[&pool]);
        assert!(
            ip != net && ip != net | !mask(len),
            "{device} {address}: the network or broadcast address of {pool}"
        );
    }

    // Each link's /31 inside its pod's /19, outside the /27, with the lower
    // tier on the even address and the upper tier on the odd one.
    let mut p2p = BTreeSet::new();
    for l in env.links() {
        let p = pod_of(&l.src.0).expect("pod of link");
        let pool = &pools[&format!(
            "{}-{}-prefix-pool",
            p.fabric.to_lowercase(),
            p.name.to_lowercase()
        )];
        let loopback_pool = &pools[&format!(
            "{}-{}-loopback-pool",
            p.fabric.to_lowercase(),
            p.name.to_lowercase()
        )];
        let low = &addresses[&l.src];
        let high = &addresses[&l.dst];
        let net = network(low);
        assert!(net.ends_with("/31"), "{}: {low}", l.name);
        assert_eq!(
            &net, low,
            "{}: the lower tier must get the even address",
            l.name
        );
        assert_eq!(
            network(high),
            net,
            "{}: {low} and {high} are not one /31",
            l.name
        );
        assert_ne!(low, high);
        assert!(
            inside(&net, pool) && !inside(&net, loopback_pool),
            "{}: {net} not in {pool} or inside {loopback_pool}",
            l.name
        );
        let role = if l.src.0.starts_with("spine-") {
            "pod_super_spine_spine"
        } else {
            "pod_leaf_spine"
        };
        assert_eq!(
            prefixes.get(&net).map(String::as_str),
            Some(role),
            "{}: {net}",
            l.name
        );
        assert!(p2p.insert(net.clone()), "{net} is used by two links");
    }
    assert_eq!(p2p.len(), 160);
}

#[test]
fn rerunning_every_generator_changes_nothing() {
    let env = Env::generated();
    let links = env.links();
    let prefixes = env.prefixes();
    let addresses = env.addresses();
    let statuses = env.statuses();
    let before = env.last_event();

    for concurrency in [1, 8] {
        for definition in ["generate-fabric", "generate-pod", "generate-rack"] {
            let (code, report) = env.generate(definition, &[], concurrency);
            assert_eq!(code, 0, "{report:#}");
            for target in report["targets"].as_array().expect("targets") {
                let (written, new, kept, deleted, stamps) = figures(target);
                assert_eq!(
                    (new, deleted, stamps),
                    (0, 0, 0),
                    "{definition}: {target:#}"
                );
                assert_eq!(written, kept, "{definition}: {target:#}");
            }
        }
    }

    let events = env.events_since(before);
    let design: Vec<_> = events
        .iter()
        .filter(|(kind, _)| is_design_kind(kind))
        .collect();
    assert!(
        design.is_empty(),
        "a re-run changed design nodes: {design:?}"
    );
    let other: BTreeSet<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert!(
        other.iter().all(|kind| *kind == "CoreGeneratorInstance"),
        "only the instances' Processing/Ready status may change, got events for {other:?}"
    );
    assert_eq!(env.links(), links);
    assert_eq!(env.prefixes(), prefixes);
    assert_eq!(env.addresses(), addresses);
    assert_eq!(env.statuses(), statuses);
}

const RACK_A2_5: &str = "---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: LocationRack
  data:
    - name: Rack-A2-5
      index: 5
      parent: Hall-A1
      pod: Pod-A2
      amount_of_leafs: 2
      leaf_switch_template: leaf-switch-compute
      member_of_groups: [racks]
";

#[test]
fn removing_a_rack_and_rerunning_its_pod_keeps_every_other_rack_on_its_ports() {
    let env = Env::generated();
    let before = env.links();
    let id = env.id_of("LocationRack", "name__value: \"Rack-A2-2\"");
    env.query(&format!(
        "mutation {{ LocationRackDelete(data: {{id: \"{id}\"}}) {{ ok }} }}"
    ));

    let pod_report = env.generate_ok("generate-pod", &["pod_name=Pod-A2"]);
    let (written, new, kept, deleted, _) = figures(only_target(&pod_report));
    assert_eq!(
        (written, new, kept, deleted),
        (92, 0, 92, 0),
        "{pod_report:#}"
    );
    let racks = env.generate_ok("generate-rack", &[]);
    assert_eq!(racks["targets"].as_array().expect("targets").len(), 15);
    for target in racks["targets"].as_array().expect("targets") {
        let (_, new, _, deleted, _) = figures(target);
        assert_eq!((new, deleted), (0, 0), "{target:#}");
    }

    let after = env.links();
    let others = |links: &[Link]| -> Vec<Link> {
        links
            .iter()
            .filter(|l| !l.src.0.starts_with("leaf-pod-a2-2-"))
            .cloned()
            .collect()
    };
    assert_eq!(
        others(&after),
        others(&before),
        "another rack or a pod moved"
    );
    for r in RACKS.iter().filter(|r| r.name != "Rack-A2-2") {
        assert_eq!(
            links_of(
                &after,
                &format!("leaf-{}-{}-", r.pod.to_lowercase(), r.index)
            ),
            sorted(rack_plan(*r, 4)),
            "{}",
            r.name
        );
    }
}

#[test]
fn removing_a_rack_removes_its_leafs_and_links_on_the_next_full_rack_run() {
    let env = Env::generated();
    let id = env.id_of("LocationRack", "name__value: \"Rack-A2-2\"");
    env.query(&format!(
        "mutation {{ LocationRackDelete(data: {{id: \"{id}\"}}) {{ ok }} }}"
    ));
    env.generate_ok("generate-pod", &["pod_name=Pod-A2"]);
    env.generate_ok("generate-rack", &[]);

    let links = env.links();
    assert_eq!(
        links_of(&links, "leaf-pod-a2-2-"),
        vec![],
        "the removed rack's links remain"
    );
    assert_eq!(
        env.count("NetworkDevice", "hostname__value: \"leaf-pod-a2-2-1\""),
        0
    );
    assert_eq!(links.len(), 156);
}

#[test]
fn a_removed_racks_spine_ports_are_marked_inactive() {
    let env = Env::generated();
    let id = env.id_of("LocationRack", "name__value: \"Rack-A2-2\"");
    env.query(&format!(
        "mutation {{ LocationRackDelete(data: {{id: \"{id}\"}}) {{ ok }} }}"
    ));
    env.generate_ok("generate-pod", &["pod_name=Pod-A2"]);
    env.generate_ok("generate-rack", &[]);
    let statuses = env.statuses();
    for j in 1..=4 {
        for port in ["Ethernet3", "Ethernet4"] {
            assert_eq!(
                statuses[&(format!("spine-pod-a2-{j}"), port.to_owned())],
                "inactive"
            );
        }
    }
}

#[test]
fn a_rack_with_index_5_lands_on_the_ports_of_the_formula() {
    let env = Env::generated();
    let before = env.links();
    env.load_objects(RACK_A2_5);
    let report = env.generate_ok("generate-rack", &["rack_name=Rack-A2-5"]);
    let (written, new, kept, deleted, _) = figures(only_target(&report));
    // 2 leafs, 8 links, 8 /31s and 16 addresses on the links, 2 loopbacks.
    assert_eq!((written, new, kept, deleted), (36, 36, 0, 0), "{report:#}");

    let rack_a2_5 = Rack {
        name: "Rack-A2-5",
        pod: "Pod-A2",
        index: 5,
        leafs: 2,
        template: C,
    };
    let plan = rack_plan(rack_a2_5, 4);
    for (k, l) in plan.iter().enumerate() {
        let (leaf, j) = (k / 4 + 1, k % 4);
        assert_eq!(
            l.src,
            (
                format!("leaf-pod-a2-5-{leaf}"),
                format!("Ethernet{}", 27 + j)
            )
        );
        assert_eq!(
            l.dst,
            (
                format!("spine-pod-a2-{}", j + 1),
                format!("Ethernet{}", 8 + leaf)
            )
        );
    }
    assert_plan(
        &env,
        "leaf-pod-a2-5-",
        plan.clone(),
        "leaf-pod-a2-5-1-Ethernet27__spine-pod-a2-1-Ethernet9",
    );
    let mut expected = before;
    expected.extend(plan);
    assert_eq!(env.links(), sorted(expected), "another link moved");

    // Loopbacks continue in Pod-A2's /27 after Rack-A2-4's leaf (.10); /31s after
    // the 44 of the pod's seed links (10.0.32.32 … 10.0.32.118).
    let addresses = env.addresses();
    assert_eq!(
        addresses[&("leaf-pod-a2-5-1".to_owned(), "Loopback0".to_owned())],
        "10.0.32.11/32"
    );
    assert_eq!(
        addresses[&("leaf-pod-a2-5-2".to_owned(), "Loopback0".to_owned())],
        "10.0.32.12/32"
    );
    assert_eq!(
        addresses[&("leaf-pod-a2-5-1".to_owned(), "Ethernet27".to_owned())],
        "10.0.32.120/31"
    );
    assert_eq!(
        addresses[&("spine-pod-a2-1".to_owned(), "Ethernet9".to_owned())],
        "10.0.32.121/31"
    );
}

const POD_A2_SPINES: &str = "mutation { NetworkPodUpdate(data: {hfid: [\"Pod-A2\"], amount_of_spines: {value: SPINES}}) { ok } }";

#[test]
fn raising_amount_of_spines_adds_the_spine_and_its_links_and_lowering_it_deletes_them() {
    let env = Env::generated();
    let seed = env.links();
    let seed_prefixes = env.prefixes();
    let seed_addresses = env.addresses();
    let pod_a2_racks: Vec<Rack> = RACKS
        .iter()
        .filter(|r| r.pod == "Pod-A2")
        .copied()
        .collect();
    let rack_vars: Vec<String> = pod_a2_racks
        .iter()
        .map(|r| format!("rack_name={}", r.name))
        .collect();

    // Raise to 5: spine-pod-a2-5, whose uplink j lands on ss-fabric-a-(j+1) Ethernet24.
    env.query(&POD_A2_SPINES.replace("SPINES", "5"));
    let report = env.generate_ok("generate-pod", &["pod_name=Pod-A2"]);
    let (written, new, kept, deleted, _) = figures(only_target(&report));
    // The spine, its loopback, 5 links, 5 /31s, 10 addresses.
    assert_eq!(
        (written, new, kept, deleted),
        (114, 22, 92, 0),
        "{report:#}"
    );
    let mut a2 = pod("Pod-A2");
    a2.spines = 5;
    let plan = pod_plan(a2);
    assert_eq!(plan.len(), 25);
    let new_links: Vec<Link> = plan
        .iter()
        .filter(|l| l.src.0 == "spine-pod-a2-5")
        .cloned()
        .collect();
    assert_eq!(new_links.len(), 5);
    for (j, l) in new_links.iter().enumerate() {
        assert_eq!(
            l.src,
            ("spine-pod-a2-5".to_owned(), format!("Ethernet{}", 28 + j))
        );
        assert_eq!(
            l.dst,
            (format!("ss-fabric-a-{}", j + 1), "Ethernet24".to_owned())
        );
    }
    assert_plan(
        &env,
        "spine-pod-a2-",
        plan,
        "spine-pod-a2-1-Ethernet28__ss-fabric-a-1-Ethernet28",
    );
    let data = env.query("{ NetworkDevice(hostname__value: \"spine-pod-a2-5\") { edges { node { role { value } pod { node { display_label } } interfaces { count } loopback_ip { node { address { value } } } } } } }");
    let spine = &data["NetworkDevice"]["edges"][0]["node"];
    assert_eq!(spine["role"]["value"], "spine");
    assert_eq!(spine["pod"]["node"]["display_label"], "Pod-A2");
    assert_eq!(spine["interfaces"]["count"], 33);
    assert_eq!(
        spine["loopback_ip"]["node"]["address"]["value"],
        "10.0.32.11/32"
    );
    let addresses = env.addresses();
    for (j, l) in new_links.iter().enumerate() {
        let even = parse("10.0.32.120/31").0 + 2 * j as u32;
        assert_eq!(addresses[&l.src], show(even, 31), "{}", l.name);
        assert_eq!(addresses[&l.dst], show(even + 1, 31), "{}", l.name);
    }

    // The racks re-run: one more uplink per leaf, to spine-pod-a2-5.
    let vars: Vec<&str> = rack_vars.iter().map(String::as_str).collect();
    for var in &vars {
        env.generate_ok("generate-rack", &[var]);
    }
    let links = env.links();
    for r in &pod_a2_racks {
        let prefix = format!("leaf-pod-a2-{}-", r.index);
        assert_eq!(
            links_of(&links, &prefix),
            sorted(rack_plan(*r, 5)),
            "{}",
            r.name
        );
    }
    assert!(links.contains(&link(
        ("leaf-pod-a2-1-1".into(), "Ethernet31".into()),
        ("spine-pod-a2-5".into(), "Ethernet1".into())
    )));
    assert_eq!(links.len(), 160 + 5 + 6);
    assert_eq!(env.count("NetworkDevice", ""), 49);

    // Lower to 4 again: the spine, its links, /31s and addresses are deleted.
    env.query(&POD_A2_SPINES.replace("SPINES", "4"));
    let report = env.generate_ok("generate-pod", &["pod_name=Pod-A2"]);
    let (written, new, kept, deleted, _) = figures(only_target(&report));
    assert_eq!((written, new, kept, deleted), (92, 0, 92, 22), "{report:#}");
    for (var, r) in vars.iter().zip(&pod_a2_racks) {
        let report = env.generate_ok("generate-rack", &[var]);
        let (_, new, _, deleted, _) = figures(only_target(&report));
        // Per leaf: the link to spine 5, its /31 and both addresses.
        assert_eq!(
            (new, deleted),
            (0, 4 * r.leafs as i64),
            "{}: {report:#}",
            r.name
        );
    }
    assert_eq!(
        env.count("NetworkDevice", "hostname__value: \"spine-pod-a2-5\""),
        0
    );
    assert_eq!(env.count("NetworkDevice", ""), 48);
    assert_eq!(env.links(), seed);
    assert_eq!(env.prefixes(), seed_prefixes);
    assert_eq!(env.addresses(), seed_addresses);
    assert_eq!(env.count("NetworkInterface", ""), 1958);
    // The freed ports are marked inactive: the super spines' Ethernet24 and
    // each leaf's fifth uplink.
    let statuses = env.statuses();
    for j in 1..=5 {
        assert_eq!(
            statuses[&(format!("ss-fabric-a-{j}"), "Ethernet24".to_owned())],
            "inactive"
        );
    }
    assert_eq!(
        statuses[&("leaf-pod-a2-1-1".to_owned(), "Ethernet31".to_owned())],
        "inactive"
    );
    assert_eq!(
        statuses[&("leaf-pod-a2-4-1".to_owned(), "Ethernet15".to_owned())],
        "inactive"
    );
}

// ---------------------------------------------------------------------------
// Gates and capacity errors: each with its message, and nothing written.
// ---------------------------------------------------------------------------

/// Runs one failing target and checks its message and that no design node
/// changed.
fn assert_gate(env: &Env, definition: &str, kind: &str, target: &str, message: &str) {
    let param = match kind {
        "NetworkFabric" => "fabric_name",
        "NetworkPod" => "pod_name",
        _ => "rack_name",
    };
    let id = env.id_of(kind, &format!("name__value: \"{target}\""));
    let before = env.last_event();
    let got = env.generate_failure(definition, &format!("{param}={target}"));
    assert_eq!(got, failure(definition, target, &id, message));
    let design: Vec<_> = env
        .events_since(before)
        .into_iter()
        .filter(|(k, _)| is_design_kind(k))
        .collect();
    assert!(
        design.is_empty(),
        "{target}: the gate came after a write: {design:?}"
    );
}

#[test]
fn pods_and_racks_before_their_upstream_are_gate_errors() {
    let env = Env::seeded();
    assert_gate(
        &env,
        "generate-pod",
        "NetworkPod",
        "Pod-A2",
        "pod Pod-A2: fabric Fabric-A is not fully generated (0 of 6 super spines exist); run generate-fabric for Fabric-A first",
    );
    assert_gate(
        &env,
        "generate-rack",
        "LocationRack",
        "Rack-A2-3",
        "rack Rack-A2-3: pod Pod-A2 is not fully generated (0 of 4 spines exist); run generate-pod for Pod-A2 first",
    );
    // The fabric pod is skipped with an info line, not an error.
    let report = env.generate_ok("generate-pod", &["pod_name=Pod-A1"]);
    let target = only_target(&report);
    assert_eq!(figures(target), (0, 0, 0, 0, 0));
    let lines: Vec<&str> = target["outcome"]["log"]["lines"]
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(
        lines.contains(&"skipping pod Pod-A1: its role is 'fabric'; its super spines are made by generate-fabric"),
        "{lines:?}"
    );

    // With the fabric generated, the rack still waits for its pod.
    env.generate_ok("generate-fabric", &["fabric_name=Fabric-A"]);
    assert_gate(
        &env,
        "generate-rack",
        "LocationRack",
        "Rack-A2-3",
        "rack Rack-A2-3: pod Pod-A2 is not fully generated (0 of 4 spines exist); run generate-pod for Pod-A2 first",
    );
    // Fabric-B's pods still wait for Fabric-B.
    assert_gate(
        &env,
        "generate-pod",
        "NetworkPod",
        "Pod-B3",
        "pod Pod-B3: fabric Fabric-B is not fully generated (0 of 4 super spines exist); run generate-fabric for Fabric-B first",
    );
}

#[test]
fn missing_pools_are_gate_errors() {
    // No FabricSupernetPool: generate-fabric refuses.
    let env = Env::seeded();
    let id = env.id_of("CoreIPPrefixPool", "name__value: \"FabricSupernetPool\"");
    env.query(&format!(
        "mutation {{ CoreIPPrefixPoolDelete(data: {{id: \"{id}\"}}) {{ ok }} }}"
    ));
    assert_gate(
        &env,
        "generate-fabric",
        "NetworkFabric",
        "Fabric-A",
        "fabric Fabric-A: the pool FabricSupernetPool does not exist; load the seed design (objects/) before running generate-fabric",
    );

    // No pod loopback pool: generate-rack refuses.
    let env = Env::generated();
    let id = env.id_of(
        "CoreIPAddressPool",
        "name__value: \"fabric-a-pod-a2-loopback-pool\"",
    );
    env.query(&format!(
        "mutation {{ CoreIPAddressPoolDelete(data: {{id: \"{id}\"}}) {{ ok }} }}"
    ));
    assert_gate(
        &env,
        "generate-rack",
        "LocationRack",
        "Rack-A2-3",
        "rack Rack-A2-3: pod Pod-A2 has no loopback pool (fabric-a-pod-a2-loopback-pool); run generate-pod for Pod-A2 first",
    );
}

#[test]
fn missing_and_unusable_templates_are_gate_errors() {
    let env = Env::generated();
    env.load_objects(
        "---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: TemplateNetworkDevice
  data:
    - template_name: no-loopback-switch
      role: spine
      interfaces:
        kind: TemplateNetworkInterface
        parameters:
          expand_range: true
        data:
          - name: \"Ethernet[1-32]\"
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: NetworkPod
  data:
    - name: Pod-A4
      index: 4
      parent: Fabric-A
      member_of_groups: [pods]
    - name: Pod-A5
      index: 5
      parent: Fabric-A
      spine_switch_template: no-loopback-switch
      member_of_groups: [pods]
",
    );
    assert_gate(
        &env,
        "generate-pod",
        "NetworkPod",
        "Pod-A4",
        "pod Pod-A4: no spine switch template (spine_switch_template is empty); set one on the pod, then run generate-pod",
    );
    assert_gate(
        &env,
        "generate-pod",
        "NetworkPod",
        "Pod-A5",
        "pod Pod-A5: template no-loopback-switch has 0 interfaces with role 'loopback'; a device template needs exactly one, which carries the device's loopback address",
    );
}

#[test]
fn indexes_and_sizes_beyond_the_ports_are_capacity_errors() {
    let env = Env::generated();
    env.load_objects(
        "---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: NetworkPod
  data:
    - name: Pod-A7
      index: 7
      parent: Fabric-A
      spine_switch_template: spine-switch
      member_of_groups: [pods]
---
apiVersion: infrahub.app/v1
kind: Object
spec:
  kind: LocationRack
  data:
    - name: Rack-A2-14
      index: 14
      parent: Hall-A1
      pod: Pod-A2
      amount_of_leafs: 2
      leaf_switch_template: leaf-switch-compute
      member_of_groups: [racks]
",
    );
    // Pod index 7 with 4 spines needs super-spine port (7 − 2)·6 + 4 = 34 of 28.
    assert_gate(
        &env,
        "generate-pod",
        "NetworkPod",
        "Pod-A7",
        "pod Pod-A7: index 7 needs spine-facing port 34 of ss-fabric-a-1, which has only 28; with 4 spines per pod the highest pod index fabric Fabric-A can cable is 6",
    );
    // Rack index 14 with 2 leafs needs spine port 2·13 + 2 = 28 of 27.
    assert_gate(
        &env,
        "generate-rack",
        "LocationRack",
        "Rack-A2-14",
        "rack Rack-A2-14: index 14 needs leaf-facing port 28 of spine-pod-a2-1, which has only 27; with 2 leaf(s) per rack the highest rack index pod Pod-A2 can cable is 13",
    );
    // A fifth spine in a fabric of 4 super spines would overlap the next pod's window.
    env.query("mutation { NetworkPodUpdate(data: {hfid: [\"Pod-B2\"], amount_of_spines: {value: 5}}) { ok } }");
    assert_gate(
        &env,
        "generate-pod",
        "NetworkPod",
        "Pod-B2",
        "pod Pod-B2: 5 spines do not fit the window of 4 ports each pod owns on every super spine of fabric Fabric-B (one per super spine): pod index 2 would overlap the ports of pod index 3; use at most 4 spines per pod",
    );
    // Nothing of the seed moved.
    assert_eq!(env.links(), seed_links());
    assert_eq!(env.count("NetworkDevice", ""), 48);
}

// ---------------------------------------------------------------------------
// The cascade: trigger rules (objects/triggers.yml) chain the three tiers.
// ---------------------------------------------------------------------------

/// Everything the generators make, in a form two stores can be compared by.
#[derive(Debug, PartialEq)]
struct Snapshot {
    devices: BTreeMap<String, (String, String)>,
    links: Vec<Link>,
    statuses: BTreeMap<(String, String), String>,
    prefixes: BTreeMap<String, String>,
    addresses: BTreeMap<(String, String), String>,
    pools: BTreeMap<String, String>,
    /// (kind, display label) of the devices, interfaces, links, prefixes and addresses
    /// in no generator's tracking group: the seed's own, and any orphan.
    untracked: BTreeSet<(String, String)>,
}

/// (round, generator, target, status, causes) of every run of a cascade report.
type RunLine = (u64, String, String, String, Vec<String>);

fn cascade_runs(report: &Value) -> Vec<RunLine> {
    report["runs"]
        .as_array()
        .unwrap_or_else(|| panic!("not a cascade report: {report:#}"))
        .iter()
        .map(|run| {
            (
                run["round"].as_u64().expect("round"),
                run["definition"].as_str().expect("definition").to_owned(),
                run["target"]["display_label"]
                    .as_str()
                    .expect("target")
                    .to_owned(),
                run["outcome"]["status"]
                    .as_str()
                    .expect("status")
                    .to_owned(),
                run["causes"]
                    .as_array()
                    .expect("causes")
                    .iter()
                    .map(|cause| match cause["rule"].as_str() {
                        Some(rule) => format!("{} {rule}", cause["kind"].as_str().expect("kind")),
                        None => cause["kind"].as_str().expect("kind").to_owned(),
                    })
                    .collect(),
            )
        })
        .collect()
}

fn run_line(round: u64, definition: &str, target: &str, status: &str, cause: &str) -> RunLine {
    (
        round,
        definition.to_owned(),
        target.to_owned(),
        status.to_owned(),
        vec![cause.to_owned()],
    )
}

const POD_CHECKSUM_RULE: &str = "rule trigger-pod-generator-checksum";
const RACK_CHECKSUM_RULE: &str = "rule trigger-rack-generator-checksum";

impl Env {
    /// `generator NAME VARS` on br1 with the cascade, one run at a time.
    fn cascade(&self, definition: &str, vars: &[&str]) -> (i32, Value) {
        generator_in(&self.store(), definition, vars, 1, &[])
    }

    /// A cascade that must end well.
    fn cascade_ok(&self, definition: &str, vars: &[&str]) -> Value {
        let (code, report) = self.cascade(definition, vars);
        assert_eq!(code, 0, "{report:#}");
        report
    }

    /// hostname → (role, pod) of every device.
    fn devices(&self) -> BTreeMap<String, (String, String)> {
        let data = self.query(
            "{ NetworkDevice { edges { node { hostname { value } role { value } pod { node { display_label } } } } } }",
        );
        data["NetworkDevice"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                let n = &e["node"];
                (
                    n["hostname"]["value"]
                        .as_str()
                        .expect("hostname")
                        .to_owned(),
                    (
                        n["role"]["value"].as_str().expect("role").to_owned(),
                        n["pod"]["node"]["display_label"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    ),
                )
            })
            .collect()
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            devices: self.devices(),
            links: self.links(),
            statuses: self.statuses(),
            prefixes: self.prefixes(),
            addresses: self.addresses(),
            pools: self.pools(),
            untracked: self.untracked(),
        }
    }

    /// See [`Snapshot::untracked`].
    fn untracked(&self) -> BTreeSet<(String, String)> {
        let groups = self.query(
            "{ CoreGeneratorGroup { edges { node { members { edges { node { id } } } } } } }",
        );
        let tracked: BTreeSet<&str> = groups["CoreGeneratorGroup"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .flat_map(|group| {
                group["node"]["members"]["edges"]
                    .as_array()
                    .expect("members")
                    .iter()
                    .map(|member| member["node"]["id"].as_str().expect("id"))
            })
            .collect();
        let mut untracked = BTreeSet::new();
        for kind in [
            "NetworkDevice",
            "NetworkInterface",
            "NetworkLink",
            "IpamIPPrefix",
            "IpamIPAddress",
        ] {
            let nodes = self.query(&format!(
                "{{ {kind} {{ edges {{ node {{ id display_label }} }} }} }}"
            ));
            for node in nodes[kind]["edges"].as_array().expect("edges") {
                let node = &node["node"];
                if !tracked.contains(node["id"].as_str().expect("id")) {
                    untracked.insert((
                        kind.to_owned(),
                        node["display_label"].as_str().expect("label").to_owned(),
                    ));
                }
            }
        }
        untracked
    }

    /// Writes `mutation` on br1, then runs in-process the cascade its events
    /// trigger — what `infragen serve` does after a write through the API.
    fn cascade_from_change(&self, mutation: &str) -> infragen::cascade::CascadeReport {
        use infragen::cascade::{Cascade, CascadeConfig, EventFeed, Start};
        use std::sync::Arc;
        let store = infragen_store::Store::open(self.store()).expect("store opens");
        let root = workspace_root();
        let runtime = tokio::runtime::Runtime::new().expect("tokio");
        runtime.block_on(async {
            let runner = infragen::runner::Runner::new(
                Arc::new(infragen::repository::Repository::open(&root).expect("repository")),
                infragen::runtime::Runtime::builder()
                    .cache_dir(Some(cache_dir()))
                    .build()
                    .expect("runtime"),
                Arc::new(infragen::embedded::EmbeddedBackend::new(store.clone())),
                infragen::policy::RuntimePolicy::load(&root).expect("policy"),
            );
            let cascade = Cascade::new(
                runner,
                Arc::new(store.clone()),
                CascadeConfig {
                    concurrency: 1,
                    ..CascadeConfig::default()
                },
            );
            let seq = store.last_event_seq().expect("seq");
            let response = store
                .execute("br1", infragen_store::GraphqlRequest::new(mutation))
                .await;
            assert!(response.get("errors").is_none(), "{response:#}");
            let events = EventFeed::since(&store, seq).expect("events");
            cascade
                .run("br1", Start::Events(events))
                .await
                .expect("the cascade runs")
        })
    }
}

/// The cascade of one fabric: its pods (the fabric pod excepted), then their
/// racks, each in group order.
fn fabric_cascade(fabric: &str) -> Vec<RunLine> {
    let mut runs = vec![run_line(
        1,
        "generate-fabric",
        fabric,
        "succeeded",
        "requested",
    )];
    let pods: Vec<&str> = ["Pod-A2", "Pod-A3", "Pod-B2", "Pod-B3"]
        .into_iter()
        .filter(|p| pod(p).fabric == fabric)
        .collect();
    for p in &pods {
        runs.push(run_line(
            2,
            "generate-pod",
            p,
            "succeeded",
            POD_CHECKSUM_RULE,
        ));
    }
    for r in RACKS.iter().filter(|r| pods.contains(&r.pod)) {
        runs.push(run_line(
            3,
            "generate-rack",
            r.name,
            "succeeded",
            RACK_CHECKSUM_RULE,
        ));
    }
    runs
}

#[test]
fn one_generate_fabric_per_fabric_builds_what_the_three_tiers_by_hand_build() {
    let env = Env::seeded();
    for f in FABRICS {
        let report = env.cascade_ok("generate-fabric", &[&format!("fabric_name={}", f.name)]);
        assert_eq!(cascade_runs(&report), fabric_cascade(f.name), "{report:#}");
        assert_eq!(report["rounds"], 3, "{report:#}");
        assert_eq!(report["rule_errors"], serde_json::json!([]));
    }
    let by_hand = Env::generated();
    assert_same_data_center(&env.snapshot(), &by_hand.snapshot());
}

/// The seed's 48 devices, and the same links, interface statuses, prefixes, addresses and
/// pools in both.
fn assert_same_data_center(actual: &Snapshot, expected: &Snapshot) {
    assert_eq!(actual.devices.len(), 48);
    assert_same(&actual.devices, &expected.devices, "devices");
    assert_eq!(actual.links, expected.links);
    assert_same(&actual.statuses, &expected.statuses, "interfaces");
    assert_same(&actual.prefixes, &expected.prefixes, "prefixes");
    assert_same(&actual.addresses, &expected.addresses, "addresses");
    assert_same(&actual.pools, &expected.pools, "pools");
}

#[test]
fn running_the_fabric_again_with_nothing_changed_runs_no_downstream_generator() {
    let env = Env::seeded();
    env.cascade_ok("generate-fabric", &["fabric_name=Fabric-A"]);
    let before = env.last_event();
    let report = env.cascade_ok("generate-fabric", &["fabric_name=Fabric-A"]);
    assert_eq!(
        cascade_runs(&report),
        vec![run_line(
            1,
            "generate-fabric",
            "Fabric-A",
            "succeeded",
            "requested"
        )]
    );
    let summary = &report["generators"][0];
    assert_eq!(
        (
            &summary["created"],
            &summary["updated"],
            &summary["deleted"]
        ),
        (&Value::from(0), &Value::from(0), &Value::from(0)),
        "{report:#}"
    );
    // Only the fabric's instance status moved (Processing, then Ready).
    let changed: BTreeSet<String> = env
        .events_since(before)
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(
        changed,
        BTreeSet::from(["CoreGeneratorInstance".to_owned()])
    );
}

#[test]
fn changing_a_pods_amount_of_spines_reruns_that_pod_and_its_racks_only_and_matches_a_fresh_design()
{
    let env = Env::seeded();
    for f in FABRICS {
        env.cascade_ok("generate-fabric", &[&format!("fabric_name={}", f.name)]);
    }
    let before = env.snapshot();
    let report = env.cascade_from_change(&POD_A2_SPINES.replace("SPINES", "2"));
    let runs: Vec<(usize, &str, &str, bool)> = report
        .runs
        .iter()
        .map(|run| {
            (
                run.round,
                run.definition.as_str(),
                run.report.target.display_label.as_str(),
                run.failed(),
            )
        })
        .collect();
    let mut expected = vec![(1, "generate-pod", "Pod-A2", false)];
    for r in RACKS.iter().filter(|r| r.pod == "Pod-A2") {
        expected.push((2, "generate-rack", r.name, false));
    }
    assert_eq!(runs, expected, "{report}");
    assert_eq!(
        report.runs[0].causes,
        vec![infragen::cascade::Cause::Rule {
            rule: "trigger-pod-generator-amount-of-spines".into()
        }]
    );
    assert!(report.is_success(), "{report}");

    // The same design generated from scratch with two spines in Pod-A2.
    let fresh = Env::seeded();
    fresh.query(&POD_A2_SPINES.replace("SPINES", "2"));
    for f in FABRICS {
        fresh.cascade_ok("generate-fabric", &[&format!("fabric_name={}", f.name)]);
    }
    let (changed, expected) = (env.snapshot(), fresh.snapshot());
    assert!(before.devices.contains_key("spine-pod-a2-3"));
    assert!(!changed.devices.contains_key("spine-pod-a2-3"));
    assert_eq!(changed.devices.len(), 46);
    assert_same(&changed.devices, &expected.devices, "devices");
    assert_eq!(changed.links, expected.links);
    assert_same(&changed.statuses, &expected.statuses, "interfaces");
    assert_same(&changed.pools, &expected.pools, "pools");
    // Addressing: the same interfaces hold an address and the same number of
    // prefixes of each role exist, but nothing that survived was renumbered —
    // a fresh allocation packs the /31s, a change keeps what was allocated
    // (renumbering live links to fill the holes would be worse).
    let keys = |m: &BTreeMap<(String, String), String>| m.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(&changed.addresses), keys(&expected.addresses));
    let roles = |m: &BTreeMap<String, String>| {
        let mut counts = BTreeMap::new();
        for role in m.values() {
            *counts.entry(role.clone()).or_insert(0) += 1;
        }
        counts
    };
    assert_eq!(roles(&changed.prefixes), roles(&expected.prefixes));
    for (interface, address) in &changed.addresses {
        assert_eq!(
            Some(address),
            before.addresses.get(interface),
            "{interface:?} was renumbered"
        );
    }
    for prefix in changed.prefixes.keys() {
        assert!(before.prefixes.contains_key(prefix), "{prefix} is new");
    }
}

#[test]
fn a_rack_whose_pod_was_not_ready_fails_its_gate_and_succeeds_when_the_pod_completes() {
    let env = Env::seeded();
    env.generate_ok("generate-fabric", &["fabric_name=Fabric-A"]);
    let (code, report) = env.cascade("generate-rack", &["rack_name=Rack-A2-1"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        cascade_runs(&report),
        vec![run_line(
            1,
            "generate-rack",
            "Rack-A2-1",
            "failed",
            "requested"
        )]
    );
    let message = report["runs"][0]["outcome"]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.ends_with(
            "rack Rack-A2-1: pod Pod-A2 is not fully generated (0 of 4 spines exist); run generate-pod for Pod-A2 first"
        ),
        "{message}"
    );
    assert_eq!(report["runs"][0]["outcome"]["retryable"], false);

    // The pod completes: its checksum lands on every rack, and every rack
    // runs, the one that failed included.
    let report = env.cascade_ok("generate-pod", &["pod_name=Pod-A2"]);
    let mut expected = vec![run_line(
        1,
        "generate-pod",
        "Pod-A2",
        "succeeded",
        "requested",
    )];
    for r in RACKS.iter().filter(|r| r.pod == "Pod-A2") {
        expected.push(run_line(
            2,
            "generate-rack",
            r.name,
            "succeeded",
            RACK_CHECKSUM_RULE,
        ));
    }
    assert_eq!(cascade_runs(&report), expected);
    let leaf = leaf_name(&rack("Rack-A2-1"), 1);
    assert_eq!(
        env.count("NetworkDevice", &format!("hostname__value: \"{leaf}\"")),
        1
    );
}

#[test]
fn a_failed_rack_reruns_when_its_pod_runs_again_even_with_an_unchanged_checksum() {
    let env = Env::seeded();
    env.cascade_ok("generate-fabric", &["fabric_name=Fabric-A"]);
    let rack = env.id_of("LocationRack", "name__value: \"Rack-A2-1\"");
    let template = env.query(&format!(
        "{{ LocationRack(ids: [\"{rack}\"]) {{ edges {{ node {{ leaf_switch_template {{ node {{ id }} }} }} }} }} }}"
    ))["LocationRack"]["edges"][0]["node"]["leaf_switch_template"]["node"]["id"]
        .as_str()
        .expect("template")
        .to_owned();
    let set_template = |value: &str| {
        env.query(&format!(
            "mutation {{ LocationRackUpdate(data: {{id: \"{rack}\", leaf_switch_template: {value}}}) {{ ok }} }}"
        ));
    };

    // No rule watches the template: clearing it runs nothing until the rack
    // is run, which fails its gate.
    set_template("null");
    let (code, report) = env.cascade("generate-rack", &["rack_name=Rack-A2-1"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        cascade_runs(&report),
        vec![run_line(
            1,
            "generate-rack",
            "Rack-A2-1",
            "failed",
            "requested"
        )]
    );

    // Fixed, again without a rule; the pod's next run stamps the same
    // checksum (no event), yet the rack runs because its last run failed.
    set_template(&format!("{{id: \"{template}\"}}"));
    let report = env.cascade_ok("generate-pod", &["pod_name=Pod-A2"]);
    assert_eq!(
        cascade_runs(&report),
        vec![
            run_line(1, "generate-pod", "Pod-A2", "succeeded", "requested"),
            run_line(
                2,
                "generate-rack",
                "Rack-A2-1",
                "succeeded",
                "unlatched trigger-rack-generator-checksum"
            ),
        ]
    );
    assert_eq!(report["runs"][0]["outcome"]["stamps_changed"], 0);
}

/// The Fabric-A cascade killed with SIGKILL while its first pod's (Pod-A2) run is in progress, then
/// the same command again: the killed pod's run is resumed, the runs it and its siblings
/// would have triggered are run, and the data center — devices, links, instance statuses,
/// prefixes, addresses, pools — is exactly the one an uninterrupted cascade builds.
#[test]
fn a_cascade_killed_mid_way_and_run_again_builds_the_same_data_center() {
    interrupted_cascade_run_again_builds_the_same_data_center(
        "-KILL",
        "generate-pod: Pod-A2",
        "Processing",
    );
}

/// The same, killed deeper in: during a rack's run, in the cascade's third round.
#[test]
fn a_cascade_killed_during_a_racks_run_and_run_again_builds_the_same_data_center() {
    interrupted_cascade_run_again_builds_the_same_data_center(
        "-KILL",
        "generate-rack: Rack-A2-2",
        "Processing",
    );
}

/// Stopped with SIGINT (Ctrl-C) during Pod-A2's run: the pod's run finishes, the rest is
/// left queued in the run queue (the command exits 1), and running the command again
/// resumes it and builds the same data center.
#[test]
fn a_cascade_stopped_by_sigint_and_run_again_builds_the_same_data_center() {
    interrupted_cascade_run_again_builds_the_same_data_center(
        "-INT",
        "generate-pod: Pod-A2",
        "Processing",
    );
}

/// Stopped with SIGTERM during a rack's run, likewise.
#[test]
fn a_cascade_stopped_by_sigterm_and_run_again_builds_the_same_data_center() {
    interrupted_cascade_run_again_builds_the_same_data_center(
        "-TERM",
        "generate-rack: Rack-A2-2",
        "Processing",
    );
}

/// Killed right after a run's commit: once Pod-A2's run is `Ready` (written in the commit
/// that writes its output and its stamps on its racks), before or while the runs they
/// trigger are queued.
#[test]
fn a_cascade_killed_right_after_a_pods_commit_and_run_again_builds_the_same_data_center() {
    interrupted_cascade_run_again_builds_the_same_data_center(
        "-KILL",
        "generate-pod: Pod-A2",
        "Ready",
    );
}

/// Fabric-A's cascade interrupted by `signal` once `instance` has status `at`, then the
/// command again, then Fabric-B's: the same data center as two uninterrupted cascades.
fn interrupted_cascade_run_again_builds_the_same_data_center(
    signal: &str,
    instance: &str,
    at: &str,
) {
    let reference = Env::seeded();
    for fabric in ["Fabric-A", "Fabric-B"] {
        reference.cascade_ok("generate-fabric", &[&format!("fabric_name={fabric}")]);
    }
    let expected = reference.snapshot();

    let env = Env::seeded();
    let root = workspace_root();
    let child = Command::new(infragen_bin())
        .arg("--store")
        .arg(env.store())
        .args(["generator", "generate-fabric", "fabric_name=Fabric-A"])
        .args(["--branch", "br1", "--concurrency", "1", "--repository"])
        .arg(&root)
        .env("INFRAGEN_CACHE_DIR", cache_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("infragen runs");
    let store = infragen_store::Store::open(env.store()).expect("store opens");
    let status = infragen_store::GraphqlRequest::new(format!(
        "{{ CoreGeneratorInstance(name__value: \"{instance}\") {{ edges {{ node {{ status {{ value }} }} }} }} }}"
    ));
    let started = std::time::Instant::now();
    while store.execute_blocking("br1", &status)["data"]["CoreGeneratorInstance"]["edges"][0]["node"]
        ["status"]["value"]
        != at
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "{instance} never became {at}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let number = match signal {
        "-KILL" => libc::SIGKILL,
        "-INT" => libc::SIGINT,
        "-TERM" => libc::SIGTERM,
        other => panic!("no such signal here: {other}"),
    };
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: a signal to a child this test spawned and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, number) }, 0, "the signal is sent");
    let output = child.wait_with_output().expect("it ends");
    // The run may have committed between the status read and the signal (a loaded
    // machine): only a run still `Processing` when the process went was cut short.
    let cut_short = store.execute_blocking("br1", &status)["data"]["CoreGeneratorInstance"]["edges"]
        [0]["node"]["status"]["value"]
        == "Processing";
    let stdout = String::from_utf8_lossy(&output.stdout);
    if signal == "-KILL" {
        assert_eq!(output.status.code(), None, "killed");
    } else {
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains("interrupted: the running runs finished;"),
            "{stdout}"
        );
    }
    assert_ne!(
        env.snapshot().devices,
        expected.devices,
        "the interruption left it unfinished"
    );

    let report = env.cascade_ok("generate-fabric", &["fabric_name=Fabric-A"]);
    let runs = cascade_runs(&report);
    let resumed: Vec<&RunLine> = runs
        .iter()
        .filter(|(.., causes)| causes.contains(&"resumed".to_owned()))
        .collect();
    assert!(
        !resumed.is_empty() && resumed.iter().all(|(.., status, _)| status == "succeeded"),
        "{runs:#?}"
    );
    if signal == "-KILL" && at == "Processing" && cut_short {
        let (definition, target) = instance.split_once(": ").expect("definition: target");
        assert!(
            resumed
                .iter()
                .any(|(_, d, t, ..)| d == definition && t == target),
            "the killed run is resumed: {runs:#?}"
        );
    }
    env.cascade_ok("generate-fabric", &["fabric_name=Fabric-B"]);
    let actual = env.snapshot();
    assert_same(&actual.devices, &expected.devices, "devices");
    assert_eq!(actual.links, expected.links, "links");
    assert_same(&actual.statuses, &expected.statuses, "instance statuses");
    assert_same(&actual.prefixes, &expected.prefixes, "prefixes");
    assert_same(&actual.addresses, &expected.addresses, "addresses");
    assert_same(&actual.pools, &expected.pools, "pools");
    assert_eq!(
        actual.untracked, expected.untracked,
        "nodes in no tracking group"
    );
}

/// The three tiers run against a server over HTTP, as against a real Infrahub: every
/// read (listings, and the generators' own GraphQL queries) and every write goes through
/// the API, one request each, and the data center equals the one built in process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_tiers_over_http_build_what_the_embedded_store_builds() {
    let env = Env::seeded();
    let store = infragen_store::Store::open(env.store()).expect("store opens");
    // The API alone: no cascade follows the writes, the tiers are run here in order.
    let (backend, server) = infragen_tests::served_over_http(&store).await;
    let root = workspace_root();
    let runner = infragen::runner::Runner::new(
        std::sync::Arc::new(infragen::repository::Repository::open(&root).expect("repository")),
        infragen_tests::runtime(None),
        backend,
        infragen::policy::RuntimePolicy::load(&root).expect("policy"),
    );
    for definition in ["generate-fabric", "generate-pod", "generate-rack"] {
        let report = runner
            .run_definition(
                definition,
                "br1",
                &infragen::runner::TargetSelection::All,
                1,
            )
            .await
            .expect("runs over HTTP");
        assert_eq!(report.failed(), 0, "{definition}: {report}");
    }
    server.abort();
    drop(store);

    assert_same_data_center(&env.snapshot(), &Env::generated().snapshot());
}
