//! `infragen serve`: the embedded store over HTTP with Infrahub's endpoints,
//! and the generators of the repository run on every change their rules
//! match, as Infrahub runs them.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::cascade::follow::{CascadeObserver, Follower};
use crate::cascade::{Cascade, CascadeConfig, CascadeReport};
use crate::embedded::EmbeddedBackend;
use crate::policy::RuntimePolicy;
use crate::repository::Repository;
use crate::runner::Runner;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// Allow a non-loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Configuration file with `[store] api_tokens = [...]` and the run transactions'
    /// limits (`[store.transactions]`).
    #[arg(long, default_value = "infragen.toml")]
    config: PathBuf,
    /// The repository whose generators run when their trigger rules match a
    /// change.
    #[arg(long, default_value = ".")]
    repository: PathBuf,
    /// Generator runs at the same time.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Run the generators on `infragen worker` processes instead of in this one: publish
    /// each run to the NATS JetStream work queue at this URL (`nats://HOST:PORT`, or
    /// `tls://…`; `nats://USER:PASSWORD@HOST:PORT` or `nats://TOKEN@HOST:PORT` where the
    /// server asks for them — given through `INFRAGEN_QUEUE`, they stay out of the process
    /// list).
    #[arg(long, env = "INFRAGEN_QUEUE", hide_env_values = true)]
    queue: Option<String>,
    #[command(flatten)]
    queue_access: super::queue::QueueAccessArgs,
    /// With `--queue`: how long a worker may go silent before its run goes to another.
    #[arg(long, default_value = "30s", value_parser = super::parse_duration)]
    queue_ack_wait: std::time::Duration,
    /// With `--queue`: deliveries of one run to workers before it is given up (each
    /// worker it went to died while running it).
    #[arg(long, default_value_t = 3)]
    queue_deliveries: u32,
}

/// `CoreGeneratorDefinitionRun` on this server: a cascade from the definition's run on the
/// targets named, as `infragen generator NAME` starts one.
struct DefinitionRuns {
    requests: crate::cascade::follow::Requests,
    store: infragen_store::Store,
    /// Each call's task, for `InfrahubTask`.
    tasks: Arc<crate::http_api::TaskBook>,
}

