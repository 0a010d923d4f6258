//! The server's side of the work queue: each run of a cascade is published as a
//! [`WorkItem`] and its [`WorkResult`] awaited, in place of running it in this process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, object_store, stream};
use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::Notify;

use super::RemoteRuns;
use super::access::{QueueAccess, QueueUrl};
use super::queue::{self, QueueError, QueueSettings, RESULTS_SUBJECTS, RUNS_STREAM, RUNS_SUBJECTS};
use super::wire::{ComponentRef, WorkItem, WorkResult};
use crate::runner::TargetReport;

/// How often a waiting run looks for its answer in the results stream when no notice came
/// (one missed while the connection was down).
const LOOK_AGAIN: Duration = Duration::from_secs(1);

/// Looks in a row that find a run's message gone from the queue with no answer before the
/// run is taken for lost (the message was removed by hand, or given up while this server
/// was disconnected and missed the advisory): it is then failed as retryable, and the
/// cascade queues it again.
const GONE_LOOKS: u32 = 3;

/// How often a run still without an answer is reported in the log (no worker may be
/// running).
const STILL_WAITING: Duration = Duration::from_secs(60);

/// A run waiting for its answer.
#[derive(Default)]
struct Waiter {
    /// Woken when an answer to it is published, or it is given up.
    notify: Notify,
    /// Deliveries made when JetStream gave the run up (every worker it went to stopped
    /// before answering).
    given_up: Mutex<Option<u64>>,
}

/// Publishes runs to the work queue and waits for the workers' answers.
pub struct Dispatcher {
    js: jetstream::Context,
    /// Tells this server's runs and answers from another's on the same NATS server.
    scope: String,
    runs: stream::Stream,
    results: stream::Stream,
    bucket: object_store::ObjectStore,
    /// Digests already in the object store.
    shared: Mutex<std::collections::HashSet<String>>,
    /// By item key.
    waiting: Mutex<HashMap<String, Arc<Waiter>>>,
    /// Item key by the stream sequence of its message.
    by_sequence: Mutex<HashMap<u64, String>>,
    deliveries: u32,
}

/// The advisory JetStream publishes when a message reached its deliveries unacknowledged.
/// It comes when a worker next pulls after the last delivery's ack wait (nats-server 2.9
/// looks at expired deliveries of a pull consumer only then), so while no worker is
/// pulling, a run whose workers all died waits, and [`STILL_WAITING`] says so in the log.
#[derive(serde::Deserialize)]
struct MaxDeliveries {
    stream_seq: u64,
    deliveries: u64,
}

impl Dispatcher {
    /// Connects to the NATS server at `url` with `access`, creates the queue's streams,
    /// consumer and bucket where missing, and listens for answers. `scope` names this server's store
    /// (several servers may share one NATS server).
    pub async fn start(
        url: &QueueUrl,
        access: &QueueAccess,
        scope: &str,
        settings: QueueSettings,
    ) -> Result<Arc<Dispatcher>, QueueError> {
        let client = queue::connect(url, access, &format!("infragen serve {scope}")).await?;
        let js = jetstream::new(client.clone());
        let (runs, results, bucket) = queue::create(&js, scope, settings).await?;
        let subscribe = |subject: String| {
            let client = client.clone();
            async move {
                client
                    .subscribe(subject.clone())
                    .await
                    .map_err(|error| QueueError::Setup {
                        what: format!("a subscription to {subject}"),
                        message: error.to_string(),
                    })
            }
        };
        let mut answers = subscribe(format!("{RESULTS_SUBJECTS}.{scope}.*")).await?;
        let mut advisories = subscribe(format!(
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{RUNS_STREAM}.{}",
            queue::workers_consumer(scope)
        ))
        .await?;
        let dispatcher = Arc::new(Dispatcher {
            js,
            scope: scope.to_owned(),
            runs,
            results,
            bucket,
            shared: Mutex::default(),
            waiting: Mutex::default(),
            by_sequence: Mutex::default(),
            deliveries: settings.deliveries,
        });
        let weak = Arc::downgrade(&dispatcher);
        tokio::spawn(async move {
            while let Some(message) = answers.next().await {
                let Some(dispatcher) = weak.upgrade() else {
                    return;
                };
                if let Some(key) = message.subject.as_str().rsplit('.').next() {
                    dispatcher.wake(key);
                }
            }
        });
        let weak = Arc::downgrade(&dispatcher);
        tokio::spawn(async move {
            while let Some(message) = advisories.next().await {
                let Some(dispatcher) = weak.upgrade() else {
                    return;
                };
                match serde_json::from_slice::<MaxDeliveries>(&message.payload) {
                    Ok(advisory) => dispatcher.given_up(advisory).await,
                    Err(error) => {
                        tracing::warn!(%error, "an unreadable max-deliveries advisory");
                    }
                }
            }
        });
        Ok(dispatcher)
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wake(&self, key: &str) {
        if let Some(waiter) = Self::lock(&self.waiting).get(key) {
            waiter.notify.notify_one();
        }
    }

    /// JetStream stopped delivering a run: its message is removed from the queue and the
    /// run waiting for it ends.
    async fn given_up(&self, advisory: MaxDeliveries) {
        let key = Self::lock(&self.by_sequence).remove(&advisory.stream_seq);
        if let Err(error) = self.runs.delete_message(advisory.stream_seq).await {
            tracing::warn!(sequence = advisory.stream_seq, %error, "cannot remove a run given up from the queue");
        }
        let Some(key) = key else { return };
        let waiter = Self::lock(&self.waiting).get(&key).cloned();
        if let Some(waiter) = waiter {
            *Self::lock(&waiter.given_up) = Some(advisory.deliveries);
            waiter.notify.notify_one();
        }
    }
}

#[async_trait]
impl RemoteRuns for Dispatcher {
    async fn share(&self, component: &ComponentRef, bytes: Vec<u8>) -> Result<(), QueueError> {
        if Self::lock(&self.shared).contains(&component.digest) {
            return Ok(());
        }
        let present = self
            .bucket
            .info(&component.digest)
            .await
            .is_ok_and(|info| info.size as u64 == component.size && !info.deleted);
        if !present {
            self.bucket
                .put(component.digest.as_str(), &mut bytes.as_slice())
                .await
                .map_err(|error| QueueError::Component {
                    digest: component.digest.clone(),
                    message: format!("cannot store it: {error}"),
                })?;
        }
        Self::lock(&self.shared).insert(component.digest.clone());
        Ok(())
    }

