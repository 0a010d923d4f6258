//! `InfrahubTask` and `InfrahubTaskBranchStatus`: Infrahub's task list, which clients poll
//! for the end of work they started (the SDK's `client.task.wait_for_completion`,
//! `infrahubctl task list`). Here the tasks are what this server does:
//!
//! - each generator run of the run history is a `generator-run` task (its target is its
//!   related node; its log, the run's captured log);
//! - each `CoreGeneratorDefinitionRun` is a `request-generator-definition-run` task (the
//!   definition is its related node), the id that mutation answers, kept by the server
//!   that ran it ([`TaskBook`], the newest [`TaskBook::CAPACITY`], in memory: a restart
//!   forgets them, not the runs).
//!
//! Like Infrahub, the list is newest first, `limit` 10 unless given, filtered by `ids`,
//! `branch`, `state`, `workflow`, `related_node__ids` and `q` (in the title). The answer
//! holds the fields the query selects, under their aliases.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use async_graphql_parser::types::{
    ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use infragen_store::{GraphqlRequest, RunFilter, RunRecord, RunStatus, Store};
use serde_json::{Map, Value, json};

use super::call;

/// The task list's field.
pub const TASKS: &str = "InfrahubTask";
/// The pending and running tasks of one branch.
pub const BRANCH_STATUS: &str = "InfrahubTaskBranchStatus";

/// The workflow of a generator run on one target (Infrahub's name).
const GENERATOR_RUN: &str = "generator-run";
/// The workflow of a `CoreGeneratorDefinitionRun` (Infrahub's name).
pub const DEFINITION_RUN_WORKFLOW: &str = "request-generator-definition-run";

/// Where a task stands, in Infrahub's (Prefect's) words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Queued, not started.
    Pending,
    /// Under way.
    Running,
    /// Ended well.
    Completed,
    /// Ended with an error.
    Failed,
    /// Its process went away before it ended.
    Crashed,
}

impl TaskState {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "PENDING",
            TaskState::Running => "RUNNING",
            TaskState::Completed => "COMPLETED",
            TaskState::Failed => "FAILED",
            TaskState::Crashed => "CRASHED",
        }
    }

    fn conclusion(self) -> &'static str {
        match self {
            TaskState::Completed => "success",
            TaskState::Failed | TaskState::Crashed => "failure",
            TaskState::Pending | TaskState::Running => "unknown",
        }
    }
}

impl From<RunStatus> for TaskState {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Queued => TaskState::Pending,
            RunStatus::Running => TaskState::Running,
            RunStatus::Succeeded => TaskState::Completed,
            RunStatus::Failed => TaskState::Failed,
            RunStatus::Interrupted => TaskState::Crashed,
        }
    }
}

/// One line of a task's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLog {
    /// `info`, `warning` or `error`.
    pub severity: &'static str,
    /// The text.
    pub message: String,
    /// When (milliseconds since the epoch).
    pub at_ms: i64,
}

/// One task, as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Its id (a UUID).
    pub id: String,
    /// What it does, for a person.
    pub title: String,
    /// Where it stands.
    pub state: TaskState,
    /// [`GENERATOR_RUN`] or [`DEFINITION_RUN_WORKFLOW`].
    pub workflow: &'static str,
    /// The branch it works on.
    pub branch: String,
    /// When it was created, last changed and started (milliseconds since the epoch).
    pub created_ms: i64,
    /// See `created_ms`.
    pub updated_ms: i64,
    /// See `created_ms`.
    pub started_ms: Option<i64>,
    /// Its inputs.
    pub parameters: Value,
    /// The nodes it is about: (id, kind; `None` where the kind is looked up when shown).
    pub related_nodes: Vec<(String, Option<String>)>,
    /// Its log.
    pub logs: Vec<TaskLog>,
}

/// The `CoreGeneratorDefinitionRun` tasks of a server, newest last.
#[derive(Default)]
pub struct TaskBook {
    tasks: Mutex<VecDeque<Task>>,
}

impl TaskBook {
    /// Tasks kept; the oldest go first.
    pub const CAPACITY: usize = 1_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Task>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `task` (replacing the one with its id).
    pub fn put(&self, task: Task) {
        let mut tasks = self.lock();
        tasks.retain(|kept| kept.id != task.id);
        if tasks.len() >= Self::CAPACITY {
            tasks.pop_front();
        }
        tasks.push_back(task);
    }

