//! Row layouts for the embedded store, compared on the rows the seed's
//! cascades really write: what SQLite alone costs per node write in each.
//!
//! ```text
//! cargo bench -p infragen-tests --bench layout
//! LAYOUT_BENCH_SAMPLES=9 cargo bench -p infragen-tests --bench layout
//! LAYOUT_BENCH_COPIES=16 cargo bench -p infragen-tests --bench layout   # the 16x design
//! ```
//!
//! The store's CPU goal is 50 µs per node write for everything a cascade
//! does (`cascade` bench). This bench answers one question on the way there:
//! how much of that can SQLite's share be in a given row layout, and which
//! layout to move to. It builds the seed data center with the two
//! `generate-fabric` cascades on an embedded store (as `cascade` does, one run
//! at a time), reads back the rows the cascades left on the branch, grouped
//! by the commit (revision) that wrote them, and the cascades' events. Then,
//! for each layout, it writes the same content into a fresh database, one
//! SQLite transaction per commit in the cascades' order, and reads every node
//! back by id. It prints CPU per write (the cascades' node events), the rows
//! and index entries written, the file size, and CPU per node read. The layouts take
//! turns, one sample of each per round, so that the machine's drift and what the seed
//! build left running (its WAL checkpoints) weigh on all of them alike.
//!
//! The layouts:
//! - **link rows** — today's but for the value index: a `node` row, one
//!   `attrs` row per node holding its attribute values (JSON), one `attr_key`
//!   entry per value (but the profile's hidden marker) keyed by the kind's and
//!   attribute's names, as before the store keyed it by attribute number
//!   (`value_key`), one `link` row per relationship (both sides, under their
//!   identifier) with its index by `dst` (`link_in`), and the events as the
//!   store keeps them (binary records since layout 3);
//! - **attribute rows** — the layout before (until the `link` rows): the same
//!   but one `edge` row per relationship side with its index (`edge_by_peer_rel`);
//! - **rows** — the layout before that (until `5239ba9`): a `node` row, one `attr`
//!   row per attribute, one `edge` row per relationship side, each table with
//!   its secondary index (`attr_by_key`, `edge_by_peer_rel`), and the events;
//! - **rows, no edge index** and **rows, no attr index** — today's rows without
//!   `edge_by_peer_rel`, or without `attr_by_key`: what each secondary index costs;
//! - **rows, no events** — the same without the event log, to show its share;
//! - **rows, 16-byte ids** — today's rows with every node id (`id`, `peer`) a
//!   16-byte blob rather than its 36-character text;
//! - **rows, interned names** — today's rows and indexes with ids still text, and
//!   kinds, branches, attribute and relationship names interned as integers (few
//!   enough to keep all in memory: no lookup table read back);
//! - **rows, integer ids** — today's rows and indexes with ids, kinds, branches,
//!   attribute and relationship names interned as integers (peers read back
//!   through the `ids` table);
//! - **image** — one `node` row holding the node's attributes and peers
//!   (JSON), with index-only tables for lookups: `attr_key` (kind, name, key,
//!   branch, id) for every attribute with a lookup key, and `edge_in` (peer,
//!   rel, branch, id) for every relationship side;
//! - **image, no edge_in** — the same without `edge_in`: every relationship
//!   side is already in the image of the node at each end, so only a
//!   relationship without a counterpart would need it;
//! - **image, integer ids** — `image, no edge_in` with ids, kinds, attribute
//!   and relationship names interned as integers (an `ids` table maps each
//!   UUID to its integer once).
//!
//! The branch semantics (a branch's own value of a main node's attribute, with
//! its base for the three-way merge) are not modelled: in the seed every node
//! is new on the branch, so every row is plain, as a new node's rows are. The
//! relationship sides of the layouts that keep one row per side are the sides the
//! schema declares for each `link` row the seed left.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Design, cascade, cpu_time, design, generate_fabric};
use infragen::backend::Backend;
use infragen::embedded::EmbeddedBackend;
use infragen::repository::Repository;
use infragen::sync::sync_repository;
use infragen_store::Store;
use infragen_store::schema::Schema;
use infragen_store::stored_id::Stored;
use rusqlite::{Connection, params};
use serde_json::{Map, Value, json};

const BRANCH: &str = "br1";
/// Samples of each layout (the median is printed) unless `LAYOUT_BENCH_SAMPLES` says.
const SAMPLES: usize = 5;

/// One node as the seed's cascades left it on the branch.
struct NodeRows {
    id: String,
    kind: String,
    /// (name, JSON text, lookup key)
    attrs: Vec<(String, String, Option<String>)>,
    /// (relationship, peer, position): the node's relationship sides.
    edges: Vec<(String, String, i64)>,
    /// (identifier, src, dst, position): the relationship rows written with this node (the
    /// rows whose `src` is on the branch's list, else whose `dst` is).
    links: Vec<(String, String, String, i64)>,
}

