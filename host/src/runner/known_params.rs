//! The parameters of targets already read, kept while the event log says nothing
//! they were read from has changed.
//!
//! Every batch of runs starts from the target group's members and their
//! parameters, since the design may have changed in between. Reading the
//! parameters of every member again made each round of a cascade cost the size of
//! the design: a cascade over one rack of a design of a thousand racks read a
//! thousand racks, and a design built by one cascade per fabric did so once per
//! round of each. Here a member's parameters are read once and dropped when an
//! event changes a field they were read from (the target's `pod`, or the pod's
//! `name`, for a parameter path such as `pod__name__value`) or creates or deletes a
//! node they were read from, on any branch: a branch sees main's later changes. A
//! change to another field keeps them: each rack of a design has its checksum
//! stamped by its pod's run, which used to make every rack's parameters be read
//! again, node and peers, in the next round.
//!
//! The target groups' member lists are kept the same way ([`Listing`]): listing a
//! group of a thousand racks, with each one's label, in every round of every cascade
//! made a design built cascade by cascade cost the square of its size. A listing is
//! dropped when an event names the group (a member joined or left, from either side:
//! an edge change is an event on both of its nodes), and a member an event names is
//! read again on its own.
//!
//! So are the generator definitions' records ([`DefinitionRecord`]): a definition is
//! written again only when what it would write differs, or an event has changed a field
//! it wrote on its node or its stored query (or created or deleted either) since.
//!
//! What the event log does not record — a branch deleted and made again under the
//! same name, a schema loaded — changes the branch's *epoch* ([`EventFeed::epoch`]),
//! which forgets what was read on it.

use foldhash::{HashMap, HashSet, HashSetExt};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::params::FieldRead;
use crate::cascade::events::{EventFeed, FeedError, NodeEvent};

/// More events than this since the last look, and everything is forgotten instead
/// of read through: reading them would cost more than reading the parameters again.
const MOST_EVENTS_READ: usize = 50_000;

/// Parameters read off targets, per branch, with the nodes each was read from.
#[derive(Default)]
pub struct KnownParams {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The events up to this one have been taken into account.
    cursor: Option<i64>,
    /// Each branch's epoch when its entries were read.
    epochs: HashMap<String, String>,
    /// (branch, key: the target and the paths read, [`super::params::cache_key`]) →
    /// parameters.
    entries: HashMap<(String, String), Entry>,
    /// Node id → the entries read from it.
    readers: HashMap<String, HashSet<(String, String)>>,
    /// (branch, group name) → the group's members as last listed.
    listings: HashMap<(String, String), Listing>,
    /// (branch, definition name) → the definition's record as last written.
    records: HashMap<(String, String), DefinitionRecord>,
}

/// A generator definition's record (its stored query and its definition node) as the
/// host last wrote it: kept until an event changes a field written, or creates or deletes
/// either node. Other changes keep it: every new target's generator instance links
/// itself to the definition, an event on the definition that used to have it written
/// again in every round that ran a new target.
pub struct DefinitionRecord {
    /// What was written (both nodes' fields but the query's id).
    pub written: String,
    /// The definition's id.
    pub definition_id: String,
    /// The definition's fields written.
    pub definition_fields: Vec<String>,
    /// The stored query's id.
    pub query_id: String,
    /// The stored query's fields written.
    pub query_fields: Vec<String>,
}

impl DefinitionRecord {
    /// Whether `event` may have changed what this record wrote.
    fn changed_by(&self, event: &NodeEvent) -> bool {
        let fields = if event.id == self.definition_id {
            &self.definition_fields
        } else if event.id == self.query_id {
            &self.query_fields
        } else {
            return false;
        };
        changes_any(event, fields.iter())
    }
}

/// Whether `event` may have changed any of `fields` of its node: creating or deleting the
/// node changes them all.
fn changes_any<'f>(event: &NodeEvent, mut fields: impl Iterator<Item = &'f String>) -> bool {
    event.action != "updated" || fields.any(|field| event.changes(field))
}

struct Entry {
    known: KnownTarget,
    /// The nodes read, each with the fields read from it.
    read: Vec<(String, Vec<String>)>,
}

