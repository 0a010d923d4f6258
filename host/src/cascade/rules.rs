//! Trigger rules: which change runs which generator (reference §5.1, §5.3).
//!
//! A `CoreNodeTriggerRule` names a node kind, a mutation (`created` or
//! `updated`), a branch scope and a set of matches; its `CoreGeneratorAction`
//! names the generator to run on the changed node. Infrahub compiles a rule
//! into a Prefect trigger; matching here follows that trigger's semantics:
//! the event's action must be the rule's, every label must match (values are
//! `fnmatch` globs, a leading `!` negates), and **every** match must be met by
//! **some** changed attribute or relationship of the event.

use serde::Serialize;
use serde_json::{Value, json};

use super::events::NodeEvent;
use crate::backend::{Backend, BackendError};

/// Where a rule fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BranchScope {
    /// Every branch.
    AllBranches,
    /// Only the default branch (`main`).
    DefaultBranch,
    /// Every branch but the default one.
    OtherBranches,
}

/// Which values of an attribute match compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueMatch {
    /// The new value.
    Value,
    /// The previous value.
    ValuePrevious,
    /// Both.
    ValueFull,
    /// Neither: any change of the attribute.
    Any,
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Match {
    /// `CoreNodeTriggerAttributeMatch`.
    Attribute {
        /// The attribute that must have changed.
        attribute_name: String,
        /// Pattern for the new value (`None` is Infrahub's `""`).
        value: Option<String>,
        /// Pattern for the previous value.
        value_previous: Option<String>,
        /// Which of the two are compared.
        value_match: ValueMatch,
    },
    /// `CoreNodeTriggerRelationshipMatch`.
    Relationship {
        /// The relationship that must have changed.
        relationship_name: String,
        /// `added`, `removed`, or `updated` (either).
        modification_type: String,
        /// The peer's id, when it matters.
        peer: Option<String>,
    },
}

/// An active node trigger rule whose action runs a generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerRule {
    /// The rule's name (unique).
    pub name: String,
    /// Kind of the nodes it watches (a glob, as in Infrahub).
    pub node_kind: String,
    /// `created` or `updated`.
    pub mutation_action: String,
    /// Where it fires.
    pub branch_scope: BranchScope,
    /// The generator definition its action runs.
    pub generator: String,
    /// Every one must be met.
    pub matches: Vec<Match>,
}

/// Why the rules could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The backend failed.
    #[error("cannot read the trigger rules: {0}")]
    Backend(#[from] BackendError),
    /// A rule is stored in a shape infragen cannot use.
    #[error("trigger rule `{rule}`: {message}")]
    Invalid {
        /// The rule.
        rule: String,
        /// What is wrong.
        message: String,
    },
}

const RULES_QUERY: &str = r#"
query InfragenTriggerRules {
  CoreNodeTriggerRule {
    edges { node {
      name { value }
      node_kind { value }
      mutation_action { value }
      branch_scope { value }
      active { value }
      action { node { __typename
        ... on CoreGeneratorAction { generator { node { name { value } } } }
      } }
      matches { edges { node { __typename
        ... on CoreNodeTriggerAttributeMatch {
          attribute_name { value } value { value } value_previous { value } value_match { value }
        }
        ... on CoreNodeTriggerRelationshipMatch {
          relationship_name { value } modification_type { value } peer { value }
        }
      } } }
    } }
  }
}
"#;

/// The kinds of the nodes [`load_rules`] reads whole: a change to any of them may change
/// the rules.
const RULE_KINDS: [&str; 4] = [
    "CoreNodeTriggerRule",
    "CoreNodeTriggerAttributeMatch",
    "CoreNodeTriggerRelationshipMatch",
    "CoreGeneratorAction",
];

/// Whether `event` may change what [`load_rules`] reads: a rule, one of its conditions or
/// its action changed, or a generator definition appeared, went or was renamed (an action
/// names its generator). Any branch: a rule written from a branch may be on every branch.
pub fn may_change_rules(event: &NodeEvent) -> bool {
    RULE_KINDS.contains(&event.kind.as_str())
        || (event.kind == "CoreGeneratorDefinition"
            && (event.action != "updated" || event.changes("name")))
}

