//! The host's backend contract, run against the embedded store in process
//! ([`EmbeddedBackend`], typed calls) and against `infragen serve` over HTTP
//! ([`GraphqlBackend`] over [`Http`], the documents a real Infrahub gets).
//!
//! Both stores start from the same schema and objects. One script of
//! operations — upserts and their identity, updates by id and by HFID,
//! filters on node and generic kinds, relationship edits, pool allocations and
//! exhaustion, uniqueness, a refused and a cascading delete, branches, a raw
//! query and the errors of bad requests — runs against each, and the two
//! transcripts must be equal once ids are replaced by the order they were first
//! seen in (the stores draw different UUIDs). The transcript is also checked
//! against what Infrahub answers, so two backends wrong in the same way fail.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use infragen::backend::{AddressAllocation, Backend, BackendError, PoolSelector, PrefixAllocation};
use infragen::client::GraphqlBackend;
use infragen::embedded::EmbeddedBackend;
use infragen::transport::{Http, HttpConfig};
use infragen_store::{GraphqlRequest, Store, WriteOp};
use serde_json::{Value, json};

const SCHEMA: &str = r#"
version: "1.0"
generics:
  - name: Interface
    namespace: Dcim
    human_friendly_id: [device__name__value, name__value]
    display_labels: [name__value]
    order_by: [name__value]
    attributes:
      - {name: name, kind: Text}
      - {name: description, kind: Text, optional: true}
    relationships:
      - {name: device, peer: DcimDevice, kind: Parent, cardinality: one, optional: false, identifier: device__interface}
nodes:
  - name: Site
    namespace: Location
    human_friendly_id: [name__value]
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
  - name: Tag
    namespace: Test
    human_friendly_id: [name__value]
    display_labels: [name__value]
    order_by: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
  - name: Device
    namespace: Dcim
    human_friendly_id: [name__value]
    display_labels: [name__value]
    order_by: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: serial, kind: Text, optional: true, unique: true}
      - {name: asn, kind: Number, optional: true}
      - name: role
        kind: Dropdown
        optional: true
        choices: [{name: leaf}, {name: spine}]
    relationships:
      - {name: site, peer: LocationSite, kind: Attribute, cardinality: one, optional: false, identifier: device__site}
      - {name: interfaces, peer: DcimInterface, kind: Component, cardinality: many, identifier: device__interface}
      - {name: tags, peer: TestTag, kind: Attribute, cardinality: many, identifier: device__tag}
      - {name: loopback, peer: IpamIPAddress, cardinality: one, optional: true, identifier: device__loopback}
  - name: PhysicalInterface
    namespace: Dcim
    inherit_from: [DcimInterface]
    attributes:
      - {name: speed, kind: Number, optional: true}
  - name: IPPrefix
    namespace: Ipam
    inherit_from: [BuiltinIPPrefix]
    human_friendly_id: [prefix__value]
  - name: IPAddress
    namespace: Ipam
    inherit_from: [BuiltinIPAddress]
"#;

/// What both stores hold before the script: sites, tags, a /30 and a /29 with a
/// pool over each.
const SETUP: &[&str] = &[
    r#"mutation { LocationSiteCreate(data: {name: {value: "ams"}}) { ok } }"#,
    r#"mutation { LocationSiteCreate(data: {name: {value: "fra"}}) { ok } }"#,
    r#"mutation { TestTagCreate(data: {name: {value: "blue"}}) { ok } }"#,
    r#"mutation { TestTagCreate(data: {name: {value: "red"}}) { ok } }"#,
    r#"mutation { IpamIPPrefixCreate(data: {prefix: {value: "10.0.0.0/30"}}) { ok } }"#,
    r#"mutation { IpamIPPrefixCreate(data: {prefix: {value: "10.1.0.0/29"}}) { ok } }"#,
    r#"mutation { CoreIPPrefixPoolCreate(data: {name: {value: "p2p"}, default_prefix_length: {value: 31}, default_member_type: {value: "prefix"}, default_prefix_type: {value: "IpamIPPrefix"}, ip_namespace: {hfid: ["default"]}, resources: [{hfid: ["10.0.0.0/30"]}]}) { ok } }"#,
    r#"mutation { CoreIPAddressPoolCreate(data: {name: {value: "loopbacks"}, default_address_type: {value: "IpamIPAddress"}, default_prefix_length: {value: 32}, ip_namespace: {hfid: ["default"]}, resources: [{hfid: ["10.1.0.0/29"]}]}) { ok } }"#,
];

/// A store file with the schema and [`SETUP`], and a branch `br1`.
fn prepared_store(path: &Path) -> Store {
    let store = Store::open(path).expect("store opens");
    store
        .load_schema(&[("conformance.yml".into(), SCHEMA.into())])
        .expect("schema loads");
    for document in SETUP {
        let response = store.execute_blocking("main", &GraphqlRequest::new(*document));
        assert!(response.get("errors").is_none(), "{document}: {response}");
    }
    store.create_branch("br1").expect("branch");
    store
}

/// `infragen serve` over a [`prepared_store`] in `dir`, and the backend a host uses to
/// talk to it over HTTP (the server lives as long as the first value).
fn served_backend(dir: &Path) -> (Served, GraphqlBackend<Http>) {
    let served_path = dir.join("served.db");
    let served_store = prepared_store(&served_path);
    let token = served_store
        .create_token("conformance", infragen_store::TokenScope::Admin)
        .expect("token");
    drop(served_store);
    let repository = dir.join("repository");
    std::fs::create_dir_all(&repository).expect("repository dir");
    let server = serve(&served_path, &repository, &token);
    let http = Http::new(HttpConfig::new(server.address.clone(), Some(token))).expect("client");
    (server, GraphqlBackend::new(http))
}

