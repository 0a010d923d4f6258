//! Object files (`apiVersion: infrahub.app/v1`, `kind: Object`): the seed data format of
//! `infrahubctl object load`; and menu files (`kind: Menu`), those of `infrahubctl menu
//! load`, read the same way (see [`DocumentKind::Menu`]).
//!
//! ```yaml
//! apiVersion: infrahub.app/v1
//! kind: Object
//! spec:
//!   kind: DcimDevice
//!   parameters: {expand_range: true}
//!   data:
//!     - name: spine1
//!       site: paris                      # card-one reference: id, HFID string or HFID list
//!       interfaces:                      # nested children, dict form …
//!         data: [{name: "Ethernet[1-4]"}]
//!     - name: spine2
//!       interfaces:                      # … or list form, one kind per item
//!         - {kind: DcimPhysicalInterface, data: {name: Ethernet1}}
//! ```
//!
//! A load is two passes. The first reads and checks every document of every file (kinds,
//! fields, shapes, `expand_range`) and writes nothing; the second upserts every item in one
//! store transaction, resolving references as it goes, so a bad reference also leaves the
//! store untouched. Every error names the file, the document, the item and the field.
//!
//! Items are written with the write engine's upsert (`engine::upsert`), as `<Kind>Upsert`
//! would write them.
//!
//! Nested children get the back-reference to their parent when that relationship is
//! mandatory on the child; then the parent is written first. Otherwise the children are
//! written first and the parent links them.

use crate::engine;
use crate::graph::Tx;
use crate::node::value_key;
use crate::schema::{Cardinality, KindSchema, Schema};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// The only accepted `apiVersion`.
pub const API_VERSION: &str = "infrahub.app/v1";

/// What a load wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ObjectLoad {
    /// Files read.
    pub files: usize,
    /// Items upserted (nested children and expanded ranges included).
    pub objects: usize,
    /// Nodes created or changed (0 when the store already held everything).
    pub nodes_changed: usize,
}

/// A reference to an existing node.
#[derive(Debug, Clone)]
enum Ref {
    Id(String),
    Hfid(Vec<String>),
}

/// One field of an item, after checking.
#[derive(Debug, Clone)]
enum Field {
    Attr(Value),
    One(Ref),
    Many(Vec<Ref>),
    Nested(Vec<Item>),
    Null,
}

/// One item, after checking and range expansion.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    kind: String,
    at: String,
    fields: Vec<(String, Field)>,
}

/// What a document is, by its `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DocumentKind {
    /// `kind: Object`: items of `spec.kind`, written as given.
    Object,
    /// `kind: Menu`, as `infrahubctl menu load` (infrahub-sdk 1.23) reads one: `spec.kind`
    /// is `CoreMenuItem` unless named, and an item is completed where it leaves them out:
    /// `path` is `/objects/<its kind attribute>` when it names a kind, and a nested child's
    /// `order_weight` is 1000 times its place among its siblings (1000 for the first), so
    /// they keep the order they are written in. An item at the top of the file keeps the
    /// schema's default weight, as the SDK gives it none.
    Menu,
}

/// The kind of the items of a menu file that names none.
const MENU_ITEM_KIND: &str = "CoreMenuItem";

/// What a document's items are read with: its kind, and its `spec.kind`, which also stands
/// for the kind of a nested block under a relationship to a generic when the block names
/// none (as `infrahubctl`'s default schema kind does), if it is a kind of that generic.
#[derive(Clone, Copy)]
struct Document<'d> {
    kind: DocumentKind,
    spec_kind: &'d str,
}

