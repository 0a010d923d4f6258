//! The graph as a branch sees it, read from SQLite field by field, plus a transaction's
//! uncommitted writes.
//!
//! Storage is field-level (see [`crate::persistence`]): a node row per (node, branch), the
//! node's attribute values on that branch as one row per (node, branch) with each value
//! indexed (see [`attrs`]), and a row per relationship instance and branch, both sides of
//! the relationship reading it (see [`links`]). `main` holds every main value; a branch holds only
//! what it changed, value by value. A branch therefore sees main's later changes to every
//! field and edge it has not changed itself, and its own changes win where it has.
//!
//! Nothing is held in memory between transactions: a [`Tx`] reads what it touches (caching it
//! for its own lifetime) and every lookup is an indexed query, so its cost depends on what it
//! touches, not on the size of the store or of the branch. [`Tx::finish`] writes the changes
//! as rows inside the caller's SQLite transaction and returns the change events, diffed as
//! sets of fields and edges.

use crate::NodeId;
use crate::error::StoreError;
use crate::events::{
    Action, AttributeAction, AttributeChange, Event, PeerStatus, RelationshipChange,
};
use crate::fields::Fields;
use crate::node::{Node, into_value_key, value_key, value_key_is, value_key_ref};
use crate::rows::{Insert, Row};
use crate::schema::{BranchSupport, RelationshipKind, RelationshipSchema, Schema};
use crate::stored_id::{self, Id, Stored};
use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::sync::Arc;

pub(crate) mod attrs;
mod ip_index;
pub(crate) mod links;

pub(crate) use ip_index::{IpEntry, rebuild as rebuild_ip_index};

/// The name of the default branch.
pub const MAIN: &str = "main";

/// A transaction's changes to one node.
#[derive(Debug, Clone, Default)]
struct Pending {
    /// The schema's shared name of the node's kind ([`Schema::kind_name`]).
    kind: Arc<str>,
    /// The node was not visible before this transaction.
    created: bool,
    /// The node is deleted by this transaction.
    deleted: bool,
    /// New attribute values (`Null` = unset).
    attrs: Fields<Value>,
    /// Edges (relationship, peer) this transaction adds (`true`) or removes (`false`).
    edges: BTreeMap<EdgeKey, bool>,
    /// Edge order for additions: the order they were made in.
    added: Vec<EdgeKey>,
}

/// A pending edge: its relationship and its peer.
type EdgeKey = (String, NodeId);

impl Pending {
    /// Whether this transaction adds (`Some(true)`) or removes (`Some(false)`) the edge
    /// (`rel`, `peer`), looked up without building its key's two `String`s.
    fn edge(&self, rel: &str, peer: &str) -> Option<bool> {
        self.edges.get(&(rel, peer) as &dyn StrPair).copied()
    }

    /// Every edge this transaction changed, each once: those it added, in the order it
    /// first added them (whether they are still there or removed since), then those it
    /// only removed, by key. An edge present now was added (every addition is listed in
    /// `added`), so only removals are looked for among the rest: the same list as one set
    /// of both, which cost a B-tree insert of two strings per edge of every node written.
    ///
    /// A node adds a few edges (an interface its device, its tracking group): up to
    /// [`FEW_ADDITIONS`] are told apart by looking through the list, without a set.
    fn changed_edges(&self) -> Vec<(&String, &NodeId)> {
        let mut order: Vec<(&String, &NodeId)> = Vec::with_capacity(self.edges.len());
        if self.added.len() <= FEW_ADDITIONS {
            for (rel, peer) in &self.added {
                if !order.contains(&(rel, peer)) {
                    order.push((rel, peer));
                }
            }
            let added = order.len();
            for ((rel, peer), present) in &self.edges {
                if !present && !order[..added].contains(&(rel, peer)) {
                    order.push((rel, peer));
                }
            }
            return order;
        }
        let mut listed = HashSet::with_capacity(self.added.len());
        for (rel, peer) in &self.added {
            if listed.insert((rel.as_str(), peer.as_str())) {
                order.push((rel, peer));
            }
        }
        for ((rel, peer), present) in &self.edges {
            if !present && !listed.contains(&(rel.as_str(), peer.as_str())) {
                order.push((rel, peer));
            }
        }
        order
    }

    /// Whether the node was touched without a change: written again as it is (an upsert
    /// of what a node already holds, as a generator run again on the same design makes
    /// most of its writes). [`Tx::finish`] writes nothing for it.
    fn unchanged(&self) -> bool {
        !self.created && !self.deleted && self.attrs.is_empty() && self.edges.is_empty()
    }
}

/// A `(String, String)` key as two `&str`, whether owned or borrowed, so that a map or set
/// of such keys — [`Pending::edges`], the (holder, relationship) pairs of
/// [`Tx::incoming_where`] — is searched without building two `String`s: an edge is looked up
/// several times per write.
trait StrPair {
    fn parts(&self) -> (&str, &str);
}

impl StrPair for (String, String) {
    fn parts(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl StrPair for (&str, &str) {
    fn parts(&self) -> (&str, &str) {
        *self
    }
}

impl StrPair for EdgeKey {
    fn parts(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

/// Ordered as `(String, String)` is, since a [`NodeId`] orders as its text.
impl<'a> std::borrow::Borrow<dyn StrPair + 'a> for EdgeKey {
    fn borrow(&self) -> &(dyn StrPair + 'a) {
        self
    }
}

/// Ordered as `(String, String)` is, field by field, so a map of owned keys finds a
/// borrowed one.
impl<'a> std::borrow::Borrow<dyn StrPair + 'a> for (String, String) {
    fn borrow(&self) -> &(dyn StrPair + 'a) {
        self
    }
}

impl PartialEq for dyn StrPair + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn StrPair + '_ {}

impl PartialOrd for dyn StrPair + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn StrPair + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

/// Committed nodes as read by earlier transactions of this process, by id and branch, so a
/// run's many small transactions do not read the same device, template or profile again,
/// and a run does not read again what the runs before it wrote. A commit of this process
/// leaves the views it wrote where it knows them exactly ([`Tx::finish`]) and drops the
/// others it changed; another process's commit, or the schema, a merge or a branch deletion
/// changing what a branch sees, drops all of them. Bounded: at most [`NodeCache::CAPACITY`]
/// entries; those not read lately go first (see [`CachedViews`]).
///
/// The store's own connection uses it under the store's lock, so it always sees what that
/// connection sees. A read on a connection of its own (a run's query) holds a snapshot that
/// may be older than the cache; it uses the cache only while the cache's *epoch* is the one
/// it noted before its snapshot began, and no write of this process was under way then (see
/// [`NodeCache::reader_epoch`]): every write moves the epoch when it begins, so the reader
/// neither gets a view newer than its snapshot nor leaves an older one behind.
///
/// It also keeps the pools' free-space hints ([`FreeKey`]): where the search for a free
/// block may start because every block below is used, so an allocation from a pool holding
/// 50,000 prefixes does not walk them. They are dropped with the nodes, and as soon as a
/// commit could free space below one or hide a range from a search starting at one (see
/// [`NodeCache::settle_free`]).
#[derive(Default)]
pub(crate) struct NodeCache {
    nodes: std::sync::Mutex<Views>,
    free: std::sync::Mutex<HashMap<FreeKey, u128>>,
}

#[derive(Default)]
struct Views {
    by_id: CachedViews,
    /// Moves when a write of this process begins (odd while it is under way), when it ends,
    /// and when everything is dropped.
    epoch: u64,
    /// The write under way has left views it has not committed yet.
    unsettled: bool,
}

/// How a transaction reads through the store's node cache.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CacheUse {
    /// On the store's own connection, under the store's lock.
    Own,
    /// On a connection of its own, whose snapshot began at this epoch
    /// ([`NodeCache::reader_epoch`]; `None`: a write was under way, so not at all).
    Reader(Option<u64>),
}

/// What a commit does to the cached views of one node on the branch it wrote
/// ([`NodeCache::settle`]).
pub(crate) enum Settled {
    /// Every branch's view may have changed (a write on `main`, or on a branch-agnostic
    /// node's shared rows): drop them all, then keep the new view where known exactly.
    Everywhere(Option<Option<Arc<Node>>>),
    /// Only this branch's view changed (its own rows): replace it where known exactly, drop
    /// it otherwise, and keep the other branches'.
    Here(Option<Option<Arc<Node>>>),
}

/// One search for free space: a pool resource (`first..=last` of `family`, prefixes or
/// addresses, in namespace `ns`) on `branch`, for aligned blocks of `size` addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FreeKey {
    pub branch: String,
    pub ns: String,
    pub family: u8,
    pub is_addr: bool,
    pub first: u128,
    pub last: u128,
    pub size: u128,
}

/// A range a commit changed in the IP index, for the pools' free-space hints
/// ([`NodeCache::settle_free`]): one placed there (a node created, or moved to it), or one
/// a node held before and no longer does (removed, moved away, or into another namespace),
/// which may free space.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpWrite {
    freed: bool,
    /// `None`: either family (a removal whose range is not known).
    family: Option<u8>,
    is_addr: bool,
    lo: u128,
    hi: u128,
}

impl IpWrite {
    /// Whether this write makes wrong the hint that the search `key` may start at `at`,
    /// every aligned block below it being used: a range freed that starts below `at` may
    /// free one of them; a range placed that starts below `at` and reaches it would be
    /// missed by a search starting there.
    fn voids(&self, key: &FreeKey, at: u128) -> bool {
        self.is_addr == key.is_addr
            && self.family.is_none_or(|family| family == key.family)
            && self.lo < at
            && (self.freed || self.hi >= at)
    }
}

/// A node's view on each branch that read it (`None`: not visible there).
type BranchViews = Vec<(String, Option<Arc<Node>>)>;

/// Views by node id, in two generations: when the newer is full it becomes the older and
/// the older is dropped, and a view found in the older moves back to the newer. The views
/// in use stay while at most [`NodeCache::CAPACITY`] are kept; starting over whenever the
/// cache filled lost the views every run of a large design reads again (its fabric, pods
/// and templates).
#[derive(Default)]
struct CachedViews {
    newer: HashMap<NodeId, BranchViews>,
    older: HashMap<NodeId, BranchViews>,
}

impl CachedViews {
    const GENERATION: usize = NodeCache::CAPACITY / 2;

    fn get(&mut self, id: &str) -> Option<&mut BranchViews> {
        if !self.newer.contains_key(id) {
            let (id, views) = self.older.remove_entry(id)?;
            self.insert_newer(id, views);
        }
        self.newer.get_mut(id)
    }

    fn insert_newer(&mut self, id: NodeId, views: BranchViews) {
        if self.newer.len() >= Self::GENERATION {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(id, views);
    }

    /// Keep `node` as the view of `id` on `branch`.
    fn put(&mut self, branch: &str, id: &str, node: Option<Arc<Node>>) {
        if self.get(id).is_none() {
            self.insert_newer(NodeId::new(id), Vec::new());
        }
        if let Some(views) = self.newer.get_mut(id) {
            views.retain(|(b, _)| b != branch);
            views.push((branch.to_owned(), node));
        }
    }

    fn remove(&mut self, id: &str) {
        self.newer.remove(id);
        self.older.remove(id);
    }

    /// Drops the view of `id` on `branch`, or on every branch with `everywhere`.
    fn forget(&mut self, branch: &str, id: &str, everywhere: bool) {
        if everywhere {
            self.remove(id);
        } else if let Some(list) = self.get(id) {
            list.retain(|(b, _)| b != branch);
        }
    }

    fn clear(&mut self) {
        self.newer.clear();
        self.older.clear();
    }
}

impl NodeCache {
    /// Most nodes kept (a run touches a few thousand).
    const CAPACITY: usize = 20_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, Views> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The epoch a read on a connection of its own notes before its snapshot begins, or
    /// `None` (use no cache) while a write of this process is under way.
    pub fn reader_epoch(&self) -> Option<u64> {
        let epoch = self.lock().epoch;
        epoch.is_multiple_of(2).then_some(epoch)
    }

    /// The view of `id` on `branch`, for a reader at epoch `at` (`None`: the store's own
    /// connection).
    fn get(&self, branch: &str, id: &str, at: Option<u64>) -> Option<Option<Arc<Node>>> {
        let mut views = self.lock();
        if at.is_some_and(|at| at != views.epoch) {
            return None;
        }
        views
            .by_id
            .get(id)?
            .iter()
            .find(|(b, _)| b == branch)
            .map(|(_, n)| n.clone())
    }

    fn put(&self, branch: &str, id: &str, node: Option<Arc<Node>>, at: Option<u64>) {
        let mut views = self.lock();
        if at.is_some_and(|at| at != views.epoch) {
            return;
        }
        views.by_id.put(branch, id, node);
    }

    /// A write of this process begins: readers on other connections stop using the cache
    /// until it ends.
    pub fn begin_write(&self) {
        let mut views = self.lock();
        views.epoch += 1;
        views.unsettled = false;
    }

    /// The write begun last ended; if it did not commit, the views it left are dropped
    /// (with everything else).
    pub fn end_write(&self, committed: bool) {
        let mut views = self.lock();
        if !committed && views.unsettled {
            views.by_id.clear();
            self.free_lock().clear();
        }
        views.unsettled = false;
        views.epoch += 1;
    }

    /// What a transaction of this process about to commit on `branch` did to each node.
    fn settle(&self, branch: &str, changes: Vec<(NodeId, Settled)>) {
        let mut views = self.lock();
        views.unsettled = true;
        for (id, change) in changes {
            let (everywhere, view) = match change {
                Settled::Everywhere(view) => (true, view),
                Settled::Here(view) => (false, view),
            };
            views.by_id.forget(branch, &id, everywhere);
            if let Some(view) = view {
                views.by_id.put(branch, &id, view);
            }
        }
    }

    /// Lets go, ahead of [`NodeCache::settle`], of the views of `id` that a transaction
    /// about to commit on `branch` replaces (on every branch with `everywhere`), so that
    /// the transaction may be the only holder of the node it read and change it in place
    /// (see `Tx::view_after`). Until the commit settles, `id` is simply not cached.
    fn release(&self, branch: &str, id: &str, everywhere: bool) {
        let mut views = self.lock();
        views.unsettled = true;
        views.by_id.forget(branch, id, everywhere);
    }

    /// Whether a view of `id` on `branch` is kept, looked at without moving it between
    /// generations as a read does.
    #[cfg(test)]
    pub(crate) fn holds(&self, branch: &str, id: &str) -> bool {
        let views = self.lock();
        [&views.by_id.newer, &views.by_id.older]
            .into_iter()
            .filter_map(|generation| generation.get(id))
            .any(|views| views.iter().any(|(b, _)| b == branch))
    }

    /// Drop everything.
    pub fn clear(&self) {
        let mut views = self.lock();
        views.by_id.clear();
        views.epoch += 2;
        self.free_lock().clear();
    }

    fn free_lock(&self) -> std::sync::MutexGuard<'_, HashMap<FreeKey, u128>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where the search `key` may start, for a reader at epoch `at` (`None`: the store's own
    /// connection). A reader's snapshot holds what was committed at its epoch, and hints
    /// change only inside a write, which moves the epoch: so a reader still in its epoch
    /// (checked under the views' lock, which every write takes to begin) sees the hints of
    /// its snapshot. A run reads on a snapshot: without them, a pool shared by every
    /// fabric searched from its start at each fabric's allocation.
    fn free_hint(&self, key: &FreeKey, at: Option<u64>) -> Option<u128> {
        let views = self.lock();
        if at.is_some_and(|at| at != views.epoch) {
            return None;
        }
        self.free_lock().get(key).copied()
    }