/// Reads the active generator rules from `default_branch` (Infrahub reads
/// rules from the default branch only). Rules whose action is not a
/// generator action are left out.
pub async fn load_rules(
    backend: &dyn Backend,
    default_branch: &str,
) -> Result<Vec<TriggerRule>, RuleError> {
    let data = backend
        .query(default_branch, RULES_QUERY, &json!({}))
        .await?;
    let mut rules = Vec::new();
    for edge in data
        .pointer("/CoreNodeTriggerRule/edges")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let node = &edge["node"];
        let name = text(node, "/name/value").unwrap_or_default();
        if node.pointer("/active/value") == Some(&Value::Bool(false)) {
            continue;
        }
        let Some(generator) = text(node, "/action/node/generator/node/name/value") else {
            tracing::debug!(rule = %name, "trigger rule without a generator action; not run by infragen");
            continue;
        };
        let invalid = |message: String| RuleError::Invalid {
            rule: name.clone(),
            message,
        };
        let branch_scope = match text(node, "/branch_scope/value").as_deref() {
            Some("all_branches") => BranchScope::AllBranches,
            Some("default_branch") | None => BranchScope::DefaultBranch,
            Some("other_branches") => BranchScope::OtherBranches,
            Some(other) => return Err(invalid(format!("unknown branch_scope `{other}`"))),
        };
        let mut matches = Vec::new();
        for edge in node
            .pointer("/matches/edges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let condition = &edge["node"];
            match condition.get("__typename").and_then(Value::as_str) {
                Some("CoreNodeTriggerAttributeMatch") => {
                    let value_match = match text(condition, "/value_match/value").as_deref() {
                        Some("value") | None => ValueMatch::Value,
                        Some("value_previous") => ValueMatch::ValuePrevious,
                        Some("value_full") => ValueMatch::ValueFull,
                        Some("any") => ValueMatch::Any,
                        Some(other) => {
                            return Err(invalid(format!("unknown value_match `{other}`")));
                        }
                    };
                    matches.push(Match::Attribute {
                        attribute_name: text(condition, "/attribute_name/value")
                            .unwrap_or_default(),
                        value: text(condition, "/value/value"),
                        value_previous: text(condition, "/value_previous/value"),
                        value_match,
                    });
                }
                Some("CoreNodeTriggerRelationshipMatch") => matches.push(Match::Relationship {
                    relationship_name: text(condition, "/relationship_name/value")
                        .unwrap_or_default(),
                    modification_type: text(condition, "/modification_type/value")
                        .unwrap_or_else(|| "added".to_owned()),
                    peer: text(condition, "/peer/value"),
                }),
                other => {
                    return Err(invalid(format!(
                        "unknown match kind `{}`",
                        other.unwrap_or("none")
                    )));
                }
            }
        }
        rules.push(TriggerRule {
            name,
            node_kind: text(node, "/node_kind/value").unwrap_or_default(),
            mutation_action: text(node, "/mutation_action/value")
                .unwrap_or_else(|| "created".to_owned()),
            branch_scope,
            generator,
            matches,
        });
    }
    rules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rules)
}

fn text(node: &Value, pointer: &str) -> Option<String> {
    node.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A label pattern against a value: an `fnmatch` glob, negated by a leading
/// `!`. A pattern that is not a valid glob is compared literally.
pub fn label_matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_prefix('!') {
        Some(negated) => !glob_matches(negated, value),
        None => glob_matches(pattern, value),
    }
}

fn glob_matches(pattern: &str, value: &str) -> bool {
    // Most patterns (kinds, attribute names, branch names) are plain text, which a glob
    // matches only when equal: compiling one for every event and rule was ~1% of a
    // cascade's instructions.
    if !pattern.contains(['*', '?', '[']) {
        return pattern == value;
    }
    match glob::Pattern::new(pattern) {
        Ok(glob) => glob.matches_with(
            value,
            glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: false,
                require_literal_leading_dot: false,
            },
        ),
        Err(_) => pattern == value,
    }
}