impl Document<'_> {
    /// `obj`, completed as [`DocumentKind::Menu`] says; `sibling` is its place among the
    /// children of its parent (`None` at the top of the file). An item of an object file,
    /// or one that leaves nothing out, is not copied.
    fn complete<'o>(
        &self,
        obj: &'o Map<String, Value>,
        sibling: Option<usize>,
    ) -> Cow<'o, Map<String, Value>> {
        if self.kind != DocumentKind::Menu {
            return Cow::Borrowed(obj);
        }
        let path = obj
            .get("kind")
            .and_then(|kind| match kind {
                Value::Object(o) => o.get("value").and_then(Value::as_str),
                other => other.as_str(),
            })
            .filter(|_| !obj.contains_key("path"))
            .map(|kind| format!("/objects/{kind}"));
        let weight = sibling
            .filter(|_| !obj.contains_key("order_weight"))
            .map(|index| (index as u64 + 1).saturating_mul(1000));
        if path.is_none() && weight.is_none() {
            return Cow::Borrowed(obj);
        }
        let mut completed = obj.clone();
        if let Some(path) = path {
            completed.insert("path".to_owned(), Value::String(path));
        }
        if let Some(weight) = weight {
            completed.insert("order_weight".to_owned(), json!(weight));
        }
        Cow::Owned(completed)
    }
}

