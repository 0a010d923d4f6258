//! The store's typed errors.
//!
//! Each variant carries what a user needs to act: the file, the kind, the field, the branch.

use std::fmt;
use thiserror::Error;

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
    /// Stored data could not be decoded (a corrupted or foreign file).
    #[error("store database {path}: corrupted row: {detail}")]
    Corrupted {
        /// The database file.
        path: String,
        /// What could not be decoded.
        detail: String,
    },
    /// The named branch does not exist.
    #[error("branch '{0}' not found")]
    BranchNotFound(String),
    /// A branch with that name already exists.
    #[error("branch '{0}' already exists")]
    BranchExists(String),
    /// The branch name is not acceptable (or is `main` where that is not allowed).
    #[error("invalid branch name '{name}': {reason}")]
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
    /// A node-level problem raised by a mutation (not found, validation, uniqueness).
    #[error("{0}")]
    Node(String),
    /// One or more object files were rejected; nothing was written. One line per problem,
    /// each naming the file, the document, the item and the field.
    #[error("{}", .0.join("\n"))]
    Objects(Vec<String>),
    /// A node delete was refused: a mandatory relationship points at a node it would delete.
    /// Nothing was deleted.
    #[error(transparent)]
    DeleteRefused(#[from] DeleteRefused),
}

/// A mandatory (`optional: false`) relationship that points at a node a delete would remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandatoryLink {
    /// Kind of the node that would be deleted.
    pub deleted_kind: String,
    /// Id of the node that would be deleted.
    pub deleted_id: String,
    /// Kind of the node whose relationship points at it.
    pub holder_kind: String,
    /// Id of the node whose relationship points at it.
    pub holder_id: String,
    /// The mandatory relationship, on the holder's kind.
    pub relationship: String,
    /// Whether this link blocks the delete: the holder is not itself deleted in the same
    /// cascade. Links whose holder is deleted too are reported alongside the blocking ones,
    /// as Infrahub does, but never block on their own.
    pub blocking: bool,
}

impl fmt::Display for MandatoryLink {
    /// Infrahub's wording: `Cannot delete <Kind> '<id>'. It is linked to mandatory
    /// relationship <rel> on node <HolderKind> '<holder id>' at <HolderKind>.<rel>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cannot delete {} '{}'. It is linked to mandatory relationship {} on node {} '{}' at {}.{}",
            self.deleted_kind,
            self.deleted_id,
            self.relationship,
            self.holder_kind,
            self.holder_id,
            self.holder_kind,
            self.relationship
        )
    }
}

/// A refused node delete: at least one of `links` is blocking. Displayed as Infrahub's
/// message, every link's sentence joined by `", "`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct DeleteRefused {
    /// Every mandatory relationship pointing into the delete set, in a stable order (the
    /// cascade's discovery order, then the holder's).
    pub links: Vec<MandatoryLink>,
}

impl fmt::Display for DeleteRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.links.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{l}")?;
        }
        Ok(())
    }
}

impl StoreError {
    pub(crate) fn db(path: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Database {
            path: path.to_string(),
            source,
        }
    }
}

/// Shorthand for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
