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
    let runner = Runner::new(Arc::new(repository), runtime, backend, policy);
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
    let server = crate::http_api::serve_listener_with_limits(
        store.clone(),
        listener,
        config.api_tokens,
        crate::http_api::Limits {
            transactions: config.transactions,
            ..crate::http_api::Limits::default()
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
