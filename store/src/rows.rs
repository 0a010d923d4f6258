//! Rows inserted several to a statement.
//!
//! A commit writes thousands of rows (a seed build: ~2,500 nodes, ~11,000 value index
//! entries, ~6,000 relationship rows, ~3,100 events). One `INSERT` per row pays SQLite's
//! statement overhead — binding, the program's setup, a cursor opened on the table and on
//! each of its indexes — once per row; an `INSERT … VALUES (…), (…), …` pays it once per
//! chunk of rows. What that saves depends on the statement: taken from the connection's
//! cache for each value index entry, it cost three times the entry's B-tree insert; for
//! the events it reads and writes back the `AUTOINCREMENT` record each time; prepared once
//! per commit, for nodes, attribute rows and relationship rows, it is small (0.6% of a
//! seed build's instructions): there the B-tree inserts are the cost.
//!
//! Chunks have a power-of-two size up to a most (`32, 8, 4, 1` for 45 rows), so one kind of
//! row needs at most a handful of statements, each kept in the connection's statement
//! cache, whatever the number of rows a commit writes.

use rusqlite::Connection;
use rusqlite::types::ToSqlOutput;

/// An `INSERT` written a chunk of rows at a time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Insert {
    /// The statement before `VALUES`: `INSERT OR IGNORE INTO link (src, rel, dst, …)`.
    pub head: &'static str,
    /// One row's tuple: a `?` per value given, in order, and any constant
    /// (`(?, ?, ?, 1, NULL)`).
    pub tuple: &'static str,
    /// The most rows one statement inserts.
    pub most: usize,
}

/// One row's values, in the order of the tuple's `?`s.
pub(crate) type Row<'a, const N: usize> = [ToSqlOutput<'a>; N];

impl Insert {
    /// Inserts `rows`, in order, a chunk to a statement. The chunks of one size run one
    /// statement, taken from the connection's cache once: the cache finds a statement by
    /// its text (a chunk of 32 rows is over a kilobyte of SQL, made and hashed to find it,
    /// and hashed again to put it back), which for a commit of ~11,000 value index entries
    /// was done ~350 times instead of once.
    pub(crate) fn run<const N: usize>(
        &self,
        conn: &Connection,
        rows: &[Row<'_, N>],
    ) -> rusqlite::Result<()> {
        let mut rest = rows;
        while !rest.is_empty() {
            let size = chunk_size(rest.len(), self.most);
            let values = vec![self.tuple; size].join(", ");
            let mut statement = conn.prepare_cached(&format!("{} VALUES {values}", self.head))?;
            // Every chunk of this size: all the full ones, or the one smaller chunk.
            while !rest.is_empty() && chunk_size(rest.len(), self.most) == size {
                let (chunk, tail) = rest.split_at(size);
                for (i, row) in chunk.iter().enumerate() {
                    for (j, value) in row.iter().enumerate() {
                        statement.raw_bind_parameter(i * N + j + 1, value)?;
                    }
                }
                statement.raw_execute()?;
                rest = tail;
            }
        }
        Ok(())
    }
}

/// The size of the next chunk of `left` rows: `most`, else the largest power of two
/// that fits.
fn chunk_size(left: usize, most: usize) -> usize {
    if left >= most {
        most.max(1)
    } else {
        1 << left.ilog2()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_split_into_the_most_then_powers_of_two() {
        let sizes = |mut left: usize| {
            let mut out = Vec::new();
            while left > 0 {
                let size = chunk_size(left, 32);
                out.push(size);
                left -= size;
            }
            out
        };
        assert_eq!(sizes(45), [32, 8, 4, 1]);
        assert_eq!(sizes(64), [32, 32]);
        assert_eq!(sizes(31), [16, 8, 4, 2, 1]);
        assert_eq!(sizes(1), [1]);
        assert!(sizes(0).is_empty());
    }

    /// Every row is written, in the order given, whatever the chunks; the statements used
    /// are a few, of the chunk sizes only.
    #[test]
    fn every_row_is_inserted_in_order_across_chunks() {
        let conn = Connection::open_in_memory().expect("a database");
        conn.execute_batch(
            "CREATE TABLE t (n INTEGER PRIMARY KEY, name TEXT NOT NULL, flag INTEGER)",
        )
        .expect("a table");
        let insert = Insert {
            head: "INSERT INTO t (n, name, flag)",
            tuple: "(?, ?, 1)",
            most: 32,
        };
        // Two full chunks run one statement; then chunks of 8, 4 and 1.
        let names: Vec<String> = (0..77).map(|n| format!("row-{n}")).collect();
        let rows: Vec<Row<'_, 2>> = names
            .iter()
            .enumerate()
            .map(|(n, name)| {
                [
                    ToSqlOutput::from(n as i64),
                    ToSqlOutput::from(name.as_str()),
                ]
            })
            .collect();
        insert.run(&conn, &rows).expect("the rows");
        let read: Vec<(i64, String, i64)> = conn
            .prepare("SELECT n, name, flag FROM t ORDER BY rowid")
            .expect("a query")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read back");
        let expected: Vec<(i64, String, i64)> = names
            .iter()
            .enumerate()
            .map(|(n, name)| (n as i64, name.clone(), 1))
            .collect();
        assert_eq!(read, expected);
    }

    /// A row refused by a constraint fails the statement, as one row's `INSERT` would.
    #[test]
    fn a_refused_row_fails_the_insert() {
        let conn = Connection::open_in_memory().expect("a database");
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .expect("a table");
        let insert = Insert {
            head: "INSERT INTO t (n)",
            tuple: "(?)",
            most: 32,
        };
        let rows: Vec<Row<'_, 1>> = [1_i64, 2, 1].map(|n| [ToSqlOutput::from(n)]).into();
        let refused = insert.run(&conn, &rows);
        assert!(
            matches!(&refused, Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY),
            "{refused:?}"
        );
    }
}
