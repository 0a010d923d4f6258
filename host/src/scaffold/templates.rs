//! The files of a new plugin. Each template is the smallest thing that
//! builds, runs and shows where the design logic goes.

use super::Names;

/// `plugins/NAME/Cargo.toml`: its own workspace (so it builds inside any
/// repository, even one that is itself a Cargo workspace), a `cdylib`
/// (what a component is built from), and a small release profile.
pub(crate) fn cargo_toml(names: &Names, sdk: &str) -> String {
    let Names {
        generator,
        crate_dir,
        component,
        ..
    } = names;
    format!(
        r#"# The `{generator}` generator, scaffolded by `infragen plugin new`. Build it with
#   cargo build --release --target wasm32-wasip2 --manifest-path {crate_dir}/Cargo.toml
# which writes the component .infrahub.yml points at:
#   {component}
[package]
name = "{generator}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
infragen-sdk = {{ path = {sdk} }}
serde_json = "1"

# A workspace of its own: the plugin builds the same wherever the repository is.
[workspace]

# Small components (a generator should stay well under 200 KB): size-optimised,
# LTO, no debug info beyond function names, and no unwinding machinery.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = "debuginfo"
panic = "abort"
"#,
        sdk = toml_string(sdk),
    )
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    // JSON string escapes are valid TOML basic-string escapes.
    serde_json::Value::String(text.to_owned()).to_string()
}

/// `plugins/NAME/.gitignore`: the build output.
pub(crate) const GITIGNORE: &str = "/target\n";

/// `plugins/NAME/src/lib.rs`: a generator that logs its target and what the
/// query returned, with the two calls every real generator makes (an upsert
/// and a checksum stamp) written out in comments.
pub(crate) fn lib_rs(names: &Names, kind: &str, parameters: &[(String, String)]) -> String {
    let Names {
        generator,
        rust_type,
        query,
        query_file,
        group,
        ..
    } = names;
    let parameters = if parameters.is_empty() {
        "none".to_owned()
    } else {
        parameters
            .iter()
            .map(|(name, path)| format!("`{name}` = `{path}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"//! `{generator}`: generates from each `{kind}` in the group `{group}`.
//!
//! For every member of `{group}` the host reads the definition's parameters
//! off the target ({parameters}), runs the query `{query}`
//! (`{query_file}`) with them, and calls `generate` with its result.
//! Everything the run upserts is tracked: what the previous run of this target
//! made and this one did not is deleted after a successful run, and a failed
//! run deletes nothing.

use infragen_sdk::{{Context, Generator, Node, Result, info}};
use serde_json::Value;

struct {rust_type};

impl Generator for {rust_type} {{
    fn generate(ctx: &Context, data: Value) -> Result<()> {{
        // `data` is the query's result: {{"{kind}": {{"edges": [{{"node": {{...}}}}]}}}}.
        let found = Node::from_edges(&data["{kind}"]);
        info!(
            "{{}} {{}}: {{}} node(s) in the query result, parameters {{}}",
            ctx.target.kind,
            ctx.target.display_label,
            found.len(),
            Value::Object(ctx.params.clone()),
        );

        // Create or update what derives from the target. An upsert matches an
        // existing node by the kind's human-friendly id, so running again
        // changes nothing:
        //
        //     use infragen_sdk::nodes;
        //     use serde_json::json;
        //     nodes::upsert("MyKind", json!({{
        //         "name": {{"value": format!("{{}}-1", ctx.target.display_label)}},
        //     }}))?;
        //
        // Then stamp a checksum of this run's output on the objects a
        // downstream generator targets (their kind needs a `checksum` text
        // attribute), so a trigger rule on `checksum` runs it only when this
        // output changed. Stamping an unchanged value writes nothing:
        //
        //     use infragen_sdk::tracking;
        //     nodes::stamp_checksum("MyDownstreamKind", downstream_id, &tracking::checksum())?;
        Ok(())
    }}
}}

infragen_sdk::export_generator!({rust_type});
"#
    )
}

/// The stored query: the target kind filtered by each parameter, selecting
/// `id`, `display_label` and the attributes the parameters read.
pub(crate) fn query_gql(
    names: &Names,
    kind: &str,
    variables: &[Variable],
    selections: &[String],
) -> String {
    let Names {
        generator, query, ..
    } = names;
    let declarations = if variables.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = variables
            .iter()
            .map(|variable| format!("${}: {}!", variable.name, variable.scalar))
            .collect();
        format!("({})", list.join(", "))
    };
    let filters = if variables.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = variables
            .iter()
            .map(|variable| format!("{}: ${}", variable.path, variable.name))
            .collect();
        format!("({})", list.join(", "))
    };
    let mut fields = String::new();
    for selection in ["id", "display_label"]
        .iter()
        .map(|field| field.to_string())
        .chain(selections.iter().cloned())
    {
        fields.push_str(&format!("        {selection}\n"));
    }
    format!(
        "# What `{generator}` receives for one target: the {kind} its parameters select.\n\
         # Add the fields the generator needs; `infragen validate` checks them against\n\
         # the schema.\n\
         query {query}{declarations} {{\n  {kind}{filters} {{\n    edges {{\n      node {{\n\
         {fields}      }}\n    }}\n  }}\n}}\n"
    )
}

/// One query variable: its name, the filter it feeds, its GraphQL scalar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variable {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) scalar: String,
}

/// The object file declaring the target group.
pub(crate) fn group_object(names: &Names) -> String {
    let Names {
        generator, group, ..
    } = names;
    format!(
        "# The target group of `{generator}`: `infragen generator {generator}` runs once per\n\
         # member. An object joins it from its own object file with\n\
         #   member_of_groups: [{group}]\n\
         ---\n\
         apiVersion: infrahub.app/v1\n\
         kind: Object\n\
         spec:\n  \
           kind: CoreStandardGroup\n  \
           data:\n    \
             - name: {group}\n      \
               description: Targets of the {generator} generator.\n"
    )
}
