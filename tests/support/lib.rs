//! Shared helpers of the end-to-end tests: where the built guest components
//! are, and a recording in-memory backend for runtime tests that do not need
//! the real store.

#![allow(missing_docs)]

/// The allocator of the `infragen` binary, so that tests and benches running the
/// product in-process measure what it does.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use async_trait::async_trait;
use infragen::backend::{
    AddressAllocation, Allocated, Backend, BackendError, ErrorKind, NodeRef, PrefixAllocation,
    RunScope,
};
use infragen_store::{QueryBudget, WriteCheck, WriteOp};
use serde_json::{Value, json};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The built component of guest crate `package` (e.g. `example-generator`).
///
/// `scripts/test` builds every guest once before the tests run; when a test
/// is run on its own and the file is missing, it is built here.
pub fn guest(package: &str) -> PathBuf {
    static BUILD_LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let path = guest_path(package);
    if path.is_file() {
        return path;
    }
    let _guard = BUILD_LOCK.get_or_init(|| Mutex::new(())).lock();
    build_guest(package)
}

/// [`guest`] built from the sources as they are now, once per process: for benchmarks, which
/// are run by hand, often with a `CARGO_TARGET_DIR` of their own where a component built
/// from older sources would otherwise be measured. (Tests rely on `scripts/test` instead:
/// under nextest each test is a process, and each would run cargo.)
pub fn fresh_guest(package: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(|| Mutex::new(BTreeSet::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if built.contains(package) {
        return guest_path(package);
    }
    let path = build_guest(package);
    built.insert(package.to_owned());
    path
}

fn guest_path(package: &str) -> PathBuf {
    target_dir()
        .join("wasm32-wasip2")
        .join("plugin")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// Builds guest crate `package` with the `plugin` profile (cargo does nothing when it is
/// up to date) and returns its component.
fn build_guest(package: &str) -> PathBuf {
    let path = guest_path(package);
    let status = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building guest {package} failed");
    assert!(path.is_file(), "{} was not produced", path.display());
    path
}

/// One call that reached the backend, for asserting exact sequences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Query {
        branch: String,
        document: String,
        variables: Value,
    },
    Upsert {
        branch: String,
        kind: String,
        data: Value,
    },
    Update {
        branch: String,
        kind: String,
        data: Value,
    },
    Delete {
        branch: String,
        kind: String,
        id: String,
    },
    Filters {
        branch: String,
        kind: String,
        filters: Value,
        include: Vec<String>,
    },
    RelationshipAdd {
        branch: String,
        id: String,
        name: String,
        peers: Vec<String>,
    },
    RelationshipRemove {
        branch: String,
        id: String,
        name: String,
        peers: Vec<String>,
    },
    AllocatePrefix {
        branch: String,
        request: PrefixAllocation,
    },
    AllocateAddress {
        branch: String,
        request: AddressAllocation,
    },
}

#[derive(Default)]
struct Memory {
    calls: Vec<Call>,
    /// id → (kind, attributes in input form).
    nodes: BTreeMap<String, (String, serde_json::Map<String, Value>)>,
    /// (kind, name) → the ids of `nodes` with that kind and name: how an upsert finds its
    /// node without reading every node (the runs bench upserts thousands in one run).
    by_name: BTreeMap<(String, Option<String>), BTreeSet<String>>,
    /// Pool reservations: identifier → what was handed out.
    reserved: BTreeMap<String, Allocated>,
    next_id: u64,
}

impl Memory {
    /// Stores node `id` as `kind` with `attributes`, replacing what it was.
    fn put(&mut self, id: &str, kind: &str, attributes: serde_json::Map<String, Value>) {
        self.remove(id);
        self.by_name
            .entry(name_key(kind, &attributes))
            .or_default()
            .insert(id.to_owned());
        self.nodes
            .insert(id.to_owned(), (kind.to_owned(), attributes));
    }

    /// Removes node `id`: its kind and attributes, if it was there.
    fn remove(&mut self, id: &str) -> Option<(String, serde_json::Map<String, Value>)> {
        let (kind, attributes) = self.nodes.remove(id)?;
        let key = name_key(&kind, &attributes);
        if let Some(ids) = self.by_name.get_mut(&key) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_name.remove(&key);
            }
        }
        Some((kind, attributes))
    }

    /// The first node (by id) of `kind` named as `attributes` name it.
    fn named(&self, kind: &str, attributes: &serde_json::Map<String, Value>) -> Option<String> {
        self.by_name
            .get(&name_key(kind, attributes))?
            .first()
            .cloned()
    }

    /// Returns the reservation under `identifier`, or allocates with `make`.
    fn allocate(
        &mut self,
        identifier: Option<&str>,
        make: impl FnOnce(u64) -> Allocated,
    ) -> Allocated {
        if let Some(existing) = identifier.and_then(|key| self.reserved.get(key)) {
            return existing.clone();
        }
        self.next_id += 1;
        let allocated = make(self.next_id);
        if let Some(key) = identifier {
            self.reserved.insert(key.to_owned(), allocated.clone());
        }
        allocated
    }
}

