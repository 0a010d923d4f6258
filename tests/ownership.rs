//! A generator changes only what it owns: each attack of the hostile generator
//! (tests/guests/hostile, run on set alpha by the widgets fixture's `hostile`
//! definition, the set's `mode` and `victim` its attack) on another generator's
//! output, a design object, a group or a pool is refused with `permission-denied`
//! naming the node, its kind and who owns it; the store is exactly as it was apart
//! from the runs' own bookkeeping; and the benign widgets run on set beta, in the
//! same invocation, writes exactly its output.

use infragen::runner::{DefinitionReport, TargetOutcome};
use infragen_tests::{WidgetRepository, graphql, store_contents};
use serde_json::json;

/// The runs' own bookkeeping: an instance's status changes whether it succeeds or not.
const BOOKKEEPING: &[&str] = &["CoreGeneratorInstance"];

/// The store after alpha (3 widgets) and beta (2 widgets) have run once, with the ids
/// the attacks aim at.
struct Scene {
    repo: WidgetRepository,
    /// beta's first widget.
    beta_1: String,
    /// alpha's first widget.
    alpha_1: String,
    beta_set: String,
    /// The tracking groups of the two targets: (id, name).
    alpha_group: (String, String),
    beta_group: (String, String),
    /// The target group of the widgets generators.
    widget_sets: String,
    /// A pool no generator created.
    pool: String,
}

/// The tracking group holding `member`: (id, name).
async fn tracking_group_of(repo: &WidgetRepository, member: &str) -> (String, String) {
    let data = graphql(
        &repo.store,
        "main",
        "{ CoreGeneratorGroup { edges { node { id name { value } members { edges { node { id } } } } } } }",
    )
    .await;
    let group = data["CoreGeneratorGroup"]["edges"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|edge| &edge["node"])
        .find(|group| {
            group["members"]["edges"]
                .as_array()
                .is_some_and(|members| members.iter().any(|m| m["node"]["id"] == member))
        })
        .unwrap_or_else(|| panic!("no tracking group holds {member}"));
    (
        group["id"].as_str().expect("id").to_owned(),
        group["name"]["value"].as_str().expect("name").to_owned(),
    )
}

/// Which backend the runs write through.
enum Through {
    /// The embedded store in process: a run checks each write's effects on the store.
    InProcess,
    /// `infragen serve` over HTTP: a run is a run transaction, and its writes' effects
    /// come back to be checked.
    Http,
}

async fn scene(through: Through) -> Scene {
    let repo = WidgetRepository::new().await;
    let repo = match through {
        Through::InProcess => repo,
        Through::Http => repo.served().await,
    };
    repo.prefix_pool("shared-pool", "10.9.0.0/30").await;
    let report = run_both(&repo).await;
    assert_eq!(report.failed(), 0, "{report}");
    // The hostile definition's own records (its definition, alpha's instance), which
    // every attack below would otherwise write first. Its attack `normal` is unknown.
    let report = run_on(&repo, "hostile", "alpha").await;
    assert!(
        matches!(only(&report), TargetOutcome::Failed { message, .. } if message.ends_with("invalid-input: unknown attack 'normal' (expected none, infinite-loop, memory-bomb, deep-recursion, panic, huge-argument, log-flood, stdout-flood, call-flood, open-file, read-env, open-socket, random, scribble, peek, or one of the ownership attacks)")),
        "{report}"
    );
    let beta_1 = repo.id_of("TestWidget", "beta-1").await;
    let alpha_1 = repo.id_of("TestWidget", "alpha-1").await;
    Scene {
        beta_set: repo.id_of("TestWidgetSet", "beta").await,
        alpha_group: tracking_group_of(&repo, &alpha_1).await,
        beta_group: tracking_group_of(&repo, &beta_1).await,
        widget_sets: repo.id_of("CoreStandardGroup", "widget-sets").await,
        pool: repo.id_of("CoreIPPrefixPool", "shared-pool").await,
        beta_1,
        alpha_1,
        repo,
    }
}

/// `widgets` on both sets at once.
async fn run_both(repo: &WidgetRepository) -> DefinitionReport {
    repo.runner
        .run_definition(
            "widgets",
            "main",
            &infragen::runner::TargetSelection::All,
            2,
        )
        .await
        .expect("the definition runs")
}

