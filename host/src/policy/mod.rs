//! The runtime policy: how much a generator may consume and what it may write.
//!
//! Read from `infragen.toml` at the repository root, never from
//! `.infrahub.yml`, which must stay exactly Infrahub's format. Every limit has
//! a default strict enough for untrusted code, and a user can loosen or
//! tighten it per generator:
//!
//! ```toml
//! [sandbox]                      # defaults for every generator
//! memory = "128 MiB"
//! deadline = "60s"
//!
//! [generators.generate-fabric.sandbox]
//! deadline = "2m"
//! fuel = 5_000_000_000
//!
//! [generators.generate-rack.writes]   # what it may change that it does not own
//! stamp = ["DcimPhysicalInterface.status"]
//! join_groups = ["devices"]
//! ```
//!
//! What a generator may write is decided by ownership (see [`writes`]): it
//! changes what its own runs created for the same target, and nothing else
//! unless the operator grants it here.

pub mod units;
pub mod writes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use infragen_store::Retention;
use serde::{Deserialize, Serialize};

use crate::http_api::TransactionLimits;

pub use units::{ByteSize, Seconds};
pub use writes::{Call, WriteGrants, WritePolicy};

/// The largest memory cap a policy may grant. The pooling allocator reserves
/// address space for this much per concurrent run, so it is fixed per
/// process.
pub const MAX_MEMORY: u64 = 1 << 30;

/// Resource limits of one generator run (sent to a worker with each run it is given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxLimits {
    /// Linear memory a run may grow to, in bytes.
    pub memory: u64,
    /// Wall time of a run, host calls included.
    pub deadline: Duration,
    /// Instruction budget ("fuel"); `None` for unlimited.
    pub fuel: Option<u64>,
    /// Calls to host functions per run.
    pub max_host_calls: u64,
    /// Bytes of all arguments of one host call together.
    pub max_argument_bytes: u64,
    /// Bytes of one host call's response.
    pub max_response_bytes: u64,
    /// Bytes of log a run may produce (log calls, and stdout and stderr each).
    pub log_bytes: u64,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            memory: 128 << 20,
            deadline: Duration::from_secs(60),
            fuel: None,
            max_host_calls: 100_000,
            max_argument_bytes: 4 << 20,
            max_response_bytes: 16 << 20,
            log_bytes: 1 << 20,
        }
    }
}

/// Limits as written in the file: every field optional, so a per-generator
/// table only names what it changes.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SandboxOverrides {
    memory: Option<ByteSize>,
    deadline: Option<Seconds>,
    fuel: Option<u64>,
    max_host_calls: Option<u64>,
    max_argument_size: Option<ByteSize>,
    max_response_size: Option<ByteSize>,
    log_cap: Option<ByteSize>,
}

impl SandboxOverrides {
    fn apply(&self, limits: &mut SandboxLimits) {
        if let Some(ByteSize(memory)) = self.memory {
            limits.memory = memory;
        }
        if let Some(Seconds(deadline)) = self.deadline {
            limits.deadline = deadline;
        }
        if let Some(fuel) = self.fuel {
            limits.fuel = Some(fuel);
        }
        if let Some(calls) = self.max_host_calls {
            limits.max_host_calls = calls;
        }
        if let Some(ByteSize(bytes)) = self.max_argument_size {
            limits.max_argument_bytes = bytes;
        }
        if let Some(ByteSize(bytes)) = self.max_response_size {
            limits.max_response_bytes = bytes;
        }
        if let Some(ByteSize(bytes)) = self.log_cap {
            limits.log_bytes = bytes;
        }
    }
}

/// Policy of one generator in the file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct GeneratorSection {
    #[serde(default)]
    sandbox: SandboxOverrides,
    #[serde(default)]
    writes: WriteGrants,
}

/// The `[store]` table: what `infragen serve` reads from its `--config` file (see
/// [`ServeConfig`]); part of the policy file, so that the file is checked whole.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    /// Tokens of the HTTP API, with the `admin` scope.
    #[serde(default)]
    api_tokens: Vec<String>,
    #[serde(default)]
    transactions: TransactionsSection,
}

