//! WAL checkpoints on a thread of their own, off the writer's path.
//!
//! In WAL mode a commit appends pages to the `-wal` file; a *checkpoint* copies them back
//! into the database file, and the WAL is reused once everything in it is copied. SQLite's
//! default runs the checkpoint inside the commit that takes the WAL past 1,000 pages: that
//! commit reads the pages back, writes them into the database file and waits for an
//! `fsync`. A generator run holds the store's write turn until its commit returns, so every
//! run queued behind it waited too. Measured on the cascade bench (64 copies of the seed,
//! 2 cores), checkpoints took 4% of the samples and the commit's `fsync` left the process
//! idle for ~8% of the wall time.
//!
//! Here the writer's connection only counts: after a commit leaves at least
//! [`Thresholds::background`] pages in the WAL, it wakes a thread that checkpoints on its
//! own connection (`PASSIVE`: it never waits for, nor blocks, a reader or the writer). If the
//! WAL still reaches [`Thresholds::inline`] pages — the thread cannot keep up — the writer
//! checkpoints inline, as SQLite's default would, so the WAL stays bounded whatever happens
//! to the thread. Durability is unchanged: a commit is in the WAL when it returns, and the
//! checkpoint copies only what is already committed.

use std::ffi::c_int;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::hooks::Wal;

/// The type of the writer's WAL hook (named to remove it: `wal_hook(None::<Hook>)`).
pub(crate) type Hook = fn(&mut Wal, c_int) -> rusqlite::Result<()>;

/// When the WAL is checkpointed, in pages (frames) left in it after a commit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Thresholds {
    /// The checkpointing thread is woken at this size: 16,000 pages (~64 MiB), sixteen
    /// times SQLite's default autocheckpoint. A page that several runs change between two
    /// checkpoints is copied into the database file once, and each checkpoint's two
    /// `fsync`s are paid for that many more pages. Counted on a 16× cascade build (strace),
    /// 1,000 → 4,000 pages took 869 → 403 `fsync`s, 383,977 → 350,993 `pwrite`s and
    /// 159,528 → 126,601 `pread`s; over a 64× bench run (its seeds included), 4,000 →
    /// 16,000 took 1,308 → 721 `fsync`s, 261,530 → 202,454 `pwrite`s and 466,338 → 406,998
    /// `pread`s, and the checkpoints' CPU from 5.4 to 3.1 µs per node write (alternated
    /// runs, 2026-12-06: 64× at 73.4–76.8 µs per write before, 68.4–71.9 after). The WAL
    /// index then spans four segments of 4,096 frames, so a lookup of a page absent from
    /// the WAL probes four hash tables instead of one: the runs' queries, which make such
    /// lookups, measured the same (6.1 and 6.2 µs per write).
    pub background: c_int,
    /// The writer checkpoints inline at this size (~128 MiB of 4 KiB pages): the WAL's
    /// bound on disk while the thread cannot keep up.
    pub inline: c_int,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            background: 16_000,
            inline: 32_000,
        }
    }
}

/// Moves `writer`'s checkpoints to a thread that checkpoints through `checkpointer`, another
/// connection to the same file, and returns the thread; it ends when `writer` is closed.
/// Where no thread can be started, the writer keeps SQLite's default (inline) checkpoints.
pub(crate) fn run_in_background(
    writer: &mut Connection,
    checkpointer: Connection,
    path: &str,
    thresholds: Thresholds,
) -> rusqlite::Result<Option<JoinHandle<()>>> {
    // One pending wake-up is enough: the thread checkpoints everything committed so far.
    let (wake, woken) = std::sync::mpsc::sync_channel(1);
    let thread_path = path.to_owned();
    let spawned = std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || checkpoint_when_woken(&checkpointer, &woken, &thread_path));
    let thread = match spawned {
        Ok(thread) => thread,
        Err(error) => {
            tracing::warn!(path, %error, "no checkpointing thread: commits checkpoint inline");
            return Ok(None);
        }
    };
    let path = path.to_owned();
    writer.wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
        after_commit(wal, pages, thresholds, &wake, &path);
        // The transaction is committed when this runs: an error here would make the
        // COMMIT report a failure for a transaction that is in the WAL.
        Ok(())
    }))?;
    Ok(Some(thread))
}