/// Parse a (multi-document) YAML text into its documents.
fn documents(file: &str, text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> =
        if text.matches("\n---").count() + usize::from(text.starts_with("---")) > 1 {
            serde_saphyr::from_multiple(text).map_err(|e| format!("{file}: invalid YAML: {e}"))?
        } else {
            vec![serde_saphyr::from_str(text).map_err(|e| format!("{file}: invalid YAML: {e}"))?]
        };
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// The `spec.kind` of every document of an object file, in order (for a loader
/// that must order files by what they declare, e.g. trigger rules after the
/// generator definitions they name).
pub fn declared_kinds(file: &str, text: &str) -> Result<Vec<String>, String> {
    Ok(documents(file, text)?
        .iter()
        .filter_map(|doc| doc.pointer("/spec/kind").and_then(Value::as_str))
        .map(str::to_owned)
        .collect())
}

/// The most items one load may plan, nested children and expanded ranges included. Ranges
/// multiply across nesting (`leaf[1-10000]` with `Ethernet[1-10000]` children is 10^8
/// items, each under [`MAX_RANGE_VALUES`]); the total is counted on the parsed YAML with
/// checked arithmetic before anything is expanded. 250,000 is far beyond the seeds in use
/// (hundreds to a few thousand items) while the plan stays near 160 MB (about 65 MB was
/// measured per 100,000 planned items).
pub const MAX_LOAD_ITEMS: u64 = 250_000;

/// Read and check every file; the items in write order, or every problem found.
pub(crate) fn plan(schema: &Schema, files: &[(String, String)]) -> Result<Vec<Item>, Vec<String>> {
    let mut parsed = Vec::new();
    let mut problems = Vec::new();
    for (file, text) in files {
        match documents(file, text) {
            Ok(d) => parsed.push((file, d)),
            Err(e) => problems.push(e),
        }
    }
    if let Err(mut e) = check_load_size(&parsed) {
        problems.append(&mut e);
        return Err(problems);
    }
    let mut items = Vec::new();
    for (file, docs) in parsed {
        for (i, doc) in docs.iter().enumerate() {
            let at = format!("{file}: document {}", i + 1);
            match read_document(schema, &at, doc) {
                Ok(mut v) => items.append(&mut v),
                Err(mut e) => problems.append(&mut e),
            }
        }
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(problems)
    }
}

/// Refuse a load that would plan more than [`MAX_LOAD_ITEMS`] items, naming the item that
/// takes it over. Counts only: nothing is expanded, and shapes the read refuses later count
/// as what they look like.
fn check_load_size(parsed: &[(&String, Vec<Value>)]) -> Result<(), Vec<String>> {
    let mut total = 0u64;
    for (file, docs) in parsed {
        for (i, doc) in docs.iter().enumerate() {
            let Some(spec) = doc.get("spec") else {
                continue;
            };
            let expand = expand_flag("", spec.get("parameters"), false).unwrap_or(false);
            let kind = spec.get("kind").and_then(Value::as_str).unwrap_or("?");
            let Some(Value::Array(data)) = spec.get("data") else {
                continue;
            };
            for (j, item) in data.iter().enumerate() {
                let n = planned_items(item, expand);
                match n.and_then(|n| total.checked_add(n)) {
                    Some(t) if t <= MAX_LOAD_ITEMS => total = t,
                    _ => {
                        let n =
                            n.map_or_else(|| format!("more than {}", u64::MAX), |n| n.to_string());
                        return Err(vec![format!(
                            "{file}: document {}: {kind} item {j}: expand_range: the item expands to {n} items with its nested children, which takes the load over the limit of {MAX_LOAD_ITEMS} items (nested ranges multiply); narrow the ranges or split the load",
                            i + 1
                        )]);
                    }
                }
            }
        }
    }
    Ok(())
}

/// How many items one item of `data` plans: its range values (when expanded) times itself
/// plus its nested children, each counted the same way; `None` past `u64`.
fn planned_items(item: &Value, expand: bool) -> Option<u64> {
    let Some(obj) = item.as_object() else {
        return Some(1);
    };
    let variants = if expand {
        obj.values()
            .filter_map(Value::as_str)
            .filter_map(|s| parse_ranges(s).ok().map(|(_, n)| n))
            .max()
            .unwrap_or(1)
    } else {
        1
    };
    let mut each = 1u64;
    for v in obj.values() {
        each = each.checked_add(nested_items(v, expand)?)?;
    }
    variants.checked_mul(each)
}

/// The items of a field's nested children (dict or list form), 0 when it has none.
fn nested_items(value: &Value, expand: bool) -> Option<u64> {
    let group = |x: &Value| -> Option<u64> {
        let expand = expand_flag("", x.get("parameters"), expand).unwrap_or(expand);
        match x.get("data") {
            Some(Value::Array(items)) => items
                .iter()
                .try_fold(0u64, |sum, d| sum.checked_add(planned_items(d, expand)?)),
            Some(d @ Value::Object(_)) => planned_items(d, expand),
            _ => Some(0),
        }
    };
    match value {
        v if is_nested(v) => group(v),
        Value::Array(a) if !a.is_empty() && a.iter().all(is_nested) => {
            a.iter().try_fold(0u64, |sum, x| sum.checked_add(group(x)?))
        }
        _ => Some(0),
    }
}

fn unknown_keys(at: &str, v: &Map<String, Value>, allowed: &[&str], problems: &mut Vec<String>) {
    for k in v.keys().filter(|k| !allowed.contains(&k.as_str())) {
        problems.push(format!(
            "{at}: unknown field '{k}', expected one of: {}",
            allowed.join(", ")
        ));
    }
}

fn expand_flag(at: &str, params: Option<&Value>, inherited: bool) -> Result<bool, String> {
    match params {
        None | Some(Value::Null) => Ok(inherited),
        Some(Value::Object(p)) => {
            if let Some(k) = p.keys().find(|k| k.as_str() != "expand_range") {
                return Err(format!(
                    "{at}: parameters: unknown field '{k}', expected: expand_range"
                ));
            }
            match p.get("expand_range") {
                None => Ok(inherited),
                Some(Value::Bool(b)) => Ok(*b),
                Some(other) => Err(format!(
                    "{at}: parameters: expand_range must be true or false, got {other}"
                )),
            }
        }
        Some(other) => Err(format!("{at}: parameters must be a mapping, got {other}")),
    }
}

fn read_document(schema: &Schema, at: &str, doc: &Value) -> Result<Vec<Item>, Vec<String>> {
    let Some(d) = doc.as_object() else {
        return Err(vec![format!(
            "{at}: expected a mapping with apiVersion, kind and spec"
        )]);
    };
    let mut problems = Vec::new();
    unknown_keys(
        at,
        d,
        &["apiVersion", "kind", "metadata", "spec"],
        &mut problems,
    );
    match d.get("apiVersion") {
        None => {}
        Some(Value::String(v)) if v == API_VERSION => {}
        Some(v) => problems.push(format!(
            "{at}: apiVersion: expected '{API_VERSION}', got {v}"
        )),
    }
    let document_kind = match d.get("kind").and_then(Value::as_str) {
        Some("Object") => DocumentKind::Object,
        Some("Menu") => DocumentKind::Menu,
        Some(other) => {
            problems.push(format!(
                "{at}: kind: expected 'Object' or 'Menu', got '{other}'"
            ));
            DocumentKind::Object
        }
        None => {
            problems.push(format!("{at}: kind: missing, expected 'Object' or 'Menu'"));
            DocumentKind::Object
        }
    };
    let Some(spec) = d.get("spec").and_then(Value::as_object) else {
        problems.push(format!(
            "{at}: spec: missing, expected a mapping with kind and data"
        ));
        return Err(problems);
    };
    unknown_keys(
        &format!("{at}: spec"),
        spec,
        &["kind", "data", "parameters"],
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    let kind = match (spec.get("kind").and_then(Value::as_str), document_kind) {
        (Some(kind), _) => kind,
        (None, DocumentKind::Menu) => MENU_ITEM_KIND,
        (None, DocumentKind::Object) => "",
    };
    let document = Document {
        kind: document_kind,
        spec_kind: kind,
    };
    let k = match node_kind(schema, kind) {
        Ok(k) => k,
        Err(e) => return Err(vec![format!("{at}: spec: kind: {e}")]),
    };
    let expand =
        expand_flag(&format!("{at}: spec"), spec.get("parameters"), false).map_err(|e| vec![e])?;
    let data = match spec.get("data") {
        Some(Value::Array(a)) => a.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(vec![format!("{at}: spec: data must be a list of items")]),
    };
    let mut items = Vec::new();
    for (i, item) in data.iter().enumerate() {
        let where_ = format!("{at}: {} item {i}", k.kind);
        match read_item(schema, k, &where_, item, None, expand, document) {
            Ok(mut v) => items.append(&mut v),
            Err(mut e) => problems.append(&mut e),
        }
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(problems)
    }
}

fn node_kind<'s>(schema: &'s Schema, kind: &str) -> Result<&'s KindSchema, String> {
    match schema.get(kind) {
        None => Err(format!("unknown kind '{kind}'")),
        Some(k) if k.is_generic => Err(format!(
            "'{kind}' is a generic; name one of its node kinds: {}",
            k.used_by.join(", ")
        )),
        Some(k) => Ok(k),
    }
}

