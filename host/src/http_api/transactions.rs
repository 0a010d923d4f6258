//! Run transactions over HTTP: a client's generator run whose writes commit together or not
//! at all, as a run in `infragen` itself does (see `infragen_store::run`).
//!
//! Over Infrahub's API every mutation commits on its own, so a run that dies half-way — its
//! process killed, its machine gone — leaves half its output behind, and every write pays
//! for a commit. A client of `infragen serve` (the host's HTTP backend, a worker) can instead
//! open a transaction, send its queries and mutations inside it, and commit it:
//!
//! - `POST /api/transactions?branch=B` (body `{"attempt": n}`, optional) opens one on `B`
//!   once the store's write turn is free, and answers `201 {"id", "branch", "idle_ms"}`;
//! - a `POST /graphql/{B}` carrying the header `X-Infragen-Transaction: ID` runs inside it:
//!   it reads the store with the transaction's writes, and its mutations write into it;
//! - `POST /api/transactions/{id}/commit` writes everything at once (`200 {"id",
//!   "nodes_changed"}`), or answers `409` with code `CONFLICT`, having written nothing,
//!   when another writer changed the store meanwhile or the run lost the write turn;
//! - `DELETE /api/transactions/{id}` drops it;
//! - `POST /api/transactions/{id}/keepalive` keeps it from being dropped as idle while
//!   its client computes (the opening answer's `idle_ms` says how long it may go without).
//!
//! So that the client can check what each write did before keeping it — its ownership
//! policy, as a run in process does — a mutation sent with `X-Infragen-Effects: hold`
//! answers with `extensions.effects`, what it did to each node (the store's
//! `WriteEffect`s), and its writes are held: `POST /api/transactions/{id}/undo` takes them
//! back (`200 {"id", "undone"}`), the transaction's next write or its commit keeps them.
//! One request per write, and the check sees what the write really did (a node created
//! from a template, a peer deleted by cascade), not what the request named.
//!
//! A transaction belongs to the account that opened it (another token's request naming it is
//! answered 410, as one that is not open: unknown, over, or expired), and needs a `write`
//! token. One left without a request
//! for [`TransactionLimits::idle`] — its client killed — is dropped with everything in it, so
//! a dead client leaves nothing behind; at most [`TransactionLimits::open`] are open at once,
//! and one may change at most [`TransactionLimits::nodes`] nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use infragen_store::graphql::Answer;
use infragen_store::{
    Account, ErrorCode, GraphqlRequest, MAIN, RunTransaction, StoreError, TokenScope,
};
use serde::Deserialize;
use serde_json::json;

use super::{App, BranchQuery, coded, error, forbidden};

/// The header naming the transaction a GraphQL request runs in.
pub const TRANSACTION_HEADER: &str = "x-infragen-transaction";

/// The header asking, on a request inside a transaction, for its writes' effects and for
/// the writes to be held (its value: `hold`): see [`RunTransaction::execute_holding`].
pub const EFFECTS_HEADER: &str = "x-infragen-effects";

/// How many run transactions may be open, and for how long one may go without a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionLimits {
    /// Open at once; one more is answered 503. Default 64: a transaction waiting for the
    /// write turn costs a task; one holding it, the memory of its writes. 0 turns run
    /// transactions off: opening one is then answered 404, as Infrahub answers it, and
    /// clients write one mutation at a time.
    pub open: usize,
    /// Dropped, with its writes, after this long without a request. Default 300 s: longer
    /// than a run's default deadline, so only a client that is gone loses its transaction.
    pub idle: Duration,
    /// Nodes one transaction may change before its mutations are refused
    /// (`LIMIT_EXCEEDED`): its writes stay in the server's memory until the commit.
    /// Default 100,000, a few hundred times what one AI/DC run writes.
    pub nodes: usize,
}

impl Default for TransactionLimits {
    fn default() -> Self {
        TransactionLimits {
            open: 64,
            idle: Duration::from_secs(300),
            nodes: 100_000,
        }
    }
}

/// One open transaction.
struct Open {
    run: Arc<RunTransaction>,
    /// The account that opened it; only it may use it.
    account: String,
    last_used: Instant,
}

/// The open transactions of one server.
pub(super) struct Transactions {
    open: Mutex<HashMap<String, Open>>,
    limits: TransactionLimits,
}

/// Why a request cannot use the transaction it names.
#[derive(Debug, thiserror::Error)]
pub(super) enum TransactionError {
    /// Not open (never was, committed, abandoned, expired) or another account's.
    #[error(
        "run transaction {id} is not open: it was committed or abandoned, or dropped after {idle:?} without a request"
    )]
    NotOpen {
        /// The id named.
        id: String,
        /// The idle expiry.
        idle: Duration,
    },
    /// The request's branch is not the transaction's.
    #[error(
        "run transaction {id} is on branch `{opened}`; a request on branch `{asked}` cannot run in it"
    )]
    OtherBranch {
        /// The id named.
        id: String,
        /// Its branch.
        opened: String,
        /// The request's.
        asked: String,
    },
}

