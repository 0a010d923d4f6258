//! SQLite's own page cache, except that a commit no longer walks every page the cache holds.
//!
//! When SQLite's B-tree splits or merges pages (`balance_nonroot`), it puts the new pages in
//! ascending order by swapping their page numbers, parking one page for a moment under a
//! number no database uses: the page of the pending byte (262,145 with 4 KiB pages). The
//! default page cache (`pcache1`) notes that number as the highest key it has held, and at
//! the end of every write transaction SQLite asks the cache to drop the pages past the
//! database's end (`xTruncate`). With the highest key 262,145 and the end far below it, the
//! default cache walks its whole hash table — every page it holds — to find pages past the
//! end, of which there are none. The writer's cache holds up to 32 MiB (~8,000 pages): on
//! the cascade bench at 16× the seed, one run's commit spent ~250 µs walking it, ~2% of the
//! build's CPU, and more as the store (and so the part of the cache in use) grows.
//!
//! This wrapper forwards every method to the default cache, and keeps, per cache, an upper
//! bound of the keys it holds — the highest key fetched or rekeyed, the pending-byte page
//! excepted while it is only parked — and whether that parking page is held. A truncation
//! with nothing at or past its limit has nothing to drop and is not forwarded; any other is,
//! and lowers the bound to the limit. The bound only ever errs high (the cache may drop or
//! recycle pages without telling it), so a truncation that has something to drop always
//! reaches the default cache.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::OnceLock;

use rusqlite::ffi;

type Pcache = *mut ffi::sqlite3_pcache;
type Page = *mut ffi::sqlite3_pcache_page;

/// SQLite's default page cache methods, saved when the wrapper is installed.
struct DefaultMethods {
    arg: *mut c_void,
    init: unsafe extern "C" fn(*mut c_void) -> c_int,
    shutdown: Option<unsafe extern "C" fn(*mut c_void)>,
    create: unsafe extern "C" fn(c_int, c_int, c_int) -> Pcache,
    cache_size: unsafe extern "C" fn(Pcache, c_int),
    page_count: unsafe extern "C" fn(Pcache) -> c_int,
    fetch: unsafe extern "C" fn(Pcache, c_uint, c_int) -> Page,
    unpin: unsafe extern "C" fn(Pcache, Page, c_int),
    rekey: unsafe extern "C" fn(Pcache, Page, c_uint, c_uint),
    truncate: unsafe extern "C" fn(Pcache, c_uint),
    destroy: unsafe extern "C" fn(Pcache),
    shrink: Option<unsafe extern "C" fn(Pcache)>,
}

// SAFETY: the methods are SQLite's own functions (thread-safe as SQLite is configured) and
// `arg` is the default cache's, which it accepts from any thread.
unsafe impl Send for DefaultMethods {}
// SAFETY: as above; the saved methods are only read.
unsafe impl Sync for DefaultMethods {}

static DEFAULT: OnceLock<DefaultMethods> = OnceLock::new();

/// Where SQLite's pending byte is in a database file (`PENDING_BYTE`, which only SQLite's
/// test builds move): the page holding it is never a page of a database.
const PENDING_BYTE: c_uint = 0x4000_0000;

/// One cache: the default cache's, and what the wrapper knows of its keys.
struct Cache {
    inner: Pcache,
    /// The pending-byte page's number for this cache's page size.
    parking: c_uint,
    /// No key held is above this (the parking page aside).
    highest: c_uint,
    /// Whether a page is parked under `parking` now.
    parked: bool,
}

impl Cache {
    /// Notes that a page is held under `key`: parked, or within the bound.
    fn holds(&mut self, key: c_uint) {
        if key == self.parking {
            #[cfg(test)]
            tests::count(&tests::PARKED);
            self.parked = true;
        } else {
            self.highest = self.highest.max(key);
        }
    }
}

