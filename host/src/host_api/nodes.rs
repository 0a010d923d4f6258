//! `infragen:generator/nodes`: tracked writes, reads, and the untracked stamp.

use infragen_store::WriteOp;
use serde_json::{Value, json};

use super::{Creation, HostError, HostState, Stamp, parse_json, parse_json_object, wit_node_ref};
use crate::backend::NodeRef as BackendNodeRef;
use crate::contract::v0_1::{ErrorKind, NodeRef, infragen};
use crate::policy::Call;

impl HostState {
    pub(super) fn refuse_kind(&self, kind: &str) -> Result<(), HostError> {
        if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(HostError::invalid_input(format!(
                "{kind:?} is not a kind name (kinds are namespace + name, e.g. NetworkDevice)"
            )));
        }
        match self.run.writes.refuse_kind(kind) {
            Some(reason) => Err(HostError::guest(
                ErrorKind::PermissionDenied,
                format!(
                    "generator `{}` may not write {kind}: {reason}",
                    self.run.generator
                ),
            )),
            None => Ok(()),
        }
    }

    fn permission_denied(&self, message: String) -> HostError {
        HostError::guest(ErrorKind::PermissionDenied, message)
    }

    /// Whether the run owns node `id`: its pair's tracking group holds it, or this run
    /// wrote it. (What the host knows without the store; on the embedded store, the
    /// store's effects are the real check.)
    pub(super) fn owns(&self, id: &str) -> bool {
        self.run.tracker.contains(id) || self.run.writes.owns(id)
    }

    /// Upsert or update `data` of `kind`, kept only if the write policy accepts what it
    /// did to every node; records the node as this run's output when the run owns it.
    async fn checked_write(
        &mut self,
        function: &'static str,
        kind: &str,
        op: WriteOp,
        data: &Value,
    ) -> Result<BackendNodeRef, HostError> {
        let backend = std::sync::Arc::clone(&self.run.backend);
        if !backend.checks_effects() {
            // A remote write cannot be undone: the node it would land on is found first,
            // by its id or by its natural key.
            let landing = match data.get("id").and_then(Value::as_str) {
                Some(id) => vec![id.to_owned()],
                None => backend
                    .upsert_matches(&self.run.branch, kind, data)
                    .await?
                    .unwrap_or_else(|| {
                        tracing::debug!(generator = %self.run.generator, kind, "an upsert's natural key could not be looked up beforehand");
                        Vec::new()
                    }),
            };
            if let Some(id) = landing.iter().find(|id| !self.owns(id))
                && !self.only_granted_attributes(kind, data)
            {
                return Err(self.permission_denied(format!(
                    "generator `{}` may not write {kind} {id}: it is not the output of this \
                     generator for target `{}`",
                    self.run.generator, self.run.target_label
                )));
            }
        }
        // A write that changed nothing shows no effect, so ownership from earlier is
        // checked on the id below.
        let created = Creation::default();
        let check = created.check(&self.run, Call::Write);
        let node = backend
            .write_checked(&self.run.branch, kind, op, data, &check)
            .await?
            .ok_or_else(|| {
                HostError::guest(
                    ErrorKind::Backend,
                    format!("{function} of {kind} returned no node"),
                )
            })?;
        drop(check);
        let owned = created.happened() || self.owns(&node.id);
        if backend.checks_effects() && !owned {
            // The write landed on someone else's node and changed nothing there (a change
            // would have been refused or granted): still not this run's to write.
            if !self.update_granted(&node.kind) {
                return Err(self.permission_denied(format!(
                    "generator `{}` may not write {} {}: it is not the output of this generator \
                     for target `{}` (the write changed nothing)",
                    self.run.generator, node.kind, node.id, self.run.target_label
                )));
            }
            return Ok(node);
        }
        // Without effects, what the host let through is its own (the id check above).
        self.run.tracker.record(&node.id);
        Ok(node)
    }

    /// Whether the operator lets this generator update some attribute of `kind` on nodes
    /// it does not own (`update` in its `[generators.NAME.writes]`).
    fn update_granted(&self, kind: &str) -> bool {
        self.run
            .writes
            .grants
            .update
            .iter()
            .any(|grant| grant.split_once('.').is_some_and(|(k, _)| k == kind))
    }

    /// Whether every field `data` writes, but the ones naming the node, is an attribute of
    /// `kind` the operator lets this generator update on nodes it does not own: what can
    /// be checked of a write to someone else's node before it is sent.
    fn only_granted_attributes(&self, kind: &str, data: &Value) -> bool {
        let Some(fields) = data.as_object() else {
            return false;
        };
        let grants = &self.run.writes.grants.update;
        fields
            .keys()
            .filter(|field| !matches!(field.as_str(), "id" | "hfid"))
            .all(|field| {
                grants
                    .iter()
                    .any(|grant| *grant == format!("{kind}.{field}"))
            })
    }

    async fn nodes_matching(
        &mut self,
        function: &'static str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<String>, HostError> {
        let nodes = self
            .run
            .backend
            .filters_json(&self.run.branch, kind, filters, include)
            .await?;
        // Measured as the guest receives them: serialized once, for both.
        let size = nodes.iter().map(String::len).sum();
        self.run.check_response(function, size)?;
        Ok(nodes)
    }
}

