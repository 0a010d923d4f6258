//! The attacks on what other generators own, and on the store's limits, made on a widget
//! set of the widgets fixture repository (`tests/fixtures/widgets`), whose `hostile`
//! definition passes the set's `name`, `mode` and `victim` as the parameters `set`,
//! `attack` and `victim`. `victim` names what is attacked: ids, names, or `first,second`
//! where two are needed.
//!
//! | `attack`              | what the guest does                                           |
//! |-----------------------|---------------------------------------------------------------|
//! | `write-core`          | upserts a `CoreStandardGroup`                                 |
//! | `delete-foreign`      | deletes the `TestWidget` `victim`                             |
//! | `query-mutation`      | sends a mutation through the read-only `graphql.query`        |
//! | `touch-then-delete`   | a no-op update of the `TestWidget` `victim`, then its delete  |
//! | `overwrite-by-id`     | updates the `position` of the `TestWidget` `victim`           |
//! | `overwrite-by-name`   | upserts the `TestWidget` named `victim` with another position |
//! | `members-add`         | adds node `second` to the `members` of group `first`          |
//! | `members-remove`      | removes node `second` from the `members` of group `first`     |
//! | `join-by-data`        | upserts a widget of its own with `member_of_groups: [victim]` |
//! | `stamp-size`          | stamps `size` 99 on the `TestWidgetSet` `victim`              |
//! | `pool-update`         | updates the `CoreIPPrefixPool` `victim`                       |
//! | `pool-delete`         | deletes the `CoreIPPrefixPool` `victim`                       |
//! | `profile-overwrite`   | upserts the `ProfileTestWidget` named `victim`, position 99   |
//! | `allocate-into-group` | allocates from pool `first` with `member_of_groups: [second]` |
//! | `take-reserved`       | allocates from pool `first` under identifier `second`         |
//! | `query-cycle`         | queries device → interfaces → device … `victim` levels deep   |
//! | `write-then-stall`    | writes a widget of its own, then spins until its deadline     |

use core::hint::black_box;

use infragen_sdk::{Context, Error, Result, graphql, nodes, pools};
use serde_json::{Value, json};

/// Runs `attack` when it is one of this module's; `None` otherwise.
pub fn attack(ctx: &Context, attack: &str) -> Option<Result<()>> {
    let victim = || ctx.param_str("victim").unwrap_or_default();
    let pair = || {
        let victim = victim();
        victim.split_once(',').unwrap_or((victim, ""))
    };
    let set = || ctx.param_str("set").unwrap_or_default();
    let own_widget = |extra: Value| {
        let mut data = json!({
            "name": {"value": format!("{}-hostile", set())},
            "position": {"value": 1},
            "set": {"id": ctx.target.id},
        });
        if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
            data.extend(extra);
        }
        nodes::upsert("TestWidget", data).map(|_| ())
    };
    let done = match attack {
        "write-core" => nodes::upsert(
            "CoreStandardGroup",
            json!({"name": {"value": format!("{}-sneaky", set())}}),
        )
        .map(|_| ()),
        "delete-foreign" => nodes::delete("TestWidget", victim()),
        "query-mutation" => graphql::query(
            "mutation { TestWidgetDelete(data: {id: \"x\"}) { ok } }",
            json!({}),
        )
        .map(|_| ()),
        "touch-then-delete" => nodes::update("TestWidget", json!({"id": victim()}))
            .and_then(|_| nodes::delete("TestWidget", victim())),
        "overwrite-by-id" => nodes::update(
            "TestWidget",
            json!({"id": victim(), "position": {"value": 99}}),
        )
        .map(|_| ()),
        "overwrite-by-name" => nodes::upsert(
            "TestWidget",
            json!({"name": {"value": victim()}, "position": {"value": 99}}),
        )
        .map(|_| ()),
        "members-add" => {
            let (group, node) = pair();
            nodes::relationship_add(group, "members", [node])
        }
        "members-remove" => {
            let (group, node) = pair();
            nodes::relationship_remove(group, "members", [node])
        }
        "join-by-data" => own_widget(json!({"member_of_groups": [{"id": victim()}]})),
        "stamp-size" => nodes::stamp("TestWidgetSet", victim(), "size", 99).map(|_| ()),
        "pool-update" => nodes::update(
            "CoreIPPrefixPool",
            json!({"id": victim(), "default_prefix_length": {"value": 24}}),
        )
        .map(|_| ()),
        "pool-delete" => nodes::delete("CoreIPPrefixPool", victim()),
        "profile-overwrite" => nodes::upsert(
            "ProfileTestWidget",
            json!({"profile_name": {"value": victim()}, "position": {"value": 99}}),
        )
        .map(|_| ()),
        "allocate-into-group" => {
            let (pool, group) = pair();
            pools::PrefixRequest::from_pool_name(pool)
                .identifier(format!("{}-sneaky", set()))
                .data(json!({"member_of_groups": [{"id": group}]}))
                .allocate()
                .map(|_| ())
        }
        "take-reserved" => {
            let (pool, identifier) = pair();
            pools::PrefixRequest::from_pool_name(pool)
                .identifier(identifier)
                .allocate()
                .map(|_| ())
        }
        "query-cycle" => {
            let depth: usize = victim().parse().unwrap_or(6);
            graphql::query(&cycle(depth), json!({})).map(|_| ())
        }
        "write-then-stall" => own_widget(json!({})).and_then(|()| {
            let mut counter: u64 = 0;
            loop {
                counter = black_box(counter.wrapping_add(1));
            }
        }),
        _ => return None,
    };
    Some(done.and_then(|()| {
        Err(Error::generator(format!(
            "the attack {attack} was not refused"
        )))
    }))
}

/// `{ TestWidgetSet { … widgets { … set { … } } } }`, `depth` relationships deep: a
/// few hundred bytes whose answer grows with each level.
fn cycle(depth: usize) -> String {
    let mut inner = "id".to_owned();
    for level in 0..depth {
        inner = if (depth - 1 - level).is_multiple_of(2) {
            format!("widgets {{ edges {{ node {{ id {inner} }} }} }}")
        } else {
            format!("set {{ node {{ id {inner} }} }}")
        };
    }
    format!("{{ TestWidgetSet {{ edges {{ node {{ {inner} }} }} }} }}")
}