/// One item of `data` → one or more items (expand_range); `sibling` is its place among
/// the nested children of its parent (`None` at the top of a document).
fn read_item(
    schema: &Schema,
    k: &KindSchema,
    at: &str,
    item: &Value,
    sibling: Option<usize>,
    expand: bool,
    document: Document<'_>,
) -> Result<Vec<Item>, Vec<String>> {
    let Some(obj) = item.as_object() else {
        return Err(vec![format!(
            "{at}: expected a mapping of fields, got {item}"
        )]);
    };
    let obj = document.complete(obj, sibling);
    let variants = if expand {
        expand_item(at, &obj).map_err(|e| vec![e])?
    } else {
        vec![obj.into_owned()]
    };
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for v in variants {
        let mut fields = Vec::new();
        for (name, value) in &v {
            match read_field(schema, k, at, name, value, expand, document) {
                Ok(f) => fields.push((name.clone(), f)),
                Err(mut e) => problems.append(&mut e),
            }
        }
        out.push(Item {
            kind: k.kind.clone(),
            at: at.to_string(),
            fields,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        problems.dedup();
        Err(problems)
    }
}

fn read_ref(value: &Value) -> Option<Ref> {
    match value {
        Value::String(s) if uuid::Uuid::parse_str(s).is_ok() => Some(Ref::Id(s.clone())),
        Value::String(s) => Some(Ref::Hfid(vec![s.clone()])),
        Value::Number(_) | Value::Bool(_) => value_key(value).map(|s| Ref::Hfid(vec![s])),
        Value::Array(a) if !a.is_empty() && a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            Some(Ref::Hfid(a.iter().filter_map(value_key).collect()))
        }
        Value::Object(o) => match (o.get("id").and_then(Value::as_str), o.get("hfid")) {
            (Some(id), _) => Some(Ref::Id(id.to_string())),
            (None, Some(Value::Array(a))) => {
                Some(Ref::Hfid(a.iter().filter_map(value_key).collect()))
            }
            _ => None,
        },
        _ => None,
    }
}

/// One nested child as written: its `kind`, `parameters` and `data`.
type NestedData<'v> = (Option<&'v str>, Option<&'v Value>, Value);

fn is_nested(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.contains_key("data"))
}

