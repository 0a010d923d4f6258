//! The HTTP transport to an Infrahub server (or to `infragen serve`): the
//! same GraphQL documents the in-process transport runs, sent the way the
//! Python SDK sends them.
//!
//! - `POST {address}/graphql/{branch}` with `{"query", "variables"}`, the
//!   branch percent-encoded as one path segment (the SDK's
//!   `quote(branch, safe='')`), and `GET {address}/api/schema?branch=`.
//! - The API token travels in the `X-INFRAHUB-KEY` header. It never appears
//!   in a log line, an error message or a `Debug` rendering, and redirects are
//!   not followed, because reqwest would carry this custom header to whatever
//!   host the redirect names.
//! - 401/403 and 404 are refusals that name what to fix; a GraphQL error body
//!   is a response like any other (the caller reads its `errors`).
//! - Connection errors and 5xx answers are retried with bounded exponential
//!   backoff, but only when repeating the request cannot write twice: queries,
//!   and mutations that are idempotent by construction ([`Idempotency`]). A
//!   `…Create` that timed out may have been applied; sending it again could
//!   duplicate the node, so it fails at once and the caller decides.

use std::fmt;
use std::time::Duration;

use async_graphql_parser::types::{
    ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, LOCATION};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use super::{Transport, TransportError};

mod transaction;

use transaction::OpenTransaction;

/// The header Infrahub reads the API token from.
const TOKEN_HEADER: &str = "x-infrahub-key";

/// How often and how patiently a retryable request is repeated.
///
/// Only requests that cannot write twice are ever repeated (see
/// [`Idempotency`]); the rest get exactly one attempt whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts after the first one (0 disables retrying).
    pub retries: u32,
    /// The wait before the first retry; each further retry waits twice as long.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts, so a large `retries` stays bounded.
    pub max_backoff: Duration,
}

impl Retry {
    /// Never retry: every request gets one attempt.
    pub const NONE: Retry = Retry {
        retries: 0,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };

    /// The wait before retry number `retry` (0-based): `initial × 2^retry`,
    /// capped at `max_backoff`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

impl Default for Retry {
    /// Three retries after 100, 200 and 400 ms: long enough to ride out a
    /// server restart behind a proxy, short enough that a dead address fails
    /// in under a second.
    fn default() -> Self {
        Retry {
            retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
        }
    }
}

/// Where the Infrahub server is and how to talk to it.
///
/// Build it with [`HttpConfig::new`] from explicit values, or with
/// [`HttpConfig::from_env`] to honour `INFRAHUB_ADDRESS` and
/// `INFRAHUB_API_TOKEN` the way `infrahubctl` does; adjust timeouts and
/// retries on the fields. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The server's base URL (`http://host:8000`, or with a path prefix when
    /// behind a proxy); a trailing `/` is ignored.
    pub address: String,
    /// The API token sent as `X-INFRAHUB-KEY`; `None` sends no header, which
    /// a server requiring authentication answers with 401.
    pub token: Option<String>,
    /// How long to wait for the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// How long one request may take from sending to the last byte of the
    /// answer; a timed-out attempt counts as a connection error.
    pub timeout: Duration,
    /// Retries for requests that are safe to repeat.
    pub retry: Retry,
}

impl HttpConfig {
    /// Where the SDK looks when no address is given (`INFRAHUB_ADDRESS`'s default).
    pub const DEFAULT_ADDRESS: &str = "http://localhost:8000";

    /// The environment variable holding the server address, as the SDK reads it.
    pub const ADDRESS_ENV: &str = "INFRAHUB_ADDRESS";

    /// The environment variable holding the API token, as the SDK reads it.
    pub const TOKEN_ENV: &str = "INFRAHUB_API_TOKEN";

    /// The connect timeout when none is set: a reachable server answers a
    /// TCP handshake in milliseconds, so 10 s only covers slow networks.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// The request timeout when none is set: the SDK's `INFRAHUB_TIMEOUT`
    /// default (60 s), since a large upsert can take that long on a busy server.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

    /// A configuration from explicit values, with the default timeouts and
    /// retries; nothing is read from the environment.
    pub fn new(address: impl Into<String>, token: Option<String>) -> Self {
        HttpConfig {
            address: address.into(),
            token,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            timeout: Self::DEFAULT_TIMEOUT,
            retry: Retry::default(),
        }
    }

    /// A configuration from explicit values where given (the CLI's
    /// `--address` and `--token`), else from `INFRAHUB_ADDRESS` and
    /// `INFRAHUB_API_TOKEN`, else `http://localhost:8000` and no token.
    ///
    /// Explicit values win so a command line can override a shell's
    /// environment; an empty value (explicit or in the environment) counts as
    /// unset, so `INFRAHUB_API_TOKEN=` does not send an empty header.
    pub fn from_env(address: Option<String>, token: Option<String>) -> Self {
        Self::resolve(address, token, |name| std::env::var(name).ok())
    }

    /// [`HttpConfig::from_env`] over any lookup, so the precedence can be
    /// tested without touching the process environment.
    fn resolve(
        address: Option<String>,
        token: Option<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        let address = given(address)
            .or_else(|| given(env(Self::ADDRESS_ENV)))
            .unwrap_or_else(|| Self::DEFAULT_ADDRESS.to_owned());
        let token = given(token).or_else(|| given(env(Self::TOKEN_ENV)));
        Self::new(address, token)
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// A configuration the HTTP transport cannot start from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpConfigError {
    /// The address is not an `http(s)://host[:port][/prefix]` URL.
    #[error("the Infrahub address `{address}` is not usable: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token contains characters an HTTP header cannot carry (leading
    /// and trailing whitespace is trimmed first). The token itself is
    /// deliberately not shown.
    #[error(
        "the API token cannot be sent as an X-INFRAHUB-KEY header: it contains control or non-ASCII characters"
    )]
    Token,
    /// The HTTP client could not be built (TLS roots, for instance).
    #[error("the HTTP client could not be set up: {0}")]
    Client(String),
}