/// Installs the wrapper as the process's page cache. Must run before SQLite is initialised
/// (see [`crate::persistence::configure_sqlite`]); returns SQLite's result code.
pub(crate) fn install() -> c_int {
    let mut default = ffi::sqlite3_pcache_methods2 {
        iVersion: 0,
        pArg: std::ptr::null_mut(),
        xInit: None,
        xShutdown: None,
        xCreate: None,
        xCachesize: None,
        xPagecount: None,
        xFetch: None,
        xUnpin: None,
        xRekey: None,
        xTruncate: None,
        xDestroy: None,
        xShrink: None,
    };
    // SAFETY: `SQLITE_CONFIG_GETPCACHE2` writes the current (before initialisation: the
    // default) methods into the struct passed; the caller runs this before SQLite is
    // initialised and while nothing else uses SQLite.
    let rc = unsafe {
        ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_GETPCACHE2,
            &mut default as *mut ffi::sqlite3_pcache_methods2,
        )
    };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let saved = (|| {
        Some(DefaultMethods {
            arg: default.pArg,
            init: default.xInit?,
            shutdown: default.xShutdown,
            create: default.xCreate?,
            cache_size: default.xCachesize?,
            page_count: default.xPagecount?,
            fetch: default.xFetch?,
            unpin: default.xUnpin?,
            rekey: default.xRekey?,
            truncate: default.xTruncate?,
            destroy: default.xDestroy?,
            shrink: default.xShrink,
        })
    })();
    let Some(saved) = saved else {
        // Not a complete cache to wrap: SQLite keeps it as it is.
        return ffi::SQLITE_OK;
    };
    if DEFAULT.set(saved).is_err() {
        // Installed already.
        return ffi::SQLITE_OK;
    }
    let wrapper = ffi::sqlite3_pcache_methods2 {
        iVersion: 1,
        pArg: std::ptr::null_mut(),
        xInit: Some(init),
        xShutdown: Some(shutdown),
        xCreate: Some(create),
        xCachesize: Some(cache_size),
        xPagecount: Some(page_count),
        xFetch: Some(fetch),
        xUnpin: Some(unpin),
        xRekey: Some(rekey),
        xTruncate: Some(truncate),
        xDestroy: Some(destroy),
        xShrink: Some(shrink),
    };
    // SAFETY: as above; `SQLITE_CONFIG_PCACHE2` copies the struct.
    unsafe {
        ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_PCACHE2,
            &wrapper as *const ffi::sqlite3_pcache_methods2,
        )
    }
}

/// The default methods (set before the wrapper was installed, so before any call into it).
fn default() -> &'static DefaultMethods {
    match DEFAULT.get() {
        Some(methods) => methods,
        // The wrapper's methods are only installed after `DEFAULT` is set.
        None => unreachable!("the page cache wrapper is installed only with its defaults"),
    }
}

/// The wrapper's state behind a cache pointer SQLite holds.
///
/// # Safety
/// `cache` must be a pointer [`create`] returned and [`destroy`] has not freed; SQLite calls
/// one cache's methods one at a time (under its connection's or the cache group's mutex).
unsafe fn state<'a>(cache: Pcache) -> &'a mut Cache {
    // SAFETY: per the function's contract.
    unsafe { &mut *cache.cast::<Cache>() }
}

unsafe extern "C" fn init(_arg: *mut c_void) -> c_int {
    let d = default();
    // SAFETY: the default's own initialisation, with its own argument.
    unsafe { (d.init)(d.arg) }
}

unsafe extern "C" fn shutdown(_arg: *mut c_void) {
    let d = default();
    if let Some(f) = d.shutdown {
        // SAFETY: the default's own shutdown, with its own argument.
        unsafe { f(d.arg) }
    }
}

unsafe extern "C" fn create(page_size: c_int, extra: c_int, purgeable: c_int) -> Pcache {
    let d = default();
    // SAFETY: forwarded as SQLite called it.
    let inner = unsafe { (d.create)(page_size, extra, purgeable) };
    if inner.is_null() {
        return inner;
    }
    let parking = c_uint::try_from(page_size)
        .ok()
        .filter(|&size| size > 0)
        .map_or(0, |size| PENDING_BYTE / size + 1);
    Box::into_raw(Box::new(Cache {
        inner,
        parking,
        highest: 0,
        parked: false,
    }))
    .cast()
}

