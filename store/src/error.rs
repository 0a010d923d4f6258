//! The store's typed errors.
//!
//! Each variant carries what a user needs to act: the file, the kind, the field, the branch.

use thiserror::Error;

pub use crate::code::ErrorCode;
pub use crate::engine::error::{DeleteRefused, MandatoryLink};

/// Everything that can go wrong in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// One or more schema files were rejected; nothing was loaded. One line per problem.
    #[error("{}", .0.join("\n"))]
    Schema(Vec<String>),
    /// The SQLite file could not be opened, read or written.
    #[error("store database {path}: {source}")]
    Database {
        /// The database file.
        path: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The store's file or its directory could not be created.
    #[error("cannot create the store {path}: {source}")]
    Create {
        /// The database file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Stored data could not be decoded (a corrupted or foreign file).
    #[error("store database {path}: corrupted row: {detail}")]
    Corrupted {
        /// The database file.
        path: String,
        /// What could not be decoded.
        detail: String,
    },
    /// The store's tables are in a layout newer than this binary reads (a newer infragen
    /// converted them): nothing was read or changed.
    #[error(
        "store database {path} is in layout {found}, written by a newer infragen; this \
         infragen reads layouts up to {known}: open it with that newer infragen"
    )]
    NewerLayout {
        /// The database file.
        path: String,
        /// The layout the store is in.
        found: u32,
        /// The newest layout this binary reads.
        known: u32,
    },
    /// The named branch does not exist (Infrahub's `BranchNotFoundError` text).
    #[error("Branch: {0} not found.")]
    BranchNotFound(String),
    /// The schema has no kind of that name.
    #[error("the schema has no kind {0}")]
    UnknownKind(String),
    /// The request is malformed: an unknown operation or filter, a value of the wrong type.
    #[error("{0}")]
    BadRequest(String),
    /// A branch with that name already exists.
    #[error("branch '{0}' already exists")]
    BranchExists(String),
    /// The branch name is not acceptable (or is `main` where that is not allowed).
    #[error("{reason}")]
    InvalidBranch {
        /// The rejected name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Merging found changes on both sides; nothing was merged.
    #[error("merge of branch '{branch}' refused, {} conflict(s): {}", .conflicts.len(), .conflicts.join("; "))]
    MergeConflict {
        /// The branch being merged.
        branch: String,
        /// One entry per conflicting field: `<kind> <id> <field>: main=<v> branch=<v>`.
        conflicts: Vec<String>,
    },
    /// A node-level problem raised by the write engine (not found, validation, uniqueness,
    /// a refused delete, an exhausted pool).
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// One or more object files were rejected; nothing was written. One line per problem,
    /// each naming the file, the document, the item and the field.
    #[error("{}", .0.join("\n"))]
    Objects(Vec<String>),
    /// Someone else changed the store while a run was computing its writes (a client of
    /// `infragen serve`, another process, a schema load): nothing of the run was written,
    /// and running it again will see the change.
    #[error("the store changed during the run ({0}); nothing of the run was written")]
    RunConflict(String),
    /// A run's write was refused by the check its caller gave; nothing of it was kept.
    #[error("{0}")]
    Refused(String),
    /// The run was already committed or abandoned.
    #[error("the run is over: it was {0}")]
    RunOver(&'static str),
    /// The store broke one of its own invariants (a bug, not bad input): what it wrote
    /// could not be read back.
    #[error("internal store error: {0}")]
    Internal(String),
    /// The operating system gave no random bytes for a secret (an API token).
    #[error("no random bytes from the operating system for a token: {0}")]
    Randomness(getrandom::Error),
}

impl StoreError {
    /// The stable code of this error (see [`ErrorCode`]).
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::Database { .. }
            | StoreError::Corrupted { .. }
            | StoreError::NewerLayout { .. }
            | StoreError::Create { .. }
            | StoreError::Internal(_)
            | StoreError::Randomness(_) => ErrorCode::Internal,
            StoreError::BranchNotFound(_) => ErrorCode::BranchNotFound,
            StoreError::UnknownKind(_) => ErrorCode::NotFound,
            StoreError::BadRequest(_) => ErrorCode::BadRequest,
            StoreError::Engine(e) => e.code(),
            StoreError::MergeConflict { .. } | StoreError::RunConflict(_) => ErrorCode::Conflict,
            StoreError::RunOver(_) => ErrorCode::BadRequest,
            StoreError::Refused(_) => ErrorCode::PermissionDenied,
            StoreError::Schema(_)
            | StoreError::BranchExists(_)
            | StoreError::InvalidBranch { .. }
            | StoreError::Objects(_) => ErrorCode::Validation,
        }
    }

    pub(crate) fn db(path: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Database {
            path: path.to_string(),
            source,
        }
    }

    /// [`StoreError::db`] for a failure on `conn`, named by its file (`:memory:` for an
    /// in-memory store).
    pub(crate) fn db_of(
        conn: &rusqlite::Connection,
    ) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
        move |source| StoreError::Database {
            path: conn.path().unwrap_or(":memory:").to_string(),
            source,
        }
    }
}

/// Shorthand for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
