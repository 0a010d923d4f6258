//! The write engine: every write the store makes goes through here, whoever asks for it.
//!
//! GraphQL mutations ([`crate::graphql`]), object files ([`crate::objects`]) and pool
//! allocations all call the engine with Infrahub's input-form payloads
//! (`{attr: {value} | {from_pool}, rel: {id} | {hfid, kind} | [...]}`); the engine never
//! calls up into them. It answers with a typed [`EngineError`] whose message is the text
//! the store has always answered and whose [`EngineError::code`] is the stable code GraphQL
//! responses carry (see [`crate::error::ErrorCode`]).
//!
//! By capability:
//!
//! - [`write`]: create, update, upsert and the upsert identity (id → `default_filter` when
//!   the kind has no HFID → `hfid` → the HFID computed from the payload), creates inside a
//!   checkpoint so a failed create leaves no trace, and the Component children of a node
//!   created from a template.
//! - [`link`]: related nodes of a payload resolved to peer ids, relationships set edge by
//!   edge with both sides kept in step, `RelationshipAdd` / `RelationshipRemove`.
//! - [`constraints`]: mandatory attributes and relationships, relationship counts,
//!   uniqueness (the HFID reported apart, for the upsert).
//! - [`delete`]: the cascade and the refusal by mandatory relationships, as Infrahub does.
//! - [`pool`]: allocations from IP pools (a new node, or the one reserved under the
//!   identifier), also for `from_pool` in relationship inputs.
//! - Errors ([`EngineError`], [`DeleteRefused`](error::DeleteRefused)), in the leaf module
//!   `error`.
//!
//! Below the engine, and never calling it: [`crate::pools`] (finding pools and free
//! resources, planning an allocation), [`crate::templates`] (a template's values and
//! children), [`crate::profiles`] (profile values), [`crate::ipam`], and the graph
//! (`crate::graph::Tx`, a branch's view with pending writes). They build the engine's errors
//! from the leaf `error` module.

mod constraints;
mod delete;
pub(crate) mod error;
mod link;
mod pool;
mod write;

pub use error::EngineError;

pub(crate) use constraints::uniqueness_violation;
pub(crate) use link::edit_relationship;
pub(crate) use pool::allocate_from_input;
pub use write::WriteOp;
pub(crate) use write::{upsert, write_node};
