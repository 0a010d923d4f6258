//! Running a generator definition over its targets, the way Infrahub does and
//! the way it should:
//!
//! per target, extract the definition's parameters from the target, run the
//! stored query with them, call the plugin, and on success reconcile the
//! target's tracking group: delete what the previous run made and this one
//! did not — **also when this run made nothing** — then set the group's
//! members to exactly this run's output. On failure nothing is deleted and the
//! group is left as it was. Stale nodes are deleted *before* the group is
//! rewritten, so a refused delete leaves the node in the group for the next
//! run to retry instead of orphaning it.

pub mod known_params;
pub mod params;
pub mod records;
pub mod report;

use std::collections::BTreeSet;

use foldhash::{HashSet, HashSetExt};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::backend::{Backend, BackendError, ErrorKind, NodeRef};
use crate::host_api::RunLog;
use crate::policy::{RuntimePolicy, SandboxLimits, WriteGrants, WritePolicy};
use crate::repository::{GeneratorDefinition, Repository, RepositoryError};
use crate::runtime::{LoadError, Plugin, RunRequest, Runtime, Target};
use crate::scale_out::{ComponentRef, RemoteRuns, RunIdentity, WorkItem};
use crate::tracking::group;
use infragen_store::Claim;
pub use known_params::KnownParams;
use known_params::{KnownTarget, ListedMember, Listing, Members};
use records::InstanceStatus;
pub use report::{DefinitionReport, TargetOutcome, TargetReport};

/// Why a definition could not be run at all (as opposed to one target failing).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The repository or its files.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// The plugin could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The definition is unusable as written.
    #[error("{0}")]
    Definition(String),
    /// The definition is an Infrahub Python generator, which this host does not run.
    #[error(
        "generator `{generator}` is a Python generator (file_path `{path}`): infragen runs \
         WebAssembly components, so it is not run here (build it for wasm32-wasip2 and point \
         file_path at the .wasm, or run it with infrahubctl against `infragen serve`)"
    )]
    NotAComponent {
        /// The definition.
        generator: String,
        /// Its `file_path`.
        path: String,
    },
    /// The targets are missing or do not match.
    #[error("{0}")]
    Target(String),
    /// The work queue that runs go to (`infragen serve --queue`) could not take the
    /// definition's component.
    #[error("{0}")]
    Queue(#[from] crate::scale_out::QueueError),
    /// The backend failed; `retryable` when it was unreachable (a retry may
    /// succeed), not when it refused the request.
    #[error("{message}")]
    Backend {
        /// What failed, with the backend's reason.
        message: String,
        /// Whether retrying later may succeed.
        retryable: bool,
    },
}

impl RunnerError {
    /// A backend failure while doing `what`.
    pub(crate) fn backend(what: impl std::fmt::Display, error: &BackendError) -> Self {
        RunnerError::Backend {
            message: format!("{what}: {error}"),
            retryable: error.kind == ErrorKind::Backend,
        }
    }

    /// Whether the failure is transient (the backend was unreachable).
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            RunnerError::Backend {
                retryable: true,
                ..
            }
        )
    }
}

/// Which members of the definition's target group to run.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetSelection {
    /// Every member.
    All,
    /// The members whose extracted parameters equal these (`KEY=VALUE` on
    /// the command line).
    Matching(Map<String, Value>),
    /// The members with these ids (`CoreGeneratorDefinitionRun`'s `nodes`); each must be
    /// a member.
    Ids(Vec<String>),
}

/// Runs definitions of one repository against one backend.
#[derive(Clone)]
pub struct Runner {
    repository: Arc<Repository>,
    runtime: Runtime,
    backend: Arc<dyn Backend>,
    policy: RuntimePolicy,
    /// Where runs go instead of this process's runtime (see [`Runner::with_remote`]).
    remote: Option<Arc<dyn RemoteRuns>>,
}

/// A member of a definition's target group.
#[derive(Debug, Clone)]
pub struct TargetMember {
    /// The target node.
    pub target: Target,
    /// The definition's parameters extracted from it (shared with [`KnownParams`]).
    pub params: Arc<Map<String, Value>>,
    /// The tracking group name this target claims, decided before any run
    /// starts so that concurrent runs cannot race for a shared name.
    group_name: String,
}

/// A definition ready to run on one branch (see [`Runner::prepare`]).
///
/// Its target group's members are kept as listed, with their parameters and their claims
/// on Infrahub's group name: a member is made a [`TargetMember`] only when a run or a
/// selection asks for it. A round runs a few members of a group that grows with the
/// design; copying every member into the definition prepared for each round made a
/// design built cascade by cascade cost the square of its size there.
pub struct PreparedDefinition {
    definition: GeneratorDefinition,
    definition_id: String,
    executable: Executable,
    query_text: String,
    branch: String,
    group: TargetGroup,
}

/// A definition's target group's members, in group order (see [`PreparedDefinition`]).
struct TargetGroup {
    /// The group's id.
    id: String,
    /// Its members as listed, in group order (shared with [`KnownParams`]' listing).
    members: Members,
    /// By position: the member's parameters, and whether it keeps Infrahub's name for its
    /// tracking group ([`claims_infrahub_name`]).
    targets: Vec<(KnownTarget, bool)>,
}

/// What runs a prepared definition's targets.
enum Executable {
    /// This process's runtime, with the component loaded.
    Local(Plugin),
    /// Worker processes, fetching the component by its digest.
    Remote(Arc<dyn RemoteRuns>, ComponentRef),
}

impl PreparedDefinition {
    /// The definition.
    pub fn definition(&self) -> &GeneratorDefinition {
        &self.definition
    }

    /// How many members the target group has.
    pub fn member_count(&self) -> usize {
        self.group.members.listed().len()
    }

