//! The host side of the contract's imports, one module per WIT interface
//! (`graphql`, `nodes`, `pools`, `tracking`, `logging`), over a [`Backend`].
//!
//! Every call is counted and its arguments measured *before* anything is done
//! with them, every response measured before it is handed to the guest. A
//! call beyond a limit is a [`Violation`]: it traps and ends the run, so a
//! plugin cannot catch it and carry on. Failures a generator may legitimately
//! handle (a node not found, a validation error) come back as the contract's
//! typed `error` instead.
//!
//! Backend calls are awaited right here, on the guest's fiber: dropping the
//! run at its deadline drops them too, and no task hop between tokio workers
//! is paid per call. What recurses with its input — parsing a GraphQL document,
//! resolving one — moves to a native stack; see [`crate::native_stack`].

mod graphql;
mod logging;
mod nodes;
mod pools;
mod tracking;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::backend::{self, Backend, BackendError};
use crate::contract::v0_1::{Error as WitError, ErrorKind as WitErrorKind, infragen};
use crate::policy::{ByteSize, SandboxLimits, WritePolicy};
use crate::tracking::Tracker;

/// A refused host call: the run ends with a trap carrying this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// Too many host calls in one run.
    #[error("the run exceeded its limit of {limit} host calls")]
    HostCallLimit {
        /// The configured limit.
        limit: u64,
    },
    /// One call's arguments were too large.
    #[error(
        "the guest passed {size} bytes to `{function}`, over the limit of {limit} per host call"
    )]
    ArgumentTooLarge {
        /// The import called.
        function: &'static str,
        /// Bytes passed.
        size: u64,
        /// The configured limit.
        limit: ByteSize,
    },
    /// One call's response was too large to hand to the guest.
    #[error("the response of `{function}` is {size} bytes, over the limit of {limit}")]
    ResponseTooLarge {
        /// The import called.
        function: &'static str,
        /// Bytes of the response.
        size: u64,
        /// The configured limit.
        limit: ByteSize,
    },
    /// The run logged more than its cap.
    #[error("the run's log exceeded its cap of {limit}")]
    LogCap {
        /// The configured cap.
        limit: ByteSize,
    },
}

/// The outcome of a host function that can fail in two ways: a typed error
/// handed back to the guest, or a violation that ends the run.
#[derive(Debug)]
pub enum HostError {
    /// Returned to the guest as the contract's `error`.
    Guest(WitError),
    /// Traps: the run ends.
    Violation(Violation),
}

impl HostError {
    pub(crate) fn guest(kind: WitErrorKind, message: impl Into<String>) -> Self {
        HostError::Guest(WitError {
            kind,
            message: message.into(),
        })
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::guest(WitErrorKind::InvalidInput, message)
    }
}

impl From<Violation> for HostError {
    fn from(violation: Violation) -> Self {
        HostError::Violation(violation)
    }
}

impl From<BackendError> for HostError {
    fn from(error: BackendError) -> Self {
        let kind = match error.kind {
            backend::ErrorKind::NotFound => WitErrorKind::NotFound,
            backend::ErrorKind::Validation => WitErrorKind::Validation,
            backend::ErrorKind::PermissionDenied => WitErrorKind::PermissionDenied,
            backend::ErrorKind::LimitExceeded => WitErrorKind::LimitExceeded,
            backend::ErrorKind::Backend => WitErrorKind::Backend,
            backend::ErrorKind::InvalidInput => WitErrorKind::InvalidInput,
            backend::ErrorKind::Conflict => WitErrorKind::Conflict,
            backend::ErrorKind::BranchNotFound => WitErrorKind::InvalidInput,
        };
        Self::guest(kind, error.message)
    }
}

impl infragen::generator::types::Host for HostState {
    fn convert_error(&mut self, error: HostError) -> wasmtime::Result<WitError> {
        match error {
            HostError::Guest(error) => Ok(error),
            HostError::Violation(violation) => Err(wasmtime::Error::new(violation)),
        }
    }
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Fine detail.
    Trace,
    /// Diagnostics.
    Debug,
    /// Progress.
    Info,
    /// Something unexpected that did not stop the run.
    Warn,
    /// Something failed.
    Error,
}

