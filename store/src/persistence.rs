//! SQLite persistence: one file per store, WAL journal, one transaction per mutation.
//!
//! Tables: `meta` (counters, the schema hash), `run_claims`, `runs` (the run queue and history,
//! see `run_queue`), `schema_files`, `branches`, the graph, `events`
//! (the durable event log) and `tokens` (sha256 of API tokens).
//!
//! The graph is stored field by field, so that a write touches the rows of what it changed
//! and a lookup is an index probe:
//! - `node (id, branch, kind, live, rev, base_rev)`: one row per node on `main` (`rev` is
//!   bumped whenever the node changes); on a branch, a row only for a node created there
//!   (`live = 1`) or deleted there (`live = 0`, `base_rev` = main's `rev` when deleted);
//! - `attrs (id, branch, kind, data, bases)`: one row per node on `main` with its set
//!   attributes; on a branch, one per node with the attributes the branch changed (`null` =
//!   unset there), with main's values when it first did (`bases`) for the three-way merge;
//!   `value_key (attr, key, branch, id)` indexes every value by its text form, `attr`
//!   being the kind and attribute's number in `attr_name` (see `graph::attrs`). Stores
//!   written before kept one `attr` row per attribute, and the index by the names' text
//!   (`attr_key`);
//! - `link (src, rel, dst, branch, pos, live, base)`: one row per relationship instance (both
//!   sides, under the identifier they share, `rel` being its number in `rel_name`; see
//!   `graph::links`) on `main`; on a branch, one per instance it added or removed, with
//!   whether main had it when it first did (`base`); `pos` keeps insertion order; indexed by
//!   `dst` too (`link_in`, which holds every column a read from `dst` needs). Stores written
//!   before kept a row per side in `edge`, and then the identifier's text in `rel`;
//! - `ip`: the IPAM index (see `graph::ip_index`).
//!
//! Node ids in these tables are a UUID's 16 bytes, or an id's text when it is not a
//! canonical UUID (see [`crate::stored_id`]); stores written before held text and are
//! converted once when opened ([`Db::convert_text_ids`]).

use crate::NodeId;
use crate::error::{Result, StoreError};
use crate::events::Event;
use crate::node::{Node, value_key};
use crate::rows::{Insert, Row};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::thread::JoinHandle;

/// Every table and index of the store, each `IF NOT EXISTS`: run at every open, and again
/// by a move of an older layout that drops a table with its indexes (see
/// `graph::links::migrate_rel_numbers`).
pub(crate) const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run_claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, taken_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, branch TEXT NOT NULL, generator TEXT NOT NULL,
    target TEXT NOT NULL, target_label TEXT NOT NULL, status TEXT NOT NULL, causes TEXT NOT NULL,
    attempt INTEGER NOT NULL, owner TEXT NOT NULL, covers INTEGER, queued_at INTEGER NOT NULL,
    started_at INTEGER, finished_at INTEGER, created INTEGER, kept INTEGER, deleted INTEGER,
    updated INTEGER, error TEXT, log TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (branch, generator, target, status);
