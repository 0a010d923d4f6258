//! The store's SQLite VFS: the platform's own, except that a transaction's WAL frames reach
//! the file in one write instead of two per page.
//!
//! SQLite writes each WAL frame as two `pwrite`s, its 24-byte header and then its page, and
//! the frames of a commit one after the other. At 4,120 bytes a frame, each frame touches
//! three page-cache pages across its two calls, and the kernel's per-call work (the system
//! call, the file system's write path for each page it touches) is most of what a commit's
//! writes cost: ~4 µs a frame on this 2-core machine, against ~1.4 µs for frames written
//! as one call per commit (a seed build writes ~6,400 frames; the README has the figures). This VFS wraps the default one and,
//! for WAL files only, gathers the frames of a transaction and writes them at once.
//!
//! Why it stays correct: SQLite makes a commit visible to other connections by publishing
//! the WAL index header, in shared memory, only after its `xWrite` of the commit frame has
//! returned. The commit frame is recognisable — its header's second word, the database size
//! after the commit, is not zero — so the frames gathered are written when the page of that
//! frame arrives, inside the same `xWrite`, and its result is that write's: a failure
//! (a full disk) fails the commit as it would have, before anything is published. What is
//! gathered and not yet written was never published (the pages of a transaction spilled
//! before its commit), and is written before any other use of the file: a read, a write
//! elsewhere, a sync, a truncation, a size, a file control, the close. Only appends in the
//! shape SQLite writes frames — the WAL header at offset 0, then header and page after
//! header and page, each where the last ended — are gathered; every other write (the
//! checksums SQLite rewrites in place after a commit that overwrote its own frames) goes
//! straight through once what was gathered is written. Database files, journals and
//! temporary files are the default VFS's, untouched.

use std::collections::BTreeMap;
use std::ffi::{CStr, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use rusqlite::ffi;

/// The name the VFS is registered under.
pub(crate) const NAME: &CStr = c"infragen-wal";

/// The most bytes gathered before they are written anyway (a commit of more frames, as an
/// import makes).
const MOST_GATHERED: usize = 1 << 20;

/// The most bytes the default VFS writes in one call: it takes the low 17 bits of the
/// length (`seekAndWriteFd`), so a longer write is written in pieces of this size.
const MOST_PER_WRITE: usize = (1 << 17) - 1;

/// A WAL frame header's size.
const FRAME_HEADER: usize = 24;

/// The WAL file header's size.
const WAL_HEADER: usize = 32;

/// Whether the frames appended to WAL files are being counted (see [`count_frames`]).
static COUNTING: AtomicBool = AtomicBool::new(false);

/// Frames appended while counting: by WAL file name, then by database page number.
type Counted = BTreeMap<Box<str>, BTreeMap<u32, u64>>;

static COUNTED: Mutex<Counted> = Mutex::new(BTreeMap::new());

/// Starts (`true`) or stops counting the frames that the WAL files of this process append,
/// by file and page number, and returns what was counted since it last started. A frame is
/// counted when SQLite writes its header past the last one of the same WAL generation this
/// file wrote: a header written again in place (a page a large transaction spilled and
/// then changed again) is not a new frame.
pub(crate) fn count_frames(on: bool) -> Counted {
    COUNTING.store(on, Ordering::Relaxed);
    std::mem::take(&mut *COUNTED.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Counts, for the WAL named `name`, the frame whose header is `header` (its page number,
/// big-endian, first).
fn count_frame(name: &str, header: &[u8]) {
    let Some(&[a, b, c, d]) = header.first_chunk::<4>() else {
        return;
    };
    let page = u32::from_be_bytes([a, b, c, d]);
    let mut counted = COUNTED.lock().unwrap_or_else(|e| e.into_inner());
    let pages = match counted.get_mut(name) {
        Some(pages) => pages,
        None => counted.entry(name.into()).or_default(),
    };
    *pages.entry(page).or_default() += 1;
}

/// The default VFS this one wraps, once registered (see [`register`]).
struct Registered {
    inner: *mut ffi::sqlite3_vfs,
}

// SAFETY: the pointer is to SQLite's own VFS object, which lives as long as the process and
// is only read (SQLite's VFS functions are thread-safe).
unsafe impl Send for Registered {}
// SAFETY: as above.
unsafe impl Sync for Registered {}

static REGISTERED: OnceLock<Option<Registered>> = OnceLock::new();

/// Registers the VFS with SQLite, once, and returns its name; `None` when SQLite has no
/// default VFS or refused the registration (the store then opens with the default one).
/// Call after the process's `sqlite3_config` calls: finding the default VFS initialises
/// SQLite.
pub(crate) fn register() -> Option<&'static CStr> {
    REGISTERED
        .get_or_init(|| {
            // SAFETY: `sqlite3_vfs_find(NULL)` returns the default VFS or null; the VFS
            // object built here is leaked, so it outlives every connection using it, as
            // SQLite requires of a registered VFS.
            unsafe {
                let inner = ffi::sqlite3_vfs_find(std::ptr::null());
                if inner.is_null() {
                    return None;
                }
                let base = &*inner;
                let size = std::mem::size_of::<WalFile>() + usize::try_from(base.szOsFile).ok()?;
                let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                    iVersion: base.iVersion,
                    szOsFile: c_int::try_from(size).ok()?,
                    mxPathname: base.mxPathname,
                    pNext: std::ptr::null_mut(),
                    zName: NAME.as_ptr(),
                    // The default VFS's functions other than `xOpen` are called with this
                    // object: they read its `pAppData` and `mxPathname`, the same as theirs.
                    pAppData: base.pAppData,
                    xOpen: Some(open),
                    ..*base
                }));
                let rc = ffi::sqlite3_vfs_register(vfs, 0);
                if rc != ffi::SQLITE_OK {
                    tracing::warn!(
                        rc,
                        "could not register the store's VFS: using SQLite's default"
                    );
                    return None;
                }
                Some(Registered { inner })
            }
        })
        .as_ref()
        .map(|_| NAME)
}

