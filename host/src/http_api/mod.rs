//! The embedded store's HTTP API, the server side of Infrahub's endpoints: `POST /graphql`,
//! `POST /graphql/{branch}`, `GET /api/schema?branch=`, `GET /api/schema/{kind}`,
//! `POST /api/schema/load`, `POST /api/schema/check`, `GET /schema.graphql`. A thin front over [`Store`], served by
//! `infragen serve`; the client side, which talks to this server or to Infrahub, is
//! [`crate::transport::Http`]. Beyond Infrahub's endpoints, `/api/transactions` lets a
//! client's generator run commit its writes together or not at all ([`TRANSACTION_HEADER`],
//! [`TransactionLimits`]).
//!
//! Every request needs an `X-INFRAHUB-KEY` header holding a configured token or one created
//! with [`Store::create_token`]; otherwise 401. A token's scope bounds what it may do
//! ([`TokenScope`]): `read` sends queries, `write` mutations too, `admin` loads schemas as
//! well (configured tokens are `admin`); beyond its scope the answer is 403. [`serve`]
//! refuses to listen beyond loopback; [`serve_unrestricted`] is the explicit opt-in.
//!
//! What requests may cost is bounded by [`Limits`]: a body over
//! [`Limits::max_body_bytes`] is answered 413, and a request whose body is larger than
//! [`Limits::unmetered_body_bytes`] must first take its estimated memory (body ×
//! [`Limits::memory_per_body_byte`]) from a budget of [`Limits::in_flight_bytes`] shared by
//! all requests in flight; if that share is not free within [`Limits::budget_wait`] the
//! request is answered 503 with `Retry-After`, its body unread. Errors have GraphQL's shape:
//! `{"data": null, "errors": [{"message": …, "extensions": {"code": …}}]}`.

use axum::Router;
use axum::body::{Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Extension, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use infragen_store::{Account, ErrorCode, GraphqlRequest, MAIN, Store, TokenScope};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

mod call;
mod generators;
mod tasks;
mod transactions;

pub use generators::{DEFINITION_RUN, DefinitionRunError, GeneratorRuns};
pub use tasks::{DEFINITION_RUN_WORKFLOW, Task, TaskBook, TaskLog, TaskState};
pub use transactions::{EFFECTS_HEADER, TRANSACTION_HEADER, TransactionLimits};

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address is not a loopback address and remote listening was not asked for.
    #[error(
        "refusing to listen on {0}: not a loopback address (use an explicit opt-in to listen beyond this machine)"
    )]
    NotLoopback(SocketAddr),
    /// Binding or serving failed.
    #[error("http server on {addr}: {source}")]
    Io {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What requests may cost the server. [`Limits::default`] documents the defaults.
///
/// A large GraphQL request costs the server 25–30 times its body while it is parsed and
/// run (a 1.8 MB request took 44–55 MB), so the body size alone bounds neither one request
/// nor, above all, many at once: the in-flight budget does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body accepted; a larger one is answered 413 (before it is read
    /// when its `Content-Length` says so). Default 8 MiB: axum's implicit limit was 2 MiB,
    /// barely above the 1.8 MB requests measured; 8 MiB leaves room for larger batches and
    /// schema loads, and one such request (about 256 MiB estimated) still fits the budget.
    pub max_body_bytes: usize,
    /// The memory, in bytes, that metered requests in flight may take together, each
    /// counted as its body × [`Limits::memory_per_body_byte`] (a request without
    /// `Content-Length` as [`Limits::max_body_bytes`]); a request larger than the whole
    /// budget waits for all of it. Default 512 MiB: about nine 1.8 MB requests at once
    /// (32 of them took 1.4–1.8 GB before), or two of the largest.
    pub in_flight_bytes: usize,
    /// The estimated memory a request takes per byte of its body. Default 32: 25–30 was
    /// measured for large GraphQL requests, rounded up.
    pub memory_per_body_byte: usize,
    /// Requests whose body is at most this many bytes (queries, single mutations, every
    /// `GET`) are not metered, so they are served while large ones hold the budget.
    /// Default 64 KiB (at most about 2 MiB of memory each).
    pub unmetered_body_bytes: usize,
    /// How long a metered request waits for its share of the budget before it is answered
    /// 503 (waiting requests have not read their body, so they cost little). Default 5 s.
    pub budget_wait: Duration,
    /// The nodes one query may resolve, at any depth, before it is stopped with
    /// `LIMIT_EXCEEDED`: a short document following a relationship cycle would otherwise
    /// grow the process without bound. Default 1,000,000 (about the whole of a 1M-node
    /// store, listed once).
    pub query_nodes: u64,
    /// How long one query may run before it is stopped the same way. Default 60 s.
    pub query_time: Duration,
    /// Run transactions: how many may be open, how long one may stay idle.
    pub transactions: TransactionLimits,
}

