//! The JetStream objects the server and its workers share, and connecting to them.
//!
//! - stream [`RUNS_STREAM`] (work-queue retention): one message per run, published by the
//!   server with a deduplication id on its own subject (`infragen.runs.<server scope>`),
//!   consumed by that server's durable pull consumer ([`workers_consumer`]) that each of
//!   its workers pulls from — a worker learns its server's scope from the server
//!   (`GET /api/queue`), so it never takes another server's runs. A message is removed
//!   when a worker acks it; one not acked within the ack wait (its worker died) is
//!   delivered again, at most [`QueueSettings::deliveries`] times;
//! - stream [`RESULTS_STREAM`]: one message per run's answer, on the subject the run's item
//!   names, kept a week (a server restarted in the middle of a run finds it there);
//! - object store [`COMPONENTS_BUCKET`]: the components, named by their sha256.
//!
//! The server creates them (it decides the ack wait and the deliveries); a worker waits for
//! them to exist.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, object_store, stream};

use super::access::{AccessError, Connection, QueueAccess, QueueUrl};
use crate::error_chain::with_causes;

/// The stream of queued runs.
pub const RUNS_STREAM: &str = "INFRAGEN_RUNS";
/// The subjects of queued runs: `infragen.runs.<server scope>`.
pub const RUNS_SUBJECTS: &str = "infragen.runs";
/// The consumer the workers of the server whose store scope is `scope` pull runs from.
pub fn workers_consumer(scope: &str) -> String {
    format!("workers-{scope}")
}
/// The stream of runs' answers.
pub const RESULTS_STREAM: &str = "INFRAGEN_RESULTS";
/// The subjects of answers: `infragen.results.<server scope>.<item key>`.
pub const RESULTS_SUBJECTS: &str = "infragen.results";
/// The object store of components.
pub const COMPONENTS_BUCKET: &str = "infragen-components";

/// How long JetStream remembers a run's deduplication id: a server that publishes a run
/// again within it (its publish was answered late, or it restarted) publishes nothing new.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

/// How long answers are kept.
const RESULTS_KEPT: Duration = Duration::from_secs(7 * 86_400);

/// Why the work queue could not be reached or used.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue's URL or an access file cannot be used.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The NATS server refused this process: its credentials, or the TLS handshake.
    #[error("the NATS server at {url} refused the connection: {reason}")]
    Refused {
        /// The queue's URL, credentials hidden.
        url: String,
        /// Why, and what to check.
        reason: String,
    },
    /// A stream, consumer or bucket could not be created or opened.
    #[error("cannot set up {what} on the NATS server: {message}")]
    Setup {
        /// Which one.
        what: String,
        /// NATS's reason.
        message: String,
    },
    /// A component could not be stored or fetched.
    #[error("component {digest} in the object store {COMPONENTS_BUCKET}: {message}")]
    Component {
        /// Its digest.
        digest: String,
        /// What went wrong.
        message: String,
    },
    /// A message could not be published or read.
    #[error("the work queue: {0}")]
    Messaging(String),
}

/// How runs are delivered to workers; the server's choice, fixed when it creates the
/// consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// How long a worker may go without acknowledging a run (a running worker tells
    /// JetStream it is still at work every third of it) before the run is delivered to
    /// another.
    pub ack_wait: Duration,
    /// Deliveries of one run in all; a run whose workers all died is then given up, its
    /// error in the run history.
    pub deliveries: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            ack_wait: Duration::from_secs(30),
            deliveries: 3,
        }
    }
}

/// What a TLS refusal's message points at.
const TLS_FILES: &str = "`--queue-ca` names the CA that signed the server's certificate; \
                         `--queue-cert` and `--queue-key` the client's, where the server \
                         verifies clients";

/// How long [`connect`] waits between attempts at most while the NATS server is not there.
const MAX_CONNECT_BACKOFF: Duration = Duration::from_secs(5);
/// How often [`connect`] says it is still waiting.
const CONNECT_NOTICE: Duration = Duration::from_secs(30);

