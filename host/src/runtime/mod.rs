//! Loading generator plugins and running them in a sandbox.
//!
//! A deliberately narrow wrapper around wasmtime: one [`Engine`] per
//! [`Runtime`], components only, one contract (see [`crate::contract`]),
//! every run in a fresh store with its own limits. The flow for a plugin is
//! read → [`inspect::inspect`] (refuse what cannot be ours before compiling) → compile
//! or load the cached artifact → link once into an `InstancePre` → per target,
//! [`Plugin::run`].

pub mod cache;
pub mod compile;
pub mod engine;
pub mod failure;
pub mod inspect;
pub mod sandbox;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::backend::Backend;
use crate::contract::v0_1::{self, GeneratorPre, RunContext, Target as WitTarget};
use crate::host_api::{HostState, RunLog, RunState, Stamp};
use crate::policy::{SandboxLimits, WritePolicy};
use crate::tracking::Tracker;

pub use cache::ArtifactCache;
pub use compile::{CompileLimits, Compiler, IsolatedCompiler};
pub use engine::Allocator;
pub use failure::{RunError, RunFailure};
pub use inspect::{Inspection, Refusal};

/// Default cap on a plugin file. Generators are ~100 KB; even a component
/// carrying an interpreter stays well under this.
pub const DEFAULT_MAX_PLUGIN_SIZE: u64 = 50 << 20;

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read plugin {path}: {error}")]
    Read {
        /// The plugin path.
        path: PathBuf,
        /// The I/O failure (part of the message, so not a `source`).
        error: std::io::Error,
    },
    /// The file is not a plugin this host runs.
    #[error("refusing plugin {path}: {refusal}")]
    Refused {
        /// The plugin path.
        path: PathBuf,
        /// Why.
        refusal: Refusal,
    },
    /// wasmtime could not compile or link it.
    #[error("cannot load plugin {path}: {message}")]
    Compile {
        /// The plugin path.
        path: PathBuf,
        /// wasmtime's reason.
        message: String,
    },
}

/// How a [`Runtime`] is set up.
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    max_concurrent_runs: u32,
    cache_dir: Option<PathBuf>,
    max_plugin_size: u64,
    compiler: Compiler,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        Self {
            max_concurrent_runs: 16,
            cache_dir: default_cache_dir(),
            max_plugin_size: DEFAULT_MAX_PLUGIN_SIZE,
            compiler: Compiler::InProcess,
        }
    }
}

/// `$INFRAGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/infragen/plugins`, else
/// `~/.cache/infragen/plugins`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("INFRAGEN_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("infragen").join("plugins"))
}

impl RuntimeBuilder {
    /// Runs that may execute at once; sizes the instance pool.
    pub fn max_concurrent_runs(mut self, runs: u32) -> Self {
        self.max_concurrent_runs = runs.max(1);
        self
    }

    /// Where precompiled plugins are kept; `None` compiles on every load.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Where plugins are compiled: in this process by default, unbounded; the
    /// `infragen` commands compile in a bounded worker process.
    pub fn compiler(mut self, compiler: Compiler) -> Self {
        self.compiler = compiler;
        self
    }

    /// The largest plugin file accepted.
    pub fn max_plugin_size(mut self, bytes: u64) -> Self {
        self.max_plugin_size = bytes;
        self
    }

    /// Creates the engine, the linker and the epoch thread.
    pub fn build(self) -> anyhow::Result<Runtime> {
        let (engine, allocator) = engine::build(self.max_concurrent_runs)?;
        engine::start_epoch_ticker(&engine)?;
        let cache = match &self.cache_dir {
            Some(dir) => match ArtifactCache::open(dir, &engine) {
                Ok(cache) => Some(cache),
                Err(error) => {
                    tracing::warn!(%error, "plugin cache unavailable; plugins will be compiled on every load");
                    None
                }
            },
            None => None,
        };
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        v0_1::Generator::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )?;
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                allocator,
                linker,
                cache,
                max_plugin_size: self.max_plugin_size,
                compiler: self.compiler,
                permits: Semaphore::new(self.max_concurrent_runs as usize),
                loaded: Mutex::new(HashMap::new()),
                by_path: Mutex::new(HashMap::new()),
                stats: Counters::default(),
            }),
        })
    }
}

