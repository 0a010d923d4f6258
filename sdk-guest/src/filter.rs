//! Infrahub filter arguments, built without hand-written JSON.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// The filter arguments of a [`nodes::get`](crate::nodes::get) or
/// [`nodes::filters`](crate::nodes::filters) call: a JSON object of Infrahub
/// filter names (`name__value`, `role__values`, `ids`, `site__name__value`…)
/// to values.
///
/// ```
/// use infragen_sdk::Filter;
/// let filter = Filter::new()
///     .eq("fabric__name__value", "Fabric-A")
///     .values("role__values", ["spine", "leaf"]);
/// assert_eq!(
///     filter.to_json(),
///     serde_json::json!({
///         "fabric__name__value": "Fabric-A",
///         "role__values": ["spine", "leaf"],
///     })
/// );
/// ```
///
/// The builder does not check names against the schema: the host does, and
/// reports an unknown filter as `invalid-input`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    arguments: Map<String, Value>,
}

impl Filter {
    /// No filter: every node of the kind.
    pub fn new() -> Self {
        Filter::default()
    }

    /// `name` equals `value`, e.g. `.eq("name__value", "leaf1")` or
    /// `.eq("index__value", 3)`. A later call with the same name replaces it.
    pub fn eq(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.arguments.insert(name.into(), value.into());
        self
    }

    /// `name` is one of `values`, e.g. `.values("role__values", ["spine", "leaf"])`.
    pub fn values<V: Into<Value>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.arguments.insert(name.into(), Value::Array(values));
        self
    }

    /// The node's id is one of `ids` (Infrahub's `ids` argument).
    pub fn ids<S: Into<String>>(self, ids: impl IntoIterator<Item = S>) -> Self {
        self.values("ids", ids.into_iter().map(Into::into))
    }

    /// Whether no argument was set.
    pub fn is_empty(&self) -> bool {
        self.arguments.is_empty()
    }

    /// The arguments as a JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(self.arguments.clone())
    }
}

impl From<Map<String, Value>> for Filter {
    fn from(arguments: Map<String, Value>) -> Self {
        Filter { arguments }
    }
}

/// Serialises as the plain JSON object, so a `Filter` and a `json!({...})`
/// are interchangeable wherever the client takes filters.
impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.arguments.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_filter_is_an_empty_object() {
        assert!(Filter::new().is_empty());
        assert_eq!(serde_json::to_string(&Filter::new()).unwrap(), "{}");
    }

    #[test]
    fn builder_produces_infrahub_filter_arguments() {
        let filter = Filter::new()
            .eq("name__value", "leaf1")
            .eq("index__value", 3)
            .eq("active__value", true)
            .values("role__values", ["spine", "leaf"])
            .ids(["id-1".to_string(), "id-2".to_string()]);
        assert_eq!(
            serde_json::to_value(&filter).unwrap(),
            json!({
                "name__value": "leaf1",
                "index__value": 3,
                "active__value": true,
                "role__values": ["spine", "leaf"],
                "ids": ["id-1", "id-2"],
            })
        );
        assert_eq!(filter.to_json(), serde_json::to_value(&filter).unwrap());
    }

    #[test]
    fn later_argument_with_the_same_name_replaces_the_earlier_one() {
        let filter = Filter::new().eq("name__value", "a").eq("name__value", "b");
        assert_eq!(filter.to_json(), json!({"name__value": "b"}));
    }

    #[test]
    fn serialises_in_a_stable_order() {
        // BTreeMap-backed: the same filter always produces the same text, so
        // host-side recordings and caches see identical requests.
        let a = Filter::new().eq("b", 1).eq("a", 2);
        let b = Filter::new().eq("a", 2).eq("b", 1);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"a":2,"b":1}"#);
    }

    #[test]
    fn converts_from_a_json_map() {
        let map = json!({"name__value": "x"}).as_object().unwrap().clone();
        assert_eq!(Filter::from(map), Filter::new().eq("name__value", "x"));
    }
}
