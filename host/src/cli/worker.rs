//! `infragen worker`: runs from a work queue, on this machine (see
//! [`crate::scale_out::worker`]).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::client::GraphqlBackend;
use crate::scale_out::worker::Worker;
use crate::transport::{Http, HttpConfig};

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The NATS server holding the work queue (`nats://HOST:PORT`, or `tls://…`, with
    /// `USER:PASSWORD@` or `TOKEN@` before the host where the server asks for them), as
    /// given to `infragen serve --queue` (through `INFRAGEN_QUEUE`, credentials stay out
    /// of the process list).
    #[arg(long, env = "INFRAGEN_QUEUE", hide_env_values = true)]
    queue: String,
    #[command(flatten)]
    queue_access: super::queue::QueueAccessArgs,
    /// The server runs read and write through: `infragen serve`'s address (or a real
    /// Infrahub's).
    #[arg(long, env = "INFRAHUB_ADDRESS")]
    address: String,
    /// API token sent as `X-INFRAHUB-KEY` (default: `INFRAHUB_API_TOKEN`); it needs write
    /// access.
    #[arg(long, env = "INFRAHUB_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Runs at the same time.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// This worker's name in run answers and logs (default: host name and process id).
    #[arg(long)]
    name: Option<String>,
    /// The store scope of the server whose runs to pull, as `serve --queue` prints it;
    /// asked of the server at `--address` (`GET /api/queue`) when not given, so needed
    /// only when the runs write elsewhere than through that server.
    #[arg(long)]
    queue_scope: Option<String>,
}

pub(crate) async fn run(
    args: WorkerArgs,
    compile: crate::runtime::CompileLimits,
) -> anyhow::Result<ExitCode> {
    let queue = crate::scale_out::QueueUrl::parse(&args.queue)?;
    let http = Http::new(HttpConfig::new(args.address.clone(), args.token.clone()))
        .with_context(|| format!("cannot reach {} over HTTP", args.address))?;
    let backend = Arc::new(GraphqlBackend::new(http));
    let runtime = super::runtime(args.concurrency, compile)?;
    let name = args.name.unwrap_or_else(Worker::default_name);
    let stop = crate::cascade::Interrupt::default();
    let signals = tokio::spawn(super::stop_on_signals(stop.clone()));
    let scope = match args.queue_scope {
        Some(scope) => scope,
        None => match server_scope(&args.address, args.token.as_deref(), &stop).await? {
            Some(scope) => scope,
            None => return Ok(ExitCode::SUCCESS),
        },
    };
    let worker = Arc::new(Worker::new(
        name.clone(),
        queue.clone(),
        args.queue_access.access(),
        scope,
        backend,
        runtime,
        args.concurrency,
    ));
    eprintln!(
        "infragen: worker {name}: runs from the work queue at {queue}, written through {}",
        args.address
    );
    worker
        .run(stop)
        .await
        .with_context(|| format!("worker {name} stopped"))?;
    signals.abort();
    eprintln!("infragen: worker {name} stopped");
    Ok(ExitCode::SUCCESS)
}

/// The store scope of the work queue of the server at `address` (`GET /api/queue`): the
/// runs this worker may take. Waits while the server cannot be reached (it may start
/// after its workers); `None` when stopped meanwhile.
async fn server_scope(
    address: &str,
    token: Option<&str>,
    stop: &crate::cascade::Interrupt,
) -> anyhow::Result<Option<String>> {
    let url = format!("{}/api/queue", address.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let mut told = false;
    loop {
        let mut request = client.get(&url).timeout(std::time::Duration::from_secs(10));
        if let Some(token) = token {
            request = request.header("X-INFRAHUB-KEY", token);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let bytes = response
                    .bytes()
                    .await
                    .with_context(|| format!("reading {url}'s answer"))?;
                let body: serde_json::Value = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{url} answered {status} without JSON"))?;
                if !status.is_success() {
                    let message = body
                        .pointer("/errors/0/message")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("no message");
                    anyhow::bail!(
                        "the server at {address} gives no work queue to pull from ({status}: {message}); \
                         a worker serves an `infragen serve --queue`"
                    );
                }
                let scope = body
                    .get("scope")
                    .and_then(serde_json::Value::as_str)
                    .with_context(|| format!("{url} answered without a scope: {body}"))?;
                return Ok(Some(scope.to_owned()));
            }
            Err(error) => {
                if !told {
                    eprintln!("infragen: waiting for the server at {address}: {error}");
                    told = true;
                }
            }
        }
        if stop.raised() {
            return Ok(None);
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