/// A backend that keeps nodes in memory, identifies upserts by `name`, and
/// records every call. Only for tests of the runtime; the product runs on the
/// embedded store or a real Infrahub.
#[derive(Default)]
pub struct RecordingBackend {
    memory: Mutex<Memory>,
    stall_queries: std::sync::atomic::AtomicBool,
}

impl RecordingBackend {
    /// From now on `query` never returns, like a backend that hangs.
    pub fn stall_queries(&self) {
        self.stall_queries
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.memory.lock().expect("not poisoned").calls.clone()
    }

    /// Adds a node as if another generator or a user had created it.
    pub fn insert(&self, id: &str, kind: &str, attributes: Value) {
        let mut memory = self.memory.lock().expect("not poisoned");
        let Value::Object(attributes) = attributes else {
            panic!("attributes must be an object")
        };
        memory.put(id, kind, attributes);
    }

    /// The stored value of an attribute.
    pub fn attribute(&self, id: &str, attribute: &str) -> Option<Value> {
        let memory = self.memory.lock().expect("not poisoned");
        let (_, attributes) = memory.nodes.get(id)?;
        attributes.get(attribute)?.get("value").cloned()
    }

    fn record(&self, call: Call) -> std::sync::MutexGuard<'_, Memory> {
        let mut memory = self.memory.lock().expect("not poisoned");
        memory.calls.push(call);
        memory
    }
}

fn name_of(attributes: &serde_json::Map<String, Value>) -> Option<&str> {
    attributes.get("name")?.get("value")?.as_str()
}

/// The key of [`Memory::by_name`] for a node of `kind` with `attributes`.
fn name_key(kind: &str, attributes: &serde_json::Map<String, Value>) -> (String, Option<String>) {
    (kind.to_owned(), name_of(attributes).map(str::to_owned))
}

fn query_shape(id: &str, kind: &str, attributes: &serde_json::Map<String, Value>) -> Value {
    let mut node = attributes.clone();
    node.insert("id".into(), json!(id));
    node.insert("__typename".into(), json!(kind));
    node.insert(
        "hfid".into(),
        json!(name_of(attributes).map(|n| vec![n]).unwrap_or_default()),
    );
    node.insert(
        "display_label".into(),
        json!(name_of(attributes).unwrap_or(id)),
    );
    Value::Object(node)
}

fn node_ref(id: &str, kind: &str, attributes: &serde_json::Map<String, Value>) -> NodeRef {
    NodeRef {
        id: id.to_owned(),
        kind: kind.to_owned(),
        hfid: name_of(attributes)
            .map(|n| vec![n.to_owned()])
            .unwrap_or_default(),
    }
}

#[async_trait]
impl Backend for RecordingBackend {
    async fn query(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
    ) -> Result<Value, BackendError> {
        if self.stall_queries.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let memory = self.record(Call::Query {
            branch: branch.into(),
            document: document.into(),
            variables: variables.clone(),
        });
        // Enough of GraphQL for the example: count nodes of the kind named
        // by the first field, filtered by `$name`.
        let kind = document
            .split('{')
            .nth(1)
            .and_then(|field| field.split('(').next())
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        let name = variables.get("name").and_then(Value::as_str);
        let count = memory
            .nodes
            .values()
            .filter(|(k, attributes)| *k == kind && (name.is_none() || name_of(attributes) == name))
            .count();
        Ok(json!({ kind: { "count": count } }))
    }

