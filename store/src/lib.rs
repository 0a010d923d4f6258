//! The embedded Infrahub-compatible store.
//!
//! infragen's default backend: Infrahub's schema model (generics, nodes, attribute kinds,
//! relationships, hierarchy, HFIDs, uniqueness) and its GraphQL dialect, persisted in one
//! SQLite file, with branches and change events.
//!
//! It deliberately narrows Infrahub to what generators rely on: no permissions, no attribute
//! metadata (source, owner, protection are answered with defaults), and introspection is not
//! served (`/schema.graphql` is).
//!
//! The data flow, each layer calling only the ones below it:
//!
//! - [`schema`]: files → model, with the derived profile and template kinds.
//! - `persistence` (SQLite) and `graph`: a branch's view read from SQLite, with the pending
//!   writes of a transaction (`Tx`); [`ipam`] answers IP containment on it.
//! - `pools`, `templates`, `profiles`: read-only helpers of the engine (a pool's next free
//!   resource, a template's values and children, profile values).
//! - `engine`: every write: create, update, upsert identity, relationships, uniqueness and
//!   mandatory checks, cascade delete, pool allocations, with typed errors
//!   ([`EngineError`]).
//! - Protocols over the engine: [`graphql`] (documents → reads, and mutations → engine
//!   calls) and [`objects`] (object files → engine upserts); writes end in [`events`].
//! - Fronts: [`Store`], with GraphQL documents ([`Store::execute`]) and the typed [`api`]
//!   the host's in-process backend calls (no document in between).
//!
//! Errors are typed end to end: [`StoreError`] and [`EngineError`] have a stable
//! [`ErrorCode`], which GraphQL responses carry as `extensions.code`.
//!
//! This crate is the engine and its persistence only; it never prints. The fronts over
//! [`Store`] live where they are used, in the `infragen` crate: the HTTP API that Infrahub
//! clients talk to (`infragen::http_api`, served by `infragen serve`) and the printing
//! command line (`infragen schema|object|branch|query|token …`, `host/src/cli/store.rs`).

#![deny(missing_docs)]

pub mod api;
pub mod branch;
mod branch_diff;
mod checkpoint;
pub mod claims;
pub mod clock;
mod code;
mod computed;
pub mod diagnostics;
pub(crate) mod engine;
pub mod error;
pub mod events;
pub mod fields;
pub(crate) mod graph;
pub mod graphql;
pub mod ip;
pub mod ipam;
pub mod node;
mod node_id;
pub mod objects;
mod page_cache;
pub(crate) mod persistence;
pub(crate) mod pools;
pub(crate) mod profiles;
mod rows;
pub mod run;
pub mod run_queue;
pub mod schema;
mod snapshot;
mod store;
pub mod stored_id;
pub(crate) mod templates;
mod turn;
mod vfs;

pub use api::{Allocated, PoolKind, Written};
pub use branch::BranchInfo;
pub use claims::{Claim, ClaimHolder, ClaimOwner};
pub use engine::EngineError;
pub use engine::WriteOp;
pub use error::{DeleteRefused, ErrorCode, MandatoryLink, Result, StoreError};
pub use events::{Action, Event};
pub use graph::MAIN;
pub use graphql::query::QueryBudget;
pub use graphql::{GraphqlRequest, RelatedNodes, parse_document, parsed_document};
pub use node_id::NodeId;
pub use run::{RunCommitted, RunTransaction, WriteCheck, WriteEffect};
pub use run_queue::{Enqueued, NewRun, Retention, RunFilter, RunRecord, RunResult, RunStatus};
pub use store::{Account, MergeReport, SchemaLoad, Store, TokenScope};
pub use turn::TurnGuard;