impl TransactionError {
    fn response(&self) -> Response {
        let status = match self {
            // Gone rather than not found: a client can tell its transaction ended (it
            // expired, or the server restarted) from a wrong address.
            TransactionError::NotOpen { .. } => StatusCode::GONE,
            TransactionError::OtherBranch { .. } => StatusCode::BAD_REQUEST,
        };
        error(status, &self.to_string())
    }
}

impl Transactions {
    pub(super) fn new(limits: TransactionLimits) -> Arc<Transactions> {
        let transactions = Arc::new(Transactions {
            open: Mutex::new(HashMap::new()),
            limits,
        });
        // Without a runtime (a router built outside one) expired transactions are still
        // dropped, at the next request that looks one up.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sweep_while_alive(Arc::downgrade(&transactions)));
        }
        transactions
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Open>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops the transactions idle for longer than the limit; the dropped runs give their
    /// write turn back and write nothing.
    fn sweep(&self) {
        let expired: Vec<(String, Open)> = {
            let mut open = self.lock();
            let ids: Vec<String> = open
                .iter()
                .filter(|(_, t)| t.last_used.elapsed() > self.limits.idle)
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter()
                .filter_map(|id| open.remove(&id).map(|t| (id, t)))
                .collect()
        };
        for (id, transaction) in expired {
            tracing::warn!(transaction = %id, branch = %transaction.run.branch(), changed = transaction.run.changed(), "run transaction dropped after going idle; nothing of it is written");
            transaction.run.abandon();
        }
    }

    fn not_open(&self, id: &str) -> TransactionError {
        TransactionError::NotOpen {
            id: id.to_owned(),
            idle: self.limits.idle,
        }
    }

    /// The transaction `id` of `account` on `branch`, marked used now.
    pub(super) fn get(
        &self,
        id: &str,
        account: &Account,
        branch: &str,
    ) -> Result<Arc<RunTransaction>, TransactionError> {
        let run = self.owned(id, account)?;
        if run.branch() != branch {
            return Err(TransactionError::OtherBranch {
                id: id.to_owned(),
                opened: run.branch().to_owned(),
                asked: branch.to_owned(),
            });
        }
        Ok(run)
    }

    /// The transaction `id` of `account`, marked used now.
    fn owned(&self, id: &str, account: &Account) -> Result<Arc<RunTransaction>, TransactionError> {
        self.sweep();
        let mut open = self.lock();
        let transaction = open
            .get_mut(id)
            .filter(|t| t.account == account.id)
            .ok_or_else(|| self.not_open(id))?;
        transaction.last_used = Instant::now();
        Ok(Arc::clone(&transaction.run))
    }

    /// Takes the transaction `id` of `account` out, to commit or drop it.
    fn take(&self, id: &str, account: &Account) -> Result<Arc<RunTransaction>, TransactionError> {
        self.sweep();
        let mut open = self.lock();
        match open.get(id) {
            Some(t) if t.account == account.id => {}
            _ => return Err(self.not_open(id)),
        }
        open.remove(id)
            .map(|t| t.run)
            .ok_or_else(|| self.not_open(id))
    }
}

/// Sweeps `transactions` every few seconds until the server is gone.
async fn sweep_while_alive(transactions: Weak<Transactions>) {
    let every = transactions.upgrade().map_or(Duration::from_secs(1), |t| {
        (t.limits.idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(10))
    });
    loop {
        tokio::time::sleep(every).await;
        match transactions.upgrade() {
            Some(transactions) => transactions.sweep(),
            None => return,
        }
    }
}

#[derive(Deserialize, Default)]
struct BeginBody {
    attempt: Option<u32>,
}

/// `POST /api/transactions?branch=B`.
pub(super) async fn begin(
    State(app): State<App>,
    Extension(account): Extension<Account>,
    Query(params): Query<BranchQuery>,
    body: axum::body::Bytes,
) -> Response {
    if account.scope < TokenScope::Write {
        return forbidden(account.scope, TokenScope::Write, "a run transaction");
    }
    let body: BeginBody = if body.is_empty() {
        BeginBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("invalid body: expected {{\"attempt\": n}} or nothing: {e}"),
                );
            }
        }
    };
    let transactions = &app.transactions;
    if transactions.limits.open == 0 {
        return error(
            StatusCode::NOT_FOUND,
            "run transactions are turned off on this server; write one mutation at a time",
        );
    }
    let branch = params.branch.unwrap_or_else(|| MAIN.to_owned());
    transactions.sweep();
    if transactions.lock().len() >= transactions.limits.open {
        return too_many(transactions.limits.open);
    }
    let run = match app
        .store
        .begin_rerun(&branch, body.attempt.unwrap_or(1).max(1))
        .await
    {
        Ok(run) => run,
        Err(StoreError::BranchNotFound(name)) => {
            return error(StatusCode::NOT_FOUND, &format!("Branch: {name} not found."));
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let id = uuid::Uuid::new_v4().to_string();
    {
        // Counted again: others may have opened theirs while this one waited for the turn.
        let mut open = transactions.lock();
        if open.len() >= transactions.limits.open {
            drop(open);
            run.abandon();
            return too_many(transactions.limits.open);
        }
        open.insert(
            id.clone(),
            Open {
                run: Arc::new(run),
                account: account.id,
                last_used: Instant::now(),
            },
        );
    }
    tracing::debug!(transaction = %id, %branch, account = %account.name, "run transaction opened");
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "id": id,
            "branch": branch,
            "idle_ms": u64::try_from(transactions.limits.idle.as_millis()).unwrap_or(u64::MAX),
        })),
    )
        .into_response()
}