/// The default VFS (only called once [`register`] succeeded).
fn inner_vfs() -> *mut ffi::sqlite3_vfs {
    REGISTERED
        .get()
        .and_then(Option::as_ref)
        .map_or(std::ptr::null_mut(), |r| r.inner)
}

/// A WAL file: SQLite's handle, the default VFS's handle for the same file (in the same
/// allocation, right after this struct), and the frames gathered.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    gathered: Gathered,
    /// The file's name, as SQLite gave it (for [`count_frames`]).
    name: Box<str>,
    /// The salts of the WAL's frames (they change whenever the WAL starts again) and the
    /// offset of the last frame header with them written here: a header written at or
    /// before it is a frame rewritten in place (see [`count_frames`]).
    appended: ([u8; 8], i64),
}

/// Frames written by SQLite and not yet by the file.
struct Gathered {
    bytes: Vec<u8>,
    /// Where `bytes` go in the file.
    offset: i64,
    /// Where the last write to the file ended: a commit's frames start where the last
    /// commit's ended, so a frame header written there begins a new run of frames (the
    /// frame headers SQLite rewrites after some commits lie before it).
    last_end: i64,
    /// What the next write gathered must be.
    next: Next,
}

/// What SQLite writes next while it appends frames.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    /// A frame header (after the WAL header or a page).
    Header,
    /// The page of the frame whose header was just gathered; `commit`: that frame is a
    /// commit frame, whose page ends the commit.
    Page { commit: bool },
}

impl Gathered {
    fn end(&self) -> i64 {
        self.offset + self.bytes.len() as i64
    }
}

/// The file's methods: the default VFS's for what it does not change.
static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

/// `xOpen`: the default VFS's file, wrapped when it is a WAL.
unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let inner_vfs = inner_vfs();
    if inner_vfs.is_null() {
        return ffi::SQLITE_CANTOPEN;
    }
    // SAFETY: SQLite calls `xOpen` with a zeroed allocation of this VFS's `szOsFile` bytes,
    // room for a `WalFile` followed by the default VFS's file; the default VFS is registered
    // (this VFS is only registered once it was found).
    unsafe {
        let Some(inner_open) = (*inner_vfs).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            // Not a WAL: the default VFS's file, at the start of the allocation.
            return inner_open(inner_vfs, name, file, flags, out_flags);
        }
        let wal = file.cast::<WalFile>();
        let inner = file
            .cast::<u8>()
            .add(std::mem::size_of::<WalFile>())
            .cast::<ffi::sqlite3_file>();
        let rc = inner_open(inner_vfs, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            // SQLite does not close a file whose `pMethods` is null.
            (*file).pMethods = std::ptr::null();
            return rc;
        }
        let Some(methods) = (*inner).pMethods.as_ref() else {
            (*file).pMethods = std::ptr::null();
            return ffi::SQLITE_CANTOPEN;
        };
        let mut size: ffi::sqlite3_int64 = 0;
        if let Some(file_size) = methods.xFileSize {
            let rc = file_size(inner, &mut size);
            if rc != ffi::SQLITE_OK {
                if let Some(close) = methods.xClose {
                    close(inner);
                }
                (*file).pMethods = std::ptr::null();
                return rc;
            }
        }
        std::ptr::write(
            wal,
            WalFile {
                base: ffi::sqlite3_file {
                    pMethods: &WAL_METHODS,
                },
                inner,
                gathered: Gathered {
                    bytes: Vec::new(),
                    offset: 0,
                    last_end: size,
                    next: Next::Header,
                },
                appended: ([0; 8], -1),
                name: if name.is_null() {
                    Box::from("")
                } else {
                    CStr::from_ptr(name).to_string_lossy().into()
                },
            },
        );
        ffi::SQLITE_OK
    }
}

