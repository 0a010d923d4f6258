//! The embedded store's commands: `schema load`, `object load`,
//! `branch create|list|validate|merge|delete`, `query` and `token create` (`infragen
//! serve` is [`super::serve`]). The `infragen` command line mounts
//! [`StoreCommand`] and calls [`run`] with its global `--store PATH`; the work
//! is the store's, the printing is here.

use anyhow::{Context, bail};
use clap::Subcommand;
use infragen_store::{GraphqlRequest, Store, TokenScope};
use serde_json::{Map, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Default store location under the repository.
pub(crate) const DEFAULT_STORE_PATH: &str = ".infragen/store.db";

/// Store commands.
#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Schema files.
    Schema {
        /// What to do.
        #[command(subcommand)]
        cmd: SchemaCommand,
    },
    /// Branches.
    Branch {
        /// What to do.
        #[command(subcommand)]
        cmd: BranchCommand,
    },
    /// Run a GraphQL document (query or mutation) and print the JSON result.
    Query {
        /// The document file, or `-` for standard input.
        file: String,
        /// Branch to run on.
        #[arg(long, default_value = "main")]
        branch: String,
        /// A variable, `KEY=VALUE` (repeatable). Values are typed after the document's
        /// variable definitions (Int, Boolean, Float, or else String).
        #[arg(long = "var", value_name = "KEY=VALUE")]
        vars: Vec<String>,
    },
    /// Object files (`apiVersion: infrahub.app/v1`, `kind: Object`) and menu files (`kind:
    /// Menu`).
    Object {
        /// What to do.
        #[command(subcommand)]
        cmd: ObjectCommand,
    },
    /// API tokens for `X-INFRAHUB-KEY`.
    Token {
        /// What to do.
        #[command(subcommand)]
        cmd: TokenCommand,
    },
}

/// `schema …`
#[derive(Debug, Subcommand)]
pub(crate) enum SchemaCommand {
    /// Load schema files or directories (recursively, `.yml`, `.yaml`, `.json`, sorted).
    Load {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// `object …`
#[derive(Debug, Subcommand)]
pub(crate) enum ObjectCommand {
    /// Upsert the objects of files or directories (recursively, `.yml`, `.yaml`, `.json`,
    /// sorted). Every file is checked before anything is written; loading twice changes
    /// nothing.
    Load {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Branch to write on.
        #[arg(long, default_value = "main")]
        branch: String,
    },
}

/// `branch …`
#[derive(Debug, Subcommand)]
pub(crate) enum BranchCommand {
    /// Create a branch from main.
    Create {
        /// Branch name.
        name: String,
    },
    /// List branches.
    List,
    /// Say whether a branch would merge into main now, and list every conflict if not
    /// (nothing is written; exit code 1 when it would not merge).
    Validate {
        /// Branch name.
        name: String,
    },
    /// Merge a branch into main.
    Merge {
        /// Branch name.
        name: String,
    },
    /// Delete a branch.
    Delete {
        /// Branch name.
        name: String,
    },
}

/// `token …`
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it (only its hash is stored).
    Create {
        /// A name to remember it by.
        #[arg(default_value = "default")]
        name: String,
        /// What it may do through `infragen serve`: `read` (queries), `write` (mutations
        /// too) or `admin` (schema loads too).
        #[arg(long, default_value = "write", value_parser = parse_scope)]
        scope: TokenScope,
    },
}

fn parse_scope(text: &str) -> Result<TokenScope, String> {
    TokenScope::parse(text)
        .ok_or_else(|| format!("unknown scope `{text}`: a token's scope is read, write or admin"))
}

/// Schema files under `paths`, in a stable order, as (display name, text).
fn read_schema_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                walk(&e, out)?;
            }
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yml" | "yaml" | "json"))
        {
            out.push(p.to_path_buf());
        }
        Ok(())
    }
    let mut files = Vec::new();
    for p in paths {
        if !p.exists() {
            bail!("{}: no such file or directory", p.display());
        }
        if p.is_file() {
            files.push(p.clone());
        } else {
            walk(p, &mut files)?;
        }
    }
    files
        .into_iter()
        .map(|f| {
            Ok((
                f.display().to_string(),
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?,
            ))
        })
        .collect()
}