/// `POST /api/transactions/{id}/keepalive`: a client that is alive but not sending
/// requests (its generator computing) keeps its transaction from being dropped as idle.
/// It does not count as using the write turn: a writer waiting still takes the turn from a
/// run that only keeps alive, as from one that idles in process.
pub(super) async fn keepalive(
    State(app): State<App>,
    Extension(account): Extension<Account>,
    Path(id): Path<String>,
) -> Response {
    match app.transactions.owned(&id, &account) {
        Ok(_) => axum::Json(json!({ "id": id })).into_response(),
        Err(e) => e.response(),
    }
}

/// A transaction's store error in GraphQL's shape, coded as the store codes it: 409 for a
/// conflict (the run lost its turn, or the store changed under it), else 500.
fn store_error(e: &StoreError) -> Response {
    let code = e.code();
    let status = if code == ErrorCode::Conflict {
        StatusCode::CONFLICT
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    coded(status, code, &e.to_string())
}

/// 503: `limit` transactions are open.
fn too_many(limit: usize) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!(
            "{limit} run transactions are open, the most this server allows; commit or drop one, or retry later"
        ),
    )
}

/// `POST /api/transactions/{id}/commit`.
pub(super) async fn commit(
    State(app): State<App>,
    Extension(account): Extension<Account>,
    Path(id): Path<String>,
) -> Response {
    let run = match app.transactions.take(&id, &account) {
        Ok(run) => run,
        Err(e) => return e.response(),
    };
    let committed = super::blocking(move || run.commit()).await;
    match committed {
        Ok(Ok(done)) => {
            axum::Json(json!({ "id": id, "nodes_changed": done.nodes_changed })).into_response()
        }
        Ok(Err(e)) => store_error(&e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `DELETE /api/transactions/{id}`.
pub(super) async fn abandon(
    State(app): State<App>,
    Extension(account): Extension<Account>,
    Path(id): Path<String>,
) -> Response {
    match app.transactions.take(&id, &account) {
        Ok(run) => {
            run.abandon();
            axum::Json(json!({ "id": id, "abandoned": true })).into_response()
        }
        Err(e) => e.response(),
    }
}

/// `POST /api/transactions/{id}/undo`: takes back the writes of the last request sent
/// with [`EFFECTS_HEADER`], unless the transaction wrote since.
pub(super) async fn undo(
    State(app): State<App>,
    Extension(account): Extension<Account>,
    Path(id): Path<String>,
) -> Response {
    let run = match app.transactions.owned(&id, &account) {
        Ok(run) => run,
        Err(e) => return e.response(),
    };
    match super::blocking(move || run.undo_held()).await {
        Ok(Ok(undone)) => axum::Json(json!({ "id": id, "undone": undone })).into_response(),
        Ok(Err(e)) => store_error(&e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A GraphQL request inside transaction `id` (see [`TRANSACTION_HEADER`]); with
/// `holding`, its effects are answered and its writes held (see [`EFFECTS_HEADER`]).
pub(super) async fn execute(
    app: &App,
    account: &Account,
    id: &str,
    branch: &str,
    request: GraphqlRequest,
    holding: bool,
) -> Response {
    let run = match app.transactions.get(id, account, branch) {
        Ok(run) => run,
        Err(e) => return e.response(),
    };
    // The count first: the document is parsed again only for a transaction at its limit.
    if let Some(changed) = run.changed_reaching(app.transactions.limits.nodes)
        && super::has_mutation(&request.query)
    {
        return coded(
            StatusCode::OK,
            ErrorCode::LimitExceeded,
            &format!(
                "run transaction {id} has changed {changed} nodes, the most this server keeps in one; commit it, or write less in one run"
            ),
        );
    }
    let budget = app.limits.query_budget();
    let answered = super::blocking(move || {
        if !holding {
            return run.answer(&request, Some(budget));
        }
        let (mut answer, effects) = run.execute_holding(&request, Some(budget));
        // A response is an object: its `data`, and its `errors` when there are any.
        if let Answer::Object(fields) = &mut answer {
            fields.insert("extensions", json!({ "effects": effects }));
        }
        answer
    })
    .await;
    match answered {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
