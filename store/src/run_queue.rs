//! The durable run queue and the run history: every (branch, generator, target) run a
//! process queued, ran or finished, with its causes, attempt, owner, result and log.
//!
//! One table serves both. A record is `queued` when a process is about to run it,
//! `running` from the moment it starts reading the store, and `succeeded`, `failed` or
//! `interrupted` when it ends. The owner is the process (see [`ClaimOwner`]): a `queued`
//! or `running` record whose process is gone is an interrupted run, which the next
//! process resumes, and is shown as such.
//!
//! Queueing is where processes meet: [`Store::enqueue_runs`] decides, in one write
//! transaction, whether a run is new, already being done by a live process (the caller
//! joins it: waits for it and takes its result), or already done since its cause arose
//! (a run triggered by event `N` is done by any run that started reading after `N`). So a
//! (generator, target, branch) runs once however many processes were asked for it.

use crate::claims::ClaimOwner;
use crate::clock::now_ms;
use crate::error::{Result, StoreError};
use crate::store::Store;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::time::Duration;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Queued by a process, not started.
    Queued,
    /// Started: reading and writing the store.
    Running,
    /// Ended well; its writes are committed.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Its process stopped before it ended (killed, or a shutdown abandoned it).
    Interrupted,
}

impl RunStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    fn parse(text: &str) -> RunStatus {
        match text {
            "queued" => RunStatus::Queued,
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            _ => RunStatus::Interrupted,
        }
    }

    /// Whether the run has ended.
    pub fn ended(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run a process is about to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// The branch.
    pub branch: String,
    /// The generator definition.
    pub generator: String,
    /// The target's id.
    pub target: String,
    /// The target's display label, for people.
    pub target_label: String,
    /// Why it runs, as JSON (the host's causes; the store does not read them).
    pub causes: String,
    /// 1, or more for a retry.
    pub attempt: u32,
    /// The newest event that caused it, when every cause was an event: a run that
    /// started reading after that event does what this one would. `None` when the run
    /// was asked for (or resumed, or retried), which only a run in flight answers.
    pub newest_event: Option<i64>,
}

/// What [`Store::enqueue_runs`] decided for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued for this process, as record `id`: run it.
    Queued(i64),
    /// A live process has it queued or running as record `id`: wait for it to end (see
    /// [`Store::run_record`]) and take its result.
    Joined {
        /// The record.
        id: i64,
        /// Its process.
        owner: ClaimOwner,
    },
    /// Record `id` succeeded after every cause of this run arose: nothing to do.
    Done(i64),
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunResult {
    /// Nodes created.
    pub created: u64,
    /// Nodes of its previous output it wrote again.
    pub kept: u64,
    /// Nodes of its previous output deleted.
    pub deleted: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// Its captured log, as JSON lines (the host's; the store does not read it).
    pub log: String,
}

/// One run as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunRecord {
    /// Its number, in the order runs were queued.
    pub id: i64,
    /// The branch.
    pub branch: String,
    /// The generator definition.
    pub generator: String,
    /// The target's id.
    pub target: String,
    /// The target's display label.
    pub target_label: String,
    /// Where it stands; a queued or running record whose process is gone is shown
    /// [`RunStatus::Interrupted`].
    pub status: RunStatus,
    /// Why it ran, as JSON.
    pub causes: String,
    /// 1, or more for a retry.
    pub attempt: u32,
    /// The process that queued and ran it.
    pub owner: String,
    /// The last event in the log when it started reading.
    pub covers: Option<i64>,
    /// When it was queued, started and ended (milliseconds since the epoch).
    pub queued_at: i64,
    /// See `queued_at`.
    pub started_at: Option<i64>,
    /// See `queued_at`.
    pub finished_at: Option<i64>,
    /// Nodes created, once ended.
    pub created: Option<u64>,
    /// Nodes written again, once ended.
    pub kept: Option<u64>,
    /// Nodes deleted, once ended.
    pub deleted: Option<u64>,
    /// Nodes whose data changed, from the store's events, once known.
    pub updated: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Its captured log, as JSON.
    pub log: String,
}

