//! `infragen plugin …`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::runtime;
use crate::scaffold::{self, PluginSpec};

#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Compiles the component on stdin to stdout with its address space bounded to
    /// MEMORY more bytes: what the commands that run generators start to compile a
    /// plugin under a bound. Not for direct use.
    #[command(hide = true)]
    CompileWorker {
        /// Bytes the worker may add to its address space.
        memory: u64,
    },
    /// Show what a .wasm file is: world, contract version, imports, exports,
    /// size, digest, and whether this host accepts it (and why not).
    Inspect {
        /// The .wasm file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Scaffold a generator in the repository: a plugin crate under
    /// `plugins/NAME/` that builds to a component, its query, the object
    /// file declaring its target group, and the `queries` and
    /// `generator_definitions` entries of `.infrahub.yml` (the rest of the
    /// file and its comments are kept).
    ///
    /// The crate depends on the SDK by path: `--sdk`, else `INFRAGEN_SDK`,
    /// else the `sdk-guest` directory of the infragen source tree this
    /// binary was built from.
    New {
        /// The generator's name (lowercase letters, digits, `-`, `_`); also
        /// the crate's, and with `_` for `-`, the query's.
        name: String,
        /// The schema kind of the targets, e.g. `LocationRack`.
        #[arg(long, value_name = "KIND")]
        target_kind: String,
        /// A query variable and where on the target its value comes from,
        /// e.g. `rack_name=name__value` or `site=site__name__value`
        /// (repeatable).
        #[arg(long = "param", value_name = "NAME=PATH")]
        params: Vec<String>,
        /// The target group, when it is not `NAME-targets`; an object file
        /// declaring it is written unless one already does.
        #[arg(long, value_name = "GROUP")]
        targets: Option<String>,
        /// The SDK crate directory (`sdk-guest` of an infragen checkout).
        #[arg(long, env = "INFRAGEN_SDK", value_name = "PATH")]
        sdk: Option<PathBuf>,
        /// The repository (its `.infrahub.yml` is created when missing).
        #[arg(long, default_value = ".")]
        repository: PathBuf,
    },
}

pub(crate) async fn run(command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        // Handled by `cli::main` before anything starts.
        PluginCommand::CompileWorker { memory } => Ok(ExitCode::from(
            u8::try_from(runtime::compile::serve_compile_worker(memory)).unwrap_or(1),
        )),
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
        PluginCommand::New {
            name,
            target_kind,
            params,
            targets,
            sdk,
            repository,
        } => {
            let mut parameters = Vec::new();
            for param in &params {
                let Some((variable, path)) = param.split_once('=') else {
                    anyhow::bail!("--param `{param}` is not NAME=PATH, e.g. rack_name=name__value");
                };
                parameters.push((variable.to_owned(), path.to_owned()));
            }
            let spec = PluginSpec {
                sdk: scaffold::sdk::find(sdk.as_deref())?,
                name,
                target_kind,
                parameters,
                targets,
            };
            let done = scaffold::new_plugin(&repository, &spec)?;
            for file in &done.created {
                println!("created {file}");
            }
            let verb = if done.config_created {
                "created"
            } else {
                "edited "
            };
            println!("{verb} {}", done.config_file);
            for note in &done.notes {
                println!("note: {note}");
            }
            println!("next:");
            println!("  {}", done.build_command);
            println!("  infragen validate");
            println!("  infragen sync");
            println!("  infragen generator {}", spec.name);
            Ok(ExitCode::SUCCESS)
        }
    }
}