    /// After a commit's IP writes: drop every hint they may have made wrong (see
    /// [`IpWrite::voids`]), then keep the hints the transaction found (`staged`) that they
    /// leave right. Writes on one branch are visible on others (main's, or an agnostic
    /// kind's), so every branch's hints are checked.
    ///
    /// A hint is dropped only for a write below it: dropping every hint for any change of an
    /// existing prefix made each fabric's allocation from a supernet pool shared by all
    /// fabrics search from the pool's start again, reading every prefix the fabrics before
    /// it had made (a design of 128 fabrics: ~6% of its build's CPU).
    fn settle_free(&self, writes: &[IpWrite], staged: Vec<(FreeKey, u128)>) {
        let wrong = |key: &FreeKey, at: u128| writes.iter().any(|w| w.voids(key, at));
        let mut free = self.free_lock();
        if !writes.is_empty() {
            free.retain(|key, at| !wrong(key, *at));
        }
        if free.len() >= Self::CAPACITY {
            free.clear();
        }
        for (key, at) in staged {
            if !wrong(&key, at) {
                free.insert(key, at);
            }
        }
    }
}

/// How to undo one change since the oldest open checkpoint ([`Tx::rollback_to`]).
#[derive(Debug)]
enum Undo {
    /// The node's whole pending state before its first change since the innermost open
    /// checkpoint (`None`: it was not pending).
    Node(NodeId, Option<Pending>),
    /// One edge of a node already pending changed (`before`: its pending state then, `None`
    /// for none) and its additions numbered `added` then: what `add_edge` and `remove_edge`
    /// journal instead of the whole state, which for a device gaining its interfaces one
    /// by one is every earlier interface again.
    Edge {
        id: NodeId,
        key: EdgeKey,
        before: Option<bool>,
        added: usize,
    },
}

impl Undo {
    fn id(&self) -> &str {
        match self {
            Undo::Node(id, _) | Undo::Edge { id, .. } => id,
        }
    }
}

/// A point [`Tx::rollback_to`] can return to.
pub(crate) struct Checkpoint {
    journal: usize,
    order: usize,
}

/// A branch's view of the graph plus uncommitted writes.
pub(crate) struct Tx<'c> {
    conn: &'c Connection,
    /// The schema the transaction reads and writes with.
    pub schema: &'c Schema,
    /// The branch seen and written.
    pub branch: String,
    pending: HashMap<NodeId, Pending>,
    /// Pending node ids by kind (lookups adjust for these).
    pending_by_kind: HashMap<String, BTreeSet<NodeId>>,
    /// For each peer, the pending nodes with an edge change towards it, with the
    /// relationship (a superset: entries stay after a rollback or a re-put; readers check
    /// the edge itself), so finding a node's incoming edges walks neither every pending
    /// write nor every edge of a node with many peers.
    pending_towards: HashMap<NodeId, ByOrigin<(String, String)>>,
    /// For each kind, attribute and value key, the pending nodes that were given that
    /// value (a superset: entries stay after a rollback or a later change; readers check
    /// the value itself), so an indexed lookup does not walk every pending node of the
    /// kind — a run that writes a thousand nodes of one kind would, at every write. An
    /// attribute is indexed from the first lookup that asks for it on (see
    /// [`Tx::pending_values`]).
    pending_attr: RefCell<PendingAttrIndex>,
    order: Vec<NodeId>,
    /// How to undo each change since the oldest open checkpoint.
    journal: Vec<Undo>,
    /// For each open checkpoint, the nodes already journaled since it was taken.
    checkpoints: Vec<HashSet<NodeId>>,
    committed: RefCell<HashMap<NodeId, Option<Arc<Node>>>>,
    views: RefCell<HashMap<NodeId, Option<Arc<Node>>>>,
    kinds: RefCell<HashMap<NodeId, Option<Arc<str>>>>,
    /// Committed nodes read for their attributes alone ([`Tx::attributes_of`]): a profile
    /// is read for every node made with it.
    attributes_read: RefCell<HashMap<NodeId, Arc<Node>>>,
    /// Committed attribute lookups ([`Tx::ids_by_attr`]) by `kind`, attribute and key: a
    /// device's forty interfaces each look their device up by name to check their HFID.
    attr_lookups: RefCell<HashMap<String, BTreeSet<String>>>,
    /// Relationship identifiers' numbers in `link.rel` ([`Tx::rel_number`]), `None` for one
    /// no row was written with: a number never changes once given, and one looked up is
    /// committed (this transaction gives its own only as it writes its rows), so what the
    /// transaction found stays true for it.
    rel_numbers: RefCell<HashMap<String, Option<i64>>>,
    /// Ids this transaction made up for new nodes (see [`Tx::note_fresh`]).
    fresh: HashSet<NodeId>,
    /// Nodes read by earlier transactions (see [`NodeCache`]).
    shared: Option<&'c NodeCache>,
    /// The cache epoch this transaction's snapshot began in, on a connection of its own
    /// (`None`: the store's connection; see [`NodeCache`]).
    shared_epoch: Option<u64>,
    /// Whether what this transaction loads is kept in `shared` (see [`Tx::keeping_nothing`]).
    shared_keeps: bool,
    /// Free-space hints found by this transaction, kept by [`Tx::finish`].
    staged_free: RefCell<Vec<(FreeKey, u128)>>,
    /// The pending prefixes and addresses by where they start (see [`ip_index::PendingIps`]).
    pending_ips: ip_index::PendingIps,
    /// The first database error met while reading; [`Tx::finish`] and the readers report it.
    failure: RefCell<Option<StoreError>>,
    /// `origin` of the events this transaction emits.
    pub origin: &'static str,
}

/// A node's rows on `main` and on this branch (`?2`), by the node's id: the statements
/// loading a committed node. `+branch` keeps SQLite from looking the two branches up
/// through a temporary index it builds, fills and drops on every execution (`IN` on a key
/// column), which cost more than the lookup itself: the key's prefix finds the node's rows
/// on every branch, which are few (one per branch that changed the node), and the branch
/// is tested on each. Counted on a seed build: loading attributes and kinds took 55% fewer
/// instructions, the whole build 3% fewer.
const NODE_ROWS_OF_ID: &str =
    "SELECT branch, kind, live FROM node WHERE id = ?1 AND +branch IN ('main', ?2)";

/// Up to this many additions, [`appended_peers`] looks for each in the relationship's list
/// rather than hashing the list.
const FEW_ADDITIONS: usize = 8;

/// The peers `p` appends to `n`'s relationships (whose removals are applied): its additions
/// still present, in the order they were made, each once, and none already listed.
///
/// With `hashed`, each relationship added to is hashed whole: a node gaining many peers in
/// one transaction has as many additions, and a listed relationship may be long. Without,
/// each addition is looked for in the list: hashing a hub's whole list for one addition
/// made each commit to it (one per write over HTTP) cost the hub's size in hashing.
fn appended_peers<'p>(n: &Node, p: &'p Pending, hashed: bool) -> Vec<(&'p str, &'p str)> {
    let mut live: HashSet<(&str, &str)> = HashSet::with_capacity(p.edges.len());
    live.extend(
        p.edges
            .iter()
            .filter(|(_, present)| **present)
            .map(|((rel, peer), _)| (rel.as_str(), peer.as_str())),
    );
    let mut appended: Vec<(&str, &str)> = Vec::new();
    let mut listed: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (rel, peer) in &p.added {
        let addition = (rel.as_str(), peer.as_str());
        if !live.contains(&addition) {
            continue;
        }
        let new = if hashed {
            listed
                .entry(rel.as_str())
                .or_insert_with(|| {
                    n.rels
                        .get(rel)
                        .map(|list| list.iter().map(NodeId::as_str).collect())
                        .unwrap_or_default()
                })
                .insert(peer.as_str())
        } else {
            !n.rels.get(rel).is_some_and(|list| list.contains(peer))
                && !appended.contains(&addition)
        };
        if new {
            appended.push(addition);
        }
    }
    appended
}

/// `p`'s changes onto `n` (a view of the node before them).
fn apply_pending(n: &mut Node, p: &Pending) {
    apply_pending_attrs(n, p);
    for ((rel, peer), present) in &p.edges {
        if !present && let Some(list) = n.rels.get_mut(rel) {
            list.retain(|x| x != peer);
            if list.is_empty() {
                n.rels.remove(rel);
            }
        }
    }
    let appended = appended_peers(n, p, p.added.len() > FEW_ADDITIONS);
    for (rel, peer) in appended {
        match n.rels.get_mut(rel) {
            Some(list) => list.push(NodeId::new(peer)),
            None => {
                n.rels.insert(rel.to_owned(), vec![NodeId::new(peer)]);
            }
        }
    }
}

/// A node holding nothing: what [`Tx::put`] compares a node new to the transaction with.
static NO_NODE: Node = Node {
    id: NodeId::EMPTY,
    kind: String::new(),
    attrs: Fields::new(),
    rels: Fields::new(),
};

/// `p`'s attribute values onto `n` (`Null`: unset).
fn apply_pending_attrs(n: &mut Node, p: &Pending) {
    if n.attrs.is_empty() {
        // A new node's view: every value is set here.
        n.attrs.reserve(p.attrs.len());
    }
    for (name, value) in &p.attrs {
        if value.is_null() {
            n.attrs.remove(name);
        } else {
            n.attrs.insert(name.clone(), value.clone());
        }
    }
}

/// `node` without its relationships: itself when it has none.
fn attributes_only(node: &Arc<Node>) -> Arc<Node> {
    if node.rels.is_empty() {
        return Arc::clone(node);
    }
    Arc::new(Node {
        id: node.id.clone(),
        kind: node.kind.clone(),
        attrs: node.attrs.clone(),
        rels: Fields::new(),
    })
}

