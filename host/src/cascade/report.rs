//! What a cascade did: every run with its round and cause, a summary per
//! generator, the rules that could not be honoured, and why it stopped.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::events::NodeEvent;
use super::queue::{Cause, LoopError, RunKey};
use super::{Finished, ProgressCounts};
use crate::runner::report::ReapReport;
use crate::runner::{TargetOutcome, TargetReport};
use crate::runtime::Target;
use infragen_store::RunStatus;

/// One run of a cascade.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// The round it ran in (1 for the requested runs).
    pub round: usize,
    /// The generator definition.
    pub definition: String,
    /// Why it ran (every cause that queued it).
    pub causes: Vec<Cause>,
    /// 1 for a first run, more for retries of transient failures.
    pub attempt: u32,
    /// What happened.
    #[serde(flatten)]
    pub report: TargetReport,
}

/// A run of the cascade that another run did: one a live process had in flight (this
/// cascade joined it and waited for its end), or one that had already read the store
/// after this run's cause.
#[derive(Debug, Clone, Serialize)]
pub struct JoinedRun {
    /// The round it was queued in.
    pub round: usize,
    /// The generator definition.
    pub definition: String,
    /// The target.
    pub target: Target,
    /// The run that did it, in the run history (`infragen runs show`).
    pub record: i64,
    /// The process that had it in flight; `None` when it had ended already.
    pub process: Option<String>,
    /// How it ended.
    pub status: RunStatus,
}

/// One generator's share of a cascade.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GeneratorSummary {
    /// The generator definition.
    pub generator: String,
    /// Runs made.
    pub runs: usize,
    /// Runs that succeeded.
    pub ok: usize,
    /// Runs that failed.
    pub failed: usize,
    /// Nodes of its output created (from the store's events).
    pub created: usize,
    /// Nodes of its output whose data changed.
    pub updated: usize,
    /// Nodes of its previous output deleted.
    pub deleted: usize,
    /// Time spent in its runs, added up.
    #[serde(serialize_with = "seconds")]
    pub time: Duration,
}

/// A rule that fired but could not run its generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleProblem {
    /// The rule.
    pub rule: String,
    /// What went wrong.
    pub message: String,
}

/// A whole cascade.
#[derive(Debug, Clone, Serialize)]
pub struct CascadeReport {
    /// The branch it ran on.
    pub branch: String,
    /// Rounds run.
    pub rounds: usize,
    /// Every run, round by round.
    pub runs: Vec<RunRecord>,
    /// Runs done by another run (in another process, or before their cause was seen).
    pub joined: Vec<JoinedRun>,
    /// Per generator, in the order they first ran.
    pub generators: Vec<GeneratorSummary>,
    /// Rules that fired but could not run.
    pub rule_errors: Vec<RuleProblem>,
    /// Output of deleted targets removed by the requested run.
    pub reaped: Vec<ReapReport>,
    /// Why the cascade was stopped before it ended, if it was.
    pub stopped: Option<LoopError>,
    /// When it was interrupted (SIGINT, SIGTERM): the runs it did not start.
    pub interrupted: Option<Vec<RunKey>>,
    /// Wall time.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// The last event read (where a follower of the event log resumes).
    #[serde(skip)]
    pub cursor: i64,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

impl CascadeReport {
    /// Runs that failed (retried and recovered ones included).
    pub fn failed_runs(&self) -> usize {
        self.runs.iter().filter(|run| run.failed()).count()
    }

    /// (generator, target) pairs whose last run in this cascade failed.
    pub fn unresolved(&self) -> Vec<&RunRecord> {
        let mut last: BTreeMap<(&str, &str), &RunRecord> = BTreeMap::new();
        for run in &self.runs {
            last.insert((&run.definition, &run.report.target.id), run);
        }
        let mut failed: Vec<&RunRecord> = last.into_values().filter(|run| run.failed()).collect();
        failed.sort_by_key(|run| (run.round, run.definition.clone()));
        failed
    }

