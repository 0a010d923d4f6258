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
//! - `write-core`: tries to write a `CoreStandardGroup`;
//! - `delete-foreign`: tries to delete the node whose id is in `victim`;
//! - `query-mutation`: sends a mutation through the read-only `graphql.query`;
//! - `bump-peer`: adds one to the `counter` of the set named in `victim` (an
//!   untracked stamp), so that two such sets under a rule on `counter` feed
//!   each other forever — the cascade's loop cap is tested with it.
//!
//! And it attacks ownership, with `victim` naming what it attacks (ids, or
//! `first,second` where two are needed), before writing its widgets:
//! - `touch-then-delete`: a no-op update of the `TestWidget` `victim`, then
//!   its delete;
//! - `overwrite-by-id`: updates the `position` of the `TestWidget` `victim`;
//! - `overwrite-by-name`: upserts a `TestWidget` named `victim` (another
//!   set's widget, found by its natural key) with another `position`;
//! - `members-add` / `members-remove`: adds node `second` to (removes it
//!   from) the `members` of group `first`;
//! - `join-by-data`: upserts its first widget with `member_of_groups:
//!   [victim]`;
//! - `stamp-size`: stamps `size` 99 on the `TestWidgetSet` `victim`;
//! - `pool-update` / `pool-delete`: updates (deletes) the `CoreIPPrefixPool`
//!   `victim`;
//! - `allocate-into-group`: allocates from the pool named `first` with
//!   `member_of_groups: [second]` in the allocation's data;
//! - `allocate-as`: allocates from the pool named `first` under identifier
//!   `second`, then writes its widgets as usual.

use infragen_sdk::{
    Context, Error, Filter, Generator, Result, graphql, info, nodes, pools, tracking,
};
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
            "write-core" => {
                nodes::upsert(
                    "CoreStandardGroup",
                    json!({"name": {"value": format!("{name}-sneaky")}}),
                )?;
            }
            "delete-foreign" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                nodes::delete("TestWidget", victim)?;
            }
            "bump-peer" => {
                let peer_name = set.attr_str("victim").unwrap_or_default();
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
            "query-mutation" => {
                graphql::query(
                    "mutation { TestWidgetDelete(data: {id: \"x\"}) { ok } }",
                    json!({}),
                )?;
            }
            "touch-then-delete" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                nodes::update("TestWidget", json!({"id": victim}))?;
                nodes::delete("TestWidget", victim)?;
            }
            "overwrite-by-id" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                nodes::update(
                    "TestWidget",
                    json!({"id": victim, "position": {"value": 99}}),
                )?;
            }
            "overwrite-by-name" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                nodes::upsert(
                    "TestWidget",
                    json!({"name": {"value": victim}, "position": {"value": 99}}),
                )?;
            }
            "members-add" | "members-remove" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                let (group, node) = victim.split_once(',').unwrap_or((victim, ""));
                if mode == "members-add" {
                    nodes::relationship_add(group, "members", [node])?;
                } else {
                    nodes::relationship_remove(group, "members", [node])?;
                }
            }
            "join-by-data" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                nodes::upsert(
                    "TestWidget",
                    json!({
                        "name": {"value": format!("{name}-1")},
                        "position": {"value": 1},
                        "set": {"id": ctx.target.id},
                        "member_of_groups": [{"id": victim}],
                    }),
                )?;
            }
            "stamp-size" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                nodes::stamp("TestWidgetSet", victim, "size", 99)?;
            }
            "pool-update" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                nodes::update(
                    "CoreIPPrefixPool",
                    json!({"id": victim, "default_prefix_length": {"value": 24}}),
                )?;
            }
            "pool-delete" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                nodes::delete("CoreIPPrefixPool", victim)?;
            }
            "allocate-into-group" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                let (pool, group) = victim.split_once(',').unwrap_or((victim, ""));
                pools::PrefixRequest::from_pool_name(pool)
                    .identifier(format!("{name}-sneaky"))
                    .data(json!({"member_of_groups": [{"id": group}]}))
                    .allocate()?;
            }
            "allocate-as" => {
                let victim = set.attr_str("victim").unwrap_or_default();
                let (pool, identifier) = victim.split_once(',').unwrap_or((victim, ""));
                let allocation = pools::PrefixRequest::from_pool_name(pool)
                    .identifier(identifier)
                    .allocate()?;
                info!("allocated {}", allocation.value);
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
