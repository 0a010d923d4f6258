//! A [`Backend`] that speaks Infrahub's GraphQL dialect over a [`Transport`].
//!
//! Every host import becomes the document the Python SDK would send:
//! `<Kind>Upsert`/`<Kind>Update`/`<Kind>Delete` mutations, paginated
//! `Filters_<Kind>` queries with the SDK's default selection,
//! `RelationshipAdd`/`RelationshipRemove`, and the resource manager's
//! `Infrahub…PoolGetResource` mutations. So the same host runs against the
//! embedded store and against a real Infrahub.

pub mod render;
pub mod schema;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use infragen_store::ErrorCode;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::backend::{
    AddressAllocation, Allocated, Backend, BackendError, ErrorKind, NodeRef, PoolSelector,
    PrefixAllocation, RunScope,
};
use crate::transport::{Idempotency, Transport, TransportError};
use infragen_store::{QueryBudget, WriteCheck, WriteOp};
use schema::SchemaIndex;

/// Nodes fetched per page by `filters`.
const PAGE_SIZE: u64 = 100;

/// Infrahub's GraphQL over any transport.
pub struct GraphqlBackend<T> {
    transport: T,
    /// Shared with the backends of its runs' transactions: one schema read serves all.
    schemas: Arc<Mutex<HashMap<String, Arc<SchemaIndex>>>>,
}

impl<T: Transport> GraphqlBackend<T> {
    /// A backend sending its documents through `transport`.
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            schemas: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The transport underneath.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Executes a document and returns its `data`, or the GraphQL errors as
    /// a [`BackendError`].
    async fn data(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
    ) -> Result<Value, BackendError> {
        let response = self
            .transport
            .execute(branch, document, variables)
            .await
            .map_err(transport_error)?;
        data_or_error(response)
    }

    /// [`Self::data_known`] of a mutation whose writes `check` sees, node by node, where the
    /// transport can show them (inside a run transaction of `infragen serve`): a refusal
    /// takes the whole mutation back and is a [`ErrorKind::PermissionDenied`] error with
    /// the check's reason, as on the embedded store. Elsewhere the caller has checked
    /// beforehand what the request names.
    async fn mutation_checked(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
        idempotency: Idempotency,
        check: Option<WriteCheck<'_>>,
    ) -> Result<Value, BackendError> {
        let Some(check) = check.filter(|_| self.transport.holds_effects()) else {
            return self
                .data_known(branch, document, variables, idempotency)
                .await;
        };
        let (response, effects) = self
            .transport
            .execute_holding(branch, document, variables)
            .await
            .map_err(transport_error)?;
        let refused = effects.iter().find_map(|effect| check(effect).err());
        if let Some(reason) = refused {
            self.transport.undo_held().await.map_err(transport_error)?;
            return Err(BackendError::new(ErrorKind::PermissionDenied, reason));
        }
        data_or_error(response)
    }

    /// [`Self::data`] of a document written here, whose `idempotency` is known (and
    /// checked against the transport's own reading by this module's tests).
    async fn data_known(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
        idempotency: Idempotency,
    ) -> Result<Value, BackendError> {
        let response = self
            .transport
            .execute_known(branch, document, variables, idempotency)
            .await
            .map_err(transport_error)?;
        data_or_error(response)
    }

    async fn schema(&self, branch: &str) -> Result<Arc<SchemaIndex>, BackendError> {
        if let Some(index) = self
            .schemas
            .lock()
            .ok()
            .and_then(|cache| cache.get(branch).cloned())
        {
            return Ok(index);
        }
        let json = self
            .transport
            .schema(branch)
            .await
            .map_err(transport_error)?;
        let index = Arc::new(
            SchemaIndex::from_json(json)
                .map_err(|message| BackendError::new(ErrorKind::Backend, message))?,
        );
        if let Ok(mut cache) = self.schemas.lock() {
            cache.insert(branch.to_owned(), Arc::clone(&index));
        }
        Ok(index)
    }

    async fn node_mutation(
        &self,
        branch: &str,
        kind: &str,
        operation: &str,
        data: &Value,
        check: Option<WriteCheck<'_>>,
    ) -> Result<NodeRef, BackendError> {
        check_kind(kind)?;
        let document = render::node_mutation(kind, operation);
        let idempotency = match operation {
            "Upsert" | "Update" => Idempotency::IdempotentWrite,
            _ => Idempotency::Write,
        };
        let data = self
            .mutation_checked(
                branch,
                &document,
                json!({ "data": data }),
                idempotency,
                check,
            )
            .await?;
        let object = data
            .get(format!("{kind}{operation}"))
            .and_then(|result| result.get("object"))
            .ok_or_else(|| {
                BackendError::new(
                    ErrorKind::Backend,
                    format!("{kind}{operation} returned no object"),
                )
            })?;
        node_ref(object, kind)
    }