#[derive(Default)]
struct Counters {
    compiled: AtomicU64,
    disk_hits: AtomicU64,
    memory_hits: AtomicU64,
}

/// How plugins were obtained so far, to make caching observable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RuntimeStats {
    /// Components compiled with Cranelift.
    pub compiled: u64,
    /// Components loaded from the on-disk artifact cache.
    pub disk_hits: u64,
    /// Loads answered by a plugin already loaded in this process.
    pub memory_hits: u64,
}

/// How many paths' bytes a runtime keeps (see `RuntimeInner::by_path`).
const MOST_PATHS_KEPT: usize = 64;
/// How many bytes of plugins a runtime keeps at most (see `RuntimeInner::by_path`).
const MOST_BYTES_KEPT: usize = 64 << 20;

/// The bytes a path was loaded from, and what they gave.
struct LoadedFrom {
    bytes: Vec<u8>,
    linked: Arc<Linked>,
}

struct RuntimeInner {
    engine: Engine,
    allocator: Allocator,
    linker: Linker<HostState>,
    cache: Option<ArtifactCache>,
    max_plugin_size: u64,
    compiler: Compiler,
    permits: Semaphore,
    /// Compiled and linked components by digest. They hold the engine but
    /// not the runtime, so a runtime and its plugins can be freed.
    loaded: Mutex<HashMap<String, Arc<Linked>>>,
    /// The bytes each path was last loaded from, with what they gave: a runner loads
    /// its generators' files again for every batch of runs (76 times in a seed build),
    /// and comparing the bytes is far cheaper than hashing and inspecting them again.
    by_path: Mutex<HashMap<PathBuf, LoadedFrom>>,
    stats: Counters,
}

