//! Scale-out: a design built by `infragen serve` running its runs itself, and by the same
//! server with `--queue` and 1, 2 and 4 `infragen worker` processes (each running one run
//! at a time) on this machine, with a real NATS server. Prints figures; asserts only that
//! every cascade succeeded and built the design.
//!
//! ```text
//! cargo bench -p infragen-tests --bench workers            # the 16x design
//! WORKERS_BENCH_COPIES=1 cargo bench … --bench workers      # the seed
//! WORKERS_BENCH_WORKERS=1,2,4,8 cargo bench … --bench workers
//! ```
//!
//! A measurement: a fresh store with the design imported (`infragen sync`) and branch
//! `br1`, `infragen serve` on it (release build, `--concurrency 4`), then one
//! `CoreGeneratorDefinitionRun` of `generate-fabric` on every fabric at once, waited for: one
//! cascade, whose rounds hold every fabric, then every pod, then every rack. *Wall* is that
//! request's time. *serve CPU* and *workers CPU* are the processes' CPU time (user +
//! system, from `/proc`) over the whole measurement, import and start-up excluded; the
//! components are compiled once, into the shared artifact cache, by a warm-up before the
//! first measurement. *×in-process* is wall over the in-process server's wall.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use infragen_tests::{KillOnDrop, NatsServer};
use serde_json::{Value, json};

mod common;

/// The release `infragen` binary, built here (benches are built in release; the binary
/// of another package is not).
fn release_bin() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .current_dir(infragen_tests::workspace_root())
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "infragen",
            "--bin",
            "infragen",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the release infragen failed");
    common::target_dir().join("release").join("infragen")
}

fn run(bin: &Path, store: &Path, root: &Path, args: &[&str]) -> String {
    let output = Command::new(bin)
        .arg("--store")
        .arg(store)
        .args(args)
        .current_dir(root)
        .env_remove("INFRAGEN_LOG")
        .output()
        .expect("infragen runs");
    assert!(
        output.status.success(),
        "infragen {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// CPU seconds (user + system) of process `pid` so far.
fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|at| fields.get(*at)?.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / per_second
}

async fn graphql(client: &reqwest::Client, address: &str, token: &str, query: &str) -> Value {
    let body = client
        .post(format!("{address}/graphql/br1"))
        .header("X-INFRAHUB-KEY", token)
        .header("content-type", "application/json")
        .body(json!({ "query": query }).to_string())
        .timeout(Duration::from_secs(3600))
        .send()
        .await
        .expect("serve answers")
        .bytes()
        .await
        .expect("a body");
    serde_json::from_slice(&body).expect("JSON")
}

/// What one measurement gave.
struct Measured {
    wall: Duration,
    serve_cpu: f64,
    workers_cpu: f64,
    devices: i64,
}

/// Builds `design` on a fresh store through a server with `workers` workers (0: the server
/// runs the runs itself).
async fn measure(bin: &Path, design: &common::Design, workers: usize) -> Measured {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.db");
    let root = &design.root;
    run(bin, &store, root, &["sync"]);
    run(bin, &store, root, &["branch", "create", "br1"]);
    let token = run(bin, &store, root, &["token", "create", "bench"])
        .trim()
        .to_owned();
    let nats = (workers > 0).then(NatsServer::start);
    let mut serve_args = vec![
        "serve".to_owned(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--repository".into(),
        root.display().to_string(),
        "--config".into(),
        dir.path().join("none.toml").display().to_string(),
        "--concurrency".into(),
        "4".into(),
    ];
    if let Some(nats) = &nats {
        serve_args.extend(["--queue".into(), nats.url()]);
    }
    let mut serve: Child = Command::new(bin)
        .arg("--store")
        .arg(&store)
        .args(&serve_args)
        .env_remove("INFRAGEN_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(serve.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("a line");
    let address = first
        .strip_prefix("listening on ")
        .expect("serve's address")
        .to_owned();
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let serve_pid = serve.id();
    let _serve = KillOnDrop(serve);
    let worker_processes: Vec<KillOnDrop> = (0..workers)
        .map(|i| {
            let nats = nats.as_ref().expect("a NATS server");
            KillOnDrop(
                Command::new(bin)
                    .args(["worker", "--queue", &nats.url(), "--address", &address])
                    .args(["--token", &token, "--concurrency", "1"])
                    .args(["--name", &format!("w{i}")])
                    .env_remove("INFRAGEN_LOG")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("worker starts"),
            )
        })
        .collect();
    let client = reqwest::Client::new();
    let definition = graphql(
        &client,
        &address,
        &token,
        "{ CoreGeneratorDefinition(name__value: \"generate-fabric\") { edges { node { id } } } }",
    )
    .await["data"]["CoreGeneratorDefinition"]["edges"][0]["node"]["id"]
        .as_str()
        .expect("the definition")
        .to_owned();
    let cpu = |pids: &[u32]| pids.iter().map(|pid| cpu_of(*pid)).sum::<f64>();
    let worker_pids: Vec<u32> = worker_processes.iter().map(|w| w.0.id()).collect();
    let (serve_before, workers_before) = (cpu(&[serve_pid]), cpu(&worker_pids));
    let started = Instant::now();
    let answer = graphql(
        &client,
        &address,
        &token,
        &format!(
            "mutation {{ CoreGeneratorDefinitionRun(data: {{id: \"{definition}\"}}) {{ ok }} }}"
        ),
    )
    .await;
    let wall = started.elapsed();
    assert_eq!(
        answer["data"]["CoreGeneratorDefinitionRun"]["ok"], true,
        "{answer}"
    );
    let (serve_cpu, workers_cpu) = (
        cpu(&[serve_pid]) - serve_before,
        cpu(&worker_pids) - workers_before,
    );
    let devices = graphql(&client, &address, &token, "{ NetworkDevice { count } }").await
        ["data"]["NetworkDevice"]["count"]
        .as_i64()
        .unwrap_or_default();
    Measured {
        wall,
        serve_cpu,
        workers_cpu,
        devices,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let copies: usize = std::env::var("WORKERS_BENCH_COPIES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(16);
    let counts: Vec<usize> = std::env::var("WORKERS_BENCH_WORKERS")
        .ok()
        .map(|text| {
            text.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![1, 2, 4]);
    let bin = release_bin();
    let warm = common::design(1);
    measure(&bin, &warm, 1).await;
    let design = common::design(copies);
    println!(
        "{} design ({} fabrics): one CoreGeneratorDefinitionRun of generate-fabric on every fabric, serve --concurrency 4, workers --concurrency 1",
        design.label,
        design.fabrics.len()
    );
    println!(
        "{:>12} {:>9} {:>12} {:>10} {:>12} {:>8}",
        "runs on", "wall", "×in-process", "serve CPU", "workers CPU", "devices"
    );
    let alone = measure(&bin, &design, 0).await;
    let line = |label: String, m: &Measured| {
        println!(
            "{label:>12} {:>7.2} s {:>12.2} {:>8.2} s {:>10.2} s {:>8}",
            m.wall.as_secs_f64(),
            m.wall.as_secs_f64() / alone.wall.as_secs_f64(),
            m.serve_cpu,
            m.workers_cpu,
            m.devices
        );
    };
    line("serve itself".into(), &alone);
    for workers in counts {
        let measured = measure(&bin, &design, workers).await;
        assert_eq!(measured.devices, alone.devices, "every device built");
        line(format!("{workers} worker(s)"), &measured);
    }
}