    async fn allocated_value(
        &self,
        branch: &str,
        node: &NodeRef,
        attribute: &str,
    ) -> Result<String, BackendError> {
        check_kind(&node.kind)?;
        let document = format!(
            "query Allocated($ids: [ID]) {{ {}(ids: $ids) {{ edges {{ node {{ id {attribute} {{ value }} }} }} }} }}",
            node.kind
        );
        let data = self
            .data_known(
                branch,
                &document,
                json!({ "ids": [node.id] }),
                Idempotency::Read,
            )
            .await?;
        data.get(&node.kind)
            .and_then(|kind| kind.get("edges"))
            .and_then(|edges| edges.get(0))
            .and_then(|edge| edge.pointer(&format!("/node/{attribute}/value")))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                BackendError::new(
                    ErrorKind::Backend,
                    format!("the allocated {} {} has no {attribute}", node.kind, node.id),
                )
            })
    }

    /// The nodes of `kind` matching `filters`, each as `selection` selects it, every page;
    /// the values of the `__value` filters of `text_attributes` are sent as variables.
    async fn filtered(
        &self,
        branch: &str,
        kind: &str,
        filters: &Value,
        text_attributes: &[String],
        selection: &str,
    ) -> Result<Vec<Value>, BackendError> {
        let filters = render::bound_filter_arguments(filters, text_attributes)
            .map_err(|message| BackendError::new(ErrorKind::InvalidInput, message))?;
        let document = render::filters_query(kind, &filters, selection);
        let mut nodes = Vec::new();
        let mut offset = 0;
        loop {
            let data = self
                .data_known(
                    branch,
                    &document,
                    Value::Object(page_variables(&filters.variables, offset)),
                    Idempotency::Read,
                )
                .await?;
            let page = data.get(kind).cloned().unwrap_or(Value::Null);
            let count = page.get("count").and_then(Value::as_u64).unwrap_or(0);
            let edges = page
                .get("edges")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let fetched = edges.len() as u64;
            nodes.extend(
                edges
                    .into_iter()
                    .filter_map(|mut edge| edge.get_mut("node").map(Value::take)),
            );
            offset += PAGE_SIZE;
            if fetched == 0 || offset >= count {
                return Ok(nodes);
            }
        }
    }
}

/// The variables of one page of a filters query: the filters' own and the page's.
fn page_variables(filters: &Map<String, Value>, offset: u64) -> Map<String, Value> {
    let mut variables = filters.clone();
    variables.insert("offset".to_owned(), Value::from(offset));
    variables.insert("limit".to_owned(), Value::from(PAGE_SIZE));
    variables
}

/// A GraphQL response's `data`, or its errors as a [`BackendError`].
pub(crate) fn data_or_error(mut response: Value) -> Result<Value, BackendError> {
    if let Some(errors) = response.get("errors").and_then(Value::as_array)
        && !errors.is_empty()
    {
        return Err(graphql_error(errors));
    }
    Ok(response
        .get_mut("data")
        .map(Value::take)
        .unwrap_or(Value::Null))
}

/// The `data` of the GraphQL response `text`, as it is written there, or its errors as one
/// error (as [`data_or_error`] reads a parsed response).
pub(crate) fn data_text_or_error(text: &str) -> Result<String, BackendError> {
    #[derive(serde::Deserialize)]
    struct Response<'t> {
        #[serde(borrow, default)]
        data: Option<&'t RawValue>,
        #[serde(default)]
        errors: Option<Vec<Value>>,
    }
    let response: Response<'_> = serde_json::from_str(text).map_err(|error| {
        BackendError::new(
            ErrorKind::Backend,
            format!("the answer is not a GraphQL response: {error}"),
        )
    })?;
    if let Some(errors) = response.errors.filter(|errors| !errors.is_empty()) {
        return Err(graphql_error(&errors));
    }
    Ok(response.data.map_or("null", RawValue::get).to_owned())
}

/// The filters a plugin passed, checked as [`render::filter_arguments`] checks them (an
/// object of GraphQL names, without the paging the host does itself).
pub(crate) fn check_filters(filters: &Value) -> Result<&Map<String, Value>, BackendError> {
    render::filter_arguments(filters)
        .map_err(|message| BackendError::new(ErrorKind::InvalidInput, message))?;
    filters
        .as_object()
        .ok_or_else(|| BackendError::new(ErrorKind::InvalidInput, "filters must be a JSON object"))
}