impl Limits {
    /// What one query received now may cost: [`Limits::query_nodes`] nodes, until
    /// [`Limits::query_time`] from now.
    fn query_budget(&self) -> infragen_store::QueryBudget {
        infragen_store::QueryBudget {
            max_nodes: self.query_nodes,
            deadline: Some(std::time::Instant::now() + self.query_time),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 << 20,
            in_flight_bytes: 512 << 20,
            memory_per_body_byte: 32,
            unmetered_body_bytes: 64 << 10,
            budget_wait: Duration::from_secs(5),
            query_nodes: 1_000_000,
            query_time: Duration::from_secs(60),
            transactions: TransactionLimits::default(),
        }
    }
}

/// The budget's unit: one permit is a KiB, so a `u32` of permits covers 4 TiB.
const PERMIT_BYTES: u64 = 1024;

/// The in-flight memory budget, in permits of [`PERMIT_BYTES`].
struct Budget {
    permits: Arc<Semaphore>,
    total: u32,
}

impl Budget {
    fn new(bytes: usize) -> Budget {
        let total = u32::try_from((bytes as u64).div_ceil(PERMIT_BYTES))
            .unwrap_or(u32::MAX)
            .max(1);
        Budget {
            permits: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// The permits for `bytes`, at least one and at most the whole budget.
    fn permits_for(&self, bytes: u64) -> u32 {
        u32::try_from(bytes.div_ceil(PERMIT_BYTES))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total)
    }
}

#[derive(Clone)]
struct App {
    store: Store,
    tokens: Arc<BTreeSet<String>>,
    limits: Arc<Limits>,
    budget: Arc<Budget>,
    transactions: Arc<transactions::Transactions>,
    /// What `infragen serve` adds to the API alone.
    services: Arc<Services>,
}

/// What a server running generators adds to the store's API.
#[derive(Default, Clone)]
pub struct Services {
    /// What answers `CoreGeneratorDefinitionRun` (the server's cascades).
    pub generators: Option<Arc<dyn GeneratorRuns>>,
    /// The store scope of the work queue the server's runs go to (`serve --queue`):
    /// `GET /api/queue` tells it to the workers, which pull only this server's runs.
    pub queue_scope: Option<String>,
    /// The `CoreGeneratorDefinitionRun` tasks of the server, shown by `InfrahubTask` with
    /// the run history's.
    pub tasks: Option<Arc<TaskBook>>,
}

#[derive(Deserialize)]
struct BranchQuery {
    branch: Option<String>,
}

/// The router (for embedding or tests), with the default [`Limits`]. `tokens` are accepted
/// besides the store's own.
pub fn router(store: Store, tokens: Vec<String>) -> Router {
    router_with_limits(store, tokens, Limits::default())
}

/// [`router`] with the given limits.
pub fn router_with_limits(store: Store, tokens: Vec<String>, limits: Limits) -> Router {
    router_with(store, tokens, limits, Services::default())
}

/// [`router_with_limits`], with a generator server's `services`.
pub fn router_with(
    store: Store,
    tokens: Vec<String>,
    limits: Limits,
    services: Services,
) -> Router {
    let app = App {
        services: Arc::new(services),
        store,
        tokens: Arc::new(tokens.into_iter().collect()),
        budget: Arc::new(Budget::new(limits.in_flight_bytes)),
        transactions: transactions::Transactions::new(limits.transactions.clone()),
        limits: Arc::new(limits),
    };
    Router::new()
        .route("/graphql", post(graphql_main))
        .route("/graphql/{*branch}", post(graphql_branch))
        .route("/api/schema", get(schema_get))
        .route("/api/schema/", get(schema_get))
        .route("/api/schema/load", post(schema_load))
        .route("/api/schema/check", post(schema_check))
        .route("/api/schema/summary", get(schema_summary))
        .route("/api/schema/{kind}", get(schema_kind))
        .route("/schema.graphql", get(sdl))
        .route(
            "/api/query/{name}",
            get(stored_query_get).post(stored_query_post),
        )
        .route("/api/queue", get(queue_get))
        .route("/api/runs", get(runs_list))
        .route("/api/runs/{id}", get(runs_show))
        .route("/api/transactions", post(transactions::begin))
        .route("/api/transactions/{id}/commit", post(transactions::commit))
        .route("/api/transactions/{id}/undo", post(transactions::undo))
        .route(
            "/api/transactions/{id}/keepalive",
            post(transactions::keepalive),
        )
        .route(
            "/api/transactions/{id}",
            axum::routing::delete(transactions::abandon),
        )
        .layer(DefaultBodyLimit::max(app.limits.max_body_bytes))
        // Layers run last added first: auth, then admission, then the body limit.
        .layer(middleware::from_fn_with_state(app.clone(), admit))
        .layer(middleware::from_fn_with_state(app.clone(), auth))
        .with_state(app)
}

/// Runs `work`, which reads or writes the store and may wait for its write turn, off the
/// async tasks' way: on a server's multi-threaded runtime in place, the worker thread
/// handing its other tasks on (`block_in_place`), which spares each request the hand-over
/// of its work and of its answer between two threads — ~7% of a write sent over HTTP in a
/// run transaction (the runs bench) — and elsewhere (a test's current-thread runtime) on
/// the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    if tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::MultiThread
    {
        Ok(tokio::task::block_in_place(work))
    } else {
        tokio::task::spawn_blocking(work).await
    }
}

