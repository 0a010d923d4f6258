//! Bindings for contract `infragen:generator@0.1.x`.
//!
//! Every import is `async` (host calls may wait on the backend; an async call
//! is also what lets the run's deadline cancel a call blocked on I/O) and
//! trappable: an error of [`crate::host_api::HostError::Violation`] ends the
//! run with a trap instead of being handed back to the guest.
//!
//! The generated items are documented in the WIT itself.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "generator",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    trappable_error_type: {
        "infragen:generator/types.error" => crate::host_api::HostError,
    },
});

pub use self::infragen::generator::pools::{
    AddressRequest, Allocation, MemberType, Pool, PrefixRequest,
};
pub use self::infragen::generator::types::{Error, ErrorKind, Level, NodeRef, RunContext, Target};
