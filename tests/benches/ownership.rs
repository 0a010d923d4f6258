//! The cost of the ownership check: prints figures, asserts nothing.
//!
//! `cargo bench -p infragen-tests --bench ownership`
//!
//! - *policy*: `WritePolicy::check` alone on one write effect (an update of
//!   an owned node, and a refused one), in ns;
//! - *per write*: 1,000 upserts of new widgets into one run on the embedded
//!   store, through `RunTransaction::write_node` (no check) and through
//!   `write_node_checked` with the real policy (the store computes what each
//!   write did, node by node, and the policy judges it), alternately, 7
//!   samples each; the difference of the medians per write, in ns, and
//!   their ratio.
//!
//! The seed cascade with and without the check is in the `cascade` bench.

use std::hint::black_box;
use std::time::{Duration, Instant};

use infragen::policy::{Call, WritePolicy};
use infragen_store::{Store, WriteEffect, WriteOp};
use infragen_tests::workspace_root;
use serde_json::json;

const WRITES: usize = 1_000;
const SAMPLES: usize = 7;

fn effect(id: &str) -> WriteEffect {
    WriteEffect {
        id: id.to_owned(),
        kind: "TestWidget".to_owned(),
        target: true,
        created: false,
        deleted: false,
        attributes: vec!["position".to_owned()],
        relationships: Vec::new(),
        branch_agnostic: false,
        name: Some("w".to_owned()),
        owners: vec!["widgets-1".to_owned()],
    }
}

fn policy_alone() {
    let policy = WritePolicy::owning((0..1_000).map(|i| format!("id-{i}")));
    for (label, id) in [("owned", "id-500"), ("refused", "someone-else")] {
        let effect = effect(id);
        let rounds = 1_000_000u32;
        let started = Instant::now();
        for _ in 0..rounds {
            let _ = black_box(policy.check("widgets", Call::Write, black_box(&effect)));
        }
        println!(
            "  policy check, {label:>7}: {:8.1} ns",
            started.elapsed().as_nanos() as f64 / f64::from(rounds)
        );
    }
}

fn store() -> Store {
    let store = Store::in_memory().expect("store");
    let schema = std::fs::read_to_string(
        workspace_root().join("tests/fixtures/widgets/schemas/widgets.yml"),
    )
    .expect("widgets schema");
    store
        .load_schema(&[("widgets.yml".to_owned(), schema)])
        .expect("schema loads");
    store
}

async fn one_run(checked: bool) -> Duration {
    let store = store();
    let run = store.begin_run("main").await.expect("run");
    let policy = WritePolicy::owning([]);
    let check = |effect: &WriteEffect| policy.check("widgets", Call::Write, effect);
    let started = Instant::now();
    for i in 0..WRITES {
        let data = json!({"name": {"value": format!("w-{i}")}, "position": {"value": i}});
        let written = if checked {
            run.write_node_checked("TestWidget", WriteOp::Upsert, &data, &check)
        } else {
            run.write_node("TestWidget", WriteOp::Upsert, &data)
        };
        black_box(written.expect("upsert"));
    }
    let elapsed = started.elapsed();
    run.abandon();
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!("ownership check");
    policy_alone();
    let (mut plain, mut checked) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        plain.push(one_run(false).await);
        checked.push(one_run(true).await);
    }
    let (plain, checked) = (median(plain), median(checked));
    let per_write = |d: Duration| d.as_nanos() as f64 / WRITES as f64;
    println!(
        "  {WRITES} upserts in one run: unchecked {:8.0} ns/write, checked {:8.0} ns/write: \
         the check costs {:6.0} ns per write ({:.3}×)",
        per_write(plain),
        per_write(checked),
        per_write(checked) - per_write(plain),
        checked.as_secs_f64() / plain.as_secs_f64()
    );
}
