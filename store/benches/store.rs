//! Store benchmark: prints figures; no statistics framework (harness = false), no assertion
//! on time.
//!
//! ```text
//! cargo bench -p infragen-store --bench store                    # every section
//! cargo bench -p infragen-store --bench store -- nodes           # upserts and queries
//! cargo bench -p infragen-store --bench store -- nodes 10k 100k  # … at these sizes only
//! cargo bench -p infragen-store --bench store -- allocations     # pools only
//! STORE_BENCH_HELD=0,50000 cargo bench … -- allocations          # other pool levels
//! ```
//!
//! **nodes**, at 10k, 100k and 1M `DcimDevice`s (`STORE_BENCH_SIZES=10000,…` or size
//! arguments `10k`, `100k`, `1m` pick others), in one store that grows from one size to the
//! next: the devices are loaded through object files (2 000 a load) but the last 5 000 before
//! each size, which are upserted one request each through `Store::execute_blocking`: *new
//! upserts/s* is their rate. Then, at that size:
//! - *unchanged upserts/s*: 5 000 upserts of existing devices with the payload they hold (no
//!   write, no event);
//! - *main queries/s*: 5 000 filter queries `DcimDevice(name__value: "dev-N")` on `main`,
//!   answered through the attribute index, each returning its one device with a few fields;
//! - *partial-match queries/s*: 20 queries with `partial_match: true`, which scan the rows of
//!   the filtered attribute (in SQL), not every node of the kind;
//! - then branch `b10k` gets 10 000 changes, one request each (*branch upserts/s*): 5 000
//!   existing devices updated (a new `asn`) and 5 000 devices created there;
//! - *branch queries/s*: the same indexed queries on `b10k`, over main's devices (5 000 of
//!   which the branch changed) and the branch's new ones;
//! - the branch is deleted before the store grows on.
//!
//! **allocations**: one prefix pool (/31s out of a /8) and one address pool (/32s out of a
//! /12), measured over 2 000 requests each once the pools already hold 0, 5 000 and 50 000
//! allocations each (`STORE_BENCH_HELD`): new /31s with identifiers, the same identifiers
//! again (answered from the reservations), new /32s. The pools grow from one level to the
//! next in one store.
//!
//! Sizes 1M and 50 000 held take the longest (the growth between levels is not timed).

use infragen_store::{GraphqlRequest, Store};
use std::time::Instant;

/// The allocator of the `infragen` binary, which embeds the store (`infragen serve`, the
/// CLI): under glibc's malloc, its allocation and free paths were a fifth of the pools'
/// samples at 50,000 allocations held, which the product does not pay.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const SCHEMA: &str = include_str!("../tests/fixtures/dcim.yml");
const RESOURCES: &str = include_str!("../tests/fixtures/aidc_resources.yml");

/// Node counts measured unless named.
const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
/// Allocations already held when measuring, unless `STORE_BENCH_HELD` names others.
const HELD: [usize; 3] = [0, 5_000, 50_000];
/// Devices a bulk object load writes.
const LOAD_BATCH: usize = 2_000;
/// Devices inserted one request each before each size, to time new upserts.
const WINDOW: usize = 5_000;
/// Changes the branch holds: half updates of main's devices, half new devices.
const BRANCH_CHANGES: usize = 10_000;

fn upsert(name: &str, asn: u64) -> GraphqlRequest {
    GraphqlRequest::new(format!(
        r#"mutation {{ DcimDeviceUpsert(data: {{ name: {{ value: "{name}" }} role: {{ value: "leaf" }} asn: {{ value: {asn} }} mgmt: {{ value: "{}" }} }}) {{ ok object {{ id }} }} }}"#,
        mgmt(asn)
    ))
}

fn mgmt(asn: u64) -> String {
    format!("10.{}.{}.1/24", (asn / 256) % 256, asn % 256)
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

/// Comma-separated numbers from environment variable `name`, or `default`.
fn numbers(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: comma-separated numbers"))
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}

/// `10k`, `100k`, `1m`, `250000` as a number.
fn size_arg(arg: &str) -> Option<usize> {
    let lower = arg.to_ascii_lowercase();
    let (digits, factor) = match lower.as_bytes().last()? {
        b'k' => (&lower[..lower.len() - 1], 1_000),
        b'm' => (&lower[..lower.len() - 1], 1_000_000),
        _ => (&lower[..], 1),
    };
    digits.parse::<usize>().ok().map(|n| n * factor)
}

/// Devices `first..first + count` as one object file, with the values `upsert` writes.
fn devices_file(first: usize, count: usize) -> String {
    let mut text = String::from(
        "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: DcimDevice\n  data:\n",
    );
    for i in first..first + count {
        text.push_str(&format!(
            "    - {{name: dev-{i}, role: leaf, asn: {i}, mgmt: \"{}\"}}\n",
            mgmt(i as u64)
        ));
    }
    text
}

/// `n` indexed filter queries on `branch` for the device names `name` picks.
fn queries(
    store: &Store,
    branch: &str,
    n: usize,
    seed: &mut u64,
    name: &dyn Fn(u64) -> String,
) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        let name = name(next(seed));
        let q = GraphqlRequest::new(format!(
            r#"{{ DcimDevice(name__value: "{name}") {{ count edges {{ node {{ id hfid name {{ value }} asn {{ value }} role {{ value label }} }} }} }} }}"#
        ));
        let r = store.execute_blocking(branch, &q);
        check(&r);
        assert_eq!(r["data"]["DcimDevice"]["count"], 1, "{name} on {branch}");
    }
    rate(n, start)
}

