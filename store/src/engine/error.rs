//! The engine's typed errors.
//!
//! Every message is the text the store has always answered (Infrahub's wording where its
//! clients depend on it); the type says what kind of failure it is, and [`EngineError::code`]
//! gives the stable code a GraphQL response carries in `extensions.code`.
//!
//! This module is a leaf: the helpers below the engine (pools, templates) build these errors
//! too, without depending on anything else of the engine. [`DeleteRefused`] (Infrahub's
//! refusal message, link by link) lives here as well.

use crate::code::ErrorCode;
use std::fmt;
use thiserror::Error;

/// Why a write (or the lookup it starts with) failed. A failed create leaves nothing in the
/// transaction; the callers drop the transaction of any other failed write.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EngineError {
    /// The node named by `id` (an id, or an HFID shown as a list) is not on the branch.
    /// Infrahub's message; the SDK's cleanup depends on its prefix.
    #[error("Unable to find the node {id} / {kind} in the database.")]
    NotFound {
        /// The kind asked for (the relationship's peer, the mutation's kind; may be empty).
        kind: String,
        /// The id, or the HFID as `["a", "b"]`, or a pool's name.
        id: String,
    },
    /// A delete refused by mandatory relationships; nothing was deleted.
    #[error(transparent)]
    DeleteRefused(#[from] DeleteRefused),
    /// A uniqueness constraint is violated: the HFID, a `unique` attribute or an entry of
    /// `uniqueness_constraints`.
    #[error("Violates uniqueness constraint '{constraint}' with '{value}'")]
    Uniqueness {
        /// The constraint: the attribute, or the paths joined by `-`.
        constraint: String,
        /// The values that are taken, joined by `-`.
        value: String,
    },
    /// A resource pool has nothing left of what was asked.
    #[error("No more resources available in {pool}: {detail}")]
    PoolExhausted {
        /// The pool, as `<Kind> '<name>'`.
        pool: String,
        /// What was asked and where it was looked for.
        detail: String,
    },
    /// A mandatory attribute or relationship has no value.
    #[error("{field} is mandatory for {kind}")]
    Mandatory {
        /// The node's kind.
        kind: String,
        /// The attribute or relationship.
        field: String,
    },
    /// Two requests disagree: a pool identifier already reserved for another size.
    #[error("{0}")]
    Conflict(String),
    /// The data is refused (a wrong type or shape, an unknown field, a cardinality, an
    /// ambiguous HFID); the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// Another error, in the context of a part of the write (a relationship's `from_pool`,
    /// a pool, a template's child, an object file's item): `<context>: <error>`. Its code is
    /// the inner error's.
    #[error("{context}: {error}")]
    Context {
        /// Where the error happened.
        context: String,
        /// The error.
        error: Box<EngineError>,
    },
}

impl EngineError {
    /// [`EngineError::NotFound`] of `id` (or an HFID's `{:?}`) of `kind`.
    pub fn not_found(id: impl Into<String>, kind: impl Into<String>) -> Self {
        EngineError::NotFound {
            kind: kind.into(),
            id: id.into(),
        }
    }

    /// [`EngineError::Invalid`] with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        EngineError::Invalid(message.into())
    }

    /// This error prefixed with `context` (`<context>: <self>`), keeping its type.
    pub fn context(self, context: impl Into<String>) -> Self {
        EngineError::Context {
            context: context.into(),
            error: Box::new(self),
        }
    }

    /// The error under any [`EngineError::Context`].
    pub fn root(&self) -> &EngineError {
        match self {
            EngineError::Context { error, .. } => error.root(),
            other => other,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self.root() {
            EngineError::NotFound { .. } => ErrorCode::NotFound,
            EngineError::DeleteRefused(_) => ErrorCode::DeleteRefused,
            EngineError::Uniqueness { .. } => ErrorCode::Uniqueness,
            EngineError::PoolExhausted { .. } => ErrorCode::PoolExhausted,
            EngineError::Conflict(_) => ErrorCode::Conflict,
            EngineError::Mandatory { .. } | EngineError::Invalid(_) => ErrorCode::Validation,
            EngineError::Context { .. } => ErrorCode::Validation,
        }
    }
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

/// Shorthand for the engine's results.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_message_and_the_code() {
        let e = EngineError::not_found("x", "DcimDevice")
            .context("site")
            .context("items[0]");
        assert_eq!(
            e.to_string(),
            "items[0]: site: Unable to find the node x / DcimDevice in the database."
        );
        assert_eq!(e.code(), ErrorCode::NotFound);
        let p = EngineError::PoolExhausted {
            pool: "CoreIPPrefixPool 'p'".into(),
            detail: "no free /31 left in 10.0.0.0/30".into(),
        };
        assert_eq!(
            p.to_string(),
            "No more resources available in CoreIPPrefixPool 'p': no free /31 left in 10.0.0.0/30"
        );
        assert_eq!(p.code(), ErrorCode::PoolExhausted);
    }
}