unsafe extern "C" fn cache_size(cache: Pcache, pages: c_int) {
    // SAFETY: `cache` is one of ours (SQLite only passes back what `create` returned).
    let c = unsafe { state(cache) };
    // SAFETY: forwarded to the default with its own cache.
    unsafe { (default().cache_size)(c.inner, pages) }
}

unsafe extern "C" fn page_count(cache: Pcache) -> c_int {
    // SAFETY: as in `cache_size`.
    let c = unsafe { state(cache) };
    // SAFETY: as in `cache_size`.
    unsafe { (default().page_count)(c.inner) }
}

unsafe extern "C" fn fetch(cache: Pcache, key: c_uint, create_flag: c_int) -> Page {
    // SAFETY: as in `cache_size`.
    let c = unsafe { state(cache) };
    // SAFETY: as in `cache_size`.
    let page = unsafe { (default().fetch)(c.inner, key, create_flag) };
    // A fetch that may create a page may add `key`; one that may not finds what is held.
    if !page.is_null() && create_flag != 0 {
        c.holds(key);
    }
    page
}

unsafe extern "C" fn unpin(cache: Pcache, page: Page, discard: c_int) {
    // SAFETY: as in `cache_size`.
    let c = unsafe { state(cache) };
    // SAFETY: as in `cache_size`.
    unsafe { (default().unpin)(c.inner, page, discard) }
}

unsafe extern "C" fn rekey(cache: Pcache, page: Page, old: c_uint, new: c_uint) {
    // SAFETY: as in `cache_size`.
    let c = unsafe { state(cache) };
    // SAFETY: as in `cache_size`.
    unsafe { (default().rekey)(c.inner, page, old, new) }
    if old == c.parking {
        c.parked = false;
    }
    c.holds(new);
}

unsafe extern "C" fn truncate(cache: Pcache, limit: c_uint) {
    // SAFETY: as in `cache_size`.
    let c = unsafe { state(cache) };
    let parked_past = c.parked && c.parking >= limit;
    if c.highest < limit && !parked_past {
        // Nothing held at or past `limit`: nothing to drop.
        return;
    }
    #[cfg(test)]
    tests::count(&tests::FORWARDED);
    // SAFETY: as in `cache_size`.
    unsafe { (default().truncate)(c.inner, limit) }
    c.highest = c.highest.min(limit.saturating_sub(1));
    if parked_past {
        c.parked = false;
    }
}

unsafe extern "C" fn destroy(cache: Pcache) {
    // SAFETY: `cache` is one of ours, and SQLite never uses it again after this call.
    let c = unsafe { Box::from_raw(cache.cast::<Cache>()) };
    // SAFETY: forwarded to the default with its own cache, which it frees.
    unsafe { (default().destroy)(c.inner) }
}