fn read_field(
    schema: &Schema,
    k: &KindSchema,
    at: &str,
    name: &str,
    value: &Value,
    expand: bool,
    document: Document<'_>,
) -> Result<Field, Vec<String>> {
    let here = format!("{at}: field '{name}'");
    if let Some(a) = k.attribute(name) {
        if a.read_only {
            return Err(vec![format!("{here}: read-only, it cannot be set")]);
        }
        return Ok(match value {
            Value::Null => Field::Null,
            Value::Object(o) if o.contains_key("value") => {
                Field::Attr(o.get("value").cloned().unwrap_or(Value::Null))
            }
            v => Field::Attr(v.clone()),
        });
    }
    let Some(r) = k.relationship(name) else {
        return Err(vec![format!(
            "{here}: unknown field, {} has no attribute or relationship '{name}'",
            k.kind
        )]);
    };
    if r.read_only {
        return Err(vec![format!("{here}: read-only, it cannot be set")]);
    }
    if value.is_null() {
        return Ok(Field::Null);
    }
    // Nested children: `{kind?, parameters?, data: …}` or `[{kind, data}, …]`.
    let nested: Option<Vec<NestedData<'_>>> = if is_nested(value) {
        let o = value.as_object().cloned().unwrap_or_default();
        let mut p = Vec::new();
        unknown_keys(&here, &o, &["kind", "parameters", "data"], &mut p);
        if !p.is_empty() {
            return Err(p);
        }
        let data = o.get("data").cloned().unwrap_or(Value::Null);
        let list = match (r.cardinality, data) {
            (Cardinality::Many, Value::Array(a)) => a,
            (Cardinality::One, d @ Value::Object(_)) => vec![d],
            (Cardinality::Many, _) => {
                return Err(vec![format!("{here}: data must be a list of items")]);
            }
            (Cardinality::One, _) => {
                return Err(vec![format!("{here}: data must be a mapping of fields")]);
            }
        };
        let kind = value.get("kind").and_then(Value::as_str);
        let params = value.get("parameters");
        Some(list.into_iter().map(|d| (kind, params, d)).collect())
    } else if let Value::Array(a) = value
        && !a.is_empty()
        && a.iter().all(is_nested)
    {
        if r.cardinality == Cardinality::One {
            return Err(vec![format!(
                "{here}: one related node expected, got a list"
            )]);
        }
        let mut list = Vec::new();
        for x in a {
            let mut p = Vec::new();
            if let Some(o) = x.as_object() {
                unknown_keys(&here, o, &["kind", "parameters", "data"], &mut p);
            }
            if !p.is_empty() {
                return Err(p);
            }
            let kind = x.get("kind").and_then(Value::as_str);
            match x.get("data") {
                Some(Value::Array(items)) => {
                    list.extend(items.iter().map(|d| (kind, x.get("parameters"), d.clone())))
                }
                Some(d) => list.push((kind, x.get("parameters"), d.clone())),
                None => {}
            }
        }
        Some(list)
    } else {
        None
    };
    if let Some(list) = nested {
        let mut items = Vec::new();
        let mut problems = Vec::new();
        for (j, (kind, params, data)) in list.into_iter().enumerate() {
            let kind = kind.unwrap_or_else(|| {
                let generic = schema.get(&r.peer).is_some_and(|peer| peer.is_generic);
                if generic && schema.is_a(document.spec_kind, &r.peer) {
                    document.spec_kind
                } else {
                    &r.peer
                }
            });
            let ck = match node_kind(schema, kind) {
                Ok(ck) if schema.is_a(&ck.kind, &r.peer) => ck,
                Ok(ck) => {
                    problems.push(format!("{here}: {} is not a {}", ck.kind, r.peer));
                    continue;
                }
                Err(e) => {
                    problems.push(format!("{here}: kind: {e}"));
                    continue;
                }
            };
            let child_at = format!("{at} > {name} item {j}");
            let expand = match expand_flag(&here, params, expand) {
                Ok(x) => x,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            match read_item(schema, ck, &child_at, &data, Some(j), expand, document) {
                Ok(mut v) => items.append(&mut v),
                Err(mut e) => problems.append(&mut e),
            }
        }
        return if problems.is_empty() {
            Ok(Field::Nested(items))
        } else {
            Err(problems)
        };
    }
    let bad = || {
        vec![format!(
            "{here}: expected a reference to a {} (an id, an HFID string or an HFID list) or nested objects under 'data', got {value}",
            r.peer
        )]
    };
    match r.cardinality {
        Cardinality::One => read_ref(value).map(Field::One).ok_or_else(bad),
        Cardinality::Many => match value {
            Value::Array(a) => a
                .iter()
                .map(read_ref)
                .collect::<Option<Vec<Ref>>>()
                .map(Field::Many)
                .ok_or_else(bad),
            other => read_ref(other)
                .map(|r| Field::Many(vec![r]))
                .ok_or_else(bad),
        },
    }
}

