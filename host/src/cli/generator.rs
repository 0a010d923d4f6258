//! `infragen generator`, after `infrahubctl generator`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde_json::{Map, Value};

use crate::cascade::{Cascade, CascadeConfig, CascadeLimits, Progress, ProgressCounts, Start};
use crate::client::GraphqlBackend;
use crate::embedded::EmbeddedBackend;
use crate::policy::RuntimePolicy;
use crate::repository::Repository;
use crate::runner::{Runner, TargetSelection};
use crate::transport::{Http, HttpConfig};

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
    /// Run this generator only, not the runs its changes trigger.
    #[arg(long)]
    no_cascade: bool,
    /// Stop a cascade after this many runs (a loop between rules).
    #[arg(long, default_value_t = CascadeLimits::default().max_runs)]
    max_runs: usize,
    /// Stop a cascade when one target would run more often than this.
    #[arg(long, default_value_t = CascadeLimits::default().max_runs_per_target)]
    max_runs_per_target: usize,
    /// Talk to an Infrahub server at this URL instead of the embedded store
    /// (default: `INFRAHUB_ADDRESS` when set).
    #[arg(long, env = "INFRAHUB_ADDRESS")]
    address: Option<String>,
    /// API token sent as `X-INFRAHUB-KEY` (default: `INFRAHUB_API_TOKEN`).
    #[arg(long, env = "INFRAHUB_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// Chooses between the embedded store and a server and says which on stderr, first: an
/// `INFRAHUB_ADDRESS` inherited from the environment must never silently send a run
/// meant for the local store to a server. An explicit `--store` wins over the
/// environment; given both explicitly, the command refuses.
/// Returns the server's address, `None` for the embedded store.
fn announce_backend(
    args: &GeneratorArgs,
    store_path: &Path,
    origins: super::Origins,
) -> anyhow::Result<Option<String>> {
    let mut address = args.address.clone();
    let line = match &args.address {
        Some(from_env) if origins.store_given && origins.address_from_env => {
            address = None;
            format!(
                "infragen: using the embedded store {} (--store given; INFRAHUB_ADDRESS={from_env} ignored)",
                store_path.display()
            )
        }
        Some(address) if origins.store_given => anyhow::bail!(
            "both --store {} and --address {address} were given: a run uses one backend, choose one",
            store_path.display()
        ),
        Some(address) if origins.address_from_env => {
            format!("infragen: using the Infrahub server at {address} (from INFRAHUB_ADDRESS)")
        }
        Some(address) => format!("infragen: using the Infrahub server at {address}"),
        None => format!(
            "infragen: using the embedded store {}",
            store_path.display()
        ),
    };
    eprintln!("{line}");
    Ok(address)
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

pub(crate) async fn run(
    args: GeneratorArgs,
    store_path: &Path,
    origins: super::Origins,
    compile: crate::runtime::CompileLimits,
) -> anyhow::Result<ExitCode> {
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
    let retention = policy.retention();
    let address = announce_backend(&args, store_path, origins)?;
    let runtime = super::runtime(args.concurrency, compile)?;
    let (backend, store): (Arc<dyn crate::backend::Backend>, _) = match &address {
        Some(address) => {
            let http = Http::new(HttpConfig::new(address.clone(), args.token.clone()))?;
            (Arc::new(GraphqlBackend::new(http)), None)
        }
        None => {
            let store = infragen_store::Store::open(store_path)
                .with_context(|| format!("cannot open the store {}", store_path.display()))?;
            (Arc::new(EmbeddedBackend::new(store.clone())), Some(store))
        }
    };
    let runner = Runner::new(Arc::new(repository), runtime, backend, policy);
    let store = match store {
        Some(store) if !args.no_cascade => store,
        _ => {
            if !args.no_cascade {
                eprintln!(
                    "note: running {name} only; against a server, the runs its changes trigger \
                     are the server's to make (`infragen serve` makes them)"
                );
            }
            return run_one_tier(&runner, name, &args, &selection).await;
        }
    };

    let config = CascadeConfig {
        concurrency: args.concurrency.max(1),
        limits: CascadeLimits {
            max_runs: args.max_runs,
            max_runs_per_target: args.max_runs_per_target,
        },
        retention,
        ..CascadeConfig::default()
    };
    let progress = Arc::new(ProgressBar::new());
    let cascade = Cascade::new(runner, Arc::new(store), config)
        .with_progress(Arc::clone(&progress) as Arc<dyn Progress>);
    let signals = tokio::spawn(super::stop_on_signals(cascade.interrupt()));
    let report = cascade
        .run(
            &args.branch,
            Start::Definition {
                name: name.to_owned(),
                selection,
            },
        )
        .await;
    progress.finish();
    signals.abort();
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--no-cascade` (or a server): one definition, reported per target.
async fn run_one_tier(
    runner: &Runner,
    name: &str,
    args: &GeneratorArgs,
    selection: &TargetSelection,
) -> anyhow::Result<ExitCode> {
    let report = runner
        .run_definition(name, &args.branch, selection, args.concurrency)
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

/// The live display: one line on stderr, drawn only on a terminal.
struct ProgressBar {
    bar: indicatif::ProgressBar,
}

impl ProgressBar {
    fn new() -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            None,
            indicatif::ProgressDrawTarget::stderr_with_hz(10),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Self { bar }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for ProgressBar {
    fn update(&self, counts: ProgressCounts) {
        self.bar.set_message(format!(
            "runs: {} queued, {} running, {} done, {} failed",
            counts.queued, counts.running, counts.done, counts.failed
        ));
    }

    /// On stderr, above the live line, whether or not stderr is a terminal.
    fn notice(&self, message: &str) {
        self.bar.suspend(|| eprintln!("infragen: {message}"));
    }
}