impl RunRecord {
    /// Run time, once started and ended.
    pub fn duration(&self) -> Option<Duration> {
        let (start, end) = (self.started_at?, self.finished_at?);
        Some(Duration::from_millis(
            end.saturating_sub(start).max(0) as u64
        ))
    }
}

/// Which runs [`Store::runs`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only this generator's.
    pub generator: Option<String>,
    /// Only runs on this target, by id or display label.
    pub target: Option<String>,
    /// Only this branch's.
    pub branch: Option<String>,
    /// Only failed (and interrupted) runs.
    pub failed: bool,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// How much history is kept: ended runs older than `max_age`, and beyond the newest
/// `max_runs`, are removed. Queued and running records are never removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Oldest ended run kept.
    pub max_age: Option<Duration>,
    /// Most ended runs kept.
    pub max_runs: Option<u64>,
}

impl Default for Retention {
    /// A month, and 100,000 runs (a few thousand cascades of the AI/DC seed's size).
    fn default() -> Self {
        Retention {
            max_age: Some(Duration::from_secs(30 * 24 * 3600)),
            max_runs: Some(100_000),
        }
    }
}

const COLUMNS: &str = "id, branch, generator, target, target_label, status, causes, attempt, \
    owner, covers, queued_at, started_at, finished_at, created, kept, deleted, updated, error, log";

/// [`COLUMNS`] without the log (an empty text in its place): a listing does not read every
/// run's captured log, up to a megabyte each.
const LIST_COLUMNS: &str = "id, branch, generator, target, target_label, status, causes, attempt, \
    owner, covers, queued_at, started_at, finished_at, created, kept, deleted, updated, error, '' AS log";

impl Store {
    /// Decides, for each run, whether `owner` runs it ([`Enqueued::Queued`], recorded),
    /// joins a live process's ([`Enqueued::Joined`]) or has nothing to do
    /// ([`Enqueued::Done`]); one write transaction for all, so two processes never both
    /// queue one run. Records of the same run left queued or running by a process that is
    /// gone are marked interrupted: this run takes them over.
    pub fn enqueue_runs(&self, runs: &[NewRun], owner: &ClaimOwner) -> Result<Vec<Enqueued>> {
        let db = self.db();
        db.begin_immediate()?;
        let decided = runs
            .iter()
            .map(|run| enqueue(&db.conn, run, owner))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(StoreError::db(&db.path));
        match decided {
            Ok(decided) => db.commit().map(|()| decided),
            Err(error) => {
                db.rollback();
                Err(error)
            }
        }
    }

    /// Marks record `id` running: it starts reading the store, whose last event is `covers`.
    pub fn start_run(&self, id: i64, covers: i64) -> Result<()> {
        let db = self.db();
        db.conn
            .prepare_cached(
                "UPDATE runs SET status = 'running', started_at = ?2, covers = ?3 WHERE id = ?1",
            )
            .and_then(|mut update| update.execute(params![id, now_ms(), covers]))
            .map(|_| ())
            .map_err(StoreError::db(&db.path))
    }

    /// Records how run `id` ended; the counts only of a run that succeeded (a failed run
    /// has no output to count).
    pub fn finish_run(&self, id: i64, status: RunStatus, result: &RunResult) -> Result<()> {
        let count = |n: u64| (status == RunStatus::Succeeded).then_some(n as i64);
        let db = self.db();
        db.conn
            .prepare_cached(
                "UPDATE runs SET status = ?2, finished_at = ?3, started_at = coalesce(started_at, ?3), \
                 created = ?4, kept = ?5, deleted = ?6, error = ?7, log = ?8 WHERE id = ?1",
            )
            .and_then(|mut update| update.execute(params![
                    id,
                    status.as_str(),
                    now_ms(),
                    count(result.created),
                    count(result.kept),
                    count(result.deleted),
                    result.error,
                    result.log
                ]))
            .map(|_| ())
            .map_err(StoreError::db(&db.path))
    }

