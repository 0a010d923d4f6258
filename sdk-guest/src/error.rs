//! Errors a generator returns and receives.
//!
//! [`Error`] mirrors the contract's `error` record one to one, so whatever a
//! host import reports reaches the plugin unchanged, and whatever the plugin
//! returns reaches the host's run report unchanged. The SDK keeps its own type
//! (rather than the generated one) to give it `?` conversions, constructors
//! and a readable `Display`.

use core::fmt;

use crate::bindings::infragen::generator::types as wit;

/// Shorthand for results whose error is the SDK's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What went wrong, in a form a plugin can branch on.
///
/// The variants are the contract's `error-kind`, in the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The node, pool or kind asked for does not exist.
    NotFound,
    /// The backend refused the data (a missing mandatory attribute, a
    /// uniqueness violation, a value of the wrong type).
    Validation,
    /// The generator's policy forbids the operation.
    PermissionDenied,
    /// A pool is exhausted or a run budget is spent.
    LimitExceeded,
    /// The backend could not be reached or failed; retrying may help.
    Backend,
    /// An argument was malformed: JSON that does not parse, an empty kind.
    InvalidInput,
    /// Two writers disagree (a reservation asked again with another size).
    Conflict,
    /// A generator-defined failure, e.g. a precondition (gate) not met.
    Generator,
}

impl ErrorKind {
    /// The kind's name as the contract spells it (`not-found`, `invalid-input`…),
    /// so messages read the same in plugin logs and host reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not-found",
            ErrorKind::Validation => "validation",
            ErrorKind::PermissionDenied => "permission-denied",
            ErrorKind::LimitExceeded => "limit-exceeded",
            ErrorKind::Backend => "backend",
            ErrorKind::InvalidInput => "invalid-input",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Generator => "generator",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<wit::ErrorKind> for ErrorKind {
    fn from(kind: wit::ErrorKind) -> Self {
        match kind {
            wit::ErrorKind::NotFound => ErrorKind::NotFound,
            wit::ErrorKind::Validation => ErrorKind::Validation,
            wit::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            wit::ErrorKind::LimitExceeded => ErrorKind::LimitExceeded,
            wit::ErrorKind::Backend => ErrorKind::Backend,
            wit::ErrorKind::InvalidInput => ErrorKind::InvalidInput,
            wit::ErrorKind::Conflict => ErrorKind::Conflict,
            wit::ErrorKind::Generator => ErrorKind::Generator,
        }
    }
}

impl From<ErrorKind> for wit::ErrorKind {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NotFound => wit::ErrorKind::NotFound,
            ErrorKind::Validation => wit::ErrorKind::Validation,
            ErrorKind::PermissionDenied => wit::ErrorKind::PermissionDenied,
            ErrorKind::LimitExceeded => wit::ErrorKind::LimitExceeded,
            ErrorKind::Backend => wit::ErrorKind::Backend,
            ErrorKind::InvalidInput => wit::ErrorKind::InvalidInput,
            ErrorKind::Conflict => wit::ErrorKind::Conflict,
            ErrorKind::Generator => wit::ErrorKind::Generator,
        }
    }
}

/// An error with enough context for a person to act on it.
///
/// `Display` prints `kind: message`, e.g.
/// `generator: pod Pod-A1 has no spines yet; run generate-fabric first`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What went wrong, for code that branches on it.
    pub kind: ErrorKind,
    /// What went wrong, for the person reading the run report.
    pub message: String,
}

impl Error {
    /// An error of any kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A gate that is not met: the design is not ready for this generator
    /// (kind `generator`). Name the target, what is missing and which
    /// generator must run first, so nobody needs a debugger to fix it.
    pub fn gate(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Generator, message)
    }

    /// Any other generator-defined failure (kind `generator`).
    pub fn generator(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Generator, message)
    }

    /// Malformed input: bad parameters, JSON of the wrong shape (kind
    /// `invalid-input`).
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Something the design refers to does not exist (kind `not-found`).
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    /// Prefixes the message with what the plugin was doing, keeping the kind:
    /// `upsert(...).map_err(|e| e.context("creating leaf1"))` reads
    /// `validation: creating leaf1: …` in the report.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Error {
            kind: self.kind,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// Every import reports the contract's `error`; this makes `?` work on them.
impl From<wit::Error> for Error {
    fn from(error: wit::Error) -> Self {
        Error {
            kind: error.kind.into(),
            message: error.message,
        }
    }
}

/// What `generate` hands back to the host.
impl From<Error> for wit::Error {
    fn from(error: Error) -> Self {
        wit::Error {
            kind: error.kind.into(),
            message: error.message,
        }
    }
}

/// JSON that does not parse or does not fit the expected shape is the
/// caller's input being malformed, hence `invalid-input`.
impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error::invalid_input(format!("JSON: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_prints_contract_kind_then_message() {
        let error = Error::gate("pod Pod-A1 has no spines; run generate-fabric first");
        assert_eq!(
            error.to_string(),
            "generator: pod Pod-A1 has no spines; run generate-fabric first"
        );
        assert_eq!(
            Error::invalid_input("bad").to_string(),
            "invalid-input: bad"
        );
        assert_eq!(
            Error::new(ErrorKind::PermissionDenied, "x").to_string(),
            "permission-denied: x"
        );
    }

    #[test]
    fn constructors_pick_the_documented_kind() {
        assert_eq!(Error::gate("g").kind, ErrorKind::Generator);
        assert_eq!(Error::generator("g").kind, ErrorKind::Generator);
        assert_eq!(Error::invalid_input("i").kind, ErrorKind::InvalidInput);
        assert_eq!(Error::not_found("n").kind, ErrorKind::NotFound);
    }

    #[test]
    fn serde_json_errors_become_invalid_input() {
        fn parse() -> Result<serde_json::Value> {
            Ok(serde_json::from_str("{not json")?)
        }
        let error = parse().unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput);
        assert!(error.message.starts_with("JSON: "), "{}", error.message);
    }

    #[test]
    fn import_errors_convert_both_ways_without_loss() {
        let kinds = [
            ErrorKind::NotFound,
            ErrorKind::Validation,
            ErrorKind::PermissionDenied,
            ErrorKind::LimitExceeded,
            ErrorKind::Backend,
            ErrorKind::InvalidInput,
            ErrorKind::Conflict,
            ErrorKind::Generator,
        ];
        for kind in kinds {
            let from_host = wit::Error {
                kind: kind.into(),
                message: format!("{kind} happened"),
            };
            let sdk: Error = from_host.clone().into();
            assert_eq!(sdk, Error::new(kind, format!("{kind} happened")));
            let back: wit::Error = sdk.into();
            assert_eq!(back, from_host);
        }
    }

    #[test]
    fn question_mark_works_on_import_errors() {
        fn call() -> core::result::Result<(), wit::Error> {
            Err(wit::Error {
                kind: wit::ErrorKind::Conflict,
                message: "reserved with /31".into(),
            })
        }
        fn generator() -> Result<()> {
            call()?;
            Ok(())
        }
        assert_eq!(
            generator().unwrap_err().to_string(),
            "conflict: reserved with /31"
        );
    }

    #[test]
    fn context_prefixes_the_message_and_keeps_the_kind() {
        let error =
            Error::new(ErrorKind::Validation, "name is mandatory").context("creating leaf1");
        assert_eq!(error.kind, ErrorKind::Validation);
        assert_eq!(error.message, "creating leaf1: name is mandatory");
    }
}