    /// The member at `position` in group order.
    fn member_at(&self, position: usize) -> TargetMember {
        let listed = &self.group.members.listed()[position];
        let (known, keeps_infrahub_name) = &self.group.targets[position];
        let definition = &self.definition.name;
        let group_name = if *keeps_infrahub_name {
            group::infrahub_group_name_hashed(definition, &known.params, &known.hash)
        } else {
            group::target_group_name(definition, &known.params, &listed.id)
        };
        TargetMember {
            target: Target {
                id: listed.id.to_string(),
                kind: listed.kind.to_string(),
                display_label: listed.label.to_string(),
            },
            params: Arc::clone(&known.params),
            group_name,
        }
    }

    /// The member whose target is `id`, with its position in group order.
    pub fn member(&self, id: &str) -> Option<(usize, TargetMember)> {
        let position = self.group.members.position(id)?;
        Some((position, self.member_at(position)))
    }

    /// The members a selection names, in group order; an error when a
    /// `KEY=VALUE` selection matches none.
    pub fn select(&self, selection: &TargetSelection) -> Result<Vec<TargetMember>, RunnerError> {
        let positions = 0..self.member_count();
        match selection {
            TargetSelection::All => Ok(positions.map(|at| self.member_at(at)).collect()),
            TargetSelection::Matching(wanted) => {
                let matching: Vec<TargetMember> = positions
                    .filter(|at| params_match(&self.group.targets[*at].0.params, wanted))
                    .map(|at| self.member_at(at))
                    .collect();
                if matching.is_empty() {
                    return Err(RunnerError::Target(format!(
                        "no member of group `{}` has {}",
                        self.definition.targets,
                        describe(wanted)
                    )));
                }
                Ok(matching)
            }
            TargetSelection::Ids(ids) => {
                let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
                if let Some(outside) = wanted
                    .iter()
                    .find(|id| self.group.members.position(id).is_none())
                {
                    return Err(RunnerError::Target(format!(
                        "node {outside} is not a member of group `{}`, the targets of generator `{}`",
                        self.definition.targets, self.definition.name
                    )));
                }
                Ok(positions
                    .filter(|at| wanted.contains(&*self.group.members.listed()[*at].id))
                    .map(|at| self.member_at(at))
                    .collect())
            }
        }
    }
}

impl Runner {
    /// A runner over `repository`, loading plugins with `runtime`, reading and
    /// writing through `backend`, limited by `policy`.
    pub fn new(
        repository: Arc<Repository>,
        runtime: Runtime,
        backend: Arc<dyn Backend>,
        policy: RuntimePolicy,
    ) -> Self {
        Self {
            repository,
            runtime,
            backend,
            policy,
            remote: None,
        }
    }