    /// Records, for ended runs, the nodes the store's events say they created and changed
    /// (known only once their round's events are read). One transaction.
    pub fn set_run_changes(&self, changes: &[(i64, u64, u64)]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let db = self.db();
        db.begin_immediate()?;
        let written = (|| {
            let mut update = db
                .conn
                .prepare_cached("UPDATE runs SET created = ?2, updated = ?3 WHERE id = ?1")?;
            for (id, created, updated) in changes {
                update.execute(params![id, *created as i64, *updated as i64])?;
            }
            Ok(())
        })()
        .map_err(StoreError::db(&db.path));
        match written {
            Ok(()) => db.commit(),
            Err(error) => {
                db.rollback();
                Err(error)
            }
        }
    }

    /// Record `id`, with its status as it stands (a dead owner's queued or running run
    /// shows as interrupted).
    pub fn run_record(&self, id: i64) -> Result<Option<RunRecord>> {
        self.committed_read(|db| {
            db.conn
                .query_row(
                    &format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"),
                    [id],
                    record,
                )
                .optional()
                .map_err(StoreError::db(&db.path))
        })
    }

    /// The runs on `branch` that processes now gone left queued or running: interrupted
    /// runs to resume, oldest first.
    pub fn orphaned_runs(&self, branch: &str) -> Result<Vec<RunRecord>> {
        let db = self.db();
        let rows = db
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM runs WHERE branch = ?1 AND status IN ('queued', 'running') ORDER BY id"
            ))
            .and_then(|mut select| {
                select
                    .query_map([branch], record)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(StoreError::db(&db.path))?;
        Ok(rows
            .into_iter()
            .filter(|run| run.status == RunStatus::Interrupted)
            .collect())
    }

    /// The runs `filter` selects, newest first, without their logs ([`Store::run_record`]
    /// has one's).
    pub fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        let (mut sql, args) = filter.sql(&format!("SELECT {LIST_COLUMNS} FROM runs"));
        sql.push_str(" ORDER BY id DESC");
        self.committed_read(|db| {
            let mut select = db.conn.prepare(&sql).map_err(StoreError::db(&db.path))?;
            let rows = select
                .query_map(rusqlite::params_from_iter(args.iter()), record)
                .map_err(StoreError::db(&db.path))?;
            let mut runs = Vec::new();
            for run in rows {
                let run = run.map_err(StoreError::db(&db.path))?;
                if filter.failed
                    && !matches!(run.status, RunStatus::Failed | RunStatus::Interrupted)
                {
                    continue;
                }
                runs.push(run);
                if filter.limit.is_some_and(|limit| runs.len() >= limit) {
                    break;
                }
            }
            Ok(runs)
        })
    }

    /// How many runs `filter` selects (its `limit` aside), counted by SQLite without
    /// reading them: what a page of a long history needs besides its runs. A `failed`
    /// filter counts the runs not succeeded, of which a queued or running one may still be
    /// alive: [`Store::runs`] is exact there.
    pub fn count_runs(&self, filter: &RunFilter) -> Result<usize> {
        let (sql, args) = filter.sql("SELECT COUNT(*) FROM runs");
        self.committed_read(|db| {
            db.conn
                .prepare_cached(&sql)
                .and_then(|mut count| {
                    count.query_row(rusqlite::params_from_iter(args.iter()), |row| {
                        row.get::<_, i64>(0)
                    })
                })
                .map(|n| n.max(0) as usize)
                .map_err(StoreError::db(&db.path))
        })
    }

    /// Removes the ended runs `retention` does not keep; returns how many.
    pub fn prune_runs(&self, retention: &Retention) -> Result<usize> {
        let db = self.db();
        let mut removed = 0;
        if let Some(age) = retention.max_age {
            let oldest = now_ms().saturating_sub(age.as_millis() as i64);
            removed += db
                .conn
                .execute(
                    "DELETE FROM runs WHERE status NOT IN ('queued', 'running') AND finished_at <= ?1",
                    [oldest],
                )
                .map_err(StoreError::db(&db.path))?;
        }
        if let Some(max) = retention.max_runs {
            removed += db
                .conn
                .execute(
                    "DELETE FROM runs WHERE status NOT IN ('queued', 'running') AND id <= \
                     (SELECT id FROM runs WHERE status NOT IN ('queued', 'running') \
                      ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                    [max as i64],
                )
                .map_err(StoreError::db(&db.path))?;
        }
        Ok(removed)
    }
}

