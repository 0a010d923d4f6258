//! The cascade's queue: which (generator, target) runs come next, why, and
//! when a cascade has run too long to be anything but a loop.
//!
//! Pure bookkeeping, no I/O: the engine ([`super::Cascade`]) pushes runs as
//! rules fire and takes them a round at a time.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashSet;

use serde::{Deserialize, Serialize};

/// One run of a cascade: a generator on a target (the branch is the cascade's).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RunKey {
    /// The generator definition.
    pub definition: String,
    /// The target node's id.
    pub target: String,
}

/// Why a run was queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// Asked for on the command line (or through the API).
    Requested,
    /// A rule fired on a change of the target.
    Rule {
        /// The rule.
        rule: String,
    },
    /// Its upstream ran again and stamped an unchanged checksum, but its own
    /// last run had failed (no latch: a failed tier recovers on its own).
    Unlatched {
        /// The rule that watches the stamped attribute.
        rule: String,
    },
    /// Its instance was left `Processing` by a process that is gone: the run was
    /// interrupted (killed, or the machine stopped) and is run again.
    Resumed,
    /// A transient failure (the backend was unreachable), retried.
    Retry {
        /// Which attempt this is (2 for the first retry).
        attempt: u32,
    },
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Requested => f.write_str("requested"),
            Cause::Rule { rule } => write!(f, "rule {rule}"),
            Cause::Unlatched { rule } => write!(f, "rule {rule}, last run failed"),
            Cause::Resumed => f.write_str("resumed: its process was interrupted"),
            Cause::Retry { attempt } => write!(f, "retry {attempt}"),
        }
    }
}

impl Cause {
    /// The rule behind the run, if a rule queued it.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Cause::Rule { rule } | Cause::Unlatched { rule } => Some(rule),
            Cause::Requested | Cause::Resumed | Cause::Retry { .. } => None,
        }
    }
}

/// How long a cascade may run before it is taken for a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CascadeLimits {
    /// Runs in one cascade, in all.
    pub max_runs: usize,
    /// Runs of one (generator, target) in one cascade.
    pub max_runs_per_target: usize,
}

impl Default for CascadeLimits {
    /// Generous for any real design (the AI/DC seed runs each target once
    /// or twice per cascade), small enough that a loop stops in seconds.
    fn default() -> Self {
        Self {
            max_runs: 10_000,
            max_runs_per_target: 8,
        }
    }
}

/// A cascade stopped because it would not end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error(
    "the cascade was stopped after {runs} runs: {reason}; {}",
    if rules.is_empty() {
        "no rule queued a target twice".to_owned()
    } else {
        format!("rules involved: {}", rules.join(", "))
    }
)]
pub struct LoopError {
    /// Runs made before stopping.
    pub runs: usize,
    /// Which cap was reached.
    pub reason: String,
    /// The rules that queued a run of a target that had already run in this
    /// cascade: the rules of the loop.
    pub rules: Vec<String>,
}

/// A run waiting for its round, with every cause that queued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRun {
    /// The run.
    pub key: RunKey,
    /// Every cause, in the order they came.
    pub causes: Vec<Cause>,
    /// The newest store event that queued it, when every cause was an event: a run that
    /// started reading after it (in any process) did this one's work.
    pub newest_event: Option<i64>,
}

impl QueuedRun {
    /// Which attempt this run is: 1, or the attempt its retry cause names.
    pub fn attempt(&self) -> u32 {
        self.causes
            .iter()
            .find_map(|cause| match cause {
                Cause::Retry { attempt } => Some(*attempt),
                _ => None,
            })
            .unwrap_or(1)
    }
}

/// The runs waiting for the next round, deduplicated, with what has run.
#[derive(Debug, Default)]
pub struct Queue {
    limits: CascadeLimits,
    /// Queued runs in the order they were first queued, with every cause.
    waiting: Vec<QueuedRun>,
    queued: HashSet<RunKey>,
    /// Runs made per key in this cascade.
    ran: BTreeMap<RunKey, usize>,
    /// Rules that queued a key which had already run.
    repeating_rules: BTreeSet<String>,
    total: usize,
}

