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
//! A run is atomic here ([`Backend::begin_run`]): [`EmbeddedRun`] keeps its writes in a
//! [`RunTransaction`] that commits when the run succeeds and is dropped when it fails. The
//! host's own writes between runs take the store's write turn, so they never land in the
//! middle of a run.
//!
//! The calls run on the caller's thread. A store operation is short, and the store has one
//! connection, so handing each to another thread would only add a hop.

use std::sync::Arc;

use async_trait::async_trait;
use infragen_store::graphql::Answer;
use infragen_store::{
    Claim, ClaimHolder, GraphqlRequest, PoolKind, QueryBudget, RunTransaction, Store, StoreError,
    TurnGuard, WriteCheck, WriteOp, Written,
};
use serde_json::{Map, Value, json};

use crate::backend::{
    AddressAllocation, Allocated, Backend, BackendError, ErrorKind, NodeRef, PrefixAllocation,
    RunScope,
};
use crate::cascade::durable::{RunQueue, StoreRunQueue, this_process};
use crate::client::{
    address_input, check_filters, check_kind, code_kind, data_or_error, prefix_input,
};

/// Sealed: the two things an [`Embedded`] backend can be over.
mod ops {
    use super::*;

    /// What the embedded backends call: the store itself, or one run's transaction on it.
    /// A write's `check`, when given, sees what the write did before it is kept; outside
    /// a run a write commits at once and there is nothing to check it against.
    #[async_trait]
    pub trait StoreOps: Send + Sync {
        /// The write turn to hold for one write; `None` where it is held already (a run).
        async fn turn(&self) -> Option<TurnGuard>;
        /// Whether a write's check is shown what the write did.
        fn checks_effects(&self) -> bool;
        /// The store whose run claims this backend keeps (not a run's).
        fn claims(&self) -> Option<&Store>;
        fn write_node(
            &self,
            branch: &str,
            kind: &str,
            op: WriteOp,
            data: &Value,
            check: Option<WriteCheck<'_>>,
        ) -> Result<Option<Written>, StoreError>;
        fn edit_relationship(
            &self,
            branch: &str,
            id: &str,
            name: &str,
            peers: &[String],
            add: bool,
            check: Option<WriteCheck<'_>>,
        ) -> Result<(), StoreError>;
        fn allocate(
            &self,
            branch: &str,
            pool: PoolKind,
            input: &Value,
            check: Option<WriteCheck<'_>>,
        ) -> Result<infragen_store::Allocated, StoreError>;
        /// Sets one attribute when it holds another value, in one operation (see
        /// [`Backend::stamp_checked`]).
        fn stamp(
            &self,
            branch: &str,
            kind: &str,
            id: &str,
            attribute: &str,
            value: &Value,
            check: WriteCheck<'_>,
        ) -> Result<Option<bool>, StoreError>;
        /// The default selection of the nodes, as JSON text.
        fn nodes_json(
            &self,
            branch: &str,
            kind: &str,
            filters: &Map<String, Value>,
            include: &[String],
        ) -> Result<Vec<String>, StoreError>;
        /// The value of one attribute of one node (see [`Backend::attribute_value`]).
        fn attribute_value(
            &self,
            branch: &str,
            kind: &str,
            id: &str,
            attribute: &str,
        ) -> Result<Option<Value>, StoreError>;
        /// The whole response (`data`, `errors`), each object's fields in selection order.
        fn execute(
            &self,
            branch: &str,
            request: &GraphqlRequest,
            budget: Option<QueryBudget>,
        ) -> Result<Answer, BackendError>;
        async fn begin_run(
            &self,
            branch: &str,
            attempt: u32,
        ) -> Result<Option<Arc<dyn RunScope>>, BackendError>;
    }
}
use ops::StoreOps;

