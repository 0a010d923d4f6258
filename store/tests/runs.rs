//! Runs (`Store::begin_run`): their queries see their own writes and stop when their
//! budget runs out, as they run.

mod common;

use common::*;
use infragen_store::{GraphqlRequest, QueryBudget, Store, StoreError, WriteOp};
use serde_json::{Value, json};
use std::time::Duration;

fn store_with_a_device(interfaces: usize) -> Store {
    let s = Store::in_memory().unwrap();
    s.load_schema(&[("dcim.yml".into(), DCIM.into())]).unwrap();
    let d = device(&s, "main", "leaf1", "");
    for i in 0..interfaces {
        interface(&s, "main", &d, &format!("eth{i}"));
    }
    s
}

/// device → interfaces → device → … `depth` times.
fn cycle(depth: usize) -> String {
    let mut inner = "id".to_owned();
    for level in 0..depth {
        inner = if (depth - 1 - level).is_multiple_of(2) {
            format!("interfaces {{ edges {{ node {{ id {inner} }} }} }}")
        } else {
            format!("device {{ node {{ id {inner} }} }}")
        };
    }
    format!("{{ DcimDevice {{ edges {{ node {{ {inner} }} }} }} }}")
}

#[tokio::test]
async fn a_query_following_a_relationship_cycle_stops_at_its_node_budget() {
    let s = store_with_a_device(40);
    let run = s.begin_run("main").await.unwrap();
    // 1 + 40 + 40 + 1,600 + 1,600 + 64,000 + 64,000 nodes unbounded.
    let request = GraphqlRequest::new(cycle(6));
    let budget = QueryBudget {
        max_nodes: 5_000,
        deadline: None,
    };
    let started = std::time::Instant::now();
    let answer = run.execute(&request, Some(budget));
    assert_eq!(
        answer,
        json!({"data": null, "errors": [{"message": "the query resolved more than 5000 nodes, its budget; ask for fewer nodes or fewer levels of relationships", "extensions": {"code": "LIMIT_EXCEEDED"}}]})
    );
    let stopped_after = started.elapsed();
    // Within budget the same query answers.
    let small = run.execute(&GraphqlRequest::new(cycle(2)), Some(budget));
    assert!(small.get("errors").is_none(), "{small}");
    assert_eq!(
        small["data"]["DcimDevice"]["edges"][0]["node"]["interfaces"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(40)
    );
    println!("stopped after {stopped_after:?}");
}

#[tokio::test]
async fn a_query_stops_at_the_runs_deadline() {
    let s = store_with_a_device(40);
    let run = s.begin_run("main").await.unwrap();
    let budget = QueryBudget {
        max_nodes: u64::MAX,
        deadline: Some(std::time::Instant::now()),
    };
    let answer = run.execute(&GraphqlRequest::new(cycle(6)), Some(budget));
    assert_eq!(
        answer["errors"][0]["message"],
        "the query ran past the run's deadline"
    );
    assert_eq!(answer["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
}

#[tokio::test]
async fn a_runs_query_sees_its_own_writes_and_others_do_not_until_it_commits() {
    let s = store_with_a_device(0);
    let run = s.begin_run("main").await.unwrap();
    run.write_node(
        "DcimDevice",
        WriteOp::Upsert,
        &json!({"name": {"value": "spine1"}}),
    )
    .unwrap();
    let count = "{ DcimDevice { count } }";
    assert_eq!(
        run.execute(&GraphqlRequest::new(count), None)["data"]["DcimDevice"]["count"],
        2
    );
    assert_eq!(
        ok(&s, "main", count)["DcimDevice"]["count"],
        1,
        "not committed yet"
    );
    run.commit().unwrap();
    assert_eq!(ok(&s, "main", count)["DcimDevice"]["count"], 2);
}

#[tokio::test]
async fn a_run_idle_while_another_waits_loses_its_turn_and_writes_nothing() {
    let s = store_with_a_device(0);
    s.set_run_idle_allowance(std::time::Duration::from_millis(20));
    let idle = s.begin_run("main").await.unwrap();
    idle.write_node(
        "DcimDevice",
        WriteOp::Upsert,
        &json!({"name": {"value": "spine1"}}),
    )
    .unwrap();
    assert!(!idle.outdated());

    // Another run waits; the idle one is preempted once the allowance has passed.
    let other = s.begin_run("main").await.unwrap();
    assert!(idle.outdated());
    let refused = idle
        .write_node(
            "DcimDevice",
            WriteOp::Upsert,
            &json!({"name": {"value": "spine2"}}),
        )
        .unwrap_err();
    assert_eq!(refused.code(), infragen_store::ErrorCode::Conflict);
    assert_eq!(
        refused.to_string(),
        "the store changed during the run (the run held the write turn of `:memory:` without \
         using it while another writer waited, and lost it); nothing of the run was written"
    );
    assert_eq!(
        idle.commit().unwrap_err().code(),
        infragen_store::ErrorCode::Conflict
    );

    other
        .write_node(
            "DcimDevice",
            WriteOp::Upsert,
            &json!({"name": {"value": "spine3"}}),
        )
        .unwrap();
    other.commit().unwrap();
    let names = ok(
        &s,
        "main",
        "{ DcimDevice { edges { node { name { value } } } } }",
    );
    let mut names: Vec<&str> = names["DcimDevice"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["name"]["value"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["leaf1", "spine3"]);
}

#[tokio::test]
async fn a_rerun_may_stay_idle_four_times_as_long() {
    let s = store_with_a_device(0);
    s.set_run_idle_allowance(std::time::Duration::from_millis(100));
    let rerun = s.begin_rerun("main", 2).await.unwrap();
    let waiter = {
        let s = s.clone();
        tokio::spawn(async move { s.write_turn().await })
    };
    // Past the first attempt's allowance, within the second's.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert!(!rerun.outdated());
    drop(waiter.await.unwrap());
    assert!(rerun.outdated());
}

/// A run's long query reads on a connection of its own and does not count as using the
/// write turn: while it runs, others read (through GraphQL and the typed API) and a
/// waiting writer takes the turn from the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_long_query_holds_up_neither_readers_nor_writers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path().join("store.db")).unwrap();
    s.load_schema(&[("dcim.yml".into(), DCIM.into())]).unwrap();
    let d = device(&s, "main", "leaf1", "");
    for i in 0..40 {
        interface(&s, "main", &d, &format!("eth{i}"));
    }
    s.set_run_idle_allowance(std::time::Duration::from_millis(20));
    let run = std::sync::Arc::new(s.begin_run("main").await.unwrap());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let query = {
        let (run, done) = (run.clone(), done.clone());
        std::thread::spawn(move || {
            // ~131,000 nodes: a second or more.
            let answer = run.execute(&GraphqlRequest::new(cycle(6)), None);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            answer
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(100));

    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        1
    );
    let interfaces = s
        .nodes("main", "DcimInterface", &serde_json::Map::new(), &[])
        .unwrap();
    assert_eq!(interfaces.len(), 40);
    let turn = s.write_turn().await;
    let still_querying = !done.load(std::sync::atomic::Ordering::SeqCst);
    drop(turn);

    let answer = query.join().unwrap();
    assert!(answer.get("errors").is_none(), "{answer}");
    assert!(still_querying, "the others waited for the run's query");
    assert!(
        run.outdated(),
        "the run kept the turn while a writer waited"
    );
}

/// An interface's identity (its device and its name) found inside a run, whichever way the
/// run made it so: created on a device created in the run (beside other new interfaces of
/// that name, and beside more other new interfaces of its device), renamed on a committed device, or moved to another committed device. Each
/// upsert updates the interface it names; none creates a second one.
#[tokio::test]
async fn a_run_finds_an_interface_by_identity_however_the_run_gave_it() {
    let s = store();
    let leaf1 = device(&s, "main", "leaf1", "");
    let leaf2 = device(&s, "main", "leaf2", "");
    let moved = interface(&s, "main", &leaf1, "eth0");
    let renamed = interface(&s, "main", &leaf1, "eth1");
    let run = s.begin_run("main").await.unwrap();
    let write = |kind: &str, data: serde_json::Value| {
        run.write_node(kind, WriteOp::Upsert, &data)
            .unwrap()
            .expect("written")
            .id
    };
    let mut created = Vec::new();
    for name in ["new1", "new2", "new3"] {
        let d = write("DcimDevice", json!({"name": {"value": name}}));
        let i = write(
            "DcimPhysicalInterface",
            json!({"name": {"value": "eth0"}, "device": {"id": d}}),
        );
        created.push((name, i));
        if name == "new1" {
            // More new interfaces on new1 than new interfaces named eth0 in the run.
            for other in ["x1", "x2", "x3", "x4"] {
                write(
                    "DcimPhysicalInterface",
                    json!({"name": {"value": other}, "device": {"id": d}}),
                );
            }
        }
    }
    write(
        "DcimPhysicalInterface",
        json!({"id": renamed, "name": {"value": "eth9"}}),
    );
    write(
        "DcimPhysicalInterface",
        json!({"id": moved, "device": {"id": leaf2}}),
    );
    let by_identity = |device: &str, name: &str| {
        write(
            "DcimPhysicalInterface",
            json!({"name": {"value": name}, "device": {"hfid": [device]},
                   "description": {"value": "found"}}),
        )
    };
    for (device, id) in &created {
        assert_eq!(&by_identity(device, "eth0"), id, "{device}'s eth0");
    }
    assert_eq!(by_identity("leaf1", "eth9"), renamed);
    assert_eq!(by_identity("leaf2", "eth0"), moved);
    run.commit().unwrap();
    let listed = ok(
        &s,
        "main",
        "{ DcimPhysicalInterface { edges { node { name { value } description { value } \
         device { node { name { value } } } } } } }",
    );
    let mut rows: Vec<(String, String, String)> = listed["DcimPhysicalInterface"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["device"]["node"]["name"]["value"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                n["name"]["value"].as_str().unwrap().to_owned(),
                n["description"]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    rows.sort();
    let row = |d: &str, n: &str| (d.to_owned(), n.to_owned(), "found".to_owned());
    assert_eq!(
        rows,
        vec![
            row("leaf1", "eth9"),
            row("leaf2", "eth0"),
            row("new1", "eth0"),
            ("new1".to_owned(), "x1".to_owned(), String::new()),
            ("new1".to_owned(), "x2".to_owned(), String::new()),
            ("new1".to_owned(), "x3".to_owned(), String::new()),
            ("new1".to_owned(), "x4".to_owned(), String::new()),
            row("new2", "eth0"),
            row("new3", "eth0"),
        ]
    );
}

/// What runs commit is kept in the process's node cache and read back from it by the next
/// runs (their queries run on connections of their own): on `main` and on a branch, for
/// new, changed, moved and deleted nodes, they must read exactly what a process reading
/// the rows afresh reads.
#[tokio::test]
async fn runs_read_what_earlier_runs_committed_as_a_fresh_process_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let s = Store::open(&path).unwrap();
    s.load_schema(&[("dcim.yml".into(), DCIM.into())]).unwrap();
    let leaf1 = device(&s, "main", "leaf1", "");
    let leaf2 = device(&s, "main", "leaf2", "");
    let eth0 = interface(&s, "main", &leaf1, "eth0");
    let eth1 = interface(&s, "main", &leaf2, "eth1");
    let eth2 = interface(&s, "main", &leaf2, "eth2");
    s.create_branch("br1").unwrap();
    let everything = |run: &infragen_store::RunTransaction| {
        let none = serde_json::Map::new();
        let include = ["interfaces".to_owned()];
        (
            run.nodes("DcimDevice", &none, &include).unwrap(),
            run.nodes("DcimPhysicalInterface", &none, &[]).unwrap(),
        )
    };
    // Each branch read once, so the cache holds the views the commits below change.
    for branch in ["main", "br1"] {
        let run = s.begin_run(branch).await.unwrap();
        everything(&run);
        run.abandon();
    }
    // One run per branch, committed: on main a new device and interface, an interface
    // moved and one deleted, a device changed; on br1 the same kinds of change.
    let commits = [
        (
            "main",
            vec![
                (
                    WriteOp::Upsert,
                    "DcimDevice",
                    json!({"name": {"value": "spine1"}}),
                ),
                (
                    WriteOp::Upsert,
                    "DcimPhysicalInterface",
                    json!({"name": {"value": "eth9"}, "device": {"hfid": ["spine1"]}}),
                ),
                (
                    WriteOp::Update,
                    "DcimPhysicalInterface",
                    json!({"id": eth0, "device": {"id": leaf2}, "description": {"value": "moved"}}),
                ),
                (
                    WriteOp::Delete,
                    "DcimPhysicalInterface",
                    json!({"id": eth1}),
                ),
                (
                    WriteOp::Update,
                    "DcimDevice",
                    json!({"id": leaf1, "asn": {"value": 65001}}),
                ),
            ],
        ),
        (
            "br1",
            vec![
                (
                    WriteOp::Upsert,
                    "DcimDevice",
                    json!({"name": {"value": "leaf9"}}),
                ),
                (
                    WriteOp::Upsert,
                    "DcimPhysicalInterface",
                    json!({"name": {"value": "eth1"}, "device": {"hfid": ["leaf9"]}}),
                ),
                (
                    WriteOp::Update,
                    "DcimPhysicalInterface",
                    json!({"id": eth2, "device": {"id": leaf1}, "name": {"value": "eth3"}}),
                ),
                (
                    WriteOp::Update,
                    "DcimDevice",
                    json!({"id": leaf2, "asn": {"value": 65002}}),
                ),
            ],
        ),
    ];
    for (branch, writes) in commits {
        let run = s.begin_run(branch).await.unwrap();
        for (op, kind, data) in writes {
            run.write_node(kind, op, &data).unwrap();
        }
        run.commit().unwrap();
    }

    let fresh = Store::open(&path).unwrap();
    for branch in ["main", "br1"] {
        let cached = s.begin_run(branch).await.unwrap();
        let seen = everything(&cached);
        cached.abandon();
        let afresh = fresh.begin_run(branch).await.unwrap();
        let expected = everything(&afresh);
        afresh.abandon();
        assert_eq!(seen, expected, "{branch}");
        // Through the store's own connection too.
        let none = serde_json::Map::new();
        assert_eq!(
            s.nodes(branch, "DcimDevice", &none, &["interfaces".to_owned()])
                .unwrap(),
            expected.0,
            "{branch}"
        );
    }
    // And the design itself: on br1, leaf1 has eth3 (moved there on br1) and eth0 (moved
    // away on main, which br1 sees), leaf9 its eth1.
    let run = s.begin_run("br1").await.unwrap();
    let (devices, _) = everything(&run);
    let mut shown: Vec<(String, Vec<String>)> = devices
        .iter()
        .map(|d| {
            let mut interfaces: Vec<String> = d["interfaces"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["display_label"].as_str().unwrap().to_owned())
                .collect();
            interfaces.sort();
            (d["name"]["value"].as_str().unwrap().to_owned(), interfaces)
        })
        .collect();
    shown.sort();
    let row = |d: &str, i: &[&str]| (d.to_owned(), i.iter().map(|x| x.to_string()).collect());
    assert_eq!(
        shown,
        [
            row("leaf1", &["eth3"]),
            row("leaf2", &["eth0"]),
            row("leaf9", &["eth1"]),
            row("spine1", &["eth9"]),
        ]
    );
}

/// A checked operation shows its checker every node it changed — the other side of a
/// relationship too, even when the run had changed that node before — and a refusal undoes
/// that operation alone: the run's earlier changes to the same node stay.
#[tokio::test]
async fn a_checked_operation_shows_every_node_it_changed_and_a_refusal_undoes_it_alone() {
    use infragen_store::{StoreError, WriteEffect};
    use std::sync::Mutex;
    let s = store();
    let leaf1 = device(&s, "main", "leaf1", "");
    let leaf2 = device(&s, "main", "leaf2", "");
    let run = s.begin_run("main").await.unwrap();
    let write = |kind: &str, data: serde_json::Value| {
        run.write_node(kind, WriteOp::Upsert, &data)
            .unwrap()
            .unwrap()
            .id
    };
    // leaf1 is pending in the run before the checked operations.
    write(
        "DcimDevice",
        json!({"name": {"value": "leaf1"}, "asn": {"value": 65001}}),
    );
    let eth0 = write(
        "DcimPhysicalInterface",
        json!({"name": {"value": "eth0"}, "device": {"id": leaf1}}),
    );
    let seen = Mutex::new(Vec::new());
    let record = |e: &WriteEffect| {
        seen.lock()
            .unwrap()
            .push((e.kind.clone(), e.target, e.created, e.relationships.clone()));
        Ok(())
    };
    run.write_node_checked(
        "DcimPhysicalInterface",
        WriteOp::Upsert,
        &json!({"name": {"value": "eth1"}, "device": {"id": leaf1}}),
        &record,
    )
    .unwrap();
    let devices: Vec<(String, bool, bool, Vec<String>)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(kind, ..)| kind == "DcimDevice")
        .cloned()
        .collect();
    assert_eq!(
        devices,
        [(
            "DcimDevice".to_owned(),
            false,
            false,
            vec!["interfaces".to_owned()]
        )]
    );
    let no_devices = |e: &WriteEffect| {
        if e.kind == "DcimDevice" {
            Err(format!("{} is not yours", e.name.as_deref().unwrap_or("?")))
        } else {
            Ok(())
        }
    };
    // A new interface of leaf1, and eth0 moved to leaf2: both change a device, refused.
    for data in [
        json!({"name": {"value": "eth2"}, "device": {"id": leaf1}}),
        json!({"id": eth0, "device": {"id": leaf2}}),
    ] {
        let refused = run
            .write_node_checked("DcimPhysicalInterface", WriteOp::Upsert, &data, &no_devices)
            .unwrap_err();
        assert!(
            matches!(&refused, StoreError::Refused(reason) if reason.starts_with("leaf")),
            "{refused:?}"
        );
    }
    run.commit().unwrap();
    let listed = ok(
        &s,
        "main",
        "{ DcimDevice { edges { node { name { value } asn { value } \
         interfaces { edges { node { name { value } } } } } } } }",
    );
    assert_eq!(
        listed["DcimDevice"]["edges"],
        json!([
            {"node": {"name": {"value": "leaf1"}, "asn": {"value": 65001},
                      "interfaces": {"edges": [
                          {"node": {"name": {"value": "eth0"}}},
                          {"node": {"name": {"value": "eth1"}}}]}}},
            {"node": {"name": {"value": "leaf2"}, "asn": {"value": null},
                      "interfaces": {"edges": []}}}
        ])
    );
}

/// A run's typed query shows a node without a relationship of many peers unless the
/// caller includes it or filters on it: a group read by name, before the run touches it,
/// shows no members; a device the run gave a new interface (without reading the device)
/// shows it among its interfaces when they are included.
#[tokio::test]
async fn a_query_reads_a_relationship_of_many_peers_only_when_included_or_filtered_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let writer = Store::open(&path).unwrap();
    writer
        .load_schema(&[("dcim.yml".into(), DCIM.into())])
        .unwrap();
    let leaf1 = device(&writer, "main", "leaf1", "");
    let leaf2 = device(&writer, "main", "leaf2", "");
    let eth0 = interface(&writer, "main", &leaf1, "eth0");
    let group = ok(
        &writer,
        "main",
        &format!(
            r#"mutation {{ CoreStandardGroupCreate(data: {{name: {{value: "devices"}}, members: [{{id: "{leaf1}"}}, {{id: "{leaf2}"}}]}}) {{ object {{ id }} }} }}"#
        ),
    )["CoreStandardGroupCreate"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A process that has read nothing yet: what it shows comes from the rows.
    let s = Store::open(&path).unwrap();
    let run = s.begin_run("main").await.unwrap();
    let filters = |value: serde_json::Value| value.as_object().unwrap().clone();
    let peers = |node: &serde_json::Value, rel: &str| -> Vec<String> {
        node[rel]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_name = filters(json!({"name__value": "devices"}));
    let plain = run.nodes("CoreStandardGroup", &by_name, &[]).unwrap();
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0]["id"], json!(group));
    assert_eq!(plain[0]["name"], json!({"value": "devices"}));
    assert_eq!(plain[0].get("members"), None);
    let by_member = run
        .nodes(
            "CoreStandardGroup",
            &filters(json!({"members__ids": [leaf2]})),
            &[],
        )
        .unwrap();
    assert_eq!(by_member.len(), 1);
    let none = run
        .nodes(
            "CoreStandardGroup",
            &filters(json!({"members__ids": ["no-such-node"]})),
            &[],
        )
        .unwrap();
    assert_eq!(none, Vec::<serde_json::Value>::new());
    let included = run
        .nodes("CoreStandardGroup", &by_name, &["members".to_owned()])
        .unwrap();
    assert_eq!(
        peers(&included[0], "members"),
        [leaf1.clone(), leaf2.clone()]
    );
    // leaf1 gains an interface in the run: its side of the link is a pending edge.
    let eth1 = run
        .write_node(
            "DcimPhysicalInterface",
            WriteOp::Create,
            &json!({"name": {"value": "eth1"}, "device": {"id": leaf1}}),
        )
        .unwrap()
        .unwrap()
        .id;
    let leaf1_now = run
        .nodes(
            "DcimDevice",
            &filters(json!({"name__value": "leaf1"})),
            &["interfaces".to_owned()],
        )
        .unwrap();
    assert_eq!(peers(&leaf1_now[0], "interfaces"), [eth0, eth1]);
    run.abandon();
}

/// The ids of `leaf1`'s interfaces, in their order, as `run` lists the device: a node the
/// run changed is read through its view of it, which each write then keeps up to date.
fn interfaces_of_leaf1(run: &infragen_store::RunTransaction) -> Vec<String> {
    let by_name = json!({"name__value": "leaf1"}).as_object().unwrap().clone();
    let listed = run
        .nodes("DcimDevice", &by_name, &["interfaces".to_owned()])
        .unwrap();
    listed[0]["interfaces"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no interfaces in {}", listed[0]))
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_device_lists_the_interfaces_a_run_gives_and_takes_whether_read_in_between_or_not() {
    let mut finals = Vec::new();
    for read_in_between in [false, true] {
        // leaf1 has eth0 and eth1; the run adds eth2, moves eth0 to leaf2, adds eth3 and
        // moves eth0 back.
        let s = store_with_a_device(2);
        let leaf2 = device(&s, "main", "leaf2", "");
        let leaf1 = node_id(&s, "DcimDevice", "name", "leaf1");
        let mut names: std::collections::HashMap<String, String> = ["eth0", "eth1"]
            .into_iter()
            .map(|name| {
                (
                    node_id(&s, "DcimPhysicalInterface", "name", name),
                    name.to_owned(),
                )
            })
            .collect();
        let eth0 = node_id(&s, "DcimPhysicalInterface", "name", "eth0");
        let run = s.begin_run("main").await.unwrap();
        let mut read = Vec::new();
        let mut step = |data: serde_json::Value, op: WriteOp| {
            let written = run
                .write_node("DcimPhysicalInterface", op, &data)
                .unwrap()
                .unwrap();
            if let Some(name) = data["name"]["value"].as_str() {
                names.insert(written.id, name.to_owned());
            }
            if read_in_between {
                read.push(interfaces_of_leaf1(&run));
            }
        };
        for (data, op) in [
            (
                json!({"name": {"value": "eth2"}, "device": {"id": leaf1}}),
                WriteOp::Create,
            ),
            (
                json!({"id": eth0, "device": {"id": leaf2}}),
                WriteOp::Update,
            ),
            (
                json!({"name": {"value": "eth3"}, "device": {"id": leaf1}}),
                WriteOp::Create,
            ),
            (
                json!({"id": eth0, "device": {"id": leaf1}}),
                WriteOp::Update,
            ),
        ] {
            step(data, op);
        }
        let named =
            |ids: &[String]| -> Vec<String> { ids.iter().map(|id| names[id].clone()).collect() };
        if read_in_between {
            let read: Vec<Vec<String>> = read.iter().map(|ids| named(ids)).collect();
            assert_eq!(
                read,
                [
                    vec!["eth0", "eth1", "eth2"],
                    vec!["eth1", "eth2"],
                    vec!["eth1", "eth2", "eth3"],
                    vec!["eth0", "eth1", "eth2", "eth3"],
                ]
            );
        }
        finals.push(named(&interfaces_of_leaf1(&run)));
        run.abandon();
    }
    assert_eq!(finals[0], ["eth0", "eth1", "eth2", "eth3"]);
    assert_eq!(finals[1], finals[0]);
}

/// leaf1's interfaces as a query reads them: from the rows, not from any cached view.
fn interfaces_of_leaf1_read_afresh(s: &Store) -> Vec<String> {
    let data = ok(
        s,
        "main",
        r#"{ DcimDevice(name__value: "leaf1") { edges { node { interfaces { edges { node { id } } } } } } }"#,
    );
    data["DcimDevice"]["edges"][0]["node"]["interfaces"]["edges"]
        .as_array()
        .expect("interfaces")
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_device_changed_one_commit_at_a_time_is_read_by_the_next_run_as_its_rows_say() {
    // Each write is a commit of its own, as over HTTP; each commit changes the cached view
    // of leaf1 (in place, when nothing else holds it) and the next run reads that view.
    let s = store_with_a_device(2);
    let leaf1 = node_id(&s, "DcimDevice", "name", "leaf1");
    let leaf2 = device(&s, "main", "leaf2", "");
    let eth0 = node_id(&s, "DcimPhysicalInterface", "name", "eth0");
    let eth1 = node_id(&s, "DcimPhysicalInterface", "name", "eth1");
    let move_eth0 = |to: &str| {
        format!(
            r#"mutation {{ DcimPhysicalInterfaceUpdate(data: {{ id: "{eth0}", device: {{ id: "{to}" }} }}) {{ ok }} }}"#
        )
    };
    // A write, and leaf1's interfaces after it.
    type Step<'a> = (Box<dyn Fn(&Store) + 'a>, Vec<&'a str>);
    let steps: Vec<Step> = vec![
        (Box::new(|_| {}), vec!["eth0", "eth1"]),
        (
            Box::new(|s| drop(interface(s, "main", &leaf1, "eth2"))),
            vec!["eth0", "eth1", "eth2"],
        ),
        (
            Box::new(|s| drop(ok(s, "main", &move_eth0(&leaf2)))),
            vec!["eth1", "eth2"],
        ),
        (
            Box::new(|s| drop(interface(s, "main", &leaf1, "eth3"))),
            vec!["eth1", "eth2", "eth3"],
        ),
        (
            Box::new(|s| drop(ok(s, "main", &move_eth0(&leaf1)))),
            vec!["eth0", "eth1", "eth2", "eth3"],
        ),
        (
            Box::new(|s| {
                drop(ok(
                    s,
                    "main",
                    &format!(
                        r#"mutation {{ DcimPhysicalInterfaceDelete(data: {{ id: "{eth1}" }}) {{ ok }} }}"#
                    ),
                ))
            }),
            vec!["eth0", "eth2", "eth3"],
        ),
    ];
    for (write, expected) in steps {
        write(&s);
        let run = s.begin_run("main").await.unwrap();
        let cached = interfaces_of_leaf1(&run);
        run.abandon();
        let expected: Vec<String> = expected
            .iter()
            .map(|name| node_id(&s, "DcimPhysicalInterface", "name", name))
            .collect();
        assert_eq!(cached, expected);
        assert_eq!(interfaces_of_leaf1_read_afresh(&s), expected);
    }
}

/// What the server's run transactions rest on: a mutation document sent inside a run
/// writes into it, field by field, and nothing of it reaches the store before the commit.
#[tokio::test]
async fn a_mutation_sent_inside_a_run_writes_into_it_field_by_field() {
    let s = store_with_a_device(0);
    let leaf1 = node_id(&s, "DcimDevice", "name", "leaf1");
    let events_before = s.last_event_seq().unwrap();
    let run = s.begin_run("main").await.unwrap();
    let answer = run.execute(
        &GraphqlRequest::new(format!(
            r#"mutation {{
                a: DcimDeviceUpsert(data: {{name: {{value: "spine1"}}}}) {{ ok object {{ name {{ value }} }} }}
                b: DcimPhysicalInterfaceCreate(data: {{name: {{value: "eth1"}}, device: {{id: "nowhere"}}}}) {{ ok }}
                c: DcimPhysicalInterfaceUpsert(data: {{name: {{value: "eth2"}}, device: {{id: "{leaf1}"}}}}) {{ ok }}
            }}"#
        )),
        None,
    );
    assert_eq!(
        answer["data"],
        json!({"a": {"ok": true, "object": {"name": {"value": "spine1"}}}, "b": null, "c": {"ok": true}})
    );
    assert_eq!(
        answer["errors"].as_array().map(Vec::len),
        Some(1),
        "{answer}"
    );
    assert_eq!(answer["errors"][0]["path"], json!(["b"]));

    let listed = "{ DcimDevice { edges { node { name { value } } } } DcimInterface { count } }";
    let inside = run.execute(&GraphqlRequest::new(listed), None);
    assert_eq!(names(&inside["data"], "DcimDevice"), ["leaf1", "spine1"]);
    assert_eq!(
        inside["data"]["DcimInterface"]["count"], 1,
        "b was undone, c kept"
    );
    assert_eq!(names(&ok(&s, "main", listed), "DcimDevice"), ["leaf1"]);
    assert_eq!(
        s.last_event_seq().unwrap(),
        events_before,
        "no event before the commit"
    );

    let refused = run.execute(
        &GraphqlRequest::new(r#"mutation { BranchCreate(data: {name: "br1"}) { ok } }"#),
        None,
    );
    assert_eq!(
        refused["errors"][0]["message"],
        "BranchCreate is not part of a run: branches are created, merged and deleted outside it"
    );
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert!(s.branches().unwrap().iter().all(|b| b.name != "br1"));

    assert_eq!(
        run.commit().unwrap().nodes_changed,
        3,
        "spine1, eth2 and leaf1's side"
    );
    assert_eq!(
        names(&ok(&s, "main", listed), "DcimDevice"),
        ["leaf1", "spine1"]
    );
    assert_eq!(ok(&s, "main", listed)["DcimInterface"]["count"], 1);
}

/// A request sent "holding" answers with what each of its writes did, node by node, and
/// stays undoable until the run writes again: the other side of a network checks the
/// effects as a caller in process does, then keeps or undoes them.
#[tokio::test]
async fn a_held_request_shows_its_effects_and_is_undone_or_kept_whole() {
    let s = store_with_a_device(0);
    let leaf1 = node_id(&s, "DcimDevice", "name", "leaf1");
    let run = s.begin_run("main").await.unwrap();
    let count = "{ DcimDevice { count } DcimInterface { count } }";
    let (answer, effects) = run.execute_holding(
        &GraphqlRequest::new(format!(
            r#"mutation {{
                a: DcimDeviceUpsert(data: {{name: {{value: "spine1"}}}}) {{ ok object {{ id }} }}
                b: DcimPhysicalInterfaceUpsert(data: {{name: {{value: "eth1"}}, device: {{id: "{leaf1}"}}}}) {{ ok object {{ id }} }}
            }}"#
        )),
        None,
    );
    let answer = answer.into_value();
    assert!(answer.get("errors").is_none(), "{answer}");
    let spine1 = answer["data"]["a"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let eth1 = answer["data"]["b"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown: Vec<(&str, &str, bool, bool, Vec<String>)> = effects
        .iter()
        .map(|e| {
            (
                e.id.as_str(),
                e.kind.as_str(),
                e.target,
                e.created,
                e.relationships.clone(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (spine1.as_str(), "DcimDevice", true, true, vec![]),
            (
                eth1.as_str(),
                "DcimPhysicalInterface",
                true,
                true,
                vec!["device".to_owned()]
            ),
            (
                leaf1.as_str(),
                "DcimDevice",
                false,
                false,
                vec!["interfaces".to_owned()]
            ),
        ]
    );
    // The next read keeps nothing and undoes nothing; the undo takes both fields back.
    assert_eq!(
        run.execute(&GraphqlRequest::new(count), None)["data"],
        json!({"DcimDevice": {"count": 2}, "DcimInterface": {"count": 1}})
    );
    assert!(run.undo_held().unwrap());
    assert_eq!(
        run.execute(&GraphqlRequest::new(count), None)["data"],
        json!({"DcimDevice": {"count": 1}, "DcimInterface": {"count": 0}})
    );
    assert!(!run.undo_held().unwrap(), "nothing is held twice");

    // A held request is kept by the next write: the undo then has nothing to take back.
    let (_, effects) = run.execute_holding(
        &GraphqlRequest::new(
            r#"mutation { DcimDeviceUpsert(data: {name: {value: "spine2"}}) { ok } }"#,
        ),
        None,
    );
    assert_eq!(effects.len(), 1);
    run.write_node(
        "DcimDevice",
        WriteOp::Upsert,
        &json!({"name": {"value": "spine3"}}),
    )
    .unwrap();
    assert!(!run.undo_held().unwrap());
    // A query holds nothing and shows no effect.
    let (_, effects) = run.execute_holding(&GraphqlRequest::new(count), None);
    assert!(effects.is_empty());
    assert!(!run.undo_held().unwrap());

    assert_eq!(run.commit().unwrap().nodes_changed, 2);
    assert_eq!(
        names(
            &ok(
                &s,
                "main",
                "{ DcimDevice { edges { node { name { value } } } } }"
            ),
            "DcimDevice"
        ),
        ["leaf1", "spine2", "spine3"]
    );
}

/// A stamp reads and writes one attribute in one operation: a new value is written and
/// shown to the check as that attribute of that node alone; the same value again writes
/// nothing and shows the check nothing; a refusal leaves the value as it was; a node
/// that does not exist (or is not of the kind) is `None`. Outside a run, `Store::stamp`
/// commits the same way, and an unchanged value leaves no event.
#[tokio::test]
async fn a_stamp_writes_one_attribute_only_when_it_changes_and_shows_the_check_exactly_that() {
    use infragen_store::{StoreError, WriteEffect};
    use std::sync::Mutex;
    let s = store();
    let leaf1 = device(&s, "main", "leaf1", "");
    let status = |s: &Store| {
        s.attribute_value("main", "DcimDevice", &leaf1, "status")
            .unwrap()
    };
    assert_eq!(status(&s), Some(json!("active")));
    let run = s.begin_run("main").await.unwrap();
    let seen = Mutex::new(Vec::new());
    let record = |e: &WriteEffect| {
        seen.lock().unwrap().push((
            e.id.clone(),
            e.kind.clone(),
            e.target,
            e.created,
            e.attributes.clone(),
            e.relationships.clone(),
        ));
        Ok(())
    };
    let planned = json!("planned");
    assert_eq!(
        run.stamp_checked("DcimDevice", &leaf1, "status", &planned, &record)
            .unwrap(),
        Some(true)
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [(
            leaf1.clone(),
            "DcimDevice".to_owned(),
            true,
            false,
            vec!["status".to_owned()],
            Vec::<String>::new()
        )]
    );
    seen.lock().unwrap().clear();
    assert_eq!(
        run.stamp_checked("DcimDevice", &leaf1, "status", &planned, &record)
            .unwrap(),
        Some(false)
    );
    assert!(seen.lock().unwrap().is_empty());
    // Not a node, or not one of that kind.
    assert_eq!(
        run.stamp_checked("DcimDevice", "no-such-id", "status", &planned, &record)
            .unwrap(),
        None
    );
    assert_eq!(
        run.stamp_checked("DcimInterface", &leaf1, "status", &planned, &record)
            .unwrap(),
        None
    );
    let refuse = |_: &WriteEffect| Err("not yours".to_owned());
    let refused = run
        .stamp_checked("DcimDevice", &leaf1, "status", &json!("active"), &refuse)
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::Refused(reason) if reason == "not yours"),
        "{refused:?}"
    );
    assert_eq!(
        run.attribute_value("DcimDevice", &leaf1, "status").unwrap(),
        Some(planned.clone())
    );
    // A value the attribute does not take is the write's error, and changes nothing.
    let invalid = run
        .stamp_checked("DcimDevice", &leaf1, "status", &json!("retired"), &record)
        .unwrap_err();
    assert!(!matches!(invalid, StoreError::Refused(_)), "{invalid:?}");
    assert_eq!(
        run.attribute_value("DcimDevice", &leaf1, "status").unwrap(),
        Some(planned.clone())
    );
    run.commit().unwrap();
    assert_eq!(status(&s), Some(planned.clone()));

    // Outside a run.
    let before = s.last_event_seq().unwrap();
    assert_eq!(
        s.stamp("main", "DcimDevice", &leaf1, "status", &planned)
            .unwrap(),
        Some(false)
    );
    assert_eq!(s.last_event_seq().unwrap(), before);
    assert_eq!(
        s.stamp("main", "DcimDevice", &leaf1, "status", &json!("active"))
            .unwrap(),
        Some(true)
    );
    assert_eq!(status(&s), Some(json!("active")));
    let events = s.events_since(before).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        s.stamp("main", "DcimDevice", "no-such-id", "status", &planned)
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn the_changed_count_reaching_a_limit_leaves_out_a_node_created_and_deleted_again() {
    let s = store_with_a_device(0);
    let run = s.begin_run("main").await.unwrap();
    assert_eq!(run.changed_reaching(1), None, "nothing written yet");
    let upsert = |name: &str| {
        run.execute(&GraphqlRequest::new(format!(
            r#"mutation {{ DcimDeviceUpsert(data: {{name: {{value: "{name}"}}}}) {{ ok object {{ id }} }} }}"#
        )), None)
    };
    let spine1 = upsert("spine1");
    let gone = upsert("gone");
    let gone_id = gone["data"]["DcimDeviceUpsert"]["object"]["id"]
        .as_str()
        .unwrap();
    let deleted = run.execute(
        &GraphqlRequest::new(format!(
            r#"mutation {{ DcimDeviceDelete(data: {{id: "{gone_id}"}}) {{ ok }} }}"#
        )),
        None,
    );
    assert!(
        spine1.get("errors").is_none() && deleted.get("errors").is_none(),
        "{spine1} {deleted}"
    );
    // Two nodes touched, one changed: `gone` was created and deleted in the run.
    assert_eq!(run.changed(), 1);
    assert_eq!(run.changed_reaching(2), None);
    assert_eq!(run.changed_reaching(1), Some(1));
    assert_eq!(run.commit().unwrap().nodes_changed, 1);
    assert_eq!(
        run.changed_reaching(0),
        None,
        "a committed run changes nothing more"
    );
}

/// The members of the one group.
const MEMBERS: &str =
    "{ CoreStandardGroup { edges { node { members { edges { node { id } } } } } } }";

/// The member ids in `data` (an answer to [`MEMBERS`]), sorted; each as often as listed.
fn member_ids(data: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = data["CoreStandardGroup"]["edges"][0]["node"]["members"]["edges"]
        .as_array()
        .expect("a list of members")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("an id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// A run adding and removing members of a group of 100 (more than a cached view is looked
/// through for one edge; past that the edge's pending state or an indexed lookup answers):
/// each member is a member once, whatever order the edges change in, read back after every
/// change (the group's view then holds every member) and after the commit, on a branch and
/// on main.
#[tokio::test]
async fn a_run_edits_the_members_of_a_large_group_each_once() {
    let s = store_with_a_device(0);
    let devices: Vec<String> = (0..100)
        .map(|i| device(&s, "main", &format!("d{i}"), ""))
        .collect();
    // The first member listed twice: one edge.
    let listed: Vec<String> = std::iter::once(&devices[0])
        .chain(&devices)
        .map(|id| format!(r#"{{id: "{id}"}}"#))
        .collect();
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ CoreStandardGroupCreate(data: {{name: {{value: "g"}}, members: [{}]}}) {{ ok }} }}"#,
            listed.join(", ")
        ),
    );
    let group = node_id(&s, "CoreStandardGroup", "name", "g");
    let mut before = devices.clone();
    before.sort();
    assert_eq!(member_ids(&ok(&s, "main", MEMBERS)), before);
    s.create_branch("br1").unwrap();
    let late = device(&s, "main", "late", "");
    // The branch first: main's edits would show on it (a branch sees main's later changes).
    for branch in ["br1", "main"] {
        let run = s.begin_run(branch).await.unwrap();
        let inside = || member_ids(&run.execute(&GraphqlRequest::new(MEMBERS), None)["data"]);
        assert_eq!(inside(), before, "read in the run on {branch}");
        let mut expected = before.clone();
        let mut edit = |op: &str, ids: &[&String]| {
            let nodes: Vec<String> = ids.iter().map(|id| format!(r#"{{id: "{id}"}}"#)).collect();
            let answer = run.execute(
                &GraphqlRequest::new(format!(
                    r#"mutation {{ {op}(data: {{id: "{group}", name: "members", nodes: [{}]}}) {{ ok }} }}"#,
                    nodes.join(", ")
                )),
                None,
            );
            assert!(answer.get("errors").is_none(), "{op}: {answer}");
            for id in ids {
                expected.retain(|member| member != *id);
                if op == "RelationshipAdd" {
                    expected.push((*id).clone());
                }
            }
            expected.sort();
            assert_eq!(inside(), expected, "{op} {ids:?} in the run on {branch}");
        };
        // A member already, and one that is not yet.
        edit("RelationshipAdd", &[&devices[5], &late]);
        // Out and back in, then in again with another member.
        edit("RelationshipRemove", &[&devices[7]]);
        edit("RelationshipAdd", &[&devices[7]]);
        edit("RelationshipAdd", &[&devices[7], &devices[99]]);
        // Out for good.
        edit("RelationshipRemove", &[&devices[3]]);
        let mut expected: Vec<String> = devices
            .iter()
            .filter(|id| **id != devices[3])
            .chain(std::iter::once(&late))
            .cloned()
            .collect();
        expected.sort();
        run.commit().unwrap();
        assert_eq!(
            member_ids(&ok(&s, branch, MEMBERS)),
            expected,
            "on {branch}"
        );
    }
}

/// Two handles on one store file, as two processes hold it, with the fixture schema.
fn two_handles() -> (tempfile::TempDir, Store, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let own = Store::open(&path).unwrap();
    own.load_schema(&[("dcim.yml".into(), DCIM.into())])
        .unwrap();
    let other = Store::open(&path).unwrap();
    (dir, own, other)
}

/// The devices `s` shows on main, by name.
fn device_names(s: &Store) -> Vec<String> {
    names(
        &ok(
            s,
            "main",
            "{ DcimDevice { edges { node { name { value } } } } }",
        ),
        "DcimDevice",
    )
}

/// What another process committed before a run began is what the run reads: no conflict,
/// even when this handle had not looked at the store since. (The run used to take its
/// snapshot of the store's generation before noticing such a commit, and then failed at
/// its first operation as if the commit had come during it.)
#[tokio::test]
async fn a_run_begun_after_another_process_committed_reads_and_commits() {
    let (_dir, own, other) = two_handles();
    device(&own, "main", "leaf1", "");
    device(&other, "main", "leaf2", "");
    let run = own.begin_run("main").await.unwrap();
    let answer = create_in(&run, "leaf3");
    assert!(answer.get("errors").is_none(), "{answer:#}");
    assert_eq!(names_in(&run), ["leaf1", "leaf2", "leaf3"]);
    run.commit().unwrap();
    assert_eq!(device_names(&own), ["leaf1", "leaf2", "leaf3"]);
    assert_eq!(device_names(&other), ["leaf1", "leaf2", "leaf3"]);
}

/// A commit by another process while a run is open: the run goes on reading the state it
/// began on (its operations are one snapshot, under its own writes), its commit is a
/// conflict, and nothing of it is written.
#[tokio::test]
async fn another_process_committing_during_a_run_is_a_conflict_that_writes_nothing() {
    let (_dir, own, other) = two_handles();
    device(&own, "main", "leaf1", "");
    let run = own.begin_run("main").await.unwrap();
    let created = create_in(&run, "leaf2");
    assert!(created.get("errors").is_none(), "{created:#}");
    device(&other, "main", "leaf3", "");
    let next = create_in(&run, "leaf4");
    assert!(next.get("errors").is_none(), "{next:#}");
    assert_eq!(
        names_in(&run),
        ["leaf1", "leaf2", "leaf4"],
        "the run reads the state it began on, and its own writes"
    );
    assert_eq!(run.commit().unwrap_err().to_string(), changed_during(&own));
    assert_eq!(device_names(&own), ["leaf1", "leaf3"]);
    assert_eq!(device_names(&other), ["leaf1", "leaf3"]);
}

/// A write of this process that does not wait for the write turn (a client of `serve`)
/// while a run is open: the run's next operation fails as a conflict, its commit too, and
/// nothing of it is written. The run's snapshot is older than that write, so going on would
/// compute on a state that is gone.
#[tokio::test]
async fn a_write_of_this_process_during_a_run_is_a_conflict_at_the_run_s_next_operation() {
    let (_dir, own, _other) = two_handles();
    device(&own, "main", "leaf1", "");
    let run = own.begin_run("main").await.unwrap();
    let created = create_in(&run, "leaf2");
    assert!(created.get("errors").is_none(), "{created:#}");
    device(&own, "main", "leaf3", "");
    let conflict = changed_during(&own);
    let next = run.execute(
        &GraphqlRequest::new("{ DcimDevice { edges { node { name { value } } } } }"),
        None,
    );
    assert_eq!(errors(&next), std::slice::from_ref(&conflict));
    assert_eq!(run.commit().unwrap_err().to_string(), conflict);
    assert_eq!(device_names(&own), ["leaf1", "leaf3"]);
}

/// A run ends its snapshot when it commits, fails to commit or is dropped: a snapshot left
/// open would keep every later commit in the WAL (a checkpoint cannot pass a reader), which
/// would then grow without bound.
#[tokio::test]
async fn a_run_ended_any_way_leaves_no_snapshot_behind() {
    let (dir, own, other) = two_handles();
    let create = |run: &infragen_store::RunTransaction, name: &str| {
        let created = create_in(run, name);
        assert!(created.get("errors").is_none(), "{created:#}");
    };
    // Committed.
    let run = own.begin_run("main").await.unwrap();
    create(&run, "leaf1");
    run.commit().unwrap();
    device(&other, "main", "leaf2", "");
    assert!(!wal_held(&dir));
    // Dropped.
    let run = own.begin_run("main").await.unwrap();
    create(&run, "leaf3");
    drop(run);
    device(&other, "main", "leaf4", "");
    assert!(!wal_held(&dir));
    // Its commit refused: another process committed during it.
    let run = own.begin_run("main").await.unwrap();
    create(&run, "leaf5");
    device(&other, "main", "leaf6", "");
    assert!(run.commit().is_err());
    device(&other, "main", "leaf7", "");
    assert!(!wal_held(&dir));
    // While a run is open, its snapshot holds the WAL: the check above can fail.
    let run = own.begin_run("main").await.unwrap();
    create(&run, "leaf8");
    device(&other, "main", "leaf9", "");
    assert!(wal_held(&dir), "the open run's snapshot is older");
    drop(run);
    assert_eq!(
        device_names(&own),
        ["leaf1", "leaf2", "leaf4", "leaf6", "leaf7", "leaf9"]
    );
}

/// Whether a reader's snapshot holds commits of `dir`'s store in its WAL: a checkpoint
/// copies every frame into the database file but those a snapshot older than them may still
/// need. (`PASSIVE`, as the store's own: a `TRUNCATE` would restart the WAL, which SQLite
/// counts as a change of the data for a run's snapshot.)
fn wal_held(dir: &tempfile::TempDir) -> bool {
    let conn = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
    let (frames, copied): (i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get(1)?, row.get(2)?))
        })
        .unwrap();
    copied < frames
}

/// The error of a run of `store` during which another writer committed.
fn changed_during(store: &Store) -> String {
    format!(
        "the store changed during the run (another writer committed on `{}` while the run was open); nothing of the run was written",
        store.path()
    )
}

/// The devices `run` reads on main, by name.
fn names_in(run: &infragen_store::RunTransaction) -> Vec<String> {
    let read = run.execute(
        &GraphqlRequest::new("{ DcimDevice { edges { node { name { value } } } } }"),
        None,
    );
    names(&read["data"], "DcimDevice")
}

/// Creates device `name` inside `run`.
fn create_in(run: &infragen_store::RunTransaction, name: &str) -> Value {
    run.execute(
        &GraphqlRequest::new(format!(
            r#"mutation {{ DcimDeviceCreate(data: {{name: {{value: "{name}"}}}}) {{ ok }} }}"#
        )),
        None,
    )
}

/// A run idle for its allowance lets its snapshot go (see the next test); when nothing was
/// committed meanwhile, it begins it again and goes on as if it had held it.
#[tokio::test]
async fn an_idle_run_goes_on_when_nothing_changed_meanwhile() {
    let (_dir, own, other) = two_handles();
    device(&other, "main", "leaf1", "");
    own.set_run_idle_allowance(Duration::from_millis(20));
    let run = own.begin_run("main").await.unwrap();
    assert!(errors(&create_in(&run, "leaf2")).is_empty());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = create_in(&run, "leaf3");
    assert!(errors(&third).is_empty(), "{third:#}");
    run.commit().unwrap();
    assert_eq!(device_names(&other), ["leaf1", "leaf2", "leaf3"]);
}

/// While a run is busy its snapshot keeps the WAL from being restarted; once the run has
/// been idle for its allowance it holds nothing, so that a plugin sleeping, or a remote
/// client's transaction between two requests, does not keep every later commit of every
/// process in the WAL. (A restart of the WAL changes what SQLite counts as the data's
/// version, so the run, which cannot tell it from a commit, is then a conflict.)
#[tokio::test]
async fn an_idle_run_holds_nothing_in_the_wal() {
    let (dir, own, _other) = two_handles();
    let restarted = || {
        let conn = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
        conn.busy_timeout(Duration::ZERO).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            row.get::<_, i64>(0).map(|busy| busy == 0)
        })
        .unwrap()
    };
    own.set_run_idle_allowance(Duration::from_millis(20));
    let run = own.begin_run("main").await.unwrap();
    assert!(errors(&create_in(&run, "leaf1")).is_empty());
    assert!(!restarted(), "the busy run's snapshot is in the way");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(restarted(), "the idle run holds nothing");
    assert!(matches!(run.commit(), Err(StoreError::RunConflict(_))));
    assert!(device_names(&own).is_empty());
}

/// A run idle long enough to let its snapshot go, during which another process committed:
/// its next operation is a conflict at once (the state it read is gone), its commit too,
/// and nothing of it is written.
#[tokio::test]
async fn an_idle_run_is_a_conflict_at_its_next_operation_when_another_process_committed() {
    let (_dir, own, other) = two_handles();
    own.set_run_idle_allowance(Duration::from_millis(20));
    let run = own.begin_run("main").await.unwrap();
    assert!(errors(&create_in(&run, "leaf1")).is_empty());
    tokio::time::sleep(Duration::from_millis(200)).await;
    device(&other, "main", "leaf2", "");
    let conflict = changed_during(&own);
    assert_eq!(
        errors(&create_in(&run, "leaf3")),
        std::slice::from_ref(&conflict)
    );
    assert_eq!(run.commit().unwrap_err().to_string(), conflict);
    assert_eq!(device_names(&own), ["leaf2"]);
}

/// The kind [`a_listing_by_peer_and_value_sees_the_branchs_and_the_runs_changes`] lists.
const KIND: &str = "DcimPhysicalInterface";

/// Filters on the interface's device and name.
fn device_and_name(device: &str, name: &str) -> serde_json::Map<String, Value> {
    let filters = json!({"device__ids": [device], "name__value": name});
    filters.as_object().expect("an object").clone()
}

/// The ids of a listing's nodes, in order.
fn ids_of(listing: Vec<String>) -> Vec<String> {
    let mut ids: Vec<String> = listing
        .iter()
        .map(|text| {
            let node: Value = serde_json::from_str(text).expect("a node as JSON");
            node["id"].as_str().expect("an id").to_owned()
        })
        .collect();
    ids.sort();
    ids
}

/// A listing by peer and value (`device__ids` with `name__value`, as a generator asks a
/// template for its loopback), on a branch and inside a run, answers exactly: the branch's
/// own renames and moves and main's later ones seen, the run's uncommitted renames, moves
/// and new interfaces seen, and nothing the branch or the run took away.
#[tokio::test]
async fn a_listing_by_peer_and_value_sees_the_branchs_and_the_runs_changes() {
    let s = store();
    let leaf1 = device(&s, "main", "leaf1", "");
    let leaf2 = device(&s, "main", "leaf2", "");
    let eth0 = interface(&s, "main", &leaf1, "eth0");
    let eth1 = interface(&s, "main", &leaf1, "eth1");
    let eth2 = interface(&s, "main", &leaf1, "eth2");
    let eth3 = interface(&s, "main", &leaf1, "eth3");
    s.create_branch("br1").unwrap();
    let update = |branch: &str, data: Value| {
        s.write_node(branch, KIND, WriteOp::Update, &data).unwrap();
    };
    // The branch renames eth1 and moves eth2; main, later, renames eth3 and adds eth4.
    update("br1", json!({"id": eth1, "name": {"value": "eth1b"}}));
    update("br1", json!({"id": eth2, "device": {"id": leaf2}}));
    update("main", json!({"id": eth3, "name": {"value": "eth3m"}}));
    let eth4 = interface(&s, "main", &leaf1, "eth4");

    let run = s.begin_run("br1").await.unwrap();
    // The run renames eth0, moves eth4 and adds eth5, none of it committed.
    let write = |op: WriteOp, data: Value| {
        run.write_node(KIND, op, &data)
            .unwrap()
            .expect("written")
            .id
    };
    write(
        WriteOp::Update,
        json!({"id": eth0, "name": {"value": "eth0r"}}),
    );
    write(
        WriteOp::Update,
        json!({"id": eth4, "device": {"id": leaf2}}),
    );
    let eth5 = write(
        WriteOp::Create,
        json!({"name": {"value": "eth5"}, "device": {"id": leaf1}}),
    );
    let listed = |device: &str, name: &str| {
        ids_of(
            run.nodes_json(KIND, &device_and_name(device, name), &[])
                .unwrap(),
        )
    };
    let none: Vec<String> = Vec::new();
    assert_eq!(listed(&leaf1, "eth0"), none, "renamed in the run");
    assert_eq!(listed(&leaf1, "eth0r"), [eth0.as_str()]);
    assert_eq!(listed(&leaf1, "eth1"), none, "renamed on the branch");
    assert_eq!(listed(&leaf1, "eth1b"), [eth1.as_str()]);
    assert_eq!(listed(&leaf1, "eth2"), none, "moved on the branch");
    assert_eq!(listed(&leaf2, "eth2"), [eth2.as_str()]);
    assert_eq!(listed(&leaf1, "eth3"), none, "renamed on main later");
    assert_eq!(listed(&leaf1, "eth3m"), [eth3.as_str()]);
    assert_eq!(listed(&leaf1, "eth4"), none, "moved in the run");
    assert_eq!(listed(&leaf2, "eth4"), [eth4.as_str()]);
    assert_eq!(
        listed(&leaf1, "eth5"),
        [eth5.as_str()],
        "created in the run"
    );
    assert_eq!(listed(&leaf2, "eth5"), none);
    drop(run);
    // main saw none of the branch's changes.
    let on_main = |device: &str, name: &str| {
        ids_of(
            s.nodes_json("main", KIND, &device_and_name(device, name), &[])
                .unwrap(),
        )
    };
    assert_eq!(on_main(&leaf1, "eth1"), [eth1]);
    assert_eq!(on_main(&leaf1, "eth2"), [eth2]);
    assert_eq!(on_main(&leaf2, "eth2"), none);
}