/// Connects to the NATS server at `url` with `access`, with `name` as the connection's
/// name. While the server cannot be reached it tries again (and says so every
/// [`CONNECT_NOTICE`]), so a server or worker may start before NATS does; a server that
/// refuses the credentials or the TLS handshake fails it at once, since trying again
/// changes nothing. Once connected, the client reconnects by itself whenever the server
/// goes away, for as long as the process runs.
pub async fn connect(
    url: &QueueUrl,
    access: &QueueAccess,
    name: &str,
) -> Result<async_nats::Client, QueueError> {
    let connection = Connection::prepare(url, access)?;
    let mut pause = Duration::from_millis(100);
    let mut told: Option<std::time::Instant> = None;
    loop {
        let attempt = connection
            .options()
            .name(name)
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Disconnected => {
                        tracing::warn!("lost the NATS server; reconnecting");
                    }
                    async_nats::Event::Connected => tracing::info!("connected to the NATS server"),
                    async_nats::Event::ServerError(error) => {
                        tracing::warn!(%error, "the NATS server reports an error");
                    }
                    other => tracing::debug!(%other, "NATS"),
                }
            })
            .connect(connection.url().address())
            .await;
        let error = match attempt {
            Ok(client) => return Ok(client),
            Err(error) => error,
        };
        use async_nats::ConnectErrorKind as Kind;
        // A refused TLS handshake comes as an I/O error whose cause is rustls's (a
        // certificate the client does not trust, or an alert from a server that does not
        // trust the client's); any other I/O error may pass.
        let tls = tls_failure(&error);
        let refused = match error.kind() {
            Kind::AuthorizationViolation => Some(
                "authorization violation: it does not accept the credentials given (the \
                 user and password or token in the URL, or `--queue-nkey`)"
                    .to_owned(),
            ),
            Kind::Authentication => Some(format!("authentication failed: {error}")),
            Kind::Tls => Some(format!("{} ({TLS_FILES})", with_causes(&error))),
            Kind::ServerParse => Some(format!("its address: {error}")),
            Kind::Io => tls.map(|tls| format!("the TLS handshake failed: {tls} ({TLS_FILES})")),
            Kind::Dns | Kind::TimedOut | Kind::MaxReconnects => None,
        };
        if let Some(reason) = refused {
            return Err(QueueError::Refused {
                url: url.to_string(),
                reason,
            });
        }
        if told.is_none_or(|at| at.elapsed() >= CONNECT_NOTICE) {
            tracing::warn!(%url, error = %with_causes(&error), "the NATS server cannot be reached yet; trying again");
            told = Some(std::time::Instant::now());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_CONNECT_BACKOFF);
    }
}

/// The TLS error (rustls's) that caused `error`, if one did.
fn tls_failure<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e async_nats::rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<async_nats::rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<async_nats::rustls::Error>())
        {
            return Some(tls);
        }
        cause = current.source();
    }
    None
}

fn setup(what: &str) -> impl Fn(&dyn std::fmt::Display) -> QueueError + '_ {
    move |error| QueueError::Setup {
        what: what.to_owned(),
        message: error.to_string(),
    }
}