    /// Sends every run to `remote` (worker processes, see [`crate::scale_out`]) instead of
    /// running it here: the component is shared by its digest and never compiled in this
    /// process, and each run's report comes back from the worker that ran it.
    pub fn with_remote(mut self, remote: Arc<dyn RemoteRuns>) -> Self {
        self.remote = Some(remote);
        self
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The backend runs read and write through.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// On a full run, deletes the output of targets that no longer exist
    /// (see [`Runner::run_definition`]).
    pub async fn reap_deleted(
        &self,
        prepared: &PreparedDefinition,
    ) -> Result<Vec<report::ReapReport>, RunnerError> {
        let live: BTreeSet<String> = prepared
            .group
            .members
            .listed()
            .iter()
            .map(|member| member.id.to_string())
            .collect();
        self.reap_deleted_targets(&prepared.definition, &prepared.branch, &live)
            .await
    }

    fn definition(&self, name: &str) -> Result<GeneratorDefinition, RunnerError> {
        self.repository.generator(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self
                .repository
                .config()
                .generator_definitions
                .iter()
                .map(|definition| definition.name.as_str())
                .collect();
            RunnerError::Definition(format!(
                "no generator named `{name}` in .infrahub.yml (defined: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// Loads the definition's plugin through the repository (never from a
    /// path outside it).
    pub async fn plugin(&self, definition: &GeneratorDefinition) -> Result<Plugin, RunnerError> {
        let (path, bytes) = self.component_bytes(definition)?;
        Ok(self.runtime.load_bytes(&path, bytes).await?)
    }

    /// The definition's component, read through the repository (never from a path
    /// outside it), with its path for messages; refused when it is not a component.
    fn component_bytes(
        &self,
        definition: &GeneratorDefinition,
    ) -> Result<(std::path::PathBuf, Vec<u8>), RunnerError> {
        if !definition.is_component() {
            return Err(RunnerError::NotAComponent {
                generator: definition.name.clone(),
                path: definition.file_path.display().to_string(),
            });
        }
        let bytes = self.repository.read(&definition.file_path)?;
        Ok((self.repository.root().join(&definition.file_path), bytes))
    }

    /// Everything a definition's runs on `branch` share: the plugin loaded,
    /// the query read, the definition recorded, and the target group's members
    /// with their parameters and tracking group names. Read again for every
    /// batch of runs, since the design may have changed in between.
    pub async fn prepare(
        &self,
        name: &str,
        branch: &str,
    ) -> Result<PreparedDefinition, RunnerError> {
        self.prepare_knowing(name, branch, None).await
    }

    /// [`Runner::prepare`], taking the parameters of targets from `known` where it
    /// has them and keeping there those it reads, and writing the definition's record
    /// only where `known` does not hold it as it would be written (the caller has
    /// brought `known` up to date with the event log for `branch`).
    pub async fn prepare_knowing(
        &self,
        name: &str,
        branch: &str,
        known: Option<&KnownParams>,
    ) -> Result<PreparedDefinition, RunnerError> {
        let definition = self.definition(name)?;
        let executable = match &self.remote {
            None => Executable::Local(self.plugin(&definition).await?),
            Some(remote) => {
                let component = self.shared_component(remote.as_ref(), &definition).await?;
                Executable::Remote(Arc::clone(remote), component)
            }
        };
        let query_text = self.repository.query_text(&definition.query)?;
        let group = self.target_members(&definition, branch, known).await?;
        let definition_id = records::record_definition_knowing(
            self.backend.as_ref(),
            branch,
            &definition,
            &query_text,
            &group.id,
            known,
        )
        .instrument(tracing::trace_span!("definition_record"))
        .await?;
        Ok(PreparedDefinition {
            definition,
            definition_id,
            executable,
            query_text,
            branch: branch.to_owned(),
            group,
        })
    }

    /// The definition's component shared through `remote`, read from the repository and
    /// refused for what its structure shows, as a local load refuses it — except a contract
    /// version this host does not implement: the workers decide that, each by its own.
    async fn shared_component(
        &self,
        remote: &dyn RemoteRuns,
        definition: &GeneratorDefinition,
    ) -> Result<ComponentRef, RunnerError> {
        let (path, bytes) = self.component_bytes(definition)?;
        let inspection = self.runtime.inspect_bytes(&bytes);
        match inspection.verdict {
            Ok(()) | Err(crate::runtime::Refusal::IncompatibleVersion { .. }) => {}
            Err(refusal) => return Err(LoadError::Refused { path, refusal }.into()),
        }
        let component = ComponentRef {
            digest: inspection.digest,
            size: inspection.size,
            contract_version: inspection.contract_version,
        };
        remote.share(&component, bytes).await?;
        Ok(component)
    }

    /// Runs `member` of a prepared definition: one target, with its instance
    /// status and tracking group kept as Infrahub keeps them.
    pub async fn run_target(
        &self,
        prepared: &PreparedDefinition,
        member: &TargetMember,
    ) -> TargetReport {
        self.run_target_as(prepared, member, RunIdentity::unrecorded())
            .await
    }

    /// [`Runner::run_target`] for the run `identity` names in the durable queue: what a
    /// worker's result is matched to when the run goes to the work queue.
    pub async fn run_target_as(
        &self,
        prepared: &PreparedDefinition,
        member: &TargetMember,
        identity: RunIdentity,
    ) -> TargetReport {
        let name = &prepared.definition.name;
        let spec = RunSpec {
            generator: name.clone(),
            query: prepared.definition.query.clone(),
            execute_after_merge: prepared.definition.execute_after_merge,
            definition_id: prepared.definition_id.clone(),
            query_text: prepared.query_text.clone(),
            branch: prepared.branch.clone(),
            target: member.target.clone(),
            params: (*member.params).clone(),
            group_name: member.group_name.clone(),
        };
        let limits = self.policy.limits_for(name);
        let grants = self.policy.grants_for(name);
        match &prepared.executable {
            Executable::Local(plugin) => {
                run_spec(
                    spec,
                    Arc::clone(&self.backend),
                    plugin.clone(),
                    limits,
                    grants,
                )
                .await
            }
            Executable::Remote(remote, component) => {
                let (branch, definition_id) = (spec.branch.clone(), spec.definition_id.clone());
                let item = WorkItem::new(identity, spec, limits, grants, component.clone());
                let report = remote.run(item).await;
                if matches!(report.outcome, TargetOutcome::Failed { .. }) {
                    self.record_remote_failure(&branch, name, &definition_id, &report)
                        .await;
                }
                report
            }
        }
    }

    /// Records the instance of a run that failed on the work queue `Error`: a worker
    /// refused it before starting, or every worker it went to died in the middle of it
    /// (leaving it `Processing`). Where a worker ran it and it failed, this writes what the
    /// worker wrote already.
    async fn record_remote_failure(
        &self,
        branch: &str,
        definition: &str,
        definition_id: &str,
        report: &TargetReport,
    ) {
        let name = records::instance_name(definition, &report.target.display_label);
        let recorded = records::set_instance_status(
            self.backend.as_ref(),
            branch,
            &name,
            definition_id,
            &report.target.id,
            InstanceStatus::Error,
        )
        .await;
        if let Err(error) = recorded {
            tracing::warn!(instance = %name, %error, "cannot record the failed run's instance as Error");
        }
    }

    /// Runs definition `name` on `branch` for the selected targets, at most
    /// `concurrency` at a time.
    pub async fn run_definition(
        &self,
        name: &str,
        branch: &str,
        selection: &TargetSelection,
        concurrency: usize,
    ) -> Result<DefinitionReport, RunnerError> {
        let started = Instant::now();
        let prepared = Arc::new(self.prepare(name, branch).await?);
        let definition = &prepared.definition;
        let selected = prepared.select(selection)?;
        let reaped = match selection {
            TargetSelection::All => self.reap_deleted(&prepared).await?,
            TargetSelection::Matching(_) | TargetSelection::Ids(_) => Vec::new(),
        };
        let permits = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (position, member) in selected.into_iter().enumerate() {
            let runner = self.clone();
            let prepared = Arc::clone(&prepared);
            // Take the permit before spawning, so targets start in group
            // order (with --concurrency 1, strictly one after the other).
            let permit = Arc::clone(&permits).acquire_owned().await.ok();
            tasks.spawn(async move {
                let report = runner.run_target(&prepared, &member).await;
                drop(permit);
                (position, report)
            });
        }
        let mut reports = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(report) => reports.push(report),
                Err(error) => {
                    return Err(RunnerError::Backend {
                        message: format!("a run task failed: {error}"),
                        retryable: false,
                    });
                }
            }
        }
        reports.sort_by_key(|(position, _)| *position);
        Ok(DefinitionReport {
            definition: definition.name.clone(),
            branch: branch.to_owned(),
            targets: reports.into_iter().map(|(_, report)| report).collect(),
            reaped,
            elapsed: started.elapsed(),
        })
    }

    /// Deletes the output of targets that no longer exist.
    ///
    /// A deleted target's generator can never run again, so nothing would
    /// ever delete what it made (Infrahub's long-standing limitation #3289).
    /// On a full run over the target group, every tracking group of this
    /// definition whose subscribing `CoreGeneratorInstance` points at a
    /// target that is gone has its members deleted, then the group and the
    /// instance. Groups without a subscriber (made by another tool) and
    /// targets that still exist but left the group are not touched.
    ///
    /// `live` are the ids of the group's current members, which exist and so
    /// need no lookup.
    async fn reap_deleted_targets(
        &self,
        definition: &GeneratorDefinition,
        branch: &str,
        live: &BTreeSet<String>,
    ) -> Result<Vec<report::ReapReport>, RunnerError> {
        let backend = self.backend.as_ref();
        let kind = group::group_kind(definition.execute_after_merge);
        let error = |what: &str, error: BackendError| {
            RunnerError::backend(
                format!(
                    "cleaning up after deleted targets of `{}`: {what}",
                    definition.name
                ),
                &error,
            )
        };
        let groups = backend
            .filters(
                branch,
                kind,
                &json!({}),
                &["members".to_owned(), "subscribers".to_owned()],
            )
            .await
            .map_err(|e| error("reading tracking groups", e))?;
        let prefix = format!("{}-", definition.name);
        let mut reaped = Vec::new();
        for group in groups {
            let Some(name) = group.pointer("/name/value").and_then(Value::as_str) else {
                continue;
            };
            if name != definition.name && !name.starts_with(&prefix) {
                continue;
            }
            let Some(group_id) = group.get("id").and_then(Value::as_str) else {
                continue;
            };
            for (instance_id, _) in edge_ids(&group, "subscribers") {
                let Some(instance) = backend
                    .node_by_id(branch, "CoreGeneratorInstance", &instance_id)
                    .await
                    .map_err(|e| error("reading a generator instance", e))?
                else {
                    continue;
                };
                let instance_name = instance
                    .pointer("/name/value")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !instance_name.starts_with(&format!("{}: ", definition.name)) {
                    continue;
                }
                let target = instance.pointer("/object/node/id").and_then(Value::as_str);
                let target_exists = match target {
                    Some(id) if live.contains(id) => true,
                    Some(id) => backend
                        .node_by_id(branch, "CoreNode", id)
                        .await
                        .map_err(|e| error("reading a target", e))?
                        .is_some(),
                    None => false,
                };
                if target_exists {
                    continue;
                }
                let mut deleted = 0;
                for (member, member_kind) in edge_ids(&group, "members") {
                    if backend
                        .delete_if_present(branch, &member_kind, &member)
                        .await
                        .map_err(|e| error(&format!("deleting {member_kind} {member}"), e))?
                    {
                        deleted += 1;
                    }
                }
                for (node_kind, id) in [
                    (kind, group_id),
                    ("CoreGeneratorInstance", instance_id.as_str()),
                ] {
                    backend
                        .delete_if_present(branch, node_kind, id)
                        .await
                        .map_err(|e| error(&format!("deleting {node_kind} {id}"), e))?;
                }
                tracing::info!(generator = %definition.name, instance = instance_name, deleted, "removed the output of a deleted target");
                reaped.push(report::ReapReport {
                    instance: instance_name.to_owned(),
                    group: name.to_owned(),
                    deleted,
                });
            }
        }
        Ok(reaped)
    }

    /// The members of `definition`'s target group, in group order: as `known` last
    /// listed them where no event has named the group since, with the members events
    /// named read again; else read whole (and kept in `known`). Returns the group's id
    /// and its members.
    async fn group_listing(
        &self,
        definition: &GeneratorDefinition,
        branch: &str,
        known: Option<&KnownParams>,
    ) -> Result<(String, Members), RunnerError> {
        let group = definition.targets.as_str();
        if let Some(known) = known
            && let Some(listing) = known.listing(branch, group)
        {
            if listing.touched.is_empty() {
                return Ok((listing.group_id, listing.members));
            }
            if let Some(relabelled) = self.relabelled(definition, branch, &listing).await? {
                let members = listing.members.relabelled(relabelled);
                known.insert_listing(branch, group, &listing.group_id, members.clone());
                return Ok((listing.group_id, members));
            }
        }
        let (group_id, members) = self.read_group(definition, branch).await?;
        let members = Members::new(members);
        if let Some(known) = known {
            known.insert_listing(branch, group, &group_id, members.clone());
        }
        Ok((group_id, members))
    }

    /// `listing`'s members with the touched ones' labels read again; `None` when one of
    /// them is gone (or comes back without an id or a kind, or with another id): the group
    /// is then read whole.
    async fn relabelled(
        &self,
        definition: &GeneratorDefinition,
        branch: &str,
        listing: &Listing,
    ) -> Result<Option<Vec<ListedMember>>, RunnerError> {
        let mut members = listing.members.listed().to_vec();
        for member in members
            .iter_mut()
            .filter(|member| listing.touched.contains(&*member.id))
        {
            let found = self
                .backend
                .node_by_id(branch, &member.kind, &member.id)
                .await
                .map_err(|error| {
                    RunnerError::backend(
                        format!(
                            "reading {} of target group `{}`",
                            member.id, definition.targets
                        ),
                        &error,
                    )
                })?;
            match found.as_ref().and_then(listed_member) {
                Some(fresh) if fresh.id == member.id => *member = fresh,
                _ => return Ok(None),
            }
        }
        Ok(Some(members))
    }

    /// `definition`'s target group read whole: its id and its members in group order.
    async fn read_group(
        &self,
        definition: &GeneratorDefinition,
        branch: &str,
    ) -> Result<(String, Vec<ListedMember>), RunnerError> {
        let groups = self
            .backend
            .filters(
                branch,
                "CoreGroup",
                &json!({ "name__value": definition.targets }),
                &["members".to_owned()],
            )
            .await
            .map_err(|error| {
                RunnerError::backend(
                    format!("reading target group `{}`", definition.targets),
                    &error,
                )
            })?;
        let Some(group) = groups.into_iter().next() else {
            return Err(RunnerError::Target(format!(
                "generator `{}` targets group `{}`, which does not exist on branch `{branch}`; \
                 declare it in an object file and load it (infragen object load)",
                definition.name, definition.targets
            )));
        };
        let group_id = group
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let members = group
            .pointer("/members/edges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|edge| edge.get("node").and_then(listed_member))
            .collect();
        Ok((group_id, members))
    }

    /// `definition`'s target group on `branch`: its members with their parameters (from
    /// `known` where it has them, read and kept there where not) and their claims on
    /// Infrahub's tracking group name.
    async fn target_members(
        &self,
        definition: &GeneratorDefinition,
        branch: &str,
        known: Option<&KnownParams>,
    ) -> Result<TargetGroup, RunnerError> {
        let (id, members) = self
            .group_listing(definition, branch, known)
            .instrument(tracing::trace_span!("target_group"))
            .await?;
        // Keyed by the target and the parameter paths: definitions over one group
        // may read different ones.
        let paths = params::paths_key(&definition.parameters);
        let found = match known {
            Some(known) => known.get_each(branch, &paths, members.listed()),
            None => vec![None; members.listed().len()],
        };
        let mut targets = Vec::with_capacity(found.len());
        for (member, found) in members.listed().iter().zip(found) {
            let target = match found {
                Some(target) => target,
                None => {
                    let mut read = Vec::new();
                    let params = params::extract(
                        self.backend.as_ref(),
                        branch,
                        &member.kind,
                        &member.id,
                        &member.label,
                        &definition.parameters,
                        &mut read,
                    )
                    .await?;
                    let target = KnownTarget::new(params);
                    if let Some(known) = known {
                        known.insert(
                            branch,
                            &params::cache_key(&member.id, &paths),
                            target.clone(),
                            read,
                        );
                    }
                    target
                }
            };
            targets.push(target);
        }
        let claims = claims_infrahub_name(&targets);
        Ok(TargetGroup {
            id,
            members,
            targets: targets.into_iter().zip(claims).collect(),
        })
    }
}

/// Whether each target, in group order, keeps Infrahub's name for its tracking group:
/// where several would share it, the first in group order keeps it and the others take
/// the per-target name ([`group::target_group_name`]). Infrahub's name is made of the
/// definition's and the parameters' hash ([`group::infrahub_group_name_hashed`]; no
/// parameters, the definition's alone — and no parameters have a hash of their own), so
/// two targets share it exactly when their hashes are equal: compared as such, without a
/// name made per member.
fn claims_infrahub_name(targets: &[KnownTarget]) -> Vec<bool> {
    let mut claimed: HashSet<&str> = HashSet::with_capacity(targets.len());
    targets
        .iter()
        .map(|target| claimed.insert(&target.hash))
        .collect()
}

/// A target group's member as a listing shows it (`{id, __typename, display_label}`),
/// labelled by its id where it has no label; `None` without an id or a kind.
fn listed_member(node: &Value) -> Option<ListedMember> {
    let id = node.get("id").and_then(Value::as_str)?;
    let kind = node.get("__typename").and_then(Value::as_str)?;
    let label = node
        .get("display_label")
        .and_then(Value::as_str)
        .unwrap_or(id);
    Some(ListedMember {
        id: id.into(),
        kind: kind.into(),
        label: label.into(),
    })
}

fn params_match(params: &Map<String, Value>, wanted: &Map<String, Value>) -> bool {
    wanted.iter().all(|(key, want)| {
        params.get(key).is_some_and(|have| {
            have == want
                || (want
                    .as_str()
                    .is_some_and(|want| scalar_text(have).as_deref() == Some(want)))
        })
    })
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn describe(params: &Map<String, Value>) -> String {
    params
        .iter()
        .map(|(key, value)| {
            format!(
                "{key}={}",
                scalar_text(value).unwrap_or_else(|| value.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How many times a run is tried when the store keeps changing under it.
const CONFLICT_ATTEMPTS: u32 = 3;

/// A run that succeeded, and whether its commit already recorded its instance `Ready`.
struct Generated {
    outcome: TargetOutcome,
    ready_recorded: bool,
}

/// One target's run, with everything it needs moved in.
struct TargetJob {
    spec: RunSpec,
    backend: Arc<dyn Backend>,
    plugin: Plugin,
    limits: SandboxLimits,
    grants: WriteGrants,
}

/// One target's run as a process that has no repository runs it: everything a run reads
/// besides the store, decided when its definition was prepared. A worker receives it in
/// its [`WorkItem`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSpec {
    /// The generator definition's name.
    pub generator: String,
    /// The name of its query (for messages).
    pub query: String,
    /// Picks the kind of the tracking group (see [`GeneratorDefinition::execute_after_merge`]).
    pub execute_after_merge: bool,
    /// The definition's `CoreGeneratorDefinition` node.
    pub definition_id: String,
    /// The query's text.
    pub query_text: String,
    /// The branch the run reads and writes.
    pub branch: String,
    /// The target.
    pub target: Target,
    /// Its parameters.
    pub params: Map<String, Value>,
    /// The tracking group name decided for it.
    pub group_name: String,
}

/// Runs `spec` with `plugin`, reading and writing through `backend`, within `limits` and
/// the ownership policy `grants` extends: a target's run, wherever it happens.
pub(crate) async fn run_spec(
    spec: RunSpec,
    backend: Arc<dyn Backend>,
    plugin: Plugin,
    limits: SandboxLimits,
    grants: WriteGrants,
) -> TargetReport {
    TargetJob {
        spec,
        backend,
        plugin,
        limits,
        grants,
    }
    .run()
    .await
}

/// The claim key of (branch, generator, target) (see [`Backend::claim_run`]).
pub fn claim_key(branch: &str, generator: &str, target: &str) -> String {
    format!("{branch}\u{1f}{generator}\u{1f}{target}")
}

/// The tracking group of one target as found before the run.
struct TrackingGroup {
    name: String,
    /// (id, kind) of the previous members, in stored order.
    members: Vec<(String, String)>,
}

/// Why one target's run failed.
struct Failure {
    message: String,
    retryable: bool,
    /// The plugin hit a limit of the sandbox (its deadline, memory, fuel, stack, output)
    /// or a refusal: its own doing, whatever happened to the store meanwhile.
    own_limit: bool,
    /// What the plugin logged before it failed.
    log: RunLog,
}

/// An error a target's run can end with, and whether it is transient.
trait Cause: std::fmt::Display {
    /// Whether retrying later may succeed (the backend was unreachable).
    fn retryable(&self) -> bool;
    /// Whether the run was stopped by a limit of the sandbox or refused; see
    /// [`Failure::own_limit`].
    fn own_limit(&self) -> bool {
        false
    }
}

impl Cause for RunnerError {
    fn retryable(&self) -> bool {
        RunnerError::retryable(self)
    }
}

impl Cause for BackendError {
    fn retryable(&self) -> bool {
        self.kind == ErrorKind::Backend
    }
}

impl Cause for crate::runtime::RunError {
    /// A plugin that returned the contract's `backend` error gave up because
    /// the backend failed under it; anything else it did is its own doing.
    fn retryable(&self) -> bool {
        matches!(&self.failure, crate::runtime::RunFailure::Generator { kind, .. } if kind == "backend")
    }

    fn own_limit(&self) -> bool {
        use crate::runtime::RunFailure as F;
        matches!(
            self.failure,
            F::Deadline { .. }
                | F::Memory { .. }
                | F::Fuel { .. }
                | F::StackOverflow
                | F::OutputCap { .. }
                | F::Violation { .. }
        )
    }
}

impl TargetJob {
    /// A failure naming the generator, the target and the cause.
    fn failure(&self, what: &str, error: &dyn Cause) -> Failure {
        let target = &self.spec.target;
        Failure {
            message: format!(
                "generator `{}` failed on target `{}` ({}): {what}: {error}",
                self.spec.generator, target.display_label, target.id
            ),
            retryable: error.retryable(),
            own_limit: error.own_limit(),
            log: RunLog::default(),
        }
    }

    async fn run(self) -> TargetReport {
        let started = Instant::now();
        let target = self.spec.target.clone();
        let params = self.spec.params.clone();
        let outcome = match self.run_claimed().await {
            Ok(outcome) => outcome,
            Err(Failure {
                message,
                retryable,
                log,
                ..
            }) => TargetOutcome::Failed {
                message,
                retryable,
                log,
            },
        };
        TargetReport {
            target,
            params,
            outcome,
            elapsed: started.elapsed(),
        }
    }

    /// Records the status of this (definition, target)'s instance; returns its id.
    async fn set_status(
        &self,
        instance_name: &str,
        status: InstanceStatus,
    ) -> Result<String, Failure> {
        self.set_status_through(self.backend.as_ref(), instance_name, status)
            .await
    }

    /// [`TargetJob::set_status`] written through `backend` (a run's own scope).
    async fn set_status_through(
        &self,
        backend: &dyn Backend,
        instance_name: &str,
        status: InstanceStatus,
    ) -> Result<String, Failure> {
        records::set_instance_status(
            backend,
            &self.spec.branch,
            instance_name,
            &self.spec.definition_id,
            &self.spec.target.id,
            status,
        )
        .instrument(tracing::trace_span!("instance_status"))
        .await
        .map_err(|e| self.failure("instance", &e))
    }

    /// [`TargetJob::run_inner`] under the run's claim, where the backend keeps claims:
    /// never while another live process runs it, taking over from a process that died
    /// in the middle of it.
    async fn run_claimed(&self) -> Result<TargetOutcome, Failure> {
        let backend = self.backend.as_ref();
        let key = claim_key(
            &self.spec.branch,
            &self.spec.generator,
            &self.spec.target.id,
        );
        match backend
            .claim_run(&key)
            .instrument(tracing::trace_span!("run_claim"))
            .await
            .map_err(|e| self.failure("claiming the run", &e))?
        {
            Some(Claim::Held(owner)) => {
                return Err(Failure {
                    message: format!(
                        "generator `{}` on target `{}` ({}) is running in another process \
                         ({owner}); it is not run twice at once",
                        self.spec.generator, self.spec.target.display_label, self.spec.target.id
                    ),
                    retryable: true,
                    own_limit: false,
                    log: RunLog::default(),
                });
            }
            Some(Claim::Taken {
                from_stale: Some(owner),
            }) => {
                tracing::warn!(generator = %self.spec.generator, target = %self.spec.target.display_label, process = %owner, "taking over a run whose process is gone (it was interrupted)");
            }
            Some(Claim::Taken { from_stale: None }) | None => {}
        }
        let result = self.run_inner().await;
        if let Err(error) = backend
            .release_run(&key)
            .instrument(tracing::trace_span!("run_claim"))
            .await
        {
            tracing::warn!(generator = %self.spec.generator, target = %self.spec.target.display_label, %error, "cannot give the run's claim back; the next run takes it over once this process is gone");
        }
        result
    }

    async fn run_inner(&self) -> Result<TargetOutcome, Failure> {
        let instance_name =
            records::instance_name(&self.spec.generator, &self.spec.target.display_label);
        // One write before the run, as Infrahub's `_define_instance` makes one: a new
        // instance is created `Processing` (Infrahub writes `Pending` and nothing until the
        // run ends; `Processing` tells a reader the run is under way).
        let instance_id = self
            .set_status(&instance_name, InstanceStatus::Processing)
            .await?;

        match self.generate_atomically(&instance_name, &instance_id).await {
            Ok(Generated {
                outcome,
                ready_recorded,
            }) => {
                if !ready_recorded {
                    self.set_status(&instance_name, InstanceStatus::Ready)
                        .await?;
                }
                Ok(outcome)
            }
            Err(failure) => {
                self.set_status(&instance_name, InstanceStatus::Error)
                    .await?;
                Err(failure)
            }
        }
    }

    /// Runs the generator and reconciles its tracking group as one atomic run, where the
    /// backend has them: on failure nothing of it is written. A run that failed or could
    /// not commit because someone else changed the store meanwhile runs again on the new
    /// state, up to [`CONFLICT_ATTEMPTS`] times in all.
    ///
    /// An atomic run records its instance `Ready` in its own commit: the output and the
    /// status are written together or not at all, and the run costs one commit less.
    async fn generate_atomically(
        &self,
        instance_name: &str,
        instance_id: &str,
    ) -> Result<Generated, Failure> {
        let mut attempt = 1;
        loop {
            let scope = self
                .backend
                .begin_run(&self.spec.branch, attempt)
                .instrument(tracing::trace_span!("begin_run"))
                .await
                .map_err(|e| self.failure("starting the run", &e))?;
            let Some(scope) = scope else {
                return self
                    .generate(&self.backend, instance_id, false)
                    .await
                    .map(|outcome| Generated {
                        outcome,
                        ready_recorded: false,
                    });
            };
            let backend: Arc<dyn Backend> = scope.clone();
            let mut result = self.generate(&backend, instance_id, true).await;
            if result.is_ok()
                && let Err(failure) = self
                    .set_status_through(backend.as_ref(), instance_name, InstanceStatus::Ready)
                    .await
            {
                result = Err(failure);
            }
            let conflict = match result {
                Ok(outcome) => match scope.commit().await {
                    Ok(()) => {
                        return Ok(Generated {
                            outcome,
                            ready_recorded: true,
                        });
                    }
                    Err(error) if error.kind == ErrorKind::Conflict => {
                        self.failure("committing the run", &error)
                    }
                    Err(error) => return Err(self.failure("committing the run", &error)),
                },
                Err(failure) => {
                    // A run stopped by its own limits is not run again: a plugin that
                    // spins until its deadline after losing the write turn would only
                    // spin again.
                    let outdated = scope.outdated() && !failure.own_limit;
                    scope.abandon();
                    if !outdated {
                        return Err(failure);
                    }
                    failure
                }
            };
            if attempt >= CONFLICT_ATTEMPTS {
                return Err(conflict);
            }
            attempt += 1;
            tracing::info!(
                generator = %self.spec.generator,
                target = %self.spec.target.display_label,
                attempt,
                "the store changed during the run; running it again"
            );
        }
    }

    /// Upserts this target's tracking group `name` with exactly `members`, subscribed by
    /// its instance.
    async fn set_tracking_group(
        &self,
        backend: &dyn Backend,
        group_kind: &str,
        name: &str,
        members: impl Iterator<Item = &String>,
        instance_id: &str,
    ) -> Result<NodeRef, BackendError> {
        let members: Vec<Value> = members.map(|id| json!({ "id": id })).collect();
        backend
            .upsert(
                &self.spec.branch,
                group_kind,
                &json!({
                    "name": { "value": name },
                    "description": { "value": group::group_description(&self.spec.params) },
                    "members": members,
                    "subscribers": [{ "id": instance_id }],
                }),
            )
            .await
    }

    /// Where writes commit one by one (no atomic runs: Infrahub over HTTP), a failed
    /// run's writes stay: they join the tracking group, next to the previous output and
    /// with nothing deleted, so that the next successful run reconciles them instead of
    /// leaving them in no group at all.
    async fn keep_failed_output(
        &self,
        backend: &dyn Backend,
        group_kind: &str,
        group: &TrackingGroup,
        instance_id: &str,
        written: &[String],
    ) {
        let mut seen = BTreeSet::new();
        let members = group
            .members
            .iter()
            .map(|(id, _)| id)
            .chain(written)
            .filter(|id| seen.insert(id.as_str()));
        let kept = self
            .set_tracking_group(backend, group_kind, &group.name, members, instance_id)
            .await;
        if let Err(error) = kept {
            tracing::warn!(generator = %self.spec.generator, target = %self.spec.target.display_label, %error, "could not add a failed run's writes to its tracking group; they stay untracked");
        }
    }

    async fn generate(
        &self,
        backend: &Arc<dyn Backend>,
        instance_id: &str,
        atomic: bool,
    ) -> Result<TargetOutcome, Failure> {
        let run_backend = Arc::clone(backend);
        let backend = backend.as_ref();
        let branch = self.spec.branch.as_str();
        let target = &self.spec.target;
        let fail = |what: &str, error: &dyn Cause| self.failure(what, error);
        let group_kind = group::group_kind(self.spec.execute_after_merge);
        let group = self
            .tracking_group(backend, group_kind, instance_id)
            .instrument(tracing::trace_span!("tracking"))
            .await
            .map_err(|e| fail("tracking group", &e))?;

        let data = backend
            .query(
                branch,
                &self.spec.query_text,
                &Value::Object(self.spec.params.clone()),
            )
            .await
            .map_err(|e| fail(&format!("query `{}`", self.spec.query), &e))?;

        let request = RunRequest {
            generator: self.spec.generator.clone(),
            branch: branch.to_owned(),
            target: target.clone(),
            params: self.spec.params.clone(),
            data,
            limits: self.limits.clone(),
            writes: WritePolicy::owning(group.members.iter().map(|(id, _)| id.clone()))
                .granting(self.grants.clone()),
        };
        let outcome = match self
            .plugin
            .run(request, run_backend)
            .instrument(tracing::trace_span!("plugin_run"))
            .await
        {
            Ok(outcome) => outcome,
            Err(error) => {
                if !atomic && !error.written.is_empty() {
                    self.keep_failed_output(
                        backend,
                        group_kind,
                        &group,
                        instance_id,
                        &error.written,
                    )
                    .await;
                }
                return Err(Failure {
                    retryable: error.retryable(),
                    own_limit: error.own_limit(),
                    message: error.to_string(),
                    log: error.log,
                });
            }
        };

        let written: BTreeSet<&str> = outcome.written.iter().map(String::as_str).collect();
        let previous: BTreeSet<&str> = group.members.iter().map(|(id, _)| id.as_str()).collect();
        let deleted = self
            .reconcile(
                backend,
                &group,
                group_kind,
                &written,
                &outcome.written,
                instance_id,
            )
            .instrument(tracing::trace_span!("tracking"))
            .await?;

        let new = written.difference(&previous).count();
        let kept = written.intersection(&previous).count();
        Ok(TargetOutcome::Succeeded {
            written: outcome.written.len(),
            new,
            kept,
            deleted,
            stamps_changed: outcome.stamps.iter().filter(|stamp| stamp.changed).count(),
            stamps: outcome.stamps,
            output: outcome.written,
            checksum: outcome.checksum,
            log: outcome.log,
        })
    }

    /// After a successful run, the reconcile: deletes the members of the tracking group
    /// the run did not write again, then makes the group hold exactly what it wrote
    /// (`output`); how many it deleted.
    async fn reconcile(
        &self,
        backend: &dyn Backend,
        group: &TrackingGroup,
        group_kind: &str,
        written: &BTreeSet<&str>,
        output: &[String],
        instance_id: &str,
    ) -> Result<usize, Failure> {
        let branch = self.spec.branch.as_str();
        let fail = |what: &str, error: &dyn Cause| self.failure(what, error);
        let mut deleted = 0;
        for (id, kind) in &group.members {
            if written.contains(id.as_str()) {
                continue;
            }
            // A generator never owns a Core node; one in its group was put there by
            // someone else, and is not the reconcile's to delete.
            if let Some(reason) = WritePolicy::default().refuse_kind(kind) {
                tracing::warn!(generator = %self.spec.generator, %id, %kind, reason, "not deleting a member of the tracking group that no generator can own");
                continue;
            }
            if backend
                .delete_if_present(branch, kind, id)
                .await
                .map_err(|e| fail(&format!("deleting stale {kind} {id}"), &e))?
            {
                deleted += 1;
            }
        }
        self.set_tracking_group(backend, group_kind, &group.name, output.iter(), instance_id)
            .await
            .map_err(|e| fail("updating the tracking group", &e))?;
        Ok(deleted)
    }

    /// Reads this target's tracking group. The name was decided up front;
    /// if a group of that name exists but another generator instance
    /// subscribes to it (e.g. made before the target group changed), this
    /// target falls back to its per-target name rather than touch it.
    async fn tracking_group(
        &self,
        backend: &dyn Backend,
        kind: &str,
        instance_id: &str,
    ) -> Result<TrackingGroup, RunnerError> {
        let per_target = group::target_group_name(
            &self.spec.generator,
            &self.spec.params,
            &self.spec.target.id,
        );
        let mut name = self.spec.group_name.clone();
        loop {
            let found = backend
                .filters(
                    &self.spec.branch,
                    kind,
                    &json!({ "name__value": name }),
                    &["members".to_owned(), "subscribers".to_owned()],
                )
                .await
                .map_err(|error| {
                    RunnerError::backend(format!("reading tracking group `{name}`"), &error)
                })?;
            let Some(group) = found.into_iter().next() else {
                return Ok(TrackingGroup {
                    name,
                    members: Vec::new(),
                });
            };
            let subscribers = edge_ids(&group, "subscribers");
            if subscribers.is_empty() || subscribers.iter().any(|(id, _)| id == instance_id) {
                return Ok(TrackingGroup {
                    name,
                    members: edge_ids(&group, "members"),
                });
            }
            if name == per_target {
                return Err(RunnerError::Target(format!(
                    "tracking group `{name}` belongs to another generator instance"
                )));
            }
            name = per_target.clone();
        }
    }
}

fn edge_ids(node: &Value, relationship: &str) -> Vec<(String, String)> {
    node.pointer(&format!("/{relationship}/edges"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|edge| {
            let peer = edge.get("node")?;
            Some((
                peer.get("id")?.as_str()?.to_owned(),
                peer.get("__typename")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(params: Value) -> KnownTarget {
        KnownTarget::new(params.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn the_first_of_the_targets_sharing_infrahubs_group_name_keeps_it() {
        let targets = [
            target(json!({ "rack": "r1" })),
            target(json!({})),
            target(json!({ "rack": "r2" })),
            target(json!({ "rack": "r1" })),
            target(json!({})),
            target(json!({ "rack": "r2", "pod": "p1" })),
            target(json!({ "rack": "r1" })),
        ];
        assert_eq!(
            claims_infrahub_name(&targets),
            [true, true, true, false, false, true, false]
        );
        // What the claims stand for: the names, as made for every member one by one.
        let mut claimed = BTreeSet::new();
        let by_name: Vec<bool> = targets
            .iter()
            .map(|target| {
                claimed.insert(group::infrahub_group_name_hashed(
                    "generate-rack",
                    &target.params,
                    &target.hash,
                ))
            })
            .collect();
        assert_eq!(claims_infrahub_name(&targets), by_name);
    }
}
