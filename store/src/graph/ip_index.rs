//! The IPAM index: every IP prefix and address as a range of numbers, so containment and free
//! space are answered by range scans and point probes on an index instead of reading every
//! prefix of a namespace.
//!
//! `ip (id, branch, ns, family, is_addr, lo, hi, plen, live)`: `lo`/`hi` are the first and
//! last address as 16 big-endian bytes (so byte order is numeric order); `ns` is the node's
//! `ip_namespace` peer, empty when unset (the default namespace). Like the other tables,
//! `main` has a row per node and a branch a row per node whose value it changed (`live = 0`
//! for a node it deleted). The rows are written by [`Tx::finish`] from the nodes' final state,
//! so they can never disagree with the `prefix`/`address` attributes.

use super::{FreeKey, IpWrite, MAIN, Tx};
use crate::NodeId;
use crate::ip::{IpWithPrefix, from_u128, to_u128};
use crate::ipam::{ADDRESS_GENERIC, PREFIX_GENERIC};
use crate::node::Node;
use crate::schema::BranchSupport;
use crate::stored_id::{Id, Stored};
use rusqlite::{OptionalExtension, params};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One indexed prefix or address.
#[derive(Debug, Clone)]
pub(crate) struct IpEntry {
    /// The node's id.
    pub id: String,
    /// Its `ip_namespace` peer (empty: the default namespace).
    pub ns: String,
    /// Its value (for an address, the address with its own prefix length).
    pub value: IpWithPrefix,
}

/// Where a node stood in the IP index before a commit ([`Tx::ip_before`]), for what writing
/// its row frees ([`Tx::write_ip_row`]).
pub(super) enum IpBefore {
    /// Nowhere: created by the transaction, or neither a prefix nor an address before.
    Nowhere,
    /// At this entry (an address: `true`).
    At(IpEntry, bool),
    /// Not known (the index rebuilt): its write may have freed space anywhere.
    Unknown,
}

fn bytes(v: u128) -> [u8; 16] {
    v.to_be_bytes()
}

fn number(b: &[u8]) -> u128 {
    let mut a = [0u8; 16];
    let n = b.len().min(16);
    a[16 - n..].copy_from_slice(&b[b.len() - n..]);
    u128::from_be_bytes(a)
}

/// A transaction's pending prefixes and addresses by where they start, kept as they are
/// written: [`Tx::ip_range`] and [`Tx::free_from`] look here instead of reading every
/// pending node, which made the thousandth allocation of one run read the 999 before it
/// (3,000 allocations in one run took 2.4 s, ~90% of it in that scan).
#[derive(Clone, Debug, Default)]
pub(crate) struct PendingIps {
    /// (family, is an address, first address, id) → last address, for every pending prefix
    /// or address this transaction has not deleted.
    by_start: BTreeMap<(u8, bool, u128, String), u128>,
    /// Each indexed id's key in `by_start`.
    keys: HashMap<String, (u8, bool, u128)>,
    /// Pending prefixes (`[0]`) and addresses (`[1]`) that exist outside this
    /// transaction: changed or deleted here, they may free space no hint knows of.
    existing: [HashSet<String>; 2],
}

impl PendingIps {
    /// Whether this transaction wrote or deleted `id`, a prefix or an address.
    fn tracks(&self, id: &str) -> bool {
        self.keys.contains_key(id) || self.existing.iter().any(|set| set.contains(id))
    }

    fn remove(&mut self, id: &str) {
        if let Some((family, is_addr, first)) = self.keys.remove(id) {
            self.by_start
                .remove(&(family, is_addr, first, id.to_owned()));
        }
        for set in &mut self.existing {
            set.remove(id);
        }
    }

    /// The pending ids of `family` and kind (`is_addr`) starting in `[lo, hi]`, by start.
    fn starting_in(
        &self,
        family: u8,
        is_addr: bool,
        lo: u128,
        hi: u128,
    ) -> impl Iterator<Item = &String> {
        self.by_start
            .range((family, is_addr, lo, String::new())..)
            .take_while(move |((f, a, first, _), _)| (*f, *a) == (family, is_addr) && *first <= hi)
            .map(|((_, _, _, id), _)| id)
    }