    /// Whether everything ended well: every target's last run succeeded, no
    /// rule failed, and the cascade was not stopped.
    pub fn is_success(&self) -> bool {
        self.unresolved().is_empty()
            && self
                .joined
                .iter()
                .all(|run| run.status == RunStatus::Succeeded)
            && self.rule_errors.is_empty()
            && self.stopped.is_none()
            && self.interrupted.is_none()
    }
}

impl RunRecord {
    /// Whether this run failed.
    pub fn failed(&self) -> bool {
        matches!(self.report.outcome, TargetOutcome::Failed { .. })
    }
}

/// Collects a report while the cascade runs.
pub(super) struct Builder {
    branch: String,
    runs: Vec<RunRecord>,
    joined: Vec<JoinedRun>,
    rule_errors: Vec<RuleProblem>,
    reaped: Vec<ReapReport>,
    stopped: Option<LoopError>,
    interrupted: Option<Vec<RunKey>>,
    /// Created/updated counts per generator, from the events.
    changes: BTreeMap<String, (usize, usize)>,
    counts: ProgressCounts,
}

impl Builder {
    pub(super) fn new(branch: &str) -> Self {
        Self {
            branch: branch.to_owned(),
            runs: Vec::new(),
            joined: Vec::new(),
            rule_errors: Vec::new(),
            reaped: Vec::new(),
            stopped: None,
            interrupted: None,
            changes: BTreeMap::new(),
            counts: ProgressCounts::default(),
        }
    }

    pub(super) fn counts(&self) -> ProgressCounts {
        self.counts
    }

    pub(super) fn set_counts(&mut self, counts: ProgressCounts) {
        self.counts = counts;
    }

    pub(super) fn reaped(&mut self, reaped: Vec<ReapReport>) {
        self.reaped = reaped;
    }

    pub(super) fn stopped(&mut self, stopped: LoopError) {
        self.stopped = Some(stopped);
    }

    /// A run another run did.
    pub(super) fn joined(&mut self, run: JoinedRun) {
        self.joined.push(run);
    }

    /// The cascade was interrupted; `left` are the runs it did not start.
    pub(super) fn interrupted(&mut self, left: Vec<RunKey>) {
        self.interrupted.get_or_insert_with(Vec::new).extend(left);
    }

    /// Records a rule problem once.
    pub(super) fn rule_problem(&mut self, rule: &str, message: String) {
        let problem = RuleProblem {
            rule: rule.to_owned(),
            message,
        };
        if !self.rule_errors.contains(&problem) {
            tracing::error!(rule, "{}", problem.message);
            self.rule_errors.push(problem);
        }
    }

    /// Counts the created and updated events of each run's output, per generator; returns
    /// (created, updated) per finished run, in order.
    pub(super) fn attribute(
        &mut self,
        finished: &[Finished],
        events: &[NodeEvent],
    ) -> Vec<(usize, usize)> {
        let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, run) in finished.iter().enumerate() {
            if let TargetOutcome::Succeeded { output, .. } = &run.report.outcome {
                for id in output {
                    owner.insert(id, index);
                }
            }
        }
        // Per node: created if any event created it, else updated if any
        // changed it (a node created and then completed by the same run
        // counts once, as created).
        let mut actions: BTreeMap<&str, &str> = BTreeMap::new();
        for event in events {
            if !owner.contains_key(event.id.as_str()) {
                continue;
            }
            let action = actions.entry(event.id.as_str()).or_insert("updated");
            if event.action == "created" {
                *action = "created";
            } else if event.action == "deleted" {
                *action = "deleted";
            }
        }
        let mut per_run = vec![(0, 0); finished.len()];
        for (id, action) in actions {
            let Some(&index) = owner.get(id) else {
                continue;
            };
            let counts = &mut per_run[index];
            let entry = self
                .changes
                .entry(finished[index].key.definition.clone())
                .or_default();
            match action {
                "created" => {
                    entry.0 += 1;
                    counts.0 += 1;
                }
                "updated" => {
                    entry.1 += 1;
                    counts.1 += 1;
                }
                _ => {}
            }
        }
        per_run
    }

    pub(super) fn run(
        &mut self,
        round: usize,
        key: RunKey,
        causes: Vec<Cause>,
        attempt: u32,
        report: TargetReport,
    ) {
        self.runs.push(RunRecord {
            round,
            definition: key.definition,
            causes,
            attempt,
            report,
        });
    }

