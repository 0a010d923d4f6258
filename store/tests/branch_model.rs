//! Branches against a model: random edits on `main` and on two branches — two attributes
//! of a few devices (set and unset), a group's members, new devices under colliding names,
//! deletions — and after every edit every view read back and compared with what the rules
//! say it must be; each round ends with each branch's merge, which must do exactly what the
//! three-way rule says, or refuse with exactly the conflicts it predicts and merge nothing
//! (the branch is then deleted and made afresh, so that the seeds go on exploring merges
//! rather than repeat one refusal). A second test sends one branch's edits through run
//! transactions, as a generator's writes go: read inside the run and after its commit,
//! they must show the same.
//!
//! The rules (the issue's, after Infrahub's): a branch sees main's later changes to every
//! attribute and edge it has not changed itself, and its own changes win (writing the value
//! it already shows is no change). A merge applies the branch's value of an attribute unless
//! main changed it too since the branch first did (then the two values are a named conflict,
//! unless they agree); an edge the branch added or removed is added or removed on main. A
//! node the branch deleted is deleted on main, unless main changed it since (a named
//! conflict; joining or leaving a group changes the group, not the member); a node main
//! deleted that the branch changed (an attribute or a membership) is a named conflict too,
//! and so is a node the merge writes on main under a name (its HFID) another node there has.
//! What one branch's merge changes on main is, for the other, a change of main's.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use infragen_store::{GraphqlRequest, RunTransaction, Store, StoreError};
use serde_json::{Value, json};

const DEVICES: usize = 6;
const EDITS: usize = 30;
const ROUNDS: usize = 3;

/// The branch's own value of an attribute, or its own state of an edge, and main's at the
/// moment the branch first changed it.
#[derive(Clone, Debug)]
struct Own<T> {
    now: T,
    base: T,
}

/// The branches edited besides main.
const BRANCHES: [&str; 2] = ["br1", "br2"];

/// What one branch holds of its own.
#[derive(Default)]
struct Branch {
    /// (device, attribute) → the branch's own value.
    attrs: BTreeMap<(usize, &'static str), Own<Value>>,
    edges: BTreeMap<usize, Own<bool>>,
    /// Devices the branch deleted → whether main changed them since.
    deleted: BTreeMap<usize, bool>,
    /// Devices the branch created → their `asn` and `role`.
    created: BTreeMap<usize, (Value, Value)>,
}

/// What the rules say the store holds.
#[derive(Default)]
struct Model {
    /// The devices main has.
    main_alive: BTreeSet<usize>,
    /// (device, attribute) → main's value.
    main_attrs: BTreeMap<(usize, &'static str), Value>,
    main_members: BTreeSet<usize>,
    branches: BTreeMap<&'static str, Branch>,
    /// Every device's name (unique, its HFID), by index.
    names: Vec<String>,
}

impl Model {
    fn own(&self, branch: &str) -> Option<&Branch> {
        self.branches.get(branch)
    }

    fn own_mut(&mut self, branch: &str) -> &mut Branch {
        let name = BRANCHES
            .into_iter()
            .find(|b| *b == branch)
            .expect("a known branch");
        self.branches.entry(name).or_default()
    }

    fn created(&self, branch: &str, device: usize) -> Option<&(Value, Value)> {
        self.own(branch)?.created.get(&device)
    }

    fn alive(&self, branch: &str, device: usize) -> bool {
        if self.created(branch, device).is_some() {
            return true;
        }
        self.main_alive.contains(&device)
            && self
                .own(branch)
                .is_none_or(|own| !own.deleted.contains_key(&device))
    }

    fn attr(&self, branch: &str, device: usize, attr: &'static str) -> Value {
        if let Some((asn, role)) = self.created(branch, device) {
            return if attr == "asn" { asn } else { role }.clone();
        }
        let main = self.main_attrs[&(device, attr)].clone();
        self.own(branch)
            .and_then(|own| own.attrs.get(&(device, attr)))
            .map_or(main, |own| own.now.clone())
    }

    fn member(&self, branch: &str, device: usize) -> bool {
        let main = self.main_members.contains(&device);
        self.alive(branch, device)
            && self
                .own(branch)
                .and_then(|own| own.edges.get(&device))
                .map_or(main, |own| own.now)
    }

