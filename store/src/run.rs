//! Atomic generator runs: everything a run writes commits when it succeeds, and none of it
//! when it fails.
//!
//! A [`RunTransaction`] keeps the run's writes in memory — a transaction (the graph's
//! `Tx`) suspended between the run's operations — and writes them to
//! SQLite in one transaction at [`RunTransaction::commit`], on the store's connection.
//! Until then the run reads one snapshot of the store, taken when it began, on a
//! connection of its own (the store's `snapshot` module): each operation resumes the
//! transaction on it, so the run reads its own writes over a state nobody else changes
//! under it, and other readers (other runs' queries, `infragen serve`'s clients) never
//! wait for a run, nor for its operations. A run that fails — an error, a trap, its
//! deadline, a refusal — is dropped, and the store is exactly as it was: its nodes, its
//! deletes, its stamps and its pool allocations (which are then free again) never existed.
//!
//! **Isolation.** A run holds the store's write turn ([`Store::write_turn`]) from
//! [`Store::begin_run`] to its end, so two runs of one process never interleave their
//! writes: each is computed on a state no other run changes, and a pool never hands the
//! same prefix to two of them. A run that holds the turn idle — its plugin spinning,
//! sleeping or computing between two host calls — while another writer waits longer than
//! its allowance loses it (see the store's `turn` module): the others go on, and the idle
//! run fails with [`StoreError::RunConflict`] at its next operation. Whoever writes without
//! the turn — another process, or a caller of the store that does not take it — changes
//! the store's generation; the run notices at its next operation or its commit and fails
//! with [`StoreError::RunConflict`], having written nothing, to be run again on the new
//! state.
//!
//! **Cost.** One SQLite commit per run instead of one per write, and the run's reads of
//! nodes it already read come from its own state.

use crate::api::{self, Allocated, PoolKind, Written};
use crate::engine::WriteOp;
use crate::error::{Result, StoreError};
use crate::graph::{CacheUse, Checkpoint, Staged, Tx};
use crate::graphql::query::{QueryBudget, Resolver};
use crate::graphql::types::{self, Ty};
use crate::graphql::{self, Answer, GqlError, GraphqlRequest, error_response, mutation};
use crate::persistence::check_branch;
use crate::schema::Schema;
use crate::snapshot::RunSnapshot;
use crate::store::Store;
use crate::turn::TurnGuard;
use async_graphql_parser::types::OperationType;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};

/// A generator run's writes, kept out of the store until the run succeeds.
pub struct RunTransaction {
    store: Store,
    branch: String,
    /// The schema the run started with; a schema load during the run is a conflict.
    schema: Arc<Schema>,
    /// The store's generation when the run started (see [`Store::write_turn`]).
    generation: u64,
    state: Mutex<State>,
    /// The store as the run reads it (`None`: an in-memory store, read on the store's
    /// connection at each operation).
    snapshot: Option<RunSnapshot>,
}

enum State {
    Open {
        staged: Box<Staged>,
        /// Given back when the run commits or is dropped, or lost to a writer that waited
        /// while the run was idle (see [`crate::turn`]).
        turn: TurnGuard,
        /// Where the last request sent with [`RunTransaction::execute_holding`] started:
        /// its writes are undone by [`RunTransaction::undo_held`], and kept by the run's
        /// next write.
        held: Option<Checkpoint>,
    },
    /// Committed or abandoned; says which.
    Over(&'static str),
}

/// What one operation of a run did to one node: what a caller's check
/// ([`RunTransaction::write_node_checked`]) decides on before the operation is kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriteEffect {
    /// The node.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Whether it is the node the operation named (the one written, deleted or whose
    /// relationship was edited), rather than one changed along with it: the other side of
    /// a relationship, a node deleted by cascade, a node created from a template.
    pub target: bool,
    /// Whether the run created it (in this operation or an earlier one).
    pub created: bool,
    /// Whether the operation deleted it.
    pub deleted: bool,
    /// The attributes the operation changed.
    pub attributes: Vec<String>,
    /// The relationships the operation changed (a relationship once per change).
    pub relationships: Vec<String>,
    /// Whether the operation wrote rows of a branch-agnostic node that every branch
    /// shares (its creation, its deletion, a field that is not branch-aware): a write
    /// that reaches every branch, whichever the run is on.
    pub branch_agnostic: bool,
    /// Its `name` attribute, when it has one (groups are granted by name).
    pub name: Option<String>,
    /// The generator tracking groups it is a member of: who owns it (none for a design
    /// object). Not looked up for a node the run created (`created`), which is the run's.
    pub owners: Vec<String>,
}

