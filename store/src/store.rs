//! [`Store`]: the handle everything else uses. Cheap to clone, `Send + Sync`.
//!
//! The graph lives in SQLite (see [`crate::graph`]); the store keeps only the schema in memory.
//! The store's connection, behind a mutex, does the writes (inside `BEGIN IMMEDIATE`) and the
//! short reads; GraphQL queries, which may take a while, read on connections of their own
//! from a small pool ([`Store::pooled_read`]; WAL lets them read while the store writes), so
//! no query holds up the rest of the process. Each read sees one consistent state, including
//! other processes' commits (noticed through `data_version`, which also tells when to reload
//! a schema another process loaded).

use crate::branch::{self, BranchInfo};
use crate::error::{ErrorCode, Result, StoreError};
use crate::events::{Event, RecentEvents};
use crate::graph::{CacheUse, MAIN, NodeCache, Tx};
use crate::graphql::mutation;
use crate::graphql::query::{QueryBudget, Resolver};
use crate::graphql::types::{self, Ty};
use crate::graphql::{self, Answer, Fields, GqlError, GraphqlRequest, args_json, error_response};
use crate::persistence::Db;
use crate::schema::core::{CORE_FILE, CORE_SCHEMA};
use crate::schema::{Schema, load};
use crate::turn::{TurnGuard, WriteTurn};

/// Read connections kept open between reads (see [`Store::pooled_read`]).
const MAX_IDLE_READERS: usize = 8;

/// See [`Store::set_run_idle_allowance`].
const DEFAULT_RUN_IDLE: Duration = Duration::from_millis(250);
use async_graphql_parser::types::OperationType;
use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;
use tokio::sync::broadcast;

struct Inner {
    path: String,
    db: Mutex<Db>,
    /// Connections for long reads (see [`Store::pooled_read`]), kept between reads; `None`
    /// for an in-memory store, whose data no other connection can see.
    readers: Option<Mutex<Vec<Db>>>,
    schema: RwLock<Arc<Schema>>,
    seen_version: Mutex<i64>,
    /// The last schema a reader's snapshot held that this process has not loaded yet
    /// (another process's), by its stored hash (see [`Store::schema_seen_by`]).
    seen_schema: Mutex<Option<(String, Arc<Schema>)>>,
    events: broadcast::Sender<Event>,
    /// The events this process committed last ([`Store::events_since`] reads them).
    recent: Mutex<RecentEvents>,
    cache: NodeCache,
    /// Counts every change to the graph this handle made or noticed (its commits, another
    /// process's, a schema load, a branch deletion): a run compares it with the value it
    /// started at to know whether what it read may have changed under it.
    generation: AtomicU64,
    /// Whose turn it is to write: one run at a time, and the host's own writes between runs
    /// (see [`Store::write_turn`]).
    turn: Arc<WriteTurn>,
    /// How long a run may hold the turn idle while another writer waits, in milliseconds
    /// (see [`crate::turn`]).
    run_idle_ms: AtomicU64,
}

/// The embedded Infrahub-compatible store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// What a schema load did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaLoad {
    /// Schema hash after the load.
    pub hash: String,
    /// Schema hash before.
    pub previous_hash: String,
    /// Whether anything changed.
    pub schema_updated: bool,
    /// What changed, kind by kind, in Infrahub's diff shape
    /// ([`crate::schema::diff::diff`]).
    pub diff: Value,
}

/// What an API token may do, each scope including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenScope {
    /// Queries.
    Read,
    /// Queries and mutations (what a generator or an SDK client writing data needs).
    Write,
    /// Everything, schema loads included.
    Admin,
}

impl TokenScope {
    /// Every scope, least first.
    pub const ALL: [TokenScope; 3] = [TokenScope::Read, TokenScope::Write, TokenScope::Admin];

    /// Its name: `read`, `write` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
            TokenScope::Admin => "admin",
        }
    }

    /// The scope named `text`.
    pub fn parse(text: &str) -> Option<TokenScope> {
        TokenScope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
    }
}

/// Who sent a request: the account an API token stands for, which Infrahub's
/// `AccountProfile` describes. infragen keeps no account nodes: a token is its own
/// account, named when it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// A stable id, derived from the token's hash (never from the token itself).
    pub id: String,
    /// The token's name (`infragen token create NAME`).
    pub name: String,
    /// What the token may do.
    pub scope: TokenScope,
}

impl Account {
    /// The account of a token given in the configuration (`[store] api_tokens`), which
    /// has no name of its own.
    pub fn configured(token: &str) -> Account {
        Account {
            id: Account::id_for(&token_hash(token)),
            name: "api_tokens".to_owned(),
            scope: TokenScope::Admin,
        }
    }

    /// A UUID-shaped id from a token's hash, hashed once more so the id gives nothing
    /// of the stored hash away.
    fn id_for(hash: &str) -> String {
        let digest = Sha256::digest(format!("account:{hash}").as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}

impl std::fmt::Display for TokenScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeReport {
    /// The merged branch.
    pub branch: String,
    /// Nodes written on main.
    pub nodes_changed: usize,
}

/// The schema files after loading `files` on top of `current`'s: a loaded file is
/// replaced by a new file of the same name, or dropped when the new files define every
/// kind it defined (the same file loaded from another path).
fn candidate_files(current: &Schema, files: &[(String, String)]) -> Vec<(String, String)> {
    let mut all = current.files.clone();
    let incoming: std::collections::BTreeSet<String> = files
        .iter()
        .flat_map(|(_, t)| load::kinds_defined(t))
        .collect();
    all.retain(|(name, text)| {
        let kinds = load::kinds_defined(text);
        files.iter().any(|(n, _)| n == name) || kinds.is_empty() || !kinds.is_subset(&incoming)
    });
    for (name, text) in files {
        match all.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = text.clone(),
            None => all.push((name.clone(), text.clone())),
        }
    }
    all
}

fn core_files() -> Vec<(String, String)> {
    vec![(CORE_FILE.to_string(), CORE_SCHEMA.to_string())]
}

fn now() -> String {
    crate::clock::now()
}

/// Creates the missing parent directories of `path` (`0700`) and the file itself
/// (`0600`, empty) when it does not exist; an existing file or directory is left as it is.
fn create_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(parent) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !parent.exists()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        builder.create(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Open (or create) the store in the SQLite file at `path`. What it creates is private
    /// to the user: missing parent directories `0700`, the file `0600` (SQLite gives its
    /// journal and WAL files the same mode), since the store holds the whole design and
    /// the API tokens' hashes.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let p = path.as_ref();
        create_private(p).map_err(|source| StoreError::Create {
            path: p.display().to_string(),
            source,
        })?;
        Self::open_str(&p.to_string_lossy())
    }

    /// A store that lives in memory only (tests, throwaway runs).
    pub fn in_memory() -> Result<Store> {
        Self::open_str(":memory:")
    }

