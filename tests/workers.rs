//! Scale-out: `infragen serve --queue` with a real NATS server (Debian's `nats-server`, with
//! JetStream, on loopback in a temporary directory) and `infragen worker` processes.
//!
//! `scripts/test` installs `nats-server` when it is missing; run alone, these tests need it
//! on the `PATH` or in `/usr/sbin`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use infragen_tests::{
    KillOnDrop, NatsServer as Nats, guest, infragen_bin, store_contents, workspace_root,
};
use serde_json::{Value, json};

/// Runs `infragen` on `store` and answers its stdout; fails the test on failure.
fn infragen(store: &Path, args: &[&str]) -> String {
    let output = Command::new(infragen_bin())
        .arg("--store")
        .arg(store)
        .args(args)
        .current_dir(workspace_root())
        .env_remove("INFRAGEN_LOG")
        .output()
        .expect("infragen runs");
    assert!(
        output.status.success(),
        "infragen {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A write token of `store`.
fn token(store: &Path) -> String {
    infragen(store, &["token", "create", "test"])
        .lines()
        .last()
        .expect("a token")
        .trim()
        .to_owned()
}

/// A running `infragen serve`.
struct Served {
    process: KillOnDrop,
    address: String,
    lines: Receiver<String>,
}

/// `infragen serve` on `store` over `repository`, with `args` after; its transactions are
/// dropped after 2 s idle, so that a killed worker's holds the write turn only that long.
fn serve(store: &Path, repository: &Path, args: &[&str]) -> Served {
    serve_on(store, repository, "127.0.0.1:0", args)
}

/// [`serve`] listening on `listen`.
fn serve_on(store: &Path, repository: &Path, listen: &str, args: &[&str]) -> Served {
    let config = store.with_extension("toml");
    std::fs::write(&config, "[store.transactions]\nidle = \"2s\"\n").expect("config");
    let mut child = Command::new(infragen_bin())
        .arg("--store")
        .arg(store)
        .args(["serve", "--listen", listen, "--repository"])
        .arg(repository)
        .arg("--config")
        .arg(&config)
        .args(args)
        .env_remove("INFRAGEN_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("infragen serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    let process = KillOnDrop(child);
    let first = lines
        .recv_timeout(Duration::from_secs(120))
        .expect("serve prints its address");
    let address = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    Served {
        process,
        address,
        lines,
    }
}

/// A running `infragen worker`, its log in a file.
struct Worker {
    process: KillOnDrop,
    log: PathBuf,
}

impl Worker {
    fn start(dir: &Path, name: &str, nats: &Nats, served: &Served, token: &str) -> Worker {
        Worker::start_with(dir, name, nats, served, token, &[])
    }

    /// [`Worker::start`] with `args` after the others.
    fn start_with(
        dir: &Path,
        name: &str,
        nats: &Nats,
        served: &Served,
        token: &str,
        args: &[&str],
    ) -> Worker {
        let log = dir.join(format!("{name}.log"));
        let process = Command::new(infragen_bin())
            .args(["--log", "infragen=info", "worker", "--queue"])
            .arg(nats.url())
            .args(["--address", &served.address, "--token", token])
            .args(["--concurrency", "2", "--name", name])
            .args(args)
            .env_remove("INFRAGEN_LOG")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("infragen worker starts");
        Worker {
            process: KillOnDrop(process),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The keys of the runs it started, and of those it finished.
    fn runs(&self) -> (Vec<String>, Vec<String>) {
        let log = self.log();
        let keys = |what: &str| -> Vec<String> {
            log.lines()
                .filter(|line| line.contains(&format!(" {what} ")) || line.ends_with(what))
                .filter_map(|line| {
                    let at = line.find("key=")? + 4;
                    Some(line[at..].split_whitespace().next()?.to_owned())
                })
                .collect()
        };
        (keys("running"), keys("ran"))
    }
}

/// Sends a GraphQL document to `served` on `branch`; answers the whole response.
async fn graphql(address: &str, token: &str, branch: &str, query: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{address}/graphql/{branch}"))
        .header("X-INFRAHUB-KEY", token)
        .header("content-type", "application/json")
        .body(json!({ "query": query }).to_string())
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .expect("serve answers")
        .bytes()
        .await
        .map(|body| serde_json::from_slice(&body).expect("a JSON answer"))
        .expect("an answer")
}

/// The id of `kind` named `name` on main.
async fn id_of(address: &str, token: &str, kind: &str, attribute: &str, name: &str) -> String {
    let answer = graphql(
        address,
        token,
        "main",
        &format!("{{ {kind}({attribute}__value: \"{name}\") {{ edges {{ node {{ id }} }} }} }}"),
    )
    .await;
    answer["data"][kind]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no {kind} {name}: {answer}"))
        .to_owned()
}

/// `CoreGeneratorDefinitionRun` of definition `name` on `branch` (every target, or
/// `nodes`), waiting for its cascade to end.
async fn run_definition(
    address: &str,
    token: &str,
    branch: &str,
    name: &str,
    nodes: &[String],
) -> Value {
    let id = id_of(address, token, "CoreGeneratorDefinition", "name", name).await;
    let nodes = serde_json::to_string(nodes).expect("ids");
    graphql(
        address,
        token,
        branch,
        &format!(
            "mutation {{ CoreGeneratorDefinitionRun(data: {{id: \"{id}\", nodes: {nodes}}}) {{ ok task {{ id }} }} }}"
        ),
    )
    .await
}

/// Every node on `branch` with its ids left out (each peer is named by its kind, HFID and
/// label), by kind, sorted: two stores built alike compare equal. A `checksum` is a digest
/// of the ids a run wrote, which differ from store to store; each is replaced by its rank
/// among the checksums (in the order of the nodes carrying them), so that which nodes share
/// one still counts.
fn without_ids(store: &Path, branch: &str) -> BTreeMap<String, Vec<String>> {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(object) => {
                object.remove("id");
                object.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let store = infragen_store::Store::open(store).expect("store opens");
    let mut contents = store_contents(&store, branch, &[]);
    let mut carriers: Vec<(String, String, String)> = contents
        .iter()
        .flat_map(|(kind, nodes)| {
            nodes.values().filter_map(move |node| {
                Some((
                    kind.clone(),
                    node["display_label"].as_str()?.to_owned(),
                    node["checksum"]["value"].as_str()?.to_owned(),
                ))
            })
        })
        .collect();
    carriers.sort();
    let mut ranks: BTreeMap<String, usize> = BTreeMap::new();
    for (_, _, checksum) in carriers {
        let next = ranks.len();
        ranks.entry(checksum).or_insert(next);
    }
    for node in contents.values_mut().flat_map(|nodes| nodes.values_mut()) {
        if let Some(checksum) = node["checksum"]["value"].as_str() {
            let rank = ranks[checksum];
            node["checksum"]["value"] = json!(format!("checksum #{rank}"));
        }
    }
    contents
        .into_iter()
        .map(|(kind, nodes)| {
            let mut nodes: Vec<String> = nodes
                .into_values()
                .map(|mut node| {
                    strip(&mut node);
                    node.to_string()
                })
                .collect();
            nodes.sort();
            (kind, nodes)
        })
        .collect()
}

/// A store with the AI/DC repository imported and branch `br1`, in `dir`.
fn seeded_store(dir: &Path, name: &str) -> PathBuf {
    let store = dir.join(format!("{name}.db"));
    infragen(&store, &["sync"]);
    infragen(&store, &["branch", "create", "br1"]);
    store
}

/// The seed data center built on branch br1 of a store in `dir` by `serve` running its
/// runs itself, one at a time (`generate-fabric` on every fabric): what the workers'
/// builds are compared with.
async fn built_in_one_process(dir: &Path) -> PathBuf {
    let store = seeded_store(dir, "alone");
    let token = token(&store);
    let served = serve(&store, &workspace_root(), &["--concurrency", "1"]);
    let answer = run_definition(&served.address, &token, "br1", "generate-fabric", &[]).await;
    assert_eq!(
        answer["data"]["CoreGeneratorDefinitionRun"]["ok"], true,
        "{answer}"
    );
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_build_the_seed_data_center_exactly_as_one_process_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = workspace_root();

    let alone = built_in_one_process(dir.path()).await;

    // serve + NATS + three workers.
    let nats = Nats::start();
    let spread = seeded_store(dir.path(), "spread");
    let spread_token = token(&spread);
    let workers;
    {
        let served = serve(
            &spread,
            &root,
            &["--concurrency", "1", "--queue", &nats.url()],
        );
        workers = ["w1", "w2", "w3"]
            .map(|name| Worker::start(dir.path(), name, &nats, &served, &spread_token));
        let answer = run_definition(
            &served.address,
            &spread_token,
            "br1",
            "generate-fabric",
            &[],
        )
        .await;
        assert_eq!(
            answer["data"]["CoreGeneratorDefinitionRun"]["ok"], true,
            "{answer}"
        );
        let mut report = Vec::new();
        while let Ok(line) = served.lines.recv_timeout(Duration::from_millis(200)) {
            report.push(line);
        }
        assert!(
            report.iter().any(|line| line
                == "cascade on branch br1: 3 rounds, 22 runs, 0 failed (0 still failing)"
                || line.starts_with(
                    "cascade on branch br1: 3 rounds, 22 runs, 0 failed (0 still failing) in "
                )),
            "{report:#?}"
        );
    }

    // Every run went to a worker, once; all three took part.
    let mut keys = Vec::new();
    for worker in &workers {
        let (started, finished) = worker.runs();
        assert_eq!(started, finished, "{}", worker.log());
        assert!(
            !started.is_empty(),
            "a worker ran nothing: {}",
            worker.log()
        );
        keys.extend(finished);
    }
    keys.sort();
    let count = keys.len();
    keys.dedup();
    assert_eq!((count, keys.len()), (22, 22), "{keys:?}");

    let alone = without_ids(&alone, "br1");
    let spread = without_ids(&spread, "br1");
    assert_eq!(alone["NetworkDevice"].len(), 48);
    assert_eq!(alone["NetworkLink"].len(), 160);
    assert_eq!(
        alone.keys().collect::<Vec<_>>(),
        spread.keys().collect::<Vec<_>>()
    );
    for (kind, nodes) in &alone {
        let only_alone: Vec<&String> = nodes.iter().filter(|n| !spread[kind].contains(n)).collect();
        let only_spread: Vec<&String> =
            spread[kind].iter().filter(|n| !nodes.contains(n)).collect();
        assert!(
            spread[kind] == *nodes,
            "{kind} differs: {only_alone:#?} {only_spread:#?}"
        );
    }
}

/// `CoreGeneratorDefinitionRun` of `name` on `branch` for `nodes`, sent from a task of its
/// own: the test goes on while the cascade runs.
fn spawn_definition_run(
    served: &Served,
    token: &str,
    branch: &str,
    name: &str,
    nodes: &[String],
) -> tokio::task::JoinHandle<Value> {
    let (address, token, branch, name, nodes) = (
        served.address.clone(),
        token.to_owned(),
        branch.to_owned(),
        name.to_owned(),
        nodes.to_vec(),
    );
    tokio::spawn(async move { run_definition(&address, &token, &branch, &name, &nodes).await })
}

/// The widgets fixture served with `--queue` on a NATS server of its own (and `args`), a
/// write token, and alpha's run made long where `slow_reads` says (it reads its set that
/// many times before writing).
struct QueuedWidgets {
    repo: infragen_tests::WidgetRepository,
    token: String,
    nats: Nats,
    served: Served,
}

async fn queued_widgets(
    repo: infragen_tests::WidgetRepository,
    slow_reads: Option<u32>,
    args: &[&str],
) -> QueuedWidgets {
    if let Some(reads) = slow_reads {
        repo.set(
            "alpha",
            &format!("mode: {{value: \"slow\"}}, victim: {{value: \"{reads}\"}}"),
        )
        .await;
    }
    let store = repo.dir.path().join("store.db");
    let token = token(&store);
    let nats = Nats::start();
    let queue = nats.url();
    let served = serve(
        &store,
        repo.dir.path(),
        &[&["--queue", queue.as_str()], args].concat(),
    );
    QueuedWidgets {
        repo,
        token,
        nats,
        served,
    }
}

impl QueuedWidgets {
    fn worker(&self, name: &str) -> Worker {
        Worker::start(
            self.repo.dir.path(),
            name,
            &self.nats,
            &self.served,
            &self.token,
        )
    }
}

/// Waits until one of `workers` has started a `generate-pod` run: the cascade's second
/// round is under way.
async fn until_a_pod_runs(workers: &[Worker]) {
    let started = Instant::now();
    while !workers
        .iter()
        .any(|worker| worker.log().contains("generator=generate-pod"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the pods never ran"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Kills `worker` (SIGKILL) as soon as it has started a run; answers the run's key.
async fn kill_once_running(worker: &mut Worker) -> String {
    let started = Instant::now();
    let key = loop {
        if let Some(key) = worker.runs().0.into_iter().next() {
            break key;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never started: {}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    worker.process.0.kill().expect("kill -9 the worker");
    worker.process.0.wait().expect("reap it");
    assert_eq!(
        worker.runs(),
        (vec![key.clone()], Vec::new()),
        "it was killed before the run ended"
    );
    key
}

/// The widgets fixture repository (`infragen_tests::WidgetRepository`) with the
/// future-major guest as generator `future` on the same targets.
async fn widgets_with_future_generator() -> infragen_tests::WidgetRepository {
    let repo = infragen_tests::WidgetRepository::new().await;
    std::fs::copy(
        guest("future-major-guest"),
        repo.dir.path().join("future.wasm"),
    )
    .expect("copy the future-major guest");
    let config = repo.dir.path().join(".infrahub.yml");
    let mut text = std::fs::read_to_string(&config).expect(".infrahub.yml");
    text = text.replace(
        "generator_definitions:\n",
        "generator_definitions:\n  - name: future\n    file_path: future.wasm\n    targets: widget-sets\n    query: widget_set\n    parameters:\n      set: name__value\n",
    );
    std::fs::write(&config, text).expect("write .infrahub.yml");
    repo
}

/// The runs recorded for `generator` on `target`, oldest first.
fn runs_of(
    store: &infragen_store::Store,
    generator: &str,
    target: &str,
) -> Vec<infragen_store::RunRecord> {
    let mut runs = store
        .runs(&infragen_store::RunFilter {
            generator: Some(generator.to_owned()),
            target: Some(target.to_owned()),
            ..Default::default()
        })
        .expect("run history");
    runs.reverse();
    runs
}

/// The members of tracking group `name` (by name).
async fn tracking_group_members(
    repo: &infragen_tests::WidgetRepository,
    name: &str,
) -> Vec<String> {
    let data = infragen_tests::graphql(
        &repo.store,
        "main",
        &format!(
            "{{ CoreGeneratorGroup(name__value: \"{name}\") {{ edges {{ node {{ members {{ edges {{ node {{ display_label }} }} }} }} }} }} }}"
        ),
    )
    .await;
    let mut members: Vec<String> =
        data["CoreGeneratorGroup"]["edges"][0]["node"]["members"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|edge| edge["node"]["display_label"].as_str().map(str::to_owned))
            .collect();
    members.sort();
    members
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_leaves_it_to_another_with_no_duplicate_and_no_orphan() {
    // alpha's run reads its set 1,500 times before writing: long enough to be killed in.
    let queued = queued_widgets(
        infragen_tests::WidgetRepository::new().await,
        Some(1500),
        &["--queue-ack-wait", "2s"],
    )
    .await;
    let (repo, token, served) = (&queued.repo, &queued.token, &queued.served);
    let mut doomed = queued.worker("doomed");
    let alpha = repo.set_id("alpha").await;
    let run = spawn_definition_run(served, token, "main", "widgets", &[alpha]);
    let key = kill_once_running(&mut doomed).await;
    assert!(
        repo.widget_names().await.is_empty(),
        "the killed run wrote nothing"
    );

    let survivor = queued.worker("survivor");
    let answer = run.await.expect("the request's task");
    assert_eq!(
        answer["data"]["CoreGeneratorDefinitionRun"]["ok"], true,
        "{answer}"
    );
    assert_eq!(
        survivor.runs(),
        (vec![key.clone()], vec![key]),
        "{}",
        survivor.log()
    );

    assert_eq!(
        repo.widget_names().await,
        ["alpha-1", "alpha-2", "alpha-3"],
        "{answer} {:#?} {}",
        runs_of(&repo.store, "widgets", "alpha"),
        survivor.log()
    );
    assert_eq!(
        tracking_group_members(
            repo,
            &infragen::tracking::group::infrahub_group_name(
                "widgets",
                json!({"set": "alpha"}).as_object().expect("params")
            )
        )
        .await,
        ["alpha-1", "alpha-2", "alpha-3"]
    );
    let runs = runs_of(&repo.store, "widgets", "alpha");
    assert_eq!(
        runs.iter().map(|run| run.status).collect::<Vec<_>>(),
        [infragen_store::RunStatus::Succeeded],
        "{runs:#?}"
    );
    // The plugin's log, captured on the worker, is in the server's history.
    let history = repo
        .store
        .run_record(runs[0].id)
        .expect("the run")
        .expect("recorded");
    assert!(
        history.log.contains("set alpha: size 3, mode slow"),
        "{}",
        history.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_refuses_a_run_of_another_contract_version_naming_both() {
    let queued = queued_widgets(widgets_with_future_generator().await, None, &[]).await;
    let (repo, token, served) = (&queued.repo, &queued.token, &queued.served);
    let worker = queued.worker("w1");
    let alpha = repo.set_id("alpha").await;
    let answer = run_definition(&served.address, token, "main", "future", &[alpha]).await;
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    let digest = infragen::runtime::inspect_file(&repo.dir.path().join("future.wasm"), u64::MAX)
        .expect("inspect")
        .digest;
    let refusal = format!(
        "worker w1 refuses generator `future` on target `alpha`: its component {digest} is built \
         against infragen:generator@1.0.0, but this worker implements infragen:generator@{host} \
         (it runs components built against {range}); run a worker of a version that implements \
         infragen:generator@1.0.0",
        host = infragen::contract::HOST_VERSION,
        range = infragen::contract::HOST_VERSION.accepted_range(),
    );
    assert!(message.contains(&refusal), "{answer}");
    let runs = runs_of(&repo.store, "future", "alpha");
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, infragen_store::RunStatus::Failed);
    assert_eq!(runs[0].error.as_deref(), Some(refusal.as_str()));
    assert!(repo.widget_names().await.is_empty());
    assert_eq!(worker.runs().1.len(), 1, "{}", worker.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cascade_goes_on_after_the_nats_server_stops_for_a_few_seconds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = workspace_root();
    let mut nats = Nats::start();
    let store = seeded_store(dir.path(), "store");
    let token = token(&store);
    let served = serve(
        &store,
        &root,
        &["--concurrency", "2", "--queue", &nats.url()],
    );
    let workers = ["w1", "w2"].map(|name| Worker::start(dir.path(), name, &nats, &served, &token));
    let run = spawn_definition_run(&served, &token, "br1", "generate-fabric", &[]);
    // Stopped once the pods' round is under way, for three seconds.
    until_a_pod_runs(&workers).await;
    nats.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!run.is_finished(), "the cascade ended while NATS was down");
    nats.restart();
    let answer = run.await.expect("the request's task");
    assert_eq!(
        answer["data"]["CoreGeneratorDefinitionRun"]["ok"], true,
        "{answer}"
    );

    let built = without_ids(&store, "br1");
    assert_eq!(built["NetworkDevice"].len(), 48);
    assert_eq!(built["NetworkLink"].len(), 160);
    let history = infragen_store::Store::open(&store)
        .expect("store")
        .runs(&infragen_store::RunFilter {
            branch: Some("br1".into()),
            ..Default::default()
        })
        .expect("history");
    assert_eq!(history.len(), 22, "{history:#?}");
    assert!(
        history
            .iter()
            .all(|run| run.status == infragen_store::RunStatus::Succeeded),
        "{history:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_workers_all_die_is_given_up_with_its_error_in_the_history() {
    let queued = queued_widgets(
        infragen_tests::WidgetRepository::new().await,
        Some(3000),
        &["--queue-ack-wait", "1s", "--queue-deliveries", "2"],
    )
    .await;
    let (repo, token, served) = (&queued.repo, &queued.token, &queued.served);
    let alpha = repo.set_id("alpha").await;
    let run = spawn_definition_run(served, token, "main", "widgets", &[alpha]);
    // Each delivery's worker is killed as soon as it has started the run.
    for name in ["first", "second"] {
        kill_once_running(&mut queued.worker(name)).await;
    }
    // A worker comes back (restarted by its supervisor). JetStream counts a message's
    // deliveries when a worker pulls (nats-server 2.9 looks at expired deliveries only
    // then), so this pull is what gives the run up: it is not delivered a third time.
    let third = queued.worker("third");
    let answer = run.await.expect("the request's task");
    assert_eq!(third.runs(), (Vec::new(), Vec::new()), "{}", third.log());
    let alpha_id = repo.set_id("alpha").await;
    let given_up = format!(
        "generator `widgets` on target `alpha` ({alpha_id}): given up after 2 of 2 deliveries to \
         workers, each of which stopped before answering (killed, or out of memory); it is not \
         delivered again"
    );
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&given_up), "{answer}");
    let runs = runs_of(&repo.store, "widgets", "alpha");
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, infragen_store::RunStatus::Failed);
    assert_eq!(runs[0].error.as_deref(), Some(given_up.as_str()));
    assert!(repo.widget_names().await.is_empty());
    // The killed workers left the instance as they were cut off (unmade, or `Processing`);
    // the server records the failure.
    assert_eq!(
        repo.instance_status("widgets: alpha").await.as_deref(),
        Some("Error")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_refuses_a_component_whose_bytes_do_not_match_its_digest() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let nats = Nats::start();
    // Someone with write access to the object store puts other bytes, of the same size,
    // under the widgets component's digest before the server shares it.
    let component =
        std::fs::read(repo.dir.path().join("widgets_generator.wasm")).expect("component");
    let digest =
        infragen::runtime::inspect_file(&repo.dir.path().join("widgets_generator.wasm"), u64::MAX)
            .expect("inspect")
            .digest;
    let mut tampered = component.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    let client = async_nats::connect(nats.url()).await.expect("NATS");
    let bucket = async_nats::jetstream::new(client)
        .create_object_store(async_nats::jetstream::object_store::Config {
            bucket: infragen::scale_out::queue::COMPONENTS_BUCKET.to_owned(),
            ..Default::default()
        })
        .await
        .expect("the bucket");
    bucket
        .put(digest.as_str(), &mut tampered.as_slice())
        .await
        .expect("the tampered object");

    let store = repo.dir.path().join("store.db");
    let token = token(&store);
    let served = serve(&store, repo.dir.path(), &["--queue", &nats.url()]);
    let _worker = Worker::start(repo.dir.path(), "w1", &nats, &served, &token);
    let alpha = repo.set_id("alpha").await;
    let answer = run_definition(
        &served.address,
        &token,
        "main",
        "widgets",
        std::slice::from_ref(&alpha),
    )
    .await;
    let actual = {
        use sha2::Digest;
        hex_digest(&sha2::Sha256::digest(&tampered))
    };
    let refusal = format!(
        "generator `widgets` failed on target `alpha` ({alpha}): worker w1: the object store's \
         component {digest} hashes to {actual} ({} bytes); refusing to run it",
        tampered.len()
    );
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&refusal), "{answer}");
    assert_eq!(
        runs_of(&repo.store, "widgets", "alpha")
            .iter()
            .map(|run| run.error.clone())
            .collect::<Vec<_>>(),
        [Some(refusal)]
    );
    assert!(repo.widget_names().await.is_empty());
}

fn hex_digest(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_message_leaves_the_queue_unanswered_is_queued_again() {
    let queued = queued_widgets(infragen_tests::WidgetRepository::new().await, None, &[]).await;
    let (repo, token, served, nats) = (&queued.repo, &queued.token, &queued.served, &queued.nats);
    let alpha = repo.set_id("alpha").await;
    let run = spawn_definition_run(
        served,
        token,
        "main",
        "widgets",
        std::slice::from_ref(&alpha),
    );
    // No worker yet: the run waits in the queue, where an operator purges it.
    let client = async_nats::connect(nats.url()).await.expect("NATS");
    let js = async_nats::jetstream::new(client);
    let mut runs = js
        .get_stream(infragen::scale_out::queue::RUNS_STREAM)
        .await
        .expect("the runs' stream");
    let started = Instant::now();
    while runs.info().await.expect("stream info").state.messages == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run was never queued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runs.purge().await.expect("purge");
    // Taken for lost after three looks, failed as retryable, queued again as attempt 2.
    let started = Instant::now();
    while runs.info().await.expect("stream info").state.messages == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run was never queued again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let worker = queued.worker("w1");
    let answer = run.await.expect("the request's task");
    assert_eq!(
        answer["data"]["CoreGeneratorDefinitionRun"]["ok"], true,
        "{answer}"
    );
    assert_eq!(repo.widget_names().await, ["alpha-1", "alpha-2", "alpha-3"]);
    let runs = runs_of(&repo.store, "widgets", "alpha");
    assert_eq!(
        runs.iter()
            .map(|run| (run.attempt, run.status, run.error.clone()))
            .collect::<Vec<_>>(),
        [
            (
                1,
                infragen_store::RunStatus::Failed,
                Some(format!(
                    "generator `widgets` on target `alpha` ({alpha}): its run left the work queue \
                     without an answer (removed from the stream, or given up while this server \
                     was disconnected)"
                ))
            ),
            (2, infragen_store::RunStatus::Succeeded, None)
        ],
        "{}",
        worker.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_cascade_and_started_again_finishes_it_with_its_workers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = workspace_root();

    let alone = built_in_one_process(dir.path()).await;

    let nats = Nats::start();
    let store = seeded_store(dir.path(), "spread");
    let token = token(&store);
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .to_string();
    let args = ["--concurrency", "1", "--queue", &nats.url()];
    let mut served = serve_on(&store, &root, &listen, &args);
    let workers = ["w1", "w2"].map(|name| Worker::start(dir.path(), name, &nats, &served, &token));
    let request = spawn_definition_run(&served, &token, "br1", "generate-fabric", &[]);
    until_a_pod_runs(&workers).await;
    served.process.0.kill().expect("kill -9 serve");
    served.process.0.wait().expect("reap it");
    request.abort();
    let devices = |store: &infragen_store::Store| {
        store.execute_blocking(
            "br1",
            &infragen_store::GraphqlRequest::new("{ NetworkDevice { count } }"),
        )["data"]["NetworkDevice"]["count"]
            .as_i64()
            .unwrap_or_default()
    };
    let handle = infragen_store::Store::open(&store).expect("store opens");
    assert!(devices(&handle) < 48, "killed before the cascade ended");

    // Started again on the same address: it resumes what the dead server left.
    let _restarted = serve_on(&store, &root, &listen, &args);
    let started = Instant::now();
    loop {
        let open = handle
            .runs(&infragen_store::RunFilter {
                branch: Some("br1".into()),
                ..Default::default()
            })
            .expect("history")
            .iter()
            .filter(|run| {
                matches!(
                    run.status,
                    infragen_store::RunStatus::Queued | infragen_store::RunStatus::Running
                )
            })
            .count();
        if devices(&handle) == 48 && open == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the restarted server never finished the cascade: {} devices, {open} runs open",
            devices(&handle)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(handle);
    let alone = without_ids(&alone, "br1");
    let spread = without_ids(&store, "br1");
    assert_eq!(
        alone.keys().collect::<Vec<_>>(),
        spread.keys().collect::<Vec<_>>()
    );
    for (kind, nodes) in &alone {
        assert!(spread[kind] == *nodes, "{kind} differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_nats_server_each_get_their_own_runs_done_by_their_own_workers() {
    let nats = Nats::start();
    let mut sides = Vec::new();
    for name in ["first", "second"] {
        let repo = infragen_tests::WidgetRepository::new().await;
        let store = repo.dir.path().join("store.db");
        let token = token(&store);
        let served = serve(&store, repo.dir.path(), &["--queue", &nats.url()]);
        let worker = if name == "first" {
            Worker::start(repo.dir.path(), name, &nats, &served, &token)
        } else {
            // Told its server's scope rather than asking it.
            let scope = reqwest::Client::new()
                .get(format!("{}/api/queue", served.address))
                .header("X-INFRAHUB-KEY", &token)
                .send()
                .await
                .expect("serve answers")
                .bytes()
                .await
                .map(|body| serde_json::from_slice::<Value>(&body).expect("JSON"))
                .expect("a body")["scope"]
                .as_str()
                .expect("a scope")
                .to_owned();
            let args = ["--queue-scope", scope.as_str()];
            Worker::start_with(repo.dir.path(), name, &nats, &served, &token, &args)
        };
        sides.push((repo, token, served, worker));
    }
    let mut requests = Vec::new();
    for (repo, token, served, _) in &sides {
        let alpha = repo.set_id("alpha").await;
        requests.push(spawn_definition_run(
            served,
            token,
            "main",
            "widgets",
            &[alpha],
        ));
    }
    for request in requests {
        let answer = tokio::time::timeout(Duration::from_secs(60), request)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no answer in a minute: {}\n---\n{}",
                    sides[0].3.log(),
                    sides[1].3.log()
                )
            })
            .expect("the request's task");
        assert_eq!(
            answer["data"]["CoreGeneratorDefinitionRun"]["ok"], true,
            "{answer}"
        );
    }
    let mut keys = Vec::new();
    for (repo, _, _, worker) in &sides {
        assert_eq!(repo.widget_names().await, ["alpha-1", "alpha-2", "alpha-3"]);
        let (started, finished) = worker.runs();
        assert_eq!(started.len(), 1, "{}", worker.log());
        assert_eq!(started, finished);
        keys.push(started[0].clone());
    }
    // Each key starts with its server's store scope: the two workers ran one run each,
    // from two servers.
    let scope = |key: &str| key.split('-').next().unwrap_or_default().to_owned();
    assert_ne!(scope(&keys[0]), scope(&keys[1]), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_of_a_server_without_a_queue_says_so_and_stops() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let store = repo.dir.path().join("store.db");
    let token = token(&store);
    let served = serve(&store, repo.dir.path(), &[]);
    let output = Command::new(infragen_bin())
        .args(["worker", "--queue", "nats://127.0.0.1:1", "--address"])
        .arg(&served.address)
        .args(["--token", &token, "--name", "w1"])
        .env_remove("INFRAGEN_LOG")
        .output()
        .expect("infragen worker runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "error: the server at {} gives no work queue to pull from (404 Not Found: this \
             server runs its generators itself: it was not started with `--queue`); a worker \
             serves an `infragen serve --queue`",
            served.address
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_with_sigterm_finishes_its_run_and_exits() {
    let queued = queued_widgets(
        infragen_tests::WidgetRepository::new().await,
        Some(1500),
        &[],
    )
    .await;
    let (repo, token, served) = (&queued.repo, &queued.token, &queued.served);
    let mut worker = queued.worker("w1");
    let alpha = repo.set_id("alpha").await;
    let run = spawn_definition_run(served, token, "main", "widgets", &[alpha]);
    let started = Instant::now();
    while worker.runs().0.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = libc::pid_t::try_from(worker.process.0.id()).expect("pid");
    // SAFETY: a signal to a child this test spawned and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = worker.process.0.wait().expect("it exits");
    assert_eq!(status.code(), Some(0), "{}", worker.log());
    let (started, finished) = worker.runs();
    assert_eq!((started.len(), started), (1, finished), "{}", worker.log());
    let answer = run.await.expect("the request's task");
    assert_eq!(
        answer["data"]["CoreGeneratorDefinitionRun"]["ok"], true,
        "{answer}"
    );
    assert_eq!(repo.widget_names().await, ["alpha-1", "alpha-2", "alpha-3"]);
    assert!(
        worker.log().contains("infragen: worker w1 stopped"),
        "{}",
        worker.log()
    );
}

/// A CA, and the server and client certificates it signed, as PEM files in `dir`: the
/// server's for 127.0.0.1.
struct Certificates {
    ca: PathBuf,
    server: PathBuf,
    server_key: PathBuf,
    client: PathBuf,
    client_key: PathBuf,
}

impl Certificates {
    fn new(dir: &Path) -> Certificates {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "infragen test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issue = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, name: &str| {
            let mut params = CertificateParams::new(names).expect("params");
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().expect("key");
            let cert = params.signed_by(&key, &ca, &ca_key).expect("certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server, server_key) = issue(
            vec!["127.0.0.1".to_owned()],
            ExtendedKeyUsagePurpose::ServerAuth,
            "nats",
        );
        let (client, client_key) = issue(Vec::new(), ExtendedKeyUsagePurpose::ClientAuth, "worker");
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a PEM file");
            path
        };
        Certificates {
            ca: write("ca.pem", &ca.pem()),
            server: write("server.pem", &server),
            server_key: write("server-key.pem", &server_key),
            client: write("client.pem", &client),
            client_key: write("client-key.pem", &client_key),
        }
    }
}

/// Starts `infragen worker` named `name` for `served`, with `env` and `args` (the queue's
/// URL among them, one way or the other), its stderr in `dir/<name>.log`.
fn worker_process(
    dir: &Path,
    name: &str,
    served: &Served,
    token: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> Worker {
    let log = dir.join(format!("{name}.log"));
    let process = Command::new(infragen_bin())
        .args(["--log", "infragen=info", "worker"])
        .args([
            "--address",
            &served.address,
            "--token",
            token,
            "--name",
            name,
        ])
        .args(args)
        .env_remove("INFRAGEN_LOG")
        .env_remove("INFRAGEN_QUEUE")
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("infragen worker starts");
    Worker {
        process: KillOnDrop(process),
        log,
    }
}

impl Worker {
    /// Waits for it to exit, for at most `limit`; its exit code.
    fn exit_code_within(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.process.0.try_wait().expect("wait for the worker") {
                return status.code();
            }
            assert!(
                started.elapsed() < limit,
                "the worker is still running after {limit:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts a worker that the NATS server at `shown` (as messages show it) must refuse, and
/// waits for it to stop: its log, which says so and shows no password.
fn refused_worker(
    dir: &Path,
    name: &str,
    (served, token): (&Served, &str),
    env: &[(&str, &str)],
    args: &[&str],
    shown: &str,
) -> String {
    let mut worker = worker_process(dir, name, served, token, env, args);
    assert_eq!(
        worker.exit_code_within(Duration::from_secs(30)),
        Some(1),
        "{}",
        worker.log()
    );
    let log = worker.log();
    assert!(
        log.contains(&format!(
            "error: worker {name} stopped: the NATS server at {shown} refused the connection: "
        )),
        "{log}"
    );
    assert!(!log.contains("-pw"), "{log}");
    log
}

/// Has `served` run the widgets generator on `alpha`: `worker` takes the run, and the three
/// widgets it makes exist afterwards.
async fn alpha_built_by(
    repo: &infragen_tests::WidgetRepository,
    (served, token): (&Served, &str),
    worker: &Worker,
) {
    let alpha = repo.set_id("alpha").await;
    let answer = run_definition(&served.address, token, "main", "widgets", &[alpha]).await;
    assert_eq!(
        answer["data"]["CoreGeneratorDefinitionRun"]["ok"],
        true,
        "{answer}\n{}",
        worker.log()
    );
    assert_eq!(repo.widget_names().await, ["alpha-1", "alpha-2", "alpha-3"]);
    assert_eq!(worker.runs().1.len(), 1, "{}", worker.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_behind_a_password_and_tls_is_used_with_them_and_refuses_workers_without() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let dir = repo.dir.path();
    let certs = Certificates::new(dir);
    let nats = Nats::start_with(&format!(
        "authorization {{ users = [ {{ user: infragen, password: \"s3cret-pw\" }} ] }}\n\
         tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
        certs.server.display(),
        certs.server_key.display()
    ));
    let port = nats.port();
    let url = format!("tls://infragen:s3cret-pw@127.0.0.1:{port}");
    let shown = format!("tls://infragen:***@127.0.0.1:{port}");
    let store = dir.join("store.db");
    let token = token(&store);
    let ca = certs.ca.to_str().expect("UTF-8 path");
    let served = serve(&store, dir, &["--queue", url.as_str(), "--queue-ca", ca]);
    let server = (&served, token.as_str());

    // The URL through the environment, credentials and all.
    let worker = worker_process(
        dir,
        "w1",
        &served,
        &token,
        &[("INFRAGEN_QUEUE", url.as_str())],
        &["--queue-ca", ca],
    );
    alpha_built_by(&repo, server, &worker).await;
    assert!(
        worker
            .log()
            .contains(&format!("runs from the work queue at {shown}")),
        "{}",
        worker.log()
    );
    assert!(!worker.log().contains("-pw"), "{}", worker.log());

    // Refused at once: a wrong password, none at all.
    let violation = "authorization violation: it does not accept the credentials given (the \
                     user and password or token in the URL, or `--queue-nkey`)";
    let wrong = format!("tls://infragen:wrong-pw@127.0.0.1:{port}");
    let log = refused_worker(
        dir,
        "wrong",
        server,
        &[],
        &["--queue", &wrong, "--queue-ca", ca],
        &shown,
    );
    assert!(log.contains(violation), "{log}");
    let anonymous = format!("tls://127.0.0.1:{port}");
    let log = refused_worker(
        dir,
        "anonymous",
        server,
        &[],
        &["--queue", &anonymous, "--queue-ca", ca],
        &anonymous,
    );
    assert!(log.contains(violation), "{log}");

    // The right password, but the server's certificate from a CA it was not told of.
    let log = refused_worker(
        dir,
        "untrusting",
        server,
        &[("INFRAGEN_QUEUE", url.as_str())],
        &[],
        &shown,
    );
    assert!(
        log.contains("the TLS handshake failed: invalid peer certificate: UnknownIssuer")
            && log.contains("`--queue-ca` names the CA that signed the server's certificate"),
        "{log}"
    );
    drop(nats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_behind_an_nkey_and_client_certificates_is_used_with_them() {
    let repo = infragen_tests::WidgetRepository::new().await;
    let dir = repo.dir.path();
    let certs = Certificates::new(dir);
    let user = nkeys::KeyPair::new_user();
    let seed = dir.join("worker.nk");
    std::fs::write(
        &seed,
        format!("# infragen's NKey\n{}\n", user.seed().expect("seed")),
    )
    .expect("seed file");
    let nats = Nats::start_with(&format!(
        "authorization {{ users = [ {{ nkey: \"{}\" }} ] }}\n\
         tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", verify: true }}\n",
        user.public_key(),
        certs.server.display(),
        certs.server_key.display(),
        certs.ca.display(),
    ));
    let url = format!("tls://127.0.0.1:{}", nats.port());
    let store = dir.join("store.db");
    let token = token(&store);
    let path = |p: &PathBuf| p.to_str().expect("UTF-8 path").to_owned();
    let (ca, cert, key, seed) = (
        path(&certs.ca),
        path(&certs.client),
        path(&certs.client_key),
        path(&seed),
    );
    let access = [
        "--queue",
        url.as_str(),
        "--queue-nkey",
        seed.as_str(),
        "--queue-ca",
        ca.as_str(),
        "--queue-cert",
        cert.as_str(),
        "--queue-key",
        key.as_str(),
    ];
    let served = serve(&store, dir, &access);
    let server = (&served, token.as_str());
    let worker = worker_process(dir, "w1", &served, &token, &[], &access);
    alpha_built_by(&repo, server, &worker).await;

    // The NKey, but no client certificate: the server ends the TLS handshake.
    let log = refused_worker(dir, "uncertified", server, &[], &access[..6], &url);
    assert!(
        log.contains("the TLS handshake failed: received fatal alert: "),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_before_its_nats_server_waits_for_it_and_then_runs() {
    let mut queued = queued_widgets(infragen_tests::WidgetRepository::new().await, None, &[]).await;
    queued.nats.stop();
    let mut worker = queued.worker("early");
    let started = Instant::now();
    while !worker
        .log()
        .contains("the NATS server cannot be reached yet; trying again")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the worker never said it waits: {}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        worker.process.0.try_wait().expect("the worker's status"),
        None,
        "{}",
        worker.log()
    );
    queued.nats.restart();
    alpha_built_by(
        &queued.repo,
        (&queued.served, queued.token.as_str()),
        &worker,
    )
    .await;
}
