//! The IPAM hierarchy on branches against a model: prefixes and addresses created and
//! deleted at random on `main` and on two branches, and after every edit each view's
//! `parent`, `children` and `ip_prefix` read back and compared with what containment says
//! they must be among the prefixes that view shows — main's later prefixes included, as a
//! branch sees main's later changes.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Rng, ok};
use infragen_store::Store;
use serde_json::Value;

const RESOURCES: &str = include_str!("fixtures/aidc_resources.yml");
const BRANCHES: [&str; 2] = ["br1", "br2"];
const EDITS: usize = 40;

/// Prefixes nested at several depths, some side by side, so that most creations and
/// deletions change somebody's parent.
const PREFIXES: [&str; 10] = [
    "10.0.0.0/8",
    "10.0.0.0/12",
    "10.16.0.0/12",
    "10.0.0.0/16",
    "10.1.0.0/16",
    "10.16.0.0/16",
    "10.0.0.0/24",
    "10.0.1.0/24",
    "10.1.0.0/24",
    "10.16.0.0/20",
];
const ADDRESSES: [&str; 4] = ["10.0.0.1/32", "10.0.1.7/32", "10.1.0.9/32", "10.200.0.1/32"];

/// `(network, length)` of `10.a.b.c/len` as one number and the length.
fn parse(text: &str) -> (u32, u32) {
    let (ip, len) = text.split_once('/').expect("a length");
    let octets: Vec<u32> = ip.split('.').map(|o| o.parse().expect("octet")).collect();
    let ip = octets.iter().fold(0, |acc, o| (acc << 8) | o);
    (ip, len.parse().expect("length"))
}

/// Whether `outer` contains `inner` and is shorter.
fn contains(outer: &str, inner: &str) -> bool {
    let ((o, ol), (i, il)) = (parse(outer), parse(inner));
    let mask = |len: u32| if len == 0 { 0 } else { u32::MAX << (32 - len) };
    ol < il && (i & mask(ol)) == o
}

/// The longest of `prefixes` that contains `inner`.
fn parent_of<'a>(prefixes: &BTreeSet<&'a str>, inner: &str) -> Option<&'a str> {
    prefixes
        .iter()
        .filter(|p| contains(p, inner))
        .max_by_key(|p| parse(p).1)
        .copied()
}

/// Which prefixes and addresses each view shows.
#[derive(Default)]
struct Model {
    main: BTreeSet<&'static str>,
    /// Per branch: prefixes or addresses it created, and main's it deleted.
    created: BTreeMap<&'static str, BTreeSet<&'static str>>,
    deleted: BTreeMap<&'static str, BTreeSet<&'static str>>,
}

impl Model {
    fn shown(&self, branch: &str) -> BTreeSet<&'static str> {
        if branch == "main" {
            return self.main.clone();
        }
        let deleted = self.deleted.get(branch).cloned().unwrap_or_default();
        self.main
            .iter()
            .filter(|p| !deleted.contains(*p))
            .chain(self.created.get(branch).into_iter().flatten())
            .copied()
            .collect()
    }
}

/// What a view must show: each prefix's parent and children, each address's prefix.
type View = (
    BTreeMap<String, (Option<String>, BTreeSet<String>)>,
    BTreeMap<String, Option<String>>,
);

fn expected(model: &Model, branch: &str) -> View {
    let shown = model.shown(branch);
    let prefixes: BTreeSet<&str> = shown
        .iter()
        .filter(|p| !p.ends_with("/32"))
        .copied()
        .collect();
    let mut tree = BTreeMap::new();
    for p in &prefixes {
        let children = prefixes
            .iter()
            .filter(|c| parent_of(&prefixes, c) == Some(p))
            .map(|c| c.to_string())
            .collect();
        tree.insert(
            p.to_string(),
            (parent_of(&prefixes, p).map(str::to_owned), children),
        );
    }
    let addresses = shown
        .iter()
        .filter(|a| a.ends_with("/32"))
        .map(|a| (a.to_string(), parent_of(&prefixes, a).map(str::to_owned)))
        .collect();
    (tree, addresses)
}