    fn open_str(path: &str) -> Result<Store> {
        let mut db = Db::open(path)?;
        let schema = load_schema_from(&mut db)?;
        let moved = crate::graph::links::migrate_edge_rows(&mut db.conn, &schema)
            .map_err(StoreError::db(path))?;
        if moved > 0 {
            tracing::info!(
                path,
                rows = moved,
                "relationship rows stored once per relationship (once)"
            );
        }
        db.convert_text_ids()?;
        if crate::graph::attrs::migrate_value_index(&mut db.conn).map_err(StoreError::db(path))? {
            tracing::info!(path, "value index keyed by attribute number (once)");
        }
        if crate::graph::links::migrate_rel_numbers(&mut db.conn).map_err(StoreError::db(path))? {
            tracing::info!(path, "relationship rows keyed by identifier number (once)");
        }
        db.note_layout()?;
        db.settle_link_orders(&schema)?;
        let v = db.data_version()?;
        let (tx, _) = broadcast::channel(4096);
        tracing::debug!(path, "store opened");
        let store = Store {
            inner: Arc::new(Inner {
                path: path.to_string(),
                db: Mutex::new(db),
                readers: (path != ":memory:").then(|| Mutex::new(Vec::new())),
                schema: RwLock::new(Arc::new(schema)),
                seen_version: Mutex::new(v),
                seen_schema: Mutex::new(None),
                events: tx,
                recent: Mutex::default(),
                cache: NodeCache::default(),
                generation: AtomicU64::new(0),
                turn: Arc::default(),
                run_idle_ms: AtomicU64::new(DEFAULT_RUN_IDLE.as_millis() as u64),
            }),
        };
        store.ensure_builtin_nodes()?;
        store.ensure_ip_index()?;
        Ok(store)
    }

    /// Build the IPAM index once for a store written before it existed.
    fn ensure_ip_index(&self) -> Result<()> {
        const VERSION: &str = "1";
        let mut db = self.db();
        if db.meta("ip_index")?.as_deref() == Some(VERSION) {
            return Ok(());
        }
        db.begin_immediate()?;
        let built = (|| {
            let schema = self.refresh_locked(&mut db)?;
            let branches: Vec<String> = db.branches()?.into_iter().map(|(n, _, _)| n).collect();
            crate::graph::rebuild_ip_index(&db.conn, &schema, &branches)
                .map_err(StoreError::db(&self.inner.path))?;
            db.set_meta("ip_index", VERSION)
        })();
        match built.and_then(|()| db.commit()) {
            Ok(()) => Ok(()),
            Err(e) => {
                db.rollback();
                Err(e)
            }
        }
    }

    /// The nodes every store has: the `default` IP namespace. Written without an event, like
    /// the data Infrahub creates at its first start.
    fn ensure_builtin_nodes(&self) -> Result<()> {
        let missing = self.read_op(|conn, schema| {
            Ok::<_, StoreError>(
                crate::ipam::default_namespace(&self.tx(conn, schema, MAIN)).is_none(),
            )
        })?;
        if !missing {
            return Ok(());
        }
        self.write_op(|conn, schema| {
            let mut tx = self.tx(conn, schema, MAIN);
            crate::ipam::ensure_default_namespace(&mut tx);
            tx.finish()?;
            Ok::<_, StoreError>((Vec::new(), ()))
        })
    }

    /// When this store began (its first open, as Infrahub's `branched_from` of main): with
    /// its path, what tells it from another store, e.g. in a work queue two servers share.
    pub fn created_at(&self) -> Result<String> {
        Ok(self
            .db()
            .meta(crate::persistence::CREATED_AT)?
            .unwrap_or_default())
    }

    /// The database file.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, Db> {
        self.inner.db.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn current_schema(&self) -> Arc<Schema> {
        self.inner
            .schema
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Pick up what another process committed since we last looked: the graph is read from
    /// SQLite anyway, so only a schema another process loaded needs reloading.
    fn refresh_locked(&self, db: &mut Db) -> Result<Arc<Schema>> {
        let v = db.data_version()?;
        let mut seen = self
            .inner
            .seen_version
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if v != *seen {
            // Another process committed: what it changed is not known here.
            self.inner.cache.clear();
            self.changed();
            let current = self.current_schema();
            if db.schema_hash()?.as_deref() != Some(current.hash.as_str()) {
                tracing::debug!(path = %self.inner.path, "reloading the schema another process loaded");
                let schema = Arc::new(load_schema_from(db)?);
                *self.inner.schema.write().unwrap_or_else(|e| e.into_inner()) = schema;
            }
            *seen = v;
        }
        Ok(self.current_schema())
    }

    /// Note a change to the graph (see `Inner::generation`).
    pub(crate) fn changed(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// How many changes to the graph this handle has made or noticed.
    pub(crate) fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// The store's node cache.
    pub(crate) fn cache(&self) -> &NodeCache {
        &self.inner.cache
    }

    /// Waits for the turn to write, and holds it until the guard is dropped.
    ///
    /// A generator run ([`Store::begin_run`]) holds it from its start to its commit, so
    /// runs never see each other's uncommitted writes and never interleave theirs; a host
    /// that writes on its own between runs (instance records, tracking groups) takes it
    /// for each write. Writers that do not take it — a client of `infragen serve`, another
    /// process — are noticed by the run at its next operation or its commit, which then
    /// fails with [`StoreError::RunConflict`] and is run again.
    pub async fn write_turn(&self) -> TurnGuard {
        self.inner.turn.take(None).await
    }

    /// The turn for a run, which loses it to a writer that waited longer than `idle` while
    /// the run started no operation (see [`crate::turn`]).
    pub(crate) async fn run_turn(&self, idle: Duration) -> TurnGuard {
        self.inner.turn.take(Some(idle)).await
    }

    /// How long a run may hold the write turn without starting an operation while another
    /// writer waits, before the turn passes on and the run fails with a conflict (250 ms
    /// unless set). Its caller may give a rerun a longer allowance.
    pub fn set_run_idle_allowance(&self, idle: Duration) {
        self.inner
            .run_idle_ms
            .store(idle.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    /// See [`Store::set_run_idle_allowance`].
    pub fn run_idle_allowance(&self) -> Duration {
        Duration::from_millis(self.inner.run_idle_ms.load(Ordering::Relaxed))
    }

    /// A transaction on `branch` over `conn`, sharing the store's node cache.
    pub(crate) fn tx<'c>(
        &'c self,
        conn: &'c Connection,
        schema: &'c Schema,
        branch: &str,
    ) -> Tx<'c> {
        Tx::new(conn, schema, branch).cached(&self.inner.cache)
    }

    /// Run a read on one consistent state of the store.
    pub(crate) fn read_op<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Connection, &Schema) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut db = self.db();
        db.begin_deferred()?;
        let out = self
            .refresh_locked(&mut db)
            .map_err(E::from)
            .and_then(|schema| f(&db.conn, &schema));
        db.rollback();
        out
    }

