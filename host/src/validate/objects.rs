//! The repository's object files, read for what other checks cross-check:
//! which groups and trigger actions they declare, and the trigger rules.
//! Loading them is the store's job (`infragen object load`); here each
//! document is only searched, with lines kept for messages.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use infragen_store::{GraphqlRequest, Store};
use serde_json::json;

use super::Problem;
use super::repository::{Config, Files};
use super::schema::entry_texts;
use super::yaml::{self, Located, Node};

/// One document of an object file: `spec.kind` and the items of
/// `spec.data`.
pub(crate) struct ObjectDocument {
    pub(crate) file: String,
    pub(crate) kind: Located,
    pub(crate) items: Vec<Node>,
}

/// Every object document of the repository.
#[derive(Default)]
pub(crate) struct Objects {
    /// How many object files were read.
    pub(crate) files: usize,
    pub(crate) documents: Vec<ObjectDocument>,
    /// Every file's name and text, in the order `sync` loads them.
    pub(crate) texts: Vec<(String, String)>,
}

impl Objects {
    /// The items of every document whose kind `matches`, with the document.
    pub(crate) fn items<'a>(
        &'a self,
        matches: impl Fn(&str) -> bool + 'a,
    ) -> impl Iterator<Item = (&'a ObjectDocument, &'a Node)> + 'a {
        self.documents
            .iter()
            .filter(move |document| matches(&document.kind.text))
            .flat_map(|document| document.items.iter().map(move |item| (document, item)))
    }
}

/// Reads every file under `objects`; a file that is not YAML is a problem
/// and is skipped.
pub(crate) fn read(config: &Config, files: &Files, problems: &mut Vec<Problem>) -> Objects {
    let mut objects = Objects::default();
    let (texts, _) = entry_texts(config, files, &config.objects, problems);
    for (file, text) in texts {
        objects.files += 1;
        objects.texts.push((file.clone(), text.clone()));
        let documents = match yaml::documents(&text) {
            Ok(documents) => documents,
            Err(error) => {
                problems.push(Problem::at(
                    &file,
                    error.line,
                    format!("invalid YAML: {}", error.message),
                ));
                continue;
            }
        };
        for document in documents {
            let Some(spec) = document.get("spec") else {
                continue;
            };
            let Some(kind) = spec.located("kind") else {
                continue;
            };
            let items = spec.get("data").map_or(&[][..], Node::items).to_vec();
            objects.documents.push(ObjectDocument {
                file: file.clone(),
                kind,
                items,
            });
        }
    }
    objects
}

/// Loads the design's object files — every file but those declaring trigger rules and
/// actions, which `sync` loads after the generator definitions they name — into the
/// in-memory store holding the repository's schema, exactly as `sync` loads them: what
/// the loader refuses (a reference to a node no file creates, a value the schema refuses,
/// a range too large), `validate` reports, in the loader's words.
pub(crate) fn load(
    objects: &Objects,
    schema: Option<&super::schema::LoadedSchema>,
    problems: &mut Vec<Problem>,
) {
    let Some(schema) = schema else {
        return;
    };
    let after_definitions = |file: &str| {
        objects.documents.iter().any(|document| {
            document.file == file
                && crate::sync::AFTER_DEFINITIONS.contains(&document.kind.text.as_str())
        })
    };
    let design: Vec<(String, String)> = objects
        .texts
        .iter()
        .filter(|(file, _)| !after_definitions(file))
        .cloned()
        .collect();
    if design.is_empty() {
        return;
    }
    if let Err(error) = schema.store.load_objects(infragen_store::MAIN, &design) {
        refusals(error, &design, "objects", problems);
    }
}

/// Loads the menu files of `menus` after the design, as `sync` loads them, into the
/// in-memory store holding the repository's schema: a menu path that is not there, and
/// what the loader refuses of a menu file (an unknown field, a kind that is not a menu
/// item's), are problems. (`sync` names a missing menu in its warning and goes on; here
/// the author is told before.)
pub(crate) fn load_menus(
    config: &Config,
    files: &Files,
    schema: Option<&super::schema::LoadedSchema>,
    problems: &mut Vec<Problem>,
) {
    let (menus, _) = entry_texts(config, files, &config.menus, problems);
    let Some(schema) = schema else {
        return;
    };
    if menus.is_empty() {
        return;
    }
    if let Err(error) = schema.store.load_objects(infragen_store::MAIN, &menus) {
        refusals(error, &menus, "menus", problems);
    }
}