/// The `[store.transactions]` table: the HTTP API's run transactions (see
/// [`TransactionLimits`] for what each bounds and why).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct TransactionsSection {
    /// Open at once; 0 turns run transactions off.
    open: Option<u64>,
    /// Dropped, with its writes, after this long without a request ("5m").
    idle: Option<Seconds>,
    /// Nodes one may change.
    nodes: Option<u64>,
}

impl TransactionsSection {
    /// The limits the table sets over the defaults, or what is wrong with them.
    fn limits(&self) -> Result<TransactionLimits, String> {
        let mut limits = TransactionLimits::default();
        if let Some(open) = self.open {
            if open > MAX_OPEN_TRANSACTIONS {
                return Err(format!(
                    "open = {open} is outside the supported range 0 to {MAX_OPEN_TRANSACTIONS}"
                ));
            }
            limits.open = open as usize;
        }
        if let Some(Seconds(idle)) = self.idle {
            if idle < Duration::from_secs(1) || idle > Duration::from_secs(24 * 3600) {
                return Err(format!(
                    "idle = {idle:?} is outside the supported range 1s to 24h"
                ));
            }
            limits.idle = idle;
        }
        if let Some(nodes) = self.nodes {
            if nodes == 0 || nodes > MAX_TRANSACTION_NODES {
                return Err(format!(
                    "nodes = {nodes} is outside the supported range 1 to {MAX_TRANSACTION_NODES}"
                ));
            }
            limits.nodes = nodes as usize;
        }
        Ok(limits)
    }
}

/// The most run transactions `[store.transactions] open` may allow: each one waiting
/// for the write turn is a task, each one holding it the memory of its writes.
const MAX_OPEN_TRANSACTIONS: u64 = 4096;
/// The most nodes `[store.transactions] nodes` may let one transaction change: its
/// writes stay in the server's memory until the commit.
const MAX_TRANSACTION_NODES: u64 = 10_000_000;

/// What `infragen serve` reads from its configuration file: the `[store]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeConfig {
    /// `api_tokens`: tokens of the HTTP API, with the `admin` scope.
    pub api_tokens: Vec<String>,
    /// `[store.transactions]` over [`TransactionLimits::default`].
    pub transactions: TransactionLimits,
}

impl ServeConfig {
    /// Reads `path`, a policy file (errors as [`RuntimePolicy::load`]'s); the defaults
    /// when there is no such file.
    pub fn load(path: &Path) -> Result<ServeConfig, PolicyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(PolicyError::Read {
                path: path.to_owned(),
                error,
            }),
        }
    }

    /// Parses a policy file's text; `path` names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<ServeConfig, PolicyError> {
        let file = parse_file(path, text)?;
        Ok(ServeConfig {
            transactions: transaction_limits(path, &file.store)?,
            api_tokens: file.store.api_tokens,
        })
    }
}

fn parse_file(path: &Path, text: &str) -> Result<PolicyFile, PolicyError> {
    toml::from_str(text).map_err(|error| PolicyError::Syntax {
        path: path.to_owned(),
        message: error.to_string().trim_end().to_owned(),
    })
}

fn transaction_limits(path: &Path, store: &StoreSection) -> Result<TransactionLimits, PolicyError> {
    store
        .transactions
        .limits()
        .map_err(|message| PolicyError::Invalid {
            path: path.to_owned(),
            scope: "[store.transactions]".to_owned(),
            message,
        })
}