#[async_trait]
impl StoreOps for Store {
    async fn turn(&self) -> Option<TurnGuard> {
        Some(self.write_turn().await)
    }
    fn checks_effects(&self) -> bool {
        false
    }
    fn claims(&self) -> Option<&Store> {
        Some(self)
    }
    fn write_node(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
        _check: Option<WriteCheck<'_>>,
    ) -> Result<Option<Written>, StoreError> {
        Store::write_node(self, branch, kind, op, data)
    }
    fn edit_relationship(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
        add: bool,
        _check: Option<WriteCheck<'_>>,
    ) -> Result<(), StoreError> {
        Store::edit_relationship(self, branch, id, name, peers, add)
    }
    fn allocate(
        &self,
        branch: &str,
        pool: PoolKind,
        input: &Value,
        _check: Option<WriteCheck<'_>>,
    ) -> Result<infragen_store::Allocated, StoreError> {
        Store::allocate(self, branch, pool, input)
    }
    fn nodes_json(
        &self,
        branch: &str,
        kind: &str,
        filters: &Map<String, Value>,
        include: &[String],
    ) -> Result<Vec<String>, StoreError> {
        Store::nodes_json(self, branch, kind, filters, include)
    }
    /// Outside a run a write commits at once: nothing to check it against.
    fn stamp(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        attribute: &str,
        value: &Value,
        _check: WriteCheck<'_>,
    ) -> Result<Option<bool>, StoreError> {
        Store::stamp(self, branch, kind, id, attribute, value)
    }
    fn attribute_value(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        attribute: &str,
    ) -> Result<Option<Value>, StoreError> {
        Store::attribute_value(self, branch, kind, id, attribute)
    }
    /// Outside a run, queries are the host's own (a definition's query): unbudgeted.
    fn execute(
        &self,
        branch: &str,
        request: &GraphqlRequest,
        _budget: Option<QueryBudget>,
    ) -> Result<Answer, BackendError> {
        Ok(self.answer_blocking(branch, request))
    }
    async fn begin_run(
        &self,
        branch: &str,
        attempt: u32,
    ) -> Result<Option<Arc<dyn RunScope>>, BackendError> {
        let run = Store::begin_rerun(self, branch, attempt)
            .await
            .map_err(store_error)?;
        Ok(Some(Arc::new(Embedded { ops: run })))
    }
}

/// A run answers for its own branch only: the host fixes a run's branch, so another
/// one here is the host's mistake.
fn same_branch(run: &RunTransaction, branch: &str) -> Result<(), StoreError> {
    if run.branch() == branch {
        Ok(())
    } else {
        Err(StoreError::BadRequest(format!(
            "a run on branch `{}` cannot use branch `{branch}`",
            run.branch()
        )))
    }
}

#[async_trait]
impl StoreOps for RunTransaction {
    async fn turn(&self) -> Option<TurnGuard> {
        None
    }
    fn checks_effects(&self) -> bool {
        true
    }
    fn claims(&self) -> Option<&Store> {
        None
    }
    fn write_node(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
        check: Option<WriteCheck<'_>>,
    ) -> Result<Option<Written>, StoreError> {
        same_branch(self, branch)?;
        match check {
            Some(check) => RunTransaction::write_node_checked(self, kind, op, data, check),
            None => RunTransaction::write_node(self, kind, op, data),
        }
    }
    fn edit_relationship(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
        add: bool,
        check: Option<WriteCheck<'_>>,
    ) -> Result<(), StoreError> {
        same_branch(self, branch)?;
        match check {
            Some(check) => {
                RunTransaction::edit_relationship_checked(self, id, name, peers, add, check)
            }
            None => RunTransaction::edit_relationship(self, id, name, peers, add),
        }
    }
    fn allocate(
        &self,
        branch: &str,
        pool: PoolKind,
        input: &Value,
        check: Option<WriteCheck<'_>>,
    ) -> Result<infragen_store::Allocated, StoreError> {
        same_branch(self, branch)?;
        match check {
            Some(check) => RunTransaction::allocate_checked(self, pool, input, check),
            None => RunTransaction::allocate(self, pool, input),
        }
    }
    fn nodes_json(
        &self,
        branch: &str,
        kind: &str,
        filters: &Map<String, Value>,
        include: &[String],
    ) -> Result<Vec<String>, StoreError> {
        same_branch(self, branch)?;
        RunTransaction::nodes_json(self, kind, filters, include)
    }
    fn attribute_value(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        attribute: &str,
    ) -> Result<Option<Value>, StoreError> {
        same_branch(self, branch)?;
        RunTransaction::attribute_value(self, kind, id, attribute)
    }
    fn stamp(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        attribute: &str,
        value: &Value,
        check: WriteCheck<'_>,
    ) -> Result<Option<bool>, StoreError> {
        same_branch(self, branch)?;
        RunTransaction::stamp_checked(self, kind, id, attribute, value, check)
    }
    fn execute(
        &self,
        branch: &str,
        request: &GraphqlRequest,
        budget: Option<QueryBudget>,
    ) -> Result<Answer, BackendError> {
        same_branch(self, branch).map_err(store_error)?;
        Ok(RunTransaction::answer(self, request, budget))
    }
    async fn begin_run(
        &self,
        _branch: &str,
        _attempt: u32,
    ) -> Result<Option<Arc<dyn RunScope>>, BackendError> {
        Err(BackendError::new(
            ErrorKind::Backend,
            "a run cannot start another run inside itself",
        ))
    }
}

/// The embedded store, or a run on it, as a [`Backend`].
pub struct Embedded<T> {
    ops: T,
}

/// The embedded store, in this process.
pub type EmbeddedBackend = Embedded<Store>;

