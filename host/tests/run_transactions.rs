//! `infragen serve`'s run transactions (`/api/transactions`), tried the way a worker, an
//! operator and an attacker would: writes that commit together or not at all, a client
//! that dies, another account's token, the wrong branch, too many at once, a transaction
//! that lost the write turn.

use std::time::Duration;

use infragen::http_api::{self as http, TRANSACTION_HEADER, TransactionLimits};
use infragen_store::{GraphqlRequest, Store, TokenScope};
use serde_json::{Value, json};

const DCIM: &str = include_str!("../../store/tests/fixtures/dcim.yml");

/// A server over a store holding one device, `leaf1`.
struct Server {
    store: Store,
    base: String,
    token: String,
    client: reqwest::Client,
}

/// The fixture store with `leaf1`, and a write token.
fn prepared() -> (Store, String) {
    let store = Store::in_memory().expect("store");
    store
        .load_schema(&[("dcim.yml".into(), DCIM.into())])
        .expect("schema");
    let created = store.execute_blocking(
        "main",
        &GraphqlRequest::new(
            r#"mutation { DcimDeviceCreate(data: {name: {value: "leaf1"}}) { ok } }"#,
        ),
    );
    assert!(created.get("errors").is_none(), "{created}");
    let token = store
        .create_token("worker", TokenScope::Write)
        .expect("token");
    (store, token)
}

async fn serve(limits: http::Limits) -> Server {
    let (store, token) = prepared();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let served = store.clone();
    tokio::spawn(async move {
        http::serve_listener_with_limits(served, listener, Vec::new(), limits).await
    });
    Server {
        store,
        base,
        token,
        client: reqwest::Client::new(),
    }
}

/// [`serve`] on a thread and runtime of its own: the server goes on while the test's
/// runtime is blocked, as a client frozen in the middle of a run would be.
fn serve_on_its_own_runtime(limits: http::Limits) -> Server {
    let (store, token) = prepared();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let served = store.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            http::serve_listener_with_limits(served, listener, Vec::new(), limits).await
        })
    });
    Server {
        store,
        base,
        token,
        client: reqwest::Client::new(),
    }
}

impl Server {
    async fn send(&self, request: reqwest::RequestBuilder, token: &str) -> (u16, Value) {
        let response = request
            .header("x-infrahub-key", token)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    async fn begin(&self, branch: &str) -> (u16, Value) {
        self.begin_as(branch, &self.token.clone()).await
    }

    async fn begin_as(&self, branch: &str, token: &str) -> (u16, Value) {
        let url = format!("{}/api/transactions?branch={branch}", self.base);
        self.send(self.client.post(url), token).await
    }

    /// A transaction on `main` that must open; its id.
    async fn open(&self) -> String {
        let (status, body) = self.begin("main").await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["branch"], "main");
        body["id"].as_str().expect("an id").to_owned()
    }

    /// `document` on `branch`, inside `transaction` when given.
    async fn graphql(
        &self,
        branch: &str,
        transaction: Option<&str>,
        token: &str,
        document: &str,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql/{branch}", self.base))
            .header("content-type", "application/json")
            .body(json!({ "query": document }).to_string());
        if let Some(id) = transaction {
            request = request.header(TRANSACTION_HEADER, id);
        }
        self.send(request, token).await
    }

    async fn commit(&self, id: &str) -> (u16, Value) {
        let url = format!("{}/api/transactions/{id}/commit", self.base);
        self.send(self.client.post(url), &self.token).await
    }

    async fn abandon(&self, id: &str) -> (u16, Value) {
        let url = format!("{}/api/transactions/{id}", self.base);
        self.send(self.client.delete(url), &self.token).await
    }