/// `GET /api/queue`: the work queue this server's runs go to (`{"scope", "stream"}`), what
/// an `infragen worker` asks its server before pulling; 404 when the server runs its
/// generators itself.
async fn queue_get(State(app): State<App>) -> Response {
    match &app.services.queue_scope {
        Some(scope) => axum::Json(json!({
            "scope": scope,
            "stream": crate::scale_out::queue::RUNS_STREAM,
        }))
        .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "this server runs its generators itself: it was not started with `--queue`",
        ),
    }
}

/// An error in GraphQL's shape, with the status in `extensions.code`.
fn error(status: StatusCode, msg: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"data": null, "errors": [{"message": msg, "extensions": {"code": status.as_u16()}}]}),
        ),
    )
        .into_response()
}

/// An error in GraphQL's shape with the store's `code` (the one a client types errors by).
fn coded(status: StatusCode, code: ErrorCode, msg: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"data": null, "errors": [{"message": msg, "extensions": {"code": code.as_str()}}]}),
        ),
    )
        .into_response()
}

fn unauthorized(msg: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, msg)
}

/// 413 for a body over the limit (`size` when the request announced it).
fn too_large(limit: usize, size: Option<u64>) -> Response {
    let size = size.map(|n| format!(" of {n} bytes")).unwrap_or_default();
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "Request body{size} is too large: the limit is {limit} bytes; send smaller requests (e.g. fewer mutations per request)"
        ),
    )
}

