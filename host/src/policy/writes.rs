//! What a generator may write.
//!
//! **Kinds.** A generator creates nodes of any kind a design derives (outside
//! Infrahub's `Core` and `Builtin` namespaces) and resource pools.
//!
//! **Ownership.** A node belongs to the (definition, target) pair whose run
//! created it: the host records it in that pair's tracking group, and a run
//! sees the group's members as [`WritePolicy::owned`]. A run may update,
//! upsert over, delete and edit the relationships of what its own pair owns
//! and what it created itself, and nothing else:
//! - another generator's output, its target, a design object: refused, unless
//!   the operator grants `Kind.attribute`s to update (`update`) or to stamp
//!   (`stamp`; checksum attributes are always stampable);
//! - tracking groups, target groups, trigger rules, definitions, accounts, and
//!   the membership of any group: never, but for adding its own nodes to the
//!   groups named in `join_groups`;
//! - branch-agnostic kinds (pools among them), whose writes reach every
//!   branch: only with `branch_agnostic = true`.
//!
//! On the embedded store the check sees what each write actually did
//! ([`WriteEffect`]), node by node, before the write is kept: an upsert that
//! lands on someone else's node by its natural key is refused like an update
//! by id. Over HTTP, where a write cannot be undone, the host checks what the
//! request names (ids) beforehand.

use std::collections::BTreeSet;

use infragen_store::WriteEffect;
use serde::{Deserialize, Serialize};

/// Core kinds a generator may write even though they are in the `Core`
/// namespace: the AI/DC fabric generator creates its own pools.
const WRITABLE_CORE_KINDS: &[&str] = &["CoreIPPrefixPool", "CoreIPAddressPool", "CoreNumberPool"];

/// The attribute every generator may stamp on its downstream targets.
pub const CHECKSUM_ATTRIBUTE: &str = "checksum";

/// Relationships whose change on a node changes something else's meaning: a
/// group's members (what a generator runs on or owns) and the profiles that
/// give a node its values.
const GUARDED_RELATIONSHIPS: &[&str] = &["member_of_groups", "subscriber_of_groups", "profiles"];

/// What the operator grants a generator beyond what it owns
/// (`[generators.<name>.writes]` in `infragen.toml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WriteGrants {
    /// `Kind.attribute`s it may stamp on nodes it does not own (checksum
    /// attributes always).
    #[serde(default)]
    pub stamp: BTreeSet<String>,
    /// `Kind.attribute`s it may update on nodes it does not own.
    #[serde(default)]
    pub update: BTreeSet<String>,
    /// Groups (by name) it may add the nodes it owns to, and remove them from.
    #[serde(default)]
    pub join_groups: BTreeSet<String>,
    /// Whether it may write branch-agnostic kinds (pools among them).
    #[serde(default)]
    pub branch_agnostic: bool,
}

impl WriteGrants {
    /// Why the grants are malformed, if they are.
    pub(crate) fn check(&self) -> Result<(), String> {
        for (key, entries) in [("stamp", &self.stamp), ("update", &self.update)] {
            for entry in entries {
                let valid = entry.split_once('.').is_some_and(|(kind, attribute)| {
                    !kind.is_empty()
                        && kind.chars().all(|c| c.is_ascii_alphanumeric())
                        && !attribute.is_empty()
                        && attribute
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
                if !valid {
                    return Err(format!(
                        "{key} entry {entry:?} is not Kind.attribute (e.g. \"DcimPhysicalInterface.status\")"
                    ));
                }
            }
        }
        if let Some(empty) = self.join_groups.iter().find(|name| name.is_empty()) {
            return Err(format!("join_groups entry {empty:?} is not a group name"));
        }
        Ok(())
    }
}

/// Which host call a write comes from: a stamp writes one attribute of a node
/// the generator does not own, and is granted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `nodes.upsert`, `nodes.update`, `nodes.delete`, a relationship edit, an
    /// allocation.
    Write,
    /// `nodes.stamp`.
    Stamp,
}

/// The write policy of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WritePolicy {
    /// Ids the generator owns for this target from earlier runs (the members
    /// of its tracking group).
    pub owned: BTreeSet<String>,
    /// What the operator grants it beyond that.
    pub grants: WriteGrants,
}

impl WritePolicy {
    /// A policy whose generator owns `owned` from earlier runs, with no grants.
    pub fn owning(owned: impl IntoIterator<Item = String>) -> Self {
        Self {
            owned: owned.into_iter().collect(),
            grants: WriteGrants::default(),
        }
    }

