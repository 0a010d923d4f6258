//! Resource pools against a model: prefixes and addresses allocated from pools, created,
//! moved and deleted directly, on `main` and on a branch, through the store's own handle, through
//! a second handle on the same file (another process), inside run transactions that end
//! committed or abandoned, and several fields in one document, at random; the branch now and
//! then merged into main, or deleted and made again. Every
//! allocation must return exactly what Infrahub's rule gives among the prefixes (or
//! addresses) the view shows: the lowest aligned free block of the asked length in the
//! first resource that has one, the lowest free host address; the node an identifier
//! already reserves where the view sees it; and "No more resources available" once
//! nothing is left. Every few steps both views are read whole and compared with the model.
//!
//! The store keeps hints of where free space starts (`graph::ip_index`, `FreeKey`) so that
//! an allocation costs what it touches, not the resource's size: this test is what says
//! those hints never hide space that deletes, moves, another process, a branch's reset or
//! a document's earlier fields gave back.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::session::Session;
use common::{Rng, errors};
use infragen_store::Store;
use serde_json::{Value, json};

const RESOURCES: &str = include_str!("fixtures/aidc_resources.yml");
const ALLOCATE_PREFIX: &str = "mutation AllocateIPPrefix($data: IPPrefixPoolGetResourceInput!) { InfrahubIPPrefixPoolGetResource(data: $data) { ok node { id kind identifier display_label } } }";
const ALLOCATE_ADDRESS: &str = "mutation AllocateIPAddress($data: IPAddressPoolGetResourceInput!) { InfrahubIPAddressPoolGetResource(data: $data) { ok node { id kind identifier display_label } } }";
const BRANCH: &str = "br1";
const STEPS: usize = 60;

/// The prefix pool's resources, in the pool's order: a /27 and a /28, small enough that
/// random allocations exhaust them and deletes free them again.
const PREFIX_RESOURCES: [&str; 2] = ["10.0.0.0/27", "10.0.1.0/28"];
/// The address pool's resource: hosts .1 to .6.
const ADDRESS_RESOURCE: &str = "10.0.2.0/29";

/// `a.b.c.d/len` as its first and last address and its length.
fn range(text: &str) -> (u32, u32, u32) {
    let (ip, len) = text.split_once('/').expect("a length");
    let ip = ip
        .split('.')
        .map(|o| o.parse::<u32>().expect("octet"))
        .fold(0, |acc, o| (acc << 8) | o);
    let len: u32 = len.parse().expect("length");
    let size = 1u32 << (32 - len);
    (ip, ip + size - 1, len)
}

fn text(ip: u32, len: u32) -> String {
    format!(
        "{}.{}.{}.{}/{len}",
        ip >> 24,
        (ip >> 16) & 255,
        (ip >> 8) & 255,
        ip & 255
    )
}

/// A prefix or an address as the model holds it.
#[derive(Clone, Debug)]
struct Ip {
    value: String,
    is_addr: bool,
    /// The identifier it is reserved under in the prefix pool.
    reserved: Option<String>,
}

impl Ip {
    fn new(value: impl Into<String>, is_addr: bool) -> Ip {
        Ip {
            value: value.into(),
            is_addr,
            reserved: None,
        }
    }

    /// A node an allocation is to give: its value is the store's answer.
    fn answered(is_addr: bool, reserved: Option<String>) -> Ip {
        Ip {
            value: String::new(),
            is_addr,
            reserved,
        }
    }
}

/// Which nodes each view shows, by store id.
#[derive(Clone, Default)]
struct Model {
    main: BTreeMap<String, Ip>,
    branch_created: BTreeMap<String, Ip>,
    /// Main's nodes the branch deleted.
    branch_deleted: BTreeSet<String>,
    /// The branch's state when the open run began, to go back to if it is abandoned.
    run_started: Option<(BTreeMap<String, Ip>, BTreeSet<String>)>,
}

impl Model {
    fn shown(&self, view: &str) -> BTreeMap<String, Ip> {
        if view == "main" {
            return self.main.clone();
        }
        let mut shown: BTreeMap<String, Ip> = self
            .main
            .iter()
            .filter(|(id, _)| !self.branch_deleted.contains(*id))
            .map(|(id, ip)| (id.clone(), ip.clone()))
            .collect();
        shown.extend(self.branch_created.clone());
        shown
    }