    /// Whether a pending prefix of `family` starts below `at` and reaches it. Prefixes
    /// nest or are disjoint, so such a prefix starts at `at` rounded down to its own size:
    /// one probe per prefix length.
    fn spans(&self, family: u8, at: u128) -> bool {
        let bits: u32 = if family == 4 { 32 } else { 128 };
        (0..bits).any(|host_bits| {
            let Some(size) = 1u128.checked_shl(host_bits + 1) else {
                return false;
            };
            let first = at - at % size;
            first < at
                && self
                    .by_start
                    .range((family, false, first, String::new())..)
                    .take_while(|((f, a, start, _), _)| (*f, *a, *start) == (family, false, first))
                    .any(|(_, last)| *last >= at)
        })
    }
}

/// The attribute that holds an IP kind's value, and whether it is an address.
fn ip_attr(tx: &Tx<'_>, kind: &str) -> Option<(&'static str, bool)> {
    if tx.schema.is_a(kind, PREFIX_GENERIC) {
        Some(("prefix", false))
    } else if tx.schema.is_a(kind, ADDRESS_GENERIC) {
        Some(("address", true))
    } else {
        None
    }
}

fn entry_of(tx: &Tx<'_>, node: &Node) -> Option<(IpEntry, bool)> {
    let (attr, is_addr) = ip_attr(tx, &node.kind)?;
    let value = IpWithPrefix::parse(node.attr(attr).as_str()?).ok()?;
    let ns = node
        .peers("ip_namespace")
        .first()
        .map(String::from)
        .unwrap_or_default();
    Some((
        IpEntry {
            id: node.id.to_string(),
            ns,
            value,
        },
        is_addr,
    ))
}

fn range_of(value: &IpWithPrefix, is_addr: bool) -> (u128, u128) {
    if is_addr {
        let a = to_u128(value.addr);
        (a, a)
    } else {
        (value.first(), value.last())
    }
}

/// Fill the index from the graph, on main and on every branch: for a store written before the
/// index existed. Idempotent.
pub(crate) fn rebuild(
    conn: &rusqlite::Connection,
    schema: &crate::schema::Schema,
    branches: &[String],
) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM ip", [])?;
    let kinds: Vec<&String> = [PREFIX_GENERIC, ADDRESS_GENERIC]
        .into_iter()
        .flat_map(|generic| schema.concrete_kinds(generic))
        .collect();
    let main = Tx::new(conn, schema, MAIN);
    for kind in kinds.iter().copied() {
        for id in main.ids_of_kind(kind) {
            main.write_ip_row(&id, kind, false, IpBefore::Unknown)?;
        }
    }
    // The identifiers of the prefixes' and addresses' `ip_namespace`.
    let namespace_of = |generic: &str| {
        schema
            .get(generic)
            .and_then(|k| k.relationship("ip_namespace"))
            .map(|r| r.identifier.clone())
            .unwrap_or_default()
    };
    let (prefixes, addresses) = (namespace_of(PREFIX_GENERIC), namespace_of(ADDRESS_GENERIC));
    for branch in branches {
        let tx = Tx::new(conn, schema, branch);
        let mut st = conn.prepare(
            "SELECT id FROM node WHERE branch = ?1 UNION SELECT id FROM attrs WHERE branch = ?1 \
             AND (json_type(data, '$.prefix') IS NOT NULL OR json_type(data, '$.address') IS NOT NULL) \
             UNION SELECT src FROM link WHERE branch = ?1 \
             AND rel IN (SELECT n FROM rel_name WHERE name IN (?2, ?3)) \
             UNION SELECT dst FROM link WHERE branch = ?1 \
             AND rel IN (SELECT n FROM rel_name WHERE name IN (?2, ?3))",
        )?;
        let ids: Vec<String> = st
            .query_map(rusqlite::params![branch, prefixes, addresses], |r| {
                Ok(r.get::<_, Stored>(0)?.0)
            })?
            .collect::<rusqlite::Result<_>>()?;
        for id in ids {
            let kind: Option<(String, bool)> = conn
                .prepare_cached("SELECT kind, branch = 'main' FROM node WHERE id = ?1 ORDER BY branch = 'main' DESC LIMIT 1")?
                .query_row([Id::of(&id)], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((kind, on_main)) = kind
                && kinds.contains(&&kind)
            {
                tx.write_ip_row(&id, &kind, !on_main, IpBefore::Unknown)?;
            }
        }
    }
    Ok(())
}

