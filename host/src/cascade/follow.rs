//! Following the store's event log: every change, whoever made it (the HTTP
//! API, an object load, a generator), is matched against the rules, and what
//! fires runs as a cascade on the change's branch. This is what makes
//! `infragen serve` behave like Infrahub: a write through the API runs the
//! generators its rules name.

use std::collections::HashMap;
use std::time::Duration;

use infragen_store::Store;
use tokio::sync::broadcast::error::RecvError;

use super::{Cascade, CascadeError, CascadeReport, NodeEvent, Start};

/// How long to wait after a change for the rest of its burst (an object
/// load, a generator's writes) before matching, so that a burst becomes one
/// cascade rather than one per node.
const SETTLE: Duration = Duration::from_millis(50);

/// How often the log is checked for changes made by other processes (a CLI
/// writing to the same store file), which are not announced live.
const POLL: Duration = Duration::from_secs(1);

/// What a follower reports after each cascade it ran.
pub trait CascadeObserver: Send + Sync {
    /// A cascade ended.
    fn cascade_done(&self, report: &CascadeReport);
}

/// The name under which the follower records its progress in the store.
const READER: &str = "follow";

/// How far the follower got, kept in the store after every batch so that a
/// restarted follower goes on where the last one stopped.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Position {
    /// Every event up to here has been matched (and its cascade run).
    cursor: i64,
    /// Per branch, the last event a cascade has already read: its own writes
    /// must not start another cascade.
    consumed: HashMap<String, i64>,
}

impl Position {
    /// Where the last follower of `store` stopped; on a store never followed, its newest
    /// event (what happened before the first follower is not acted on, as with a fresh
    /// Infrahub).
    fn load(store: &Store, feed: &dyn super::EventFeed) -> Result<Position, CascadeError> {
        let recorded = store
            .reader_position(READER)
            .map_err(|error| super::FeedError::new(error.to_string()))?;
        match recorded.as_deref().map(serde_json::from_str::<Position>) {
            Some(Ok(position)) => Ok(position),
            Some(Err(error)) => {
                tracing::warn!(%error, "the follower's recorded position is unreadable; following from the newest event");
                Position::fresh(store, feed)
            }
            None => Position::fresh(store, feed),
        }
    }

    fn fresh(store: &Store, feed: &dyn super::EventFeed) -> Result<Position, CascadeError> {
        let position = Position {
            cursor: feed.last_seq()?,
            consumed: HashMap::new(),
        };
        position.save(store)?;
        Ok(position)
    }

    fn save(&self, store: &Store) -> Result<(), CascadeError> {
        let text = serde_json::to_string(self)
            .map_err(|error| super::FeedError::new(error.to_string()))?;
        store
            .set_reader_position(READER, &text)
            .map_err(|error| super::FeedError::new(error.to_string()).into())
    }
}

/// A follower of `store`'s event log, placed: what happens from here on is
/// acted on by [`Follower::follow`].
pub struct Follower {
    cascade: Cascade,
    store: Store,
    live: tokio::sync::broadcast::Receiver<infragen_store::Event>,
    position: Position,
    requests: tokio::sync::mpsc::UnboundedReceiver<Requested>,
    requester: Requests,
}

/// A cascade asked for through the API (`CoreGeneratorDefinitionRun`), run by the
/// follower between its batches of changes: its own writes then start no second cascade,
/// as a follower's own cascade's do not.
struct Requested {
    branch: String,
    start: Start,
    done: tokio::sync::oneshot::Sender<Result<CascadeReport, CascadeError>>,
}

/// Why a cascade asked for through [`Requests`] did not run.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The follower is gone (the server is stopping).
    #[error("the server's generator engine has stopped")]
    Stopped,
    /// The cascade could not start (an unknown definition, a target outside its group…).
    #[error(transparent)]
    Cascade(#[from] CascadeError),
}

/// Asks a [`Follower`] for cascades; cheap to clone.
#[derive(Clone)]
pub struct Requests(tokio::sync::mpsc::UnboundedSender<Requested>);

impl Requests {
    /// Runs a cascade on `branch` from `start` once the follower is between batches, and
    /// answers its report (or why it could not run); an error too when the follower has
    /// stopped.
    pub async fn run(&self, branch: &str, start: Start) -> Result<CascadeReport, RequestError> {
        let (done, report) = tokio::sync::oneshot::channel();
        self.0
            .send(Requested {
                branch: branch.to_owned(),
                start,
                done,
            })
            .map_err(|_| RequestError::Stopped)?;
        Ok(report.await.map_err(|_| RequestError::Stopped)??)
    }
}

impl Follower {
    /// Places a follower where the last follower of the store stopped (on a
    /// store never followed, at its newest event). Place it before accepting
    /// writes — before listening — so that none falls before its place.
    pub fn start(cascade: Cascade, store: Store) -> Result<Follower, CascadeError> {
        let live = store.subscribe();
        let position = Position::load(&store, cascade.events().as_ref())?;
        let (sender, requests) = tokio::sync::mpsc::unbounded_channel();
        Ok(Follower {
            cascade,
            store,
            live,
            position,
            requests,
            requester: Requests(sender),
        })
    }