/// The attribute actions Infrahub's compiled trigger accepts.
const CHANGED: [&str; 3] = ["added", "updated", "removed"];

impl TriggerRule {
    /// Whether `event` fires this rule, `default_branch` being `main`.
    pub fn fires_on(&self, event: &NodeEvent, default_branch: &str) -> bool {
        if event.action != self.mutation_action || !label_matches(&self.node_kind, &event.kind) {
            return false;
        }
        let in_scope = match self.branch_scope {
            BranchScope::AllBranches => true,
            BranchScope::DefaultBranch => label_matches(default_branch, &event.branch),
            BranchScope::OtherBranches => {
                label_matches(&format!("!{default_branch}"), &event.branch)
            }
        };
        in_scope && self.matches.iter().all(|condition| condition.met_by(event))
    }

    /// Whether a change of `attribute` on a node of `kind` would concern this
    /// rule whatever the values: used to find the rules behind a stamp that
    /// changed nothing (and so fired nothing).
    pub fn watches(&self, kind: &str, attribute: &str) -> bool {
        self.mutation_action == "updated"
            && label_matches(&self.node_kind, kind)
            && !self.matches.is_empty()
            && self.matches.iter().all(|condition| {
                matches!(condition, Match::Attribute { attribute_name, .. }
                    if label_matches(attribute_name, attribute))
            })
    }

    /// Whether this rule fires on `branch`.
    pub fn in_scope(&self, branch: &str, default_branch: &str) -> bool {
        match self.branch_scope {
            BranchScope::AllBranches => true,
            BranchScope::DefaultBranch => branch == default_branch,
            BranchScope::OtherBranches => branch != default_branch,
        }
    }
}

