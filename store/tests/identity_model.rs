//! Upsert identity against a model: devices (unique `name`, their HFID, and a unique
//! `serial`) and their interfaces (HFID `[device__name__value, name__value]`) upserted,
//! renamed, moved between devices and deleted at random on main — through the store's own
//! handle, through a second handle on the same file (another process) and inside run
//! transactions that end committed or abandoned. An upsert must land on the node the
//! identity names in what the step's view shows (the node a rename or a move gave that
//! identity, not the one that had it before), create one only where there is none, and
//! refuse what would make a unique value or an HFID twice, changing nothing; after every
//! step the view is read whole and compared with the model.
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

/// What main shows, by store id.
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

    fn delete_device(&mut self, id: &str) {
        self.devices.remove(id);
        // `interfaces` is a Component relationship: they go with their device.
        self.interfaces.retain(|_, i| i.device != id);
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

/// What main shows, read whole through `s` (or the open run).
fn read(session: &Session, s: &Store) -> Model {
    let d = session.ok(
        s,
        "main",
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

fn run(seed: u64, trace: bool) {
    let mut rng = Rng::seeded(seed);
    let mut session = Session::new(&[("dcim.yml".into(), DCIM.into())]);
    let mut model = Model::default();
    let mut run_started: Option<Model> = None;
    for step in 0..STEPS {
        // A run opens now and then and takes the next few steps; it ends committed or
        // abandoned.
        match session.run_branch() {
            None if rng.below(4) == 0 => {
                session.begin_run("main");
                run_started = Some(model.clone());
            }
            Some(_) if rng.below(3) == 0 => {
                let commit = rng.below(3) != 0;
                session.end_run(commit);
                let started = run_started.take().expect("the model at the run's start");
                if !commit {
                    model = started;
                }
                assert_eq!(
                    read(&session, &session.own),
                    model,
                    "seed {seed} step {step}: after the run {}",
                    if commit { "committed" } else { "was abandoned" }
                );
            }
            _ => {}
        }
        let s = pick(&session, &mut rng);
        let through = match (session.is_own(s), session.run_branch()) {
            (false, _) => "the other handle",
            (true, Some(_)) => "a run",
            (true, None) => "the own handle",
        };
        let op = rng.below(10);
        let at = format!("seed {seed} step {step} through {through}");
        if trace {
            eprintln!("{at}: op {op}");
        }
        let pick_one = |rng: &mut Rng, ids: Vec<String>| -> Option<String> {
            (!ids.is_empty()).then(|| ids[rng.below(ids.len())].clone())
        };
        match op {
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
                let response = session.send(
                    s,
                    "main",
                    &format!(
                        r#"mutation {{ DcimDeviceUpsert(data: {{name: {{value: "{name}"}}{serial_field}}}) {{ object {{ id }} }} }}"#
                    ),
                    json!({}),
                );
                let at = format!("{at}: upsert device {name} serial {serial:?}");
                if let Some(id) = check(
                    expected,
                    written(&response, "DcimDeviceUpsert"),
                    &model,
                    &at,
                ) {
                    let device = model.devices.entry(id).or_insert(Device {
                        name: name.to_owned(),
                        serial: None,
                    });
                    if let Some(serial) = serial {
                        device.serial = Some(serial.to_owned());
                    }
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
                let response = session.send(
                    s,
                    "main",
                    &format!(
                        r#"mutation {{ DcimPhysicalInterfaceUpsert(data: {{name: {{value: "{name}"}}, device: {device_field}}}) {{ object {{ id }} }} }}"#
                    ),
                    json!({}),
                );
                let at =
                    format!("{at}: upsert interface {device_name}/{name} (device by id: {by_id})");
                if let Some(id) = check(
                    expected,
                    written(&response, "DcimPhysicalInterfaceUpsert"),
                    &model,
                    &at,
                ) {
                    model.interfaces.insert(
                        id,
                        Interface {
                            device: device.expect("a device"),
                            name: name.to_owned(),
                        },
                    );
                }
            }
            // Rename an interface, or move it to another device.
            5..=6 => {
                let Some(id) = pick_one(&mut rng, model.interfaces.keys().cloned().collect())
                else {
                    continue;
                };
                let mut after = model.interfaces[&id].clone();
                let change = if op == 5 {
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
                let expected = if taken {
                    Expected::Refused(UNIQUE)
                } else {
                    Expected::Writes(Some(id.clone()))
                };
                let response = session.send(
                    s,
                    "main",
                    &format!(
                        r#"mutation {{ DcimPhysicalInterfaceUpdate(data: {{id: "{id}", {change}}}) {{ object {{ id }} }} }}"#
                    ),
                    json!({}),
                );
                let at = format!("{at}: {change} of interface {id}");
                if check(
                    expected,
                    written(&response, "DcimPhysicalInterfaceUpdate"),
                    &model,
                    &at,
                )
                .is_some()
                {
                    model.interfaces.insert(id, after);
                }
            }
            // Rename a device: its interfaces' HFIDs change with it.
            7 => {
                let Some(id) = pick_one(&mut rng, model.devices.keys().cloned().collect()) else {
                    continue;
                };
                let name = DEVICE_NAMES[rng.below(DEVICE_NAMES.len())];
                let expected = match model.device_named(name) {
                    Some(other) if *other != id => Expected::Refused(UNIQUE),
                    _ => Expected::Writes(Some(id.clone())),
                };
                let response = session.send(
                    s,
                    "main",
                    &format!(
                        r#"mutation {{ DcimDeviceUpdate(data: {{id: "{id}", name: {{value: "{name}"}}}}) {{ object {{ id }} }} }}"#
                    ),
                    json!({}),
                );
                let at = format!("{at}: rename device {id} to {name}");
                let renamed = check(
                    expected,
                    written(&response, "DcimDeviceUpdate"),
                    &model,
                    &at,
                );
                if renamed.is_some()
                    && let Some(device) = model.devices.get_mut(&id)
                {
                    device.name = name.to_owned();
                }
            }
            // Delete an interface, or a device with its interfaces.
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
                let Some(id) = pick_one(&mut rng, ids) else {
                    continue;
                };
                session.ok(
                    s,
                    "main",
                    &format!(r#"mutation {{ {kind}Delete(data: {{id: "{id}"}}) {{ ok }} }}"#),
                );
                if device {
                    model.delete_device(&id);
                } else {
                    model.interfaces.remove(&id);
                }
            }
        }
        assert_eq!(read(&session, s), model, "{at}: what main shows");
    }
    let commit = rng.below(2) == 0;
    if session.end_run(commit) {
        let started = run_started.take().expect("the model at the run's start");
        if !commit {
            model = started;
        }
    }
    assert_eq!(
        read(&session, &session.own),
        model,
        "seed {seed} at the end"
    );
    assert_eq!(
        read(&session, &session.other),
        model,
        "seed {seed} at the end, through the other handle"
    );
}

/// `IDENTITY_MODEL_SEEDS=n` checks seeds 0 to n - 1 (100 in CI), `IDENTITY_MODEL_SEED=k`
/// seed k alone, and `IDENTITY_MODEL_TRACE=1` prints every step.
#[test]
fn upserts_find_the_node_their_identity_names_in_what_main_shows() {
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