/// A field path (`name__value`, `device__name__value`, a bare `device`) split at its `__`
/// separators as `str::split("__")` splits it, without allocating: identities and labels
/// split their paths for every node they look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path<'a> {
    One(&'a str),
    Two(&'a str, &'a str),
    Three(&'a str, &'a str, &'a str),
    /// Four segments or more.
    Longer,
}

impl<'a> Path<'a> {
    fn of(path: &'a str) -> Self {
        let Some((first, rest)) = split_dunder(path) else {
            return Path::One(path);
        };
        let Some((second, rest)) = split_dunder(rest) else {
            return Path::Two(first, rest);
        };
        match split_dunder(rest) {
            None => Path::Three(first, second, rest),
            Some(_) => Path::Longer,
        }
    }

    /// How many segments (4 for four or more).
    fn segments(self) -> usize {
        match self {
            Path::One(_) => 1,
            Path::Two(..) => 2,
            Path::Three(..) => 3,
            Path::Longer => 4,
        }
    }
}

/// `text` around its first `__`.
fn split_dunder(text: &str) -> Option<(&str, &str)> {
    let at = text.as_bytes().windows(2).position(|pair| pair == b"__")?;
    Some((&text[..at], &text[at + 2..]))
}

/// Kind → attribute → value key → pending node ids (see `Tx::pending_attr`): an attribute
/// is there once a lookup asked for its values ([`Tx::pending_values`]), and kept up by every
/// write after.
type PendingAttrIndex = HashMap<String, HashMap<String, HashMap<String, ByOrigin<NodeId>>>>;

/// Notes in `by_key` (one attribute's entries of a [`PendingAttrIndex`]) that node `id`
/// holds `value`; a value without a key (null) is not indexed.
fn index_value(
    by_key: &mut HashMap<String, ByOrigin<NodeId>>,
    value: &Value,
    created: bool,
    id: &str,
) {
    if let Some(key) = value_key(value) {
        by_key
            .entry(key)
            .or_default()
            .insert(created, NodeId::new(id));
    }
}

/// Entries about pending nodes, apart by whether this transaction created the node: a
/// search among a peer's holders reads, of the nodes created here, only the smaller of
/// those pointing at the peer and those given the value (see [`Tx::holders_with_attr`]).
#[derive(Debug, Clone)]
struct ByOrigin<T> {
    created: BTreeSet<T>,
    existing: BTreeSet<T>,
}

impl<T: Ord> Default for ByOrigin<T> {
    fn default() -> Self {
        ByOrigin {
            created: BTreeSet::new(),
            existing: BTreeSet::new(),
        }
    }
}

impl<T: Ord> ByOrigin<T> {
    fn insert(&mut self, created: bool, entry: T) {
        if created {
            self.created.insert(entry);
        } else {
            self.existing.insert(entry);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.created.iter().chain(&self.existing)
    }
}

/// A transaction's state without the connection it reads through: what a run keeps between
/// its operations, each of which resumes it on the store's connection for a moment
/// (see [`crate::run`]).
pub(crate) struct Staged {
    branch: String,
    pending: HashMap<NodeId, Pending>,
    pending_by_kind: HashMap<String, BTreeSet<NodeId>>,
    pending_towards: HashMap<NodeId, ByOrigin<(String, String)>>,
    pending_attr: PendingAttrIndex,
    order: Vec<NodeId>,
    journal: Vec<Undo>,
    checkpoints: Vec<HashSet<NodeId>>,
    committed: HashMap<NodeId, Option<Arc<Node>>>,
    views: HashMap<NodeId, Option<Arc<Node>>>,
    kinds: HashMap<NodeId, Option<Arc<str>>>,
    attributes_read: HashMap<NodeId, Arc<Node>>,
    attr_lookups: HashMap<String, BTreeSet<String>>,
    rel_numbers: HashMap<String, Option<i64>>,
    fresh: HashSet<NodeId>,
    staged_free: Vec<(FreeKey, u128)>,
    pending_ips: ip_index::PendingIps,
    origin: &'static str,
}

/// The most peers of a cached view that [`Tx::has_edge`] looks through for one peer.
/// Past it (a set's thousands of widgets, a group's members) the edge's own pending state
/// or one indexed lookup answers instead: scanning the list for each edge added to such a
/// node made a run of n writes to it cost n².
const VIEW_SCAN_MOST: usize = 64;

/// Whether `peer` is among `peers`, when the list is short enough to look through (see
/// [`VIEW_SCAN_MOST`]); `None` when it is not.
fn scanned(peers: &[NodeId], peer: &str) -> Option<bool> {
    (peers.len() <= VIEW_SCAN_MOST).then(|| peers.iter().any(|p| p == peer))
}

impl Staged {
    /// Nothing written yet, on `branch`.
    pub fn new(branch: &str, origin: &'static str) -> Self {
        Staged {
            branch: branch.to_owned(),
            pending: HashMap::new(),
            pending_by_kind: HashMap::new(),
            pending_towards: HashMap::new(),
            pending_attr: HashMap::new(),
            order: Vec::new(),
            journal: Vec::new(),
            checkpoints: Vec::new(),
            committed: HashMap::new(),
            views: HashMap::new(),
            kinds: HashMap::new(),
            attributes_read: HashMap::new(),
            attr_lookups: HashMap::new(),
            rel_numbers: HashMap::new(),
            fresh: HashSet::new(),
            staged_free: Vec::new(),
            pending_ips: ip_index::PendingIps::default(),
            origin,
        }
    }

    /// Nodes created, updated or deleted so far.
    pub fn changed(&self) -> usize {
        self.pending
            .values()
            .filter(|p| !(p.created && p.deleted))
            .count()
    }

    /// [`Staged::changed`] when it is at least `limit`, else `None`; counted only when the
    /// nodes touched (a node created and deleted again among them) reach `limit`, so that
    /// asking before every write of a run costs nothing until the run is near the limit.
    pub fn changed_reaching(&self, limit: usize) -> Option<usize> {
        if self.pending.len() < limit {
            return None;
        }
        Some(self.changed()).filter(|&changed| changed >= limit)
    }
}

impl<'c> Tx<'c> {
    pub fn new(conn: &'c Connection, schema: &'c Schema, branch: &str) -> Self {
        Self::resume(conn, schema, Staged::new(branch, "live"))
    }

    /// A transaction continuing from `staged`, reading through `conn`.
    pub fn resume(conn: &'c Connection, schema: &'c Schema, staged: Staged) -> Self {
        Tx {
            conn,
            schema,
            branch: staged.branch,
            pending: staged.pending,
            pending_by_kind: staged.pending_by_kind,
            pending_towards: staged.pending_towards,
            pending_attr: RefCell::new(staged.pending_attr),
            staged_free: RefCell::new(staged.staged_free),
            pending_ips: staged.pending_ips,
            order: staged.order,
            journal: staged.journal,
            checkpoints: staged.checkpoints,
            committed: RefCell::new(staged.committed),
            views: RefCell::new(staged.views),
            kinds: RefCell::new(staged.kinds),
            attributes_read: RefCell::new(staged.attributes_read),
            attr_lookups: RefCell::new(staged.attr_lookups),
            rel_numbers: RefCell::new(staged.rel_numbers),
            fresh: staged.fresh,
            failure: RefCell::new(None),
            shared: None,
            shared_epoch: None,
            shared_keeps: true,
            origin: staged.origin,
        }
    }

    /// The state to resume later; a read failure not yet taken is lost, so callers take
    /// it first.
    pub fn suspend(self) -> Staged {
        Staged {
            branch: self.branch,
            pending: self.pending,
            pending_by_kind: self.pending_by_kind,
            pending_towards: self.pending_towards,
            pending_attr: self.pending_attr.into_inner(),
            order: self.order,
            journal: self.journal,
            checkpoints: self.checkpoints,
            committed: self.committed.into_inner(),
            views: self.views.into_inner(),
            kinds: self.kinds.into_inner(),
            attributes_read: self.attributes_read.into_inner(),
            attr_lookups: self.attr_lookups.into_inner(),
            rel_numbers: self.rel_numbers.into_inner(),
            fresh: self.fresh,
            staged_free: self.staged_free.into_inner(),
            pending_ips: self.pending_ips,
            origin: self.origin,
        }
    }

    /// Note `id` as one this transaction just made up for a new node (a fresh UUID): no
    /// committed node has it and no committed edge points at it, so neither writing the node
    /// nor linking it to its peers asks SQLite — a device made from a template would ask
    /// once for itself and once per interface for each side of every link.
    pub fn note_fresh(&mut self, id: &str) {
        self.fresh.insert(NodeId::new(id));
        self.kinds.get_mut().insert(NodeId::new(id), None);
        self.committed.get_mut().insert(NodeId::new(id), None);
    }

    /// Read through (and keep what is read in) `cache`, on the store's own connection.
    pub fn cached(mut self, cache: &'c NodeCache) -> Self {
        self.shared = Some(cache);
        self
    }

    /// Read through `cache` as `using` says.
    pub fn cached_as(mut self, cache: &'c NodeCache, using: CacheUse) -> Self {
        match using {
            CacheUse::Own => self.shared = Some(cache),
            CacheUse::Reader(Some(epoch)) => {
                self.shared = Some(cache);
                self.shared_epoch = Some(epoch);
            }
            CacheUse::Reader(None) => {}
        }
        self
    }

    /// Read through the cache without keeping in it what is loaded. For GraphQL queries: a
    /// client's lookups may touch any node once, and each view kept pushes out one that
    /// runs read again and again (the store bench's random queries on a branch at 100,000
    /// devices ran 25% slower keeping what they loaded); what the cache already holds, as
    /// the nodes a cascade's queries read, is still served from it.
    pub fn keeping_nothing(mut self) -> Self {
        self.shared_keeps = false;
        self
    }

    /// The view of `id` on this branch in the shared cache. On a branch that has no rows of
    /// its own for the node, that is main's view: every node a branch reads without having
    /// changed it — a device template, a trigger rule — was otherwise read from the database
    /// once more per branch, main's view cached or not.
    fn shared_view(&self, id: &str) -> Option<Option<Arc<Node>>> {
        let cache = self.shared?;
        if let Some(view) = cache.get(&self.branch, id, self.shared_epoch) {
            return Some(view);
        }
        if self.on_main() {
            return None;
        }
        let main = cache.get(MAIN, id, self.shared_epoch)?;
        // A node main lacks may be the branch's own; a branch-local kind's main rows are
        // not visible here.
        let node = main.as_ref()?;
        if self.support(&node.kind) == BranchSupport::Local || self.branch_lists(id) {
            return None;
        }
        if self.shared_keeps {
            cache.put(&self.branch, id, main.clone(), self.shared_epoch);
        }
        Some(main)
    }

    /// Whether the node has rows of its own on this branch: listed with the branch in
    /// `branch_rows`, as every node a commit there writes is, both ends of a relationship
    /// row included (each side's view lists the other). Where the lookup fails, as if it had.
    fn branch_lists(&self, id: &str) -> bool {
        crate::persistence::branch_lists_node(self.conn, &self.branch, id).unwrap_or_else(|e| {
            self.failed::<()>(e);
            true
        })
    }

    /// The connection the transaction reads through (for reads outside the graph, such
    /// as the branch list).
    pub(crate) fn connection(&self) -> &'c Connection {
        self.conn
    }

    fn on_main(&self) -> bool {
        self.branch == MAIN
    }

    fn support(&self, kind: &str) -> BranchSupport {
        self.schema
            .get(kind)
            .map(|k| k.branch)
            .unwrap_or(BranchSupport::Aware)
    }

    /// Remember a database error (the first one wins) and carry on as if nothing was found.
    fn failed<T: Default>(&self, e: rusqlite::Error) -> T {
        let mut f = self.failure.borrow_mut();
        if f.is_none() {
            *f = Some(StoreError::db_of(self.conn)(e));
        }
        T::default()
    }

    /// The database error a read met, if any.
    pub fn take_failure(&self) -> Option<StoreError> {
        self.failure.borrow_mut().take()
    }

    /// Whether a node row on `main` is visible from this branch.
    fn main_visible(&self, kind: &str) -> bool {
        self.on_main() || self.support(kind) != BranchSupport::Local
    }

    /// Kind of a committed node visible here.
    fn committed_kind(&self, id: &str) -> Option<Arc<str>> {
        if let Some(k) = self.kinds.borrow().get(id) {
            return k.clone();
        }
        // A node this transaction read, or took from the shared cache, gives its kind; either
        // way the kind is noted, so that asking again (a holder's kind, checked by each
        // reader of an edge list) costs one lookup here rather than the shared cache's lock.
        let kind = match self.committed_held(id) {
            Some(node) => node.map(|n| self.schema.kind_name(&n.kind)),
            None => self.query_kind(id).unwrap_or_else(|e| self.failed(e)),
        };
        self.kinds
            .borrow_mut()
            .insert(NodeId::new(id), kind.clone());
        kind
    }

    fn query_kind(&self, id: &str) -> rusqlite::Result<Option<Arc<str>>> {
        let mut st = self.conn.prepare_cached(NODE_ROWS_OF_ID)?;
        let mut rows = st.query(params![Id::of(id), self.branch])?;
        let (mut main, mut own) = (None, None);
        while let Some(r) = rows.next()? {
            // Read in place: the kind becomes the schema's shared name.
            let of_main = r.get_ref(0)?.as_str()? == MAIN;
            let k = self.schema.kind_name(r.get_ref(1)?.as_str()?);
            let live: bool = r.get(2)?;
            if of_main && !self.on_main() {
                main = Some((k, live));
            } else {
                own = Some((k, live));
            }
        }
        Ok(match (own, main) {
            (Some((k, true)), _) => Some(k),
            (Some((_, false)), _) => None,
            (None, Some((k, true))) if self.main_visible(&k) => Some(k),
            _ => None,
        })
    }

    /// The node as committed, seen from this branch.
    fn committed(&self, id: &str) -> Option<Arc<Node>> {
        if let Some(node) = self.committed_held(id) {
            return node;
        }
        let kind = self.committed_kind(id);
        let node = match kind {
            Some(kind) => self
                .load(id, &kind)
                .map(|n| Some(Arc::new(n)))
                .unwrap_or_else(|e| self.failed(e)),
            None => None,
        };
        self.committed
            .borrow_mut()
            .insert(NodeId::new(id), node.clone());
        if let Some(cache) = self.shared
            && self.shared_keeps
            && self.failure.borrow().is_none()
        {
            cache.put(&self.branch, id, node.clone(), self.shared_epoch);
        }
        node
    }

    /// A committed node (or its absence) this transaction or the process's node cache
    /// already holds, without reading the database.
    fn committed_held(&self, id: &str) -> Option<Option<Arc<Node>>> {
        if let Some(n) = self.committed.borrow().get(id) {
            return Some(n.clone());
        }
        let node = self.shared_view(id)?;
        self.committed
            .borrow_mut()
            .insert(NodeId::new(id), node.clone());
        Some(node)
    }

    fn load(&self, id: &str, kind: &str) -> rusqlite::Result<Node> {
        let mut node = self.load_attributes(id, kind)?;
        self.load_edges(&mut node)?;
        Ok(node)
    }

    /// A committed node's attributes, without its edges.
    fn load_attributes(&self, id: &str, kind: &str) -> rusqlite::Result<Node> {
        let mut node = Node {
            id: NodeId::new(id),
            kind: kind.to_string(),
            attrs: Fields::new(),
            rels: Fields::new(),
        };
        let mut st = self.conn.prepare_cached(attrs::ATTRS_OF_ID)?;
        let mut rows = st.query(params![Id::of(id), self.branch])?;
        let mut own = Map::new();
        while let Some(r) = rows.next()? {
            let here = r.get_ref(0)?.as_str()? == self.branch && !self.on_main();
            let data: Map<String, Value> = serde_json::from_str(r.get_ref(1)?.as_str()?)
                .map_err(|e| attrs::parse_error(1, e))?;
            if here {
                own = data;
            } else {
                node.attrs
                    .extend(data.into_iter().filter(|(_, value)| !value.is_null()));
            }
        }
        for (name, value) in own {
            if value.is_null() {
                node.attrs.remove(&name);
            } else {
                node.attrs.insert(name, value);
            }
        }
        Ok(node)
    }

    /// A committed node's edges, into `node`: the rows at either end of it (see [`links`]),
    /// each under the relationship of the node's kind that holds it.
    fn load_edges(&self, node: &mut Node) -> rusqlite::Result<()> {
        let (id, kind) = (node.id.as_str(), node.kind.as_str());
        let Some(k) = self.schema.get(kind) else {
            return Ok(());
        };
        let mut edges: BTreeMap<(String, NodeId), (bool, i64, bool)> = BTreeMap::new();
        let number = |identifier: &str| self.rel_number(identifier);
        let place = (kind, id, self.branch.as_str());
        links::read_links_of_node(self.conn, self.schema, place, number, |r, identifier| {
            let own = r.get_ref(0)?.as_str()? == self.branch && !self.on_main();
            let peer: NodeId = r.get(2)?;
            let at_src: bool = r.get(3)?;
            let Some(rel) = self
                .schema
                .relationship_at(k, identifier, at_src, || self.committed_kind(&peer))
            else {
                return Ok(());
            };
            let live: bool = r.get(4)?;
            let pos: i64 = r.get(5)?;
            let key = (rel.name.clone(), peer);
            match edges.get(&key) {
                Some((_, _, true)) if !own => {}
                _ => {
                    edges.insert(key, (live, pos, own));
                }
            }
            Ok(())
        })?;
        // A cardinality-one relationship the branch changed is the branch's as a whole.
        let own_single: BTreeSet<String> = edges
            .iter()
            .filter(|((rel, _), (_, _, own))| *own && self.single(kind, rel))
            .map(|((rel, _), _)| rel.clone())
            .collect();
        let mut live: Vec<(i64, String, NodeId)> = edges
            .into_iter()
            .filter(|((rel, _), (l, _, own))| *l && (*own || !own_single.contains(rel)))
            .map(|((rel, peer), (_, pos, _))| (pos, rel, peer))
            .collect();
        live.sort();
        for (_, rel, peer) in live {
            node.rels.get_or_default(rel).push(peer);
        }
        Ok(())
    }

    /// A node as this transaction sees it, for its attributes: for a node read for its
    /// values that may be a hub — a profile is linked to every node using it — so reading
    /// it costs its attributes, not its peer list. Its relationships are left empty where
    /// it is read for this, and are those of the transaction's view where it already has
    /// one (that view is shared, not copied: every node a run writes is described from its
    /// attributes, and copying them out of its view made ~20 of the ~490 allocations of
    /// each write); no caller reads them. Shared rather than copied where nothing pending
    /// changes it: every interface made with a profile reads the profile.
    pub fn attributes_of(&self, id: &str) -> Option<Arc<Node>> {
        if let Some(Some(node)) = self.views.borrow().get(id) {
            return Some(Arc::clone(node));
        }
        let pending = self.pending.get(id);
        // The committed attributes read before, wherever nothing pending replaces the node:
        // a node the run links others to (a profile, as each new interface is made with
        // it) has pending edges over its committed attributes, and finding those again
        // through the shared cache asked SQLite each time on a branch holding rows of the
        // node (~1,800 lookups a seed build).
        let held = match pending {
            Some(p) if p.created || p.deleted => None,
            _ => self.attributes_read.borrow().get(id).map(Arc::clone),
        };
        let node = match held {
            Some(node) => node,
            None => {
                let kind = self.kind_of(id)?;
                match pending {
                    Some(p) if p.created => Arc::new(Node {
                        id: NodeId::new(id),
                        kind: kind.to_string(),
                        attrs: Fields::new(),
                        rels: Fields::new(),
                    }),
                    _ => match self.committed.borrow().get(id) {
                        Some(Some(node)) => self.hold_attributes(id, node),
                        Some(None) => return None,
                        None => match self.shared_view(id) {
                            Some(Some(node)) => self.hold_attributes(id, &node),
                            Some(None) => return None,
                            None => self.committed_attributes(id, &kind)?,
                        },
                    },
                }
            }
        };
        Some(match pending {
            Some(p) if !p.attrs.is_empty() => {
                let mut node = node;
                apply_pending_attrs(Arc::make_mut(&mut node), p);
                node
            }
            _ => node,
        })
    }

    /// [`attributes_only`] of `node`, the committed view of `id`, made once per
    /// transaction: every node made with a profile reads the profile's attributes, and a
    /// profile's view lists every node using it.
    fn hold_attributes(&self, id: &str, node: &Arc<Node>) -> Arc<Node> {
        if node.rels.is_empty() {
            return Arc::clone(node);
        }
        let held = attributes_only(node);
        self.attributes_read
            .borrow_mut()
            .insert(NodeId::new(id), Arc::clone(&held));
        held
    }

    /// A committed node's attributes (`rels` empty), read once per transaction.
    fn committed_attributes(&self, id: &str, kind: &str) -> Option<Arc<Node>> {
        if let Some(node) = self.attributes_read.borrow().get(id) {
            return Some(Arc::clone(node));
        }
        match self.load_attributes(id, kind) {
            Ok(node) => {
                let node = Arc::new(node);
                self.attributes_read
                    .borrow_mut()
                    .insert(NodeId::new(id), Arc::clone(&node));
                Some(node)
            }
            Err(e) => self.failed(e),
        }
    }

    /// Whether `rel` of `kind` holds at most one peer. On a branch such a relationship is
    /// one field: once the branch sets it, main's later changes to it no longer show.
    fn single(&self, kind: &str, rel: &str) -> bool {
        self.schema
            .get(kind)
            .and_then(|k| k.relationship(rel))
            .is_some_and(|r| r.cardinality == crate::schema::Cardinality::One)
    }

    /// The number relationship identifier `identifier` is stored under in `link.rel`
    /// (`None`: no row was ever written with it, so none is there to read).
    fn rel_number(&self, identifier: &str) -> rusqlite::Result<Option<i64>> {
        if let Some(&n) = self.rel_numbers.borrow().get(identifier) {
            return Ok(n);
        }
        let n = links::rel_number(self.conn, identifier)?;
        self.rel_numbers
            .borrow_mut()
            .insert(identifier.to_owned(), n);
        Ok(n)
    }

    /// Whether `r`, a relationship of `id`, holds at most one peer and this branch has its
    /// own rows for it: the branch then set it as a whole, and main's rows of it no longer
    /// show here (see [`Tx::single`]).
    fn branch_set_single(&self, id: &str, r: &RelationshipSchema) -> rusqlite::Result<bool> {
        if self.on_main() || r.cardinality != crate::schema::Cardinality::One {
            return Ok(false);
        }
        let Some(rel) = self.rel_number(&r.identifier)? else {
            return Ok(false);
        };
        links::branch_has(self.conn, id, rel, self.schema.link_end(r), &self.branch)
    }

    /// The node as this transaction sees it.
    pub fn get(&self, id: &str) -> Option<Arc<Node>> {
        if let Some(v) = self.views.borrow().get(id) {
            return v.clone();
        }
        let view = match self.pending.get(id) {
            None => self.committed(id),
            Some(p) if p.deleted => None,
            Some(p) => {
                let mut n = if p.created {
                    Node {
                        id: NodeId::new(id),
                        kind: p.kind.to_string(),
                        attrs: Fields::new(),
                        rels: Fields::new(),
                    }
                } else {
                    match self.committed(id) {
                        Some(c) => (*c).clone(),
                        None => return None,
                    }
                };
                apply_pending(&mut n, p);
                Some(Arc::new(n))
            }
        };
        self.views
            .borrow_mut()
            .insert(NodeId::new(id), view.clone());
        view
    }

    /// The node as a listing shows it: like [`Tx::get`], but a committed node read afresh
    /// comes without the relationships `skip` names, left empty. A group listed by name
    /// (a generator looks its group up in every run) would otherwise read every member,
    /// and a group a run adds members to is read afresh by the next run: the design's
    /// size, per run. A node already read, or changed here, comes whole.
    pub fn listed(
        &self,
        id: &str,
        skip: impl Fn(&RelationshipSchema) -> bool,
    ) -> Option<Arc<Node>> {
        if self.views.borrow().contains_key(id)
            || self.pending.contains_key(id)
            || self.committed_held(id).is_some()
        {
            return self.get(id);
        }
        let kind = self.committed_kind(id)?;
        let schema = self.schema.get(&kind)?;
        if !schema.relationships.iter().any(&skip) {
            return self.get(id);
        }
        let mut node = match self.load_attributes(id, &kind) {
            Ok(node) => node,
            Err(e) => return self.failed(e),
        };
        for r in schema.relationships.iter().filter(|r| !skip(r)) {
            let peers = match self.committed_peers(id, &r.name) {
                Ok(peers) => peers,
                Err(e) => return self.failed(e),
            };
            if !peers.is_empty() {
                node.rels.insert(r.name.clone(), peers);
            }
        }
        Some(Arc::new(node))
    }

    /// The kind of a node visible here, without reading the node.
    pub fn kind_of(&self, id: &str) -> Option<Arc<str>> {
        match self.pending.get(id) {
            Some(p) if p.deleted => None,
            Some(p) => Some(p.kind.clone()),
            None => self.committed_kind(id),
        }
    }

    /// The peers of one relationship of a node, without reading the rest of the node.
    pub fn peers_of(&self, id: &str, rel: &str) -> Vec<NodeId> {
        if let Some(Some(n)) = self.views.borrow().get(id) {
            return n.peers(rel).to_vec();
        }
        let mut out = match self.pending.get(id) {
            Some(p) if p.deleted => return Vec::new(),
            Some(p) if p.created => Vec::new(),
            _ => self
                .committed_peers(id, rel)
                .unwrap_or_else(|e| self.failed(e)),
        };
        if let Some(p) = self.pending.get(id) {
            out.retain(|peer| p.edge(rel, peer) != Some(false));
            for (r, peer) in &p.added {
                if r == rel && p.edge(r, peer) == Some(true) && !out.contains(peer) {
                    out.push(peer.clone());
                }
            }
        }
        out
    }

    fn committed_peers(&self, id: &str, rel: &str) -> rusqlite::Result<Vec<NodeId>> {
        if let Some(Some(n)) = self.committed.borrow().get(id) {
            return Ok(n.peers(rel).to_vec());
        }
        let Some(kind) = self.committed_kind(id) else {
            return Ok(Vec::new());
        };
        let Some(k) = self.schema.get(&kind) else {
            return Ok(Vec::new());
        };
        let Some(r) = k.relationship(rel) else {
            return Ok(Vec::new());
        };
        let end = self.schema.link_end(r);
        let own_only = self.branch_set_single(id, r)?;
        let mut edges: BTreeMap<NodeId, (bool, i64, bool)> = BTreeMap::new();
        for &at_src in end.reads() {
            let sql = if at_src {
                links::LINKS_FROM
            } else {
                links::LINKS_TO
            };
            let mut st = self.conn.prepare_cached(sql)?;
            let rel = self.rel_number(&r.identifier)?;
            let mut rows = st.query(params![Id::of(id), rel, self.branch])?;
            while let Some(row) = rows.next()? {
                let own = row.get_ref(0)?.as_str()? == self.branch && !self.on_main();
                if own_only && !own {
                    continue;
                }
                let peer: NodeId = row.get(1)?;
                let live: bool = row.get(2)?;
                let pos: i64 = row.get(3)?;
                match edges.get(&peer) {
                    Some((_, _, true)) if !own => {}
                    _ => {
                        edges.insert(peer, (live, pos, own));
                    }
                }
            }
        }
        // Another relationship of the kind reading the same rows: the peer's kind decides.
        let shared = links::shares_rows(self.schema, k, r);
        let mut live: Vec<(i64, NodeId)> = edges
            .into_iter()
            .filter(|(_, (l, _, _))| *l)
            .filter(|(peer, _)| {
                !shared
                    || self
                        .committed_kind(peer)
                        .is_some_and(|pk| self.schema.is_a(&pk, &r.peer))
            })
            .map(|(peer, (_, pos, _))| (pos, peer))
            .collect();
        live.sort();
        Ok(live.into_iter().map(|(_, p)| p).collect())
    }

    /// Nodes that have an edge to `id` (any relationship), as (node, relationship).
    pub fn incoming(&self, id: &str) -> Vec<(String, String)> {
        self.incoming_where(id, None)
    }

    /// Nodes with an edge to `id`, as (node, relationship); with `only` (relationship,
    /// concrete kind), just the edges of that relationship from nodes of that kind, picked
    /// in SQL: a pod's devices are found among its edges without reading the kind of each
    /// rack, interface and group pointing at it.
    fn incoming_where(&self, id: &str, only: Option<(&str, &str)>) -> Vec<(String, String)> {
        let committed = if self.created_here(id) {
            Vec::new()
        } else {
            self.committed_incoming(id, only)
                .unwrap_or_else(|e| self.failed(e))
        };
        let mut found: BTreeSet<(String, String)> = committed
            .into_iter()
            .filter(|(src, _)| self.kind_of(src).is_some())
            .collect();
        // Committed edges of nodes this transaction deletes are gone.
        found.retain(|(src, _)| !self.pending.get(src.as_str()).is_some_and(|p| p.deleted));
        for (src, rel) in self
            .pending_towards
            .get(id)
            .into_iter()
            .flat_map(ByOrigin::iter)
        {
            let Some(p) = self.pending.get(src.as_str()) else {
                continue;
            };
            if let Some((only_rel, only_kind)) = only
                && (rel != only_rel || *p.kind != *only_kind)
            {
                continue;
            }
            let Some(present) = p.edge(rel, id) else {
                continue;
            };
            if present && !p.deleted {
                found.insert((src.clone(), rel.clone()));
            } else {
                found.remove(&(src.as_str(), rel.as_str()) as &dyn StrPair);
            }
        }
        found.into_iter().collect()
    }

    /// Whether this transaction created `id`. No committed row can point at such a node
    /// (its id is new), so lookups towards it need not ask SQLite: a device's interfaces,
    /// created with it from its template, each check their identity against it.
    fn created_here(&self, id: &str) -> bool {
        self.pending.get(id).is_some_and(|p| p.created)
    }

    fn committed_incoming(
        &self,
        id: &str,
        only: Option<(&str, &str)>,
    ) -> rusqlite::Result<Vec<(String, String)>> {
        let Some(peer_kind) = self.committed_kind(id) else {
            return Ok(Vec::new());
        };
        // (holder, relationship) → (live, the branch's own row)
        let mut edges: BTreeMap<(String, String), (bool, bool)> = BTreeMap::new();
        let mut note = |key: (String, String), live: bool, own: bool| match edges.get(&key) {
            Some((_, true)) if !own => {}
            _ => {
                edges.insert(key, (live, own));
            }
        };
        match only {
            // Every row at either end of the node, each under the relationship of the other
            // end's kind that holds it.
            None => {
                let mut st = self.conn.prepare_cached(links::LINKS_AT_NODE)?;
                let mut rows = st.query(params![Id::of(id), self.branch])?;
                while let Some(r) = rows.next()? {
                    let own = r.get_ref(0)?.as_str()? == self.branch && !self.on_main();
                    let identifier = r.get_ref(1)?.as_str()?;
                    let holder = r.get::<_, Stored>(2)?.0;
                    let holder_at_src = !r.get::<_, bool>(3)?;
                    let Some(k) = self
                        .committed_kind(&holder)
                        .and_then(|kind| self.schema.get(&kind))
                    else {
                        continue;
                    };
                    let Some(rel) =
                        self.schema
                            .relationship_at(k, identifier, holder_at_src, || {
                                Some(peer_kind.clone())
                            })
                    else {
                        continue;
                    };
                    note((holder, rel.name.clone()), r.get(4)?, own);
                }
            }
            Some((rel, kind)) => {
                let Some(r) = self.schema.get(kind).and_then(|k| k.relationship(rel)) else {
                    return Ok(Vec::new());
                };
                if !self.schema.is_a(&peer_kind, &r.peer) {
                    return Ok(Vec::new());
                }
                // Where only one relationship of this identifier may point at this node's
                // kind, every row of it at this node has a holder of that kind: answered
                // from the key or `link_in` alone (a rack run lists the interfaces of its
                // pod's spines through hundreds of rows, where a kind looked up per row cost
                // a B-tree search each). Otherwise the other kinds' rows are left out in
                // SQL (every prefix of any kind points at its namespace): a node's kind is
                // the same on every branch. A scalar subquery, not `EXISTS`: SQLite may turn
                // an `EXISTS` into a join driven by `node_by_kind`, reading every interface
                // of the store to find one device's.
                let any_kind = self.schema.kinds_linking(&r.identifier, &peer_kind) <= 1;
                for &holder_at_src in self.schema.link_end(r).reads() {
                    let sql = match (holder_at_src, any_kind) {
                        (true, true) => links::LINKS_TO,
                        (false, true) => links::LINKS_FROM,
                        (true, false) => {
                            "SELECT l.branch, l.src, l.live FROM link l \
                             WHERE l.dst = ?1 AND l.rel = ?2 AND +l.branch IN ('main', ?3) \
                             AND (SELECT n.kind FROM node n WHERE n.id = l.src LIMIT 1) = ?4"
                        }
                        (false, false) => {
                            "SELECT l.branch, l.dst, l.live FROM link l \
                             WHERE l.src = ?1 AND l.rel = ?2 AND +l.branch IN ('main', ?3) \
                             AND (SELECT n.kind FROM node n WHERE n.id = l.dst LIMIT 1) = ?4"
                        }
                    };
                    let mut st = self.conn.prepare_cached(sql)?;
                    let number = self.rel_number(&r.identifier)?;
                    let mut rows = if any_kind {
                        st.query(params![Id::of(id), number, self.branch])?
                    } else {
                        st.query(params![Id::of(id), number, self.branch, kind])?
                    };
                    while let Some(row) = rows.next()? {
                        let own = row.get_ref(0)?.as_str()? == self.branch && !self.on_main();
                        note(
                            (row.get::<_, Stored>(1)?.0, rel.to_owned()),
                            row.get(2)?,
                            own,
                        );
                    }
                }
            }
        }
        let mut out = Vec::new();
        for ((src, rel), (live, own)) in edges {
            if !live {
                continue;
            }
            // The source's kind, looked up only where a check below reads it.
            let main_row_on_branch = !own && !self.on_main();
            let src_kind = if only.is_some() || main_row_on_branch {
                self.committed_kind(&src)
            } else {
                None
            };
            // A source not visible here has no kind.
            if let Some((_, kind)) = only
                && src_kind.as_deref() != Some(kind)
            {
                continue;
            }
            if main_row_on_branch
                && let Some(r) = src_kind
                    .as_deref()
                    .and_then(|k| self.schema.get(k))
                    .and_then(|k| k.relationship(&rel))
                && self.branch_set_single(&src, r)?
            {
                continue;
            }
            out.push((src, rel));
        }
        Ok(out)
    }

    /// Ids from a lookup on committed rows, adjusted for this transaction's writes to nodes of
    /// `kind`: `matches` says whether a written node now matches.
    fn adjust(
        &self,
        kind: &str,
        mut ids: BTreeSet<String>,
        matches: &dyn Fn(&Pending, &str) -> Option<bool>,
    ) -> BTreeSet<String> {
        if let Some(pending) = self.pending_by_kind.get(kind) {
            for id in pending {
                let Some(p) = self.pending.get(id.as_str()) else {
                    continue;
                };
                if p.deleted {
                    ids.remove(id.as_str());
                    continue;
                }
                match matches(p, id) {
                    Some(true) => {
                        ids.insert(id.to_string());
                    }
                    Some(false) => {
                        ids.remove(id.as_str());
                    }
                    None => {}
                }
            }
        }
        ids
    }

    /// Ids of the nodes of a concrete `kind` visible here, in id (= creation) order.
    pub fn ids_of_kind(&self, kind: &str) -> BTreeSet<String> {
        let ids = self
            .committed_of_kind(kind)
            .unwrap_or_else(|e| self.failed(e));
        self.adjust(kind, ids, &|p, _| p.created.then_some(true))
    }

    fn committed_of_kind(&self, kind: &str) -> rusqlite::Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        if self.on_main() {
            let mut st = self.conn.prepare_cached(
                "SELECT id FROM node WHERE kind = ?1 AND branch = 'main' AND live = 1",
            )?;
            for r in st.query_map([kind], |r| Ok(r.get::<_, Stored>(0)?.0))? {
                out.insert(r?);
            }
            return Ok(out);
        }
        let mut st = self
            .conn
            .prepare_cached("SELECT id, live FROM node WHERE kind = ?1 AND branch = ?2")?;
        let mut hidden = BTreeSet::new();
        for r in st.query_map(params![kind, self.branch], |r| {
            Ok((r.get::<_, Stored>(0)?.0, r.get::<_, bool>(1)?))
        })? {
            let (id, live) = r?;
            if live {
                out.insert(id);
            } else {
                hidden.insert(id);
            }
        }
        if self.main_visible(kind) {
            let mut st = self.conn.prepare_cached(
                "SELECT id FROM node WHERE kind = ?1 AND branch = 'main' AND live = 1",
            )?;
            for r in st.query_map([kind], |r| Ok(r.get::<_, Stored>(0)?.0))? {
                let id = r?;
                if !hidden.contains(&id) {
                    out.insert(id);
                }
            }
        }
        Ok(out)
    }

    /// Ids of the nodes of a concrete `kind` whose attribute `attr` has the text form `key`.
    pub fn ids_by_attr(&self, kind: &str, attr: &str, key: &str) -> BTreeSet<String> {
        let mut ids = self.committed_by_attr_kept(kind, attr, key);
        // Committed matches this transaction changed or deleted...
        ids.retain(|id| match self.pending.get(id.as_str()) {
            None => true,
            Some(p) if p.deleted => false,
            Some(p) => match p.attrs.get(attr) {
                Some(value) => value_key_is(value, key),
                None => !p.created,
            },
        });
        // ...and the nodes it gave the value.
        let given = self.given(kind, attr, key);
        for id in &given {
            if let Some(p) = self.pending.get(id.as_str())
                && !p.deleted
                && *p.kind == *kind
                && p.attrs
                    .get(attr)
                    .is_some_and(|value| value_key_is(value, key))
            {
                ids.insert(id.to_string());
            }
        }
        ids
    }

    /// Ids of nodes of a concrete `kind` whose attribute `attr` may contain `needle`, case
    /// aside (`partial_match`): a superset the caller checks, read from the value index of
    /// that one attribute instead of every node of the kind. Committed rows on main and
    /// on this branch (a row the branch overrides or a node it deleted is only a candidate
    /// too many), and the nodes this transaction gave a value that contains it.
    pub fn ids_containing(&self, kind: &str, attr: &str, needle: &str) -> BTreeSet<String> {
        let sql = format!(
            "SELECT id FROM value_key \
             WHERE attr = (SELECT n FROM attr_name WHERE kind = ?1 AND name = ?2) \
             AND branch IN ('main', ?3) AND {}(key, ?4)",
            crate::persistence::CONTAINS_FUNCTION
        );
        let mut ids = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_map(params![kind, attr, self.branch, needle], |r| {
                    Ok(r.get::<_, Stored>(0)?.0)
                })?
                .collect::<rusqlite::Result<BTreeSet<String>>>()
            })
            .unwrap_or_else(|e| self.failed(e));
        ids.extend(
            self.pending_values(kind, attr)
                .iter()
                .filter(|(key, _)| crate::node::contains_ignore_case(key, needle))
                .flat_map(|(_, ids)| ids.iter())
                .map(NodeId::to_string),
        );
        ids
    }

    /// How many committed values give nodes of `kind` the value key `key` for `attr` (on main
    /// or this branch), counted no further than `limit`: enough to tell whether that index
    /// would narrow a candidate set of `limit` nodes, without reading it.
    pub fn attr_rows_up_to(&self, kind: &str, attr: &str, key: &str, limit: usize) -> usize {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let counted = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM (SELECT 1 FROM value_key \
                 WHERE attr = (SELECT n FROM attr_name WHERE kind = ?1 AND name = ?2) \
                 AND key = ?3 AND branch IN ('main', ?4) LIMIT ?5)",
            )
            .and_then(|mut st| {
                st.query_row(params![kind, attr, key, self.branch, limit], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .unwrap_or_else(|e| self.failed(e));
        usize::try_from(counted).unwrap_or(0)
    }

    /// Pending nodes of `kind` this transaction gave attribute `attr` the value key `key`
    /// (a superset: see `Tx::pending_attr`).
    fn given(&self, kind: &str, attr: &str, key: &str) -> Vec<NodeId> {
        self.pending_values(kind, attr)
            .get(key)
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// [`Tx::given`] apart by origin: (existing nodes, nodes created here).
    fn given_sets(&self, kind: &str, attr: &str, key: &str) -> Option<(Vec<NodeId>, Vec<NodeId>)> {
        let values = self.pending_values(kind, attr);
        let g = values.get(key)?;
        Some((
            g.existing.iter().cloned().collect(),
            g.created.iter().cloned().collect(),
        ))
    }

    /// The pending nodes of `kind` by their value key of `attr` (a superset: entries stay
    /// after a rollback or a later change; readers check the value itself). Indexed the first
    /// time a lookup asks, from the pending nodes of the kind, and by every write after: a
    /// seed build writes ~15,000 values and looks a few attributes up by value (names, in
    /// identities), so indexing every value as it was written cost ~1,000 instructions each
    /// for values nothing looked up.
    fn pending_values(
        &self,
        kind: &str,
        attr: &str,
    ) -> std::cell::RefMut<'_, HashMap<String, ByOrigin<NodeId>>> {
        std::cell::RefMut::map(self.pending_attr.borrow_mut(), |index| {
            index
                .entry(kind.to_owned())
                .or_default()
                .entry(attr.to_owned())
                .or_insert_with(|| {
                    let mut by_key: HashMap<String, ByOrigin<NodeId>> = HashMap::new();
                    for id in self.pending_by_kind.get(kind).into_iter().flatten() {
                        if let Some(p) = self.pending.get(id.as_str())
                            && let Some(value) = p.attrs.get(attr)
                        {
                            index_value(&mut by_key, value, p.created, id);
                        }
                    }
                    by_key
                })
        })
    }

    /// [`Tx::committed_by_attr`], asked once per transaction: what is committed does not
    /// change under it (the run holds the write turn; another process's commit fails it).
    fn committed_by_attr_kept(&self, kind: &str, attr: &str, key: &str) -> BTreeSet<String> {
        let lookup = [kind, "\u{1f}", attr, "\u{1f}", key].concat();
        if let Some(ids) = self.attr_lookups.borrow().get(&lookup) {
            return ids.clone();
        }
        match self.committed_by_attr(kind, attr, key) {
            Ok(ids) => {
                self.attr_lookups.borrow_mut().insert(lookup, ids.clone());
                ids
            }
            Err(e) => self.failed(e),
        }
    }

    fn committed_by_attr(
        &self,
        kind: &str,
        attr: &str,
        key: &str,
    ) -> rusqlite::Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        if self.on_main() {
            let mut st = self.conn.prepare_cached(
                "SELECT id FROM value_key \
                 WHERE attr = (SELECT n FROM attr_name WHERE kind = ?1 AND name = ?2) \
                 AND key = ?3 AND branch = 'main'",
            )?;
            for r in st.query_map(params![kind, attr, key], |r| Ok(r.get::<_, Stored>(0)?.0))? {
                out.insert(r?);
            }
            return Ok(out);
        }
        let mut st = self.conn.prepare_cached(
            "SELECT id FROM value_key \
             WHERE attr = (SELECT n FROM attr_name WHERE kind = ?1 AND name = ?2) \
             AND key = ?3 AND branch = ?4",
        )?;
        for r in st.query_map(params![kind, attr, key, self.branch], |r| {
            Ok(r.get::<_, Stored>(0)?.0)
        })? {
            out.insert(r?);
        }
        if self.main_visible(kind) {
            let mut st = self.conn.prepare_cached(
                "SELECT a.id FROM value_key a \
                 WHERE a.attr = (SELECT n FROM attr_name WHERE kind = ?1 AND name = ?2) \
                 AND a.key = ?3 AND a.branch = 'main' \
                 AND NOT EXISTS (SELECT 1 FROM attrs b WHERE b.id = a.id AND b.branch = ?4 \
                     AND json_type(b.data, '$.\"' || ?2 || '\"') IS NOT NULL)",
            )?;
            for r in st.query_map(params![kind, attr, key, self.branch], |r| {
                Ok(r.get::<_, Stored>(0)?.0)
            })? {
                out.insert(r?);
            }
        }
        // A node deleted on the branch keeps its main rows: drop it here.
        out.retain(|id| self.committed_kind(id).is_some());
        Ok(out)
    }

    fn touch(&mut self, id: &str, kind: &str) -> &mut Pending {
        if let Some(level) = self.checkpoints.last_mut()
            && !level.contains(id)
        {
            level.insert(NodeId::new(id));
            self.journal
                .push(Undo::Node(NodeId::new(id), self.pending.get(id).cloned()));
        }
        self.views.borrow_mut().remove(id);
        if !self.pending.contains_key(id) {
            self.order.push(NodeId::new(id));
            match self.pending_by_kind.get_mut(kind) {
                Some(ids) => {
                    ids.insert(NodeId::new(id));
                }
                None => {
                    self.pending_by_kind
                        .insert(kind.to_string(), BTreeSet::from([NodeId::new(id)]));
                }
            }
            return self
                .pending
                .entry(NodeId::new(id))
                .or_insert_with(|| Pending {
                    kind: self.schema.kind_name(kind),
                    ..Default::default()
                });
        }
        // Looked up again rather than returned from the check above, which the borrow
        // checker refuses; the key is only copied for a node not yet pending.
        match self.pending.get_mut(id) {
            Some(p) => p,
            None => unreachable!("`{id}` is pending: checked above"),
        }
    }

    /// Record a new version of a node.
    pub fn put(&mut self, mut node: Node) {
        // Its id, kind and values are moved out, not copied; its peers are read in place.
        let id = std::mem::take(&mut node.id);
        let id = id.as_str();
        let kind = std::mem::take(&mut node.kind);
        let attrs = std::mem::take(&mut node.attrs);
        let schema = self.schema;
        let was_deleted = self.pending.get(id).is_some_and(|p| p.deleted);
        let committed = self.committed(id);
        let (created, before) = match self.pending.get(id) {
            Some(p) if !p.deleted => (p.created, self.get(id)),
            _ => (committed.is_none(), committed),
        };
        self.touch(id, &kind);
        // The attributes a lookup asked for by value (see `Tx::pending_values`), kept up below.
        let mut indexed = self.pending_attr.get_mut().get_mut(kind.as_str());
        let Some(p) = self.pending.get_mut(id) else {
            unreachable!("`{id}` was touched above")
        };
        if was_deleted {
            // Deleted, then written again in the same transaction: diff against what is
            // committed, from nothing pending.
            *p = Pending::default();
        }
        p.deleted = false;
        p.created = created;
        if *p.kind != *kind {
            p.kind = schema.kind_name(&kind);
        }
        let before = before.as_deref().unwrap_or(&NO_NODE);
        // Values held before and absent now are unset.
        for (name, old) in &before.attrs {
            if !old.is_null() && !attrs.contains_key(name) {
                p.attrs.insert(name.clone(), Value::Null);
            }
        }
        if created && p.attrs.is_empty() {
            p.attrs.reserve(attrs.len());
        }
        for (name, new) in attrs {
            if before.attr(&name) != &new {
                if let Some(by_attr) = &mut indexed
                    && let Some(by_key) = by_attr.get_mut(name.as_str())
                {
                    index_value(by_key, &new, created, id);
                }
                p.attrs.insert(name, new);
            }
        }
        let names: BTreeSet<&String> = before.rels.keys().chain(node.rels.keys()).collect();
        let mut towards: Vec<(&str, &str)> = Vec::new();
        for rel in names {
            let old: BTreeSet<&NodeId> = before.peers(rel).iter().collect();
            let new: BTreeSet<&NodeId> = node.peers(rel).iter().collect();
            for peer in old.difference(&new) {
                p.edges.insert((rel.clone(), (*peer).clone()), false);
                towards.push((peer, rel));
            }
            for peer in node.peers(rel) {
                if !old.contains(peer) {
                    p.edges.insert((rel.clone(), peer.clone()), true);
                    p.added.push((rel.clone(), peer.clone()));
                    towards.push((peer, rel));
                }
            }
        }
        for (peer, rel) in towards {
            self.note_towards(peer, id, rel);
        }
        self.index_pending_ip(id);
    }

    /// `src` has a pending edge change towards `peer`.
    fn note_towards(&mut self, peer: &str, src: &str, rel: &str) {
        let entry = (src.to_owned(), rel.to_owned());
        let created = self.created_here(src);
        match self.pending_towards.get_mut(peer) {
            Some(srcs) => srcs.insert(created, entry),
            None => {
                let mut srcs = ByOrigin::default();
                srcs.insert(created, entry);
                self.pending_towards.insert(NodeId::new(peer), srcs);
            }
        }
    }

    /// Add one edge (`rel` of `id` → `peer`) without reading the node: how a peer's side of
    /// a relationship is kept in step, even on a node with many peers.
    pub fn add_edge(&mut self, id: &str, rel: &str, peer: &str) {
        let Some(kind) = self.kind_of(id) else { return };
        if self.has_edge(id, rel, peer) {
            return;
        }
        // The view of a hub (a device gaining its interfaces, a profile every node using
        // it) is extended rather than rebuilt: a rebuild copies every peer, once per edge
        // added. Extending gives what a rebuild would when this transaction never touched
        // the edge before: the peer is then the last addition, after every other peer.
        // Taken with its key, which goes back in with the extended view.
        let view = self.views.get_mut().remove_entry(id);
        let key: EdgeKey = (rel.to_string(), NodeId::new(peer));
        let p = self.touch_edge(id, &kind, rel, peer);
        let untouched = p.edges.insert(key.clone(), true).is_none();
        p.added.push(key);
        if untouched && let Some((viewed, Some(mut view))) = view {
            let rels = &mut Arc::make_mut(&mut view).rels;
            match rels.get_mut(rel) {
                Some(peers) => peers.push(NodeId::new(peer)),
                None => {
                    rels.insert(rel.to_string(), vec![NodeId::new(peer)]);
                }
            }
            self.views.get_mut().insert(viewed, Some(view));
        }
        self.note_towards(peer, id, rel);
    }

    /// [`Tx::touch`] for a change of the edge `rel` → `peer` alone: a node already pending
    /// journals that edge, not its whole pending state.
    fn touch_edge(&mut self, id: &str, kind: &str, rel: &str, peer: &str) -> &mut Pending {
        let journaled = self
            .checkpoints
            .last()
            .is_none_or(|level| level.contains(id));
        if !journaled && let Some(p) = self.pending.get_mut(id) {
            let key: EdgeKey = (rel.to_string(), NodeId::new(peer));
            self.journal.push(Undo::Edge {
                id: NodeId::new(id),
                before: p.edges.get(&key).copied(),
                added: p.added.len(),
                key,
            });
            self.views.get_mut().remove(id);
            return self.pending.get_mut(id).expect("pending");
        }
        self.touch(id, kind)
    }

    /// Remove one edge (`rel` of `id` → `peer`) without reading the node.
    pub fn remove_edge(&mut self, id: &str, rel: &str, peer: &str) {
        let Some(kind) = self.kind_of(id) else { return };
        if !self.has_edge(id, rel, peer) {
            return;
        }
        let p = self.touch_edge(id, &kind, rel, peer);
        p.edges.insert((rel.to_string(), NodeId::new(peer)), false);
        self.note_towards(peer, id, rel);
    }

    /// Record a deletion.
    pub fn delete(&mut self, id: &str) {
        let Some(kind) = self.kind_of(id) else { return };
        let p = self.touch(id, &kind);
        p.deleted = true;
        self.index_pending_ip(id);
    }

    /// Mark the current state; [`Tx::rollback_to`] undoes everything written after it.
    pub fn checkpoint(&mut self) -> Checkpoint {
        self.checkpoints.push(Default::default());
        Checkpoint {
            journal: self.journal.len(),
            order: self.order.len(),
        }
    }

    /// What the writes since `cp` did to each node they touched, in the order first
    /// touched; `target` is the node the operation named. Nodes whose changes cancel out
    /// are left out.
    pub fn effects_since(
        &self,
        cp: &Checkpoint,
        target: Option<&str>,
    ) -> Vec<crate::run::WriteEffect> {
        // Per node, in the order first touched: its whole pending state before its first
        // whole-state entry since `cp`, and each edge's state before its first change when
        // that came earlier (edges changed alone journal only themselves).
        type Before<'a> = (
            Option<&'a Option<Pending>>,
            HashMap<&'a EdgeKey, Option<bool>>,
        );
        let mut touched: Vec<&str> = Vec::new();
        let mut befores: HashMap<&str, Before<'_>> = HashMap::new();
        for undo in &self.journal[cp.journal.min(self.journal.len())..] {
            let entry = befores.entry(undo.id()).or_insert_with(|| {
                touched.push(undo.id());
                (None, HashMap::new())
            });
            match undo {
                Undo::Node(_, before) => {
                    entry.0.get_or_insert(before);
                }
                Undo::Edge { key, before, .. } => {
                    if entry.0.is_none() {
                        entry.1.entry(key).or_insert(*before);
                    }
                }
            }
        }
        let empty = Pending::default();
        let mut effects = Vec::new();
        for id in touched {
            let Some(now) = self.pending.get(id) else {
                continue;
            };
            let Some((whole, edges)) = befores.get(id) else {
                continue;
            };
            // Without a whole state, only edges changed: the rest is as it was.
            let base = whole.map(|before| before.as_ref().unwrap_or(&empty));
            let deleted = base.is_some_and(|before| now.deleted && !before.deleted);
            // A computed attribute is the store's own consequence of values the write set
            // (and which are checked themselves), not something the writer set: a generator
            // updating an interface it may update re-renders its `index` too.
            let kind = self.schema.get(&now.kind);
            let computed = |name: &str| {
                kind.and_then(|k| k.attribute(name))
                    .is_some_and(|a| a.jinja2().is_some())
            };
            let attributes: Vec<String> = match base {
                Some(before) => now
                    .attrs
                    .iter()
                    .filter(|(name, value)| before.attrs.get(name) != Some(*value))
                    .map(|(name, _)| name.clone())
                    .filter(|name| !name.starts_with("__") && !computed(name))
                    .collect(),
                None => Vec::new(),
            };
            let mut relationships: Vec<String> = match base {
                // A whole state before: any edge may have changed.
                Some(base) => now
                    .edges
                    .iter()
                    .filter(|(key, present)| {
                        let before = match edges.get(key) {
                            Some(before) => *before,
                            None => base.edges.get(*key).copied(),
                        };
                        before != Some(**present)
                    })
                    .map(|((rel, _), _)| rel.clone())
                    .collect(),
                // Only the edges journaled changed: the other side of a relationship, whose
                // other edges (a set's thousand widgets) are not read for each write.
                None => edges
                    .iter()
                    .filter(|(key, before)| {
                        now.edges
                            .get(**key)
                            .is_some_and(|present| **before != Some(*present))
                    })
                    .map(|((rel, _), _)| rel.clone())
                    .collect(),
            };
            relationships.sort();
            relationships.dedup();
            let created_now = base.is_some_and(|before| now.created && !before.created);
            if !deleted && !created_now && attributes.is_empty() && relationships.is_empty() {
                continue;
            }
            // Rows every branch shares: those of a branch-agnostic node, but for its
            // branch-aware fields (written on the branch).
            let shared = self.support(&now.kind) == BranchSupport::Agnostic
                && (deleted
                    || created_now
                    || attributes
                        .iter()
                        .chain(&relationships)
                        .any(|field| self.field_branch(&now.kind, field, now.created) == MAIN));
            // Described from its attributes and its groups alone: the other side of a
            // relationship can be a node with thousands of peers (a namespace), whose whole
            // view would cost more than the write. A deleted node is described as it was.
            let (name, groups) = match self.attributes_of(id) {
                Some(node) => (
                    node.attr("name").as_str().map(str::to_owned),
                    // A node the run created is its own: who else it belongs to is not asked.
                    if now.created {
                        Vec::new()
                    } else {
                        self.peers_of(id, "member_of_groups")
                    },
                ),
                None => match self.committed(id) {
                    Some(node) => (
                        node.attr("name").as_str().map(str::to_owned),
                        node.peers("member_of_groups").to_vec(),
                    ),
                    None => (None, Vec::new()),
                },
            };
            let owners = groups
                .iter()
                .filter_map(|group| self.attributes_of(group))
                .filter(|group| {
                    self.schema.is_a(&group.kind, "CoreGeneratorGroup")
                        || self.schema.is_a(&group.kind, "CoreGeneratorAwareGroup")
                })
                .filter_map(|group| group.attr("name").as_str().map(str::to_owned))
                .collect();
            effects.push(crate::run::WriteEffect {
                id: id.to_string(),
                kind: now.kind.to_string(),
                target: target == Some(id),
                created: now.created,
                deleted,
                attributes,
                relationships,
                branch_agnostic: shared,
                name,
                owners,
            });
        }
        effects
    }

    /// Keep what was written since `cp`.
    pub fn release(&mut self, cp: Checkpoint) {
        self.checkpoints.pop();
        if self.checkpoints.is_empty() {
            self.journal.clear();
        }
        let _ = cp;
    }

    /// Undo everything written since `cp`.
    pub fn rollback_to(&mut self, cp: Checkpoint) {
        // A free-space hint found since may count undone allocations as used.
        self.staged_free.borrow_mut().clear();
        while self.journal.len() > cp.journal {
            let Some(undo) = self.journal.pop() else {
                break;
            };
            self.views.get_mut().remove(undo.id());
            match undo {
                Undo::Node(id, Some(p)) => {
                    // Its values then are its values again: indexed wherever a lookup has
                    // indexed its kind's attribute since (see `Tx::pending_values`).
                    if let Some(by_attr) = self.pending_attr.get_mut().get_mut(&*p.kind) {
                        for (name, value) in &p.attrs {
                            if let Some(by_key) = by_attr.get_mut(name.as_str()) {
                                index_value(by_key, value, p.created, &id);
                            }
                        }
                    }
                    self.pending.insert(id, p);
                }
                Undo::Node(id, None) => {
                    if let Some(p) = self.pending.remove(id.as_str())
                        && let Some(set) = self.pending_by_kind.get_mut(&*p.kind)
                    {
                        set.remove(&id);
                    }
                }
                Undo::Edge {
                    id,
                    key,
                    before,
                    added,
                } => {
                    if let Some(p) = self.pending.get_mut(id.as_str()) {
                        match before {
                            Some(present) => p.edges.insert(key, present),
                            None => p.edges.remove(&key),
                        };
                        p.added.truncate(added);
                    }
                }
            }
        }
        self.order.truncate(cp.order);
        self.checkpoints.pop();
        if self.checkpoints.is_empty() {
            self.journal.clear();
        }
        self.reindex_pending_ips();
    }

    /// Where field `field` of a node of `kind` is written when this transaction writes it.
    fn field_branch(&self, kind: &str, field: &str, created_here: bool) -> &str {
        if self.on_main() {
            return MAIN;
        }
        match self.support(kind) {
            BranchSupport::Agnostic => {
                let aware = self
                    .schema
                    .get(kind)
                    .is_some_and(|k| k.is_branch_aware_field(field));
                if aware && !created_here {
                    &self.branch
                } else {
                    MAIN
                }
            }
            _ => &self.branch,
        }
    }

    /// Where the node row of a node of `kind` lives when this transaction writes it.
    fn node_branch(&self, kind: &str) -> &str {
        if self.on_main() || self.support(kind) == BranchSupport::Agnostic {
            MAIN
        } else {
            &self.branch
        }
    }

    fn committed_attr(&self, id: &str, name: &str) -> Value {
        if let Some(Some(n)) = self.committed.borrow().get(id) {
            return n.attr(name).clone();
        }
        self.committed(id)
            .map(|n| n.attr(name).clone())
            .unwrap_or(Value::Null)
    }

    fn committed_has_edge(&self, id: &str, rel: &str, peer: &str) -> bool {
        if self.fresh.contains(peer) || self.fresh.contains(id) {
            return false;
        }
        if let Some(Some(n)) = self.committed.borrow().get(id)
            && let Some(found) = scanned(n.peers(rel), peer)
        {
            return found;
        }
        if self.committed_kind(id).is_none() {
            return false;
        }
        self.query_edge(id, rel, peer)
            .unwrap_or_else(|e| self.failed(e))
    }

    fn query_edge(&self, id: &str, rel: &str, peer: &str) -> rusqlite::Result<bool> {
        let Some(kind) = self.committed_kind(id) else {
            return Ok(false);
        };
        let Some(k) = self.schema.get(&kind) else {
            return Ok(false);
        };
        let Some(r) = k.relationship(rel) else {
            return Ok(false);
        };
        // Another relationship of the kind reading the same rows: the peer's kind decides.
        if links::shares_rows(self.schema, k, r)
            && !self
                .committed_kind(peer)
                .is_some_and(|pk| self.schema.is_a(&pk, &r.peer))
        {
            return Ok(false);
        }
        let (src, dst) = self.schema.link_end(r).ends(id, peer);
        let mut st = self.conn.prepare_cached(links::LINK_ROWS_OF_KEY)?;
        let rel = self.rel_number(&r.identifier)?;
        let mut rows = st.query(params![Id::of(src), rel, Id::of(dst), self.branch])?;
        let (mut main, mut own) = (false, None);
        while let Some(row) = rows.next()? {
            let live: bool = row.get(1)?;
            if row.get_ref(0)?.as_str()? == self.branch && !self.on_main() {
                own = Some(live);
            } else {
                main = live;
            }
        }
        if let Some(own) = own {
            return Ok(own);
        }
        if main && self.branch_set_single(id, r)? {
            return Ok(false);
        }
        Ok(main)
    }

    /// Whether node `id` has `peer` in relationship `rel`, without reading either node.
    pub fn has_edge(&self, id: &str, rel: &str, peer: &str) -> bool {
        if let Some(Some(n)) = self.views.borrow().get(id)
            && let Some(found) = scanned(n.peers(rel), peer)
        {
            return found;
        }
        match self.pending.get(id) {
            Some(p) if p.deleted => return false,
            Some(p) => {
                if let Some(present) = p.edge(rel, peer) {
                    return present;
                }
                if p.created {
                    return false;
                }
            }
            None => {}
        }
        self.committed_has_edge(id, rel, peer)
    }

    /// Write the pending changes as rows (inside the caller's SQLite transaction) and return
    /// their change events (sequence numbers are assigned when the events are stored).
    pub fn finish(self) -> Result<Vec<Event>, StoreError> {
        if let Some(e) = self.take_failure() {
            return Err(e);
        }
        let err = StoreError::db_of(self.conn);
        // Every event first: both sides of a relationship share one row, so a row written
        // for one node would change what the next node's event reads as committed. A node
        // touched without a change has no rows to write, no event and a view that still
        // holds; a transaction of nothing else writes nothing at all — not even the
        // revision counter, whose page alone made every such commit write to the WAL.
        let phase = tracing::trace_span!("commit_events").entered();
        let mut writes = Vec::with_capacity(self.order.len());
        for id in &self.order {
            let Some(p) = self.pending.get(id) else {
                continue;
            };
            if (p.created && p.deleted) || p.unchanged() {
                continue;
            }
            writes.push((id, p, self.event_of(id, p), self.ip_before(id, p)));
        }
        drop(phase);
        if writes.is_empty() {
            if let Some(e) = self.take_failure() {
                return Err(e);
            }
            if let Some(cache) = self.shared {
                cache.settle_free(&[], self.staged_free.take());
            }
            return Ok(Vec::new());
        }
        let phase = tracing::trace_span!("commit_rows").entered();
        let rev = crate::persistence::next_rev(self.conn).map_err(err)?;
        let mut events = Vec::with_capacity(writes.len());
        let mut ip_writes = Vec::new();
        let mut settled = Vec::with_capacity(writes.len());
        let mut rows = RowStatements::prepare(self.conn, rev << 24).map_err(err)?;
        let mut keys = attrs::KeyWrites::default();
        // The nodes written on this branch, listed with it (see
        // [`crate::persistence::BRANCH_ROWS`]) after their rows.
        let mut on_branch = Vec::with_capacity(writes.len());
        // The rows of deleted nodes' relationships before any other: a peer's removal of its
        // side, written after, is then the branch's own row over main's.
        for (id, p, _, _) in &writes {
            if p.deleted {
                self.remove_links(id, p).map_err(err)?;
            }
        }
        // Sized once: a commit of a seed build's run writes hundreds of relationship rows,
        // and growing the set rehashed it a dozen times.
        let edges: usize = writes.iter().map(|(_, p, _, _)| p.edges.len()).sum();
        let values: usize = writes.iter().map(|(_, p, _, _)| p.attrs.len()).sum();
        let mut links_written = HashSet::with_capacity(edges);
        rows.nodes.reserve(writes.len());
        rows.links.reserve(edges);
        rows.attrs.reserve(writes.len());
        keys.reserve(values);
        for (id, p, event, ip_before) in writes {
            if !self.on_main() {
                on_branch.push(id.as_str());
            }
            self.write_node(
                &mut rows,
                &mut keys,
                &mut links_written,
                id,
                p,
                rev,
                event.is_some(),
            )
            .map_err(err)?;
            if let Some(before) = ip_before {
                ip_writes.extend(
                    self.write_ip_row(id, &p.kind, p.created, before)
                        .map_err(err)?,
                );
            }
            if let Some(e) = event {
                events.push(e);
            }
            // Last: it gives up this transaction's hold on the node (see `view_after`).
            if self.shared.is_some() {
                settled.push((id.clone(), self.settled(id, p)));
            }
        }
        if !self.on_main() {
            // A relationship row written here changes both its ends' views on this branch,
            // also an end whose side of the relationship no loaded schema declares, which
            // no pending change touched: a schema loaded later may declare it, and a node
            // the branch does not list is read as main's view (see `Tx::shared_view`).
            let mut listed: HashSet<&str> = on_branch.iter().copied().collect();
            for &(src, _, dst) in &links_written {
                for end in [src, dst] {
                    if listed.insert(end) {
                        on_branch.push(end);
                    }
                }
            }
        }
        rows.write(self.conn).map_err(err)?;
        crate::persistence::list_branch_nodes(self.conn, &self.branch, &on_branch).map_err(err)?;
        drop(phase);
        let phase = tracing::trace_span!("commit_index").entered();
        keys.write(self.conn).map_err(err)?;
        drop(phase);
        if let Some(e) = self.take_failure() {
            return Err(e);
        }
        if let Some(cache) = self.shared {
            cache.settle(&self.branch, settled);
            cache.settle_free(&ip_writes, self.staged_free.take());
        }
        Ok(events)
    }

    /// What committing `p` does to the cached views of `id` (see [`NodeCache`]). The new
    /// view is kept only where it is known without reading anything (a new node, or one this
    /// transaction read) and the rows written are plain: on `main`, or a node new on this
    /// branch under an id this transaction made up, so no row of `main` shows through. It
    /// equals what reading the rows back gives: attributes as written, each relationship's
    /// kept peers in their order, then the added ones in the order they were added (their
    /// positions are this revision's, after every older one).
    fn settled(&self, id: &str, p: &Pending) -> Settled {
        if self.node_branch(&p.kind) == MAIN && !self.on_main() {
            // A branch-agnostic node's shared rows, written from a branch.
            return Settled::Everywhere(None);
        }
        let known = p.created
            || self.views.borrow().contains_key(id)
            || self.committed.borrow().contains_key(id);
        let view = if p.deleted {
            Some(None)
        } else if known && (self.on_main() || (p.created && self.fresh.contains(id))) {
            self.view_after(id, p)
        } else {
            None
        };
        if self.on_main() {
            Settled::Everywhere(view)
        } else {
            Settled::Here(view)
        }
    }

    /// The view of `id` once `p` is committed, as [`Tx::get`] gives it, for
    /// [`Tx::settled`] as the transaction ends. The transaction gives up its own holds on
    /// the node and the cache lets go of the views the commit replaces, so the committed
    /// node is usually held by nobody else and is changed in place rather than copied.
    /// Copying it made every commit touching a hub cost the hub's size (a set of 1,000
    /// widgets, a device and its interfaces): with a commit per write, as over HTTP, a
    /// run's cost grew with the square of its size.
    ///
    /// `None` when this transaction holds no committed version of the node: its rows are
    /// written by now, so reading them would not give the version `p` applies to.
    fn view_after(&self, id: &str, p: &Pending) -> Option<Option<Arc<Node>>> {
        if let Some(view) = self.views.borrow_mut().remove(id) {
            return Some(view);
        }
        if p.created {
            return Some(self.get(id));
        }
        let held = self.committed.borrow_mut().remove(id)?;
        if let Some(cache) = self.shared {
            cache.release(&self.branch, id, self.on_main());
        }
        Some(held.map(|mut node| {
            apply_pending(Arc::make_mut(&mut node), p);
            node
        }))
    }

    fn event_of(&self, id: &str, p: &Pending) -> Option<Event> {
        let kind = self.schema.get(&p.kind);
        let attr_kind = |attr: &str| {
            kind.and_then(|k| k.attribute(attr))
                .map(|a| a.kind.name().to_owned())
                .unwrap_or_default()
        };
        let skip_rel = |rel: &str| {
            kind.and_then(|k| k.relationship(rel))
                .is_some_and(|r| r.kind == RelationshipKind::Group)
        };
        let peer_kind = |peer: &str| {
            self.kind_of(peer)
                .or_else(|| self.committed_kind(peer))
                .map(|kind| kind.to_string())
                .unwrap_or_default()
        };
        let mut attributes = Vec::new();
        let mut relationships = Vec::new();
        let action = if p.deleted {
            let before = self.committed(id)?;
            for (name, v) in before.attrs.iter().filter(|(n, _)| !n.starts_with("__")) {
                attributes.push(AttributeChange {
                    name: name.clone(),
                    kind: attr_kind(name),
                    value: Value::Null,
                    value_previous: v.clone(),
                    action: AttributeAction::Removed,
                });
            }
            for (rel, peers) in before.rels.iter().filter(|(r, _)| !skip_rel(r)) {
                for peer in peers {
                    relationships.push(RelationshipChange {
                        name: rel.clone(),
                        peer_status: PeerStatus::Removed,
                        peer_id: peer.to_string(),
                        peer_kind: peer_kind(peer),
                    });
                }
            }
            Action::Deleted
        } else {
            for (name, new) in p.attrs.iter().filter(|(n, _)| !n.starts_with("__")) {
                let old = if p.created {
                    Value::Null
                } else {
                    self.committed_attr(id, name)
                };
                if &old == new {
                    continue;
                }
                let action = match (old.is_null(), new.is_null()) {
                    (true, false) => AttributeAction::Added,
                    (false, true) => AttributeAction::Removed,
                    _ => AttributeAction::Updated,
                };
                attributes.push(AttributeChange {
                    name: name.clone(),
                    kind: attr_kind(name),
                    value: new.clone(),
                    value_previous: old,
                    action,
                });
            }
            let mut removed = Vec::new();
            for ((rel, peer), present) in &p.edges {
                if *present || skip_rel(rel) {
                    continue;
                }
                if !p.created && self.committed_has_edge(id, rel, peer) {
                    removed.push(RelationshipChange {
                        name: rel.clone(),
                        peer_status: PeerStatus::Removed,
                        peer_id: peer.to_string(),
                        peer_kind: peer_kind(peer),
                    });
                }
            }
            let mut seen = HashSet::with_capacity(p.added.len());
            for (rel, peer) in &p.added {
                if skip_rel(rel)
                    || p.edge(rel, peer) != Some(true)
                    || !seen.insert((rel.as_str(), peer.as_str()))
                {
                    continue;
                }
                if p.created || !self.committed_has_edge(id, rel, peer) {
                    relationships.push(RelationshipChange {
                        name: rel.clone(),
                        peer_status: PeerStatus::Added,
                        peer_id: peer.to_string(),
                        peer_kind: peer_kind(peer),
                    });
                }
            }
            // Same order as a per-relationship diff: added peers, then removed ones, by name.
            relationships.extend(removed);
            relationships.sort_by(|a, b| a.name.cmp(&b.name));
            if p.created {
                Action::Created
            } else if attributes.is_empty() && relationships.is_empty() {
                return None;
            } else {
                Action::Updated
            }
        };
        Some(Event {
            seq: 0,
            name: action.event_name().into(),
            branch: self.branch.clone(),
            action,
            kind: p.kind.to_string(),
            id: id.to_string(),
            origin: self.origin.to_string(),
            attributes,
            relationships,
        })
    }

    /// Removes the relationship rows of deleted node `id` where its node rows go.
    fn remove_links(&self, id: &str, p: &Pending) -> rusqlite::Result<()> {
        let node_branch = self.node_branch(&p.kind);
        if node_branch != MAIN {
            links::remove_of_node(self.conn, id, Some(node_branch))
        } else if self.support(&p.kind) == BranchSupport::Agnostic {
            links::remove_of_node(self.conn, id, None)
        } else {
            links::remove_of_node(self.conn, id, Some(MAIN))
        }
    }

    /// The branch whose rows hold relationship `r` of a `kind` node (`created` by this
    /// transaction) to `peer`: the branch's if either side's field is kept on the branch
    /// (a branch-agnostic node's relationship to a branch-aware node is the branch's), else
    /// main's.
    fn link_branch(&self, kind: &str, r: &RelationshipSchema, created: bool, peer: &str) -> &str {
        let own = self.field_branch(kind, &r.name, created);
        if own != MAIN {
            return own;
        }
        let peer_pending = self.pending.get(peer);
        let Some(peer_kind) = peer_pending
            .map(|q| q.kind.clone())
            .or_else(|| self.committed_kind(peer))
        else {
            return own;
        };
        match self.schema.counterpart(&peer_kind, r) {
            Some(back) => self.field_branch(
                &peer_kind,
                &back.name,
                peer_pending.is_some_and(|q| q.created),
            ),
            None => own,
        }
    }

    /// Writes `p`'s rows for node `id` at revision `rev`; `changed`: whether the write
    /// changes what the node holds (it has an event), which alone moves main's revision.
    /// `links_written`: the relationship rows written so far (the other side of one is the
    /// same row).
    #[allow(clippy::too_many_arguments)]
    fn write_node<'a>(
        &'a self,
        rows: &mut RowStatements<'_, 'a>,
        keys: &mut attrs::KeyWrites<'a>,
        links_written: &mut HashSet<(&'a str, &'a str, &'a str)>,
        id: &'a str,
        p: &'a Pending,
        rev: i64,
        changed: bool,
    ) -> rusqlite::Result<()> {
        let c = self.conn;
        let node_branch = self.node_branch(&p.kind);
        if p.deleted {
            if node_branch == MAIN {
                // Gone everywhere: its rows on main, and (for a shared node) every branch's.
                let all = self.support(&p.kind) == BranchSupport::Agnostic;
                attrs::remove(c, id, (!all).then_some(MAIN))?;
                let sql = if all {
                    "DELETE FROM node WHERE id = ?1"
                } else {
                    "DELETE FROM node WHERE id = ?1 AND branch = 'main'"
                };
                c.prepare_cached(sql)?.execute([Id::of(id)])?;
            } else {
                let on_main: bool = c
                    .prepare_cached("SELECT 1 FROM node WHERE id = ?1 AND branch = 'main'")?
                    .query_row([Id::of(id)], |_| Ok(true))
                    .optional()?
                    .unwrap_or(false);
                attrs::remove(c, id, Some(node_branch))?;
                c.prepare_cached("DELETE FROM node WHERE id = ?1 AND branch = ?2")?
                    .execute(params![Id::of(id), node_branch])?;
                if on_main {
                    let main_rev: i64 = c
                        .prepare_cached("SELECT rev FROM node WHERE id = ?1 AND branch = 'main'")?
                        .query_row([Id::of(id)], |r| r.get(0))?;
                    c.prepare_cached(
                        "INSERT INTO node (id, branch, kind, live, rev, base_rev) VALUES (?1, ?2, ?3, 0, ?4, ?5)",
                    )?
                    .execute(params![Id::of(id), node_branch, p.kind, rev, main_rev])?;
                }
            }
            return Ok(());
        }
        if p.created {
            rows.nodes.push([
                stored_id::key(id),
                ToSqlOutput::from(node_branch),
                ToSqlOutput::from(&*p.kind),
                ToSqlOutput::from(rev),
            ]);
        } else if node_branch == MAIN && changed {
            // Main's revision says main changed the node (a branch that deleted it conflicts
            // at its merge): a branch's change of it is the branch's rows, not main's, and a
            // write of what the node already holds changes nothing.
            rows.update_rev.execute(params![Id::of(id), rev])?;
        }
        // A node created on this branch has no main version: its rows are plain, like main's.
        let plain = |b: &str| b == MAIN || p.created;
        self.write_attributes(id, p, plain, keys, &mut rows.attrs)?;
        let kind = self.schema.get(&p.kind);
        for (rel, peer) in p.changed_edges() {
            let Some(r) = kind.and_then(|k| k.relationship(rel)) else {
                continue;
            };
            let (src, dst) = self.schema.link_end(r).ends(id, peer);
            if !links_written.insert((src, r.identifier.as_str(), dst)) {
                continue;
            }
            let present = p.edge(rel, peer) == Some(true);
            let b = self.link_branch(&p.kind, r, p.created, peer);
            rows.pos += 1;
            let pos = rows.pos;
            // A row with a node new on the branch at either end has no main version.
            if plain(b) || self.pending.get(peer.as_str()).is_some_and(|q| q.created) {
                if present {
                    let rel = rows.rel_number(c, &r.identifier)?;
                    rows.links.push([
                        stored_id::key(src),
                        ToSqlOutput::from(rel),
                        stored_id::key(dst),
                        ToSqlOutput::from(b),
                        ToSqlOutput::from(pos),
                    ]);
                } else {
                    rows.remove_edge
                        .execute(params![Id::of(src), r.identifier, Id::of(dst), b])?;
                }
            } else {
                let rel = rows.rel_number(c, &r.identifier)?;
                rows.put_branch_edge.execute(params![
                    Id::of(src),
                    rel,
                    Id::of(dst),
                    b,
                    pos,
                    present
                ])?;
            }
        }
        Ok(())
    }
}

