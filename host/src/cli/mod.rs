//! The `infragen` command line: argument definitions here, the work in the
//! library. Only this module prints.

mod generator;
mod plugin;
mod queue;
mod runs;
mod serve;
mod store;
mod sync;
mod validate;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use store::{DEFAULT_STORE_PATH, StoreCommand};

/// Runs Infrahub-style infrastructure generators as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "infragen", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (tracing's env-filter syntax), e.g. `info` or `infragen=debug`.
    #[arg(long, global = true, env = "INFRAGEN_LOG", default_value = "warn")]
    pub log: String,

    /// The embedded store (an SQLite file), created when missing.
    #[arg(long, global = true, env = "INFRAGEN_STORE", default_value = DEFAULT_STORE_PATH)]
    pub store: PathBuf,

    /// How long compiling one plugin may take (e.g. `30s`); past it the compiler is
    /// stopped and the plugin refused.
    #[arg(long, global = true, env = "INFRAGEN_COMPILE_TIME", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub compile_time: std::time::Duration,

    /// How much memory compiling one plugin may use (e.g. `1 GiB`); past it the
    /// compiler is stopped and the plugin refused.
    #[arg(long, global = true, env = "INFRAGEN_COMPILE_MEMORY", value_name = "SIZE", default_value = "2 GiB", value_parser = parse_size)]
    pub compile_memory: u64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a generator of the repository on its targets, or list them.
    Generator(generator::GeneratorArgs),
    /// Inspect and manage generator plugins (.wasm components).
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Import the repository into the embedded store, as Infrahub does: schema,
    /// objects, queries and generator definitions, then trigger rules.
    Sync(sync::SyncArgs),
    /// Serve the store over HTTP with Infrahub's endpoints, and run the
    /// repository's generators on every change their trigger rules match.
    Serve(serve::ServeArgs),
    /// Pull runs from a work queue (`infragen serve --queue`) and run them, writing
    /// through the server's HTTP API.
    Worker(worker::WorkerArgs),
    /// The run history: every generator run with its status, causes, counts and log.
    Runs(runs::RunsArgs),
    /// Check the repository without running or writing anything: every
    /// problem with its file and line; exit code 0 only when there is none.
    Validate(validate::ValidateArgs),
    /// The embedded store: schema, branches, queries, objects, serving.
    #[command(flatten)]
    Store(StoreCommand),
}

/// Parses the arguments, runs the command, and turns an error into a message
/// on stderr and a non-zero exit code.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let origins = Origins {
        store_given: matches.value_source("store") == Some(ValueSource::CommandLine),
        address_from_env: matches
            .subcommand_matches("generator")
            .and_then(|generator| generator.value_source("address"))
            == Some(ValueSource::EnvVariable),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    // A compile worker does one thing, before anything else allocates or starts threads.
    if let Command::Plugin(plugin::PluginCommand::CompileWorker { memory }) = cli.command {
        let code = crate::runtime::compile::serve_compile_worker(memory);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    init_tracing(&cli.log);
    let compile = crate::runtime::CompileLimits {
        time: cli.compile_time,
        memory: cli.compile_memory,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Generator(args) => generator::run(args, &cli.store, origins, compile).await,
            Command::Plugin(command) => plugin::run(command).await,
            Command::Sync(args) => sync::run(args, &cli.store).await,
            Command::Serve(args) => serve::run(args, &cli.store, compile).await,
            Command::Worker(args) => worker::run(args, compile).await,
            Command::Runs(args) => runs::run(args, &cli.store).await,
            Command::Validate(args) => validate::run(args, &cli.store).await,
            Command::Store(command) => store::run(command, &cli.store)
                .await
                .map(|()| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where the arguments that choose a backend came from: an explicit `--store` wins over
/// an `INFRAHUB_ADDRESS` in the environment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origins {
    /// `--store` was given on the command line.
    pub store_given: bool,
    /// `infragen generator`'s address came from `INFRAHUB_ADDRESS`.
    pub address_from_env: bool,
}

/// The WebAssembly runtime of the commands that run generators, sized for
/// `concurrency` runs at a time, compiling plugins in a worker process (this binary)
/// bounded by `compile`.
fn runtime(
    concurrency: usize,
    compile: crate::runtime::CompileLimits,
) -> anyhow::Result<crate::runtime::Runtime> {
    use anyhow::Context;
    let program = std::env::current_exe()
        .context("cannot find this program's executable, which compiles plugins")?;
    crate::runtime::Runtime::builder()
        .max_concurrent_runs(u32::try_from(concurrency.max(1)).unwrap_or(u32::MAX))
        .compiler(crate::runtime::Compiler::Isolated(
            crate::runtime::IsolatedCompiler {
                program,
                args: vec!["plugin".into(), "compile-worker".into()],
                limits: compile,
            },
        ))
        .build()
        .context("cannot start the WebAssembly runtime")
}

/// SIGINT or SIGTERM: the cascade starts no new run and lets the running ones finish,
/// then reports what it left queued (and the command fails). A second signal abandons
/// the running runs: the process exits at once, and on the embedded store nothing of an
/// abandoned run is written.
pub(crate) async fn stop_on_signals(interrupt: crate::cascade::Interrupt) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("cannot watch for SIGINT/SIGTERM; a signal stops the process at once");
            return;
        };
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                eprintln!(
                    "infragen: stopping: no new run starts, the running ones finish (a second \
                     signal abandons them, writing nothing of them)"
                );
                interrupt.raise();
            } else {
                eprintln!("infragen: abandoning the running runs");
                std::process::exit(130);
            }
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.raise();
        }
    }
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::policy::Seconds::parse(text).map(|seconds| seconds.0)
}

fn parse_size(text: &str) -> Result<u64, String> {
    crate::policy::ByteSize::parse(text).map(|size| size.0)
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
