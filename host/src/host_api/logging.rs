//! `infragen:generator/logging`: the run log, capped, mirrored to `tracing`.

use super::{HostState, LogLevel, LogLine, Violation};
use crate::contract::v0_1::{Level, infragen};
use crate::policy::ByteSize;

impl infragen::generator::logging::Host for HostState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.run.begin_call("logging.log", message.len())?;
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        let run = &mut self.run;
        let size = message.len() as u64;
        if run.log.bytes + size > run.limits.log_bytes {
            run.log.truncated = true;
            return Err(wasmtime::Error::new(Violation::LogCap {
                limit: ByteSize(run.limits.log_bytes),
            }));
        }
        let (generator, target, target_id) = (
            run.generator.as_str(),
            run.target_label.as_str(),
            run.target_id.as_str(),
        );
        match level {
            LogLevel::Trace => tracing::trace!(generator, target, target_id, "{message}"),
            LogLevel::Debug => tracing::debug!(generator, target, target_id, "{message}"),
            LogLevel::Info => tracing::info!(generator, target, target_id, "{message}"),
            LogLevel::Warn => tracing::warn!(generator, target, target_id, "{message}"),
            LogLevel::Error => tracing::error!(generator, target, target_id, "{message}"),
        }
        run.log.bytes += size;
        run.log.lines.push(LogLine { level, message });
        Ok(())
    }
}
