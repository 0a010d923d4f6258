//! Upsert identity against a model: devices (unique `name`, their HFID, and a unique
//! `serial`) and their interfaces (HFID `[device__name__value, name__value]`) upserted,
//! renamed, moved between devices and deleted at random on main and on a branch — through
//! the store's own handle, through a second handle on the same file (another process) and
//! inside run transactions that end committed or abandoned. An upsert must land on the
//! node the identity names in what the step's view shows (the node a rename or a move gave
//! that identity, not the one that had it before; on the branch, main's later renames
//! included, unless the branch renamed the node itself), create one only where there is
//! none, and refuse what would make a unique value or an HFID twice in that view, changing
//! nothing; after every step the view is read whole and compared with the model.
//!
//! A generator is idempotent only if this holds: its second run must find every node the
//! first one wrote, and never write a second one.

mod common;

use std::collections::BTreeMap;

use common::session::Session;
use common::{DCIM, Rng, errors};
use infragen_store::Store;
use serde_json::{Value, json};

const STEPS: usize = 60;
const DEVICE_NAMES: [&str; 4] = ["d0", "d1", "d2", "d3"];
const INTERFACE_NAMES: [&str; 3] = ["e0", "e1", "e2"];
const SERIALS: [&str; 3] = ["s0", "s1", "s2"];

#[derive(Clone, Debug, PartialEq)]
struct Device {
    name: String,
    serial: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
struct Interface {
    device: String,
    name: String,
}

/// What one view (main or the branch) shows, by store id.
#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    devices: BTreeMap<String, Device>,
    interfaces: BTreeMap<String, Interface>,
}

impl Model {
    fn device_named(&self, name: &str) -> Option<&String> {
        self.devices
            .iter()
            .find(|(_, d)| d.name == name)
            .map(|(id, _)| id)
    }

    fn interface_at(&self, device: &str, name: &str) -> Option<&String> {
        self.interfaces
            .iter()
            .find(|(_, i)| i.device == device && i.name == name)
            .map(|(id, _)| id)
    }

    fn serial_taken_by_another(&self, serial: &str, device: Option<&str>) -> bool {
        self.devices
            .iter()
            .any(|(id, d)| d.serial.as_deref() == Some(serial) && Some(id.as_str()) != device)
    }
}

const BRANCH: &str = "br1";

/// What main and the branch show, and what the branch holds of its own: the attributes it
/// set on main's nodes (main's later changes to them no longer show there) and main's
/// nodes it deleted.
#[derive(Clone, Debug, Default)]
struct World {
    main: Model,
    branch: Model,
    own: std::collections::BTreeSet<(String, &'static str)>,
    deleted: std::collections::BTreeSet<String>,
}

/// A write as the model applies it, once the store has answered.
#[derive(Clone, Debug)]
enum Applied {
    Device(String, Device),
    Interface(String, Interface),
    /// Nodes deleted: one, or a device and its interfaces.
    Deleted(Vec<String>),
}

impl World {
    fn view(&self, view: &str) -> &Model {
        if view == "main" {
            &self.main
        } else {
            &self.branch
        }
    }

