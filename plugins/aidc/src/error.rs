//! Why a design cannot be generated.
//!
//! The library does not depend on the SDK's error type so that it stays a
//! plain library; the plugins turn a [`DesignError`] into the contract's error
//! (kind `generator` for gates and capacity errors, `invalid-input` for data
//! that does not have the shape the schema promises).

use core::fmt;

/// What kind of problem the design has, so a plugin can map it to the
/// contract's error kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DesignErrorKind {
    /// A precondition is missing: an upstream generator has not run, or the
    /// design lacks a template, a pool or a fabric pod. Fixed by running the
    /// named generator or completing the design.
    Gate,
    /// The design asks for more than the devices or pools can give: a pod or
    /// rack index beyond the available ports, overlapping port windows, more
    /// devices than loopback addresses.
    Capacity,
    /// The query result does not have the shape the schema promises (a
    /// missing field, an unknown dropdown value).
    InvalidData,
    /// The target itself does not exist (renamed or deleted since the run
    /// was scheduled).
    NotFound,
}

/// A design problem with a message meant for the person running the
/// generator: it names the target, what is wrong and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesignError {
    /// What kind of problem it is.
    pub kind: DesignErrorKind,
    /// What is wrong, for a person.
    pub message: String,
}

impl DesignError {
    /// A missing precondition.
    pub fn gate(message: impl Into<String>) -> Self {
        DesignError {
            kind: DesignErrorKind::Gate,
            message: message.into(),
        }
    }

    /// A request beyond what the devices or pools can give.
    pub fn capacity(message: impl Into<String>) -> Self {
        DesignError {
            kind: DesignErrorKind::Capacity,
            message: message.into(),
        }
    }

    /// Data that does not fit the schema.
    pub fn invalid_data(message: impl Into<String>) -> Self {
        DesignError {
            kind: DesignErrorKind::InvalidData,
            message: message.into(),
        }
    }

    /// A target that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        DesignError {
            kind: DesignErrorKind::NotFound,
            message: message.into(),
        }
    }
}

impl fmt::Display for DesignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DesignError {}

/// Shorthand for results whose error is a [`DesignError`].
pub type Result<T, E = DesignError> = core::result::Result<T, E>;