    /// Changes the task with id `id`, if it is kept.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Task)) {
        if let Some(task) = self.lock().iter_mut().find(|task| task.id == id) {
            change(task);
        }
    }

    /// Every task kept.
    pub fn all(&self) -> Vec<Task> {
        self.lock().iter().cloned().collect()
    }
}

/// The high half of a run's task id: the run record's number is the low half, so an id
/// asked for is a record to read.
const RUN_TASK_TAG: u64 = u64::from_be_bytes(*b"infragen");

/// The task id of run record `id`.
fn run_task_id(id: i64) -> String {
    uuid::Uuid::from_u64_pair(RUN_TASK_TAG, id as u64).to_string()
}

fn run_of_task_id(id: &str) -> Option<i64> {
    let (tag, record) = uuid::Uuid::parse_str(id).ok()?.as_u64_pair();
    (tag == RUN_TASK_TAG).then_some(record as i64)
}

/// Run record `run` as a task (with its captured log where the record holds it: a listing
/// of the history does not).
fn run_task(run: &RunRecord) -> Task {
    let at = run.finished_at.or(run.started_at).unwrap_or(run.queued_at);
    let log: Value = serde_json::from_str(&run.log).unwrap_or(Value::Null);
    let mut logs: Vec<TaskLog> = log
        .get("lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|line| TaskLog {
            // The plugin's levels in Infrahub's words (Python logging's).
            severity: match line.get("level").and_then(Value::as_str) {
                Some("trace" | "debug") => "debug",
                Some("warn") => "warning",
                Some("error") => "error",
                _ => "info",
            },
            message: line
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            at_ms: at,
        })
        .collect();
    if let Some(error) = &run.error {
        logs.push(TaskLog {
            severity: "error",
            message: error.clone(),
            at_ms: at,
        });
    }
    Task {
        id: run_task_id(run.id),
        title: format!("Run generator {} on {}", run.generator, run.target_label),
        state: run.status.into(),
        workflow: GENERATOR_RUN,
        branch: run.branch.clone(),
        created_ms: run.queued_at,
        updated_ms: at,
        started_ms: run.started_at,
        parameters: json!({
            "generator_definition": run.generator,
            "target_id": run.target,
            "target": run.target_label,
            "attempt": run.attempt,
        }),
        related_nodes: vec![(run.target.clone(), None)],
        logs,
    }
}

/// What a task list asks for.
#[derive(Debug, Default, PartialEq)]
struct Criteria {
    ids: Option<Vec<String>>,
    branch: Option<String>,
    states: Option<Vec<String>>,
    workflows: Option<Vec<String>>,
    related: Option<Vec<String>>,
    q: Option<String>,
    limit: usize,
    offset: usize,
}