/// Admission: refuse a body announced over the limit, and make a metered request take its
/// share of the in-flight budget (waiting at most `budget_wait`, else 503) for as long as it
/// runs. The request runs in its own task holding the share, so a client that goes away
/// does not free the budget before the work it started has ended.
async fn admit(State(app): State<App>, req: Request, next: Next) -> Response {
    let limits = &app.limits;
    let hint = req.body().size_hint();
    if hint.lower() > limits.max_body_bytes as u64 {
        return too_large(limits.max_body_bytes, Some(hint.lower()));
    }
    // Without a Content-Length (chunked), the body may be as large as the limit.
    let body = hint.upper().unwrap_or(limits.max_body_bytes as u64);
    if body <= limits.unmetered_body_bytes as u64 {
        return next.run(req).await;
    }
    let cost = body.saturating_mul(limits.memory_per_body_byte as u64);
    let permits = app.budget.permits_for(cost);
    let share = tokio::time::timeout(
        limits.budget_wait,
        app.budget.permits.clone().acquire_many_owned(permits),
    )
    .await;
    let Ok(Ok(share)) = share else {
        tracing::warn!(
            path = %req.uri().path(),
            body,
            "request refused: the in-flight memory budget is taken"
        );
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "Server busy: this request's body of {body} bytes needs an estimated {} bytes of the {}-byte memory budget for requests in flight, and it did not free up within {} ms; retry later",
                u64::from(permits) * PERMIT_BYTES,
                u64::from(app.budget.total) * PERMIT_BYTES,
                limits.budget_wait.as_millis()
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let run = tokio::spawn(async move {
        let r = next.run(req).await;
        drop(share);
        r
    });
    match run.await {
        Ok(r) => r,
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A request body read within [`Limits::max_body_bytes`]; over it, 413 in GraphQL's shape.
struct Body(Bytes);

impl FromRequest<App> for Body {
    type Rejection = Response;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, app).await {
            Ok(b) => Ok(Body(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(too_large(app.limits.max_body_bytes, None))
            }
            Err(e) => Err(error(e.status(), &e.body_text())),
        }
    }
}

async fn auth(State(app): State<App>, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("x-infrahub-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(token) = token else {
        return unauthorized("Authentication is required: send an X-INFRAHUB-KEY header");
    };
    let account = if app.tokens.contains(&token) {
        Some(Account::configured(&token))
    } else {
        // A lookup that fails is the server's problem, not a wrong token: answered as such,
        // so that a client does not go looking for another token.
        match app.store.token_account(&token) {
            Ok(account) => account,
            Err(error) => {
                tracing::error!(%error, "looking an API token up failed");
                return coded(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    error.code(),
                    &format!("The API token could not be checked: {error}"),
                );
            }
        }
    };
    let Some(account) = account else {
        tracing::warn!(path = %req.uri().path(), "request with an invalid API token refused");
        return unauthorized("Invalid API token");
    };
    let mut req = req;
    req.extensions_mut().insert(account);
    next.run(req).await
}

fn parse_body(body: &[u8]) -> Result<GraphqlRequest, Box<Response>> {
    serde_json::from_slice::<GraphqlRequest>(body).map_err(|e| {
        Box::new(coded(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            &format!("Invalid request body: {e}"),
        ))
    })
}

/// 403 for a request beyond the token's scope.
fn forbidden(scope: TokenScope, needed: TokenScope, what: &str) -> Response {
    error(
        StatusCode::FORBIDDEN,
        &format!("{what} needs a token of scope {needed}; this token's scope is {scope}"),
    )
}

/// Whether the document holds a mutation (a document that does not parse holds none; the
/// store answers it with the parse error).
fn has_mutation(query: &str) -> bool {
    async_graphql_parser::parse_query(query).is_ok_and(|document| {
        document.operations.iter().any(|(_, operation)| {
            operation.node.ty == async_graphql_parser::types::OperationType::Mutation
        })
    })
}

async fn run_graphql(
    app: App,
    account: Account,
    branch: String,
    transaction: Option<InTransaction>,
    body: Bytes,
) -> Response {
    let scope = account.scope;
    let req = match parse_body(&body) {
        Ok(r) => r.with_account(account.clone()),
        Err(resp) => return *resp,
    };
    if scope < TokenScope::Write && has_mutation(&req.query) {
        return forbidden(scope, TokenScope::Write, "a mutation");
    }
    if let Some(id) = transaction {
        return transactions::execute(&app, &account, &id.id, &branch, req, id.holding).await;
    }
    match tasks::task_list(&req) {
        Some(Ok(list)) => {
            let store = app.store.clone();
            let book = app.services.tasks.clone();
            let answer = blocking(move || tasks::answer(&store, book.as_deref(), &list)).await;
            return match answer {
                Ok(answer) => axum::Json(answer).into_response(),
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            };
        }
        Some(Err(message)) => return error(StatusCode::BAD_REQUEST, &message),
        None => {}
    }
    if let Some(runs) = &app.services.generators {
        match generators::definition_run(&req) {
            Some(Ok(call)) => {
                return axum::Json(generators::answer(runs.as_ref(), &branch, call).await)
                    .into_response();
            }
            Some(Err(message)) => return error(StatusCode::BAD_REQUEST, &message),
            None => {}
        }
    }
    let budget = app.limits.query_budget();
    // In the query's field order, as Infrahub answers.
    let store = app.store.clone();
    match blocking(move || store.answer_waiting(&branch, &req, budget)).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The parameters of `/api/query/{name}` that are not the query's variables.
const STORED_QUERY_PARAMS: [&str; 4] = ["branch", "at", "update_group", "subscribers"];

/// `GET /api/query/{name}?branch=B&var=value…`: a stored query (`CoreGraphQLQuery`,
/// recorded from `.infrahub.yml`'s `queries`) run by name, its variables from the URL.
async fn stored_query_get(
    State(app): State<App>,
    Extension(account): Extension<Account>,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let variables = params
        .iter()
        .filter(|(key, _)| !STORED_QUERY_PARAMS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    run_stored_query(app, account, name, &params, variables).await
}

/// `POST /api/query/{name}?branch=B` with `{"variables": {…}}`: what the Python SDK's
/// `query_gql_query` sends.
async fn stored_query_post(
    State(app): State<App>,
    Extension(account): Extension<Account>,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Response {
    let payload: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(payload) => payload,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")),
        }
    };
    let variables = payload
        .get("variables")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    run_stored_query(app, account, name, &params, variables).await
}

async fn run_stored_query(
    app: App,
    account: Account,
    name: String,
    params: &[(String, String)],
    variables: serde_json::Map<String, Value>,
) -> Response {
    let branch = params
        .iter()
        .find(|(key, _)| key == "branch")
        .map_or_else(|| MAIN.to_string(), |(_, value)| value.clone());
    let lookup = GraphqlRequest::new(
        "query StoredQuery($name: String!) { CoreGraphQLQuery(name__value: $name) { edges { node { id query { value } } } } }",
    )
    .with_variables(json!({ "name": name }));
    let found = app.store.execute(&branch, lookup).await;
    if found.get("errors").is_some() {
        return (StatusCode::NOT_FOUND, axum::Json(found)).into_response();
    }
    let Some(text) = found
        .pointer("/data/CoreGraphQLQuery/edges/0/node/query/value")
        .and_then(Value::as_str)
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Unable to find the node {name} / CoreGraphQLQuery in the database."),
        );
    };
    if account.scope < TokenScope::Write && has_mutation(text) {
        return forbidden(account.scope, TokenScope::Write, "a mutation");
    }
    let query_id = found
        .pointer("/data/CoreGraphQLQuery/edges/0/node/id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let update_group = params
        .iter()
        .any(|(key, value)| key == "update_group" && is_true(value));
    let subscribers: Vec<String> = params
        .iter()
        .filter(|(key, _)| key == "subscribers")
        .map(|(_, value)| value.clone())
        .collect();
    let related = infragen_store::RelatedNodes::default();
    let mut request = GraphqlRequest::new(text)
        .with_variables(Value::Object(variables.clone()))
        .with_account(account);
    if update_group {
        request = request.collecting(related.clone());
    }
    let budget = app.limits.query_budget();
    let store = app.store.clone();
    let asked = branch.clone();
    let response = match blocking(move || store.answer_waiting(&asked, &request, budget)).await {
        Ok(response) => response,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    if update_group && response.get("errors").is_none() {
        let group = QueryGroup {
            query_id: &query_id,
            query_name: &name,
            params: &variables,
            members: related.ids(),
            subscribers: &subscribers,
        };
        if let Err(errors) = group.update(&app.store, &branch).await {
            tracing::warn!(query = %name, branch = %branch, %errors, "the stored query's group was not updated");
        }
    }
    axum::Json(response).into_response()
}

/// Whether a query-string flag is set, as FastAPI reads a bool (`true`, `1`, `yes`, `on`).
fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

/// The `CoreGraphQLQueryGroup` of one stored query run with `update_group=true`, as
/// Infrahub keeps it: named `{query}__{dict_hash(params)}`, its members the nodes the
/// query returned (replaced on every run), its subscribers added.
struct QueryGroup<'a> {
    query_id: &'a str,
    query_name: &'a str,
    params: &'a serde_json::Map<String, Value>,
    members: Vec<String>,
    subscribers: &'a [String],
}

impl QueryGroup<'_> {
    async fn update(&self, store: &Store, branch: &str) -> Result<(), Value> {
        let hash = crate::tracking::group::dict_hash(self.params);
        let upsert = GraphqlRequest::new(
            "mutation QueryGroup($name: String!, $label: String!, $query: String!, \
             $parameters: GenericScalar, $members: [RelatedNodeInput]) { \
             CoreGraphQLQueryGroupUpsert(data: {name: {value: $name}, label: {value: $label}, \
             group_type: {value: \"internal\"}, query: {id: $query}, \
             parameters: {value: $parameters}, members: $members}) { ok object { id } } }",
        )
        .with_variables(json!({
            "name": format!("{}__{hash}", self.query_name),
            "label": format!("Query {} Hash({})", self.query_name, &hash[..8]),
            "query": self.query_id,
            "parameters": self.params,
            "members": self.members.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
        }));
        let response = store.execute(branch, upsert).await;
        let group_id = match response
            .pointer("/data/CoreGraphQLQueryGroupUpsert/object/id")
            .and_then(Value::as_str)
        {
            Some(id) if response.get("errors").is_none() => id.to_owned(),
            _ => return Err(response),
        };
        if self.subscribers.is_empty() {
            return Ok(());
        }
        let add = GraphqlRequest::new(
            "mutation Subscribe($group: String!, $nodes: [RelatedNodeInput]) { \
             RelationshipAdd(data: {id: $group, name: \"subscribers\", nodes: $nodes}) { ok } }",
        )
        .with_variables(json!({
            "group": group_id,
            "nodes": self.subscribers.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
        }));
        let response = store.execute(branch, add).await;
        match response.get("errors") {
            None => Ok(()),
            Some(_) => Err(response),
        }
    }
}

async fn graphql_main(
    State(app): State<App>,
    Extension(account): Extension<Account>,
    headers: axum::http::HeaderMap,
    Body(body): Body,
) -> Response {
    graphql_on(app, account, MAIN.to_string(), &headers, body).await
}

async fn graphql_branch(
    State(app): State<App>,
    Extension(account): Extension<Account>,
    Path(branch): Path<String>,
    headers: axum::http::HeaderMap,
    Body(body): Body,
) -> Response {
    graphql_on(app, account, branch, &headers, body).await
}

/// A GraphQL request on `branch`, in the run transaction its headers name, if any.
async fn graphql_on(
    app: App,
    account: Account,
    branch: String,
    headers: &axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    match transaction_of(headers) {
        Ok(transaction) => run_graphql(app, account, branch, transaction, body).await,
        Err(refused) => *refused,
    }
}

/// A request's run transaction ([`TRANSACTION_HEADER`]), and whether it asks for its
/// writes to be held ([`EFFECTS_HEADER`]).
struct InTransaction {
    id: String,
    holding: bool,
}

/// The run transaction a request names, if any; an [`EFFECTS_HEADER`] other than `hold`,
/// or without a transaction, is refused.
fn transaction_of(headers: &axum::http::HeaderMap) -> Result<Option<InTransaction>, Box<Response>> {
    let refuse = |message: String| Box::new(error(StatusCode::BAD_REQUEST, &message));
    let holding = match headers.get(EFFECTS_HEADER).map(HeaderValue::to_str) {
        None => false,
        Some(Ok("hold")) => true,
        Some(_) => {
            return Err(refuse(format!(
                "the {EFFECTS_HEADER} header's one value is `hold`"
            )));
        }
    };
    match headers.get(TRANSACTION_HEADER) {
        None if holding => Err(refuse(format!(
            "the {EFFECTS_HEADER} header needs a run transaction ({TRANSACTION_HEADER})"
        ))),
        None => Ok(None),
        Some(value) => match value.to_str() {
            Ok(id) => Ok(Some(InTransaction {
                id: id.trim().to_owned(),
                holding,
            })),
            Err(_) => Err(refuse(format!(
                "the {TRANSACTION_HEADER} header is not a transaction id"
            ))),
        },
    }
}

async fn schema_get(
    State(app): State<App>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let branch = params
        .iter()
        .find(|(key, _)| key == "branch")
        .map(|(_, value)| value.as_str());
    if let Some(missing) = unknown_branch(&app, branch) {
        return missing;
    }
    let namespaces: Vec<&str> = params
        .iter()
        .filter(|(key, _)| key == "namespaces")
        .map(|(_, value)| value.as_str())
        .collect();
    let mut schema = app.store.schema_json();
    if !namespaces.is_empty() {
        only_namespaces(&mut schema, &namespaces);
    }
    axum::Json(schema).into_response()
}

/// Keeps in `schema` (`GET /api/schema`'s answer) the kinds of `namespaces` only, as
/// Infrahub does for `?namespaces=A&namespaces=B` (what `infrahubctl dump --namespace`
/// asks for).
fn only_namespaces(schema: &mut Value, namespaces: &[&str]) {
    for section in ["nodes", "generics", "profiles", "templates"] {
        if let Some(Value::Array(kinds)) = schema.get_mut(section) {
            kinds.retain(|kind| {
                kind.get("namespace")
                    .and_then(Value::as_str)
                    .is_some_and(|namespace| namespaces.contains(&namespace))
            });
        }
    }
}

/// `GET /api/schema/summary?branch=B`: the schema's hash and each kind's.
async fn schema_summary(State(app): State<App>, Query(q): Query<BranchQuery>) -> Response {
    if let Some(missing) = unknown_branch(&app, q.branch.as_deref()) {
        return missing;
    }
    axum::Json(app.store.schema_summary()).into_response()
}

/// Infrahub's 404 when the branch a `?branch=` names does not exist (none is `main`);
/// `None` when it does. The schema is the same on every branch, so only existence matters.
/// Asked on a reader's connection, so a commit under way does not hold the request; a
/// store that cannot answer is a 500, not a missing branch.
fn unknown_branch(app: &App, branch: Option<&str>) -> Option<Response> {
    let branch = branch.unwrap_or(MAIN);
    match app.store.branch_exists(branch) {
        Ok(true) => None,
        Ok(false) => Some(
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"errors": [{
                    "message": format!("Branch: {branch} not found."),
                    "extensions": {"code": ErrorCode::BranchNotFound.as_str()},
                }]})),
            )
                .into_response(),
        ),
        Err(error) => {
            tracing::error!(branch, %error, "looking a branch up failed");
            Some(coded(
                StatusCode::INTERNAL_SERVER_ERROR,
                error.code(),
                &format!("Branch {branch} could not be looked up: {error}"),
            ))
        }
    }
}

