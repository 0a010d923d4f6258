//! The store's write turn: whose turn it is to write, in the order writers asked, and how
//! a run that holds the turn without using it loses it.
//!
//! A generator run holds the turn from its start to its commit (see [`crate::run`]), so
//! runs never interleave their writes. That makes a run that holds the turn and does
//! nothing with it — a plugin spinning in a loop, sleeping, or computing for a long time
//! between two host calls — hold every other writer of the process up, until its deadline.
//! So a run holds the turn *preemptibly*: when the writer that has waited longest has
//! waited for longer than the run's idle allowance, and the run has not started an
//! operation on the store during that time, the turn passes to the waiter. The run is not
//! stopped; its next operation and its commit fail with
//! [`StoreError::RunConflict`](crate::StoreError::RunConflict), having written nothing,
//! and its caller may run it again (a rerun's allowance is the caller's to choose,
//! typically longer).
//!
//! An operation in progress is never preempted: a store operation is bounded on its own
//! (a query by its budget, a write by what it touches). The host's own short writes take
//! the turn without an allowance and are never preempted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long a waiting writer re-checks the turn when nothing wakes it earlier.
const RECHECK: Duration = Duration::from_millis(500);

/// One store's write turn (see the module documentation).
#[derive(Default)]
pub(crate) struct WriteTurn {
    state: Mutex<TurnState>,
    /// Woken when the turn is given back or passes to another writer.
    changed: Notify,
}

#[derive(Default)]
struct TurnState {
    holder: Option<Holder>,
    /// Writers waiting, the one that asked first in front.
    queue: VecDeque<Waiter>,
    next_ticket: u64,
}

struct Waiter {
    ticket: u64,
    since: Instant,
}

struct Holder {
    ticket: u64,
    /// Operations in progress.
    busy: usize,
    /// When it took the turn or its last operation ended.
    idle_since: Instant,
    /// How long it may stay idle while another writer waits; `None`: never preempted.
    idle_allowance: Option<Duration>,
}

/// Whether the front waiter gets the turn now, or how long to wait before looking again.
enum Grant {
    Now { preempted: Option<Duration> },
    Later(Duration),
}

impl TurnState {
    fn grant(&self, ticket: u64, now: Instant) -> Grant {
        let Some(front) = self.queue.front() else {
            return Grant::Later(RECHECK);
        };
        if front.ticket != ticket {
            return Grant::Later(RECHECK);
        }
        let Some(holder) = &self.holder else {
            return Grant::Now { preempted: None };
        };
        let Some(allowance) = holder.idle_allowance else {
            return Grant::Later(RECHECK);
        };
        if holder.busy > 0 {
            // It cannot lose the turn before its operation ends, and then only after its
            // whole allowance.
            return Grant::Later(allowance);
        }
        // Idle only counts while someone waits: a run that computed alone for a while is
        // not preempted the moment a writer arrives.
        let idle_from = holder.idle_since.max(front.since);
        let idle = now.saturating_duration_since(idle_from);
        if idle >= allowance {
            Grant::Now {
                preempted: Some(idle),
            }
        } else {
            Grant::Later(allowance - idle)
        }
    }
}

/// Removes a waiter that stopped waiting (its future was dropped) from the queue.
struct Waiting<'a> {
    turn: &'a WriteTurn,
    ticket: u64,
    granted: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.granted {
            let mut state = self.turn.lock();
            state.queue.retain(|waiter| waiter.ticket != self.ticket);
            drop(state);
            self.turn.changed.notify_waiters();
        }
    }
}

impl WriteTurn {
    fn lock(&self) -> MutexGuard<'_, TurnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the turn, in the order writers asked, and holds it until the guard is
    /// dropped. With an `idle_allowance`, the holder loses the turn to a writer that has
    /// waited that long while it started no operation ([`TurnGuard::enter`]).
    pub(crate) async fn take(self: &Arc<Self>, idle_allowance: Option<Duration>) -> TurnGuard {
        let ticket = {
            let mut state = self.lock();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queue.push_back(Waiter {
                ticket,
                since: Instant::now(),
            });
            ticket
        };
        let mut waiting = Waiting {
            turn: self,
            ticket,
            granted: false,
        };
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut state = self.lock();
                let now = Instant::now();
                match state.grant(ticket, now) {
                    Grant::Now { preempted } => {
                        if let (Some(idle), Some(holder)) = (preempted, &state.holder) {
                            tracing::warn!(
                                idle_ms = idle.as_millis() as u64,
                                preempted = holder.ticket,
                                "a run held the store's write turn without using it while another writer waited; the turn passes on and the run will fail with a conflict"
                            );
                        }
                        state.queue.pop_front();
                        state.holder = Some(Holder {
                            ticket,
                            busy: 0,
                            idle_since: now,
                            idle_allowance,
                        });
                        waiting.granted = true;
                        drop(state);
                        // The next waiter is now in front.
                        self.changed.notify_waiters();
                        return TurnGuard {
                            turn: Arc::clone(self),
                            ticket,
                        };
                    }
                    Grant::Later(wait) => wait.max(Duration::from_millis(1)),
                }
            };
            let _ = tokio::time::timeout(wait, notified).await;
        }
    }
}