    /// Run a read that may take a while (a GraphQL query) on one consistent state of the
    /// store, on a connection of its own where the store has a file: other readers and
    /// writers of this process never wait for it, nor it for them. The read sees no
    /// uncommitted writes of this process (a run's own are given to it separately). `f` is
    /// told how its connection may use the node cache: through the epoch its snapshot
    /// began in (see [`NodeCache`]), not at all when a write held the store's connection
    /// as it began, or as the store's own connection where the store has no other.
    ///
    /// A query reads through the cache as a run's snapshot does, but keeps nothing it
    /// loads there (see `Tx::keeping_nothing`): read uncached, the GraphQL queries of a seed
    /// build loaded 288 nodes from the database that the cache held.
    pub(crate) fn pooled_read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Connection, &Schema, CacheUse) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let Some(readers) = &self.inner.readers else {
            return self.read_op(|conn, schema| f(conn, schema, CacheUse::Own));
        };
        // The store's connection notices another process's commits (and the schema it may
        // have loaded, and the cached views that went stale). A write holding it is not
        // waited for: the read then takes the schema from its own snapshot and leaves the
        // cache alone.
        let refreshed = self.refresh_if_free()?;
        // Noted before the snapshot begins (at the reader's first statement).
        let epoch = match refreshed {
            Some(_) => self.inner.cache.reader_epoch(),
            None => None,
        };
        with_pooled_reader(readers, &self.inner.path, |reader| {
            let schema = match &refreshed {
                Some(schema) => Arc::clone(schema),
                None => self.schema_seen_by(reader)?,
            };
            let epoch = match epoch {
                Some(epoch) => self.still_cached_after_snapshot(reader, epoch)?,
                None => None,
            };
            f(&reader.conn, &schema, CacheUse::Reader(epoch))
        })
    }

    /// `epoch`, noted before `reader`'s snapshot began, if the node cache may still serve
    /// that snapshot. Another process's commit between the store connection's last look and
    /// the snapshot's start is in the snapshot, while the cache may still hold the views it
    /// changed: so the snapshot is begun, and the store's connection looks again. A commit
    /// it then notices drops the cache, which moves the epoch past the one noted (the
    /// read then gets nothing from the cache); with that connection busy, the read goes
    /// without the cache. A run's snapshot has no need of this: another process's commit
    /// since the run began makes it a conflict, found by its commit at the latest, and it
    /// runs again.
    fn still_cached_after_snapshot(&self, reader: &Db, epoch: u64) -> Result<Option<u64>> {
        reader.begin_snapshot()?;
        Ok(self.refresh_if_free()?.map(|_| epoch))
    }

    /// The schema of `reader`'s snapshot: the one in memory unless the snapshot holds
    /// another (loaded by another process since this one last looked), built then from
    /// the snapshot's schema files without replacing the one in memory. Built once per
    /// stored hash: until this process's own connection is free to take the new schema,
    /// every read would otherwise parse the files again (and log again what the stored
    /// schema breaks).
    fn schema_seen_by(&self, reader: &Db) -> Result<Arc<Schema>> {
        let current = self.current_schema();
        match reader.schema_hash()? {
            Some(hash) if hash != current.hash => {
                let mut seen = self
                    .inner
                    .seen_schema
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if let Some((seen_hash, schema)) = &*seen
                    && *seen_hash == hash
                {
                    return Ok(Arc::clone(schema));
                }
                let files = reader.schema_files()?;
                let schema = Arc::new(
                    load::build_stored(&core_files(), &files).map_err(StoreError::Schema)?,
                );
                *seen = Some((hash, Arc::clone(&schema)));
                Ok(schema)
            }
            _ => Ok(current),
        }
    }

    /// `f` in one read transaction on a connection that never waits for a write: one of the
    /// readers' pool where the store has a file, the store's own otherwise (in memory, no
    /// other connection sees the data). What it reads is committed; this process's write
    /// under way is not seen.
    pub(crate) fn committed_read<T>(&self, f: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        let Some(readers) = &self.inner.readers else {
            return f(&self.db());
        };
        with_pooled_reader(readers, &self.inner.path, f)
    }

    /// A connection of the readers' pool for a reader that keeps it for a while (a run's
    /// snapshot, see [`crate::snapshot`]); `None` for an in-memory store, which has no
    /// other connection. Given back with [`Store::give_back_reader`].
    pub(crate) fn take_reader(&self) -> Result<Option<Db>> {
        match &self.inner.readers {
            Some(readers) => take_pooled_reader(readers, &self.inner.path).map(Some),
            None => Ok(None),
        }
    }

    /// Keeps `reader`, whose transaction has ended, for the next read.
    pub(crate) fn give_back_reader(&self, reader: Db) {
        if let Some(readers) = &self.inner.readers {
            keep_idle_reader(readers, reader);
        }
    }

    /// Run a write: SQLite's write lock (`BEGIN IMMEDIATE`, so another process cannot commit
    /// between our reading and our writing), compute and write rows with `f`, store the
    /// events, commit, publish. A failure anywhere writes nothing.
    pub(crate) fn write_op<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Connection, &Schema) -> std::result::Result<(Vec<Event>, T), E>,
    ) -> std::result::Result<T, E> {
        let mut db = self.db();
        db.begin_immediate()?;
        // Readers on connections of their own stop using the cache until the write ends.
        self.inner.cache.begin_write();
        let computed = (|| -> std::result::Result<_, E> {
            let schema = self.refresh_locked(&mut db)?;
            let (mut events, out) = f(&db.conn, &schema)?;
            let _phase = tracing::trace_span!("event_log").entered();
            db.write_events(&mut events)?;
            Ok((events, out))
        })();
        let (events, out) = match computed {
            Ok(x) => x,
            Err(e) => {
                db.rollback();
                self.inner.cache.end_write(false);
                return Err(e);
            }
        };
        let committed = {
            let _phase = tracing::trace_span!("sqlite_commit").entered();
            db.commit()
        };
        if let Err(e) = committed {
            db.rollback();
            // The cache may hold what this transaction read or planned (a pool's free-space
            // hint); start over.
            self.inner.cache.clear();
            self.inner.cache.end_write(false);
            return Err(e.into());
        }
        self.inner.cache.end_write(true);
        let events: Vec<Arc<Event>> = events.into_iter().map(Arc::new).collect();
        self.inner
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .committed(&events);
        // `data_version` does not change with this connection's own commits, so the version
        // noted by `refresh_locked` stays right.
        self.changed();
        drop(db);
        self.publish(events);
        Ok(out)
    }

    /// The current schema.
    ///
    /// Never waits for a write under way (`serve` answers `/api/schema` with it): while one
    /// holds the store's connection, the schema is checked on a reader's.
    pub fn schema(&self) -> Arc<Schema> {
        self.refresh_if_free()
            .and_then(|refreshed| match refreshed {
                Some(schema) => Ok(schema),
                None => self.committed_read(|reader| self.schema_seen_by(reader)),
            })
            .unwrap_or_else(|_| self.current_schema())
    }

    /// [`Store::refresh_locked`] when the store's connection is free; `None` while a write
    /// holds it (a run's commit takes seconds at tens of thousands of nodes), for the
    /// caller to read without waiting (see [`Store::schema_seen_by`]).
    fn refresh_if_free(&self) -> Result<Option<Arc<Schema>>> {
        match self.inner.db.try_lock() {
            Ok(mut db) => self.refresh_locked(&mut db).map(Some),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                self.refresh_locked(&mut poisoned.into_inner()).map(Some)
            }
            Err(std::sync::TryLockError::WouldBlock) => Ok(None),
        }
    }

    /// Load schema files (name, text) on top of what is loaded: a file with the name of a
    /// loaded one replaces it. All or nothing: any error leaves the schema unchanged.
    pub fn load_schema(&self, files: &[(String, String)]) -> Result<SchemaLoad> {
        let mut db = self.db();
        let current = self.refresh_locked(&mut db)?;
        let previous_hash = current.hash.clone();
        let all = candidate_files(&current, files);
        let schema = load::build(&core_files(), &all).map_err(StoreError::Schema)?;
        // Changed when the kinds are, not when the text is: the same schema loaded again
        // (from YAML files, then as JSON through the API) is no change, as on Infrahub.
        let diff = crate::schema::diff::diff(&current, &schema);
        let updated = !crate::schema::diff::is_empty(&diff);
        let hash = if updated {
            schema.hash.clone()
        } else {
            previous_hash.clone()
        };
        if updated {
            db.replace_schema_files(&all, &hash, &schema)?;
            *self.inner.schema.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(schema);
            self.inner.cache.clear();
            self.changed();
            if let Ok(v) = db.data_version() {
                *self
                    .inner
                    .seen_version
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = v;
            }
            tracing::info!(hash = %hash, files = files.len(), "schema loaded");
        }
        Ok(SchemaLoad {
            hash,
            previous_hash,
            schema_updated: updated,
            diff,
        })
    }

    /// What loading schema files would do, without loading them (Infrahub's
    /// `POST /api/schema/check`): the same checks as [`Store::load_schema`], and the
    /// difference from the current schema, kind by kind, in Infrahub's diff shape.
    pub fn check_schema(&self, files: &[(String, String)]) -> Result<Value> {
        let current = self.schema();
        let all = candidate_files(&current, files);
        let candidate = load::build(&core_files(), &all).map_err(StoreError::Schema)?;
        Ok(crate::schema::diff::diff(&current, &candidate))
    }

    /// Load object files (name, text) on `branch`: every file is read and checked first, then
    /// every item is upserted in one transaction. Any error writes nothing.
    pub fn load_objects(
        &self,
        branch: &str,
        files: &[(String, String)],
    ) -> Result<crate::objects::ObjectLoad> {
        if branch != MAIN && !self.db().branch_exists(branch)? {
            return Err(StoreError::BranchNotFound(branch.into()));
        }
        let schema = self.schema();
        let items = crate::objects::plan(&schema, files).map_err(StoreError::Objects)?;
        let out = self.write_op(|conn, current: &Schema| {
            if current.hash != schema.hash {
                return Err(StoreError::Objects(vec![
                    "the schema changed while the object files were being checked; load them again"
                        .into(),
                ]));
            }
            let mut tx = self.tx(conn, current, branch);
            tx.origin = "object_file";
            let mut objects = 0;
            for item in &items {
                crate::objects::write(&mut tx, item, None, &mut objects)
                    .map_err(|e| StoreError::Objects(vec![e]))?;
            }
            let events = tx.finish()?;
            let nodes_changed = events.len();
            Ok((
                events,
                crate::objects::ObjectLoad {
                    files: files.len(),
                    objects,
                    nodes_changed,
                },
            ))
        })?;
        tracing::info!(
            branch,
            files = out.files,
            objects = out.objects,
            changed = out.nodes_changed,
            "object files loaded"
        );
        Ok(out)
    }

    /// All branches, `main` first.
    ///
    /// Read on a reader's connection: what is committed, without waiting for a write.
    pub fn branches(&self) -> Result<Vec<BranchInfo>> {
        self.committed_read(|db| {
            let mut out = vec![BranchInfo {
                name: MAIN.into(),
                is_default: true,
                created_at: String::new(),
                changes: 0,
            }];
            for (name, _, created_at) in db.branches()? {
                let changes = db.branch_changes(&name)?;
                out.push(BranchInfo {
                    name,
                    is_default: false,
                    created_at,
                    changes,
                });
            }
            Ok(out)
        })
    }

    /// Where branch `name` began: the last event before it was made and when; `None`
    /// for a branch that does not exist. A branch deleted and made again under the
    /// same name begins elsewhere, which no event records.
    pub fn branch_origin(&self, name: &str) -> Result<Option<(i64, String)>> {
        Ok(self
            .committed_read(Db::branches)?
            .into_iter()
            .find(|(branch, _, _)| branch == name)
            .map(|(_, seq, at)| (seq, at)))
    }

    /// Whether branch `name` exists (`main` always does), as committed: read on a reader's
    /// connection, without waiting for a write, and without counting the branch's changes
    /// as [`Store::branches`] does.
    pub fn branch_exists(&self, name: &str) -> Result<bool> {
        if name == MAIN {
            return Ok(true);
        }
        self.committed_read(|db| db.branch_exists(name))
    }

    /// Create a branch from main.
    pub fn create_branch(&self, name: &str) -> Result<BranchInfo> {
        branch::check_name(name).map_err(|reason| StoreError::InvalidBranch {
            name: name.into(),
            reason,
        })?;
        let db = self.db();
        if name == MAIN || db.branch_exists(name)? {
            return Err(StoreError::BranchExists(name.into()));
        }
        let at = now();
        let seq = db.last_seq()?;
        db.insert_branch(name, seq, &at)?;
        tracing::info!(branch = name, "branch created");
        Ok(BranchInfo {
            name: name.into(),
            is_default: false,
            created_at: at,
            changes: 0,
        })
    }

    /// Delete a branch and everything written only on it.
    pub fn delete_branch(&self, name: &str) -> Result<()> {
        if name == MAIN {
            return Err(StoreError::InvalidBranch {
                name: name.into(),
                reason: format!("Unable to delete {MAIN} it is the default branch."),
            });
        }
        let mut db = self.db();
        if !db.branch_exists(name)? {
            return Err(StoreError::BranchNotFound(name.into()));
        }
        db.delete_branch(name)?;
        self.inner.cache.clear();
        self.changed();
        tracing::info!(branch = name, "branch deleted");
        Ok(())
    }

    /// Merge a branch into main: three-way, per attribute and per edge. Conflicts (a field
    /// changed on both sides to different values) are an error naming each one; then nothing
    /// is merged.
    pub fn merge_branch(&self, name: &str) -> Result<MergeReport> {
        if name == MAIN {
            return Err(StoreError::InvalidBranch {
                name: name.into(),
                reason: format!("Unable to merge {MAIN} into itself: it is the default branch."),
            });
        }
        if !self.db().branch_exists(name)? {
            return Err(StoreError::BranchNotFound(name.into()));
        }
        let nodes_changed = self.write_op(|conn, schema| {
            // The branch's own rows go: its views change where main's did not.
            self.inner.cache.clear();
            let events = branch::merge(conn, schema, name)?;
            let n = events.len();
            Ok::<_, StoreError>((events, n))
        })?;
        tracing::info!(branch = name, nodes_changed, "branch merged");
        Ok(MergeReport {
            branch: name.into(),
            nodes_changed,
        })
    }

    /// What merging branch `name` now would refuse: every conflict its merge would name
    /// (none when it would merge). The merge is computed in a transaction that is rolled
    /// back, so nothing is written (`BranchValidate`).
    pub fn merge_conflicts(&self, name: &str) -> Result<Vec<String>> {
        if name == MAIN {
            return Ok(Vec::new());
        }
        let mut db = self.db();
        if !db.branch_exists(name)? {
            return Err(StoreError::BranchNotFound(name.into()));
        }
        db.begin_immediate()?;
        let merged = self
            .refresh_locked(&mut db)
            .and_then(|schema| branch::merge(&db.conn, &schema, name));
        db.rollback();
        match merged {
            Ok(_) => Ok(Vec::new()),
            Err(StoreError::MergeConflict { conflicts, .. }) => Ok(conflicts),
            Err(error) => Err(error),
        }
    }

    /// Sends `events` to the live subscribers (a copy each, made only when someone listens).
    fn publish(&self, events: Vec<Arc<Event>>) {
        if self.inner.events.receiver_count() == 0 {
            return;
        }
        for e in events {
            let _ = self.inner.events.send(Arc::unwrap_or_clone(e));
        }
    }

    /// Durable events after `seq` (at most 10 000 per call; call again from the last one).
    pub fn events_since(&self, seq: i64) -> Result<Vec<Event>> {
        Ok(self
            .shared_events_since(seq)?
            .into_iter()
            .map(Arc::unwrap_or_clone)
            .collect())
    }

    /// [`Store::events_since`], shared with the store: the events this process committed
    /// last are not copied, nor parsed back from the log.
    pub fn shared_events_since(&self, seq: i64) -> Result<Vec<Arc<Event>>> {
        const LIMIT: usize = 10_000;
        let db = self.db();
        let last = db.last_seq()?;
        let recent = self
            .inner
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .since(seq, last, LIMIT);
        match recent {
            Some(events) => Ok(events),
            None => Ok(db
                .events_since(seq, LIMIT as i64)?
                .into_iter()
                .map(Arc::new)
                .collect()),
        }
    }

    /// The sequence number of the last event (0 when none).
    pub fn last_event_seq(&self) -> Result<i64> {
        self.db().last_seq()
    }

    /// What the reader `name` of the event log recorded of its progress
    /// ([`Store::set_reader_position`]), kept in the store so that it survives the process.
    pub fn reader_position(&self, name: &str) -> Result<Option<String>> {
        self.db().meta(&format!("reader:{name}"))
    }

    /// Records the progress of the event log's reader `name` (an opaque text, e.g. JSON).
    pub fn set_reader_position(&self, name: &str, position: &str) -> Result<()> {
        let db = self.db();
        db.begin_immediate()?;
        match db.set_meta(&format!("reader:{name}"), position) {
            Ok(()) => db.commit(),
            Err(error) => {
                db.rollback();
                Err(error)
            }
        }
    }

    /// Live events from now on (events committed by other processes are not seen live; use
    /// [`Store::events_since`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Create an API token for `X-INFRAHUB-KEY` with `scope`; only its sha256 is stored.
    pub fn create_token(&self, name: &str, scope: TokenScope) -> Result<String> {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(StoreError::Randomness)?;
        let token = hex::encode(secret);
        self.db()
            .add_token(&token_hash(&token), name, scope.as_str(), &now())?;
        Ok(token)
    }

    /// The account `token` stands for, when it was created with [`Store::create_token`];
    /// `None` for any other string.
    ///
    /// Asked on a connection of the readers' pool where the store has a file, so that it
    /// never waits for a write under way: `serve` asks before every request it answers.
    pub fn token_account(&self, token: &str) -> Result<Option<Account>> {
        let hash = token_hash(token);
        let stored = self.committed_read(|db| db.token(&hash))?;
        Ok(stored.map(|(name, scope)| Account {
            id: Account::id_for(&hash),
            name,
            scope: TokenScope::parse(&scope).unwrap_or(TokenScope::Read),
        }))
    }

    /// Run a GraphQL request on `branch` and return the full response, as `/graphql/{branch}`
    /// would. Runs the work on tokio's blocking pool.
    ///
    /// Objects list their fields by name in a [`Value`]; [`Store::answer`] keeps the order
    /// the query selects them in.
    pub async fn execute(&self, branch: &str, req: GraphqlRequest) -> Value {
        self.answer(branch, req).await.into_value()
    }

    /// [`Store::execute`], the response as the query shapes it: each object's fields in
    /// selection order, as Infrahub answers (written out with [`Answer::to_text`]).
    pub async fn answer(&self, branch: &str, req: GraphqlRequest) -> Answer {
        self.execute_with(branch, req).await
    }

    async fn execute_with(&self, branch: &str, req: GraphqlRequest) -> Answer {
        let store = self.clone();
        let branch = branch.to_string();
        match tokio::task::spawn_blocking(move || store.execute_document(&branch, &req, true, None))
            .await
        {
            Ok(v) => v,
            Err(e) => error_response(&[
                GqlError::msg(format!("internal error: {e}")).with_code(ErrorCode::Internal)
            ]),
        }
    }

    /// [`Store::answer`] on the calling thread, which may block (a mutation waits for the
    /// write turn there), a query stopped with `LIMIT_EXCEEDED` when `budget` runs out: for
    /// a caller that manages its threads itself, as the HTTP server does.
    pub fn answer_waiting(
        &self,
        branch: &str,
        req: &GraphqlRequest,
        budget: QueryBudget,
    ) -> Answer {
        self.execute_document(branch, req, true, Some(budget))
    }

    /// [`Store::execute`] on the calling thread, without waiting for the write turn
    /// ([`Store::write_turn`]): a caller that may write while runs are open in this
    /// process uses [`Store::execute`].
    pub fn execute_blocking(&self, branch: &str, req: &GraphqlRequest) -> Value {
        self.answer_blocking(branch, req).into_value()
    }

    /// [`Store::execute_blocking`], the response as [`Store::answer`] gives it.
    pub fn answer_blocking(&self, branch: &str, req: &GraphqlRequest) -> Answer {
        self.execute_document(branch, req, false, None)
    }

    /// Answers a request; with `turn`, a mutation waits for the write turn (on a thread
    /// that may block) so that it never lands in the middle of a run.
    fn execute_document(
        &self,
        branch: &str,
        req: &GraphqlRequest,
        turn: bool,
        budget: Option<QueryBudget>,
    ) -> Answer {
        let doc = match graphql::parse(req) {
            Ok(d) => d,
            Err(resp) => return resp,
        };
        let prepared = match graphql::prepare(&doc, req) {
            Ok(p) => p,
            Err(resp) => return resp,
        };
        let answer = |conn: &Connection, schema: &Schema, using: CacheUse| {
            if let Err(missing) = crate::persistence::check_branch(conn, branch) {
                return Ok(Some(error_response(&[GqlError::from(missing)])));
            }
            let root = match prepared.ty {
                OperationType::Query => Ty::Query,
                OperationType::Mutation => Ty::Mutation,
                OperationType::Subscription => {
                    return Ok(Some(error_response(&[GqlError::msg(
                        "Subscriptions are not supported.",
                    )])));
                }
            };
            let errors = types::validate(schema, &doc, root, prepared.selection);
            if !errors.is_empty() {
                return Ok(Some(error_response(&errors)));
            }
            if prepared.ty == OperationType::Query {
                let tx = Tx::new(conn, schema, branch)
                    .cached_as(&self.inner.cache, using)
                    .keeping_nothing();
                let mut r = Resolver::new(&tx, &doc, &prepared.vars)
                    .with_account(req.account.as_ref())
                    .with_related(req.related.as_ref());
                if let Some(budget) = budget {
                    r = r.with_budget(budget);
                }
                let data = r.query_root(prepared.selection);
                if let Some(e) = tx.take_failure() {
                    return Err(e);
                }
                return Ok(Some(r.respond(data)));
            }
            Ok::<_, StoreError>(None)
        };
        // A query may take a while: on a connection of its own. A mutation is validated
        // on the store's connection, where it then runs.
        let answered = if prepared.ty == OperationType::Query {
            self.pooled_read(answer)
        } else {
            self.read_op(|conn, schema| answer(conn, schema, CacheUse::Own))
        };
        match answered {
            Ok(Some(response)) => return response,
            Ok(None) => {}
            Err(e) => return error_response(&[GqlError::from(e)]),
        }
        // Mutations: each root field is its own transaction, in document order.
        // On tokio's blocking pool (see `Store::execute_with`), where waiting may block.
        let _turn =
            turn.then(|| tokio::runtime::Handle::current().block_on(self.inner.turn.take(None)));
        mutation::answer_mutation(&doc, &prepared, |f| {
            if types::BRANCH_MUTATIONS.contains(&f.node.name.node.as_str()) {
                self.branch_mutation(&doc, &prepared.vars, f)
            } else {
                self.mutate_field(branch, &doc, &prepared.vars, f)
            }
        })
    }

    /// One field of Infrahub's branch API (`BranchCreate`, `BranchDelete`, `BranchMerge`,
    /// `BranchRebase`, `BranchValidate`), done at once: `task` (asked for by a client that
    /// does not wait) names the finished work. A branch sees main's later changes as they
    /// are made, so a rebase has nothing to do; a validation answers whether the branch
    /// would merge (`ok`) and every conflict its merge would name (`messages`), as
    /// Infrahub's did before it moved validation to proposed-change checks.
    fn branch_mutation(
        &self,
        doc: &async_graphql_parser::types::ExecutableDocument,
        vars: &Map<String, Value>,
        f: &async_graphql_parser::Positioned<async_graphql_parser::types::Field>,
    ) -> std::result::Result<Answer, GqlError> {
        let field = f.node.name.node.as_str();
        let args = args_json(&f.node, vars)?;
        let data = args.get("data").cloned().unwrap_or(Value::Null);
        let Some(name) = data.get("name").and_then(Value::as_str) else {
            return Err(GqlError::msg(format!(
                "Field '{field}' argument 'data': 'name' is required"
            ))
            .with_code(ErrorCode::BadRequest));
        };
        let mut conflicts = Vec::new();
        match field {
            "BranchCreate" => {
                self.create_branch(name)?;
                let description = data
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let sync_with_git = data
                    .get("sync_with_git")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                let db = self.db();
                db.conn
                    .execute(
                        "INSERT OR REPLACE INTO branch_info (name, description, sync_with_git) VALUES (?1, ?2, ?3)",
                        rusqlite::params![name, description, sync_with_git],
                    )
                    .map_err(StoreError::db(&db.path))?;
            }
            "BranchDelete" => self.delete_branch(name)?,
            "BranchMerge" => {
                self.merge_branch(name)?;
            }
            // Validate: whether the branch would merge, and if not, every conflict.
            "BranchValidate" => conflicts = self.merge_conflicts(name)?,
            // Rebase: nothing to do for a branch that exists.
            _ if self.branch_exists(name)? => {}
            _ => return Err(StoreError::BranchNotFound(name.into()).into()),
        }
        let described = {
            let db = self.db();
            crate::branch::api_branches(&db.conn, Some(name))
                .map_err(StoreError::db(&db.path))?
                .into_iter()
                .next()
        };
        let sub = graphql::all_fields(doc, &f.node.selection_set.node, vars);
        let mut out = Fields::new();
        for sf in sub {
            let v: Answer = match sf.node.name.node.as_str() {
                "ok" => json!(conflicts.is_empty()).into(),
                "__typename" => json!(field).into(),
                "messages" => json!(conflicts).into(),
                "task" => json!({ "id": format!("{}-{name}", field.to_lowercase()) }).into(),
                "object" => described.as_ref().map_or(Answer::NULL, |branch| {
                    graphql::branch_selection(doc, &sf.node.selection_set.node, vars, branch)
                }),
                _ => Answer::NULL,
            };
            out.insert(&sf.node.response_key().node, v);
        }
        Ok(Answer::Object(out))
    }

    fn mutate_field(
        &self,
        branch: &str,
        doc: &async_graphql_parser::types::ExecutableDocument,
        vars: &Map<String, Value>,
        f: &async_graphql_parser::Positioned<async_graphql_parser::types::Field>,
    ) -> std::result::Result<Answer, GqlError> {
        self.write_op(|conn, schema| {
            let mut tx = self.tx(conn, schema, branch);
            let value = mutation::answer_field(&mut tx, doc, vars, f)?;
            let events = tx.finish().map_err(GqlError::from)?;
            Ok((events, value))
        })
    }

    /// Infrahub's `GET /api/schema/summary`: the schema's hash, and one hash per node and
    /// generic (of its definition after defaults and inheritance), so a client can tell
    /// which kinds changed without reading them.
    pub fn schema_summary(&self) -> Value {
        let schema = self.schema();
        let mut nodes = serde_json::Map::new();
        let mut generics = serde_json::Map::new();
        for k in schema.kinds() {
            let text = serde_json::to_string(k).unwrap_or_default();
            let hash = hex::encode(&Sha256::digest(text.as_bytes())[..16]);
            if k.is_generic {
                generics.insert(k.kind.clone(), Value::String(hash));
            } else {
                nodes.insert(k.kind.clone(), Value::String(hash));
            }
        }
        serde_json::json!({"main": schema.hash, "nodes": nodes, "generics": generics})
    }

    /// The schema in the shape of Infrahub's `GET /api/schema` (`main` hash, `nodes`,
    /// `generics`, `profiles`, `templates`, `namespaces`).
    pub fn schema_json(&self) -> Value {
        let schema = self.schema();
        let mut nodes = Vec::new();
        let mut generics = Vec::new();
        let mut namespaces = std::collections::BTreeSet::new();
        for k in schema.kinds() {
            namespaces.insert(k.namespace.clone());
            let mut v = serde_json::to_value(k).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("id".into(), Value::Null);
                for (ek, ev) in &k.extra {
                    o.insert(ek.clone(), ev.clone());
                }
                if k.is_generic {
                    for f in ["inherit_from", "hierarchy", "parent", "children"] {
                        o.remove(f);
                    }
                } else {
                    for f in ["used_by", "hierarchical"] {
                        o.remove(f);
                    }
                }
                o.remove("is_generic");
            }
            if k.is_generic {
                generics.push(v)
            } else {
                nodes.push(v)
            }
        }
        let namespaces: Vec<Value> = namespaces
            .into_iter()
            .map(|n| json!({"name": n, "user_editable": !matches!(n.as_str(), "Core" | "Builtin")}))
            .collect();
        let (profiles, nodes): (Vec<Value>, Vec<Value>) = nodes
            .into_iter()
            .partition(|n| n["namespace"] == crate::schema::derived::PROFILE_NAMESPACE);
        let (templates, nodes): (Vec<Value>, Vec<Value>) = nodes
            .into_iter()
            .partition(|n| n["namespace"] == crate::schema::derived::TEMPLATE_NAMESPACE);
        // Moved into the answer: `json!` would copy every kind's JSON once more.
        let mut answer = serde_json::Map::new();
        answer.insert("main".to_owned(), Value::String(schema.hash.clone()));
        for (key, list) in [
            ("nodes", nodes),
            ("generics", generics),
            ("profiles", profiles),
            ("templates", templates),
            ("namespaces", namespaces),
        ] {
            answer.insert(key.to_owned(), Value::Array(list));
        }
        Value::Object(answer)
    }

    /// The GraphQL SDL of the current schema (`GET /schema.graphql`).
    pub fn sdl(&self) -> String {
        graphql::sdl::render(&self.schema())
    }
}