/// One line of a run's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Severity.
    pub level: LogLevel,
    /// The text the plugin logged.
    pub message: String,
}

/// The log of one run, capped in bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunLog {
    /// The lines kept, in order.
    pub lines: Vec<LogLine>,
    /// Bytes of message text kept.
    pub bytes: u64,
    /// Whether lines were dropped at the cap.
    pub truncated: bool,
}

impl RunLog {
    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && !self.truncated
    }
}

/// An untracked attribute write made by `stamp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Kind of the stamped node.
    pub kind: String,
    /// Id of the stamped node.
    pub id: String,
    /// The attribute written.
    pub attribute: String,
    /// Whether the value changed (an unchanged stamp writes nothing).
    pub changed: bool,
}

/// Memory and table limits of a run, recording what was refused so the run's
/// error can say "memory" with the numbers rather than a bare trap.
///
/// The caps are the run's totals: every memory (and every table) of the
/// instance counts, so a component with several memories gets no more than
/// one with a single memory.
pub(crate) struct RunLimiter {
    memory_limit: u64,
    table_elements_limit: u64,
    /// Bytes of all the run's memories, and elements of all its tables.
    memory_total: u64,
    table_total: u64,
    pub(crate) refused_memory_growth: Option<u64>,
}

/// Watches a checked write for the creation of the node it names: a write that created
/// nothing landed on an existing node, which must then be the run's own.
#[derive(Default)]
pub(crate) struct Creation(std::sync::atomic::AtomicBool);

impl Creation {
    /// The run's write check for `call` (see [`RunState::write_check`]), noting a
    /// creation.
    pub(crate) fn check<'a>(
        &'a self,
        run: &'a RunState,
        call: crate::policy::Call,
    ) -> impl Fn(&infragen_store::WriteEffect) -> Result<(), String> + Sync + 'a {
        let check = run.write_check(call);
        move |effect| {
            check(effect)?;
            if effect.target && effect.created {
                self.0.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        }
    }

    /// Whether the write created the node it names.
    pub(crate) fn happened(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Memories a run's instance may have (a Rust wasip2 component has one; the
/// pool reserves this many per run, so no run can take another's).
pub const MAX_MEMORIES_PER_RUN: usize = 2;
/// Tables a run's instance may have.
pub const MAX_TABLES_PER_RUN: usize = 4;
/// Core instances a run's component may create.
pub const MAX_CORE_INSTANCES_PER_RUN: usize = 8;

/// Memory growth beyond the run's cap.
#[derive(Debug, thiserror::Error)]
#[error("the guest tried to grow its memory to {desired} bytes, over the memory limit of {limit}")]
pub(crate) struct MemoryExceeded {
    pub(crate) desired: u64,
    pub(crate) limit: ByteSize,
}

impl ResourceLimiter for RunLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Called at a memory's creation too (from 0), so the total covers them all.
        let total = self
            .memory_total
            .saturating_sub(current as u64)
            .saturating_add(desired as u64);
        if total > self.memory_limit {
            self.refused_memory_growth = Some(total);
            return Err(wasmtime::Error::new(MemoryExceeded {
                desired: total,
                limit: ByteSize(self.memory_limit),
            }));
        }
        self.memory_total = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .table_total
            .saturating_sub(current as u64)
            .saturating_add(desired as u64);
        if total > self.table_elements_limit {
            return Ok(false);
        }
        self.table_total = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES_PER_RUN
    }

    fn tables(&self) -> usize {
        MAX_TABLES_PER_RUN
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES_PER_RUN
    }
}

/// Everything a run's store holds: the WASI context, the limiter and the
/// run's own state.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: RunLimiter,
    pub(crate) run: RunState,
}

/// Who is running, against what, and what it has done so far.
pub(crate) struct RunState {
    /// When the run must be over (its queries stop there too).
    pub(crate) deadline: std::time::Instant,
    pub(crate) generator: String,
    pub(crate) branch: String,
    pub(crate) target_id: String,
    pub(crate) target_label: String,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) limits: SandboxLimits,
    pub(crate) writes: WritePolicy,
    pub(crate) tracker: Tracker,
    pub(crate) log: RunLog,
    pub(crate) stamps: Vec<Stamp>,
    pub(crate) host_calls: u64,
}

