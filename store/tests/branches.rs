//! Branches: isolation, agnostic and local kinds, merge, merge conflicts, delete.

mod common;

use common::*;
use infragen_store::{GraphqlRequest, RunTransaction, Store, StoreError};
use serde_json::json;
use std::collections::BTreeSet;

fn asn(s: &infragen_store::Store, branch: &str, name: &str) -> serde_json::Value {
    ok(s, branch, &format!(r#"{{ DcimDevice(name__value: "{name}") {{ edges {{ node {{ asn {{ value }} }} }} }} }}"#))["DcimDevice"]["edges"][0]["node"]["asn"]["value"].clone()
}

#[test]
fn a_branch_sees_main_plus_its_own_changes_and_main_does_not_see_them() {
    let s = store();
    device(&s, "main", "leaf1", "asn: {value: 1}");
    s.create_branch("br1").unwrap();
    device(&s, "br1", "leaf2", "");
    device(&s, "br1", "leaf1", "asn: {value: 2}");
    device(&s, "main", "leaf3", "");
    assert_eq!(
        names(
            &ok(
                &s,
                "br1",
                "{ DcimDevice { edges { node { name { value } } } } }"
            ),
            "DcimDevice"
        ),
        ["leaf1", "leaf2", "leaf3"]
    );
    assert_eq!(
        names(
            &ok(
                &s,
                "main",
                "{ DcimDevice { edges { node { name { value } } } } }"
            ),
            "DcimDevice"
        ),
        ["leaf1", "leaf3"]
    );
    assert_eq!(asn(&s, "br1", "leaf1"), 2);
    assert_eq!(asn(&s, "main", "leaf1"), 1);
}

#[test]
fn deleting_on_a_branch_hides_the_node_only_there() {
    let s = store();
    let id = device(&s, "main", "leaf1", "");
    s.create_branch("br1").unwrap();
    ok(
        &s,
        "br1",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{id}"}}) {{ ok }} }}"#),
    );
    assert_eq!(
        ok(&s, "br1", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        0
    );
    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        1
    );
}

#[test]
fn agnostic_kinds_are_shared_by_all_branches() {
    let s = store();
    s.create_branch("br1").unwrap();
    ok(
        &s,
        "br1",
        r#"mutation { BuiltinTagCreate(data: {name: {value: "aware-tag"}}) { ok } }"#,
    );
    ok(
        &s,
        "br1",
        r#"mutation { CoreNumberPoolCreate(data: {name: {value: "asn-pool"}, node: {value: "DcimDevice"}, node_attribute: {value: "asn"}, start_range: {value: 65000}, end_range: {value: 65100}}) { ok } }"#,
    );
    let d = ok(
        &s,
        "main",
        "{ BuiltinTag { count } CoreNumberPool { count } }",
    );
    assert_eq!(
        d,
        json!({"BuiltinTag": {"count": 0}, "CoreNumberPool": {"count": 1}})
    );
}

#[test]
fn local_kinds_stay_on_their_branch_and_are_not_merged() {
    let s = store();
    ok(
        &s,
        "main",
        r#"mutation { CoreGeneratorGroupUpsert(data: {name: {value: "on-main"}}) { ok } }"#,
    );
    s.create_branch("br1").unwrap();
    assert_eq!(
        ok(&s, "br1", "{ CoreGeneratorGroup { count } }")["CoreGeneratorGroup"]["count"],
        0,
        "a fresh branch does not see main's local nodes"
    );
    ok(
        &s,
        "br1",
        r#"mutation { CoreGeneratorGroupUpsert(data: {name: {value: "on-br1"}}) { ok } }"#,
    );
    ok(
        &s,
        "br1",
        r#"mutation { CoreGeneratorAwareGroupUpsert(data: {name: {value: "aware"}}) { ok } }"#,
    );
    s.merge_branch("br1").unwrap();
    let d = ok(
        &s,
        "main",
        "{ CoreGeneratorGroup { edges { node { name { value } } } } CoreGeneratorAwareGroup { count } }",
    );
    assert_eq!(names(&d, "CoreGeneratorGroup"), ["on-main"]);
    assert_eq!(d["CoreGeneratorAwareGroup"]["count"], 1);
}

/// Main's local node stays out of a branch's run when it asks for it by id: main's view
/// of the node, held in the store's cache since main made it, is not the branch's (a run on
/// a branch reads main's cached view of a node the branch has no rows of, but a local
/// kind's main rows are not visible there).
#[tokio::test]
async fn a_run_on_a_branch_asking_for_a_local_node_of_main_by_id_does_not_get_it() {
    // A file: an in-memory store's runs share no cache.
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(&dir.path().join("store.db"));
    s.create_branch("br1").unwrap();
    let group = create_node(
        &s,
        "main",
        "CoreGeneratorGroup",
        r#"name: {value: "on-main"}"#,
    );
    let device = device(&s, "main", "leaf1", "");
    // The ids a run's listing of `kind` by id `id` shows.
    let shown = |run: &RunTransaction, kind: &str, id: &str| -> Vec<String> {
        let request = GraphqlRequest::new(format!(
            r#"{{ {kind}(ids: ["{id}"]) {{ edges {{ node {{ id }} }} }} }}"#
        ));
        let answer = run.execute(&request, None);
        answer["data"][kind]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{kind}: {answer}"))
            .iter()
            .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let on_main = s.begin_run("main").await.unwrap();
    assert_eq!(
        shown(&on_main, "CoreGeneratorGroup", &group),
        [group.as_str()]
    );
    assert_eq!(shown(&on_main, "DcimDevice", &device), [device.as_str()]);
    on_main.abandon();
    let on_branch = s.begin_run("br1").await.unwrap();
    assert!(shown(&on_branch, "CoreGeneratorGroup", &group).is_empty());
    assert!(shown(&on_branch, "CoreNode", &group).is_empty());
    assert_eq!(
        shown(&on_branch, "DcimDevice", &device),
        [device.as_str()],
        "an aware node of main is the branch's too"
    );
    on_branch.abandon();
}

#[test]
fn merge_applies_creates_updates_and_deletes_to_main() {
    let s = store();
    let keep = device(&s, "main", "keep", "asn: {value: 1}");
    let gone = device(&s, "main", "gone", "");
    s.create_branch("br1").unwrap();
    device(&s, "br1", "keep", "asn: {value: 2}");
    device(&s, "br1", "new", "");
    interface(&s, "br1", &keep, "eth1");
    ok(
        &s,
        "br1",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{gone}"}}) {{ ok }} }}"#),
    );
    // Main changes an unrelated field meanwhile: not a conflict.
    device(&s, "main", "keep", r#"serial: {value: "SN"}"#);
    let report = s.merge_branch("br1").unwrap();
    assert_eq!(report.branch, "br1");
    let d = ok(
        &s,
        "main",
        "{ DcimDevice { edges { node { name { value } asn { value } serial { value } interfaces { count } } } } }",
    );
    assert_eq!(
        d["DcimDevice"]["edges"],
        json!([
            {"node": {"name": {"value": "keep"}, "asn": {"value": 2}, "serial": {"value": "SN"}, "interfaces": {"count": 1}}},
            {"node": {"name": {"value": "new"}, "asn": {"value": null}, "serial": {"value": null}, "interfaces": {"count": 0}}},
        ])
    );
    assert_eq!(
        s.branches().unwrap()[1].changes,
        0,
        "the branch now equals main"
    );
}

#[test]
fn many_relationship_edits_on_both_sides_merge_by_difference() {
    let s = store();
    let a = device(&s, "main", "a", "");
    let b = device(&s, "main", "b", "");
    let g = ok(
        &s,
        "main",
        r#"mutation { CoreStandardGroupCreate(data: {name: {value: "g"}}) { object { id } } }"#,
    )["CoreStandardGroupCreate"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.create_branch("br1").unwrap();
    ok(
        &s,
        "br1",
        &format!(
            r#"mutation {{ RelationshipAdd(data: {{id: "{g}", name: "members", nodes: [{{id: "{a}"}}]}}) {{ ok }} }}"#
        ),
    );
    ok(
        &s,
        "main",
        &format!(
            r#"mutation {{ RelationshipAdd(data: {{id: "{g}", name: "members", nodes: [{{id: "{b}"}}]}}) {{ ok }} }}"#
        ),
    );
    s.merge_branch("br1").unwrap();
    assert_eq!(
        ok(
            &s,
            "main",
            "{ CoreStandardGroup { edges { node { members { count } } } } }"
        )["CoreStandardGroup"]["edges"][0]["node"]["members"]["count"],
        2
    );
}

#[test]
fn a_merge_conflict_names_the_field_and_merges_nothing() {
    let s = store();
    let id = device(&s, "main", "leaf1", "asn: {value: 1}");
    s.create_branch("br1").unwrap();
    device(&s, "br1", "leaf1", "asn: {value: 2}");
    device(&s, "br1", "other", "");
    device(&s, "main", "leaf1", "asn: {value: 3}");
    let err = s.merge_branch("br1").unwrap_err();
    match &err {
        StoreError::MergeConflict { branch, conflicts } => {
            assert_eq!(branch, "br1");
            assert_eq!(
                conflicts,
                &[format!("DcimDevice {id} attribute 'asn': main=3 branch=2")]
            );
        }
        other => panic!("expected a conflict, got {other}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "merge of branch 'br1' refused, 1 conflict(s): DcimDevice {id} attribute 'asn': main=3 branch=2"
        )
    );
    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        1,
        "nothing merged"
    );
    assert_eq!(asn(&s, "main", "leaf1"), 3);
}

#[test]
fn branch_list_create_delete() {
    let s = store();
    s.create_branch("feature/x").unwrap();
    assert!(matches!(
        s.create_branch("feature/x"),
        Err(StoreError::BranchExists(_))
    ));
    assert_eq!(
        s.create_branch("bad//name.lock").unwrap_err().to_string(),
        "Branch name contains invalid patterns or characters: //, ends with .lock"
    );
    device(&s, "feature/x", "leaf1", "");
    let names: Vec<String> = s.branches().unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["main", "feature/x"]);
    s.delete_branch("feature/x").unwrap();
    assert_eq!(s.branches().unwrap().len(), 1);
    assert_eq!(
        s.delete_branch("main").unwrap_err().to_string(),
        "Unable to delete main it is the default branch."
    );
    let r = gql(&s, "feature/x", "{ DcimDevice { count } }");
    assert_eq!(errors(&r), ["Branch: feature/x not found."]);
    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        0
    );
}

fn group(s: &infragen_store::Store, name: &str) -> String {
    ok(
        s,
        "main",
        &format!(
            r#"mutation {{ CoreStandardGroupCreate(data: {{name: {{value: "{name}"}}}}) {{ object {{ id }} }} }}"#
        ),
    )["CoreStandardGroupCreate"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn members(s: &infragen_store::Store, branch: &str) -> Vec<String> {
    let d = ok(
        s,
        branch,
        "{ CoreStandardGroup { edges { node { members { edges { node { display_label } } } } } } }",
    );
    let mut out: Vec<String> = d["CoreStandardGroup"]["edges"][0]["node"]["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["display_label"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

fn serial(s: &infragen_store::Store, branch: &str, name: &str) -> serde_json::Value {
    ok(s, branch, &format!(r#"{{ DcimDevice(name__value: "{name}") {{ edges {{ node {{ serial {{ value }} }} }} }} }}"#))["DcimDevice"]["edges"][0]["node"]["serial"]["value"].clone()
}

#[test]
fn a_branch_sees_mains_later_changes_to_the_attributes_it_did_not_change() {
    let s = store();
    device(
        &s,
        "main",
        "leaf1",
        r#"asn: {value: 1} serial: {value: "SN1"}"#,
    );
    s.create_branch("br1").unwrap();
    device(&s, "br1", "leaf1", "asn: {value: 2}");
    device(
        &s,
        "main",
        "leaf1",
        r#"asn: {value: 3} serial: {value: "SN2"}"#,
    );
    assert_eq!(asn(&s, "br1", "leaf1"), 2, "the branch's own change wins");
    assert_eq!(
        serial(&s, "br1", "leaf1"),
        "SN2",
        "main's later change shows"
    );
    assert_eq!(asn(&s, "main", "leaf1"), 3);
}

#[test]
fn a_branch_sees_members_main_adds_to_a_group_the_branch_changed() {
    let s = store();
    let (a, b, c) = (
        device(&s, "main", "a", ""),
        device(&s, "main", "b", ""),
        device(&s, "main", "c", ""),
    );
    let g = group(&s, "g");
    group_member(&s, "main", &g, &a, true);
    s.create_branch("br1").unwrap();
    group_member(&s, "br1", &g, &b, true);
    group_member(&s, "main", &g, &c, true);
    assert_eq!(members(&s, "br1"), ["a", "b", "c"]);
    assert_eq!(members(&s, "main"), ["a", "c"]);
    // Main removes a member the branch never touched: gone on the branch too.
    group_member(&s, "main", &g, &a, false);
    assert_eq!(members(&s, "br1"), ["b", "c"]);
    s.merge_branch("br1").unwrap();
    assert_eq!(members(&s, "main"), ["b", "c"]);
}

#[test]
fn merge_is_per_edge_a_member_removed_on_the_branch_and_one_added_on_main_both_hold() {
    let s = store();
    let (a, b, c) = (
        device(&s, "main", "a", ""),
        device(&s, "main", "b", ""),
        device(&s, "main", "c", ""),
    );
    let g = group(&s, "g");
    group_member(&s, "main", &g, &a, true);
    group_member(&s, "main", &g, &b, true);
    s.create_branch("br1").unwrap();
    group_member(&s, "br1", &g, &a, false);
    group_member(&s, "main", &g, &c, true);
    s.merge_branch("br1").unwrap();
    assert_eq!(members(&s, "main"), ["b", "c"]);
    assert_eq!(
        members(&s, "br1"),
        ["b", "c"],
        "the branch equals main after the merge"
    );
    assert_eq!(s.branches().unwrap()[1].changes, 0);
}

#[test]
fn merge_is_per_attribute_different_attributes_of_one_node_never_conflict() {
    let s = store();
    device(
        &s,
        "main",
        "leaf1",
        r#"asn: {value: 1} serial: {value: "SN1"}"#,
    );
    s.create_branch("br1").unwrap();
    device(&s, "br1", "leaf1", "asn: {value: 2}");
    device(&s, "main", "leaf1", r#"serial: {value: "SN2"}"#);
    s.merge_branch("br1").unwrap();
    assert_eq!(asn(&s, "main", "leaf1"), 2);
    assert_eq!(serial(&s, "main", "leaf1"), "SN2");
}

#[test]
fn a_relationship_pointed_elsewhere_on_both_sides_is_a_named_conflict_and_nothing_merges() {
    let s = store();
    let (a, b, c) = (
        device(&s, "main", "a", ""),
        device(&s, "main", "b", ""),
        device(&s, "main", "c", ""),
    );
    let eth = interface(&s, "main", &a, "eth1");
    s.create_branch("br1").unwrap();
    let move_to = |branch: &str, to: &str| {
        ok(
            &s,
            branch,
            &format!(
                r#"mutation {{ DcimPhysicalInterfaceUpdate(data: {{id: "{eth}", device: {{id: "{to}"}}}}) {{ ok }} }}"#
            ),
        );
    };
    move_to("br1", &b);
    device(&s, "br1", "new-on-branch", "");
    move_to("main", &c);
    let before = ok(
        &s,
        "main",
        "{ DcimDevice { edges { node { name { value } interfaces { edges { node { id } } } } } } }",
    );
    let err = s.merge_branch("br1").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "merge of branch 'br1' refused, 1 conflict(s): DcimPhysicalInterface {eth} relationship 'device': main=[\"{c}\"] branch=[\"{b}\"]"
        )
    );
    let after = ok(
        &s,
        "main",
        "{ DcimDevice { edges { node { name { value } interfaces { edges { node { id } } } } } } }",
    );
    assert_eq!(before, after, "nothing merged");
}

#[test]
fn a_node_deleted_on_the_branch_and_changed_on_main_is_a_named_conflict() {
    let s = store();
    let id = device(&s, "main", "leaf1", "asn: {value: 1}");
    s.create_branch("br1").unwrap();
    ok(
        &s,
        "br1",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{id}"}}) {{ ok }} }}"#),
    );
    device(&s, "main", "leaf1", "asn: {value: 5}");
    let err = s.merge_branch("br1").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "merge of branch 'br1' refused, 1 conflict(s): DcimDevice {id}: deleted on the branch, changed on main"
        )
    );
    assert_eq!(asn(&s, "main", "leaf1"), 5);
}

/// A change on another branch is not a change on main: the branch that deleted the node
/// merges, and the other branch's change is then the conflict.
#[test]
fn a_node_deleted_on_one_branch_and_changed_on_another_merges_the_deletion() {
    let s = store();
    let id = device(&s, "main", "leaf1", "asn: {value: 1}");
    s.create_branch("br1").unwrap();
    s.create_branch("br2").unwrap();
    ok(
        &s,
        "br1",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{id}"}}) {{ ok }} }}"#),
    );
    device(&s, "br2", "leaf1", "asn: {value: 2}");
    s.merge_branch("br1").unwrap();
    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        0
    );
    assert_eq!(
        s.merge_branch("br2").unwrap_err().to_string(),
        format!(
            "merge of branch 'br2' refused, 1 conflict(s): DcimDevice {id}: changed on the branch, deleted on main"
        )
    );
}

/// A merge keeps main's nodes unique: a node the branch created under a name main (or a
/// branch merged before) took since, or a unique value the branch gave that main gave
/// another node since, is a named conflict, and nothing merges.
#[test]
fn a_merge_that_would_make_a_unique_value_twice_is_a_named_conflict() {
    let s = store();
    s.create_branch("br1").unwrap();
    s.create_branch("br2").unwrap();
    let first = device(&s, "br1", "new1", "asn: {value: 1}");
    let second = device(&s, "br2", "new1", "asn: {value: 2}");
    s.merge_branch("br1").unwrap();
    assert_eq!(
        s.merge_branch("br2").unwrap_err().to_string(),
        format!(
            "merge of branch 'br2' refused, 1 conflict(s): DcimDevice {second}: Violates uniqueness constraint 'name' with 'new1'"
        )
    );
    assert_eq!(node_id(&s, "DcimDevice", "name", "new1"), first);
    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        1
    );

    let a = device(&s, "main", "a", r#"serial: {value: "SN1"}"#);
    let b = device(&s, "main", "b", "");
    s.create_branch("br3").unwrap();
    device(&s, "br3", "b", r#"serial: {value: "SN2"}"#);
    device(&s, "main", "a", r#"serial: {value: "SN2"}"#);
    assert_eq!(
        s.merge_branch("br3").unwrap_err().to_string(),
        format!(
            "merge of branch 'br3' refused, 1 conflict(s): DcimDevice {b}: Violates uniqueness constraint 'serial' with 'SN2'"
        )
    );
    assert_eq!(serial(&s, "main", "b"), serde_json::Value::Null);
    assert_eq!(node_id(&s, "DcimDevice", "serial", "SN2"), a);
}

/// `BranchValidate` says whether the branch would merge now, and names every conflict its
/// merge would (Infrahub's `ok` and `messages`), writing nothing either way.
#[test]
fn validating_a_branch_names_the_conflicts_its_merge_would_and_writes_nothing() {
    let s = store();
    let id = device(&s, "main", "leaf1", "asn: {value: 1}");
    s.create_branch("br1").unwrap();
    let validate = |s: &infragen_store::Store| {
        ok(
            s,
            "main",
            r#"mutation { BranchValidate(data: {name: "br1"}) { ok messages } }"#,
        )["BranchValidate"]
            .clone()
    };
    device(&s, "br1", "leaf1", "asn: {value: 2}");
    assert_eq!(validate(&s), json!({"ok": true, "messages": []}));
    device(&s, "main", "leaf1", "asn: {value: 3}");
    let events = s.events_since(0).unwrap().len();
    assert_eq!(
        validate(&s),
        json!({"ok": false, "messages": [format!("DcimDevice {id} attribute 'asn': main=3 branch=2")]})
    );
    assert_eq!(s.events_since(0).unwrap().len(), events, "nothing written");
    assert_eq!(asn(&s, "main", "leaf1"), 3);
    assert_eq!(asn(&s, "br1", "leaf1"), 2);
    assert_eq!(s.merge_conflicts("br1").unwrap().len(), 1);
    assert!(matches!(
        s.merge_conflicts("nope"),
        Err(StoreError::BranchNotFound(name)) if name == "nope"
    ));
}

/// Writing on main what a node already holds changes nothing (no event), so the branch
/// that deleted the node merges; a real change is still the conflict.
#[test]
fn a_write_on_main_that_changes_nothing_does_not_stop_a_deletion_merging() {
    let s = store();
    let id = device(&s, "main", "leaf1", "asn: {value: 1}");
    let other = device(&s, "main", "leaf2", "asn: {value: 1}");
    s.create_branch("br1").unwrap();
    for node in [&id, &other] {
        ok(
            &s,
            "br1",
            &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{node}"}}) {{ ok }} }}"#),
        );
    }
    device(&s, "main", "leaf1", "asn: {value: 1}");
    device(&s, "main", "leaf2", "asn: {value: 2}");
    assert_eq!(
        s.merge_branch("br1").unwrap_err().to_string(),
        format!(
            "merge of branch 'br1' refused, 1 conflict(s): DcimDevice {other}: deleted on the branch, changed on main"
        )
    );
    // Deleted on main as well, it is no conflict any more.
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{other}"}}) {{ ok }} }}"#),
    );
    s.merge_branch("br1").unwrap();
    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        0
    );
}

/// A node main deleted that the branch only linked (no row of the branch names its kind)
/// is a conflict named with its kind all the same.
#[test]
fn a_member_added_on_the_branch_and_deleted_on_main_is_a_conflict_naming_its_kind() {
    let s = store();
    let id = device(&s, "main", "leaf1", "");
    let g = group(&s, "g");
    s.create_branch("br1").unwrap();
    group_member(&s, "br1", &g, &id, true);
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{id}"}}) {{ ok }} }}"#),
    );
    assert_eq!(
        s.merge_branch("br1").unwrap_err().to_string(),
        format!(
            "merge of branch 'br1' refused, 1 conflict(s): DcimDevice {id}: changed on the branch, deleted on main"
        )
    );
    assert_eq!(members(&s, "main"), Vec::<String>::new());
}

/// Infrahub's branch API, with the documents the Python SDK sends (`client.branch.*`,
/// `infrahubctl branch …`): create, list, get one, merge, rebase, validate, delete.
#[test]
fn the_branch_api_answers_the_sdks_documents() {
    let s = store();
    // What infrahub-sdk 1.23.2 selects (`BRANCH_DATA`), `graph_version` included.
    const DATA: &str = "id name description origin_branch branched_from is_default sync_with_git has_schema_changes graph_version status";
    let created = ok(
        &s,
        "main",
        &format!(
            "mutation {{ BranchCreate(background_execution: false, data: {{name: \"feature-1\", \
             description: \"a test\", sync_with_git: false}}) {{ ok object {{ {DATA} }} }} }}"
        ),
    );
    let object = &created["BranchCreate"]["object"];
    assert_eq!(created["BranchCreate"]["ok"], true);
    assert_eq!(
        (
            &object["id"],
            &object["name"],
            &object["description"],
            &object["origin_branch"],
            &object["is_default"],
            &object["sync_with_git"],
            &object["has_schema_changes"],
            &object["graph_version"],
            &object["status"]
        ),
        (
            &json!("feature-1"),
            &json!("feature-1"),
            &json!("a test"),
            &json!("main"),
            &json!(false),
            &json!(false),
            &json!(false),
            &json!(null),
            &json!("OPEN")
        )
    );
    assert!(
        object["branched_from"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z'))
    );
    // Not waiting: the task that did it.
    let task = ok(
        &s,
        "main",
        "mutation { BranchCreate(background_execution: true, data: {name: \"feature-2\", \
         description: \"\", sync_with_git: true}) { ok task { id } } }",
    );
    assert_eq!(task["BranchCreate"]["task"]["id"], "branchcreate-feature-2");

    let all = ok(
        &s,
        "main",
        &format!("query GetAllBranch {{ Branch {{ {DATA} }} }}"),
    );
    let listed: Vec<(&str, bool)> = all["Branch"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|b| {
            (
                b["name"].as_str().expect("name"),
                b["is_default"].as_bool().expect("is_default"),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("main", true), ("feature-1", false), ("feature-2", false)]
    );
    // Main began with the store, no later than the branches made from it.
    let main_began = all["Branch"][0]["branched_from"].as_str().expect("a time");
    assert!(main_began.ends_with('Z'), "{main_began}");
    assert!(main_began <= all["Branch"][1]["branched_from"].as_str().expect("a time"));
    let one = gql_vars(
        &s,
        "main",
        "query GetBranch($branch_name: String) { Branch(name: $branch_name) { name sync_with_git } }",
        json!({"branch_name": "feature-2"}),
    );
    assert_eq!(
        one["data"]["Branch"],
        json!([{"name": "feature-2", "sync_with_git": true}])
    );

    let refused = gql(
        &s,
        "main",
        "mutation { BranchCreate(data: {name: \"a//b\"}) { ok } }",
    );
    assert_eq!(
        errors(&refused),
        ["Branch name contains invalid patterns or characters: //"]
    );

    device(&s, "feature-1", "leaf1", "");
    for field in ["BranchValidate", "BranchRebase"] {
        let answered = ok(
            &s,
            "main",
            &format!(
                "mutation {{ {field}(data: {{name: \"feature-1\"}}) {{ ok object {{ id name }} }} }}"
            ),
        );
        assert_eq!(
            answered[field],
            json!({"ok": true, "object": {"id": "feature-1", "name": "feature-1"}})
        );
    }
    let merged = ok(
        &s,
        "main",
        &format!(
            "mutation {{ BranchMerge(data: {{name: \"feature-1\"}}) {{ ok object {{ {DATA} }} }} }}"
        ),
    );
    assert_eq!(merged["BranchMerge"]["ok"], true);
    assert_eq!(
        names(
            &ok(
                &s,
                "main",
                "{ DcimDevice { edges { node { name { value } } } } }"
            ),
            "DcimDevice"
        ),
        ["leaf1"]
    );

    let deleted = ok(
        &s,
        "main",
        "mutation { BranchDelete(data: {name: \"feature-1\"}) { ok } }",
    );
    assert_eq!(deleted["BranchDelete"]["ok"], true);
    let again = gql(
        &s,
        "main",
        "mutation { BranchDelete(data: {name: \"feature-1\"}) { ok } }",
    );
    assert_eq!(errors(&again), ["Branch: feature-1 not found."]);
    let main = gql(
        &s,
        "main",
        "mutation { BranchDelete(data: {name: \"main\"}) { ok } }",
    );
    assert_eq!(
        errors(&main),
        ["Unable to delete main it is the default branch."]
    );
    let left = ok(&s, "main", "{ Branch { name } }");
    assert_eq!(
        left["Branch"],
        json!([{"name": "main"}, {"name": "feature-2"}])
    );
}

/// What `client.get_diff_summary` sends (infrahub-sdk 1.23.2's `get_diff_summary_query`).
const DIFF_SUMMARY: &str = "query GetDiffTree($branch_name: String!, $name: String, $from_time: DateTime, $to_time: DateTime) { DiffTree(branch: $branch_name, name: $name, from_time: $from_time, to_time: $to_time) { nodes { uuid kind status label num_added num_updated num_removed attributes { name status num_added num_updated num_removed } relationships { name status cardinality num_added num_updated num_removed elements { status num_added num_updated num_removed } } } } }";

#[test]
fn diff_tree_lists_every_node_the_branch_added_updated_and_removed() {
    let s = store();
    let leaf1 = device(&s, "main", "leaf1", "asn: {value: 1}");
    let leaf2 = device(&s, "main", "leaf2", "");
    let team = group(&s, "team");
    s.create_branch("br1").unwrap();
    let empty = gql_vars(&s, "br1", DIFF_SUMMARY, json!({"branch_name": "br1"}));
    assert_eq!(empty["data"]["DiffTree"]["nodes"], json!([]), "{empty:#}");

    let leaf3 = device(&s, "br1", "leaf3", "");
    ok(
        &s,
        "br1",
        &format!(
            r#"mutation {{ DcimDeviceUpdate(data: {{id: "{leaf1}", asn: {{value: 2}}}}) {{ ok }} }}"#
        ),
    );
    ok(
        &s,
        "br1",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{leaf2}"}}) {{ ok }} }}"#),
    );
    group_member(&s, "br1", &team, &leaf1, true);
    // Main's own later change is not the branch's.
    device(&s, "main", "leaf9", "");

    let r = gql_vars(&s, "main", DIFF_SUMMARY, json!({"branch_name": "br1"}));
    assert!(r.get("errors").is_none(), "{r:#}");
    let nodes = r["data"]["DiffTree"]["nodes"].as_array().unwrap().clone();
    let by_id = |id: &str| nodes.iter().find(|n| n["uuid"] == id).cloned().unwrap();
    assert_eq!(nodes.len(), 4, "{nodes:#?}");
    assert_eq!(
        by_id(&leaf1),
        json!({"uuid": leaf1, "kind": "DcimDevice", "status": "UPDATED", "label": "leaf1",
               "num_added": 1, "num_updated": 1, "num_removed": 0,
               "attributes": [{"name": "asn", "status": "UPDATED", "num_added": 0, "num_updated": 1, "num_removed": 0}],
               "relationships": [{"name": "member_of_groups", "status": "UPDATED", "cardinality": "MANY",
                                  "num_added": 1, "num_updated": 0, "num_removed": 0,
                                  "elements": [{"status": "ADDED", "num_added": 1, "num_updated": 0, "num_removed": 0}]}]})
    );
    assert_eq!(
        by_id(&team)["relationships"],
        json!([{"name": "members", "status": "UPDATED", "cardinality": "MANY",
                "num_added": 1, "num_updated": 0, "num_removed": 0,
                "elements": [{"status": "ADDED", "num_added": 1, "num_updated": 0, "num_removed": 0}]}])
    );
    let added = by_id(&leaf3);
    assert_eq!(
        (added["status"].clone(), added["label"].clone()),
        (json!("ADDED"), json!("leaf3"))
    );
    assert!(
        added["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == &json!({"name": "name", "status": "ADDED", "num_added": 1, "num_updated": 0, "num_removed": 0}))
    );
    assert_eq!(by_id(&leaf2)["status"], "REMOVED");

    // The summary counts nodes; values before and after are in the properties.
    let d = ok(
        &s,
        "main",
        r#"{ DiffTreeSummary(branch: "br1") { base_branch diff_branch num_added num_updated num_removed num_conflicts }
                     DiffTree(branch: "br1", filters: {kind: {includes: ["DcimDevice"]}, status: {excludes: ["ADDED"]}}) {
                       nodes { uuid attributes { properties { property_type previous_value new_value } } } } }"#,
    );
    assert_eq!(
        d["DiffTreeSummary"],
        json!({"base_branch": "main", "diff_branch": "br1", "num_added": 1, "num_updated": 2, "num_removed": 1, "num_conflicts": 0})
    );
    // In the order the query selects the fields, as every answer.
    let summary = s.answer_blocking(
        "main",
        &infragen_store::GraphqlRequest::new(
            r#"{ DiffTreeSummary(branch: "br1") { num_removed diff_branch num_added base_branch } }"#,
        ),
    );
    assert_eq!(
        summary.to_text(),
        r#"{"data":{"DiffTreeSummary":{"num_removed":1,"diff_branch":"br1","num_added":1,"base_branch":"main"}}}"#
    );
    let filtered = d["DiffTree"]["nodes"].as_array().unwrap();
    assert_eq!(filtered.len(), 2, "{filtered:#?}");
    assert_eq!(
        by_id(&leaf1)["uuid"],
        filtered
            .iter()
            .find(|n| n["uuid"] == leaf1.as_str())
            .unwrap()["uuid"]
    );
    assert_eq!(
        filtered
            .iter()
            .find(|n| n["uuid"] == leaf1.as_str())
            .unwrap()["attributes"],
        json!([{"properties": [{"property_type": "HAS_VALUE", "previous_value": "1", "new_value": "2"}]}])
    );

    // Main has no diff; an unknown branch and a time window are errors.
    assert_eq!(
        ok(&s, "main", r#"{ DiffTree(branch: "main") { num_added } }"#)["DiffTree"],
        json!(null)
    );
    let r = gql(&s, "main", r#"{ DiffTree(branch: "nope") { num_added } }"#);
    assert_eq!(errors(&r), ["Branch: nope not found."]);
    let r = gql(
        &s,
        "main",
        r#"{ DiffTree(branch: "br1", from_time: "2026-01-01T00:00:00Z") { num_added } }"#,
    );
    assert!(
        errors(&r)[0].starts_with("`from_time` is not supported"),
        "{r:#}"
    );

    // Once merged, the branch has nothing left to show.
    s.merge_branch("br1").unwrap();
    assert_eq!(
        ok(
            &s,
            "main",
            r#"{ DiffTreeSummary(branch: "br1") { num_added num_updated num_removed } }"#
        )["DiffTreeSummary"],
        json!({"num_added": 0, "num_updated": 0, "num_removed": 0})
    );
}

/// The changes each branch counts, per branch, through a merge and a deletion.
fn changes(s: &infragen_store::Store) -> Vec<(String, usize)> {
    s.branches()
        .expect("branches")
        .into_iter()
        .map(|b| (b.name, b.changes))
        .collect()
}

fn device_names(s: &infragen_store::Store, branch: &str) -> Vec<String> {
    names(
        &ok(
            s,
            branch,
            "{ DcimDevice { edges { node { name { value } } } } }",
        ),
        "DcimDevice",
    )
}

/// A branch's changes are counted, merged and deleted as its own, whatever the other
/// branches hold: the count names the nodes it changed, a merge leaves it none, and a
/// deletion takes its nodes out of every view (a branch made again under its name starts
/// empty).
#[test]
fn each_branch_counts_merges_and_deletes_only_its_own_changes() {
    let s = store();
    device(&s, "main", "leaf1", "asn: {value: 1}");
    s.create_branch("br1").unwrap();
    s.create_branch("br2").unwrap();
    device(&s, "br1", "leaf2", "");
    device(&s, "br1", "leaf1", "asn: {value: 2}");
    device(&s, "br2", "leaf3", "");
    assert_eq!(
        changes(&s),
        [("main".into(), 0), ("br1".into(), 2), ("br2".into(), 1)]
    );

    s.merge_branch("br1").unwrap();
    assert_eq!(
        changes(&s),
        [("main".into(), 0), ("br1".into(), 0), ("br2".into(), 1)]
    );
    assert_eq!(device_names(&s, "main"), ["leaf1", "leaf2"]);
    assert_eq!(asn(&s, "main", "leaf1"), 2);
    assert_eq!(device_names(&s, "br2"), ["leaf1", "leaf2", "leaf3"]);

    s.delete_branch("br2").unwrap();
    s.create_branch("br2").unwrap();
    assert_eq!(
        changes(&s),
        [("main".into(), 0), ("br1".into(), 0), ("br2".into(), 0)]
    );
    assert_eq!(device_names(&s, "br2"), ["leaf1", "leaf2"]);
    assert_eq!(device_names(&s, "main"), ["leaf1", "leaf2"]);
}

/// A store written before branches listed their nodes (`branch_rows` empty, and not yet
/// filled) gets the list from its rows when opened: its branch counts its changes and
/// merges them. Fails when the list is not filled: the branch then has nothing to merge.
#[test]
fn a_store_written_before_branches_listed_their_nodes_lists_them_when_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    {
        let s = file_store(&path);
        device(&s, "main", "leaf1", "asn: {value: 1}");
        s.create_branch("br1").unwrap();
        device(&s, "br1", "leaf2", "");
        device(&s, "br1", "leaf1", "asn: {value: 2}");
    }
    {
        let conn = rusqlite::Connection::open(&path).expect("the file");
        conn.execute_batch(
            "DELETE FROM branch_rows; DELETE FROM meta WHERE key = 'branch_rows_filled';",
        )
        .expect("the list emptied, as before it existed");
    }
    let s = infragen_store::Store::open(&path).expect("store reopened");
    assert_eq!(changes(&s), [("main".into(), 0), ("br1".into(), 2)]);
    s.merge_branch("br1").unwrap();
    assert_eq!(device_names(&s, "main"), ["leaf1", "leaf2"]);
    assert_eq!(asn(&s, "main", "leaf1"), 2);
    assert_eq!(changes(&s), [("main".into(), 0), ("br1".into(), 0)]);
}

/// Turns a store's attribute rows back into the layout stores were written in before
/// `attrs`: one `attr` row per attribute and branch, its value as JSON text, its lookup
/// key, and main's value when a branch first changed it.
fn to_attribute_rows(path: &std::path::Path) {
    ids_as_text(path);
    let conn = rusqlite::Connection::open(path).expect("the file");
    let rows: Vec<(String, String, String, String, Option<String>)> = conn
        .prepare("SELECT id, branch, kind, data, bases FROM attrs")
        .expect("prepare")
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    assert!(
        !rows.is_empty(),
        "the store has attribute rows to turn back"
    );
    let text = |v: &serde_json::Value| (!v.is_null()).then(|| v.to_string());
    let key = |v: &serde_json::Value| match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    for (id, branch, kind, data, bases) in rows {
        let data: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&data).expect("data");
        let bases: serde_json::Map<String, serde_json::Value> = bases
            .map(|b| serde_json::from_str(&b).expect("bases"))
            .unwrap_or_default();
        for (name, value) in &data {
            let base = bases.get(name);
            conn.execute(
                "INSERT INTO attr (id, branch, name, kind, value, key, base, has_base) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    id,
                    branch,
                    name,
                    kind,
                    text(value),
                    key(value),
                    base.and_then(text),
                    base.is_some()
                ],
            )
            .expect("an attribute row");
        }
    }
    conn.execute_batch(
        "DELETE FROM attrs; DELETE FROM attr_key; DELETE FROM value_key; DELETE FROM attr_name;",
    )
    .expect("the new rows gone");
}

/// Devices leaf1 (`asn` 1, `serial` SN1) and leaf2 (5, SN5) on main; leaf1's id.
fn two_leaves_on_main(s: &infragen_store::Store) -> String {
    let leaf1 = device(
        s,
        "main",
        "leaf1",
        r#"asn: {value: 1} serial: {value: "SN1"}"#,
    );
    device(
        s,
        "main",
        "leaf2",
        r#"asn: {value: 5} serial: {value: "SN5"}"#,
    );
    leaf1
}

/// A store at `path` with [`two_leaves_on_main`] and branch br1 holding its own values over
/// them (leaf1's `asn`; leaf2's `serial` unset) and leaf3 of its own.
fn leaves_on_main_and_a_branch(path: &std::path::Path) {
    let s = file_store(path);
    two_leaves_on_main(&s);
    s.create_branch("br1").unwrap();
    device(&s, "br1", "leaf1", "asn: {value: 2}");
    device(&s, "br1", "leaf2", "serial: {value: null}");
    device(&s, "br1", "leaf3", "asn: {value: 7}");
}

/// A store written with one row per attribute opens with its attributes as one row per
/// node and branch: main's values, the branch's own values over them (one unset there),
/// main's later change showing where the branch changed nothing, lookups by value, and a
/// merge that is still three-way per attribute. Fails when the rows are not moved: every
/// node then reads without attributes.
#[test]
fn a_store_written_with_one_row_per_attribute_reads_and_merges_the_same_when_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    leaves_on_main_and_a_branch(&path);
    to_attribute_rows(&path);
    let s = infragen_store::Store::open(&path).expect("store reopened");
    assert_eq!(asn(&s, "main", "leaf1"), 1);
    assert_eq!(asn(&s, "br1", "leaf1"), 2, "the branch's own value");
    assert_eq!(
        serial(&s, "br1", "leaf1"),
        "SN1",
        "main's value shows through"
    );
    assert_eq!(
        serial(&s, "br1", "leaf2"),
        serde_json::Value::Null,
        "unset on the branch"
    );
    assert_eq!(serial(&s, "main", "leaf2"), "SN5");
    assert_eq!(device_names(&s, "br1"), ["leaf1", "leaf2", "leaf3"]);
    assert_eq!(device_names(&s, "main"), ["leaf1", "leaf2"]);
    // Found by value (an upsert by name updates rather than creating a second leaf1).
    device(&s, "main", "leaf1", r#"serial: {value: "SN9"}"#);
    assert_eq!(device_names(&s, "main"), ["leaf1", "leaf2"]);
    assert_eq!(
        serial(&s, "br1", "leaf1"),
        "SN9",
        "main's later change shows"
    );
    s.merge_branch("br1").unwrap();
    assert_eq!(asn(&s, "main", "leaf1"), 2);
    assert_eq!(serial(&s, "main", "leaf1"), "SN9");
    assert_eq!(serial(&s, "main", "leaf2"), serde_json::Value::Null);
    assert_eq!(asn(&s, "main", "leaf3"), 7);
    assert_eq!(changes(&s), [("main".into(), 0), ("br1".into(), 0)]);
}

/// A value index entry: (kind, attribute, key, branch, node id).
type IndexEntry = (String, String, String, String, String);

/// Every value index entry of the store file at `path`, and every entry its attribute rows
/// call for (each value but the names a profile filled, by its text form): equal when the
/// index is in step with the values, with no entry left behind.
fn value_index_and_values(path: &std::path::Path) -> (BTreeSet<IndexEntry>, BTreeSet<IndexEntry>) {
    let conn = rusqlite::Connection::open(path).expect("the file");
    let left: i64 = conn
        .query_row("SELECT COUNT(*) FROM attr_key", [], |r| r.get(0))
        .expect("count");
    assert_eq!(left, 0, "nothing is indexed by the names' text");
    let index = conn
        .prepare(
            "SELECT n.kind, n.name, v.key, v.branch, v.id FROM value_key v \
             JOIN attr_name n ON n.n = v.attr",
        )
        .expect("prepare")
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, stored_id(r, 4)?))
        })
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("entries");
    let rows: Vec<(String, String, String, String)> = conn
        .prepare("SELECT id, branch, kind, data FROM attrs")
        .expect("prepare")
        .query_map([], |r| {
            Ok((stored_id(r, 0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    let mut values = BTreeSet::new();
    for (id, branch, kind, data) in rows {
        let data: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&data).expect("data");
        for (name, value) in data {
            let key = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            if name != "__from_profile" {
                values.insert((kind.clone(), name, key, branch.clone(), id.clone()));
            }
        }
    }
    (index, values)
}

/// The value index follows the values through everything that writes them: values set and
/// changed on main, a branch's own values over main's and one it unsets, nodes new on a
/// branch, a node deleted on main, a branch deleted, and a merge. Fails when an entry is left
/// behind (a lookup by value would then find a node that no longer has it) or missing.
#[test]
fn the_value_index_holds_exactly_the_values_through_writes_deletes_and_merges() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let s = file_store(&path);
    let in_step = |when: &str| {
        let (index, values) = value_index_and_values(&path);
        assert_eq!(index, values, "{when}");
        index
    };
    let leaf1 = two_leaves_on_main(&s);
    let gone = device(&s, "main", "gone", r#"asn: {value: 9}"#);
    device(&s, "main", "leaf1", r#"asn: {value: 3}"#);
    in_step("written on main");
    s.create_branch("br1").unwrap();
    s.create_branch("br2").unwrap();
    device(&s, "br1", "leaf1", "asn: {value: 2}");
    device(&s, "br1", "leaf2", "serial: {value: null}");
    device(&s, "br1", "leaf3", "asn: {value: 7}");
    interface(&s, "br1", &leaf1, "eth1");
    device(&s, "br2", "leaf4", "asn: {value: 8}");
    device(&s, "br2", "leaf1", r#"serial: {value: "SN2"}"#);
    let index = in_step("written on two branches");
    assert!(index.iter().any(|(_, name, key, branch, _)| (
        name.as_str(),
        key.as_str(),
        branch.as_str()
    ) == ("asn", "2", "br1")));
    ok(
        &s,
        "main",
        &format!(r#"mutation {{ DcimDeviceDelete(data: {{id: "{gone}"}}) {{ ok }} }}"#),
    );
    let index = in_step("a node deleted on main");
    assert!(!index.iter().any(|(.., id)| *id == gone));
    s.delete_branch("br2").unwrap();
    let index = in_step("a branch deleted");
    assert!(!index.iter().any(|(.., branch, _)| branch == "br2"));
    s.merge_branch("br1").unwrap();
    let index = in_step("a branch merged");
    assert!(!index.iter().any(|(.., branch, _)| branch == "br1"));
    assert_eq!(asn(&s, "main", "leaf1"), 2);
    assert_eq!(asn(&s, "main", "leaf3"), 7);
    assert_eq!(serial(&s, "main", "leaf2"), serde_json::Value::Null);
}

/// A store whose value index is keyed by the kinds' and attributes' names (`attr_key`,
/// layout 1) opens with its entries moved under the attributes' numbers: lookups by value
/// find main's and the branch's nodes, the index stays in step through later writes, and the
/// store notes the new layout. Fails when the entries are not moved: an upsert by name then
/// finds no node and creates a second leaf1.
#[test]
fn a_store_whose_value_index_is_keyed_by_names_moves_it_when_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    leaves_on_main_and_a_branch(&path);
    let before = value_index_and_values(&path).0;
    {
        let conn = rusqlite::Connection::open(&path).expect("the file");
        conn.execute_batch(
            "INSERT INTO attr_key (kind, name, key, branch, id) \
                 SELECT n.kind, n.name, v.key, v.branch, v.id FROM value_key v \
                 JOIN attr_name n ON n.n = v.attr; \
             DELETE FROM value_key; DELETE FROM attr_name; \
             UPDATE meta SET value = '1' WHERE key = 'layout';",
        )
        .expect("the index as layout 1 kept it");
    }
    let s = infragen_store::Store::open(&path).expect("store reopened");
    let (index, values) = value_index_and_values(&path);
    assert_eq!(index, before, "every entry moved");
    assert_eq!(index, values);
    let layout: String = rusqlite::Connection::open(&path)
        .expect("the file")
        .query_row("SELECT value FROM meta WHERE key = 'layout'", [], |r| {
            r.get(0)
        })
        .expect("the layout noted");
    assert_eq!(layout, "3");
    // Found by value: upserts by name update main's and the branch's nodes.
    device(&s, "main", "leaf1", r#"serial: {value: "SN9"}"#);
    device(&s, "br1", "leaf3", "asn: {value: 8}");
    assert_eq!(device_names(&s, "main"), ["leaf1", "leaf2"]);
    assert_eq!(device_names(&s, "br1"), ["leaf1", "leaf2", "leaf3"]);
    assert_eq!(
        serial(&s, "br1", "leaf1"),
        "SN9",
        "main's later change shows"
    );
    assert_eq!(asn(&s, "br1", "leaf3"), 8);
    let (index, values) = value_index_and_values(&path);
    assert_eq!(index, values, "in step after later writes");
}

/// A branch-agnostic kind whose relationship to a branch-aware kind is declared on its side
/// only (no field on the aware side pairs with it), as a resource pool's `resources`.
const ONE_SIDED: &str = r#"
version: "1.0"
nodes:
  - name: Pool
    namespace: Test
    branch: agnostic
    attributes:
      - {name: name, kind: Text, unique: true}
    relationships:
      - {name: members, peer: TestThing, cardinality: many, identifier: pool__things}
  - name: Thing
    namespace: Test
    attributes:
      - {name: name, kind: Text, unique: true}
"#;

fn member_names(s: &Store, branch: &str) -> Vec<String> {
    let d = ok(
        s,
        branch,
        "{ TestPool { edges { node { members { edges { node { display_label } } } } } } }",
    );
    let mut names: Vec<String> = d["TestPool"]["edges"][0]["node"]["members"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{d}"))
        .iter()
        .map(|e| e["node"]["display_label"].as_str().unwrap_or("").to_owned())
        .collect();
    names.sort();
    names
}

fn create_named(s: &Store, branch: &str, kind: &str, name: &str) -> String {
    create_node(s, branch, kind, &format!(r#"name: {{value: "{name}"}}"#))
}

fn add_member(s: &Store, branch: &str, pool: &str, thing: &str) {
    ok(
        s,
        branch,
        &format!(
            r#"mutation {{ RelationshipAdd(data: {{id: "{pool}", name: "members", nodes: [{{id: "{thing}"}}]}}) {{ ok }} }}"#
        ),
    );
}

/// As on Infrahub, a relationship between a branch-agnostic node and a branch-aware one is
/// branch-aware whichever side declares it: a peer added on a branch (here one that exists
/// only there) is not listed on main until the branch is merged, and the branch still sees
/// what main adds later. The schema says so (`branch: aware`), as Infrahub's API does.
#[test]
fn a_one_sided_relationship_from_an_agnostic_kind_to_an_aware_one_is_per_branch() {
    let s = Store::in_memory().expect("store");
    s.load_schema(&[("one_sided.yml".to_owned(), ONE_SIDED.to_owned())])
        .expect("schema");
    let schema = s.schema_json();
    let pool = schema["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|k| k["kind"] == "TestPool")
        .expect("TestPool");
    let members = pool["relationships"]
        .as_array()
        .expect("relationships")
        .iter()
        .find(|r| r["name"] == "members")
        .expect("members");
    assert_eq!(members["branch"], "aware");

    let pool = create_named(&s, "main", "TestPool", "p");
    let t1 = create_named(&s, "main", "TestThing", "t1");
    let t2 = create_named(&s, "main", "TestThing", "t2");
    add_member(&s, "main", &pool, &t1);
    s.create_branch("br1").unwrap();
    // A peer main has too, and one only the branch has.
    add_member(&s, "br1", &pool, &t2);
    let t3 = create_named(&s, "br1", "TestThing", "t3");
    add_member(&s, "br1", &pool, &t3);
    assert_eq!(
        member_names(&s, "main"),
        ["t1"],
        "main does not see the branch's peers"
    );
    assert_eq!(member_names(&s, "br1"), ["t1", "t2", "t3"]);
    ok(
        &s,
        "br1",
        &format!(
            r#"mutation {{ RelationshipRemove(data: {{id: "{pool}", name: "members", nodes: [{{id: "{t1}"}}]}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(member_names(&s, "main"), ["t1"], "nor its removal");
    assert_eq!(member_names(&s, "br1"), ["t2", "t3"]);

    let t4 = create_named(&s, "main", "TestThing", "t4");
    add_member(&s, "main", &pool, &t4);
    assert_eq!(member_names(&s, "main"), ["t1", "t4"]);
    assert_eq!(
        member_names(&s, "br1"),
        ["t2", "t3", "t4"],
        "the branch sees main's later addition"
    );

    s.merge_branch("br1").unwrap();
    assert_eq!(member_names(&s, "main"), ["t2", "t3", "t4"]);
}

/// Branch-agnostic kinds in a hierarchy: halls and the racks in them, shared by every branch.
const AGNOSTIC_TREE: &str = r#"
version: "1.0"
generics:
  - name: Place
    namespace: Test
    hierarchical: true
    attributes:
      - {name: name, kind: Text, unique: true}
nodes:
  - name: Hall
    namespace: Test
    branch: agnostic
    inherit_from: [TestPlace]
    parent: ""
    children: TestRack
  - name: Rack
    namespace: Test
    branch: agnostic
    inherit_from: [TestPlace]
    parent: TestHall
    children: ""
"#;

/// A rack's hall on `branch`, by name.
fn hall_of(s: &Store, branch: &str, rack: &str) -> serde_json::Value {
    let d = ok(
        s,
        branch,
        &format!(
            r#"{{ TestRack(ids: ["{rack}"]) {{ edges {{ node {{ parent {{ node {{ display_label }} }} }} }} }} }}"#
        ),
    );
    d["TestRack"]["edges"][0]["node"]["parent"]["node"]["display_label"].clone()
}

/// As on Infrahub, a place in a hierarchy is per branch even where the nodes are shared by
/// every branch: a rack moved to another hall on a branch stays in its hall on main until
/// the merge.
#[test]
fn a_shared_rack_moved_to_another_hall_on_a_branch_moves_there_only() {
    let s = Store::in_memory().expect("store");
    s.load_schema(&[("tree.yml".to_owned(), AGNOSTIC_TREE.to_owned())])
        .expect("schema");
    let h1 = create_named(&s, "main", "TestHall", "h1");
    let h2 = create_named(&s, "main", "TestHall", "h2");
    let rack = create_node(
        &s,
        "main",
        "TestRack",
        &format!(r#"name: {{value: "r1"}} parent: {{id: "{h1}"}}"#),
    );
    s.create_branch("br1").unwrap();
    ok(
        &s,
        "br1",
        &format!(
            r#"mutation {{ TestRackUpdate(data: {{id: "{rack}", parent: {{id: "{h2}"}}}}) {{ ok }} }}"#
        ),
    );
    assert_eq!(hall_of(&s, "main", &rack), "h1");
    assert_eq!(hall_of(&s, "br1", &rack), "h2");
    s.merge_branch("br1").unwrap();
    assert_eq!(hall_of(&s, "main", &rack), "h2");
}