    fn add(&mut self, view: &str, id: String, ip: Ip) {
        if view == "main" {
            self.main.insert(id, ip);
        } else {
            self.branch_created.insert(id, ip);
        }
    }

    fn delete(&mut self, view: &str, id: &str) {
        if view == "main" {
            self.main.remove(id);
            self.branch_deleted.remove(id);
        } else if self.branch_created.remove(id).is_none() {
            self.branch_deleted.insert(id.to_owned());
        }
    }

    /// A node `view` shows that a step may delete (never a resource), at random.
    fn deletable(&self, view: &str, rng: &mut Rng) -> Option<(String, Ip)> {
        let resources: Vec<&str> = PREFIX_RESOURCES
            .iter()
            .chain([&ADDRESS_RESOURCE])
            .copied()
            .collect();
        let candidates: Vec<(String, Ip)> = self
            .shown(view)
            .into_iter()
            .filter(|(_, ip)| !resources.contains(&ip.value.as_str()))
            .collect();
        (!candidates.is_empty()).then(|| candidates[rng.below(candidates.len())].clone())
    }

    /// What a prefix allocation of `len` under `identifier` must give in `view`.
    fn next_prefix(&self, view: &str, len: u32, identifier: Option<&str>) -> Expected {
        let shown = self.shown(view);
        if let Some(identifier) = identifier
            && let Some((id, ip)) = shown
                .iter()
                .find(|(_, ip)| ip.reserved.as_deref() == Some(identifier))
        {
            let have = range(&ip.value).2;
            return if have == len {
                Expected::Node(id.clone(), ip.value.clone())
            } else {
                Expected::Error(format!(
                    "identifier '{identifier}' is reserved for {}, a /{have}; it cannot be asked for again with prefix length {len}",
                    ip.value
                ))
            };
        }
        for resource in PREFIX_RESOURCES {
            let (lo, hi, rlen) = range(resource);
            if len < rlen {
                continue;
            }
            let used: Vec<(u32, u32)> = shown
                .values()
                .filter(|ip| !ip.is_addr && ip.value != resource)
                .map(|ip| range(&ip.value))
                .filter(|(first, last, _)| *first >= lo && *last <= hi)
                .map(|(first, last, _)| (first, last))
                .collect();
            let size = 1u32 << (32 - len);
            let mut block = lo;
            while block + (size - 1) <= hi {
                let last = block + size - 1;
                if used.iter().all(|(f, l)| *l < block || *f > last) {
                    return Expected::Value(text(block, len));
                }
                block += size;
            }
        }
        Expected::Error(format!(
            "No more resources available in CoreIPPrefixPool 'pool': no free /{len} left in {}",
            PREFIX_RESOURCES.join(", ")
        ))
    }

    /// What an address allocation must give in `view`.
    fn next_address(&self, view: &str) -> Expected {
        let shown = self.shown(view);
        let (lo, hi, _) = range(ADDRESS_RESOURCE);
        let used: BTreeSet<u32> = shown
            .values()
            .filter(|ip| ip.is_addr)
            .map(|ip| range(&ip.value).0)
            .collect();
        match (lo + 1..hi).find(|host| !used.contains(host)) {
            Some(host) => Expected::Value(text(host, 32)),
            None => Expected::Error(format!(
                "No more resources available in CoreIPAddressPool 'addresses': no free address left in {ADDRESS_RESOURCE}"
            )),
        }
    }
}

/// What an allocation must answer.
#[derive(Debug)]
enum Expected {
    /// A new node holding this value.
    Value(String),
    /// The node already reserved (id, value).
    Node(String, String),
    /// An error whose message ends with this.
    Error(String),
}

/// The handle a step on `view` goes through: main's steps sometimes through the other.
fn pick<'a>(session: &'a Session, view: &str, rng: &mut Rng) -> &'a Store {
    if view == "main" && rng.below(3) == 0 {
        &session.other
    } else {
        &session.own
    }
}

