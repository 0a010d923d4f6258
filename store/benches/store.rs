//! Store benchmark: in-process upserts per second (new and unchanged objects) and filtered
//! queries per second, at 10k and 100k nodes, then pool allocations per second.
//! `cargo bench -p infragen-store --bench store` (`-- allocations` for the pools only).
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

const RESOURCES: &str = include_str!("../tests/fixtures/aidc_resources.yml");

/// /31s with identifiers from one prefix pool (new, then the same identifiers again), and
/// /32s from an address pool, each measured over 2 000 requests once the pool already holds
/// `held` allocations.
fn allocations() {
    println!("held     new /31 allocations/s  repeated identifiers/s  new /32 allocations/s");
    for held in [0usize, 5_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("pools.db")).expect("store");
        store
            .load_schema(&[("aidc_resources.yml".into(), RESOURCES.into())])
            .expect("schema");
        let run = |q: String| {
            let r = store.execute_blocking("main", &GraphqlRequest::new(q));
            check(&r);
            r
        };
        let id = |r: serde_json::Value, root: &str| {
            r["data"][root]["object"]["id"]
                .as_str()
                .expect("id")
                .to_string()
        };
        let p = id(run(r#"mutation { IpamIPPrefixCreate(data: {prefix: {value: "10.0.0.0/8"}, role: {value: "supernet"}}) { object { id } } }"#.into()), "IpamIPPrefixCreate");
        let lo = id(run(r#"mutation { IpamIPPrefixCreate(data: {prefix: {value: "172.16.0.0/12"}, role: {value: "pod_loopback"}}) { object { id } } }"#.into()), "IpamIPPrefixCreate");
        run(format!(
            r#"mutation {{ CoreIPPrefixPoolCreate(data: {{name: {{value: "p2p"}}, default_prefix_length: {{value: 31}}, default_member_type: {{value: "address"}}, default_prefix_type: {{value: "IpamIPPrefix"}}, ip_namespace: {{hfid: ["default"]}}, resources: [{{id: "{p}"}}]}}) {{ ok }} }}"#
        ));
        run(format!(
            r#"mutation {{ CoreIPAddressPoolCreate(data: {{name: {{value: "lo"}}, default_address_type: {{value: "IpamIPAddress"}}, default_prefix_length: {{value: 32}}, ip_namespace: {{hfid: ["default"]}}, resources: [{{id: "{lo}"}}]}}) {{ ok }} }}"#
        ));
        let prefix = |i: usize| {
            format!(
                r#"mutation {{ InfrahubIPPrefixPoolGetResource(data: {{hfid: ["p2p"], identifier: "link-{i}", data: {{role: "pod_leaf_spine"}}}}) {{ ok node {{ id }} }} }}"#
            )
        };
        let address = |i: usize| {
            format!(
                r#"mutation {{ InfrahubIPAddressPoolGetResource(data: {{hfid: ["lo"], identifier: "lo-{i}"}}) {{ ok node {{ id }} }} }}"#
            )
        };
        for i in 0..held {
            run(prefix(i));
            run(address(i));
        }
        let n = 2_000;
        let start = Instant::now();
        for i in held..held + n {
            run(prefix(i));
        }
        let new_rate = rate(n, start);
        let start = Instant::now();
        for i in held..held + n {
            run(prefix(i));
        }
        let again_rate = rate(n, start);
        let start = Instant::now();
        for i in held..held + n {
            run(address(i));
        }
        let address_rate = rate(n, start);
        println!("{held:<8} {new_rate:>22.0} {again_rate:>23.0} {address_rate:>22.0}");
    }
}

fn main() {
    allocations();
    if std::env::args().any(|a| a == "allocations") {
        return;
    }
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
