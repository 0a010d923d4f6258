//! Why a run failed, in words a person can act on.
//!
//! A trap arrives from wasmtime as an error chain; this module turns it into a
//! [`RunFailure`] by looking at typed causes (our own violations, the memory
//! limiter's record, wasmtime's trap codes) and at the guest's captured
//! stderr, where a Rust panic leaves its message before trapping with
//! `unreachable`.

use std::time::Duration;

use serde::Serialize;
use wasmtime::Trap;

use crate::host_api::{MemoryExceeded, RunLog, Violation};
use crate::policy::ByteSize;

/// The wall-time deadline passed (signalled from the epoch callback).
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
pub(crate) struct DeadlineExceeded;

/// The cause of a failed run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "cause", rename_all = "kebab-case")]
pub enum RunFailure {
    /// Wall time ran out (an endless loop, or a host call that never returned).
    #[error("the run exceeded its deadline of {deadline:?} and was stopped")]
    Deadline {
        /// The configured deadline.
        deadline: Duration,
    },
    /// The guest tried to grow its memory beyond the cap.
    #[error(
        "the run exceeded its memory limit of {limit} (it tried to grow its memory to {desired} bytes)"
    )]
    Memory {
        /// The configured cap.
        #[serde(serialize_with = "serialize_display")]
        limit: ByteSize,
        /// The size it asked for.
        desired: u64,
    },
    /// The instruction budget ran out.
    #[error("the run used up its fuel budget of {fuel} instructions")]
    Fuel {
        /// The configured budget.
        fuel: u64,
    },
    /// Recursion too deep for the guest's stack.
    #[error("the guest overflowed its call stack (unbounded recursion?)")]
    StackOverflow,
    /// A Rust panic (or another abort) in the guest.
    #[error("the guest panicked: {message}")]
    Panic {
        /// The panic message and location, from the guest's stderr.
        message: String,
    },
    /// Any other trap.
    #[error("the guest trapped: {message}")]
    Trap {
        /// wasmtime's description, with the wasm backtrace when available.
        message: String,
    },
    /// A refused host call.
    #[error("{violation}")]
    Violation {
        /// What was refused.
        #[serde(serialize_with = "serialize_display")]
        violation: Violation,
    },
    /// The guest wrote more than the cap to stdout or stderr.
    #[error("the guest wrote more than {limit} to {stream}")]
    OutputCap {
        /// `stdout` or `stderr`.
        stream: &'static str,
        /// The cap.
        #[serde(serialize_with = "serialize_display")]
        limit: ByteSize,
    },
    /// `generate` returned an error.
    #[error("{kind}: {message}")]
    Generator {
        /// The contract's error kind, e.g. `not-found`.
        kind: String,
        /// The generator's message.
        message: String,
    },
    /// The component could not be instantiated.
    #[error("the plugin could not be instantiated: {message}")]
    Instantiation {
        /// wasmtime's reason.
        message: String,
    },
}

fn serialize_display<T: std::fmt::Display, S: serde::Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// A failed run: which generator, which target, why, and what it logged.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[error("generator `{generator}` failed on target `{target}` ({target_id}): {failure}")]
pub struct RunError {
    /// The generator definition's name.
    pub generator: String,
    /// The target's display label.
    pub target: String,
    /// The target's id.
    pub target_id: String,
    /// The cause.
    pub failure: RunFailure,
    /// What the run logged before failing.
    pub log: RunLog,
    /// The tail of the guest's stderr.
    pub stderr: String,
    /// The nodes the run had written (its tracked output) when it failed: where writes
    /// commit one by one (over HTTP) they stay, and the host adds them to the tracking
    /// group so that the next successful run reconciles them.
    pub written: Vec<String>,
}

/// What the run had observed when a trap ended it.
pub(crate) struct TrapContext<'a> {
    pub(crate) deadline: Duration,
    pub(crate) fuel: Option<u64>,
    pub(crate) memory_limit: u64,
    pub(crate) refused_memory_growth: Option<u64>,
    pub(crate) stdout_len: usize,
    pub(crate) stderr: &'a str,
    pub(crate) output_capacity: usize,
}

