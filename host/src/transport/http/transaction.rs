//! The client side of `infragen serve`'s run transactions (see
//! `crate::http_api::transactions`): a run's requests go inside one, and its writes commit
//! together or not at all. A server without them — Infrahub — answers the opening request
//! 404 or 405, and the run writes one mutation at a time as before.

use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

use super::{Http, branch_not_found, checked, server_says};
use crate::error_chain::with_causes;
use crate::transport::TransportError;

/// A run transaction a transport's requests run in.
pub(super) struct OpenTransaction {
    id: String,
    /// `id` as the request header carries it.
    pub(super) header: HeaderValue,
    /// The `DELETE` that drops it on the server.
    drop: reqwest::RequestBuilder,
    /// Committed or dropped: nothing to drop when the last transport goes.
    over: AtomicBool,
    /// An answer inside it carried a `CONFLICT` error: the server's run lost its write turn
    /// or the store changed under it, and it can only fail.
    conflicted: AtomicBool,
    /// A write refused by the caller's check could not be undone: the transaction must
    /// never commit.
    poisoned: AtomicBool,
}

impl OpenTransaction {
    /// Notes what an answer inside the transaction says about it.
    pub(super) fn observe(&self, answer: &Value) {
        let conflict = infragen_store::ErrorCode::Conflict.as_str();
        let conflicted = answer
            .get("errors")
            .and_then(Value::as_array)
            .is_some_and(|errors| {
                errors.iter().any(|error| {
                    error.pointer("/extensions/code").and_then(Value::as_str) == Some(conflict)
                })
            });
        if conflicted {
            self.conflicted.store(true, Ordering::SeqCst);
        }
    }

    /// Notes that the server no longer has it (it expired, or the server restarted).
    pub(super) fn gone(&self) {
        self.conflicted.store(true, Ordering::SeqCst);
        self.over.store(true, Ordering::SeqCst);
    }

    /// Whether it can no longer commit (see [`OpenTransaction::observe`]).
    pub(super) fn outdated(&self) -> bool {
        self.conflicted.load(Ordering::SeqCst)
    }

    /// Drops the transaction on the server, unless it is already over. Without a runtime to
    /// send that from, the server drops it once it has been idle for its limit.
    pub(super) fn abandon(&self) {
        if self.over.swap(true, Ordering::SeqCst) {
            return;
        }
        let (Ok(runtime), Some(request)) =
            (tokio::runtime::Handle::try_current(), self.drop.try_clone())
        else {
            return;
        };
        let id = self.id.clone();
        runtime.spawn(async move {
            if let Err(error) = request.send().await {
                tracing::debug!(transaction = %id, error = %with_causes(&error), "could not drop the run transaction; the server drops it when it goes idle");
            }
        });
    }
}

impl Drop for OpenTransaction {
    /// A transaction no one committed (the run failed, or its task was cancelled) is
    /// dropped on the server.
    fn drop(&mut self) {
        self.abandon();
    }
}