    /// Where cascades are asked for (see [`Requests`]).
    pub fn requests(&self) -> Requests {
        self.requester.clone()
    }

    /// What stops it (see [`Follower::follow`]).
    pub fn interrupt(&self) -> super::Interrupt {
        self.cascade.interrupt()
    }

    /// Follows the store's events until the store is dropped or the cascade's
    /// [`Interrupt`](super::Interrupt) is raised, running a cascade for every batch of
    /// changes that fires a rule. It first resumes what a process that is gone left
    /// unfinished and catches up on the changes made while no follower ran, then records
    /// its progress after every batch. Changes made in this process are seen at once,
    /// changes made by other processes within a second (`POLL`).
    pub async fn follow(self, observer: &dyn CascadeObserver) -> Result<(), CascadeError> {
        let Follower {
            cascade,
            store,
            mut live,
            mut position,
            mut requests,
            requester,
        } = self;
        drop(requester);
        let feed = cascade.events().clone();
        resume_interrupted(&cascade, &store, observer).await;
        let mut behind = feed.last_seq()? > position.cursor;
        if behind {
            tracing::info!(
                from = position.cursor,
                to = feed.last_seq()?,
                "catching up on the changes made while no follower ran"
            );
        }
        let interrupt = cascade.interrupt();
        loop {
            if interrupt.raised() {
                return Ok(());
            }
            if !std::mem::take(&mut behind) {
                tokio::select! {
                    received = tokio::time::timeout(POLL, live.recv()) => match received {
                        Ok(Ok(_) | Err(RecvError::Lagged(_))) => {}
                        Ok(Err(RecvError::Closed)) => return Ok(()),
                        Err(_quiet) => {
                            if feed.last_seq()? <= position.cursor {
                                continue;
                            }
                        }
                    },
                    Some(request) = requests.recv() => {
                        let report = cascade.run(&request.branch, request.start).await;
                        if let Ok(report) = &report {
                            // Every change on the branch up to here was matched by it.
                            let seen = position.consumed.entry(request.branch.clone()).or_default();
                            *seen = (*seen).max(report.cursor);
                            observer.cascade_done(report);
                        }
                        let _ = request.done.send(report);
                        behind = feed.last_seq()? > position.cursor;
                        continue;
                    }
                }
            }
            tokio::time::sleep(SETTLE).await;
            while !matches!(
                live.try_recv(),
                Err(tokio::sync::broadcast::error::TryRecvError::Empty
                    | tokio::sync::broadcast::error::TryRecvError::Closed)
            ) {}

            let events = feed.since(position.cursor)?;
            position.cursor = events.last().map_or(position.cursor, |event| event.seq);
            let mut branches: Vec<(String, Vec<NodeEvent>)> = Vec::new();
            for event in events {
                if position
                    .consumed
                    .get(&event.branch)
                    .is_some_and(|seen| event.seq <= *seen)
                {
                    continue;
                }
                match branches
                    .iter_mut()
                    .find(|(branch, _)| *branch == event.branch)
                {
                    Some((_, batch)) => batch.push(event),
                    None => branches.push((event.branch.clone(), vec![event])),
                }
            }
            for (branch, batch) in branches {
                match cascade.run(&branch, Start::Events(batch)).await {
                    Ok(report) => {
                        position.consumed.insert(branch, report.cursor);
                        if !report.runs.is_empty()
                            || !report.joined.is_empty()
                            || !report.rule_errors.is_empty()
                            || report.interrupted.is_some()
                        {
                            observer.cascade_done(&report);
                        }
                    }
                    Err(error) => {
                        tracing::error!(%branch, "cascade failed: {error}");
                    }
                }
            }
            // Only once the batch's cascades ended: a follower killed or stopped in the middle
            // of one matches the batch again when it restarts, and the cascade runs again.
            if interrupt.raised() {
                tracing::info!(
                    "stopped in the middle of a batch of changes; they are matched again at the next start"
                );
                return Ok(());
            }
            if let Err(error) = position.save(&store) {
                tracing::warn!(%error, "cannot record the follower's position; a restart would match this batch again");
            }
        }
    }
}

/// Runs, on every branch, what a process that is gone left unfinished. The changes the
/// follower catches up on afterwards are matched as usual: a run they trigger that a
/// resumed run already did (it read the store after them) is found done in the run queue.
async fn resume_interrupted(cascade: &Cascade, store: &Store, observer: &dyn CascadeObserver) {
    let branches = match store.branches() {
        Ok(branches) => branches,
        Err(error) => {
            tracing::warn!(%error, "cannot list the branches to resume interrupted runs on");
            return;
        }
    };
    for branch in branches {
        match cascade.run(&branch.name, Start::Resume).await {
            Ok(report) if !report.runs.is_empty() => observer.cascade_done(&report),
            Ok(_) => {}
            Err(error) => {
                tracing::error!(branch = %branch.name, "resuming interrupted runs failed: {error}");
            }
        }
    }
}