#[derive(Clone, Copy)]
enum RelationshipChange {
    Add,
    Remove,
}

impl HostState {
    /// `RelationshipAdd`/`RelationshipRemove`: an edge change on an existing
    /// node, which creates no node and so tracks nothing.
    async fn change_relationship(
        &mut self,
        change: RelationshipChange,
        id: String,
        name: String,
        peers: Vec<String>,
    ) -> Result<(), HostError> {
        let function = match change {
            RelationshipChange::Add => "nodes.relationship-add",
            RelationshipChange::Remove => "nodes.relationship-remove",
        };
        self.run
            .begin_call(function, id.len() + name.len() + include_bytes_len(&peers))?;
        let backend = std::sync::Arc::clone(&self.run.backend);
        if !backend.checks_effects() {
            self.precheck_relationship(&id, &name, &peers).await?;
        }
        let check = self.run.write_check(Call::Write);
        let add = matches!(change, RelationshipChange::Add);
        backend
            .edit_checked(&self.run.branch, &id, &name, &peers, add, &check)
            .await?;
        Ok(())
    }

    /// Without the store's effects: an edit of a node the run owns, of peers it owns, or
    /// the `members` of a group the operator lets it join, with peers it owns.
    async fn precheck_relationship(
        &mut self,
        id: &str,
        name: &str,
        peers: &[String],
    ) -> Result<(), HostError> {
        let foreign_peer = peers.iter().find(|peer| !self.owns(peer));
        let allowed = if self.owns(id) {
            !matches!(
                name,
                "member_of_groups" | "subscriber_of_groups" | "profiles"
            ) && foreign_peer.is_none()
        } else {
            let group = self
                .run
                .backend
                .node_by_id(&self.run.branch, "CoreGroup", id)
                .await?;
            let group_name = group
                .as_ref()
                .and_then(|g| g.pointer("/name/value"))
                .and_then(Value::as_str);
            name == "members"
                && foreign_peer.is_none()
                && group_name.is_some_and(|g| self.run.writes.grants.join_groups.contains(g))
        };
        if allowed {
            return Ok(());
        }
        Err(self.permission_denied(format!(
            "generator `{}` may not change relationship {name} of {id}: a generator edits the \
             relationships of what it created, and adds its own nodes only to the groups an \
             operator lets it join",
            self.run.generator
        )))
    }
}

fn include_bytes_len(include: &[String]) -> usize {
    include.iter().map(String::len).sum()
}

impl infragen::generator::nodes::Host for HostState {
    async fn upsert(&mut self, kind: String, data: String) -> Result<NodeRef, HostError> {
        self.run
            .begin_call("nodes.upsert", kind.len() + data.len())?;
        self.refuse_kind(&kind)?;
        let data = parse_json_object("the upsert data", &data)?;
        let node = self
            .checked_write("nodes.upsert", &kind, WriteOp::Upsert, &data)
            .await?;
        Ok(wit_node_ref(node))
    }

    async fn update(&mut self, kind: String, data: String) -> Result<NodeRef, HostError> {
        self.run
            .begin_call("nodes.update", kind.len() + data.len())?;
        self.refuse_kind(&kind)?;
        let data = parse_json_object("the update data", &data)?;
        if data.get("id").is_none() && data.get("hfid").is_none() {
            return Err(HostError::invalid_input(format!(
                "an update of {kind} must name the node with \"id\" or \"hfid\""
            )));
        }
        let node = self
            .checked_write("nodes.update", &kind, WriteOp::Update, &data)
            .await?;
        Ok(wit_node_ref(node))
    }

