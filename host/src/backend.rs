//! What a run needs from the data store, independent of how it is reached.
//!
//! The host imports (`nodes`, `graphql`, `pools`) are implemented once, over
//! this trait; the embedded store and a remote Infrahub are two
//! implementations of it, and a recording double serves the runtime's own
//! tests. Every method takes the branch explicitly: the branch is fixed by the
//! host per run and never chosen by a plugin.

use std::sync::Arc;

use async_trait::async_trait;
use infragen_store::{Claim, ClaimHolder, QueryBudget, WriteCheck, WriteOp};
use serde::Serialize;
use serde_json::Value;

/// Why a backend operation failed, in the categories a plugin can act on.
///
/// These map onto the contract's `error-kind`, so a backend failure reaches
/// the plugin as a typed error rather than a trap: one-to-one, except
/// [`ErrorKind::BranchNotFound`], which the contract has no kind for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The node, pool or kind does not exist.
    NotFound,
    /// The backend refused the data.
    Validation,
    /// The operation is not allowed.
    PermissionDenied,
    /// A pool is exhausted or a budget spent.
    LimitExceeded,
    /// The backend is unreachable or failed; a retry may succeed.
    Backend,
    /// The request was malformed.
    InvalidInput,
    /// Conflicting writes or reservations.
    Conflict,
    /// The branch the run works on does not exist in the backend (never
    /// created, or deleted meanwhile). Not a missing node: nothing can be
    /// taken as already deleted, and retrying does not help. A plugin sees
    /// it as `invalid-input` (its request named a branch that is not there).
    BranchNotFound,
}

/// A failed backend operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    /// The category of the failure.
    pub kind: ErrorKind,
    /// What happened, with the names needed to act on it.
    pub message: String,
}

impl BackendError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// A stored node, as the backend identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRef {
    /// Unique id.
    pub id: String,
    /// Schema kind.
    pub kind: String,
    /// Human-friendly id components (empty when the kind has none).
    pub hfid: Vec<String>,
}

/// A pool addressed by id or by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolSelector {
    /// The pool node's id.
    Id(String),
    /// The pool's name.
    Name(String),
}

/// A request for the next prefix of an IP prefix pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrefixAllocation {
    /// The pool to allocate from.
    pub pool: PoolSelector,
    /// Reservation key: the same identifier yields the same prefix.
    pub identifier: Option<String>,
    /// Length of the prefix; the pool default when absent.
    pub prefix_length: Option<u8>,
    /// `prefix` or `address`; the pool default when absent.
    pub member_type: Option<String>,
    /// Kind of the created node; the pool default when absent.
    pub prefix_type: Option<String>,
    /// Extra attributes of the created node, in input form.
    pub data: Option<Value>,
}

/// A request for the next address of an IP address pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressAllocation {
    /// The pool to allocate from.
    pub pool: PoolSelector,
    /// Reservation key: the same identifier yields the same address.
    pub identifier: Option<String>,
    /// Prefix length of the created address; the pool default when absent.
    pub prefix_length: Option<u8>,
    /// Kind of the created node; the pool default when absent.
    pub address_type: Option<String>,
    /// Extra attributes of the created node, in input form.
    pub data: Option<Value>,
}

/// What a pool handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocated {
    /// The created (or reserved) node.
    pub node: NodeRef,
    /// The prefix or address in canonical text form.
    pub value: String,
}

/// A run whose writes commit together or not at all (see [`Backend::begin_run`]).
///
/// It is itself a [`Backend`] on the run's branch: reads see the run's own writes, writes
/// stay in the run until [`RunScope::commit`]. Dropping it, or [`RunScope::abandon`],
/// discards them.
#[async_trait]
pub trait RunScope: Backend {
    /// Writes everything the run did, at once. Fails with [`ErrorKind::Conflict`], having
    /// written nothing, when someone else changed the store during the run.
    async fn commit(&self) -> Result<(), BackendError>;

    /// Discards everything the run did.
    fn abandon(&self);

    /// Whether someone else changed the store since the run started, or the run lost its
    /// turn to write by holding it idle while another writer waited, so that what it
    /// computed may be wrong and running it again may succeed.
    fn outdated(&self) -> bool;
}

