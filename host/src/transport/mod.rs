//! How GraphQL documents reach a store: in-process to the embedded store, or
//! over HTTP to an Infrahub server (or `infragen serve`). The same documents go either way;
//! only this module knows the difference.

mod http;
mod in_process;

use async_trait::async_trait;
use serde_json::Value;

pub use http::{Http, HttpConfig, HttpConfigError, Idempotency, Retry};
pub use in_process::InProcess;

/// A transport failure, before any GraphQL semantics.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// The store could not be reached or answered with a server error;
    /// a retry may help.
    #[error("{0}")]
    Unreachable(String),
    /// The store refused the request (authentication, a wrong address).
    #[error("{0}")]
    Refused(String),
    /// The branch asked for does not exist in the store.
    #[error("{0}")]
    BranchNotFound(String),
    /// A run transaction could not commit: another writer changed the store during it, or
    /// it lost the write turn. Nothing of it was written; running it again may succeed.
    #[error("{0}")]
    Conflict(String),
}

/// Sends GraphQL documents to a store and reads its schema.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Executes `document` with `variables` on `branch` and returns the full
    /// response (`data` and/or `errors`), as Infrahub's `/graphql/{branch}`.
    async fn execute(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
    ) -> Result<Value, TransportError>;

    /// [`Transport::execute`] of a document whose [`Idempotency`] the caller knows because
    /// it wrote the document. The HTTP transport then need not parse it to decide whether
    /// a failed attempt may be repeated: over HTTP, parsing every document a run sent
    /// again took ~7% of the run's CPU. Transports that never repeat an attempt ignore it.
    async fn execute_known(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
        idempotency: Idempotency,
    ) -> Result<Value, TransportError> {
        let _ = idempotency;
        self.execute(branch, document, variables).await
    }

    /// [`Transport::execute`] of a read-only query whose answer a plugin reads as text: the
    /// whole response as the server wrote it, each object's fields in the server's order
    /// (Infrahub's, and `infragen serve`'s, are the query's). Sent, and repeated, as a read.
    /// This default writes the parsed response out again, its objects' fields by name.
    async fn query_text(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
    ) -> Result<String, TransportError> {
        let response = self
            .execute_known(branch, document, variables, Idempotency::Read)
            .await?;
        Ok(infragen_store::node::json_text(&response))
    }

    /// The schema of `branch` in the shape of Infrahub's `GET /api/schema`.
    async fn schema(&self, branch: &str) -> Result<Value, TransportError>;

    /// A transport whose requests run inside a new run transaction on `branch`, the
    /// `attempt`th run of its work (see `infragen serve`'s `/api/transactions`): its writes
    /// commit together with [`Transport::commit_transaction`], or not at all. `None` where
    /// the store offers none (Infrahub), and from transports whose backend keeps runs
    /// itself.
    async fn begin_transaction(
        &self,
        branch: &str,
        attempt: u32,
    ) -> Result<Option<Self>, TransportError>
    where
        Self: Sized,
    {
        let _ = (branch, attempt);
        Ok(None)
    }

    /// Commits the run transaction this transport's requests run in: the nodes it changed.
    async fn commit_transaction(&self) -> Result<usize, TransportError> {
        Err(TransportError::Refused(
            "this transport runs no transaction to commit".to_owned(),
        ))
    }

    /// Drops the run transaction this transport's requests run in, with its writes.
    fn abandon_transaction(&self) {}

    /// Whether this transport's mutations can answer what they did, node by node, and be
    /// undone right after ([`Transport::execute_holding`]): inside a run transaction of
    /// `infragen serve`.
    fn holds_effects(&self) -> bool {
        false
    }

    /// Executes a mutation inside the run transaction and answers, with the response, its
    /// effects on each node; its writes are held until the transport's next write keeps
    /// them or [`Transport::undo_held`] takes them back. Sent once.
    async fn execute_holding(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
    ) -> Result<(Value, Vec<infragen_store::WriteEffect>), TransportError> {
        let _ = (branch, document, variables);
        Err(TransportError::Refused(
            "this transport cannot show a write's effects".to_owned(),
        ))
    }

    /// Takes back what the last [`Transport::execute_holding`] wrote. When that cannot be
    /// done, the run transaction is marked so that it never commits.
    async fn undo_held(&self) -> Result<(), TransportError> {
        Err(TransportError::Refused(
            "this transport holds no writes to undo".to_owned(),
        ))
    }

    /// Whether the run transaction this transport's requests run in can no longer commit.
    fn transaction_outdated(&self) -> bool {
        false
    }
}