/// The response to a GraphQL request: `data`, and `errors` when there are any.
///
/// Built by moving `data` in, not with `json!`, which would copy the whole answer through
/// `Serialize` (a run's listing of a pod's interfaces is tens of kB).
pub(crate) fn respond(data: Answer, errors: &[GqlError]) -> Answer {
    let mut response = Fields::new();
    response.insert("data", data);
    if !errors.is_empty() {
        let errors = errors.iter().map(GqlError::to_json).collect();
        response.insert("errors", Value::Array(errors));
    }
    Answer::Object(response)
}

/// Build the schema from the files stored in `db` (and record its hash there the first time).
fn load_schema_from(db: &mut Db) -> Result<Schema> {
    let files = db.schema_files()?;
    let schema = load::build_stored(&core_files(), &files).map_err(StoreError::Schema)?;
    if db.schema_hash()?.is_none() {
        db.replace_schema_files(&files, &schema.hash, &schema)?;
    }
    Ok(schema)
}

/// `f` in one read transaction (one consistent snapshot) on an idle connection of the
/// readers' pool `readers` (one is opened on `path` when none is idle), given back to the
/// pool afterwards while it holds fewer than [`MAX_IDLE_READERS`].
fn with_pooled_reader<T, E: From<StoreError>>(
    readers: &Mutex<Vec<Db>>,
    path: &str,
    f: impl FnOnce(&Db) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    let reader = take_pooled_reader(readers, path)?;
    reader.begin_deferred()?;
    let out = f(&reader);
    reader.rollback();
    keep_idle_reader(readers, reader);
    out
}

