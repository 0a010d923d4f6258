//! Logging into the run's log (the contract's `logging` interface).
//!
//! Lines go to the host, which tags them with the generator and the target,
//! so a plugin never prints. Use the macros ([`info!`](crate::info) and
//! friends); they take `format!` arguments. The host caps a run's log (1 MiB
//! by default) and fails the run beyond it, so log decisions, not data.

pub use crate::bindings::infragen::generator::types::Level;

/// Appends one line at `level` to the run log. The macros call this.
pub fn log(level: Level, message: &str) {
    crate::bindings::infragen::generator::logging::log(level, message);
}

/// Logs at `trace`: `trace!("port {port} of {device}")`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => {
        $crate::logging::log($crate::logging::Level::Trace, &::std::format!($($arg)+))
    };
}

/// Logs at `debug`: `debug!("query returned {data}")`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::logging::log($crate::logging::Level::Debug, &::std::format!($($arg)+))
    };
}

/// Logs at `info`: `info!("generating {}", ctx.target.display_label)`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::logging::log($crate::logging::Level::Info, &::std::format!($($arg)+))
    };
}

/// Logs at `warn`: `warn!("fabric {name} has no super spines")`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::logging::log($crate::logging::Level::Warn, &::std::format!($($arg)+))
    };
}

/// Logs at `error`. Logging an error does not fail the run; return an
/// [`Error`](crate::Error) for that.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::logging::log($crate::logging::Level::Error, &::std::format!($($arg)+))
    };
}