/// The most values one text may expand to: the product of the sizes of its `[…]` groups
/// (`m[1-100][1-100]` is 10,000). It is checked before anything is expanded, so a typo
/// such as `m[1-100000][1-100000]` (10^10 names) is refused at once instead of filling
/// memory. 10,000 is far beyond any real fabric (a 48-port switch × 200 racks is 9,600)
/// while an item's worth of expanded names stays a few hundred kilobytes.
pub const MAX_RANGE_VALUES: u64 = 10_000;

/// Expand the `[…]` ranges of an item's string fields into one item per value; every
/// expanded field must give the same number of values. Every field is parsed and counted
/// (against [`MAX_RANGE_VALUES`]) before any is expanded.
fn expand_item(at: &str, obj: &Map<String, Value>) -> Result<Vec<Map<String, Value>>, String> {
    let mut ranged: Vec<(&String, Vec<Segment>, u64)> = Vec::new();
    for (k, v) in obj {
        let Some(s) = v.as_str() else { continue };
        let (segments, n) = parse_ranges(s).map_err(|e| format!("{at}: field '{k}': {e}"))?;
        // A text without ranges (or escapes) stays as it is.
        if n != 1 || expand_segments(&segments).first().map(String::as_str) != Some(s) {
            ranged.push((k, segments, n));
        }
    }
    let Some((first, _, n)) = ranged.first().map(|(k, s, n)| (k.to_string(), s, *n)) else {
        return Ok(vec![obj.clone()]);
    };
    if let Some((other, _, m)) = ranged.iter().find(|(_, _, m)| *m != n) {
        return Err(format!(
            "{at}: expand_range: field '{first}' expands to {n} values but field '{other}' to {m}; every expanded field of an item must give the same number"
        ));
    }
    let expanded: Vec<(&String, Vec<String>)> = ranged
        .into_iter()
        .map(|(k, segments, _)| (k, expand_segments(&segments)))
        .collect();
    Ok((0..expanded.first().map_or(0, |(_, v)| v.len()))
        .map(|i| {
            let mut o = obj.clone();
            for (k, v) in &expanded {
                o.insert(k.to_string(), Value::String(v[i].clone()));
            }
            o
        })
        .collect())
}

/// Expand `Ethernet[1-3]`, `[a-c]`, `[1,3,5]` (several groups multiply), with `\[` and `\]`
/// as literal brackets. A text without ranges gives itself (unescaped). A text that would
/// give more than [`MAX_RANGE_VALUES`] values is refused before anything is expanded.
pub fn expand_range(text: &str) -> Result<Vec<String>, String> {
    let (segments, _) = parse_ranges(text)?;
    Ok(expand_segments(&segments))
}