/// What the cascades wrote: nodes grouped by the commit that last wrote them, in commit
/// order, and the events as the store keeps them.
struct Seed {
    commits: Vec<Vec<NodeRows>>,
    events: Vec<Vec<u8>>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let samples = number("LAYOUT_BENCH_SAMPLES", SAMPLES);
    let design = design(number("LAYOUT_BENCH_COPIES", 1));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let store = build_seed(&design, &path, dir.path()).await;
    let seed = read_seed(&path, &store.schema());
    let nodes: usize = seed.commits.iter().map(Vec::len).sum();
    println!(
        "{} on {BRANCH}: {} commits, {nodes} nodes, {} attributes, {} relationships, {} \
         relationship sides, {} events ({} kB as stored)",
        design.label,
        seed.commits.len(),
        seed.commits
            .iter()
            .flatten()
            .map(|n| n.attrs.len())
            .sum::<usize>(),
        seed.commits
            .iter()
            .flatten()
            .map(|n| n.links.len())
            .sum::<usize>(),
        seed.commits
            .iter()
            .flatten()
            .map(|n| n.edges.len())
            .sum::<usize>(),
        seed.events.len(),
        seed.events.iter().map(Vec::len).sum::<usize>() / 1024,
    );
    println!(
        "(write: CPU of the commits, one SQLite transaction each; µs/write: over the \
         cascades' {} node events; rows: table rows + index entries written; read: every \
         node loaded by id; medians of {samples})",
        seed.events.len()
    );
    println!(
        "  {:<24} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "layout", "write", "µs/write", "rows", "file", "read µs/node"
    );
    // Rounds of every layout in turn, not every sample of one layout and then the next:
    // the machine's load drifts over a run, and whichever layout went first also met
    // what the seed build left behind (its WAL checkpoints, a cold page cache).
    let mut measured: Vec<Samples> = Layout::ALL.iter().map(|_| Samples::default()).collect();
    // Each round starts one layout further on, so none is always the first or the last.
    for round in 0..samples {
        for turn in 0..Layout::ALL.len() {
            let at = (round + turn) % Layout::ALL.len();
            let sample = measure(Layout::ALL[at], &seed, dir.path());
            let samples = &mut measured[at];
            samples.writes.push(sample.write);
            samples.reads.push(sample.read);
            samples.rows = sample.rows;
            samples.bytes = sample.bytes;
        }
    }
    let mut baseline = None;
    for (layout, mut samples) in Layout::ALL.into_iter().zip(measured) {
        let write = median(&mut samples.writes);
        let read = median(&mut samples.reads);
        let ratio = match baseline {
            None => {
                baseline = Some(write);
                String::new()
            }
            Some(base) => format!(
                "  {:.2}× {}' write",
                write.as_secs_f64() / base.as_secs_f64(),
                Layout::ALL[0].name()
            ),
        };
        println!(
            "  {:<24} {:>6.1} ms {:>9.1} {:>9} {:>6} kB {:>11.1}{ratio}",
            layout.name(),
            write.as_secs_f64() * 1e3,
            write.as_secs_f64() * 1e6 / seed.events.len() as f64,
            samples.rows,
            samples.bytes / 1024,
            read.as_secs_f64() * 1e6 / nodes as f64,
        );
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// `design` on `BRANCH` of a fresh store at `path`, built as the `cascade` bench builds
/// it, one run at a time.
async fn build_seed(seed: &Design, path: &Path, scratch: &Path) -> Store {
    let store = Store::open(path).expect("store opens");
    let repository = Arc::new(Repository::open(&seed.root).expect("repository opens"));
    let backend: Arc<dyn Backend> = Arc::new(EmbeddedBackend::new(store.clone()));
    sync_repository(&store, &repository, backend.as_ref(), "main")
        .await
        .expect("the repository syncs");
    store.create_branch(BRANCH).expect("branch");
    let cascade = cascade(&store, repository, backend, 1, &scratch.join("cache"));
    for fabric in &seed.fabrics {
        generate_fabric(&cascade, BRANCH, fabric).await;
    }
    store
}

/// The branch's rows and the branch's events, read from the store's file.
fn read_seed(path: &Path, schema: &Schema) -> Seed {
    let db = Connection::open(path).expect("open the store's file");
    let mut by_rev: BTreeMap<i64, Vec<NodeRows>> = BTreeMap::new();
    let mut index = HashMap::new();
    let mut nodes = db
        .prepare("SELECT id, kind, rev FROM node WHERE branch = ?1 AND live = 1 ORDER BY rev, id")
        .expect("nodes");
    let rows = nodes
        .query_map([BRANCH], |r| {
            Ok((r.get::<_, Stored>(0)?.0, r.get::<_, String>(1)?, r.get(2)?))
        })
        .expect("nodes");
    for row in rows {
        let (id, kind, rev): (String, String, i64) = row.expect("node row");
        let commit = by_rev.entry(rev).or_default();
        index.insert(id.clone(), (rev, commit.len()));
        commit.push(NodeRows {
            id,
            kind,
            attrs: Vec::new(),
            edges: Vec::new(),
            links: Vec::new(),
        });
    }
    // Each value as its own row held it: JSON text, and the text form lookups use.
    let mut attrs = db
        .prepare("SELECT id, data FROM attrs WHERE branch = ?1 ORDER BY id")
        .expect("attributes");
    let rows = attrs
        .query_map([BRANCH], |r| {
            Ok((r.get::<_, Stored>(0)?.0, r.get::<_, String>(1)?))
        })
        .expect("attributes");
    for row in rows {
        let (id, data) = row.expect("attribute row");
        let Some(&(rev, at)) = index.get(&id) else {
            continue;
        };
        let data: Map<String, Value> = serde_json::from_str(&data).expect("attribute values");
        for (name, value) in data {
            let key = match &value {
                Value::Null => continue,
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            by_rev.get_mut(&rev).expect("commit")[at].attrs.push((
                name,
                value.to_string(),
                Some(key),
            ));
        }
    }
    // Each relationship row, with the node listed first of its two ends, and as the sides
    // the schema declares for it.
    let kinds: HashMap<String, String> = db
        .prepare("SELECT id, kind FROM node")
        .expect("kinds")
        .query_map([], |r| Ok((r.get::<_, Stored>(0)?.0, r.get(1)?)))
        .expect("kinds")
        .map(|row| row.expect("kind row"))
        .collect();
    let mut links = db
        .prepare(
            "SELECT l.src, r.name, l.dst, l.pos FROM link l JOIN rel_name r ON r.n = l.rel \
             WHERE l.branch = ?1 AND l.live = 1 ORDER BY l.pos",
        )
        .expect("links");
    let rows = links
        .query_map([BRANCH], |r| {
            Ok((
                r.get::<_, Stored>(0)?.0,
                r.get::<_, String>(1)?,
                r.get::<_, Stored>(2)?.0,
                r.get::<_, i64>(3)?,
            ))
        })
        .expect("links");
    for row in rows {
        let (src, identifier, dst, pos) = row.expect("link row");
        if let Some(&(rev, at)) = index.get(&src).or_else(|| index.get(&dst)) {
            by_rev.get_mut(&rev).expect("commit")[at].links.push((
                identifier.clone(),
                src.clone(),
                dst.clone(),
                pos,
            ));
        }
        for (at_src, id, peer) in [(true, &src, &dst), (false, &dst, &src)] {
            let Some(&(rev, at)) = index.get(id) else {
                continue;
            };
            let Some(kind) = kinds.get(id).and_then(|k| schema.get(k)) else {
                continue;
            };
            let peer_kind = || kinds.get(peer).cloned();
            if let Some(r) = schema.relationship_at(kind, &identifier, at_src, peer_kind) {
                by_rev.get_mut(&rev).expect("commit")[at].edges.push((
                    r.name.clone(),
                    peer.clone(),
                    pos,
                ));
            }
        }
    }
    // The store this bench builds writes its events as binary records.
    let events = db
        .prepare("SELECT data FROM events ORDER BY seq")
        .expect("events")
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .expect("events")
        .map(|row| row.expect("event row"))
        .filter(|data| infragen_store::diagnostics::stored_event_branch(data) == Some(BRANCH))
        .collect();
    Seed {
        commits: by_rev.into_values().collect(),
        events,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    LinkRows,
    AttributeRows,
    Rows,
    RowsNoEvents,
    RowsNoEdgeIndex,
    RowsNoAttrIndex,
    RowsBlobIds,
    RowsInternedNames,
    RowsIntegerIds,
    Image,
    ImageNoEdgeIndex,
    ImageIntegerIds,
}

impl Layout {
    const ALL: [Layout; 12] = [
        Layout::LinkRows,
        Layout::AttributeRows,
        Layout::Rows,
        Layout::RowsNoEdgeIndex,
        Layout::RowsNoAttrIndex,
        Layout::RowsNoEvents,
        Layout::RowsBlobIds,
        Layout::RowsInternedNames,
        Layout::RowsIntegerIds,
        Layout::Image,
        Layout::ImageNoEdgeIndex,
        Layout::ImageIntegerIds,
    ];

    fn name(self) -> &'static str {
        match self {
            Layout::LinkRows => "link rows",
            Layout::AttributeRows => "attribute rows",
            Layout::Rows => "rows",
            Layout::RowsNoEvents => "rows, no events",
            Layout::RowsNoEdgeIndex => "rows, no edge index",
            Layout::RowsNoAttrIndex => "rows, no attr index",
            Layout::RowsBlobIds => "rows, 16-byte ids",
            Layout::RowsInternedNames => "rows, interned names",
            Layout::RowsIntegerIds => "rows, integer ids",
            Layout::Image => "image",
            Layout::ImageNoEdgeIndex => "image, no edge_in",
            Layout::ImageIntegerIds => "image, integer ids",
        }
    }

    fn schema(self) -> String {
        const ATTR_INDEX: &str = "CREATE INDEX attr_by_key ON attr (kind, name, key, branch);";
        const EDGE_INDEX: &str = "CREATE INDEX edge_by_peer_rel ON edge (peer, rel, branch);";
        let without = |index: &'static str| match (self, index) {
            (Layout::RowsNoAttrIndex, ATTR_INDEX) | (Layout::RowsNoEdgeIndex, EDGE_INDEX) => "",
            _ => index,
        };
        match self {
            Layout::Rows
            | Layout::RowsNoEvents
            | Layout::RowsNoEdgeIndex
            | Layout::RowsNoAttrIndex
            | Layout::RowsBlobIds => format!(
                "CREATE TABLE node (id TEXT NOT NULL, branch TEXT NOT NULL, kind TEXT NOT NULL,
                     live INTEGER NOT NULL, rev INTEGER NOT NULL, base_rev INTEGER,
                     PRIMARY KEY (id, branch)) WITHOUT ROWID;
                 CREATE INDEX node_by_kind ON node (kind, branch, live);
                 CREATE TABLE attr (id TEXT NOT NULL, branch TEXT NOT NULL, name TEXT NOT NULL,
                     kind TEXT NOT NULL, value TEXT, key TEXT, base TEXT, has_base INTEGER NOT NULL,
                     PRIMARY KEY (id, branch, name)) WITHOUT ROWID;
                 {}
                 CREATE TABLE edge (id TEXT NOT NULL, rel TEXT NOT NULL, peer TEXT NOT NULL,
                     branch TEXT NOT NULL, pos INTEGER NOT NULL, live INTEGER NOT NULL, base INTEGER,
                     PRIMARY KEY (id, rel, peer, branch)) WITHOUT ROWID;
                 {}
                 CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);",
                without(ATTR_INDEX),
                without(EDGE_INDEX),
            ),
            Layout::LinkRows | Layout::AttributeRows => format!(
                "CREATE TABLE node (id TEXT NOT NULL, branch TEXT NOT NULL, kind TEXT NOT NULL,
                     live INTEGER NOT NULL, rev INTEGER NOT NULL, base_rev INTEGER,
                     PRIMARY KEY (id, branch)) WITHOUT ROWID;
                 CREATE INDEX node_by_kind ON node (kind, branch, live);
                 CREATE TABLE attrs (id TEXT NOT NULL, branch TEXT NOT NULL, kind TEXT NOT NULL,
                     data TEXT NOT NULL, bases TEXT, PRIMARY KEY (id, branch)) WITHOUT ROWID;
                 CREATE TABLE attr_key (kind TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
                     branch TEXT NOT NULL, id TEXT NOT NULL,
                     PRIMARY KEY (kind, name, key, branch, id)) WITHOUT ROWID;
                 {}
                 CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);",
                if self == Layout::LinkRows {
                    "CREATE TABLE link (src TEXT NOT NULL, rel TEXT NOT NULL, dst TEXT NOT NULL,
                         branch TEXT NOT NULL, pos INTEGER NOT NULL, live INTEGER NOT NULL,
                         base INTEGER, PRIMARY KEY (src, rel, dst, branch)) WITHOUT ROWID;
                     CREATE INDEX link_in ON link (dst, rel, branch, live, pos);"
                        .to_owned()
                } else {
                    format!(
                        "CREATE TABLE edge (id TEXT NOT NULL, rel TEXT NOT NULL, peer TEXT NOT NULL,
                             branch TEXT NOT NULL, pos INTEGER NOT NULL, live INTEGER NOT NULL,
                             base INTEGER, PRIMARY KEY (id, rel, peer, branch)) WITHOUT ROWID;
                         {EDGE_INDEX}"
                    )
                }
            ),
            Layout::Image | Layout::ImageNoEdgeIndex => {
                "CREATE TABLE node (id TEXT NOT NULL, branch TEXT NOT NULL, kind TEXT NOT NULL,
                     live INTEGER NOT NULL, rev INTEGER NOT NULL, data TEXT NOT NULL,
                     PRIMARY KEY (id, branch)) WITHOUT ROWID;
                 CREATE INDEX node_by_kind ON node (kind, branch, live);
                 CREATE TABLE attr_key (kind TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
                     branch TEXT NOT NULL, id TEXT NOT NULL,
                     PRIMARY KEY (kind, name, key, branch, id)) WITHOUT ROWID;
                 CREATE TABLE edge_in (peer TEXT NOT NULL, rel TEXT NOT NULL, branch TEXT NOT NULL,
                     id TEXT NOT NULL, PRIMARY KEY (peer, rel, branch, id)) WITHOUT ROWID;
                 CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);"
                    .to_owned()
            }
            Layout::RowsInternedNames => {
                "CREATE TABLE node (id TEXT NOT NULL, branch INTEGER NOT NULL,
                     kind INTEGER NOT NULL, live INTEGER NOT NULL, rev INTEGER NOT NULL,
                     base_rev INTEGER, PRIMARY KEY (id, branch)) WITHOUT ROWID;
                 CREATE INDEX node_by_kind ON node (kind, branch, live);
                 CREATE TABLE attr (id TEXT NOT NULL, branch INTEGER NOT NULL,
                     name INTEGER NOT NULL, kind INTEGER NOT NULL, value TEXT, key TEXT, base TEXT,
                     has_base INTEGER NOT NULL, PRIMARY KEY (id, branch, name)) WITHOUT ROWID;
                 CREATE INDEX attr_by_key ON attr (kind, name, key, branch);
                 CREATE TABLE edge (id TEXT NOT NULL, rel INTEGER NOT NULL, peer TEXT NOT NULL,
                     branch INTEGER NOT NULL, pos INTEGER NOT NULL, live INTEGER NOT NULL,
                     base INTEGER, PRIMARY KEY (id, rel, peer, branch)) WITHOUT ROWID;
                 CREATE INDEX edge_by_peer_rel ON edge (peer, rel, branch);
                 CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);"
                    .to_owned()
            }
            Layout::RowsIntegerIds => {
                "CREATE TABLE ids (n INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE);
                 CREATE TABLE node (n INTEGER NOT NULL, branch INTEGER NOT NULL,
                     kind INTEGER NOT NULL, live INTEGER NOT NULL, rev INTEGER NOT NULL,
                     base_rev INTEGER, PRIMARY KEY (n, branch)) WITHOUT ROWID;
                 CREATE INDEX node_by_kind ON node (kind, branch, live);
                 CREATE TABLE attr (n INTEGER NOT NULL, branch INTEGER NOT NULL,
                     name INTEGER NOT NULL, kind INTEGER NOT NULL, value TEXT, key TEXT, base TEXT,
                     has_base INTEGER NOT NULL, PRIMARY KEY (n, branch, name)) WITHOUT ROWID;
                 CREATE INDEX attr_by_key ON attr (kind, name, key, branch);
                 CREATE TABLE edge (n INTEGER NOT NULL, rel INTEGER NOT NULL, peer INTEGER NOT NULL,
                     branch INTEGER NOT NULL, pos INTEGER NOT NULL, live INTEGER NOT NULL,
                     base INTEGER, PRIMARY KEY (n, rel, peer, branch)) WITHOUT ROWID;
                 CREATE INDEX edge_by_peer_rel ON edge (peer, rel, branch);
                 CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);"
                    .to_owned()
            }
            Layout::ImageIntegerIds => {
                "CREATE TABLE ids (n INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE);
                 CREATE TABLE node (n INTEGER NOT NULL, branch INTEGER NOT NULL,
                     kind INTEGER NOT NULL, live INTEGER NOT NULL, rev INTEGER NOT NULL,
                     data TEXT NOT NULL, PRIMARY KEY (n, branch)) WITHOUT ROWID;
                 CREATE INDEX node_by_kind ON node (kind, branch, live);
                 CREATE TABLE attr_key (kind INTEGER NOT NULL, name INTEGER NOT NULL,
                     key TEXT NOT NULL, branch INTEGER NOT NULL, n INTEGER NOT NULL,
                     PRIMARY KEY (kind, name, key, branch, n)) WITHOUT ROWID;
                 CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);"
                    .to_owned()
            }
        }
    }
}