impl RunFilter {
    /// `select` with this filter's conditions (not its limit), and their parameters.
    fn sql(&self, select: &str) -> (String, Vec<String>) {
        let mut sql = format!("{select} WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        if let Some(generator) = &self.generator {
            args.push(generator.clone());
            sql.push_str(&format!(" AND generator = ?{}", args.len()));
        }
        if let Some(target) = &self.target {
            args.push(target.clone());
            sql.push_str(&format!(
                " AND (target = ?{0} OR target_label = ?{0})",
                args.len()
            ));
        }
        if let Some(branch) = &self.branch {
            args.push(branch.clone());
            sql.push_str(&format!(" AND branch = ?{}", args.len()));
        }
        if self.failed {
            // Interrupted ones too: queued or running by a process that is gone.
            sql.push_str(" AND status NOT IN ('succeeded')");
        }
        (sql, args)
    }
}

/// One run's decision, inside [`Store::enqueue_runs`]'s transaction.
fn enqueue(conn: &Connection, run: &NewRun, owner: &ClaimOwner) -> rusqlite::Result<Enqueued> {
    let mut in_flight = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM runs WHERE branch = ?1 AND generator = ?2 AND target = ?3 \
         AND status IN ('queued', 'running') ORDER BY id"
    ))?;
    let open = in_flight
        .query_map(params![run.branch, run.generator, run.target], record)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let now = now_ms();
    for found in open {
        if found.status == RunStatus::Interrupted {
            // Its process is gone; this run takes it over.
            conn.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?2 WHERE id = ?1",
                params![found.id, now],
            )?;
            continue;
        }
        // In flight in a live process: it does what this run would, unless it started
        // reading before this run's event.
        let read_after = match (found.covers, run.newest_event) {
            (None, _) | (_, None) => true,
            (Some(covers), Some(event)) => covers >= event,
        };
        if read_after {
            return Ok(Enqueued::Joined {
                id: found.id,
                owner: ClaimOwner::from_recorded(found.owner),
            });
        }
    }
    if let Some(event) = run.newest_event {
        let done: Option<i64> = conn
            .prepare_cached(
                "SELECT id FROM runs WHERE branch = ?1 AND generator = ?2 AND target = ?3 \
                 AND status = 'succeeded' AND covers >= ?4 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(
                params![run.branch, run.generator, run.target, event],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(id) = done {
            return Ok(Enqueued::Done(id));
        }
    }
    conn.prepare_cached(
        "INSERT INTO runs (branch, generator, target, target_label, status, causes, attempt, owner, queued_at, log) \
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, '[]')",
    )?
    .execute(params![
        run.branch,
        run.generator,
        run.target,
        run.target_label,
        run.causes,
        run.attempt,
        owner.as_str(),
        now
    ])?;
    Ok(Enqueued::Queued(conn.last_insert_rowid()))
}