/// Whether a GraphQL document may be sent again after an attempt whose
/// outcome is unknown (a dropped connection, a timeout, a 5xx).
///
/// The transport works it out from the document itself
/// ([`Idempotency::of`]: operation types and root field names, plus the
/// `identifier` of pool allocations, variables resolved), so every caller
/// gets the rule without having to remember it; [`Http::execute_as`] takes
/// an explicit value for callers who know better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Only queries: repeating changes nothing.
    Read,
    /// Mutations whose repetition converges on the same state: `…Upsert`,
    /// `…Update`, `…Delete`, `RelationshipAdd`/`RelationshipRemove`, and
    /// pool allocations that carry an `identifier` (the pool hands the same
    /// resource back for the same identifier).
    ///
    /// An upsert that allocates through `from_pool` counts as idempotent:
    /// the server keys such an allocation on the node (its id for number
    /// pools, its HFID for IP pools), so a repeat gets the same resource. On
    /// a kind without an HFID an IP `from_pool` without `identifier` is the
    /// exception the document cannot show; callers writing such kinds can
    /// pass [`Idempotency::Write`] to [`Http::execute_as`].
    IdempotentWrite,
    /// Anything else: `…Create`, allocations without an identifier, unknown
    /// mutations, subscriptions, and documents that do not parse. Sent once.
    Write,
}

impl Idempotency {
    /// Classifies `document` run with `variables`.
    ///
    /// Every operation in the document counts (a document holding a query
    /// and a `…Create` is a `Write`), root fields are read through fragment
    /// spreads and inline fragments, and aliases do not hide the field name.
    /// An allocation (`…PoolGetResource`) is idempotent only when its `data`
    /// argument, after substituting the variables, has a non-empty
    /// `identifier`.
    ///
    /// The document is parsed through the store's cache of parsed documents, which the
    /// host's read-only check of a plugin's query has usually filled already.
    pub fn of(document: &str, variables: &Value) -> Self {
        match infragen_store::parse_document(document) {
            Ok(parsed) => Self::of_parsed(&parsed, variables),
            Err(_) => Idempotency::Write,
        }
    }

    /// [`Idempotency::of`] a document already parsed.
    pub fn of_parsed(parsed: &ExecutableDocument, variables: &Value) -> Self {
        let mut class = Idempotency::Read;
        for (_, operation) in parsed.operations.iter() {
            match operation.node.ty {
                OperationType::Query => {}
                OperationType::Subscription => return Idempotency::Write,
                OperationType::Mutation => {
                    let mut visited = Vec::new();
                    if !root_fields_idempotent(
                        parsed,
                        &operation.node.selection_set.node,
                        variables,
                        &mut visited,
                    ) {
                        return Idempotency::Write;
                    }
                    class = Idempotency::IdempotentWrite;
                }
            }
        }
        class
    }

    /// A pool allocation (`…PoolGetResource`) whose `data` argument is `data`: repeatable
    /// only under a non-empty `identifier`, for which the pool hands back the same resource.
    pub fn of_allocation(data: &serde_json::Map<String, Value>) -> Self {
        let repeatable = match data.get("identifier") {
            Some(Value::String(identifier)) => !identifier.is_empty(),
            Some(Value::Null) | None => false,
            Some(_) => true,
        };
        if repeatable {
            Idempotency::IdempotentWrite
        } else {
            Idempotency::Write
        }
    }

    /// Whether a failed attempt may be repeated.
    pub fn retryable(self) -> bool {
        !matches!(self, Idempotency::Write)
    }
}

/// Whether every root field of a mutation's selection is idempotent.
/// `visited` holds the fragments being expanded, so a (server-rejected)
/// fragment cycle cannot loop here.
fn root_fields_idempotent<'a>(
    document: &'a ExecutableDocument,
    selection: &'a SelectionSet,
    variables: &Value,
    visited: &mut Vec<&'a str>,
) -> bool {
    selection.items.iter().all(|item| match &item.node {
        Selection::Field(field) => {
            let field = &field.node;
            // The `data` argument as JSON, variables substituted; only
            // allocations need it.
            let data = || {
                let (_, value) = field
                    .arguments
                    .iter()
                    .find(|(name, _)| name.node.as_str() == "data")?;
                value
                    .node
                    .clone()
                    .into_const_with(|name| {
                        variables
                            .get(name.as_str())
                            .cloned()
                            .unwrap_or(Value::Null)
                            .try_into()
                    })
                    .and_then(|value| value.into_json())
                    .ok()
            };
            root_field_idempotent(field.name.node.as_str(), data)
        }
        Selection::InlineFragment(fragment) => root_fields_idempotent(
            document,
            &fragment.node.selection_set.node,
            variables,
            visited,
        ),
        Selection::FragmentSpread(spread) => {
            let name = spread.node.fragment_name.node.as_str();
            let Some(definition) = document.fragments.get(name) else {
                return false;
            };
            if visited.contains(&name) {
                return false;
            }
            visited.push(name);
            let FragmentDefinition { selection_set, .. } = &definition.node;
            let idempotent =
                root_fields_idempotent(document, &selection_set.node, variables, visited);
            visited.pop();
            idempotent
        }
    })
}