impl Queue {
    /// An empty queue with these limits.
    pub fn new(limits: CascadeLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Queues `key` for a cause that is not a store event (a request, a retry); a key
    /// already waiting is not queued twice (its cause is added). Returns whether it was
    /// newly queued.
    pub fn push(&mut self, key: RunKey, cause: Cause) -> bool {
        self.push_caused(key, cause, None)
    }

    /// Queues `key` for `cause`, fired by store event `event`.
    pub fn push_event(&mut self, key: RunKey, cause: Cause, event: i64) -> bool {
        self.push_caused(key, cause, Some(event))
    }

    fn push_caused(&mut self, key: RunKey, cause: Cause, event: Option<i64>) -> bool {
        if self.ran.contains_key(&key)
            && let Some(rule) = cause.rule()
        {
            self.repeating_rules.insert(rule.to_owned());
        }
        if self.queued.contains(&key) {
            if let Some(run) = self.waiting.iter_mut().find(|run| run.key == key) {
                run.newest_event = match (run.newest_event, event) {
                    (Some(newest), Some(event)) => Some(newest.max(event)),
                    _ => None,
                };
                if !run.causes.contains(&cause) {
                    run.causes.push(cause);
                }
            }
            return false;
        }
        self.queued.insert(key.clone());
        self.waiting.push(QueuedRun {
            key,
            causes: vec![cause],
            newest_event: event,
        });
        true
    }

    /// Takes every waiting run without counting it as run (the cascade was interrupted).
    pub fn drain(&mut self) -> Vec<QueuedRun> {
        self.queued.clear();
        std::mem::take(&mut self.waiting)
    }

    /// Runs waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Runs handed out so far.
    pub fn total_runs(&self) -> usize {
        self.total
    }

    /// Takes every waiting run for the next round, counting them as run; a
    /// [`LoopError`] instead when the round would pass a cap (the waiting
    /// runs are dropped).
    pub fn take_round(&mut self) -> Result<Vec<QueuedRun>, LoopError> {
        let round = std::mem::take(&mut self.waiting);
        self.queued.clear();
        if self.total + round.len() > self.limits.max_runs {
            return Err(self.loop_error(format!(
                "it would pass the cap of {} runs per cascade",
                self.limits.max_runs
            )));
        }
        for QueuedRun { key, .. } in &round {
            let runs = self.ran.get(key).copied().unwrap_or(0);
            if runs + 1 > self.limits.max_runs_per_target {
                return Err(self.loop_error(format!(
                    "{} on {} would run more than {} times",
                    key.definition, key.target, self.limits.max_runs_per_target
                )));
            }
        }
        for run in &round {
            *self.ran.entry(run.key.clone()).or_default() += 1;
        }
        self.total += round.len();
        Ok(round)
    }

    fn loop_error(&self, reason: String) -> LoopError {
        LoopError {
            runs: self.total,
            reason,
            rules: self.repeating_rules.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(definition: &str, target: &str) -> RunKey {
        RunKey {
            definition: definition.into(),
            target: target.into(),
        }
    }

    fn rule(name: &str) -> Cause {
        Cause::Rule { rule: name.into() }
    }

    #[test]
    fn a_queued_run_is_not_queued_twice_and_keeps_every_cause() {
        let mut queue = Queue::new(CascadeLimits::default());
        assert!(queue.push_event(key("pod", "p1"), rule("checksum"), 4));
        assert!(queue.push_event(key("pod", "p2"), rule("checksum"), 5));
        assert!(!queue.push_event(key("pod", "p1"), rule("index"), 7));
        assert!(!queue.push_event(key("pod", "p1"), rule("index"), 6));
        assert!(queue.push(key("pod", "p3"), Cause::Requested));
        assert!(!queue.push_event(key("pod", "p3"), rule("index"), 8));
        let round = queue.take_round().expect("round");
        assert_eq!(
            round,
            vec![
                QueuedRun {
                    key: key("pod", "p1"),
                    causes: vec![rule("checksum"), rule("index")],
                    newest_event: Some(7),
                },
                QueuedRun {
                    key: key("pod", "p2"),
                    causes: vec![rule("checksum")],
                    newest_event: Some(5),
                },
                // Asked for: only a run in flight does its work, whatever the events.
                QueuedRun {
                    key: key("pod", "p3"),
                    causes: vec![Cause::Requested, rule("index")],
                    newest_event: None,
                },
            ]
        );
        assert!(queue.is_empty());
        assert_eq!(queue.total_runs(), 3);
        // After its round a run may be queued again.
        assert!(queue.push(key("pod", "p1"), rule("checksum")));
    }

    #[test]
    fn a_target_running_too_often_stops_the_cascade_naming_the_loops_rules() {
        let mut queue = Queue::new(CascadeLimits {
            max_runs: 100,
            max_runs_per_target: 3,
        });
        queue.push(key("ping", "a"), Cause::Requested);
        for _ in 0..3 {
            queue.take_round().expect("within the cap");
            queue.push(key("pong", "b"), rule("echo-changed"));
            queue.take_round().expect("within the cap");
            queue.push(key("ping", "a"), rule("counter-changed"));
        }
        let error = queue.take_round().expect_err("a fourth run of ping on a");
        assert_eq!(
            error.to_string(),
            "the cascade was stopped after 6 runs: ping on a would run more than 3 times; \
             rules involved: counter-changed, echo-changed"
        );
        assert!(queue.is_empty());
    }

    #[test]
    fn the_total_cap_counts_every_run() {
        let mut queue = Queue::new(CascadeLimits {
            max_runs: 3,
            max_runs_per_target: 10,
        });
        queue.push(key("g", "1"), Cause::Requested);
        queue.push(key("g", "2"), Cause::Requested);
        queue.take_round().expect("2 of 3");
        queue.push(key("g", "3"), rule("r"));
        queue.push(key("g", "4"), rule("r"));
        let error = queue.take_round().expect_err("4 > 3");
        assert_eq!(
            error.to_string(),
            "the cascade was stopped after 2 runs: it would pass the cap of 3 runs per cascade; \
             no rule queued a target twice"
        );
    }
}
