//! `infragen worker`: pulls runs from the work queue, runs each component in the same
//! sandbox, with the same limits and ownership policy as the server would, writing through
//! the server's HTTP API (or a real Infrahub's), publishes the run's answer and then
//! acknowledges the run.
//!
//! A worker killed in the middle of a run never acknowledges it: JetStream delivers it
//! again after the ack wait, and the dead worker's run transaction on the server is dropped
//! when it goes idle, with everything it wrote — so the run is done once, by another
//! worker. A worker killed between publishing its answer and acknowledging finds the answer
//! when the run comes again and only acknowledges it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

use super::access::{QueueAccess, QueueUrl};
use super::queue::{self, COMPONENTS_BUCKET, QueueError, WorkerSide};
use super::wire::{ComponentRef, PROTOCOL, WorkItem, WorkResult};
use crate::backend::Backend;
use crate::cascade::Interrupt;
use crate::contract::{self, Version};
use crate::runner::{TargetReport, run_spec};
use crate::runtime::{Plugin, Runtime};

/// How long one pull waits for a run before asking again.
const PULL_WAIT: Duration = Duration::from_secs(2);

/// Fetches of a component before its run fails: a fetch may meet the object being
/// replaced (another server sharing the same component at the same moment puts it again,
/// and the chunks being read are purged), which a fresh fetch does not.
const FETCH_ATTEMPTS: u32 = 3;

/// How long fetching a component may take: a base, and a second per MiB.
fn fetch_time(size: u64) -> Duration {
    Duration::from_secs(10 + size / (1 << 20))
}

/// How long to wait before trying NATS again after it failed.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// A worker process.
pub struct Worker {
    /// Its name in answers and logs.
    name: String,
    /// The NATS server's URL.
    queue_url: QueueUrl,
    /// What proves this worker to it.
    access: QueueAccess,
    /// Its server's store scope: the consumer it pulls from (see [`queue::workers_consumer`]).
    scope: String,
    /// The backend runs read and write through (the server's HTTP API).
    backend: Arc<dyn Backend>,
    runtime: Runtime,
    /// Runs at the same time.
    concurrency: usize,
    /// Components loaded, by digest.
    loaded: Mutex<HashMap<String, Plugin>>,
}

impl Worker {
    /// A worker named `name`, pulling the runs of the server whose store scope is `scope`
    /// from the NATS server at `queue_url` (reached with `access`), running `concurrency`
    /// runs at a time on `runtime` against `backend` (that server).
    pub fn new(
        name: String,
        queue_url: QueueUrl,
        access: QueueAccess,
        scope: String,
        backend: Arc<dyn Backend>,
        runtime: Runtime,
        concurrency: usize,
    ) -> Worker {
        Worker {
            name,
            queue_url,
            access,
            scope,
            backend,
            runtime,
            concurrency: concurrency.max(1),
            loaded: Mutex::default(),
        }
    }