/// What a definition run's cascade ended with, as its task's state and log.
fn conclude(
    tasks: &crate::http_api::TaskBook,
    id: &str,
    result: &Result<crate::cascade::CascadeReport, crate::http_api::DefinitionRunError>,
) {
    use crate::http_api::{DefinitionRunError, TaskLog, TaskState};
    let at_ms = infragen_store::clock::now_ms();
    let (state, lines): (TaskState, Vec<(&'static str, String)>) = match result {
        Ok(report) if report.is_success() => (
            TaskState::Completed,
            report
                .to_string()
                .lines()
                .map(|line| ("info", line.to_owned()))
                .collect(),
        ),
        Ok(report) => (
            TaskState::Failed,
            DefinitionRunError::Failed(Box::new(report.clone()))
                .to_string()
                .lines()
                .map(|line| ("error", line.to_owned()))
                .collect(),
        ),
        Err(error) => (TaskState::Failed, vec![("error", error.to_string())]),
    };
    tasks.update(id, |task| {
        task.state = state;
        task.updated_ms = at_ms;
        task.logs = lines
            .into_iter()
            .map(|(severity, message)| TaskLog {
                severity,
                message,
                at_ms,
            })
            .collect();
    });
}

#[async_trait::async_trait]
impl crate::http_api::GeneratorRuns for DefinitionRuns {
    async fn run_definition(
        &self,
        branch: &str,
        definition_id: &str,
        nodes: Vec<String>,
        wait: bool,
    ) -> Result<String, crate::http_api::DefinitionRunError> {
        use crate::http_api::DefinitionRunError;
        let mut request = infragen_store::GraphqlRequest::new(
            "query ($id: ID!) { CoreGeneratorDefinition(ids: [$id]) { edges { node { name { value } } } } }",
        );
        request.variables = Some(serde_json::json!({ "id": definition_id }));
        let answer = self.store.execute(branch, request).await;
        let name = answer
            .pointer("/data/CoreGeneratorDefinition/edges/0/node/name/value")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| DefinitionRunError::UnknownDefinition(definition_id.to_owned()))?
            .to_owned();
        let parameters = serde_json::json!({ "definition_id": definition_id, "nodes": nodes });
        let selection = if nodes.is_empty() {
            crate::runner::TargetSelection::All
        } else {
            crate::runner::TargetSelection::Ids(nodes)
        };
        let task = uuid::Uuid::new_v4().to_string();
        let created_ms = infragen_store::clock::now_ms();
        self.tasks.put(crate::http_api::Task {
            id: task.clone(),
            title: format!("Run generator definition {name}"),
            state: crate::http_api::TaskState::Running,
            workflow: crate::http_api::DEFINITION_RUN_WORKFLOW,
            branch: branch.to_owned(),
            created_ms,
            updated_ms: created_ms,
            started_ms: Some(created_ms),
            parameters,
            related_nodes: vec![(
                definition_id.to_owned(),
                Some("CoreGeneratorDefinition".to_owned()),
            )],
            logs: Vec::new(),
        });
        let requests = self.requests.clone();
        let branch = branch.to_owned();
        let tasks = Arc::clone(&self.tasks);
        let task_id = task.clone();
        let run = async move {
            let start = crate::cascade::Start::Definition { name, selection };
            let result = requests
                .run(&branch, start)
                .await
                .map_err(DefinitionRunError::from);
            conclude(&tasks, &task_id, &result);
            result
        };
        if !wait {
            let task_id = task.clone();
            tokio::spawn(async move {
                if let Err(error) = run.await {
                    tracing::error!(task = %task_id, "{error}");
                }
            });
            return Ok(task);
        }
        let report = run.await?;
        if report.is_success() {
            Ok(task)
        } else {
            Err(DefinitionRunError::Failed(Box::new(report)))
        }
    }
}

/// What tells this store's runs from another server's on a shared NATS server: a digest
/// of its path and of when it began, stable across restarts.
fn queue_scope(store: &infragen_store::Store) -> anyhow::Result<String> {
    use sha2::Digest;
    let began = store
        .created_at()
        .context("cannot read when the store began")?;
    let digest = sha2::Sha256::digest(format!("{}\n{began}", store.path()));
    Ok(hex::encode(&digest[..8]))
}

/// Prints each cascade's report, and notes whether one was interrupted.
#[derive(Default)]
struct PrintReports {
    left_queued: std::sync::atomic::AtomicUsize,
}

impl CascadeObserver for PrintReports {
    fn cascade_done(&self, report: &CascadeReport) {
        if let Some(left) = &report.interrupted {
            self.left_queued
                .fetch_add(left.len(), std::sync::atomic::Ordering::SeqCst);
        }
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{report}");
        let _ = stdout.flush();
    }
}