impl Tx<'_> {
    /// Where node `id` stood in the IP index before this transaction, when writing `p` may
    /// move it (`None`: it does not, or its kind is neither a prefix nor an address): read
    /// by [`Tx::finish`] before any row is written, as rows written for another node may be
    /// this one's too.
    pub(super) fn ip_before(&self, id: &str, p: &super::Pending) -> Option<IpBefore> {
        let (attr, _) = ip_attr(self, &p.kind)?;
        if p.created {
            return Some(IpBefore::Nowhere);
        }
        let touched = p.deleted
            || p.attrs.contains_key(attr)
            || p.edges.keys().any(|(rel, _)| rel == "ip_namespace");
        touched.then(|| match self.committed(id) {
            Some(node) => match entry_of(self, &node) {
                Some((entry, is_addr)) => IpBefore::At(entry, is_addr),
                None => IpBefore::Nowhere,
            },
            None => IpBefore::Unknown,
        })
    }

    /// Write the index rows of a node this transaction changed (called by `finish`, after the
    /// node's own rows); `before`: where it stood in the index before.
    ///
    /// Answers what changed, for the pools' free-space hints: the range freed, where the node
    /// stood before, and the range placed, where it stands now. A write that leaves the node
    /// where it was (an upsert of the same prefix) changes nothing.
    pub(super) fn write_ip_row(
        &self,
        id: &str,
        kind: &str,
        created: bool,
        before: IpBefore,
    ) -> rusqlite::Result<Vec<IpWrite>> {
        let Some((attr, is_addr)) = ip_attr(self, kind) else {
            return Ok(Vec::new());
        };
        let c = self.conn;
        let branch = self.field_branch(kind, attr, created).to_string();
        let entry = self.get(id).and_then(|n| entry_of(self, &n));
        let range = |e: &IpEntry, is_addr: bool, freed: bool| {
            let (lo, hi) = range_of(&e.value, is_addr);
            IpWrite {
                freed,
                family: Some(e.value.version()),
                is_addr,
                lo,
                hi,
            }
        };
        let unmoved = matches!(
            (&before, &entry),
            (IpBefore::At(old, was_addr), Some((new, now_addr)))
                if was_addr == now_addr && old.value == new.value && old.ns == new.ns
        );
        let freed = match &before {
            IpBefore::Nowhere => None,
            IpBefore::At(old, was_addr) => Some(range(old, *was_addr, true)),
            IpBefore::Unknown => Some(IpWrite {
                freed: true,
                family: None,
                is_addr,
                lo: 0,
                hi: u128::MAX,
            }),
        };
        let placed = entry.as_ref().map(|(e, is_addr)| range(e, *is_addr, false));
        let written = if unmoved {
            Vec::new()
        } else {
            freed.into_iter().chain(placed).collect()
        };
        match entry {
            Some((e, is_addr)) => {
                let (lo, hi) = range_of(&e.value, is_addr);
                c.prepare_cached(
                    "INSERT OR REPLACE INTO ip (id, branch, ns, family, is_addr, lo, hi, plen, live) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)",
                )?
                .execute(params![
                    Id::of(id),
                    branch,
                    e.ns,
                    e.value.version(),
                    is_addr,
                    bytes(lo).as_slice(),
                    bytes(hi).as_slice(),
                    e.value.prefixlen
                ])?;
            }
            None if branch == MAIN || created => {
                if self.support(kind) == BranchSupport::Agnostic {
                    c.prepare_cached("DELETE FROM ip WHERE id = ?1")?
                        .execute([Id::of(id)])?;
                } else {
                    c.prepare_cached("DELETE FROM ip WHERE id = ?1 AND branch = ?2")?
                        .execute(params![Id::of(id), branch])?;
                }
            }
            None => {
                c.prepare_cached(
                    "INSERT OR REPLACE INTO ip (id, branch, ns, family, is_addr, lo, hi, plen, live) \
                     VALUES (?1, ?2, '', 0, 0, x'', x'', 0, 0)",
                )?
                .execute(params![Id::of(id), branch])?;
            }
        }
        Ok(written)
    }

    /// Keeps [`PendingIps`] in step with the pending node `id` (after a write or a
    /// delete of it): where it now starts and ends, or nothing once deleted. A prefix or
    /// address this transaction wrote before and now deletes or moves frees its old space:
    /// a free-space hint found since counts it as used, so the transaction's hints go.
    pub(super) fn index_pending_ip(&mut self, id: &str) {
        let Some(p) = self.pending.get(id) else {
            self.pending_ips.remove(id);
            return;
        };
        let Some((attr, is_addr)) = ip_attr(self, &p.kind) else {
            return;
        };
        let (created, deleted) = (p.created, p.deleted);
        let value = match p.attrs.get(attr) {
            Some(value) => value.as_str().map(str::to_owned),
            None if !created && !deleted => self
                .committed(id)
                .and_then(|n| n.attr(attr).as_str().map(str::to_owned)),
            None => None,
        };
        let now = value
            .and_then(|v| IpWithPrefix::parse(&v).ok())
            .filter(|_| !deleted)
            .map(|value| {
                let (first, last) = range_of(&value, is_addr);
                ((value.version(), is_addr, first), last)
            });
        let ips = &mut self.pending_ips;
        let before = ips.keys.get(id).and_then(|&(family, is_addr, first)| {
            let last = ips.by_start.get(&(family, is_addr, first, id.to_owned()))?;
            Some(((family, is_addr, first), *last))
        });
        ips.remove(id);
        if !created {
            ips.existing[usize::from(is_addr)].insert(id.to_owned());
        }
        if let Some(((family, is_addr, first), last)) = now {
            ips.keys.insert(id.to_owned(), (family, is_addr, first));
            ips.by_start
                .insert((family, is_addr, first, id.to_owned()), last);
        }
        if before.is_some_and(|before| now != Some(before)) {
            self.staged_free.get_mut().clear();
        }
    }

    /// [`PendingIps`] built again from the pending nodes (after a rollback).
    pub(super) fn reindex_pending_ips(&mut self) {
        self.pending_ips = PendingIps::default();
        let ids: Vec<NodeId> = [PREFIX_GENERIC, ADDRESS_GENERIC]
            .into_iter()
            .flat_map(|generic| self.schema.concrete_kinds(generic))
            .filter_map(|kind| self.pending_by_kind.get(kind))
            .flatten()
            .cloned()
            .collect();
        for id in ids {
            self.index_pending_ip(&id);
        }
    }

    /// Where a search for free space of `key` may start (every aligned block below is
    /// used), if an earlier search on this branch found it and nothing since may have freed
    /// space below it. Never while this transaction changes or removes an existing prefix
    /// or address: what it frees is not in the hint.
    pub fn free_from(&self, key: &FreeKey) -> Option<u128> {
        if !self.pending_ips.existing[usize::from(key.is_addr)].is_empty() {
            return None;
        }
        let staged = self
            .staged_free
            .borrow()
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, at)| *at);
        // On a connection of its own, as the cache's views: only in the epoch its snapshot
        // began in (see `NodeCache`).
        let at = staged.or_else(|| self.shared?.free_hint(key, self.shared_epoch))?;
        // A prefix this transaction creates around used space and past the hint (a /28
        // over allocated /31s) starts below it, where the search from the hint would
        // not look, and covers blocks from it on.
        let spanned = !key.is_addr && self.pending_ips.spans(key.family, at);
        (!spanned).then_some(at)
    }

    /// A search for free space of `key` found `at` free and every block below it used; kept
    /// for later searches when this transaction is written.
    pub fn note_free(&self, key: FreeKey, at: u128) {
        if self.shared.is_some() {
            self.staged_free.borrow_mut().push((key, at));
        }
    }

    /// Every prefix (`is_addr` false) or address of `family` whose first address lies in
    /// `[lo, hi]`, as this transaction sees them, ordered by first address, then prefix length.
    pub fn ip_range(&self, family: u8, is_addr: bool, lo: u128, hi: u128) -> Vec<IpEntry> {
        let mut found: BTreeMap<String, IpEntry> = self
            .committed_ip_range(family, is_addr, lo, hi)
            .unwrap_or_else(|e| self.failed(e))
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
        // A node this transaction wrote or deleted shows as it is now: where the index says,
        // if anywhere. (One pending for an edge only holds its committed value.)
        found.retain(|id, _| !self.pending_ips.tracks(id));
        for id in self.pending_ips.starting_in(family, is_addr, lo, hi) {
            if let Some((e, _)) = self.get(id).and_then(|n| entry_of(self, &n)) {
                found.insert(id.clone(), e);
            }
        }
        let mut out: Vec<IpEntry> = found.into_values().collect();
        out.sort_by(|a, b| {
            (range_of(&a.value, is_addr).0, a.value.prefixlen, &a.id).cmp(&(
                range_of(&b.value, is_addr).0,
                b.value.prefixlen,
                &b.id,
            ))
        });
        out
    }

    fn committed_ip_range(
        &self,
        family: u8,
        is_addr: bool,
        lo: u128,
        hi: u128,
    ) -> rusqlite::Result<Vec<IpEntry>> {
        let (lo, hi) = (bytes(lo), bytes(hi));
        let mut rows: BTreeMap<String, (bool, Option<IpEntry>)> = BTreeMap::new();
        let mut st = self.conn.prepare_cached(
            "SELECT id, branch, ns, lo, plen, live FROM ip \
             WHERE family = ?1 AND is_addr = ?2 AND lo BETWEEN ?3 AND ?4 AND branch IN ('main', ?5)",
        )?;
        let mut q = st.query(params![
            family,
            is_addr,
            lo.as_slice(),
            hi.as_slice(),
            self.branch
        ])?;
        while let Some(r) = q.next()? {
            let id = r.get::<_, Stored>(0)?.0;
            let own = r.get::<_, String>(1)? != MAIN || self.on_main();
            let ns: String = r.get(2)?;
            let first: Vec<u8> = r.get(3)?;
            let plen: u8 = r.get(4)?;
            let live: bool = r.get(5)?;
            let entry = live.then(|| IpEntry {
                id: id.clone(),
                ns,
                value: IpWithPrefix {
                    addr: from_u128(number(&first), family == 4),
                    prefixlen: plen,
                },
            });
            match rows.get(&id) {
                Some((true, _)) if !own => {}
                _ => {
                    rows.insert(id, (own, entry));
                }
            }
        }
        let mut out = Vec::new();
        for (id, (own, entry)) in rows {
            // A main row is shadowed by a branch row outside the range, which this scan
            // did not see: check there is none.
            if !own && !self.on_main() {
                let shadowed = self
                    .conn
                    .prepare_cached("SELECT 1 FROM ip WHERE id = ?1 AND branch = ?2")?
                    .exists(params![Id::of(&id), self.branch])?;
                if shadowed || self.committed_kind(&id).is_none() {
                    continue;
                }
            }
            if let Some(e) = entry {
                out.push(e);
            }
        }
        Ok(out)
    }
}
