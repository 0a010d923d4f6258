//! What a generator run reads: one snapshot of the store, on a connection of its own, from
//! the run's start to its end, under the run's own writes (see [`crate::run`]).
//!
//! **Why one snapshot.** Each operation of a run used to read in a read transaction of its
//! own on the store's connection: the store's mutex, SQLite's WAL read lock taken and given
//! back, and a check for other processes' commits — thousands of times in a seed build,
//! ~5% of its time. Held across the run, the snapshot also gives the run's operations one
//! consistent state to read.
//!
//! **Nothing lost by not looking.** Whoever commits after the snapshot began makes the run a
//! conflict: a writer of this process moves the store's generation, which every operation of
//! the run checks; another process's commit is noticed by the store's connection at the
//! latest when the run commits there, and the run is then run again.
//!
//! **Let go while idle.** A snapshot holds back every later commit in the WAL: a checkpoint
//! cannot copy past a reader, so while a run sits idle — a plugin sleeping or computing, a
//! remote client's transaction between two requests, a run that lost its write turn — the
//! WAL of every process on the store would grow. A snapshot unused for the run's idle
//! allowance is therefore ended (by a task watching it), and begun again at the run's next
//! operation, on the same connection: SQLite's `data_version` on that connection then tells
//! whether anyone committed in between — if not, the new snapshot is the state the old one
//! was; if so, the run is a conflict at once.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::{Result, StoreError};
use crate::graph::CacheUse;
use crate::persistence::Db;
use crate::store::Store;

/// A run's snapshot (see the module documentation).
pub(crate) struct RunSnapshot {
    reads: Arc<Mutex<Reads>>,
}

struct Reads {
    /// The run's connection; `None` once given back to the store's pool.
    reader: Option<Db>,
    /// The node cache's epoch noted before the snapshot first began: the run reads through
    /// the cache while nothing changed since (see [`CacheUse::Reader`]).
    epoch: Option<u64>,
    /// The connection's `data_version` in the snapshot as it first began.
    version: i64,
    /// Whether the read transaction (the snapshot) is open now.
    open: bool,
    /// When an operation last used it.
    last_used: Instant,
    /// How long it stays open unused.
    idle: Duration,
}

impl RunSnapshot {
    /// Takes a connection from `store`'s pool and begins the snapshot on it. `None` for an
    /// in-memory store, whose data no other connection sees: its run reads on the store's
    /// connection.
    ///
    /// `epoch` is the node cache's, noted before this is called; `idle`, how long the
    /// snapshot stays open unused. Needs a Tokio runtime to let the snapshot go while idle;
    /// without one it is held until the run ends.
    pub(crate) fn begin(
        store: &Store,
        epoch: Option<u64>,
        idle: Duration,
    ) -> Result<Option<RunSnapshot>> {
        let Some(reader) = store.take_reader()? else {
            return Ok(None);
        };
        let version = match begin_on(&reader) {
            Ok(version) => version,
            Err(error) => {
                store.give_back_reader(reader);
                return Err(error);
            }
        };
        let reads = Arc::new(Mutex::new(Reads {
            reader: Some(reader),
            epoch,
            version,
            open: true,
            last_used: Instant::now(),
            idle,
        }));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(let_go_while_idle(Arc::downgrade(&reads), idle));
        }
        Ok(Some(RunSnapshot { reads }))
    }

    /// `f` on the snapshot, begun again first if it was let go while idle — unless someone
    /// committed since, which makes the run a conflict.
    pub(crate) fn read<T, E: From<StoreError>>(
        &self,
        store: &Store,
        f: impl FnOnce(&Connection, CacheUse) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut reads = self.lock();
        let epoch = reads.epoch;
        let conn = reads.reopened(store)?;
        let out = f(conn, CacheUse::Reader(epoch));
        reads.last_used = Instant::now();
        out
    }

    /// Ends the snapshot and gives the connection back to `store`'s pool; the run reads no
    /// more.
    pub(crate) fn end(&self, store: &Store) {
        let mut reads = self.lock();
        if let Some(reader) = reads.reader.take() {
            if reads.open {
                reader.rollback();
            }
            store.give_back_reader(reader);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Reads> {
        self.reads.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reads {
    /// The connection, its snapshot open (see [`RunSnapshot::read`]).
    fn reopened(&mut self, store: &Store) -> Result<&Connection> {
        let Some(reader) = &self.reader else {
            return Err(StoreError::RunOver("committed"));
        };
        if !self.open {
            let version = begin_on(reader)?;
            if version != self.version {
                reader.rollback();
                return Err(crate::run::changed_during_run(store));
            }
            self.open = true;
        }
        Ok(&reader.conn)
    }

    /// Ends the read transaction when it has been unused for the idle time; how long to
    /// wait before looking again otherwise, or `None` when the run reads no more.
    fn let_go_if_idle(&mut self) -> Option<Duration> {
        let reader = self.reader.as_ref()?;
        let unused = self.last_used.elapsed();
        if !self.open {
            return Some(self.idle);
        }
        if unused < self.idle {
            return Some(self.idle - unused);
        }
        reader.rollback();
        self.open = false;
        tracing::debug!("an idle run let its snapshot go");
        Some(self.idle)
    }
}

/// Begins a read transaction on `reader` and its snapshot: SQLite takes a snapshot at a
/// transaction's first read, here of the connection's `data_version`, which is returned. On
/// an error nothing is left open.
fn begin_on(reader: &Db) -> Result<i64> {
    reader.begin_deferred()?;
    reader.data_version().inspect_err(|_| reader.rollback())
}

/// Watches a run's snapshot until the run ends, letting it go whenever it is idle.
async fn let_go_while_idle(reads: Weak<Mutex<Reads>>, idle: Duration) {
    let mut wait = idle;
    loop {
        tokio::time::sleep(wait).await;
        let Some(reads) = reads.upgrade() else {
            return;
        };
        // An operation in progress is not idle: look again later.
        let next = match reads.try_lock() {
            Ok(mut reads) => reads.let_go_if_idle(),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                poisoned.into_inner().let_go_if_idle()
            }
            Err(std::sync::TryLockError::WouldBlock) => Some(idle),
        };
        match next {
            Some(next) => wait = next.max(Duration::from_millis(1)),
            None => return,
        }
    }
}