/// The store's write turn, held; given back when dropped (see [`crate::Store::write_turn`]).
pub struct TurnGuard {
    turn: Arc<WriteTurn>,
    ticket: u64,
}

/// The holder lost the turn to a writer that waited (see [`WriteTurn`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Preempted;

impl TurnGuard {
    /// Starts an operation under the turn: the holder cannot lose the turn until the
    /// returned guard is dropped. Fails when it has lost it already.
    pub(crate) fn enter(&self) -> Result<TurnOp<'_>, Preempted> {
        let mut state = self.turn.lock();
        match &mut state.holder {
            Some(holder) if holder.ticket == self.ticket => {
                holder.busy += 1;
                Ok(TurnOp { guard: self })
            }
            _ => Err(Preempted),
        }
    }

    /// Whether the turn passed to another writer.
    pub(crate) fn preempted(&self) -> bool {
        !matches!(&self.turn.lock().holder, Some(holder) if holder.ticket == self.ticket)
    }
}

impl Drop for TurnGuard {
    fn drop(&mut self) {
        let mut state = self.turn.lock();
        if matches!(&state.holder, Some(holder) if holder.ticket == self.ticket) {
            state.holder = None;
            drop(state);
            self.turn.changed.notify_waiters();
        }
    }
}

/// An operation in progress under the turn (see [`TurnGuard::enter`]).
pub(crate) struct TurnOp<'a> {
    guard: &'a TurnGuard,
}

impl Drop for TurnOp<'_> {
    fn drop(&mut self) {
        let mut state = self.guard.turn.lock();
        if let Some(holder) = &mut state.holder
            && holder.ticket == self.guard.ticket
        {
            holder.busy = holder.busy.saturating_sub(1);
            holder.idle_since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWANCE: Duration = Duration::from_millis(40);

    #[tokio::test]
    async fn writers_take_the_turn_in_the_order_they_asked() {
        let turn = Arc::new(WriteTurn::default());
        let first = turn.take(None).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for n in 0..4 {
            let (turn, order) = (Arc::clone(&turn), Arc::clone(&order));
            waiters.push(tokio::spawn(async move {
                let _held = turn.take(None).await;
                order.lock().unwrap().push(n);
            }));
            // Each asks after the one before.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(first);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    }

    #[tokio::test]
    async fn an_idle_holder_loses_the_turn_to_a_waiter_and_its_next_operation_fails() {
        let turn = Arc::new(WriteTurn::default());
        let run = turn.take(Some(ALLOWANCE)).await;
        assert!(run.enter().is_ok());
        let writer = turn.take(None).await;
        assert!(run.preempted());
        assert!(run.enter().is_err());
        // The preempted run giving back what it no longer holds changes nothing.
        drop(run);
        assert!(matches!(&turn.lock().holder, Some(h) if h.ticket == writer.ticket));
    }

    #[tokio::test]
    async fn a_holder_in_an_operation_keeps_the_turn() {
        let turn = Arc::new(WriteTurn::default());
        let run = turn.take(Some(ALLOWANCE)).await;
        let op = run.enter().unwrap();
        let waiter = {
            let turn = Arc::clone(&turn);
            tokio::spawn(async move { turn.take(None).await.ticket })
        };
        tokio::time::sleep(ALLOWANCE * 4).await;
        assert!(!run.preempted(), "preempted in the middle of an operation");
        drop(op);
        // Now idle: it loses the turn one allowance later.
        let ticket = waiter.await.unwrap();
        assert!(run.preempted());
        assert_eq!(ticket, run.ticket + 1);
    }

    #[tokio::test]
    async fn a_holder_without_an_allowance_is_never_preempted() {
        let turn = Arc::new(WriteTurn::default());
        let writer = turn.take(None).await;
        let waiter = {
            let turn = Arc::clone(&turn);
            tokio::spawn(async move { turn.take(Some(ALLOWANCE)).await.ticket })
        };
        tokio::time::sleep(ALLOWANCE * 4).await;
        assert!(!writer.preempted());
        assert!(!waiter.is_finished());
        drop(writer);
        waiter.await.unwrap();
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_the_queue() {
        let turn = Arc::new(WriteTurn::default());
        let first = turn.take(None).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(10), turn.take(None)).await;
        assert!(gave_up.is_err());
        let next = {
            let turn = Arc::clone(&turn);
            tokio::spawn(async move { turn.take(None).await.ticket })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(first);
        // Not stuck behind the waiter that left.
        assert_eq!(next.await.unwrap(), 2);
    }
}