/// The `WalFile` SQLite calls a method of.
///
/// # Safety
/// `file` is a file [`open`] wrapped (its `pMethods` is [`WAL_METHODS`]), not closed.
unsafe fn wal<'f>(file: *mut ffi::sqlite3_file) -> &'f mut WalFile {
    // SAFETY: the caller's contract; SQLite uses a file from one thread at a time.
    unsafe { &mut *file.cast::<WalFile>() }
}

/// The default VFS's methods of `wal`'s file.
fn methods(wal: &WalFile) -> &'static ffi::sqlite3_io_methods {
    // SAFETY: the default VFS's open succeeded, so its file's `pMethods` points at its
    // static methods.
    unsafe { &*(*wal.inner).pMethods }
}

/// Writes `amount` bytes at `data` to the file at `offset` through the default VFS, and
/// notes where the write ended; SQLite's result code.
///
/// # Safety
/// `data` points at `amount` readable bytes.
unsafe fn write_through(
    wal: &mut WalFile,
    data: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let Some(inner_write) = methods(wal).xWrite else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    #[cfg(test)]
    tests::count_write();
    // SAFETY: the default VFS's write on its own file; the caller's bytes.
    let rc = unsafe { inner_write(wal.inner, data, amount, offset) };
    wal.gathered.last_end = offset + ffi::sqlite3_int64::from(amount);
    rc
}

/// Writes what was gathered, in pieces of at most [`MOST_PER_WRITE`] bytes; SQLite's result
/// code.
fn flush(wal: &mut WalFile) -> c_int {
    if wal.gathered.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    // Taken while `write_through` borrows the file; given back, emptied, to keep its room.
    let bytes = std::mem::take(&mut wal.gathered.bytes);
    let mut rc = ffi::SQLITE_OK;
    let mut offset = wal.gathered.offset;
    for piece in bytes.chunks(MOST_PER_WRITE) {
        // SAFETY: the piece's bytes, whose length fits a `c_int` (`MOST_PER_WRITE`).
        rc = unsafe { write_through(wal, piece.as_ptr().cast(), piece.len() as c_int, offset) };
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += piece.len() as i64;
    }
    // What did not reach the file is dropped with the rest: SQLite has the error.
    wal.gathered.last_end = wal.gathered.offset + bytes.len() as i64;
    wal.gathered.bytes = bytes;
    wal.gathered.bytes.clear();
    wal.gathered.next = Next::Header;
    rc
}

