//! The HTTP API, with Infrahub's endpoints: `POST /graphql`, `POST /graphql/{branch}`,
//! `GET /api/schema?branch=`, `GET /api/schema/{kind}`, `POST /api/schema/load`,
//! `GET /schema.graphql`.
//!
//! Every request needs an `X-INFRAHUB-KEY` header holding a configured token or one created
//! with [`Store::create_token`]; otherwise 401. [`serve`] refuses to listen beyond loopback;
//! [`serve_unrestricted`] is the explicit opt-in.

use crate::graph::MAIN;
use crate::graphql::GraphqlRequest;
use crate::store::Store;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

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

#[derive(Clone)]
struct App {
    store: Store,
    tokens: Arc<BTreeSet<String>>,
}

#[derive(Deserialize)]
struct BranchQuery {
    branch: Option<String>,
}

/// The router (for embedding or tests). `tokens` are accepted besides the store's own.
pub fn router(store: Store, tokens: Vec<String>) -> Router {
    let app = App {
        store,
        tokens: Arc::new(tokens.into_iter().collect()),
    };
    Router::new()
        .route("/graphql", post(graphql_main))
        .route("/graphql/{*branch}", post(graphql_branch))
        .route("/api/schema", get(schema_get))
        .route("/api/schema/", get(schema_get))
        .route("/api/schema/load", post(schema_load))
        .route("/api/schema/{kind}", get(schema_kind))
        .route("/schema.graphql", get(sdl))
        .layer(middleware::from_fn_with_state(app.clone(), auth))
        .with_state(app)
}

fn unauthorized(msg: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(
            json!({"data": null, "errors": [{"message": msg, "extensions": {"code": 401}}]}),
        ),
    )
        .into_response()
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
    let ok = app.tokens.contains(&token) || app.store.token_is_valid(&token).unwrap_or(false);
    if !ok {
        tracing::warn!(path = %req.uri().path(), "request with an invalid API token refused");
        return unauthorized("Invalid API token");
    }
    next.run(req).await
}

fn parse_body(body: &[u8]) -> Result<GraphqlRequest, Box<Response>> {
    serde_json::from_slice::<GraphqlRequest>(body).map_err(|e| {
        Box::new((StatusCode::BAD_REQUEST, axum::Json(json!({"data": null, "errors": [{"message": format!("Invalid request body: {e}")}]}))).into_response())
    })
}

async fn run_graphql(app: App, branch: String, body: axum::body::Bytes) -> Response {
    let req = match parse_body(&body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let v = app.store.execute(&branch, req).await;
    axum::Json(v).into_response()
}

async fn graphql_main(State(app): State<App>, body: axum::body::Bytes) -> Response {
    run_graphql(app, MAIN.to_string(), body).await
}

async fn graphql_branch(
    State(app): State<App>,
    Path(branch): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    run_graphql(app, branch, body).await
}

async fn schema_get(State(app): State<App>, Query(q): Query<BranchQuery>) -> Response {
    let branch = q.branch.unwrap_or_else(|| MAIN.to_string());
    if branch != MAIN
        && !app
            .store
            .branches()
            .map(|b| b.iter().any(|x| x.name == branch))
            .unwrap_or(false)
    {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"errors": [{"message": format!("Branch: {branch} not found.")}]})),
        )
            .into_response();
    }
    axum::Json(app.store.schema_json()).into_response()
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

async fn schema_load(State(app): State<App>, body: axum::body::Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({"errors": [{"message": format!("Invalid request body: {e}")}]})),
            )
                .into_response();
        }
    };
    let Some(schemas) = v.get("schemas").and_then(Value::as_array) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"errors": [{"message": "expected {\"schemas\": [...]}"}]})),
        )
            .into_response();
    };
    let files: Vec<(String, String)> = schemas
        .iter()
        .map(|s| (api_file_name(s), s.to_string()))
        .collect();
    let store = app.store.clone();
    match tokio::task::spawn_blocking(move || store.load_schema(&files)).await {
        Ok(Ok(r)) => axum::Json(json!({"hash": r.hash, "previous_hash": r.previous_hash, "diff": {}, "warnings": [], "schema_updated": r.schema_updated})).into_response(),
        Ok(Err(e)) => (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"errors": e.to_string().lines().map(|l| json!({"message": l})).collect::<Vec<_>>()}))).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
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

/// Serve on an already bound listener (tests bind `127.0.0.1:0`).
pub async fn serve_listener(
    store: Store,
    listener: tokio::net::TcpListener,
    tokens: Vec<String>,
) -> Result<(), HttpError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(%addr, "store HTTP API listening");
    axum::serve(listener, router(store, tokens))
        .await
        .map_err(|source| HttpError::Io { addr, source })
}