    async fn upsert(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        let mut memory = self.record(Call::Upsert {
            branch: branch.into(),
            kind: kind.into(),
            data: data.clone(),
        });
        let Value::Object(data) = data.clone() else {
            return Err(BackendError::new(
                ErrorKind::InvalidInput,
                "data must be an object",
            ));
        };
        let (id, (stored_kind, mut attributes)) = match memory.named(kind, &data) {
            Some(id) => {
                let stored = memory.remove(&id).expect("an indexed node is stored");
                (id, stored)
            }
            None => {
                memory.next_id += 1;
                let id = format!("{}-{}", kind.to_lowercase(), memory.next_id);
                (id, (kind.to_owned(), Default::default()))
            }
        };
        attributes.extend(data);
        let node = node_ref(&id, &stored_kind, &attributes);
        memory.put(&id, &stored_kind, attributes);
        Ok(node)
    }

    async fn update(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        let mut memory = self.record(Call::Update {
            branch: branch.into(),
            kind: kind.into(),
            data: data.clone(),
        });
        let id = data
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some((stored_kind, mut attributes)) = memory.remove(&id) else {
            return Err(BackendError::new(
                ErrorKind::NotFound,
                format!("Unable to find the node {id} / {kind}"),
            ));
        };
        if let Value::Object(data) = data {
            for (key, value) in data.iter().filter(|(key, _)| key.as_str() != "id") {
                attributes.insert(key.clone(), value.clone());
            }
        }
        let node = node_ref(&id, &stored_kind, &attributes);
        memory.put(&id, &stored_kind, attributes);
        Ok(node)
    }

    async fn delete(&self, branch: &str, kind: &str, id: &str) -> Result<(), BackendError> {
        let mut memory = self.record(Call::Delete {
            branch: branch.into(),
            kind: kind.into(),
            id: id.into(),
        });
        match memory.remove(id) {
            Some(_) => Ok(()),
            None => Err(BackendError::new(
                ErrorKind::NotFound,
                format!("Unable to find the node {id} / {kind}"),
            )),
        }
    }

