//! SQLite persistence: one file per store, WAL journal, one transaction per mutation.
//!
//! Tables: `meta`, `schema_files`, `branches`, `nodes` (one row per node version per branch;
//! branch rows carry the main version they were copied from, for merge conflict detection),
//! `events` (the durable event log) and `tokens` (sha256 of API tokens).

use crate::error::{Result, StoreError};
use crate::events::Event;
use crate::node::Node;
use rusqlite::{Connection, OptionalExtension, params};

const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schema_files (position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS branches (name TEXT PRIMARY KEY, created_seq INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    branch TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL,
    data TEXT, base TEXT,
    PRIMARY KEY (branch, id)
);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
";

/// A row of the `nodes` table.
#[derive(Debug, Clone)]
pub(crate) struct NodeRow {
    pub branch: String,
    pub id: String,
    pub kind: String,
    /// None = deleted on this branch.
    pub data: Option<Node>,
    /// The main version this branch row was copied from (None on main, or created on the branch).
    pub base: Option<Node>,
}

/// One write in a transaction (short-lived, so the size difference does not matter).
#[allow(clippy::large_enum_variant)]
pub(crate) enum RowWrite {
    Put(NodeRow),
    Remove { branch: String, id: String },
}

/// The database connection and its file path.
pub(crate) struct Db {
    pub conn: Connection,
    pub path: String,
}

impl Db {
    /// Open (creating) the database file and its tables.
    pub fn open(path: &str) -> Result<Self> {
        let conn = Connection::open(path).map_err(StoreError::db(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(StoreError::db(path))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(StoreError::db(path))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(StoreError::db(path))?;
        conn.execute_batch(SCHEMA_SQL)
            .map_err(StoreError::db(path))?;
        Ok(Self {
            conn,
            path: path.to_string(),
        })
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
            .query_row("PRAGMA data_version", [], |r| r.get(0))
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

    pub fn nodes(&self) -> Result<Vec<NodeRow>> {
        let mut st = self
            .conn
            .prepare("SELECT branch, id, kind, data, base FROM nodes")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (branch, id, kind, data, base) = row.map_err(self.err())?;
            let parse = |t: Option<String>| -> Result<Option<Node>> {
                match t {
                    None => Ok(None),
                    Some(t) => serde_json::from_str(&t)
                        .map(Some)
                        .map_err(|e| self.corrupted(format!("node {id}: {e}"))),
                }
            };
            out.push(NodeRow {
                data: parse(data)?,
                base: parse(base)?,
                branch,
                id: id.clone(),
                kind,
            });
        }
        Ok(out)
    }

    pub fn last_seq(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
            .map_err(self.err())
    }

    pub fn events_since(&self, seq: i64, limit: i64) -> Result<Vec<Event>> {
        let mut st = self
            .conn
            .prepare("SELECT data FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(self.err())?;
        let rows = st
            .query_map(params![seq, limit], |r| r.get::<_, String>(0))
            .map_err(self.err())?;
        let mut out = Vec::new();
        for r in rows {
            let t = r.map_err(self.err())?;
            out.push(serde_json::from_str(&t).map_err(|e| self.corrupted(format!("event: {e}")))?);
        }
        Ok(out)
    }

    /// Start a write transaction, taking SQLite's write lock now (so another process cannot
    /// commit between our reading and our writing).
    pub fn begin_immediate(&self) -> Result<()> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.err())
    }

    /// Commit the open transaction.
    pub fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(self.err())
    }

    /// Abandon the open transaction (best effort: nothing was written if this fails either).
    pub fn rollback(&self) {
        if let Err(e) = self.conn.execute_batch("ROLLBACK") {
            tracing::warn!(path = %self.path, error = %e, "rollback failed");
        }
    }

    /// Write node rows and events inside the open transaction. Events get their sequence
    /// numbers here.
    pub fn write_rows(&self, writes: &[RowWrite], events: &mut [Event]) -> Result<()> {
        let e = || StoreError::db(&self.path);
        let mut put = self
            .conn
            .prepare_cached(
                "INSERT OR REPLACE INTO nodes (branch, id, kind, data, base) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(e())?;
        let mut del = self
            .conn
            .prepare_cached("DELETE FROM nodes WHERE branch = ?1 AND id = ?2")
            .map_err(e())?;
        for w in writes {
            match w {
                RowWrite::Put(r) => {
                    let data = r
                        .data
                        .as_ref()
                        .map(|n| serde_json::to_string(n).unwrap_or_default());
                    let base = r
                        .base
                        .as_ref()
                        .map(|n| serde_json::to_string(n).unwrap_or_default());
                    put.execute(params![r.branch, r.id, r.kind, data, base])
                        .map_err(e())?;
                }
                RowWrite::Remove { branch, id } => {
                    del.execute(params![branch, id]).map_err(e())?;
                }
            }
        }
        let mut ins = self
            .conn
            .prepare_cached("INSERT INTO events (data) VALUES ('')")
            .map_err(e())?;
        let mut upd = self
            .conn
            .prepare_cached("UPDATE events SET data = ?1 WHERE seq = ?2")
            .map_err(e())?;
        for ev in events.iter_mut() {
            ins.execute([]).map_err(e())?;
            ev.seq = self.conn.last_insert_rowid();
            let text = serde_json::to_string(ev).unwrap_or_default();
            upd.execute(params![text, ev.seq]).map_err(e())?;
        }
        Ok(())
    }

    pub fn replace_schema_files(&mut self, files: &[(String, String)]) -> Result<()> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(StoreError::db(&path))?;
        tx.execute("DELETE FROM schema_files", [])
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
        tx.execute("DELETE FROM nodes WHERE branch = ?1", [name])
            .map_err(StoreError::db(&path))?;
        tx.execute("DELETE FROM branches WHERE name = ?1", [name])
            .map_err(StoreError::db(&path))?;
        tx.commit().map_err(StoreError::db(&path))
    }

    pub fn add_token(&self, hash: &str, name: &str, at: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO tokens (hash, name, created_at) VALUES (?1, ?2, ?3)",
                params![hash, name, at],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    pub fn token_name(&self, hash: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT name FROM tokens WHERE hash = ?1", [hash], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())
    }
}