CREATE INDEX IF NOT EXISTS runs_open ON runs (status, branch);
CREATE TABLE IF NOT EXISTS schema_files (position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS branches (name TEXT PRIMARY KEY, created_seq INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS branch_info (name TEXT PRIMARY KEY, description TEXT NOT NULL, sync_with_git INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS node (
    id TEXT NOT NULL, branch TEXT NOT NULL, kind TEXT NOT NULL,
    live INTEGER NOT NULL, rev INTEGER NOT NULL, base_rev INTEGER,
    PRIMARY KEY (id, branch)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS node_by_kind ON node (kind, branch, live);
-- One row per attribute, as stores were written before `attrs`: left empty once a store is
-- opened (older layouts are moved through it, see graph::attrs::migrate_attribute_rows).
CREATE TABLE IF NOT EXISTS attr (
    id TEXT NOT NULL, branch TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    value TEXT, key TEXT, base TEXT, has_base INTEGER NOT NULL,
    PRIMARY KEY (id, branch, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attr_by_key ON attr (kind, name, key, branch);
CREATE TABLE IF NOT EXISTS attrs (
    id TEXT NOT NULL, branch TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL, bases TEXT,
    PRIMARY KEY (id, branch)
) WITHOUT ROWID;
-- The value index as stores were written before `value_key`: left empty once a store is
-- opened (see graph::attrs::migrate_value_index).
CREATE TABLE IF NOT EXISTS attr_key (
    kind TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL, branch TEXT NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (kind, name, key, branch, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attr_name (
    n INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (kind, name)
);
CREATE TABLE IF NOT EXISTS value_key (
    attr INTEGER NOT NULL, key TEXT NOT NULL, branch TEXT NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (attr, key, branch, id)
) WITHOUT ROWID;
-- One row per side of a relationship, as stores were written before `link`: left empty once
-- a store is opened (see graph::links::migrate_edge_rows).
CREATE TABLE IF NOT EXISTS edge (
    id TEXT NOT NULL, rel TEXT NOT NULL, peer TEXT NOT NULL, branch TEXT NOT NULL,
    pos INTEGER NOT NULL, live INTEGER NOT NULL, base INTEGER,
    PRIMARY KEY (id, rel, peer, branch)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edge_in ON edge (peer, rel, branch, live);
-- `rel` is the relationship identifier's number in `rel_name` (stores of layout 2 and before
-- held the identifier itself: see graph::links::migrate_rel_numbers).
CREATE TABLE IF NOT EXISTS rel_name (n INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS link (
    src TEXT NOT NULL, rel INTEGER NOT NULL, dst TEXT NOT NULL, branch TEXT NOT NULL,
    pos INTEGER NOT NULL, live INTEGER NOT NULL, base INTEGER,
    PRIMARY KEY (src, rel, dst, branch)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS link_in ON link (dst, rel, branch, live, pos);
CREATE TABLE IF NOT EXISTS ip (
    id TEXT NOT NULL, branch TEXT NOT NULL, ns TEXT NOT NULL,
    family INTEGER NOT NULL, is_addr INTEGER NOT NULL, lo BLOB NOT NULL, hi BLOB NOT NULL,
    plen INTEGER NOT NULL, live INTEGER NOT NULL,
    PRIMARY KEY (id, branch)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ip_by_range ON ip (family, is_addr, lo);
CREATE TABLE IF NOT EXISTS branch_rows (
    branch TEXT NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (branch, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, scope TEXT NOT NULL DEFAULT 'admin');
";

/// How many prepared statements each connection keeps (see [`connect`]).
const STATEMENT_CACHE: usize = 256;

/// The nodes with rows of their own on each branch (`branch_rows`): every commit on a
/// branch lists the nodes it writes there (a superset: a branch-agnostic node written from a
/// branch has its rows on main), and a merge or a deletion of the branch takes its nodes out.
/// What reads a whole branch — a merge, its validation, the count of its changes, deleting it
/// — starts from this list instead of reading every row of the graph to find the branch's:
/// on a store of 1,000,000 nodes, a branch of one change took ~1 s to merge and ~0.4 s to
/// list that way.
pub(crate) const BRANCH_ROWS: &str = "branch_rows";

/// Lists nodes with their branch, several to a statement (see [`list_branch_nodes`]).
const LIST_BRANCH_NODES: Insert = Insert {
    head: "INSERT OR IGNORE INTO branch_rows (branch, id)",
    tuple: "(?, ?)",
    most: 64,
};

/// Lists `ids` with `branch` in [`BRANCH_ROWS`] (those already listed stay as they are),
/// several to a statement: a commit on a branch lists every node it writes.
pub(crate) fn list_branch_nodes(
    conn: &Connection,
    branch: &str,
    ids: &[&str],
) -> rusqlite::Result<()> {
    let rows: Vec<Row<'_, 2>> = ids
        .iter()
        .map(|id| [ToSqlOutput::from(branch), crate::stored_id::key(id)])
        .collect();
    LIST_BRANCH_NODES.run(conn, &rows)?;
    Ok(())
}

/// Whether node `id` is listed with `branch` in [`BRANCH_ROWS`]: whether the branch has rows
/// of its own for it.
pub(crate) fn branch_lists_node(
    conn: &Connection,
    branch: &str,
    id: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM branch_rows WHERE branch = ?1 AND id = ?2")?
        .exists(rusqlite::params![branch, crate::stored_id::Id::of(id)])
}

/// The nodes listed with `branch` in [`BRANCH_ROWS`].
pub(crate) fn branch_node_ids(conn: &Connection, branch: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached("SELECT id FROM branch_rows WHERE branch = ?1")?
        .query_map([branch], |r| Ok(r.get::<_, crate::stored_id::Stored>(0)?.0))?
        .collect()
}

/// How many nodes branch `?1` changed: those listed with it that still have rows there.
const BRANCH_CHANGES: &str = "SELECT COUNT(*) FROM branch_rows r WHERE r.branch = ?1 \
     AND (EXISTS (SELECT 1 FROM node WHERE id = r.id AND branch = r.branch) \
     OR EXISTS (SELECT 1 FROM attrs WHERE id = r.id AND branch = r.branch) \
     OR EXISTS (SELECT 1 FROM link WHERE src = r.id AND branch = r.branch) \
     OR EXISTS (SELECT 1 FROM link WHERE dst = r.id AND branch = r.branch))";

/// The tables holding the graph's rows keyed by node id and branch. The attributes' value
/// index (`value_key`) is not: its entries go with their `attrs` row, through
/// [`crate::graph::attrs::remove_keys`], before the row; nor is `link`, keyed by both ends.
pub(crate) const GRAPH_TABLES: [&str; 3] = ["node", "attrs", "ip"];

/// Deletes branch `?1`'s rows from `table`, found through the nodes listed with it: by
/// `column`, the node id (`src` or `dst` of a `link` row, either end being listed).
fn delete_branch_rows(table: &str, column: &str) -> String {
    format!(
        "DELETE FROM {table} WHERE branch = ?1 \
         AND {column} IN (SELECT id FROM branch_rows WHERE branch = ?1)"
    )
}

/// Every table and column [`delete_branch_rows`] removes a branch's rows by.
const BRANCH_ROW_KEYS: [(&str, &str); 5] = [
    ("node", "id"),
    ("attrs", "id"),
    ("link", "src"),
    ("link", "dst"),
    ("ip", "id"),
];

/// [`crate::graph::links::settle_orders`] in the caller's write transaction on the store
/// at `path`, saying when rows were turned round.
fn settle_link_orders_in(
    conn: &Connection,
    path: &str,
    schema: &crate::schema::Schema,
) -> Result<()> {
    let turned = crate::graph::links::settle_orders(conn, schema).map_err(StoreError::db(path))?;
    if turned > 0 {
        tracing::info!(
            path,
            identifiers = turned,
            "relationship rows turned round for the schema's order"
        );
    }
    Ok(())
}

/// Writes events, several to a statement (see [`Db::write_events`]).
const INSERT_EVENTS: Insert = Insert {
    head: "INSERT INTO events (seq, data)",
    tuple: "(?, ?)",
    most: 32,
};

/// The `meta` key saying `branch_rows` was filled from the rows of a store written before it.
const BRANCH_ROWS_FILLED: &str = "branch_rows_filled";

/// The `meta` key saying both ends of every relationship row on a branch are listed in
/// `branch_rows`: commits before it listed only the nodes they changed, and missed the end
/// of a row whose side of the relationship no loaded schema declared (a schema loaded
/// later that declares it would show that node's view on `main` on the branch).
const BRANCH_ROWS_LINK_ENDS: &str = "branch_rows_link_ends";

/// The `meta` key holding when the store began.
pub(crate) const CREATED_AT: &str = "created_at";

/// The `meta` key holding the layout of the store's tables (see [`LAYOUT`]).
const LAYOUT_KEY: &str = "layout";

/// The layout of the tables this binary writes; it reads every older one, converting it
/// when it opens the store. Each change a binary before it could not read raises it: a
/// binary refuses a store in a newer layout, before reading or changing anything, rather
/// than misread it — a binary from before ids were stored as bytes (`bbcd898`) finds no node
/// by id in a converted store and would write beside them as if they were not there.
/// Layout 1: ids as UUID bytes ([`crate::stored_id`]), attribute rows per node (`attrs`),
/// relationship rows once per relationship (`link`), `branch_rows`. Binaries from before
/// this key never check it: the README says to stop them before upgrading. Layout 2: the
/// value index keyed by attribute number (`value_key`, `attr_name`); a layout-1 binary
/// would find no value in it. Layout 3: relationship rows keyed by the identifier's number
/// (`link.rel`, `rel_name`), and events written as binary records
/// ([`crate::events::stored`]); a layout-2 binary would find no relationship and could
/// not read the new events (the rows written before stay text, and read as they did).
const LAYOUT: u32 = 3;

/// Whether the database has a table or an index (`kind`) named `name`: asked once at open,
/// so not kept in the statement cache.
fn schema_has(conn: &Connection, kind: &str, name: &str) -> rusqlite::Result<bool> {
    conn.prepare("SELECT 1 FROM sqlite_master WHERE type = ?1 AND name = ?2")?
        .exists([kind, name])
}

/// The layout the store's `meta` names; 0 for a new store or one from before the key.
fn stored_layout(conn: &Connection, path: &str) -> Result<u32> {
    let has_meta = schema_has(conn, "table", "meta").map_err(StoreError::db(path))?;
    if !has_meta {
        return Ok(0);
    }
    let value: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [LAYOUT_KEY], |r| {
            r.get(0)
        })
        .optional()
        .map_err(StoreError::db(path))?;
    value.map_or(Ok(0), |value| {
        value.parse().map_err(|_| StoreError::Corrupted {
            path: path.to_owned(),
            detail: format!("meta `{LAYOUT_KEY}` is `{value}`, not a layout number"),
        })
    })
}

/// Refuses a store in a layout newer than [`LAYOUT`], before anything reads or converts it.
fn refuse_newer_layout(conn: &Connection, path: &str) -> Result<()> {
    let found = stored_layout(conn, path)?;
    if found > LAYOUT {
        return Err(StoreError::NewerLayout {
            path: path.to_owned(),
            found,
            known: LAYOUT,
        });
    }
    Ok(())
}

/// `branch` must exist (main always does), or the operation fails as Infrahub's does.
pub(crate) fn check_branch(conn: &Connection, branch: &str) -> Result<()> {
    if branch != crate::graph::MAIN && !branch_exists(conn, branch)? {
        return Err(StoreError::BranchNotFound(branch.to_owned()));
    }
    Ok(())
}

/// Whether `name` is an existing branch (other than main).
pub(crate) fn branch_exists(conn: &Connection, name: &str) -> Result<bool> {
    conn.prepare_cached("SELECT 1 FROM branches WHERE name = ?1")
        .and_then(|mut st| st.exists([name]))
        .map_err(StoreError::db_of(conn))
}

/// The next write revision (a counter kept in `meta`, bumped inside the caller's transaction).
pub(crate) fn next_rev(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('rev', '1') \
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING CAST(value AS INTEGER)",
    )?
    .query_row([], |r| r.get(0))
}

/// `contains_ignore_case(hay, needle)`: Infrahub's `partial_match` on two texts, in SQL.
pub(crate) const CONTAINS_FUNCTION: &str = "contains_ignore_case";

/// How much of a statement's journal SQLite keeps in memory before moving it to a temporary
/// file (its default is 64 KiB). Inside a transaction, each statement that may fail half-way
/// journals the pages it changes, so that it alone can be undone; once one statement's
/// journal outgrows the threshold — a node's attributes written in one statement change a
/// leaf of the value index per attribute — every later statement of the transaction writes
/// its journal to that file, a `pwrite` per page: a run's commit wrote more to temporary
/// files than to the WAL. 4 MiB holds the journal of any statement writing a few nodes'
/// rows, and still bounds the memory of a bulk statement (a branch's rows deleted).
const STATEMENT_JOURNAL_IN_MEMORY: std::ffi::c_int = 4 << 20;

/// The page cache of a store's own connection, the one every write goes through, in KiB
/// (SQLite's default is 2 MiB). A run's commit dirties every page its writes touch at
/// once; past the cache's size SQLite spills dirty pages into the WAL before the commit,
/// and they are written again if touched again, and a lookup of a page the cache lost is
/// a `pread` of the WAL or the file. Pages are cached as they are read, so a small store
/// never fills it; the read pool's connections keep SQLite's default: each loses its
/// cache at the next commit anyway.
const WRITER_CACHE_KIB: u32 = 32 << 10;

/// What configuring SQLite for the process returned (see [`configure_sqlite`]).
static SQLITE_CONFIGURED: std::sync::OnceLock<std::ffi::c_int> = std::sync::OnceLock::new();

/// Configures SQLite for this process, once, before its first connection: the statement
/// journal threshold ([`STATEMENT_JOURNAL_IN_MEMORY`]), the page cache
/// ([`crate::page_cache`]), and no memory statistics — with
/// them, every allocation SQLite makes (a copy of each text bound to a statement, ~100,000
/// per seed build) takes a process-wide mutex to count itself, and nothing here reads the
/// counts. Returns SQLite's result code (the first failure's); a process that used SQLite
/// before opening a store gets `SQLITE_MISUSE`, and its stores work with SQLite's
/// defaults.
pub(crate) fn configure_sqlite() -> std::ffi::c_int {
    *SQLITE_CONFIGURED.get_or_init(|| {
        // SAFETY: `sqlite3_config` must not run concurrently with any other use of SQLite,
        // and only before SQLite is initialised. Every connection of this crate is opened
        // by `connect`, which calls this first, and `get_or_init` runs it once while any
        // other caller waits. Called after SQLite was initialised (by another user of it in
        // the process), it changes nothing and returns `SQLITE_MISUSE`.
        let spill = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_STMTJRNL_SPILL,
                STATEMENT_JOURNAL_IN_MEMORY,
            )
        };
        // SAFETY: as above.
        let statistics = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                std::ffi::c_int::from(false),
            )
        };
        // SQLite's page cache without its walk of every page at each commit (see
        // `page_cache`).
        let page_cache = crate::page_cache::install();
        let code = [spill, statistics, page_cache]
            .into_iter()
            .find(|&code| code != rusqlite::ffi::SQLITE_OK)
            .unwrap_or(rusqlite::ffi::SQLITE_OK);
        if code != rusqlite::ffi::SQLITE_OK {
            tracing::warn!(
                code,
                "SQLite was in use before the store: it keeps its default statement journal \
                 threshold, page cache and memory statistics"
            );
        }
        code
    })
}

/// A connection to the store file, set up as every connection of the store is.
fn connect(path: &str) -> Result<Connection> {
    configure_sqlite();
    // Through the store's VFS (see `vfs`): a commit's WAL frames in one write.
    let conn = match crate::vfs::register() {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs),
        None => Connection::open(path),
    }
    .map_err(StoreError::db(path))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(StoreError::db(path))?;
    // The query planner's stability guarantee: a plan never depends on the values bound
    // to it. Without it SQLite re-prepares a join on an equality with a parameter
    // (`link.dst = ?1` joined to the value index) at every execution: 12% of a cascade's CPU
    // went to parsing the same identity lookup again and again.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(StoreError::db(path))?;
    // Every statement a connection runs stays prepared. A commit's multi-row inserts are
    // one statement per row count (`rows::Insert`), so the writer cycles through more than
    // 64 texts: with that capacity a seed build prepared 166 statements (~75,000
    // instructions each), 52 of them again after the cache had let them go; with 256, 114,
    // each connection's first use of each.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // `partial_match` filters narrow with it in SQL, on the same text and with the same
    // rule as the filter's own check (see `graph::Tx::ids_containing`).
    conn.create_scalar_function(
        CONTAINS_FUNCTION,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let hay = ctx.get_raw(0).as_str_or_null()?;
            let needle = ctx.get_raw(1).as_str_or_null()?;
            Ok(matches!((hay, needle), (Some(hay), Some(needle))
                if crate::node::contains_ignore_case(hay, needle)))
        },
    )
    .map_err(StoreError::db(path))?;
    Ok(conn)
}

/// The database connection and its file path.
pub(crate) struct Db {
    pub conn: Connection,
    pub path: String,
    /// The thread that checkpoints the WAL for `conn` (see `checkpoint`), joined on drop.
    checkpointer: Option<JoinHandle<()>>,
}

impl Drop for Db {
    /// Ends the checkpointing thread before the connection closes: the last connection
    /// to close checkpoints the WAL into the database file and removes it, so that once
    /// a store is dropped (a CLI command returns) its file holds every commit on its own.
    fn drop(&mut self) {
        let Some(thread) = self.checkpointer.take() else {
            return;
        };
        // Dropping the hook drops the thread's wake-up sender: it returns.
        if let Err(error) = self.conn.wal_hook(None::<crate::checkpoint::Hook>) {
            tracing::warn!(path = %self.path, %error, "could not stop the checkpointing thread");
            return;
        }
        if thread.join().is_err() {
            tracing::warn!(path = %self.path, "the checkpointing thread panicked");
        }
    }
}

impl Db {
    /// Open (creating) the database file and its tables.
    pub fn open(path: &str) -> Result<Self> {
        let mut conn = connect(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(StoreError::db(path))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(StoreError::db(path))?;
        conn.pragma_update(None, "cache_size", -(WRITER_CACHE_KIB as i64))
            .map_err(StoreError::db(path))?;
        // Before the tables are created: a newer layout may have dropped some.
        refuse_newer_layout(&conn, path)?;
        conn.execute_batch(SCHEMA_SQL)
            .map_err(StoreError::db(path))?;
        // Commits leave checkpoints to a thread (see `checkpoint`).
        let checkpointer = if path == ":memory:" {
            None
        } else {
            match connect(path) {
                Ok(checkpointer) => crate::checkpoint::run_in_background(
                    &mut conn,
                    checkpointer,
                    path,
                    crate::checkpoint::Thresholds::default(),
                )
                .map_err(StoreError::db(path))?,
                // Without a second connection the store still works, checkpointing inline.
                Err(error) => {
                    tracing::warn!(path, %error, "no checkpointing connection: commits checkpoint inline");
                    None
                }
            }
        };
        let mut db = Self {
            conn,
            path: path.to_string(),
            checkpointer,
        };
        db.migrate_whole_node_rows()?;
        if crate::graph::attrs::migrate_attribute_rows(&mut db.conn)
            .map_err(StoreError::db(path))?
        {
            tracing::info!(
                path,
                "attribute rows stored as one row per node and branch (once)"
            );
        }
        db.migrate_token_scopes()?;
        db.drop_replaced_edge_indexes()?;
        db.fill_branch_rows()?;
        // When the store began (main's `branched_from`); a store older than this key
        // gets the time it was first opened with it. Read first: writing on every open
        // would wait for any other process's write transaction.
        if db.meta(CREATED_AT)?.is_none() {
            db.conn
                .execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
                    [CREATED_AT, &crate::clock::now()],
                )
                .map_err(StoreError::db(path))?;
        }
        Ok(db)
    }

    /// Another connection to a store file [`Db::open`] set up, for reading only (see
    /// `Store`'s read pool): WAL lets it read while the store's connection writes.
    pub fn open_reader(path: &str) -> Result<Self> {
        // Opened as the store's connection is (WAL readers share its `-shm` file), and
        // then refused any write.
        let conn = connect(path)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(StoreError::db(path))?;
        Ok(Self {
            conn,
            path: path.to_string(),
            checkpointer: None,
        })
    }

    /// Incoming edges were first indexed by peer and branch alone (`edge_by_peer`): finding
    /// a template's interfaces read every device made from the template too (they point at
    /// it through another relationship). Then by peer, relationship and branch
    /// (`edge_by_peer_rel`), which left each edge's `live` to be read from the table, one
    /// more B-tree search per incoming edge: a rack run lists its spines' interfaces
    /// through hundreds of them. `edge_in` (`SCHEMA`) holds `live` too and replaces both;
    /// an old index goes once the new one is built.
    fn drop_replaced_edge_indexes(&mut self) -> Result<()> {
        for index in ["edge_by_peer", "edge_by_peer_rel"] {
            // Looked up first: dropping takes the write lock, which another process may hold.
            // `IF EXISTS` all the same: a process opening the store at the same moment may
            // have dropped it since.
            let old = schema_has(&self.conn, "index", index).map_err(self.err())?;
            if old {
                tracing::info!(path = %self.path, index, "incoming edges reindexed as edge_in (once)");
                self.conn
                    .execute_batch(&format!("DROP INDEX IF EXISTS {index}"))
                    .map_err(self.err())?;
            }
        }
        Ok(())
    }

    /// Stores written before `branch_rows` existed: every node with rows on a branch is
    /// listed there, from the rows themselves — one pass over the graph's tables, once per
    /// store (see [`BRANCH_ROWS`]; 0.44 s for a store of 1,000,000 nodes). Then, once, both
    /// ends of every relationship row on a branch (see [`BRANCH_ROWS_LINK_ENDS`]).
    fn fill_branch_rows(&mut self) -> Result<()> {
        self.once(BRANCH_ROWS_FILLED, |tx| {
            tx.execute_batch(
                "INSERT OR IGNORE INTO branch_rows (branch, id) \
                 SELECT branch, id FROM node WHERE branch <> 'main' \
                 UNION SELECT branch, id FROM attrs WHERE branch <> 'main' \
                 UNION SELECT branch, id FROM edge WHERE branch <> 'main' \
                 UNION SELECT branch, src FROM link WHERE branch <> 'main' \
                 UNION SELECT branch, dst FROM link WHERE branch <> 'main' \
                 UNION SELECT branch, id FROM ip WHERE branch <> 'main';",
            )
        })?;
        self.once(BRANCH_ROWS_LINK_ENDS, |tx| {
            tx.execute_batch(
                "INSERT OR IGNORE INTO branch_rows (branch, id) \
                 SELECT branch, src FROM link WHERE branch <> 'main' \
                 UNION SELECT branch, dst FROM link WHERE branch <> 'main';",
            )
        })
    }

    /// Runs `change` once per store: unless `meta` holds `key`, in one write transaction
    /// that notes `key` with what it changed. Looked up first, because the transaction
    /// takes the write lock, which another process may hold; again inside it, because
    /// another process may have made the change meanwhile.
    fn once(
        &mut self,
        key: &str,
        change: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<()> {
        if self.meta(key)?.is_some() {
            return Ok(());
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::db(&path))?;
        let done = tx
            .query_row("SELECT 1 FROM meta WHERE key = ?1", [key], |_| Ok(()))
            .optional()
            .map_err(StoreError::db(&path))?
            .is_some();
        if !done {
            change(&tx).map_err(StoreError::db(&path))?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, '1')",
                [key],
            )
            .map_err(StoreError::db(&path))?;
        }
        tx.commit().map_err(StoreError::db(&path))
    }

    /// Notes that the store is in this binary's [`LAYOUT`], once every older layout is
    /// converted: read first, since writing takes the write lock another process may hold.
    pub(crate) fn note_layout(&mut self) -> Result<()> {
        if stored_layout(&self.conn, &self.path)? >= LAYOUT {
            return Ok(());
        }
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                rusqlite::params![LAYOUT_KEY, LAYOUT.to_string()],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Tokens created before scopes existed could do everything; they keep `admin`.
    fn migrate_token_scopes(&mut self) -> Result<()> {
        let has_scope: bool = self
            .conn
            .prepare("SELECT 1 FROM pragma_table_info('tokens') WHERE name = 'scope'")
            .and_then(|mut st| st.exists([]))
            .map_err(self.err())?;
        if !has_scope {
            self.conn
                .execute_batch("ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'")
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// Stores written before ids were stored as a UUID's bytes hold them as text: they are
    /// converted once (see [`crate::stored_id`]), in one transaction, after every other
    /// move of an older layout (those read and write the ids as text).
    pub(crate) fn convert_text_ids(&mut self) -> Result<()> {
        let path = self.path.clone();
        self.once(crate::stored_id::META_KEY, |tx| {
            if crate::stored_id::convert_text_ids(tx)? {
                tracing::info!(path, "node ids stored as their UUID's bytes (once)");
            }
            Ok(())
        })
    }

    /// Stores written before the graph was kept field by field have a `nodes` table of whole
    /// nodes (a branch row: the branch's version and the main version it was copied from).
    /// Turn it into field rows, once, in one transaction. Such a store holds its ids as
    /// text: this runs before they are converted ([`Db::convert_text_ids`]).
    fn migrate_whole_node_rows(&mut self) -> Result<()> {
        if !schema_has(&self.conn, "table", "nodes").map_err(self.err())? {
            return Ok(());
        }
        let path = self.path.clone();
        let e = StoreError::db(&path);
        let tx = self.conn.transaction().map_err(StoreError::db(&path))?;
        // (branch, id, kind, data, base) of every whole-node row.
        type WholeRow = (String, String, String, Option<String>, Option<String>);
        let rows: Vec<WholeRow> = {
            let mut st = tx
                .prepare("SELECT branch, id, kind, data, base FROM nodes ORDER BY id")
                .map_err(StoreError::db(&path))?;
            let mapped = st
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(StoreError::db(&path))?;
            mapped
                .collect::<rusqlite::Result<_>>()
                .map_err(StoreError::db(&path))?
        };
        let parse = |id: &str, t: Option<String>| -> Result<Option<Node>> {
            t.map(|t| {
                serde_json::from_str(&t).map_err(|err| StoreError::Corrupted {
                    path: path.clone(),
                    detail: format!("node {id}: {err}"),
                })
            })
            .transpose()
        };
        let mut pos = 0i64;
        let count = rows.len();
        for (branch, id, kind, data, base) in rows {
            let (data, base) = (parse(&id, data)?, parse(&id, base)?);
            let plain = branch == "main" || base.is_none();
            let put_attr = |name: &str, v: &serde_json::Value, b: Option<&serde_json::Value>| {
                let text = (!v.is_null()).then(|| v.to_string());
                let base = b.filter(|b| !b.is_null()).map(|b| b.to_string());
                tx.execute(
                    "INSERT OR REPLACE INTO attr (id, branch, name, kind, value, key, base, has_base) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![id, branch, name, kind, text, value_key(v), base, b.is_some()],
                )
            };
            match (&data, &base) {
                (Some(n), None) | (Some(n), Some(_)) if plain => {
                    tx.execute(
                        "INSERT OR REPLACE INTO node (id, branch, kind, live, rev) VALUES (?1, ?2, ?3, 1, 0)",
                        params![id, branch, kind],
                    )
                    .map_err(StoreError::db(&path))?;
                    for (name, v) in &n.attrs {
                        put_attr(name, v, None).map_err(StoreError::db(&path))?;
                    }
                    for (rel, peers) in &n.rels {
                        for peer in peers {
                            pos += 1;
                            tx.execute(
                                "INSERT OR IGNORE INTO edge (id, rel, peer, branch, pos, live) VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                                params![id, rel, peer.as_str(), branch, pos],
                            )
                            .map_err(StoreError::db(&path))?;
                        }
                    }
                }
                (None, _) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO node (id, branch, kind, live, rev, base_rev) VALUES (?1, ?2, ?3, 0, 0, 0)",
                        params![id, branch, kind],
                    )
                    .map_err(StoreError::db(&path))?;
                }
                (Some(n), base) => {
                    let empty = Node {
                        id: NodeId::new(&id),
                        kind: kind.clone(),
                        attrs: Default::default(),
                        rels: Default::default(),
                    };
                    let b = base.as_ref().unwrap_or(&empty);
                    let names: std::collections::BTreeSet<&String> =
                        n.attrs.keys().chain(b.attrs.keys()).collect();
                    for name in names {
                        if n.attr(name) != b.attr(name) {
                            put_attr(name, n.attr(name), Some(b.attr(name)))
                                .map_err(StoreError::db(&path))?;
                        }
                    }
                    let rels: std::collections::BTreeSet<&String> =
                        n.rels.keys().chain(b.rels.keys()).collect();
                    for rel in rels {
                        for peer in n.peers(rel).iter().filter(|p| !b.peers(rel).contains(p)) {
                            pos += 1;
                            tx.execute(
                                "INSERT OR REPLACE INTO edge (id, rel, peer, branch, pos, live, base) VALUES (?1, ?2, ?3, ?4, ?5, 1, 0)",
                                params![id, rel, peer.as_str(), branch, pos],
                            )
                            .map_err(StoreError::db(&path))?;
                        }
                        for peer in b.peers(rel).iter().filter(|p| !n.peers(rel).contains(p)) {
                            pos += 1;
                            tx.execute(
                                "INSERT OR REPLACE INTO edge (id, rel, peer, branch, pos, live, base) VALUES (?1, ?2, ?3, ?4, ?5, 0, 1)",
                                params![id, rel, peer.as_str(), branch, pos],
                            )
                            .map_err(StoreError::db(&path))?;
                        }
                    }
                }
            }
        }
        tx.execute_batch("DROP TABLE nodes")
            .map_err(StoreError::db(&path))?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('rev', ?1)",
            [((pos >> 24) + 1).to_string()],
        )
        .map_err(StoreError::db(&path))?;
        tx.commit().map_err(e)?;
        tracing::info!(path = %self.path, nodes = count, "store migrated to field rows");
        Ok(())
    }

    fn err(&self) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        StoreError::db(&self.path)
    }

    fn corrupted(&self, detail: String) -> StoreError {
        StoreError::Corrupted {
            path: self.path.clone(),
            detail,
        }
    }

    /// SQLite's `data_version`: changes when another connection commits.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(self.err())
    }

    pub fn schema_files(&self) -> Result<Vec<(String, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT name, text FROM schema_files ORDER BY position")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    pub fn branches(&self) -> Result<Vec<(String, i64, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT name, created_seq, created_at FROM branches ORDER BY name")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    pub fn last_seq(&self) -> Result<i64> {
        self.conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(self.err())
    }

    pub fn events_since(&self, seq: i64, limit: i64) -> Result<Vec<Event>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq, data FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(self.err())?;
        let mut rows = st.query(params![seq, limit]).map_err(self.err())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(self.err())? {
            let seq: i64 = row.get(0).map_err(self.err())?;
            let data = row.get_ref(1).map_err(self.err())?;
            out.push(
                crate::events::stored::decode(seq, data)
                    .map_err(|e| self.corrupted(format!("event {seq}: {e}")))?,
            );
        }
        Ok(out)
    }

    /// Start a read transaction: every read until [`Db::rollback`] sees one state.
    pub fn begin_deferred(&self) -> Result<()> {
        self.control("BEGIN")
    }

    /// Begin the open (deferred) transaction's snapshot of the database now, as its first
    /// read would: it sees every commit made before this returns, and none after.
    pub fn begin_snapshot(&self) -> Result<()> {
        self.conn
            .query_row("SELECT count(*) FROM meta WHERE 0", [], |_| Ok(()))
            .map_err(StoreError::db(&self.path))
    }

    /// Start a write transaction, taking SQLite's write lock now (so another process cannot
    /// commit between our reading and our writing).
    pub fn begin_immediate(&self) -> Result<()> {
        self.control("BEGIN IMMEDIATE")
    }

    /// Commit the open transaction.
    pub fn commit(&self) -> Result<()> {
        self.control("COMMIT")
    }

    /// A transaction control statement, prepared once per connection: these run a few
    /// times per write, and preparing one costs about what running it does.
    fn control(&self, sql: &str) -> Result<()> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .map(drop)
            .map_err(self.err())
    }

    /// Abandon the open transaction (best effort: nothing was written if this fails either).
    pub fn rollback(&self) {
        if let Err(e) = self.control("ROLLBACK") {
            tracing::warn!(path = %self.path, error = %e, "rollback failed");
        }
    }

    /// Store events inside the open transaction; they get their sequence numbers here.
    pub fn write_events(&self, events: &mut [Event]) -> Result<()> {
        let e = || StoreError::db(&self.path);
        if events.is_empty() {
            return Ok(());
        }
        // The text holds its own sequence number, so each is numbered before it is written:
        // after the highest ever given (AUTOINCREMENT's record, which outlives deletions).
        // The caller holds the write lock, so no other writer numbers in between.
        let mut last: i64 = self
            .conn
            .prepare_cached(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), \
                 COALESCE((SELECT MAX(seq) FROM events), 0))",
            )
            .map_err(e())?
            .query_row([], |r| r.get(0))
            .map_err(e())?;
        let mut rows: Vec<Row<'_, 2>> = Vec::with_capacity(events.len());
        for ev in events.iter_mut() {
            last += 1;
            ev.seq = last;
            let record = crate::events::stored::encode(ev)
                .map_err(|err| self.corrupted(format!("event: {err}")))?;
            rows.push([ToSqlOutput::from(last), ToSqlOutput::from(record)]);
        }
        // Several rows per statement: an AUTOINCREMENT table's statement reads and writes
        // back its `sqlite_sequence` record, once per statement rather than once per event.
        INSERT_EVENTS.run(&self.conn, &rows).map_err(e())?;
        Ok(())
    }

    /// A value kept in `meta`.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// Puts the relationship rows in the order `schema` gives, when they are not (a binary
    /// whose core schema orders them otherwise, a schema change interrupted): read first,
    /// since writing takes the write lock another process may hold.
    pub fn settle_link_orders(&mut self, schema: &crate::schema::Schema) -> Result<()> {
        let path = self.path.clone();
        if crate::graph::links::orders_settled(&self.conn, schema).map_err(StoreError::db(&path))? {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::db(&path))?;
        settle_link_orders_in(&tx, &path, schema)?;
        tx.commit().map_err(StoreError::db(&path))
    }

    /// Keep a value in `meta`.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// The schema hash recorded by the last schema load (any process).
    pub fn schema_hash(&self) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_hash'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Whether `name` is an existing branch (other than main).
    pub fn branch_exists(&self, name: &str) -> Result<bool> {
        branch_exists(&self.conn, name)
    }

    /// How many nodes a branch changed (created, deleted or edited) and has not merged.
    pub fn branch_changes(&self, name: &str) -> Result<usize> {
        self.conn
            .query_row(BRANCH_CHANGES, [name], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(self.err())
    }

    /// Keeps `files` as the schema's, with `hash`, and the relationship rows in the order
    /// `schema` (built from them) gives, in one transaction.
    pub fn replace_schema_files(
        &mut self,
        files: &[(String, String)],
        hash: &str,
        schema: &crate::schema::Schema,
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(StoreError::db(&path))?;
        settle_link_orders_in(&tx, &path, schema)?;
        tx.execute("DELETE FROM schema_files", [])
            .map_err(StoreError::db(&path))?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_hash', ?1)",
            [hash],
        )
        .map_err(StoreError::db(&path))?;
        for (i, (n, t)) in files.iter().enumerate() {
            tx.execute(
                "INSERT INTO schema_files (position, name, text) VALUES (?1, ?2, ?3)",
                params![i as i64, n, t],
            )
            .map_err(StoreError::db(&path))?;
        }
        tx.commit().map_err(StoreError::db(&path))
    }

    pub fn insert_branch(&self, name: &str, seq: i64, at: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO branches (name, created_seq, created_at) VALUES (?1, ?2, ?3)",
                params![name, seq, at],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    pub fn delete_branch(&mut self, name: &str) -> Result<()> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(StoreError::db(&path))?;
        let ids = branch_node_ids(&tx, name).map_err(StoreError::db(&path))?;
        for id in &ids {
            crate::graph::attrs::remove_keys(&tx, id, name).map_err(StoreError::db(&path))?;
        }
        for (table, column) in BRANCH_ROW_KEYS {
            tx.execute(&delete_branch_rows(table, column), [name])
                .map_err(StoreError::db(&path))?;
        }
        tx.execute("DELETE FROM branch_rows WHERE branch = ?1", [name])
            .map_err(StoreError::db(&path))?;
        for table in ["branches", "branch_info"] {
            tx.execute(&format!("DELETE FROM {table} WHERE name = ?1"), [name])
                .map_err(StoreError::db(&path))?;
        }
        tx.commit().map_err(StoreError::db(&path))
    }

    pub fn add_token(&self, hash: &str, name: &str, scope: &str, at: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO tokens (hash, name, created_at, scope) VALUES (?1, ?2, ?3, ?4)",
                params![hash, name, at, scope],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// The name and scope of the token with this hash, as stored.
    pub fn token(&self, hash: &str) -> Result<Option<(String, String)>> {
        // Every HTTP request asks: prepared once.
        self.conn
            .prepare_cached("SELECT name, scope FROM tokens WHERE hash = ?1")
            .and_then(|mut st| st.query_row([hash], |r| Ok((r.get(0)?, r.get(1)?))))
            .optional()
            .map_err(self.err())
    }
}