/// Loads and runs plugins. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// A runtime with the default settings.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The engine's instance allocator.
    pub fn allocator(&self) -> Allocator {
        self.inner.allocator
    }

    /// Compilation and cache counters.
    pub fn stats(&self) -> RuntimeStats {
        let counters = &self.inner.stats;
        RuntimeStats {
            compiled: counters.compiled.load(Ordering::Relaxed),
            disk_hits: counters.disk_hits.load(Ordering::Relaxed),
            memory_hits: counters.memory_hits.load(Ordering::Relaxed),
        }
    }

    /// Inspects a plugin's bytes without compiling them.
    pub fn inspect_bytes(&self, bytes: &[u8]) -> Inspection {
        inspect::inspect(bytes, self.inner.max_plugin_size)
    }

    /// The largest plugin this runtime loads, in bytes.
    pub fn max_plugin_size(&self) -> u64 {
        self.inner.max_plugin_size
    }

    /// Inspects a plugin file without compiling it.
    pub fn inspect_file(&self, path: &Path) -> Result<Inspection, LoadError> {
        inspect_file(path, self.inner.max_plugin_size)
    }

    /// Loads a plugin from a file: refuses what is not a compatible generator,
    /// then compiles it, or takes it from the cache.
    pub async fn load(&self, path: &Path) -> Result<Plugin, LoadError> {
        let bytes = read_capped(path, self.inner.max_plugin_size)?;
        self.load_bytes(path, bytes).await
    }

    /// Loads a plugin from bytes already in memory; `path` names it in errors.
    pub async fn load_bytes(&self, path: &Path, bytes: Vec<u8>) -> Result<Plugin, LoadError> {
        if let Some(linked) = self.loaded_from(path, &bytes) {
            self.inner.stats.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(self.plugin(path, linked));
        }
        let inspection = inspect::inspect(&bytes, self.inner.max_plugin_size);
        if let Err(refusal) = inspection.verdict.clone() {
            return Err(LoadError::Refused {
                path: path.to_owned(),
                refusal,
            });
        }
        let digest = inspection.digest.clone();
        if let Some(linked) = self.loaded(&digest) {
            self.inner.stats.memory_hits.fetch_add(1, Ordering::Relaxed);
            self.remember(path, bytes, &linked);
            return Ok(self.plugin(path, linked));
        }
        let inner = Arc::clone(&self.inner);
        let path_owned = path.to_owned();
        let digest_owned = digest.clone();
        // Compilation is CPU-bound and can take a second: keep it off the
        // async workers.
        let (component, bytes_kept) = tokio::task::spawn_blocking(move || {
            let component = inner.component_for(&path_owned, &digest_owned, &bytes);
            (component, bytes)
        })
        .await
        .map_err(|error| LoadError::Compile {
            path: path.to_owned(),
            message: format!("the compiler task failed: {error}"),
        })?;
        let component = component?;
        let compile_error = |error: wasmtime::Error| LoadError::Compile {
            path: path.to_owned(),
            message: format!("{error:#}"),
        };
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(compile_error)?;
        let pre = GeneratorPre::new(pre).map_err(compile_error)?;
        let linked = Arc::new(Linked { inspection, pre });
        if let Ok(mut loaded) = self.inner.loaded.lock() {
            loaded.insert(digest, Arc::clone(&linked));
        }
        self.remember(path, bytes_kept, &linked);
        Ok(self.plugin(path, linked))
    }

    fn loaded(&self, digest: &str) -> Option<Arc<Linked>> {
        self.inner.loaded.lock().ok()?.get(digest).cloned()
    }

    /// What `path` gave when it was last loaded, if it held exactly `bytes` then.
    fn loaded_from(&self, path: &Path, bytes: &[u8]) -> Option<Arc<Linked>> {
        let by_path = self.inner.by_path.lock().ok()?;
        let kept = by_path.get(path)?;
        (kept.bytes == bytes).then(|| Arc::clone(&kept.linked))
    }

    /// Keeps `bytes` as what `path` was loaded from, replacing what it held before. A
    /// runtime loads from a few paths; past [`MOST_PATHS_KEPT`] paths or
    /// [`MOST_BYTES_KEPT`] bytes, what was kept is dropped and the set starts again.
    fn remember(&self, path: &Path, bytes: Vec<u8>, linked: &Arc<Linked>) {
        let Ok(mut by_path) = self.inner.by_path.lock() else {
            return;
        };
        by_path.remove(path);
        let kept: usize = by_path.values().map(|kept| kept.bytes.len()).sum();
        if by_path.len() >= MOST_PATHS_KEPT || kept + bytes.len() > MOST_BYTES_KEPT {
            by_path.clear();
        }
        if bytes.len() <= MOST_BYTES_KEPT {
            let linked = Arc::clone(linked);
            by_path.insert(path.to_owned(), LoadedFrom { bytes, linked });
        }
    }

    fn plugin(&self, path: &Path, linked: Arc<Linked>) -> Plugin {
        Plugin {
            inner: Arc::new(PluginInner {
                path: path.to_owned(),
                linked,
                runtime: Arc::clone(&self.inner),
            }),
        }
    }
}

impl RuntimeInner {
    fn component_for(
        &self,
        path: &Path,
        digest: &str,
        bytes: &[u8],
    ) -> Result<Component, LoadError> {
        if let Some(cache) = &self.cache
            && let Some(component) = cache.get(&self.engine, digest)
        {
            self.stats.disk_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(component);
        }
        let started = Instant::now();
        let compile_error = |message: String| LoadError::Compile {
            path: path.to_owned(),
            message,
        };
        let artifact = match &self.compiler {
            Compiler::InProcess => self
                .engine
                .precompile_component(bytes)
                .map_err(|error| compile_error(format!("{error:#}")))?,
            Compiler::Isolated(worker) => worker
                .compile(bytes)
                .map_err(|failure| compile_error(failure.to_string()))?,
        };
        self.stats.compiled.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(path = %path.display(), elapsed = ?started.elapsed(), "compiled plugin");
        if let Some(cache) = &self.cache
            && let Err(error) = cache.put(digest, &artifact)
        {
            tracing::warn!(%error, "could not cache the compiled plugin");
        }
        // SAFETY: `artifact` was produced just now from the plugin's bytes, by this
        // engine or by a compile worker (this binary, with the same code generation
        // settings) whose stdout only this process read.
        unsafe { Component::deserialize(&self.engine, &artifact) }.map_err(|error| {
            LoadError::Compile {
                path: path.to_owned(),
                message: format!("{error:#}"),
            }
        })
    }
}