impl Tx<'_> {
    /// Writes `p`'s attribute values for node `id`: one row per branch its fields are kept
    /// on (see [`attrs`]), read, changed and written back, and the value index moved for
    /// each value that changed. `plain(branch)`: the node's row there is its own (on main,
    /// or new on the branch); else it is a branch's row over main's, each value with main's
    /// value when the branch first changed it.
    fn write_attributes<'a>(
        &'a self,
        id: &'a str,
        p: &'a Pending,
        plain: impl Fn(&str) -> bool,
        keys: &mut attrs::KeyWrites<'a>,
        rows: &mut attrs::AttrRows<'a>,
    ) -> rusqlite::Result<()> {
        let c = self.conn;
        let mut by_branch: Vec<(&'a str, Vec<(&'a String, &'a Value)>)> = Vec::new();
        for (name, value) in &p.attrs {
            let b = self.field_branch(&p.kind, name, p.created);
            match by_branch.iter_mut().find(|(branch, _)| *branch == b) {
                Some((_, changes)) => changes.push((name, value)),
                None => by_branch.push((b, vec![(name, value)])),
            }
        }
        let fresh = self.fresh.contains(id);
        for (b, changes) in by_branch {
            if fresh && plain(b) {
                // An id this transaction made up has no row anywhere yet: its row is its
                // values, written as they are without being copied into an image first.
                for &(name, value) in &changes {
                    keys.change((id, b, &p.kind, name), None, value);
                }
                rows.put_new(id, b, &p.kind, &changes)?;
                continue;
            }
            let mut image = if fresh {
                attrs::AttrImage::default()
            } else {
                attrs::read(c, id, b)?
                    .map(|(_, image)| image)
                    .unwrap_or_default()
            };
            let mut main: Option<attrs::AttrImage> = None;
            for (name, value) in changes {
                let old = if plain(b) {
                    if value.is_null() {
                        image.data.remove(name)
                    } else {
                        image.data.insert(name.clone(), value.clone())
                    }
                } else {
                    if !image.bases.contains_key(name) {
                        if main.is_none() {
                            main = Some(
                                attrs::read(c, id, MAIN)?
                                    .map(|(_, image)| image)
                                    .unwrap_or_default(),
                            );
                        }
                        let base = main
                            .as_ref()
                            .and_then(|main| main.data.get(name))
                            .cloned()
                            .unwrap_or(Value::Null);
                        image.bases.insert(name.clone(), base);
                    }
                    image.data.insert(name.clone(), value.clone())
                };
                keys.change((id, b, &p.kind, name), old, value);
            }
            rows.put(c, id, b, &p.kind, &image)?;
        }
        Ok(())
    }
}