/// A piece of a text with ranges: literal characters or one `[…]` group.
#[derive(Debug)]
enum Segment {
    Literal(String),
    Group(Vec<Part>),
}

/// One comma-separated part of a `[…]` group.
#[derive(Debug)]
enum Part {
    /// `from-to`, zero-padded to `width` digits when `from` has a leading zero.
    Numbers { from: u64, to: u64, width: usize },
    /// `a-c`.
    Letters(char, char),
    /// Anything else, taken as it is.
    Single(String),
}

impl Part {
    /// How many values the part gives; `None` when that does not fit a `u64`.
    fn count(&self) -> Option<u64> {
        match self {
            Part::Numbers { from, to, .. } => (to - from).checked_add(1),
            Part::Letters(a, b) => Some(u64::from(*b) - u64::from(*a) + 1),
            Part::Single(_) => Some(1),
        }
    }
}

/// Parse a text into literals and groups and count the values it expands to (checked
/// arithmetic: the product of the groups' sizes), refusing more than [`MAX_RANGE_VALUES`].
fn parse_ranges(text: &str) -> Result<(Vec<Segment>, u64), String> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('[') | Some(']')) => {
                literal.push(chars.next().unwrap_or(c));
            }
            '[' => {
                let mut body = String::new();
                let mut closed = false;
                for d in chars.by_ref() {
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    body.push(d);
                }
                if !closed {
                    return Err(format!(
                        "'{text}': '[' without a closing ']' (write \\[ for a literal bracket)"
                    ));
                }
                let parts = range_parts(&body).map_err(|e| format!("'{text}': {e}"))?;
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Group(parts));
            }
            _ => literal.push(c),
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    let count = segments
        .iter()
        .try_fold(1u64, |product, segment| match segment {
            Segment::Literal(_) => Some(product),
            Segment::Group(parts) => parts
                .iter()
                .try_fold(0u64, |sum, p| sum.checked_add(p.count()?))
                .and_then(|n| product.checked_mul(n)),
        });
    match count {
        Some(n) if n <= MAX_RANGE_VALUES => Ok((segments, n)),
        Some(n) => Err(format!(
            "'{text}': expands to {n} values, more than the limit of {MAX_RANGE_VALUES} for one value"
        )),
        None => Err(format!(
            "'{text}': expands to more than {} values, more than the limit of {MAX_RANGE_VALUES} for one value",
            u64::MAX
        )),
    }
}

/// Every value of parsed segments, in order (the last group varies fastest).
fn expand_segments(segments: &[Segment]) -> Vec<String> {
    let mut out = vec![String::new()];
    for segment in segments {
        match segment {
            Segment::Literal(l) => out.iter_mut().for_each(|s| s.push_str(l)),
            Segment::Group(parts) => {
                let values: Vec<String> = parts.iter().flat_map(part_values).collect();
                out = out
                    .iter()
                    .flat_map(|p| values.iter().map(move |v| format!("{p}{v}")))
                    .collect();
            }
        }
    }
    out
}

fn part_values(part: &Part) -> Vec<String> {
    match part {
        Part::Numbers { from, to, width } => {
            (*from..=*to).map(|n| format!("{n:0width$}")).collect()
        }
        Part::Letters(a, b) => (*a..=*b).map(String::from).collect(),
        Part::Single(s) => vec![s.clone()],
    }
}

