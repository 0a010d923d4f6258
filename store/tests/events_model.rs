//! Change events against the store's own state: random writes on main — devices created,
//! changed (attributes set and unset, their site set and cleared) and deleted with their
//! interfaces; interfaces created, renamed, moved and deleted; writes that change nothing;
//! several in one document; runs committed or abandoned — and after each, the whole store
//! is read back and diffed with what it was before. The events the write emitted must be
//! that diff exactly: one event per node whose state changed (`created`, `updated`,
//! `deleted`), none for the others, each listing every attribute whose value changed
//! (with both values) and every relationship peer added or removed — on both nodes of an
//! edge. A cascade of a trigger rule fires on these events: one missing is a run never
//! made, one too many a run made for nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::session::Session;
use common::{DCIM, Rng};
use infragen_store::{Action, Store};
use serde_json::{Value, json};

const STEPS: usize = 40;
const DEVICES: [&str; 3] = ["d0", "d1", "d2"];
const INTERFACES: [&str; 3] = ["e0", "e1", "e2"];

/// A node as read back: its kind, attribute values and relationship peers.
#[derive(Clone, Debug, PartialEq)]
struct NodeState {
    kind: String,
    attrs: BTreeMap<String, Value>,
    rels: BTreeMap<String, BTreeSet<String>>,
}

type State = BTreeMap<String, NodeState>;

const DEVICE_ATTRS: [&str; 6] = ["name", "role", "asn", "mgmt", "serial", "status"];
const INTERFACE_ATTRS: [&str; 4] = ["name", "description", "mtu", "speed"];

/// Every device, interface and site on main, as `s` (or the open run) shows them.
fn read(session: &Session, s: &Store) -> State {
    let attrs = |names: &[&str]| {
        names
            .iter()
            .map(|a| format!("{a} {{ value }}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let d = session.ok(
        s,
        "main",
        &format!(
            "{{ DcimDevice {{ edges {{ node {{ id {} site {{ node {{ id }} }} interfaces {{ edges {{ node {{ id }} }} }} }} }} }} \
             DcimPhysicalInterface {{ edges {{ node {{ id {} device {{ node {{ id }} }} }} }} }} \
             LocationSite {{ edges {{ node {{ id name {{ value }} }} }} }} }}",
            attrs(&DEVICE_ATTRS),
            attrs(&INTERFACE_ATTRS)
        ),
    );
    let mut state = State::new();
    for (kind, names, rels) in [
        ("DcimDevice", &DEVICE_ATTRS[..], &["site", "interfaces"][..]),
        (
            "DcimPhysicalInterface",
            &INTERFACE_ATTRS[..],
            &["device"][..],
        ),
        ("LocationSite", &["name"][..], &[][..]),
    ] {
        for edge in d[kind]["edges"].as_array().expect("edges") {
            let node = &edge["node"];
            let attrs = names
                .iter()
                .map(|a| (a.to_string(), node[*a]["value"].clone()))
                .collect();
            let rels = rels
                .iter()
                .map(|r| {
                    let peers = match &node[*r] {
                        Value::Object(one) if one.contains_key("node") => one["node"]["id"]
                            .as_str()
                            .map(str::to_owned)
                            .into_iter()
                            .collect(),
                        many => many["edges"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|e| e["node"]["id"].as_str().map(str::to_owned))
                            .collect(),
                    };
                    (r.to_string(), peers)
                })
                .collect();
            state.insert(
                node["id"].as_str().expect("id").to_owned(),
                NodeState {
                    kind: kind.to_owned(),
                    attrs,
                    rels,
                },
            );
        }
    }
    state
}

/// One event, as the diff of two states gives it: the action, the kind, the changed
/// attributes (name → value and previous value) and the changed peers (relationship,
/// added, peer), each sorted.
type Change = (
    Action,
    String,
    BTreeMap<String, (Value, Value)>,
    BTreeSet<(String, bool, String)>,
);

/// What the events of a write must say: the diff of `before` and `after`, per node.
fn diff(before: &State, after: &State) -> BTreeMap<String, Change> {
    let empty = |kind: &str| NodeState {
        kind: kind.to_owned(),
        attrs: BTreeMap::new(),
        rels: BTreeMap::new(),
    };
    let ids: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut out = BTreeMap::new();
    for id in ids {
        let (action, old, new) = match (before.get(id), after.get(id)) {
            (Some(old), Some(new)) if old == new => continue,
            (Some(old), Some(new)) => (Action::Updated, old.clone(), new.clone()),
            (None, Some(new)) => (Action::Created, empty(&new.kind), new.clone()),
            (Some(old), None) => (Action::Deleted, old.clone(), empty(&old.kind)),
            (None, None) => continue,
        };
        let names: BTreeSet<&String> = old.attrs.keys().chain(new.attrs.keys()).collect();
        let attrs = names
            .into_iter()
            .filter_map(|name| {
                let was = old.attrs.get(name).cloned().unwrap_or(Value::Null);
                let now = new.attrs.get(name).cloned().unwrap_or(Value::Null);
                (was != now).then(|| (name.clone(), (now, was)))
            })
            .collect();
        let rels: BTreeSet<&String> = old.rels.keys().chain(new.rels.keys()).collect();
        let none = BTreeSet::new();
        let mut peers = BTreeSet::new();
        for rel in rels {
            let was = old.rels.get(rel).unwrap_or(&none);
            let now = new.rels.get(rel).unwrap_or(&none);
            for peer in now.difference(was) {
                peers.insert((rel.clone(), true, peer.clone()));
            }
            for peer in was.difference(now) {
                peers.insert((rel.clone(), false, peer.clone()));
            }
        }
        out.insert(id.clone(), (action, new.kind.clone(), attrs, peers));
    }
    out
}

/// The events after `seq`, per node, in the form of [`diff`]; a node with two events is a
/// failure.
fn emitted(s: &Store, seq: i64, at: &str) -> BTreeMap<String, Change> {
    let mut out = BTreeMap::new();
    for event in s.events_since(seq).expect("events") {
        assert_eq!(event.branch, "main", "{at}");
        let attrs = event
            .attributes
            .iter()
            .map(|a| (a.name.clone(), (a.value.clone(), a.value_previous.clone())))
            .collect();
        let peers = event
            .relationships
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.peer_status == infragen_store::events::PeerStatus::Added,
                    r.peer_id.clone(),
                )
            })
            .collect();
        let id = event.id.clone();
        let previous = out.insert(id.clone(), (event.action, event.kind.clone(), attrs, peers));
        assert!(previous.is_none(), "{at}: two events for {id}");
    }
    out
}