    /// Main changed `device`: a deletion of it on any branch now conflicts.
    fn main_changed(&mut self, device: usize) {
        for own in self.branches.values_mut() {
            if let Some(changed) = own.deleted.get_mut(&device) {
                *changed = true;
            }
        }
    }

    fn set_main_attr(&mut self, device: usize, attr: &'static str, value: Value) {
        if self.main_attrs.insert((device, attr), value.clone()) != Some(value) {
            self.main_changed(device);
        }
    }

    fn set_attr(&mut self, branch: &str, device: usize, attr: &'static str, value: Value) {
        if branch == "main" {
            self.set_main_attr(device, attr, value);
            return;
        }
        if let Some((asn, role)) = self.own_mut(branch).created.get_mut(&device) {
            *if attr == "asn" { asn } else { role } = value;
            return;
        }
        // Writing the value the branch already shows changes nothing: not a change of its
        // own (it goes on following main), as Infrahub records no change for it.
        let base = self.main_attrs[&(device, attr)].clone();
        let own = self.own_mut(branch);
        match own.attrs.get_mut(&(device, attr)) {
            Some(own) => own.now = value,
            None if value == base => {}
            None => {
                own.attrs.insert((device, attr), Own { now: value, base });
            }
        }
    }

    fn set_main_member(&mut self, device: usize, member: bool) {
        // The group changes, not the member (no `updated` event for it either): a
        // deletion of the member on a branch still merges.
        if member {
            self.main_members.insert(device);
        } else {
            self.main_members.remove(&device);
        }
    }

    fn set_member(&mut self, branch: &str, device: usize, member: bool) {
        if branch == "main" {
            self.set_main_member(device, member);
            return;
        }
        let base = self.main_members.contains(&device);
        self.own_mut(branch)
            .edges
            .entry(device)
            .and_modify(|own| own.now = member)
            .or_insert(Own { now: member, base });
    }

    fn delete(&mut self, branch: &str, device: usize) {
        if branch == "main" {
            self.main_alive.remove(&device);
            self.main_members.remove(&device);
            return;
        }
        // The branch's own rows of the node go with it.
        let own = self.own_mut(branch);
        own.attrs.retain(|(d, _), _| *d != device);
        own.edges.remove(&device);
        // A node the branch created leaves nothing behind.
        if own.created.remove(&device).is_none() {
            own.deleted.insert(device, false);
        }
    }

    /// A device made on `branch` (index `device`, next in [`Model::names`]).
    fn create(&mut self, branch: &str, device: usize, name: String, asn: Value, role: Value) {
        self.names.push(name);
        if branch == "main" {
            self.main_alive.insert(device);
            self.main_attrs.insert((device, "asn"), asn);
            self.main_attrs.insert((device, "role"), role);
        } else {
            self.own_mut(branch).created.insert(device, (asn, role));
        }
    }

    /// The conflicts merging `branch` must name (device ids given), in no particular order.
    fn conflicts(&self, branch: &str, ids: &[String]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let Some(own) = self.own(branch) else {
            return out;
        };
        for (device, changed) in &own.deleted {
            if *changed && self.main_alive.contains(device) {
                out.insert(format!(
                    "DcimDevice {}: deleted on the branch, changed on main",
                    ids[*device]
                ));
            }
        }
        for (device, id) in ids.iter().enumerate() {
            let touched = own.attrs.keys().any(|(d, _)| *d == device)
                || (own.edges.contains_key(&device) && !own.created.contains_key(&device));
            if touched && !self.main_alive.contains(&device) {
                out.insert(format!(
                    "DcimDevice {id}: changed on the branch, deleted on main"
                ));
            }
        }
        // Every node the merge writes on main (creates, or changes an attribute or a
        // membership of) must keep its name to itself among main's nodes after the merge.
        let after: Vec<usize> = self
            .main_alive
            .iter()
            .filter(|d| own.deleted.get(d) != Some(&false))
            .chain(own.created.keys())
            .copied()
            .collect();
        let written = |device: usize| {
            own.created.contains_key(&device)
                || own.attrs.iter().any(|((d, attr), own)| {
                    *d == device
                        && own.now != own.base
                        && self.main_attrs.get(&(device, *attr)) == Some(&own.base)
                })
                || own.edges.get(&device).is_some_and(|own| {
                    own.now != own.base && self.main_members.contains(&device) != own.now
                })
        };
        for device in after.iter().copied().filter(|d| written(*d)) {
            let taken = after
                .iter()
                .any(|other| *other != device && self.names[*other] == self.names[device]);
            if taken {
                out.insert(format!(
                    "DcimDevice {}: Violates uniqueness constraint 'name' with '{}'",
                    ids[device], self.names[device]
                ));
            }
        }
        for ((device, attr), own) in &own.attrs {
            if !self.main_alive.contains(device) {
                continue;
            }
            let main = &self.main_attrs[&(*device, *attr)];
            if own.now != own.base && own.now != *main && *main != own.base {
                out.insert(format!(
                    "DcimDevice {} attribute '{attr}': main={main} branch={}",
                    ids[*device], own.now
                ));
            }
        }
        out
    }