/// The rule for one root field of a mutation; `data` yields its `data`
/// argument as JSON.
fn root_field_idempotent(name: &str, data: impl FnOnce() -> Option<Value>) -> bool {
    if name == "__typename" || name == "RelationshipAdd" || name == "RelationshipRemove" {
        return true;
    }
    if ["Upsert", "Update", "Delete"]
        .iter()
        .any(|suffix| name.len() > suffix.len() && name.ends_with(suffix))
    {
        return true;
    }
    if name.ends_with("PoolGetResource") {
        return match data() {
            Some(Value::Object(data)) => Idempotency::of_allocation(&data).retryable(),
            _ => false,
        };
    }
    false
}

/// A transport to an Infrahub server over HTTP(S).
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    /// The address as configured, for messages.
    address: String,
    /// The address as a URL string without a trailing `/`, for building URLs.
    base: String,
    token: Option<HeaderValue>,
    retry: Retry,
    /// The run transaction every request of this transport runs in (see
    /// [`Transport::begin_transaction`]); shared by its clones, dropped on the server when
    /// the last of them goes without committing.
    transaction: Option<std::sync::Arc<OpenTransaction>>,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("retry", &self.retry)
            .finish()
    }
}

/// What to send: the URL and, for GraphQL, the body.
enum Request {
    /// `hold`: inside a run transaction, ask for the effects and hold the writes (see
    /// `crate::http_api::EFFECTS_HEADER`).
    Graphql {
        url: Url,
        body: Vec<u8>,
        hold: bool,
    },
    Schema {
        url: Url,
    },
}

impl Request {
    fn url(&self) -> &Url {
        match self {
            Request::Graphql { url, .. } | Request::Schema { url } => url,
        }
    }
}

/// The outcome of one attempt.
enum Attempt {
    /// A response to hand back, parsed, and its body as the server wrote it.
    Answer(Value, Bytes),
    /// A failure that another attempt cannot fix.
    Final(TransportError),
    /// A failure another attempt might not meet (connection, timeout, 5xx).
    Transient(String),
}

impl Http {
    /// A transport for `config`: checks the address and the token and builds
    /// the HTTP client (rustls, no redirects, the configured timeouts).
    pub fn new(config: HttpConfig) -> Result<Self, HttpConfigError> {
        let address = config.address.trim().to_owned();
        let invalid = |reason: String| HttpConfigError::Address {
            address: address.clone(),
            reason,
        };
        let url = Url::parse(&address).map_err(|error| invalid(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "the scheme must be http or https, not `{}`",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it names no host".to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Not echoed: the address would carry the password into messages.
            return Err(HttpConfigError::Address {
                address: "(an address with a user name or password)".to_owned(),
                reason: "credentials belong in the API token, not in the address".to_owned(),
            });
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "it must not carry a query (`?…`) or a fragment (`#…`)".to_owned(),
            ));
        }
        let base = url.as_str().trim_end_matches('/').to_owned();
        let token = config
            .token
            .as_deref()
            .map(|token| {
                let mut value =
                    HeaderValue::from_str(token.trim()).map_err(|_| HttpConfigError::Token)?;
                value.set_sensitive(true);
                Ok(value)
            })
            .transpose()?;
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("infragen/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| HttpConfigError::Client(crate::error_chain::with_causes(&error)))?;
        Ok(Http {
            client,
            address,
            base,
            token,
            retry: config.retry,
            transaction: None,
        })
    }

    /// The server address, as configured.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// [`Transport::execute`] with the idempotency given instead of derived
    /// from the document: for a caller that knows more than the document
    /// shows, or that wants no retry at all ([`Idempotency::Write`]).
    pub async fn execute_as(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
        idempotency: Idempotency,
    ) -> Result<Value, TransportError> {
        let request = self.graphql_request(branch, document, variables, false)?;
        self.send(request, idempotency).await
    }

    /// `POST {base}/graphql/{branch}` of `document` with `variables`; `hold`: inside a run
    /// transaction, with its writes held and its effects asked for.
    fn graphql_request(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
        hold: bool,
    ) -> Result<Request, TransportError> {
        let url = self.url(&format!("graphql/{}", quote_segment(checked(branch)?)))?;
        let body = serde_json::to_vec(&json!({ "query": document, "variables": variables }))
            .map_err(|error| {
                TransportError::Refused(format!("the GraphQL request cannot be encoded: {error}"))
            })?;
        Ok(Request::Graphql { url, body, hold })
    }

    /// `request` answered in JSON, with the API token.
    fn with_token(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let request = request.header(ACCEPT, "application/json");
        match &self.token {
            Some(token) => request.header(TOKEN_HEADER, token.clone()),
            None => request,
        }
    }

    /// `{base}/{path}` as a URL.
    fn url(&self, path: &str) -> Result<Url, TransportError> {
        let text = format!("{}/{path}", self.base);
        Url::parse(&text).map_err(|error| {
            TransportError::Refused(format!("cannot build the URL `{text}`: {error}"))
        })
    }

    /// Sends `request`, repeating it on transient failures when
    /// `idempotency` allows.
    async fn send(
        &self,
        request: Request,
        idempotency: Idempotency,
    ) -> Result<Value, TransportError> {
        Ok(self.send_keeping_body(request, idempotency).await?.0)
    }

