//! What a definition run did, per target, for people and for tools.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::host_api::{RunLog, Stamp};
use crate::runtime::Target;

/// The result of one target's run (as reports show it; a worker's answer carries it too,
/// with the output beside it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum TargetOutcome {
    /// The plugin succeeded and the tracking group was reconciled.
    Succeeded {
        /// Nodes written by this run.
        written: usize,
        /// Written nodes that were not in the previous output.
        new: usize,
        /// Written nodes that were in the previous output too.
        kept: usize,
        /// Nodes of the previous output deleted because this run did not write them.
        deleted: usize,
        /// Downstream checksums that changed.
        stamps_changed: usize,
        /// Every untracked stamp made, changed or not (the scheduler re-runs
        /// a failed downstream target even when its checksum did not change).
        stamps: Vec<Stamp>,
        /// Ids written, in first-write order (not in reports: the cascade
        /// attributes store events to generators with it).
        #[serde(skip)]
        output: Vec<String>,
        /// Checksum of this run's output.
        checksum: String,
        /// The plugin's log.
        log: RunLog,
    },
    /// The run failed; nothing was deleted and the tracking group is unchanged.
    Failed {
        /// Generator, target and cause.
        message: String,
        /// Whether the cause is transient (the backend was unreachable), so
        /// that running it again later may succeed.
        retryable: bool,
        /// What the plugin logged before it failed.
        #[serde(default, skip_serializing_if = "RunLog::is_empty")]
        log: RunLog,
    },
}

/// One target's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// The target.
    pub target: Target,
    /// The parameters extracted from it.
    pub params: Map<String, Value>,
    /// What happened.
    pub outcome: TargetOutcome,
    /// Wall time of the whole target run (bookkeeping included).
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

/// The output of a deleted target, removed during a full run.
#[derive(Debug, Clone, Serialize)]
pub struct ReapReport {
    /// The `CoreGeneratorInstance` of the deleted target.
    pub instance: String,
    /// Its tracking group.
    pub group: String,
    /// Nodes of its output deleted.
    pub deleted: usize,
}

/// A definition run over its selected targets.
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionReport {
    /// The generator definition.
    pub definition: String,
    /// The branch it ran on.
    pub branch: String,
    /// One report per target, in group order.
    pub targets: Vec<TargetReport>,
    /// Output of deleted targets removed by this run.
    pub reaped: Vec<ReapReport>,
    /// Wall time of the whole definition run.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

impl DefinitionReport {
    /// Targets whose run failed.
    pub fn failed(&self) -> usize {
        self.targets
            .iter()
            .filter(|report| matches!(report.outcome, TargetOutcome::Failed { .. }))
            .count()
    }
}

impl fmt::Display for TargetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        match &self.outcome {
            TargetOutcome::Succeeded {
                written,
                new,
                kept,
                deleted,
                ..
            } => write!(
                f,
                "ok      {:<24} written {written:>5}  new {new:>5}  kept {kept:>5}  deleted {deleted:>5}  {seconds:>7.2}s",
                self.target.display_label
            ),
            TargetOutcome::Failed { message, .. } => {
                write!(
                    f,
                    "failed  {:<24} {seconds:.2}s  {message}",
                    self.target.display_label
                )
            }
        }
    }
}

impl fmt::Display for DefinitionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for target in &self.targets {
            writeln!(f, "{target}")?;
        }
        for reaped in &self.reaped {
            writeln!(
                f,
                "removed {:<22} target deleted; {} node(s) of its output deleted",
                reaped.instance, reaped.deleted
            )?;
        }
        let failed = self.failed();
        let count = self.targets.len();
        write!(
            f,
            "{}: {count} target{} on branch {}: {} ok, {failed} failed in {:.2}s",
            self.definition,
            if count == 1 { "" } else { "s" },
            self.branch,
            self.targets.len() - failed,
            self.elapsed.as_secs_f64()
        )
    }
}
