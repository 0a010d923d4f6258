//! infragen runs Infrahub-style infrastructure generators as sandboxed
//! WebAssembly components.
//!
//! The host owns everything that touches the outside world (GraphQL, upserts,
//! tracking, checksums, pools, the branch) and offers it to plugins through
//! the versioned WIT contract in `wit/`; plugins own only design logic and can
//! be written by someone the operator does not trust. The modules follow the
//! data flow: [`policy`] (what a run may do) → [`runtime`] (load, sandbox,
//! run) → [`host_api`] (the imports) → [`backend`] (the store behind them),
//! with [`tracking`] and [`checksum`] recording what a run wrote.

#![deny(missing_docs)]

pub mod backend;
pub mod cascade;
pub mod checksum;
pub mod cli;
pub mod client;
pub mod contract;
pub mod embedded;
pub mod error_chain;
pub mod host_api;
pub mod http_api;
pub mod native_stack;
pub mod policy;
pub mod repository;
pub mod runner;
pub mod runtime;
pub mod scaffold;
pub mod scale_out;
pub mod sync;
pub mod tracking;
pub mod transport;
pub mod validate;