/// Classifies an error raised while instantiating or calling the guest.
pub(crate) fn classify(error: &wasmtime::Error, context: &TrapContext<'_>) -> RunFailure {
    if let Some(violation) = error.downcast_ref::<Violation>() {
        return RunFailure::Violation {
            violation: violation.clone(),
        };
    }
    if error.downcast_ref::<DeadlineExceeded>().is_some() {
        return RunFailure::Deadline {
            deadline: context.deadline,
        };
    }
    if let Some(exceeded) = error.downcast_ref::<MemoryExceeded>() {
        return RunFailure::Memory {
            limit: exceeded.limit,
            desired: exceeded.desired,
        };
    }
    if let Some(desired) = context.refused_memory_growth {
        // The refusal may have surfaced as a failed allocation inside the
        // guest (Rust aborts on OOM) rather than as our error.
        return RunFailure::Memory {
            limit: ByteSize(context.memory_limit),
            desired,
        };
    }
    if context.stdout_len >= context.output_capacity {
        return RunFailure::OutputCap {
            stream: "stdout",
            limit: ByteSize(context.output_capacity as u64),
        };
    }
    if context.stderr.len() >= context.output_capacity {
        return RunFailure::OutputCap {
            stream: "stderr",
            limit: ByteSize(context.output_capacity as u64),
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            return RunFailure::Fuel {
                fuel: context.fuel.unwrap_or(u64::MAX),
            };
        }
        Some(Trap::StackOverflow) => return RunFailure::StackOverflow,
        Some(Trap::Interrupt) => {
            return RunFailure::Deadline {
                deadline: context.deadline,
            };
        }
        Some(Trap::UnreachableCodeReached) => {
            if let Some(message) = panic_message(context.stderr) {
                return RunFailure::Panic { message };
            }
        }
        _ => {}
    }
    RunFailure::Trap {
        message: format!("{error:#}"),
    }
}

/// Extracts a Rust panic's message and location from stderr:
/// `thread '<unnamed>' panicked at src/lib.rs:7:5:\n<message>\nnote: …`.
pub(crate) fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.rfind("panicked at ")?;
    let rest = &stderr[start + "panicked at ".len()..];
    let (location, body) = rest.split_once(":\n").unwrap_or((rest, ""));
    let message: Vec<&str> = body
        .lines()
        .take_while(|line| !line.starts_with("note: "))
        .collect();
    let message = message.join("\n");
    let message = message.trim();
    Some(if message.is_empty() {
        format!("at {}", location.trim())
    } else {
        format!("{message} (at {})", location.trim())
    })
}

/// The last `limit` bytes of `text`, on a character boundary.
/// The most of a plugin's own message (an error it returned) the host repeats: enough for
/// any real explanation, and a 60 MiB one is not printed in full.
pub const ECHO_LIMIT: usize = 4 << 10;

/// The first `limit` bytes of `text` (cut at a character boundary), saying how much was
/// left out.
pub(crate) fn head(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} more bytes not shown)",
        &text[..end],
        text.len() - end
    )
}

pub(crate) fn tail(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_keeps_its_head_and_says_how_much_is_cut() {
        assert_eq!(head("short".to_owned(), 10), "short");
        assert_eq!(
            head("ééééé".to_owned(), 5),
            "éé… (6 more bytes not shown)",
            "cut at a character boundary"
        );
    }

    #[test]
    fn a_rust_panic_message_and_location_are_read_from_stderr() {
        let stderr = "thread '<unnamed>' (1) panicked at src/lib.rs:34:9:\n\
                      hostile guest panicked on purpose\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("hostile guest panicked on purpose (at src/lib.rs:34:9)")
        );
    }

    #[test]
    fn stderr_without_a_panic_yields_nothing() {
        assert_eq!(panic_message("some other output\n"), None);
    }

    #[test]
    fn tails_respect_character_boundaries() {
        assert_eq!(tail("héllo", 3), "…llo");
        assert_eq!(tail("short", 10), "short");
    }
}
