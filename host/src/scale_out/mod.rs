//! Scale-out: a cascade's runs spread over `infragen worker` processes on other machines
//! through a NATS JetStream work queue (see [`queue`] for what lives on the NATS server).
//!
//! The cascade stays the server's (`infragen serve --queue nats://…`): rounds, triggers,
//! retries, caps and the durable run queue with its history behave as in one process. Only
//! where a run executes changes: instead of the server's runtime, [`Dispatcher`] publishes
//! each run as a [`WorkItem`] — the run's spec, its sandbox limits and write grants from the
//! server's policy, and its component by sha256 digest — and waits for the [`WorkResult`] a
//! [`worker::Worker`] publishes once it has run it against the server's HTTP API. The
//! components go to a JetStream object store once per digest; a worker checks the bytes it
//! fetches against the digest before compiling them, so it needs no copy of the repository.
//!
//! A run is single: the server publishes it once per (store, run record, attempt) with that
//! as JetStream's deduplication id, the work-queue stream hands each message to one worker
//! at a time, a worker at work keeps its delivery alive (progress acknowledgements), and its
//! writes go into one run transaction on the server, which commits whole or not at all. A
//! worker that dies leaves an uncommitted transaction (dropped when idle) and an
//! unacknowledged message (delivered to another worker after the ack wait); after the
//! configured deliveries the run is given up, with its error in the history.

pub mod access;
mod dispatch;
pub mod queue;
mod wire;
pub mod worker;

use async_trait::async_trait;

pub use access::{AccessError, QueueAccess, QueueUrl};
pub use dispatch::Dispatcher;
pub use queue::{QueueError, QueueSettings};
pub use wire::{ComponentRef, PROTOCOL, RunIdentity, WorkItem, WorkResult};

use crate::runner::TargetReport;

/// Where a [`crate::runner::Runner`] sends runs instead of running them itself.
#[async_trait]
pub trait RemoteRuns: Send + Sync {
    /// Makes `component` (its `bytes`) available to the workers.
    async fn share(&self, component: &ComponentRef, bytes: Vec<u8>) -> Result<(), QueueError>;

    /// Has `item` run, and answers its report.
    async fn run(&self, item: WorkItem) -> TargetReport;
}
