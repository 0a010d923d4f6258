//! What the store's storage does, counted for benchmarks: which B-trees a workload's
//! commits rewrite, page by page.
//!
//! A commit appends one WAL frame per page it changed; every frame is checksummed and
//! written, and later copied into the database file. Frames per node write are a large
//! part of what a write costs, and what grows when a design's indexes grow: an index whose
//! new entries land all over it (a value shared by many nodes, each new node's entry at the
//! end of that value's run) changes a page per entry once it spans more pages than a
//! commit writes entries. Counting is off unless a caller starts it.

use std::collections::BTreeMap;
use std::path::Path;

/// The branch an `events` row written as a binary record names, read without decoding the
/// rest (the layout bench replays one branch's events); `None` for any other row.
pub fn stored_event_branch(data: &[u8]) -> Option<&str> {
    crate::events::stored::branch_of(data)
}

/// Starts counting the WAL frames that the stores of this process append, by store and
/// page number, dropping what an earlier count left.
pub fn count_wal_frames() {
    crate::vfs::count_frames(true);
}

/// Stops counting, and returns the frames the store at `database` appended since
/// [`count_wal_frames`], by the database page each holds (SQLite's `dbstat` table tells
/// which table or index a page belongs to). Empty when nothing was counted for it: the
/// store wrote nothing, or its connections do not write through the store's VFS (SQLite
/// was initialised before the store registered it).
pub fn counted_wal_frames(database: &Path) -> BTreeMap<u32, u64> {
    let wanted = std::fs::canonicalize(database).ok();
    crate::vfs::count_frames(false)
        .into_iter()
        .find(|(wal, _)| {
            let Some(db) = wal.strip_suffix("-wal") else {
                return false;
            };
            let db = Path::new(db);
            db == database || wanted.is_some() && std::fs::canonicalize(db).ok() == wanted
        })
        .map(|(_, pages)| pages)
        .unwrap_or_default()
}