unsafe extern "C" fn shrink(cache: Pcache) {
    // SAFETY: as in `cache_size`.
    let c = unsafe { state(cache) };
    if let Some(f) = default().shrink {
        // SAFETY: as in `cache_size`.
        unsafe { f(c.inner) }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;
    use std::thread::LocalKey;

    use rusqlite::{Connection, params};

    thread_local! {
        /// Pages this thread's connections parked under the pending-byte page number.
        pub(super) static PARKED: Cell<usize> = const { Cell::new(0) };
        /// Truncations this thread's connections forwarded to SQLite's default cache.
        pub(super) static FORWARDED: Cell<usize> = const { Cell::new(0) };
    }

    pub(super) fn count(counter: &'static LocalKey<Cell<usize>>) {
        counter.with(|n| n.set(n.get() + 1));
    }

    fn read(counter: &'static LocalKey<Cell<usize>>) -> usize {
        counter.with(Cell::get)
    }

    /// A connection set up as the store's writer is: WAL, a cache larger than the file.
    fn open(path: &Path) -> Connection {
        assert_eq!(
            crate::persistence::configure_sqlite(),
            rusqlite::ffi::SQLITE_OK,
            "the page cache installs before SQLite is first used"
        );
        let conn = Connection::open(path).expect("open");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("WAL");
        conn.pragma_update(None, "cache_size", -(32 << 10))
            .expect("cache");
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS t (k BLOB PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID",
        )
        .expect("table");
        conn
    }

    /// Inserts `n` rows with keys spread over the table (so leaves split in its middle, where
    /// SQLite parks pages to reorder them) from `seed`.
    fn insert_spread(conn: &Connection, seed: u64, n: u64) {
        let mut stmt = conn
            .prepare("INSERT INTO t (k, v) VALUES (?1, ?2)")
            .expect("prepare");
        for i in 0..n {
            let k = ((seed << 32) | i)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .to_be_bytes();
            stmt.execute(params![
                &k[..],
                format!("value {seed} {i} {}", "x".repeat(60))
            ])
            .expect("insert");
        }
    }

    fn rows(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    fn integrity(conn: &Connection) -> String {
        conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check")
    }

    #[test]
    fn a_commit_after_pages_were_reordered_walks_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let conn = open(&dir.path().join("t.db"));
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        insert_spread(&conn, 1, 20_000);
        conn.execute_batch("COMMIT").expect("commit");
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        insert_spread(&conn, 2, 2_000);
        let (parked, forwarded) = (read(&PARKED), read(&FORWARDED));
        conn.execute_batch("COMMIT").expect("commit");
        assert!(
            parked > 0,
            "the inserts split leaves and SQLite parked pages to reorder them"
        );
        assert_eq!(
            read(&FORWARDED),
            forwarded,
            "the commit's truncation had nothing past the end to drop and was not forwarded"
        );
        assert_eq!(rows(&conn), 22_000);
        assert_eq!(integrity(&conn), "ok");
    }

    #[test]
    fn a_rolled_back_transaction_drops_the_pages_it_added() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        let conn = open(&path);
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        insert_spread(&conn, 1, 5_000);
        conn.execute_batch("COMMIT").expect("commit");
        let page_count = |conn: &Connection| -> i64 {
            conn.query_row("PRAGMA page_count", [], |r| r.get(0))
                .expect("page_count")
        };
        let pages = page_count(&conn);
        // Appended in key order: new leaves at the end, no page parked to reorder them,
        // so only the fetches that created them tell how far the cache now reaches.
        conn.execute_batch("CREATE TABLE a (n INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .expect("table");
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        let parked = read(&PARKED);
        for n in 0..20_000 {
            conn.execute(
                "INSERT INTO a (n, v) VALUES (?1, ?2)",
                params![n, "y".repeat(60)],
            )
            .expect("append");
        }
        assert_eq!(read(&PARKED), parked, "appends parked no page");
        let grown = page_count(&conn);
        assert!(
            grown > pages + 100,
            "the transaction added pages ({pages} -> {grown})"
        );
        let forwarded = read(&FORWARDED);
        conn.execute_batch("ROLLBACK").expect("rollback");
        assert!(
            read(&FORWARDED) > forwarded,
            "the rollback's truncation reached the default cache to drop the added pages"
        );
        assert_eq!(
            page_count(&conn),
            pages + 1,
            "the file as it was, with table `a`"
        );
        assert_eq!(rows(&conn), 5_000);
        assert_eq!(integrity(&conn), "ok");
        // The page numbers the rolled-back pages had are used again, with other content.
        insert_spread(&conn, 3, 20_000);
        assert_eq!(rows(&conn), 25_000);
        assert_eq!(integrity(&conn), "ok");
        let other = Connection::open(&path).expect("a second connection");
        assert_eq!(
            rows(&other),
            25_000,
            "another connection reads the same rows"
        );
        assert_eq!(integrity(&other), "ok");
    }
}