    pub(super) fn finish(self, rounds: usize, cursor: i64, elapsed: Duration) -> CascadeReport {
        let mut generators: Vec<GeneratorSummary> = Vec::new();
        for run in &self.runs {
            let index = match generators
                .iter()
                .position(|summary| summary.generator == run.definition)
            {
                Some(index) => index,
                None => {
                    let (created, updated) = self
                        .changes
                        .get(&run.definition)
                        .copied()
                        .unwrap_or_default();
                    generators.push(GeneratorSummary {
                        generator: run.definition.clone(),
                        created,
                        updated,
                        ..GeneratorSummary::default()
                    });
                    generators.len() - 1
                }
            };
            let summary = &mut generators[index];
            summary.runs += 1;
            summary.time += run.report.elapsed;
            match &run.report.outcome {
                TargetOutcome::Succeeded { deleted, .. } => {
                    summary.ok += 1;
                    summary.deleted += deleted;
                }
                TargetOutcome::Failed { .. } => summary.failed += 1,
            }
        }
        CascadeReport {
            branch: self.branch,
            rounds,
            runs: self.runs,
            joined: self.joined,
            generators,
            rule_errors: self.rule_errors,
            reaped: self.reaped,
            stopped: self.stopped,
            interrupted: self.interrupted,
            elapsed,
            cursor,
        }
    }
}

impl fmt::Display for CascadeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .generators
            .iter()
            .map(|summary| summary.generator.len())
            .max()
            .unwrap_or(0)
            .max("generator".len());
        for run in &self.runs {
            let why = run
                .causes
                .iter()
                .map(Cause::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            writeln!(
                f,
                "{:>3}  {:<width$}  {}  [{why}]",
                run.round, run.definition, run.report
            )?;
        }
        for joined in &self.joined {
            let by = match &joined.process {
                Some(process) => format!("joined run #{} of process {process}", joined.record),
                None => format!("already done by run #{}", joined.record),
            };
            writeln!(
                f,
                "{:>3}  {:<width$}  {}  {by}: {}",
                joined.round, joined.definition, joined.target.display_label, joined.status
            )?;
        }
        for reaped in &self.reaped {
            writeln!(
                f,
                "removed {:<22} target deleted; {} node(s) of its output deleted",
                reaped.instance, reaped.deleted
            )?;
        }
        for problem in &self.rule_errors {
            writeln!(f, "rule error: {}: {}", problem.rule, problem.message)?;
        }
        if let Some(stopped) = &self.stopped {
            writeln!(f, "stopped: {stopped}")?;
        }
        if let Some(left) = &self.interrupted {
            let names: Vec<String> = left
                .iter()
                .map(|key| format!("{} on {}", key.definition, key.target))
                .collect();
            writeln!(
                f,
                "interrupted: the running runs finished; {} run{} left queued, not run{}{}",
                left.len(),
                if left.len() == 1 { "" } else { "s" },
                if left.is_empty() { "" } else { ": " },
                names.join(", ")
            )?;
        }
        writeln!(
            f,
            "{:<width$} {:>5} {:>5} {:>7} {:>8} {:>8} {:>8} {:>9}",
            "generator", "runs", "ok", "failed", "created", "updated", "deleted", "time"
        )?;
        for summary in &self.generators {
            writeln!(
                f,
                "{:<width$} {:>5} {:>5} {:>7} {:>8} {:>8} {:>8} {:>8.2}s",
                summary.generator,
                summary.runs,
                summary.ok,
                summary.failed,
                summary.created,
                summary.updated,
                summary.deleted,
                summary.time.as_secs_f64()
            )?;
        }
        let unresolved = self.unresolved().len();
        let resumed = self
            .runs
            .iter()
            .filter(|run| run.causes.contains(&Cause::Resumed))
            .count();
        let resumed = match resumed {
            0 => String::new(),
            n => format!(", {n} resumed"),
        };
        let joined = match self.joined.len() {
            0 => String::new(),
            1 => ", 1 done by another run".to_owned(),
            n => format!(", {n} done by other runs"),
        };
        write!(
            f,
            "cascade on branch {}: {} round{}, {} run{}, {} failed ({} still failing){resumed}{joined} in {:.2}s",
            self.branch,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            self.runs.len(),
            if self.runs.len() == 1 { "" } else { "s" },
            self.failed_runs(),
            unresolved,
            self.elapsed.as_secs_f64()
        )
    }
}