    async fn filters(
        &self,
        branch: &str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<Value>, BackendError> {
        let memory = self.record(Call::Filters {
            branch: branch.into(),
            kind: kind.into(),
            filters: filters.clone(),
            include: include.to_vec(),
        });
        let name = filters.get("name__value").and_then(Value::as_str);
        let ids: Option<Vec<&str>> = filters
            .get("ids")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).collect());
        Ok(memory
            .nodes
            .iter()
            .filter(|(id, (k, attributes))| {
                k == kind
                    && name.is_none_or(|name| name_of(attributes) == Some(name))
                    && ids.as_ref().is_none_or(|ids| ids.contains(&id.as_str()))
            })
            .map(|(id, (k, attributes))| query_shape(id, k, attributes))
            .collect())
    }

    async fn relationship_add(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError> {
        drop(self.record(Call::RelationshipAdd {
            branch: branch.into(),
            id: id.into(),
            name: name.into(),
            peers: peers.to_vec(),
        }));
        Ok(())
    }

    async fn relationship_remove(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError> {
        drop(self.record(Call::RelationshipRemove {
            branch: branch.into(),
            id: id.into(),
            name: name.into(),
            peers: peers.to_vec(),
        }));
        Ok(())
    }

    async fn allocate_prefix(
        &self,
        branch: &str,
        request: &PrefixAllocation,
    ) -> Result<Allocated, BackendError> {
        let mut memory = self.record(Call::AllocatePrefix {
            branch: branch.into(),
            request: request.clone(),
        });
        let length = request.prefix_length.unwrap_or(24);
        Ok(
            memory.allocate(request.identifier.as_deref(), |n| Allocated {
                node: NodeRef {
                    id: format!("prefix-{n}"),
                    kind: "IpamPrefix".into(),
                    hfid: vec![],
                },
                value: format!("10.0.{n}.0/{length}"),
            }),
        )
    }

    async fn allocate_address(
        &self,
        branch: &str,
        request: &AddressAllocation,
    ) -> Result<Allocated, BackendError> {
        let mut memory = self.record(Call::AllocateAddress {
            branch: branch.into(),
            request: request.clone(),
        });
        let length = request.prefix_length.unwrap_or(32);
        Ok(
            memory.allocate(request.identifier.as_deref(), |n| Allocated {
                node: NodeRef {
                    id: format!("address-{n}"),
                    kind: "IpamIPAddress".into(),
                    hfid: vec![],
                },
                value: format!("10.1.0.{n}/{length}"),
            }),
        )
    }
}

/// A run request with default limits on branch `br1`.
pub fn request(
    generator: &str,
    target: (&str, &str, &str),
    params: Value,
) -> infragen::runtime::RunRequest {
    let Value::Object(params) = params else {
        panic!("params must be an object")
    };
    infragen::runtime::RunRequest {
        generator: generator.to_owned(),
        branch: "br1".to_owned(),
        target: infragen::runtime::Target {
            id: target.0.to_owned(),
            kind: target.1.to_owned(),
            display_label: target.2.to_owned(),
        },
        params,
        data: json!({}),
        limits: infragen::policy::SandboxLimits::default(),
        writes: infragen::policy::WritePolicy::default(),
    }
}

/// A runtime whose artifact cache lives in `cache` (no cache when `None`).
pub fn runtime(cache: Option<&Path>) -> infragen::runtime::Runtime {
    infragen::runtime::Runtime::builder()
        .max_concurrent_runs(4)
        .cache_dir(cache.map(Path::to_owned))
        .build()
        .expect("runtime starts")
}

/// `store` behind `infragen serve`'s HTTP API on a free loopback port (the API alone: no
/// cascade follows the writes), and a backend reaching it with an admin token, as the host
/// reaches a real Infrahub. The server runs until its handle is aborted.
pub async fn served_over_http(
    store: &infragen_store::Store,
) -> (
    std::sync::Arc<infragen::client::GraphqlBackend<infragen::transport::Http>>,
    tokio::task::JoinHandle<Result<(), infragen::http_api::HttpError>>,
) {
    served_over_http_with(store, infragen::http_api::Limits::default()).await
}

/// [`served_over_http`] with the server's `limits`.
pub async fn served_over_http_with(
    store: &infragen_store::Store,
    limits: infragen::http_api::Limits,
) -> (
    std::sync::Arc<infragen::client::GraphqlBackend<infragen::transport::Http>>,
    tokio::task::JoinHandle<Result<(), infragen::http_api::HttpError>>,
) {
    let token = store
        .create_token("test", infragen_store::TokenScope::Admin)
        .expect("token");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(infragen::http_api::serve_listener_with_limits(
        store.clone(),
        listener,
        Vec::new(),
        limits,
    ));
    let http = infragen::transport::Http::new(infragen::transport::HttpConfig::new(
        format!("http://{address}"),
        Some(token),
    ))
    .expect("http transport");
    (
        std::sync::Arc::new(infragen::client::GraphqlBackend::new(http)),
        server,
    )
}

/// A child process (an `infragen serve`) killed and reaped when the test lets go of it,
/// however the test ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `infragen` binary. `scripts/test` builds it before the tests (test
/// runners build test harnesses, not the binaries of other packages); when a
/// test runs on its own and the binary is missing, it is built here.
pub fn infragen_bin() -> PathBuf {
    static BUILD: OnceLock<()> = OnceLock::new();
    let path = target_dir().join("debug").join("infragen");
    if !path.is_file() {
        BUILD.get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .current_dir(workspace_root())
                .args(["build", "--quiet", "-p", "infragen", "--bin", "infragen"])
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the infragen binary failed");
        });
    }
    assert!(path.is_file(), "{} was not produced", path.display());
    path
}

/// Compares `actual` with the expected text in `expected_path`; with
/// `INFRAGEN_BLESS=1` in the environment, writes `actual` there instead.
pub fn assert_matches_expected(actual: &str, expected_path: &Path) {
    if std::env::var_os("INFRAGEN_BLESS").is_some() {
        std::fs::write(expected_path, actual).expect("write expected output");
        return;
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run with INFRAGEN_BLESS=1 to create it",
            expected_path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "output differs from {}",
        expected_path.display()
    );
}

/// A temporary copy of the `widgets` fixture repository with its plugin,
/// an embedded store holding the widget schema, two sets (alpha of size 3,
/// beta of size 2) in the group `widget-sets`, and a runner over both.
pub struct WidgetRepository {
    pub dir: tempfile::TempDir,
    pub store: infragen_store::Store,
    pub runner: infragen::runner::Runner,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy fixture");
        }
    }
}