/// A kind name must be a GraphQL name: it is pasted into documents.
pub(crate) fn check_kind(kind: &str) -> Result<(), BackendError> {
    if render::is_name(kind) {
        Ok(())
    } else {
        Err(BackendError::new(
            ErrorKind::InvalidInput,
            format!("{kind:?} is not a kind name"),
        ))
    }
}

fn transport_error(error: TransportError) -> BackendError {
    match error {
        TransportError::Unreachable(message) => BackendError::new(ErrorKind::Backend, message),
        TransportError::Refused(message) => BackendError::new(ErrorKind::PermissionDenied, message),
        TransportError::BranchNotFound(message) => {
            BackendError::new(ErrorKind::BranchNotFound, message)
        }
        TransportError::Conflict(message) => BackendError::new(ErrorKind::Conflict, message),
    }
}

/// A backend whose transport runs inside a run transaction (see [`Backend::begin_run`]).
/// Dropped without a commit, its transport drops the transaction.
#[async_trait]
impl<T: Transport + 'static> RunScope for GraphqlBackend<T> {
    async fn commit(&self) -> Result<(), BackendError> {
        self.transport
            .commit_transaction()
            .await
            .map(|_| ())
            .map_err(transport_error)
    }

    fn abandon(&self) {
        self.transport.abandon_transaction();
    }

    fn outdated(&self) -> bool {
        self.transport.transaction_outdated()
    }
}

/// A response's GraphQL errors as one [`BackendError`]: every message, joined
/// by `"; "`, and the kind of the first error (see [`error_kind`]).
fn graphql_error(errors: &[Value]) -> BackendError {
    let message = |error: &Value| {
        error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_owned()
    };
    let messages: Vec<String> = errors.iter().map(message).collect();
    let kind = errors.first().map_or(ErrorKind::Backend, error_kind);
    BackendError::new(kind, messages.join("; "))
}

/// The kind of one GraphQL error. The embedded store (in process or behind
/// `infragen serve`) types every error with a code in `extensions.code`
/// ([`ErrorCode`]), which decides. An error without one of those codes comes
/// from a real Infrahub (whose codes, when present, are HTTP statuses), and
/// is classified by Infrahub's texts.
fn error_kind(error: &Value) -> ErrorKind {
    let code = error
        .pointer("/extensions/code")
        .and_then(Value::as_str)
        .and_then(ErrorCode::parse);
    match code {
        Some(code) => code_kind(code),
        None => infrahub_message_kind(
            error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
    }
}

/// The contract's kind for each of the store's error codes.
pub(crate) fn code_kind(code: ErrorCode) -> ErrorKind {
    match code {
        ErrorCode::NotFound => ErrorKind::NotFound,
        ErrorCode::BranchNotFound => ErrorKind::BranchNotFound,
        ErrorCode::DeleteRefused | ErrorCode::Uniqueness | ErrorCode::Validation => {
            ErrorKind::Validation
        }
        ErrorCode::PoolExhausted => ErrorKind::LimitExceeded,
        ErrorCode::Conflict => ErrorKind::Conflict,
        ErrorCode::BadRequest => ErrorKind::InvalidInput,
        ErrorCode::Internal => ErrorKind::Backend,
        ErrorCode::PermissionDenied => ErrorKind::PermissionDenied,
        ErrorCode::LimitExceeded => ErrorKind::LimitExceeded,
    }
}

/// Classifies a message of Infrahub's own: `Branch: <name> not found.`
/// (`BranchNotFoundError`), `Unable to find the node …` (what the SDK's
/// cleanup relies on too) or another "not found", `No more resources
/// available …`; anything else is the data refused.
fn infrahub_message_kind(message: &str) -> ErrorKind {
    if message.starts_with("Branch: ") && message.ends_with(" not found.") {
        ErrorKind::BranchNotFound
    } else if message.contains("Unable to find the node") || message.contains("not found") {
        ErrorKind::NotFound
    } else if message.contains("No more resources available") {
        ErrorKind::LimitExceeded
    } else {
        ErrorKind::Validation
    }
}

fn node_ref(object: &Value, fallback_kind: &str) -> Result<NodeRef, BackendError> {
    let id = object.get("id").and_then(Value::as_str).ok_or_else(|| {
        BackendError::new(
            ErrorKind::Backend,
            "the store returned a node without an id",
        )
    })?;
    let kind = object
        .get("__typename")
        .and_then(Value::as_str)
        .unwrap_or(fallback_kind);
    let hfid = object
        .get("hfid")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(NodeRef {
        id: id.to_owned(),
        kind: kind.to_owned(),
        hfid,
    })
}

fn pool_reference(pool: &PoolSelector) -> (&'static str, Value) {
    match pool {
        PoolSelector::Id(id) => ("id", json!(id)),
        PoolSelector::Name(name) => ("hfid", json!([name])),
    }
}

fn insert_some<T: serde::Serialize>(object: &mut Map<String, Value>, key: &str, value: &Option<T>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), json!(value));
    }
}

