//! The AI/DC design as data and pure functions, shared by the three generators
//! (`generate-fabric`, `generate-pod`, `generate-rack`).
//!
//! Everything a generator *decides* lives here as pure functions over plain
//! structs: read the query result ([`design`]), check the [`gates`], compute
//! names ([`naming`]), orders ([`ordering`]), [`cabling`] and [`addressing`]
//! plans. Keeping the decisions pure means they are unit-tested natively,
//! endpoint by endpoint, without a host.
//!
//! The one exception is [`writer`]: the write steps the three generators
//! share (a device from its template with a loopback, a cabling plan with its
//! /31s), kept here so the plugin crates stay a page each. It is the only
//! module that calls the host, and it is exercised end to end, not natively.
//!
//! The design is the one of the OpsMill AI/DC reference generators
//! (`aidc-reference-design.md`), with the flaws that reference documents fixed:
//! devices are ordered explicitly (index, then natural hostname) instead of by
//! API order; a missing precondition is a gate error naming the target, what is
//! missing and which generator must run first; a pod or rack index that needs
//! ports the devices do not have, or pods whose port windows would overlap, is
//! an error instead of a wraparound; unused uplinks are reported.
#![deny(missing_docs)]

pub mod addressing;
pub mod cabling;
pub mod design;
pub mod error;
pub mod gates;
pub mod naming;
pub mod ordering;
pub mod writer;

pub use cabling::{CablingPlan, DevicePorts, PlannedLink, Port};
pub use error::{DesignError, DesignErrorKind};
pub use ordering::{Device, Interface, SortingMethod};