impl Criteria {
    fn read(field: &str, arguments: &Map<String, Value>) -> Result<Criteria, String> {
        let strings = |name: &str| -> Result<Option<Vec<String>>, String> {
            match arguments.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("{field}: {name} lists strings"))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(Value::String(one)) => Ok(Some(vec![one.clone()])),
                Some(_) => Err(format!("{field}: {name} lists strings")),
            }
        };
        let number = |name: &str, default: usize| -> Result<usize, String> {
            match arguments.get(name) {
                None | Some(Value::Null) => Ok(default),
                Some(value) => value
                    .as_u64()
                    .map(|n| n as usize)
                    .ok_or_else(|| format!("{field}: {name} is a number of tasks, 0 or more")),
            }
        };
        let text = |name: &str| {
            arguments
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let mut criteria = Criteria {
            ids: strings("ids")?.filter(|ids| !ids.is_empty()),
            branch: text("branch"),
            states: strings("state")?.filter(|states| !states.is_empty()),
            workflows: strings("workflow")?.filter(|workflows| !workflows.is_empty()),
            related: strings("related_node__ids")?.filter(|ids| !ids.is_empty()),
            q: text("q").filter(|q| !q.is_empty()),
            limit: number("limit", 10)?,
            offset: number("offset", 0)?,
        };
        if field == BRANCH_STATUS {
            criteria.states = Some(vec!["PENDING".into(), "RUNNING".into()]);
            criteria.limit = usize::MAX;
        }
        Ok(criteria)
    }

    fn admits(&self, task: &Task) -> bool {
        let within = |list: &Option<Vec<String>>, value: &str| {
            list.as_ref()
                .is_none_or(|list| list.iter().any(|v| v == value))
        };
        within(&self.ids, &task.id)
            && self
                .branch
                .as_ref()
                .is_none_or(|branch| *branch == task.branch)
            && within(&self.states, task.state.as_str())
            && within(&self.workflows, task.workflow)
            && self.related.as_ref().is_none_or(|ids| {
                task.related_nodes
                    .iter()
                    .any(|(id, _)| ids.iter().any(|wanted| wanted == id))
            })
            && self
                .q
                .as_ref()
                .is_none_or(|q| task.title.to_lowercase().contains(&q.to_lowercase()))
    }

    /// The tasks it admits: how many, and the page its `offset` and `limit` ask for,
    /// newest first.
    ///
    /// Filtered by branch and workflow alone (a task list page by page, as `infrahubctl
    /// task list` reads it), a page costs what it shows: SQLite counts the runs, and only
    /// the newest `offset + limit` are read. Other filters look at every run they may
    /// admit.
    fn page(
        &self,
        store: &Store,
        book: Option<&TaskBook>,
    ) -> infragen_store::Result<(usize, Vec<Task>)> {
        let mut tasks: Vec<Task> = book.map(TaskBook::all).unwrap_or_default();
        tasks.retain(|task| self.admits(task));
        let mut count = tasks.len();
        let by_history = self.ids.is_none()
            && self.states.is_none()
            && self.q.is_none()
            && self.related.is_none();
        if by_history {
            if self.includes_runs() {
                let filter = RunFilter {
                    branch: self.branch.clone(),
                    limit: Some(self.offset.saturating_add(self.limit)),
                    ..RunFilter::default()
                };
                count += store.count_runs(&filter)?;
                tasks.extend(store.runs(&filter)?.iter().map(run_task));
            }
        } else {
            let runs: Vec<Task> = self.runs(store)?.iter().map(run_task).collect();
            tasks.extend(runs.into_iter().filter(|task| self.admits(task)));
            count = tasks.len();
        }
        // Newest first. Within one millisecond a definition run is older than the runs it
        // started, and runs follow their record numbers (their ids' order).
        let age = |task: &Task| (task.created_ms, task.workflow == GENERATOR_RUN);
        tasks.sort_by(|a, b| age(b).cmp(&age(a)).then(b.id.cmp(&a.id)));
        let page = tasks
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        Ok((count, page))
    }

    /// Whether its workflows include generator runs.
    fn includes_runs(&self) -> bool {
        self.workflows
            .as_ref()
            .is_none_or(|workflows| workflows.iter().any(|w| w == GENERATOR_RUN))
    }

    /// The run records that may be tasks it admits: by id where ids are given, else the
    /// history (of the branch, of the targets named), newest first.
    fn runs(&self, store: &Store) -> infragen_store::Result<Vec<RunRecord>> {
        if !self.includes_runs() {
            return Ok(Vec::new());
        }
        if let Some(ids) = &self.ids {
            let mut runs = Vec::new();
            for record in ids.iter().filter_map(|id| run_of_task_id(id)) {
                runs.extend(store.run_record(record)?);
            }
            return Ok(runs);
        }
        let filter = |target: Option<&String>| RunFilter {
            branch: self.branch.clone(),
            target: target.cloned(),
            ..RunFilter::default()
        };
        match &self.related {
            None => store.runs(&filter(None)),
            Some(targets) => {
                let mut runs = Vec::new();
                for target in targets {
                    runs.extend(store.runs(&filter(Some(target)))?);
                }
                Ok(runs)
            }
        }
    }
}

/// The task-list call `request` makes, when its operation is a query of `InfrahubTask` or
/// `InfrahubTaskBranchStatus` alone; an error when it is malformed or mixed with other
/// fields; `None` for any other document.
pub(super) fn task_list(request: &GraphqlRequest) -> Option<Result<TaskList, String>> {
    let document = call::parsed(request, TASKS)?;
    let operation = call::operation(&document, request, OperationType::Query)?;
    let field = match call::only_field(operation, &[TASKS, BRANCH_STATUS])? {
        Ok(field) => field,
        Err(message) => return Some(Err(message)),
    };
    let name = field.name.node.to_string();
    let criteria = call::arguments(field, request.variables.as_ref())
        .and_then(|arguments| Criteria::read(&name, &arguments));
    let (key, field) = (call::key(field), field.clone());
    let variables = match &request.variables {
        Some(Value::Object(variables)) => variables.clone(),
        _ => Map::new(),
    };
    Some(criteria.map(|criteria| TaskList {
        key,
        criteria,
        field,
        document,
        variables,
    }))
}

