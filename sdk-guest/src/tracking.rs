//! What this run has written so far (the contract's `tracking` interface).

/// Ids of every node written by this run so far (upserts, updates and
/// allocations, not stamps), in the order they were first written.
pub fn written() -> Vec<String> {
    crate::bindings::infragen::generator::tracking::written()
}

/// The checksum of this run's output so far: lowercase hex sha256 of the
/// written ids, sorted, joined by `,`. The host computes it so that every
/// plugin agrees on it; stamp it on downstream targets with
/// [`nodes::stamp_checksum`](crate::nodes::stamp_checksum).
pub fn checksum() -> String {
    crate::bindings::infragen::generator::tracking::checksum()
}
