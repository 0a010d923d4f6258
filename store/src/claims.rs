//! Run claims: which process is running a (branch, generator, target) now.
//!
//! A run's `CoreGeneratorInstance` says `Processing` while it runs — and still says so
//! after its process was killed. The claim tells the two apart: the running process
//! records itself (its pid, its start time and the host) when the run starts and removes
//! the record when it ends. A claim whose process is gone — on this host, no process with
//! that pid and start time — is stale: the run it covered was interrupted, and whoever
//! finds it may take the run over. A claim from another host is taken for live until it
//! is [`FOREIGN_CLAIM_TTL`] old.
//!
//! Claims are written when a run starts and ends, next to the instance's status, so they
//! add no commits while runs are in flight.

use crate::clock::now_ms;
use crate::error::{Result, StoreError};
use crate::store::Store;
use rusqlite::OptionalExtension;
use std::time::Duration;

/// How long a claim by a process on another host is taken for live.
pub const FOREIGN_CLAIM_TTL: Duration = Duration::from_secs(3600);

/// A process, as a claim names it: `pid:start@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimOwner(String);

impl ClaimOwner {
    /// This process.
    pub fn current() -> ClaimOwner {
        let pid = std::process::id();
        ClaimOwner(format!(
            "{pid}:{}@{}",
            process_start(pid).unwrap_or_default(),
            hostname()
        ))
    }

    /// An owner as a record names it.
    pub fn from_recorded(recorded: String) -> ClaimOwner {
        ClaimOwner(recorded)
    }

    /// As recorded.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the process still runs: on this host, a process with its pid and start
    /// time; elsewhere, a claim younger than [`FOREIGN_CLAIM_TTL`].
    pub(crate) fn alive(&self, taken_at: i64) -> bool {
        let Some((process, host)) = self.0.rsplit_once('@') else {
            return false;
        };
        if host != hostname() {
            return now_ms().saturating_sub(taken_at) < FOREIGN_CLAIM_TTL.as_millis() as i64;
        }
        let Some((pid, start)) = process.split_once(':') else {
            return false;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            return false;
        };
        process_start(pid).is_some_and(|actual| actual.to_string() == start)
    }
}

impl std::fmt::Display for ClaimOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What claiming a run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The run is this process's now.
    Taken {
        /// The process whose claim was stale and taken over (its run was interrupted).
        from_stale: Option<ClaimOwner>,
    },
    /// A live process runs it.
    Held(ClaimOwner),
}

/// Who holds a run's claim, if anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimHolder {
    /// The process.
    pub owner: ClaimOwner,
    /// Whether it still runs (see [`ClaimOwner`]).
    pub alive: bool,
}

impl Store {
    /// Claims run `key` for `owner`: taken when unclaimed, claimed by `owner` already, or
    /// stale; [`Claim::Held`] when a live process holds it.
    pub fn claim_run(&self, key: &str, owner: &ClaimOwner) -> Result<Claim> {
        let db = self.db();
        db.begin_immediate()?;
        let claimed = (|| {
            let holder = holder(&db.conn, key).map_err(StoreError::db(&db.path))?;
            let from_stale = match holder {
                Some(holder) if holder.owner == *owner => None,
                Some(holder) if holder.alive => return Ok(Claim::Held(holder.owner)),
                Some(holder) => Some(holder.owner),
                None => None,
            };
            db.conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO run_claims (key, owner, taken_at) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut insert| {
                    insert.execute(rusqlite::params![key, owner.as_str(), now_ms()])
                })
                .map_err(StoreError::db(&db.path))?;
            Ok(Claim::Taken { from_stale })
        })();
        match claimed {
            Ok(claim) => db.commit().map(|()| claim),
            Err(error) => {
                db.rollback();
                Err(error)
            }
        }
    }

    /// Gives run `key` back, if `owner` holds it.
    pub fn release_run(&self, key: &str, owner: &ClaimOwner) -> Result<()> {
        let db = self.db();
        db.conn
            .prepare_cached("DELETE FROM run_claims WHERE key = ?1 AND owner = ?2")
            .and_then(|mut delete| delete.execute(rusqlite::params![key, owner.as_str()]))
            .map(|_| ())
            .map_err(StoreError::db(&db.path))
    }

    /// Who holds run `key`'s claim.
    pub fn run_claim(&self, key: &str) -> Result<Option<ClaimHolder>> {
        let db = self.db();
        holder(&db.conn, key).map_err(StoreError::db(&db.path))
    }
}

fn holder(conn: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<ClaimHolder>> {
    conn.prepare_cached("SELECT owner, taken_at FROM run_claims WHERE key = ?1")?
        .query_row([key], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .optional()
        .map(|found| {
            found.map(|(owner, taken_at)| {
                let owner = ClaimOwner(owner);
                ClaimHolder {
                    alive: owner.alive(taken_at),
                    owner,
                }
            })
        })
}

/// When process `pid` started (clock ticks since boot, `/proc/PID/stat` field 22), or
/// `None` when there is no such process (or no `/proc`).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, field 2, is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_made_up_one_is_not() {
        let me = ClaimOwner::current();
        assert!(me.alive(now_ms()), "{me}");
        let (process, host) = me.as_str().rsplit_once('@').unwrap();
        let (pid, _) = process.split_once(':').unwrap();
        // The same pid with another start time: a process that reused the pid.
        assert!(!ClaimOwner(format!("{pid}:1@{host}")).alive(now_ms()));
        assert!(!ClaimOwner(format!("4294967295:1@{host}")).alive(now_ms()));
        // Another host's claim lives until it is an hour old.
        assert!(ClaimOwner("1:1@elsewhere".into()).alive(now_ms()));
        assert!(!ClaimOwner("1:1@elsewhere".into()).alive(now_ms() - 3_600_001));
    }

    #[test]
    fn a_run_is_claimed_once_and_a_stale_claim_is_taken_over() {
        let store = Store::in_memory().unwrap();
        let me = ClaimOwner::current();
        assert_eq!(
            store.claim_run("main/g/t", &me).unwrap(),
            Claim::Taken { from_stale: None }
        );
        // Claiming again is fine for the holder; another live process is refused.
        assert_eq!(
            store.claim_run("main/g/t", &me).unwrap(),
            Claim::Taken { from_stale: None }
        );
        let other = ClaimOwner("1:1@elsewhere".into());
        assert_eq!(
            store.claim_run("main/g/t", &other).unwrap(),
            Claim::Held(me.clone())
        );
        store.release_run("main/g/t", &me).unwrap();
        assert_eq!(store.run_claim("main/g/t").unwrap(), None);

        // A claim by a process that is gone.
        let (_, host) = me.as_str().rsplit_once('@').unwrap();
        let dead = ClaimOwner(format!("4294967295:1@{host}"));
        store.claim_run("main/g/u", &dead).unwrap();
        assert_eq!(
            store.run_claim("main/g/u").unwrap(),
            Some(ClaimHolder {
                owner: dead.clone(),
                alive: false
            })
        );
        assert_eq!(
            store.claim_run("main/g/u", &me).unwrap(),
            Claim::Taken {
                from_stale: Some(dead)
            }
        );
    }
}