fn range_parts(body: &str) -> Result<Vec<Part>, String> {
    if body.trim().is_empty() {
        return Err("empty range '[]'".into());
    }
    let mut out = Vec::new();
    for part in body.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() => {
                if let (Ok(from), Ok(to)) = (a.parse::<u64>(), b.parse::<u64>()) {
                    if from > to {
                        return Err(format!("range '{part}' goes backwards"));
                    }
                    let width = if a.len() > 1 && a.starts_with('0') {
                        a.len()
                    } else {
                        0
                    };
                    out.push(Part::Numbers { from, to, width });
                } else {
                    let (mut ca, mut cb) = (a.chars(), b.chars());
                    match (ca.next(), ca.next(), cb.next(), cb.next()) {
                        (Some(x), None, Some(y), None)
                            if x.is_ascii_alphabetic() && y.is_ascii_alphabetic() && x <= y =>
                        {
                            out.push(Part::Letters(x, y));
                        }
                        _ => {
                            return Err(format!(
                                "'{part}' is neither a number range nor a letter range"
                            ));
                        }
                    }
                }
            }
            _ => out.push(Part::Single(part.to_string())),
        }
    }
    Ok(out)
}

/// Resolve a reference to the id of a `peer` node visible in `tx`.
fn resolve(tx: &Tx<'_>, here: &str, peer: &str, r: &Ref) -> Result<String, String> {
    match r {
        Ref::Id(id) => match tx.get(id) {
            Some(n) if tx.schema.is_a(&n.kind, peer) => Ok(n.id.to_string()),
            Some(n) => Err(format!(
                "{here}: node {id} is a {}, expected a {peer}",
                n.kind
            )),
            None => Err(format!("{here}: no {peer} with id {id}")),
        },
        Ref::Hfid(h) => {
            let mut found = tx.find_by_hfid(peer, h);
            if let ([name], true) = (h.as_slice(), found.is_empty()) {
                // Kinds without an HFID (groups) are referenced by their
                // default filter, as Infrahub object files do with
                // `member_of_groups: [fabrics]`.
                found = tx.find_by_default_filter(peer, name);
            }
            match found.as_slice() {
                [one] => Ok(one.id.to_string()),
                [] => Err(format!("{here}: no {peer} with hfid {h:?}")),
                _ => Err(format!("{here}: several {peer} nodes have the hfid {h:?}")),
            }
        }
    }
}

/// Upsert `item` (and its nested children) in `tx`; `parent` is the injected back-reference.
/// Returns the node's id and counts the items written.
pub(crate) fn write(
    tx: &mut Tx<'_>,
    item: &Item,
    parent: Option<(&str, &str)>,
    count: &mut usize,
) -> Result<String, String> {
    let schema = tx.schema;
    let Some(k) = schema.get(&item.kind) else {
        return Err(format!("{}: unknown kind '{}'", item.at, item.kind));
    };
    let mut data = Map::new();
    if let Some((rel, id)) = parent {
        data.insert(rel.to_string(), json!({ "id": id }));
    }
    let mut after: Vec<(String, &Item)> = Vec::new();
    for (name, f) in &item.fields {
        let here = format!("{}: field '{name}'", item.at);
        let peer = k
            .relationship(name)
            .map(|r| r.peer.clone())
            .unwrap_or_default();
        let v = match f {
            Field::Null => Value::Null,
            Field::Attr(v) => json!({ "value": v }),
            Field::One(r) => json!({ "id": resolve(tx, &here, &peer, r)? }),
            Field::Many(rs) => Value::Array(
                rs.iter()
                    .map(|r| resolve(tx, &here, &peer, r).map(|id| json!({ "id": id })))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Field::Nested(children) => {
                let Some(r) = k.relationship(name) else {
                    continue;
                };
                let mut ids = Vec::new();
                for child in children {
                    match schema.counterpart(&child.kind, r) {
                        Some(back) if !back.optional => after.push((back.name.clone(), child)),
                        _ => ids.push(json!({ "id": write(tx, child, None, count)? })),
                    }
                }
                if ids.is_empty() {
                    continue;
                }
                match r.cardinality {
                    Cardinality::One => ids.into_iter().next().unwrap_or(Value::Null),
                    Cardinality::Many => Value::Array(ids),
                }
            }
        };
        data.insert(name.clone(), v);
    }
    let id = engine::upsert(tx, k, &data).map_err(|e| format!("{}: {e}", item.at))?;
    *count += 1;
    for (back, child) in after {
        write(tx, child, Some((&back, &id)), count)?;
    }
    Ok(id)
}