/// A caller's verdict on one [`WriteEffect`]: `Err` with the reason refuses the whole
/// operation.
pub type WriteCheck<'a> = &'a (dyn Fn(&WriteEffect) -> std::result::Result<(), String> + Sync);

/// What a committed run changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCommitted {
    /// Nodes created, updated or deleted (one change event each).
    pub nodes_changed: usize,
}

impl Store {
    /// Starts a run on `branch`: waits for the write turn, which the run then holds until
    /// it is committed or dropped (see [`crate::run`]), unless it loses it by holding it
    /// idle while another writer waits ([`Store::set_run_idle_allowance`]).
    pub async fn begin_run(&self, branch: &str) -> Result<RunTransaction> {
        self.begin_rerun(branch, 1).await
    }

    /// [`Store::begin_run`] for the `attempt`th time (from 1): each attempt may hold the
    /// turn idle four times as long as the one before, so that a run preempted by a slow
    /// machine rather than by its own stalling succeeds when run again.
    pub async fn begin_rerun(&self, branch: &str, attempt: u32) -> Result<RunTransaction> {
        let factor = 4u32.saturating_pow(attempt.saturating_sub(1).min(8));
        let idle = self.run_idle_allowance() * factor;
        let turn = self.run_turn(idle).await;
        // What other processes committed before the run began is picked up first (the
        // branch check reads through the store's connection, which notices them): the
        // run reads after them, so they are no conflict. Only then the generation: a
        // change noticed after it, even to the schema read next, is one.
        self.read_op(|conn, _| check_branch(conn, branch))?;
        let generation = self.generation();
        let schema = self.schema();
        // The snapshot begins after both are noted: a change before it is in it, one after
        // it is a conflict. Let go when the run is idle as long as it may be before losing
        // the turn to a waiting writer.
        let epoch = self.cache().reader_epoch();
        let snapshot = RunSnapshot::begin(self, epoch, idle)?;
        Ok(RunTransaction {
            store: self.clone(),
            branch: branch.to_owned(),
            schema,
            generation,
            state: Mutex::new(State::Open {
                staged: Box::new(Staged::new(branch, "live")),
                turn,
                held: None,
            }),
            snapshot,
        })
    }
}