/// One atomic run on the embedded store (see [`Backend::begin_run`]).
pub type EmbeddedRun = Embedded<RunTransaction>;

impl Clone for EmbeddedBackend {
    fn clone(&self) -> Self {
        Self {
            ops: self.ops.clone(),
        }
    }
}

impl EmbeddedBackend {
    /// A backend over an open store.
    pub fn new(store: Store) -> Self {
        Self { ops: store }
    }

    /// The store behind this backend.
    pub fn store(&self) -> &Store {
        &self.ops
    }
}

impl<T: StoreOps> Embedded<T> {
    async fn write(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
        check: Option<WriteCheck<'_>>,
    ) -> Result<Option<NodeRef>, BackendError> {
        check_kind(kind)?;
        let _turn = self.ops.turn().await;
        let written = {
            let _phase = tracing::trace_span!("write").entered();
            self.ops
                .write_node(branch, kind, op, data, check)
                .map_err(store_error)?
        };
        Ok(written.map(|node| NodeRef {
            id: node.id,
            kind: node.kind,
            hfid: node.hfid.unwrap_or_default(),
        }))
    }

    async fn written(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        self.write(branch, kind, op, data, None)
            .await?
            .ok_or_else(|| {
                BackendError::new(
                    ErrorKind::Backend,
                    format!("{kind}{} returned no object", op.name()),
                )
            })
    }

    async fn allocate(
        &self,
        branch: &str,
        pool: PoolKind,
        input: Map<String, Value>,
        check: Option<WriteCheck<'_>>,
    ) -> Result<Allocated, BackendError> {
        let _turn = self.ops.turn().await;
        let allocated = {
            let _phase = tracing::trace_span!("allocate").entered();
            self.ops
                .allocate(branch, pool, &Value::Object(input), check)
                .map_err(store_error)?
        };
        Ok(Allocated {
            node: NodeRef {
                id: allocated.id,
                kind: allocated.kind,
                hfid: Vec::new(),
            },
            value: allocated.value,
        })
    }

    async fn edit(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
        add: bool,
        check: Option<WriteCheck<'_>>,
    ) -> Result<(), BackendError> {
        let _turn = self.ops.turn().await;
        let _phase = tracing::trace_span!("edit").entered();
        self.ops
            .edit_relationship(branch, id, name, peers, add, check)
            .map_err(store_error)
    }

    /// The response to `document`: its `data`, or its errors as one error.
    fn query_with(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
        budget: Option<QueryBudget>,
    ) -> Result<Answer, BackendError> {
        let _phase = tracing::trace_span!("query").entered();
        let request = GraphqlRequest::new(document).with_variables(variables.clone());
        // The store parses and resolves recursively, and may be called on a guest's fiber,
        // whose stack its parser cannot measure (see `native_stack`). A document parsed
        // before (a plugin's, by the host's read-only check) is given to the store so that
        // nothing is parsed.
        let response = crate::native_stack::for_document(document, |parsed| {
            let request = match parsed {
                Some(parsed) => request.with_parsed(parsed),
                None => request,
            };
            self.ops.execute(branch, &request, budget)
        })?;
        answer_data_or_error(response)
    }
}

/// The `data` of `response`, or its errors as one error (as [`data_or_error`] reads a
/// response that came as a [`Value`]).
fn answer_data_or_error(response: Answer) -> Result<Answer, BackendError> {
    let Answer::Object(mut fields) = response else {
        return data_or_error(response.into_value()).map(Answer::from);
    };
    if fields.get("errors").is_some() {
        return data_or_error(Answer::Object(fields).into_value()).map(Answer::from);
    }
    Ok(fields.remove("data").unwrap_or(Answer::NULL))
}

/// A store error as the contract's categories see it: by its code.
fn store_error(error: StoreError) -> BackendError {
    BackendError::new(code_kind(error.code()), error.to_string())
}

