//! `infragen runs`: the run history of the embedded store — every generator run, when,
//! why and how it ended, with its log.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use infragen_store::{RunFilter, RunRecord, RunStatus, Store};
use serde_json::Value;

use crate::cascade::durable::{describe_causes, run_json};

/// `infragen runs [FILTERS] [--json]`, or `infragen runs show ID`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    #[command(subcommand)]
    command: Option<RunsCommand>,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// One run, with its causes, result and captured log.
    Show {
        /// The run's number (the first column of `infragen runs`).
        id: i64,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only this generator's runs.
    #[arg(long)]
    generator: Option<String>,
    /// Only runs on this target (its id or display label).
    #[arg(long)]
    target: Option<String>,
    /// Only runs on this branch.
    #[arg(long)]
    branch: Option<String>,
    /// Only runs that failed or were interrupted.
    #[arg(long)]
    failed: bool,
    /// At most this many runs, newest first.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print them as JSON (an array, newest first, without logs).
    #[arg(long)]
    json: bool,
}

pub async fn run(args: RunsArgs, store_path: &Path) -> anyhow::Result<ExitCode> {
    if !store_path.exists() {
        anyhow::bail!(
            "no store at {}: nothing has run there yet (give another with --store)",
            store_path.display()
        );
    }
    let store = Store::open(store_path)
        .with_context(|| format!("cannot open the store {}", store_path.display()))?;
    let mut stdout = std::io::stdout().lock();
    match args.command {
        Some(RunsCommand::Show { id, json }) => {
            let Some(record) = store.run_record(id)? else {
                anyhow::bail!(
                    "no run #{id} in {}: see `infragen runs` for the runs kept",
                    store_path.display()
                );
            };
            if json {
                serde_json::to_writer_pretty(&mut stdout, &run_json(&record, true))?;
                writeln!(stdout)?;
            } else {
                write_run(&mut stdout, &record)?;
            }
        }
        None => {
            let list = args.list;
            let runs = store.runs(&RunFilter {
                generator: list.generator,
                target: list.target,
                branch: list.branch,
                failed: list.failed,
                limit: Some(list.limit),
            })?;
            if list.json {
                let views: Vec<Value> = runs.iter().map(|run| run_json(run, false)).collect();
                serde_json::to_writer_pretty(&mut stdout, &views)?;
                writeln!(stdout)?;
            } else {
                write_table(&mut stdout, &runs)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, runs: &[RunRecord]) -> std::io::Result<()> {
    if runs.is_empty() {
        return writeln!(out, "no runs");
    }
    let generator = column(runs, "GENERATOR", |run| &run.generator);
    let target = column(runs, "TARGET", |run| &run.target_label);
    let branch = column(runs, "BRANCH", |run| &run.branch);
    writeln!(
        out,
        "{:>6}  {:<11}  {:<generator$}  {:<target$}  {:<branch$}  {:<20}  {:>8}  {:>7} {:>7} {:>7}  CAUSES",
        "ID",
        "STATUS",
        "GENERATOR",
        "TARGET",
        "BRANCH",
        "STARTED",
        "TIME",
        "CREATED",
        "UPDATED",
        "DELETED"
    )?;
    for run in runs {
        let started = run
            .started_at
            .map(|ms| infragen_store::clock::rfc3339(ms.div_euclid(1000)))
            .unwrap_or_else(|| "-".to_owned());
        let time = run
            .duration()
            .map(|d| format!("{:.2}s", d.as_secs_f64()))
            .unwrap_or_else(|| "-".to_owned());
        let count = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        writeln!(
            out,
            "{:>6}  {:<11}  {:<generator$}  {:<target$}  {:<branch$}  {started:<20}  {time:>8}  {:>7} {:>7} {:>7}  {}",
            run.id,
            run.status.as_str(),
            run.generator,
            run.target_label,
            run.branch,
            count(run.created),
            count(run.updated),
            count(run.deleted),
            describe_causes(run),
        )?;
    }
    Ok(())
}

fn column(runs: &[RunRecord], title: &str, field: impl Fn(&RunRecord) -> &String) -> usize {
    runs.iter()
        .map(|run| field(run).len())
        .max()
        .unwrap_or(0)
        .max(title.len())
}

fn write_run(out: &mut impl Write, run: &RunRecord) -> std::io::Result<()> {
    let time = |ms: Option<i64>| {
        ms.map(|ms| infragen_store::clock::rfc3339(ms.div_euclid(1000)))
            .unwrap_or_else(|| "-".to_owned())
    };
    writeln!(
        out,
        "run #{}: {} on {} ({}), branch {}",
        run.id, run.generator, run.target_label, run.target, run.branch
    )?;
    writeln!(out, "status:   {} (attempt {})", run.status, run.attempt)?;
    writeln!(out, "causes:   {}", describe_causes(run))?;
    writeln!(out, "process:  {}", run.owner)?;
    writeln!(out, "queued:   {}", time(Some(run.queued_at)))?;
    writeln!(out, "started:  {}", time(run.started_at))?;
    match run.duration() {
        Some(duration) => writeln!(
            out,
            "finished: {} ({:.2}s)",
            time(run.finished_at),
            duration.as_secs_f64()
        )?,
        None => writeln!(out, "finished: -")?,
    }
    if run.status == RunStatus::Succeeded {
        let count = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
        writeln!(
            out,
            "output:   {} created, {} updated, {} written unchanged or updated in all, {} deleted",
            count(run.created),
            count(run.updated),
            count(
                run.kept
                    .zip(run.created)
                    .map(|(kept, created)| kept + created)
            ),
            count(run.deleted)
        )?;
    }
    if let Some(error) = &run.error {
        writeln!(out, "error:    {error}")?;
    }
    let log: Value = serde_json::from_str(&run.log).unwrap_or(Value::Null);
    let lines = log.get("lines").and_then(Value::as_array);
    match lines {
        Some(lines) if !lines.is_empty() => {
            writeln!(out, "log:")?;
            for line in lines {
                writeln!(
                    out,
                    "  {:<5}  {}",
                    line.get("level").and_then(Value::as_str).unwrap_or("?"),
                    line.get("message").and_then(Value::as_str).unwrap_or("")
                )?;
            }
            if log.get("truncated").and_then(Value::as_bool) == Some(true) {
                writeln!(out, "  (truncated at the run's log cap)")?;
            }
        }
        _ => writeln!(out, "log:      (nothing logged)")?,
    }
    Ok(())
}
