//! Change events: one per created/updated/deleted node with changed fields, none for a
//! no-op, durable (resume from a sequence number) and live.

mod common;

use common::*;
use infragen_store::{Action, Store};
use serde_json::json;

#[test]
fn create_update_delete_each_emit_one_event_with_changed_values() {
    let s = store();
    let id = device(&s, "main", "leaf1", "asn: {value: 1}");
    device(&s, "main", "leaf1", "asn: {value: 2}");
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{id}"}}) {{ ok }} }}"#),
    );
    let ev = s.events_since(0).unwrap();
    assert_eq!(
        ev.iter()
            .map(|e| (
                e.seq,
                e.action,
                e.kind.as_str(),
                e.id == id,
                e.branch.as_str()
            ))
            .collect::<Vec<_>>(),
        [
            (1, Action::Created, "DcimDevice", true, "main"),
            (2, Action::Updated, "DcimDevice", true, "main"),
            (3, Action::Deleted, "DcimDevice", true, "main"),
        ]
    );
    assert_eq!(ev[0].name, "infrahub.node.created");
    let created: Vec<_> = ev[0]
        .attributes
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.value.clone(),
                a.value_previous.clone(),
                a.action.as_str(),
            )
        })
        .collect();
    assert_eq!(
        created,
        [
            ("asn", json!(1), json!(null), "added"),
            ("name", json!("leaf1"), json!(null), "added"),
            ("status", json!("active"), json!(null), "added")
        ]
    );
    let updated = &ev[1].attributes;
    assert_eq!(updated.len(), 1);
    assert_eq!(
        (
            updated[0].name.as_str(),
            updated[0].kind.as_str(),
            &updated[0].value,
            &updated[0].value_previous,
            updated[0].action.as_str()
        ),
        ("asn", "Number", &json!(2), &json!(1), "updated")
    );
}

#[test]
fn an_upsert_that_changes_nothing_emits_nothing() {
    let s = store();
    let a = device(&s, "main", "a", "asn: {value: 1}");
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ CoreStandardGroupUpsert(data: {{name: {{value: "g"}}, members: [{{id: "{a}"}}]}}) {{ ok }} }}"#
        ),
    );
    let before = s.last_event_seq().unwrap();
    device(&s, "main", "a", "asn: {value: 1}");
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ CoreStandardGroupUpsert(data: {{name: {{value: "g"}}, members: [{{id: "{a}"}}]}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(s.last_event_seq().unwrap(), before);
    assert!(s.events_since(before).unwrap().is_empty());
}

#[test]
fn relationship_changes_are_reported_on_both_sides() {
    let s = store();
    let d = device(&s, "main", "leaf1", "");
    let seq = s.last_event_seq().unwrap();
    let i = interface(&s, "main", &d, "eth1");
    let ev = s.events_since(seq).unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(
        (ev[0].action, ev[0].id.as_str()),
        (Action::Created, i.as_str())
    );
    assert_eq!(
        (ev[1].action, ev[1].id.as_str()),
        (Action::Updated, d.as_str())
    );
    let r = &ev[1].relationships[0];
    assert_eq!(
        (
            r.name.as_str(),
            r.peer_status.as_str(),
            r.peer_id.as_str(),
            r.peer_kind.as_str()
        ),
        ("interfaces", "added", i.as_str(), "DcimPhysicalInterface")
    );
    assert!(ev[1].attributes.is_empty());
}

#[test]
fn group_membership_does_not_emit_updates_for_the_members() {
    let s = store();
    let a = device(&s, "main", "a", "");
    let seq = s.last_event_seq().unwrap();
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ CoreGeneratorGroupUpsert(data: {{name: {{value: "t"}}, members: [{{id: "{a}"}}]}}) {{ ok }} }}"#
        ),
    );
    let ev = s.events_since(seq).unwrap();
    assert_eq!(
        ev.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["CoreGeneratorGroup"]
    );
}

#[test]
fn cascade_deletes_emit_their_own_events() {
    let s = store();
    let d = device(&s, "main", "leaf1", "");
    let i = interface(&s, "main", &d, "eth1");
    let seq = s.last_event_seq().unwrap();
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{d}"}}) {{ ok }} }}"#),
    );
    let mut ids: Vec<(Action, String)> = s
        .events_since(seq)
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.id))
        .collect();
    ids.sort_by(|a, b| a.1.cmp(&b.1));
    let mut want = vec![(Action::Deleted, d), (Action::Deleted, i)];
    want.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(ids, want);
}

#[test]
fn a_consumer_resumes_from_a_sequence_number_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let s = Store::open(&path).unwrap();
    s.load_schema(&[("dcim.yml".into(), DCIM.into())]).unwrap();
    device(&s, "main", "a", "");
    device(&s, "main", "b", "");
    let seen = s.events_since(0).unwrap();
    assert_eq!(seen.len(), 2);
    drop(s);
    let s = Store::open(&path).unwrap();
    device(&s, "main", "c", "");
    let rest = s.events_since(seen[1].seq).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].seq, 3);
    assert_eq!(
        rest[0]
            .attributes
            .iter()
            .find(|a| a.name == "name")
            .unwrap()
            .value,
        json!("c")
    );
}

#[test]
fn branch_writes_carry_the_branch_and_merges_are_marked() {
    let s = store();
    s.create_branch("br1").unwrap();
    device(&s, "br1", "a", "");
    let seq = s.last_event_seq().unwrap();
    s.merge_branch("br1").unwrap();
    let ev = s.events_since(0).unwrap();
    assert_eq!(
        (ev[0].branch.as_str(), ev[0].origin.as_str()),
        ("br1", "live")
    );
    let merged = s.events_since(seq).unwrap();
    assert_eq!(
        (
            merged[0].branch.as_str(),
            merged[0].origin.as_str(),
            merged[0].action
        ),
        ("main", "merge", Action::Created)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_receive_events_live() {
    let s = store();
    let mut rx = s.subscribe();
    let req = infragen_store::GraphqlRequest::new(
        r#"mutation { DcimDeviceCreate(data: {name: {value: "live"}}) { ok } }"#,
    );
    let r = s.execute("main", req).await;
    assert!(r.get("errors").is_none(), "{r}");
    let ev = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ev.action, ev.kind.as_str(), ev.seq),
        (Action::Created, "DcimDevice", 1)
    );
}