    /// `applied` written on `view`, by the branch rules.
    fn apply(&mut self, view: &str, applied: Applied) {
        if view == "main" {
            match &applied {
                Applied::Device(id, new) => {
                    self.main.devices.insert(id.clone(), new.clone());
                    if self.deleted.contains(id) {
                        return;
                    }
                    let own = |attr| self.own.contains(&(id.clone(), attr));
                    let (own_name, own_serial) = (own("name"), own("serial"));
                    let shown = self.branch.devices.entry(id.clone()).or_insert(new.clone());
                    if !own_name {
                        shown.name.clone_from(&new.name);
                    }
                    if !own_serial {
                        shown.serial.clone_from(&new.serial);
                    }
                }
                Applied::Interface(id, new) => {
                    self.main.interfaces.insert(id.clone(), new.clone());
                    if self.deleted.contains(id) {
                        return;
                    }
                    let own = |attr| self.own.contains(&(id.clone(), attr));
                    let (own_name, own_device) = (own("name"), own("device"));
                    let shown = self
                        .branch
                        .interfaces
                        .entry(id.clone())
                        .or_insert(new.clone());
                    if !own_name {
                        shown.name.clone_from(&new.name);
                    }
                    if !own_device {
                        shown.device.clone_from(&new.device);
                    }
                }
                Applied::Deleted(ids) => {
                    for id in ids {
                        self.main.devices.remove(id);
                        self.main.interfaces.remove(id);
                        self.branch.devices.remove(id);
                        self.branch.interfaces.remove(id);
                    }
                }
            }
            return;
        }
        match applied {
            Applied::Device(id, new) => {
                if let Some(old) = self.branch.devices.get(&id) {
                    if old.name != new.name {
                        self.own.insert((id.clone(), "name"));
                    }
                    if old.serial != new.serial {
                        self.own.insert((id.clone(), "serial"));
                    }
                }
                self.branch.devices.insert(id, new);
            }
            Applied::Interface(id, new) => {
                if let Some(old) = self.branch.interfaces.get(&id) {
                    if old.name != new.name {
                        self.own.insert((id.clone(), "name"));
                    }
                    if old.device != new.device {
                        self.own.insert((id.clone(), "device"));
                    }
                }
                self.branch.interfaces.insert(id, new);
            }
            Applied::Deleted(ids) => {
                for id in ids {
                    self.branch.devices.remove(&id);
                    self.branch.interfaces.remove(&id);
                    if self.main.devices.contains_key(&id) || self.main.interfaces.contains_key(&id)
                    {
                        self.deleted.insert(id);
                    }
                }
            }
        }
    }

    /// Whether the branch shows only what it can: each interface on a device it shows,
    /// and no name, serial or HFID twice. A step on main that would break this (main does
    /// not check the branch's view) is not taken.
    fn branch_consistent(&self) -> bool {
        let b = &self.branch;
        let mut names = std::collections::BTreeSet::new();
        let mut serials = std::collections::BTreeSet::new();
        let mut hfids = std::collections::BTreeSet::new();
        b.devices.values().all(|d| {
            names.insert(d.name.clone())
                && d.serial.as_ref().is_none_or(|s| serials.insert(s.clone()))
        }) && b.interfaces.values().all(|i| {
            b.devices.contains_key(&i.device) && hfids.insert((i.device.clone(), i.name.clone()))
        })
    }
}

/// The handle a step goes through: sometimes the other one, never while a run is open (its
/// commit would make the run's next operation a conflict).
fn pick<'a>(session: &'a Session, rng: &mut Rng) -> &'a Store {
    if session.run_branch().is_none() && rng.below(3) == 0 {
        &session.other
    } else {
        &session.own
    }
}