    /// Merges `branch` (whose merge has no conflicts) into main; the branch then holds
    /// nothing of its own. What the merge changes on main is main's later change for the
    /// other branches.
    fn merge(&mut self, branch: &str) {
        let own = std::mem::take(self.own_mut(branch));
        for (device, (asn, role)) in own.created {
            self.main_alive.insert(device);
            self.main_attrs.insert((device, "asn"), asn);
            self.main_attrs.insert((device, "role"), role);
        }
        for (key, own) in own.attrs {
            if own.now != own.base {
                self.set_main_attr(key.0, key.1, own.now);
            }
        }
        for (device, own) in own.edges {
            if own.now != own.base {
                self.set_main_member(device, own.now);
            }
        }
        for device in own.deleted.keys() {
            self.delete("main", *device);
        }
    }
}

/// A value for `attr`; now and then none (the attribute unset).
fn value_for(rng: &mut Rng, attr: &str) -> Value {
    match (attr, rng.below(4)) {
        (_, 0) => Value::Null,
        ("asn", _) => json!(65000 + rng.below(3) as i64),
        _ => json!(["leaf", "spine"][rng.below(2)]),
    }
}

/// What a branch shows: each device it has, with its two attributes, and the group's
/// members.
type View = (BTreeMap<usize, (Value, Value)>, BTreeSet<usize>);

/// Where the edits go: straight to the store, or (`staged`) each run of consecutive
/// edits on `br2` inside one run transaction (`Store::begin_run`), committed before
/// anything else writes — the path a generator's writes take.
struct Session<'a> {
    s: &'a Store,
    staged: bool,
    run: Option<RunTransaction>,
    runtime: tokio::runtime::Runtime,
}

impl<'a> Session<'a> {
    fn new(s: &'a Store, staged: bool) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        Session {
            s,
            staged,
            run: None,
            runtime,
        }
    }

    /// Runs `document` on `branch`, which must succeed; its `data`.
    fn exec(&mut self, branch: &str, document: &str) -> Value {
        if self.staged && branch == "br2" {
            if self.run.is_none() {
                let run = self.runtime.block_on(self.s.begin_run(branch));
                self.run = Some(run.expect("a run on br2"));
            }
            if let Some(run) = &self.run {
                let answer = run.execute(&GraphqlRequest::new(document), None);
                assert!(answer.get("errors").is_none(), "in the run: {answer:#}");
                return answer["data"].clone();
            }
        }
        self.settle();
        ok(self.s, branch, document)
    }

    /// What `branch` shows: through the open run for its branch, else the store.
    fn query(&self, branch: &str, document: &str) -> Value {
        match &self.run {
            Some(run) if branch == "br2" => {
                let answer = run.execute(&GraphqlRequest::new(document), None);
                assert!(answer.get("errors").is_none(), "in the run: {answer:#}");
                answer["data"].clone()
            }
            _ => ok(self.s, branch, document),
        }
    }

    /// Commits the open run, if any.
    fn settle(&mut self) {
        if let Some(run) = self.run.take() {
            run.commit().expect("the run commits");
        }
    }
}