/// How a commit writes nodes' rows: the statements of the rare rows, prepared once per
/// commit rather than taken from and given back to the connection's cache for each row,
/// and the common rows — a created node's, its attributes', a relationship added —
/// gathered and written together at the end, several to a statement (see [`crate::rows`]):
/// a seed build writes ~30,000 rows. Each row is written at most once by a commit, so
/// gathering them changes no statement's outcome.
struct RowStatements<'c, 'a> {
    /// A node updated on main: its revision.
    update_rev: rusqlite::CachedStatement<'c>,
    /// A relationship row removed, on main or with a node new on the branch at one end.
    remove_edge: rusqlite::CachedStatement<'c>,
    /// A relationship added or removed on a branch, over main's (whether main has it is its
    /// base).
    put_branch_edge: rusqlite::CachedStatement<'c>,
    /// The nodes created: (id, branch, kind, revision).
    nodes: Vec<Row<'a, 4>>,
    /// The nodes' attribute rows.
    attrs: attrs::AttrRows<'a>,
    /// The relationship rows added, on main or with a node new on the branch at one end:
    /// (src, identifier, dst, branch, position).
    links: Vec<Row<'a, 5>>,
    /// The position of the last edge written: edges keep the order they were added in, this
    /// commit's after every older one.
    pos: i64,
    /// The relationship identifiers' numbers this commit has looked up or given (see
    /// [`links::rel_number_or_new`]): a commit writes rows of a few dozen identifiers.
    rel_numbers: HashMap<&'a str, i64>,
}

