//! `infragen validate`: the mistakes that make a generator fail at run time,
//! found before it runs, each with its file and line.
//!
//! A generator is three parts that must agree — a target group, a stored
//! GraphQL query, the component — plus the trigger rules and policy that
//! name it. Each family of checks has its module:
//!
//! - `queries`: a definition's query is declared, its `.gql` parses, its
//!   variables are exactly the definition's `parameters`, and it selects only
//!   fields the repository's schema has;
//! - `components`: each `file_path` is a generator component this host
//!   would load (present, a component, a compatible contract);
//! - `groups`: each target group is declared by an object file (or exists in
//!   the store);
//! - `triggers`: trigger rules name generators, kinds, attributes and
//!   actions that exist;
//! - `policy`: `infragen.toml` configures only generators that exist, and
//!   grants writes only of kinds and attributes the schema has.
//!
//! Nothing is written: the schema is loaded into an in-memory store, and a
//! store on disk is only read, when one exists, to look up groups and
//! actions that no object file declares. Every problem is collected; the
//! only one that stops checking is a `.infrahub.yml` that is not Infrahub's
//! format, since nothing else can be trusted then.

mod components;
pub(crate) mod groups;
pub(crate) mod objects;
mod policy;
mod queries;
pub(crate) mod repository;
pub(crate) mod schema;
mod triggers;
pub(crate) mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use repository::Files;

/// One problem: where it is and what is wrong, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file, relative to the repository root.
    pub file: String,
    /// The line (1-based), or `None` when the problem is the whole file.
    pub line: Option<u64>,
    /// What is wrong and, where it helps, what would fix it.
    pub message: String,
}

impl Problem {
    pub(crate) fn at(file: impl Into<String>, line: u64, message: impl Into<String>) -> Self {
        Problem {
            file: file.into(),
            line: Some(line),
            message: message.into(),
        }
    }

    pub(crate) fn whole(file: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            file: file.into(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// How much was checked, for the verdict line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// Generator definitions.
    pub generators: usize,
    /// Stored queries.
    pub queries: usize,
    /// Object files.
    pub object_files: usize,
    /// Trigger rules.
    pub trigger_rules: usize,
}

/// The outcome of [`validate`]: every problem, sorted by file and line.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The repository, as given.
    pub repository: PathBuf,
    /// What was wrong; empty when the repository is clean.
    pub problems: Vec<Problem>,
    /// What is worth knowing but not wrong: generator definitions infragen imports and
    /// does not run (an Infrahub repository's Python generators).
    pub notes: Vec<Problem>,
    /// What was looked at.
    pub checked: Checked,
}

impl Report {
    /// Whether nothing was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for Report {
    /// One line per problem, then the verdict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.problems {
            writeln!(f, "{problem}")?;
        }
        for note in &self.notes {
            match note.line {
                Some(line) => writeln!(f, "{}:{line}: note: {}", note.file, note.message)?,
                None => writeln!(f, "{}: note: {}", note.file, note.message)?,
            }
        }
        let Checked {
            generators,
            queries,
            object_files,
            trigger_rules,
        } = &self.checked;
        let checked = format!(
            "{generators} generator{}, {queries} quer{}, {object_files} object file{}, \
             {trigger_rules} trigger rule{}",
            plural(*generators),
            if *queries == 1 { "y" } else { "ies" },
            plural(*object_files),
            plural(*trigger_rules),
        );
        match self.problems.len() {
            0 => write!(f, "ok: no problems in {checked}"),
            1 => write!(f, "1 problem in {checked}"),
            count => write!(f, "{count} problems in {checked}"),
        }
    }
}

/// The file a loader's message is about, and the rest of the message: the store names
/// the file first (`FILE: …`). `None` when it names none of `files`.
pub(crate) fn named_file<'m>(
    message: &'m str,
    files: &[(String, String)],
) -> Option<(String, &'m str)> {
    let (file, _) = files
        .iter()
        .find(|(name, _)| message.starts_with(name.as_str()))?;
    let rest = message[file.len()..].trim_start_matches([':', ' ']);
    Some((file.clone(), rest))
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// What [`validate`] may consult besides the repository.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A store file to look up target groups and trigger actions in when no
    /// object file declares them. Only read, and only when the file exists.
    pub store: Option<PathBuf>,
}

/// Why validation could not start at all (every problem *in* the repository
/// is a [`Problem`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The repository directory cannot be opened.
    #[error("cannot open the repository {}: {source}", root.display())]
    OpenRoot {
        /// The directory given.
        root: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// Checks the repository at `root` and reports every problem found.
pub fn validate(root: &Path, options: &Options) -> Result<Report, ValidateError> {
    let files = Files::open(root).map_err(|source| ValidateError::OpenRoot {
        root: root.to_owned(),
        source,
    })?;
    let mut report = Report {
        repository: root.to_owned(),
        problems: Vec::new(),
        notes: Vec::new(),
        checked: Checked::default(),
    };
    let config = match repository::read_config(root, &files) {
        Ok(config) => config,
        Err(problem) => {
            report.problems.push(problem);
            return Ok(report);
        }
    };
    let problems = &mut report.problems;
    let schema = schema::load(&config, &files, problems);
    let objects = objects::read(&config, &files, problems);
    let before_objects = problems.len();
    objects::load(&objects, schema.as_ref(), problems);
    objects::load_menus(&config, &files, schema.as_ref(), problems);
    let store = objects::StoreLookup::new(options.store.as_deref());

    queries::check(&config, &files, schema.as_ref(), problems);
    components::check(&config, &files, problems, &mut report.notes);
    groups::check(&config, &objects, schema.as_ref(), &store, problems);
    triggers::check(&config, &objects, schema.as_ref(), &store, problems);
    // Only when every name in them checked out: a wrong name is reported once, above.
    if schema.is_some() && problems.len() == before_objects {
        objects::load_rules(root, &objects, problems);
    }
    policy::check(&config, &files, schema.as_ref(), problems);

    report.checked = Checked {
        generators: config.definitions.len(),
        queries: config.queries.len(),
        object_files: objects.files,
        trigger_rules: objects
            .items(|kind| kind == triggers::NODE_TRIGGER_RULE)
            .count(),
    };
    // By file, then line; problems of one place keep the order they were
    // found in.
    report
        .problems
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(report)
}