/// `GET /api/runs`'s filters, as `infragen runs` takes them.
#[derive(Deserialize)]
struct RunsQuery {
    generator: Option<String>,
    target: Option<String>,
    branch: Option<String>,
    #[serde(default)]
    failed: bool,
    limit: Option<usize>,
}

/// The run history, newest first (without logs): what `infragen runs --json` prints.
async fn runs_list(State(app): State<App>, Query(q): Query<RunsQuery>) -> Response {
    let filter = infragen_store::RunFilter {
        generator: q.generator,
        target: q.target,
        branch: q.branch,
        failed: q.failed,
        limit: Some(q.limit.unwrap_or(100).min(10_000)),
    };
    let store = app.store.clone();
    match blocking(move || store.runs(&filter)).await {
        Ok(Ok(runs)) => axum::Json(
            runs.iter()
                .map(|run| crate::cascade::durable::run_json(run, false))
                .collect::<Vec<Value>>(),
        )
        .into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// One run with its log: what `infragen runs show ID --json` prints.
async fn runs_show(State(app): State<App>, Path(id): Path<String>) -> Response {
    let Ok(number) = id.parse::<i64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("`{id}` is not a run number"),
        );
    };
    let store = app.store.clone();
    match blocking(move || store.run_record(number)).await {
        Ok(Ok(Some(run))) => {
            axum::Json(crate::cascade::durable::run_json(&run, true)).into_response()
        }
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, &format!("Run {number} not found.")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn schema_kind(State(app): State<App>, Path(kind): Path<String>) -> Response {
    let all = app.store.schema_json();
    let found = ["nodes", "generics"]
        .iter()
        .flat_map(|section| all[*section].as_array().cloned().unwrap_or_default())
        .find(|k| k["kind"] == kind.as_str());
    match found {
        Some(k) => axum::Json(k).into_response(),
        None => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(
                json!({"errors": [{"message": format!("Unable to find the schema {kind}")}]}),
            ),
        )
            .into_response(),
    }
}

/// A name for a schema file sent as JSON: the kinds it defines, so loading it again replaces it.
fn api_file_name(v: &Value) -> String {
    let mut kinds = Vec::new();
    for section in ["generics", "nodes"] {
        for item in v
            .get(section)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ns = item
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let n = item.get("name").and_then(Value::as_str).unwrap_or_default();
            kinds.push(format!("{ns}{n}"));
        }
    }
    for item in v
        .get("extensions")
        .and_then(|e| e.get("nodes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        kinds.push(format!(
            "+{}",
            item.get("kind").and_then(Value::as_str).unwrap_or_default()
        ));
    }
    kinds.sort();
    format!("api:{}", kinds.join(","))
}

