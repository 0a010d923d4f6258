//! `infragen validate`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::validate::{self, Options};

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The repository holding `.infrahub.yml`. Target groups and trigger
    /// actions that no object file declares are looked up in the store
    /// (`--store`) when that file exists; nothing is ever written.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Print the report as JSON: `{"repository", "problems": [{"file",
    /// "line", "message"}], "checked"}`.
    #[arg(long)]
    json: bool,
}

/// Prints every problem (`file:line: message`) and a verdict; exits 0 only
/// when there is none.
pub(crate) async fn run(args: ValidateArgs, store: &Path) -> anyhow::Result<ExitCode> {
    let options = Options {
        store: Some(store.to_owned()),
    };
    let report =
        tokio::task::spawn_blocking(move || validate::validate(&args.path, &options)).await??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
