//! A generator built against `infragen:generator@1.0.0`: the same `types`,
//! `logging` and `plugin` interfaces as 0.1.0 under a new major version, so
//! both its import names and its export name carry `@1.0.0`. The host's tests
//! check that a 0.1 host refuses it with a message naming both versions.

wit_bindgen::generate!({ world: "generator", path: "wit" });

use exports::infragen::generator::plugin::Guest;
use infragen::generator::logging::log;
use infragen::generator::types::{Error, Level, RunContext};

struct FutureMajor;

impl Guest for FutureMajor {
    fn generate(ctx: RunContext, _data: String) -> Result<(), Error> {
        log(
            Level::Info,
            &format!("future major generator on {}", ctx.target.display_label),
        );
        Ok(())
    }
}

export!(FutureMajor);
