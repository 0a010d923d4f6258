//! The cascade: one generator run, and every run its changes trigger, until
//! nothing more is triggered.
//!
//! Generators chain through data (reference §5): a generator stamps a
//! checksum of its output on the objects below it, the store emits an
//! `infrahub.node.updated` event for every stamp that changed a value, and a
//! trigger rule turns a matching event into a run of the next generator on
//! the changed node. The cascade does that on one branch:
//!
//! - **Rounds.** Every queued run of a round runs (at most `concurrency` at a
//!   time, in group order per generator); when the round is over, the events
//!   it caused are matched against the rules and queue the next round. A run
//!   therefore never sees the half-written output of a run that triggered it,
//!   and, with concurrency 1, runs in the order running each tier by hand
//!   would. A run already queued is not queued twice, and a (generator,
//!   target) never runs twice at the same time.
//! - **No latch.** A stamp that changes nothing fires nothing; but when the
//!   target under it failed its last run, it is queued anyway, so a tier that
//!   failed (a gate, a bug since fixed) recovers when its upstream runs again.
//! - **Retries.** A run that failed because the backend was unreachable is
//!   queued again for the next round, after a backoff, up to a few attempts.
//!   Gate and plugin failures are not retried: running them again would fail
//!   the same way.
//! - **Caps.** A cascade that keeps triggering itself (rules that feed each
//!   other a changing value) is stopped with an error naming its rules.
//! - **Membership.** A rule that fires on a node outside its generator's
//!   target group is an error for that rule, and nothing runs (Infrahub's
//!   `Target … is not part of the group …`).

pub mod durable;
pub mod events;
pub mod follow;
pub mod queue;
pub mod report;
pub mod rules;

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::backend::Backend;
use crate::host_api::RunLog;
use crate::runner::{
    KnownParams, PreparedDefinition, Runner, RunnerError, TargetOutcome, TargetReport,
    TargetSelection,
};
use durable::RunQueue;
pub use events::{EventFeed, FeedError, NodeEvent};
use infragen_store::{Claim, Enqueued, NewRun, Retention, RunResult, RunStatus};
pub use queue::{CascadeLimits, Cause, LoopError, Queue, QueuedRun, RunKey};
pub use report::{CascadeReport, GeneratorSummary, JoinedRun, RuleProblem, RunRecord};
pub use rules::{RuleError, TriggerRule, load_rules};

/// The default branch, where rules are read and `default_branch` rules fire.
pub const DEFAULT_BRANCH: &str = "main";

/// How often one cascade engine prunes the run history.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// How transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Runs in all, the first included.
    pub attempts: u32,
    /// Wait before the first retry; doubled for every further one.
    pub first_delay: Duration,
    /// Longest wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before `attempt` (2 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(16);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// How a cascade runs.
#[derive(Debug, Clone)]
pub struct CascadeConfig {
    /// Runs at the same time, across generators.
    pub concurrency: usize,
    /// When a cascade is taken for a loop.
    pub limits: CascadeLimits,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// The default branch.
    pub default_branch: String,
    /// How much run history the durable queue keeps.
    pub retention: Retention,
}

impl Default for CascadeConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            limits: CascadeLimits::default(),
            retry: RetryPolicy::default(),
            default_branch: DEFAULT_BRANCH.to_owned(),
            retention: Retention::default(),
        }
    }
}

/// A request to stop a cascade: it starts no new run, lets the running ones finish, and
/// reports what it left queued. Cheap to clone; every clone is the same switch.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<std::sync::atomic::AtomicBool>);

