//! The `infragen` command line: argument definitions here, the work in the
//! library. Only this module prints.

mod plugin;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs Infrahub-style infrastructure generators as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "infragen", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (tracing's env-filter syntax), e.g. `info` or `infragen=debug`.
    #[arg(long, global = true, env = "INFRAGEN_LOG", default_value = "warn")]
    pub log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and manage generator plugins (.wasm components).
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

/// Parses the arguments, runs the command, and turns an error into a message
/// on stderr and a non-zero exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
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
            Command::Plugin(command) => plugin::run(command).await,
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

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