impl Entry {
    /// Whether `event` changes what this entry read from its node.
    fn changed_by(&self, event: &NodeEvent) -> bool {
        let read = self
            .read
            .iter()
            .filter(|(id, _)| *id == event.id)
            .flat_map(|(_, fields)| fields);
        changes_any(event, read)
    }
}

/// A target's parameters as read, shared rather than copied: every batch of runs takes
/// those of every member of its definitions' target groups, and copying each member's
/// parameters and hashing them for its tracking group's name made preparing a definition
/// cost several microseconds per member of the group (a design 64x the seed lists ~1,400
/// targets per cascade).
#[derive(Clone, Debug)]
pub struct KnownTarget {
    /// The parameters.
    pub params: Arc<Map<String, Value>>,
    /// Their hash as Infrahub names tracking groups ([`crate::tracking::group::dict_hash`]).
    pub hash: Arc<str>,
}

impl KnownTarget {
    /// `params`, with their hash.
    pub fn new(params: Map<String, Value>) -> Self {
        let hash = crate::tracking::group::dict_hash(&params).into();
        Self {
            params: Arc::new(params),
            hash,
        }
    }
}

/// A target group's members as listed, in group order, and those of them that events
/// have named since.
#[derive(Clone)]
pub struct Listing {
    /// The group's id.
    pub group_id: String,
    /// Its members, in group order.
    pub members: Members,
    /// Members an event named after they were listed: their labels may be stale.
    pub touched: HashSet<String>,
}

/// A target group's members in group order, with each one's position by id: made once per
/// listing and shared, not copied, by the cache and every definition prepared from it.
#[derive(Clone, Debug)]
pub struct Members {
    listed: Arc<[ListedMember]>,
    /// Position in `listed` by id (the last, for an id listed twice).
    positions: Arc<HashMap<Arc<str>, usize>>,
}

impl Members {
    /// `listed`, in group order.
    pub fn new(listed: Vec<ListedMember>) -> Self {
        let positions = listed
            .iter()
            .enumerate()
            .map(|(position, member)| (Arc::clone(&member.id), position))
            .collect();
        Self {
            listed: listed.into(),
            positions: Arc::new(positions),
        }
    }

    /// These members with their labels read again (`relabelled`: the same ids in the same
    /// order): the positions stay.
    pub fn relabelled(&self, relabelled: Vec<ListedMember>) -> Self {
        debug_assert!(
            relabelled.len() == self.listed.len()
                && relabelled
                    .iter()
                    .zip(self.listed.iter())
                    .all(|(fresh, listed)| fresh.id == listed.id),
            "a relabelled listing keeps its members' ids and order"
        );
        Self {
            listed: relabelled.into(),
            positions: Arc::clone(&self.positions),
        }
    }

    /// The members, in group order.
    pub fn listed(&self) -> &[ListedMember] {
        &self.listed
    }

    /// The position of member `id` in group order.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.positions.get(id).copied()
    }
}

/// One member of a target group; shared, not copied, by every listing and prepared
/// definition that holds it (a design 64x the seed lists ~1,400 members per cascade).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedMember {
    /// The member's id.
    pub id: Arc<str>,
    /// Its kind.
    pub kind: Arc<str>,
    /// Its display label (its id where it has none).
    pub label: Arc<str>,
}