/// Every sample of one layout.
#[derive(Default)]
struct Samples {
    writes: Vec<Duration>,
    reads: Vec<Duration>,
    /// Table rows and index entries written (the same in every sample).
    rows: usize,
    bytes: u64,
}

struct Sample {
    write: Duration,
    read: Duration,
    /// Table rows and index entries written.
    rows: usize,
    bytes: u64,
}

/// Integers for the strings of the integer-id layout, kept in memory as a store would.
#[derive(Default)]
struct Interned {
    ids: HashMap<String, i64>,
    names: HashMap<String, i64>,
}

impl Interned {
    fn name(&mut self, name: &str) -> i64 {
        let next = self.names.len() as i64 + 1;
        *self.names.entry(name.to_owned()).or_insert(next)
    }
}

fn measure(layout: Layout, seed: &Seed, scratch: &Path) -> Sample {
    let path = scratch.join("layout.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let db = Connection::open(&path).expect("open");
    db.pragma_update(None, "journal_mode", "WAL").expect("WAL");
    db.pragma_update(None, "synchronous", "NORMAL")
        .expect("synchronous");
    db.execute_batch(&layout.schema()).expect("schema");
    let mut interned = Interned::default();
    let branch = interned.name(BRANCH);
    // `main` has a number too (read as the text rows are: main's rows and the branch's).
    interned.name("main");
    let mut rows = 0;
    let per_commit = seed.events.len().div_ceil(seed.commits.len()).max(1);
    let mut events = seed.events.chunks(per_commit);

    let started = cpu_time();
    for commit in &seed.commits {
        let tx = db.unchecked_transaction().expect("begin");
        for node in commit {
            rows += write_node(layout, &tx, node, branch, &mut interned);
        }
        if layout != Layout::RowsNoEvents {
            let mut insert = tx
                .prepare_cached("INSERT INTO events (data) VALUES (?1)")
                .expect("events");
            for event in events.next().unwrap_or_default() {
                insert.execute([event]).expect("event");
                rows += 1;
            }
        }
        tx.commit().expect("commit");
    }
    let write = cpu_time() - started;

    let started = cpu_time();
    let mut loaded = 0;
    for node in seed.commits.iter().flatten() {
        loaded += read_node(layout, &db, &node.id, branch, &interned);
    }
    let read = cpu_time() - started;
    assert!(loaded > 0, "nodes read back");

    db.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .expect("checkpoint");
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Sample {
        write,
        read,
        rows,
        bytes,
    }
}

/// Writes `node`'s edge rows as `id` (a layout keyed by text or blob ids).
fn write_edges(db: &Connection, layout: Layout, id: &NodeId<'_>, node: &NodeRows) {
    let mut edge = db
        .prepare_cached(
            "INSERT INTO edge (id, rel, peer, branch, pos, live, base) \
             VALUES (?1, ?2, ?3, ?4, ?5, 1, NULL)",
        )
        .expect("edge");
    for (rel, peer, pos) in &node.edges {
        edge.execute(params![id, rel, NodeId::of(layout, peer), BRANCH, pos])
            .expect("edge");
    }
}

/// Writes `node` in `layout`; returns the table rows and index entries written.
fn write_node(
    layout: Layout,
    db: &Connection,
    node: &NodeRows,
    branch: i64,
    interned: &mut Interned,
) -> usize {
    match layout {
        Layout::Rows
        | Layout::RowsNoEvents
        | Layout::RowsBlobIds
        | Layout::RowsNoEdgeIndex
        | Layout::RowsNoAttrIndex => {
            let id = NodeId::of(layout, &node.id);
            db.prepare_cached(
                "INSERT INTO node (id, branch, kind, live, rev, base_rev) VALUES (?1, ?2, ?3, 1, 1, NULL)",
            )
            .expect("node")
            .execute(params![id, BRANCH, node.kind])
            .expect("node");
            let mut attr = db
                .prepare_cached(
                    "INSERT INTO attr (id, branch, name, kind, value, key, base, has_base) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0)",
                )
                .expect("attr");
            for (name, value, key) in &node.attrs {
                attr.execute(params![id, BRANCH, name, node.kind, value, key])
                    .expect("attr");
            }
            write_edges(db, layout, &id, node);
            let indexed = |n: usize, index_dropped: bool| if index_dropped { n } else { 2 * n };
            2 + indexed(node.attrs.len(), layout == Layout::RowsNoAttrIndex)
                + indexed(node.edges.len(), layout == Layout::RowsNoEdgeIndex)
        }
        Layout::LinkRows | Layout::AttributeRows => {
            db.prepare_cached(
                "INSERT INTO node (id, branch, kind, live, rev, base_rev) VALUES (?1, ?2, ?3, 1, 1, NULL)",
            )
            .expect("node")
            .execute(params![node.id, BRANCH, node.kind])
            .expect("node");
            let data: Map<String, Value> = node
                .attrs
                .iter()
                .map(|(name, text, _)| {
                    (
                        name.clone(),
                        serde_json::from_str(text).unwrap_or(Value::Null),
                    )
                })
                .collect();
            db.prepare_cached(
                "INSERT INTO attrs (id, branch, kind, data, bases) VALUES (?1, ?2, ?3, ?4, NULL)",
            )
            .expect("attrs")
            .execute(params![
                node.id,
                BRANCH,
                node.kind,
                serde_json::to_string(&data).expect("json")
            ])
            .expect("attrs");
            // A node's entries in one statement, as a commit writes several to a statement.
            let keys: Vec<(&String, &String)> = node
                .attrs
                .iter()
                .filter(|(name, ..)| name != "__from_profile")
                .filter_map(|(name, _, key)| key.as_ref().map(|key| (name, key)))
                .collect();
            if !keys.is_empty() {
                let values = vec!["(?, ?, ?, ?, ?)"; keys.len()].join(", ");
                let mut st = db
                    .prepare_cached(&format!(
                        "INSERT INTO attr_key (kind, name, key, branch, id) VALUES {values}"
                    ))
                    .expect("attr_key");
                for (i, (name, key)) in keys.iter().enumerate() {
                    let at = 5 * i;
                    st.raw_bind_parameter(at + 1, &node.kind).expect("bind");
                    st.raw_bind_parameter(at + 2, *name).expect("bind");
                    st.raw_bind_parameter(at + 3, *key).expect("bind");
                    st.raw_bind_parameter(at + 4, BRANCH).expect("bind");
                    st.raw_bind_parameter(at + 5, &node.id).expect("bind");
                }
                st.raw_execute().expect("attr_key");
            }
            if layout == Layout::LinkRows {
                let mut link = db
                    .prepare_cached(
                        "INSERT INTO link (src, rel, dst, branch, pos, live, base) \
                         VALUES (?1, ?2, ?3, ?4, ?5, 1, NULL)",
                    )
                    .expect("link");
                for (identifier, src, dst, pos) in &node.links {
                    link.execute(params![src, identifier, dst, BRANCH, pos])
                        .expect("link");
                }
                3 + keys.len() + 2 * node.links.len()
            } else {
                write_edges(db, layout, &NodeId::of(layout, &node.id), node);
                3 + keys.len() + 2 * node.edges.len()
            }
        }
        Layout::Image | Layout::ImageNoEdgeIndex => {
            db.prepare_cached(
                "INSERT INTO node (id, branch, kind, live, rev, data) VALUES (?1, ?2, ?3, 1, 1, ?4)",
            )
            .expect("node")
            .execute(params![node.id, BRANCH, node.kind, image(node, |peer| json!(peer))])
            .expect("node");
            let mut written = 2;
            let mut key = db
                .prepare_cached(
                    "INSERT INTO attr_key (kind, name, key, branch, id) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .expect("attr_key");
            for (name, _, k) in &node.attrs {
                if let Some(k) = k {
                    key.execute(params![node.kind, name, k, BRANCH, node.id])
                        .expect("attr_key");
                    written += 1;
                }
            }
            if layout == Layout::Image {
                let mut edge = db
                    .prepare_cached(
                        "INSERT INTO edge_in (peer, rel, branch, id) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .expect("edge_in");
                for (rel, peer, _) in &node.edges {
                    edge.execute(params![peer, rel, BRANCH, node.id])
                        .expect("edge_in");
                    written += 1;
                }
            }
            written
        }
        Layout::RowsInternedNames => {
            let kind = interned.name(&node.kind);
            db.prepare_cached(
                "INSERT INTO node (id, branch, kind, live, rev, base_rev) VALUES (?1, ?2, ?3, 1, 1, NULL)",
            )
            .expect("node")
            .execute(params![node.id, branch, kind])
            .expect("node");
            let mut attr = db
                .prepare_cached(
                    "INSERT INTO attr (id, branch, name, kind, value, key, base, has_base) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0)",
                )
                .expect("attr");
            for (name, value, key) in &node.attrs {
                let name = interned.name(name);
                attr.execute(params![node.id, branch, name, kind, value, key])
                    .expect("attr");
            }
            let mut edge = db
                .prepare_cached(
                    "INSERT INTO edge (id, rel, peer, branch, pos, live, base) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 1, NULL)",
                )
                .expect("edge");
            for (rel, peer, pos) in &node.edges {
                let rel = interned.name(rel);
                edge.execute(params![node.id, rel, peer, branch, pos])
                    .expect("edge");
            }
            2 + 2 * node.attrs.len() + 2 * node.edges.len()
        }
        Layout::RowsIntegerIds => {
            let n = intern_id(db, interned, &node.id);
            let kind = interned.name(&node.kind);
            db.prepare_cached(
                "INSERT INTO node (n, branch, kind, live, rev, base_rev) VALUES (?1, ?2, ?3, 1, 1, NULL)",
            )
            .expect("node")
            .execute(params![n, branch, kind])
            .expect("node");
            // Statements prepared once per node, as the text rows' are.
            let mut attr = db
                .prepare_cached(
                    "INSERT INTO attr (n, branch, name, kind, value, key, base, has_base) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0)",
                )
                .expect("attr");
            for (name, value, key) in &node.attrs {
                let name = interned.name(name);
                attr.execute(params![n, branch, name, kind, value, key])
                    .expect("attr");
            }
            let mut edge = db
                .prepare_cached(
                    "INSERT INTO edge (n, rel, peer, branch, pos, live, base) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 1, NULL)",
                )
                .expect("edge");
            for (rel, peer, pos) in &node.edges {
                let rel = interned.name(rel);
                let peer = intern_id(db, interned, peer);
                edge.execute(params![n, rel, peer, branch, pos])
                    .expect("edge");
            }
            2 + 2 * node.attrs.len() + 2 * node.edges.len()
        }
        Layout::ImageIntegerIds => {
            let n = intern_id(db, interned, &node.id);
            let peers: Vec<i64> = node
                .edges
                .iter()
                .map(|(_, peer, _)| intern_id(db, interned, peer))
                .collect();
            let mut at = peers.iter();
            let data = image(node, |_| json!(at.next().copied().unwrap_or_default()));
            let kind = interned.name(&node.kind);
            db.prepare_cached(
                "INSERT INTO node (n, branch, kind, live, rev, data) VALUES (?1, ?2, ?3, 1, 1, ?4)",
            )
            .expect("node")
            .execute(params![n, branch, kind, data])
            .expect("node");
            let mut written = 2;
            let mut key = db
                .prepare_cached(
                    "INSERT INTO attr_key (kind, name, key, branch, n) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .expect("attr_key");
            for (name, _, k) in &node.attrs {
                if let Some(k) = k {
                    let name = interned.name(name);
                    key.execute(params![kind, name, k, branch, n])
                        .expect("attr_key");
                    written += 1;
                }
            }
            written
        }
    }
}

/// The integer of `uuid`, giving it one (an `ids` row) the first time.
fn intern_id(db: &Connection, interned: &mut Interned, uuid: &str) -> i64 {
    if let Some(&n) = interned.ids.get(uuid) {
        return n;
    }
    let n = interned.ids.len() as i64 + 1;
    db.prepare_cached("INSERT INTO ids (n, uuid) VALUES (?1, ?2)")
        .expect("ids")
        .execute(params![n, uuid])
        .expect("ids");
    interned.ids.insert(uuid.to_owned(), n);
    n
}

/// A node's image: its attributes and its peers by relationship, in position order.
fn image(node: &NodeRows, mut peer: impl FnMut(&str) -> Value) -> String {
    let attrs: Map<String, Value> = node
        .attrs
        .iter()
        .map(|(name, text, _)| {
            let value = serde_json::from_str(text).unwrap_or(Value::Null);
            (name.clone(), value)
        })
        .collect();
    let mut rels: Map<String, Value> = Map::new();
    for (rel, id, _) in &node.edges {
        let value = peer(id);
        match rels.get_mut(rel) {
            Some(Value::Array(peers)) => peers.push(value),
            _ => {
                rels.insert(rel.clone(), Value::Array(vec![value]));
            }
        }
    }
    json!({"attrs": attrs, "rels": rels}).to_string()
}

/// A node id as a row holds it: its text, or (`rows, 16-byte ids`) a UUID's 16 bytes.
enum NodeId<'a> {
    Text(&'a str),
    Bytes([u8; 16]),
}

impl<'a> NodeId<'a> {
    fn of(layout: Layout, id: &'a str) -> NodeId<'a> {
        let hex: Vec<u8> = id.bytes().filter(|b| *b != b'-').collect();
        if layout != Layout::RowsBlobIds || hex.len() != 32 {
            return NodeId::Text(id);
        }
        let digit = |b: u8| (b as char).to_digit(16);
        let mut bytes = [0; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            match (digit(pair[0]), digit(pair[1])) {
                (Some(high), Some(low)) => bytes[i] = (high * 16 + low) as u8,
                _ => return NodeId::Text(id),
            }
        }
        NodeId::Bytes(bytes)
    }

    /// The id's text back from a row.
    fn read(value: rusqlite::types::ValueRef<'_>) -> String {
        match value {
            rusqlite::types::ValueRef::Blob(bytes) => {
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                )
            }
            other => other.as_str().unwrap_or_default().to_owned(),
        }
    }
}

impl rusqlite::ToSql for NodeId<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(match self {
            NodeId::Text(text) => rusqlite::types::ToSqlOutput::from(*text),
            NodeId::Bytes(bytes) => rusqlite::types::ToSqlOutput::from(&bytes[..]),
        })
    }
}

/// The kind of node `id` (a layout keyed by text or blob ids), from its row on `main` or
/// the branch.
fn node_kind(db: &Connection, id: &NodeId<'_>) -> String {
    db.prepare_cached("SELECT kind FROM node WHERE id = ?1 AND branch IN ('main', ?2)")
        .expect("node")
        .query_row(params![id, BRANCH], |r| r.get(0))
        .expect("node")
}

/// The peers of node `id` (a layout keyed by text or blob ids) from its edge rows, in order.
fn node_peers(db: &Connection, id: &NodeId<'_>) -> Vec<(String, String)> {
    let mut peers = Vec::new();
    let mut st = db
        .prepare_cached(
            "SELECT rel, peer, branch, live FROM edge WHERE id = ?1 \
             AND branch IN ('main', ?2) ORDER BY pos",
        )
        .expect("edges");
    let mut rows = st.query(params![id, BRANCH]).expect("edges");
    while let Some(r) = rows.next().expect("edge") {
        peers.push((
            r.get(0).expect("rel"),
            NodeId::read(r.get_ref(1).expect("peer")),
        ));
    }
    peers
}

/// The relationship rows at either end of node `id`, as (identifier, the other end), in
/// order.
fn node_links(db: &Connection, id: &NodeId<'_>) -> Vec<(String, String)> {
    let mut st = db
        .prepare_cached(
            "SELECT rel, dst, pos FROM link WHERE src = ?1 AND +branch IN ('main', ?2) \
             UNION ALL SELECT rel, src, pos FROM link WHERE dst = ?1 AND +branch IN ('main', ?2)",
        )
        .expect("links");
    let mut links: Vec<(i64, String, String)> = st
        .query_map(params![id, BRANCH], |r| {
            Ok((r.get(2)?, r.get(0)?, r.get(1)?))
        })
        .expect("links")
        .map(|row| row.expect("link"))
        .collect();
    links.sort();
    links
        .into_iter()
        .map(|(_, rel, peer)| (rel, peer))
        .collect()
}

/// Loads node `id` as a reader needs it (attributes and peers); returns the values read.
fn read_node(layout: Layout, db: &Connection, id: &str, branch: i64, interned: &Interned) -> usize {
    match layout {
        Layout::Rows
        | Layout::RowsNoEvents
        | Layout::RowsBlobIds
        | Layout::RowsNoEdgeIndex
        | Layout::RowsNoAttrIndex => {
            let id = NodeId::of(layout, id);
            let kind = node_kind(db, &id);
            let mut attrs: Map<String, Value> = Map::new();
            let mut st = db
                .prepare_cached(
                    "SELECT branch, name, value FROM attr WHERE id = ?1 AND branch IN ('main', ?2)",
                )
                .expect("attrs");
            let mut rows = st.query(params![id, BRANCH]).expect("attrs");
            while let Some(r) = rows.next().expect("attr") {
                let text: Option<String> = r.get(2).expect("value");
                let value = text
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(Value::Null);
                attrs.insert(r.get(1).expect("name"), value);
            }
            let peers = node_peers(db, &id);
            usize::from(!kind.is_empty()) + attrs.len() + peers.len()
        }
        Layout::LinkRows | Layout::AttributeRows => {
            let id = NodeId::of(layout, id);
            let kind = node_kind(db, &id);
            let mut attrs: Map<String, Value> = Map::new();
            let mut st = db
                .prepare_cached(
                    "SELECT branch, data FROM attrs WHERE id = ?1 AND branch IN ('main', ?2)",
                )
                .expect("attrs");
            let mut rows = st.query(params![id, BRANCH]).expect("attrs");
            while let Some(r) = rows.next().expect("attrs row") {
                let text: String = r.get(1).expect("data");
                let data: Map<String, Value> = serde_json::from_str(&text).expect("image");
                attrs.extend(data);
            }
            let peers = if layout == Layout::LinkRows {
                node_links(db, &id)
            } else {
                node_peers(db, &id)
            };
            usize::from(!kind.is_empty()) + attrs.len() + peers.len()
        }
        Layout::Image | Layout::ImageNoEdgeIndex => {
            let data: String = db
                .prepare_cached(
                    "SELECT data FROM node WHERE id = ?1 AND branch IN ('main', ?2) LIMIT 1",
                )
                .expect("node")
                .query_row(params![id, BRANCH], |r| r.get(0))
                .expect("node");
            let image: Value = serde_json::from_str(&data).expect("image");
            image["attrs"].as_object().map_or(0, Map::len) + 1
        }
        Layout::RowsInternedNames => {
            // As the text rows are read: main's rows and the branch's.
            let main = interned.names.get("main").copied().unwrap_or_default();
            let kind: i64 = db
                .prepare_cached("SELECT kind FROM node WHERE id = ?1 AND branch IN (?3, ?2)")
                .expect("node")
                .query_row(params![id, branch, main], |r| r.get(0))
                .expect("node");
            let mut attrs: Vec<(i64, Value)> = Vec::new();
            let mut st = db
                .prepare_cached(
                    "SELECT branch, name, value FROM attr WHERE id = ?1 AND branch IN (?3, ?2)",
                )
                .expect("attrs");
            let mut rows = st.query(params![id, branch, main]).expect("attrs");
            while let Some(r) = rows.next().expect("attr") {
                let text: Option<String> = r.get(2).expect("value");
                let value = text
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(Value::Null);
                attrs.push((r.get(1).expect("name"), value));
            }
            let mut peers: Vec<(i64, String)> = Vec::new();
            let mut st = db
                .prepare_cached(
                    "SELECT rel, peer, branch, live FROM edge WHERE id = ?1 \
                     AND branch IN (?3, ?2) ORDER BY pos",
                )
                .expect("edges");
            let mut rows = st.query(params![id, branch, main]).expect("edges");
            while let Some(r) = rows.next().expect("edge") {
                peers.push((r.get(0).expect("rel"), r.get(1).expect("peer")));
            }
            usize::from(kind > 0) + attrs.len() + peers.len()
        }
        Layout::RowsIntegerIds => {
            let n = interned.ids[id];
            let kind: i64 = db
                .prepare_cached("SELECT kind FROM node WHERE n = ?1 AND branch = ?2")
                .expect("node")
                .query_row(params![n, branch], |r| r.get(0))
                .expect("node");
            let mut attrs: Vec<(i64, Value)> = Vec::new();
            let mut st = db
                .prepare_cached("SELECT name, value FROM attr WHERE n = ?1 AND branch = ?2")
                .expect("attrs");
            let mut rows = st.query(params![n, branch]).expect("attrs");
            while let Some(r) = rows.next().expect("attr") {
                let text: Option<String> = r.get(1).expect("value");
                let value = text
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(Value::Null);
                attrs.push((r.get(0).expect("name"), value));
            }
            let mut peers: Vec<(i64, String)> = Vec::new();
            let mut st = db
                .prepare_cached(
                    "SELECT e.rel, i.uuid FROM edge e JOIN ids i ON i.n = e.peer \
                     WHERE e.n = ?1 AND e.branch = ?2 ORDER BY e.pos",
                )
                .expect("edges");
            let mut rows = st.query(params![n, branch]).expect("edges");
            while let Some(r) = rows.next().expect("edge") {
                peers.push((r.get(0).expect("rel"), r.get(1).expect("peer")));
            }
            usize::from(kind > 0) + attrs.len() + peers.len()
        }
        Layout::ImageIntegerIds => {
            let n = interned.ids[id];
            let data: String = db
                .prepare_cached("SELECT data FROM node WHERE n = ?1 AND branch = ?2")
                .expect("node")
                .query_row(params![n, branch], |r| r.get(0))
                .expect("node");
            let image: Value = serde_json::from_str(&data).expect("image");
            image["attrs"].as_object().map_or(0, Map::len) + 1
        }
    }
}
