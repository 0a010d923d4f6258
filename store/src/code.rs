//! The stable codes of the store's errors, in one place.

use std::fmt;

/// The stable, documented codes of the store's errors: GraphQL error responses carry one in
/// `extensions.code` (as [`ErrorCode::as_str`]), so a client classifies an error by its code,
/// never by its message. The set only grows; a code's meaning never changes.
///
/// | code | meaning |
/// |---|---|
/// | `NOT_FOUND` | a node (or pool) named by id or HFID does not exist on the branch |
/// | `BRANCH_NOT_FOUND` | the branch the request names does not exist |
/// | `DELETE_REFUSED` | a mandatory relationship of a node outside the delete points into it |
/// | `UNIQUENESS` | an HFID, a `unique` attribute or a `uniqueness_constraints` entry is taken |
/// | `POOL_EXHAUSTED` | a resource pool has nothing left of what was asked |
/// | `CONFLICT` | a pool identifier is already reserved for another size; a merge conflicts |
/// | `VALIDATION` | the data is refused: a mandatory field, a wrong type or shape, an unknown field |
/// | `BAD_REQUEST` | the GraphQL document or its variables are malformed; nothing ran |
/// | `LIMIT_EXCEEDED` | a query's budget (nodes resolved, time) ran out; nothing was answered |
/// | `PERMISSION_DENIED` | a run's write was refused by its owner's policy; nothing of it was kept |
/// | `INTERNAL` | the store failed (its database); retrying may succeed |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `NOT_FOUND`: a node (or pool) named by id or HFID does not exist on the branch.
    NotFound,
    /// `BRANCH_NOT_FOUND`: the branch the request names does not exist.
    BranchNotFound,
    /// `DELETE_REFUSED`: a delete was refused by a mandatory relationship; nothing was deleted.
    DeleteRefused,
    /// `UNIQUENESS`: a uniqueness constraint (the HFID, a `unique` attribute, a
    /// `uniqueness_constraints` entry) is violated.
    Uniqueness,
    /// `POOL_EXHAUSTED`: a resource pool has nothing left of what was asked.
    PoolExhausted,
    /// `CONFLICT`: two writers disagree (a pool identifier reserved for another size, a merge
    /// with changes on both sides).
    Conflict,
    /// `VALIDATION`: the data is refused (a mandatory field, a value of the wrong type, an
    /// unknown field, a relationship's cardinality).
    Validation,
    /// `BAD_REQUEST`: the GraphQL document or its variables are malformed; nothing ran.
    BadRequest,
    /// `INTERNAL`: the store itself failed (its database); retrying may succeed.
    Internal,
    /// `LIMIT_EXCEEDED`: a query's budget (the nodes it may resolve, its time) ran out;
    /// nothing was answered.
    LimitExceeded,
    /// `PERMISSION_DENIED`: a run's write was refused by the check its caller gave (the
    /// host's ownership policy); nothing of that write was kept.
    PermissionDenied,
}

impl ErrorCode {
    /// Every code, in the order of the table above.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::NotFound,
        ErrorCode::BranchNotFound,
        ErrorCode::DeleteRefused,
        ErrorCode::Uniqueness,
        ErrorCode::PoolExhausted,
        ErrorCode::Conflict,
        ErrorCode::Validation,
        ErrorCode::BadRequest,
        ErrorCode::Internal,
        ErrorCode::PermissionDenied,
        ErrorCode::LimitExceeded,
    ];

    /// The code as it appears in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BranchNotFound => "BRANCH_NOT_FOUND",
            ErrorCode::DeleteRefused => "DELETE_REFUSED",
            ErrorCode::Uniqueness => "UNIQUENESS",
            ErrorCode::PoolExhausted => "POOL_EXHAUSTED",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::Validation => "VALIDATION",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
        }
    }

    /// The code named by `text` (as [`ErrorCode::as_str`] writes it); `None` for anything
    /// else, such as the numeric codes Infrahub and the HTTP layer put there.
    pub fn parse(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
