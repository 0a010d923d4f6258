//! The store's HTTP API on 127.0.0.1:0: Infrahub's endpoints, `X-INFRAHUB-KEY` auth, the
//! body limit and the in-flight memory budget.

use infragen::http_api as http;
use infragen_store::{GraphqlRequest, Store};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The store's test schema.
const DCIM: &str = include_str!("../../store/tests/fixtures/dcim.yml");

/// An in-memory store with the fixture schema loaded.
fn store() -> Store {
    let s = Store::in_memory().expect("in-memory store");
    s.load_schema(&[("dcim.yml".to_string(), DCIM.to_string())])
        .expect("fixture schema loads");
    s
}

/// Run a document that must succeed; return `data`.
fn ok(s: &Store, branch: &str, query: &str) -> Value {
    let r = s.execute_blocking(branch, &GraphqlRequest::new(query));
    assert!(r.get("errors").is_none(), "unexpected errors: {r:#}");
    r["data"].clone()
}

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
    let token = s
        .create_token("test", infragen_store::TokenScope::Admin)
        .unwrap();
    let addr = listen(&s, vec!["configured-token".into()]).await;
    (addr, s, token)
}

/// `serve` for `s` on a free loopback port, with the `configured` tokens; its address.
async fn listen(s: &Store, configured: Vec<String>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = s.clone();
    tokio::spawn(async move { http::serve_listener(srv, listener, configured).await });
    addr
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
async fn a_tokens_scope_bounds_what_it_may_do() {
    use infragen_store::TokenScope;
    let (addr, s, _) = start().await;
    let token = |scope| s.create_token("scoped", scope).unwrap();
    let (read, write, admin) = (
        token(TokenScope::Read),
        token(TokenScope::Write),
        token(TokenScope::Admin),
    );
    let query = json!({"query": "{ DcimDevice { count } }"});
    let mutation = json!({"query": r#"query Q { DcimDevice { count } } mutation M { DcimDeviceCreate(data: {name: {value: "x"}}) { ok } }"#, "operationName": "M"});
    let schema = json!({"schemas": [extra_schema()]});
    let forbidden = |needed: &str, scope: &str, what: &str| json!({"data": null, "errors": [{"message": format!("{what} needs a token of scope {needed}; this token's scope is {scope}"), "extensions": {"code": 403}}]});
    let json_of = |body: String| serde_json::from_str::<Value>(&body).unwrap();

    assert_eq!(
        request(addr, "POST", "/graphql", Some(&read), Some(&query))
            .await
            .0,
        200
    );
    let (status, body) = request(addr, "POST", "/graphql", Some(&read), Some(&mutation)).await;
    assert_eq!(
        (status, json_of(body)),
        (403, forbidden("write", "read", "a mutation"))
    );
    let (status, body) = request(
        addr,
        "POST",
        "/api/schema/load",
        Some(&write),
        Some(&schema),
    )
    .await;
    assert_eq!(
        (status, json_of(body)),
        (403, forbidden("admin", "write", "loading a schema"))
    );
    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        0,
        "the refused mutation wrote nothing"
    );

    let (status, body) = request(addr, "POST", "/graphql", Some(&write), Some(&mutation)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = request(
        addr,
        "POST",
        "/api/schema/load",
        Some(&admin),
        Some(&schema),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = request(
        addr,
        "POST",
        "/api/schema/load",
        Some("configured-token"),
        Some(&schema),
    )
    .await;
    assert_eq!(status, 200, "a configured token is admin: {body}");
}

/// A schema file in the API's JSON form: one extra kind.
fn extra_schema() -> Value {
    json!({"version": "1.0", "nodes": [{"name": "Rack", "namespace": "Test", "attributes": [{"name": "name", "kind": "Text", "unique": true}]}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_on_main_and_on_a_branch_with_a_token() {
    let (addr, s, token) = start().await;
    s.create_branch("br1").unwrap();
    let m = json!({"query": "mutation ($value_ab12: String!) { DcimDeviceUpsert(data: {name: {value: $value_ab12}}) { ok object { id } } }", "variables": {"value_ab12": "leaf 1"}});
    let (status, body) = request(addr, "POST", "/graphql/br1", Some(&token), Some(&m)).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["DcimDeviceUpsert"]["ok"], true);
    let q = json!({"query": "{ DcimDevice { count } }"});
    let (_, main) = request(addr, "POST", "/graphql", Some("configured-token"), Some(&q)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&main).unwrap(),
        json!({"data": {"DcimDevice": {"count": 0}}})
    );
    let (_, branch) = request(addr, "POST", "/graphql/br1", Some(&token), Some(&q)).await;
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
    let (addr, s, token) = start().await;
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
    // A branch that exists has the same schema; one that does not is Infrahub's 404.
    s.create_branch("br1").unwrap();
    let (status, on_branch) =
        request(addr, "GET", "/api/schema?branch=br1", Some(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&on_branch).unwrap(), v);
    let (status, missing) =
        request(addr, "GET", "/api/schema?branch=br2", Some(&token), None).await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&missing).unwrap(),
        json!({"errors": [{"message": "Branch: br2 not found.", "extensions": {"code": "BRANCH_NOT_FOUND"}}]})
    );
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

/// Serve the fixture store with `limits`; return its address and a token.
async fn start_with(limits: http::Limits) -> (std::net::SocketAddr, infragen_store::Store, String) {
    let s = store();
    let token = s
        .create_token("test", infragen_store::TokenScope::Admin)
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = s.clone();
    tokio::spawn(
        async move { http::serve_listener_with_limits(srv, listener, vec![], limits).await },
    );
    (addr, s, token)
}

/// The head of a `POST /graphql` announcing a body of `len` bytes (none of it sent).
fn post_head(addr: std::net::SocketAddr, token: &str, len: usize) -> String {
    format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nX-INFRAHUB-KEY: {token}\r\nContent-Length: {len}\r\n\r\n"
    )
}

/// A whole response: status, head (lower-cased) and body.
fn parse_response(raw: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// The message and code of the first error of a JSON body.
fn first_error(body: &str) -> (String, Value) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (
        v["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        v["errors"][0]["extensions"]["code"].clone(),
    )
}

/// A count query padded with spaces to exactly `len` bytes of JSON.
fn padded_query(len: usize) -> String {
    let q = json!({"query": "{ DcimDevice { count } }"}).to_string();
    let pad = len - q.len();
    json!({"query": format!("{{ DcimDevice {{ count }} }}{}", " ".repeat(pad))}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_answered_413_with_the_limit() {
    let limits = http::Limits {
        max_body_bytes: 4096,
        ..http::Limits::default()
    };
    let (addr, s, token) = start_with(limits).await;

    // Announced by Content-Length: refused before the body is read (none is sent here).
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(post_head(addr, &token, 100_000).as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    // A guard against a hang (the server waiting for the body), not a timing assertion.
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stream.read_to_end(&mut raw),
    )
    .await
    .expect("no answer in 60 s: the server waits for a body it should refuse unread")
    .unwrap();
    let (status, head, body) = parse_response(&raw);
    assert_eq!(status, 413, "{head}\n{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let (message, code) = first_error(&body);
    assert_eq!(
        message,
        "Request body of 100000 bytes is too large: the limit is 4096 bytes; send smaller requests (e.g. fewer mutations per request)"
    );
    assert_eq!(code, 413);

    // Chunked, so only reading finds out: the same answer, without the size.
    let mutation = json!({"query": format!(
        "mutation {{ DcimDeviceCreate(data: {{name: {{value: \"x\"}}}}) {{ ok }} }}{}",
        " ".repeat(5000)
    )})
    .to_string();
    let mut req = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nX-INFRAHUB-KEY: {token}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for chunk in mutation.as_bytes().chunks(1000) {
        req.push_str(&format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            String::from_utf8_lossy(chunk)
        ));
    }
    req.push_str("0\r\n\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let (status, head, body) = parse_response(&raw);
    assert_eq!(status, 413, "{head}\n{body}");
    let (message, code) = first_error(&body);
    assert_eq!(
        message,
        "Request body is too large: the limit is 4096 bytes; send smaller requests (e.g. fewer mutations per request)"
    );
    assert_eq!(code, 413);
    assert_eq!(
        ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
        0,
        "the refused mutation did not run"
    );

    // At the limit: served.
    let at_limit: Value = serde_json::from_str(&padded_query(4096)).unwrap();
    let (status, body) = request(addr, "POST", "/graphql", Some(&token), Some(&at_limit)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"data": {"DcimDevice": {"count": 0}}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_tiny_budget_concurrent_large_requests_get_503_and_small_ones_are_served() {
    // Room for one 6000-byte request (6 KiB of an 8 KiB budget) at a time.
    let limits = http::Limits {
        max_body_bytes: 1 << 20,
        in_flight_bytes: 8 << 10,
        memory_per_body_byte: 1,
        unmetered_body_bytes: 1024,
        budget_wait: std::time::Duration::from_millis(100),
        ..http::Limits::default()
    };
    let (addr, _s, token) = start_with(limits).await;
    let large = padded_query(6000);
    assert_eq!(large.len(), 6000);

    // Six large requests at once, each announcing its body but holding it back: whichever
    // takes the budget keeps it until its body arrives, so the others cannot get theirs.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut writers = Vec::new();
    for i in 0..6 {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        write
            .write_all(post_head(addr, &token, large.len()).as_bytes())
            .await
            .unwrap();
        writers.push(write);
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut raw = Vec::new();
            let _ = read.read_to_end(&mut raw).await;
            let _ = tx.send((i, parse_response(&raw)));
        });
    }
    // A guard against a hang (were all six admitted, each waiting for its body?), not a
    // timing assertion: each refusal comes after the 100 ms wait.
    let next = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<_>| {
        tokio::time::timeout(std::time::Duration::from_secs(60), rx.recv())
            .await
            .expect("no answer in 60 s: the large requests were all admitted")
            .unwrap()
    };
    let mut refused = Vec::new();
    for _ in 0..5 {
        let (i, (status, head, body)): (usize, (u16, String, String)) = next(&mut rx).await;
        assert_eq!(status, 503, "{head}\n{body}");
        assert!(head.contains("retry-after: 1"), "{head}");
        let (message, code) = first_error(&body);
        assert_eq!(
            message,
            "Server busy: this request's body of 6000 bytes needs an estimated 6144 bytes of the 8192-byte memory budget for requests in flight, and it did not free up within 100 ms; retry later"
        );
        assert_eq!(code, 503);
        refused.push(i);
    }
    let holder = (0..6).find(|i| !refused.contains(i)).unwrap();

    // A small request is not metered: served while the budget is taken.
    let q = json!({"query": "{ DcimDevice { count } }"});
    let (status, body) = request(addr, "POST", "/graphql", Some(&token), Some(&q)).await;
    assert_eq!(status, 200, "{body}");

    // The holder sends its body and is served; then the budget is free again.
    writers[holder].write_all(large.as_bytes()).await.unwrap();
    let (i, (status, head, body)) = next(&mut rx).await;
    assert_eq!((i, status), (holder, 200), "{head}\n{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"data": {"DcimDevice": {"count": 0}}})
    );
    let large: Value = serde_json::from_str(&large).unwrap();
    let (status, body) = request(addr, "POST", "/graphql", Some(&token), Some(&large)).await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn the_default_limits_are_documented_values() {
    let d = http::Limits::default();
    assert_eq!(d.max_body_bytes, 8 << 20);
    assert_eq!(d.in_flight_bytes, 512 << 20);
    assert_eq!(d.memory_per_body_byte, 32);
    assert_eq!(d.unmetered_body_bytes, 64 << 10);
    assert_eq!(d.budget_wait, std::time::Duration::from_secs(5));
    assert_eq!(d.query_nodes, 1_000_000);
    assert_eq!(d.query_time, std::time::Duration::from_secs(60));
    assert_eq!(d.transactions.open, 64);
    assert_eq!(d.transactions.idle, std::time::Duration::from_secs(300));
    assert_eq!(d.transactions.nodes, 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_node_budget_is_stopped_with_limit_exceeded() {
    let limits = http::Limits {
        query_nodes: 10,
        ..http::Limits::default()
    };
    let (addr, s, token) = start_with(limits).await;
    for i in 0..12 {
        ok(
            &s,
            "main",
            &format!(
                r#"mutation {{ DcimDeviceCreate(data: {{name: {{value: "d{i}"}}}}) {{ ok }} }}"#
            ),
        );
    }
    let listing = json!({"query": "{ DcimDevice { edges { node { id } } } }"});
    let (status, body) = request(addr, "POST", "/graphql", Some(&token), Some(&listing)).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"data": null, "errors": [{"message": "the query resolved more than 10 nodes, its budget; ask for fewer nodes or fewer levels of relationships", "extensions": {"code": "LIMIT_EXCEEDED"}}]})
    );
    let count = json!({"query": "{ DcimDevice { count } }"});
    let (status, body) = request(addr, "POST", "/graphql", Some(&token), Some(&count)).await;
    assert_eq!(
        (status, body.contains("\"count\":12")),
        (200, true),
        "{body}"
    );
}

/// The query `infrahubctl info` and `client.get_user()` send (infrahub-sdk 1.23.2's
/// `QUERY_USER`), trimmed of nothing that matters: the account fields and its groups.
const ACCOUNT_PROFILE: &str = "query GET_PROFILE_DETAILS { AccountProfile { id display_label \
    account_type { value } status { label value } description { value } label { value } \
    member_of_groups { count edges { node { display_label group_type { value } \
    ... on CoreAccountGroup { id roles { count edges { node { permissions { count edges { \
    node { display_label identifier { value } } } } } } } } } } } __typename name { value } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_profile_describes_the_account_of_the_requests_token() {
    let (addr, s, admin) = start().await;
    let writer = s
        .create_token("ci-runner", infragen_store::TokenScope::Write)
        .unwrap();
    let q = json!({"query": ACCOUNT_PROFILE});
    let profile = |body: &str| -> Value {
        let v: Value = serde_json::from_str(body).unwrap();
        assert!(v.get("errors").is_none(), "{v:#}");
        v["data"]["AccountProfile"].clone()
    };
    let (status, body) = request(addr, "POST", "/graphql", Some(&admin), Some(&q)).await;
    assert_eq!(status, 200, "{body}");
    let account = profile(&body);
    let id = account["id"].as_str().unwrap().to_owned();
    assert_eq!(
        account,
        json!({
            "id": id,
            "display_label": "test",
            "account_type": {"value": "Script"},
            "status": {"label": "Active", "value": "active"},
            "description": {"value": "infragen API token with the admin scope"},
            "label": {"value": "test"},
            "member_of_groups": {"count": 0, "edges": []},
            "__typename": "CoreAccount",
            "name": {"value": "test"},
        })
    );
    // The same token is the same account; another token is another one, with its scope.
    let (_, again) = request(addr, "POST", "/graphql/main", Some(&admin), Some(&q)).await;
    assert_eq!(profile(&again)["id"], json!(id));
    let (_, body) = request(addr, "POST", "/graphql", Some(&writer), Some(&q)).await;
    let other = profile(&body);
    assert_ne!(other["id"], json!(id));
    assert_eq!(other["name"]["value"], "ci-runner");
    assert_eq!(
        other["description"]["value"],
        "infragen API token with the write scope"
    );
    // A token from the configuration has no name of its own.
    let (_, body) = request(addr, "POST", "/graphql", Some("configured-token"), Some(&q)).await;
    assert_eq!(profile(&body)["name"]["value"], "api_tokens");
    // The embedded store, with no token, has no account to describe.
    let r = s.execute_blocking("main", &GraphqlRequest::new(ACCOUNT_PROFILE));
    assert_eq!(r["data"]["AccountProfile"], Value::Null);
    assert_eq!(r["errors"][0]["extensions"]["code"], "NOT_FOUND", "{r:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_check_answers_the_diff_without_loading_anything() {
    let (addr, s, token) = start().await;
    let reader = s
        .create_token("reader", infragen_store::TokenScope::Read)
        .unwrap();
    let widget = |attributes: Value| json!({"schemas": [{"version": "1.0", "nodes": [{"name": "Widget", "namespace": "Test", "attributes": attributes}]}]});
    let schema_hash = |s: &Store| s.schema().hash.clone();
    let before = schema_hash(&s);
    // A new kind, checked by a read-only token: 202 with the kinds it adds.
    let first = widget(json!([{"name": "name", "kind": "Text", "unique": true}]));
    let (status, body) = request(
        addr,
        "POST",
        "/api/schema/check?branch=main",
        Some(&reader),
        Some(&first),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let empty = json!({"added": {}, "changed": {}, "removed": {}});
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"diff": {"added": {"TestWidget": empty, "ProfileTestWidget": empty}, "changed": {}, "removed": {}}, "warnings": []})
    );
    assert_eq!(schema_hash(&s), before, "a check loads nothing");

    // Once loaded, the same schema is no diff; one more attribute is a changed kind.
    let (status, _) = request(addr, "POST", "/api/schema/load", Some(&token), Some(&first)).await;
    assert_eq!(status, 200);
    let (status, body) = request(
        addr,
        "POST",
        "/api/schema/check",
        Some(&token),
        Some(&first),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["diff"],
        json!({"added": {}, "changed": {}, "removed": {}})
    );
    let second = widget(json!([
        {"name": "name", "kind": "Text", "unique": true},
        {"name": "colour", "kind": "Text", "optional": true},
    ]));
    let (_, body) = request(
        addr,
        "POST",
        "/api/schema/check",
        Some(&token),
        Some(&second),
    )
    .await;
    let diff = serde_json::from_str::<Value>(&body).unwrap()["diff"].clone();
    assert_eq!(
        diff["changed"]["TestWidget"]["changed"]["attributes"],
        json!({"added": {"colour": null}, "changed": {}, "removed": {}})
    );
    let loaded = schema_hash(&s);

    // What `schema load` refuses, `schema check` refuses the same way; an unknown branch
    // is Infrahub's 404.
    let bad =
        widget(json!([{"name": "name", "kind": "Text"}, {"name": "owner_name", "kind": "Nope"}]));
    let (status, body) = request(addr, "POST", "/api/schema/check", Some(&token), Some(&bad)).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("unknown variant `Nope`"), "{body}");
    let (status, body) = request(
        addr,
        "POST",
        "/api/schema/check?branch=nope",
        Some(&token),
        Some(&second),
    )
    .await;
    assert_eq!(status, 404);
    assert!(body.contains("Branch: nope not found."), "{body}");
    assert_eq!(schema_hash(&s), loaded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_summary_hashes_each_kind_so_a_change_shows_where_it_is() {
    let (addr, s, token) = start().await;
    let summary = || async {
        let (status, body) = request(
            addr,
            "GET",
            "/api/schema/summary?branch=main",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let before = summary().await;
    assert_eq!(before["main"], json!(s.schema().hash));
    assert!(
        before["nodes"]["DcimDevice"].as_str().is_some(),
        "{before:#}"
    );
    assert!(before["generics"]["DcimInterface"].as_str().is_some());
    assert!(before["nodes"].get("DcimInterface").is_none());

    // DcimDevice gains an attribute (a schema extension): its hash changes, and the
    // generic DcimInterface's does not.
    let extension = json!({"schemas": [{"version": "1.0", "extensions": {"nodes": [{"kind": "DcimDevice", "attributes": [{"name": "serial_number", "kind": "Text", "optional": true}]}]}}]});
    let (status, body) = request(
        addr,
        "POST",
        "/api/schema/load",
        Some(&token),
        Some(&extension),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let after = summary().await;
    assert_ne!(after["nodes"]["DcimDevice"], before["nodes"]["DcimDevice"]);
    assert_eq!(
        after["generics"]["DcimInterface"],
        before["generics"]["DcimInterface"]
    );
    assert_ne!(after["main"], before["main"]);
    let (status, _) = request(
        addr,
        "GET",
        "/api/schema/summary?branch=nope",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

/// A token lookup that fails (here: the store's file removed under `serve`, so the reader
/// opened for the lookup finds no tokens table) is a server error, not a wrong token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_lookup_that_fails_is_a_server_error_not_an_invalid_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let s = Store::open(&path).unwrap();
    let token = s
        .create_token("test", infragen_store::TokenScope::Admin)
        .unwrap();
    let addr = listen(&s, Vec::new()).await;
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        if std::path::Path::new(&file).exists() {
            std::fs::remove_file(&file).unwrap();
        }
    }
    let (status, body) = request(addr, "GET", "/api/schema", Some(&token), None).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 500, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("The API token could not be checked: ")
            && message.contains("no such table: tokens"),
        "{body}"
    );
}

/// The same for the branch a `?branch=` names: a lookup that fails is a server error, not
/// Infrahub's "Branch: … not found." (a client would take the branch for deleted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_lookup_that_fails_is_a_server_error_not_a_missing_branch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let s = Store::open(&path).unwrap();
    s.create_branch("br1").unwrap();
    let addr = listen(&s, vec!["configured-token".into()]).await;
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        if std::path::Path::new(&file).exists() {
            std::fs::remove_file(&file).unwrap();
        }
    }
    let (status, body) = request(
        addr,
        "GET",
        "/api/schema?branch=br1",
        Some("configured-token"),
        None,
    )
    .await;
    let body: Value = serde_json::from_str(&body).unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert_eq!(status, 500, "{message}");
    assert!(
        message.starts_with("Branch br1 could not be looked up: ")
            && message.contains("no such table: branches"),
        "{body}"
    );
}