/// Writes created nodes' rows (a branch's row replaces a tombstone).
const INSERT_NODES: Insert = Insert {
    head: "INSERT OR REPLACE INTO node (id, branch, kind, live, rev, base_rev)",
    tuple: "(?, ?, ?, 1, ?, NULL)",
    most: 32,
};

/// Writes added relationship rows.
const INSERT_LINKS: Insert = Insert {
    head: "INSERT OR IGNORE INTO link (src, rel, dst, branch, pos, live, base)",
    tuple: "(?, ?, ?, ?, ?, 1, NULL)",
    most: 32,
};

impl<'c, 'a> RowStatements<'c, 'a> {
    /// The statements, the first edge written getting position `pos + 1`.
    fn prepare(c: &'c Connection, pos: i64) -> rusqlite::Result<Self> {
        Ok(RowStatements {
            pos,
            update_rev: c
                .prepare_cached("UPDATE node SET rev = ?2 WHERE id = ?1 AND branch = 'main'")?,
            remove_edge: c.prepare_cached(
                "DELETE FROM link WHERE src = ?1 AND rel = (SELECT n FROM rel_name WHERE name = ?2) \
                 AND dst = ?3 AND branch = ?4",
            )?,
            put_branch_edge: c.prepare_cached(
                "INSERT INTO link (src, rel, dst, branch, pos, live, base) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT COUNT(*) FROM link WHERE src = ?1 AND rel = ?2 AND dst = ?3 AND branch = 'main')) \
                 ON CONFLICT (src, rel, dst, branch) DO UPDATE SET live = excluded.live, \
                 pos = CASE WHEN excluded.live = 1 AND link.live = 0 THEN excluded.pos ELSE link.pos END",
            )?,
            nodes: Vec::new(),
            attrs: attrs::AttrRows::default(),
            links: Vec::new(),
            rel_numbers: HashMap::new(),
        })
    }

    /// The number of relationship identifier `identifier` in `link.rel`, given now when it
    /// has none (inside this commit's transaction).
    fn rel_number(&mut self, c: &Connection, identifier: &'a str) -> rusqlite::Result<i64> {
        if let Some(&n) = self.rel_numbers.get(identifier) {
            return Ok(n);
        }
        let n = links::rel_number_or_new(c, identifier)?;
        self.rel_numbers.insert(identifier, n);
        Ok(n)
    }

