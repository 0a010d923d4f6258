//! The HTTP API on 127.0.0.1:0: Infrahub's endpoints, and `X-INFRAHUB-KEY` auth.

mod common;

use common::*;
use infragen_store::http;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal HTTP/1.1 client (one request per connection), enough for these tests.
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("X-INFRAHUB-KEY: {t}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn start() -> (std::net::SocketAddr, infragen_store::Store, String) {
    let s = store();
    let token = s.create_token("test").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = s.clone();
    tokio::spawn(async move {
        http::serve_listener(srv, listener, vec!["configured-token".into()]).await
    });
    (addr, s, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_valid_token_reads_and_writes_are_refused() {
    let (addr, s, _) = start().await;
    let q = json!({"query": "{ DcimDevice { count } }"});
    let (status, body) = request(addr, "POST", "/graphql", None, Some(&q)).await;
    assert_eq!(status, 401);
    assert!(body.contains("X-INFRAHUB-KEY"), "{body}");
    let m = json!({"query": r#"mutation { DcimDeviceCreate(data: {name: {value: "x"}}) { ok } }"#});
    assert_eq!(
        request(addr, "POST", "/graphql/main", Some("wrong"), Some(&m))
            .await
            .0,
        401
    );
    assert_eq!(request(addr, "GET", "/api/schema", None, None).await.0, 401);
    assert_eq!(
        request(addr, "GET", "/schema.graphql", Some("wrong"), None)
            .await
            .0,
        401
    );
    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_on_main_and_on_a_branch_with_a_token() {
    let (addr, s, token) = start().await;
    s.create_branch("b1").unwrap();
    let m = json!({"query": "mutation ($value_ab12: String!) { DcimDeviceUpsert(data: {name: {value: $value_ab12}}) { ok object { id } } }", "variables": {"value_ab12": "leaf 1"}});
    let (status, body) = request(addr, "POST", "/graphql/b1", Some(&token), Some(&m)).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["DcimDeviceUpsert"]["ok"], true);
    let q = json!({"query": "{ DcimDevice { count } }"});
    let (_, main) = request(addr, "POST", "/graphql", Some("configured-token"), Some(&q)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&main).unwrap(),
        json!({"data": {"DcimDevice": {"count": 0}}})
    );
    let (_, branch) = request(addr, "POST", "/graphql/b1", Some(&token), Some(&q)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&branch).unwrap(),
        json!({"data": {"DcimDevice": {"count": 1}}})
    );
    let (_, bad) = request(
        addr,
        "POST",
        "/graphql",
        Some(&token),
        Some(&json!({"query": "{ Nope { count } }"})),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&bad).unwrap()["errors"][0]["message"],
        "Cannot query field 'Nope' on type 'Query'."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_endpoints() {
    let (addr, _s, token) = start().await;
    let (status, body) = request(addr, "GET", "/api/schema?branch=main", Some(&token), None).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let device = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "DcimDevice")
        .unwrap();
    assert_eq!(device["human_friendly_id"], json!(["name__value"]));
    assert_eq!(device["attributes"][0]["name"], "name");
    assert!(
        v["generics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["kind"] == "DcimInterface")
    );
    assert!(v["main"].as_str().is_some_and(|h| !h.is_empty()));
    let (status, body) =
        request(addr, "GET", "/api/schema/DcimInterface", Some(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["used_by"],
        json!(["DcimLoopback", "DcimPhysicalInterface"])
    );
    let load = json!({"schemas": [{"version": "1.0", "nodes": [{"name": "Widget", "namespace": "Test", "attributes": [{"name": "name", "kind": "Text"}]}]}]});
    let (status, body) = request(addr, "POST", "/api/schema/load", Some(&token), Some(&load)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["schema_updated"],
        true
    );
    let bad = json!({"schemas": [{"version": "1.0", "nodes": [{"name": "Widget", "namespace": "Test", "attributes": [{"name": "name", "kind": "Nope"}]}]}]});
    let (status, body) = request(addr, "POST", "/api/schema/load", Some(&token), Some(&bad)).await;
    assert_eq!(status, 422);
    assert!(body.contains("unknown variant `Nope`"), "{body}");
    let (status, sdl) = request(addr, "GET", "/schema.graphql", Some(&token), None).await;
    assert_eq!(status, 200);
    assert!(
        sdl.contains("type TestWidget implements CoreNode {"),
        "{sdl}"
    );
    assert!(sdl.contains("DcimDeviceUpsert(data: DcimDeviceUpsertInput!): DcimDeviceMutation"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_non_loopback_address() {
    let s = store();
    let err = http::serve(s, "0.0.0.0:0".parse().unwrap(), vec![])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("refusing to listen on 0.0.0.0:0: not a loopback address"),
        "{err}"
    );
}
