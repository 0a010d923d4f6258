//! The durable run queue a cascade records its runs in, and the seam for other
//! implementations of it.
//!
//! The cascade's own [`super::Queue`] decides what runs next inside one process; the
//! durable queue is where processes meet. Before running a round the cascade enqueues it:
//! each run is either this process's to run, one a live process already has in flight (the
//! cascade joins it: waits for its end and takes its result), or one already done since
//! its cause arose. Records outlive their process: a run left queued or running by a dead
//! process is resumed by the next cascade on its branch, and every ended run stays in the
//! history (`infragen runs`, `GET /api/runs`) until the retention removes it.
//!
//! [`StoreRunQueue`] keeps the queue in the embedded store's SQLite file (the
//! `runs` table, see [`infragen_store::run_queue`]); a work queue shared by worker
//! processes on several machines implements the same trait.

use std::time::Duration;

use async_trait::async_trait;
use infragen_store::{
    ClaimOwner, Enqueued, NewRun, Retention, RunFilter, RunRecord, RunResult, RunStatus, Store,
    StoreError,
};

/// Why the durable queue could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The embedded store failed.
    #[error("the run queue in the store: {0}")]
    Store(#[from] StoreError),
}

/// A durable run queue and history (see the module documentation).
#[async_trait]
pub trait RunQueue: Send + Sync {
    /// Decides for each run whether this process runs it, joins a live process's, or has
    /// nothing to do (see [`Store::enqueue_runs`]).
    async fn enqueue(&self, runs: Vec<NewRun>) -> Result<Vec<Enqueued>, QueueError>;

    /// Run `id` starts reading the store, whose newest event is `covers`.
    async fn start(&self, id: i64, covers: i64) -> Result<(), QueueError>;

    /// Run `id` ended.
    async fn finish(&self, id: i64, status: RunStatus, result: RunResult)
    -> Result<(), QueueError>;

    /// Created and changed counts of ended runs, from their round's events.
    async fn set_changes(&self, changes: Vec<(i64, u64, u64)>) -> Result<(), QueueError>;

    /// Run `id` as it stands.
    async fn record(&self, id: i64) -> Result<Option<RunRecord>, QueueError>;

    /// Runs on `branch` left queued or running by processes that are gone.
    async fn orphaned(&self, branch: &str) -> Result<Vec<RunRecord>, QueueError>;

    /// The runs `filter` selects, newest first, without their logs.
    async fn list(&self, filter: RunFilter) -> Result<Vec<RunRecord>, QueueError>;

    /// Removes the ended runs `retention` does not keep.
    async fn prune(&self, retention: Retention) -> Result<usize, QueueError>;

    /// How often a process waiting for a joined run looks at it again.
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(100)
    }
}

/// The durable queue in the embedded store.
#[derive(Clone)]
pub struct StoreRunQueue {
    store: Store,
}

impl StoreRunQueue {
    /// The queue of `store`.
    pub fn new(store: Store) -> StoreRunQueue {
        StoreRunQueue { store }
    }
}

/// This process, as the queue's records name it.
pub fn this_process() -> &'static ClaimOwner {
    static OWNER: std::sync::OnceLock<ClaimOwner> = std::sync::OnceLock::new();
    OWNER.get_or_init(ClaimOwner::current)
}

#[async_trait]
impl RunQueue for StoreRunQueue {
    async fn enqueue(&self, runs: Vec<NewRun>) -> Result<Vec<Enqueued>, QueueError> {
        let _phase = tracing::trace_span!("run_queue").entered();
        Ok(self.store.enqueue_runs(&runs, this_process())?)
    }

    async fn start(&self, id: i64, covers: i64) -> Result<(), QueueError> {
        let _phase = tracing::trace_span!("run_queue").entered();
        Ok(self.store.start_run(id, covers)?)
    }

    async fn finish(
        &self,
        id: i64,
        status: RunStatus,
        result: RunResult,
    ) -> Result<(), QueueError> {
        let _phase = tracing::trace_span!("run_queue").entered();
        Ok(self.store.finish_run(id, status, &result)?)
    }

    async fn set_changes(&self, changes: Vec<(i64, u64, u64)>) -> Result<(), QueueError> {
        let _phase = tracing::trace_span!("run_queue").entered();
        Ok(self.store.set_run_changes(&changes)?)
    }

    async fn record(&self, id: i64) -> Result<Option<RunRecord>, QueueError> {
        Ok(self.store.run_record(id)?)
    }

    async fn orphaned(&self, branch: &str) -> Result<Vec<RunRecord>, QueueError> {
        Ok(self.store.orphaned_runs(branch)?)
    }

    async fn list(&self, filter: RunFilter) -> Result<Vec<RunRecord>, QueueError> {
        Ok(self.store.runs(&filter)?)
    }

    async fn prune(&self, retention: Retention) -> Result<usize, QueueError> {
        Ok(self.store.prune_runs(&retention)?)
    }
}

/// A recorded run for people and tools (`infragen runs --json`, `GET /api/runs`): its
/// causes and log as JSON rather than text, times in RFC 3339, and its duration; the log
/// only when `with_log`.
pub fn run_json(record: &RunRecord, with_log: bool) -> serde_json::Value {
    use serde_json::{Value, json};
    let time = |ms: Option<i64>| -> Value {
        ms.map_or(Value::Null, |ms| {
            Value::String(infragen_store::clock::rfc3339(ms.div_euclid(1000)))
        })
    };
    let causes: Value = serde_json::from_str(&record.causes).unwrap_or(Value::Null);
    let mut view = json!({
        "id": record.id,
        "branch": record.branch,
        "generator": record.generator,
        "target": { "id": record.target, "display_label": record.target_label },
        "status": record.status,
        "causes": causes,
        "attempt": record.attempt,
        "process": record.owner,
        "covers_event": record.covers,
        "queued_at": time(Some(record.queued_at)),
        "started_at": time(record.started_at),
        "finished_at": time(record.finished_at),
        "duration": record.duration().map(|d| d.as_secs_f64()),
        "created": record.created,
        "updated": record.updated,
        "kept": record.kept,
        "deleted": record.deleted,
        "error": record.error,
    });
    if with_log {
        view["log"] = serde_json::from_str(&record.log).unwrap_or(Value::Null);
    }
    view
}

/// A recorded run's causes, as the cascade report words them.
pub fn describe_causes(record: &RunRecord) -> String {
    match serde_json::from_str::<Vec<super::Cause>>(&record.causes) {
        Ok(causes) => causes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        Err(_) => record.causes.clone(),
    }
}
