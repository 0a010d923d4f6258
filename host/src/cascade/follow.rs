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

/// Follows `store`'s events from now on until the store is dropped, running
/// a cascade for every batch of changes that fires a rule. Changes made in
/// this process are seen at once, changes made by other processes within
/// [`POLL`].
pub async fn follow(
    cascade: Cascade,
    store: Store,
    observer: &dyn CascadeObserver,
) -> Result<(), CascadeError> {
    let mut live = store.subscribe();
    let feed = cascade.events().clone();
    let mut cursor = feed.last_seq()?;
    // Per branch, the last event a cascade has already read: its own writes
    // must not start another cascade.
    let mut consumed: HashMap<String, i64> = HashMap::new();
    loop {
        match tokio::time::timeout(POLL, live.recv()).await {
            Ok(Ok(_) | Err(RecvError::Lagged(_))) => {}
            Ok(Err(RecvError::Closed)) => return Ok(()),
            Err(_quiet) => {
                if feed.last_seq()? <= cursor {
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

        let events = feed.since(cursor)?;
        cursor = events.last().map_or(cursor, |event| event.seq);
        let mut branches: Vec<(String, Vec<NodeEvent>)> = Vec::new();
        for event in events {
            if consumed
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
                    consumed.insert(branch, report.cursor);
                    if !report.runs.is_empty() || !report.rule_errors.is_empty() {
                        observer.cascade_done(&report);
                    }
                }
                Err(error) => {
                    tracing::error!(%branch, "cascade failed: {error}");
                }
            }
        }
    }
}
