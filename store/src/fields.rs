//! [`Fields`]: a node's values or peers by field name, as a vector sorted by name.
//!
//! A node has a handful of attributes and relationships, and the store makes, copies and
//! drops node views by the hundred thousand in a large build: the node cache holds one per
//! node and branch read, every write copies the view it changes, and a commit replaces
//! them. A `BTreeMap` of so few entries costs more than it saves — one tree node sized for
//! eleven entries whatever the count, a walk of the tree to copy or drop it — where a
//! sorted vector is one exact allocation, copied and dropped front to back, and searched
//! in a few comparisons. The order (by name) and therefore equality, iteration and the
//! JSON text are the `BTreeMap`'s.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

/// The most fields looked through one by one rather than by a binary search.
const LINEAR: usize = 16;

/// Values (an attribute's, a relationship's peers) by field name, sorted by name, each name
/// once.
#[derive(Clone, PartialEq, Eq)]
pub struct Fields<V> {
    entries: Vec<(String, V)>,
}

impl<V> Default for Fields<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Fields<V> {
    /// No fields.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Where `name` is, or where it would go.
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(key, _)| key.as_str().cmp(name))
    }

    /// Where `name` is. Most reads look a name up among a handful: compared for equality,
    /// most names differ in length and are passed over without reading them, where a
    /// binary search compares the bytes of each name it meets.
    fn position(&self, name: &str) -> Option<usize> {
        if self.entries.len() <= LINEAR {
            self.entries.iter().position(|(key, _)| key == name)
        } else {
            self.find(name).ok()
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&V> {
        self.position(name).map(|at| &self.entries[at].1)
    }

    /// The value of `name`, to change in place.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.position(name).map(|at| &mut self.entries[at].1)
    }

    /// Whether `name` has a value.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Room for `additional` more fields: a node's values set one by one (a new node's, a
    /// view of one) are as many as its schema or its pending changes say, known before the
    /// first is set.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// Sets `name` to `value`, returning the value it replaced.
    pub fn insert(&mut self, name: String, value: V) -> Option<V> {
        // Fields read back from the store come in order: appended without a search.
        if self.entries.last().is_none_or(|(last, _)| *last < name) {
            self.entries.push((name, value));
            return None;
        }
        match self.find(&name) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                self.entries.insert(at, (name, value));
                None
            }
        }
    }

    /// The value of `name`, set to `V::default()` first when it has none.
    pub fn get_or_default(&mut self, name: String) -> &mut V
    where
        V: Default,
    {
        let at = match self.find(&name) {
            Ok(at) => at,
            Err(at) => {
                self.entries.insert(at, (name, V::default()));
                at
            }
        };
        &mut self.entries[at].1
    }

    /// Unsets `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<V> {
        let at = self.position(name)?;
        Some(self.entries.remove(at).1)
    }

    /// Keeps the fields for which `keep` says so.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut V) -> bool) {
        self.entries.retain_mut(|(name, value)| keep(name, value));
    }

    /// The fields, by name.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            inner: self.entries.iter(),
        }
    }

    /// The names, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries.iter().map(|(name, _)| name)
    }

    /// The values, in the order of their names.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, value)| value)
    }

    /// How many fields have a value.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no field has a value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The fields of a [`Fields`], by name: `(&name, &value)`, as a `BTreeMap`'s iterator.
#[derive(Clone)]
pub struct Iter<'a, V> {
    inner: std::slice::Iter<'a, (String, V)>,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a String, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(name, value)| (name, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<V> DoubleEndedIterator for Iter<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(name, value)| (name, value))
    }
}

impl<V> ExactSizeIterator for Iter<'_, V> {}

impl<'a, V> IntoIterator for &'a Fields<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = Iter<'a, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<V> IntoIterator for Fields<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<V> Extend<(String, V)> for Fields<V> {
    fn extend<I: IntoIterator<Item = (String, V)>>(&mut self, fields: I) {
        let fields = fields.into_iter();
        self.entries.reserve(fields.size_hint().0);
        for (name, value) in fields {
            self.insert(name, value);
        }
    }
}