/// Sets up the resources and pools on main; the model holds the resources.
fn set_up(session: &Session, model: &mut Model) -> (String, String) {
    let s = &session.own;
    let mut resource_ids = Vec::new();
    for resource in PREFIX_RESOURCES.iter().chain([&ADDRESS_RESOURCE]) {
        let id = create(session, s, "main", "IpamIPPrefix", "prefix", resource);
        model.add("main", id.clone(), Ip::new(resource.to_string(), false));
        resource_ids.push(id);
    }
    let prefix_pool = session.ok(
        s,
        "main",
        &format!(
            r#"mutation {{ CoreIPPrefixPoolCreate(data: {{name: {{value: "pool"}}, default_prefix_length: {{value: 31}}, default_member_type: {{value: "address"}}, default_prefix_type: {{value: "IpamIPPrefix"}}, ip_namespace: {{hfid: ["default"]}}, resources: [{{id: "{}"}}, {{id: "{}"}}]}}) {{ object {{ id }} }} }}"#,
            resource_ids[0], resource_ids[1]
        ),
    )["CoreIPPrefixPoolCreate"]["object"]["id"]
        .as_str()
        .expect("pool id")
        .to_owned();
    let address_pool = session.ok(
        s,
        "main",
        &format!(
            r#"mutation {{ CoreIPAddressPoolCreate(data: {{name: {{value: "addresses"}}, default_address_type: {{value: "IpamIPAddress"}}, default_prefix_length: {{value: 32}}, ip_namespace: {{hfid: ["default"]}}, resources: [{{id: "{}"}}]}}) {{ object {{ id }} }} }}"#,
            resource_ids[2]
        ),
    )["CoreIPAddressPoolCreate"]["object"]["id"]
        .as_str()
        .expect("pool id")
        .to_owned();
    (prefix_pool, address_pool)
}

/// A prefix inside one of the pool's resources, at random, unless `view` shows one of that
/// value already.
fn unshown_prefix(model: &Model, view: &str, rng: &mut Rng) -> Option<String> {
    let (lo, hi, rlen) = range(PREFIX_RESOURCES[rng.below(2)]);
    let len = rlen + 1 + rng.below((31 - rlen) as usize) as u32;
    let size = 1u32 << (32 - len);
    let blocks = (hi - lo + 1) / size;
    let value = text(lo + size * rng.below(blocks as usize) as u32, len);
    let shown = model.shown(view).values().any(|ip| ip.value == value);
    (!shown).then_some(value)
}

/// Opens a run on the branch; the model remembers what to go back to.
fn begin_run(session: &mut Session, model: &mut Model) {
    session.begin_run(BRANCH);
    model.run_started = Some((model.branch_created.clone(), model.branch_deleted.clone()));
}

/// Ends the open run, if any: committed, or abandoned and the model back where the run
/// started.
fn end_run(session: &mut Session, model: &mut Model, commit: bool) {
    if !session.end_run(commit) {
        return;
    }
    let started = model
        .run_started
        .take()
        .expect("the model's start of the run");
    if !commit {
        (model.branch_created, model.branch_deleted) = started;
    }
}

/// Creates a prefix (with the role the fixture's kind asks for) or an address.
fn create(session: &Session, s: &Store, view: &str, kind: &str, attr: &str, value: &str) -> String {
    let role = if kind == "IpamIPPrefix" {
        r#", role: {value: "pod_supernet"}"#
    } else {
        ""
    };
    let d = session.ok(
            s,
            view,
            &format!(
                r#"mutation {{ {kind}Create(data: {{{attr}: {{value: "{value}"}}{role}}}) {{ object {{ id }} }} }}"#
            ),
        );
    d[format!("{kind}Create")]["object"]["id"]
        .as_str()
        .expect("created id")
        .to_owned()
}