async fn schema_load(
    State(app): State<App>,
    Extension(account): Extension<Account>,
    Body(body): Body,
) -> Response {
    if account.scope < TokenScope::Admin {
        return forbidden(account.scope, TokenScope::Admin, "loading a schema");
    }
    let files = match schema_files(&body) {
        Ok(files) => files,
        Err(response) => return *response,
    };
    let store = app.store.clone();
    match blocking(move || store.load_schema(&files)).await {
        Ok(Ok(r)) => axum::Json(json!({"hash": r.hash, "previous_hash": r.previous_hash, "diff": r.diff, "warnings": [], "schema_updated": r.schema_updated})).into_response(),
        Ok(Err(e)) => schema_refused(&e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `POST /api/schema/check?branch=B` (`infrahubctl schema check`): what loading the
/// schemas would change, without loading them — 202 with the diff, or 422 with the
/// problems `schema load` would refuse them for. Any token may ask: nothing is written.
async fn schema_check(
    State(app): State<App>,
    Query(q): Query<BranchQuery>,
    Body(body): Body,
) -> Response {
    if let Some(missing) = unknown_branch(&app, q.branch.as_deref()) {
        return missing;
    }
    let files = match schema_files(&body) {
        Ok(files) => files,
        Err(response) => return *response,
    };
    let store = app.store.clone();
    match blocking(move || store.check_schema(&files)).await {
        Ok(Ok(diff)) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"diff": diff, "warnings": []})),
        )
            .into_response(),
        Ok(Err(e)) => schema_refused(&e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The schema files of a `{"schemas": [...]}` body, each named for the kinds it defines.
fn schema_files(body: &[u8]) -> Result<Vec<(String, String)>, Box<Response>> {
    let unprocessable = |message: String| {
        Box::new(
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({"errors": [{"message": message}]})),
            )
                .into_response(),
        )
    };
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| unprocessable(format!("Invalid request body: {e}")))?;
    let Some(schemas) = v.get("schemas").and_then(Value::as_array) else {
        return Err(unprocessable("expected {\"schemas\": [...]}".to_owned()));
    };
    Ok(schemas
        .iter()
        .map(|s| (api_file_name(s), s.to_string()))
        .collect())
}