    /// [`Http::send`], the response also as the body the server wrote.
    async fn send_keeping_body(
        &self,
        request: Request,
        idempotency: Idempotency,
    ) -> Result<(Value, Bytes), TransportError> {
        let attempts = if idempotency.retryable() {
            self.retry.retries.saturating_add(1)
        } else {
            1
        };
        let mut last = String::new();
        for attempt in 1..=attempts {
            if attempt > 1 {
                let wait = self.retry.backoff(attempt - 2);
                tracing::warn!(
                    url = %request.url(), attempt, ?wait, reason = %last,
                    "retrying a request to Infrahub"
                );
                tokio::time::sleep(wait).await;
            }
            match self.attempt(&request).await {
                Attempt::Answer(value, body) => return Ok((value, body)),
                Attempt::Final(error) => return Err(error),
                Attempt::Transient(reason) => last = reason,
            }
        }
        let tries = if attempts == 1 {
            match idempotency {
                Idempotency::Write => {
                    "1 attempt; not retried because the mutation is not idempotent and may have been applied"
                        .to_owned()
                }
                _ => "1 attempt; retries are disabled".to_owned(),
            }
        } else {
            format!("{attempts} attempts")
        };
        Err(TransportError::Unreachable(format!(
            "Infrahub at {} could not be reached ({tries}): {last}",
            self.address
        )))
    }

    /// One round trip.
    async fn attempt(&self, request: &Request) -> Attempt {
        let url = request.url();
        let builder = match request {
            Request::Graphql { url, body, hold } => {
                let builder = self
                    .client
                    .post(url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
                if *hold {
                    builder.header(crate::http_api::EFFECTS_HEADER, "hold")
                } else {
                    builder
                }
            }
            Request::Schema { url } => self.client.get(url.clone()),
        };
        let mut builder = self.with_token(builder);
        if let Some(transaction) = &self.transaction {
            builder = builder.header(
                crate::http_api::TRANSACTION_HEADER,
                transaction.header.clone(),
            );
        }
        tracing::debug!(%url, "sending a request to Infrahub");
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) if error.is_builder() => {
                return Attempt::Final(TransportError::Refused(crate::error_chain::with_causes(
                    &error,
                )));
            }
            Err(error) => return Attempt::Transient(crate::error_chain::with_causes(&error)),
        };
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                return Attempt::Transient(format!(
                    "{url} answered {status} but the body could not be read: {}",
                    crate::error_chain::with_causes(&error)
                ));
            }
        };
        let json = serde_json::from_slice::<Value>(&body);
        let said = server_says(json.as_ref().ok(), &body);
        match status.as_u16() {
            200..=299 => match json {
                Ok(value) => {
                    if let Some(transaction) = &self.transaction {
                        transaction.observe(&value);
                    }
                    Attempt::Answer(value, body)
                }
                Err(error) => Attempt::Final(TransportError::Unreachable(format!(
                    "{url} answered {status} with a body that is not JSON ({error}){said}"
                ))),
            },
            401 | 403 => Attempt::Final(TransportError::Refused(
                self.auth_refusal(url, status, &said),
            )),
            400 | 404 if let Some(message) = branch_not_found(json.as_ref().ok()) => {
                Attempt::Final(TransportError::BranchNotFound(message))
            }
            404 => Attempt::Final(TransportError::Refused(format!(
                "{url} was not found (404 Not Found){said}; check the Infrahub address and the branch name"
            ))),
            // The run transaction ended under the run (it expired, or the server
            // restarted): the run can only be run again.
            410 if let Some(transaction) = &self.transaction => {
                transaction.gone();
                Attempt::Final(TransportError::Conflict(format!(
                    "{url} answered 410 Gone{said}"
                )))
            }
            300..=399 => Attempt::Final(TransportError::Refused(format!(
                "{url} answered {status}, redirecting to {}; redirects are not followed (they would carry the API token to another address): configure the final address instead",
                location.as_deref().unwrap_or("an unnamed location")
            ))),
            500..=599 => Attempt::Transient(format!("{url} answered {status}{said}")),
            _ => match json {
                // Like the SDK: another status with a GraphQL error envelope
                // is a GraphQL answer, for the caller to read.
                Ok(value)
                    if matches!(request, Request::Graphql { .. })
                        && value.get("errors").is_some_and(Value::is_array) =>
                {
                    Attempt::Answer(value, body)
                }
                _ => Attempt::Final(TransportError::Refused(format!(
                    "{url} answered {status}{said}"
                ))),
            },
        }
    }

    /// The message for a 401 or 403: whether the token is missing or refused.
    fn auth_refusal(&self, url: &Url, status: StatusCode, said: &str) -> String {
        match (&self.token, status) {
            (None, _) => format!(
                "{url} requires authentication ({status}) and no API token is configured; pass --token or set {}{said}",
                HttpConfig::TOKEN_ENV
            ),
            (Some(_), StatusCode::FORBIDDEN) => format!(
                "{url} refused the API token ({status}): it does not grant this operation{said}"
            ),
            (Some(_), _) => format!(
                "{url} refused the API token ({status}): it is invalid or has expired{said}"
            ),
        }
    }
}

#[async_trait]
impl Transport for Http {
    async fn execute(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
    ) -> Result<Value, TransportError> {
        // Parsing may run on a guest's fiber stack (see `native_stack`); a document parsed
        // before is only walked (its fragments, recursively).
        let idempotency = crate::native_stack::for_document(document, |parsed| match parsed {
            Some(parsed) => Idempotency::of_parsed(&parsed, &variables),
            None => Idempotency::of(document, &variables),
        });
        self.execute_as(branch, document, variables, idempotency)
            .await
    }

    async fn execute_known(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
        idempotency: Idempotency,
    ) -> Result<Value, TransportError> {
        self.execute_as(branch, document, variables, idempotency)
            .await
    }

    async fn query_text(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
    ) -> Result<String, TransportError> {
        let request = self.graphql_request(branch, document, variables, false)?;
        let (_, body) = self.send_keeping_body(request, Idempotency::Read).await?;
        // It parsed as JSON, so it is UTF-8.
        String::from_utf8(body.to_vec()).map_err(|error| {
            TransportError::Unreachable(format!(
                "the answer of {} is not UTF-8: {error}",
                self.address
            ))
        })
    }