    /// Writes the rows gathered.
    fn write(self, c: &Connection) -> rusqlite::Result<()> {
        INSERT_NODES.run(c, &self.nodes)?;
        self.attrs.write(c)?;
        INSERT_LINKS.run(c, &self.links)
    }
}

/// Identity and labels computed from a node and its peers.
impl Tx<'_> {
    /// The peers of relationship `rel` as a reader sees them: stored, or computed for the
    /// IPAM containment relationships.
    pub fn peer_ids<'n>(&self, node: &'n Node, rel: &str) -> std::borrow::Cow<'n, [NodeId]> {
        if crate::ipam::is_computed(self, &node.kind, rel) {
            std::borrow::Cow::Owned(
                crate::ipam::computed_peers(self, node, rel)
                    .into_iter()
                    .map(NodeId::from)
                    .collect(),
            )
        } else {
            std::borrow::Cow::Borrowed(node.peers(rel))
        }
    }

    /// Value at `attr__value` or `rel__attr__value` (through a cardinality-one relationship).
    pub fn path_value(&self, node: &Node, path: &str) -> Value {
        self.value_at(node, Path::of(path))
    }

    /// [`Tx::path_value`] of a path already split.
    fn value_at(&self, node: &Node, path: Path<'_>) -> Value {
        match path {
            Path::Two(attr, _) => node.attr(attr).clone(),
            Path::Three(rel, attr, _) => node
                .peers(rel)
                .first()
                .map(|p| self.attr_of(p, attr))
                .unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// Whether [`Tx::path_value`] has the key `want` ([`value_key`]), without copying an
    /// attribute of the node's own.
    fn path_value_is(&self, node: &Node, path: &str, want: &str) -> bool {
        match Path::of(path) {
            Path::Two(attr, _) => value_key_is(node.attr(attr), want),
            other => value_key_is(&self.value_at(node, other), want),
        }
    }

    /// The value of attribute `attr` of node `id` as this transaction sees it (`Null` when
    /// unset or the node is not visible), without building the node's view: an HFID or a
    /// label through a relationship reads its peer's attribute, and the peer may be a device
    /// gaining its interfaces one by one, whose view would be rebuilt for each.
    pub fn attr_of(&self, id: &str, attr: &str) -> Value {
        if let Some(view) = self.views.borrow().get(id) {
            return view
                .as_ref()
                .map(|n| n.attr(attr).clone())
                .unwrap_or(Value::Null);
        }
        if let Some(p) = self.pending.get(id) {
            if p.deleted {
                return Value::Null;
            }
            if let Some(value) = p.attrs.get(attr) {
                return value.clone();
            }
            if p.created {
                return Value::Null;
            }
        }
        self.attributes_of(id)
            .map(|n| n.attr(attr).clone())
            .unwrap_or(Value::Null)
    }

    /// The node's human-friendly id, when its kind has one and every component is set.
    pub fn hfid(&self, node: &Node) -> Option<Vec<String>> {
        let k = self.schema.get(&node.kind)?;
        let paths = k.human_friendly_id.as_ref()?;
        paths
            .iter()
            .map(|p| into_value_key(self.path_value(node, p)))
            .collect()
    }

    /// The node's display label: `display_label` template (`{{ name__value }}`) or path,
    /// else the `display_labels` values joined by a space.
    pub fn display_label(&self, node: &Node) -> Option<String> {
        let k = self.schema.get(&node.kind)?;
        if let Some(t) = &k.display_label {
            if let Some((pieces, tail)) = crate::schema::label_template(t) {
                let mut out = String::new();
                for (text, path) in pieces {
                    out.push_str(text);
                    if let Some(key) = value_key_ref(&self.path_value(node, path)) {
                        out.push_str(&key);
                    }
                }
                out.push_str(tail);
                return Some(out);
            }
            return into_value_key(self.path_value(node, t));
        }
        if let Some(paths) = &k.display_labels {
            let parts: Vec<String> = paths
                .iter()
                .filter_map(|p| into_value_key(self.path_value(node, p)))
                .collect();
            if !parts.is_empty() {
                return Some(parts.join(" "));
            }
        }
        self.hfid(node).map(|h| h.join(" "))
    }

    /// Nodes of `kind` (node or generic) whose HFID is `hfid`.
    pub fn find_by_hfid(&self, kind: &str, hfid: &[String]) -> Vec<Arc<Node>> {
        let mut out = Vec::new();
        for concrete in self.schema.concrete_kinds(kind) {
            let Some(k) = self.schema.get(concrete) else {
                continue;
            };
            let Some(paths) = &k.human_friendly_id else {
                continue;
            };
            if paths.len() != hfid.len() {
                continue;
            }
            let parts: Vec<(&str, &str)> = paths
                .iter()
                .map(String::as_str)
                .zip(hfid.iter().map(String::as_str))
                .collect();
            // Part by part, the node's own attributes first: most candidates (a device's
            // other interfaces) differ there, without reading a peer.
            let mut checks = parts.clone();
            checks.sort_by_key(|(path, _)| Path::of(path).segments());
            for id in self.identity_candidates(concrete, &parts).iter() {
                if let Some(n) = self.get(id)
                    && checks
                        .iter()
                        .all(|(path, want)| self.path_value_is(&n, path, want))
                {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The nodes of concrete `kind` that may have the identity `parts` (path, text value):
    /// a superset the caller checks. Through a cardinality-one relationship when the identity
    /// has one (`device__hostname__value`, or a bare `device` whose value is the peer's id):
    /// the peer's incoming edges, so finding an interface costs its device's interfaces, not
    /// every interface with that name. Else one attribute index lookup, else the whole kind.
    pub fn identity_candidates(&self, kind: &str, parts: &[(&str, &str)]) -> BTreeSet<String> {
        let one = |rel: &str| {
            self.schema
                .get(kind)
                .and_then(|k| k.relationship(rel))
                .filter(|r| r.cardinality == crate::schema::Cardinality::One)
        };
        // An attribute of the node's own, to narrow the peer's holders down to the few
        // with that value in one indexed lookup (a device's interface named `Ethernet1`),
        // instead of reading every holder.
        let own = parts.iter().find_map(|(path, value)| match Path::of(path) {
            Path::Two(attr, "value") => Some((attr, *value)),
            _ => None,
        });
        let holders = |peer: &str, rel: &str| match own {
            Some((attr, key)) => self.holders_with_attr(peer, rel, kind, attr, key),
            None => self.holders(peer, rel, kind),
        };
        for (path, value) in parts {
            match Path::of(path) {
                Path::One(rel) if one(rel).is_some() => return holders(value, rel),
                Path::Three(rel, attr, _) => {
                    if let Some(r) = one(rel) {
                        let mut out = BTreeSet::new();
                        for peer_kind in self.schema.concrete_kinds(&r.peer) {
                            for peer in self.ids_by_attr(peer_kind, attr, value) {
                                out.extend(holders(&peer, rel));
                            }
                        }
                        return out;
                    }
                }
                _ => {}
            }
        }
        for (path, value) in parts {
            if let Path::Two(attr, _) = Path::of(path) {
                return self.ids_by_attr(kind, attr, value);
            }
        }
        self.ids_of_kind(kind)
    }

    /// A superset of the nodes of `kind` whose relationship `rel` points at `peer` and
    /// whose attribute `attr` has the text form `key` (the caller checks each): committed
    /// rows joined in SQL from the peer's edges, plus this transaction's nodes given that
    /// value or pointed at the peer.
    pub fn holders_with_attr(
        &self,
        peer: &str,
        rel: &str,
        kind: &str,
        attr: &str,
        key: &str,
    ) -> BTreeSet<String> {
        let mut out = if self.created_here(peer) {
            BTreeSet::new()
        } else {
            self.committed_holders_with_attr(peer, rel, kind, attr, key)
                .unwrap_or_else(|e| self.failed(e))
        };
        // This transaction's holders: the nodes with an edge change towards the peer, and
        // the existing nodes given the value (their edge may be committed). A node created
        // here is among the first when it points at the peer, and among the second when it
        // has the value: either set finds it, so the smaller is read — a device's few new
        // interfaces named `Ethernet1` rather than its 64 new interfaces, a namespace's one
        // new prefix with this value rather than every new prefix in it.
        let (given_existing, given_created) = self.given_sets(kind, attr, key).unwrap_or_default();
        let towards = self.pending_towards.get(peer);
        let pointing = |srcs: &BTreeSet<(String, String)>| -> Vec<String> {
            srcs.iter()
                .filter(|(_, src_rel)| src_rel == rel)
                .map(|(src, _)| src.clone())
                .collect()
        };
        out.extend(given_existing.iter().map(NodeId::to_string));
        if let Some(t) = towards {
            out.extend(pointing(&t.existing));
        }
        match towards {
            Some(t) if t.created.len() <= given_created.len() => out.extend(pointing(&t.created)),
            _ => out.extend(given_created.iter().map(NodeId::to_string)),
        }
        out
    }

    fn committed_holders_with_attr(
        &self,
        peer: &str,
        rel: &str,
        kind: &str,
        attr: &str,
        key: &str,
    ) -> rusqlite::Result<BTreeSet<String>> {
        let Some(r) = self.schema.get(kind).and_then(|k| k.relationship(rel)) else {
            return Ok(BTreeSet::new());
        };
        let mut out = BTreeSet::new();
        for &holder_at_src in self.schema.link_end(r).reads() {
            // From the peer's rows when it has few (a device's interfaces); from the
            // attribute's value otherwise (a namespace holds every prefix, but few have this
            // one). The count stops at the threshold, so deciding costs at most that.
            let count = if holder_at_src {
                "SELECT COUNT(*) FROM (SELECT 1 FROM link WHERE dst = ?1 AND +branch IN ('main', ?2) LIMIT 256)"
            } else {
                "SELECT COUNT(*) FROM (SELECT 1 FROM link WHERE src = ?1 AND +branch IN ('main', ?2) LIMIT 256)"
            };
            let few: i64 = self
                .conn
                .prepare_cached(count)?
                .query_row(params![Id::of(peer), self.branch], |r| r.get(0))?;
            // `CROSS JOIN` keeps that order: SQLite never reorders its operands.
            let sql = match (holder_at_src, few < 256) {
                (true, true) => {
                    "SELECT DISTINCT l.src FROM link l CROSS JOIN value_key a ON a.id = l.src \
                     WHERE l.dst = ?1 AND l.rel = ?2 AND l.branch IN ('main', ?5) AND l.live = 1 \
                     AND a.attr = (SELECT n FROM attr_name WHERE kind = ?3 AND name = ?4) \
                     AND a.key = ?6 AND a.branch IN ('main', ?5)"
                }
                (true, false) => {
                    "SELECT DISTINCT a.id FROM value_key a CROSS JOIN link l ON l.src = a.id \
                     WHERE a.attr = (SELECT n FROM attr_name WHERE kind = ?3 AND name = ?4) \
                     AND a.key = ?6 AND a.branch IN ('main', ?5) \
                     AND l.rel = ?2 AND l.dst = ?1 AND l.branch IN ('main', ?5) AND l.live = 1"
                }
                (false, true) => {
                    "SELECT DISTINCT l.dst FROM link l CROSS JOIN value_key a ON a.id = l.dst \
                     WHERE l.src = ?1 AND l.rel = ?2 AND l.branch IN ('main', ?5) AND l.live = 1 \
                     AND a.attr = (SELECT n FROM attr_name WHERE kind = ?3 AND name = ?4) \
                     AND a.key = ?6 AND a.branch IN ('main', ?5)"
                }
                (false, false) => {
                    "SELECT DISTINCT a.id FROM value_key a CROSS JOIN link l ON l.dst = a.id \
                     WHERE a.attr = (SELECT n FROM attr_name WHERE kind = ?3 AND name = ?4) \
                     AND a.key = ?6 AND a.branch IN ('main', ?5) \
                     AND l.rel = ?2 AND l.src = ?1 AND l.branch IN ('main', ?5) AND l.live = 1"
                }
            };
            let mut st = self.conn.prepare_cached(sql)?;
            let rel = self.rel_number(&r.identifier)?;
            for id in st.query_map(
                params![Id::of(peer), rel, kind, attr, self.branch, key],
                |r| Ok(r.get::<_, Stored>(0)?.0),
            )? {
                out.insert(id?);
            }
        }
        Ok(out)
    }

    /// The nodes of `kind` whose relationship `rel` points at `peer`.
    pub fn holders(&self, peer: &str, rel: &str, kind: &str) -> BTreeSet<String> {
        self.incoming_where(peer, Some((rel, kind)))
            .into_iter()
            .map(|(src, _)| src)
            .collect()
    }

    /// Nodes of `kind` (or its concrete kinds) **without an HFID** whose
    /// `default_filter` attribute (`name__value`) equals `value`: how a
    /// reference by name finds a group, which has a default filter but no HFID.
    pub fn find_by_default_filter(&self, kind: &str, value: &str) -> Vec<Arc<Node>> {
        self.default_filter_matches(kind, value, false)
    }

    /// Nodes of `kind` (or its concrete kinds), with or without an HFID, whose
    /// `default_filter` attribute equals `value`: how Infrahub resolves a related node given
    /// as `{id: "<not a node id>"}` (the SDK sends `{id: "devices"}` for
    /// `member_of_groups=["devices"]`).
    pub fn find_by_default_filter_any(&self, kind: &str, value: &str) -> Vec<Arc<Node>> {
        self.default_filter_matches(kind, value, true)
    }

    fn default_filter_matches(&self, kind: &str, value: &str, with_hfid: bool) -> Vec<Arc<Node>> {
        let mut out = Vec::new();
        for concrete in self.schema.concrete_kinds(kind) {
            let Some(k) = self.schema.get(concrete) else {
                continue;
            };
            if k.human_friendly_id.is_some() && !with_hfid {
                continue;
            }
            let Some(attr) = k
                .default_filter
                .as_deref()
                .and_then(|filter| filter.strip_suffix("__value"))
            else {
                continue;
            };
            for id in self.ids_by_attr(concrete, attr, value).iter() {
                if let Some(n) = self.get(id) {
                    out.push(n);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements loading a committed node look its rows up by their key's prefix and
    /// build no temporary index on the way (see [`NODE_ROWS_OF_ID`]): `OpenEphemeral` is
    /// that index, and a plan without the key is a scan of the table.
    #[test]
    fn a_node_is_loaded_without_a_temporary_index_per_lookup() {
        let db = crate::persistence::Db::open(":memory:").expect("an in-memory store");
        let column =
            |sql: &str, column: usize| crate::persistence::column_of_rows(&db.conn, sql, column);
        // A row read with every identifier names it through its number, the row's own key.
        const BY_NUMBER: &str = "USING INTEGER PRIMARY KEY (rowid=?)";
        let statements = [
            (NODE_ROWS_OF_ID, &["USING PRIMARY KEY (id=?)"][..]),
            (attrs::ATTRS_OF_ID, &["USING PRIMARY KEY (id=?)"]),
            (
                links::LINK_ROWS_OF_KEY,
                &["USING PRIMARY KEY (src=? AND rel=? AND dst=?)"],
            ),
            (links::LINKS_FROM, &["USING PRIMARY KEY (src=? AND rel=?)"]),
            (
                links::LINKS_TO,
                &["USING COVERING INDEX link_in (dst=? AND rel=?)"],
            ),
            (
                links::LINKS_AT_NODE,
                &[
                    "USING PRIMARY KEY (src=?)",
                    BY_NUMBER,
                    "USING COVERING INDEX link_in (dst=?)",
                    BY_NUMBER,
                ],
            ),
        ];
        let of_node = links::links_of_node(2, 1).expect("a statement");
        let statements = statements.into_iter().chain([(
            of_node.as_str(),
            &[
                "USING PRIMARY KEY (src=? AND rel=?)",
                "USING PRIMARY KEY (src=? AND rel=?)",
                "USING COVERING INDEX link_in (dst=? AND rel=?)",
            ][..],
        )]);
        for (sql, searches) in statements {
            let opcodes = column(&format!("EXPLAIN {sql}"), 1);
            assert!(
                !opcodes.iter().any(|op| op == "OpenEphemeral"),
                "{sql}: {opcodes:?}"
            );
            let plan = column(&format!("EXPLAIN QUERY PLAN {sql}"), 3);
            let searched: Vec<&String> = plan.iter().filter(|s| s.starts_with("SEARCH")).collect();
            assert_eq!(searched.len(), searches.len(), "{sql}: {plan:?}");
            for (step, search) in searched.iter().zip(searches) {
                assert!(step.ends_with(search), "{sql}: {plan:?}");
            }
            assert!(
                !plan.iter().any(|s| s.starts_with("SCAN")),
                "{sql}: {plan:?}"
            );
        }
    }

    fn node(id: &str, name: &str) -> Option<Arc<Node>> {
        let mut n = Node::new("DcimDevice");
        n.id = id.into();
        n.attrs.insert("name".into(), Value::String(name.into()));
        Some(Arc::new(n))
    }

    /// What a commit writes rows for: each edge added once, in the order first added (one
    /// removed since among them, for its row to go), then the edges only removed, by key.
    #[test]
    fn a_transaction_s_changed_edges_are_listed_once_in_the_order_made() {
        let strings = |(rel, peer): &(&str, &str)| (rel.to_string(), NodeId::new(peer));
        let p = Pending {
            kind: "DcimDevice".into(),
            added: [
                ("interfaces", "d"),
                ("interfaces", "a"),
                ("interfaces", "d"),
                ("location", "x"),
            ]
            .iter()
            .map(strings)
            .collect(),
            edges: [
                (("interfaces", "c"), false),
                (("interfaces", "a"), false),
                (("interfaces", "d"), true),
                (("interfaces", "b"), false),
                (("location", "x"), true),
            ]
            .iter()
            .map(|(key, present)| (strings(key), *present))
            .collect(),
            ..Pending::default()
        };
        let listed: Vec<(&str, &str)> = p
            .changed_edges()
            .into_iter()
            .map(|(rel, peer)| (rel.as_str(), peer.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                ("interfaces", "d"),
                ("interfaces", "a"),
                ("location", "x"),
                ("interfaces", "b"),
                ("interfaces", "c"),
            ]
        );
    }

    #[test]
    fn the_peers_appended_are_the_same_found_by_hash_or_by_looking() {
        let mut n = Node::new("DcimDevice");
        n.rels.insert(
            "interfaces".into(),
            vec!["a".into(), "b".into(), "c".into()],
        );
        let pending = |added: &[(&str, &str)], edges: &[(&str, &str, bool)]| Pending {
            kind: "DcimDevice".into(),
            added: added
                .iter()
                .map(|(rel, peer)| (rel.to_string(), NodeId::new(peer)))
                .collect(),
            edges: edges
                .iter()
                .map(|(rel, peer, live)| ((rel.to_string(), NodeId::new(peer)), *live))
                .collect(),
            ..Pending::default()
        };
        let many: Vec<(String, String)> = (0..20)
            .map(|i| ("interfaces".to_owned(), format!("p{}", i % 7)))
            .chain([("interfaces".to_owned(), "b".to_owned())])
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(r, p)| (r.as_str(), p.as_str())).collect();
        let many_edges: Vec<(&str, &str, bool)> = ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]
            .into_iter()
            .map(|peer| ("interfaces", peer, peer != "p3"))
            .chain([("interfaces", "b", true)])
            .collect();
        let cases: Vec<(Pending, Vec<(&str, &str)>)> = vec![
            // A new peer.
            (
                pending(&[("interfaces", "d")], &[("interfaces", "d", true)]),
                vec![("interfaces", "d")],
            ),
            // Already listed: stays where it is.
            (
                pending(&[("interfaces", "b")], &[("interfaces", "b", true)]),
                vec![],
            ),
            // Added twice: once.
            (
                pending(
                    &[
                        ("interfaces", "d"),
                        ("interfaces", "e"),
                        ("interfaces", "d"),
                    ],
                    &[("interfaces", "d", true), ("interfaces", "e", true)],
                ),
                vec![("interfaces", "d"), ("interfaces", "e")],
            ),
            // Added, then removed again.
            (
                pending(
                    &[("interfaces", "d"), ("interfaces", "e")],
                    &[("interfaces", "d", false), ("interfaces", "e", true)],
                ),
                vec![("interfaces", "e")],
            ),
            // Another relationship, whose list is empty.
            (
                pending(
                    &[("tags", "a"), ("interfaces", "a"), ("tags", "x")],
                    &[
                        ("tags", "a", true),
                        ("interfaces", "a", true),
                        ("tags", "x", true),
                    ],
                ),
                vec![("tags", "a"), ("tags", "x")],
            ),
            // More than a few: p0..p6 once each in order, but p3 (removed) and b (listed).
            (
                pending(&many, &many_edges),
                vec![
                    ("interfaces", "p0"),
                    ("interfaces", "p1"),
                    ("interfaces", "p2"),
                    ("interfaces", "p4"),
                    ("interfaces", "p5"),
                    ("interfaces", "p6"),
                ],
            ),
        ];
        for (p, expected) in &cases {
            assert_eq!(&appended_peers(&n, p, true), expected, "hashed: {p:?}");
            assert_eq!(&appended_peers(&n, p, false), expected, "looked for: {p:?}");
        }
    }

    #[test]
    fn a_path_splits_as_str_split_splits_it() {
        for path in [
            "",
            "name",
            "name__value",
            "device__name__value",
            "a__b__c__d",
            "a___b",
            "a____b",
            "__value",
            "name__",
            "_",
            "__",
            "é__ü__value",
        ] {
            let expected: Vec<&str> = path.split("__").collect();
            let path_of = Path::of(path);
            let got = match path_of {
                Path::One(a) => vec![a],
                Path::Two(a, b) => vec![a, b],
                Path::Three(a, b, c) => vec![a, b, c],
                Path::Longer => {
                    assert!(expected.len() > 3, "{path:?}: {expected:?}");
                    continue;
                }
            };
            assert_eq!(got, expected, "{path:?}");
            assert_eq!(path_of.segments(), expected.len(), "{path:?}");
        }
    }

    #[test]
    fn a_reader_uses_the_cache_only_in_the_epoch_its_snapshot_began_in() {
        let cache = NodeCache::default();
        cache.put("main", "a", node("a", "old"), None);
        let seen = cache.reader_epoch().expect("no write under way");
        assert_eq!(cache.get("main", "a", Some(seen)), Some(node("a", "old")));
        cache.begin_write();
        // While a write is under way, a new reader uses no cache, and one that began before
        // neither reads (its snapshot may now be older than the cache) nor keeps anything
        // (what it read may be what the write replaces).
        assert_eq!(cache.reader_epoch(), None);
        assert_eq!(cache.get("main", "a", Some(seen)), None);
        cache.put("main", "b", node("b", "read before"), Some(seen));
        cache.settle(
            "main",
            vec![("a".into(), Settled::Everywhere(Some(node("a", "new"))))],
        );
        cache.end_write(true);
        cache.put("main", "b", node("b", "read before"), Some(seen));
        assert_eq!(cache.get("main", "b", None), None);
        let now = cache.reader_epoch().expect("the write ended");
        assert_ne!(now, seen);
        assert_eq!(cache.get("main", "a", Some(now)), Some(node("a", "new")));
        assert_eq!(cache.get("main", "a", None), Some(node("a", "new")));
    }

    fn free_key(first: u128, last: u128, size: u128) -> FreeKey {
        FreeKey {
            branch: "main".into(),
            ns: String::new(),
            family: 4,
            is_addr: false,
            first,
            last,
            size,
        }
    }

    #[test]
    fn a_reader_uses_a_free_space_hint_only_in_the_epoch_its_snapshot_began_in() {
        let cache = NodeCache::default();
        let key = free_key(0, 255, 2);
        cache.settle_free(&[], vec![(key.clone(), 16)]);
        let seen = cache.reader_epoch().expect("no write under way");
        assert_eq!(cache.free_hint(&key, Some(seen)), Some(16));
        assert_eq!(cache.free_hint(&key, None), Some(16));
        cache.begin_write();
        // The write may change where free space starts: a reader whose snapshot began
        // before it does not take the hint, before or after the write ends.
        assert_eq!(cache.free_hint(&key, Some(seen)), None);
        cache.settle_free(&[], vec![(key.clone(), 32)]);
        cache.end_write(true);
        assert_eq!(cache.free_hint(&key, Some(seen)), None);
        let now = cache.reader_epoch().expect("the write ended");
        assert_eq!(cache.free_hint(&key, Some(now)), Some(32));
    }

    #[test]
    fn a_free_space_hint_goes_only_for_a_range_written_below_it() {
        let cache = NodeCache::default();
        let key = free_key(0, 255, 2);
        let hint = |cache: &NodeCache| cache.free_hint(&key, None);
        let range = |freed: bool, family: Option<u8>, lo: u128, hi: u128| IpWrite {
            freed,
            family,
            is_addr: false,
            lo,
            hi,
        };
        // Placed or freed at or above the hint, in the other family, or as addresses: kept.
        for write in [
            range(false, Some(4), 16, 17),
            range(true, Some(4), 40, 47),
            range(true, Some(6), 0, 7),
            IpWrite {
                is_addr: true,
                ..range(true, Some(4), 0, 0)
            },
        ] {
            cache.settle_free(&[], vec![(key.clone(), 16)]);
            cache.settle_free(&[write], Vec::new());
            assert_eq!(hint(&cache), Some(16), "{write:?}");
        }
        // Freed below it (a delete, or a prefix moved away), placed across it, or freed
        // where the range is not known: gone.
        for write in [
            range(true, Some(4), 2, 3),
            range(false, Some(4), 8, 23),
            range(true, None, 0, u128::MAX),
        ] {
            cache.settle_free(&[], vec![(key.clone(), 16)]);
            cache.settle_free(&[write], Vec::new());
            assert_eq!(hint(&cache), None, "{write:?}");
        }
    }

    #[test]
    fn views_in_use_stay_while_the_cache_keeps_at_most_its_capacity() {
        let mut views = CachedViews::default();
        views.put("main", "used", node("used", "used"));
        for i in 0..3 * NodeCache::CAPACITY {
            let id = format!("n{i}");
            views.put("main", &id, node(&id, "once"));
            if i % 1000 == 0 {
                assert!(views.get("used").is_some(), "read again after {i} others");
            }
            assert!(views.newer.len() + views.older.len() <= NodeCache::CAPACITY);
        }
        assert!(views.get("n0").is_none(), "not read again: dropped");
        let last = format!("n{}", 3 * NodeCache::CAPACITY - 1);
        assert_eq!(
            views.get(&last).map(|v| v.clone()),
            Some(vec![("main".to_owned(), node(&last, "once"))])
        );
    }

    #[test]
    fn a_write_that_does_not_commit_leaves_none_of_its_views() {
        let cache = NodeCache::default();
        cache.put("main", "a", node("a", "committed"), None);
        cache.begin_write();
        cache.settle(
            "main",
            vec![(
                "b".into(),
                Settled::Everywhere(Some(node("b", "never committed"))),
            )],
        );
        cache.end_write(false);
        assert_eq!(cache.get("main", "b", None), None);
        // Nothing it left can be told apart, so nothing is kept.
        assert_eq!(cache.get("main", "a", None), None);
        // A write that failed before leaving anything keeps the cache.
        cache.put("main", "a", node("a", "committed"), None);
        cache.begin_write();
        cache.end_write(false);
        assert_eq!(cache.get("main", "a", None), Some(node("a", "committed")));
    }

    #[test]
    fn a_commit_on_a_branch_changes_that_branch_s_views_alone_and_one_on_main_every_branch_s() {
        let cache = NodeCache::default();
        for branch in ["main", "br1", "br2"] {
            cache.put(branch, "a", node("a", branch), None);
        }
        cache.begin_write();
        cache.settle("br1", vec![("a".into(), Settled::Here(None))]);
        cache.end_write(true);
        assert_eq!(cache.get("br1", "a", None), None);
        assert_eq!(cache.get("main", "a", None), Some(node("a", "main")));
        assert_eq!(cache.get("br2", "a", None), Some(node("a", "br2")));
        cache.begin_write();
        cache.settle("br2", vec![("a".into(), Settled::Here(Some(None)))]);
        cache.settle(
            "main",
            vec![("b".into(), Settled::Everywhere(Some(node("b", "main"))))],
        );
        cache.end_write(true);
        assert_eq!(cache.get("br2", "a", None), Some(None), "deleted on br2");
        cache.begin_write();
        cache.settle(
            "main",
            vec![("a".into(), Settled::Everywhere(Some(node("a", "new"))))],
        );
        cache.end_write(true);
        assert_eq!(cache.get("main", "a", None), Some(node("a", "new")));
        assert_eq!(cache.get("br2", "a", None), None);
        assert_eq!(cache.get("main", "b", None), Some(node("b", "main")));
    }

    /// A `StrPair` borrowed from two `&str` finds exactly the owned keys equal to it,
    /// whichever way the two parts split: the borrowed order must be the owned one.
    #[test]
    fn an_edge_is_found_by_borrowed_parts_as_by_owned_ones() {
        let owned = |a: &str, b: &str| (a.to_owned(), NodeId::new(b));
        let keys = [
            ("a", "b"),
            ("ab", ""),
            ("a", ""),
            ("", "ab"),
            ("b", "a"),
            ("a", "bc"),
        ];
        let edges: BTreeMap<EdgeKey, bool> = keys
            .iter()
            .enumerate()
            .map(|(at, (a, b))| (owned(a, b), at % 2 == 0))
            .collect();
        let p = Pending {
            edges,
            ..Pending::default()
        };
        for (at, (a, b)) in keys.iter().enumerate() {
            assert_eq!(p.edge(a, b), Some(at % 2 == 0), "{a:?} {b:?}");
        }
        for (a, b) in [("", ""), ("ab", "c"), ("b", ""), ("a", "c")] {
            assert_eq!(p.edge(a, b), None, "{a:?} {b:?}");
        }
    }

    /// An in-memory store whose schema has one kind, `TestWidget`: a unique `name` and
    /// `parts`, other widgets.
    fn widget_store() -> crate::Store {
        let store = crate::Store::in_memory().expect("a store");
        store
            .load_schema(&[(
                "w.yml".into(),
                "version: '1.0'\nnodes:\n  - name: Widget\n    namespace: Test\n    \
                 attributes:\n      - name: name\n        kind: Text\n        unique: true\n    \
                 relationships:\n      - name: parts\n        peer: TestWidget\n        \
                 cardinality: many\n        optional: true\n"
                    .into(),
            )])
            .expect("the schema loads");
        store
    }

    /// The id of a new widget named `name` on main, with `part` among its parts.
    fn create_widget(store: &crate::Store, name: &str, part: Option<&str>) -> String {
        let parts = part.map_or(String::new(), |id| format!(", parts: [{{id: \"{id}\"}}]"));
        let created = store.execute_blocking(
            MAIN,
            &crate::GraphqlRequest::new(format!(
                "mutation {{ w: TestWidgetCreate(data: {{name: {{value: \"{name}\"}}{parts}}}) \
                 {{ object {{ id }} }} }}"
            )),
        );
        created["data"]["w"]["object"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_owned()
    }

    /// The pending nodes found by value are those holding it now, whether the lookup comes
    /// before or after they were written (the attribute is indexed when first looked up, and
    /// by every write after), and after a rollback restores an older value: a widget renamed
    /// after a checkpoint, looked up (which indexes `name`), then rolled back, is found by
    /// its name again, and no longer by the name undone.
    #[test]
    fn pending_nodes_are_found_by_the_values_they_hold_before_and_after_a_lookup_and_a_rollback() {
        let store = widget_store();
        let committed = create_widget(&store, "kept", None);
        store
            .read_op(|conn, schema| {
                let mut tx = store.tx(conn, schema, MAIN);
                let found = |tx: &Tx<'_>, name: &str| -> Vec<String> {
                    tx.ids_by_attr("TestWidget", "name", name)
                        .into_iter()
                        .collect()
                };
                let widget = |name: &str| {
                    let mut n = Node::new("TestWidget");
                    n.attrs.insert("name".into(), Value::String(name.into()));
                    n
                };
                let first = widget("w1");
                let first_id = first.id.to_string();
                tx.note_fresh(&first_id);
                tx.put(first);
                let checkpoint = tx.checkpoint();
                let mut renamed = (*tx.get(&first_id).expect("w1 is pending")).clone();
                renamed
                    .attrs
                    .insert("name".into(), Value::String("w2".into()));
                tx.put(renamed);
                // The first lookup of `name`: indexed from the pending widgets now.
                assert_eq!(found(&tx, "w2"), [first_id.as_str()]);
                assert!(found(&tx, "w1").is_empty());
                assert_eq!(found(&tx, "kept"), [committed.as_str()]);
                // A widget written after the lookup is indexed as it is written.
                let second = widget("w3");
                let second_id = second.id.to_string();
                tx.note_fresh(&second_id);
                tx.put(second);
                assert_eq!(found(&tx, "w3"), [second_id.as_str()]);
                tx.rollback_to(checkpoint);
                assert_eq!(found(&tx, "w1"), [first_id.as_str()]);
                assert!(found(&tx, "w2").is_empty());
                assert!(found(&tx, "w3").is_empty());
                assert_eq!(found(&tx, "kept"), [committed.as_str()]);
                Ok::<_, StoreError>(())
            })
            .expect("the read");
    }

    /// A node read for its attributes alone is made once per transaction while nothing
    /// pending changes it (every node made with a profile reads the profile), is the
    /// transaction's own view where it has one, and shows a pending change as soon as there
    /// is one.
    #[test]
    fn a_node_s_attributes_are_shared_until_the_transaction_changes_them() {
        let store = widget_store();
        let a = create_widget(&store, "a", None);
        create_widget(&store, "b", Some(&a));
        store
            .read_op(|conn, schema| {
                let mut tx = store.tx(conn, schema, MAIN);
                let first = tx.attributes_of(&a).expect("a's attributes");
                let again = tx.attributes_of(&a).expect("a's attributes");
                assert!(Arc::ptr_eq(&first, &again), "made once");
                assert!(first.rels.is_empty(), "its peers are not read: {first:?}");
                let whole = tx.get(&a).expect("a is there");
                assert!(!whole.rels.is_empty(), "a has its peer: {whole:?}");
                assert_eq!(first.attrs, whole.attrs);
                let viewed = tx.attributes_of(&a).expect("a's attributes");
                assert!(Arc::ptr_eq(&viewed, &whole), "the view itself, not a copy");
                let mut changed = (*whole).clone();
                changed
                    .attrs
                    .insert("name".into(), Value::String("a2".into()));
                tx.put(changed);
                let now = tx.attributes_of(&a).expect("a's attributes");
                assert_eq!(now.attr("name"), &Value::String("a2".into()));
                assert!(now.rels.is_empty());
                Ok::<_, StoreError>(())
            })
            .expect("the read");
    }

    /// A node the transaction links others to, without changing its values (a profile as
    /// each new interface is made with it), keeps the attributes read before: the same
    /// shared node, not a lookup again. A value changed after shows; a deletion hides it.
    #[test]
    fn a_node_s_attributes_stay_shared_while_only_its_edges_change() {
        let store = widget_store();
        let [a, b, c] = ["a", "b", "c"].map(|name| create_widget(&store, name, None));
        let (a, b, c) = (&a, &b, &c);
        // `a` has a peer already: its attributes alone are a node of their own.
        create_widget(&store, "d", Some(a));
        store
            .read_op(|conn, schema| {
                let mut tx = store.tx(conn, schema, MAIN);
                let first = tx.attributes_of(a).expect("a's attributes");
                assert!(first.rels.is_empty(), "its peers are not read: {first:?}");
                tx.add_edge(a, "parts", b);
                tx.add_edge(a, "parts", c);
                let linked = tx.attributes_of(a).expect("a's attributes");
                assert!(Arc::ptr_eq(&first, &linked), "the attributes read before");
                assert_eq!(linked.attr("name"), &Value::String("a".into()));
                let mut renamed = (*tx.get(a).expect("a is there")).clone();
                assert_eq!(renamed.peers("parts").len(), 3, "{renamed:?}");
                assert!(
                    renamed
                        .peers("parts")
                        .ends_with(&[NodeId::new(b), NodeId::new(c)])
                );
                renamed
                    .attrs
                    .insert("name".into(), Value::String("a2".into()));
                tx.put(renamed);
                let now = tx.attributes_of(a).expect("a's attributes");
                assert_eq!(now.attr("name"), &Value::String("a2".into()));
                tx.delete(a);
                assert!(tx.attributes_of(a).is_none(), "deleted: no attributes");
                Ok::<_, StoreError>(())
            })
            .expect("the read");
    }
}