/// The id and value of the node an allocation (field `field` of `response`) returned,
/// or its error.
fn allocation(
    session: &Session,
    s: &Store,
    view: &str,
    response: &Value,
    field: &str,
) -> Result<(String, String), String> {
    if response.get("errors").is_some() {
        return Err(errors(response).join("; "));
    }
    let node = &response["data"][field]["node"];
    let id = node["id"].as_str().expect("allocated id").to_owned();
    let kind = node["kind"].as_str().expect("allocated kind");
    let attr = if kind == "IpamIPPrefix" {
        "prefix"
    } else {
        "address"
    };
    let d = session.ok(
        s,
        view,
        &format!(r#"{{ {kind}(ids: ["{id}"]) {{ edges {{ node {{ {attr} {{ value }} }} }} }} }}"#),
    );
    let value = d[kind]["edges"][0]["node"][attr]["value"]
        .as_str()
        .expect("allocated value")
        .to_owned();
    Ok((id, value))
}

/// Both views read whole through the own handle (the branch through the open run),
/// and at the end through the other handle too: every prefix and address by id and
/// value.
fn assert_views(session: &Session, s: &Store, model: &Model, step: &str) {
    for view in ["main", BRANCH] {
        let d = session.ok(
            s,
            view,
            "{ IpamIPPrefix { edges { node { id prefix { value } } } } \
                 IpamIPAddress { edges { node { id address { value } } } } }",
        );
        let mut read = BTreeMap::new();
        for (kind, attr) in [("IpamIPPrefix", "prefix"), ("IpamIPAddress", "address")] {
            for edge in d[kind]["edges"].as_array().expect("edges") {
                let node = &edge["node"];
                read.insert(
                    node["id"].as_str().expect("id").to_owned(),
                    node[attr]["value"].as_str().expect("value").to_owned(),
                );
            }
        }
        let want: BTreeMap<String, String> = model
            .shown(view)
            .into_iter()
            .map(|(id, ip)| (id, ip.value))
            .collect();
        assert_eq!(read, want, "{step}: what {view} shows");
    }
}

/// Merges the branch into main. Where the branch shows one prefix twice (a block main
/// allocated after the branch took it, or made directly) the merge must refuse, naming the
/// uniqueness of the prefix (the fixture's HFID), and change nothing; else main must show
/// what the branch showed. Two addresses alike merge, as two can be created on one branch.
fn merge(session: &Session, model: &mut Model, at: &str) {
    let shown = model.shown(BRANCH);
    let mut values = BTreeSet::new();
    let twice = shown
        .values()
        .any(|ip| !ip.is_addr && !values.insert(&ip.value));
    let merged = session.own.merge_branch(BRANCH);
    if twice {
        let twice: Vec<&Ip> = shown
            .values()
            .filter(|ip| {
                !ip.is_addr
                    && shown
                        .values()
                        .filter(|other| other.value == ip.value)
                        .count()
                        > 1
            })
            .collect();
        let error = merged
            .map(|report| format!("{report:?}"))
            .expect_err(&format!("{at}: the merge of {twice:?}"))
            .to_string();
        assert!(
            error.contains("Violates uniqueness constraint"),
            "{at}: the merge's refusal: {error}"
        );
    } else {
        merged.unwrap_or_else(|e| panic!("{at}: the merge: {e}"));
        model.main = shown;
        model.branch_created.clear();
        model.branch_deleted.clear();
    }
}

/// Checks an allocation's answer against the model's and records the node.
fn check(
    model: &mut Model,
    view: &str,
    expected: Expected,
    got: Result<(String, String), String>,
    ip: Ip,
    step: &str,
) {
    match (expected, got) {
        (Expected::Value(value), Ok((id, got))) => {
            assert_eq!(got, value, "{step}");
            assert!(
                !model.shown(view).contains_key(&id),
                "{step}: a new node, not {id}"
            );
            model.add(view, id, Ip { value, ..ip });
        }
        (Expected::Node(want_id, value), Ok((id, got))) => {
            assert_eq!((id, got), (want_id, value), "{step}: the reserved node");
        }
        (Expected::Error(message), Err(got)) => {
            assert!(
                got.ends_with(&message),
                "{step}: {got:?} should end with {message:?}"
            );
        }
        (expected, got) => panic!("{step}: expected {expected:?}, got {got:?}"),
    }
}

/// A prefix allocation's input, in GraphQL's syntax.
fn prefix_input(pool: &str, len: u32) -> String {
    format!(r#"{{id: "{pool}", prefix_length: {len}, data: {{role: "pod_leaf_spine"}}}}"#)
}

const ALLOCATED: &str = "{ ok node { id kind identifier display_label } }";

fn run(seed: u64) {
    // `POOL_MODEL_TRACE=1`: every step on stderr, to follow a failing seed.
    let trace = std::env::var_os("POOL_MODEL_TRACE").is_some();
    let mut rng = Rng::seeded(seed);
    let mut session = Session::new(&[("aidc_resources.yml".into(), RESOURCES.into())]);
    let mut model = Model::default();
    let (prefix_pool, address_pool) = set_up(&session, &mut model);
    session.own.create_branch(BRANCH).expect("branch");
    for step in 0..STEPS {
        let view = if rng.below(2) == 0 { "main" } else { BRANCH };
        let op = rng.below(16);
        // Anything but the branch's own steps ends the open run first.
        let resets = op == 11;
        if view == "main" || resets {
            let commit = rng.below(3) != 0;
            end_run(&mut session, &mut model, commit);
        } else if session.run_branch().is_none() && rng.below(3) == 0 {
            begin_run(&mut session, &mut model);
        }
        let s = pick(&session, view, &mut rng);
        let through = match (session.is_own(s), session.run_branch()) {
            (false, _) => "the other handle",
            (true, Some(branch)) if branch == view => "a run",
            (true, _) => "the own handle",
        };
        let at = format!("seed {seed} step {step} on {view} through {through}");
        if trace {
            eprintln!("{at}: op {op}; {} shown there", model.shown(view).len());
        }
        match op {
            // Allocate a prefix, sometimes under an identifier (main's and the branch's
            // differ, so that a view never sees two nodes reserved under one).
            0..=3 => {
                let len = [29, 30, 31, 31][rng.below(4)];
                let identifier = match rng.below(3) {
                    0 => Some(format!(
                        "{}{}",
                        if view == "main" { "m" } else { "b" },
                        rng.below(3)
                    )),
                    _ => None,
                };
                let expected = model.next_prefix(view, len, identifier.as_deref());
                let mut data = json!({ "id": prefix_pool, "prefix_length": len, "data": { "role": "pod_leaf_spine" } });
                if let Some(identifier) = &identifier {
                    data["identifier"] = json!(identifier);
                }
                let response = session.send(s, view, ALLOCATE_PREFIX, json!({ "data": data }));
                let got = allocation(
                    &session,
                    s,
                    view,
                    &response,
                    "InfrahubIPPrefixPoolGetResource",
                );
                let ip = Ip::answered(false, identifier.clone());
                check(
                    &mut model,
                    view,
                    expected,
                    got,
                    ip,
                    &format!("{at}: /{len} ({identifier:?})"),
                );
            }
            4..=5 => {
                let expected = model.next_address(view);
                let response = session.send(
                    s,
                    view,
                    ALLOCATE_ADDRESS,
                    json!({ "data": { "id": address_pool } }),
                );
                let got = allocation(
                    &session,
                    s,
                    view,
                    &response,
                    "InfrahubIPAddressPoolGetResource",
                );
                let ip = Ip::answered(true, None);
                check(
                    &mut model,
                    view,
                    expected,
                    got,
                    ip,
                    &format!("{at}: an address"),
                );
            }
            // A prefix created directly inside a resource, where the view shows none of
            // that value.
            6 => {
                let Some(value) = unshown_prefix(&model, view, &mut rng) else {
                    continue;
                };
                let id = create(&session, s, view, "IpamIPPrefix", "prefix", &value);
                let ip = Ip::new(value, false);
                model.add(view, id, ip);
            }
            7 => {
                let (lo, _, _) = range(ADDRESS_RESOURCE);
                let value = text(lo + rng.below(8) as u32, 32);
                if model.shown(view).values().any(|ip| ip.value == value) {
                    continue;
                }
                let id = create(&session, s, view, "IpamIPAddress", "address", &value);
                let ip = Ip::new(value, true);
                model.add(view, id, ip);
            }
            // Delete a prefix or an address the view shows (never a resource).
            8..=10 => {
                let Some((id, ip)) = model.deletable(view, &mut rng) else {
                    continue;
                };
                let kind = if ip.is_addr {
                    "IpamIPAddress"
                } else {
                    "IpamIPPrefix"
                };
                session.ok(
                    s,
                    view,
                    &format!(r#"mutation {{ {kind}Delete(data: {{id: "{id}"}}) {{ ok }} }}"#),
                );
                model.delete(view, &id);
            }
            // The branch merged into main, or deleted and made again under the same name:
            // either way it starts again from what main shows.
            11 => {
                if rng.below(2) == 0 {
                    merge(&session, &mut model, &at);
                } else {
                    let own = &session.own;
                    own.delete_branch(BRANCH).expect("delete branch");
                    own.create_branch(BRANCH).expect("branch again");
                    model.branch_created.clear();
                    model.branch_deleted.clear();
                }
            }
            // Two allocations in one document (one transaction), where the model gives
            // both a block: the second must not get the first's.
            12 => {
                let lens = [[31, 29, 30][rng.below(3)], [31, 30][rng.below(2)]];
                let mut after = model.clone();
                let mut values = Vec::new();
                for len in lens {
                    let Expected::Value(value) = after.next_prefix(view, len, None) else {
                        break;
                    };
                    after.add(
                        view,
                        format!("planned {}", values.len()),
                        Ip::new(value.clone(), false),
                    );
                    values.push(value);
                }
                if values.len() < 2 {
                    continue;
                }
                let document = format!(
                    "mutation {{ a: InfrahubIPPrefixPoolGetResource(data: {}) {ALLOCATED} b: InfrahubIPPrefixPoolGetResource(data: {}) {ALLOCATED} }}",
                    prefix_input(&prefix_pool, lens[0]),
                    prefix_input(&prefix_pool, lens[1]),
                );
                let response = session.send(s, view, &document, json!({}));
                for (field, value) in ["a", "b"].into_iter().zip(values) {
                    let got = allocation(&session, s, view, &response, field);
                    let ip = Ip::answered(false, None);
                    check(
                        &mut model,
                        view,
                        Expected::Value(value),
                        got,
                        ip,
                        &format!("{at}: {field} of two allocations"),
                    );
                }
            }
            // A prefix moved to a value the view shows none of: its old block is free, its
            // new one taken. On the branch one of the branch's own, on main one the branch
            // has not deleted, so that a merge has nothing to refuse.
            15 => {
                let Some((id, ip)) = model.deletable(view, &mut rng) else {
                    continue;
                };
                let movable = match view {
                    "main" => !model.branch_deleted.contains(&id),
                    _ => model.branch_created.contains_key(&id),
                };
                if ip.is_addr || !movable {
                    continue;
                }
                let Some(value) = unshown_prefix(&model, view, &mut rng) else {
                    continue;
                };
                session.ok(
                    s,
                    view,
                    &format!(
                        r#"mutation {{ IpamIPPrefixUpdate(data: {{id: "{id}", prefix: {{value: "{value}"}}}}) {{ ok }} }}"#
                    ),
                );
                model.delete(view, &id);
                model.add(view, id, Ip { value, ..ip });
            }
            // A delete then an allocation in one document: the allocation sees the space
            // the delete freed.
            _ => {
                let Some((id, ip)) = model.deletable(view, &mut rng) else {
                    continue;
                };
                if ip.is_addr {
                    continue;
                }
                let deleted = ip.value.clone();
                let mut after = model.clone();
                after.delete(view, &id);
                let len = range(&ip.value).2.max(29);
                let Expected::Value(value) = after.next_prefix(view, len, None) else {
                    continue;
                };
                let document = format!(
                    r#"mutation {{ d: IpamIPPrefixDelete(data: {{id: "{id}"}}) {{ ok }} a: InfrahubIPPrefixPoolGetResource(data: {}) {ALLOCATED} }}"#,
                    prefix_input(&prefix_pool, len),
                );
                let response = session.send(s, view, &document, json!({}));
                let got = allocation(&session, s, view, &response, "a");
                model = after;
                let ip = Ip::answered(false, None);
                check(
                    &mut model,
                    view,
                    Expected::Value(value),
                    got,
                    ip,
                    &format!("{at}: /{len} after deleting {deleted}"),
                );
            }
        }
        if step % 10 == 9 {
            assert_views(&session, &session.own, &model, &at);
        }
    }
    let commit = rng.below(2) == 0;
    end_run(&mut session, &mut model, commit);
    assert_views(
        &session,
        &session.own,
        &model,
        &format!("seed {seed} at the end"),
    );
    assert_views(
        &session,
        &session.other,
        &model,
        &format!("seed {seed} at the end, through the other handle"),
    );
}

/// The seeds to check: 100 in CI (~3 s).
fn seeds() -> std::ops::Range<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|n| n.parse().ok());
    match (var("POOL_MODEL_SEED"), var("POOL_MODEL_SEEDS")) {
        (Some(seed), _) => seed..seed + 1,
        (None, seeds) => 0..seeds.unwrap_or(100),
    }
}

/// `POOL_MODEL_SEEDS=n` checks seeds 0 to n - 1, `POOL_MODEL_SEED=k` seed k alone.
#[test]
fn pools_hand_out_what_the_rules_say_among_what_each_view_shows() {
    for seed in seeds() {
        run(seed);
    }
}