impl Http {
    /// The error of an answer a transaction's endpoint did not expect: a refused token, a
    /// server error (worth another try later), anything else.
    fn unexpected(&self, url: &reqwest::Url, status: StatusCode, said: &str) -> TransportError {
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                TransportError::Refused(self.auth_refusal(url, status, said))
            }
            status if status.is_server_error() => {
                TransportError::Unreachable(format!("{url} answered {status}{said}"))
            }
            status => TransportError::Refused(format!("{url} answered {status}{said}")),
        }
    }

    /// Opens a run transaction on `branch` (see [`crate::transport::Transport::begin_transaction`]).
    /// Sent once: a lost answer leaves a transaction no one uses, which the server drops
    /// when it goes idle, while a second one would wait behind it for the write turn.
    pub(super) async fn begin(
        &self,
        branch: &str,
        attempt: u32,
    ) -> Result<Option<Http>, TransportError> {
        if self.transaction.is_some() {
            // As on the embedded store: a second transaction would wait for the write turn
            // this one holds.
            return Err(TransportError::Refused(
                "a run cannot start another run inside itself".to_owned(),
            ));
        }
        let mut url = self.url("api/transactions")?;
        url.query_pairs_mut()
            .append_pair("branch", checked(branch)?);
        let request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(json!({ "attempt": attempt }).to_string());
        let response = self.with_token(request).send().await.map_err(|error| {
            TransportError::Unreachable(format!(
                "Infrahub at {} could not be reached to open a run transaction: {}",
                self.address,
                with_causes(&error)
            ))
        })?;
        let (status, json, said) = read_answer(response).await;
        match status {
            StatusCode::CREATED => {}
            StatusCode::NOT_FOUND if let Some(message) = branch_not_found(json.as_ref()) => {
                return Err(TransportError::BranchNotFound(message));
            }
            // Infrahub, or a server from before run transactions.
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => return Ok(None),
            status => return Err(self.unexpected(&url, status, &said)),
        }
        let Some(id) = json
            .as_ref()
            .and_then(|answer| answer.get("id"))
            .and_then(Value::as_str)
        else {
            return Err(TransportError::Unreachable(format!(
                "{url} opened a run transaction but did not name it{said}"
            )));
        };
        let header = HeaderValue::from_str(id).map_err(|_| {
            TransportError::Unreachable(format!(
                "{url} named its run transaction `{id}`, which no header can carry"
            ))
        })?;
        let drop = self.with_token(
            self.client
                .delete(self.url(&format!("api/transactions/{id}"))?),
        );
        let keepalive_url = self.url(&format!("api/transactions/{id}/keepalive"))?;
        let idle = json
            .as_ref()
            .and_then(|answer| answer.get("idle_ms"))
            .and_then(Value::as_u64)
            .map(std::time::Duration::from_millis);
        let transaction = std::sync::Arc::new(OpenTransaction {
            id: id.to_owned(),
            header,
            drop,
            over: AtomicBool::new(false),
            conflicted: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
        });
        if let (Some(idle), Ok(runtime)) = (idle, tokio::runtime::Handle::try_current()) {
            runtime.spawn(keep_alive(
                std::sync::Arc::downgrade(&transaction),
                self.with_token(self.client.post(keepalive_url)),
                idle / 3,
            ));
        }
        let mut transport = self.clone();
        transport.transaction = Some(transaction);
        tracing::debug!(transaction = id, branch, attempt, "run transaction opened");
        Ok(Some(transport))
    }

    /// Commits the transaction this transport's requests run in; the nodes it changed.
    /// Sent once: whether a commit whose answer was lost happened cannot be asked again.
    pub(super) async fn commit(&self) -> Result<usize, TransportError> {
        let Some(transaction) = &self.transaction else {
            return Err(TransportError::Refused(
                "no run transaction to commit: this transport's requests commit one by one"
                    .to_owned(),
            ));
        };
        if transaction.poisoned.load(Ordering::SeqCst) {
            transaction.abandon();
            return Err(TransportError::Refused(
                "the run is not committed: a write its ownership check refused could not be undone, so the run transaction was dropped"
                    .to_owned(),
            ));
        }
        let url = self.url(&format!("api/transactions/{}/commit", transaction.id))?;
        // Whatever the answer, nothing is left to drop: committed, refused (and dropped by
        // the server), or unknown to it.
        transaction.over.store(true, Ordering::SeqCst);
        let response = self
            .with_token(self.client.post(url.clone()))
            .send()
            .await
            .map_err(|error| {
                TransportError::Unreachable(format!(
                    "{url} could not be reached to commit the run ({}); whether it committed is unknown",
                    with_causes(&error)
                ))
            })?;
        let (status, json, said) = read_answer(response).await;
        match status {
            StatusCode::OK => Ok(json
                .as_ref()
                .and_then(|answer| answer.get("nodes_changed"))
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or_default()),
            StatusCode::CONFLICT | StatusCode::GONE => Err(TransportError::Conflict(format!(
                "the run could not commit{said}"
            ))),
            status => Err(self.unexpected(&url, status, &said)),
        }
    }
}