/// `definition` on the set named `set` only.
async fn run_on(repo: &WidgetRepository, definition: &str, set: &str) -> DefinitionReport {
    let selection = infragen::runner::TargetSelection::Matching(
        json!({ "set": set })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    repo.runner
        .run_definition(definition, "main", &selection, 1)
        .await
        .expect("the definition runs")
}

/// The outcome of the one run of `report`.
fn only(report: &DefinitionReport) -> &TargetOutcome {
    assert_eq!(report.targets.len(), 1, "{report}");
    &report.targets[0].outcome
}

impl Scene {
    /// The hostile generator attacks in `mode` on `victim` from set alpha while the
    /// widgets generator runs on beta, at the same time in the same process: the attack
    /// fails with `permission-denied: <refusal>`, beta's run keeps exactly its two
    /// widgets, and the store is as it was but for the instances' status.
    async fn refused(&self, mode: &str, victim: &str, refusal: &str) {
        self.repo
            .set(
                "alpha",
                &format!("mode: {{value: \"{mode}\"}}, victim: {{value: \"{victim}\"}}"),
            )
            .await;
        let before = store_contents(&self.repo.store, "main", BOOKKEEPING);
        let (hostile, benign) = tokio::join!(
            run_on(&self.repo, "hostile", "alpha"),
            run_on(&self.repo, "widgets", "beta")
        );
        match only(&hostile) {
            TargetOutcome::Failed { message, .. } => assert!(
                message.ends_with(&format!(": permission-denied: {refusal}")),
                "{mode}: {message}\nexpected it to end with: permission-denied: {refusal}"
            ),
            other => panic!("{mode}: alpha's run was not refused: {other:?}"),
        }
        match only(&benign) {
            TargetOutcome::Succeeded {
                written,
                new,
                kept,
                deleted,
                ..
            } => assert_eq!(
                (*written, *new, *kept, *deleted),
                (2, 0, 2, 0),
                "{mode}: beta's benign run"
            ),
            other => panic!("{mode}: beta's benign run failed: {other:?}"),
        }
        assert_eq!(
            store_contents(&self.repo.store, "main", BOOKKEEPING),
            before,
            "{mode}: the store changed"
        );
        self.repo
            .set("alpha", "mode: {value: \"normal\"}, victim: {value: \"\"}")
            .await;
    }
}

async fn a_no_op_update_of_another_targets_output_is_refused_and_so_is_its_delete(s: Scene) {
    s.refused(
        "touch-then-delete",
        &s.beta_1,
        &format!(
            "generator `hostile` may not write TestWidget {}: it is not the output of this \
             generator for target `alpha` (the write changed nothing)",
            s.beta_1
        ),
    )
    .await;
}

async fn overwriting_another_targets_output_by_id_or_by_natural_key_is_refused(s: Scene) {
    let refusal = format!(
        "generator `hostile` may not change TestWidget.position of TestWidget {} (beta-1): it \
         belongs to tracking group `{}`; a generator changes what it created, and other nodes \
         only where an operator grants it (update = [\"TestWidget.position\"] in \
         [generators.hostile.writes])",
        s.beta_1, s.beta_group.1
    );
    s.refused("overwrite-by-id", &s.beta_1, &refusal).await;
    s.refused("overwrite-by-name", "beta-1", &refusal).await;
}

async fn group_membership_is_never_a_generators_to_change(s: Scene) {
    let group_refusal = |(id, name): &(String, String), owner: &str| {
        format!(
            "generator `hostile` may not change relationship members of CoreGeneratorGroup {id} \
             ({name}): {owner}; group membership is the host's; an operator lets a generator add \
             its own nodes to a named group with join_groups in [generators.hostile.writes]"
        )
    };
    let not_generated = "it is not the output of a generator run for this target";
    // Another target's output into its own tracking group, for its reconcile to delete.
    s.refused(
        "members-add",
        &format!("{},{}", s.alpha_group.0, s.beta_1),
        &group_refusal(&s.alpha_group, not_generated),
    )
    .await;
    // Another target's output out of that target's group, orphaning it.
    s.refused(
        "members-remove",
        &format!("{},{}", s.beta_group.0, s.beta_1),
        &group_refusal(&s.beta_group, not_generated),
    )
    .await;
    // Its own node into the target group, changing what the generator runs on.
    s.refused(
        "members-add",
        &format!("{},{}", s.widget_sets, s.alpha_1),
        &format!(
            "generator `hostile` may not change relationship members of CoreStandardGroup {} \
             (widget-sets): {not_generated}; group membership is the host's; an operator lets a \
             generator add its own nodes to a named group with join_groups in \
             [generators.hostile.writes]",
            s.widget_sets
        ),
    )
    .await;
    // A node of its own into another generator's tracking group, through the upsert's
    // data.
    s.refused(
        "join-by-data",
        &s.beta_group.0,
        &group_refusal(&s.beta_group, not_generated),
    )
    .await;
    // A new prefix into another target's tracking group, through an allocation's data.
    s.refused(
        "allocate-into-group",
        &format!("shared-pool,{}", s.beta_group.0),
        "allocation data may not set member_of_groups: group membership and profiles are the \
         host's and the operator's, not a generator's",
    )
    .await;
}

async fn stamping_anything_but_a_checksum_on_a_node_it_does_not_own_is_refused(s: Scene) {
    s.refused(
        "stamp-size",
        &s.beta_set,
        &format!(
            "generator `hostile` may not stamp TestWidgetSet.size of TestWidgetSet {} (beta): it \
             is not the output of a generator run for this target; a generator stamps checksum \
             attributes, and others only where an operator grants it (stamp = \
             [\"TestWidgetSet.size\"] in [generators.hostile.writes])",
            s.beta_set
        ),
    )
    .await;
}

async fn a_pool_the_generator_did_not_create_is_neither_updated_nor_deleted(s: Scene) {
    let not_generated = "it is not the output of a generator run for this target";
    s.refused(
        "pool-update",
        &s.pool,
        &format!(
            "generator `hostile` may not change CoreIPPrefixPool.default_prefix_length of \
             CoreIPPrefixPool {} (shared-pool): {not_generated}; a generator changes what it \
             created, and other nodes only where an operator grants it (update = \
             [\"CoreIPPrefixPool.default_prefix_length\"] in [generators.hostile.writes])",
            s.pool
        ),
    )
    .await;
    s.refused(
        "pool-delete",
        &s.pool,
        &format!(
            "generator `hostile` may not delete CoreIPPrefixPool {}: it is not in the tracking \
             group of this generator for target `alpha`, and this run did not write it",
            s.pool
        ),
    )
    .await;
}

async fn the_reconcile_never_deletes_a_core_node_someone_put_in_a_tracking_group(s: Scene) {
    // What no plugin can do any more, done behind the generator's back.
    graphql(
        &s.repo.store,
        "main",
        &format!(
            "mutation {{ RelationshipAdd(data: {{id: \"{}\", name: \"members\", nodes: [{{id: \"{}\"}}]}}) {{ ok }} }}",
            s.alpha_group.0, s.widget_sets
        ),
    )
    .await;
    s.repo.set("alpha", "size: {value: 2}").await;
    let report = s.repo.run("widgets", json!({ "set": "alpha" })).await;
    assert_eq!(report.failed(), 0, "{report}");
    assert_eq!(
        s.repo.id_of("CoreStandardGroup", "widget-sets").await,
        s.widget_sets,
        "the target group survives the reconcile"
    );
    assert_eq!(
        s.repo.widget_names().await,
        ["alpha-1", "alpha-2", "beta-1", "beta-2"]
    );
}

async fn another_pairs_reserved_prefix_is_not_handed_over_by_its_identifier(s: Scene) {
    s.repo
        .set(
            "beta",
            "mode: {value: \"allocate-as\"}, victim: {value: \"shared-pool,beta-link\"}",
        )
        .await;
    let report = run_both(&s.repo).await;
    assert_eq!(report.failed(), 0, "{report}");
    let prefix = s.repo.id_by("IpamIPPrefix", "prefix", "10.9.0.0/31").await;
    assert_eq!(tracking_group_of(&s.repo, &prefix).await, s.beta_group);

    s.repo
        .set(
            "alpha",
            "mode: {value: \"take-reserved\"}, victim: {value: \"shared-pool,beta-link\"}",
        )
        .await;
    let before = store_contents(&s.repo.store, "main", BOOKKEEPING);
    let report = run_on(&s.repo, "hostile", "alpha").await;
    let TargetOutcome::Failed { message, .. } = &report.targets[0].outcome else {
        panic!("alpha took beta's prefix: {report}");
    };
    assert!(
        message.ends_with(&format!(
            ": permission-denied: generator `hostile` may not take 10.9.0.0/31 (IpamIPPrefix \
             {prefix}): it is reserved under that identifier for another generator's output"
        )),
        "{message}"
    );
    assert_eq!(store_contents(&s.repo.store, "main", BOOKKEEPING), before);
}

async fn a_profile_the_generator_did_not_create_is_not_overwritten(s: Scene) {
    graphql(
        &s.repo.store,
        "main",
        "mutation { ProfileTestWidgetCreate(data: {profile_name: {value: \"wide\"}, position: {value: 7}}) { ok } }",
    )
    .await;
    let profile = s
        .repo
        .id_by("ProfileTestWidget", "profile_name", "wide")
        .await;
    s.refused(
        "profile-overwrite",
        "wide",
        &format!(
            "generator `hostile` may not change ProfileTestWidget.position of ProfileTestWidget \
             {profile}: it is not the output of a generator run for this target; a \
             generator changes what it created, and other nodes only where an operator grants \
             it (update = [\"ProfileTestWidget.position\"] in [generators.hostile.writes])"
        ),
    )
    .await;
}

/// A pool is branch-agnostic: a run on a feature branch deleting the operator's pool would
/// delete it on main.
async fn a_run_on_a_branch_cannot_delete_a_pool_on_main(s: Scene) {
    s.repo.store.create_branch("feature").expect("branch");
    let alpha = infragen::runner::TargetSelection::Matching(
        json!({ "set": "alpha" })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    // The hostile definition's instance on the branch, from a first run (failing: its
    // attack `normal` is unknown).
    s.repo
        .runner
        .run_definition("hostile", "feature", &alpha, 1)
        .await
        .expect("the definition runs");
    s.repo
        .set(
            "alpha",
            &format!(
                "mode: {{value: \"pool-delete\"}}, victim: {{value: \"{}\"}}",
                s.pool
            ),
        )
        .await;
    let before = (
        store_contents(&s.repo.store, "main", BOOKKEEPING),
        store_contents(&s.repo.store, "feature", BOOKKEEPING),
    );
    let report = s
        .repo
        .runner
        .run_definition("hostile", "feature", &alpha, 1)
        .await
        .expect("the definition runs");
    match only(&report) {
        TargetOutcome::Failed { message, .. } => assert!(
            message.ends_with(&format!(
                ": permission-denied: generator `hostile` may not delete CoreIPPrefixPool {}: it \
                 is not in the tracking group of this generator for target `alpha`, and this run \
                 did not write it",
                s.pool
            )),
            "{message}"
        ),
        other => panic!("the pool's delete was not refused: {other:?}"),
    }
    assert_eq!(
        (
            store_contents(&s.repo.store, "main", BOOKKEEPING),
            store_contents(&s.repo.store, "feature", BOOKKEEPING),
        ),
        before
    );
    assert_eq!(
        s.repo.id_of("CoreIPPrefixPool", "shared-pool").await,
        s.pool
    );
}

/// Every case, in process and over HTTP: the same attacks, refused with the same words,
/// and the store left the same.
macro_rules! through_both {
    ($($case:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::scene(super::Through::InProcess).await).await;
                }
            )*
        }
        mod over_http {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::scene(super::Through::Http).await).await;
                }
            )*
        }
    };
}

through_both!(
    a_no_op_update_of_another_targets_output_is_refused_and_so_is_its_delete,
    overwriting_another_targets_output_by_id_or_by_natural_key_is_refused,
    group_membership_is_never_a_generators_to_change,
    stamping_anything_but_a_checksum_on_a_node_it_does_not_own_is_refused,
    a_pool_the_generator_did_not_create_is_neither_updated_nor_deleted,
    the_reconcile_never_deletes_a_core_node_someone_put_in_a_tracking_group,
    another_pairs_reserved_prefix_is_not_handed_over_by_its_identifier,
    a_profile_the_generator_did_not_create_is_not_overwritten,
    a_run_on_a_branch_cannot_delete_a_pool_on_main,
);