/// A task-list call, read from a request.
pub(super) struct TaskList {
    key: String,
    criteria: Criteria,
    field: Field,
    /// The document (its fragments) and variables (its directives) the field is read with.
    document: ExecutableDocument,
    variables: Map<String, Value>,
}

impl TaskList {
    /// `whole` (the list's answer with every field) as the answer to what the call selects.
    fn project(&self, whole: &Value) -> Value {
        infragen_store::graphql::project_value(
            &self.document,
            &self.field.selection_set.node,
            &self.variables,
            whole,
            "Tasks",
            &task_type,
        )
        .into_value()
    }
}

/// The type of the objects of a task list's field `name`.
fn task_type(name: &str) -> &'static str {
    match name {
        "edges" => "TaskNodeEdge",
        "node" => "Task",
        "logs" => "TaskLogEdges",
        "related_nodes" => "RelatedNode",
        _ => "Object",
    }
}

/// Answers `list` from the run history of `store` and the definition runs `book` holds.
pub(super) fn answer(store: &Store, book: Option<&TaskBook>, list: &TaskList) -> Value {
    let criteria = &list.criteria;
    let (count, mut page) = match criteria.page(store, book) {
        Ok(found) => found,
        Err(error) => {
            return json!({"data": null, "errors": [{"message": error.to_string(), "path": [list.key]}]});
        }
    };
    if selects(&list.field.selection_set.node, &["logs"]) {
        // The history's listing leaves logs out: the page's runs are read whole.
        for task in &mut page {
            if let Some(Ok(Some(run))) = run_of_task_id(&task.id).map(|id| store.run_record(id)) {
                *task = run_task(&run);
            }
        }
    }
    let kinds = kinds_of(store, &page, &list.field.selection_set.node);
    let nodes: Vec<Value> = page
        .iter()
        .map(|task| json!({"node": task_value(task, &kinds)}))
        .collect();
    let whole = json!({"count": count, "edges": nodes});
    let mut data = Map::new();
    data.insert(list.key.clone(), list.project(&whole));
    json!({ "data": data })
}

/// The kinds of the related nodes `page` shows, where the selection shows kinds, looked up
/// on each task's branch (a node deleted since is shown as `CoreNode`).
fn kinds_of(store: &Store, page: &[Task], selection: &SelectionSet) -> BTreeMap<String, String> {
    let mut kinds = BTreeMap::new();
    if !selects(selection, &["related_node_kind", "related_nodes"]) {
        return kinds;
    }
    let mut by_branch: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for task in page {
        for (id, kind) in &task.related_nodes {
            match kind {
                Some(kind) => {
                    kinds.insert(id.clone(), kind.clone());
                }
                None => by_branch.entry(&task.branch).or_default().push(id),
            }
        }
    }
    for (branch, ids) in by_branch {
        let mut request = GraphqlRequest::new(
            "query ($ids: [ID]) { CoreNode(ids: $ids) { edges { node { id __typename } } } }",
        );
        request.variables = Some(json!({ "ids": ids }));
        let answer = store.execute_blocking(branch, &request);
        for edge in answer
            .pointer("/data/CoreNode/edges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(id), Some(kind)) = (
                edge.pointer("/node/id").and_then(Value::as_str),
                edge.pointer("/node/__typename").and_then(Value::as_str),
            ) {
                kinds.insert(id.to_owned(), kind.to_owned());
            }
        }
    }
    kinds
}

/// Whether `selection` asks for a field named one of `names`, at any depth.
fn selects(selection: &SelectionSet, names: &[&str]) -> bool {
    selection.items.iter().any(|item| match &item.node {
        Selection::Field(field) => {
            names.contains(&field.node.name.node.as_str())
                || selects(&field.node.selection_set.node, names)
        }
        Selection::InlineFragment(fragment) => selects(&fragment.node.selection_set.node, names),
        Selection::FragmentSpread(_) => false,
    })
}

fn time(ms: i64) -> String {
    infragen_store::clock::rfc3339(ms.div_euclid(1000))
}