/// A random write on main, planned against `state`: its document and what it is.
fn plan(rng: &mut Rng, state: &State) -> Option<(String, String)> {
    let of = |kind: &str| -> Vec<(&String, &NodeState)> {
        state.iter().filter(|(_, n)| n.kind == kind).collect()
    };
    let pick = |rng: &mut Rng, nodes: &[(&String, &NodeState)]| -> Option<String> {
        (!nodes.is_empty()).then(|| nodes[rng.below(nodes.len())].0.clone())
    };
    let devices = of("DcimDevice");
    let interfaces = of("DcimPhysicalInterface");
    let sites = of("LocationSite");
    let value = |rng: &mut Rng, attr: &str| -> String {
        match (attr, rng.below(3)) {
            (_, 0) => "null".into(),
            ("role", n) => format!(r#""{}""#, ["leaf", "spine"][n - 1]),
            ("asn", n) => format!("{}", 65000 + n),
            ("serial", n) => format!(r#""s{n}-{}""#, rng.below(1000)),
            ("description", n) => format!(r#""link {n}""#),
            ("mtu", n) => format!("{}", [1500, 9000][n - 1]),
            ("speed", n) => format!("{}", [100, 400][n - 1]),
            _ => "null".into(),
        }
    };
    let (document, what) = match rng.below(9) {
        // A device upserted by name: created, or its attributes changed (or not at all).
        0..=1 => {
            let name = DEVICES[rng.below(DEVICES.len())];
            let mut fields = vec![format!(r#"name: {{value: "{name}"}}"#)];
            for attr in ["role", "asn", "serial"] {
                if rng.below(2) == 0 {
                    fields.push(format!("{attr}: {{value: {}}}", value(rng, attr)));
                }
            }
            if rng.below(3) == 0 && !sites.is_empty() {
                fields.push(match pick(rng, &sites) {
                    Some(site) if rng.below(3) != 0 => format!(r#"site: {{id: "{site}"}}"#),
                    _ => "site: null".into(),
                });
            }
            let fields = fields.join(", ");
            (
                format!("mutation {{ DcimDeviceUpsert(data: {{{fields}}}) {{ ok }} }}"),
                format!("upsert device {fields}"),
            )
        }
        // An interface upserted on a device: created, or its attributes changed.
        2..=3 => {
            let device = pick(rng, &devices)?;
            let name = INTERFACES[rng.below(INTERFACES.len())];
            let attr = INTERFACE_ATTRS[1 + rng.below(3)];
            let fields = format!(
                r#"name: {{value: "{name}"}}, device: {{id: "{device}"}}, {attr}: {{value: {}}}"#,
                value(rng, attr)
            );
            (
                format!("mutation {{ DcimPhysicalInterfaceUpsert(data: {{{fields}}}) {{ ok }} }}"),
                format!("upsert interface {fields}"),
            )
        }
        // An interface renamed or moved to another device (refused when its HFID is
        // taken: then nothing changes and nothing is emitted).
        4 => {
            let id = pick(rng, &interfaces)?;
            let change = if rng.below(2) == 0 {
                format!(
                    r#"name: {{value: "{}"}}"#,
                    INTERFACES[rng.below(INTERFACES.len())]
                )
            } else {
                format!(r#"device: {{id: "{}"}}"#, pick(rng, &devices)?)
            };
            (
                format!(
                    r#"mutation {{ DcimPhysicalInterfaceUpdate(data: {{id: "{id}", {change}}}) {{ ok }} }}"#
                ),
                format!("update interface {id}: {change}"),
            )
        }
        // A device's attribute or site changed by id.
        5 => {
            let id = pick(rng, &devices)?;
            let attr = ["role", "asn", "serial", "site"][rng.below(4)];
            let change = if attr == "site" {
                match pick(rng, &sites) {
                    Some(site) if rng.below(2) == 0 => format!(r#"site: {{id: "{site}"}}"#),
                    _ => "site: null".into(),
                }
            } else {
                format!("{attr}: {{value: {}}}", value(rng, attr))
            };
            (
                format!(
                    r#"mutation {{ DcimDeviceUpdate(data: {{id: "{id}", {change}}}) {{ ok }} }}"#
                ),
                format!("update device {id}: {change}"),
            )
        }
        // A delete: an interface, or a device with its interfaces.
        6 => {
            let (kind, id) = if rng.below(2) == 0 {
                ("DcimDevice", pick(rng, &devices)?)
            } else {
                ("DcimPhysicalInterface", pick(rng, &interfaces)?)
            };
            (
                format!(r#"mutation {{ {kind}Delete(data: {{id: "{id}"}}) {{ ok }} }}"#),
                format!("delete {kind} {id}"),
            )
        }
        // Two writes in one document: one transaction, and one event per node for both.
        _ => {
            let (first, what_first) = plan(rng, state)?;
            let (second, what_second) = plan(rng, state)?;
            let inner = |document: &str| {
                document
                    .trim_start_matches("mutation { ")
                    .trim_end_matches(" }")
                    .to_owned()
            };
            (
                format!("mutation {{ a: {} b: {} }}", inner(&first), inner(&second)),
                format!("{what_first}; then {what_second}"),
            )
        }
    };
    Some((document, what))
}

fn run(seed: u64, trace: bool) {
    let mut rng = Rng::seeded(seed);
    let mut session = Session::new(&[("dcim.yml".into(), DCIM.into())]);
    session.ok(
        &session.own,
        "main",
        r#"mutation { LocationRegionCreate(data: {name: {value: "eu"}}) { ok } }"#,
    );
    for site in ["ams", "fra"] {
        session.ok(
            &session.own,
            "main",
            &format!(
                r#"mutation {{ LocationSiteCreate(data: {{name: {{value: "{site}"}}, parent: {{hfid: ["eu"]}}}}) {{ ok }} }}"#
            ),
        );
    }
    // The state and the last event before the open run, if one is open.
    let mut run_from: Option<(State, i64)> = None;
    for step in 0..STEPS {
        if session.run_branch().is_some() && rng.below(3) == 0 {
            let commit = rng.below(3) != 0;
            let (before, seq) = run_from.take().expect("the state before the run");
            session.end_run(commit);
            let at = format!(
                "seed {seed} step {step}: the run's {}",
                if commit { "commit" } else { "abandon" }
            );
            let after = read(&session, &session.own);
            if !commit {
                assert_eq!(after, before, "{at}: the store as before the run");
            }
            // A run's events are written at its commit: what it changed, each node once.
            assert_eq!(
                emitted(&session.own, seq, &at),
                diff(&before, &after),
                "{at}"
            );
        } else if session.run_branch().is_none() && rng.below(5) == 0 {
            run_from = Some((
                read(&session, &session.own),
                session.own.last_event_seq().expect("events"),
            ));
            session.begin_run("main");
        }
        let s = if session.run_branch().is_none() && rng.below(3) == 0 {
            &session.other
        } else {
            &session.own
        };
        let before = read(&session, s);
        let seq = session.own.last_event_seq().expect("events");
        let Some((document, what)) = plan(&mut rng, &before) else {
            continue;
        };
        let at = format!("seed {seed} step {step}: {what}");
        if trace {
            eprintln!("{at}");
        }
        let response = session.send(s, "main", &document, json!({}));
        let after = read(&session, s);
        if response.get("errors").is_some() {
            assert_eq!(
                after, before,
                "{at}: refused ({response}), and nothing changed"
            );
        }
        if session.run_branch().is_none() {
            assert_eq!(
                emitted(&session.own, seq, &at),
                diff(&before, &after),
                "{at}"
            );
        } else {
            // Inside a run nothing is emitted until the commit.
            assert_eq!(session.own.last_event_seq().expect("events"), seq, "{at}");
        }
    }
}

/// `EVENTS_MODEL_SEEDS=n` checks seeds 0 to n - 1 (50 in CI), `EVENTS_MODEL_SEED=k` seed k
/// alone, `EVENTS_MODEL_TRACE=1` prints every step.
#[test]
fn every_write_emits_exactly_the_changes_it_made() {
    let var = |name: &str| std::env::var(name).ok().and_then(|n| n.parse::<u64>().ok());
    let seeds = match (var("EVENTS_MODEL_SEED"), var("EVENTS_MODEL_SEEDS")) {
        (Some(seed), _) => seed..seed + 1,
        (None, seeds) => 0..seeds.unwrap_or(50),
    };
    let trace = std::env::var_os("EVENTS_MODEL_TRACE").is_some();
    for seed in seeds {
        run(seed, trace);
    }
}
