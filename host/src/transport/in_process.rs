//! The embedded store, called directly: no sockets, no serialisation of the
//! response beyond the JSON the store already produces.

use async_trait::async_trait;
use infragen_store::{GraphqlRequest, Store};
use serde_json::Value;

use super::{Transport, TransportError};

/// A transport to an embedded store in this process.
#[derive(Clone)]
pub struct InProcess {
    store: Store,
}

impl InProcess {
    /// Wraps an open store.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The store behind this transport.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

#[async_trait]
impl Transport for InProcess {
    async fn execute(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
    ) -> Result<Value, TransportError> {
        let request = GraphqlRequest::new(document).with_variables(variables);
        Ok(self.store.execute(branch, request).await)
    }

    async fn query_text(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
    ) -> Result<String, TransportError> {
        let request = GraphqlRequest::new(document).with_variables(variables);
        Ok(self.store.answer(branch, request).await.to_text())
    }

    async fn schema(&self, _branch: &str) -> Result<Value, TransportError> {
        Ok(self.store.schema_json())
    }
}