/// Build the variables object from `KEY=VALUE` pairs, typed after the document's variable
/// definitions.
fn parse_vars(document: &str, vars: &[String]) -> anyhow::Result<Value> {
    let mut types = std::collections::HashMap::new();
    if let Ok(doc) = async_graphql_parser::parse_query(document) {
        for (_, op) in doc.operations.iter() {
            for vd in &op.node.variable_definitions {
                let t = vd.node.var_type.node.to_string();
                types.insert(
                    vd.node.name.node.to_string(),
                    t.trim_end_matches('!').to_string(),
                );
            }
        }
    }
    let mut m = Map::new();
    for kv in vars {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--var {kv}: expected KEY=VALUE"))?;
        let value = match types.get(k).map(String::as_str) {
            Some("Int" | "BigInt") => Value::from(
                v.parse::<i64>()
                    .with_context(|| format!("--var {k}: '{v}' is not an integer"))?,
            ),
            Some("Float") => Value::from(
                v.parse::<f64>()
                    .with_context(|| format!("--var {k}: '{v}' is not a number"))?,
            ),
            Some("Boolean") => Value::from(
                v.parse::<bool>()
                    .with_context(|| format!("--var {k}: '{v}' is not true or false"))?,
            ),
            Some(t) if t.starts_with('[') => serde_json::from_str(v)
                .with_context(|| format!("--var {k}: '{v}' is not a JSON list"))?,
            _ => Value::String(v.to_string()),
        };
        m.insert(k.to_string(), value);
    }
    Ok(Value::Object(m))
}

