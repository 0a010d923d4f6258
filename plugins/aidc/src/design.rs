//! The design objects as the generators' queries return them
//! (`generators/generate_{fabric,pod,rack}.gql`), read into plain structs.
//!
//! Reading is strict about what the schema guarantees (ids, names, numbers
//! with defaults) and lenient about what may legitimately be unset
//! (templates, a pod's fabric): an unset precondition becomes a gate error in
//! [`gates`](crate::gates), with a message, instead of a panic here.

use infragen_sdk::Node;
use serde_json::Value;

use crate::error::{DesignError, Result};
use crate::ordering::SortingMethod;

/// The role that marks the pod holding a fabric's super spines.
pub const FABRIC_POD_ROLE: &str = "fabric";

/// A reference to an object template (a `TemplateNetworkDevice`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRef {
    /// Node id.
    pub id: String,
    /// Kind, e.g. `TemplateNetworkDevice`.
    pub kind: String,
    /// Human-friendly id (`[template_name]`); may be empty if the backend
    /// did not return one.
    pub hfid: Vec<String>,
    /// What a person would call it.
    pub label: String,
}

/// A pod as seen from its fabric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSummary {
    /// Node id.
    pub id: String,
    /// Name, e.g. `Pod-A2`.
    pub name: String,
    /// Index in the fabric.
    pub index: Option<i64>,
    /// Role (`fabric`, `cpu`, `storage`).
    pub role: Option<String>,
}

impl PodSummary {
    /// Whether this is the pod holding the fabric's super spines.
    pub fn is_fabric_pod(&self) -> bool {
        self.role.as_deref() == Some(FABRIC_POD_ROLE)
    }
}

/// What `generate-fabric` reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FabricDesign {
    /// Node id (the identifier of the fabric's allocations).
    pub id: String,
    /// Kind of the node (for stamps and messages).
    pub kind: String,
    /// Name, e.g. `Fabric-A`.
    pub name: String,
    /// How many super spines to create.
    pub amount_of_super_spines: i64,
    /// Orders the super-spine side of pod cabling.
    pub fabric_sorting: SortingMethod,
    /// Orders the spine side of pod cabling.
    pub spine_sorting: SortingMethod,
    /// Template of the super spines.
    pub template: Option<TemplateRef>,
    /// The fabric's pods.
    pub pods: Vec<PodSummary>,
}

/// A fabric as seen from one of its pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FabricOfPod {
    /// Node id.
    pub id: String,
    /// Name.
    pub name: String,
    /// How many super spines the fabric should have.
    pub amount_of_super_spines: i64,
    /// Orders the super-spine side of pod cabling.
    pub fabric_sorting: SortingMethod,
    /// Orders the spine side of pod cabling.
    pub spine_sorting: SortingMethod,
    /// The fabric's pods (to find the `fabric` pod).
    pub pods: Vec<PodSummary>,
}

/// A rack as seen from its pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RackSummary {
    /// Node id.
    pub id: String,
    /// Kind of the node (for stamps).
    pub kind: String,
    /// Name, e.g. `Rack-A2-3`.
    pub name: String,
    /// How many leafs the rack has (to size the pod's loopback block).
    pub amount_of_leafs: i64,
    /// Index in the pod: picks the rack's window of spine ports.
    pub index: Option<i64>,
}

/// What `generate-pod` reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodDesign {
    /// Node id (the identifier of the pod's allocations).
    pub id: String,
    /// Name, e.g. `Pod-A2`.
    pub name: String,
    /// Index in the fabric; picks the pod's window of super-spine ports.
    pub index: Option<i64>,
    /// Role; the `fabric` pod is not the pod generator's.
    pub role: Option<String>,
    /// How many spines to create.
    pub amount_of_spines: i64,
    /// Orders the spines' leaf-facing ports (the racks' windows), as the rack
    /// generator orders them.
    pub spine_sorting: SortingMethod,
    /// Template of the spines.
    pub template: Option<TemplateRef>,
    /// The pod's fabric.
    pub fabric: Option<FabricOfPod>,
    /// The pod's racks.
    pub racks: Vec<RackSummary>,
}

/// A pod as seen from one of its racks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodOfRack {
    /// Node id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Option<String>,
    /// How many spines the pod should have.
    pub amount_of_spines: i64,
    /// Orders the leaf side of rack cabling.
    pub leaf_sorting: SortingMethod,
    /// Orders the spine side of rack cabling.
    pub spine_sorting: SortingMethod,
    /// Name of the pod's fabric (pool names derive from it).
    pub fabric: Option<String>,
}