/// The loader's refusals of object files (`what`: `objects`, `menus`), each a problem of
/// the file it names (else of the first of `files`), in the loader's words.
fn refusals(
    error: infragen_store::StoreError,
    files: &[(String, String)],
    what: &str,
    problems: &mut Vec<Problem>,
) {
    let refused = match error {
        infragen_store::StoreError::Objects(refused) => refused,
        other => vec![other.to_string()],
    };
    for message in &refused {
        let (file, rest) = super::named_file(message, files).unwrap_or_else(|| {
            let first = files
                .first()
                .map(|(name, _)| name.clone())
                .unwrap_or_default();
            (first, message)
        });
        problems.push(Problem::whole(
            file,
            format!("the {what} do not load as `sync` loads them: {rest}"),
        ));
    }
}

/// Loads the object files declaring trigger rules and actions as `sync` does: after the
/// design and the generator definitions they name, on a scratch in-memory store holding
/// the whole repository. Only the loader's refusals are reported here (a value the schema
/// refuses, such as an unknown `branch_scope`); a missing definition or group is the
/// other checks' to name. Run only once the design files loaded cleanly.
pub(crate) fn load_rules(root: &Path, objects: &Objects, problems: &mut Vec<Problem>) {
    let has_rules = objects
        .documents
        .iter()
        .any(|document| crate::sync::AFTER_DEFINITIONS.contains(&document.kind.text.as_str()));
    if !has_rules {
        return;
    }
    // What does not open as a repository, or in a store, the other checks report.
    let Ok(repository) = crate::repository::Repository::open(root) else {
        return;
    };
    let Ok(store) = Store::in_memory() else {
        return;
    };
    let backend = crate::embedded::EmbeddedBackend::new(store.clone());
    let sync = crate::sync::sync_repository(&store, &repository, &backend, infragen_store::MAIN);
    let result = match tokio::runtime::Handle::try_current() {
        // `validate` runs on tokio's blocking pool under the CLI, where this may block.
        Ok(handle) => handle.block_on(sync),
        Err(_) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(sync),
            Err(error) => {
                problems.push(Problem::whole(
                    objects
                        .texts
                        .first()
                        .map(|(f, _)| f.clone())
                        .unwrap_or_default(),
                    format!("cannot start a runtime to load the trigger rules: {error}"),
                ));
                return;
            }
        },
    };
    if let Err(crate::sync::SyncError::Store(error @ infragen_store::StoreError::Objects(_))) =
        result
    {
        refusals(error, &objects.texts, "objects", problems);
    }
}

/// Looks names up in a store on disk, for groups and actions created there
/// rather than by an object file. The store is opened on first use, and
/// only when its file exists: validating never creates one.
pub(crate) struct StoreLookup {
    path: Option<PathBuf>,
    store: OnceCell<Option<Store>>,
}

impl StoreLookup {
    pub(crate) fn new(path: Option<&Path>) -> StoreLookup {
        StoreLookup {
            path: path.filter(|path| path.is_file()).map(Path::to_owned),
            store: OnceCell::new(),
        }
    }

    /// The store's path, when there is one to look in.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the store has a node of `kind` (or a kind inheriting it)
    /// named `name` on `main`.
    pub(crate) fn has(&self, kind: &str, name: &str) -> bool {
        let store = self
            .store
            .get_or_init(|| self.path.as_ref().and_then(|path| Store::open(path).ok()));
        let Some(store) = store else {
            return false;
        };
        if store.schema().get(kind).is_none() {
            return false;
        }
        let request = GraphqlRequest::new(format!(
            "query Lookup($name: String!) {{ {kind}(name__value: $name) {{ count }} }}"
        ))
        .with_variables(json!({ "name": name }));
        let response = store.execute_blocking(infragen_store::MAIN, &request);
        response["data"][kind]["count"].as_u64().unwrap_or(0) > 0
    }
}