    /// The device names on main, as a reader outside any transaction sees them.
    fn devices(&self) -> Vec<String> {
        let answer = self.store.execute_blocking(
            "main",
            &GraphqlRequest::new("{ DcimDevice { edges { node { name { value } } } } }"),
        );
        let mut names: Vec<String> = answer["data"]["DcimDevice"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|edge| edge["node"]["name"]["value"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    fn last_event(&self) -> i64 {
        self.store.last_event_seq().expect("events")
    }
}

/// Default limits but for `transactions`.
fn limited(transactions: TransactionLimits) -> http::Limits {
    http::Limits {
        transactions,
        ..http::Limits::default()
    }
}

/// The server's answer refusing a request with HTTP `status` and `message`.
fn refusal(status: u16, message: &str) -> Value {
    json!({"data": null, "errors": [{"message": message, "extensions": {"code": status}}]})
}

const ADD_SPINE: &str = r#"mutation { DcimDeviceUpsert(data: {name: {value: "spine1"}}) { ok object { name { value } } } }"#;
const COUNT: &str = "{ DcimDevice { count } }";

fn not_open(id: &str, idle: &str) -> Value {
    refusal(
        410,
        &format!(
            "run transaction {id} is not open: it was committed or abandoned, or dropped after {idle} without a request"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactions_writes_are_seen_inside_it_and_reach_the_store_together_at_its_commit() {
    let server = serve(http::Limits::default()).await;
    let events = server.last_event();
    let (status, opened) = server.begin("main").await;
    let id = opened["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        (status, opened),
        (201, json!({"id": id, "branch": "main", "idle_ms": 300_000}))
    );
    let token = server.token.clone();

    let (status, written) = server.graphql("main", Some(&id), &token, ADD_SPINE).await;
    assert_eq!(status, 200);
    assert_eq!(
        written,
        json!({"data": {"DcimDeviceUpsert": {"ok": true, "object": {"name": {"value": "spine1"}}}}})
    );
    let (_, inside) = server.graphql("main", Some(&id), &token, COUNT).await;
    assert_eq!(inside, json!({"data": {"DcimDevice": {"count": 2}}}));
    let (_, outside) = server.graphql("main", None, &token, COUNT).await;
    assert_eq!(outside, json!({"data": {"DcimDevice": {"count": 1}}}));
    assert_eq!(server.devices(), ["leaf1"]);
    assert_eq!(
        server.last_event(),
        events,
        "no change event before the commit"
    );

    let (status, committed) = server.commit(&id).await;
    assert_eq!(status, 200);
    assert_eq!(committed, json!({"id": id, "nodes_changed": 1}));
    assert_eq!(server.devices(), ["leaf1", "spine1"]);
    assert_eq!(server.last_event(), events + 1);

    // Committed: it is gone, and saying so twice changes nothing.
    assert_eq!(server.commit(&id).await, (410, not_open(&id, "300s")));
    let (status, body) = server.graphql("main", Some(&id), &token, COUNT).await;
    assert_eq!((status, body), (410, not_open(&id, "300s")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_transaction_writes_nothing() {
    let server = serve(http::Limits::default()).await;
    let events = server.last_event();
    let id = server.open().await;
    let token = server.token.clone();
    let (status, _) = server.graphql("main", Some(&id), &token, ADD_SPINE).await;
    assert_eq!(status, 200);

    assert_eq!(
        server.abandon(&id).await,
        (200, json!({"id": id, "abandoned": true}))
    );
    assert_eq!(server.devices(), ["leaf1"]);
    assert_eq!(server.last_event(), events);
    assert_eq!(server.commit(&id).await, (410, not_open(&id, "300s")));
    // The write turn is free again: a plain mutation goes through.
    let (status, body) = server.graphql("main", None, &token, ADD_SPINE).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.devices(), ["leaf1", "spine1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_leaves_nothing_behind_once_its_transaction_goes_idle() {
    let server = serve(limited(TransactionLimits {
        idle: Duration::from_millis(300),
        ..TransactionLimits::default()
    }))
    .await;
    // Long enough that the idle transaction is not merely preempted by the next writer.
    server.store.set_run_idle_allowance(Duration::from_secs(60));
    let events = server.last_event();
    let id = server.open().await;
    let token = server.token.clone();
    let (status, _) = server.graphql("main", Some(&id), &token, ADD_SPINE).await;
    assert_eq!(status, 200);

    // The client dies: no commit, no drop.
    tokio::time::sleep(Duration::from_millis(900)).await;

    assert_eq!(server.devices(), ["leaf1"]);
    assert_eq!(server.last_event(), events);
    let started = std::time::Instant::now();
    let (status, body) = server
        .graphql(
            "main",
            None,
            &token,
            r#"mutation { DcimDeviceUpsert(data: {name: {value: "spine2"}}) { ok } }"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the dead client's transaction gave the write turn back"
    );
    assert_eq!(server.devices(), ["leaf1", "spine2"]);
    assert_eq!(server.commit(&id).await, (410, not_open(&id, "300ms")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_token_can_neither_use_nor_end_a_transaction() {
    let server = serve(http::Limits::default()).await;
    let id = server.open().await;
    let intruder = server
        .store
        .create_token("intruder", TokenScope::Write)
        .expect("token");

    let (status, body) = server
        .graphql("main", Some(&id), &intruder, ADD_SPINE)
        .await;
    assert_eq!((status, body), (410, not_open(&id, "300s")));
    let url = format!("{}/api/transactions/{id}/commit", server.base);
    assert_eq!(
        server.send(server.client.post(url), &intruder).await,
        (410, not_open(&id, "300s"))
    );
    let url = format!("{}/api/transactions/{id}", server.base);
    assert_eq!(
        server.send(server.client.delete(url), &intruder).await,
        (410, not_open(&id, "300s"))
    );
    assert_eq!(server.devices(), ["leaf1"]);

    // Its owner still has it.
    let token = server.token.clone();
    let (status, _) = server.graphql("main", Some(&id), &token, ADD_SPINE).await;
    assert_eq!(status, 200);
    assert_eq!(server.commit(&id).await.0, 200);
    assert_eq!(server.devices(), ["leaf1", "spine1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_token_cannot_open_a_transaction() {
    let server = serve(http::Limits::default()).await;
    let reader = server
        .store
        .create_token("reader", TokenScope::Read)
        .expect("token");
    assert_eq!(
        server.begin_as("main", &reader).await,
        (
            403,
            refusal(
                403,
                "a run transaction needs a token of scope write; this token's scope is read"
            )
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_on_another_branch_or_an_unknown_branch_is_refused() {
    let server = serve(http::Limits::default()).await;
    server.store.create_branch("br1").expect("branch");
    let id = server.open().await;
    let token = server.token.clone();

    let (status, body) = server.graphql("br1", Some(&id), &token, ADD_SPINE).await;
    assert_eq!(
        (status, body),
        (
            400,
            refusal(
                400,
                &format!(
                    "run transaction {id} is on branch `main`; a request on branch `br1` cannot run in it"
                )
            )
        )
    );
    assert_eq!(server.abandon(&id).await.0, 200);
    assert_eq!(
        server.begin("nope").await,
        (404, refusal(404, "Branch: nope not found."))
    );
    assert_eq!(server.devices(), ["leaf1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_transactions_are_capped_and_can_be_turned_off() {
    let server = serve(limited(TransactionLimits {
        open: 1,
        ..TransactionLimits::default()
    }))
    .await;
    let id = server.open().await;
    assert_eq!(
        server.begin("main").await,
        (
            503,
            refusal(
                503,
                "1 run transactions are open, the most this server allows; commit or drop one, or retry later"
            )
        )
    );
    assert_eq!(server.abandon(&id).await.0, 200);
    assert_eq!(server.begin("main").await.0, 201, "room again");

    let off = serve(limited(TransactionLimits {
        open: 0,
        ..TransactionLimits::default()
    }))
    .await;
    assert_eq!(
        off.begin("main").await,
        (
            404,
            refusal(
                404,
                "run transactions are turned off on this server; write one mutation at a time"
            )
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_lost_the_write_turn_cannot_commit_and_writes_nothing() {
    let server = serve(http::Limits::default()).await;
    server
        .store
        .set_run_idle_allowance(Duration::from_millis(50));
    let id = server.open().await;
    let token = server.token.clone();
    let (status, _) = server.graphql("main", Some(&id), &token, ADD_SPINE).await;
    assert_eq!(status, 200);

    // Another writer waits longer than the idle transaction's allowance, and goes first.
    let (status, body) = server
        .graphql(
            "main",
            None,
            &token,
            r#"mutation { DcimDeviceUpsert(data: {name: {value: "spine2"}}) { ok } }"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, refused) = server.graphql("main", Some(&id), &token, COUNT).await;
    assert_eq!(status, 200);
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "CONFLICT",
        "{refused}"
    );
    let (status, body) = server.commit(&id).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert_eq!(
        body["errors"][0]["message"],
        format!(
            "the store changed during the run (the run held the write turn of `:memory:` without using it while another writer waited, and lost it); nothing of the run was written"
        )
    );
    assert_eq!(server.devices(), ["leaf1", "spine2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_write_answers_its_effects_and_the_undo_takes_it_back() {
    let server = serve(http::Limits::default()).await;
    let id = server.open().await;
    let token = server.token.clone();
    let held = |document: &str| {
        server
            .client
            .post(format!("{}/graphql/main", server.base))
            .header("content-type", "application/json")
            .header(TRANSACTION_HEADER, id.as_str())
            .header(http::EFFECTS_HEADER, "hold")
            .body(json!({ "query": document }).to_string())
    };

    let (status, answer) = server.send(held(ADD_SPINE), &token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["data"],
        json!({"DcimDeviceUpsert": {"ok": true, "object": {"name": {"value": "spine1"}}}})
    );
    let effects = answer["extensions"]["effects"].as_array().expect("effects");
    assert_eq!(effects.len(), 1, "{answer}");
    assert_eq!(effects[0]["kind"], "DcimDevice");
    assert_eq!(effects[0]["target"], true);
    assert_eq!(effects[0]["created"], true);
    assert_eq!(effects[0]["name"], "spine1");

    let undo = format!("{}/api/transactions/{id}/undo", server.base);
    assert_eq!(
        server.send(server.client.post(undo.clone()), &token).await,
        (200, json!({"id": id, "undone": true}))
    );
    let (_, inside) = server.graphql("main", Some(&id), &token, COUNT).await;
    assert_eq!(inside, json!({"data": {"DcimDevice": {"count": 1}}}));
    assert_eq!(
        server.send(server.client.post(undo), &token).await,
        (200, json!({"id": id, "undone": false})),
        "nothing is held twice"
    );

    // Held, then kept by the commit.
    let (status, _) = server.send(held(ADD_SPINE), &token).await;
    assert_eq!(status, 200);
    assert_eq!(server.commit(&id).await.0, 200);
    assert_eq!(server.devices(), ["leaf1", "spine1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holding_needs_a_transaction_and_says_hold() {
    let server = serve(http::Limits::default()).await;
    let token = server.token.clone();
    let post = |header: (&'static str, &str)| {
        server
            .client
            .post(format!("{}/graphql/main", server.base))
            .header("content-type", "application/json")
            .header(header.0, header.1)
            .body(json!({ "query": ADD_SPINE }).to_string())
    };
    assert_eq!(
        server
            .send(post((http::EFFECTS_HEADER, "hold")), &token)
            .await,
        (
            400,
            refusal(
                400,
                "the x-infragen-effects header needs a run transaction (x-infragen-transaction)"
            )
        )
    );
    assert_eq!(
        server
            .send(post((http::EFFECTS_HEADER, "keep")), &token)
            .await,
        (
            400,
            refusal(400, "the x-infragen-effects header's one value is `hold`")
        )
    );
    assert_eq!(server.devices(), ["leaf1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_past_its_node_limit_refuses_more_writes_and_keeps_what_it_has() {
    let server = serve(limited(TransactionLimits {
        nodes: 2,
        ..TransactionLimits::default()
    }))
    .await;
    let id = server.open().await;
    let token = server.token.clone();
    for name in ["spine1", "spine2"] {
        let (status, body) = server
            .graphql(
                "main",
                Some(&id),
                &token,
                &format!(r#"mutation {{ DcimDeviceUpsert(data: {{name: {{value: "{name}"}}}}) {{ ok }} }}"#),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
    }
    let (status, refused) = server
        .graphql(
            "main",
            Some(&id),
            &token,
            r#"mutation { DcimDeviceUpsert(data: {name: {value: "spine3"}}) { ok } }"#,
        )
        .await;
    assert_eq!(
        (status, refused),
        (
            200,
            json!({"data": null, "errors": [{"message": format!("run transaction {id} has changed 2 nodes, the most this server keeps in one; commit it, or write less in one run"), "extensions": {"code": "LIMIT_EXCEEDED"}}]})
        )
    );
    // Reads go on, and the commit keeps what it has.
    let (_, inside) = server.graphql("main", Some(&id), &token, COUNT).await;
    assert_eq!(inside, json!({"data": {"DcimDevice": {"count": 3}}}));
    assert_eq!(
        server.commit(&id).await,
        (200, json!({"id": id, "nodes_changed": 2}))
    );
    assert_eq!(server.devices(), ["leaf1", "spine1", "spine2"]);
}

/// The host's HTTP backend on `server`, and a run through it that has written `spine1`.
async fn host_run(
    server: &Server,
) -> (
    infragen::client::GraphqlBackend<infragen::transport::Http>,
    std::sync::Arc<dyn infragen::backend::RunScope>,
) {
    use infragen::backend::Backend;
    let http = infragen::transport::Http::new(infragen::transport::HttpConfig::new(
        server.base.clone(),
        Some(server.token.clone()),
    ))
    .expect("client");
    let backend = infragen::client::GraphqlBackend::new(http);
    let run = backend
        .begin_run("main", 1)
        .await
        .expect("begins")
        .expect("serve runs in transactions");
    run.upsert("main", "DcimDevice", &json!({"name": {"value": "spine1"}}))
        .await
        .expect("writes");
    (backend, run)
}

/// The host's side: a run whose transaction the server dropped (its client froze past
/// the idle limit; a restarted server has none either) is outdated, its next write fails
/// with a conflict, and so does its commit — the runner then runs it again on the store as
/// it is.
#[tokio::test]
async fn a_run_whose_transaction_expired_is_outdated_and_cannot_commit() {
    use infragen::backend::{Backend, ErrorKind};
    let server = serve_on_its_own_runtime(limited(TransactionLimits {
        idle: Duration::from_millis(200),
        ..TransactionLimits::default()
    }));
    let (backend, run) = host_run(&server).await;
    assert!(!run.outdated());

    // Frozen: this runtime, where the run's keepalive would go, does nothing meanwhile.
    std::thread::sleep(Duration::from_millis(900));

    let error = run
        .upsert("main", "DcimDevice", &json!({"name": {"value": "spine2"}}))
        .await
        .expect_err("the transaction is gone");
    assert_eq!(error.kind, ErrorKind::Conflict, "{error}");
    assert!(run.outdated());
    assert_eq!(
        run.commit().await.expect_err("nothing to commit").kind,
        ErrorKind::Conflict
    );
    assert_eq!(server.devices(), ["leaf1"]);

    // A run cannot open another inside itself: that one would wait for this one's turn.
    let run = backend
        .begin_run("main", 1)
        .await
        .expect("begins")
        .expect("serve runs in transactions");
    let nested = run.begin_run("main", 1).await.map(|scope| scope.is_some());
    assert_eq!(
        nested.expect_err("refused").message,
        "a run cannot start another run inside itself"
    );
}

/// A client alive but computing between two requests for longer than the idle limit keeps
/// its transaction: the host keeps it alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_computing_past_the_idle_limit_keeps_its_transaction() {
    let server = serve(limited(TransactionLimits {
        idle: Duration::from_millis(300),
        ..TransactionLimits::default()
    }))
    .await;
    let (_backend, run) = host_run(&server).await;

    tokio::time::sleep(Duration::from_millis(1200)).await;

    run.upsert("main", "DcimDevice", &json!({"name": {"value": "spine2"}}))
        .await
        .expect("still open");
    assert!(!run.outdated());
    run.commit().await.expect("commits");
    assert_eq!(server.devices(), ["leaf1", "spine1", "spine2"]);
}

/// `name`'s device created on main, inside `transaction` when given: the write must succeed.
async fn create_device(server: &Server, transaction: Option<&str>, name: &str) {
    let token = server.token.clone();
    let document =
        format!(r#"mutation {{ DcimDeviceCreate(data: {{name: {{value: "{name}"}}}}) {{ ok }} }}"#);
    let (status, body) = server.graphql("main", transaction, &token, &document).await;
    assert_eq!(status, 200, "{name}: {body}");
    assert!(body.get("errors").is_none(), "{name}: {body}");
}

/// Many clients at once, as workers and an operator would be: six write in transactions
/// (each run of three devices committed, or now and then abandoned), three send plain
/// mutations, and each of those also reads between its writes. Every request is answered
/// — nothing waits forever on the write turn — every committed device is there, and no
/// abandoned one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_at_once_each_get_what_they_committed_and_nothing_else() {
    let server = std::sync::Arc::new(serve(http::Limits::default()).await);
    let mut clients = Vec::new();
    for worker in 0..6 {
        let server = server.clone();
        clients.push(tokio::spawn(async move {
            let mut kept = Vec::new();
            for round in 0..4 {
                let id = server.open().await;
                let names: Vec<String> = (0..3).map(|k| format!("w{worker}-{round}-{k}")).collect();
                for name in &names {
                    create_device(&server, Some(&id), name).await;
                }
                if (worker + round) % 3 == 0 {
                    let (status, body) = server.abandon(&id).await;
                    assert_eq!(status, 200, "{body}");
                } else {
                    let (status, body) = server.commit(&id).await;
                    assert_eq!((status, &body["nodes_changed"]), (200, &json!(3)), "{body}");
                    kept.extend(names);
                }
            }
            kept
        }));
    }
    for client in 0..3 {
        let server = server.clone();
        clients.push(tokio::spawn(async move {
            let token = server.token.clone();
            let mut kept = Vec::new();
            for round in 0..6 {
                let name = format!("p{client}-{round}");
                create_device(&server, None, &name).await;
                kept.push(name);
                let (status, body) = server.graphql("main", None, &token, COUNT).await;
                assert_eq!(status, 200, "{body}");
                assert!(
                    body["data"]["DcimDevice"]["count"].as_u64() >= Some(1),
                    "{body}"
                );
            }
            kept
        }));
    }
    let mut expected = vec!["leaf1".to_owned()];
    let all = tokio::time::timeout(Duration::from_secs(120), async {
        let mut names = Vec::new();
        for client in clients {
            names.extend(client.await.expect("a client"));
        }
        names
    })
    .await
    .expect("every client answered within two minutes");
    expected.extend(all);
    expected.sort();
    assert_eq!(server.devices(), expected);
}