/// 422 with one error per problem, as `infrahubctl schema load|check` print them.
fn schema_refused(e: &infragen_store::StoreError) -> Response {
    let problems = match e {
        infragen_store::StoreError::Schema(problems) => problems.clone(),
        other => vec![other.to_string()],
    };
    let errors: Vec<Value> = problems
        .iter()
        .map(|problem| json!({"message": problem}))
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({ "errors": errors })),
    )
        .into_response()
}

async fn sdl(State(app): State<App>) -> Response {
    let mut r = app.store.sdl().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Serve on a loopback `addr` until the process ends. Non-loopback addresses are refused.
pub async fn serve(store: Store, addr: SocketAddr, tokens: Vec<String>) -> Result<(), HttpError> {
    if !addr.ip().is_loopback() {
        return Err(HttpError::NotLoopback(addr));
    }
    serve_unrestricted(store, addr, tokens).await
}

/// Serve on any address (explicit opt-in to listen beyond this machine).
pub async fn serve_unrestricted(
    store: Store,
    addr: SocketAddr,
    tokens: Vec<String>,
) -> Result<(), HttpError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Io {
            addr: addr.to_string(),
            source,
        })?;
    serve_listener(store, listener, tokens).await
}

/// Serve on an already bound listener (tests bind `127.0.0.1:0`), with the default
/// [`Limits`].
pub async fn serve_listener(
    store: Store,
    listener: tokio::net::TcpListener,
    tokens: Vec<String>,
) -> Result<(), HttpError> {
    serve_listener_with_limits(store, listener, tokens, Limits::default()).await
}

/// [`serve_listener`] with the given limits.
pub async fn serve_listener_with_limits(
    store: Store,
    listener: tokio::net::TcpListener,
    tokens: Vec<String>,
    limits: Limits,
) -> Result<(), HttpError> {
    serve_listener_with(store, listener, tokens, limits, Services::default()).await
}

/// [`serve_listener_with_limits`], with a generator server's `services`.
pub async fn serve_listener_with(
    store: Store,
    listener: tokio::net::TcpListener,
    tokens: Vec<String>,
    limits: Limits,
    services: Services,
) -> Result<(), HttpError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(%addr, "store HTTP API listening");
    axum::serve(listener, router_with(store, tokens, limits, services))
        .await
        .map_err(|source| HttpError::Io { addr, source })
}