/// What `generate-rack` reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RackDesign {
    /// Node id.
    pub id: String,
    /// Name, e.g. `Rack-A2-3`.
    pub name: String,
    /// Index in the pod; picks the rack's window of spine ports.
    pub index: Option<i64>,
    /// How many leafs to create (1 or 2).
    pub amount_of_leafs: i64,
    /// Template of the leafs.
    pub template: Option<TemplateRef>,
    /// The rack's pod.
    pub pod: Option<PodOfRack>,
}

/// The one node of `kind` a generator's query returned for `name`. Zero is
/// `not found` (the target was renamed or deleted since the run was
/// scheduled); several cannot happen for a unique name but are refused.
fn only_node(data: &Value, kind: &str, what: &str, name: &str) -> Result<Node> {
    let mut nodes = Node::from_edges(&data[kind]);
    match nodes.len() {
        1 => Ok(nodes.remove(0)),
        0 => Err(DesignError::not_found(format!(
            "{what} '{name}' does not exist (no {kind} with that name)"
        ))),
        n => Err(DesignError::invalid_data(format!(
            "{what} '{name}': {n} {kind} nodes have that name"
        ))),
    }
}

fn id(node: &Node, what: &str) -> Result<String> {
    node.id()
        .map(str::to_string)
        .ok_or_else(|| DesignError::invalid_data(format!("{what}: the query returned no id")))
}

fn name(node: &Node, what: &str) -> Result<String> {
    node.attr_str("name")
        .map(str::to_string)
        .ok_or_else(|| DesignError::invalid_data(format!("{what}: the query returned no name")))
}

/// A mandatory number (the schema gives it a default, so unset means the
/// query did not ask for it).
fn number(node: &Node, attribute: &str, what: &str) -> Result<i64> {
    node.attr_i64(attribute)
        .ok_or_else(|| DesignError::invalid_data(format!("{what}: {attribute} is not set")))
}

fn sorting(node: &Node, attribute: &str, what: &str) -> Result<SortingMethod> {
    SortingMethod::from_dropdown(node.attr_str(attribute), attribute, what)
}

fn template(node: &Node, relationship: &str) -> Option<TemplateRef> {
    let peer = node.rel_node(relationship)?;
    Some(TemplateRef {
        id: peer.id()?.to_string(),
        kind: peer.kind().unwrap_or("CoreObjectTemplate").to_string(),
        hfid: peer.hfid().into_iter().map(str::to_string).collect(),
        label: peer
            .display_label()
            .or_else(|| peer.hfid().first().copied())
            .or(peer.id())
            .unwrap_or_default()
            .to_string(),
    })
}

fn pods(node: &Node, what: &str) -> Result<Vec<PodSummary>> {
    node.rel_nodes("children")
        .iter()
        .filter(|child| child.kind().is_none_or(|kind| kind == "NetworkPod"))
        .map(|pod| {
            Ok(PodSummary {
                id: id(pod, what)?,
                name: name(pod, what)?,
                index: pod.attr_i64("index"),
                role: pod.attr_str("role").map(str::to_string),
            })
        })
        .collect()
}

impl FabricDesign {
    /// Reads the result of `generate_fabric.gql` for `fabric_name`.
    pub fn from_query(data: &Value, fabric_name: &str) -> Result<FabricDesign> {
        let node = only_node(data, "NetworkFabric", "fabric", fabric_name)?;
        let what = format!("fabric {fabric_name}");
        Ok(FabricDesign {
            id: id(&node, &what)?,
            kind: node.kind().unwrap_or("NetworkFabric").to_string(),
            name: name(&node, &what)?,
            amount_of_super_spines: number(&node, "amount_of_super_spines", &what)?,
            fabric_sorting: sorting(&node, "fabric_interface_sorting_method", &what)?,
            spine_sorting: sorting(&node, "spine_interface_sorting_method", &what)?,
            template: template(&node, "super_spine_switch_template"),
            pods: pods(&node, &what)?,
        })
    }
}