pub(crate) async fn run(
    args: ServeArgs,
    store_path: &Path,
    compile: crate::runtime::CompileLimits,
) -> anyhow::Result<ExitCode> {
    if !args.allow_remote && !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "refusing to listen on {} (not a loopback address); pass --allow-remote to serve beyond this machine",
            args.listen
        );
    }
    let store = infragen_store::Store::open(store_path)
        .with_context(|| format!("cannot open the store {}", store_path.display()))?;
    let config = crate::policy::ServeConfig::load(&args.config)?;
    let repository = Repository::open(&args.repository)?;
    let policy = RuntimePolicy::load(repository.root())?;
    let retention = policy.retention();
    let runtime = super::runtime(args.concurrency, compile)?;
    let backend = Arc::new(EmbeddedBackend::new(store.clone()));
    // The repository is imported as Infrahub imports one: schema, objects, queries and
    // definitions (a store already in step changes nothing).
    crate::sync::sync_repository(&store, &repository, backend.as_ref(), "main")
        .await
        .with_context(|| {
            format!(
                "cannot import the repository {} into the store",
                args.repository.display()
            )
        })?;
    let skipped: Vec<String> = repository
        .config()
        .generator_definitions
        .iter()
        .filter(|definition| !definition.is_component())
        .map(|definition| format!("{} ({})", definition.name, definition.file_path.display()))
        .collect();
    if !skipped.is_empty() {
        eprintln!(
            "infragen: warning: not running {} generator definition{} that {} not WebAssembly \
             (Infrahub Python generators; run them with infrahubctl against this server): {}",
            skipped.len(),
            if skipped.len() == 1 { "" } else { "s" },
            if skipped.len() == 1 { "is" } else { "are" },
            skipped.join(", ")
        );
    }
    let mut runner = Runner::new(Arc::new(repository), runtime, backend, policy);
    let mut queue_scope_served = None;
    if let Some(url) = &args.queue {
        let url = crate::scale_out::QueueUrl::parse(url)?;
        let scope = queue_scope(&store)?;
        queue_scope_served = Some(scope.clone());
        let dispatcher = crate::scale_out::Dispatcher::start(
            &url,
            &args.queue_access.access(),
            &scope,
            crate::scale_out::QueueSettings {
                ack_wait: args.queue_ack_wait,
                deliveries: args.queue_deliveries.max(1),
            },
        )
        .await
        .map_err(|error| match error {
            // A server that lets this one in but cannot hold the queue.
            crate::scale_out::QueueError::Setup { .. } => {
                anyhow::Error::new(error).context(format!(
                    "cannot use the work queue at {url} (a NATS server with JetStream: \
                     `nats-server -js`)"
                ))
            }
            error => anyhow::Error::new(error),
        })?;
        eprintln!("infragen: runs go to the work queue at {url} (store scope {scope})");
        runner = runner.with_remote(dispatcher);
    }
    let cascade = Cascade::new(
        runner,
        Arc::new(store.clone()),
        CascadeConfig {
            concurrency: args.concurrency.max(1),
            retention,
            ..CascadeConfig::default()
        },
    );

    // Placed before listening: no write through the API falls before its place.
    let follower = Follower::start(cascade, store.clone())?;
    let tasks = Arc::new(crate::http_api::TaskBook::default());
    let definition_runs: Arc<dyn crate::http_api::GeneratorRuns> = Arc::new(DefinitionRuns {
        tasks: Arc::clone(&tasks),
        requests: follower.requests(),
        store: store.clone(),
    });
    let interrupt = follower.interrupt();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}")?;
        stdout.flush()?;
    }
    let server = crate::http_api::serve_listener_with(
        store.clone(),
        listener,
        config.api_tokens,
        crate::http_api::Limits {
            transactions: config.transactions,
            ..crate::http_api::Limits::default()
        },
        crate::http_api::Services {
            generators: Some(definition_runs),
            queue_scope: queue_scope_served,
            tasks: Some(tasks),
        },
    );
    // SIGINT/SIGTERM: no new run starts, the running ones finish, then serve stops; a
    // second signal abandons them.
    let signals = tokio::spawn(super::stop_on_signals(interrupt));
    let reports = PrintReports::default();
    let generators = follower.follow(&reports);
    tokio::select! {
        served = server => served.context("the HTTP server stopped")?,
        followed = generators => followed.context("the generator engine stopped")?,
    }
    signals.abort();
    let left = reports
        .left_queued
        .load(std::sync::atomic::Ordering::SeqCst);
    if left > 0 {
        eprintln!(
            "infragen: stopped with {left} run(s) left queued; the next `infragen serve` on \
             this store matches their changes again and runs them"
        );
        return Ok(ExitCode::FAILURE);
    }
    eprintln!("infragen: stopped");
    Ok(ExitCode::SUCCESS)
}
