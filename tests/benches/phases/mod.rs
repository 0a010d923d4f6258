//! Where a cascade's CPU goes: the time spent inside the host's and the store's phase
//! spans, for the cascade bench's breakdown.
//!
//! The host and the store open a `trace`-level span around each phase of a run (a plugin's
//! queries and writes, a run's commit and its parts, …; see [`PHASES`]). No subscriber
//! listens to them in the product unless `RUST_LOG` asks for `trace`; here a layer does
//! while [`Recording`] is alive, and adds up the CPU time of the thread between each entry
//! and exit of a span, by its path (`run_commit>event_log`: the event log written by a
//! run's commit, not by another write): an async span (a plugin's run) counts its polls,
//! not the time it waits, and the checkpoint thread's time waiting for the disk does not
//! count.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::Subscriber;
use tracing::span::{Attributes, Id};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The phases, by span path, with what each covers, in the order printed. A path
/// `phase>part` is a part of `phase`: a span `part` opened inside a span `phase`.
pub const PHASES: &[(&str, &str)] = &[
    ("plugin_run", "plugin runs"),
    ("plugin_run>query", "the plugins' GraphQL queries"),
    (
        "plugin_run>write",
        "node writes (create, update, upsert, delete)",
    ),
    ("plugin_run>allocate", "pool allocations"),
    (
        "plugin_run>stamp",
        "stamps (an attribute set without tracking)",
    ),
    ("plugin_run>edit", "relationship edits"),
    ("run_commit", "run commits"),
    ("run_commit>commit_events", "change events computed"),
    (
        "run_commit>commit_rows",
        "node, attribute and relationship rows",
    ),
    ("run_commit>commit_index", "value index entries"),
    ("run_commit>event_log", "events encoded and written"),
    (
        "run_commit>sqlite_commit",
        "SQLite's commit (the WAL written)",
    ),
    ("query", "the generators' own queries (before each run)"),
    (
        "prepare",
        "definitions prepared (components loaded, targets listed)",
    ),
    (
        "prepare>target_group",
        "target groups listed (read whole, or the members events named read again)",
    ),
    (
        "prepare>definition_record",
        "the definition's record written",
    ),
    ("instance_status", "generator instances' status recorded"),
    (
        "tracking",
        "tracking groups read, stale members deleted, groups written",
    ),
    ("run_claim", "runs claimed and released"),
    ("begin_run", "runs begun (a snapshot, the write turn)"),
    (
        "run_queue",
        "runs recorded in the run queue (queued, started, finished)",
    ),
    (
        "wal_checkpoint",
        "WAL checkpoints (pages copied into the database file)",
    ),
    (
        "teardown",
        "the build's store and runtime dropped (caches freed, connections closed)",
    ),
];

/// The name of the part `path` is of phase `phase` (`write` for `plugin_run>write` of
/// `plugin_run`), if it is one.
pub fn part_of<'p>(path: &'p str, phase: &str) -> Option<&'p str> {
    path.strip_prefix(phase)?.strip_prefix('>')
}

/// Whether a span named `name` ends one of the [`PHASES`]' paths.
fn is_phase(name: &str) -> bool {
    PHASES
        .iter()
        .any(|(path, _)| path.rsplit('>').next() == Some(name))
}

/// Whether spans are being timed (see [`Recording`]).
static RECORDING: AtomicBool = AtomicBool::new(false);
/// Span path → time inside it, since the recording started.
static TIMES: Mutex<BTreeMap<&'static str, Duration>> = Mutex::new(BTreeMap::new());

/// A phase span's time so far (kept in the span's extensions): its path is found once,
/// when the span is made, and its time added to [`TIMES`] once, when it closes, so that
/// an async span entered at every poll costs little more than two clock readings a poll.
struct Timing {
    path: &'static str,
    /// The thread's CPU time when the span was entered.
    entered: Option<Duration>,
    inside: Duration,
}

/// The layer adding up the time inside each phase span.
struct PhaseTimes;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for PhaseTimes {
    fn on_new_span(&self, _: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span
            .parent()
            .and_then(|parent| parent.extensions().get::<Timing>().map(|t| t.path));
        let name = span.name();
        // A span on no listed path (the event log of a status write) is not timed.
        let Some(&(path, _)) = PHASES.iter().find(|(path, _)| match parent {
            Some(parent) => part_of(path, parent) == Some(name),
            None => *path == name,
        }) else {
            return;
        };
        span.extensions_mut().insert(Timing {
            path,
            entered: None,
            inside: Duration::ZERO,
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(timing) = span.extensions_mut().get_mut::<Timing>()
        {
            timing.entered = Some(thread_cpu());
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(timing) = span.extensions_mut().get_mut::<Timing>()
            && let Some(at) = timing.entered.take()
        {
            timing.inside += thread_cpu().saturating_sub(at);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(timing) = span.extensions_mut().remove::<Timing>() else {
            return;
        };
        *TIMES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(timing.path)
            .or_default() += timing.inside;
    }
}

/// The CPU time of the calling thread so far.
pub fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct it is given.
    let read = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(read, 0, "the thread's CPU clock reads");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Installs the layer as the process's subscriber. It times nothing until a
/// [`Recording`] starts: until then every callsite's interest is `never`, so a span costs
/// what it costs with no subscriber (each callsite's interest is computed again when a
/// recording starts and when it ends). Logs are not shown.
pub fn install() {
    let phases = PhaseTimes.with_filter(filter_fn(|meta| {
        RECORDING.load(Ordering::Relaxed)
            && meta.is_span()
            && meta.target().starts_with("infragen")
            && is_phase(meta.name())
    }));
    // Not `init`, which also routes the `log` crate's records (the compiler's) through it.
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(phases))
        .expect("no other subscriber is installed");
}

/// Turns the timing on or off, and has every callsite asked again.
fn record(on: bool) {
    RECORDING.store(on, Ordering::Relaxed);
    tracing::callsite::rebuild_interest_cache();
}

/// Spans timed from [`Recording::start`] until [`Recording::finish`].
pub struct Recording;

impl Recording {
    /// Starts timing, from zero.
    pub fn start() -> Recording {
        TIMES.lock().unwrap_or_else(|e| e.into_inner()).clear();
        record(true);
        Recording
    }

    /// Stops timing: the time inside each phase span since the start, by path.
    pub fn finish(self) -> BTreeMap<&'static str, Duration> {
        record(false);
        std::mem::take(&mut *TIMES.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if RECORDING.load(Ordering::Relaxed) {
            record(false);
        }
    }
}