impl PodDesign {
    /// Reads the result of `generate_pod.gql` for `pod_name`.
    pub fn from_query(data: &Value, pod_name: &str) -> Result<PodDesign> {
        let node = only_node(data, "NetworkPod", "pod", pod_name)?;
        let what = format!("pod {pod_name}");
        let fabric = match node.rel_node("parent") {
            Some(fabric) => {
                let of = format!("fabric of pod {pod_name}");
                Some(FabricOfPod {
                    id: id(&fabric, &of)?,
                    name: name(&fabric, &of)?,
                    amount_of_super_spines: number(&fabric, "amount_of_super_spines", &of)?,
                    fabric_sorting: sorting(&fabric, "fabric_interface_sorting_method", &of)?,
                    spine_sorting: sorting(&fabric, "spine_interface_sorting_method", &of)?,
                    pods: pods(&fabric, &of)?,
                })
            }
            None => None,
        };
        let racks = node
            .rel_nodes("racks")
            .iter()
            .map(|rack| {
                Ok(RackSummary {
                    id: id(rack, &what)?,
                    kind: rack.kind().unwrap_or("LocationRack").to_string(),
                    name: name(rack, &what)?,
                    amount_of_leafs: rack.attr_i64("amount_of_leafs").unwrap_or(1),
                    index: rack.attr_i64("index"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PodDesign {
            id: id(&node, &what)?,
            name: name(&node, &what)?,
            index: node.attr_i64("index"),
            role: node.attr_str("role").map(str::to_string),
            amount_of_spines: number(&node, "amount_of_spines", &what)?,
            spine_sorting: sorting(&node, "spine_interface_sorting_method", &what)?,
            template: template(&node, "spine_switch_template"),
            fabric,
            racks,
        })
    }

    /// Whether this is the pod holding the fabric's super spines.
    pub fn is_fabric_pod(&self) -> bool {
        self.role.as_deref() == Some(FABRIC_POD_ROLE)
    }
}

impl RackDesign {
    /// Reads the result of `generate_rack.gql` for `rack_name`.
    pub fn from_query(data: &Value, rack_name: &str) -> Result<RackDesign> {
        let node = only_node(data, "LocationRack", "rack", rack_name)?;
        let what = format!("rack {rack_name}");
        let pod = match node.rel_node("pod") {
            Some(pod) => {
                let of = format!("pod of rack {rack_name}");
                Some(PodOfRack {
                    id: id(&pod, &of)?,
                    name: name(&pod, &of)?,
                    role: pod.attr_str("role").map(str::to_string),
                    amount_of_spines: number(&pod, "amount_of_spines", &of)?,
                    leaf_sorting: sorting(&pod, "leaf_interface_sorting_method", &of)?,
                    spine_sorting: sorting(&pod, "spine_interface_sorting_method", &of)?,
                    fabric: pod
                        .rel_node("parent")
                        .and_then(|fabric| fabric.attr_str("name").map(str::to_string)),
                })
            }
            None => None,
        };
        Ok(RackDesign {
            id: id(&node, &what)?,
            name: name(&node, &what)?,
            index: node.attr_i64("index"),
            amount_of_leafs: number(&node, "amount_of_leafs", &what)?,
            template: template(&node, "leaf_switch_template"),
            pod,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fabric_data(template: Value) -> Value {
        json!({"NetworkFabric": {"edges": [{"node": {
            "id": "f1", "__typename": "NetworkFabric",
            "name": {"value": "Fabric-A"}, "index": {"value": 1},
            "amount_of_super_spines": {"value": 6},
            "fabric_interface_sorting_method": {"value": "create_reverse_sorted_device_interface_map"},
            "spine_interface_sorting_method": {"value": "create_sorted_device_interface_map"},
            "super_spine_switch_template": {"node": template},
            "children": {"edges": [
                {"node": {"id": "p1", "__typename": "NetworkPod", "name": {"value": "Pod-A1"}, "index": {"value": 1}, "role": {"value": "fabric"}}},
                {"node": {"id": "p2", "__typename": "NetworkPod", "name": {"value": "Pod-A2"}, "index": {"value": 2}, "role": {"value": "cpu"}}}
            ]}
        }}]}})
    }

    #[test]
    fn fabric_query_is_read_into_the_design() {
        let data = fabric_data(json!({
            "id": "t1", "hfid": ["super-spine-switch"], "__typename": "TemplateNetworkDevice",
            "display_label": "super-spine-switch"
        }));
        let fabric = FabricDesign::from_query(&data, "Fabric-A").unwrap();
        assert_eq!(fabric.name, "Fabric-A");
        assert_eq!(fabric.amount_of_super_spines, 6);
        assert_eq!(fabric.fabric_sorting, SortingMethod::ReverseSorted);
        assert_eq!(fabric.spine_sorting, SortingMethod::Sorted);
        let template = fabric.template.unwrap();
        assert_eq!(template.hfid, ["super-spine-switch"]);
        assert_eq!(template.kind, "TemplateNetworkDevice");
        assert_eq!(fabric.pods.len(), 2);
        assert!(fabric.pods[0].is_fabric_pod());
        assert!(!fabric.pods[1].is_fabric_pod());
    }

    #[test]
    fn an_unset_template_is_none_not_an_error() {
        let fabric = FabricDesign::from_query(&fabric_data(Value::Null), "Fabric-A").unwrap();
        assert_eq!(fabric.template, None);
    }

    #[test]
    fn a_missing_target_is_not_found() {
        let error = FabricDesign::from_query(&json!({"NetworkFabric": {"edges": []}}), "Fabric-Z")
            .unwrap_err();
        assert_eq!(error.kind, crate::DesignErrorKind::NotFound);
        assert_eq!(
            error.message,
            "fabric 'Fabric-Z' does not exist (no NetworkFabric with that name)"
        );
    }

    #[test]
    fn rack_query_is_read_with_its_pod_and_fabric() {
        let data = json!({"LocationRack": {"edges": [{"node": {
            "id": "r1", "__typename": "LocationRack", "name": {"value": "Rack-A2-3"},
            "index": {"value": 3}, "amount_of_leafs": {"value": 2},
            "leaf_switch_template": {"node": null},
            "pod": {"node": {
                "id": "p2", "__typename": "NetworkPod", "name": {"value": "Pod-A2"},
                "index": {"value": 2}, "role": {"value": "cpu"}, "amount_of_spines": {"value": 4},
                "leaf_interface_sorting_method": {"value": null},
                "spine_interface_sorting_method": {"value": "create_reverse_sorted_device_interface_map"},
                "parent": {"node": {"id": "f1", "__typename": "NetworkFabric", "name": {"value": "Fabric-A"}}}
            }}
        }}]}});
        let rack = RackDesign::from_query(&data, "Rack-A2-3").unwrap();
        assert_eq!(rack.index, Some(3));
        assert_eq!(rack.amount_of_leafs, 2);
        assert_eq!(rack.template, None);
        let pod = rack.pod.unwrap();
        assert_eq!(pod.name, "Pod-A2");
        assert_eq!(pod.amount_of_spines, 4);
        assert_eq!(pod.leaf_sorting, SortingMethod::Sorted);
        assert_eq!(pod.spine_sorting, SortingMethod::ReverseSorted);
        assert_eq!(pod.fabric.as_deref(), Some("Fabric-A"));
    }

    #[test]
    fn pod_query_is_read_with_its_fabric_and_racks() {
        let data = json!({"NetworkPod": {"edges": [{"node": {
            "id": "p2", "__typename": "NetworkPod", "name": {"value": "Pod-A2"},
            "index": {"value": 2}, "role": {"value": "cpu"}, "amount_of_spines": {"value": 4},
            "spine_interface_sorting_method": {"value": "create_reverse_sorted_device_interface_map"},
            "spine_switch_template": {"node": {"id": "t", "hfid": ["spine-switch"], "__typename": "TemplateNetworkDevice"}},
            "parent": {"node": {
                "id": "f1", "__typename": "NetworkFabric", "name": {"value": "Fabric-A"},
                "amount_of_super_spines": {"value": 6},
                "fabric_interface_sorting_method": {"value": "create_reverse_sorted_device_interface_map"},
                "spine_interface_sorting_method": {"value": "create_sorted_device_interface_map"},
                "children": {"edges": [{"node": {"id": "p1", "__typename": "NetworkPod", "name": {"value": "Pod-A1"}, "role": {"value": "fabric"}}}]}
            }},
            "racks": {"edges": [
                {"node": {"id": "r1", "__typename": "LocationRack", "name": {"value": "Rack-A2-1"}, "index": {"value": 1}, "amount_of_leafs": {"value": 2}}}
            ]}
        }}]}});
        let pod = PodDesign::from_query(&data, "Pod-A2").unwrap();
        assert_eq!(pod.index, Some(2));
        assert!(!pod.is_fabric_pod());
        assert_eq!(pod.template.unwrap().label, "spine-switch");
        let fabric = pod.fabric.unwrap();
        assert_eq!(fabric.fabric_sorting, SortingMethod::ReverseSorted);
        assert_eq!(fabric.pods[0].name, "Pod-A1");
        assert_eq!(pod.racks[0].amount_of_leafs, 2);
        assert_eq!(pod.racks[0].index, Some(1));
        assert_eq!(pod.spine_sorting, SortingMethod::ReverseSorted);
    }
}