    async fn begin_transaction(
        &self,
        branch: &str,
        attempt: u32,
    ) -> Result<Option<Self>, TransportError> {
        self.begin(branch, attempt).await
    }

    async fn commit_transaction(&self) -> Result<usize, TransportError> {
        self.commit().await
    }

    fn transaction_outdated(&self) -> bool {
        self.transaction.as_ref().is_some_and(|t| t.outdated())
    }

    fn abandon_transaction(&self) {
        if let Some(transaction) = &self.transaction {
            transaction.abandon();
        }
    }

    fn holds_effects(&self) -> bool {
        self.transaction.is_some()
    }

    async fn execute_holding(
        &self,
        branch: &str,
        document: &str,
        variables: Value,
    ) -> Result<(Value, Vec<infragen_store::WriteEffect>), TransportError> {
        self.holding(branch, document, variables).await
    }

    async fn undo_held(&self) -> Result<(), TransportError> {
        self.undo().await
    }

    async fn schema(&self, branch: &str) -> Result<Value, TransportError> {
        let mut url = self.url("api/schema")?;
        url.query_pairs_mut()
            .append_pair("branch", checked(branch)?);
        self.send(Request::Schema { url }, Idempotency::Read).await
    }
}

/// The message of an answer saying the branch does not exist: an error coded
/// `BRANCH_NOT_FOUND` (the embedded store behind `infragen serve`), or
/// Infrahub's own `Branch: <name> not found.`.
fn branch_not_found(body: Option<&Value>) -> Option<String> {
    let error = body?.get("errors")?.as_array()?.first()?;
    let message = error.get("message")?.as_str()?;
    let coded = error.pointer("/extensions/code").and_then(Value::as_str)
        == Some(infragen_store::ErrorCode::BranchNotFound.as_str());
    let infrahub = message.starts_with("Branch: ") && message.ends_with(" not found.");
    (coded || infrahub).then(|| message.to_owned())
}

/// Refuses a branch name that would not stay one path segment (`.` and `..`
/// are resolved away by URL parsing even when percent-encoded).
fn checked(branch: &str) -> Result<&str, TransportError> {
    if branch.is_empty() || branch == "." || branch == ".." {
        return Err(TransportError::Refused(format!(
            "`{branch}` is not a branch name"
        )));
    }
    Ok(branch)
}

/// Percent-encodes every byte but ASCII letters, digits and `_.-~`, as
/// Python's `urllib.parse.quote(s, safe='')` does, so `feature/x` is one path
/// segment (`feature%2Fx`) and the URL matches the SDK's byte for byte.
fn quote_segment(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-~".contains(&byte) {
            quoted.push(char::from(byte));
        } else {
            quoted.push_str(&format!("%{byte:02X}"));
        }
    }
    quoted
}

