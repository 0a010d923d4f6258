//! The ids a run has written: what `delete_unused_nodes` keeps and what the
//! checksum is computed from.

pub mod group;

use std::collections::BTreeSet;

use crate::checksum;

/// The nodes written by one run, in first-write order, without repeats.
#[derive(Debug, Default, Clone)]
pub struct Tracker {
    order: Vec<String>,
    seen: BTreeSet<String>,
}

impl Tracker {
    /// Records a write of node `id`; a repeated write keeps its first position.
    pub fn record(&mut self, id: &str) {
        if self.seen.insert(id.to_owned()) {
            self.order.push(id.to_owned());
        }
    }

    /// Forgets node `id` (it was deleted by the run that wrote it).
    pub fn forget(&mut self, id: &str) {
        if self.seen.remove(id) {
            self.order.retain(|written| written != id);
        }
    }

    /// Whether this run wrote node `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// The written ids in first-write order.
    pub fn ids(&self) -> &[String] {
        &self.order
    }

    /// The checksum of the written ids (see [`crate::checksum`]).
    pub fn checksum(&self) -> String {
        checksum::of_ids(self.order.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_writes_keep_their_first_position() {
        let mut tracker = Tracker::default();
        for id in ["b", "a", "b", "c"] {
            tracker.record(id);
        }
        assert_eq!(tracker.ids(), ["b", "a", "c"]);
    }

    #[test]
    fn a_forgotten_id_leaves_the_output_and_the_checksum() {
        let mut tracker = Tracker::default();
        for id in ["a", "scratch", "b"] {
            tracker.record(id);
        }
        tracker.forget("scratch");
        assert_eq!(tracker.ids(), ["a", "b"]);
        assert!(!tracker.contains("scratch"));
        assert_eq!(tracker.checksum(), checksum::of_ids(["b", "a"]));
    }
}