/// Reads a plugin file (up to `size_limit` bytes) and inspects it without
/// compiling it, or needing an engine at all.
pub fn inspect_file(path: &Path, size_limit: u64) -> Result<Inspection, LoadError> {
    let bytes = read_capped(path, size_limit)?;
    Ok(inspect::inspect(&bytes, size_limit))
}

fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    let read_error = |error| LoadError::Read {
        path: path.to_owned(),
        error,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > limit {
        return Err(LoadError::Refused {
            path: path.to_owned(),
            refusal: Refusal::TooLarge { size, limit },
        });
    }
    std::fs::read(path).map_err(read_error)
}

/// The design object a run generates from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Node id.
    pub id: String,
    /// Schema kind.
    pub kind: String,
    /// Display label.
    pub display_label: String,
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The generator definition's name.
    pub generator: String,
    /// The branch all reads and writes go to.
    pub branch: String,
    /// The target.
    pub target: Target,
    /// Parameters extracted from the target (a JSON object).
    pub params: serde_json::Map<String, Value>,
    /// The stored query's result (`data`).
    pub data: Value,
    /// Resource limits of this run.
    pub limits: SandboxLimits,
    /// What the run may write and delete.
    pub writes: WritePolicy,
}

/// A successful run.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// Ids written, in first-write order.
    pub written: Vec<String>,
    /// Checksum of the written ids.
    pub checksum: String,
    /// Untracked stamps made.
    pub stamps: Vec<Stamp>,
    /// The run's log.
    pub log: RunLog,
    /// The guest's stdout.
    pub stdout: String,
    /// The guest's stderr.
    pub stderr: String,
    /// Host calls made.
    pub host_calls: u64,
    /// Instructions (fuel) consumed.
    pub fuel_consumed: u64,
    /// Wall time of instantiate + generate.
    pub elapsed: Duration,
}

/// A compiled component linked against the host, shared by every load of
/// the same bytes.
struct Linked {
    inspection: Inspection,
    pre: GeneratorPre<HostState>,
}

struct PluginInner {
    path: PathBuf,
    linked: Arc<Linked>,
    runtime: Arc<RuntimeInner>,
}

/// A loaded plugin, ready to run against any number of targets.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

/// How much of stderr a [`RunError`] keeps.
const STDERR_TAIL: usize = 8 << 10;

impl Plugin {
    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// What the file is (digest, imports, version).
    pub fn inspection(&self) -> &Inspection {
        &self.inner.linked.inspection
    }