/// The `[history]` table: how long the run history is kept.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct HistorySection {
    /// Ended runs older than this are removed ("30d").
    keep_for: Option<Seconds>,
    /// At most this many ended runs are kept.
    keep_runs: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    sandbox: SandboxOverrides,
    #[serde(default)]
    generators: BTreeMap<String, GeneratorSection>,
    #[serde(default)]
    store: StoreSection,
    #[serde(default)]
    history: HistorySection,
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file exists but could not be read.
    #[error("{path}: {error}")]
    Read {
        /// The policy file.
        path: PathBuf,
        /// The I/O failure (part of the message, so not a `source`).
        error: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys or bad values; the
    /// message carries the line and column.
    #[error("{path}: {message}")]
    Syntax {
        /// The policy file.
        path: PathBuf,
        /// The parser's message, with line, column and the offending excerpt.
        message: String,
    },
    /// A value parsed but is outside what the runtime can honour.
    #[error("{path}: {scope}: {message}")]
    Invalid {
        /// The policy file.
        path: PathBuf,
        /// `[sandbox]`, `[generators.<name>.sandbox]` or `[store.transactions]`.
        scope: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// The whole runtime policy of a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimePolicy {
    defaults: SandboxOverrides,
    generators: BTreeMap<String, SandboxOverrides>,
    grants: BTreeMap<String, WriteGrants>,
    retention: Retention,
}

/// The policy file's name at the repository root.
pub const FILE_NAME: &str = "infragen.toml";

impl RuntimePolicy {
    /// Reads `infragen.toml` from `repository`; the defaults when there is none.
    pub fn load(repository: &Path) -> Result<RuntimePolicy, PolicyError> {
        let path = repository.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&path, &text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(PolicyError::Read { path, error }),
        }
    }

    /// Parses policy text; `path` names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<RuntimePolicy, PolicyError> {
        let file = parse_file(path, text)?;
        // Read by `infragen serve` (`ServeConfig`), checked with the rest of the file.
        transaction_limits(path, &file.store)?;
        let defaults = Retention::default();
        let mut policy = RuntimePolicy {
            defaults: file.sandbox,
            retention: Retention {
                max_age: file
                    .history
                    .keep_for
                    .map(|Seconds(age)| age)
                    .or(defaults.max_age),
                max_runs: file.history.keep_runs.or(defaults.max_runs),
            },
            ..RuntimePolicy::default()
        };
        for (name, section) in file.generators {
            policy.grants.insert(name.clone(), section.writes);
            policy.generators.insert(name, section.sandbox);
        }
        policy.validate(path)?;
        Ok(policy)
    }

    /// The generators the file configures, so callers can report names that
    /// `.infrahub.yml` does not define.
    pub fn configured_generators(&self) -> impl Iterator<Item = &str> {
        self.generators.keys().map(String::as_str)
    }

    /// The limits of a run of `generator`: defaults, then the file's
    /// `[sandbox]`, then its `[generators.<generator>.sandbox]`.
    pub fn limits_for(&self, generator: &str) -> SandboxLimits {
        let mut limits = SandboxLimits::default();
        self.defaults.apply(&mut limits);
        if let Some(overrides) = self.generators.get(generator) {
            overrides.apply(&mut limits);
        }
        limits
    }

    /// How much run history is kept (`[history]`: `keep_for`, `keep_runs`).
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// What the operator grants `generator` beyond what it owns
    /// (`[generators.<generator>.writes]`); nothing when the file says nothing.
    pub fn grants_for(&self, generator: &str) -> WriteGrants {
        self.grants.get(generator).cloned().unwrap_or_default()
    }

    fn validate(&self, path: &Path) -> Result<(), PolicyError> {
        for (name, grants) in &self.grants {
            grants.check().map_err(|message| PolicyError::Invalid {
                path: path.to_owned(),
                scope: format!("[generators.{name}.writes]"),
                message,
            })?;
        }
        let scopes = std::iter::once(("[sandbox]".to_owned(), None)).chain(
            self.generators
                .keys()
                .map(|name| (format!("[generators.{name}.sandbox]"), Some(name.as_str()))),
        );
        for (scope, generator) in scopes {
            let limits = match generator {
                Some(name) => self.limits_for(name),
                None => self.limits_for(""),
            };
            if let Err(message) = check_limits(&limits) {
                return Err(PolicyError::Invalid {
                    path: path.to_owned(),
                    scope,
                    message,
                });
            }
        }
        Ok(())
    }
}

