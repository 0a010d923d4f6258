//! `infragen sync`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::embedded::EmbeddedBackend;
use crate::repository::Repository;

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The repository holding `.infrahub.yml`.
    #[arg(long, default_value = ".")]
    repository: PathBuf,
    /// Branch to load the objects on.
    #[arg(long, default_value = "main")]
    branch: String,
}

pub(crate) async fn run(args: SyncArgs, store_path: &Path) -> anyhow::Result<ExitCode> {
    let repository = Repository::open(&args.repository)?;
    let store = infragen_store::Store::open(store_path)
        .with_context(|| format!("cannot open the store {}", store_path.display()))?;
    let backend = EmbeddedBackend::new(store.clone());
    let report = crate::sync::sync_repository(&store, &repository, &backend, &args.branch).await?;
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}
