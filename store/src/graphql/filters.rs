//! Filter arguments (`ids`, `hfid`, `<attr>__value(s)`, `__isnull`, `<rel>__ids`,
//! `<rel>__<attr>__value(s)`, `any__value`, `partial_match`), ordering (`order_by` of the
//! kind) and pagination (`offset`, `limit`).

use crate::NodeId;
use crate::graph::Tx;
use crate::node::{Node, value_key, value_key_ref};
use crate::schema::{CORE_NODE, Cardinality, KindSchema, RelationshipSchema};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What a condition looks at.
#[derive(Debug, Clone)]
enum Target {
    Attr(String),
    Rel(String),
    RelAttr(String, String),
    Any,
    DisplayLabel,
}

/// How it compares.
#[derive(Debug, Clone)]
enum Op {
    Eq(Value),
    In(Vec<Value>),
    IsNull(bool),
    Ids(Vec<String>),
}

#[derive(Debug, Clone)]
struct Cond {
    target: Target,
    op: Op,
}

/// Parsed filter arguments.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    ids: Option<Vec<String>>,
    hfid: Option<Vec<String>>,
    partial: bool,
    conds: Vec<Cond>,
    offset: usize,
    limit: Option<usize>,
    order_disable: bool,
    isnull: Option<bool>,
}

fn strings(v: &Value, arg: &str) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|x| value_key(x).ok_or_else(|| format!("{arg}: null is not allowed in the list")))
            .collect(),
        other => value_key(other)
            .map(|s| vec![s])
            .ok_or_else(|| format!("{arg}: expected a list")),
    }
}

fn count(v: &Value, arg: &str) -> Result<usize, String> {
    match v {
        Value::Null => Ok(0),
        Value::Number(n) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| format!("Int cannot represent non-integer value for '{arg}': {n}")),
        other => Err(format!(
            "Int cannot represent non-integer value for '{arg}': {other}"
        )),
    }
}