impl RunTransaction {
    /// The branch the run writes on.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// Whether someone else changed the store since the run started, or the run lost its
    /// write turn: its next operation and its commit will fail with
    /// [`StoreError::RunConflict`].
    pub fn outdated(&self) -> bool {
        let preempted = match &*self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            State::Open { turn, .. } => turn.preempted(),
            State::Over(_) => false,
        };
        preempted || self.store.generation() != self.generation
    }

    /// Fails when someone else changed the store since the run started.
    fn check_unchanged(&self) -> Result<()> {
        if self.store.generation() != self.generation {
            return Err(changed_during_run(&self.store));
        }
        Ok(())
    }

    /// The error of an operation after the run lost its turn.
    fn preempted(&self) -> StoreError {
        StoreError::RunConflict(format!(
            "the run held the write turn of `{}` without using it while another writer waited, and lost it",
            self.store.path()
        ))
    }

    /// Runs `f` on the run's transaction, resumed on its snapshot. What `f` writes stays in
    /// the run when it succeeds; when it fails, the run is as it was.
    fn with_tx<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.with_tx_since(|tx, _| f(tx))
    }

    /// Runs the read `f` on the run's transaction, resumed on its snapshot. A long query
    /// holds up neither other readers nor the store's connection (the snapshot is on a
    /// connection of its own), and does not count as using the write turn, so a run that
    /// only reads while another writer waits loses the turn as an idle one does.
    fn with_tx_read<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (staged, turn, _) = open(&mut state)?;
        if turn.preempted() {
            return Err(self.preempted());
        }
        self.read(|conn, using| self.resumed(conn, staged, using, None, |tx, _| f(tx)))
    }

    /// [`RunTransaction::with_tx`], with `f` given the checkpoint the operation started
    /// at (what it did since is [`Tx::effects_since`] that checkpoint).
    fn with_tx_since<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx<'_>, &Checkpoint) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.write_op(Held::Accept, f)
    }

    /// A write on the run's transaction: [`RunTransaction::with_tx_since`], which first
    /// keeps what the last held request wrote, or (`Held::Keep`) part of the request
    /// being held, which leaves it undoable.
    fn write_op<T, E: From<StoreError>>(
        &self,
        held: Held,
        f: impl FnOnce(&mut Tx<'_>, &Checkpoint) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (staged, turn, kept) = open(&mut state)?;
        let _op = turn.enter().map_err(|_| self.preempted())?;
        let accept = match held {
            Held::Accept => Some(kept),
            Held::Keep => None,
        };
        self.read(|conn, using| self.resumed(conn, staged, using, accept, f))
    }

    /// Runs `f` on the run's transaction resumed on `conn`, where it may change the
    /// held checkpoint: [`RunTransaction::hold`] and [`RunTransaction::undo_held`].
    fn on_held<T>(&self, f: impl FnOnce(&mut Tx<'_>, &mut Option<Checkpoint>) -> T) -> Result<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (staged, turn, held) = open(&mut state)?;
        let _op = turn.enter().map_err(|_| self.preempted())?;
        self.read(|conn, using| self.on_staged(conn, staged, using, |tx| Ok(f(tx, held))))
    }

    /// `f` on the run's snapshot, or where it has none (an in-memory store), in a read
    /// transaction of its own on the store's connection.
    fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&rusqlite::Connection, CacheUse) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        match &self.snapshot {
            Some(snapshot) => snapshot.read(&self.store, f),
            None => self.store.read_op(|conn, _current| f(conn, CacheUse::Own)),
        }
    }

    /// Runs `f` on the run's transaction resumed on `conn` (through the node cache as
    /// `using` says), and suspends it again, whatever `f` did to it.
    fn on_staged<T, E: From<StoreError>>(
        &self,
        conn: &rusqlite::Connection,
        staged: &mut Box<Staged>,
        using: CacheUse,
        f: impl FnOnce(&mut Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.check_unchanged()?;
        let taken = std::mem::replace(&mut **staged, Staged::new(&self.branch, "live"));
        let mut tx = Tx::resume(conn, &self.schema, taken).cached_as(self.store.cache(), using);
        let out = f(&mut tx);
        **staged = tx.suspend();
        out
    }

    /// Starts holding: what the run writes from now until its next ordinary write can be
    /// undone at once ([`RunTransaction::undo_held`]). What an earlier hold covered is kept.
    fn hold(&self) -> Result<()> {
        self.on_held(|tx, held| {
            if let Some(kept) = held.take() {
                tx.release(kept);
            }
            *held = Some(tx.checkpoint());
        })
    }

    /// Undoes everything the last request sent with [`RunTransaction::execute_holding`]
    /// wrote, when nothing was written since; `false` when there was nothing held (the
    /// run wrote again since, which kept it).
    pub fn undo_held(&self) -> Result<bool> {
        self.on_held(|tx, held| match held.take() {
            Some(checkpoint) => {
                tx.rollback_to(checkpoint);
                true
            }
            None => false,
        })
    }

    /// Runs `f` on the run's transaction resumed on `conn` (through the node cache as
    /// `using` says), keeping what it did when it succeeds and undoing it when it fails.
    /// `accept`: the held checkpoint, kept (released) before `f` writes.
    fn resumed<T, E: From<StoreError>>(
        &self,
        conn: &rusqlite::Connection,
        staged: &mut Box<Staged>,
        using: CacheUse,
        accept: Option<&mut Option<Checkpoint>>,
        f: impl FnOnce(&mut Tx<'_>, &Checkpoint) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.on_staged(conn, staged, using, |tx| {
            if let Some(kept) = accept.and_then(Option::take) {
                tx.release(kept);
            }
            let checkpoint = tx.checkpoint();
            let out = f(tx, &checkpoint).and_then(|value| match tx.take_failure() {
                Some(failure) => Err(failure.into()),
                None => Ok(value),
            });
            match out {
                Ok(_) => tx.release(checkpoint),
                Err(_) => tx.rollback_to(checkpoint),
            }
            out
        })
    }

    /// Runs `f` like [`RunTransaction::with_tx`], then shows `check` what it did to each
    /// node; the first refusal undoes the operation (as any error does) and is its error
    /// ([`StoreError::Refused`]).
    fn with_checked_tx<T>(
        &self,
        target: impl Fn(&T) -> Option<String>,
        check: WriteCheck<'_>,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.with_tx_since(|tx, checkpoint| {
            let value = f(tx)?;
            let target = target(&value);
            for effect in tx.effects_since(checkpoint, target.as_deref()) {
                check(&effect).map_err(StoreError::Refused)?;
            }
            Ok(value)
        })
    }

    /// [`RunTransaction::write_node`], kept only if `check` accepts what it did to every
    /// node it changed. `target` names the node a delete names (a write's target is the
    /// node written).
    pub fn write_node_checked(
        &self,
        kind: &str,
        op: WriteOp,
        data: &Value,
        check: WriteCheck<'_>,
    ) -> Result<Option<Written>> {
        let deleted = data.get("id").and_then(Value::as_str).map(str::to_owned);
        self.with_checked_tx(
            |written: &Option<Written>| {
                written
                    .as_ref()
                    .map(|w| w.id.clone())
                    .or_else(|| deleted.clone())
            },
            check,
            |tx| api::write_node(tx, kind, op, data),
        )
    }

    /// Sets attribute `attribute` of node `id` (a `kind`, or a kind inheriting it) to
    /// `value` when it holds another, kept only if `check` accepts what that did (node `id`
    /// is the target): `None` when there is no such node, else whether the value changed.
    /// An unchanged value writes nothing, so `check` is shown nothing.
    ///
    /// One operation where a read and then a write would be two: a generator stamps one
    /// attribute of many nodes (each interface's status), and each operation resumes the
    /// run on a connection and suspends it again.
    pub fn stamp_checked(
        &self,
        kind: &str,
        id: &str,
        attribute: &str,
        value: &Value,
        check: WriteCheck<'_>,
    ) -> Result<Option<bool>> {
        self.with_checked_tx(
            |_: &Option<bool>| Some(id.to_owned()),
            check,
            |tx| api::stamp(tx, kind, id, attribute, value),
        )
    }

    /// [`RunTransaction::edit_relationship`], kept only if `check` accepts what it did to
    /// every node it changed (node `id` is the target).
    pub fn edit_relationship_checked(
        &self,
        id: &str,
        name: &str,
        peers: &[String],
        add: bool,
        check: WriteCheck<'_>,
    ) -> Result<()> {
        self.with_checked_tx(
            |_: &()| Some(id.to_owned()),
            check,
            |tx| api::edit_relationship(tx, id, name, peers, add),
        )
    }

    /// [`RunTransaction::allocate`], kept only if `check` accepts what it did to every node
    /// it changed (the allocated node is the target).
    pub fn allocate_checked(
        &self,
        pool: PoolKind,
        input: &Value,
        check: WriteCheck<'_>,
    ) -> Result<Allocated> {
        let path = self.store.path().to_owned();
        self.with_checked_tx(
            |allocated: &Allocated| Some(allocated.id.clone()),
            check,
            |tx| api::allocate(tx, pool, input, &path),
        )
    }

    /// [`Store::write_node`], inside the run.
    pub fn write_node(&self, kind: &str, op: WriteOp, data: &Value) -> Result<Option<Written>> {
        self.with_tx(|tx| api::write_node(tx, kind, op, data))
    }

    /// [`Store::edit_relationship`], inside the run.
    pub fn edit_relationship(
        &self,
        id: &str,
        name: &str,
        peers: &[String],
        add: bool,
    ) -> Result<()> {
        self.with_tx(|tx| api::edit_relationship(tx, id, name, peers, add))
    }

    /// [`Store::allocate`], inside the run: the resource is the run's until it commits,
    /// and free again if it does not.
    pub fn allocate(&self, pool: PoolKind, input: &Value) -> Result<Allocated> {
        let path = self.store.path().to_owned();
        self.with_tx(|tx| api::allocate(tx, pool, input, &path))
    }

    /// [`Store::nodes`], as the run sees them: the store with the run's writes.
    pub fn nodes(
        &self,
        kind: &str,
        filters: &Map<String, Value>,
        include: &[String],
    ) -> Result<Vec<Value>> {
        self.with_tx_read(|tx| api::nodes(tx, kind, filters, include))
    }

    /// The value of attribute `attribute` of node `id` as the run sees it (see
    /// [`Store::attribute_value`]).
    pub fn attribute_value(&self, kind: &str, id: &str, attribute: &str) -> Result<Option<Value>> {
        self.with_tx_read(|tx| api::attribute_value(tx, kind, id, attribute))
    }

    /// [`RunTransaction::nodes`] as JSON text, one object per node.
    pub fn nodes_json(
        &self,
        kind: &str,
        filters: &Map<String, Value>,
        include: &[String],
    ) -> Result<Vec<String>> {
        self.with_tx_read(|tx| api::nodes_json(tx, kind, filters, include))
    }

    /// A GraphQL request, as the run sees the store: a query reads the store with the run's
    /// writes, stopped with `LIMIT_EXCEEDED` when `budget` runs out; a mutation's fields
    /// write into the run, each kept when it succeeds and undone when it fails, as
    /// [`Store::execute`] commits or drops each. The branch API's mutations (a branch
    /// created, merged or deleted) are not part of a run and are refused.
    pub fn execute(&self, request: &GraphqlRequest, budget: Option<QueryBudget>) -> Value {
        self.answer(request, budget).into_value()
    }

    /// [`RunTransaction::execute`], the response as the query shapes it: each object's
    /// fields in selection order (see [`Store::answer`]).
    pub fn answer(&self, request: &GraphqlRequest, budget: Option<QueryBudget>) -> Answer {
        self.execute_answering(request, budget, Held::Accept, &mut |tx, _, doc, vars, f| {
            mutation::answer_field(tx, doc, vars, f)
        })
    }

    /// [`RunTransaction::execute`], each mutation field written as `held` says and answered
    /// by `answer` (given the field's checkpoint).
    fn execute_answering(
        &self,
        request: &GraphqlRequest,
        budget: Option<QueryBudget>,
        held: Held,
        answer: &mut FieldAnswer<'_>,
    ) -> Answer {
        let doc = match graphql::parse(request) {
            Ok(doc) => doc,
            Err(response) => return response,
        };
        let prepared = match graphql::prepare(&doc, request) {
            Ok(prepared) => prepared,
            Err(response) => return response,
        };
        let root = match prepared.ty {
            OperationType::Query => Ty::Query,
            OperationType::Mutation => Ty::Mutation,
            OperationType::Subscription => {
                return error_response(&[GqlError::msg("Subscriptions are not supported.")]);
            }
        };
        let errors = types::validate(&self.schema, &doc, root, prepared.selection);
        if !errors.is_empty() {
            return error_response(&errors);
        }
        if prepared.ty == OperationType::Mutation {
            if let Held::Keep = held
                && let Err(error) = self.hold()
            {
                return error_response(&[GqlError::from(error)]);
            }
            return mutation::answer_mutation(&doc, &prepared, |f| {
                let name = f.node.name.node.as_str();
                if types::BRANCH_MUTATIONS.contains(&name) {
                    return Err(GqlError::msg(format!(
                        "{name} is not part of a run: branches are created, merged and deleted outside it"
                    ))
                    .with_code(crate::ErrorCode::BadRequest));
                }
                self.write_op(held, |tx, checkpoint| {
                    answer(tx, checkpoint, &doc, &prepared.vars, f)
                })
            });
        }
        let answered = self.with_tx_read(|tx| {
            let mut resolver = Resolver::new(tx, &doc, &prepared.vars);
            if let Some(budget) = budget {
                resolver = resolver.with_budget(budget);
            }
            let data = resolver.query_root(prepared.selection);
            Ok(resolver.respond(data))
        });
        answered.unwrap_or_else(|error| error_response(&[GqlError::from(error)]))
    }

    /// [`RunTransaction::execute`] for a caller that checks what each write did before it
    /// keeps it, as [`RunTransaction::write_node_checked`] does, but from the other side of
    /// a network (a client of `infragen serve`): the effects of every field of a mutation
    /// come back with the answer, and the request's writes are held — undone by
    /// [`RunTransaction::undo_held`] if that comes next, kept by the run's next write or
    /// its commit. A query holds nothing and has no effects.
    pub fn execute_holding(
        &self,
        request: &GraphqlRequest,
        budget: Option<QueryBudget>,
    ) -> (Answer, Vec<WriteEffect>) {
        let mut effects = Vec::new();
        let answer = self.execute_answering(
            request,
            budget,
            Held::Keep,
            &mut |tx, checkpoint, doc, vars, f| {
                let (answer, target) = mutation::answer_field_naming(tx, doc, vars, f)?;
                effects.extend(tx.effects_since(checkpoint, target.as_deref()));
                Ok(answer)
            },
        );
        (answer, effects)
    }

    /// Nodes the run has created, updated or deleted so far.
    pub fn changed(&self) -> usize {
        match &*self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            State::Open { staged, .. } => staged.changed(),
            State::Over(_) => 0,
        }
    }

    /// How many nodes the run has changed, when that is at least `limit`: a check before
    /// each write that does not count the run's nodes again each time (a count per request
    /// made a run of n writes cost n² over HTTP).
    pub fn changed_reaching(&self, limit: usize) -> Option<usize> {
        match &*self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            State::Open { staged, .. } => staged.changed_reaching(limit),
            State::Over(_) => None,
        }
    }

    /// Writes everything the run did, in one SQLite transaction, and gives the write turn
    /// back. Fails with [`StoreError::RunConflict`], writing nothing, when someone else
    /// changed the store since the run started.
    pub fn commit(&self) -> Result<RunCommitted> {
        let staged = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match std::mem::replace(&mut *state, State::Over("committed")) {
                State::Open { staged, turn, .. } => {
                    // Read no further: the commit reads and writes on the store's
                    // connection, which sees every commit (another's makes this one a
                    // conflict there).
                    self.end_snapshot();
                    (staged, turn)
                }
                State::Over(how) => {
                    *state = State::Over(how);
                    return Err(StoreError::RunOver(how));
                }
            }
        };
        let (staged, turn) = staged;
        let committed = turn.enter().map_err(|_| self.preempted()).and_then(|_op| {
            self.store.write_op(|conn, _current| {
                self.check_unchanged()?;
                let tx = Tx::resume(conn, &self.schema, *staged).cached(self.store.cache());
                let events = tx.finish()?;
                let nodes_changed = events.len();
                Ok::<_, StoreError>((events, RunCommitted { nodes_changed }))
            })
        });
        if committed.is_err() {
            *self.state.lock().unwrap_or_else(|e| e.into_inner()) = State::Over("abandoned");
        }
        committed
    }

    /// Ends the run's snapshot: it reads no more.
    fn end_snapshot(&self) {
        if let Some(snapshot) = &self.snapshot {
            snapshot.end(&self.store);
        }
    }

    /// Drops everything the run did and gives the write turn back.
    pub fn abandon(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let State::Open { staged, .. } = &*state {
            tracing::debug!(branch = %self.branch, changed = staged.changed(), "run abandoned; nothing written");
            *state = State::Over("abandoned");
            self.end_snapshot();
        }
    }
}