#[async_trait]
impl<T: StoreOps + 'static> Backend for Embedded<T> {
    async fn begin_run(
        &self,
        branch: &str,
        attempt: u32,
    ) -> Result<Option<Arc<dyn RunScope>>, BackendError> {
        self.ops.begin_run(branch, attempt).await
    }

    fn checks_effects(&self) -> bool {
        self.ops.checks_effects()
    }

    async fn claim_run(&self, key: &str) -> Result<Option<Claim>, BackendError> {
        match self.ops.claims() {
            Some(store) => store
                .claim_run(key, this_process())
                .map(Some)
                .map_err(store_error),
            None => Ok(None),
        }
    }

    async fn release_run(&self, key: &str) -> Result<(), BackendError> {
        match self.ops.claims() {
            Some(store) => store.release_run(key, this_process()).map_err(store_error),
            None => Ok(()),
        }
    }

    async fn run_claim(&self, key: &str) -> Result<Option<ClaimHolder>, BackendError> {
        match self.ops.claims() {
            Some(store) => store.run_claim(key).map_err(store_error),
            None => Ok(None),
        }
    }

    fn keeps_claims(&self) -> bool {
        self.ops.claims().is_some()
    }

    fn run_queue(&self) -> Option<Arc<dyn RunQueue>> {
        self.ops
            .claims()
            .map(|store| Arc::new(StoreRunQueue::new(store.clone())) as Arc<dyn RunQueue>)
    }

    async fn write_checked(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
        check: WriteCheck<'_>,
    ) -> Result<Option<NodeRef>, BackendError> {
        self.write(branch, kind, op, data, Some(check)).await
    }

    async fn edit_checked(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
        add: bool,
        check: WriteCheck<'_>,
    ) -> Result<(), BackendError> {
        self.edit(branch, id, name, peers, add, Some(check)).await
    }

    async fn stamp_checked(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        attribute: &str,
        value: &Value,
        check: WriteCheck<'_>,
    ) -> Result<Option<bool>, BackendError> {
        check_kind(kind)?;
        let _turn = self.ops.turn().await;
        let _phase = tracing::trace_span!("stamp").entered();
        self.ops
            .stamp(branch, kind, id, attribute, value, check)
            .map_err(store_error)
    }

    async fn query(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
    ) -> Result<Value, BackendError> {
        Ok(self
            .query_with(branch, document, variables, None)?
            .into_value())
    }

    async fn query_text(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
        budget: QueryBudget,
    ) -> Result<String, BackendError> {
        Ok(self
            .query_with(branch, document, variables, Some(budget))?
            .to_text())
    }

    async fn upsert(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        self.written(branch, kind, WriteOp::Upsert, data).await
    }

    async fn update(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        self.written(branch, kind, WriteOp::Update, data).await
    }

    async fn delete(&self, branch: &str, kind: &str, id: &str) -> Result<(), BackendError> {
        self.write(branch, kind, WriteOp::Delete, &json!({ "id": id }), None)
            .await?;
        Ok(())
    }

    async fn filters(
        &self,
        branch: &str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<Value>, BackendError> {
        let texts = self.filters_json(branch, kind, filters, include).await?;
        infragen_store::api::selection_values(kind, &texts).map_err(store_error)
    }

    async fn filters_json(
        &self,
        branch: &str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<String>, BackendError> {
        check_kind(kind)?;
        let filters = check_filters(filters)?;
        self.ops
            .nodes_json(branch, kind, filters, include)
            .map_err(store_error)
    }

    async fn attribute_value(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        attribute: &str,
    ) -> Result<Option<Value>, BackendError> {
        check_kind(kind)?;
        self.ops
            .attribute_value(branch, kind, id, attribute)
            .map_err(store_error)
    }

    async fn relationship_add(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError> {
        self.edit(branch, id, name, peers, true, None).await
    }

    async fn relationship_remove(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError> {
        self.edit(branch, id, name, peers, false, None).await
    }

    async fn allocate_prefix(
        &self,
        branch: &str,
        request: &PrefixAllocation,
    ) -> Result<Allocated, BackendError> {
        self.allocate(branch, PoolKind::Prefix, prefix_input(request), None)
            .await
    }

    async fn allocate_prefix_checked(
        &self,
        branch: &str,
        request: &PrefixAllocation,
        check: WriteCheck<'_>,
    ) -> Result<Allocated, BackendError> {
        self.allocate(branch, PoolKind::Prefix, prefix_input(request), Some(check))
            .await
    }

    async fn allocate_address(
        &self,
        branch: &str,
        request: &AddressAllocation,
    ) -> Result<Allocated, BackendError> {
        self.allocate(branch, PoolKind::Address, address_input(request), None)
            .await
    }

    async fn allocate_address_checked(
        &self,
        branch: &str,
        request: &AddressAllocation,
        check: WriteCheck<'_>,
    ) -> Result<Allocated, BackendError> {
        self.allocate(
            branch,
            PoolKind::Address,
            address_input(request),
            Some(check),
        )
        .await
    }
}

#[async_trait]
impl RunScope for EmbeddedRun {
    async fn commit(&self) -> Result<(), BackendError> {
        let committed = {
            let _phase = tracing::trace_span!("run_commit").entered();
            self.ops.commit().map_err(store_error)?
        };
        tracing::debug!(
            branch = self.ops.branch(),
            nodes_changed = committed.nodes_changed,
            "run committed"
        );
        Ok(())
    }

    fn abandon(&self) {
        self.ops.abandon();
    }

    fn outdated(&self) -> bool {
        self.ops.outdated()
    }
}
