//! `infragen plugin …`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::runtime;

#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Show what a .wasm file is: world, contract version, imports, exports,
    /// size, digest, and whether this host accepts it (and why not).
    Inspect {
        /// The .wasm file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Inspect { file, json } => {
            let inspection = runtime::inspect_file(&file, runtime::DEFAULT_MAX_PLUGIN_SIZE)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&inspection)?);
            } else {
                println!("file:             {}", file.display());
                println!("{inspection}");
            }
            Ok(if inspection.verdict.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}