/// The operations a generator run performs against a data store.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Starts a run on `branch` whose writes commit together, when this backend can
    /// (the embedded store); `None` when every write commits on its own (Infrahub over
    /// HTTP, which has no transactions). `attempt` counts from 1: a run started again
    /// after a conflict may be given more patience (see
    /// [`infragen_store::Store::begin_rerun`]).
    async fn begin_run(
        &self,
        branch: &str,
        attempt: u32,
    ) -> Result<Option<Arc<dyn RunScope>>, BackendError> {
        let _ = (branch, attempt);
        Ok(None)
    }

    /// Runs a read-only GraphQL query; returns the response's `data`.
    async fn query(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
    ) -> Result<Value, BackendError>;

    /// [`Backend::query`] for a plugin: the response's `data` as JSON text, stopped as it
    /// runs when `budget` (nodes resolved, deadline) runs out, with
    /// [`ErrorKind::LimitExceeded`], where the backend can (the embedded store); elsewhere
    /// the plain query (the caller still caps the response's size). Backends that get the
    /// answer as text or build it in order (the embedded store, `infragen serve` and
    /// Infrahub over HTTP) keep each object's fields in the order the query selects them,
    /// as Infrahub answers; this default lists them by name.
    async fn query_text(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
        budget: QueryBudget,
    ) -> Result<String, BackendError> {
        let _ = budget;
        let data = self.query(branch, document, variables).await?;
        Ok(infragen_store::node::json_text(&data))
    }

    /// `<Kind>Upsert` with `data` in Infrahub's input form.
    async fn upsert(&self, branch: &str, kind: &str, data: &Value)
    -> Result<NodeRef, BackendError>;

    /// `<Kind>Update`; `data` carries `id` or `hfid`.
    async fn update(&self, branch: &str, kind: &str, data: &Value)
    -> Result<NodeRef, BackendError>;

    /// `<Kind>Delete` of the node `id`.
    async fn delete(&self, branch: &str, kind: &str, id: &str) -> Result<(), BackendError>;

    /// Every node of `kind` matching `filters` (all pages), in Infrahub's query
    /// shape, with the cardinality-many relationships named in `include`.
    async fn filters(
        &self,
        branch: &str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<Value>, BackendError>;

    /// [`Backend::filters`] as JSON text, one object per node: what a guest receives.
    /// The embedded store writes the text straight from its nodes, without the `Value`
    /// trees in between.
    async fn filters_json(
        &self,
        branch: &str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<String>, BackendError> {
        Ok(self
            .filters(branch, kind, filters, include)
            .await?
            .iter()
            .map(Value::to_string)
            .collect())
    }

    /// The value of attribute `attribute` of node `id` of `kind` (or a kind inheriting
    /// it), as [`Backend::filters`] shows it: `None` when there is no such node,
    /// `Value::Null` when it shows no value (unset, or not an attribute of `kind`). The
    /// embedded store reads the one value instead of the node's whole selection.
    async fn attribute_value(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        attribute: &str,
    ) -> Result<Option<Value>, BackendError> {
        let nodes = self
            .filters(branch, kind, &serde_json::json!({ "ids": [id] }), &[])
            .await?;
        Ok(nodes.first().map(|node| {
            node.get(attribute)
                .and_then(|field| field.get("value"))
                .cloned()
                .unwrap_or(Value::Null)
        }))
    }

    /// `RelationshipAdd` of `peers` to relationship `name` of node `id`.
    async fn relationship_add(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError>;

    /// `RelationshipRemove` of `peers` from relationship `name` of node `id`.
    async fn relationship_remove(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError>;

    /// The next free prefix of a prefix pool (or the one reserved under the
    /// request's identifier).
    async fn allocate_prefix(
        &self,
        branch: &str,
        request: &PrefixAllocation,
    ) -> Result<Allocated, BackendError>;

    /// The next free address of an address pool (or the reserved one).
    async fn allocate_address(
        &self,
        branch: &str,
        request: &AddressAllocation,
    ) -> Result<Allocated, BackendError>;

    /// Claims the run `key` (branch, generator, target) for this process, where the
    /// backend keeps claims (the embedded store, see [`infragen_store::claims`]); `None`
    /// where it does not.
    async fn claim_run(&self, key: &str) -> Result<Option<Claim>, BackendError> {
        let _ = key;
        Ok(None)
    }

    /// Gives the run `key` back.
    async fn release_run(&self, key: &str) -> Result<(), BackendError> {
        let _ = key;
        Ok(())
    }

    /// Who holds the run `key`'s claim; `None` when nobody does or the backend keeps no
    /// claims (see [`Backend::keeps_claims`]).
    async fn run_claim(&self, key: &str) -> Result<Option<ClaimHolder>, BackendError> {
        let _ = key;
        Ok(None)
    }

    /// Whether [`Backend::claim_run`] claims anything.
    fn keeps_claims(&self) -> bool {
        false
    }

    /// The durable run queue and history this backend keeps, if any (the embedded
    /// store's; see [`crate::cascade::durable`]).
    fn run_queue(&self) -> Option<Arc<dyn crate::cascade::durable::RunQueue>> {
        None
    }

    /// The nodes an upsert of `data` (without `id`) would land on by its natural key,
    /// asked beforehand where writes are not checked by their effects (see
    /// [`Backend::checks_effects`]); `None` when the backend cannot tell.
    async fn upsert_matches(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<Option<Vec<String>>, BackendError> {
        let _ = (branch, kind, data);
        Ok(None)
    }

    /// Whether [`Backend::write_checked`] and [`Backend::edit_checked`] show their check
    /// what each write did, node by node, before keeping it (a run on the embedded
    /// store). Where they do not (Infrahub over HTTP, where a write cannot be undone),
    /// the caller checks beforehand what the request names.
    fn checks_effects(&self) -> bool {
        false
    }

    /// `<Kind><op>` of `data`, kept only if `check` accepts what it did to every node it
    /// changed (see [`Backend::checks_effects`]); a refusal is
    /// [`ErrorKind::PermissionDenied`] and leaves nothing of the write. Answers the node
    /// written; `None` for a delete (`data` is then `{id}`).
    async fn write_checked(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
        check: WriteCheck<'_>,
    ) -> Result<Option<NodeRef>, BackendError> {
        let _ = check;
        write_unchecked(self, branch, kind, op, data).await
    }

    /// Sets attribute `attribute` of node `id` (a `kind`) to `value` when it holds
    /// another, kept only if `check` accepts what that did: `None` when there is no such
    /// node, else whether the value changed. An unchanged value writes nothing, and
    /// `check` is shown nothing. Here a read ([`Backend::attribute_value`]) and then a
    /// write: two requests; a run on the embedded store does both in one operation.
    async fn stamp_checked(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        attribute: &str,
        value: &Value,
        check: WriteCheck<'_>,
    ) -> Result<Option<bool>, BackendError> {
        let Some(current) = self.attribute_value(branch, kind, id, attribute).await? else {
            return Ok(None);
        };
        if current == *value {
            return Ok(Some(false));
        }
        let data = serde_json::json!({ "id": id, attribute: { "value": value } });
        self.write_checked(branch, kind, WriteOp::Update, &data, check)
            .await?;
        Ok(Some(true))
    }

    /// [`Backend::relationship_add`] (or, with `add` false, `relationship_remove`), kept
    /// only if `check` accepts what it did to every node it changed.
    async fn edit_checked(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
        add: bool,
        check: WriteCheck<'_>,
    ) -> Result<(), BackendError> {
        let _ = check;
        edit_unchecked(self, branch, id, name, peers, add).await
    }

    /// [`Backend::allocate_prefix`], kept only if `check` accepts what it did to every
    /// node it changed (a new prefix is a created target; a reserved one changes nothing).
    async fn allocate_prefix_checked(
        &self,
        branch: &str,
        request: &PrefixAllocation,
        check: WriteCheck<'_>,
    ) -> Result<Allocated, BackendError> {
        let _ = check;
        self.allocate_prefix(branch, request).await
    }

    /// [`Backend::allocate_address`], kept only if `check` accepts its effects.
    async fn allocate_address_checked(
        &self,
        branch: &str,
        request: &AddressAllocation,
        check: WriteCheck<'_>,
    ) -> Result<Allocated, BackendError> {
        let _ = check;
        self.allocate_address(branch, request).await
    }

    /// The node of `kind` with `id`, in query shape, if it exists.
    async fn node_by_id(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<Value>, BackendError> {
        let filters = serde_json::json!({ "ids": [id] });
        Ok(self.filters(branch, kind, &filters, &[]).await?.pop())
    }

    /// Deletes node `id`, treating a node that is already gone (deleted with
    /// its parent by a cascade, say) as done: `Ok(false)` then.
    async fn delete_if_present(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
    ) -> Result<bool, BackendError> {
        match self.delete(branch, kind, id).await {
            Ok(()) => Ok(true),
            Err(error) if error.kind == ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// [`Backend::write_checked`] with no check: the plain write `op` names, through
/// `backend`'s `upsert`, `update` or `delete` (what a backend that cannot undo a write
/// does; a test's relay without checks too).
pub async fn write_unchecked<B: Backend + ?Sized>(
    backend: &B,
    branch: &str,
    kind: &str,
    op: WriteOp,
    data: &Value,
) -> Result<Option<NodeRef>, BackendError> {
    match op {
        WriteOp::Upsert => backend.upsert(branch, kind, data).await.map(Some),
        WriteOp::Update => backend.update(branch, kind, data).await.map(Some),
        WriteOp::Delete => {
            let id = data.get("id").and_then(Value::as_str).unwrap_or_default();
            backend.delete(branch, kind, id).await.map(|()| None)
        }
        WriteOp::Create => Err(create_refused(kind)),
    }
}

/// [`Backend::edit_checked`] with no check: `backend`'s `relationship_add`, or with `add`
/// false its `relationship_remove`.
pub async fn edit_unchecked<B: Backend + ?Sized>(
    backend: &B,
    branch: &str,
    id: &str,
    name: &str,
    peers: &[String],
    add: bool,
) -> Result<(), BackendError> {
    if add {
        backend.relationship_add(branch, id, name, peers).await
    } else {
        backend.relationship_remove(branch, id, name, peers).await
    }
}

/// The refusal of a `<kind>Create` through [`Backend::write_checked`]: a generator upserts.
pub(crate) fn create_refused(kind: &str) -> BackendError {
    BackendError::new(
        ErrorKind::InvalidInput,
        format!("{kind}Create is not a generator's operation; upsert instead"),
    )
}