impl Filters {
    /// Read the arguments of a kind field (already checked against the kind by validation).
    pub fn parse(args: &Map<String, Value>, k: &KindSchema) -> Result<Self, String> {
        let mut f = Filters::default();
        for (name, v) in args {
            match name.as_str() {
                "offset" => f.offset = count(v, name)?,
                "limit" => {
                    f.limit = if v.is_null() {
                        None
                    } else {
                        Some(count(v, name)?)
                    }
                }
                "ids" => {
                    f.ids = if v.is_null() {
                        None
                    } else {
                        Some(strings(v, name)?)
                    }
                }
                "hfid" => {
                    f.hfid = if v.is_null() {
                        None
                    } else {
                        Some(strings(v, name)?)
                    }
                }
                "partial_match" => f.partial = v.as_bool().unwrap_or(false),
                "isnull" => f.isnull = v.as_bool(),
                "order" => {
                    f.order_disable = v.get("disable").and_then(Value::as_bool).unwrap_or(false)
                }
                "any__value" => f.conds.push(Cond {
                    target: Target::Any,
                    op: Op::Eq(v.clone()),
                }),
                "any__values" => f.conds.push(Cond {
                    target: Target::Any,
                    op: Op::In(v.as_array().cloned().unwrap_or_default()),
                }),
                _ => {
                    if v.is_null() {
                        continue; // Infrahub ignores null filters
                    }
                    let parts: Vec<&str> = name.split("__").collect();
                    let (target, op) = match parts.as_slice() {
                        ["display_label", op] => (Target::DisplayLabel, *op),
                        [a, op] if k.attribute(a).is_some() => (Target::Attr(a.to_string()), *op),
                        [r, op] => (Target::Rel(r.to_string()), *op),
                        [_, _, "id"] => continue, // source/owner: not tracked, every node matches
                        [r, a, op] => (Target::RelAttr(r.to_string(), a.to_string()), *op),
                        _ => return Err(format!("unknown filter '{name}'")),
                    };
                    let op = match op {
                        "value" => Op::Eq(v.clone()),
                        "values" => {
                            Op::In(v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]))
                        }
                        "isnull" => Op::IsNull(v.as_bool().unwrap_or(false)),
                        "ids" => Op::Ids(strings(v, name)?),
                        "is_protected" | "is_visible" => continue,
                        other => {
                            return Err(format!("unknown filter operator '{other}' in '{name}'"));
                        }
                    };
                    f.conds.push(Cond { target, op });
                }
            }
        }
        Ok(f)
    }

    fn eq(&self, stored: &Value, wanted: &Value) -> bool {
        if stored.is_null() {
            return wanted.is_null();
        }
        // Borrowed where they are strings: a listing checks each candidate's value.
        let (Some(s), Some(w)) = (value_key_ref(stored), value_key_ref(wanted)) else {
            return false;
        };
        if self.partial {
            crate::node::contains_ignore_case(&s, &w)
        } else {
            s == w
        }
    }

    fn op_matches(&self, stored: &Value, op: &Op) -> bool {
        match op {
            Op::Eq(w) => self.eq(stored, w),
            Op::In(ws) => ws.iter().any(|w| self.eq(stored, w)),
            Op::IsNull(b) => stored.is_null() == *b,
            Op::Ids(_) => false,
        }
    }

    fn related(tx: &Tx<'_>, node: &Node, rel: &str) -> Vec<Arc<Node>> {
        match rel {
            "ancestors" => ancestors(tx, node),
            "descendants" => descendants(tx, node),
            _ => tx
                .peer_ids(node, rel)
                .iter()
                .filter_map(|p| tx.get(p))
                .collect(),
        }
    }

    /// Whether a peer of `rel` that `node` sees has an id `wanted` accepts: [`Filters::related`]
    /// without loading the peers `wanted` turns down, nor collecting any (a listing filtered
    /// by `device__ids` asks this of every candidate interface).
    fn any_related(tx: &Tx<'_>, node: &Node, rel: &str, wanted: impl Fn(&str) -> bool) -> bool {
        match rel {
            "ancestors" | "descendants" => {
                Self::related(tx, node, rel).iter().any(|p| wanted(&p.id))
            }
            _ => tx
                .peer_ids(node, rel)
                .iter()
                .any(|p| wanted(p) && tx.get(p).is_some()),
        }
    }

    /// Whether `node` passes every condition.
    pub fn matches(&self, tx: &Tx<'_>, node: &Node) -> bool {
        if let Some(ids) = &self.ids
            && !ids.iter().any(|id| *id == node.id)
        {
            return false;
        }
        if let Some(h) = &self.hfid
            && tx.hfid(node).as_ref() != Some(h)
        {
            return false;
        }
        self.conds.iter().all(|c| match (&c.target, &c.op) {
            (Target::Attr(a), op) => self.op_matches(node.attr(a), op),
            (Target::DisplayLabel, op) => self.op_matches(
                &tx.display_label(node)
                    .map(Value::String)
                    .unwrap_or(Value::Null),
                op,
            ),
            (Target::Any, op) => node
                .attrs
                .values()
                .any(|v| !v.is_null() && self.op_matches(v, op)),
            (Target::Rel(r), Op::Ids(ids)) => {
                Self::any_related(tx, node, r, |p| ids.iter().any(|id| id == p))
            }
            (Target::Rel(r), Op::IsNull(b)) => Self::any_related(tx, node, r, |_| true) != *b,
            (Target::Rel(_), _) => false,
            (Target::RelAttr(r, a), Op::IsNull(b)) => {
                let peers = Self::related(tx, node, r);
                if *b {
                    peers.is_empty() || peers.iter().any(|p| p.attr(a).is_null())
                } else {
                    peers.iter().any(|p| !p.attr(a).is_null())
                }
            }
            (Target::RelAttr(r, a), op) => Self::related(tx, node, r)
                .iter()
                .any(|p| self.op_matches(p.attr(a), op)),
        })
    }

    /// The nodes of `concrete` a condition can match, when an index answers it: a set of
    /// attribute values (one lookup each), or a stored relationship's peers given by id or
    /// by one of their attributes (the peers' incoming edges). `None`: scan the kind.
    fn narrowed(tx: &Tx<'_>, concrete: &str, c: &Cond) -> Option<BTreeSet<String>> {
        let stored = |r: &str| {
            tx.schema
                .get(concrete)
                .and_then(|k| k.relationship(r))
                .filter(|_| !crate::ipam::is_computed(tx, concrete, r))
        };
        let keys = |op: &Op| -> Option<Vec<String>> {
            match op {
                Op::Eq(v) => Some(vec![value_key(v)?]),
                Op::In(vs) => vs.iter().map(value_key).collect(),
                _ => None,
            }
        };
        match (&c.target, &c.op) {
            (Target::Attr(a), Op::In(_)) => {
                let mut out = BTreeSet::new();
                for key in keys(&c.op)? {
                    out.extend(tx.ids_by_attr(concrete, a, &key));
                }
                Some(out)
            }
            (Target::Rel(r), Op::Ids(ids)) => {
                stored(r)?;
                let mut out = BTreeSet::new();
                for id in ids {
                    out.extend(tx.holders(id, r, concrete));
                }
                Some(out)
            }
            (Target::RelAttr(r, a), op) => {
                let rel = stored(r)?;
                let keys = keys(op)?;
                let mut out = BTreeSet::new();
                for peer_kind in tx.schema.concrete_kinds(&rel.peer) {
                    for key in &keys {
                        for peer in tx.ids_by_attr(peer_kind, a, key) {
                            out.extend(tx.holders(&peer, r, concrete));
                        }
                    }
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// A candidate set small enough to check node by node rather than narrow further.
    const FEW: usize = 256;

    /// Candidate ids of one concrete kind, narrowed with an index when a filter allows it.
    fn candidates(&self, tx: &Tx<'_>, concrete: &str) -> BTreeSet<String> {
        if let Some(ids) = &self.ids {
            return ids
                .iter()
                .filter(|id| tx.kind_of(id).is_some_and(|k| *k == *concrete))
                .cloned()
                .collect();
        }
        if !self.partial {
            // Every index a condition allows, intersected from the smallest: `role: leaf`
            // alone is every leaf of the store, `pod__ids` alone the pod's devices of every
            // role; each set holds every node its condition matches, so their intersection
            // holds every node they all match.
            //
            // The relationship conditions first, peers given by id before peers reached
            // through an attribute (a generator instance's `definition__name__value` holds
            // every instance of the definition). Once one set holds few candidates nothing
            // more is read — `role: leaf` on interfaces is every leaf-facing port of the
            // store — since `select` checks every condition on each candidate anyway.
            let mut sets: Vec<BTreeSet<String>> = Vec::new();
            let mut attribute_conds = Vec::new();
            let mut narrowing = Vec::new();
            for c in &self.conds {
                if let (Target::Attr(a), Op::Eq(v)) = (&c.target, &c.op)
                    && let Some(key) = value_key(v)
                {
                    attribute_conds.push((a, key));
                } else {
                    narrowing.push(c);
                }
            }
            narrowing.sort_by_key(|c| match (&c.target, &c.op) {
                (Target::Rel(_), Op::Ids(_)) => 0,
                (Target::Attr(_), _) => 1,
                _ => 2,
            });
            let few = |sets: &[BTreeSet<String>]| sets.iter().any(|ids| ids.len() <= Self::FEW);
            let (given, through): (Vec<&Cond>, Vec<&Cond>) = narrowing
                .into_iter()
                .partition(|c| matches!((&c.target, &c.op), (Target::Rel(_), Op::Ids(_))));
            for c in given {
                if few(&sets) {
                    break;
                }
                if let Some(ids) = Self::narrowed(tx, concrete, c) {
                    sets.push(ids);
                }
            }
            // An attribute index holding few rows settles it before any walk through
            // peers' attributes: the instances of a definition still `Processing` are
            // a handful among every instance the definition ever had.
            if !few(&sets) {
                for (a, key) in &attribute_conds {
                    if tx.attr_rows_up_to(concrete, a, key, Self::FEW + 1) <= Self::FEW {
                        sets.push(tx.ids_by_attr(concrete, a, key));
                        break;
                    }
                }
            }
            for c in through {
                if few(&sets) {
                    break;
                }
                if let Some(ids) = Self::narrowed(tx, concrete, c) {
                    sets.push(ids);
                }
            }
            // An attribute index is read only when it is narrower than the smallest set
            // already held; counting its rows stops at that size.
            let smallest = sets.iter().map(BTreeSet::len).min();
            for (a, key) in attribute_conds {
                match smallest {
                    Some(n) if n <= Self::FEW => break,
                    Some(n) if tx.attr_rows_up_to(concrete, a, &key, n) >= n => {}
                    _ => sets.push(tx.ids_by_attr(concrete, a, &key)),
                }
            }
            sets.sort_by_key(BTreeSet::len);
            let mut sets = sets.into_iter();
            if let Some(mut ids) = sets.next() {
                for other in sets {
                    if ids.is_empty() {
                        break;
                    }
                    ids.retain(|id| other.contains(id));
                }
                return ids;
            }
            if let (Some(h), Some(k)) = (&self.hfid, tx.schema.get(concrete))
                && k.human_friendly_id.is_some()
            {
                return tx
                    .find_by_hfid(concrete, h)
                    .into_iter()
                    .map(|n| n.id.to_string())
                    .collect();
            }
        } else if let Some((a, needle)) = self.conds.iter().find_map(|c| match (&c.target, &c.op) {
            (Target::Attr(a), Op::Eq(v)) => value_key(v).map(|needle| (a, needle)),
            _ => None,
        }) {
            // Every condition matches by `contains`: the first on an attribute of the node
            // narrows from that attribute's rows, not from every node of the kind.
            return tx.ids_containing(concrete, a, &needle);
        }
        tx.ids_of_kind(concrete)
    }

    /// Run against all nodes of `k` (a node or a generic): total count and the requested page.
    pub fn select(&self, tx: &Tx<'_>, k: &KindSchema) -> (usize, Vec<Arc<Node>>) {
        let kinds = tx.schema.concrete_kinds(&k.kind);
        self.select_loading(tx, k, kinds, |id| tx.get(id))
    }

    /// [`Filters::select`] for a listing that shows the cardinality-many relationships in
    /// `include` only: a relationship to any node (`peer: CoreNode`, a group's members and
    /// subscribers, which can be every node of the store) that neither `include`, the
    /// filters nor the kinds' HFIDs, labels and order read is not read (see
    /// [`Tx::listed`]). Other relationships are bounded by the design, and a node read
    /// whole is kept for the next reads.
    pub fn select_listed(
        &self,
        tx: &Tx<'_>,
        k: &KindSchema,
        include: &[String],
    ) -> (usize, Vec<Arc<Node>>) {
        let kinds = tx.schema.concrete_kinds(&k.kind);
        let mut paths: Vec<&str> = Vec::new();
        for schema in std::iter::once(k).chain(kinds.iter().filter_map(|c| tx.schema.get(c))) {
            paths.extend(
                schema
                    .human_friendly_id
                    .iter()
                    .flatten()
                    .map(String::as_str),
            );
            paths.extend(schema.display_labels.iter().flatten().map(String::as_str));
            paths.extend(schema.order_by.iter().flatten().map(String::as_str));
            paths.extend(schema.display_label.as_deref());
        }
        let read = |name: &str| {
            include.iter().any(|i| i == name)
                || self.conds.iter().any(|c| match &c.target {
                    Target::Rel(r) | Target::RelAttr(r, _) => r == name,
                    _ => false,
                })
                || {
                    let through = format!("{name}__");
                    paths.iter().any(|p| p.contains(&through))
                }
        };
        let skip = |r: &RelationshipSchema| {
            r.cardinality == Cardinality::Many && r.peer == CORE_NODE && !read(&r.name)
        };
        self.select_loading(tx, k, kinds, |id| tx.listed(id, skip))
    }

    /// The nodes of `kinds` (the concrete kinds of `k`) that match, loaded with `load`:
    /// their total count and the requested page.
    fn select_loading(
        &self,
        tx: &Tx<'_>,
        k: &KindSchema,
        kinds: &[String],
        load: impl Fn(&str) -> Option<Arc<Node>>,
    ) -> (usize, Vec<Arc<Node>>) {
        let ids: BTreeSet<String> = match kinds {
            [one] => self.candidates(tx, one),
            _ => {
                let mut all = BTreeSet::new();
                for concrete in kinds {
                    all.extend(self.candidates(tx, concrete));
                }
                all
            }
        };
        let nodes: Vec<Arc<Node>> = ids
            .iter()
            .filter_map(|id| load(id))
            .filter(|n| self.matches(tx, n))
            .collect();
        self.page(tx, k, nodes)
    }

    /// Apply to a relationship's peers (nested many filter).
    pub fn select_among(
        &self,
        tx: &Tx<'_>,
        k: &KindSchema,
        peers: Vec<Arc<Node>>,
    ) -> (usize, Vec<Arc<Node>>) {
        if self.isnull == Some(true) {
            return (0, Vec::new());
        }
        let nodes: Vec<Arc<Node>> = peers.into_iter().filter(|n| self.matches(tx, n)).collect();
        self.page(tx, k, nodes)
    }

    fn page(
        &self,
        tx: &Tx<'_>,
        k: &KindSchema,
        mut nodes: Vec<Arc<Node>>,
    ) -> (usize, Vec<Arc<Node>>) {
        if !self.order_disable
            && let Some(paths) = &k.order_by
        {
            // Each node's values read once, not once per comparison: a page of a device's
            // interfaces sorted by a path through the node cache read each value ~2 log n
            // times, with a text copy of it each time.
            let mut keyed: Vec<(Vec<SortKey>, Arc<Node>)> = nodes
                .into_iter()
                .map(|n| {
                    let keys = paths
                        .iter()
                        .map(|p| SortKey::of(&tx.path_value(&n, p)))
                        .collect();
                    (keys, n)
                })
                .collect();
            keyed.sort_by(|(ka, a), (kb, b)| {
                ka.iter()
                    .zip(kb)
                    .map(|(x, y)| x.cmp(y))
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or_else(|| a.id.cmp(&b.id))
            });
            nodes = keyed.into_iter().map(|(_, n)| n).collect();
        }
        let total = nodes.len();
        let page: Vec<Arc<Node>> = nodes
            .into_iter()
            .skip(self.offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .collect();
        (total, page)
    }
}

/// A value as `order_by` orders it, read once: numbers numerically, text naturally (`eth2`
/// < `eth10`), nulls last.
struct SortKey {
    /// `None` for null (last).
    text: Option<String>,
    /// The value when it is a number: two numbers compare numerically, anything else by
    /// [`natural`] order of their text.
    number: Option<f64>,
}

impl SortKey {
    fn of(v: &Value) -> Self {
        Self {
            text: (!v.is_null()).then(|| value_key(v).unwrap_or_default()),
            number: match v {
                Value::Number(n) => n.as_f64(),
                _ => None,
            },
        }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.text, &other.text) {
            (None, None) => Ordering::Equal,
            (None, _) => Ordering::Greater,
            (_, None) => Ordering::Less,
            (Some(a), Some(b)) => match (self.number, other.number) {
                (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                _ => natural(a, b),
            },
        }
    }
}

/// Natural order: runs of ASCII digits compare as numbers (leading zeros aside), everything
/// else character by character. Compared as bytes: UTF-8 orders as its code points do, and
/// an ASCII digit is never part of another character's bytes.
fn natural(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        match (x.get(i), y.get(j)) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let run = |s: &[u8], from: usize| {
                    from + s[from..].iter().take_while(|c| c.is_ascii_digit()).count()
                };
                let (end_i, end_j) = (run(x, i), run(y, j));
                let trim = |s: &'_ [u8]| -> usize { s.iter().take_while(|c| **c == b'0').count() };
                let n1 = &x[i..end_i];
                let n2 = &y[j..end_j];
                let (t1, t2) = (&n1[trim(n1)..], &n2[trim(n2)..]);
                let o = t1.len().cmp(&t2.len()).then_with(|| t1.cmp(t2));
                if o != Ordering::Equal {
                    return o;
                }
                (i, j) = (end_i, end_j);
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                i += 1;
                j += 1;
            }
        }
    }
}

/// Parent, grandparent, … (nearest first).
pub fn ancestors(tx: &Tx<'_>, node: &Node) -> Vec<Arc<Node>> {
    let mut out: Vec<Arc<Node>> = Vec::new();
    let mut cur = node.peers("parent").first().cloned();
    while let Some(id) = cur {
        if out.iter().any(|n| n.id == id) || id == node.id {
            break;
        }
        let Some(n) = tx.get(&id) else { break };
        cur = n.peers("parent").first().cloned();
        out.push(n);
    }
    out
}

/// Children, grandchildren, … (breadth first).
pub fn descendants(tx: &Tx<'_>, node: &Node) -> Vec<Arc<Node>> {
    let mut out: Vec<Arc<Node>> = Vec::new();
    let mut seen = BTreeSet::from([node.id.clone()]);
    let mut queue: std::collections::VecDeque<NodeId> =
        node.peers("children").iter().cloned().collect();
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(n) = tx.get(&id) else { continue };
        queue.extend(n.peers("children").iter().cloned());
        out.push(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{SortKey, natural};
    use serde_json::{Value, json};
    use std::cmp::Ordering;

    /// Natural order as it was written first, on characters with a copy of each digit run:
    /// the byte version must order every pair the same.
    fn natural_by_chars(a: &str, b: &str) -> Ordering {
        let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
        loop {
            match (x.peek().copied(), y.peek().copied()) {
                (None, None) => return Ordering::Equal,
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                    let mut n1 = String::new();
                    while let Some(c) = x.peek().copied().filter(char::is_ascii_digit) {
                        n1.push(c);
                        x.next();
                    }
                    let mut n2 = String::new();
                    while let Some(c) = y.peek().copied().filter(char::is_ascii_digit) {
                        n2.push(c);
                        y.next();
                    }
                    let (t1, t2) = (n1.trim_start_matches('0'), n2.trim_start_matches('0'));
                    let o = t1.len().cmp(&t2.len()).then_with(|| t1.cmp(t2));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                (Some(c), Some(d)) => {
                    if c != d {
                        return c.cmp(&d);
                    }
                    x.next();
                    y.next();
                }
            }
        }
    }

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        assert_eq!(natural("eth2", "eth10"), Ordering::Less);
        assert_eq!(natural("Ethernet1/10", "Ethernet1/2"), Ordering::Greater);
        assert_eq!(natural("Ethernet1/2", "Ethernet2/1"), Ordering::Less);
        assert_eq!(natural("a007", "a7"), Ordering::Equal);
        assert_eq!(natural("a007b", "a7c"), Ordering::Less);
        assert_eq!(natural("leaf", "leaf1"), Ordering::Less);
        assert_eq!(natural("", ""), Ordering::Equal);
        assert_eq!(natural("9", "a"), Ordering::Less);
        assert_eq!(natural("é1", "é01"), Ordering::Equal);
        assert_eq!(natural("é", "z"), Ordering::Greater);
    }

    #[test]
    fn natural_order_on_bytes_orders_every_pair_as_on_characters() {
        let words = [
            "",
            "0",
            "00",
            "1",
            "01",
            "10",
            "9",
            "a",
            "a1",
            "a01",
            "a10",
            "a9b",
            "a9c",
            "a09c",
            "eth1/1",
            "eth1/10",
            "eth1/2",
            "eth10/1",
            "Eth1",
            "é",
            "é2",
            "é10",
            "ü",
            "z",
            "z0",
            "x\u{1F600}1",
            "x\u{1F600}01",
            "x\u{FFFD}",
            "1a",
            "1é",
            "001é",
        ];
        for a in words {
            for b in words {
                assert_eq!(natural(a, b), natural_by_chars(a, b), "{a:?} against {b:?}");
            }
        }
    }

    #[test]
    fn values_order_numbers_numerically_text_naturally_and_nulls_last() {
        let order = |a: Value, b: Value| SortKey::of(&a).cmp(&SortKey::of(&b));
        assert_eq!(order(json!(2), json!(10)), Ordering::Less);
        assert_eq!(order(json!(2.5), json!(2)), Ordering::Greater);
        assert_eq!(order(json!("2"), json!("10")), Ordering::Less);
        assert_eq!(order(json!("b"), json!(10)), Ordering::Greater);
        assert_eq!(order(Value::Null, json!("a")), Ordering::Greater);
        assert_eq!(order(json!(0), Value::Null), Ordering::Less);
        assert_eq!(order(Value::Null, Value::Null), Ordering::Equal);
        assert_eq!(order(json!(true), json!(false)), Ordering::Greater);
    }
}