/// The id a write returned under `field`, or the response's errors.
fn written(response: &Value, field: &str) -> Result<String, String> {
    if response.get("errors").is_some() {
        return Err(errors(response).join("; "));
    }
    Ok(response["data"][field]["object"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{field} returned no id: {response}"))
        .to_owned())
}

/// What `view` shows, read whole through `s` (or the open run).
fn read(session: &Session, s: &Store, view: &str) -> Model {
    let d = session.ok(
        s,
        view,
        "{ DcimDevice { edges { node { id name { value } serial { value } } } } \
         DcimPhysicalInterface { edges { node { id name { value } device { node { id } } } } } }",
    );
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let mut model = Model::default();
    for edge in d["DcimDevice"]["edges"].as_array().expect("devices") {
        let node = &edge["node"];
        model.devices.insert(
            text(&node["id"]).expect("id"),
            Device {
                name: text(&node["name"]["value"]).expect("name"),
                serial: text(&node["serial"]["value"]),
            },
        );
    }
    for edge in d["DcimPhysicalInterface"]["edges"]
        .as_array()
        .expect("interfaces")
    {
        let node = &edge["node"];
        model.interfaces.insert(
            text(&node["id"]).expect("id"),
            Interface {
                device: text(&node["device"]["node"]["id"]).expect("device"),
                name: text(&node["name"]["value"]).expect("name"),
            },
        );
    }
    model
}

/// What a step must do: write this node (`Some(id)` for an existing one, `None` for a new
/// one), or be refused with an error containing the text.
enum Expected {
    Writes(Option<String>),
    Refused(&'static str),
}

/// Checks a write's outcome against the model's; the id written, if any.
fn check(
    expected: Expected,
    got: Result<String, String>,
    model: &Model,
    at: &str,
) -> Option<String> {
    match (expected, got) {
        (Expected::Writes(Some(want)), Ok(id)) => {
            assert_eq!(id, want, "{at}: the existing node");
            Some(id)
        }
        (Expected::Writes(None), Ok(id)) => {
            assert!(
                !model.devices.contains_key(&id) && !model.interfaces.contains_key(&id),
                "{at}: a new node, not {id}"
            );
            Some(id)
        }
        (Expected::Refused(text), Err(error)) => {
            assert!(error.contains(text), "{at}: {error:?} should say {text:?}");
            None
        }
        (Expected::Writes(want), Err(error)) => {
            panic!("{at}: expected a write of {want:?}, refused: {error}")
        }
        (Expected::Refused(text), Ok(id)) => {
            panic!("{at}: expected a refusal ({text}), wrote {id}")
        }
    }
}

const UNIQUE: &str = "Violates uniqueness constraint";

/// One step: the document it sends, what the model says must happen, and how the node it
/// writes ends up (from the id the store answers).
struct Step {
    document: String,
    field: &'static str,
    expected: Expected,
    applied: Box<dyn Fn(String) -> Applied>,
    what: String,
}

/// A random step, planned against what `model` (the step's view) shows; `None` when
/// there is nothing for it to act on.
fn plan(rng: &mut Rng, model: &Model) -> Option<Step> {
    let pick_one = |rng: &mut Rng, ids: Vec<String>| -> Option<String> {
        (!ids.is_empty()).then(|| ids[rng.below(ids.len())].clone())
    };
    let step = match rng.below(10) {
        // Upsert a device by name, sometimes setting its serial.
        0..=1 => {
            let name = DEVICE_NAMES[rng.below(DEVICE_NAMES.len())];
            let serial = (rng.below(2) == 0).then(|| SERIALS[rng.below(SERIALS.len())]);
            let existing = model.device_named(name).cloned();
            let expected = match serial {
                Some(serial) if model.serial_taken_by_another(serial, existing.as_deref()) => {
                    Expected::Refused(UNIQUE)
                }
                _ => Expected::Writes(existing.clone()),
            };
            let serial_field = serial
                .map(|serial| format!(r#", serial: {{value: "{serial}"}}"#))
                .unwrap_or_default();
            let before = existing.and_then(|id| model.devices.get(&id).cloned());
            Step {
                document: format!(
                    r#"mutation {{ DcimDeviceUpsert(data: {{name: {{value: "{name}"}}{serial_field}}}) {{ object {{ id }} }} }}"#
                ),
                field: "DcimDeviceUpsert",
                expected,
                what: format!("upsert device {name} serial {serial:?}"),
                applied: Box::new(move |id| {
                    let mut device = before.clone().unwrap_or(Device {
                        name: name.to_owned(),
                        serial: None,
                    });
                    if let Some(serial) = serial {
                        device.serial = Some(serial.to_owned());
                    }
                    Applied::Device(id, device)
                }),
            }
        }
        // Upsert an interface by its HFID (the device by name) or with its device by id.
        2..=4 => {
            let device_name = DEVICE_NAMES[rng.below(DEVICE_NAMES.len())];
            let name = INTERFACE_NAMES[rng.below(INTERFACE_NAMES.len())];
            let device = model.device_named(device_name).cloned();
            let by_id = rng.below(2) == 0 && device.is_some();
            let device_field = match (&device, by_id) {
                (Some(id), true) => format!(r#"{{id: "{id}"}}"#),
                _ => format!(r#"{{hfid: ["{device_name}"]}}"#),
            };
            let expected = match &device {
                None => Expected::Refused(device_name),
                Some(device) => Expected::Writes(model.interface_at(device, name).cloned()),
            };
            Step {
                document: format!(
                    r#"mutation {{ DcimPhysicalInterfaceUpsert(data: {{name: {{value: "{name}"}}, device: {device_field}}}) {{ object {{ id }} }} }}"#
                ),
                field: "DcimPhysicalInterfaceUpsert",
                expected,
                what: format!("upsert interface {device_name}/{name} (device by id: {by_id})"),
                applied: Box::new(move |id| {
                    Applied::Interface(
                        id,
                        Interface {
                            device: device.clone().unwrap_or_default(),
                            name: name.to_owned(),
                        },
                    )
                }),
            }
        }
        // Rename an interface, or move it to another device.
        5..=6 => {
            let id = pick_one(rng, model.interfaces.keys().cloned().collect())?;
            let mut after = model.interfaces[&id].clone();
            let change = if rng.below(2) == 0 {
                after.name = INTERFACE_NAMES[rng.below(INTERFACE_NAMES.len())].to_owned();
                format!(r#"name: {{value: "{}"}}"#, after.name)
            } else {
                let devices: Vec<String> = model.devices.keys().cloned().collect();
                after.device = devices[rng.below(devices.len())].clone();
                format!(r#"device: {{id: "{}"}}"#, after.device)
            };
            let taken = model
                .interface_at(&after.device, &after.name)
                .is_some_and(|other| *other != id);
            Step {
                document: format!(
                    r#"mutation {{ DcimPhysicalInterfaceUpdate(data: {{id: "{id}", {change}}}) {{ object {{ id }} }} }}"#
                ),
                field: "DcimPhysicalInterfaceUpdate",
                expected: if taken {
                    Expected::Refused(UNIQUE)
                } else {
                    Expected::Writes(Some(id.clone()))
                },
                what: format!("{change} of interface {id}"),
                applied: Box::new(move |id| Applied::Interface(id, after.clone())),
            }
        }
        // Rename a device: its interfaces' HFIDs change with it.
        7 => {
            let id = pick_one(rng, model.devices.keys().cloned().collect())?;
            let name = DEVICE_NAMES[rng.below(DEVICE_NAMES.len())];
            let expected = match model.device_named(name) {
                Some(other) if *other != id => Expected::Refused(UNIQUE),
                _ => Expected::Writes(Some(id.clone())),
            };
            let mut after = model.devices[&id].clone();
            after.name = name.to_owned();
            Step {
                document: format!(
                    r#"mutation {{ DcimDeviceUpdate(data: {{id: "{id}", name: {{value: "{name}"}}}}) {{ object {{ id }} }} }}"#
                ),
                field: "DcimDeviceUpdate",
                expected,
                what: format!("rename device {id} to {name}"),
                applied: Box::new(move |id| Applied::Device(id, after.clone())),
            }
        }
        // Delete an interface, or a device with its interfaces (a Component relationship).
        _ => {
            let device = rng.below(3) == 0;
            let (kind, ids) = if device {
                ("DcimDevice", model.devices.keys().cloned().collect())
            } else {
                (
                    "DcimPhysicalInterface",
                    model.interfaces.keys().cloned().collect(),
                )
            };
            let id = pick_one(rng, ids)?;
            let mut gone = vec![id.clone()];
            if device {
                gone.extend(
                    model
                        .interfaces
                        .iter()
                        .filter(|(_, i)| i.device == id)
                        .map(|(id, _)| id.clone()),
                );
            }
            Step {
                document: format!(r#"mutation {{ {kind}Delete(data: {{id: "{id}"}}) {{ ok }} }}"#),
                field: "",
                expected: Expected::Writes(Some(id.clone())),
                what: format!("delete {kind} {id}"),
                applied: Box::new(move |_| Applied::Deleted(gone.clone())),
            }
        }
    };
    Some(step)
}

fn run(seed: u64, trace: bool) {
    let mut rng = Rng::seeded(seed);
    let mut session = Session::new(&[("dcim.yml".into(), DCIM.into())]);
    session.own.create_branch(BRANCH).expect("branch");
    let mut world = World::default();
    let mut run_started: Option<World> = None;
    for step in 0..STEPS {
        let view = if rng.below(2) == 0 { "main" } else { BRANCH };
        // A run opens now and then on the step's view and takes the next steps there;
        // it ends, committed or abandoned, at random or before a step on the other view.
        let ending = match session.run_branch() {
            Some(branch) if branch != view || rng.below(3) == 0 => Some(rng.below(3) != 0),
            _ => None,
        };
        if let Some(commit) = ending {
            let branch = session.run_branch().unwrap_or_default().to_owned();
            session.end_run(commit);
            let started = run_started.take().expect("the model at the run's start");
            if !commit {
                world = started;
            }
            assert_eq!(
                read(&session, &session.own, &branch),
                *world.view(&branch),
                "seed {seed} step {step}: {branch} after the run {}",
                if commit { "committed" } else { "was abandoned" }
            );
        }
        if session.run_branch().is_none() && rng.below(4) == 0 {
            session.begin_run(view);
            run_started = Some(world.clone());
        }
        let s = pick(&session, &mut rng);
        let through = match (session.is_own(s), session.run_branch()) {
            (false, _) => "the other handle",
            (true, Some(_)) => "a run",
            (true, None) => "the own handle",
        };
        let at = format!("seed {seed} step {step} on {view} through {through}");
        let Some(Step {
            document,
            field,
            expected,
            applied,
            what,
        }) = plan(&mut rng, world.view(view))
        else {
            continue;
        };
        // A write on main the branch could not show (see `World::branch_consistent`) is
        // not made.
        let mut after = world.clone();
        if view == "main"
            && let Expected::Writes(existing) = &expected
        {
            after.apply(
                view,
                applied(existing.clone().unwrap_or_else(|| "planned".into())),
            );
            if !after.branch_consistent() {
                continue;
            }
        }
        if trace {
            eprintln!("{at}: {what}");
        }
        let at = format!("{at}: {what}");
        let response = session.send(s, view, &document, json!({}));
        let got = if field.is_empty() {
            if response.get("errors").is_some() {
                Err(errors(&response).join("; "))
            } else {
                Ok(match &expected {
                    Expected::Writes(Some(id)) => id.clone(),
                    _ => String::new(),
                })
            }
        } else {
            written(&response, field)
        };
        if let Some(id) = check(expected, got, world.view(view), &at) {
            world.apply(view, applied(id));
        }
        assert_eq!(
            read(&session, s, view),
            *world.view(view),
            "{at}: what {view} shows"
        );
        // Both views every few steps; while a run is open, its own only (a run on main is
        // not yet what the branch sees).
        if step % 10 == 9 {
            for view in ["main", BRANCH] {
                if session.run_branch().is_some_and(|branch| branch != view) {
                    continue;
                }
                assert_eq!(
                    read(&session, &session.own, view),
                    *world.view(view),
                    "{at}: what {view} shows"
                );
            }
        }
    }
    let commit = rng.below(2) == 0;
    if session.end_run(commit) {
        let started = run_started.take().expect("the model at the run's start");
        if !commit {
            world = started;
        }
    }
    for view in ["main", BRANCH] {
        for s in [&session.own, &session.other] {
            assert_eq!(
                read(&session, s, view),
                *world.view(view),
                "seed {seed} at the end: what {view} shows"
            );
        }
    }
}

/// `IDENTITY_MODEL_SEEDS=n` checks seeds 0 to n - 1 (100 in CI), `IDENTITY_MODEL_SEED=k`
/// seed k alone, and `IDENTITY_MODEL_TRACE=1` prints every step.
#[test]
fn upserts_find_the_node_their_identity_names_in_what_each_view_shows() {
    let var = |name: &str| std::env::var(name).ok().and_then(|n| n.parse::<u64>().ok());
    let seeds = match (var("IDENTITY_MODEL_SEED"), var("IDENTITY_MODEL_SEEDS")) {
        (Some(seed), _) => seed..seed + 1,
        (None, seeds) => 0..seeds.unwrap_or(100),
    };
    let trace = std::env::var_os("IDENTITY_MODEL_TRACE").is_some();
    for seed in seeds {
        run(seed, trace);
    }
}