/// What the writer does after each commit, with `pages` in the WAL.
fn after_commit(
    wal: &mut Wal,
    pages: c_int,
    thresholds: Thresholds,
    wake: &SyncSender<()>,
    path: &str,
) {
    if pages >= thresholds.inline {
        tracing::debug!(
            path,
            pages,
            "the WAL outgrew the checkpointing thread: inline"
        );
        let checkpointed = {
            let _phase = tracing::trace_span!("wal_checkpoint").entered();
            wal.checkpoint()
        };
        match checkpointed {
            Ok(()) => {}
            // The thread is checkpointing right now: it copies these pages too.
            Err(error) if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                tracing::debug!(path, pages, "inline checkpoint skipped: one is running");
            }
            Err(error) => tracing::warn!(path, pages, %error, "inline checkpoint failed"),
        }
    } else if pages >= thresholds.background {
        match wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {
                tracing::warn!(path, pages, "the checkpointing thread is gone");
            }
        }
    }
}

/// The checkpointing thread: one `PASSIVE` checkpoint per wake-up, until the writer's
/// connection (which holds the sender) is closed.
fn checkpoint_when_woken(conn: &Connection, woken: &Receiver<()>, path: &str) {
    while woken.recv().is_ok() {
        let _phase = tracing::trace_span!("wal_checkpoint").entered();
        let checkpointed = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        match checkpointed {
            Ok((in_wal, copied)) => tracing::trace!(path, in_wal, copied, "checkpointed"),
            Err(error) => tracing::warn!(path, %error, "checkpoint failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use super::*;

    const PAGE: u64 = 4096;

    /// A WAL database at `path` with table `t`, and the connection that writes it.
    fn writer(path: &Path) -> Connection {
        // As the store's own connections are (see `persistence::configure_sqlite`).
        crate::persistence::configure_sqlite();
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "page_size", PAGE as i64).unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, data BLOB NOT NULL)")
            .unwrap();
        conn
    }

    /// `commits` transactions of one row of about a page each.
    fn write(conn: &Connection, commits: usize) {
        for _ in 0..commits {
            conn.execute("INSERT INTO t (data) VALUES (randomblob(3500))", [])
                .unwrap();
        }
    }

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    fn wal(path: &Path) -> std::path::PathBuf {
        path.with_file_name(format!(
            "{}-wal",
            path.file_name().unwrap().to_string_lossy()
        ))
    }

    #[test]
    fn the_thread_copies_committed_pages_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut conn = writer(&path);
        let thresholds = Thresholds {
            background: 8,
            inline: c_int::MAX,
        };
        let checkpointer = Connection::open(&path).unwrap();
        let thread = run_in_background(&mut conn, checkpointer, "store.db", thresholds)
            .unwrap()
            .expect("a checkpointing thread");
        let before = size(&path);
        // Far below SQLite's own 1,000 pages: only the thread copies anything.
        write(&conn, 100);
        let deadline = Instant::now() + Duration::from_secs(30);
        while size(&path) < before + 90 * PAGE && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            size(&path) >= before + 90 * PAGE,
            "the database file holds {} bytes, {before} before 100 pages were committed",
            size(&path)
        );
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 100);
        // Closing the writer ends the thread.
        conn.close().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            thread.is_finished(),
            "the checkpointing thread outlived its writer"
        );
    }

    #[test]
    fn the_writer_checkpoints_inline_when_the_wal_outgrows_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut conn = writer(&path);
        // The thread is never woken: only the inline bound keeps the WAL small.
        let thresholds = Thresholds {
            background: c_int::MAX,
            inline: 16,
        };
        let checkpointer = Connection::open(&path).unwrap();
        run_in_background(&mut conn, checkpointer, "store.db", thresholds).unwrap();
        write(&conn, 300);
        // Each commit adds two or three frames (the row's page, the table's root) to a WAL
        // that restarts from its beginning once checkpointed.
        let wal_pages = size(&wal(&path)) / (PAGE + 24);
        assert!(
            wal_pages <= 16 + 4,
            "the WAL holds {wal_pages} pages after 300 commits"
        );
        assert!(
            size(&path) >= 280 * PAGE,
            "the database file holds {} bytes after 300 commits",
            size(&path)
        );
    }
}