impl Interrupt {
    /// Asks the cascade to stop.
    pub fn raise(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether it was asked to.
    pub fn raised(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A cascade's claim on its branch and the name of its place in the event log (see
/// [`Cascade::begin_in_flight`]).
struct InFlight {
    claim: String,
    place: String,
}

/// What a cascade starts from.
#[derive(Debug, Clone)]
pub enum Start {
    /// A generator on the targets a selection names (`generate-fabric
    /// fabric_name=Fabric-A`); a full selection also removes the output of
    /// deleted targets, as a one-tier run does.
    Definition {
        /// The generator definition.
        name: String,
        /// Its targets.
        selection: TargetSelection,
    },
    /// Changes already made (through the API), matched against the rules.
    Events(Vec<NodeEvent>),
    /// Only the runs a process that is gone left unfinished (what `serve` does when it
    /// starts).
    Resume,
}

/// Why a cascade could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CascadeError {
    /// The starting generator could not be prepared.
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// The rules could not be read.
    #[error(transparent)]
    Rules(#[from] RuleError),
    /// The events could not be read.
    #[error(transparent)]
    Events(#[from] FeedError),
}

/// Counts for a live display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressCounts {
    /// Runs waiting (this round and the next).
    pub queued: usize,
    /// Runs running.
    pub running: usize,
    /// Runs finished, failed ones included.
    pub done: usize,
    /// Runs failed.
    pub failed: usize,
}

/// Where a cascade reports its progress (the CLI draws a bar).
pub trait Progress: Send + Sync {
    /// The counts changed.
    fn update(&self, counts: ProgressCounts);

    /// Something an operator watching should know now, not only in the report (the
    /// cascade waits for a run another process has in flight).
    fn notice(&self, message: &str) {
        let _ = message;
    }
}

/// A display that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _counts: ProgressCounts) {}
}

/// Runs cascades of one repository against one backend and its events.
#[derive(Clone)]
pub struct Cascade {
    runner: Runner,
    events: Arc<dyn EventFeed>,
    /// Where runs are recorded and processes meet, when the backend keeps one.
    durable: Option<Arc<dyn RunQueue>>,
    /// When this engine last pruned the run history.
    pruned: Arc<std::sync::Mutex<Option<Instant>>>,
    interrupt: Interrupt,
    config: CascadeConfig,
    progress: Arc<dyn Progress>,
    /// Targets' parameters, read once and kept while the events say they hold, so
    /// that a round costs what it runs rather than the size of its target groups.
    known: Arc<KnownParams>,
}

/// One finished run of a round.
struct Finished {
    /// (generator's place in the round, target's place in its group).
    rank: (usize, usize),
    key: RunKey,
    causes: Vec<Cause>,
    attempt: u32,
    report: TargetReport,
    /// Its record in the durable queue.
    record: Option<i64>,
}

/// A run of a round that another process had in flight, once it ended.
enum Joined {
    /// It did this run's work.
    Covered(JoinedRun),
    /// It did not (its process died, or it had read the store before this run's cause):
    /// queued again.
    Again(QueuedRun),
    /// The cascade was interrupted while waiting.
    Left(RunKey),
}

/// Progress shared by a round's tasks.
struct Tracker {
    counts: std::sync::Mutex<ProgressCounts>,
    progress: Arc<dyn Progress>,
}

impl Tracker {
    fn change(&self, change: impl FnOnce(&mut ProgressCounts)) {
        let counts = {
            let mut counts = self
                .counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            change(&mut counts);
            *counts
        };
        self.progress.update(counts);
    }
}

impl Cascade {
    /// A cascade engine over `runner`, reading the store's changes from
    /// `events`.
    pub fn new(runner: Runner, events: Arc<dyn EventFeed>, config: CascadeConfig) -> Self {
        Self {
            durable: runner.backend().run_queue(),
            pruned: Arc::default(),
            runner,
            events,
            interrupt: Interrupt::default(),
            config,
            progress: Arc::new(NoProgress),
            known: Arc::default(),
        }
    }

    /// The switch that stops this cascade (see [`Interrupt`]).
    pub fn interrupt(&self) -> Interrupt {
        self.interrupt.clone()
    }

    /// Records runs in `queue` instead of the backend's own (see [`Backend::run_queue`]);
    /// `None` records nothing, and leaves only each run's claim to keep two processes
    /// from running one target at once.
    pub fn with_run_queue(mut self, queue: Option<Arc<dyn RunQueue>>) -> Self {
        self.durable = queue;
        self
    }

    /// Reports progress to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// The events this cascade reads.
    pub fn events(&self) -> &Arc<dyn EventFeed> {
        &self.events
    }

    fn backend(&self) -> &dyn Backend {
        self.runner.backend().as_ref()
    }

    /// [`Runner::prepare`], with the parameters of targets known from earlier rounds
    /// and cascades while the event log says they hold.
    async fn prepare(
        &self,
        definition: &str,
        branch: &str,
    ) -> Result<PreparedDefinition, RunnerError> {
        let known = match self.known.catch_up(self.events.as_ref(), branch) {
            Ok(()) => Some(self.known.as_ref()),
            Err(error) => {
                tracing::warn!(branch, %error, "reading every target's parameters again");
                None
            }
        };
        self.runner
            .prepare_knowing(definition, branch, known)
            .instrument(tracing::trace_span!("prepare"))
            .await
    }

    /// Runs a cascade on `branch` from `start` until nothing more is queued.
    pub async fn run(&self, branch: &str, start: Start) -> Result<CascadeReport, CascadeError> {
        let started = Instant::now();
        let mut report = report::Builder::new(branch);
        let mut queue = Queue::new(self.config.limits);
        let mut prepared: HashMap<String, Arc<PreparedDefinition>> = HashMap::new();
        let mut cursor;
        let mut in_flight = None;
        self.prune_history().await;
        match start {
            Start::Definition { name, selection } => {
                cursor = self.events.last_seq()?;
                self.queue_interrupted(branch, &mut queue).await;
                in_flight = self
                    .begin_in_flight(branch, cursor, &mut queue, &mut report)
                    .await?;
                let definition = Arc::new(self.prepare(&name, branch).await?);
                for member in definition.select(&selection)? {
                    queue.push(
                        RunKey {
                            definition: name.clone(),
                            target: member.target.id,
                        },
                        Cause::Requested,
                    );
                }
                if selection == TargetSelection::All {
                    report.reaped(self.runner.reap_deleted(&definition).await?);
                }
                prepared.insert(name, definition);
            }
            Start::Resume => {
                cursor = self.events.last_seq()?;
                self.queue_interrupted(branch, &mut queue).await;
            }
            Start::Events(events) => {
                cursor = events.iter().map(|event| event.seq).max().unwrap_or(0);
                let rules = load_rules(self.backend(), &self.config.default_branch).await?;
                self.queue_triggered(branch, &rules, &events, &mut queue, &mut report);
            }
        }
        let mut retry_delay = Duration::ZERO;
        let mut round_number = 0;
        // The rules, read once and again only after a round whose events may have changed
        // them (a run, or anyone else, writing a rule, its conditions or action, or a
        // generator's name): reading them every round took about 1% of a cascade's CPU.
        let mut rules: Option<Vec<TriggerRule>> = None;
        loop {
            if self.interrupt.raised() {
                let left = queue.drain();
                self.keep_queued(branch, &left).await;
                report.interrupted(left.into_iter().map(|run| run.key).collect());
                break;
            }
            let round = match queue.take_round() {
                Ok(round) if round.is_empty() => break,
                Ok(round) => round,
                Err(stopped) => {
                    tracing::error!(branch, "{stopped}");
                    report.stopped(stopped);
                    break;
                }
            };
            if !retry_delay.is_zero() {
                tokio::time::sleep(retry_delay).await;
                retry_delay = Duration::ZERO;
            }
            round_number += 1;
            let (finished, again) = self
                .run_round(branch, round_number, round, &mut prepared, &mut report)
                .await;
            prepared.clear();
            for run in again {
                for cause in run.causes {
                    match run.newest_event {
                        Some(event) => queue.push_event(run.key.clone(), cause, event),
                        None => queue.push(run.key.clone(), cause),
                    };
                }
            }

            let acted_on = cursor;
            let events: Vec<NodeEvent> = self.events.since(cursor)?;
            self.known.observe(cursor, &events);
            cursor = events.last().map_or(cursor, |event| event.seq);
            if events.iter().any(rules::may_change_rules) {
                rules = None;
            }
            let events: Vec<NodeEvent> = events
                .into_iter()
                .filter(|event| event.branch == branch)
                .collect();
            let changes = report.attribute(&finished, &events);
            self.record_changes(&finished, &changes).await;
            let rules = match &mut rules {
                Some(rules) => rules,
                None => {
                    rules.insert(load_rules(self.backend(), &self.config.default_branch).await?)
                }
            };
            self.queue_triggered(branch, rules, &events, &mut queue, &mut report);
            self.queue_unlatched(branch, rules, &finished, &mut queue)
                .await;
            for run in &finished {
                if let TargetOutcome::Failed {
                    retryable: true, ..
                } = run.report.outcome
                    && run.attempt < self.config.retry.attempts
                {
                    let attempt = run.attempt + 1;
                    retry_delay = retry_delay.max(self.config.retry.delay(attempt));
                    queue.push(run.key.clone(), Cause::Retry { attempt });
                }
            }
            for run in finished {
                report.run(round_number, run.key, run.causes, run.attempt, run.report);
            }
            // The runs just finished came from the events up to `acted_on`; the ones
            // after it queued the next round.
            if let Some(in_flight) = &in_flight {
                self.record_in_flight(in_flight, acted_on);
            }
        }
        if let Some(in_flight) = in_flight
            && !self.interrupt.raised()
        {
            // Done: nothing to resume. (Interrupted, the claim stays with this process,
            // so that once it is gone the next cascade replays what it left.)
            if let Err(error) = self.backend().release_run(&in_flight.claim).await {
                tracing::warn!(branch, %error, "cannot give the cascade's claim back");
            }
        }
        Ok(report.finish(round_number, cursor, started.elapsed()))
    }

    /// Queues the run of every rule the events fire.
    fn queue_triggered(
        &self,
        branch: &str,
        rules: &[TriggerRule],
        events: &[NodeEvent],
        queue: &mut Queue,
        report: &mut report::Builder,
    ) {
        for event in events.iter().filter(|event| event.branch == branch) {
            for rule in rules
                .iter()
                .filter(|rule| rule.fires_on(event, &self.config.default_branch))
            {
                if self
                    .runner
                    .repository()
                    .generator(&rule.generator)
                    .is_none()
                {
                    report.rule_problem(
                        &rule.name,
                        format!(
                            "it runs generator `{}`, which .infrahub.yml does not define",
                            rule.generator
                        ),
                    );
                    continue;
                }
                tracing::debug!(rule = %rule.name, kind = %event.kind, id = %event.id, "rule fired");
                queue.push_event(
                    RunKey {
                        definition: rule.generator.clone(),
                        target: event.id.clone(),
                    },
                    Cause::Rule {
                        rule: rule.name.clone(),
                    },
                    event.seq,
                );
            }
        }
    }

    /// Claims the cascades on `branch` for this process, where the backend keeps claims,
    /// and records the place in the event log from which its triggered runs are not all
    /// done yet. When the claim was a gone process's — a cascade killed between a run's
    /// commit and the runs its stamps trigger — the events after that process's place are
    /// matched again, so what they triggered is queued now. `None` when nothing is
    /// recorded (no claims, or a live process cascades on the branch: each run's own
    /// claim keeps the two from running anything twice at once).
    async fn begin_in_flight(
        &self,
        branch: &str,
        cursor: i64,
        queue: &mut Queue,
        report: &mut report::Builder,
    ) -> Result<Option<InFlight>, CascadeError> {
        let claim = format!("cascade\u{1f}{branch}");
        let place = format!("cascade:{branch}");
        let stale = match self.backend().claim_run(&claim).await {
            Ok(Some(Claim::Taken { from_stale })) => from_stale,
            Ok(Some(Claim::Held(owner))) => {
                tracing::info!(branch, process = %owner, "another process cascades on this branch; each run's claim keeps them apart");
                return Ok(None);
            }
            Ok(None) => return Ok(None),
            Err(error) => {
                tracing::warn!(branch, %error, "cannot claim the branch's cascades; an interruption of this one will not be resumed");
                return Ok(None);
            }
        };
        if let Some(owner) = stale {
            let left = self
                .events
                .place(&place)?
                .and_then(|text| text.parse::<i64>().ok());
            if let Some(left) = left {
                tracing::info!(branch, process = %owner, from = left, "resuming a cascade its process left: matching its changes again");
                let events: Vec<NodeEvent> = self
                    .events
                    .since(left)?
                    .into_iter()
                    .filter(|event| event.branch == branch && event.seq <= cursor)
                    .collect();
                let rules = load_rules(self.backend(), &self.config.default_branch).await?;
                self.queue_triggered(branch, &rules, &events, queue, report);
            }
        }
        let in_flight = InFlight { claim, place };
        self.record_in_flight(&in_flight, cursor);
        Ok(Some(in_flight))
    }

    /// Records that every run the events up to `acted_on` triggered is done.
    fn record_in_flight(&self, in_flight: &InFlight, acted_on: i64) {
        if let Err(error) = self
            .events
            .set_place(&in_flight.place, &acted_on.to_string())
        {
            tracing::warn!(%error, "cannot record the cascade's place; an interruption will not be resumed from it");
        }
    }

    /// Queues the runs a process that is gone left `Processing` on `branch` (their claims
    /// stale, or none): an interrupted cascade goes on where it stopped. Best effort: a
    /// store that cannot be asked is warned about, and the cascade runs without them.
    async fn queue_interrupted(&self, branch: &str, queue: &mut Queue) {
        if let Some(durable) = &self.durable {
            match durable.orphaned(branch).await {
                Ok(orphans) => {
                    for orphan in orphans {
                        if self
                            .runner
                            .repository()
                            .generator(&orphan.generator)
                            .is_none()
                        {
                            continue;
                        }
                        tracing::info!(generator = %orphan.generator, target = %orphan.target_label, run = orphan.id, process = %orphan.owner, "resuming a run its process left queued or running");
                        queue.push(
                            RunKey {
                                definition: orphan.generator,
                                target: orphan.target,
                            },
                            Cause::Resumed,
                        );
                    }
                }
                Err(error) => {
                    tracing::warn!(branch, %error, "cannot look for runs left by a process that is gone");
                }
            }
        }
        let backend = self.backend();
        if !backend.keeps_claims() {
            return;
        }
        for definition in &self.runner.repository().config().generator_definitions {
            let processing = backend
                .filters(
                    branch,
                    "CoreGeneratorInstance",
                    &json!({
                        "definition__name__value": definition.name,
                        "status__value": "Processing",
                    }),
                    &[],
                )
                .await;
            let instances = match processing {
                Ok(instances) => instances,
                Err(error) => {
                    tracing::warn!(generator = %definition.name, %error, "cannot look for interrupted runs");
                    continue;
                }
            };
            for instance in instances {
                let Some(target) = instance
                    .pointer("/object/node/id")
                    .and_then(serde_json::Value::as_str)
                else {
                    continue;
                };
                let key = crate::runner::claim_key(branch, &definition.name, target);
                match backend.run_claim(&key).await {
                    Ok(Some(holder)) if holder.alive => continue,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(generator = %definition.name, target, %error, "cannot read the run's claim");
                        continue;
                    }
                }
                tracing::info!(generator = %definition.name, target, "resuming a run its process left unfinished");
                queue.push(
                    RunKey {
                        definition: definition.name.clone(),
                        target: target.to_owned(),
                    },
                    Cause::Resumed,
                );
            }
        }
    }

    /// Queues the failed targets under stamps that changed nothing.
    async fn queue_unlatched(
        &self,
        branch: &str,
        rules: &[TriggerRule],
        finished: &[Finished],
        queue: &mut Queue,
    ) {
        for run in finished {
            let TargetOutcome::Succeeded { stamps, .. } = &run.report.outcome else {
                continue;
            };
            for stamp in stamps.iter().filter(|stamp| !stamp.changed) {
                for rule in rules.iter().filter(|rule| {
                    rule.watches(&stamp.kind, &stamp.attribute)
                        && rule.in_scope(branch, &self.config.default_branch)
                }) {
                    if self
                        .runner
                        .repository()
                        .generator(&rule.generator)
                        .is_none()
                    {
                        continue;
                    }
                    match self
                        .last_run_failed(branch, &rule.generator, &stamp.id)
                        .await
                    {
                        Ok(true) => {
                            queue.push(
                                RunKey {
                                    definition: rule.generator.clone(),
                                    target: stamp.id.clone(),
                                },
                                Cause::Unlatched {
                                    rule: rule.name.clone(),
                                },
                            );
                        }
                        Ok(false) => {}
                        Err(error) => {
                            tracing::warn!(generator = %rule.generator, target = %stamp.id, "cannot read the last run's status: {error}");
                        }
                    }
                }
            }
        }
    }

    /// Whether the last run of `generator` on `target` failed (its
    /// `CoreGeneratorInstance` is in `Error`).
    async fn last_run_failed(
        &self,
        branch: &str,
        generator: &str,
        target: &str,
    ) -> Result<bool, crate::backend::BackendError> {
        let instances = self
            .backend()
            .filters(
                branch,
                "CoreGeneratorInstance",
                &json!({ "definition__name__value": generator, "object__ids": [target] }),
                &[],
            )
            .await?;
        Ok(instances
            .iter()
            .any(|instance| instance.pointer("/status/value") == Some(&json!("Error"))))
    }

    /// Removes the run history the retention does not keep, at most once every
    /// [`PRUNE_INTERVAL`] per engine (a long-lived `serve` runs many cascades). Best effort.
    async fn prune_history(&self) {
        let Some(durable) = &self.durable else {
            return;
        };
        {
            let mut pruned = self
                .pruned
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if pruned.is_some_and(|at| at.elapsed() < PRUNE_INTERVAL) {
                return;
            }
            *pruned = Some(Instant::now());
        }
        match durable.prune(self.config.retention).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "pruned the run history"),
            Err(error) => tracing::warn!(%error, "cannot prune the run history"),
        }
    }

    /// Records runs an interrupted cascade leaves unstarted as queued by this process, so
    /// that once it is gone the next cascade on the branch resumes them.
    async fn keep_queued(&self, branch: &str, left: &[QueuedRun]) {
        let Some(durable) = &self.durable else {
            return;
        };
        let runs = left
            .iter()
            .map(|run| new_run(branch, run, &run.key.target))
            .collect();
        if let Err(error) = durable.enqueue(runs).await {
            tracing::warn!(branch, %error, "cannot record the runs left queued; they will not be resumed");
        }
    }

    /// Records the nodes each run of a round created and changed, from its events.
    async fn record_changes(&self, finished: &[Finished], changes: &[(usize, usize)]) {
        let Some(durable) = &self.durable else {
            return;
        };
        let changes = finished
            .iter()
            .zip(changes)
            .filter(|(run, _)| matches!(run.report.outcome, TargetOutcome::Succeeded { .. }))
            .filter_map(|(run, (created, updated))| {
                Some((run.record?, *created as u64, *updated as u64))
            })
            .collect();
        if let Err(error) = durable.set_changes(changes).await {
            tracing::warn!(%error, "cannot record the runs' changes in the history");
        }
    }

    /// Runs one round: every queued run, at most `concurrency` at a time,
    /// generators in the order first queued and targets in group order. Runs another
    /// process has in flight are joined rather than run; those it did not do after all
    /// come back, to be queued again.
    async fn run_round(
        &self,
        branch: &str,
        round_number: usize,
        round: Vec<QueuedRun>,
        prepared: &mut HashMap<String, Arc<PreparedDefinition>>,
        report: &mut report::Builder,
    ) -> (Vec<Finished>, Vec<QueuedRun>) {
        let mut order: Vec<String> = Vec::new();
        for run in &round {
            if !order.contains(&run.key.definition) {
                order.push(run.key.definition.clone());
            }
        }
        let mut unprepared: BTreeMap<String, String> = BTreeMap::new();
        for definition in &order {
            if prepared.contains_key(definition) {
                continue;
            }
            match self.prepare(definition, branch).await {
                Ok(ready) => {
                    prepared.insert(definition.clone(), Arc::new(ready));
                }
                Err(error) => {
                    tracing::error!(generator = %definition, branch, "{error}");
                    unprepared.insert(definition.clone(), error.to_string());
                }
            }
        }

        let mut jobs = Vec::new();
        let mut finished = Vec::new();
        for run in round {
            let key = &run.key;
            let Some(definition) = prepared.get(&key.definition) else {
                let message = unprepared.get(&key.definition).cloned().unwrap_or_default();
                for rule in run.causes.iter().filter_map(Cause::rule) {
                    report.rule_problem(rule, message.clone());
                }
                continue;
            };
            let Some((position, member)) = definition.member(&key.target) else {
                for rule in run.causes.iter().filter_map(Cause::rule) {
                    report.rule_problem(
                        rule,
                        format!(
                            "it fired on {}, which is not a member of group `{}`, the targets of generator `{}`; nothing was run",
                            key.target,
                            definition.definition().targets,
                            key.definition
                        ),
                    );
                }
                continue;
            };
            let rank = order
                .iter()
                .position(|name| *name == key.definition)
                .unwrap_or(usize::MAX);
            let definition = Arc::clone(definition);
            jobs.push(Job {
                rank: (rank, position),
                run,
                definition,
                member,
                decision: None,
            });
        }
        jobs.sort_by_key(|job| job.rank);
        self.enqueue_durably(branch, &mut jobs).await;

        let tracker = Arc::new(Tracker {
            counts: std::sync::Mutex::new(ProgressCounts {
                queued: jobs.len(),
                ..report.counts()
            }),
            progress: Arc::clone(&self.progress),
        });
        tracker.change(|_| {});
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        let mut joins = tokio::task::JoinSet::new();
        let mut jobs = jobs.into_iter();
        while let Some(job) = jobs.next() {
            let record = match job.decision {
                None => None,
                Some(Enqueued::Queued(id)) => Some(id),
                Some(Enqueued::Done(id)) => {
                    tracing::info!(generator = %job.run.key.definition, target = %job.member.target.display_label, run = id, "already done by a run that read the store after its cause");
                    tracker.change(|counts| counts.queued -= 1);
                    report.joined(JoinedRun {
                        round: round_number,
                        definition: job.run.key.definition,
                        target: job.member.target,
                        record: id,
                        process: None,
                        status: RunStatus::Succeeded,
                    });
                    continue;
                }
                Some(Enqueued::Joined { id, owner }) => {
                    tracing::info!(generator = %job.run.key.definition, target = %job.member.target.display_label, run = id, process = %owner, "joining the run another process has in flight");
                    self.progress.notice(&format!(
                        "waiting for run #{id}, {} on {}, which process {owner} has in flight",
                        job.run.key.definition, job.member.target.display_label
                    ));
                    tracker.change(|counts| counts.queued -= 1);
                    if let Some(durable) = &self.durable {
                        joins.spawn(join_run(
                            Arc::clone(durable),
                            self.interrupt.clone(),
                            round_number,
                            job.run,
                            job.member.target,
                            id,
                            owner.to_string(),
                        ));
                    }
                    continue;
                }
            };
            // The permit is taken before spawning, so runs start in order.
            let permit = Arc::clone(&permits).acquire_owned().await.ok();
            if self.interrupt.raised() {
                // Their records stay queued by this process: once it is gone, the next
                // cascade resumes them.
                let left = std::iter::once(job.run.key)
                    .chain(jobs.map(|job| job.run.key))
                    .collect();
                report.interrupted(left);
                break;
            }
            let runner = self.runner.clone();
            let tracker = Arc::clone(&tracker);
            let durable = self.durable.clone();
            let events = Arc::clone(&self.events);
            tracker.change(|counts| {
                counts.queued -= 1;
                counts.running += 1;
            });
            tasks.spawn(async move {
                if let (Some(durable), Some(id)) = (&durable, record) {
                    let covers = events.last_seq().unwrap_or_else(|error| {
                        tracing::warn!(%error, "cannot read the newest event; the run is recorded as covering none");
                        0
                    });
                    if let Err(error) = durable.start(id, covers).await {
                        tracing::warn!(run = id, %error, "cannot record the run's start");
                    }
                }
                let identity = crate::scale_out::RunIdentity::recorded(record, job.run.attempt());
                let report = runner
                    .run_target_as(&job.definition, &job.member, identity)
                    .await;
                drop(permit);
                if let (Some(durable), Some(id)) = (&durable, record) {
                    let (status, result) = run_result(&report);
                    if let Err(error) = durable.finish(id, status, result).await {
                        tracing::warn!(run = id, %error, "cannot record how the run ended");
                    }
                }
                let failed = matches!(report.outcome, TargetOutcome::Failed { .. });
                tracker.change(|counts| {
                    counts.running -= 1;
                    counts.done += 1;
                    counts.failed += usize::from(failed);
                });
                Finished {
                    rank: job.rank,
                    attempt: job.run.attempt(),
                    key: job.run.key,
                    causes: job.run.causes,
                    report,
                    record,
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(run) => finished.push(run),
                Err(error) => tracing::error!("a run task failed: {error}"),
            }
        }
        let mut again = Vec::new();
        let mut left = Vec::new();
        while let Some(joined) = joins.join_next().await {
            match joined {
                Ok(Joined::Covered(run)) => report.joined(run),
                Ok(Joined::Again(run)) => again.push(run),
                Ok(Joined::Left(key)) => left.push(key),
                Err(error) => tracing::error!("a joined run's task failed: {error}"),
            }
        }
        if !left.is_empty() {
            report.interrupted(left);
        }
        finished.sort_by_key(|run| run.rank);
        report.set_counts({
            let counts = tracker
                .counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *counts
        });
        (finished, again)
    }

    /// Enqueues a round's jobs in the durable queue, deciding for each whether this
    /// process runs it. Without a durable queue, or when it cannot be written, every job
    /// runs unrecorded (each run's claim still keeps two processes from running it at once).
    async fn enqueue_durably(&self, branch: &str, jobs: &mut [Job]) {
        let Some(durable) = &self.durable else {
            return;
        };
        let runs = jobs
            .iter()
            .map(|job| new_run(branch, &job.run, &job.member.target.display_label))
            .collect();
        match durable.enqueue(runs).await {
            Ok(decisions) => {
                for (job, decision) in jobs.iter_mut().zip(decisions) {
                    job.decision = Some(decision);
                }
            }
            Err(error) => {
                tracing::warn!(branch, %error, "cannot record the round's runs; they run unrecorded");
            }
        }
    }
}

/// A run of a round, ready to start.
struct Job {
    rank: (usize, usize),
    run: QueuedRun,
    definition: Arc<PreparedDefinition>,
    member: crate::runner::TargetMember,
    /// What the durable queue decided, if there is one.
    decision: Option<Enqueued>,
}

/// The durable queue's record of a queued run.
fn new_run(branch: &str, run: &QueuedRun, label: &str) -> NewRun {
    NewRun {
        branch: branch.to_owned(),
        generator: run.key.definition.clone(),
        target: run.key.target.clone(),
        target_label: label.to_owned(),
        causes: serde_json::to_string(&run.causes).unwrap_or_else(|_| "[]".to_owned()),
        attempt: run.attempt(),
        newest_event: run.newest_event,
    }
}

/// How a run ended, as the durable queue records it.
fn run_result(report: &TargetReport) -> (RunStatus, RunResult) {
    let log = |log: &RunLog| serde_json::to_string(log).unwrap_or_else(|_| "{}".to_owned());
    match &report.outcome {
        TargetOutcome::Succeeded {
            new,
            kept,
            deleted,
            log: run_log,
            ..
        } => (
            RunStatus::Succeeded,
            RunResult {
                created: *new as u64,
                kept: *kept as u64,
                deleted: *deleted as u64,
                error: None,
                log: log(run_log),
            },
        ),
        TargetOutcome::Failed {
            message,
            log: run_log,
            ..
        } => (
            RunStatus::Failed,
            RunResult {
                error: Some(message.clone()),
                log: log(run_log),
                ..RunResult::default()
            },
        ),
    }
}

/// Waits for run `id`, which a live process has in flight, to end, and tells whether it
/// did `run`'s work.
async fn join_run(
    durable: Arc<dyn RunQueue>,
    interrupt: Interrupt,
    round: usize,
    run: QueuedRun,
    target: crate::runtime::Target,
    id: i64,
    process: String,
) -> Joined {
    loop {
        if interrupt.raised() {
            return Joined::Left(run.key);
        }
        tokio::time::sleep(durable.poll_interval()).await;
        let record = match durable.record(id).await {
            Ok(Some(record)) => record,
            // Pruned already: it ended long ago.
            Ok(None) => return Joined::Again(run),
            Err(error) => {
                tracing::warn!(run = id, %error, "cannot read the joined run; waiting");
                continue;
            }
        };
        if !record.status.ended() {
            continue;
        }
        let read_after = match (record.covers, run.newest_event) {
            (Some(covers), Some(event)) => covers >= event,
            (_, None) => true,
            (None, Some(_)) => false,
        };
        if matches!(record.status, RunStatus::Succeeded | RunStatus::Failed) && read_after {
            return Joined::Covered(JoinedRun {
                round,
                definition: run.key.definition,
                target,
                record: id,
                process: Some(process),
                status: record.status,
            });
        }
        tracing::info!(generator = %run.key.definition, target = %target.display_label, run = id, status = %record.status, "the joined run did not do this one's work; queued again");
        return Joined::Again(run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_up_to_the_maximum() {
        let policy = RetryPolicy {
            attempts: 6,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        let delays: Vec<u128> = (2..=6).map(|a| policy.delay(a).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 500, 500]);
    }
}