/// Runs a GraphQL document on the store and returns `data`, failing the test
/// on any GraphQL error.
pub async fn graphql(store: &infragen_store::Store, branch: &str, document: &str) -> Value {
    let response = store
        .execute(branch, infragen_store::GraphqlRequest::new(document))
        .await;
    assert!(
        response.get("errors").is_none(),
        "GraphQL errors: {response}"
    );
    response["data"].clone()
}

/// Every node on `branch`, by kind and id, with every attribute and every relationship,
/// leaving out the kinds in `except`: what "the store is exactly as it was" compares.
pub fn store_contents(
    store: &infragen_store::Store,
    branch: &str,
    except: &[&str],
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, Value>> {
    let schema = store.schema();
    let mut contents = std::collections::BTreeMap::new();
    for kind in schema.kinds() {
        if kind.is_generic || except.contains(&kind.kind.as_str()) {
            continue;
        }
        let include: Vec<String> = kind.relationships.iter().map(|r| r.name.clone()).collect();
        let nodes = store
            .nodes(branch, &kind.kind, &serde_json::Map::new(), &include)
            .unwrap_or_else(|error| panic!("reading every {}: {error}", kind.kind));
        if nodes.is_empty() {
            continue;
        }
        let by_id = nodes
            .into_iter()
            .map(|node| (node["id"].as_str().expect("id").to_owned(), node))
            .collect();
        contents.insert(kind.kind.clone(), by_id);
    }
    contents
}

impl WidgetRepository {
    /// `infragen serve` on this repository and its store, on a free loopback port, reading
    /// no configuration file (only the store's tokens count), with `args` after; where its
    /// output goes is the caller's.
    pub fn serve_command(&self, args: &[&str]) -> Command {
        let dir = self.dir.path();
        let mut command = Command::new(infragen_bin());
        command
            .arg("--store")
            .arg(dir.join("store.db"))
            .args(["serve", "--listen", "127.0.0.1:0", "--repository"])
            .arg(dir)
            .arg("--config")
            .arg(dir.join("no-such-infragen.toml"))
            .args(args);
        command
    }

    /// This repository with its runner writing through `infragen serve`'s HTTP API over
    /// its store (see [`served_over_http`]); the server runs until the test ends.
    pub async fn served(self) -> WidgetRepository {
        let (backend, _server) = served_over_http(&self.store).await;
        WidgetRepository {
            runner: infragen::runner::Runner::new(
                std::sync::Arc::new(
                    infragen::repository::Repository::open(self.dir.path())
                        .expect("repository opens"),
                ),
                runtime(None),
                backend,
                infragen::policy::RuntimePolicy::load(self.dir.path()).expect("policy loads"),
            ),
            dir: self.dir,
            store: self.store,
        }
    }

    pub async fn new() -> WidgetRepository {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&workspace_root().join("tests/fixtures/widgets"), dir.path());
        std::fs::copy(
            guest("widgets-generator"),
            dir.path().join("widgets_generator.wasm"),
        )
        .expect("copy plugin");
        std::fs::copy(
            guest("hostile-generator"),
            dir.path().join("hostile_generator.wasm"),
        )
        .expect("copy the hostile plugin");
        let store = infragen_store::Store::open(dir.path().join("store.db")).expect("store opens");
        let schema =
            std::fs::read_to_string(dir.path().join("schemas/widgets.yml")).expect("schema");
        store
            .load_schema(&[("widgets.yml".to_owned(), schema)])
            .expect("schema loads");
        let repository = WidgetRepository {
            runner: infragen::runner::Runner::new(
                std::sync::Arc::new(
                    infragen::repository::Repository::open(dir.path()).expect("repository opens"),
                ),
                runtime(None),
                std::sync::Arc::new(infragen::embedded::EmbeddedBackend::new(store.clone())),
                infragen::policy::RuntimePolicy::load(dir.path()).expect("policy loads"),
            ),
            dir,
            store,
        };
        repository.set("alpha", "size: {value: 3}").await;
        repository.set("beta", "size: {value: 2}").await;
        let data = graphql(
            &repository.store,
            "main",
            "{ TestWidgetSet { edges { node { id } } } }",
        )
        .await;
        let members: Vec<String> = data["TestWidgetSet"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| format!("{{id: \"{}\"}}", edge["node"]["id"].as_str().expect("id")))
            .collect();
        graphql(
            &repository.store,
            "main",
            &format!(
                "mutation {{ CoreStandardGroupUpsert(data: {{name: {{value: \"widget-sets\"}}, members: [{}]}}) {{ ok }} }}",
                members.join(", ")
            ),
        )
        .await;
        repository
    }

    /// Upserts the set `name` with extra attribute inputs, e.g. `size: {value: 1}`.
    pub async fn set(&self, name: &str, attributes: &str) {
        graphql(
            &self.store,
            "main",
            &format!("mutation {{ TestWidgetSetUpsert(data: {{name: {{value: \"{name}\"}}, {attributes}}}) {{ ok }} }}"),
        )
        .await;
    }

    pub async fn set_id(&self, name: &str) -> String {
        self.id_of("TestWidgetSet", name).await
    }

    /// The id of the node of `kind` on main whose `attribute` is `value`.
    pub async fn id_by(&self, kind: &str, attribute: &str, value: &str) -> String {
        let data = graphql(
            &self.store,
            "main",
            &format!(
                "{{ {kind}({attribute}__value: \"{value}\") {{ edges {{ node {{ id }} }} }} }}"
            ),
        )
        .await;
        data[kind]["edges"][0]["node"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no {kind} with {attribute} {value}"))
            .to_owned()
    }

    /// The id of the node of `kind` on main named `name`.
    pub async fn id_of(&self, kind: &str, name: &str) -> String {
        self.id_by(kind, "name", name).await
    }

    /// A prefix pool named `name` handing out /31s of `prefix` (created too), as an
    /// operator would set one up.
    pub async fn prefix_pool(&self, name: &str, prefix: &str) {
        graphql(
            &self.store,
            "main",
            &format!("mutation {{ IpamIPPrefixCreate(data: {{prefix: {{value: \"{prefix}\"}}}}) {{ ok }} }}"),
        )
        .await;
        graphql(
            &self.store,
            "main",
            &format!(
                "mutation {{ CoreIPPrefixPoolCreate(data: {{name: {{value: \"{name}\"}}, default_prefix_length: {{value: 31}}, \
                 default_member_type: {{value: \"prefix\"}}, default_prefix_type: {{value: \"IpamIPPrefix\"}}, \
                 ip_namespace: {{hfid: [\"default\"]}}, resources: [{{hfid: [\"{prefix}\"]}}]}}) {{ ok }} }}"
            ),
        )
        .await;
    }

    /// The status of the generator instance `name` (`<definition>: <target>`) on main.
    pub async fn instance_status(&self, name: &str) -> Option<String> {
        let data = graphql(
            &self.store,
            "main",
            "{ CoreGeneratorInstance { edges { node { name { value } status { value } } } } }",
        )
        .await;
        data["CoreGeneratorInstance"]["edges"]
            .as_array()?
            .iter()
            .map(|edge| &edge["node"])
            .find(|node| node["name"]["value"] == name)
            .and_then(|node| node["status"]["value"].as_str().map(str::to_owned))
    }

    /// Waits (a minute at most) until the instance `name` is `Processing`: its run is
    /// under way.
    pub async fn wait_until_processing(&self, name: &str) {
        let started = std::time::Instant::now();
        while self.instance_status(name).await.as_deref() != Some("Processing") {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "{name}'s run never started"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The name of every widget, sorted.
    pub async fn widget_names(&self) -> Vec<String> {
        self.widgets()
            .await
            .into_iter()
            .map(|(name, _, _)| name)
            .collect()
    }

    /// `(widget name, position, set name)` of every widget, by name.
    pub async fn widgets(&self) -> Vec<(String, i64, String)> {
        let data = graphql(
            &self.store,
            "main",
            "{ TestWidget { edges { node { name { value } position { value } set { node { display_label } } } } } }",
        )
        .await;
        let mut widgets: Vec<(String, i64, String)> = data["TestWidget"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| {
                let node = &edge["node"];
                (
                    node["name"]["value"].as_str().expect("name").to_owned(),
                    node["position"]["value"].as_i64().expect("position"),
                    node["set"]["node"]["display_label"]
                        .as_str()
                        .expect("set")
                        .to_owned(),
                )
            })
            .collect();
        widgets.sort();
        widgets
    }

    pub async fn run(
        &self,
        definition: &str,
        variables: Value,
    ) -> infragen::runner::DefinitionReport {
        let selection = match variables {
            Value::Object(map) if !map.is_empty() => {
                infragen::runner::TargetSelection::Matching(map)
            }
            _ => infragen::runner::TargetSelection::All,
        };
        self.runner
            .run_definition(definition, "main", &selection, 2)
            .await
            .expect("definition runs")
    }
}

/// What a [`Relay`] changes in the calls it passes on; each default changes nothing.
#[async_trait]
pub trait RelayHooks: Send + Sync + 'static {
    /// Answers a query in place of the backend behind (`None`: the backend answers).
    fn answer(&self, document: &str) -> Option<Result<Value, BackendError>> {
        let _ = document;
        None
    }
    /// Whether runs are begun on the backend behind; without, every write commits on its
    /// own (as over HTTP).
    fn runs(&self) -> bool {
        true
    }
    /// Whether the checked writes reach the backend behind's own checks; without, they
    /// take the trait's plain defaults: the store computes no write effects, and the host
    /// checks only the ids a request names (as over HTTP).
    fn checks(&self) -> bool {
        true
    }
    /// Called once a run's commit succeeded.
    async fn committed(&self) {}
}

/// A backend that passes every call on to `inner`, as `hooks` say: the tests' and
/// benches' observed or altered backends.
pub struct Relay<H> {
    inner: std::sync::Arc<dyn Backend>,
    /// The run `inner` is, when it is one.
    run: Option<std::sync::Arc<dyn RunScope>>,
    hooks: std::sync::Arc<H>,
}

impl<H: RelayHooks> Relay<H> {
    pub fn new(inner: std::sync::Arc<dyn Backend>, hooks: H) -> Self {
        Relay {
            inner,
            run: None,
            hooks: std::sync::Arc::new(hooks),
        }
    }
}

#[async_trait]
impl<H: RelayHooks> Backend for Relay<H> {
    async fn begin_run(
        &self,
        branch: &str,
        attempt: u32,
    ) -> Result<Option<std::sync::Arc<dyn RunScope>>, BackendError> {
        if !self.hooks.runs() {
            return Ok(None);
        }
        let run = self.inner.begin_run(branch, attempt).await?;
        Ok(run.map(|run| {
            std::sync::Arc::new(Relay {
                inner: run.clone(),
                run: Some(run),
                hooks: self.hooks.clone(),
            }) as std::sync::Arc<dyn RunScope>
        }))
    }
    async fn query(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
    ) -> Result<Value, BackendError> {
        match self.hooks.answer(document) {
            Some(answer) => answer,
            None => self.inner.query(branch, document, variables).await,
        }
    }
    async fn query_text(
        &self,
        branch: &str,
        document: &str,
        variables: &Value,
        budget: QueryBudget,
    ) -> Result<String, BackendError> {
        match self.hooks.answer(document) {
            Some(answer) => answer.map(|data| infragen_store::node::json_text(&data)),
            None => {
                self.inner
                    .query_text(branch, document, variables, budget)
                    .await
            }
        }
    }
    async fn upsert(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        self.inner.upsert(branch, kind, data).await
    }
    async fn update(
        &self,
        branch: &str,
        kind: &str,
        data: &Value,
    ) -> Result<NodeRef, BackendError> {
        self.inner.update(branch, kind, data).await
    }
    async fn delete(&self, branch: &str, kind: &str, id: &str) -> Result<(), BackendError> {
        self.inner.delete(branch, kind, id).await
    }
    async fn filters(
        &self,
        branch: &str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<Value>, BackendError> {
        self.inner.filters(branch, kind, filters, include).await
    }
    async fn filters_json(
        &self,
        branch: &str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<String>, BackendError> {
        self.inner
            .filters_json(branch, kind, filters, include)
            .await
    }
    async fn relationship_add(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError> {
        self.inner.relationship_add(branch, id, name, peers).await
    }
    async fn relationship_remove(
        &self,
        branch: &str,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), BackendError> {
        self.inner
            .relationship_remove(branch, id, name, peers)
            .await
    }
    async fn allocate_prefix(
        &self,
        branch: &str,
        request: &PrefixAllocation,
    ) -> Result<Allocated, BackendError> {
        self.inner.allocate_prefix(branch, request).await
    }
    async fn allocate_address(
        &self,
        branch: &str,
        request: &AddressAllocation,
    ) -> Result<Allocated, BackendError> {
        self.inner.allocate_address(branch, request).await
    }
    fn checks_effects(&self) -> bool {
        self.hooks.checks() && self.inner.checks_effects()
    }
    async fn write_checked(
        &self,
        branch: &str,
        kind: &str,
        op: WriteOp,
        data: &Value,
        check: WriteCheck<'_>,
    ) -> Result<Option<NodeRef>, BackendError> {
        if !self.hooks.checks() {
            return infragen::backend::write_unchecked(self, branch, kind, op, data).await;
        }
        self.inner
            .write_checked(branch, kind, op, data, check)
            .await
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
        if !self.hooks.checks() {
            return infragen::backend::edit_unchecked(self, branch, id, name, peers, add).await;
        }
        self.inner
            .edit_checked(branch, id, name, peers, add, check)
            .await
    }
    async fn allocate_prefix_checked(
        &self,
        branch: &str,
        request: &PrefixAllocation,
        check: WriteCheck<'_>,
    ) -> Result<Allocated, BackendError> {
        if !self.hooks.checks() {
            return self.allocate_prefix(branch, request).await;
        }
        self.inner
            .allocate_prefix_checked(branch, request, check)
            .await
    }
    async fn allocate_address_checked(
        &self,
        branch: &str,
        request: &AddressAllocation,
        check: WriteCheck<'_>,
    ) -> Result<Allocated, BackendError> {
        if !self.hooks.checks() {
            return self.allocate_address(branch, request).await;
        }
        self.inner
            .allocate_address_checked(branch, request, check)
            .await
    }
}

#[async_trait]
impl<H: RelayHooks> RunScope for Relay<H> {
    async fn commit(&self) -> Result<(), BackendError> {
        if let Some(run) = &self.run {
            run.commit().await?;
            self.hooks.committed().await;
        }
        Ok(())
    }
    fn abandon(&self) {
        if let Some(run) = &self.run {
            run.abandon();
        }
    }
    fn outdated(&self) -> bool {
        self.run.as_ref().is_some_and(|run| run.outdated())
    }
}

/// A `nats-server -js` of a test's own (Debian's `nats-server`, JetStream on, loopback, a
/// temporary storage directory), stopped by its process id.
pub struct NatsServer {
    child: Option<std::process::Child>,
    port: u16,
    dir: tempfile::TempDir,
    /// A configuration file (authorization, TLS) given with `-c`, when there is one.
    config: Option<PathBuf>,
}

/// Where `nats-server` is: on the `PATH`, or where Debian puts it.
fn nats_server() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| {
            let sbin = PathBuf::from("/usr/sbin/nats-server");
            sbin.is_file().then_some(sbin)
        })
        .expect("nats-server is not installed (scripts/test installs it: apt-get install -y nats-server)")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

impl NatsServer {
    /// Starts one on a free port.
    pub fn start() -> NatsServer {
        NatsServer::start_with("")
    }

    /// Starts one on a free port with `config` (NATS configuration: `authorization { … }`,
    /// `tls { … }`) in a file of its own; listening address, port, JetStream and its
    /// storage directory are given on the command line as [`NatsServer::start`] gives them.
    pub fn start_with(config: &str) -> NatsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = (!config.is_empty()).then(|| {
            let path = dir.path().join("nats.conf");
            std::fs::write(&path, config).expect("write the NATS configuration");
            path
        });
        let mut nats = NatsServer {
            child: None,
            port: free_port(),
            dir,
            config,
        };
        nats.restart();
        nats
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it (again), on its port and its storage directory, and waits until it takes
    /// connections.
    pub fn restart(&mut self) {
        let mut command = std::process::Command::new(nats_server());
        if let Some(config) = &self.config {
            command.arg("-c").arg(config);
        }
        let child = command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "nats-server never listened"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Stops it with SIGTERM, by its process id, and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = libc::pid_t::try_from(child.id()).expect("pid");
            // SAFETY: `kill` on a child this test spawned and has not reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes `text` to `path` under `root`, making the directories it needs: a repository
/// laid out file by file in a test.
pub fn write_file(root: &std::path::Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a file has a parent directory"))
        .expect("directory");
    std::fs::write(path, text).expect("file");
}

/// An object file declaring one `CoreStandardGroup` called `name`: the target group a test
/// repository's generator or artifact definitions name.
pub fn standard_group_file(name: &str) -> String {
    format!(
        "---\napiVersion: infrahub.app/v1\nkind: Object\nspec:\n  kind: CoreStandardGroup\n  data:\n    - name: {name}\n"
    )
}