    /// The default name: this host and process.
    pub fn default_name() -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|_| "worker".to_owned());
        format!("{host}:{}", std::process::id())
    }

    /// Pulls and runs until `stop` is raised, then lets the running runs finish. Waits (and
    /// says so) while the NATS server or the queue is not there yet; fails on a URL that is
    /// not a NATS server's, and on a NATS server that refuses this worker (its credentials,
    /// its TLS).
    pub async fn run(self: Arc<Self>, stop: Interrupt) -> Result<(), QueueError> {
        let connection_name = format!("infragen worker {}", self.name);
        let connecting = queue::connect(&self.queue_url, &self.access, &connection_name);
        let client = tokio::select! {
            client = connecting => client?,
            () = stopped(&stop) => return Ok(()),
        };
        let js = jetstream::new(client);
        let Some(side) = self.wait_for_queue(&js, &stop).await else {
            return Ok(());
        };
        let side = Arc::new(side);
        tracing::info!(worker = %self.name, ack_wait = ?side.ack_wait, "pulling runs");
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut running = tokio::task::JoinSet::new();
        while !stop.raised() {
            while running.try_join_next().is_some() {}
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                break;
            };
            if stop.raised() {
                break;
            }
            let pulled = side
                .consumer
                .fetch()
                .max_messages(1)
                .expires(PULL_WAIT)
                .messages()
                .await;
            let mut batch = match pulled {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(%error, "cannot pull from the work queue; trying again");
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
            };
            match batch.next().await {
                Some(Ok(message)) => {
                    let worker = Arc::clone(&self);
                    let side = Arc::clone(&side);
                    running.spawn(async move {
                        worker.handle(&side, message).await;
                        drop(permit);
                    });
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "cannot pull from the work queue; trying again");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                None => {}
            }
        }
        tracing::info!(worker = %self.name, running = running.len(), "stopping: letting the running runs finish");
        while running.join_next().await.is_some() {}
        Ok(())
    }

    /// The queue, once the server has created it; `None` when stopped before.
    async fn wait_for_queue(
        &self,
        js: &jetstream::Context,
        stop: &Interrupt,
    ) -> Option<WorkerSide> {
        let mut told = false;
        loop {
            match queue::open(js, &self.scope).await {
                Ok(side) => return Some(side),
                Err(error) => {
                    if !told {
                        tracing::warn!(%error, "the work queue is not there yet (an `infragen serve --queue` creates it); waiting");
                        told = true;
                    }
                }
            }
            if stop.raised() {
                return None;
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// Runs one pulled message and answers it; acknowledges it once the answer is stored.
    async fn handle(&self, side: &WorkerSide, message: jetstream::Message) {
        let item: WorkItem = match serde_json::from_slice(&message.payload) {
            Ok(item) => item,
            Err(error) => {
                tracing::error!(%error, "dropping an unreadable work item");
                if let Err(error) = message.ack_with(AckKind::Term).await {
                    tracing::warn!(%error, "cannot drop the unreadable work item");
                }
                return;
            }
        };
        match queue::answer(&side.results, &item.reply).await {
            Ok(Some(_)) => {
                tracing::info!(key = %item.key, "the run was answered already (its worker stopped before acknowledging it)");
                self.acknowledge(&message, &item).await;
                return;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(key = %item.key, %error, "cannot check for an earlier answer")
            }
        }
        let message = Arc::new(message);
        let keep_alive = {
            let message = Arc::clone(&message);
            let every = (side.ack_wait / 3).max(Duration::from_millis(100));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(error) = message.ack_with(AckKind::Progress).await {
                        tracing::warn!(%error, "cannot tell the work queue the run is still at work");
                    }
                }
            })
        };
        let started = Instant::now();
        tracing::info!(worker = %self.name, key = %item.key, generator = %item.spec.generator, target = %item.spec.target.display_label, "running");
        let report = self.execute(side, &item).await;
        tracing::info!(worker = %self.name, key = %item.key, elapsed = ?started.elapsed(), failed = matches!(report.outcome, crate::runner::TargetOutcome::Failed { .. }), "ran");
        self.answer(side, &item, report).await;
        keep_alive.abort();
        self.acknowledge(&message, &item).await;
    }

    /// Publishes the answer until JetStream has it (see [`queue::publish_stored`]).
    async fn answer(&self, side: &WorkerSide, item: &WorkItem, report: TargetReport) {
        let result = WorkResult::from_report(&item.key, &self.name, report);
        let payload = match serde_json::to_vec(&result) {
            Ok(payload) => bytes::Bytes::from(payload),
            Err(error) => {
                tracing::error!(%error, "cannot serialise a run's answer");
                return;
            }
        };
        queue::publish_stored(
            &side.js,
            &item.reply,
            &item.key,
            payload,
            "the run's answer",
        )
        .await;
    }

    async fn acknowledge(&self, message: &jetstream::Message, item: &WorkItem) {
        for _ in 0..10 {
            match message.double_ack().await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(key = %item.key, %error, "cannot acknowledge the run yet; trying again");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
        tracing::warn!(key = %item.key, "gave up acknowledging the run; when it comes again its answer is found and it is only acknowledged");
    }

    /// Runs `item`: refused when this worker cannot run it, else its component fetched,
    /// verified, loaded, and run.
    async fn execute(&self, side: &WorkerSide, item: &WorkItem) -> TargetReport {
        if item.protocol != PROTOCOL {
            return item.failed(
                format!(
                    "worker {} refuses run {}: it was queued in work-queue protocol {}, and this \
                     worker speaks protocol {PROTOCOL}",
                    self.name, item.key, item.protocol
                ),
                false,
            );
        }
        if let Some(refusal) = self.contract_refusal(item) {
            return item.failed(refusal, false);
        }
        let plugin = match self.plugin(side, &item.component).await {
            Ok(plugin) => plugin,
            Err((message, retryable)) => {
                return item.failed(
                    format!(
                        "generator `{}` failed on target `{}` ({}): worker {}: {message}",
                        item.spec.generator,
                        item.spec.target.display_label,
                        item.spec.target.id,
                        self.name
                    ),
                    retryable,
                );
            }
        };
        run_spec(
            item.spec.clone(),
            Arc::clone(&self.backend),
            plugin,
            item.limits.clone(),
            item.grants.clone(),
        )
        .await
    }

    /// Why this worker does not run a component of the contract version the item names.
    fn contract_refusal(&self, item: &WorkItem) -> Option<String> {
        let declared = item.component.contract_version.as_deref()?;
        let accepted = Version::parse(declared).is_some_and(|v| contract::HOST_VERSION.accepts(v));
        (!accepted).then(|| {
            format!(
                "worker {} refuses generator `{}` on target `{}`: its component {} is built \
                 against {pkg}@{declared}, but this worker implements {pkg}@{host} (it runs \
                 components built against {range}); run a worker of a version that \
                 implements {pkg}@{declared}",
                self.name,
                item.spec.generator,
                item.spec.target.display_label,
                item.component.digest,
                pkg = contract::PACKAGE,
                host = contract::HOST_VERSION,
                range = contract::HOST_VERSION.accepted_range(),
            )
        })
    }

    /// The component `component` names, loaded: from memory, or fetched from the object
    /// store and checked against its digest first. The error says whether fetching again
    /// later may succeed.
    async fn plugin(
        &self,
        side: &WorkerSide,
        component: &ComponentRef,
    ) -> Result<Plugin, (String, bool)> {
        if let Some(plugin) = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&component.digest)
        {
            return Ok(plugin.clone());
        }
        let limit = self.runtime.max_plugin_size();
        if component.size > limit {
            return Err((
                format!(
                    "the component is {} bytes, over this worker's plugin size limit of {limit} bytes",
                    component.size
                ),
                false,
            ));
        }
        let bytes = fetch_verified(side, component, limit).await?;
        let path = PathBuf::from(format!("nats:{COMPONENTS_BUCKET}/{}", component.digest));
        let plugin = self
            .runtime
            .load_bytes(&path, bytes)
            .await
            .map_err(|error| (error.to_string(), false))?;
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(component.digest.clone(), plugin.clone());
        Ok(plugin)
    }
}

