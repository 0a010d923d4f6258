//! The test generator of the generator-run tests (not the AI/DC design).
//!
//! Its target is a `TestWidgetSet`; it writes one `TestWidget` named
//! `<set>-<i>` per unit of the set's `size`, then stamps its checksum on the
//! set. The set's `mode` makes it misbehave on purpose:
//! - `normal`: as above;
//! - `fail-halfway`: writes the first half, then fails;
//! - `allocate-then-fail`: takes a prefix from the pool named in `victim`,
//!   writes the first half, then fails;
//! - `trap-halfway`: writes the first half, then panics (a trap);
//! - `stall-halfway`: writes the first half, then loops until its deadline;
//! - `bump-peer`: adds one to the `counter` of each set named in `victim`
//!   (`beta` or `beta,gamma`; an untracked stamp), so that two such sets under a rule on `counter` feed
//!   each other forever — the cascade's loop cap is tested with it;
//! - `slow`: reads its set as many times as `victim` says (`"2000"`) before writing as
//!   usual, so that its run lasts (the clocks of the sandbox are fixed, so it counts reads);
//! - `allocate-as`: allocates from the pool named `first` (of `victim`,
//!   `first,second`) under identifier `second`, then writes its widgets as usual.
//!
//! The attacks on other generators' output are the hostile generator's
//! (`tests/guests/hostile`), run on the same sets by the `hostile` definition.

use infragen_sdk::{Context, Error, Filter, Generator, Result, info, nodes, pools, tracking};
use serde_json::{Value, json};

struct Widgets;

impl Generator for Widgets {
    fn generate(ctx: &Context, _data: Value) -> Result<()> {
        let set = nodes::get(
            "TestWidgetSet",
            Filter::new().ids([ctx.target.id.as_str()]),
            &[],
        )?
        .ok_or_else(|| Error::not_found(format!("widget set {} is gone", ctx.target.id)))?;
        let name = set.attr_str("name").unwrap_or_default().to_owned();
        let size = set.attr_i64("size").unwrap_or(0).max(0);
        let mode = set.attr_str("mode").unwrap_or("normal").to_owned();
        info!("set {name}: size {size}, mode {mode}");

        match mode.as_str() {
            "bump-peer" => {
                for peer_name in set.attr_str("victim").unwrap_or_default().split(',') {
                    let peer = nodes::get(
                        "TestWidgetSet",
                        Filter::new().eq("name__value", peer_name),
                        &[],
                    )?
                    .ok_or_else(|| Error::not_found(format!("no widget set named {peer_name}")))?;
                    let counter = peer.attr_i64("counter").unwrap_or(0);
                    let peer_id = peer.id().unwrap_or_default().to_owned();
                    nodes::stamp("TestWidgetSet", &peer_id, "counter", counter + 1)?;
                }
            }
            "allocate-as" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                let (pool, identifier) = victim.split_once(',').unwrap_or((victim, ""));
                let allocation = pools::PrefixRequest::from_pool_name(pool)
                    .identifier(identifier)
                    .allocate()?;
                info!("allocated {}", allocation.value);
            }
            "slow" => {
                let reads: u32 = set
                    .attr_str("victim")
                    .unwrap_or_default()
                    .parse()
                    .unwrap_or(0);
                for _ in 0..reads {
                    nodes::get(
                        "TestWidgetSet",
                        Filter::new().ids([ctx.target.id.as_str()]),
                        &[],
                    )?;
                }
            }
            "allocate-then-fail" => {
                let pool = set.attr_str("victim").unwrap_or_default();
                let allocation = pools::PrefixRequest::from_pool_name(pool)
                    .identifier(format!("{name}-allocation"))
                    .allocate()?;
                info!("allocated {}", allocation.value);
            }
            _ => {}
        }

        let halfway = matches!(
            mode.as_str(),
            "fail-halfway" | "allocate-then-fail" | "trap-halfway" | "stall-halfway"
        );
        let stop_after = if halfway { (size + 1) / 2 } else { size };
        for position in 1..=stop_after {
            nodes::upsert(
                "TestWidget",
                json!({
                    "name": {"value": format!("{name}-{position}")},
                    "position": {"value": position},
                    "set": {"id": ctx.target.id},
                }),
            )?;
        }
        if stop_after < size {
            match mode.as_str() {
                "trap-halfway" => {
                    panic!("trapping halfway on purpose after {stop_after} of {size} widgets")
                }
                "stall-halfway" => loop {
                    std::hint::black_box(stop_after);
                },
                _ => {}
            }
            return Err(Error::generator(format!(
                "failing halfway on purpose after {stop_after} of {size} widgets"
            )));
        }
        let checksum = tracking::checksum();
        nodes::stamp_checksum("TestWidgetSet", &ctx.target.id, &checksum)?;
        Ok(())
    }
}

infragen_sdk::export_generator!(Widgets);
