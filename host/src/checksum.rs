//! The checksum of a run's output, shared by every plugin and the host.
//!
//! Downstream generators are re-triggered when the checksum stamped on their
//! target changes, so its definition must never drift: lowercase hex sha256
//! of the written ids, sorted, joined by `,`. Sorting makes it independent of
//! the order in which a generator happened to write.

use sha2::{Digest, Sha256};

/// Checksum of the given node ids.
pub fn of_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut sorted: Vec<&str> = ids.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    hex::encode(Sha256::digest(sorted.join(",").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected digests computed independently: `printf 'a,b,c' | sha256sum`.
    const SHA256_A_B_C: &str = "205830ca5b23bbe39ab510cfddc1dff2d9842e38b5fa7b7c48cd4ca7e44f92a1";
    const SHA256_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn checksum_is_sha256_of_sorted_ids_joined_by_commas() {
        assert_eq!(of_ids(["a", "b", "c"]), SHA256_A_B_C);
    }

    #[test]
    fn checksum_does_not_depend_on_write_order_or_repeats() {
        assert_eq!(of_ids(["c", "a", "b", "a"]), SHA256_A_B_C);
    }

    #[test]
    fn checksum_of_nothing_is_sha256_of_the_empty_string() {
        assert_eq!(of_ids([]), SHA256_EMPTY);
    }
}