impl<V> FromIterator<(String, V)> for Fields<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(fields: I) -> Self {
        let mut out = Self::new();
        out.extend(fields);
        out
    }
}

impl<V: fmt::Debug> fmt::Debug for Fields<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Serialize> Serialize for Fields<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Fields<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for FieldsVisitor<V> {
            type Value = Fields<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field names to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Fields {
                    entries: Vec::with_capacity(map.size_hint().unwrap_or(0)),
                };
                // A name given twice keeps its last value, as a `BTreeMap` would.
                while let Some((name, value)) = map.next_entry::<String, V>()? {
                    fields.insert(name, value);
                }
                Ok(fields)
            }
        }

        deserializer.deserialize_map(FieldsVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    /// Every operation, against a `BTreeMap` doing the same: the same answers, the same
    /// fields in the same order, the same JSON text.
    #[test]
    fn fields_behave_as_a_btree_map_of_the_same_entries() {
        let mut fields: Fields<Value> = Fields::new();
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        let names = ["mtu", "name", "a", "z", "name", "description", "mtu", "b"];
        for (i, name) in names.iter().enumerate() {
            assert_eq!(
                fields.insert(name.to_string(), json!(i)),
                map.insert(name.to_string(), json!(i)),
                "insert {name}"
            );
            assert_eq!(
                fields.iter().collect::<Vec<_>>(),
                map.iter().collect::<Vec<_>>()
            );
        }
        for name in ["mtu", "missing", "a", "z"] {
            assert_eq!(fields.get(name), map.get(name), "get {name}");
            assert_eq!(fields.contains_key(name), map.contains_key(name));
        }
        *fields.get_mut("b").expect("b") = json!("changed");
        *map.get_mut("b").expect("b") = json!("changed");
        *fields.get_or_default("c".into()) = json!(true);
        map.insert("c".into(), json!(true));
        for name in ["z", "missing", "a"] {
            assert_eq!(fields.remove(name), map.remove(name), "remove {name}");
        }
        fields.retain(|name, _| name != "description");
        map.retain(|name, _| name != "description");
        assert_eq!(fields.len(), map.len());
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            map.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            serde_json::to_string(&fields).expect("text"),
            serde_json::to_string(&map).expect("text")
        );
        let text = r#"{"z":1,"a":2,"m":3,"a":4}"#;
        let read: Fields<Value> = serde_json::from_str(text).expect("fields");
        let expected: BTreeMap<String, Value> = serde_json::from_str(text).expect("map");
        assert_eq!(
            read.iter().collect::<Vec<_>>(),
            expected.iter().collect::<Vec<_>>()
        );
        let collected: Fields<Value> = expected.clone().into_iter().rev().collect();
        assert_eq!(collected, read);
        assert_eq!(format!("{read:?}"), format!("{expected:?}"));
    }

    /// Past [`LINEAR`] fields a name is found by a binary search: the same answers.
    #[test]
    fn many_fields_are_found_as_few_are() {
        let mut fields: Fields<usize> = Fields::new();
        let mut map: BTreeMap<String, usize> = BTreeMap::new();
        for i in 0..(3 * LINEAR) {
            let name = format!("field{}", (i * 7) % (3 * LINEAR));
            fields.insert(name.clone(), i);
            map.insert(name, i);
        }
        assert!(fields.len() > LINEAR);
        for i in 0..(4 * LINEAR) {
            let name = format!("field{i}");
            assert_eq!(fields.get(&name), map.get(&name), "{name}");
        }
        assert_eq!(fields.remove("field5"), map.remove("field5"));
        assert_eq!(fields.get("field5"), None);
        assert_eq!(
            fields.iter().collect::<Vec<_>>(),
            map.iter().collect::<Vec<_>>()
        );
    }
}
