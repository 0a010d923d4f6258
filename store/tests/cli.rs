//! The store's command line, run in-process through `cli::run`.

mod common;

use clap::Parser;
use infragen_store::Store;
use infragen_store::cli::{self, StoreCommand};
use serde_json::json;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: StoreCommand,
}

async fn run(store: &std::path::Path, args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["infragen"];
    argv.extend_from_slice(args);
    cli::run(Cli::try_parse_from(argv)?.cmd, store).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_load_branch_and_query_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".infragen/store.db");
    let schemas = dir.path().join("schemas");
    std::fs::create_dir_all(&schemas).unwrap();
    std::fs::write(schemas.join("dcim.yml"), common::DCIM).unwrap();
    run(&db, &["schema", "load", schemas.to_str().unwrap()])
        .await
        .unwrap();
    run(&db, &["branch", "create", "b1"]).await.unwrap();
    let doc = dir.path().join("upsert.gql");
    std::fs::write(&doc, "mutation ($name: String!, $asn: BigInt) { DcimDeviceUpsert(data: {name: {value: $name}, asn: {value: $asn}}) { ok } }").unwrap();
    run(
        &db,
        &[
            "query",
            doc.to_str().unwrap(),
            "--branch",
            "b1",
            "--var",
            "name=leaf1",
            "--var",
            "asn=65000",
        ],
    )
    .await
    .unwrap();
    run(&db, &["branch", "merge", "b1"]).await.unwrap();
    let s = Store::open(&db).unwrap();
    assert_eq!(
        common::ok(
            &s,
            "main",
            "{ DcimDevice { edges { node { asn { value } } } } }"
        )["DcimDevice"]["edges"][0]["node"],
        json!({"asn": {"value": 65000}})
    );
    drop(s);
    run(&db, &["branch", "delete", "b1"]).await.unwrap();
    run(&db, &["branch", "list"]).await.unwrap();
    let bad = dir.path().join("bad.gql");
    std::fs::write(&bad, "{ Nope { count } }").unwrap();
    let err = run(&db, &["query", bad.to_str().unwrap()])
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "the document returned 1 GraphQL error(s)");
    let err = run(&db, &["branch", "merge", "missing"]).await.unwrap_err();
    assert_eq!(err.to_string(), "branch 'missing' not found");
}

#[test]
fn variables_are_typed_after_the_document() {
    let doc = "query ($n: Int!, $flag: Boolean, $name: String!, $ids: [ID]) { x }";
    let v = cli::parse_vars(
        doc,
        &[
            "n=3".into(),
            "flag=true".into(),
            "name=007".into(),
            r#"ids=["a"]"#.into(),
        ],
    )
    .unwrap();
    assert_eq!(
        v,
        json!({"n": 3, "flag": true, "name": "007", "ids": ["a"]})
    );
    assert_eq!(
        cli::parse_vars(doc, &["n=x".into()])
            .unwrap_err()
            .to_string(),
        "--var n: 'x' is not an integer"
    );
}
