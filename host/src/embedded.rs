//! The embedded store as a [`Backend`], called through its typed API.
//!
//! Every host import but a plugin's own GraphQL query is a function call into the store
//! ([`Store::write_node`], [`Store::nodes`], [`Store::allocate`], …): no document is
//! rendered, parsed or validated, and the store's typed errors are mapped by their
//! [`ErrorCode`](infragen_store::ErrorCode), never by their text. What a run sees is what
//! [`GraphqlBackend`](crate::client::GraphqlBackend) over HTTP to `infragen serve` gives it:
//! the conformance suite (`tests/backend_conformance.rs`) runs the same operations against
//! both and compares the results.
//!
//! The calls run on the caller's thread. A store operation is short, and the store has one
//! connection, so handing each to another thread would only add a hop.

use async_trait::async_trait;
use infragen_store::{GraphqlRequest, PoolKind, Store, StoreError, WriteOp};
use serde_json::{Map, Value, json};

use crate::backend::{
    AddressAllocation, Allocated, Backend, BackendError, NodeRef, PrefixAllocation,
};
use crate::client::{
    address_input, check_filters, check_kind, code_kind, data_or_error, prefix_input,
};

/// The embedded store, in this process.
#[derive(Clone)]
pub struct EmbeddedBackend {
    store: Store,
}

impl EmbeddedBackend {
    /// A backend over an open store.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The store behind this backend.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn write(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
    ) -> Result<Option<NodeRef>, BackendError> {
        check_kind(kind)?;
        let written = self
            .store
            .write_node(branch, kind, op, data)
            .map_err(store_error)?;
        Ok(written.map(|node| NodeRef {
            id: node.id,
            kind: node.kind,
            hfid: node.hfid.unwrap_or_default(),
        }))
    }

    fn written(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        self.write(branch, kind, op, data)?.ok_or_else(|| {
            BackendError::new(
                crate::backend::ErrorKind::Backend,
                format!("{kind}{} returned no object", op.name()),
            )
        })
    }

    fn allocate(
        &self,
        branch: &str,
        pool: PoolKind,
        input: Map<String, Value>,
    ) -> Result<Allocated, BackendError> {
        let allocated = self
            .store
            .allocate(branch, pool, &Value::Object(input))
            .map_err(store_error)?;
        Ok(Allocated {
            node: NodeRef {
                id: allocated.id,
                kind: allocated.kind,
                hfid: Vec::new(),
            },
            value: allocated.value,
        })
    }
}

/// A store error as the contract's categories see it: by its code.
fn store_error(error: StoreError) -> BackendError {
    BackendError::new(code_kind(error.code()), error.to_string())
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn query(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
    ) -> Result<Value, BackendError> {
        let request = GraphqlRequest {
            query: document.to_owned(),
            variables: Some(variables.clone()),
            operation_name: None,
        };
        data_or_error(self.store.execute_blocking(branch, &request))
    }

    async fn upsert(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        self.written(branch, kind, WriteOp::Upsert, data)
    }

    async fn update(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        self.written(branch, kind, WriteOp::Update, data)
    }

    async fn delete(&self, branch: &str, kind: &str, id: &str) -> Result<(), BackendError> {
        self.write(branch, kind, WriteOp::Delete, &json!({ "id": id }))?;
        Ok(())
    }

    async fn filters(
        &self,
        branch: &str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<Value>, BackendError> {
        check_kind(kind)?;
        let filters = check_filters(filters)?;
        self.store
            .nodes(branch, kind, filters, include)
            .map_err(store_error)
    }

    async fn relationship_add(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError> {
        self.store
            .edit_relationship(branch, id, name, peers, true)
            .map_err(store_error)
    }

    async fn relationship_remove(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError> {
        self.store
            .edit_relationship(branch, id, name, peers, false)
            .map_err(store_error)
    }

    async fn allocate_prefix(
        &self,
        branch: &str,
        request: &PrefixAllocation,
    ) -> Result<Allocated, BackendError> {
        self.allocate(branch, PoolKind::Prefix, prefix_input(request))
    }

    async fn allocate_address(
        &self,
        branch: &str,
        request: &AddressAllocation,
    ) -> Result<Allocated, BackendError> {
        self.allocate(branch, PoolKind::Address, address_input(request))
    }
}