fn read(s: &Store, branch: &str) -> View {
    let d = ok(
        s,
        branch,
        "{ IpamIPPrefix { edges { node { prefix { value } parent { node { prefix { value } } } \
         children { edges { node { prefix { value } } } } } } } \
         IpamIPAddress { edges { node { address { value } ip_prefix { node { prefix { value } } } } } } }",
    );
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let mut tree = BTreeMap::new();
    for edge in d["IpamIPPrefix"]["edges"].as_array().expect("prefixes") {
        let node = &edge["node"];
        let children = node["children"]["edges"]
            .as_array()
            .expect("children")
            .iter()
            .filter_map(|c| text(&c["node"]["prefix"]["value"]))
            .collect();
        tree.insert(
            text(&node["prefix"]["value"]).expect("prefix"),
            (text(&node["parent"]["node"]["prefix"]["value"]), children),
        );
    }
    let addresses = d["IpamIPAddress"]["edges"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            (
                text(&node["address"]["value"]).expect("address"),
                text(&node["ip_prefix"]["node"]["prefix"]["value"]),
            )
        })
        .collect();
    (tree, addresses)
}

fn replay(seed: u64) {
    let s = Store::in_memory().expect("store");
    s.load_schema(&[("aidc_resources.yml".into(), RESOURCES.into())])
        .expect("schema");
    for branch in BRANCHES {
        s.create_branch(branch).expect("branch");
    }
    let mut rng = Rng::seeded(seed);
    let mut model = Model::default();
    let mut log = Vec::new();
    for _ in 0..EDITS {
        let branch = ["main", "br1", "br2"][rng.below(3)];
        let all: Vec<&'static str> = PREFIXES.iter().chain(ADDRESSES.iter()).copied().collect();
        let item = all[rng.below(all.len())];
        let address = item.ends_with("/32");
        let (kind, field) = if address {
            ("IpamIPAddress", "address")
        } else {
            ("IpamIPPrefix", "prefix")
        };
        if model.shown(branch).contains(item) {
            log.push(format!("{branch}: delete {item}"));
            let found = ok(
                &s,
                branch,
                &format!(
                    r#"{{ {kind}({field}__value: "{item}") {{ edges {{ node {{ id }} }} }} }}"#
                ),
            );
            let id = found[kind]["edges"][0]["node"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("seed {seed}: {item} not found on {branch}: {found}"))
                .to_owned();
            ok(
                &s,
                branch,
                &format!(r#"mutation {{ {kind}Delete(data: {{id: "{id}"}}) {{ ok }} }}"#),
            );
            if branch == "main" {
                // That node is gone; one made later at the same place is another node, which
                // no branch has deleted.
                model.main.remove(item);
                for deleted in model.deleted.values_mut() {
                    deleted.remove(item);
                }
            } else if !model.created.entry(branch).or_default().remove(item) {
                model.deleted.entry(branch).or_default().insert(item);
            }
        } else {
            // Not shown here, but maybe on main and deleted here: that one stays deleted,
            // and this is another node at the same place.
            let taken_elsewhere = branch != "main"
                && model.main.contains(item)
                && model.deleted.get(branch).is_some_and(|d| d.contains(item));
            let main_has_it_under_a_branch = branch == "main"
                && BRANCHES
                    .iter()
                    .any(|b| model.created.get(b).is_some_and(|c| c.contains(item)));
            if taken_elsewhere || main_has_it_under_a_branch {
                continue;
            }
            log.push(format!("{branch}: create {item}"));
            let extra = if address {
                ""
            } else {
                r#", role: {value: "supernet"}"#
            };
            ok(
                &s,
                branch,
                &format!(
                    r#"mutation {{ {kind}Create(data: {{{field}: {{value: "{item}"}}{extra}}}) {{ ok }} }}"#
                ),
            );
            if branch == "main" {
                model.main.insert(item);
            } else {
                model.created.entry(branch).or_default().insert(item);
            }
        }
        for view in ["main", "br1", "br2"] {
            assert_eq!(
                read(&s, view),
                expected(&model, view),
                "seed {seed}, {view} after:\n{}",
                log.join("\n")
            );
        }
    }
}

#[test]
fn every_view_nests_the_prefixes_and_addresses_it_shows() {
    for seed in 1..=40 {
        replay(seed);
    }
}