/// A connection of the readers' pool, or a new one when none is idle.
fn take_pooled_reader(readers: &Mutex<Vec<Db>>, path: &str) -> Result<Db> {
    let pooled = readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
    match pooled {
        Some(reader) => Ok(reader),
        None => Db::open_reader(path),
    }
}

/// Keeps `reader`, whose transaction has ended, for the next read, unless enough are idle.
fn keep_idle_reader(readers: &Mutex<Vec<Db>>, reader: Db) {
    let mut idle = readers.lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() < MAX_IDLE_READERS {
        idle.push(reader);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A schema another process loaded is seen by reads while this process's connection is
    /// busy, and built once for all of them (each read parsed the files again before).
    #[test]
    fn another_process_s_schema_is_built_once_for_the_reads_that_see_it() {
        let (_dir, store, _other) = another_process_loaded_widgets();
        assert!(store.current_schema().get("TestWidget").is_none());
        // This process's connection held, as by a write under way.
        let busy = store.db();
        let first = store.schema();
        let second = store.schema();
        drop(busy);
        assert!(
            first.get("TestWidget").is_some(),
            "the other process's schema is seen"
        );
        assert!(Arc::ptr_eq(&first, &second), "built once, then shared");
        // Once the connection is free, this process takes it as its own.
        assert!(store.schema().get("TestWidget").is_some());
        assert!(store.current_schema().get("TestWidget").is_some());
    }

    /// Every request `serve` answers first looks its API token up: that must not wait for a
    /// write under way (a run's commit of thousands of nodes holds the store's connection for
    /// seconds, and every request, keepalives included, queued behind it).
    #[test]
    fn a_token_is_looked_up_while_a_write_is_under_way() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store.db")).unwrap();
        let token = store.create_token("ci", TokenScope::Write).unwrap();
        let (found, seen) = mpsc::channel();
        let looked_up = store
            .write_op(|_conn, _schema| {
                let store = store.clone();
                let token = token.clone();
                std::thread::spawn(move || found.send(store.token_account(&token)));
                // Still inside the write: the lookup answers without waiting for it.
                let answer = seen.recv_timeout(Duration::from_secs(10));
                Ok::<_, StoreError>((Vec::new(), answer))
            })
            .unwrap();
        let account = looked_up
            .expect("the lookup answered while the write was under way")
            .unwrap()
            .expect("the token's account");
        assert_eq!(
            (account.name.as_str(), account.scope),
            ("ci", TokenScope::Write)
        );
        assert_eq!(store.token_account("not a token").unwrap(), None);
    }

    /// A GraphQL query reads on a pooled connection; it must not wait for a write under way
    /// either (it checked the schema on the store's connection first, so it did), and it
    /// sees what was committed before the write, not the write's own rows.
    #[test]
    fn a_query_answers_while_a_write_is_under_way() {
        use crate::ipam::NAMESPACE_KIND;
        use crate::node::Node;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store.db")).unwrap();
        let names = |store: &Store| {
            let answer = store.execute_blocking(
                MAIN,
                &GraphqlRequest::new("{ IpamNamespace { edges { node { name { value } } } } }"),
            );
            let edges = answer["data"]["IpamNamespace"]["edges"].as_array().cloned();
            let mut names: Vec<String> = edges
                .unwrap_or_else(|| panic!("no namespaces in {answer}"))
                .iter()
                .map(|edge| edge["node"]["name"]["value"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        };
        create_namespace(&store, "before");
        let (answered, seen) = mpsc::channel();
        let during = store
            .write_op(|conn, schema| {
                let mut tx = store.tx(conn, schema, MAIN);
                let mut inside = Node::new(NAMESPACE_KIND);
                inside.attrs.insert("name".into(), json!("inside"));
                tx.put(inside);
                let events = tx.finish()?;
                let reader = store.clone();
                std::thread::spawn(move || answered.send(names(&reader)));
                // Still inside the write: the query answers without waiting for it.
                let during = seen.recv_timeout(Duration::from_secs(10));
                Ok::<_, StoreError>((events, during))
            })
            .unwrap();
        assert_eq!(
            during.expect("the query answered while the write was under way"),
            ["before", "default"]
        );
        assert_eq!(names(&store), ["before", "default", "inside"]);
    }

    /// Creates an `IpamNamespace` named `name` on main; its id.
    fn create_namespace(store: &Store, name: &str) -> String {
        let created = store.execute_blocking(
            MAIN,
            &GraphqlRequest::new(format!(
                r#"mutation {{ IpamNamespaceCreate(data: {{name: {{value: "{name}"}}}}) {{ object {{ id }} }} }}"#
            )),
        );
        created["data"]["IpamNamespaceCreate"]["object"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_owned()
    }

    /// The query of namespace `id`'s name.
    fn namespace_name_query(id: &str) -> GraphqlRequest {
        GraphqlRequest::new(format!(
            r#"{{ IpamNamespace(ids: ["{id}"]) {{ edges {{ node {{ name {{ value }} }} }} }} }}"#
        ))
    }

    /// Another process's commit that lands after this process's connection last looked and
    /// before a query's snapshot begins is in the snapshot, while the node cache still holds
    /// the view it changed: the query reads the committed node, not the cached view. (As
    /// `pooled_read` does, step by step, with the commit put in that window.)
    #[test]
    fn a_snapshot_begun_after_another_process_s_commit_is_not_served_stale_views() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = Store::open(&path).unwrap();
        let other = Store::open(&path).unwrap();
        let name_of = |store: &Store, id: &str| {
            let answer = store.execute_blocking(MAIN, &namespace_name_query(id));
            answer["data"]["IpamNamespace"]["edges"][0]["node"]["name"]["value"].clone()
        };
        let id = create_namespace(&store, "before");
        // The cache holds the view the create left, and the query reads it.
        assert!(store.cache().holds(MAIN, &id));
        assert_eq!(name_of(&store, &id), json!("before"));

        // The store's connection looks, the epoch is noted, a reader's transaction opens...
        assert!(store.refresh_if_free().unwrap().is_some());
        let noted = store.cache().reader_epoch().expect("no write under way");
        let readers = store
            .inner
            .readers
            .as_ref()
            .expect("a file store's readers");
        let reader = take_pooled_reader(readers, &store.inner.path).unwrap();
        reader.begin_deferred().unwrap();
        // ...when another process renames the namespace.
        let renamed = other.execute_blocking(
            MAIN,
            &GraphqlRequest::new(format!(
                r#"mutation {{ IpamNamespaceUpdate(data: {{id: "{id}", name: {{value: "after"}}}}) {{ ok }} }}"#
            )),
        );
        assert_eq!(
            renamed["data"]["IpamNamespaceUpdate"]["ok"], true,
            "{renamed}"
        );
        let epoch = store.still_cached_after_snapshot(&reader, noted).unwrap();
        let schema = store.current_schema();
        let tx =
            Tx::new(&reader.conn, &schema, MAIN).cached_as(store.cache(), CacheUse::Reader(epoch));
        let node = tx.get(&id).expect("the namespace");
        assert_eq!(node.attrs.get("name"), Some(&json!("after")));
        drop(tx);
        reader.rollback();
        assert_eq!(name_of(&store, &id), json!("after"));
    }

    /// A GraphQL query reads what the node cache holds and keeps nothing it loads: a
    /// client's lookups over many nodes would push out the views the runs read again.
    #[test]
    fn a_query_keeps_nothing_it_loads_in_the_node_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store.db")).unwrap();
        let id = create_namespace(&store, "kept");
        let query = namespace_name_query(&id);
        let expected =
            json!({"data": {"IpamNamespace": {"edges": [{"node": {"name": {"value": "kept"}}}]}}});
        store.cache().clear();
        assert_eq!(store.execute_blocking(MAIN, &query), expected);
        assert!(
            !store.cache().holds(MAIN, &id),
            "the query kept the view it loaded"
        );
        // A read on the store's own connection (as a run's writes make) keeps what it
        // loads, and the query is answered the same from the cache.
        store
            .read_op(|conn, schema| {
                let tx = store.tx(conn, schema, MAIN);
                assert!(tx.get(&id).is_some());
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert!(store.cache().holds(MAIN, &id));
        assert_eq!(store.execute_blocking(MAIN, &query), expected);
        assert!(store.cache().holds(MAIN, &id));
    }

    /// A query that does not wait for the store's connection takes its schema from its own
    /// snapshot: a kind another process loaded is answered, not refused as unknown.
    #[test]
    fn a_query_during_a_write_sees_a_schema_another_process_loaded() {
        let (_dir, store, other) = another_process_loaded_widgets();
        let created = other.execute_blocking(
            MAIN,
            &GraphqlRequest::new(
                r#"mutation { TestWidgetCreate(data: {name: {value: "w1"}}) { ok } }"#,
            ),
        );
        assert_eq!(created["data"]["TestWidgetCreate"]["ok"], true, "{created}");
        // The store's connection held, as a write holds it, before this handle noticed the
        // other's schema.
        let during = while_connection_held(&store, |store| {
            store.execute_blocking(
                MAIN,
                &GraphqlRequest::new("{ TestWidget { edges { node { name { value } } } } }"),
            )
        });
        assert_eq!(
            during,
            json!({"data": {"TestWidget": {"edges": [{"node": {"name": {"value": "w1"}}}]}}})
        );
    }

    /// Two handles on one store file, as two processes; the second ("another process")
    /// has loaded [`WIDGETS`] since the first opened.
    fn another_process_loaded_widgets() -> (tempfile::TempDir, Store, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = Store::open(&path).unwrap();
        let other = Store::open(&path).unwrap();
        other
            .load_schema(&[("widgets.yml".into(), WIDGETS.into())])
            .unwrap();
        (dir, store, other)
    }

    /// A schema of one kind, `TestWidget`, that "another process" loads.
    const WIDGETS: &str = "version: '1.0'
nodes:
  - name: Widget
    namespace: Test
    attributes:
      - {name: name, kind: Text, unique: true}
";

    /// What `read` answers on another thread while the store's own connection is held, as a
    /// write under way holds it; fails when it has not answered within 10 s.
    fn while_connection_held<T: Send + 'static>(
        store: &Store,
        read: impl FnOnce(&Store) -> T + Send + 'static,
    ) -> T {
        let held = store.db();
        let reader = store.clone();
        let answer = std::thread::spawn(move || read(&reader));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !answer.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let finished = answer.is_finished();
        drop(held);
        assert!(finished, "no answer while the store's connection was held");
        answer.join().unwrap()
    }

    /// What `serve` reads outside GraphQL — the schema (`/api/schema`), whether a branch
    /// exists (`?branch=`), the branches, the run history (`/api/runs`) — is read without
    /// waiting for a write, and as committed, a schema another process loaded included.
    #[test]
    fn the_schema_and_the_branches_are_read_while_a_write_is_under_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = Store::open(&path).unwrap();
        store.create_branch("br1").unwrap();
        let other = Store::open(&path).unwrap();
        other
            .load_schema(&[("widgets.yml".into(), WIDGETS.into())])
            .unwrap();
        let origin = store.branch_origin("br1").unwrap().expect("br1 began");
        let queued = store
            .enqueue_runs(
                &[crate::NewRun {
                    branch: "br1".into(),
                    generator: "pod".into(),
                    target: "t1".into(),
                    target_label: "pod1".into(),
                    causes: "[]".into(),
                    attempt: 1,
                    newest_event: None,
                }],
                &crate::ClaimOwner::current(),
            )
            .unwrap();
        let [crate::Enqueued::Queued(run)] = queued[..] else {
            panic!("{queued:?}")
        };
        let (has_widget, exists, missing, main, branches, origin_during, runs) =
            while_connection_held(&store, move |store| {
                (
                    store.schema().get("TestWidget").is_some(),
                    store.branch_exists("br1").unwrap(),
                    store.branch_exists("br2").unwrap(),
                    store.branch_exists(MAIN).unwrap(),
                    store
                        .branches()
                        .unwrap()
                        .into_iter()
                        .map(|b| (b.name, b.is_default, b.changes))
                        .collect::<Vec<_>>(),
                    store.branch_origin("br1").unwrap(),
                    (
                        store
                            .runs(&crate::RunFilter::default())
                            .unwrap()
                            .into_iter()
                            .map(|r| (r.id, r.target_label, r.status))
                            .collect::<Vec<_>>(),
                        store.run_record(run).unwrap().map(|r| r.generator),
                    ),
                )
            });
        assert!(has_widget, "the schema the other process loaded");
        assert_eq!((exists, missing, main), (true, false, true));
        assert_eq!(
            branches,
            [("main".to_owned(), true, 0), ("br1".to_owned(), false, 0)]
        );
        assert_eq!(origin_during, Some(origin));
        assert_eq!(
            runs,
            (
                vec![(run, "pod1".to_owned(), crate::RunStatus::Queued)],
                Some("pod".to_owned())
            )
        );
    }
}