    /// Runs the generator once, for one target, in a fresh store.
    pub async fn run(
        &self,
        request: RunRequest,
        backend: Arc<dyn Backend>,
    ) -> Result<RunOutcome, RunError> {
        let runtime = &self.inner.runtime;
        // Bounded concurrency: the pool has a slot per permit.
        let _permit = runtime.permits.acquire().await.ok();
        let limits = request.limits.clone();
        let output_capacity = usize::try_from(limits.log_bytes).unwrap_or(usize::MAX);
        let (wasi, output) =
            sandbox::wasi_context(&request.generator, &request.target.id, output_capacity);
        let run = RunState {
            deadline: Instant::now() + limits.deadline,
            generator: request.generator.clone(),
            branch: request.branch.clone(),
            target_id: request.target.id.clone(),
            target_label: request.target.display_label.clone(),
            backend,
            limits: limits.clone(),
            writes: request.writes,
            tracker: Tracker::default(),
            log: RunLog::default(),
            stamps: Vec::new(),
            host_calls: 0,
        };
        let mut store = Store::new(&runtime.engine, HostState::new(wasi, run));
        store.limiter(|state| &mut state.limiter);
        let fuel = limits.fuel.unwrap_or(u64::MAX);
        if let Err(error) = store.set_fuel(fuel) {
            tracing::error!(%error, "could not set fuel");
        }
        let started = Instant::now();
        let deadline = started + limits.deadline;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::new(failure::DeadlineExceeded))
            } else {
                // Yield to the executor at every tick so one busy guest never
                // starves other runs on the same worker.
                Ok(UpdateDeadline::Yield(1))
            }
        });

        let context = RunContext {
            generator: request.generator.clone(),
            branch: request.branch.clone(),
            target: WitTarget {
                id: request.target.id.clone(),
                kind: request.target.kind.clone(),
                display_label: request.target.display_label.clone(),
            },
            params: Value::Object(request.params).to_string(),
        };
        let data = request.data.to_string();
        let pre = &self.inner.linked.pre;
        // The timeout catches what epochs cannot: a call blocked in a host
        // function. A short grace lets the epoch trap fire first when it can.
        let call = tokio::time::timeout(limits.deadline + Duration::from_millis(50), async {
            let instance = pre
                .instantiate_async(&mut store)
                .await
                .map_err(CallError::Instantiate)?;
            instance
                .infragen_generator_plugin()
                .call_generate(&mut store, &context, &data)
                .await
                .map_err(CallError::Trap)
        })
        .await;
        let elapsed = started.elapsed();

        let fuel_consumed = fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let stderr = output.stderr_text();
        let state = store.into_data();
        let failure = match call {
            Err(_elapsed) => Some(RunFailure::Deadline {
                deadline: limits.deadline,
            }),
            Ok(Err(CallError::Instantiate(error))) => Some(RunFailure::Instantiation {
                message: format!("{error:#}"),
            }),
            Ok(Err(CallError::Trap(error))) => {
                let context = failure::TrapContext {
                    deadline: limits.deadline,
                    fuel: limits.fuel,
                    memory_limit: limits.memory,
                    refused_memory_growth: state.limiter.refused_memory_growth,
                    stdout_len: output.stdout.contents().len(),
                    stderr: &stderr,
                    output_capacity,
                };
                Some(failure::classify(&error, &context))
            }
            Ok(Ok(Err(error))) => Some(RunFailure::Generator {
                kind: error_kind_name(error.kind),
                message: failure::head(error.message, failure::ECHO_LIMIT),
            }),
            Ok(Ok(Ok(()))) => None,
        };
        let run = state.run;
        if let Some(failure) = failure {
            let error = RunError {
                generator: request.generator,
                target: request.target.display_label,
                target_id: request.target.id,
                failure,
                written: run.tracker.ids().to_vec(),
                log: run.log,
                stderr: failure::tail(&stderr, STDERR_TAIL),
            };
            tracing::warn!(%error, "run failed");
            return Err(error);
        }
        Ok(RunOutcome {
            written: run.tracker.ids().to_vec(),
            checksum: run.tracker.checksum(),
            stamps: run.stamps,
            log: run.log,
            stdout: output.stdout_text(),
            stderr,
            host_calls: run.host_calls,
            fuel_consumed,
            elapsed,
        })
    }
}

enum CallError {
    Instantiate(wasmtime::Error),
    Trap(wasmtime::Error),
}

fn error_kind_name(kind: v0_1::ErrorKind) -> String {
    use v0_1::ErrorKind::*;
    match kind {
        NotFound => "not-found",
        Validation => "validation",
        PermissionDenied => "permission-denied",
        LimitExceeded => "limit-exceeded",
        Backend => "backend",
        InvalidInput => "invalid-input",
        Conflict => "conflict",
        Generator => "generator",
    }
    .to_owned()
}