impl Http {
    /// A mutation inside the run transaction, its writes held and its effects answered
    /// (see [`crate::transport::Transport::execute_holding`]).
    pub(super) async fn holding(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
    ) -> Result<(Value, Vec<infragen_store::WriteEffect>), TransportError> {
        if self.transaction.is_none() {
            return Err(TransportError::Refused(
                "a write's effects are shown only inside a run transaction".to_owned(),
            ));
        }
        let request = self.graphql_request(branch, document, variables, true)?;
        let url = request.url().clone();
        let mut answer = self.send(request, super::Idempotency::Write).await?;
        let failed = answer.get("errors").is_some();
        let effects = match answer
            .get_mut("extensions")
            .and_then(|extensions| extensions.get_mut("effects"))
        {
            Some(effects) => serde_json::from_value(effects.take()).map_err(|error| {
                TransportError::Unreachable(format!(
                    "{url} answered effects that cannot be read: {error}"
                ))
            })?,
            // A failed mutation may answer none; one that wrote always does.
            None if failed => Vec::new(),
            None => {
                return Err(TransportError::Unreachable(format!(
                    "{url} answered a held write without its effects (a server without them?)"
                )));
            }
        };
        Ok((answer, effects))
    }

    /// Takes back the last held request's writes; when that fails, the transaction is
    /// poisoned (it will not commit) and the error says so.
    pub(super) async fn undo(&self) -> Result<(), TransportError> {
        let Some(transaction) = &self.transaction else {
            return Err(TransportError::Refused(
                "no run transaction holds writes to undo".to_owned(),
            ));
        };
        let url = self.url(&format!("api/transactions/{}/undo", transaction.id))?;
        let undone = match self.with_token(self.client.post(url.clone())).send().await {
            Ok(response) => match read_answer(response).await {
                (StatusCode::OK, json, _) => {
                    match json.as_ref().and_then(|answer| answer.get("undone")) {
                        Some(Value::Bool(true)) => Ok(()),
                        Some(Value::Bool(false)) => Err(format!("{url} had nothing held to undo")),
                        _ => Err(format!("{url} answered without saying what it undid")),
                    }
                }
                (status, _, said) => Err(format!("{url} answered {status}{said}")),
            },
            Err(error) => Err(with_causes(&error)),
        };
        undone.map_err(|reason| {
            transaction.poisoned.store(true, Ordering::SeqCst);
            TransportError::Unreachable(format!(
                "a refused write could not be undone ({reason}); the run will not be committed"
            ))
        })
    }
}

/// An answer's status, its body as JSON when it is, and what the server said in it.
async fn read_answer(response: reqwest::Response) -> (StatusCode, Option<Value>, String) {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    let json = serde_json::from_slice::<Value>(&body).ok();
    let said = server_says(json.as_ref(), &body);
    (status, json, said)
}

/// Keeps `transaction` from being dropped as idle while its run computes between requests,
/// with `request` every `period`, for as long as the run holds it: the task ends when the
/// transaction is committed, dropped, or gone on the server. A client that dies stops
/// sending, and the server drops what it left.
async fn keep_alive(
    transaction: std::sync::Weak<OpenTransaction>,
    request: reqwest::RequestBuilder,
    period: std::time::Duration,
) {
    let period = period.max(std::time::Duration::from_millis(50));
    loop {
        tokio::time::sleep(period).await;
        match transaction.upgrade() {
            Some(open) if !open.over.load(Ordering::SeqCst) => {}
            _ => return,
        }
        let Some(request) = request.try_clone() else {
            return;
        };
        match request.send().await {
            Ok(response) if response.status() == StatusCode::GONE => return,
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(error = %with_causes(&error), "could not keep the run transaction alive; trying again");
            }
        }
    }
}