impl Match {
    /// Whether some change of `event` meets this condition.
    fn met_by(&self, event: &NodeEvent) -> bool {
        match self {
            Match::Attribute {
                attribute_name,
                value,
                value_previous,
                value_match,
            } => {
                let new = value.as_deref().unwrap_or("");
                let old = value_previous.as_deref().unwrap_or("");
                event.attributes().iter().any(|change| {
                    label_matches(attribute_name, &change.name)
                        && CHANGED.contains(&change.action.as_str())
                        && match value_match {
                            ValueMatch::Value => label_matches(new, &change.value),
                            ValueMatch::ValuePrevious => label_matches(old, &change.value_previous),
                            ValueMatch::ValueFull => {
                                label_matches(new, &change.value)
                                    && label_matches(old, &change.value_previous)
                            }
                            ValueMatch::Any => true,
                        }
                })
            }
            Match::Relationship {
                relationship_name,
                modification_type,
                peer,
            } => event.relationships().iter().any(|change| {
                label_matches(relationship_name, &change.name)
                    && (modification_type == "updated" || *modification_type == change.peer_status)
                    && peer
                        .as_deref()
                        .is_none_or(|peer| label_matches(peer, &change.peer_id))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::events::{AttributeUpdate, RelationshipUpdate};
    use super::*;

    fn rule(scope: BranchScope, matches: Vec<Match>) -> TriggerRule {
        TriggerRule {
            name: "r".into(),
            node_kind: "NetworkPod".into(),
            mutation_action: "updated".into(),
            branch_scope: scope,
            generator: "generate-pod".into(),
            matches,
        }
    }

    fn attribute(
        name: &str,
        value_match: ValueMatch,
        value: Option<&str>,
        previous: Option<&str>,
    ) -> Match {
        Match::Attribute {
            attribute_name: name.into(),
            value: value.map(Into::into),
            value_previous: previous.map(Into::into),
            value_match,
        }
    }

    fn event(branch: &str, action: &str, changes: &[(&str, &str, &str)]) -> NodeEvent {
        NodeEvent::new(
            1,
            branch,
            action,
            "NetworkPod",
            "p1",
            changes
                .iter()
                .map(|(name, old, new)| AttributeUpdate {
                    name: (*name).into(),
                    value: (*new).into(),
                    value_previous: (*old).into(),
                    action: if *old == "NULL" { "added" } else { "updated" }.into(),
                })
                .collect(),
            vec![RelationshipUpdate {
                name: "racks".into(),
                peer_status: "added".into(),
                peer_id: "r9".into(),
            }],
        )
    }

    /// The rules are read again after a change to a rule, its conditions or action, or
    /// to a generator's name; not after a generator gains an instance (every run) or any
    /// other node changes.
    #[test]
    fn only_changes_to_what_the_rules_query_reads_may_change_the_rules() {
        let of = |kind: &str, action: &str, attribute: Option<&str>| {
            NodeEvent::new(
                1,
                "br1",
                action,
                kind,
                "n1",
                attribute
                    .map(|name| AttributeUpdate {
                        name: name.into(),
                        value: "x".into(),
                        value_previous: "y".into(),
                        action: "updated".into(),
                    })
                    .into_iter()
                    .collect(),
                Vec::new(),
            )
        };
        for kind in RULE_KINDS {
            assert!(may_change_rules(&of(kind, "created", None)), "{kind}");
            assert!(may_change_rules(&of(kind, "updated", None)), "{kind}");
            assert!(may_change_rules(&of(kind, "deleted", None)), "{kind}");
        }
        let definition = "CoreGeneratorDefinition";
        assert!(may_change_rules(&of(definition, "created", None)));
        assert!(may_change_rules(&of(definition, "deleted", None)));
        assert!(may_change_rules(&of(definition, "updated", Some("name"))));
        assert!(!may_change_rules(&of(definition, "updated", None)));
        assert!(!may_change_rules(&of(
            definition,
            "updated",
            Some("parameters")
        )));
        assert!(!may_change_rules(&of(
            "NetworkInterface",
            "created",
            Some("name")
        )));
        assert!(!may_change_rules(&of(
            "CoreGeneratorInstance",
            "updated",
            Some("status")
        )));
    }

    #[test]
    fn labels_are_globs_and_a_leading_bang_negates() {
        assert!(label_matches("main", "main"));
        assert!(!label_matches("main", "br1"));
        assert!(label_matches("!main", "br1"));
        assert!(!label_matches("!main", "main"));
        assert!(label_matches("Network*", "NetworkPod"));
        assert!(label_matches("Pod-A?", "Pod-A2"));
        assert!(!label_matches("Pod-A?", "Pod-A12"));
        assert!(label_matches("[ab]1", "b1"));
        assert!(!label_matches("!Pod-*", "Pod-A1"));
        // Not a valid glob: compared literally.
        assert!(label_matches("[", "["));
        assert!(!label_matches("[", "a"));
    }

    #[test]
    fn plain_text_patterns_match_exactly_as_their_compiled_globs_do() {
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        let texts = [
            "", "main", "Main", "a]b", "a-b", "x/y", ".hidden", "é", "a\\b", "{a,b}", "a b", "!",
        ];
        for pattern in texts {
            for value in texts {
                let compiled = glob::Pattern::new(pattern)
                    .map(|glob| glob.matches_with(value, options))
                    .unwrap_or(pattern == value);
                assert_eq!(
                    glob_matches(pattern, value),
                    compiled,
                    "{pattern:?} against {value:?}"
                );
            }
        }
    }

    #[test]
    fn any_fires_on_every_change_of_the_attribute_and_only_that_attribute() {
        let any = rule(
            BranchScope::AllBranches,
            vec![attribute("checksum", ValueMatch::Any, None, None)],
        );
        assert!(any.fires_on(
            &event("br1", "updated", &[("checksum", "NULL", "abc")]),
            "main"
        ));
        assert!(any.fires_on(
            &event(
                "main",
                "updated",
                &[("index", "1", "2"), ("checksum", "a", "b")]
            ),
            "main"
        ));
        assert!(!any.fires_on(&event("br1", "updated", &[("index", "1", "2")]), "main"));
        // Creation fires only `created` rules.
        assert!(!any.fires_on(
            &event("br1", "created", &[("checksum", "NULL", "abc")]),
            "main"
        ));
    }

    #[test]
    fn value_matches_compare_the_new_the_previous_or_both_values() {
        let change = event("br1", "updated", &[("role", "cpu", "storage")]);
        let value = |pattern| {
            rule(
                BranchScope::AllBranches,
                vec![attribute("role", ValueMatch::Value, Some(pattern), None)],
            )
        };
        assert!(value("storage").fires_on(&change, "main"));
        assert!(value("stor*").fires_on(&change, "main"));
        assert!(!value("cpu").fires_on(&change, "main"));
        assert!(value("!cpu").fires_on(&change, "main"));
        let previous = |pattern| {
            rule(
                BranchScope::AllBranches,
                vec![attribute(
                    "role",
                    ValueMatch::ValuePrevious,
                    None,
                    Some(pattern),
                )],
            )
        };
        assert!(previous("cpu").fires_on(&change, "main"));
        assert!(!previous("storage").fires_on(&change, "main"));
        let full = |new, old| {
            rule(
                BranchScope::AllBranches,
                vec![attribute(
                    "role",
                    ValueMatch::ValueFull,
                    Some(new),
                    Some(old),
                )],
            )
        };
        assert!(full("storage", "cpu").fires_on(&change, "main"));
        assert!(!full("storage", "gpu").fires_on(&change, "main"));
        // An unset value is Infrahub's "": it matches no rendered value.
        let unset = rule(
            BranchScope::AllBranches,
            vec![attribute("role", ValueMatch::Value, None, None)],
        );
        assert!(!unset.fires_on(&change, "main"));
    }

    #[test]
    fn every_match_must_be_met() {
        let both = rule(
            BranchScope::AllBranches,
            vec![
                attribute("checksum", ValueMatch::Any, None, None),
                attribute("index", ValueMatch::Value, Some("2"), None),
            ],
        );
        assert!(both.fires_on(
            &event(
                "br1",
                "updated",
                &[("checksum", "a", "b"), ("index", "1", "2")]
            ),
            "main"
        ));
        assert!(!both.fires_on(&event("br1", "updated", &[("checksum", "a", "b")]), "main"));
        assert!(!both.fires_on(
            &event(
                "br1",
                "updated",
                &[("checksum", "a", "b"), ("index", "1", "3")]
            ),
            "main"
        ));
    }

    #[test]
    fn relationship_matches_follow_the_peer_status() {
        let added = |kind: &str, peer: Option<&str>| {
            rule(
                BranchScope::AllBranches,
                vec![Match::Relationship {
                    relationship_name: "racks".into(),
                    modification_type: kind.into(),
                    peer: peer.map(Into::into),
                }],
            )
        };
        let change = event("br1", "updated", &[]);
        assert!(added("added", None).fires_on(&change, "main"));
        assert!(added("updated", None).fires_on(&change, "main"));
        assert!(!added("removed", None).fires_on(&change, "main"));
        assert!(added("added", Some("r9")).fires_on(&change, "main"));
        assert!(!added("added", Some("r1")).fires_on(&change, "main"));
    }

    #[test]
    fn branch_scope_selects_the_default_branch_or_the_others() {
        let checksum = || vec![attribute("checksum", ValueMatch::Any, None, None)];
        let on_main = event("main", "updated", &[("checksum", "a", "b")]);
        let on_b1 = event("br1", "updated", &[("checksum", "a", "b")]);
        let other = rule(BranchScope::OtherBranches, checksum());
        assert!(!other.fires_on(&on_main, "main"));
        assert!(other.fires_on(&on_b1, "main"));
        let default = rule(BranchScope::DefaultBranch, checksum());
        assert!(default.fires_on(&on_main, "main"));
        assert!(!default.fires_on(&on_b1, "main"));
        let all = rule(BranchScope::AllBranches, checksum());
        assert!(all.fires_on(&on_main, "main") && all.fires_on(&on_b1, "main"));
    }

    #[test]
    fn watches_names_the_rules_behind_an_attribute() {
        let checksum = rule(
            BranchScope::AllBranches,
            vec![attribute("checksum", ValueMatch::Any, None, None)],
        );
        assert!(checksum.watches("NetworkPod", "checksum"));
        assert!(!checksum.watches("NetworkPod", "index"));
        assert!(!checksum.watches("LocationRack", "checksum"));
    }
}