/// Run a store command against the store at `store_path`.
pub(crate) async fn run(cmd: StoreCommand, store_path: &Path) -> anyhow::Result<()> {
    let store = Store::open(store_path)
        .with_context(|| format!("cannot open the store {}", store_path.display()))?;
    match cmd {
        StoreCommand::Schema {
            cmd: SchemaCommand::Load { paths },
        } => {
            let files = read_schema_paths(&paths)?;
            let r = store.load_schema(&files)?;
            if r.schema_updated {
                for (name, _) in &files {
                    println!("schema '{name}' loaded successfully");
                }
            } else {
                println!("schema is already up to date");
            }
        }
        StoreCommand::Branch { cmd } => match cmd {
            BranchCommand::Create { name } => {
                store.create_branch(&name)?;
                println!("branch '{name}' created");
            }
            BranchCommand::List => {
                for b in store.branches()? {
                    let marker = if b.is_default { "*" } else { " " };
                    println!(
                        "{marker} {}\t{}\t{} change(s)",
                        b.name, b.created_at, b.changes
                    );
                }
            }
            BranchCommand::Validate { name } => {
                let conflicts = store.merge_conflicts(&name)?;
                if !conflicts.is_empty() {
                    for conflict in &conflicts {
                        println!("{conflict}");
                    }
                    bail!(
                        "branch '{name}' would not merge into main: {} conflict(s)",
                        conflicts.len()
                    );
                }
                println!("branch '{name}' would merge into main");
            }
            BranchCommand::Merge { name } => {
                let r = store.merge_branch(&name)?;
                println!(
                    "branch '{name}' merged into main ({} node(s) changed)",
                    r.nodes_changed
                );
            }
            BranchCommand::Delete { name } => {
                store.delete_branch(&name)?;
                println!("branch '{name}' deleted");
            }
        },
        StoreCommand::Query { file, branch, vars } => {
            let document = if file == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("reading the document from standard input")?;
                s
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?
            };
            let variables = parse_vars(&document, &vars)?;
            let resp = store
                .execute(
                    &branch,
                    GraphqlRequest::new(document).with_variables(variables),
                )
                .await;
            let data = resp.get("data").cloned().unwrap_or(Value::Null);
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"data": data}))?
            );
            if let Some(errors) = resp.get("errors").and_then(Value::as_array) {
                for e in errors {
                    eprintln!(
                        "error: {}",
                        e.get("message").and_then(Value::as_str).unwrap_or_default()
                    );
                }
                bail!("the document returned {} GraphQL error(s)", errors.len());
            }
        }
        StoreCommand::Object {
            cmd: ObjectCommand::Load { paths, branch },
        } => {
            let files = read_schema_paths(&paths)?;
            let r = store.load_objects(&branch, &files)?;
            println!(
                "{} object(s) from {} file(s) loaded on branch '{branch}', {} node(s) changed",
                r.objects, r.files, r.nodes_changed
            );
        }
        StoreCommand::Token {
            cmd: TokenCommand::Create { name, scope },
        } => {
            println!("{}", store.create_token(&name, scope)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The commands run in-process through [`super::run`], against a store file
    //! with the store's test schema and objects (`store/tests/fixtures/dcim.yml`,
    //! `topology.yml`).

    use super::{StoreCommand, parse_vars};
    use clap::Parser;
    use infragen_store::{GraphqlRequest, Store};
    use serde_json::{Value, json};

    const DCIM: &str = include_str!("../../../store/tests/fixtures/dcim.yml");

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: StoreCommand,
    }

    async fn run(store: &std::path::Path, args: &[&str]) -> anyhow::Result<()> {
        let mut argv = vec!["infragen"];
        argv.extend_from_slice(args);
        super::run(Cli::try_parse_from(argv)?.cmd, store).await
    }

    /// Run a document that must succeed; return `data`.
    fn ok(s: &Store, branch: &str, query: &str) -> Value {
        let r = s.execute_blocking(branch, &GraphqlRequest::new(query));
        assert!(r.get("errors").is_none(), "unexpected errors: {r:#}");
        r["data"].clone()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn schema_load_branch_and_query_commands() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(".infragen/store.db");
        let schemas = dir.path().join("schemas");
        std::fs::create_dir_all(&schemas).unwrap();
        std::fs::write(schemas.join("dcim.yml"), DCIM).unwrap();
        run(&db, &["schema", "load", schemas.to_str().unwrap()])
            .await
            .unwrap();
        run(&db, &["branch", "create", "br1"]).await.unwrap();
        let doc = dir.path().join("upsert.gql");
        std::fs::write(&doc, "mutation ($name: String!, $asn: BigInt) { DcimDeviceUpsert(data: {name: {value: $name}, asn: {value: $asn}}) { ok } }").unwrap();
        run(
            &db,
            &[
                "query",
                doc.to_str().unwrap(),
                "--branch",
                "br1",
                "--var",
                "name=leaf1",
                "--var",
                "asn=65000",
            ],
        )
        .await
        .unwrap();
        run(&db, &["branch", "merge", "br1"]).await.unwrap();
        let s = Store::open(&db).unwrap();
        assert_eq!(
            ok(
                &s,
                "main",
                "{ DcimDevice { edges { node { asn { value } } } } }"
            )["DcimDevice"]["edges"][0]["node"],
            json!({"asn": {"value": 65000}})
        );
        drop(s);
        run(&db, &["branch", "delete", "br1"]).await.unwrap();
        run(&db, &["branch", "list"]).await.unwrap();
        let bad = dir.path().join("bad.gql");
        std::fs::write(&bad, "{ Nope { count } }").unwrap();
        let err = run(&db, &["query", bad.to_str().unwrap()])
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "the document returned 1 GraphQL error(s)");
        let err = run(&db, &["branch", "merge", "missing"]).await.unwrap_err();
        assert_eq!(err.to_string(), "Branch: missing not found.");
    }

    #[test]
    fn variables_are_typed_after_the_document() {
        let doc = "query ($n: Int!, $flag: Boolean, $name: String!, $ids: [ID]) { x }";
        let v = parse_vars(
            doc,
            &[
                "n=3".into(),
                "flag=true".into(),
                "name=007".into(),
                r#"ids=["a"]"#.into(),
            ],
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"n": 3, "flag": true, "name": "007", "ids": ["a"]})
        );
        assert_eq!(
            parse_vars(doc, &["n=x".into()]).unwrap_err().to_string(),
            "--var n: 'x' is not an integer"
        );
    }

    const TOPOLOGY: &str = include_str!("../../../store/tests/fixtures/topology.yml");

    #[test]
    fn object_load_on_the_command_line_writes_on_the_given_branch() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store.db");
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        std::fs::write(dir.path().join("dcim.yml"), DCIM).unwrap();
        std::fs::write(objects.join("10_topology.yml"), TOPOLOGY).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let run = |args: &[&str]| {
            let mut argv = vec!["infragen"];
            argv.extend_from_slice(args);
            rt.block_on(super::run(Cli::try_parse_from(argv).unwrap().cmd, &db))
        };
        run(&[
            "schema",
            "load",
            dir.path().join("dcim.yml").to_str().unwrap(),
        ])
        .unwrap();
        run(&["branch", "create", "seed"]).unwrap();
        run(&[
            "object",
            "load",
            objects.to_str().unwrap(),
            "--branch",
            "seed",
        ])
        .unwrap();
        let s = Store::open(&db).unwrap();
        assert_eq!(
            ok(&s, "seed", "{ DcimDevice { count } }")["DcimDevice"]["count"],
            3
        );
        assert_eq!(
            ok(&s, "main", "{ DcimDevice { count } }")["DcimDevice"]["count"],
            0
        );
        let err = run(&[
            "object",
            "load",
            objects.to_str().unwrap(),
            "--branch",
            "nope",
        ])
        .unwrap_err();
        assert_eq!(err.to_string(), "Branch: nope not found.");
    }
}