/// What the server said, as `: <message>` for an error message: the
/// GraphQL/REST `errors[].message`, FastAPI's `detail`, or the start of the
/// body; empty when it said nothing.
fn server_says(json: Option<&Value>, body: &[u8]) -> String {
    const LIMIT: usize = 300;
    let message = match json {
        Some(value) => {
            let errors: Vec<&str> = value
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|error| error.get("message").and_then(Value::as_str))
                .collect();
            if errors.is_empty() {
                value
                    .get("detail")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_default()
            } else {
                errors.join("; ")
            }
        }
        None => String::from_utf8_lossy(body)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    if message.is_empty() {
        return String::new();
    }
    let mut short: String = message.chars().take(LIMIT).collect();
    if short.len() < message.len() {
        short.push('…');
    }
    format!(": {short}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use infragen_store::{GraphqlRequest, Store};

    // ---- classification -------------------------------------------------

    fn class(document: &str) -> Idempotency {
        Idempotency::of(document, &json!({}))
    }

    #[test]
    fn queries_are_reads() {
        assert_eq!(class("{ TestDevice { count } }"), Idempotency::Read);
        assert_eq!(
            class("query Q($n: String) { TestDevice(name__value: $n) { count } }"),
            Idempotency::Read
        );
    }

    #[test]
    fn upserts_updates_deletes_and_relationship_changes_are_idempotent_writes() {
        for document in [
            "mutation { TestDeviceUpsert(data: {name: {value: \"a\"}}) { ok } }",
            "mutation M($data: TestDeviceUpdateInput!) { TestDeviceUpdate(data: $data) { ok } }",
            "mutation { TestDeviceDelete(data: {id: \"1\"}) { ok } }",
            "mutation { RelationshipAdd(data: {id: \"g\", name: \"members\", nodes: [{id: \"a\"}]}) { ok } }",
            "mutation { RelationshipRemove(data: {id: \"g\", name: \"members\", nodes: []}) { ok } }",
            "mutation { a: TestDeviceUpsert(data: {}) { ok } b: TestDeviceDelete(data: {id: \"1\"}) { ok } }",
        ] {
            assert_eq!(class(document), Idempotency::IdempotentWrite, "{document}");
        }
    }

    #[test]
    fn a_create_is_never_retried_even_behind_an_alias_or_beside_an_upsert() {
        for document in [
            "mutation { TestDeviceCreate(data: {name: {value: \"a\"}}) { ok } }",
            "mutation { TestDeviceUpsert: TestDeviceCreate(data: {}) { ok } }",
            "mutation { TestDeviceUpsert(data: {}) { ok } TestDeviceCreate(data: {}) { ok } }",
            "query Q { TestDevice { count } } mutation M { TestDeviceCreate(data: {}) { ok } }",
            "mutation { BranchMerge(data: {name: \"b\"}) { ok } }",
            "mutation { Upsert(data: {}) { ok } }",
        ] {
            assert_eq!(class(document), Idempotency::Write, "{document}");
        }
    }

    #[test]
    fn root_fields_are_read_through_fragments() {
        assert_eq!(
            class("mutation { ...W } fragment W on Mutation { TestDeviceUpsert(data: {}) { ok } }"),
            Idempotency::IdempotentWrite
        );
        assert_eq!(
            class("mutation { ... on Mutation { TestDeviceCreate(data: {}) { ok } } }"),
            Idempotency::Write
        );
        assert_eq!(
            class("mutation { ...A } fragment A on Mutation { ...A }"),
            Idempotency::Write
        );
    }

    #[test]
    fn an_allocation_is_idempotent_only_with_an_identifier() {
        let literal = "mutation { InfrahubIPPrefixPoolGetResource(data: {id: \"p\", identifier: \"site1-p2p\"}) { ok } }";
        assert_eq!(class(literal), Idempotency::IdempotentWrite);

        let without = "mutation { InfrahubIPAddressPoolGetResource(data: {id: \"p\"}) { ok } }";
        assert_eq!(class(without), Idempotency::Write);

        let empty = "mutation { InfrahubIPAddressPoolGetResource(data: {id: \"p\", identifier: \"\"}) { ok } }";
        assert_eq!(class(empty), Idempotency::Write);

        let whole = "mutation A($data: IPPrefixPoolGetResourceInput!) { InfrahubIPPrefixPoolGetResource(data: $data) { ok } }";
        assert_eq!(
            Idempotency::of(whole, &json!({"data": {"id": "p", "identifier": "x"}})),
            Idempotency::IdempotentWrite
        );
        assert_eq!(
            Idempotency::of(whole, &json!({"data": {"id": "p", "identifier": null}})),
            Idempotency::Write
        );
        assert_eq!(Idempotency::of(whole, &json!({})), Idempotency::Write);

        let nested = "mutation A($i: String) { InfrahubIPPrefixPoolGetResource(data: {id: \"p\", identifier: $i}) { ok } }";
        assert_eq!(
            Idempotency::of(nested, &json!({"i": "x"})),
            Idempotency::IdempotentWrite
        );
        assert_eq!(Idempotency::of(nested, &json!({})), Idempotency::Write);
    }

    #[test]
    fn subscriptions_and_unparsable_documents_are_not_retried() {
        assert_eq!(
            class("subscription { TestDevice { count } }"),
            Idempotency::Write
        );
        assert_eq!(class("mutation { TestDeviceUpsert("), Idempotency::Write);
    }

    // ---- configuration --------------------------------------------------

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn explicit_values_win_over_the_environment_which_wins_over_the_default() {
        let environment = env(&[
            (HttpConfig::ADDRESS_ENV, "http://env:8000"),
            (HttpConfig::TOKEN_ENV, "env-token"),
        ]);

        let explicit = HttpConfig::resolve(
            Some("http://cli:9000".into()),
            Some("cli-token".into()),
            &environment,
        );
        assert_eq!(explicit.address, "http://cli:9000");
        assert_eq!(explicit.token.as_deref(), Some("cli-token"));

        let from_env = HttpConfig::resolve(None, None, &environment);
        assert_eq!(from_env.address, "http://env:8000");
        assert_eq!(from_env.token.as_deref(), Some("env-token"));

        let default = HttpConfig::resolve(None, None, env(&[]));
        assert_eq!(default.address, HttpConfig::DEFAULT_ADDRESS);
        assert_eq!(default.token, None);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = HttpConfig::resolve(
            Some(String::new()),
            Some(" ".into()),
            env(&[
                (HttpConfig::ADDRESS_ENV, ""),
                (HttpConfig::TOKEN_ENV, "env-token"),
            ]),
        );
        assert_eq!(config.address, HttpConfig::DEFAULT_ADDRESS);
        assert_eq!(config.token.as_deref(), Some("env-token"));
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let config = HttpConfig::new("http://127.0.0.1:1", Some("s3cret-token".into()));
        let http = Http::new(config.clone()).expect("valid configuration");
        for text in [format!("{config:?}"), format!("{http:?}")] {
            assert!(!text.contains("s3cret-token"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }

    #[test]
    fn unusable_addresses_and_tokens_are_refused_with_the_reason() {
        let error = Http::new(HttpConfig::new("localhost:8000", None)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the Infrahub address `localhost:8000` is not usable: the scheme must be http or https, not `localhost`"
        );
        let error = Http::new(HttpConfig::new("infrahub", None)).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the Infrahub address `infrahub` is not usable: "),
            "{error}"
        );
        let error = Http::new(HttpConfig::new("http://h/?x=1", None)).unwrap_err();
        assert!(error.to_string().contains("query"), "{error}");
        let error = Http::new(HttpConfig::new("http://admin:pw@h", None)).unwrap_err();
        assert!(!error.to_string().contains("pw"), "{error}");
        let error = Http::new(HttpConfig::new("http://h", Some("s3cret\nx".into()))).unwrap_err();
        assert_eq!(error, HttpConfigError::Token);
        assert!(!error.to_string().contains("s3cret"));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let retry = Retry::default();
        let waits: Vec<u128> = (0..5).map(|n| retry.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 400, 400]);
        assert_eq!(retry.backoff(u32::MAX), Duration::from_millis(400));
    }

    #[test]
    fn branches_are_quoted_like_python_quote_with_nothing_safe() {
        assert_eq!(quote_segment("main"), "main");
        assert_eq!(quote_segment("feature/x y+z"), "feature%2Fx%20y%2Bz");
        assert_eq!(quote_segment("a_b.c-d~e"), "a_b.c-d~e");
        assert_eq!(quote_segment("é?#%"), "%C3%A9%3F%23%25");
    }

    // ---- against a real store on loopback -------------------------------

    const SCHEMA: &str = r#"
version: "1.0"
nodes:
  - name: Device
    namespace: Test
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: role, kind: Text, optional: true}
"#;

    const UPSERT: &str = "mutation U($data: TestDeviceUpsertInput!) { TestDeviceUpsert(data: $data) { ok object { name { value } role { value } } } }";
    const LIST: &str =
        "query { TestDevice { count edges { node { id name { value } role { value } } } } }";

    fn store() -> Store {
        let store = Store::in_memory().expect("in-memory store");
        store
            .load_schema(&[("test.yml".to_owned(), SCHEMA.to_owned())])
            .expect("test schema loads");
        store
    }

    /// Serves `store` on 127.0.0.1:0; returns its address and a valid token.
    async fn serve(store: &Store) -> (String, String) {
        let token = store
            .create_token("http-transport-tests", infragen_store::TokenScope::Admin)
            .expect("token");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let served = store.clone();
        tokio::spawn(
            async move { crate::http_api::serve_listener(served, listener, Vec::new()).await },
        );
        (address, token)
    }

    /// A configuration with quick retries, so failing tests stay fast.
    fn quick(address: &str, token: Option<&str>) -> HttpConfig {
        HttpConfig {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
            retry: Retry {
                retries: 2,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(4),
            },
            ..HttpConfig::new(address, token.map(str::to_owned))
        }
    }

    fn http(address: &str, token: Option<&str>) -> Http {
        Http::new(quick(address, token)).expect("valid configuration")
    }

    async fn direct(store: &Store, branch: &str, document: &str, variables: Value) -> Value {
        store
            .execute(
                branch,
                GraphqlRequest::new(document).with_variables(variables),
            )
            .await
    }

    fn refusal(result: Result<Value, TransportError>) -> String {
        match result {
            Err(TransportError::Refused(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn unreachable(result: Result<Value, TransportError>) -> String {
        match result {
            Err(TransportError::Unreachable(message)) => message,
            other => panic!("expected unreachable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_mutation_and_a_query_answer_what_the_store_answers() {
        let (served, reference) = (store(), store());
        let (address, token) = serve(&served).await;
        let transport = http(&address, Some(&token));
        let variables = json!({"data": {"name": {"value": "leaf1"}, "role": {"value": "leaf"}}});

        let over_http = transport
            .execute("main", UPSERT, variables.clone())
            .await
            .expect("upsert over HTTP");
        let in_process = direct(&reference, "main", UPSERT, variables).await;
        assert_eq!(over_http, in_process);
        assert_eq!(over_http["data"]["TestDeviceUpsert"]["ok"], json!(true));

        let over_http = transport
            .execute("main", LIST, json!({}))
            .await
            .expect("query");
        assert_eq!(over_http, direct(&served, "main", LIST, json!({})).await);
        assert_eq!(over_http["data"]["TestDevice"]["count"], json!(1));
    }

    #[tokio::test]
    async fn a_graphql_error_is_an_answer_not_a_transport_error() {
        let served = store();
        let (address, token) = serve(&served).await;
        let document = "{ TestDevice { nonsense } }";
        let answer = http(&address, Some(&token))
            .execute("main", document, json!({}))
            .await
            .expect("an answer");
        assert!(answer["errors"].is_array(), "{answer}");
        assert_eq!(answer, direct(&served, "main", document, json!({})).await);
    }

    #[tokio::test]
    async fn the_schema_is_the_stores_and_an_unknown_branch_is_named() {
        let served = store();
        let (address, token) = serve(&served).await;
        let transport = http(&address, Some(&token));
        assert_eq!(
            transport.schema("main").await.expect("schema"),
            served.schema_json()
        );
        match transport.schema("no-such-branch").await {
            Err(TransportError::BranchNotFound(message)) => {
                assert_eq!(message, "Branch: no-such-branch not found.")
            }
            other => panic!("expected the branch to be missing, got {other:?}"),
        }
        // Another 404 is still a wrong address.
        let elsewhere = http(&format!("{address}/nowhere"), Some(&token));
        assert_eq!(
            refusal(elsewhere.schema("main").await),
            format!(
                "{address}/nowhere/api/schema?branch=main was not found (404 Not Found); check the Infrahub address and the branch name"
            )
        );
    }

    #[tokio::test]
    async fn without_a_token_the_request_is_refused_naming_the_missing_token() {
        let (address, _) = serve(&store()).await;
        let message = refusal(http(&address, None).execute("main", LIST, json!({})).await);
        assert_eq!(
            message,
            format!(
                "{address}/graphql/main requires authentication (401 Unauthorized) and no API token is configured; pass --token or set INFRAHUB_API_TOKEN: Authentication is required: send an X-INFRAHUB-KEY header"
            )
        );
    }

    #[tokio::test]
    async fn a_wrong_token_is_refused_as_invalid_without_showing_it() {
        let (address, _) = serve(&store()).await;
        let message = refusal(
            http(&address, Some("not-a-real-token"))
                .execute("main", LIST, json!({}))
                .await,
        );
        assert_eq!(
            message,
            format!(
                "{address}/graphql/main refused the API token (401 Unauthorized): it is invalid or has expired: Invalid API token"
            )
        );
        assert!(!message.contains("not-a-real-token"));
    }

    #[tokio::test]
    async fn an_address_nobody_listens_on_is_unreachable_after_the_retries() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        let address = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let message = unreachable(
            http(&address, Some("t"))
                .execute("main", LIST, json!({}))
                .await,
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let expected = format!("Infrahub at {address} could not be reached (3 attempts): ");
        assert!(message.starts_with(&expected), "{message}");
        assert!(
            message.contains(&format!("127.0.0.1:{port}/graphql/main")),
            "{message}"
        );
    }

    /// A request as the scripted server saw it: the URI and the token header.
    type Seen = (String, Option<String>);

    /// A loopback server that answers from a script (the last entry repeats)
    /// and records each request's path and token header.
    #[derive(Clone, Default)]
    struct Scripted {
        answers: Arc<Vec<(u16, &'static str)>>,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl Scripted {
        async fn start(answers: Vec<(u16, &'static str)>) -> (Self, String) {
            use axum::response::IntoResponse;
            let scripted = Scripted {
                answers: Arc::new(answers),
                ..Scripted::default()
            };
            let state = scripted.clone();
            let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
                let state = state.clone();
                async move {
                    let key = request
                        .headers()
                        .get(TOKEN_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let mut seen = state.seen.lock().expect("lock");
                    seen.push((request.uri().to_string(), key));
                    let (status, body) =
                        state.answers[(seen.len() - 1).min(state.answers.len() - 1)];
                    (
                        axum::http::StatusCode::from_u16(status).expect("status"),
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                        .into_response()
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let address = format!("http://{}", listener.local_addr().expect("address"));
            tokio::spawn(async move { axum::serve(listener, app).await });
            (scripted, address)
        }

        fn requests(&self) -> usize {
            self.seen.lock().expect("lock").len()
        }
    }

    const OK: (u16, &str) = (200, r#"{"data": {"ok": true}}"#);
    const BUSY: (u16, &str) = (503, r#"{"errors": [{"message": "restarting"}]}"#);

    #[tokio::test]
    async fn a_query_is_retried_after_a_503() {
        let (server, address) = Scripted::start(vec![BUSY, OK]).await;
        let answer = http(&address, None).execute("main", LIST, json!({})).await;
        assert_eq!(
            answer.expect("answer after a retry"),
            json!({"data": {"ok": true}})
        );
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn an_upsert_is_retried_after_a_503() {
        let (server, address) = Scripted::start(vec![BUSY, OK]).await;
        let answer = http(&address, None)
            .execute("main", UPSERT, json!({"data": {"name": {"value": "a"}}}))
            .await;
        assert_eq!(
            answer.expect("answer after a retry"),
            json!({"data": {"ok": true}})
        );
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn a_create_is_sent_once_after_a_503() {
        let (server, address) = Scripted::start(vec![BUSY, OK]).await;
        let create = "mutation { TestDeviceCreate(data: {name: {value: \"a\"}}) { ok } }";
        let message = unreachable(
            http(&address, None)
                .execute("main", create, json!({}))
                .await,
        );
        assert_eq!(server.requests(), 1);
        assert_eq!(
            message,
            format!(
                "Infrahub at {address} could not be reached (1 attempt; not retried because the mutation is not idempotent and may have been applied): {address}/graphql/main answered 503 Service Unavailable: restarting"
            )
        );
    }

    #[tokio::test]
    async fn a_server_that_keeps_failing_is_unreachable_after_the_configured_retries() {
        let (server, address) = Scripted::start(vec![BUSY]).await;
        let message = unreachable(http(&address, None).schema("main").await);
        assert_eq!(server.requests(), 3);
        assert_eq!(
            message,
            format!(
                "Infrahub at {address} could not be reached (3 attempts): {address}/api/schema?branch=main answered 503 Service Unavailable: restarting"
            )
        );
    }

    #[tokio::test]
    async fn a_redirect_is_refused_not_followed() {
        let (server, address) = Scripted::start(vec![(307, "")]).await;
        let message = refusal(
            http(&address, Some("t"))
                .execute("main", LIST, json!({}))
                .await,
        );
        assert_eq!(server.requests(), 1);
        assert!(message.contains("307 Temporary Redirect"), "{message}");
        assert!(message.contains("redirects are not followed"), "{message}");
    }

    #[tokio::test]
    async fn the_branch_is_one_percent_encoded_segment_and_the_token_a_header() {
        let (server, address) = Scripted::start(vec![OK]).await;
        let transport = http(&address, Some("t0ken"));
        transport
            .execute("feature/x y", LIST, json!({}))
            .await
            .expect("answer");
        transport.schema("feature/x y").await.expect("answer");
        let seen = server.seen.lock().expect("lock").clone();
        assert_eq!(
            seen,
            [
                (
                    "/graphql/feature%2Fx%20y".to_owned(),
                    Some("t0ken".to_owned())
                ),
                (
                    "/api/schema?branch=feature%2Fx+y".to_owned(),
                    Some("t0ken".to_owned())
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_write_on_a_branch_with_a_slash_lands_on_that_branch() {
        let served = store();
        served.create_branch("feature/http").expect("branch");
        let (address, token) = serve(&served).await;
        let variables = json!({"data": {"name": {"value": "spine1"}}});
        http(&address, Some(&token))
            .execute("feature/http", UPSERT, variables)
            .await
            .expect("upsert on the branch");
        let count = |answer: Value| answer["data"]["TestDevice"]["count"].clone();
        assert_eq!(
            count(direct(&served, "feature/http", LIST, json!({})).await),
            json!(1)
        );
        assert_eq!(
            count(direct(&served, "main", LIST, json!({})).await),
            json!(0)
        );
    }

    #[tokio::test]
    async fn a_dot_branch_is_refused_before_anything_is_sent() {
        let transport = http("http://127.0.0.1:1", None);
        assert_eq!(
            refusal(transport.execute("..", LIST, json!({})).await),
            "`..` is not a branch name"
        );
    }
}