/// `infragen serve` on a free port over a store file; killed when dropped.
struct Served {
    child: Child,
    address: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(store: &Path, repository: &Path, token: &str) -> Served {
    std::fs::write(repository.join(".infrahub.yml"), "---\n").expect("repository config");
    std::fs::write(
        repository.join("infragen.toml"),
        format!("[store]\napi_tokens = [\"{token}\"]\n"),
    )
    .expect("serve config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_infragen"))
        .arg("--store")
        .arg(store)
        .args(["serve", "--listen", "127.0.0.1:0", "--repository"])
        .arg(repository)
        .arg("--config")
        .arg(repository.join("infragen.toml"))
        .env_remove("INFRAGEN_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("infragen serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let first = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("serve prints its address");
    let address = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    Served { child, address }
}

/// One operation's outcome: its value, or its error's kind and message.
fn outcome<T: serde::Serialize>(result: Result<T, BackendError>) -> Value {
    match result {
        Ok(value) => json!({ "ok": value }),
        Err(error) => json!({ "error": { "kind": error.kind, "message": error.message } }),
    }
}

/// The id of a node named `name` of `kind`, read through the backend.
async fn id_of(backend: &dyn Backend, branch: &str, kind: &str, name: &str) -> String {
    let nodes = backend
        .filters(branch, kind, &json!({ "name__value": name }), &[])
        .await
        .expect("lookup");
    nodes[0]["id"].as_str().expect("id").to_owned()
}

/// The next /31 of the `p2p` pool, reserved under `identifier` when given.
fn p2p(identifier: Option<String>) -> PrefixAllocation {
    PrefixAllocation {
        pool: PoolSelector::Name("p2p".into()),
        identifier,
        prefix_length: None,
        member_type: None,
        prefix_type: None,
        data: None,
    }
}

/// The script, with every outcome in order.
async fn script(backend: &dyn Backend) -> Vec<(&'static str, Value)> {
    let mut t: Vec<(&'static str, Value)> = Vec::new();
    let ams = id_of(backend, "main", "LocationSite", "ams").await;
    let blue = id_of(backend, "main", "TestTag", "blue").await;
    let red = id_of(backend, "main", "TestTag", "red").await;
    // Named first, so they are #1, #2 and #3 in the transcript.
    t.push(("setup", json!([ams, blue, red])));

    // Upserts: create, then the same identity again, by HFID of a peer.
    let leaf = json!({"name": {"value": "leaf1"}, "role": {"value": "leaf"}, "site": {"hfid": ["ams"]}, "tags": [{"id": blue}]});
    t.push((
        "upsert creates",
        outcome(backend.upsert("main", "DcimDevice", &leaf).await),
    ));
    t.push((
        "upsert again",
        outcome(backend.upsert("main", "DcimDevice", &leaf).await),
    ));
    let device = id_of(backend, "main", "DcimDevice", "leaf1").await;
    for name in ["Ethernet2", "Ethernet1"] {
        let interface =
            json!({"name": {"value": name}, "speed": {"value": 100}, "device": {"id": device}});
        t.push((
            "interface upsert",
            outcome(
                backend
                    .upsert("main", "DcimPhysicalInterface", &interface)
                    .await,
            ),
        ));
    }
    t.push((
        "upsert of an unknown field",
        outcome(
            backend
                .upsert(
                    "main",
                    "DcimDevice",
                    &json!({"name": {"value": "x"}, "colour": {"value": 1}}),
                )
                .await,
        ),
    ));
    t.push((
        "upsert without a mandatory relationship",
        outcome(
            backend
                .upsert("main", "DcimDevice", &json!({"name": {"value": "lonely"}}))
                .await,
        ),
    ));
    t.push((
        "upsert of an unknown kind",
        outcome(
            backend
                .upsert("main", "DcimNothing", &json!({"name": {"value": "x"}}))
                .await,
        ),
    ));
    t.push((
        "upsert of a kind that is not a name",
        outcome(backend.upsert("main", "Dcim Device", &json!({})).await),
    ));

    // Updates by id and by HFID; a taken unique value.
    t.push((
        "update by id",
        outcome(
            backend
                .update(
                    "main",
                    "DcimDevice",
                    &json!({"id": device, "asn": {"value": 65001}}),
                )
                .await,
        ),
    ));
    t.push((
        "update by hfid",
        outcome(
            backend
                .update(
                    "main",
                    "DcimDevice",
                    &json!({"hfid": ["leaf1"], "serial": {"value": "S1"}}),
                )
                .await,
        ),
    ));
    backend
        .upsert(
            "main",
            "DcimDevice",
            &json!({"name": {"value": "leaf2"}, "site": {"id": ams}}),
        )
        .await
        .expect("leaf2");
    t.push((
        "update to a taken unique value",
        outcome(
            backend
                .update(
                    "main",
                    "DcimDevice",
                    &json!({"hfid": ["leaf2"], "serial": {"value": "S1"}}),
                )
                .await,
        ),
    ));
    t.push((
        "update of a missing node",
        outcome(
            backend
                .update(
                    "main",
                    "DcimDevice",
                    &json!({"id": "no-such-node", "asn": {"value": 1}}),
                )
                .await,
        ),
    ));

    // Relationship edits.
    t.push((
        "relationship add",
        outcome(
            backend
                .relationship_add("main", &device, "tags", std::slice::from_ref(&red))
                .await,
        ),
    ));
    t.push((
        "relationship remove",
        outcome(
            backend
                .relationship_remove("main", &device, "tags", std::slice::from_ref(&blue))
                .await,
        ),
    ));
    t.push((
        "relationship add to a missing node",
        outcome(
            backend
                .relationship_add("main", "no-such-node", "tags", std::slice::from_ref(&red))
                .await,
        ),
    ));

    // Pools: an identifier reserves, the /30 holds two /31s, addresses.
    let p2p = |identifier: Option<&str>| p2p(identifier.map(str::to_owned));
    t.push((
        "allocate prefix",
        outcome(backend.allocate_prefix("main", &p2p(Some("link-1"))).await),
    ));
    t.push((
        "allocate prefix again",
        outcome(backend.allocate_prefix("main", &p2p(Some("link-1"))).await),
    ));
    t.push((
        "allocate prefix, no identifier",
        outcome(backend.allocate_prefix("main", &p2p(None)).await),
    ));
    t.push((
        "allocate from an exhausted pool",
        outcome(backend.allocate_prefix("main", &p2p(Some("link-3"))).await),
    ));
    let missing_pool = PrefixAllocation {
        pool: PoolSelector::Name("nope".into()),
        ..p2p(None)
    };
    t.push((
        "allocate from a missing pool",
        outcome(backend.allocate_prefix("main", &missing_pool).await),
    ));
    let loopback = AddressAllocation {
        pool: PoolSelector::Name("loopbacks".into()),
        identifier: Some("leaf1".into()),
        prefix_length: None,
        address_type: None,
        data: Some(json!({"description": {"value": "leaf1 loopback"}})),
    };
    t.push((
        "allocate address",
        outcome(backend.allocate_address("main", &loopback).await),
    ));

    // Reads: node kinds, a generic, relationship filters, include, bad filters.
    t.push((
        "filters by value",
        outcome(
            backend
                .filters("main", "DcimDevice", &json!({"name__value": "leaf1"}), &[])
                .await,
        ),
    ));
    // One attribute of one node, as a stamp compares with it.
    let ethernet1 = id_of(backend, "main", "DcimPhysicalInterface", "Ethernet1").await;
    for (name, kind, id, attribute) in [
        ("attribute value", "DcimDevice", device.as_str(), "asn"),
        (
            "attribute value, unset",
            "DcimPhysicalInterface",
            ethernet1.as_str(),
            "description",
        ),
        (
            "attribute value through a generic",
            "DcimInterface",
            ethernet1.as_str(),
            "name",
        ),
        (
            "attribute value of another kind's node",
            "DcimInterface",
            device.as_str(),
            "name",
        ),
        (
            "attribute value of a missing node",
            "DcimDevice",
            "no-such-node",
            "name",
        ),
        (
            "attribute value of no such attribute",
            "DcimDevice",
            device.as_str(),
            "colour",
        ),
        (
            "attribute value of a relationship",
            "DcimDevice",
            device.as_str(),
            "site",
        ),
        (
            "attribute value the generic lacks",
            "DcimInterface",
            ethernet1.as_str(),
            "speed",
        ),
    ] {
        t.push((
            name,
            // `None` (no such node) apart from an unset value.
            outcome(
                backend
                    .attribute_value("main", kind, id, attribute)
                    .await
                    .map(|found| found.map(|value| json!({ "value": value }))),
            ),
        ));
    }
    t.push((
        "filters by values",
        outcome(
            backend
                .filters(
                    "main",
                    "DcimDevice",
                    &json!({"name__values": ["leaf2", "leaf1"]}),
                    &[],
                )
                .await,
        ),
    ));
    t.push((
        "filters through a relationship",
        outcome(
            backend
                .filters(
                    "main",
                    "DcimDevice",
                    &json!({"site__name__value": "ams"}),
                    &["interfaces".to_owned()],
                )
                .await,
        ),
    ));
    t.push((
        "filters of a generic",
        outcome(
            backend
                .filters(
                    "main",
                    "DcimInterface",
                    &json!({"device__ids": [device]}),
                    &[],
                )
                .await,
        ),
    ));
    t.push((
        "filters with nothing matching",
        outcome(
            backend
                .filters("main", "DcimDevice", &json!({"name__value": "none"}), &[])
                .await,
        ),
    ));
    t.push((
        "filters with an unknown argument",
        outcome(
            backend
                .filters("main", "DcimDevice", &json!({"colour__value": "red"}), &[])
                .await,
        ),
    ));
    t.push((
        "filters with paging",
        outcome(
            backend
                .filters("main", "DcimDevice", &json!({"limit": 1}), &[])
                .await,
        ),
    ));
    t.push((
        "filters of an unknown kind",
        outcome(
            backend
                .filters("main", "DcimNothing", &json!({}), &[])
                .await,
        ),
    ));
    t.push((
        "node by id",
        outcome(backend.node_by_id("main", "TestTag", &red).await),
    ));
    t.push((
        "a raw query",
        outcome(backend.query("main", "query($n: [String]) { DcimDevice(name__values: $n) { count edges { node { name { value } asn { value } tags { count } } } } }", &json!({"n": ["leaf1"]})).await),
    ));
    t.push((
        "a raw query with an error",
        outcome(
            backend
                .query(
                    "main",
                    "query { DcimDevice { edges { node { colour { value } } } } }",
                    &json!({}),
                )
                .await,
        ),
    ));

    // Deletes: refused while a mandatory relationship points at the node,
    // cascading to Component children, a missing node is done.
    t.push((
        "delete refused",
        outcome(backend.delete("main", "LocationSite", &ams).await),
    ));
    t.push((
        "delete cascades",
        outcome(backend.delete("main", "DcimDevice", &device).await),
    ));
    t.push((
        "interfaces after the cascade",
        outcome(
            backend
                .filters("main", "DcimInterface", &json!({}), &[])
                .await,
        ),
    ));
    t.push((
        "delete if present, gone",
        outcome(
            backend
                .delete_if_present("main", "DcimDevice", &device)
                .await,
        ),
    ));

    // Branches: writes stay on the branch; a missing branch is not a missing node.
    t.push((
        "upsert on a branch",
        outcome(
            backend
                .upsert(
                    "br1",
                    "DcimDevice",
                    &json!({"name": {"value": "spine1"}, "site": {"hfid": ["fra"]}}),
                )
                .await,
        ),
    ));
    t.push((
        "read on the branch",
        outcome(backend.filters("br1", "DcimDevice", &json!({}), &[]).await),
    ));
    t.push((
        "read on main",
        outcome(backend.filters("main", "DcimDevice", &json!({}), &[]).await),
    ));
    t.push((
        "upsert on a missing branch",
        outcome(backend.upsert("nope", "DcimDevice", &leaf).await),
    ));
    t.push((
        "delete on a missing branch",
        outcome(
            backend
                .delete_if_present("nope", "DcimDevice", &device)
                .await,
        ),
    ));
    t.push((
        "filters on a missing branch",
        outcome(backend.filters("nope", "DcimDevice", &json!({}), &[]).await),
    ));

    // Runs: their writes are seen inside them, and reach the store at the commit or never.
    let named = |name: &str| json!({"name__value": name});
    for (commits, name, [upserted, inside, outside, after]) in [
        (
            false,
            "run-abandoned",
            [
                "run: upsert, abandoned",
                "run: read inside, abandoned",
                "run: read outside, abandoned",
                "run: read after, abandoned",
            ],
        ),
        (
            true,
            "run-committed",
            [
                "run: upsert, committed",
                "run: read inside, committed",
                "run: read outside, committed",
                "run: read after, committed",
            ],
        ),
    ] {
        let scope = backend
            .begin_run("main", 1)
            .await
            .expect("begin a run")
            .expect("both backends run atomically");
        t.push((
            upserted,
            outcome(
                scope
                    .upsert(
                        "main",
                        "DcimDevice",
                        &json!({"name": {"value": name}, "site": {"hfid": ["ams"]}}),
                    )
                    .await,
            ),
        ));
        t.push((
            inside,
            outcome(scope.filters("main", "DcimDevice", &named(name), &[]).await),
        ));
        t.push((
            outside,
            outcome(
                backend
                    .filters("main", "DcimDevice", &named(name), &[])
                    .await,
            ),
        ));
        if commits {
            t.push(("run: commit", outcome(scope.commit().await)));
        } else {
            scope.abandon();
        }
        drop(scope);
        t.push((
            after,
            outcome(
                backend
                    .filters("main", "DcimDevice", &named(name), &[])
                    .await,
            ),
        ));
    }
    // A run checks each write's effects: a refused write is taken back whole, and the run
    // goes on and commits the rest.
    let scope = backend
        .begin_run("main", 1)
        .await
        .expect("begin a run")
        .expect("both backends run atomically");
    let seen = std::sync::Mutex::new(Vec::new());
    let refuse = |effect: &infragen_store::WriteEffect| {
        seen.lock().expect("effects").push(json!({
            "id": effect.id, "kind": effect.kind, "target": effect.target,
            "created": effect.created, "relationships": effect.relationships,
        }));
        Err(format!(
            "{} {} is not this run's to write",
            effect.kind, effect.id
        ))
    };
    let accept = |_: &infragen_store::WriteEffect| Ok(());
    let refused_device = json!({"name": {"value": "run-refused"}, "site": {"hfid": ["ams"]}});
    t.push((
        "run: a refused write",
        outcome(
            scope
                .write_checked(
                    "main",
                    "DcimDevice",
                    WriteOp::Upsert,
                    &refused_device,
                    &refuse,
                )
                .await,
        ),
    ));
    t.push((
        "run: what the refused write did",
        json!(*seen.lock().expect("effects")),
    ));
    let accepted = scope
        .write_checked(
            "main",
            "DcimDevice",
            WriteOp::Upsert,
            &json!({"name": {"value": "run-accepted"}, "site": {"hfid": ["ams"]}}),
            &accept,
        )
        .await;
    let accepted_id = accepted
        .as_ref()
        .ok()
        .and_then(Option::as_ref)
        .map(|node| node.id.clone())
        .unwrap_or_default();
    t.push(("run: an accepted write", outcome(accepted)));
    // A stamp: one attribute, written only when it changes, and checked like a write.
    for (name, id, value, check) in [
        (
            "run: a stamp",
            accepted_id.as_str(),
            65002,
            &accept as infragen_store::WriteCheck<'_>,
        ),
        (
            "run: the same stamp again",
            accepted_id.as_str(),
            65002,
            &refuse,
        ),
        ("run: a refused stamp", accepted_id.as_str(), 65003, &refuse),
        (
            "run: a stamp of a missing node",
            "no-such-node",
            65003,
            &accept,
        ),
    ] {
        t.push((
            name,
            outcome(
                scope
                    .stamp_checked("main", "DcimDevice", id, "asn", &json!(value), check)
                    .await,
            ),
        ));
    }
    t.push((
        "run: what the stamps showed the check",
        json!(seen.lock().expect("effects")[1..]),
    ));
    t.push(("run: commit after a refusal", outcome(scope.commit().await)));
    drop(scope);
    for name in ["run-refused", "run-accepted"] {
        t.push((
            if name == "run-refused" {
                "run: the refused write, after"
            } else {
                "run: the accepted write, after"
            },
            outcome(
                backend
                    .filters("main", "DcimDevice", &named(name), &[])
                    .await,
            ),
        ));
    }
    t.push((
        "run: the stamped value, after",
        outcome(
            backend
                .attribute_value("main", "DcimDevice", &accepted_id, "asn")
                .await,
        ),
    ));
    t.push((
        "run on a missing branch",
        outcome(
            backend
                .begin_run("nope", 1)
                .await
                .map(|scope| scope.is_some()),
        ),
    ));
    t
}

/// Replaces every UUID in `value` by `#n`, n counting UUIDs in order of first
/// appearance.
fn normalise(value: &mut Value, seen: &mut HashMap<String, usize>) {
    match value {
        Value::String(text) => *text = normalise_text(text, seen),
        Value::Array(items) => items.iter_mut().for_each(|item| normalise(item, seen)),
        Value::Object(fields) => fields.values_mut().for_each(|field| normalise(field, seen)),
        _ => {}
    }
}

fn normalise_text(text: &str, seen: &mut HashMap<String, usize>) -> String {
    let is_uuid = |candidate: &str| {
        candidate.len() == 36
            && candidate.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if rest.len() >= 36 && rest.is_char_boundary(36) && is_uuid(&rest[..36]) {
            let next = seen.len() + 1;
            let n = *seen.entry(rest[..36].to_owned()).or_insert(next);
            out.push_str(&format!("#{n}"));
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn transcript(script: Vec<(&'static str, Value)>) -> Vec<(&'static str, Value)> {
    let mut seen = HashMap::new();
    script
        .into_iter()
        .map(|(step, mut value)| {
            normalise(&mut value, &mut seen);
            (step, value)
        })
        .collect()
}

fn step<'t>(transcript: &'t [(&'static str, Value)], name: &str) -> &'t Value {
    &transcript
        .iter()
        .find(|(step, _)| *step == name)
        .unwrap_or_else(|| panic!("no step {name}"))
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_and_infragen_serve_answer_the_contract_alike() {
    let dir = tempfile::tempdir().expect("temp dir");
    let embedded_store = prepared_store(&dir.path().join("embedded.db"));
    let embedded = EmbeddedBackend::new(embedded_store);
    let embedded = transcript(script(&embedded).await);

    let (_server, served) = served_backend(dir.path());
    let served = transcript(script(&served).await);

    assert_eq!(embedded.len(), served.len());
    for ((step, in_process), (_, over_http)) in embedded.iter().zip(&served) {
        assert_eq!(
            in_process, over_http,
            "{step}: in process (left) and over HTTP (right) differ"
        );
    }

    // And both answer what Infrahub answers.
    let t = &embedded;
    assert_eq!(
        step(t, "upsert creates"),
        &json!({"ok": {"id": "#4", "kind": "DcimDevice", "hfid": ["leaf1"]}})
    );
    assert_eq!(step(t, "upsert again"), step(t, "upsert creates"));
    assert_eq!(
        step(t, "upsert of an unknown field"),
        &json!({"error": {"kind": "validation", "message": "Field 'colour' is not defined by type 'DcimDeviceUpsertInput'."}})
    );
    assert_eq!(
        step(t, "upsert without a mandatory relationship")["error"]["kind"],
        "validation"
    );
    assert_eq!(
        step(t, "upsert of an unknown kind")["error"]["kind"],
        "invalid-input"
    );
    assert_eq!(
        step(t, "upsert of a kind that is not a name"),
        &json!({"error": {"kind": "invalid-input", "message": "\"Dcim Device\" is not a kind name"}})
    );
    assert_eq!(
        step(t, "update to a taken unique value"),
        &json!({"error": {"kind": "validation", "message": "Violates uniqueness constraint 'serial' with 'S1'"}})
    );
    assert_eq!(
        step(t, "update of a missing node"),
        &json!({"error": {"kind": "not-found", "message": "Unable to find the node no-such-node / DcimDevice in the database."}})
    );
    assert_eq!(step(t, "allocate prefix")["ok"]["value"], "10.0.0.0/31");
    assert_eq!(step(t, "allocate prefix again"), step(t, "allocate prefix"));
    assert_eq!(
        step(t, "allocate prefix, no identifier")["ok"]["value"],
        "10.0.0.2/31"
    );
    assert_eq!(
        step(t, "allocate from an exhausted pool")["error"]["kind"],
        "limit-exceeded"
    );
    assert_eq!(
        step(t, "allocate from a missing pool")["error"]["kind"],
        "not-found"
    );
    assert_eq!(step(t, "allocate address")["ok"]["value"], "10.1.0.1/32");

    assert_eq!(step(t, "attribute value"), &json!({"ok": {"value": 65001}}));
    assert_eq!(
        step(t, "attribute value, unset"),
        &json!({"ok": {"value": null}})
    );
    assert_eq!(
        step(t, "attribute value through a generic"),
        &json!({"ok": {"value": "Ethernet1"}})
    );
    assert_eq!(
        step(t, "attribute value of another kind's node"),
        &json!({"ok": null})
    );
    assert_eq!(
        step(t, "attribute value of a missing node"),
        &json!({"ok": null})
    );
    // A name the kind has no attribute for shows no value: writing one is what fails.
    for name in [
        "attribute value of no such attribute",
        "attribute value of a relationship",
        "attribute value the generic lacks",
    ] {
        assert_eq!(step(t, name), &json!({"ok": {"value": null}}), "{name}");
    }

    for what in ["abandoned", "committed"] {
        let inside = &step(t, &format!("run: read inside, {what}"))["ok"];
        assert_eq!(inside.as_array().map(Vec::len), Some(1), "{what}: {inside}");
        assert_eq!(
            step(t, &format!("run: read outside, {what}")),
            &json!({"ok": []}),
            "{what}: not seen outside the run before its commit"
        );
    }
    assert_eq!(step(t, "run: read after, abandoned"), &json!({"ok": []}));
    assert_eq!(
        step(t, "run: read after, committed"),
        step(t, "run: read inside, committed")
    );
    assert_eq!(step(t, "run: commit"), &json!({"ok": null}));
    assert_eq!(
        step(t, "run: a refused write"),
        &json!({"error": {"kind": "permission-denied", "message": "DcimDevice #15 is not this run's to write"}})
    );
    assert_eq!(
        step(t, "run: what the refused write did"),
        &json!([
            {"id": "#15", "kind": "DcimDevice", "target": true, "created": true, "relationships": ["site"]},
        ])
    );
    assert_eq!(step(t, "run: commit after a refusal"), &json!({"ok": null}));
    assert_eq!(step(t, "run: a stamp"), &json!({"ok": true}));
    assert_eq!(step(t, "run: the same stamp again"), &json!({"ok": false}));
    assert_eq!(
        step(t, "run: a refused stamp"),
        &json!({"error": {"kind": "permission-denied", "message": "DcimDevice #16 is not this run's to write"}})
    );
    assert_eq!(
        step(t, "run: a stamp of a missing node"),
        &json!({"ok": null})
    );
    // The unchanged stamp showed nothing; the refused one, the device it would change (new
    // in this run).
    assert_eq!(
        step(t, "run: what the stamps showed the check"),
        &json!([
            {"id": "#16", "kind": "DcimDevice", "target": true, "created": true, "relationships": []},
        ])
    );
    assert_eq!(
        step(t, "run: the stamped value, after"),
        &json!({"ok": 65002})
    );

    assert_eq!(step(t, "run: the refused write, after"), &json!({"ok": []}));
    assert_eq!(
        step(t, "run: the accepted write, after")["ok"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        step(t, "run on a missing branch")["error"]["kind"],
        "branch-not-found"
    );

    let leaf1 = &step(t, "filters by value")["ok"][0];
    assert_eq!(leaf1["asn"], json!({"value": 65001}));
    assert_eq!(leaf1["serial"], json!({"value": "S1"}));
    assert_eq!(leaf1["role"], json!({"value": "leaf"}));
    assert_eq!(leaf1["site"]["node"]["display_label"], "ams");
    assert_eq!(leaf1["site"]["node"]["__typename"], "LocationSite");
    assert_eq!(leaf1["loopback"], json!({"node": null}));
    let tags: Vec<&Value> = leaf1["tags"]["edges"]
        .as_array()
        .expect("tags listed by default")
        .iter()
        .map(|e| &e["node"]["display_label"])
        .collect();
    assert_eq!(tags, [&json!("red")], "blue removed, red added");
    assert!(
        leaf1.get("interfaces").is_none(),
        "Component relationships only when included"
    );
    let names = |step_name: &str| -> Vec<String> {
        step(t, step_name)["ok"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["display_label"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        names("filters by values"),
        ["leaf1", "leaf2"],
        "in order_by order"
    );
    let included = &step(t, "filters through a relationship")["ok"][0]["interfaces"];
    assert_eq!(included["count"], 2);
    assert_eq!(
        included["edges"][0]["node"]["display_label"], "Ethernet1",
        "the peer kind's order"
    );
    assert_eq!(names("filters of a generic"), ["Ethernet1", "Ethernet2"]);
    assert_eq!(
        step(t, "filters of a generic")["ok"][0]["__typename"],
        "DcimPhysicalInterface"
    );
    assert_eq!(step(t, "filters with nothing matching"), &json!({"ok": []}));
    assert_eq!(
        step(t, "filters with an unknown argument")["error"]["kind"],
        "invalid-input"
    );
    assert_eq!(
        step(t, "filters with paging"),
        &json!({"error": {"kind": "invalid-input", "message": "limit is set by the host, which reads every page"}})
    );
    assert_eq!(
        step(t, "filters of an unknown kind"),
        &json!({"error": {"kind": "not-found", "message": "the schema has no kind DcimNothing"}})
    );
    assert_eq!(
        step(t, "a raw query")["ok"]["DcimDevice"],
        json!({"count": 1, "edges": [{"node": {"name": {"value": "leaf1"}, "asn": {"value": 65001}, "tags": {"count": 1}}}]})
    );
    assert_eq!(
        step(t, "a raw query with an error")["error"]["kind"],
        "invalid-input"
    );

    let refused = step(t, "delete refused")["error"]["message"]
        .as_str()
        .expect("refused");
    assert!(
        refused.starts_with("Cannot delete LocationSite '#1'. It is linked to mandatory relationship site on node DcimDevice '#4' at DcimDevice.site"),
        "{refused}"
    );
    assert_eq!(step(t, "delete refused")["error"]["kind"], "validation");
    assert_eq!(step(t, "delete cascades"), &json!({"ok": null}));
    assert_eq!(step(t, "interfaces after the cascade"), &json!({"ok": []}));
    assert_eq!(step(t, "delete if present, gone"), &json!({"ok": false}));
    assert_eq!(names("read on the branch"), ["leaf2", "spine1"]);
    assert_eq!(names("read on main"), ["leaf2"]);
    for missing in [
        "upsert on a missing branch",
        "delete on a missing branch",
        "filters on a missing branch",
    ] {
        assert_eq!(
            step(t, missing),
            &json!({"error": {"kind": "branch-not-found", "message": "Branch: nope not found."}}),
            "{missing}"
        );
    }
}

/// A plugin's query ([`Backend::query_text`], what `graphql.query` hands the guest) lists
/// each object's fields in the order the query selects them, as Infrahub answers, not by
/// name: on the embedded store, and over HTTP from `infragen serve`, whose answer reaches
/// the plugin as the server wrote it. The same query through [`Backend::query`] gives the
/// same content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_query_keeps_the_querys_field_order_in_process_and_over_http() {
    let dir = tempfile::tempdir().expect("temp dir");
    let embedded = EmbeddedBackend::new(prepared_store(&dir.path().join("embedded.db")));
    assert_answers_in_field_order(&embedded).await;

    let (_server, served) = served_backend(dir.path());
    assert_answers_in_field_order(&served).await;
}

async fn assert_answers_in_field_order(backend: &dyn Backend) {
    let leaf = backend
        .upsert(
            "main",
            "DcimDevice",
            &json!({"name": {"value": "leaf9"}, "role": {"value": "leaf"}, "site": {"hfid": ["ams"]}}),
        )
        .await
        .expect("upsert");
    let document = r#"query { DcimDevice(name__value: "leaf9") {
        edges { node { role { value } name { value } zz: id __typename } } count } }"#;
    let budget = infragen_store::QueryBudget {
        max_nodes: 100,
        deadline: None,
    };
    let text = backend
        .query_text("main", document, &json!({}), budget)
        .await
        .expect("query");
    assert_eq!(
        text,
        format!(
            r#"{{"DcimDevice":{{"edges":[{{"node":{{"role":{{"value":"leaf"}},"name":{{"value":"leaf9"}},"zz":"{}","__typename":"DcimDevice"}}}}],"count":1}}}}"#,
            leaf.id
        )
    );
    let value = backend
        .query("main", document, &json!({}))
        .await
        .expect("query");
    assert_eq!(serde_json::from_str::<Value>(&text).expect("JSON"), value);
    // An error comes back as the error it is, not as text.
    let error = backend
        .query_text(
            "main",
            "query { DcimDevice { edges { node { colour { value } } } } }",
            &json!({}),
            budget,
        )
        .await
        .expect_err("an unknown field");
    assert_eq!(
        (error.kind, error.message.as_str()),
        (
            infragen::backend::ErrorKind::InvalidInput,
            "Cannot query field 'colour' on type 'DcimDevice'."
        )
    );
}

/// A small deterministic generator (xorshift64*), so that a failing seed replays.
struct Rng(u64);

impl Rng {
    fn seeded(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    fn one<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[self.below(of.len())]
    }
}

/// The id of the node of `kind` matching `filters`, if exactly one does.
async fn one_id(backend: &dyn Backend, branch: &str, kind: &str, filters: Value) -> Option<String> {
    let nodes = backend.filters(branch, kind, &filters, &[]).await.ok()?;
    match nodes.as_slice() {
        [node] => node["id"].as_str().map(str::to_owned),
        _ => None,
    }
}

/// The id of interface `name` of device `device` on `branch`, if there is one.
async fn interface_id(
    backend: &dyn Backend,
    branch: &str,
    device: &str,
    name: &str,
) -> Option<String> {
    let filters = json!({"name__value": name, "device__name__value": device});
    one_id(backend, branch, "DcimPhysicalInterface", filters).await
}

/// Random operations, chosen by `seed` alone (never by an answer, so both backends get the
/// same ones), on main and on the branch: upserts of devices and interfaces, updates by
/// HFID and by id, tag edits, deletes, allocations, filters, attribute reads and a raw
/// query; every outcome in order.
async fn random_script(backend: &dyn Backend, seed: u64) -> Vec<(&'static str, Value)> {
    const DEVICES: [&str; 3] = ["leaf1", "leaf2", "spine1"];
    const INTERFACES: [&str; 3] = ["Ethernet1", "Ethernet2", "Ethernet3"];
    const TAGS: [&str; 2] = ["blue", "red"];
    let mut rng = Rng::seeded(seed);
    let mut t: Vec<(&'static str, Value)> = Vec::new();
    for _ in 0..60 {
        let branch = rng.one(&["main", "br1"]);
        let device = rng.one(&DEVICES);
        let interface = rng.one(&INTERFACES);
        let device_id = one_id(
            backend,
            branch,
            "DcimDevice",
            json!({"name__value": device}),
        )
        .await;
        match rng.below(11) {
            0 | 1 => {
                let mut data = json!({
                    "name": {"value": device},
                    "site": {"hfid": [rng.one(&["ams", "fra"])]},
                });
                if rng.below(2) == 0 {
                    data["role"] = json!({"value": rng.one(&["leaf", "spine"])});
                }
                if rng.below(3) == 0 {
                    data["serial"] = json!({"value": rng.one(&["S1", "S2"])});
                }
                if rng.below(2) == 0 {
                    data["tags"] = json!([{"hfid": [rng.one(&TAGS)]}]);
                }
                t.push((
                    "upsert device",
                    outcome(backend.upsert(branch, "DcimDevice", &data).await),
                ));
            }
            2 | 3 => {
                let mut data = json!({"name": {"value": interface}, "device": {"hfid": [device]}});
                if rng.below(2) == 0 {
                    let speed = [100, 400][rng.below(2)];
                    data["speed"] = json!({ "value": speed });
                }
                t.push((
                    "upsert interface",
                    outcome(backend.upsert(branch, "DcimPhysicalInterface", &data).await),
                ));
            }
            4 => {
                let data = match rng.below(3) {
                    0 => {
                        let asn = 65000 + rng.below(3);
                        json!({"hfid": [device], "asn": {"value": asn}})
                    }
                    1 => json!({"hfid": [device], "serial": {"value": rng.one(&["S1", "S2"])}}),
                    _ => json!({"hfid": [device], "role": {"value": null}}),
                };
                t.push((
                    "update device",
                    outcome(backend.update(branch, "DcimDevice", &data).await),
                ));
            }
            5 => {
                let found = interface_id(backend, branch, device, interface).await;
                t.push(("interface found", json!(found)));
                if let Some(id) = found {
                    let data = json!({"id": id, "name": {"value": rng.one(&INTERFACES)}});
                    t.push((
                        "rename interface",
                        outcome(backend.update(branch, "DcimPhysicalInterface", &data).await),
                    ));
                }
            }
            6 => {
                let tag = one_id(
                    backend,
                    branch,
                    "TestTag",
                    json!({"name__value": rng.one(&TAGS)}),
                )
                .await
                .unwrap_or_default();
                let id = device_id.clone().unwrap_or_else(|| "no-such-node".into());
                let edited = if rng.below(2) == 0 {
                    backend.relationship_add(branch, &id, "tags", &[tag]).await
                } else {
                    backend
                        .relationship_remove(branch, &id, "tags", &[tag])
                        .await
                };
                t.push(("edit tags", outcome(edited)));
            }
            7 => {
                let (kind, id) = if rng.below(2) == 0 {
                    ("DcimDevice", device_id.clone())
                } else {
                    (
                        "DcimPhysicalInterface",
                        interface_id(backend, branch, device, interface).await,
                    )
                };
                let id = id.unwrap_or_else(|| "no-such-node".into());
                t.push(("delete", outcome(backend.delete(branch, kind, &id).await)));
            }
            8 => {
                let request = p2p((rng.below(2) == 0).then(|| format!("link-{}", rng.below(3))));
                t.push((
                    "allocate prefix",
                    outcome(backend.allocate_prefix(branch, &request).await),
                ));
                let request = AddressAllocation {
                    pool: PoolSelector::Name("loopbacks".into()),
                    identifier: (rng.below(2) == 0).then(|| device.to_owned()),
                    prefix_length: None,
                    address_type: None,
                    data: None,
                };
                t.push((
                    "allocate address",
                    outcome(backend.allocate_address(branch, &request).await),
                ));
            }
            9 => {
                let (kind, filters) = match rng.below(4) {
                    0 => (
                        "DcimDevice",
                        json!({"role__value": rng.one(&["leaf", "spine"])}),
                    ),
                    1 => ("DcimDevice", json!({"tags__name__value": rng.one(&TAGS)})),
                    2 => ("DcimInterface", json!({"device__name__value": device})),
                    _ => (
                        "DcimDevice",
                        json!({"site__name__value": rng.one(&["ams", "fra"])}),
                    ),
                };
                let include = ["tags".to_owned(), "interfaces".to_owned()];
                let include = if kind == "DcimDevice" {
                    &include[..]
                } else {
                    &[]
                };
                t.push((
                    "filters",
                    outcome(backend.filters(branch, kind, &filters, include).await),
                ));
            }
            _ => {
                let id = device_id.clone().unwrap_or_else(|| "no-such-node".into());
                t.push((
                    "attribute value",
                    outcome(
                        backend
                            .attribute_value(branch, "DcimDevice", &id, "asn")
                            .await,
                    ),
                ));
                t.push((
                    "query",
                    outcome(
                        backend
                            .query(
                                branch,
                                "{ DcimDevice { count edges { node { name { value } serial { value } interfaces { edges { node { name { value } } } } } } } }",
                                &json!({}),
                            )
                            .await,
                    ),
                ));
            }
        }
    }
    t
}

/// The random operations of ten seeds against both backends: the same answers, ids aside
/// (`RANDOM_CONFORMANCE_SEEDS=n` runs n; `RANDOM_CONFORMANCE_PRINT=1` prints the
/// in-process transcript).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_operations_answer_alike_in_process_and_over_http() {
    let seeds: u64 = std::env::var("RANDOM_CONFORMANCE_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    for seed in 0..seeds {
        let dir = tempfile::tempdir().expect("temp dir");
        let embedded = EmbeddedBackend::new(prepared_store(&dir.path().join("embedded.db")));
        let embedded = transcript(random_script(&embedded, seed).await);
        let (_server, served) = served_backend(dir.path());
        let served = transcript(random_script(&served, seed).await);
        if std::env::var_os("RANDOM_CONFORMANCE_PRINT").is_some() {
            for (step, value) in &embedded {
                println!(
                    "{step}: {}",
                    value.to_string().chars().take(150).collect::<String>()
                );
            }
        }
        assert_eq!(embedded.len(), served.len(), "seed {seed}");
        for (n, ((step, in_process), (_, over_http))) in embedded.iter().zip(&served).enumerate() {
            assert_eq!(
                in_process, over_http,
                "seed {seed}, operation {n} ({step}): in process (left) and over HTTP (right) differ"
            );
        }
    }
}