    async fn run(&self, mut item: WorkItem) -> TargetReport {
        item.key = match item.run.record {
            Some(record) => format!("{}-{record}-{}", self.scope, item.run.attempt),
            None => format!("{}-{}", self.scope, uuid::Uuid::new_v4()),
        };
        item.reply = format!("{RESULTS_SUBJECTS}.{}.{}", self.scope, item.key);
        let payload = match serde_json::to_vec(&item) {
            Ok(payload) => bytes::Bytes::from(payload),
            Err(error) => {
                return item.failed(
                    format!("cannot write the run as a work item: {error}"),
                    false,
                );
            }
        };
        let waiter = Arc::new(Waiter::default());
        Self::lock(&self.waiting).insert(item.key.clone(), Arc::clone(&waiter));
        let subject = format!("{RUNS_SUBJECTS}.{}", self.scope);
        let ack = queue::publish_stored(&self.js, &subject, &item.key, payload, "the run").await;
        if ack.duplicate {
            tracing::info!(key = %item.key, "the run was queued already; waiting for its answer");
        }
        let sequence = ack.sequence;
        Self::lock(&self.by_sequence).insert(sequence, item.key.clone());
        let mut gone = 0;
        let queued_at = std::time::Instant::now();
        let mut reported = queued_at;
        let report = loop {
            match queue::answer(&self.results, &item.reply).await {
                Ok(Some(payload)) => match serde_json::from_slice::<WorkResult>(&payload) {
                    Ok(result) => {
                        tracing::debug!(key = %item.key, worker = %result.worker, "the run's answer");
                        break result
                            .into_report(item.spec.target.clone(), item.spec.params.clone());
                    }
                    Err(error) => {
                        break item.failed(
                            format!(
                                "generator `{}` on target `{}`: the worker's answer is unreadable: {error}",
                                item.spec.generator, item.spec.target.display_label
                            ),
                            false,
                        );
                    }
                },
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(key = %item.key, %error, "cannot look for the run's answer yet")
                }
            }
            if let Some(deliveries) = *Self::lock(&waiter.given_up) {
                break item.failed(
                    format!(
                        "generator `{}` on target `{}` ({}): given up after {deliveries} of {} \
                         deliveries to workers, each of which stopped before answering (killed, \
                         or out of memory); it is not delivered again",
                        item.spec.generator,
                        item.spec.target.display_label,
                        item.spec.target.id,
                        self.deliveries
                    ),
                    false,
                );
            }
            match self.runs.get_raw_message(sequence).await {
                Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                    gone += 1;
                }
                _ => gone = 0,
            }
            if gone >= GONE_LOOKS {
                break item.failed(
                    format!(
                        "generator `{}` on target `{}` ({}): its run left the work queue without an \
                         answer (removed from the stream, or given up while this server was \
                         disconnected)",
                        item.spec.generator, item.spec.target.display_label, item.spec.target.id
                    ),
                    true,
                );
            }
            if reported.elapsed() >= STILL_WAITING {
                reported = std::time::Instant::now();
                tracing::warn!(
                    key = %item.key,
                    generator = %item.spec.generator,
                    target = %item.spec.target.display_label,
                    waited = ?queued_at.elapsed(),
                    "a run on the work queue has no answer yet: is an `infragen worker` pulling from it?"
                );
            }
            let _ = tokio::time::timeout(LOOK_AGAIN, waiter.notify.notified()).await;
        };
        Self::lock(&self.waiting).remove(&item.key);
        Self::lock(&self.by_sequence).remove(&sequence);
        report
    }
}