impl RunState {
    /// What the run's write policy says of each node a `call` of it changed.
    pub(crate) fn write_check(
        &self,
        call: crate::policy::Call,
    ) -> impl Fn(&infragen_store::WriteEffect) -> Result<(), String> + Sync + '_ {
        move |effect| self.writes.check(&self.generator, call, effect)
    }

    /// Counts a call and checks the total size of its arguments.
    pub(crate) fn begin_call(
        &mut self,
        function: &'static str,
        argument_bytes: usize,
    ) -> Result<(), Violation> {
        self.host_calls += 1;
        tracing::trace!(
            function,
            argument_bytes,
            call = self.host_calls,
            "host call"
        );
        if self.host_calls > self.limits.max_host_calls {
            return Err(Violation::HostCallLimit {
                limit: self.limits.max_host_calls,
            });
        }
        let size = argument_bytes as u64;
        if size > self.limits.max_argument_bytes {
            return Err(Violation::ArgumentTooLarge {
                function,
                size,
                limit: ByteSize(self.limits.max_argument_bytes),
            });
        }
        Ok(())
    }

    /// Checks the size of a response before it is handed to the guest.
    pub(crate) fn check_response(
        &self,
        function: &'static str,
        response_bytes: usize,
    ) -> Result<(), Violation> {
        let size = response_bytes as u64;
        if size > self.limits.max_response_bytes {
            return Err(Violation::ResponseTooLarge {
                function,
                size,
                limit: ByteSize(self.limits.max_response_bytes),
            });
        }
        Ok(())
    }
}

impl HostState {
    pub(crate) fn new(wasi: WasiCtx, run: RunState) -> Self {
        let mut table = ResourceTable::new();
        // A guest can create WASI resources (streams, pollables) in a loop;
        // bound the table so that cannot exhaust host memory.
        table.set_max_capacity(10_000);
        HostState {
            wasi,
            table,
            limiter: RunLimiter {
                memory_limit: run.limits.memory,
                table_elements_limit: 100_000,
                memory_total: 0,
                table_total: 0,
                refused_memory_growth: None,
            },
            run,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Parses a JSON argument, as `invalid-input` when it is not JSON.
pub(crate) fn parse_json(what: &str, text: &str) -> Result<serde_json::Value, HostError> {
    serde_json::from_str(text)
        .map_err(|error| HostError::invalid_input(format!("{what} is not valid JSON: {error}")))
}

/// Parses a JSON object argument, as `invalid-input` when it is anything else.
pub(crate) fn parse_json_object(what: &str, text: &str) -> Result<serde_json::Value, HostError> {
    let value = parse_json(what, text)?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(HostError::invalid_input(format!(
            "{what} must be a JSON object, got {}",
            json_type_name(&value)
        )))
    }
}

fn json_type_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn wit_node_ref(node: backend::NodeRef) -> infragen::generator::types::NodeRef {
    infragen::generator::types::NodeRef {
        id: node.id,
        kind: node.kind,
        hfid: node.hfid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(memory: u64) -> RunLimiter {
        RunLimiter {
            memory_limit: memory,
            table_elements_limit: 1_000,
            memory_total: 0,
            table_total: 0,
            refused_memory_growth: None,
        }
    }

    #[test]
    fn the_memory_cap_bounds_all_the_runs_memories_together() {
        let mut limiter = limiter(100);
        assert!(
            limiter.memory_growing(0, 60, None).is_ok(),
            "the first memory"
        );
        assert!(limiter.memory_growing(60, 70, None).is_ok(), "it grows");
        let second = limiter.memory_growing(0, 40, None);
        assert!(second.is_err(), "a second memory would pass the total");
        assert_eq!(limiter.refused_memory_growth, Some(110));
        assert!(
            limiter.memory_growing(0, 30, None).is_ok(),
            "up to the total"
        );
    }

    #[test]
    fn the_table_cap_bounds_all_the_runs_tables_together() {
        let mut limiter = limiter(100);
        assert!(matches!(limiter.table_growing(0, 600, None), Ok(true)));
        assert!(matches!(limiter.table_growing(0, 600, None), Ok(false)));
        assert!(matches!(limiter.table_growing(0, 400, None), Ok(true)));
    }
}
