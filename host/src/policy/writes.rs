//! What a generator may write: the default is everything a design derives
//! (any kind outside Infrahub's `Core` and `Builtin` namespaces) plus resource
//! pools, and deletion only of what this generator made for this target.

use std::collections::BTreeSet;

/// Core kinds a generator may write even though they are in the `Core`
/// namespace: the AI/DC fabric generator creates its own pools.
const WRITABLE_CORE_KINDS: &[&str] = &["CoreIPPrefixPool", "CoreIPAddressPool", "CoreNumberPool"];

/// The write policy of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WritePolicy {
    /// Ids the generator owns for this target from earlier runs (the members
    /// of its tracking group); only these, and what this run wrote itself,
    /// may be deleted.
    pub owned: BTreeSet<String>,
}

impl WritePolicy {
    /// A policy whose generator owns `owned` from earlier runs.
    pub fn owning(owned: impl IntoIterator<Item = String>) -> Self {
        Self {
            owned: owned.into_iter().collect(),
        }
    }

    /// Why `kind` may not be written, or `None` when it may.
    pub fn refuse_kind(&self, kind: &str) -> Option<String> {
        if WRITABLE_CORE_KINDS.contains(&kind) {
            return None;
        }
        for namespace in ["Core", "Builtin"] {
            let in_namespace = kind
                .strip_prefix(namespace)
                .and_then(|rest| rest.chars().next())
                .is_some_and(|first| first.is_ascii_uppercase());
            if in_namespace {
                return Some(format!(
                    "kind {kind} is in Infrahub's {namespace} namespace, which generators may not write"
                ));
            }
        }
        None
    }

    /// Whether the node `id` is owned from an earlier run.
    pub fn owns(&self, id: &str) -> bool {
        self.owned.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_kinds_and_pools_are_writable_core_and_builtin_kinds_are_not() {
        let policy = WritePolicy::default();
        assert_eq!(policy.refuse_kind("NetworkDevice"), None);
        assert_eq!(policy.refuse_kind("CoreIPPrefixPool"), None);
        assert_eq!(
            policy.refuse_kind("Corevette"),
            None,
            "Core must be a whole namespace"
        );
        assert_eq!(
            policy.refuse_kind("CoreGeneratorDefinition").as_deref(),
            Some(
                "kind CoreGeneratorDefinition is in Infrahub's Core namespace, which generators may not write"
            )
        );
        assert!(policy.refuse_kind("BuiltinTag").is_some());
    }

    #[test]
    fn only_ids_from_the_tracking_group_are_owned() {
        let policy = WritePolicy::owning(["a".to_owned()]);
        assert!(policy.owns("a"));
        assert!(!policy.owns("b"));
    }
}