/// Column `column` of every row `sql` gives on `conn`, its parameters left unbound: what
/// the tests read an `EXPLAIN` or `EXPLAIN QUERY PLAN` with.
#[cfg(test)]
pub(crate) fn column_of_rows(conn: &Connection, sql: &str, column: usize) -> Vec<String> {
    let mut statement = conn.prepare(sql).expect("the statement");
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("a row") {
        out.push(row.get::<_, String>(column).expect("text"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;

    /// Events are numbered in the order given, after every earlier one, and read back as
    /// written — across the statements a commit of many events is split into (see
    /// [`INSERT_EVENTS`]).
    #[test]
    fn a_commit_s_events_are_numbered_in_order_and_read_back_whole() {
        let db = Db::open(":memory:").expect("an in-memory store");
        let event = |n: usize| Event {
            seq: 0,
            name: "infrahub.node.created".into(),
            branch: "br1".into(),
            action: crate::Action::Created,
            kind: "DcimInterface".into(),
            id: format!("node-{n}"),
            origin: "live".into(),
            attributes: vec![crate::events::AttributeChange {
                name: "name".into(),
                kind: "Text".into(),
                value: serde_json::json!(format!("Ethernet{n}")),
                value_previous: serde_json::Value::Null,
                action: crate::events::AttributeAction::Added,
            }],
            relationships: Vec::new(),
        };
        let (first, second) = (2 * INSERT_EVENTS.most + 3, 1);
        let mut written: Vec<Event> = (0..first).map(event).collect();
        db.write_events(&mut written).expect("a commit's events");
        let mut more: Vec<Event> = (first..first + second).map(event).collect();
        db.write_events(&mut more).expect("the next commit's");
        written.extend(more);
        let expected: Vec<i64> = (1..=(first + second) as i64).collect();
        assert_eq!(written.iter().map(|e| e.seq).collect::<Vec<_>>(), expected);
        let read = db.events_since(0, 1_000).expect("read back");
        assert_eq!(read, written);
    }

    /// What reads or removes a whole branch starts from the nodes listed with it: no plan
    /// reads a whole graph table (`SCAN node`, `attrs`, `link` or `ip`, or a whole index of
    /// one). Fails with the statements that found a branch's rows by their `branch` column,
    /// which no index leads with.
    #[test]
    fn a_branch_is_read_and_removed_through_its_own_nodes() {
        let db = Db::open(":memory:").expect("an in-memory store");
        let deletes: Vec<String> = BRANCH_ROW_KEYS
            .iter()
            .map(|(table, column)| delete_branch_rows(table, column))
            .collect();
        let statements = [
            crate::branch::NODE_ROWS_OF_BRANCH,
            crate::branch::ATTR_ROWS_OF_BRANCH,
            crate::graph::links::LINK_ROWS_OF_BRANCH,
            BRANCH_CHANGES,
        ]
        .into_iter()
        .chain(deletes.iter().map(String::as_str));
        for sql in statements {
            let steps = column_of_rows(&db.conn, &format!("EXPLAIN QUERY PLAN {sql}"), 3);
            assert!(
                steps.iter().all(|step| !step.starts_with("SCAN")),
                "{sql}: {steps:?}"
            );
        }
    }

    /// Opening a store configures SQLite first, so a statement's journal stays in memory up
    /// to [`STATEMENT_JOURNAL_IN_MEMORY`] and SQLite keeps no memory statistics: fails when
    /// a connection is opened before the configuration (SQLite then refuses it), or the
    /// configuration is dropped.
    #[test]
    fn sqlite_is_configured_before_the_first_connection() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        let db = Db::open(path.to_str().expect("utf-8 path")).expect("open");
        assert_eq!(SQLITE_CONFIGURED.get(), Some(&rusqlite::ffi::SQLITE_OK));
        db.set_meta("probe", "a value").expect("a write");
        // SAFETY: reading SQLite's counter has no preconditions.
        let counted = unsafe { rusqlite::ffi::sqlite3_memory_used() };
        assert_eq!(counted, 0, "SQLite counts its memory use");
    }

    /// A reader's snapshot is the state when `begin_snapshot` returned: a commit after it is
    /// not seen, though the reader had read nothing else (a deferred transaction's snapshot
    /// otherwise begins at its first read).
    #[test]
    fn a_snapshot_begins_when_asked_not_at_the_first_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        let path = path.to_str().expect("utf-8 path");
        let writer = Db::open(path).expect("open");
        writer.set_meta("probe", "before").expect("a write");
        let reader = Db::open_reader(path).expect("a reader");
        reader.begin_deferred().expect("begin");
        reader.begin_snapshot().expect("the snapshot");
        writer.set_meta("probe", "after").expect("a write");
        assert_eq!(
            reader.meta("probe").expect("read").as_deref(),
            Some("before")
        );
        reader.rollback();
        assert_eq!(
            reader.meta("probe").expect("read").as_deref(),
            Some("after")
        );
    }

    /// A transaction dirtying four times SQLite's default page cache (a large run's
    /// commit) keeps every page in the store connection's cache until it commits: none is
    /// spilled into the WAL early, to be written again. Fails with SQLite's default cache
    /// size, which spills this transaction.
    #[test]
    fn a_large_transaction_is_not_spilled_before_its_commit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        let db = Db::open(path.to_str().expect("utf-8 path")).expect("open");
        let spilled = || {
            let (mut current, mut highest) = (0, 0);
            // SAFETY: the handle is the open connection's, used on this thread only, and
            // the two out-pointers are valid for the call.
            let rc = unsafe {
                rusqlite::ffi::sqlite3_db_status(
                    db.conn.handle(),
                    rusqlite::ffi::SQLITE_DBSTATUS_CACHE_SPILL,
                    &mut current,
                    &mut highest,
                    0,
                )
            };
            assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
            current
        };
        db.begin_immediate().expect("begin");
        // 2,000 rows of 4,000 bytes: about 8 MiB of pages, four times the default cache.
        let text = "x".repeat(4_000);
        for n in 0..2_000 {
            db.set_meta(&format!("filler-{n:04}"), &text)
                .expect("a write");
        }
        assert_eq!(spilled(), 0, "pages were spilled before the commit");
        db.commit().expect("commit");
    }

    /// A join on a bound equality is planned once: executing it again with other values
    /// does not parse and plan it again (SQLite does unless the planner's stability
    /// guarantee is on).
    #[test]
    fn a_cached_join_is_not_prepared_again_for_new_values() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        let db = Db::open(path.to_str().expect("utf-8 path")).expect("open");
        let sql = "SELECT l.src FROM link l CROSS JOIN value_key a ON a.id = l.src \
                   WHERE l.dst = ?1 AND a.attr = (SELECT n FROM attr_name WHERE kind = ?2 AND name = ?3)";
        for peer in ["p1", "p2", "p3"] {
            let mut st = db.conn.prepare_cached(sql).expect("prepare");
            let ids: Vec<String> = st
                .query_map(params![peer, "K", "name"], |r| r.get(0))
                .expect("query")
                .collect::<rusqlite::Result<_>>()
                .expect("rows");
            assert!(ids.is_empty());
            assert_eq!(st.get_status(StatementStatus::RePrepare), 0, "{peer}");
        }
    }
}