fn check_limits(limits: &SandboxLimits) -> Result<(), String> {
    if limits.memory < (1 << 20) || limits.memory > MAX_MEMORY {
        return Err(format!(
            "memory = {} is outside the supported range 1 MiB to {}",
            ByteSize(limits.memory),
            ByteSize(MAX_MEMORY)
        ));
    }
    if limits.deadline.is_zero() || limits.deadline > Duration::from_secs(24 * 3600) {
        return Err(format!(
            "deadline = {:?} is outside the supported range 1ms to 24h",
            limits.deadline
        ));
    }
    if limits.fuel == Some(0) {
        return Err("fuel = 0 would stop every run before its first instruction".into());
    }
    if limits.max_host_calls == 0 {
        return Err("max_host_calls = 0 would refuse every host call".into());
    }
    if limits.log_bytes < 1024 {
        return Err(format!(
            "log_cap = {} is too small to hold one error message (at least 1 KiB)",
            ByteSize(limits.log_bytes)
        ));
    }
    if limits.max_argument_bytes < 1024 || limits.max_response_bytes < 1024 {
        return Err("max_argument_size and max_response_size must be at least 1 KiB".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuntimePolicy, PolicyError> {
        RuntimePolicy::parse(Path::new("infragen.toml"), text)
    }

    #[test]
    fn the_history_is_kept_a_month_unless_the_file_says_otherwise() {
        let month = Retention {
            max_age: Some(Duration::from_secs(30 * 86_400)),
            max_runs: Some(100_000),
        };
        assert_eq!(RuntimePolicy::default().retention(), month);
        assert_eq!(parse("").expect("empty").retention(), month);
        assert_eq!(
            parse("[history]\nkeep_for = \"7d\"\n")
                .expect("parses")
                .retention(),
            Retention {
                max_age: Some(Duration::from_secs(7 * 86_400)),
                ..month
            }
        );
        assert_eq!(
            parse("[history]\nkeep_runs = 50\nkeep_for = \"90m\"\n")
                .expect("parses")
                .retention(),
            Retention {
                max_age: Some(Duration::from_secs(90 * 60)),
                max_runs: Some(50),
            }
        );
    }

    #[test]
    fn no_file_means_the_documented_defaults() {
        let limits = RuntimePolicy::default().limits_for("any");
        assert_eq!(limits.memory, 128 << 20);
        assert_eq!(limits.deadline, Duration::from_secs(60));
        assert_eq!(limits.fuel, None);
        assert_eq!(limits.log_bytes, 1 << 20);
    }

    #[test]
    fn generator_tables_override_the_file_defaults_field_by_field() {
        let policy = parse(
            r#"
            [sandbox]
            memory = "64 MiB"
            deadline = "30s"

            [generators.generate-fabric.sandbox]
            deadline = "2m"
            fuel = 5_000_000_000
            "#,
        )
        .expect("valid policy");
        let fabric = policy.limits_for("generate-fabric");
        assert_eq!(fabric.memory, 64 << 20);
        assert_eq!(fabric.deadline, Duration::from_secs(120));
        assert_eq!(fabric.fuel, Some(5_000_000_000));
        let pod = policy.limits_for("generate-pod");
        assert_eq!(pod.deadline, Duration::from_secs(30));
        assert_eq!(pod.fuel, None);
        assert_eq!(
            policy.configured_generators().collect::<Vec<_>>(),
            ["generate-fabric"]
        );
    }

    #[test]
    fn the_store_table_with_api_tokens_is_part_of_the_file() {
        parse("[store]\napi_tokens = [\"secret\"]\n").expect("valid policy");
    }

    fn serve_config(text: &str) -> Result<ServeConfig, PolicyError> {
        ServeConfig::parse(Path::new("infragen.toml"), text)
    }

    #[test]
    fn serve_reads_tokens_and_transaction_limits_over_the_defaults() {
        assert_eq!(serve_config("").expect("empty"), ServeConfig::default());
        let config = serve_config(
            "[store]\napi_tokens = [\"a\", \"b\"]\n\n[store.transactions]\nidle = \"90s\"\nnodes = 500\n",
        )
        .expect("valid");
        assert_eq!(config.api_tokens, ["a", "b"]);
        assert_eq!(
            config.transactions,
            TransactionLimits {
                idle: Duration::from_secs(90),
                nodes: 500,
                ..TransactionLimits::default()
            }
        );
        let off = serve_config("[store.transactions]\nopen = 0\n").expect("valid");
        assert_eq!(off.transactions.open, 0);
    }

    #[test]
    fn the_repository_policy_checks_the_transaction_limits_too() {
        let error = parse("[store.transactions]\nnodes = 0\n").expect_err("refused");
        assert_eq!(
            error.to_string(),
            "infragen.toml: [store.transactions]: nodes = 0 is outside the supported range 1 to 10000000"
        );
    }

    #[test]
    fn a_missing_serve_configuration_is_the_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(
            ServeConfig::load(&dir.path().join("infragen.toml")).expect("defaults"),
            ServeConfig::default()
        );
    }
}
