//! What goes over the work queue: a run given to a worker ([`WorkItem`]) and what the worker
//! answers ([`WorkResult`]), as JSON. Both carry [`PROTOCOL`]; a worker refuses an item of
//! another protocol with a result that says so, rather than guessing at its fields.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::host_api::RunLog;
use crate::policy::{SandboxLimits, WriteGrants};
use crate::runner::{RunSpec, TargetOutcome, TargetReport};
use crate::runtime::Target;

/// The version of these messages.
pub const PROTOCOL: u32 = 1;

/// Which run of the durable queue a work item is: the record and its attempt, or neither
/// where nothing records runs (a worker's answer is then matched by a fresh key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// The run's record in the durable queue.
    pub record: Option<i64>,
    /// 1, or more for a retry.
    pub attempt: u32,
}

impl RunIdentity {
    /// A run no queue records.
    pub fn unrecorded() -> RunIdentity {
        RunIdentity {
            record: None,
            attempt: 1,
        }
    }

    /// Attempt `attempt` of the run recorded as `record`, when it is recorded.
    pub fn recorded(record: Option<i64>, attempt: u32) -> RunIdentity {
        RunIdentity { record, attempt }
    }
}

/// A component shared with the workers: fetched by its digest, which the worker checks
/// against the bytes before compiling them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRef {
    /// Lowercase hex sha256 of the component's bytes; its name in the object store.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// The contract version it was built against, as its imports name it.
    pub contract_version: Option<String>,
}

/// One run given to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkItem {
    /// [`PROTOCOL`] of the server that queued it.
    pub protocol: u32,
    /// The run in the server's durable queue.
    pub run: RunIdentity,
    /// Unique per (server store, run, attempt): the message's deduplication id, and the
    /// last token of the subject its result goes to.
    pub key: String,
    /// The subject the worker publishes its [`WorkResult`] to.
    pub reply: String,
    /// What to run.
    pub spec: RunSpec,
    /// The run's sandbox limits, from the server's policy.
    pub limits: SandboxLimits,
    /// What the generator may write beyond what it owns, from the server's policy.
    pub grants: WriteGrants,
    /// The component.
    pub component: ComponentRef,
}

impl WorkItem {
    /// An item not yet addressed (the dispatcher sets [`WorkItem::key`] and
    /// [`WorkItem::reply`] when it queues it).
    pub fn new(
        run: RunIdentity,
        spec: RunSpec,
        limits: SandboxLimits,
        grants: WriteGrants,
        component: ComponentRef,
    ) -> WorkItem {
        WorkItem {
            protocol: PROTOCOL,
            run,
            key: String::new(),
            reply: String::new(),
            spec,
            limits,
            grants,
            component,
        }
    }

    /// The report of this run failing before it started, for `message`.
    pub fn failed(&self, message: String, retryable: bool) -> TargetReport {
        TargetReport {
            target: self.spec.target.clone(),
            params: self.spec.params.clone(),
            outcome: TargetOutcome::Failed {
                message,
                retryable,
                log: RunLog::default(),
            },
            elapsed: Duration::ZERO,
        }
    }
}

/// A worker's answer for one [`WorkItem`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkResult {
    /// [`PROTOCOL`] of the worker.
    pub protocol: u32,
    /// The item's [`WorkItem::key`].
    pub key: String,
    /// The worker that ran it (`host:pid` unless named).
    pub worker: String,
    /// How the run ended, as reports show it.
    pub outcome: TargetOutcome,
    /// The ids a successful run wrote, in first-write order (reports leave them out; the
    /// server attributes the store's events to runs with them).
    #[serde(default)]
    pub output: Vec<String>,
    /// Wall time of the run on the worker, in milliseconds.
    pub elapsed_ms: u64,
}

impl WorkResult {
    /// The answer for item `key`, from the report of its run on `worker`.
    pub fn from_report(key: &str, worker: &str, report: TargetReport) -> WorkResult {
        let output = match &report.outcome {
            TargetOutcome::Succeeded { output, .. } => output.clone(),
            TargetOutcome::Failed { .. } => Vec::new(),
        };
        WorkResult {
            protocol: PROTOCOL,
            key: key.to_owned(),
            worker: worker.to_owned(),
            outcome: report.outcome,
            output,
            elapsed_ms: u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The report of the run of `target` with `params` this answer ends.
    pub fn into_report(self, target: Target, params: Map<String, Value>) -> TargetReport {
        let mut outcome = self.outcome;
        if let TargetOutcome::Succeeded { output, .. } = &mut outcome {
            *output = self.output;
        }
        TargetReport {
            target,
            params,
            outcome,
            elapsed: Duration::from_millis(self.elapsed_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_api::Stamp;

    fn spec() -> RunSpec {
        RunSpec {
            generator: "generate-rack".into(),
            query: "rack_query".into(),
            execute_after_merge: false,
            definition_id: "d1".into(),
            query_text: "query { x }".into(),
            branch: "br1".into(),
            target: Target {
                id: "t1".into(),
                kind: "LocationRack".into(),
                display_label: "rack-1".into(),
            },
            params: serde_json::json!({"name": "rack-1"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            group_name: "generate-rack-rack-1".into(),
        }
    }

    #[test]
    fn a_work_item_reads_back_as_it_was_written() {
        let item = WorkItem::new(
            RunIdentity::recorded(Some(7), 2),
            spec(),
            SandboxLimits::default(),
            WriteGrants::default(),
            ComponentRef {
                digest: "ab".repeat(32),
                size: 1234,
                contract_version: Some("0.1.0".into()),
            },
        );
        let text = serde_json::to_string(&item).expect("serialises");
        let back: WorkItem = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, item);
    }

    #[test]
    fn a_result_carries_every_field_of_the_outcome_the_report_reads() {
        let report = TargetReport {
            target: spec().target,
            params: spec().params,
            outcome: TargetOutcome::Succeeded {
                written: 3,
                new: 1,
                kept: 2,
                deleted: 4,
                stamps_changed: 1,
                stamps: vec![Stamp {
                    kind: "LocationRack".into(),
                    id: "r".into(),
                    attribute: "checksum".into(),
                    changed: true,
                }],
                output: vec!["a".into(), "b".into(), "c".into()],
                checksum: "c1".into(),
                log: RunLog::default(),
            },
            elapsed: Duration::from_millis(42),
        };
        let text =
            serde_json::to_string(&WorkResult::from_report("k", "w", report)).expect("serialises");
        let back: WorkResult = serde_json::from_str(&text).expect("reads back");
        let report = back.into_report(spec().target, spec().params);
        assert_eq!(report.elapsed, Duration::from_millis(42));
        let TargetOutcome::Succeeded {
            written,
            new,
            kept,
            deleted,
            stamps_changed,
            stamps,
            output,
            checksum,
            ..
        } = report.outcome
        else {
            panic!("not a success: {:?}", report.outcome);
        };
        assert_eq!(
            (written, new, kept, deleted, stamps_changed),
            (3, 1, 2, 4, 1)
        );
        assert_eq!(output, ["a", "b", "c"]);
        assert_eq!(checksum, "c1");
        assert_eq!(stamps.len(), 1);
        assert!(stamps[0].changed);
    }
}
