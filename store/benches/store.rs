//! Store benchmark: in-process upserts per second (new and unchanged objects) and filtered
//! queries per second, at 10k and 100k nodes. `cargo bench -p infragen-store --bench store`.
//! Prints figures; no statistics framework (harness = false).

use infragen_store::{GraphqlRequest, Store};
use std::time::Instant;

const SCHEMA: &str = include_str!("../tests/fixtures/dcim.yml");

fn upsert(name: &str, asn: u64) -> GraphqlRequest {
    GraphqlRequest::new(format!(
        r#"mutation {{ DcimDeviceUpsert(data: {{ name: {{ value: "{name}" }} role: {{ value: "leaf" }} asn: {{ value: {asn} }} mgmt: {{ value: "10.{}.{}.1/24" }} }}) {{ ok object {{ id }} }} }}"#,
        (asn / 256) % 256,
        asn % 256
    ))
}

fn check(v: &serde_json::Value) {
    assert!(v.get("errors").is_none(), "benchmark request failed: {v}");
}

fn rate(n: usize, start: Instant) -> f64 {
    n as f64 / start.elapsed().as_secs_f64()
}

/// xorshift, so the benchmark needs no rand crate and repeats exactly.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("bench.db")).expect("store");
    store
        .load_schema(&[("dcim.yml".into(), SCHEMA.into())])
        .expect("schema");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut have = 0usize;
    println!(
        "size     new upserts/s  unchanged upserts/s  indexed queries/s  partial-match queries/s"
    );
    for size in [10_000usize, 100_000] {
        // Grow to `size` with new objects; the rate is measured on the last 5 000 inserted.
        let mut window_start = Instant::now();
        let mut window = 0usize;
        while have < size {
            if size - have == 5_000 {
                window_start = Instant::now();
                window = 0;
            }
            check(&store.execute_blocking("main", &upsert(&format!("dev-{have}"), have as u64)));
            have += 1;
            window += 1;
        }
        let new_rate = rate(window, window_start);

        // Unchanged: the same payloads again (no write, no event).
        let n = 5_000;
        let start = Instant::now();
        for _ in 0..n {
            let i = (next(&mut seed) % size as u64) as usize;
            check(&store.execute_blocking("main", &upsert(&format!("dev-{i}"), i as u64)));
        }
        let unchanged_rate = rate(n, start);

        // Filtered queries answered through the attribute index.
        let n = 5_000;
        let start = Instant::now();
        for _ in 0..n {
            let i = next(&mut seed) % size as u64;
            let q = GraphqlRequest::new(format!(
                r#"{{ DcimDevice(name__value: "dev-{i}") {{ count edges {{ node {{ id hfid name {{ value }} asn {{ value }} role {{ value label }} }} }} }} }}"#
            ));
            let r = store.execute_blocking("main", &q);
            check(&r);
            assert_eq!(r["data"]["DcimDevice"]["count"], 1);
        }
        let query_rate = rate(n, start);

        // Partial match scans every node of the kind.
        let n = 20;
        let start = Instant::now();
        for _ in 0..n {
            let i = next(&mut seed) % size as u64;
            let q = GraphqlRequest::new(format!(
                r#"{{ DcimDevice(name__value: "dev-{i}9", partial_match: true, limit: 10) {{ count edges {{ node {{ id }} }} }} }}"#
            ));
            check(&store.execute_blocking("main", &q));
        }
        let scan_rate = rate(n, start);
        println!(
            "{size:<8} {new_rate:>14.0} {unchanged_rate:>20.0} {query_rate:>18.0} {scan_rate:>24.1}"
        );
    }
    let events = store.last_event_seq().expect("events");
    println!("events written: {events} (one per new object, none for unchanged upserts)");
}