    async fn delete(&mut self, kind: String, id: String) -> Result<(), HostError> {
        self.run.begin_call("nodes.delete", kind.len() + id.len())?;
        self.refuse_kind(&kind)?;
        if !self.run.tracker.contains(&id) && !self.run.writes.owns(&id) {
            return Err(HostError::guest(
                ErrorKind::PermissionDenied,
                format!(
                    "generator `{}` may not delete {kind} {id}: it is not in the tracking group of \
                     this generator for target `{}`, and this run did not write it",
                    self.run.generator, self.run.target_label
                ),
            ));
        }
        let check = self.run.write_check(Call::Write);
        self.run
            .backend
            .write_checked(
                &self.run.branch,
                &kind,
                WriteOp::Delete,
                &json!({ "id": id }),
                &check,
            )
            .await?;
        drop(check);
        self.run.tracker.forget(&id);
        Ok(())
    }

    async fn get(
        &mut self,
        kind: String,
        filters: String,
        include: Vec<String>,
    ) -> Result<Option<String>, HostError> {
        self.run.begin_call(
            "nodes.get",
            kind.len() + filters.len() + include_bytes_len(&include),
        )?;
        let parsed = parse_json_object("the filters", &filters)?;
        let mut nodes = self
            .nodes_matching("nodes.get", &kind, &parsed, &include)
            .await?;
        match nodes.len() {
            0 => Ok(None),
            1 => Ok(nodes.pop()),
            n => Err(HostError::invalid_input(format!(
                "nodes.get expects at most one {kind} but {n} match {filters}; use nodes.filters \
                 for several"
            ))),
        }
    }

    async fn filters(
        &mut self,
        kind: String,
        filters: String,
        include: Vec<String>,
    ) -> Result<String, HostError> {
        self.run.begin_call(
            "nodes.filters",
            kind.len() + filters.len() + include_bytes_len(&include),
        )?;
        let filters = parse_json_object("the filters", &filters)?;
        let nodes = self
            .nodes_matching("nodes.filters", &kind, &filters, &include)
            .await?;
        Ok(format!("[{}]", nodes.join(",")))
    }

    async fn relationship_add(
        &mut self,
        id: String,
        name: String,
        peers: Vec<String>,
    ) -> Result<(), HostError> {
        self.change_relationship(RelationshipChange::Add, id, name, peers)
            .await
    }

    async fn relationship_remove(
        &mut self,
        id: String,
        name: String,
        peers: Vec<String>,
    ) -> Result<(), HostError> {
        self.change_relationship(RelationshipChange::Remove, id, name, peers)
            .await
    }

    async fn stamp(
        &mut self,
        kind: String,
        id: String,
        attribute: String,
        value: String,
    ) -> Result<bool, HostError> {
        self.run.begin_call(
            "nodes.stamp",
            kind.len() + id.len() + attribute.len() + value.len(),
        )?;
        self.refuse_kind(&kind)?;
        let backend = std::sync::Arc::clone(&self.run.backend);
        let granted = attribute == crate::policy::writes::CHECKSUM_ATTRIBUTE
            || self
                .run
                .writes
                .grants
                .stamp
                .contains(&format!("{kind}.{attribute}"));
        if !backend.checks_effects() && !granted && !self.owns(&id) {
            return Err(self.permission_denied(format!(
                "generator `{}` may not stamp {kind}.{attribute} of {id}: a generator stamps \
                 checksum attributes, and others only where an operator grants it (stamp = \
                 [\"{kind}.{attribute}\"] in [generators.{}.writes])",
                self.run.generator, self.run.generator
            )));
        }
        let value = parse_json("the stamped value", &value)?;
        // Deliberately not recorded in the tracker: the stamped node belongs to another
        // generator's output.
        let stamped = {
            let check = self.run.write_check(Call::Stamp);
            backend
                .stamp_checked(&self.run.branch, &kind, &id, &attribute, &value, &check)
                .await?
        };
        let changed = stamped.ok_or_else(|| {
            HostError::guest(
                ErrorKind::NotFound,
                format!("cannot stamp {kind} {id}: no such node"),
            )
        })?;
        self.run.stamps.push(Stamp {
            kind,
            id,
            attribute,
            changed,
        });
        Ok(changed)
    }
}