/// Writes what was gathered, then calls `then` unless that failed.
fn flushed(wal: &mut WalFile, then: impl FnOnce(&mut WalFile) -> c_int) -> c_int {
    match flush(wal) {
        ffi::SQLITE_OK => then(wal),
        rc => rc,
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite calls this on a file `open` wrapped, with `amount` readable bytes.
    let wal = unsafe { wal(file) };
    let Ok(len) = usize::try_from(amount) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    // SAFETY: as above.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
    let g = &wal.gathered;
    let is_header = len == FRAME_HEADER;
    // The shapes SQLite appends frames in: the WAL header at 0 (a new or restarted WAL),
    // a frame header where the file or what was gathered ends, its page right after it.
    let gathers = if g.bytes.is_empty() {
        (offset == 0 && len == WAL_HEADER) || (is_header && offset == g.last_end)
    } else {
        offset == g.end() && (g.next == Next::Header) == is_header
    };
    if is_header && let Some(salts) = bytes.get(8..16) {
        // A new frame: past the last header with these salts (a WAL started again has new
        // ones, and starts at its beginning). A frame written while SQLite owes the
        // transaction's checksums a rewrite has zero salts until then: no new generation.
        let salted = salts != [0; 8];
        if (salted && salts != wal.appended.0) || offset > wal.appended.1 {
            if salted {
                wal.appended.0.copy_from_slice(salts);
            }
            wal.appended.1 = offset;
            if COUNTING.load(Ordering::Relaxed) {
                count_frame(&wal.name, bytes);
            }
        }
    }
    if !gathers {
        // SAFETY: SQLite's bytes, as above.
        return flushed(wal, |wal| unsafe {
            write_through(wal, data, amount, offset)
        });
    }
    let g = &mut wal.gathered;
    if g.bytes.is_empty() {
        g.offset = offset;
    }
    g.bytes.extend_from_slice(bytes);
    let commit_page = g.next == Next::Page { commit: true };
    g.next = if is_header {
        // The database's size after the commit, big-endian, in bytes 4..8: not zero in a
        // commit frame alone.
        Next::Page {
            commit: bytes[4..8] != [0, 0, 0, 0],
        }
    } else {
        Next::Header
    };
    if commit_page || g.bytes.len() >= MOST_GATHERED {
        return flush(wal);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes a file `open` wrapped, once; nothing uses it after.
    unsafe {
        let wal = wal(file);
        let flushed = flush(wal);
        let closed = match methods(wal).xClose {
            Some(close) => close(wal.inner),
            None => ffi::SQLITE_OK,
        };
        std::ptr::drop_in_place(std::ptr::addr_of_mut!(wal.gathered));
        std::ptr::drop_in_place(std::ptr::addr_of_mut!(wal.name));
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

/// Methods that write what was gathered, then call the default VFS's with SQLite's
/// arguments (`$missing`: the result when the default VFS has no such method).
macro_rules! flushing {
    ($(fn $name:ident($($arg:ident: $ty:ty),*) => $method:ident or $missing:expr;)*) => {$(
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: SQLite calls it on a file `open` wrapped; its arguments are passed on
            // to the default VFS's method, on the default VFS's file.
            flushed(unsafe { wal(file) }, |wal| match methods(wal).$method {
                Some(method) => unsafe { method(wal.inner, $($arg),*) },
                None => $missing,
            })
        }
    )*};
}

/// Methods that call the default VFS's as they are: they neither read nor change the file's
/// bytes.
macro_rules! passing {
    ($(fn $name:ident($($arg:ident: $ty:ty),*) => $method:ident or $missing:expr;)*) => {$(
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: as for `flushing!`.
            let wal = unsafe { wal(file) };
            match methods(wal).$method {
                Some(method) => unsafe { method(wal.inner, $($arg),*) },
                None => $missing,
            }
        }
    )*};
}

flushing! {
    fn read(data: *mut c_void, amount: c_int, offset: ffi::sqlite3_int64)
        => xRead or ffi::SQLITE_IOERR_READ;
    fn truncate(size: ffi::sqlite3_int64) => xTruncate or ffi::SQLITE_IOERR_TRUNCATE;
    fn sync(flags: c_int) => xSync or ffi::SQLITE_IOERR_FSYNC;
    fn file_size(size: *mut ffi::sqlite3_int64) => xFileSize or ffi::SQLITE_IOERR_FSTAT;
    fn lock(level: c_int) => xLock or ffi::SQLITE_IOERR_LOCK;
    fn unlock(level: c_int) => xUnlock or ffi::SQLITE_IOERR_UNLOCK;
    fn file_control(op: c_int, arg: *mut c_void) => xFileControl or ffi::SQLITE_NOTFOUND;
}

// SQLite maps shared memory through the database file, never its WAL; the `shm` methods
// pass the calls on all the same.
passing! {
    fn check_reserved_lock(out: *mut c_int)
        => xCheckReservedLock or ffi::SQLITE_IOERR_CHECKRESERVEDLOCK;
    fn sector_size() => xSectorSize or 4096;
    fn device_characteristics() => xDeviceCharacteristics or 0;
    fn shm_map(page: c_int, page_size: c_int, extend: c_int, out: *mut *mut c_void)
        => xShmMap or ffi::SQLITE_IOERR_SHMMAP;
    fn shm_lock(offset: c_int, n: c_int, flags: c_int) => xShmLock or ffi::SQLITE_IOERR_SHMLOCK;
    fn shm_unmap(delete: c_int) => xShmUnmap or ffi::SQLITE_OK;
    fn unfetch(offset: ffi::sqlite3_int64, page: *mut c_void) => xUnfetch or ffi::SQLITE_OK;
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: as for `flushing!`.
    let wal = unsafe { wal(file) };
    if let Some(barrier) = methods(wal).xShmBarrier {
        unsafe { barrier(wal.inner) }
    }
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: as for `flushing!`.
    flushed(unsafe { wal(file) }, |wal| match methods(wal).xFetch {
        Some(fetch) => unsafe { fetch(wal.inner, offset, amount, out) },
        None => {
            // SAFETY: SQLite's out-pointer: no mapping, read instead.
            unsafe { *out = std::ptr::null_mut() };
            ffi::SQLITE_OK
        }
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use rusqlite::{Connection, OpenFlags, params};

    use super::{FRAME_HEADER, WAL_HEADER};

    thread_local! {
        /// Writes this thread made to WAL files through the default VFS.
        static WAL_WRITES: Cell<usize> = const { Cell::new(0) };
    }

    pub(super) fn count_write() {
        WAL_WRITES.with(|n| n.set(n.get() + 1));
    }

    fn wal_writes() -> usize {
        WAL_WRITES.with(Cell::get)
    }

    /// A connection through the VFS, set up as the store's writer is (WAL, `NORMAL`).
    fn open(path: &Path) -> Connection {
        crate::persistence::configure_sqlite();
        let vfs = super::register().expect("the VFS registers");
        let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs)
            .expect("open through the VFS");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("WAL");
        conn.pragma_update(None, "synchronous", "NORMAL")
            .expect("synchronous");
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("no autocheckpoint");
        conn.execute_batch("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .expect("table");
        conn
    }

    /// A new store file in a directory of its own (removed when the directory is dropped),
    /// and a connection to it through the VFS.
    fn fresh_store() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.db");
        let conn = open(&path);
        (dir, path, conn)
    }

    /// Rows `from..to`, each with a value of `len` bytes naming its key and `round`.
    fn insert(conn: &Connection, from: i64, to: i64, round: &str, len: usize) {
        let mut statement = conn
            .prepare_cached("INSERT OR REPLACE INTO t (k, v) VALUES (?1, ?2)")
            .expect("statement");
        for k in from..to {
            statement
                .execute(params![k, value(k, round, len)])
                .expect("insert");
        }
    }

    fn value(k: i64, round: &str, len: usize) -> String {
        let head = format!("{round}:{k}:");
        format!("{head}{}", "x".repeat(len.saturating_sub(head.len())))
    }

    /// Every row, as a reader on a connection of its own (the default VFS) sees it.
    fn rows(path: &Path) -> Vec<(i64, String)> {
        let reader = Connection::open(path).expect("reader");
        let mut statement = reader
            .prepare("SELECT k, v FROM t ORDER BY k")
            .expect("select");
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    fn integrity(conn: &Connection) -> String {
        conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity_check")
    }

    /// The size of one WAL frame of these tests' stores (SQLite's default 4 KiB pages).
    const FRAME: u64 = 4096 + FRAME_HEADER as u64;

    /// The WAL file of the database at `path`.
    fn wal_path(path: &Path) -> std::ffi::OsString {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        wal
    }

    fn wal_size(path: &Path) -> u64 {
        std::fs::metadata(wal_path(path)).map_or(0, |m| m.len())
    }

    /// One transaction writing rows `0..to` twice (`first`, then `second`: round and value
    /// length) through a page cache of `pages` pages: its pages go to the WAL before its
    /// commit, and the ones changed again are written over their own frames (whose
    /// checksums SQLite then rewrites at the commit).
    fn spilling_transaction(
        conn: &Connection,
        pages: i64,
        to: i64,
        first: (&str, usize),
        second: (&str, usize),
    ) {
        conn.pragma_update(None, "cache_size", pages)
            .expect("cache_size");
        conn.execute_batch("BEGIN").expect("begin");
        insert(conn, 0, to, first.0, first.1);
        insert(conn, 0, to, second.0, second.1);
        conn.execute_batch("COMMIT").expect("commit");
    }

    /// The page numbers of the frames in `path`'s WAL, in order (those of its current
    /// salts: every frame since the WAL last started).
    fn wal_frames(path: &Path) -> Vec<u32> {
        let wal = std::fs::read(wal_path(path)).expect("the WAL");
        let word = |at: usize| u32::from_be_bytes(wal[at..at + 4].try_into().expect("4 bytes"));
        let page_size = word(8) as usize;
        let salts = (word(16), word(20));
        let mut frames = Vec::new();
        let mut at = WAL_HEADER;
        while at + FRAME_HEADER + page_size <= wal.len() && (word(at + 8), word(at + 12)) == salts {
            frames.push(word(at));
            at += FRAME_HEADER + page_size;
        }
        frames
    }

    /// The frames a store appends while counting are counted for it alone, page by page,
    /// exactly as its WAL holds them — through frames rewritten in place and a WAL started
    /// again; nothing written before or after is.
    #[test]
    fn the_frames_appended_while_counting_are_counted_by_store_and_page() {
        let (_dir, path, conn) = fresh_store();
        let (_other_dir, _other_path, other) = fresh_store();
        insert(&conn, 0, 50, "before", 300);
        let before = wal_frames(&path).len();
        crate::diagnostics::count_wal_frames();
        insert(&conn, 50, 120, "counted", 300);
        insert(&other, 0, 40, "elsewhere", 300);
        // Frames written again in place are no new frames.
        spilling_transaction(&conn, 5, 120, ("spilled", 250), ("again", 260));
        let first = wal_frames(&path);
        // Copied into the database, the WAL starts again at its beginning.
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
            .expect("checkpoint");
        insert(&conn, 0, 30, "restarted", 300);
        let counted = crate::diagnostics::counted_wal_frames(&path);
        let second = wal_frames(&path);
        insert(&conn, 30, 40, "after", 300);

        assert!(
            wal_frames(&path).len() > second.len(),
            "written after counting stopped"
        );
        assert!(second.len() < first.len(), "the WAL started again");
        let mut expected: std::collections::BTreeMap<u32, u64> = Default::default();
        for page in first[before..].iter().chain(&second) {
            *expected.entry(*page).or_default() += 1;
        }
        assert!(expected.values().sum::<u64>() > 100, "{expected:?}");
        assert_eq!(counted, expected);
        assert!(
            crate::diagnostics::counted_wal_frames(&path).is_empty(),
            "counting stopped"
        );
    }

    #[test]
    fn a_commit_of_many_pages_reaches_the_wal_in_one_write_and_reads_back_whole() {
        let (_dir, path, conn) = fresh_store();
        insert(&conn, 0, 1, "first", 10);
        let wal_before = wal_size(&path);
        let writes_before = wal_writes();
        conn.execute_batch("BEGIN").expect("begin");
        insert(&conn, 1, 200, "big", 300);
        conn.execute_batch("COMMIT").expect("commit");
        let frames = (wal_size(&path) - wal_before) / FRAME;
        assert!(frames >= 10, "the commit wrote {frames} frames");
        assert_eq!(
            wal_writes() - writes_before,
            1,
            "{frames} frames in one write"
        );
        let expected: Vec<(i64, String)> = std::iter::once((0, value(0, "first", 10)))
            .chain((1..200).map(|k| (k, value(k, "big", 300))))
            .collect();
        assert_eq!(rows(&path), expected);
        assert_eq!(integrity(&conn), "ok");
    }

    #[test]
    fn a_reader_on_another_connection_sees_every_commit_whole() {
        let (_dir, path, conn) = fresh_store();
        // 200 accounts of 1,000 each, ~300 bytes a row: a transfer between twenty pairs
        // changes pages across the table, each commit several frames.
        let account = |balance: i64| format!("{balance:08}{}", "-".repeat(292));
        conn.execute_batch("BEGIN").expect("begin");
        for k in 0..200 {
            conn.execute(
                "INSERT INTO t (k, v) VALUES (?1, ?2)",
                params![k, account(1_000)],
            )
            .expect("insert");
        }
        conn.execute_batch("COMMIT").expect("commit");
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let reader = Connection::open(&path).expect("reader");
                let mut reads = 0;
                while !done.load(std::sync::atomic::Ordering::Acquire) || reads == 0 {
                    let (count, total): (i64, i64) = reader
                        .query_row(
                            "SELECT COUNT(*), SUM(CAST(substr(v, 1, 8) AS INTEGER)) FROM t",
                            [],
                            |row| Ok((row.get(0)?, row.get(1)?)),
                        )
                        .expect("a consistent read");
                    assert_eq!((count, total), (200, 200_000), "read {reads}");
                    reads += 1;
                }
                reads
            });
            let mut balances = vec![1_000_i64; 200];
            let mut statement = conn
                .prepare("UPDATE t SET v = ?2 WHERE k = ?1")
                .expect("statement");
            for round in 0..300_usize {
                conn.execute_batch("BEGIN").expect("begin");
                for pair in 0..20 {
                    let from = (round * 7 + pair * 11) % 200;
                    let to = (round * 13 + pair * 5 + 1) % 200;
                    if from == to {
                        continue;
                    }
                    balances[from] -= 3;
                    balances[to] += 3;
                    statement
                        .execute(params![from as i64, account(balances[from])])
                        .expect("debit");
                    statement
                        .execute(params![to as i64, account(balances[to])])
                        .expect("credit");
                }
                conn.execute_batch("COMMIT").expect("commit");
            }
            done.store(true, std::sync::atomic::Ordering::Release);
            assert!(reader.join().expect("the reader") > 0);
        });
        assert_eq!(integrity(&conn), "ok");
    }

    #[test]
    fn a_commit_of_megabytes_is_written_in_pieces_the_default_vfs_takes_whole() {
        let (_dir, path, conn) = fresh_store();
        let writes_before = wal_writes();
        conn.execute_batch("BEGIN").expect("begin");
        insert(&conn, 0, 20_000, "import", 300);
        conn.execute_batch("COMMIT").expect("commit");
        let frames = wal_size(&path) / FRAME;
        let writes = wal_writes() - writes_before;
        // The default VFS writes the low 17 bits of a length: a longer write came back
        // as a full disk.
        let pieces = (wal_size(&path) as usize).div_ceil(super::MOST_PER_WRITE);
        assert!(frames > 1_000, "{frames} frames");
        assert!(
            writes <= pieces + 8,
            "{writes} writes for {frames} frames ({pieces} pieces)"
        );
        let expected: Vec<(i64, String)> =
            (0..20_000).map(|k| (k, value(k, "import", 300))).collect();
        assert_eq!(rows(&path), expected);
        assert_eq!(integrity(&conn), "ok");
    }

    #[test]
    fn a_transaction_larger_than_the_cache_spills_rewrites_and_commits_or_rolls_back_whole() {
        let (_dir, path, conn) = fresh_store();
        spilling_transaction(&conn, 4, 600, ("one", 200), ("two", 210));
        let committed: Vec<(i64, String)> = (0..600).map(|k| (k, value(k, "two", 210))).collect();
        assert_eq!(rows(&path), committed);

        conn.execute_batch("BEGIN").expect("begin");
        insert(&conn, 0, 600, "three", 220);
        insert(&conn, 600, 900, "three", 220);
        conn.execute_batch("ROLLBACK").expect("rollback");
        assert_eq!(
            rows(&path),
            committed,
            "a rolled back transaction leaves nothing"
        );

        insert(&conn, 600, 601, "four", 10);
        let mut expected = committed;
        expected.push((600, value(600, "four", 10)));
        assert_eq!(rows(&path), expected);
        assert_eq!(integrity(&conn), "ok");
        drop(conn);
        // Reopened (the WAL replayed from the file alone): the same rows.
        let again = open(&path);
        assert_eq!(integrity(&again), "ok");
        assert_eq!(rows(&path), expected);
    }

    #[test]
    fn a_wal_restarted_after_a_checkpoint_is_written_again_from_its_start() {
        let (_dir, path, conn) = fresh_store();
        insert(&conn, 0, 50, "one", 100);
        let checkpointer = Connection::open(&path).expect("checkpointer");
        let (busy, _, _): (i64, i64, i64) = checkpointer
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .expect("checkpoint");
        assert_eq!(busy, 0);
        assert_eq!(wal_size(&path), 0, "the WAL was truncated");
        let writes_before = wal_writes();
        conn.execute_batch("BEGIN").expect("begin");
        insert(&conn, 0, 50, "two", 300);
        conn.execute_batch("COMMIT").expect("commit");
        // SQLite syncs a new WAL header before the first frame after it: the header is
        // written on its own, then the commit's frames in one write.
        assert_eq!(wal_writes() - writes_before, 2);
        let expected: Vec<(i64, String)> = (0..50).map(|k| (k, value(k, "two", 300))).collect();
        assert_eq!(rows(&path), expected);
        assert_eq!(integrity(&conn), "ok");
    }

    /// Runs test `test` of this module again, alone, in a child process, with `variable`
    /// naming a new store file (the test's child side reads it); the file's directory, its
    /// path and what the child did.
    fn in_child(
        test: &str,
        variable: &str,
    ) -> (tempfile::TempDir, std::path::PathBuf, std::process::Output) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.db");
        let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([&format!("vfs::tests::{test}"), "--exact", "--nocapture"])
            .env(variable, &path)
            .output()
            .expect("run the child");
        (dir, path, output)
    }

    /// Set in the child process of
    /// [`a_commit_whose_frames_cannot_be_written_fails_and_shows_nothing`]: the store it
    /// writes to.
    const FULL_STORE: &str = "INFRAGEN_VFS_TEST_FULL_STORE";

    /// Sets this process's file size limit (`RLIMIT_FSIZE`): writes past `bytes` fail.
    fn limit_file_size(bytes: libc::rlim_t) {
        // SAFETY: plain system calls on this process; with `SIGXFSZ` ignored a write past
        // the limit fails with `EFBIG` instead of killing the process.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
            limit.rlim_cur = bytes.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        }
    }

    #[test]
    fn a_commit_whose_frames_cannot_be_written_fails_and_shows_nothing() {
        let committed: Vec<(i64, String)> = (0..50).map(|k| (k, value(k, "kept", 100))).collect();
        if let Some(path) = std::env::var_os(FULL_STORE) {
            // The child: a commit, then one larger than the file size limit lets the WAL
            // grow by, then a small one once the limit is lifted.
            let path = Path::new(&path);
            let conn = open(path);
            conn.execute_batch("BEGIN").expect("begin");
            insert(&conn, 0, 50, "kept", 100);
            conn.execute_batch("COMMIT").expect("commit");
            limit_file_size(wal_size(path) + (64 << 10));
            conn.execute_batch("BEGIN").expect("begin");
            insert(&conn, 1_000, 3_000, "lost", 300);
            let commit = conn.execute_batch("COMMIT");
            assert!(commit.is_err(), "a commit past the file size limit fails");
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK").expect("rollback");
            }
            assert_eq!(rows(path), committed, "another connection sees none of it");
            limit_file_size(libc::RLIM_INFINITY);
            insert(&conn, 50, 51, "after", 10);
            let mut expected = committed.clone();
            expected.push((50, value(50, "after", 10)));
            assert_eq!(rows(path), expected);
            assert_eq!(integrity(&conn), "ok");
            return;
        }
        let (_dir, path, output) = in_child(
            "a_commit_whose_frames_cannot_be_written_fails_and_shows_nothing",
            FULL_STORE,
        );
        assert!(
            output.status.success(),
            "the child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let conn = open(&path);
        assert_eq!(integrity(&conn), "ok");
        let mut expected = committed;
        expected.push((50, value(50, "after", 10)));
        assert_eq!(rows(&path), expected);
    }

    /// Set in the child process of [`a_process_killed_after_its_commits_keeps_every_one`]:
    /// the store it writes to.
    const CHILD_STORE: &str = "INFRAGEN_VFS_TEST_CHILD_STORE";

    #[test]
    fn a_process_killed_after_its_commits_keeps_every_one() {
        if let Some(path) = std::env::var_os(CHILD_STORE) {
            // The child: ten commits, then killed before anything closes the WAL.
            let conn = open(Path::new(&path));
            for round in 0..10 {
                conn.execute_batch("BEGIN").expect("begin");
                insert(&conn, round * 40, round * 40 + 40, "child", 150);
                conn.execute_batch("COMMIT").expect("commit");
            }
            std::process::abort();
        }
        let (_dir, path, output) = in_child(
            "a_process_killed_after_its_commits_keeps_every_one",
            CHILD_STORE,
        );
        assert!(!output.status.success(), "the child aborts");
        assert!(wal_size(&path) > 0, "the child left its WAL");
        let conn = open(&path);
        assert_eq!(integrity(&conn), "ok");
        let expected: Vec<(i64, String)> = (0..400).map(|k| (k, value(k, "child", 150))).collect();
        assert_eq!(rows(&path), expected);
    }
}