#[async_trait]
impl<T: Transport + 'static> Backend for GraphqlBackend<T> {
    /// A run inside a run transaction where the server offers them (`infragen serve`):
    /// its writes commit together at [`RunScope::commit`], or not at all.
    async fn begin_run(
        &self,
        branch: &str,
        attempt: u32,
    ) -> Result<Option<Arc<dyn RunScope>>, BackendError> {
        let transport = self
            .transport
            .begin_transaction(branch, attempt)
            .await
            .map_err(transport_error)?;
        Ok(transport.map(|transport| {
            Arc::new(GraphqlBackend {
                transport,
                schemas: Arc::clone(&self.schemas),
            }) as Arc<dyn RunScope>
        }))
    }

    async fn query(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
    ) -> Result<Value, BackendError> {
        self.data(branch, document, variables.clone()).await
    }

    /// The `data` as the server wrote it: each object's fields in the query's order, as
    /// Infrahub and `infragen serve` answer.
    async fn query_text(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
        budget: QueryBudget,
    ) -> Result<String, BackendError> {
        let _ = budget;
        let response = self
            .transport
            .query_text(branch, document, variables.clone())
            .await
            .map_err(transport_error)?;
        data_text_or_error(&response)
    }

    async fn upsert(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        self.node_mutation(branch, kind, "Upsert", data, None).await
    }

    async fn update(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        self.node_mutation(branch, kind, "Update", data, None).await
    }

    async fn delete(&self, branch: &str, kind: &str, id: &str) -> Result<(), BackendError> {
        self.delete_node(branch, kind, id, None).await
    }

    /// Inside a run transaction of `infragen serve`, every write's effects are checked:
    /// see [`GraphqlBackend::mutation_checked`].
    fn checks_effects(&self) -> bool {
        self.transport.holds_effects()
    }

    async fn write_checked(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
        check: WriteCheck<'_>,
    ) -> Result<Option<NodeRef>, BackendError> {
        match op {
            WriteOp::Upsert => self
                .node_mutation(branch, kind, "Upsert", data, Some(check))
                .await
                .map(Some),
            WriteOp::Update => self
                .node_mutation(branch, kind, "Update", data, Some(check))
                .await
                .map(Some),
            WriteOp::Delete => {
                let id = data.get("id").and_then(Value::as_str).unwrap_or_default();
                self.delete_node(branch, kind, id, Some(check))
                    .await
                    .map(|()| None)
            }
            WriteOp::Create => Err(crate::backend::create_refused(kind)),
        }
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
        let mutation = if add {
            "RelationshipAdd"
        } else {
            "RelationshipRemove"
        };
        self.change_relationship(branch, mutation, id, name, peers, Some(check))
            .await
    }

    async fn allocate_prefix_checked(
        &self,
        branch: &str,
        request: &PrefixAllocation,
        check: WriteCheck<'_>,
    ) -> Result<Allocated, BackendError> {
        self.allocate(
            branch,
            PoolMutation::PREFIX,
            prefix_input(request),
            Some(check),
        )
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
            PoolMutation::ADDRESS,
            address_input(request),
            Some(check),
        )
        .await
    }

    /// By the kind's human-friendly id in the schema: one query before the upsert.
    async fn upsert_matches(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<Option<Vec<String>>, BackendError> {
        check_kind(kind)?;
        let index = self.schema(branch).await?;
        let Some(filters) = index.natural_key_filters(kind, data) else {
            return Ok(None);
        };
        let text_attributes = index
            .kind(kind)
            .map(|fields| fields.text_attributes.as_slice())
            .unwrap_or_default();
        // Only the ids: the host decides by them, and a whole node costs the server its
        // every attribute and relationship.
        let nodes = self
            .filtered(branch, kind, &Value::Object(filters), text_attributes, "id")
            .await?;
        Ok(Some(
            nodes
                .iter()
                .filter_map(|node| node.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect(),
        ))
    }

    async fn filters(
        &self,
        branch: &str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<Value>, BackendError> {
        check_kind(kind)?;
        let index = self.schema(branch).await?;
        let fields = index.kind(kind).ok_or_else(|| {
            BackendError::new(
                ErrorKind::NotFound,
                format!("the schema has no kind {kind}"),
            )
        })?;
        self.filtered(
            branch,
            kind,
            filters,
            &fields.text_attributes,
            &render::node_selection(fields, include),
        )
        .await
    }

    async fn relationship_add(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError> {
        self.change_relationship(branch, "RelationshipAdd", id, name, peers, None)
            .await
    }

    async fn relationship_remove(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError> {
        self.change_relationship(branch, "RelationshipRemove", id, name, peers, None)
            .await
    }

    async fn allocate_prefix(
        &self,
        branch: &str,
        request: &PrefixAllocation,
    ) -> Result<Allocated, BackendError> {
        self.allocate(branch, PoolMutation::PREFIX, prefix_input(request), None)
            .await
    }

    async fn allocate_address(
        &self,
        branch: &str,
        request: &AddressAllocation,
    ) -> Result<Allocated, BackendError> {
        self.allocate(branch, PoolMutation::ADDRESS, address_input(request), None)
            .await
    }
}

/// The resource-manager mutation of one kind of pool.
struct PoolMutation {
    /// Root field, e.g. `InfrahubIPPrefixPoolGetResource`.
    field: &'static str,
    /// Its input type.
    input: &'static str,
    /// The attribute of the created node holding the value.
    attribute: &'static str,
}

impl PoolMutation {
    const PREFIX: PoolMutation = PoolMutation {
        field: "InfrahubIPPrefixPoolGetResource",
        input: "IPPrefixPoolGetResourceInput",
        attribute: "prefix",
    };
    const ADDRESS: PoolMutation = PoolMutation {
        field: "InfrahubIPAddressPoolGetResource",
        input: "IPAddressPoolGetResourceInput",
        attribute: "address",
    };
}

/// The input of `InfrahubIPPrefixPoolGetResource`.
pub(crate) fn prefix_input(request: &PrefixAllocation) -> Map<String, Value> {
    let mut input = pool_input(
        &request.pool,
        &request.identifier,
        &request.prefix_length,
        &request.data,
    );
    insert_some(&mut input, "member_type", &request.member_type);
    insert_some(&mut input, "prefix_type", &request.prefix_type);
    input
}

/// The input of `InfrahubIPAddressPoolGetResource`.
pub(crate) fn address_input(request: &AddressAllocation) -> Map<String, Value> {
    let mut input = pool_input(
        &request.pool,
        &request.identifier,
        &request.prefix_length,
        &request.data,
    );
    insert_some(&mut input, "address_type", &request.address_type);
    input
}

/// The input fields both pool mutations share.
fn pool_input(
    pool: &PoolSelector,
    identifier: &Option<String>,
    prefix_length: &Option<u8>,
    data: &Option<Value>,
) -> Map<String, Value> {
    let mut input = Map::new();
    let (key, pool) = pool_reference(pool);
    input.insert(key.to_owned(), pool);
    insert_some(&mut input, "identifier", identifier);
    insert_some(&mut input, "prefix_length", prefix_length);
    insert_some(&mut input, "data", data);
    input
}

impl<T: Transport> GraphqlBackend<T> {
    /// `RelationshipAdd` or `RelationshipRemove`: the same input, another root field.
    async fn change_relationship(
        &self,
        branch: &str,
        mutation: &'static str,
        id: &str,
        name: &str,
        peers: &[String],
        check: Option<WriteCheck<'_>>,
    ) -> Result<(), BackendError> {
        let nodes: Vec<Value> = peers.iter().map(|peer| json!({ "id": peer })).collect();
        let document = format!(
            "mutation {mutation}($data: RelationshipNodesInput!) {{ {mutation}(data: $data) {{ ok }} }}"
        );
        self.mutation_checked(
            branch,
            &document,
            json!({ "data": { "id": id, "name": name, "nodes": nodes } }),
            Idempotency::IdempotentWrite,
            check,
        )
        .await?;
        Ok(())
    }

    /// `<kind>Delete` of node `id`, its effects checked by `check` where the transport
    /// shows them.
    async fn delete_node(
        &self,
        branch: &str,
        kind: &str,
        id: &str,
        check: Option<WriteCheck<'_>>,
    ) -> Result<(), BackendError> {
        check_kind(kind)?;
        let document = format!(
            "mutation {kind}Delete($data: DeleteInput!) {{ {kind}Delete(data: $data) {{ ok }} }}"
        );
        self.mutation_checked(
            branch,
            &document,
            json!({ "data": { "id": id } }),
            Idempotency::IdempotentWrite,
            check,
        )
        .await?;
        Ok(())
    }

    /// Runs a pool mutation and reads the allocated value off the created node.
    async fn allocate(
        &self,
        branch: &str,
        mutation: PoolMutation,
        input: Map<String, Value>,
        check: Option<WriteCheck<'_>>,
    ) -> Result<Allocated, BackendError> {
        let document = format!(
            "mutation Allocate($data: {}!) {{ {}(data: $data) {{ ok node {{ id kind identifier display_label }} }} }}",
            mutation.input, mutation.field
        );
        let idempotency = Idempotency::of_allocation(&input);
        let data = self
            .mutation_checked(
                branch,
                &document,
                json!({ "data": input }),
                idempotency,
                check,
            )
            .await?;
        let node = allocated_node(&data, mutation.field)?;
        let value = self
            .allocated_value(branch, &node, mutation.attribute)
            .await?;
        Ok(Allocated { node, value })
    }
}

fn allocated_node(data: &Value, mutation: &str) -> Result<NodeRef, BackendError> {
    let node = data
        .get(mutation)
        .and_then(|result| result.get("node"))
        .ok_or_else(|| {
            BackendError::new(ErrorKind::Backend, format!("{mutation} returned no node"))
        })?;
    let id = node.get("id").and_then(Value::as_str).unwrap_or_default();
    let kind = node.get("kind").and_then(Value::as_str).unwrap_or_default();
    if id.is_empty() || kind.is_empty() {
        return Err(BackendError::new(
            ErrorKind::Backend,
            format!("{mutation} returned a node without id or kind"),
        ));
    }
    Ok(NodeRef {
        id: id.to_owned(),
        kind: kind.to_owned(),
        hfid: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::InProcess;
    use infragen_store::Store;

    fn kind_of(errors: Value) -> ErrorKind {
        graphql_error(errors.as_array().expect("errors")).kind
    }

    #[test]
    fn a_responses_data_is_taken_as_the_server_wrote_it() {
        // Infrahub writes its answers with Python's separators: kept as they are.
        assert_eq!(
            data_text_or_error(r#"{"data": {"b": 1, "a": {"z": null, "y": [2]}}}"#).unwrap(),
            r#"{"b": 1, "a": {"z": null, "y": [2]}}"#
        );
        assert_eq!(data_text_or_error(r#"{"data":null}"#).unwrap(), "null");
        assert_eq!(
            data_text_or_error(r#"{"data":{"a":1},"errors":[]}"#).unwrap(),
            r#"{"a":1}"#
        );
        let refused = data_text_or_error(
            r#"{"data":null,"errors":[{"message":"no such branch","extensions":{"code":"BRANCH_NOT_FOUND"}}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            (refused.kind, refused.message.as_str()),
            (ErrorKind::BranchNotFound, "no such branch")
        );
        let garbled = data_text_or_error("<html>").unwrap_err();
        assert_eq!(garbled.kind, ErrorKind::Backend);
        assert!(
            garbled
                .message
                .starts_with("the answer is not a GraphQL response: "),
            "{}",
            garbled.message
        );
    }

    #[test]
    fn the_store_s_codes_decide_the_kind() {
        let table = [
            ("NOT_FOUND", ErrorKind::NotFound),
            ("BRANCH_NOT_FOUND", ErrorKind::BranchNotFound),
            ("DELETE_REFUSED", ErrorKind::Validation),
            ("UNIQUENESS", ErrorKind::Validation),
            ("POOL_EXHAUSTED", ErrorKind::LimitExceeded),
            ("CONFLICT", ErrorKind::Conflict),
            ("VALIDATION", ErrorKind::Validation),
            ("BAD_REQUEST", ErrorKind::InvalidInput),
            ("INTERNAL", ErrorKind::Backend),
            ("PERMISSION_DENIED", ErrorKind::PermissionDenied),
            ("LIMIT_EXCEEDED", ErrorKind::LimitExceeded),
        ];
        assert_eq!(table.len(), ErrorCode::ALL.len(), "every code is mapped");
        for (code, kind) in table {
            // The message does not matter once there is a code.
            let errors = json!([{"message": "something not found", "extensions": {"code": code}}]);
            assert_eq!(kind_of(errors), kind, "{code}");
        }
    }

    #[test]
    fn an_unknown_branch_is_a_branch_error_not_a_missing_node() {
        let coded = json!([{"message": "Branch: br1 not found.", "extensions": {"code": "BRANCH_NOT_FOUND"}}]);
        assert_eq!(kind_of(coded), ErrorKind::BranchNotFound);
        // Infrahub's own answer, without a code.
        let infrahub = json!([{"message": "Branch: br1 not found."}]);
        assert_eq!(kind_of(infrahub), ErrorKind::BranchNotFound);
    }

    #[test]
    fn without_a_store_code_infrahub_s_texts_decide() {
        for (message, kind) in [
            (
                "Unable to find the node x / DcimDevice in the database.",
                ErrorKind::NotFound,
            ),
            (
                "No more resources available in CoreIPPrefixPool 'p': no free /31 left in 10.0.0.0/30",
                ErrorKind::LimitExceeded,
            ),
            (
                "Violates uniqueness constraint 'name' with 'a'",
                ErrorKind::Validation,
            ),
        ] {
            assert_eq!(kind_of(json!([{ "message": message }])), kind, "{message}");
            // Infrahub's numeric codes (HTTP statuses) are not the store's codes.
            let numeric = json!([{"message": message, "extensions": {"code": 422}}]);
            assert_eq!(kind_of(numeric), kind, "{message}");
        }
    }

    #[test]
    fn several_errors_keep_every_message_and_the_first_kind() {
        let error = graphql_error(
            json!([
                {"message": "a is mandatory for K", "extensions": {"code": "VALIDATION"}},
                {"message": "Unable to find the node x / K in the database.", "extensions": {"code": "NOT_FOUND"}}
            ])
            .as_array()
            .expect("errors"),
        );
        assert_eq!(error.kind, ErrorKind::Validation);
        assert_eq!(
            error.message,
            "a is mandatory for K; Unable to find the node x / K in the database."
        );
    }

    #[tokio::test]
    async fn the_embedded_store_s_errors_arrive_typed() {
        let store = Store::in_memory().expect("store");
        store
            .load_schema(&[(
                "t.yml".into(),
                "version: \"1.0\"\nnodes:\n  - {name: Widget, namespace: Test, human_friendly_id: [name__value], attributes: [{name: name, kind: Text, unique: true}]}\n".into(),
            )])
            .expect("schema");
        let backend = GraphqlBackend::new(InProcess::new(store));
        // A node that is gone is done; a branch that is gone is an error.
        assert_eq!(
            backend
                .delete_if_present("main", "TestWidget", "nope")
                .await,
            Ok(false)
        );
        let error = backend
            .delete_if_present("br1", "TestWidget", "nope")
            .await
            .expect_err("the branch does not exist");
        assert_eq!(error.kind, ErrorKind::BranchNotFound);
        assert_eq!(error.message, "Branch: br1 not found.");
        let data = json!({"name": {"value": "w"}});
        backend
            .upsert("main", "TestWidget", &data)
            .await
            .expect("upsert");
        let error = backend
            .node_mutation("main", "TestWidget", "Create", &data, None)
            .await
            .expect_err("taken");
        assert_eq!(error.kind, ErrorKind::Validation);
        assert_eq!(
            error.message,
            "Violates uniqueness constraint 'name' with 'w'"
        );
    }

    #[tokio::test]
    async fn a_lookup_by_name_finds_the_node_whatever_its_name_holds() {
        let store = Store::in_memory().expect("store");
        store
            .load_schema(&[(
                "t.yml".into(),
                "version: \"1.0\"\nnodes:\n  - {name: Widget, namespace: Test, human_friendly_id: [name__value], attributes: [{name: name, kind: Text, unique: true}, {name: size, kind: Number, optional: true}]}\n".into(),
            )])
            .expect("schema");
        let backend = GraphqlBackend::new(InProcess::new(store));
        // The store's schema marks `name` as text: its lookups are sent as variables.
        let index = backend.schema("main").await.expect("schema");
        assert_eq!(
            index.kind("TestWidget").map(|k| k.text_attributes.clone()),
            Some(vec!["name".to_owned()])
        );
        let names = [
            "plain",
            "with \"quotes\" and \\",
            "ünï 😀",
            "a\") { evil }",
            "",
        ];
        let mut ids = Vec::new();
        for name in names {
            let node = backend
                .upsert("main", "TestWidget", &json!({"name": {"value": name}}))
                .await
                .expect("upsert");
            ids.push(node.id);
        }
        for (name, id) in names.iter().zip(&ids) {
            let found = backend
                .upsert_matches("main", "TestWidget", &json!({"name": {"value": name}}))
                .await
                .expect("lookup");
            assert_eq!(found, Some(vec![id.clone()]), "{name:?}");
            let listed = backend
                .filters("main", "TestWidget", &json!({"name__value": name}), &[])
                .await
                .expect("filters");
            let listed: Vec<&str> = listed
                .iter()
                .filter_map(|node| node.get("id").and_then(Value::as_str))
                .collect();
            assert_eq!(listed, [id.as_str()], "{name:?}");
        }
        assert_eq!(
            backend
                .upsert_matches("main", "TestWidget", &json!({"name": {"value": "nobody"}}))
                .await
                .expect("lookup"),
            Some(Vec::new())
        );
    }

    /// The embedded store behind a transport that notes, for each document the backend
    /// sends with a known idempotency, that class and the one the HTTP transport reads
    /// in the document itself.
    struct Classifying {
        inner: InProcess,
        /// (root field, class given, class read) per document sent.
        seen: Mutex<Vec<(String, Idempotency, Idempotency)>>,
    }

    #[async_trait]
    impl Transport for Classifying {
        async fn execute(
            &self,
            branch: &str,
            document: &str,
            variables: Value,
        ) -> Result<Value, TransportError> {
            self.inner.execute(branch, document, variables).await
        }

        async fn execute_known(
            &self,
            branch: &str,
            document: &str,
            variables: Value,
            idempotency: Idempotency,
        ) -> Result<Value, TransportError> {
            let read = Idempotency::of(document, &variables);
            let field = document
                .split(['{', '('])
                .nth(2)
                .unwrap_or(document)
                .trim()
                .to_owned();
            if let Ok(mut seen) = self.seen.lock() {
                seen.push((field, idempotency, read));
            }
            self.inner.execute(branch, document, variables).await
        }

        async fn schema(&self, branch: &str) -> Result<Value, TransportError> {
            self.inner.schema(branch).await
        }
    }

    #[tokio::test]
    async fn every_document_the_backend_writes_is_classed_as_the_transport_reads_it() {
        let store = Store::in_memory().expect("store");
        store
            .load_schema(&[(
                "t.yml".into(),
                "version: \"1.0\"\nnodes:\n  - {name: Widget, namespace: Test, human_friendly_id: [name__value], attributes: [{name: name, kind: Text, unique: true}], relationships: [{name: parts, peer: TestWidget, cardinality: many}]}\n".into(),
            )])
            .expect("schema");
        let backend = GraphqlBackend::new(Classifying {
            inner: InProcess::new(store),
            seen: Mutex::new(Vec::new()),
        });
        let a = backend
            .upsert("main", "TestWidget", &json!({"name": {"value": "a"}}))
            .await
            .expect("upsert");
        let b = backend
            .upsert("main", "TestWidget", &json!({"name": {"value": "b"}}))
            .await
            .expect("upsert");
        backend
            .update(
                "main",
                "TestWidget",
                &json!({"id": a.id, "name": {"value": "a2"}}),
            )
            .await
            .expect("update");
        let matches = backend
            .upsert_matches("main", "TestWidget", &json!({"name": {"value": "b"}}))
            .await
            .expect("lookup");
        assert_eq!(matches, Some(vec![b.id.clone()]));
        backend
            .relationship_add("main", &a.id, "parts", std::slice::from_ref(&b.id))
            .await
            .expect("add");
        backend
            .relationship_remove("main", &a.id, "parts", std::slice::from_ref(&b.id))
            .await
            .expect("remove");
        backend
            .node_mutation(
                "main",
                "TestWidget",
                "Create",
                &json!({"name": {"value": "c"}}),
                None,
            )
            .await
            .expect("create");
        backend
            .delete("main", "TestWidget", &b.id)
            .await
            .expect("delete");
        // No pool exists: each allocation fails after its mutation was sent.
        for identifier in [Some("rack-1"), Some(""), None] {
            let request = PrefixAllocation {
                pool: PoolSelector::Name("nope".into()),
                identifier: identifier.map(str::to_owned),
                prefix_length: Some(31),
                member_type: None,
                prefix_type: None,
                data: None,
            };
            backend
                .allocate_prefix("main", &request)
                .await
                .expect_err("no such pool");
        }
        let request = AddressAllocation {
            pool: PoolSelector::Name("nope".into()),
            identifier: Some("host-1".into()),
            prefix_length: None,
            address_type: None,
            data: None,
        };
        backend
            .allocate_address("main", &request)
            .await
            .expect_err("no such pool");

        use Idempotency::{IdempotentWrite, Read, Write};
        let seen = backend.transport().seen.lock().expect("seen").clone();
        let given: Vec<(&str, Idempotency)> = seen
            .iter()
            .map(|(field, given, _)| (field.as_str(), *given))
            .collect();
        assert_eq!(
            given,
            [
                ("TestWidgetUpsert", IdempotentWrite),
                ("TestWidgetUpsert", IdempotentWrite),
                ("TestWidgetUpdate", IdempotentWrite),
                ("TestWidget", Read),
                ("RelationshipAdd", IdempotentWrite),
                ("RelationshipRemove", IdempotentWrite),
                ("TestWidgetCreate", Write),
                ("TestWidgetDelete", IdempotentWrite),
                ("InfrahubIPPrefixPoolGetResource", IdempotentWrite),
                ("InfrahubIPPrefixPoolGetResource", Write),
                ("InfrahubIPPrefixPoolGetResource", Write),
                ("InfrahubIPAddressPoolGetResource", IdempotentWrite),
            ]
        );
        for (field, given, read) in &seen {
            assert_eq!(given, read, "{field}: given {given:?}, read {read:?}");
        }
    }
}
