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
    /// The NATS server holding the work queue (`nats://HOST:PORT`), as given to
    /// `infragen serve --queue`.
    #[arg(long)]
    queue: String,
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
}

pub(crate) async fn run(
    args: WorkerArgs,
    compile: crate::runtime::CompileLimits,
) -> anyhow::Result<ExitCode> {
    let http = Http::new(HttpConfig::new(args.address.clone(), args.token.clone()))
        .with_context(|| format!("cannot reach {} over HTTP", args.address))?;
    let backend = Arc::new(GraphqlBackend::new(http));
    let runtime = super::runtime(args.concurrency, compile)?;
    let name = args.name.unwrap_or_else(Worker::default_name);
    let worker = Arc::new(Worker::new(
        name.clone(),
        args.queue.clone(),
        backend,
        runtime,
        args.concurrency,
    ));
    let stop = crate::cascade::Interrupt::default();
    let signals = tokio::spawn(super::stop_on_signals(stop.clone()));
    eprintln!(
        "infragen: worker {name}: runs from the work queue at {}, written through {}",
        args.queue, args.address
    );
    worker
        .run(stop)
        .await
        .with_context(|| format!("worker {name} stopped"))?;
    signals.abort();
    eprintln!("infragen: worker {name} stopped");
    Ok(ExitCode::SUCCESS)
}