/// What `branch` shows, as read back.
fn read(session: &Session<'_>, branch: &str, ids: &[String]) -> View {
    let d = session.query(
        branch,
        "{ DcimDevice { edges { node { id asn { value } role { value } } } } }",
    );
    let mut devices = BTreeMap::new();
    for edge in d["DcimDevice"]["edges"].as_array().expect("devices") {
        let node = &edge["node"];
        let at = ids
            .iter()
            .position(|id| node["id"] == *id)
            .unwrap_or_else(|| panic!("an unknown device on {branch}: {node}"));
        devices.insert(
            at,
            (node["asn"]["value"].clone(), node["role"]["value"].clone()),
        );
    }
    let g = session.query(
        branch,
        "{ CoreStandardGroup { edges { node { members { edges { node { id } } } } } } }",
    );
    let members = g["CoreStandardGroup"]["edges"][0]["node"]["members"]["edges"]
        .as_array()
        .expect("members")
        .iter()
        .map(|e| {
            ids.iter()
                .position(|id| e["node"]["id"] == *id)
                .unwrap_or_else(|| panic!("an unknown member on {branch}: {e}"))
        })
        .collect();
    (devices, members)
}

/// What `branch` must show.
fn expected(model: &Model, branch: &str) -> View {
    let devices = (0..model.names.len())
        .filter(|d| model.alive(branch, *d))
        .map(|d| {
            (
                d,
                (model.attr(branch, d, "asn"), model.attr(branch, d, "role")),
            )
        })
        .collect();
    let members = (0..model.names.len())
        .filter(|d| model.member(branch, *d))
        .collect();
    (devices, members)
}

/// One seed's rounds of edits, each checked, each round merged; how many merges went
/// through and how many were refused. `staged`: `br2`'s edits go through run transactions.
fn replay(seed: u64, staged: bool) -> (usize, usize) {
    let s = store();
    let mut rng = Rng::seeded(seed);
    let mut model = Model::default();
    let mut ids = Vec::new();
    for d in 0..DEVICES {
        let (asn, role) = (value_for(&mut rng, "asn"), value_for(&mut rng, "role"));
        ids.push(device(
            &s,
            "main",
            &format!("dev{d}"),
            &format!("asn: {{value: {asn}}} role: {{value: {role}}}"),
        ));
        model.create("main", d, format!("dev{d}"), asn, role);
    }
    let group = ok(
        &s,
        "main",
        r#"mutation { CoreStandardGroupCreate(data: {name: {value: "g"}}) { object { id } } }"#,
    )["CoreStandardGroupCreate"]["object"]["id"]
        .as_str()
        .expect("group id")
        .to_owned();
    for (d, id) in ids.iter().enumerate() {
        if rng.below(2) == 0 {
            group_member(&s, "main", &group, id, true);
            model.set_main_member(d, true);
        }
    }
    for branch in BRANCHES {
        s.create_branch(branch).expect("branch");
    }
    let mut session = Session::new(&s, staged);

    let mut log = Vec::new();
    let (mut merged, mut refused) = (0, 0);
    // Rounds of edits, each ended by merging each branch in turn; a branch lives on after
    // its merge, equal to main, and its next changes are based on main as merged.
    for round in 1..=ROUNDS {
        for _ in 0..EDITS {
            edit(
                &mut session,
                &mut rng,
                &mut model,
                &group,
                &mut ids,
                &mut log,
            );
            check(&session, &model, &ids, seed, &log);
        }
        session.settle();
        check(&session, &model, &ids, seed, &log);
        for branch in BRANCHES {
            log.push(format!("merge {branch} ({round})"));
            let conflicts = model.conflicts(branch, &ids);
            // Validating first names the same conflicts, and writes nothing.
            let validated = s.merge_conflicts(branch).expect("validated");
            assert_eq!(
                validated.into_iter().collect::<BTreeSet<_>>(),
                conflicts,
                "seed {seed}: validating {branch} (ids {ids:?}), after:\n{}",
                log.join("\n")
            );
            check(&session, &model, &ids, seed, &log);
            let before = read(&session, "main", &ids);
            match s.merge_branch(branch) {
                Ok(_) => {
                    assert!(
                        conflicts.is_empty(),
                        "seed {seed}: merged, where these conflicts were due: {conflicts:?}\n{}",
                        log.join("\n")
                    );
                    model.merge(branch);
                    merged += 1;
                }
                Err(StoreError::MergeConflict {
                    branch: named_branch,
                    conflicts: named,
                }) => {
                    assert_eq!(named_branch, branch);
                    assert_eq!(
                        named.into_iter().collect::<BTreeSet<_>>(),
                        conflicts,
                        "seed {seed}: the conflicts named (ids {ids:?}), after:\n{}",
                        log.join("\n")
                    );
                    assert_eq!(
                        read(&session, "main", &ids),
                        before,
                        "seed {seed}: nothing merged"
                    );
                    refused += 1;
                    // Given up on: the branch made afresh from main, to go on exploring.
                    s.delete_branch(branch).expect("branch deleted");
                    s.create_branch(branch).expect("branch made again");
                    model.branches.remove(branch);
                    log.push(format!("{branch} made afresh"));
                }
                Err(other) => panic!("seed {seed}: {other}"),
            }
            check(&session, &model, &ids, seed, &log);
        }
    }
    (merged, refused)
}

