//! The embedded Infrahub-compatible store.
//!
//! infragen's default backend: Infrahub's schema model (generics, nodes, attribute kinds,
//! relationships, hierarchy, HFIDs, uniqueness) and its GraphQL dialect, persisted in one
//! SQLite file, with branches, change events and an HTTP API that Infrahub clients can talk to.
//!
//! It deliberately narrows Infrahub to what generators rely on: no permissions, no attribute
//! metadata (source, owner, protection are answered with defaults), and introspection is not
//! served (`/schema.graphql` is).
//!
//! The data flow is: [`schema`] (files → model, with the derived profile and template kinds)
//! → `graph` (the in-memory view of a branch, with uncommitted writes) and `persistence`
//! (SQLite) → [`graphql`] (documents → reads and writes, which use [`ipam`], `pools`,
//! `templates` and `profiles`) → [`events`]; [`objects`] (object files) writes through the
//! same mutations; [`http`] and [`cli`] are thin fronts over [`Store`].

#![deny(missing_docs)]

pub mod branch;
pub mod cli;
pub mod error;
pub mod events;
pub(crate) mod graph;
pub mod graphql;
pub mod http;
pub mod ip;
pub mod ipam;
pub mod node;
pub mod objects;
pub(crate) mod persistence;
pub(crate) mod pools;
pub(crate) mod profiles;
pub mod schema;
mod store;
pub(crate) mod templates;

pub use branch::BranchInfo;
pub use error::{DeleteRefused, MandatoryLink, Result, StoreError};
pub use events::{Action, Event};
pub use graph::MAIN;
pub use graphql::GraphqlRequest;
pub use store::{MergeReport, SchemaLoad, Store};
