//! The example plugin exercises every import of the contract; these tests
//! pin down that each one reaches the host, in order, with exactly the
//! arguments the plugin passed, and that tracking and stamping behave as the
//! contract documents.

use std::sync::Arc;

use infragen::backend::{AddressAllocation, PoolSelector, PrefixAllocation};
use infragen::checksum;
use infragen::host_api::{LogLevel, LogLine};
use infragen_tests::{Call, RecordingBackend, guest, request, runtime};
use serde_json::json;

const TARGET: (&str, &str, &str) = ("target-1", "ExampleTarget", "Alpha");

fn backend_with_target() -> Arc<RecordingBackend> {
    let backend = Arc::new(RecordingBackend::default());
    backend.insert(
        "target-1",
        "ExampleTarget",
        json!({ "name": { "value": "alpha" } }),
    );
    backend
}

#[tokio::test]
async fn every_import_reaches_the_host_in_the_order_the_plugin_calls_it() {
    let runtime = runtime(None);
    let plugin = runtime
        .load(&guest("example-generator"))
        .await
        .expect("example loads");
    let backend = backend_with_target();

    let outcome = plugin
        .run(
            request("example", TARGET, json!({ "name": "alpha" })),
            backend.clone(),
        )
        .await
        .expect("example run succeeds");

    let written = ["examplewidget-1", "examplepart-2", "prefix-3", "address-4"];
    let expected_checksum = checksum::of_ids(written);
    let b = || "br1".to_owned();
    assert_eq!(
        backend.calls(),
        vec![
            Call::Query {
                branch: b(),
                document:
                    "query Example($name: String!) { ExampleWidget(name__value: $name) { count } }"
                        .into(),
                variables: json!({ "name": "alpha" }),
            },
            Call::Upsert {
                branch: b(),
                kind: "ExampleWidget".into(),
                data: json!({ "name": { "value": "alpha-widget" }, "size": { "value": 3 } }),
            },
            Call::Update {
                branch: b(),
                kind: "ExampleWidget".into(),
                data: json!({ "id": "examplewidget-1", "size": { "value": 4 } }),
            },
            Call::Filters {
                branch: b(),
                kind: "ExampleWidget".into(),
                filters: json!({ "name__value": "alpha-widget" }),
                include: vec![],
            },
            Call::Filters {
                branch: b(),
                kind: "ExampleWidget".into(),
                filters: json!({}),
                include: vec!["parts".into()],
            },
            Call::Upsert {
                branch: b(),
                kind: "ExamplePart".into(),
                data: json!({ "name": { "value": "alpha-part" } }),
            },
            Call::RelationshipAdd {
                branch: b(),
                id: "examplewidget-1".into(),
                name: "parts".into(),
                peers: vec!["examplepart-2".into()],
            },
            Call::RelationshipRemove {
                branch: b(),
                id: "examplewidget-1".into(),
                name: "parts".into(),
                peers: vec!["examplepart-2".into()],
            },
            Call::AllocatePrefix {
                branch: b(),
                request: PrefixAllocation {
                    pool: PoolSelector::Name("example-prefixes".into()),
                    identifier: Some("alpha-p2p".into()),
                    prefix_length: Some(31),
                    member_type: None,
                    prefix_type: None,
                    data: None,
                },
            },
            Call::AllocateAddress {
                branch: b(),
                request: AddressAllocation {
                    pool: PoolSelector::Name("example-addresses".into()),
                    identifier: Some("alpha-loopback".into()),
                    prefix_length: Some(32),
                    address_type: None,
                    data: None,
                },
            },
            Call::Upsert {
                branch: b(),
                kind: "ExampleScratch".into(),
                data: json!({ "name": { "value": "alpha-scratch" } }),
            },
            Call::Delete {
                branch: b(),
                kind: "ExampleScratch".into(),
                id: "examplescratch-5".into()
            },
            Call::Filters {
                branch: b(),
                kind: "ExampleTarget".into(),
                filters: json!({ "ids": ["target-1"] }),
                include: vec![],
            },
            Call::Update {
                branch: b(),
                kind: "ExampleTarget".into(),
                data: json!({ "id": "target-1", "checksum": { "value": expected_checksum } }),
            },
        ]
    );
    assert_eq!(
        outcome.written, written,
        "the deleted scratch node and the stamped target are not output"
    );
    assert_eq!(outcome.checksum, expected_checksum);
    assert_eq!(
        backend.attribute("target-1", "checksum"),
        Some(json!(expected_checksum))
    );
    assert_eq!(outcome.stamps.len(), 1);
    assert!(outcome.stamps[0].changed);
    assert_eq!(
        outcome.host_calls, 23,
        "every import call counts: 8 logs and 15 other calls"
    );
    assert_eq!(
        outcome.log.lines.first(),
        Some(&LogLine {
            level: LogLevel::Info,
            message: "generating Alpha".into()
        })
    );
    assert_eq!(
        outcome.log.lines.last(),
        Some(&LogLine {
            level: LogLevel::Warn,
            message: "example finished".into()
        })
    );
    assert!(outcome.fuel_consumed > 0);
}

#[tokio::test]
async fn rerunning_an_unchanged_design_stamps_nothing_and_writes_the_same_output() {
    let runtime = runtime(None);
    let plugin = runtime
        .load(&guest("example-generator"))
        .await
        .expect("example loads");
    let backend = backend_with_target();
    let first = plugin
        .run(
            request("example", TARGET, json!({ "name": "alpha" })),
            backend.clone(),
        )
        .await
        .expect("first run");

    let second = plugin
        .run(
            request("example", TARGET, json!({ "name": "alpha" })),
            backend.clone(),
        )
        .await
        .expect("second run");

    assert_eq!(second.written, first.written);
    assert_eq!(second.checksum, first.checksum);
    assert!(
        !second.stamps[0].changed,
        "same checksum: the stamp writes nothing"
    );
    let target_updates = backend
        .calls()
        .into_iter()
        .filter(|call| matches!(call, Call::Update { kind, .. } if kind == "ExampleTarget"))
        .count();
    assert_eq!(target_updates, 1, "only the first run wrote the checksum");
}
