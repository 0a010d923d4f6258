//! `infragen:generator/nodes`: tracked writes, reads, and the untracked stamp.

use serde_json::{Value, json};

use super::{HostError, HostState, Stamp, parse_json, parse_json_object, wit_node_ref};
use crate::contract::v0_1::{ErrorKind, NodeRef, infragen};

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

    async fn nodes_matching(
        &mut self,
        function: &'static str,
        kind: &str,
        filters: &Value,
        include: &[String],
    ) -> Result<Vec<Value>, HostError> {
        let nodes = self
            .run
            .backend
            .filters(&self.run.branch, kind, filters, include)
            .await?;
        let size = nodes.iter().map(|node| node.to_string().len()).sum();
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
        let (backend, branch) = (&self.run.backend, &self.run.branch);
        match change {
            RelationshipChange::Add => backend.relationship_add(branch, &id, &name, &peers).await?,
            RelationshipChange::Remove => {
                backend
                    .relationship_remove(branch, &id, &name, &peers)
                    .await?
            }
        }
        Ok(())
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
            .run
            .backend
            .upsert(&self.run.branch, &kind, &data)
            .await?;
        self.run.tracker.record(&node.id);
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
            .run
            .backend
            .update(&self.run.branch, &kind, &data)
            .await?;
        self.run.tracker.record(&node.id);
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
        self.run
            .backend
            .delete(&self.run.branch, &kind, &id)
            .await?;
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
            1 => Ok(nodes.pop().map(|node| node.to_string())),
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
        Ok(Value::Array(nodes).to_string())
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
        let value = parse_json("the stamped value", &value)?;
        let node = self
            .nodes_matching("nodes.stamp", &kind, &json!({ "ids": [id] }), &[])
            .await?
            .pop()
            .ok_or_else(|| {
                HostError::guest(
                    ErrorKind::NotFound,
                    format!("cannot stamp {kind} {id}: no such node"),
                )
            })?;
        let current = node.get(&attribute).and_then(|field| field.get("value"));
        let changed = current != Some(&value);
        if changed {
            let data = json!({ "id": id, attribute.as_str(): { "value": value } });
            // Deliberately not recorded in the tracker: the stamped node
            // belongs to another generator's output.
            self.run
                .backend
                .update(&self.run.branch, &kind, &data)
                .await?;
        }
        self.run.stamps.push(Stamp {
            kind,
            id,
            attribute,
            changed,
        });
        Ok(changed)
    }
}