fn record(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let owner: String = row.get(8)?;
    let queued_at: i64 = row.get(10)?;
    let started_at: Option<i64> = row.get(11)?;
    let mut status = RunStatus::parse(&row.get::<_, String>(5)?);
    if !status.ended()
        && !ClaimOwner::from_recorded(owner.clone()).alive(started_at.unwrap_or(queued_at))
    {
        status = RunStatus::Interrupted;
    }
    let count = |index: usize| -> rusqlite::Result<Option<u64>> {
        Ok(row.get::<_, Option<i64>>(index)?.map(|n| n.max(0) as u64))
    };
    Ok(RunRecord {
        id: row.get(0)?,
        branch: row.get(1)?,
        generator: row.get(2)?,
        target: row.get(3)?,
        target_label: row.get(4)?,
        status,
        causes: row.get(6)?,
        attempt: row.get(7)?,
        owner,
        covers: row.get(9)?,
        queued_at,
        started_at,
        finished_at: row.get(12)?,
        created: count(13)?,
        kept: count(14)?,
        deleted: count(15)?,
        updated: count(16)?,
        error: row.get(17)?,
        log: row.get(18)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run(target: &str, newest_event: Option<i64>) -> NewRun {
        NewRun {
            branch: "main".into(),
            generator: "pod".into(),
            target: target.into(),
            target_label: format!("label-{target}"),
            causes: "[]".into(),
            attempt: 1,
            newest_event,
        }
    }

    fn dead_owner() -> ClaimOwner {
        let me = ClaimOwner::current();
        let (_, host) = me.as_str().rsplit_once('@').unwrap();
        ClaimOwner::from_recorded(format!("4294967295:1@{host}"))
    }

    #[test]
    fn a_run_in_flight_in_a_live_process_is_joined_not_queued_again() {
        let store = Store::in_memory().unwrap();
        let me = ClaimOwner::current();
        let other = ClaimOwner::from_recorded("1:1@elsewhere".into());
        let first = store.enqueue_runs(&[new_run("t1", None)], &other).unwrap();
        let [Enqueued::Queued(id)] = first[..] else {
            panic!("{first:?}")
        };
        // Asked for again, by this process and by an event: both join the queued run.
        assert_eq!(
            store
                .enqueue_runs(&[new_run("t1", None), new_run("t1", Some(9))], &me)
                .unwrap(),
            vec![
                Enqueued::Joined {
                    id,
                    owner: other.clone()
                };
                2
            ]
        );
        // Once it reads the store after event 5, an event-5 run joins it, an event-7 one
        // queues its own.
        store.start_run(id, 5).unwrap();
        assert_eq!(
            store.enqueue_runs(&[new_run("t1", Some(5))], &me).unwrap(),
            vec![Enqueued::Joined {
                id,
                owner: other.clone()
            }]
        );
        let later = store.enqueue_runs(&[new_run("t1", Some(7))], &me).unwrap();
        assert!(
            matches!(later[..], [Enqueued::Queued(next)] if next > id),
            "{later:?}"
        );
    }

    #[test]
    fn an_event_already_read_by_a_succeeded_run_needs_no_run() {
        let store = Store::in_memory().unwrap();
        let me = ClaimOwner::current();
        let [Enqueued::Queued(id)] = store.enqueue_runs(&[new_run("t1", None)], &me).unwrap()[..]
        else {
            panic!()
        };
        store.start_run(id, 10).unwrap();
        store
            .finish_run(
                id,
                RunStatus::Succeeded,
                &RunResult {
                    created: 3,
                    log: r#"[{"level":"info","message":"hi"}]"#.into(),
                    ..RunResult::default()
                },
            )
            .unwrap();
        assert_eq!(
            store.enqueue_runs(&[new_run("t1", Some(10))], &me).unwrap(),
            vec![Enqueued::Done(id)]
        );
        // An event after its start, or a request, runs again.
        assert!(matches!(
            store.enqueue_runs(&[new_run("t1", Some(11))], &me).unwrap()[..],
            [Enqueued::Queued(_)]
        ));
        let record = store.run_record(id).unwrap().unwrap();
        assert_eq!(
            (
                record.status,
                record.created,
                record.covers,
                record.log.as_str()
            ),
            (
                RunStatus::Succeeded,
                Some(3),
                Some(10),
                r#"[{"level":"info","message":"hi"}]"#
            )
        );
        // A listing leaves the logs out.
        let listed = store.runs(&RunFilter::default()).unwrap();
        let finished = listed.iter().find(|run| run.id == id).expect("listed");
        assert_eq!(
            (finished.status, finished.log.as_str()),
            (RunStatus::Succeeded, "")
        );
    }

    #[test]
    fn a_dead_processs_runs_show_interrupted_and_are_taken_over() {
        let store = Store::in_memory().unwrap();
        let dead = dead_owner();
        let decided = store
            .enqueue_runs(&[new_run("t1", None), new_run("t2", None)], &dead)
            .unwrap();
        let [Enqueued::Queued(a), Enqueued::Queued(b)] = decided[..] else {
            panic!("{decided:?}")
        };
        store.start_run(a, 1).unwrap();
        let orphans: Vec<(i64, RunStatus)> = store
            .orphaned_runs("main")
            .unwrap()
            .iter()
            .map(|run| (run.id, run.status))
            .collect();
        assert_eq!(
            orphans,
            vec![(a, RunStatus::Interrupted), (b, RunStatus::Interrupted)]
        );
        assert_eq!(store.orphaned_runs("other").unwrap(), vec![]);
        let me = ClaimOwner::current();
        let taken = store.enqueue_runs(&[new_run("t1", None)], &me).unwrap();
        assert!(matches!(taken[..], [Enqueued::Queued(id)] if id > b));
        // t1's orphan is settled; t2's still waits to be resumed.
        let orphans: Vec<i64> = store
            .orphaned_runs("main")
            .unwrap()
            .iter()
            .map(|run| run.id)
            .collect();
        assert_eq!(orphans, vec![b]);
        assert!(store.run_record(a).unwrap().unwrap().finished_at.is_some());
    }

    #[test]
    fn runs_are_listed_newest_first_by_filter_and_pruned_by_retention() {
        let store = Store::in_memory().unwrap();
        let me = ClaimOwner::current();
        let mut ids = Vec::new();
        for (target, status) in [
            ("t1", RunStatus::Succeeded),
            ("t2", RunStatus::Failed),
            ("t3", RunStatus::Succeeded),
        ] {
            let [Enqueued::Queued(id)] =
                store.enqueue_runs(&[new_run(target, None)], &me).unwrap()[..]
            else {
                panic!()
            };
            store.finish_run(id, status, &RunResult::default()).unwrap();
            ids.push(id);
        }
        let listed = |filter: RunFilter| -> Vec<i64> {
            store.runs(&filter).unwrap().iter().map(|r| r.id).collect()
        };
        assert_eq!(listed(RunFilter::default()), vec![ids[2], ids[1], ids[0]]);
        assert_eq!(
            listed(RunFilter {
                failed: true,
                ..RunFilter::default()
            }),
            vec![ids[1]]
        );
        assert_eq!(
            listed(RunFilter {
                target: Some("label-t3".into()),
                ..RunFilter::default()
            }),
            vec![ids[2]]
        );
        assert_eq!(
            listed(RunFilter {
                generator: Some("fabric".into()),
                ..RunFilter::default()
            }),
            Vec::<i64>::new()
        );
        assert_eq!(
            listed(RunFilter {
                limit: Some(1),
                ..RunFilter::default()
            }),
            vec![ids[2]]
        );
        // Counted by the same conditions, the limit aside.
        let counted = |filter: RunFilter| store.count_runs(&filter).unwrap();
        assert_eq!(
            counted(RunFilter {
                limit: Some(1),
                ..RunFilter::default()
            }),
            3
        );
        assert_eq!(
            counted(RunFilter {
                target: Some("t2".into()),
                ..RunFilter::default()
            }),
            1
        );
        assert_eq!(
            counted(RunFilter {
                branch: Some("elsewhere".into()),
                ..RunFilter::default()
            }),
            0
        );
        // A queued run is never pruned.
        let [Enqueued::Queued(open)] = store.enqueue_runs(&[new_run("t4", None)], &me).unwrap()[..]
        else {
            panic!()
        };
        let removed = store
            .prune_runs(&Retention {
                max_age: None,
                max_runs: Some(1),
            })
            .unwrap();
        assert_eq!(removed, 2);
        assert_eq!(listed(RunFilter::default()), vec![open, ids[2]]);
        assert_eq!(
            store
                .prune_runs(&Retention {
                    max_age: Some(Duration::ZERO),
                    max_runs: None,
                })
                .unwrap(),
            1
        );
        assert_eq!(listed(RunFilter::default()), vec![open]);
    }
}
