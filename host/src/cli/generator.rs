//! `infragen generator`, after `infrahubctl generator`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde_json::{Map, Value};

use crate::client::GraphqlBackend;
use crate::policy::RuntimePolicy;
use crate::repository::Repository;
use crate::runner::{Runner, TargetSelection};
use crate::runtime::Runtime;
use crate::transport::{Http, HttpConfig, InProcess};

#[derive(Debug, Args)]
pub(crate) struct GeneratorArgs {
    /// The generator definition to run (a `generator_definitions` name).
    name: Option<String>,
    /// `KEY=VALUE` parameters selecting the target(s) to run; without any,
    /// every member of the definition's target group runs.
    variables: Vec<String>,
    /// List the generators of the repository.
    #[arg(long)]
    list: bool,
    /// Branch to run on.
    #[arg(long, default_value = "main")]
    branch: String,
    /// Targets run at the same time.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// The repository holding `.infrahub.yml`.
    #[arg(long, default_value = ".")]
    repository: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Talk to an Infrahub server at this URL instead of the embedded store
    /// (default: `INFRAHUB_ADDRESS` when set).
    #[arg(long, env = "INFRAHUB_ADDRESS")]
    address: Option<String>,
    /// API token sent as `X-INFRAHUB-KEY` (default: `INFRAHUB_API_TOKEN`).
    #[arg(long, env = "INFRAHUB_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

fn parse_variables(variables: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut parsed = Map::new();
    for variable in variables {
        let Some((key, value)) = variable.split_once('=') else {
            anyhow::bail!("`{variable}` is not KEY=VALUE");
        };
        parsed.insert(key.to_owned(), Value::String(value.to_owned()));
    }
    Ok(parsed)
}

pub(crate) async fn run(args: GeneratorArgs, store_path: &Path) -> anyhow::Result<ExitCode> {
    let repository = Repository::open(&args.repository)?;
    let Some(name) = args.name.as_deref().filter(|_| !args.list) else {
        let definitions = &repository.config().generator_definitions;
        println!("Generators defined in repository: {}", definitions.len());
        for definition in definitions {
            println!(
                "{} ({}::{}) Target: {}",
                definition.name,
                definition.file_path.display(),
                definition.class_name,
                definition.targets
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let selection = match parse_variables(&args.variables)? {
        variables if variables.is_empty() => TargetSelection::All,
        variables => TargetSelection::Matching(variables),
    };
    let policy = RuntimePolicy::load(repository.root())?;
    let runtime = Runtime::builder()
        .max_concurrent_runs(u32::try_from(args.concurrency.max(1)).unwrap_or(u32::MAX))
        .build()
        .context("cannot start the WebAssembly runtime")?;
    let backend: Arc<dyn crate::backend::Backend> = match args.address {
        Some(address) => {
            let http = Http::new(HttpConfig::new(address, args.token))?;
            Arc::new(GraphqlBackend::new(http))
        }
        None => {
            let store = infragen_store::Store::open(store_path)
                .with_context(|| format!("cannot open the store {}", store_path.display()))?;
            Arc::new(GraphqlBackend::new(InProcess::new(store)))
        }
    };
    let runner = Runner::new(Arc::new(repository), runtime, backend, policy);
    let report = runner
        .run_definition(name, &args.branch, &selection, args.concurrency)
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