fn nodes(sizes: &[usize]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("bench.db")).expect("store");
    store
        .load_schema(&[("dcim.yml".into(), SCHEMA.into())])
        .expect("schema");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut have = 0usize;
    println!(
        "size      load s  new upserts/s  unchanged upserts/s  main queries/s  partial-match queries/s  branch upserts/s  branch queries/s"
    );
    for &size in sizes {
        // Grow to `size`: object loads, then the last WINDOW one request each.
        let start = Instant::now();
        let bulk_end = size.saturating_sub(WINDOW).max(have);
        while have < bulk_end {
            let count = LOAD_BATCH.min(bulk_end - have);
            store
                .load_objects("main", &[("devices.yml".into(), devices_file(have, count))])
                .expect("devices load");
            have += count;
        }
        let load_secs = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let window = size.saturating_sub(have);
        while have < size {
            check(&store.execute_blocking("main", &upsert(&format!("dev-{have}"), have as u64)));
            have += 1;
        }
        let new_rate = rate(window, start);

        // Unchanged: the same payloads again (no write, no event).
        let events = store.last_event_seq().expect("events");
        let n = 5_000;
        let start = Instant::now();
        for _ in 0..n {
            let i = (next(&mut seed) % size as u64) as usize;
            check(&store.execute_blocking("main", &upsert(&format!("dev-{i}"), i as u64)));
        }
        let unchanged_rate = rate(n, start);
        let unchanged_events = store.last_event_seq().expect("events") - events;

        let main_rate = queries(&store, "main", 5_000, &mut seed, &|r| {
            format!("dev-{}", r % size as u64)
        });

        // A partial match scans the filtered attribute's rows.
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

        // A branch holding BRANCH_CHANGES changes: updates spread over main's devices, and
        // new devices.
        store.create_branch("b10k").expect("branch");
        let updates = BRANCH_CHANGES / 2;
        let created = BRANCH_CHANGES - updates;
        let stride = (size / updates).max(1);
        let events = store.last_event_seq().expect("events");
        let start = Instant::now();
        for k in 0..updates {
            let i = (k * stride) % size;
            check(
                &store
                    .execute_blocking("b10k", &upsert(&format!("dev-{i}"), (i + 1_000_000) as u64)),
            );
        }
        for k in 0..created {
            check(&store.execute_blocking("b10k", &upsert(&format!("br-{k}"), k as u64)));
        }
        let branch_upsert_rate = rate(BRANCH_CHANGES, start);
        let branch_events = store.last_event_seq().expect("events") - events;
        assert_eq!(branch_events, BRANCH_CHANGES as i64, "one event a change");
        let all = (size + created) as u64;
        let branch_rate = queries(&store, "b10k", 5_000, &mut seed, &|r| {
            let i = r % all;
            if i < size as u64 {
                format!("dev-{i}")
            } else {
                format!("br-{}", i - size as u64)
            }
        });
        store.delete_branch("b10k").expect("delete branch");

        println!(
            "{size:<8} {load_secs:>7.1} {new_rate:>14.0} {unchanged_rate:>20.0} {main_rate:>15.0} {scan_rate:>24.1} {branch_upsert_rate:>17.0} {branch_rate:>17.0}"
        );
        if unchanged_events != 0 {
            println!("  note: the unchanged upserts wrote {unchanged_events} events");
        }
    }
    println!(
        "(load s: the object loads growing the store to the size, not a rate; each size's \
         figures are measured on the store as it is then)"
    );
}

/// /31s with identifiers from one prefix pool (new, then the same identifiers again), and
/// /32s from an address pool, each measured over 2 000 requests once the pools already hold
/// `held` allocations.
fn allocations(levels: &[usize]) {
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
    println!(
        "held     fill s  new /31 allocations/s  repeated identifiers/s  new /32 allocations/s"
    );
    let mut held = 0;
    for &level in levels {
        // Grow the pools to `level` allocations each (not timed as a rate).
        let start = Instant::now();
        while held < level {
            run(prefix(held));
            run(address(held));
            held += 1;
        }
        let fill_secs = start.elapsed().as_secs_f64();
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
        println!(
            "{held:<8} {fill_secs:>6.1} {new_rate:>22.0} {again_rate:>23.0} {address_rate:>22.0}"
        );
        held += n;
    }
    println!(
        "(fill s: growing the pools to the level, one request per allocation, both pools; \
         each level's measured requests add 2 000 allocations to each pool)"
    );
}

fn main() {
    // cargo passes `--bench`; every other argument names a section or a size.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let named_sizes: Vec<usize> = args.iter().filter_map(|a| size_arg(a)).collect();
    let sections: Vec<&str> = args
        .iter()
        .filter(|a| size_arg(a).is_none())
        .map(String::as_str)
        .collect();
    if let Some(unknown) = sections
        .iter()
        .find(|s| !matches!(**s, "nodes" | "allocations"))
    {
        panic!("unknown section {unknown:?}: nodes, allocations, or sizes such as 10k, 1m");
    }
    let wanted = |section: &str| sections.is_empty() || sections.contains(&section);
    let started = Instant::now();
    if wanted("nodes") {
        let mut sizes = if named_sizes.is_empty() {
            numbers("STORE_BENCH_SIZES", &SIZES)
        } else {
            named_sizes
        };
        sizes.sort_unstable();
        sizes.dedup();
        nodes(&sizes);
    }
    if wanted("allocations") {
        allocations(&numbers("STORE_BENCH_HELD", &HELD));
    }
    println!("total bench time {:.1} s", started.elapsed().as_secs_f64());
}