    /// The same, with `grants`.
    pub fn granting(mut self, grants: WriteGrants) -> Self {
        self.grants = grants;
        self
    }

    /// Whether what `effect` did to its node may stand for a run of
    /// `generator` (on `target`, the label its messages use); the refusal
    /// names the node, its kind and who owns it.
    pub fn check(&self, generator: &str, call: Call, effect: &WriteEffect) -> Result<(), String> {
        let owned = effect.created || self.owns(&effect.id);
        let refuse = |what: String, why: String| {
            Err(format!("generator `{generator}` may not {what}: {why}"))
        };
        if !owned {
            self.check_foreign(generator, call, effect)?;
        }
        // The other side of a relationship set on the run's own node is a consequence of
        // that write, not a write of this node's own fields.
        let mirror_only =
            !effect.target && !effect.created && !effect.deleted && effect.attributes.is_empty();
        if effect.branch_agnostic && !self.grants.branch_agnostic && !mirror_only {
            return refuse(
                format!("write {}", describe(effect)),
                format!(
                    "{} is branch-agnostic, so the write would reach every branch; an operator \
                     grants it with branch_agnostic = true in [generators.{generator}.writes]",
                    effect.kind
                ),
            );
        }
        Ok(())
    }

    /// What a run may do to a node it does not own.
    fn check_foreign(
        &self,
        generator: &str,
        call: Call,
        effect: &WriteEffect,
    ) -> Result<(), String> {
        let node = describe(effect);
        let refuse = |what: String, why: String| {
            Err(format!("generator `{generator}` may not {what}: {why}"))
        };
        let owner = owner(effect);
        if effect.deleted {
            return refuse(
                format!("delete {node}"),
                format!("{owner}; a generator deletes only what it created for its target"),
            );
        }
        if call == Call::Stamp {
            let refused = effect.attributes.iter().find(|attribute| {
                attribute.as_str() != CHECKSUM_ATTRIBUTE
                    && !self
                        .grants
                        .stamp
                        .contains(&format!("{}.{attribute}", effect.kind))
            });
            if let Some(attribute) = refused {
                return refuse(
                    format!("stamp {}.{attribute} of {node}", effect.kind),
                    format!(
                        "{owner}; a generator stamps checksum attributes, and others only where an \
                         operator grants it (stamp = [\"{}.{attribute}\"] in \
                         [generators.{generator}.writes])",
                        effect.kind
                    ),
                );
            }
            return Ok(());
        }
        if let Some(attribute) = effect.attributes.iter().find(|attribute| {
            !self
                .grants
                .update
                .contains(&format!("{}.{attribute}", effect.kind))
        }) {
            return refuse(
                format!("change {}.{attribute} of {node}", effect.kind),
                format!(
                    "{owner}; a generator changes what it created, and other nodes only where an \
                     operator grants it (update = [\"{}.{attribute}\"] in \
                     [generators.{generator}.writes])",
                    effect.kind
                ),
            );
        }
        let joins_group = effect
            .name
            .as_ref()
            .is_some_and(|name| self.grants.join_groups.contains(name))
            && effect.relationships.iter().all(|rel| rel == "members");
        let core = self.refuse_kind(&effect.kind).is_some();
        if let Some(relationship) = effect.relationships.iter().find(|rel| {
            !joins_group && (effect.target || core || GUARDED_RELATIONSHIPS.contains(&rel.as_str()))
        }) {
            let hint = if core || GUARDED_RELATIONSHIPS.contains(&relationship.as_str()) {
                format!(
                    "group membership is the host's; an operator lets a generator add its own \
                     nodes to a named group with join_groups in [generators.{generator}.writes]"
                )
            } else {
                "a generator edits the relationships of what it created".to_owned()
            };
            return refuse(
                format!("change relationship {relationship} of {node}"),
                format!("{owner}; {hint}"),
            );
        }
        Ok(())
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

/// `NetworkDevice 01… (leaf1)`.
fn describe(effect: &WriteEffect) -> String {
    match &effect.name {
        Some(name) => format!("{} {} ({name})", effect.kind, effect.id),
        None => format!("{} {}", effect.kind, effect.id),
    }
}

/// Who owns the node, as a refusal says it.
fn owner(effect: &WriteEffect) -> String {
    match effect.owners.as_slice() {
        [] => "it is not the output of a generator run for this target".to_owned(),
        [one] => format!("it belongs to tracking group `{one}`"),
        many => format!("it belongs to tracking groups `{}`", many.join("`, `")),
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

    fn effect(id: &str, kind: &str) -> WriteEffect {
        WriteEffect {
            id: id.to_owned(),
            kind: kind.to_owned(),
            target: true,
            created: false,
            deleted: false,
            attributes: Vec::new(),
            relationships: Vec::new(),
            branch_agnostic: false,
            name: None,
            owners: Vec::new(),
        }
    }

    fn grants(toml_text: &str) -> WriteGrants {
        toml::from_str(toml_text).expect("grants parse")
    }

    #[test]
    fn what_the_run_created_or_its_group_holds_is_its_own_to_change() {
        let policy = WritePolicy::owning(["old".to_owned()]);
        let mut changed = effect("old", "NetworkDevice");
        changed.attributes = vec!["role".into()];
        changed.relationships = vec!["interfaces".into()];
        assert_eq!(policy.check("g", Call::Write, &changed), Ok(()));
        let mut created = effect("new", "NetworkDevice");
        created.created = true;
        created.attributes = vec!["role".into()];
        assert_eq!(policy.check("g", Call::Write, &created), Ok(()));
        let mut deleted = effect("old", "NetworkDevice");
        deleted.deleted = true;
        assert_eq!(policy.check("g", Call::Write, &deleted), Ok(()));
    }

    #[test]
    fn an_update_grant_covers_exactly_its_kind_and_attribute() {
        let policy =
            WritePolicy::owning([]).granting(grants(r#"update = ["NetworkInterface.status"]"#));
        let mut status = effect("x", "NetworkInterface");
        status.attributes = vec!["status".into()];
        assert_eq!(policy.check("g", Call::Write, &status), Ok(()));
        let mut description = status.clone();
        description.attributes = vec!["status".into(), "description".into()];
        assert!(
            policy
                .check("g", Call::Write, &description)
                .is_err_and(|e| e.contains("NetworkInterface.description"))
        );
        let mut other_kind = status.clone();
        other_kind.kind = "NetworkDevice".into();
        assert!(policy.check("g", Call::Write, &other_kind).is_err());
        // An update grant is not a stamp grant, nor the other way round.
        assert!(policy.check("g", Call::Stamp, &status).is_err());
    }

    #[test]
    fn the_other_side_of_an_ordinary_relationship_is_allowed_but_not_of_a_group() {
        let policy = WritePolicy::owning([]);
        let mut peer = effect("spine-port", "NetworkInterface");
        peer.target = false;
        peer.relationships = vec!["link".into()];
        assert_eq!(policy.check("g", Call::Write, &peer), Ok(()));
        let mut group = effect("group", "CoreStandardGroup");
        group.target = false;
        group.relationships = vec!["members".into()];
        group.name = Some("devices".into());
        assert!(policy.check("g", Call::Write, &group).is_err());
        let joined = WritePolicy::owning([]).granting(grants(r#"join_groups = ["devices"]"#));
        assert_eq!(joined.check("g", Call::Write, &group), Ok(()));
        group.target = true;
        assert_eq!(joined.check("g", Call::Write, &group), Ok(()));
        let mut profiles = peer.clone();
        profiles.relationships = vec!["profiles".into()];
        assert!(joined.check("g", Call::Write, &profiles).is_err());
    }

    #[test]
    fn branch_agnostic_rows_need_the_grant_even_for_what_the_run_created() {
        let mut pool = effect("pool", "CoreIPPrefixPool");
        pool.created = true;
        pool.branch_agnostic = true;
        let refused = WritePolicy::owning([]).check("g", Call::Write, &pool);
        assert_eq!(
            refused,
            Err(
                "generator `g` may not write CoreIPPrefixPool pool: CoreIPPrefixPool is \
                 branch-agnostic, so the write would reach every branch; an operator grants it \
                 with branch_agnostic = true in [generators.g.writes]"
                    .to_owned()
            )
        );
        let granted = WritePolicy::owning([]).granting(grants("branch_agnostic = true"));
        assert_eq!(granted.check("g", Call::Write, &pool), Ok(()));
    }

    #[test]
    fn only_ids_from_the_tracking_group_are_owned() {
        let policy = WritePolicy::owning(["a".to_owned()]);
        assert!(policy.owns("a"));
        assert!(!policy.owns("b"));
    }
}
