//! `infragen:generator/tracking`: what this run has written so far.

use super::HostState;
use crate::contract::v0_1::infragen;

impl infragen::generator::tracking::Host for HostState {
    async fn written(&mut self) -> wasmtime::Result<Vec<String>> {
        self.run.begin_call("tracking.written", 0)?;
        let ids = self.run.tracker.ids().to_vec();
        let bytes = ids.iter().map(String::len).sum();
        self.run.check_response("tracking.written", bytes)?;
        Ok(ids)
    }

    async fn checksum(&mut self) -> wasmtime::Result<String> {
        self.run.begin_call("tracking.checksum", 0)?;
        Ok(self.run.tracker.checksum())
    }
}