/// The bytes of `component` from the object store, checked against its digest; at most
/// `limit` bytes read. The error says whether a later run may succeed: a fetch that failed
/// or timed out every time may; bytes that never match their digest are refused.
async fn fetch_verified(
    side: &WorkerSide,
    component: &ComponentRef,
    limit: u64,
) -> Result<Vec<u8>, (String, bool)> {
    let digest = &component.digest;
    let mut last = String::new();
    for attempt in 1..=FETCH_ATTEMPTS {
        let fetch = async {
            let mut object = side.bucket.get(digest).await.map_err(|error| {
                format!("cannot fetch component {digest} from the object store {COMPONENTS_BUCKET}: {error}")
            })?;
            let mut bytes = Vec::new();
            (&mut object)
                .take(limit.saturating_add(1))
                .read_to_end(&mut bytes)
                .await
                .map_err(|error| format!("cannot read component {digest}: {error}"))?;
            Ok::<_, String>(bytes)
        };
        let mismatch = match tokio::time::timeout(fetch_time(component.size), fetch).await {
            Ok(Ok(bytes)) => {
                let actual = hex::encode(Sha256::digest(&bytes));
                if actual == *digest {
                    return Ok(bytes);
                }
                format!(
                    "the object store's component {digest} hashes to {actual} ({} bytes); \
                     refusing to run it",
                    bytes.len()
                )
            }
            Ok(Err(error)) => {
                last = error;
                String::new()
            }
            Err(_) => {
                last = format!(
                    "fetching component {digest} took longer than {:?}",
                    fetch_time(component.size)
                );
                String::new()
            }
        };
        if !mismatch.is_empty() {
            if attempt == FETCH_ATTEMPTS {
                return Err((mismatch, false));
            }
            last = mismatch;
        }
        tracing::warn!(%digest, attempt, error = %last, "fetching the component again");
    }
    Err((last, true))
}

/// Resolves once `stop` is raised (it is a flag: looked at five times a second).
async fn stopped(stop: &Interrupt) {
    while !stop.raised() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