/// Every field a task shows.
fn task_value(task: &Task, kinds: &BTreeMap<String, String>) -> Value {
    let related: Vec<Value> = task
        .related_nodes
        .iter()
        .map(|(id, kind)| {
            let kind = kind
                .clone()
                .or_else(|| kinds.get(id).cloned())
                .unwrap_or_else(|| "CoreNode".to_owned());
            json!({"id": id, "kind": kind})
        })
        .collect();
    let logs: Vec<Value> = task
        .logs
        .iter()
        .enumerate()
        .map(|(n, log)| {
            json!({"node": {
                "id": format!("{}-{n}", task.id),
                "message": log.message,
                "severity": log.severity,
                "timestamp": time(log.at_ms),
            }})
        })
        .collect();
    json!({
        "__typename": "Task",
        "id": task.id,
        "title": task.title,
        "state": task.state.as_str(),
        "conclusion": task.state.conclusion(),
        "progress": null,
        "workflow": task.workflow,
        "branch": task.branch,
        "created_at": time(task.created_ms),
        "updated_at": time(task.updated_ms),
        "start_time": task.started_ms.map(time),
        "parameters": task.parameters,
        "tags": [],
        "related_node": related.first().map(|node| node["id"].clone()),
        "related_node_kind": related.first().map(|node| node["kind"].clone()),
        "related_nodes": related,
        "logs": {"count": logs.len(), "edges": logs},
        "available_actions": [],
        "error": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(query: &str, variables: Value) -> Result<TaskList, String> {
        let mut request = GraphqlRequest::new(query);
        request.variables = Some(variables);
        task_list(&request).expect("a task list")
    }

    fn task(id: &str, state: TaskState, created_ms: i64) -> Task {
        Task {
            id: id.to_owned(),
            title: format!("Run generator g on {id}"),
            state,
            workflow: GENERATOR_RUN,
            branch: "main".into(),
            created_ms,
            updated_ms: created_ms + 1000,
            started_ms: Some(created_ms),
            parameters: json!({}),
            related_nodes: vec![(format!("node-{id}"), Some("TestThing".into()))],
            logs: vec![TaskLog {
                severity: "info",
                message: "hello".into(),
                at_ms: created_ms,
            }],
        }
    }

    #[test]
    fn a_run_is_a_task_with_its_log_in_infrahubs_severities_and_its_error_last() {
        let run = RunRecord {
            id: 7,
            branch: "br1".into(),
            generator: "generate-rack".into(),
            target: "rack-id".into(),
            target_label: "Rack-A1-1".into(),
            status: RunStatus::Failed,
            causes: "[]".into(),
            attempt: 2,
            owner: "1@host".into(),
            covers: None,
            queued_at: 1_700_000_000_000,
            started_at: Some(1_700_000_001_000),
            finished_at: Some(1_700_000_002_000),
            created: None,
            kept: None,
            deleted: None,
            updated: None,
            error: Some("pod Pod-A1 is not fully generated".into()),
            log: json!({"lines": [
                {"level": "debug", "message": "d"},
                {"level": "info", "message": "i"},
                {"level": "warn", "message": "w"},
                {"level": "error", "message": "e"},
            ], "bytes": 4, "truncated": false})
            .to_string(),
        };
        let task = run_task(&run);
        assert_eq!(task.id, run_task_id(7));
        assert_eq!(task.title, "Run generator generate-rack on Rack-A1-1");
        assert_eq!(task.state, TaskState::Failed);
        assert_eq!(
            (task.created_ms, task.started_ms, task.updated_ms),
            (
                1_700_000_000_000,
                Some(1_700_000_001_000),
                1_700_000_002_000
            )
        );
        assert_eq!(task.related_nodes, [("rack-id".to_owned(), None)]);
        assert_eq!(
            task.logs
                .iter()
                .map(|log| (log.severity, log.message.as_str(), log.at_ms))
                .collect::<Vec<_>>(),
            [
                ("debug", "d", 1_700_000_002_000),
                ("info", "i", 1_700_000_002_000),
                ("warning", "w", 1_700_000_002_000),
                ("error", "e", 1_700_000_002_000),
                (
                    "error",
                    "pod Pod-A1 is not fully generated",
                    1_700_000_002_000
                ),
            ]
        );
    }

    #[test]
    fn a_run_task_id_names_its_record_and_nothing_else_does() {
        let id = run_task_id(42);
        assert_eq!(id, "696e6672-6167-656e-0000-00000000002a");
        assert_eq!(run_of_task_id(&id), Some(42));
        assert_eq!(run_of_task_id(&uuid::Uuid::new_v4().to_string()), None);
        assert_eq!(run_of_task_id("not a uuid"), None);
    }

    #[test]
    fn the_criteria_are_read_from_literals_and_variables_with_infrahubs_defaults() {
        let call = list(
            "query($ids: [String]) { InfrahubTask(ids: $ids, state: [RUNNING, COMPLETED], \
             workflow: [\"generator-run\"], offset: 5) { count } }",
            json!({"ids": ["a", "b"]}),
        )
        .unwrap();
        assert_eq!(
            call.criteria,
            Criteria {
                ids: Some(vec!["a".into(), "b".into()]),
                states: Some(vec!["RUNNING".into(), "COMPLETED".into()]),
                workflows: Some(vec!["generator-run".into()]),
                limit: 10,
                offset: 5,
                ..Criteria::default()
            }
        );
        let status = list(
            "{ InfrahubTaskBranchStatus(branch: \"b1\") { count } }",
            Value::Null,
        )
        .unwrap();
        assert_eq!(status.criteria.branch.as_deref(), Some("b1"));
        assert_eq!(
            status.criteria.states,
            Some(vec!["PENDING".into(), "RUNNING".into()])
        );
        assert_eq!(
            list("{ InfrahubTask(limit: -1) { count } }", Value::Null).err(),
            Some("InfrahubTask: limit is a number of tasks, 0 or more".into())
        );
        assert_eq!(
            list("{ InfrahubTask { count } Branch { name } }", Value::Null).err(),
            Some("InfrahubTask must be the only field of its query here".into())
        );
        let mut other = GraphqlRequest::new("{ BuiltinTag { count } }");
        other.variables = None;
        assert!(task_list(&other).is_none());
    }

    #[test]
    fn a_task_shows_the_fields_selected_under_their_aliases() {
        let call = list(
            "{ InfrahubTask { total: count edges { node { id state when: created_at \
             related_nodes { id kind } logs { edges { node { message severity } } } \
             ... on WebhookDeliveryTask { http_request { url } } \
             ... on Task { workflow } } } } }",
            Value::Null,
        )
        .unwrap();
        let whole = json!({"count": 1, "edges": [{"node": task_value(&task("t1", TaskState::Completed, 1_700_000_000_000), &BTreeMap::new())}]});
        assert_eq!(
            call.project(&whole),
            json!({"total": 1, "edges": [{"node": {
                "id": "t1",
                "state": "COMPLETED",
                "when": "2023-11-14T22:13:20Z",
                "related_nodes": [{"id": "node-t1", "kind": "TestThing"}],
                "logs": {"edges": [{"node": {"message": "hello", "severity": "info"}}]},
                "workflow": "generator-run",
            }}]})
        );
    }

    #[test]
    fn criteria_filter_by_every_field_they_name() {
        let tasks = [
            task("t1", TaskState::Completed, 1),
            task("t2", TaskState::Running, 2),
        ];
        let admitted = |criteria: Criteria| -> Vec<&str> {
            tasks
                .iter()
                .filter(|task| criteria.admits(task))
                .map(|task| task.id.as_str())
                .collect()
        };
        assert_eq!(admitted(Criteria::default()), ["t1", "t2"]);
        assert_eq!(
            admitted(Criteria {
                states: Some(vec!["RUNNING".into()]),
                ..Criteria::default()
            }),
            ["t2"]
        );
        assert_eq!(
            admitted(Criteria {
                related: Some(vec!["node-t1".into()]),
                ..Criteria::default()
            }),
            ["t1"]
        );
        assert_eq!(
            admitted(Criteria {
                q: Some("ON T2".into()),
                ..Criteria::default()
            }),
            ["t2"]
        );
        assert!(
            admitted(Criteria {
                branch: Some("b1".into()),
                ..Criteria::default()
            })
            .is_empty()
        );
        assert!(
            admitted(Criteria {
                workflows: Some(vec![DEFINITION_RUN_WORKFLOW.into()]),
                ..Criteria::default()
            })
            .is_empty()
        );
    }
}