/// Every branch's view against the model's.
fn check(session: &Session<'_>, model: &Model, ids: &[String], seed: u64, log: &[String]) {
    for branch in std::iter::once("main").chain(BRANCHES) {
        assert_eq!(
            read(session, branch, ids),
            expected(model, branch),
            "seed {seed}, {branch} after:\n{}",
            log.join("\n")
        );
    }
}

/// One random edit, on main or on the branch, made in the store and in the model.
fn edit(
    session: &mut Session<'_>,
    rng: &mut Rng,
    model: &mut Model,
    group: &str,
    ids: &mut Vec<String>,
    log: &mut Vec<String>,
) {
    let branch = ["main", "br1", "br2"][rng.below(3)];
    let alive: Vec<usize> = (0..ids.len()).filter(|d| model.alive(branch, *d)).collect();
    let what = rng.below(20);
    if what == 1 {
        // A new device, under a name from a small set, so that branches and main collide.
        let name = format!("new{}", rng.below(4));
        if alive.iter().any(|d| model.names[*d] == name) {
            return;
        }
        let (asn, role) = (value_for(rng, "asn"), value_for(rng, "role"));
        log.push(format!("{branch}: create {name} (dev{})", ids.len()));
        let created = session.exec(
            branch,
            &format!(
                r#"mutation {{ DcimDeviceCreate(data: {{name: {{value: "{name}"}}, asn: {{value: {asn}}}, role: {{value: {role}}}}}) {{ object {{ id }} }} }}"#
            ),
        );
        let id = created["DcimDeviceCreate"]["object"]["id"]
            .as_str()
            .expect("the new device's id");
        model.create(branch, ids.len(), name, asn, role);
        ids.push(id.to_owned());
        return;
    }
    if alive.is_empty() {
        return;
    }
    let d = alive[rng.below(alive.len())];
    if what == 0 {
        log.push(format!("{branch}: delete dev{d}"));
        session.exec(
            branch,
            &format!(
                r#"mutation {{ DcimDeviceDelete(data: {{id: "{}"}}) {{ ok }} }}"#,
                ids[d]
            ),
        );
        model.delete(branch, d);
    } else if what < 7 {
        let add = !model.member(branch, d);
        log.push(format!("{branch}: member dev{d} {add}"));
        session.exec(branch, &group_member_document(group, &ids[d], add));
        model.set_member(branch, d, add);
    } else {
        let attr = ["asn", "role"][rng.below(2)];
        let value = value_for(rng, attr);
        log.push(format!("{branch}: dev{d}.{attr} = {value}"));
        session.exec(
            branch,
            &format!(
                r#"mutation {{ DcimDeviceUpdate(data: {{id: "{}", {attr}: {{value: {value}}}}}) {{ ok }} }}"#,
                ids[d]
            ),
        );
        model.set_attr(branch, d, attr, value);
    }
}

/// Replays seeds `1..=seeds`; both outcomes of a merge must have come up, or the seeds
/// prove less than they seem.
fn explore(seeds: u64, staged: bool) {
    let (merged, refused) = (1..=seeds)
        .map(|seed| replay(seed, staged))
        .fold((0, 0), |(m, r), (merged, refused)| {
            (m + merged, r + refused)
        });
    assert!(
        merged > 0 && refused > 0,
        "{merged} merges went through, {refused} were refused"
    );
}

#[test]
fn random_edits_on_main_and_a_branch_read_and_merge_as_the_rules_say() {
    explore(100, false);
}

/// The same with `br2`'s edits inside run transactions, as a generator's are: the run sees
/// its own writes over the branch as the rules say, and commits them to the same effect.
#[test]
fn edits_in_run_transactions_read_and_merge_as_the_rules_say() {
    explore(50, true);
}