/// The error of a run during which someone else committed on `store`.
pub(crate) fn changed_during_run(store: &Store) -> StoreError {
    StoreError::RunConflict(format!(
        "another writer committed on `{}` while the run was open",
        store.path()
    ))
}

/// The open run's transaction, turn and held checkpoint, or why there are none.
fn open(state: &mut State) -> Result<(&mut Box<Staged>, &TurnGuard, &mut Option<Checkpoint>)> {
    match state {
        State::Open { staged, turn, held } => Ok((staged, turn, held)),
        State::Over(how) => Err(StoreError::RunOver(how)),
    }
}

/// How [`RunTransaction::execute_answering`] answers one mutation field: on the run's
/// transaction, given the checkpoint the field started at.
type FieldAnswer<'a> = dyn FnMut(
        &mut Tx<'_>,
        &Checkpoint,
        &async_graphql_parser::types::ExecutableDocument,
        &Map<String, Value>,
        &async_graphql_parser::Positioned<async_graphql_parser::types::Field>,
    ) -> std::result::Result<Answer, GqlError>
    + 'a;

/// What a write does with the held checkpoint (see [`RunTransaction::execute_holding`]).
#[derive(Clone, Copy)]
enum Held {
    /// Keeps what the held request wrote, then writes.
    Accept,
    /// Writes as part of the held request.
    Keep,
}

impl Drop for RunTransaction {
    fn drop(&mut self) {
        self.abandon();
    }
}