impl KnownParams {
    /// Takes into account the events since the last call, and `branch`'s epoch:
    /// afterwards every parameter still known is what reading it now would give.
    /// Where the feed knows no epoch for `branch`, nothing of it is kept.
    pub fn catch_up(&self, feed: &dyn EventFeed, branch: &str) -> Result<(), FeedError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.cursor {
            None => state.cursor = Some(feed.last_seq()?),
            Some(mut cursor) => {
                let mut read = 0;
                loop {
                    let events = feed.since(cursor)?;
                    let Some(last) = events.last() else {
                        break;
                    };
                    cursor = last.seq;
                    read += events.len();
                    if read > MOST_EVENTS_READ {
                        *state = State {
                            cursor: Some(feed.last_seq()?),
                            ..State::default()
                        };
                        break;
                    }
                    for event in &events {
                        state.forget_changed_by(event);
                    }
                    state.cursor = Some(cursor);
                }
            }
        }
        let epoch = feed.epoch(branch)?;
        if state.epochs.get(branch) != epoch.as_ref() {
            state.forget_branch(branch);
            if let Some(epoch) = epoch {
                state.epochs.insert(branch.to_owned(), epoch);
            }
        }
        Ok(())
    }

    /// Takes into account `events`, which a reader of the log read after event `from`
    /// (the cascade reads each round's events anyway: read twice, they were parsed
    /// twice). Where the last [`KnownParams::catch_up`] did not stop at `from`, they
    /// are left for the next one to read.
    pub fn observe(&self, from: i64, events: &[NodeEvent]) {
        let Some(last) = events.last() else {
            return;
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.cursor != Some(from) {
            return;
        }
        for event in events {
            state.forget_changed_by(event);
        }
        state.cursor = Some(last.seq);
    }

    /// The parameters known under `key` on `branch`.
    pub fn get(&self, branch: &str, key: &str) -> Option<KnownTarget> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .entries
            .get(&(branch.to_owned(), key.to_owned()))
            .map(|entry| entry.known.clone())
    }

    /// The parameters known for each of `members` under the parameter paths `paths`
    /// ([`super::params::paths_key`]) on `branch`, in their order: what preparing a
    /// definition asks for every member of its target group, under one lock and without
    /// a key made per member.
    pub fn get_each(
        &self,
        branch: &str,
        paths: &str,
        members: &[ListedMember],
    ) -> Vec<Option<KnownTarget>> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = (branch.to_owned(), String::new());
        members
            .iter()
            .map(|member| {
                super::params::write_cache_key(&mut key.1, &member.id, paths);
                state.entries.get(&key).map(|entry| entry.known.clone())
            })
            .collect()
    }

    /// Keeps under `key` on `branch` the parameters read from the fields `read` (node
    /// id, field) after the last [`KnownParams::catch_up`] (a change after that is an
    /// event the next one sees). Nothing is kept on a branch without an epoch.
    pub fn insert(&self, branch: &str, key: &str, known: KnownTarget, read: Vec<FieldRead>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.epochs.contains_key(branch) {
            return;
        }
        let key = (branch.to_owned(), key.to_owned());
        let mut by_node: Vec<(String, Vec<String>)> = Vec::new();
        for (id, field) in read {
            match by_node.iter_mut().find(|(read_id, _)| *read_id == id) {
                Some((_, fields)) => fields.push(field),
                None => by_node.push((id, vec![field])),
            }
        }
        for (id, _) in &by_node {
            state
                .readers
                .entry(id.clone())
                .or_default()
                .insert(key.clone());
        }
        state.entries.insert(
            key,
            Entry {
                known,
                read: by_node,
            },
        );
    }

    /// The members of group `group` on `branch` as last listed, if no event has named
    /// the group since.
    pub fn listing(&self, branch: &str, group: &str) -> Option<Listing> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .listings
            .get(&(branch.to_owned(), group.to_owned()))
            .cloned()
    }

    /// Keeps the members of group `group` (id `group_id`) on `branch`, listed after the
    /// last [`KnownParams::catch_up`], none of them touched since. Nothing is kept on a
    /// branch without an epoch.
    pub fn insert_listing(&self, branch: &str, group: &str, group_id: &str, members: Members) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.epochs.contains_key(branch) {
            return;
        }
        state.listings.insert(
            (branch.to_owned(), group.to_owned()),
            Listing {
                group_id: group_id.to_owned(),
                members,
                touched: HashSet::new(),
            },
        );
    }

    /// The id of definition `name` on `branch` where its record is known to hold what
    /// `written` says (see [`super::records::record_definition_knowing`]).
    pub fn definition_record(&self, branch: &str, name: &str, written: &str) -> Option<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .records
            .get(&(branch.to_owned(), name.to_owned()))
            .filter(|record| record.written == written)
            .map(|record| record.definition_id.clone())
    }

    /// Keeps the record of definition `name` on `branch`, written after the last
    /// [`KnownParams::catch_up`] (its own events, if the write changed anything, make the
    /// next one forget it). Nothing is kept on a branch without an epoch.
    pub fn insert_definition_record(&self, branch: &str, name: &str, record: DefinitionRecord) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.epochs.contains_key(branch) {
            return;
        }
        state
            .records
            .insert((branch.to_owned(), name.to_owned()), record);
    }

    /// How many targets' parameters are known.
    pub fn len(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.entries.len()
    }

    /// Whether no parameters are known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl State {
    /// Takes `event` into account: the listings of a group it names go, the members
    /// it names are touched, and the parameters read from a field it changes go.
    fn forget_changed_by(&mut self, event: &NodeEvent) {
        let id = event.id.as_str();
        self.listings.retain(|_, listing| listing.group_id != id);
        self.records.retain(|_, record| !record.changed_by(event));
        for listing in self.listings.values_mut() {
            if listing.members.position(id).is_some() {
                listing.touched.insert(id.to_owned());
            }
        }
        let Some(keys) = self.readers.get(id) else {
            return;
        };
        let changed: Vec<(String, String)> = keys
            .iter()
            .filter(|key| {
                self.entries
                    .get(*key)
                    .is_none_or(|entry| entry.changed_by(event))
            })
            .cloned()
            .collect();
        for key in changed {
            self.forget(&key);
            // A key whose entry is gone already is dropped here.
            if let Some(keys) = self.readers.get_mut(id) {
                keys.remove(&key);
                if keys.is_empty() {
                    self.readers.remove(id);
                }
            }
        }
    }

    fn forget(&mut self, key: &(String, String)) {
        let Some(entry) = self.entries.remove(key) else {
            return;
        };
        for (id, _) in entry.read {
            if let Some(keys) = self.readers.get_mut(&id) {
                keys.remove(key);
                if keys.is_empty() {
                    self.readers.remove(&id);
                }
            }
        }
    }

    fn forget_branch(&mut self, branch: &str) {
        let keys: Vec<(String, String)> = self
            .entries
            .keys()
            .filter(|(entry_branch, _)| entry_branch == branch)
            .cloned()
            .collect();
        for key in keys {
            self.forget(&key);
        }
        self.listings
            .retain(|(listed_on, _), _| listed_on != branch);
        self.records
            .retain(|(written_on, _), _| written_on != branch);
        self.epochs.remove(branch);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    /// An event log in memory, with an epoch per branch.
    #[derive(Default)]
    struct Log {
        events: Mutex<Vec<NodeEvent>>,
        epochs: Mutex<HashMap<String, String>>,
    }

    impl Log {
        /// Branch `branch` is (again) at `epoch`.
        fn set_epoch(&self, branch: &str, epoch: &str) {
            self.epochs
                .lock()
                .unwrap()
                .insert(branch.to_owned(), epoch.to_owned());
        }

        /// Node `id`'s attribute `field` changed.
        fn change(&self, id: &str, field: &str) {
            self.push(id, "updated", Some(field));
        }

        /// Node `id` changed (its name).
        fn touch(&self, id: &str) {
            self.change(id, "name");
        }

        /// Node `id` lost peer `peer` of relationship `rel`.
        fn relink(&self, id: &str, rel: &str, peer: &str) {
            let mut events = self.events.lock().unwrap();
            let seq = events.len() as i64 + 1;
            events.push(NodeEvent::new(
                seq,
                "main",
                "updated",
                "LocationRack",
                id,
                Vec::new(),
                vec![crate::cascade::events::RelationshipUpdate {
                    name: rel.to_owned(),
                    peer_status: "removed".to_owned(),
                    peer_id: peer.to_owned(),
                }],
            ));
        }

        fn push(&self, id: &str, action: &str, field: Option<&str>) {
            let mut events = self.events.lock().unwrap();
            let seq = events.len() as i64 + 1;
            let attributes = field
                .map(|name| crate::cascade::events::AttributeUpdate {
                    name: name.to_owned(),
                    value: "new".to_owned(),
                    value_previous: "old".to_owned(),
                    action: "updated".to_owned(),
                })
                .into_iter()
                .collect();
            events.push(NodeEvent::new(
                seq,
                "main",
                action,
                "LocationRack",
                id,
                attributes,
                Vec::new(),
            ));
        }
    }

    impl EventFeed for Log {
        fn last_seq(&self) -> Result<i64, FeedError> {
            Ok(self.events.lock().unwrap().len() as i64)
        }
        fn since(&self, seq: i64) -> Result<Vec<NodeEvent>, FeedError> {
            Ok(self
                .events
                .lock()
                .unwrap()
                .iter()
                .filter(|event| event.seq > seq)
                .cloned()
                .collect())
        }
        fn epoch(&self, branch: &str) -> Result<Option<String>, FeedError> {
            Ok(self.epochs.lock().unwrap().get(branch).cloned())
        }
    }

    fn params(name: &str) -> Map<String, Value> {
        json!({ "rack_name": name }).as_object().cloned().unwrap()
    }

    /// The parameters `known` has under `key` on `branch`, copied out.
    fn params_of(known: &KnownParams, branch: &str, key: &str) -> Option<Map<String, Value>> {
        known.get(branch, key).map(|known| (*known.params).clone())
    }

    fn log_with_branches(branches: &[&str]) -> Log {
        let log = Log::default();
        for branch in branches {
            log.set_epoch(branch, &format!("{branch}@1"));
        }
        log
    }

    /// What `name__value` reads off rack `rack`: its `name`.
    fn name_of(rack: &str) -> Vec<FieldRead> {
        vec![(rack.to_owned(), "name".to_owned())]
    }

    /// What `pod__name__value` reads off rack `rack`: its `pod`, and the pod's `name`.
    fn read_through(rack: &str, pod: &str) -> Vec<FieldRead> {
        vec![
            (rack.to_owned(), "pod".to_owned()),
            (pod.to_owned(), "name".to_owned()),
        ]
    }

    /// Nothing known yet, caught up with `log` on `branches`.
    fn caught_up(log: &Log, branches: &[&str]) -> KnownParams {
        let known = KnownParams::default();
        for branch in branches {
            known.catch_up(log, branch).unwrap();
        }
        known
    }

    /// `known` keeps `params(read)` on `branch`, read from `rack`'s name.
    fn knows_name(known: &KnownParams, branch: &str, rack: &str, read: &str) {
        known.insert(branch, rack, KnownTarget::new(params(read)), name_of(rack));
    }

    #[test]
    fn each_members_parameters_are_found_under_its_key_for_the_paths_asked() {
        let log = log_with_branches(&["br1", "main"]);
        let known = caught_up(&log, &["br1", "main"]);
        let paths = "rack_name=name__value";
        for (rack, read) in [("rack1", "r1"), ("rack3", "r3")] {
            let key = crate::runner::params::cache_key(rack, paths);
            known.insert("br1", &key, KnownTarget::new(params(read)), name_of(rack));
        }
        let names = |found: Vec<Option<KnownTarget>>| -> Vec<Option<Map<String, Value>>> {
            found
                .into_iter()
                .map(|target| target.map(|target| (*target.params).clone()))
                .collect()
        };
        let racks = members(&["rack1", "rack2", "rack3"]);
        assert_eq!(
            names(known.get_each("br1", paths, &racks)),
            [Some(params("r1")), None, Some(params("r3"))]
        );
        // Other paths, another branch: nothing known.
        assert_eq!(
            names(known.get_each("br1", "rack_name=label__value", &racks)),
            [None, None, None]
        );
        assert_eq!(
            names(known.get_each("main", paths, &racks)),
            [None, None, None]
        );
    }

    /// Parameters known on `br1`: rack1's read through pod1, rack2's through pod2.
    fn racks_known_on_br1(log: &Log) -> KnownParams {
        let known = KnownParams::default();
        known.catch_up(log, "br1").unwrap();
        for (rack, pod, params_read) in [("rack1", "pod1", "r1"), ("rack2", "pod2", "r2")] {
            let target = KnownTarget::new(params(params_read));
            known.insert("br1", rack, target, read_through(rack, pod));
        }
        known
    }

    #[test]
    fn a_change_to_a_field_read_forgets_the_parameters_read_from_it() {
        let log = log_with_branches(&["main", "br1"]);
        let known = racks_known_on_br1(&log);
        log.touch("device9");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(params_of(&known, "br1", "rack1"), Some(params("r1")));
        // The pod on rack1's parameter path changed (on main: the branch sees it).
        log.touch("pod1");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(params_of(&known, "br1", "rack1"), None);
        assert_eq!(params_of(&known, "br1", "rack2"), Some(params("r2")));
        assert_eq!(known.len(), 1);
        log.change("rack2", "pod");
        known.catch_up(&log, "br1").unwrap();
        assert!(known.is_empty());
    }

    /// A change to fields no parameter was read from keeps the parameters (a rack's
    /// checksum, stamped by its pod's run; the pod's other attributes); a node read from
    /// being deleted, or changed through the field read, drops them.
    #[test]
    fn a_change_to_other_fields_keeps_the_parameters() {
        let log = log_with_branches(&["br1"]);
        let known = racks_known_on_br1(&log);
        log.change("rack1", "checksum");
        log.change("rack1", "name");
        log.change("pod1", "amount_of_spines");
        log.change("pod2", "pod");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(params_of(&known, "br1", "rack1"), Some(params("r1")));
        assert_eq!(params_of(&known, "br1", "rack2"), Some(params("r2")));
        log.push("pod2", "deleted", None);
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(params_of(&known, "br1", "rack1"), Some(params("r1")));
        assert_eq!(params_of(&known, "br1", "rack2"), None);
        // A relationship change on the field read.
        log.relink("rack1", "pod", "pod1");
        known.catch_up(&log, "br1").unwrap();
        assert!(known.is_empty());
    }

    fn members(ids: &[&str]) -> Vec<ListedMember> {
        ids.iter()
            .map(|id| ListedMember {
                id: (*id).into(),
                kind: "LocationRack".into(),
                label: format!("label of {id}").into(),
            })
            .collect()
    }

    #[test]
    fn members_are_found_by_position_and_keep_it_when_relabelled() {
        let racks = Members::new(members(&["rack1", "rack2", "rack1"]));
        assert_eq!(racks.position("rack2"), Some(1));
        assert_eq!(
            racks.position("rack1"),
            Some(2),
            "the last, for an id listed twice"
        );
        assert_eq!(racks.position("rack3"), None);
        let mut relabelled = racks.listed().to_vec();
        relabelled[1].label = "rack two".into();
        let relabelled = racks.relabelled(relabelled);
        assert_eq!(relabelled.listed()[1].label.as_ref(), "rack two");
        assert_eq!(relabelled.position("rack2"), Some(1));
        assert_eq!(relabelled.position("rack1"), Some(2));
    }

    /// Keeps `ids` as the members of group `racks` (id `group1`) on `branch`.
    fn list(known: &KnownParams, branch: &str, ids: &[&str]) {
        known.insert_listing(branch, "racks", "group1", Members::new(members(ids)));
    }

    fn touched(known: &KnownParams, branch: &str) -> Option<Vec<String>> {
        let listing = known.listing(branch, "racks")?;
        let mut touched: Vec<String> = listing.touched.into_iter().collect();
        touched.sort();
        Some(touched)
    }

    #[test]
    fn a_listing_marks_the_members_events_name_and_goes_when_one_names_the_group() {
        let log = log_with_branches(&["main", "br1"]);
        let known = caught_up(&log, &["br1", "main"]);
        list(&known, "br1", &["rack1", "rack2"]);
        list(&known, "main", &["rack1"]);
        log.touch("device9");
        log.touch("rack2");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(touched(&known, "br1"), Some(vec!["rack2".to_owned()]));
        assert_eq!(touched(&known, "main"), Some(vec![]));
        let listing = known.listing("br1", "racks").unwrap();
        assert_eq!(listing.group_id, "group1");
        assert_eq!(listing.members.listed(), members(&["rack1", "rack2"]));
        // Listed again: nothing is touched.
        list(&known, "br1", &["rack1", "rack2"]);
        assert_eq!(touched(&known, "br1"), Some(vec![]));
        // A member joined or left: the group changed, on every branch.
        log.touch("group1");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(touched(&known, "br1"), None);
        assert_eq!(touched(&known, "main"), None);
    }

    fn record(written: &str) -> DefinitionRecord {
        DefinitionRecord {
            written: written.to_owned(),
            definition_id: "definition1".to_owned(),
            definition_fields: vec!["class_name".to_owned(), "query".to_owned()],
            query_id: "query1".to_owned(),
            query_fields: vec!["query".to_owned()],
        }
    }

    #[test]
    fn a_definition_record_holds_for_what_it_wrote_until_an_event_changes_a_field_written() {
        let log = log_with_branches(&["main", "br1"]);
        let known = caught_up(&log, &["br1", "main"]);
        known.insert_definition_record("br1", "generate-pod", record("fields v1"));
        known.insert_definition_record("main", "generate-pod", record("fields v1"));
        let held =
            |branch: &str, written: &str| known.definition_record(branch, "generate-pod", written);
        assert_eq!(held("br1", "fields v1"), Some("definition1".to_owned()));
        // Other fields (the repository changed): written again.
        assert_eq!(held("br1", "fields v2"), None);
        assert_eq!(
            known.definition_record("br1", "generate-rack", "fields v1"),
            None
        );
        // Another node's event keeps it, and so do changes to fields not written: a new
        // generator instance linked to the definition, its description, the query's name.
        log.touch("group1");
        log.relink("definition1", "instances", "instance9");
        log.change("definition1", "description");
        log.change("query1", "name");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(held("br1", "fields v1"), Some("definition1".to_owned()));
        // The stored query's text changed, on any branch: gone everywhere.
        log.change("query1", "query");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(held("br1", "fields v1"), None);
        assert_eq!(held("main", "fields v1"), None);
        // The definition linked to another query…
        known.insert_definition_record("br1", "generate-pod", record("fields v1"));
        log.relink("definition1", "query", "query1");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(held("br1", "fields v1"), None);
        // … or deleted.
        known.insert_definition_record("br1", "generate-pod", record("fields v1"));
        log.push("definition1", "deleted", None);
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(held("br1", "fields v1"), None);
    }

    #[test]
    fn a_definition_record_goes_with_its_branch_s_epoch_and_is_not_kept_without_one() {
        let log = log_with_branches(&["br1"]);
        let known = KnownParams::default();
        known.catch_up(&log, "br1").unwrap();
        known.insert_definition_record("br1", "generate-pod", record("fields"));
        known.insert_definition_record("br2", "generate-pod", record("fields"));
        assert_eq!(
            known.definition_record("br1", "generate-pod", "fields"),
            Some("definition1".to_owned())
        );
        assert_eq!(
            known.definition_record("br2", "generate-pod", "fields"),
            None
        );
        log.set_epoch("br1", "br1@2");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(
            known.definition_record("br1", "generate-pod", "fields"),
            None
        );
    }

    #[test]
    fn a_listing_goes_with_its_branch_s_epoch_and_is_not_kept_without_one() {
        let log = log_with_branches(&["br1"]);
        let known = KnownParams::default();
        known.catch_up(&log, "br1").unwrap();
        list(&known, "br1", &["rack1"]);
        list(&known, "br2", &["rack1"]);
        assert_eq!(touched(&known, "br2"), None, "br2 has no epoch");
        assert_eq!(touched(&known, "br1"), Some(vec![]));
        log.set_epoch("br1", "br1@2");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(touched(&known, "br1"), None);
    }

    #[test]
    fn events_read_by_the_cascade_count_only_where_the_last_look_stopped() {
        let log = log_with_branches(&["main"]);
        let known = KnownParams::default();
        known.catch_up(&log, "main").unwrap();
        knows_name(&known, "main", "rack1", "r1");
        knows_name(&known, "main", "rack2", "r2");
        log.touch("rack1");
        log.touch("rack2");
        let events = log.since(0).unwrap();
        // Read from before where the last look stopped: not taken.
        known.observe(-1, &events[..1]);
        assert_eq!(known.len(), 2);
        // Read from where it stopped: taken, and the next look reads on from there.
        known.observe(0, &events[..1]);
        assert_eq!(params_of(&known, "main", "rack1"), None);
        assert_eq!(params_of(&known, "main", "rack2"), Some(params("r2")));
        known.catch_up(&log, "main").unwrap();
        assert!(known.is_empty());
    }

    #[test]
    fn a_new_epoch_forgets_the_branch_and_no_epoch_keeps_nothing() {
        let log = log_with_branches(&["main", "br1"]);
        let known = caught_up(&log, &["br1", "main"]);
        knows_name(&known, "br1", "rack1", "r1");
        knows_name(&known, "main", "rack1", "r1");
        // br1 deleted and made again: no event, another epoch.
        log.set_epoch("br1", "br1@2");
        known.catch_up(&log, "br1").unwrap();
        assert_eq!(params_of(&known, "br1", "rack1"), None);
        assert_eq!(params_of(&known, "main", "rack1"), Some(params("r1")));
        // A branch the feed knows no epoch of keeps nothing.
        known.catch_up(&log, "br2").unwrap();
        knows_name(&known, "br2", "rack1", "r1");
        assert_eq!(params_of(&known, "br2", "rack1"), None);
    }
}