/// The server's side (its store scope `scope`): creates what is missing, keeps what exists.
pub async fn create(
    js: &jetstream::Context,
    scope: &str,
    settings: QueueSettings,
) -> Result<(stream::Stream, stream::Stream, object_store::ObjectStore), QueueError> {
    let consumer_name = workers_consumer(scope);
    let runs = js
        .get_or_create_stream(stream::Config {
            name: RUNS_STREAM.to_owned(),
            subjects: vec![format!("{RUNS_SUBJECTS}.>")],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| setup(RUNS_STREAM)(&e))?;
    let results = js
        .get_or_create_stream(stream::Config {
            name: RESULTS_STREAM.to_owned(),
            subjects: vec![format!("{RESULTS_SUBJECTS}.>")],
            storage: stream::StorageType::File,
            max_age: RESULTS_KEPT,
            max_messages_per_subject: 1,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| setup(RESULTS_STREAM)(&e))?;
    let mut consumer: consumer::PullConsumer = runs
        .get_or_create_consumer(
            &consumer_name,
            consumer::pull::Config {
                durable_name: Some(consumer_name.clone()),
                filter_subject: format!("{RUNS_SUBJECTS}.{scope}"),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: settings.ack_wait,
                max_deliver: i64::from(settings.deliveries.max(1)),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| setup(&consumer_name)(&e))?;
    let config = &consumer
        .info()
        .await
        .map_err(|e| setup(&consumer_name)(&e))?
        .config;
    if config.ack_wait != settings.ack_wait
        || config.max_deliver != i64::from(settings.deliveries.max(1))
    {
        tracing::warn!(
            ack_wait = ?config.ack_wait,
            deliveries = config.max_deliver,
            consumer = %consumer_name,
            "the workers' consumer exists with other settings than this server's; it keeps \
             them (delete the consumer of stream `{RUNS_STREAM}` to apply these)"
        );
    }
    let bucket = match js.get_object_store(COMPONENTS_BUCKET).await {
        Ok(bucket) => bucket,
        Err(_) => js
            .create_object_store(object_store::Config {
                bucket: COMPONENTS_BUCKET.to_owned(),
                description: Some("infragen generator components, named by sha256".into()),
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| setup(COMPONENTS_BUCKET)(&e))?,
    };
    Ok((runs, results, bucket))
}

/// What a worker uses, once the server has created it.
pub struct WorkerSide {
    /// The JetStream context answers are published through.
    pub js: jetstream::Context,
    /// The consumer runs are pulled from.
    pub consumer: consumer::PullConsumer,
    /// Its ack wait.
    pub ack_wait: Duration,
    /// The answers' stream.
    pub results: stream::Stream,
    /// The components.
    pub bucket: object_store::ObjectStore,
}

/// The worker's side (its server's store scope `scope`): what the server created, or why
/// it is not there (yet).
pub async fn open(js: &jetstream::Context, scope: &str) -> Result<WorkerSide, QueueError> {
    let consumer_name = workers_consumer(scope);
    let runs = js
        .get_stream(RUNS_STREAM)
        .await
        .map_err(|e| setup(RUNS_STREAM)(&e))?;
    let results = js
        .get_stream(RESULTS_STREAM)
        .await
        .map_err(|e| setup(RESULTS_STREAM)(&e))?;
    let mut consumer: consumer::PullConsumer = runs
        .get_consumer(&consumer_name)
        .await
        .map_err(|e| setup(&consumer_name)(&e))?;
    let ack_wait = consumer
        .info()
        .await
        .map_err(|e| setup(&consumer_name)(&e))?
        .config
        .ack_wait;
    let bucket = js
        .get_object_store(COMPONENTS_BUCKET)
        .await
        .map_err(|e| setup(COMPONENTS_BUCKET)(&e))?;
    Ok(WorkerSide {
        js: js.clone(),
        consumer,
        ack_wait,
        results,
        bucket,
    })
}

/// The longest wait between two attempts of [`publish_stored`] while NATS is unreachable.
const MAX_PUBLISH_BACKOFF: Duration = Duration::from_secs(2);

/// Publishes `payload` on `subject` with deduplication id `key`, again and again (NATS may
/// be down for a while) until JetStream has stored it; `what` names it in the log. A
/// message JetStream already had under `key` is not stored twice: its acknowledgement
/// says `duplicate`.
pub async fn publish_stored(
    js: &jetstream::Context,
    subject: &str,
    key: &str,
    payload: bytes::Bytes,
    what: &str,
) -> jetstream::publish::PublishAck {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", key);
        let published = match js
            .publish_with_headers(subject.to_owned(), headers, payload.clone())
            .await
        {
            Ok(ack) => ack.await.map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match published {
            Ok(ack) => return ack,
            Err(error) => {
                tracing::warn!(%key, %error, "cannot publish {what} yet; trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_PUBLISH_BACKOFF);
            }
        }
    }
}

/// The answer on `subject`, if one was published.
pub async fn answer(
    results: &stream::Stream,
    subject: &str,
) -> Result<Option<bytes::Bytes>, QueueError> {
    match results.get_last_raw_message_by_subject(subject).await {
        Ok(message) => Ok(Some(message.payload)),
        Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Ok(None),
        Err(error) => Err(QueueError::Messaging(format!(
            "reading the answer on {subject}: {error}"
        ))),
    }
}
