//! The example generator: calls every import of the contract, once each and
//! in a fixed order, so the host's end-to-end tests can check the whole
//! plugin path (arguments, results, errors, tracking) against a recording
//! backend. It doubles as a tour of the SDK.
//!
//! Sequence (the tests assert it literally; `<name>` is the `name` parameter):
//! log, GraphQL query, upsert widget, update it, get it back, list widgets,
//! upsert a part and add/remove it on the widget, allocate a prefix and an
//! address, upsert and delete a scratch node, read tracking, stamp the
//! checksum on the target, log.

use infragen_sdk::pools::{AddressRequest, PrefixRequest};
use infragen_sdk::{
    Context, Error, Filter, Generator, Result, debug, graphql, info, nodes, tracking, warn,
};
use serde_json::{Value, json};

const WIDGET_QUERY: &str =
    "query Example($name: String!) { ExampleWidget(name__value: $name) { count } }";

struct Example;

impl Generator for Example {
    fn generate(ctx: &Context, _data: Value) -> Result<()> {
        info!("generating {}", ctx.target.display_label);
        let name = ctx.param_str("name")?;

        let result = graphql::query(WIDGET_QUERY, json!({ "name": name }))?;
        debug!("query result: {result}");

        let widget = nodes::upsert(
            "ExampleWidget",
            json!({"name": {"value": format!("{name}-widget")}, "size": {"value": 3}}),
        )?;
        nodes::update(
            "ExampleWidget",
            json!({"id": widget.id, "size": {"value": 4}}),
        )?;

        let found = nodes::get(
            "ExampleWidget",
            Filter::new().eq("name__value", format!("{name}-widget")),
            &[],
        )?;
        match found {
            Some(node) if node.id() == Some(widget.id.as_str()) => {}
            Some(node) => {
                return Err(Error::not_found(format!(
                    "widget {name}-widget: get returned node {}, upsert returned {}",
                    node.id().unwrap_or("<without id>"),
                    widget.id
                )));
            }
            None => {
                return Err(Error::not_found(format!(
                    "widget {name}-widget ({}) not found right after its upsert",
                    widget.id
                )));
            }
        }

        let widgets = nodes::filters("ExampleWidget", Filter::new(), &["parts"])?;
        info!("{} widgets", widgets.len());

        let part = nodes::upsert(
            "ExamplePart",
            json!({"name": {"value": format!("{name}-part")}}),
        )?;
        nodes::relationship_add(&widget.id, "parts", [&part.id])?;
        nodes::relationship_remove(&widget.id, "parts", [&part.id])?;

        let prefix = PrefixRequest::from_pool_name("example-prefixes")
            .identifier(format!("{name}-p2p"))
            .prefix_length(31)
            .allocate()?;
        let address = AddressRequest::from_pool_name("example-addresses")
            .identifier(format!("{name}-loopback"))
            .prefix_length(32)
            .allocate()?;
        info!("allocated prefix {}", prefix.value);
        info!("allocated address {}", address.value);

        let scratch = nodes::upsert(
            "ExampleScratch",
            json!({"name": {"value": format!("{name}-scratch")}}),
        )?;
        nodes::delete("ExampleScratch", &scratch.id)?;

        debug!("{} nodes written", tracking::written().len());
        let checksum = tracking::checksum();
        let changed = nodes::stamp_checksum(&ctx.target.kind, &ctx.target.id, &checksum)?;
        info!("checksum {checksum} changed: {changed}");

        warn!("example finished");
        Ok(())
    }
}

infragen_sdk::export_generator!(Example);
