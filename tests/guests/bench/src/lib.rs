//! Benchmark guest. `calls` (a number parameter, default 0) is how many times
//! it calls `tracking.written()`, the cheapest import: with nothing written it
//! returns an empty list, so the cost measured is the host-call round trip.

use infragen_sdk::{Context, Generator, Result, tracking};
use serde_json::Value;

struct Bench;

impl Generator for Bench {
    fn generate(ctx: &Context, _data: Value) -> Result<()> {
        let calls = ctx.params.get("calls").and_then(Value::as_u64).unwrap_or(0);
        let mut total = 0usize;
        for _ in 0..calls {
            total += tracking::written().len();
        }
        core::hint::black_box(total);
        Ok(())
    }
}

infragen_sdk::export_generator!(Bench);
