//! The steps the three generators share that touch the host: reading
//! devices with their interfaces, creating a device from its template with a
//! loopback from a pool, writing a cabling plan (links, /31s, addresses,
//! interface status) and joining the `devices` group.
//!
//! This is the only module of the library that calls the host, so it is not
//! unit-tested natively (a host import panics off wasm); its payloads are
//! built by pure functions that are. The rules it follows:
//!
//! - **Interfaces are never written tracked.** They come from templates as
//!   components of their device; a tracked write would make an interface
//!   part of this run's output, and the first run that stops cabling that
//!   port would delete it. Their status is set with an untracked `stamp`
//!   (which writes nothing when unchanged), and addresses are attached from
//!   the address side (`IpamIPAddress.interface`, the other side of
//!   `NetworkInterface.ip_address`), which this run owns.
//! - Every allocation carries an identifier, so a re-run gets the same
//!   prefix or address back and writes nothing new.

use infragen_sdk::graphql::{Attribute, Connection, Related};
use infragen_sdk::pools::{AddressRequest, MemberType, PrefixRequest};
use infragen_sdk::{Error, Filter, NodeRef, Result, graphql, info, nodes};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::addressing::{self, PrefixRole};
use crate::cabling::{CablingPlan, Port};
use crate::design::TemplateRef;
use crate::error::{DesignError, DesignErrorKind};
use crate::naming;
use crate::ordering::{Device, Interface};

/// Kind of the devices.
pub const DEVICE_KIND: &str = "NetworkDevice";
/// Kind of the interfaces.
pub const INTERFACE_KIND: &str = "NetworkInterface";
/// Kind of the links.
pub const LINK_KIND: &str = "NetworkLink";
/// Kind of the prefix pools.
pub const PREFIX_POOL_KIND: &str = "CoreIPPrefixPool";
/// Kind of the address pools.
pub const ADDRESS_POOL_KIND: &str = "CoreIPAddressPool";
/// Kind of the group generated devices join.
pub const GROUP_KIND: &str = "CoreStandardGroup";
/// Interface role of a device's loopback.
pub const LOOPBACK_ROLE: &str = "loopback";
/// Medium of every generated link.
pub const LINK_MEDIUM: &str = "copper";

/// Gates and capacity errors are the contract's `generator` errors; data of
/// the wrong shape is `invalid-input`; a missing target is `not-found`.
impl From<DesignError> for Error {
    fn from(error: DesignError) -> Self {
        match error.kind {
            DesignErrorKind::Gate | DesignErrorKind::Capacity => Error::gate(error.message),
            DesignErrorKind::InvalidData => Error::invalid_input(error.message),
            DesignErrorKind::NotFound => Error::not_found(error.message),
        }
    }
}

/// Whether a pool named `name` of `kind` exists (a gate input).
pub fn pool_exists(kind: &str, name: &str) -> Result<bool> {
    Ok(nodes::get(kind, Filter::new().eq("name__value", name), &[])?.is_some())
}

/// Kind of the interfaces of device templates.
pub const TEMPLATE_INTERFACE_KIND: &str = "TemplateNetworkInterface";

/// How many interfaces of `template` have role `loopback` (a gate input:
/// every created device needs exactly one).
pub fn template_loopbacks(template: &TemplateRef) -> Result<usize> {
    Ok(nodes::filters(
        TEMPLATE_INTERFACE_KIND,
        Filter::new()
            .values("device__ids", [template.id.as_str()])
            .eq("role__value", LOOPBACK_ROLE),
        &[],
    )?
    .len())
}

/// The devices of `role` in pod `pod_id` (e.g. a pod's spines), in the kind's order, with
/// the fields [`DeviceRow`] reads.
const DEVICES_QUERY: &str = "query Devices($pod: [ID], $role: String) { \
    NetworkDevice(pod__ids: $pod, role__value: $role) { \
    edges { node { id hostname { value } index { value } } } } }";

/// [`DEVICES_QUERY`]'s answer.
#[derive(Debug, Deserialize)]
struct DevicesAnswer {
    #[serde(rename = "NetworkDevice")]
    devices: Connection<DeviceRow>,
}

/// A device as [`DEVICES_QUERY`] selects it.
#[derive(Debug, Deserialize)]
struct DeviceRow {
    id: String,
    hostname: Attribute<String>,
    index: Attribute<i64>,
}

/// The devices of `role` in pod `pod_id` (e.g. a pod's spines), each with its interfaces
/// of `interface_role` only. A query selecting what is read here: a listing's default
/// selection also writes out every attribute, the hfid and display label of each device
/// and of its peers.
pub fn devices_with_interfaces(
    pod_id: &str,
    role: &str,
    interface_role: &str,
) -> Result<Vec<Device>> {
    let answer: DevicesAnswer =
        graphql::query_as(DEVICES_QUERY, json!({"pod": [pod_id], "role": role}))?;
    let mut devices = devices_from_rows(answer.devices)?;
    if devices.is_empty() {
        return Ok(devices);
    }
    let ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
    for (device_id, interface) in interfaces_of(&ids, Some(interface_role))? {
        if let Some(device) = devices.iter_mut().find(|d| d.id == device_id) {
            device.interfaces.push(interface);
        }
    }
    Ok(devices)
}

/// The interfaces of `$devices`, with the fields [`InterfaceRow`] reads.
const INTERFACES_QUERY: &str = "query Interfaces($devices: [ID]) { \
    NetworkInterface(device__ids: $devices) { \
    edges { node { id name { value } role { value } device { node { id } } } } } }";

/// [`INTERFACES_QUERY`] for the interfaces of role `$role` only.
const INTERFACES_OF_ROLE_QUERY: &str = "query InterfacesOfRole($devices: [ID], $role: String) { \
    NetworkInterface(device__ids: $devices, role__value: $role) { \
    edges { node { id name { value } role { value } device { node { id } } } } } }";

/// The answer of [`INTERFACES_QUERY`] and [`INTERFACES_OF_ROLE_QUERY`].
#[derive(Debug, Deserialize)]
struct InterfacesAnswer {
    #[serde(rename = "NetworkInterface")]
    interfaces: Connection<InterfaceRow>,
}

/// An interface as [`INTERFACES_QUERY`] selects it.
#[derive(Debug, Deserialize)]
struct InterfaceRow {
    id: String,
    name: Attribute<String>,
    role: Attribute<String>,
    device: Related,
}

/// The interfaces of `device_ids` (of `role` only, when given), each with its
/// device's id, in the kind's order. A query selecting the fields read here and
/// nothing else: a listing's default selection also writes out every
/// attribute, the hfid and display label of each interface and of its peers,
/// which is most of what a run reads. The answer is read into types of its own
/// rather than a JSON tree, which cost several times as much to build, copy and drop.
fn interfaces_of(device_ids: &[&str], role: Option<&str>) -> Result<Vec<(String, Interface)>> {
    let answer: InterfacesAnswer = match role {
        Some(role) => graphql::query_as(
            INTERFACES_OF_ROLE_QUERY,
            json!({"devices": device_ids, "role": role}),
        )?,
        None => graphql::query_as(INTERFACES_QUERY, json!({"devices": device_ids}))?,
    };
    interfaces_from_rows(answer.interfaces)
}

/// The devices of an answer, each without interfaces yet; an error names a device that
/// came back without a hostname.
fn devices_from_rows(rows: Connection<DeviceRow>) -> Result<Vec<Device>> {
    rows.into_nodes()
        .map(|row| {
            let hostname = row.hostname.value.ok_or_else(|| {
                Error::invalid_input(format!(
                    "{DEVICE_KIND} {} came back without a hostname",
                    row.id
                ))
            })?;
            Ok(Device {
                id: row.id,
                hostname,
                index: row.index.value,
                interfaces: Vec::new(),
            })
        })
        .collect()
}

/// The interfaces of an answer, each with its device's id (empty when it has none); an
/// error names an interface that came back without a name.
fn interfaces_from_rows(rows: Connection<InterfaceRow>) -> Result<Vec<(String, Interface)>> {
    rows.into_nodes()
        .map(|row| {
            let device_id = row.device.id().unwrap_or_default().to_string();
            let name = row.name.value.ok_or_else(|| {
                Error::invalid_input(format!(
                    "{INTERFACE_KIND} {} came back without a name",
                    row.id
                ))
            })?;
            let interface = Interface {
                id: row.id,
                name,
                role: row.role.value,
            };
            Ok((device_id, interface))
        })
        .collect()
}

/// A device to create from a template.
#[derive(Clone, Debug)]
pub struct NewDevice<'a> {
    /// Hostname (its identity).
    pub hostname: String,
    /// Device role: `super_spine`, `spine` or `leaf`.
    pub role: &'a str,
    /// A leaf's index in its rack.
    pub index: Option<i64>,
    /// The template it is created from.
    pub template: &'a TemplateRef,
    /// The pod it belongs to.
    pub pod_id: &'a str,
    /// The rack it stands in (leafs only).
    pub rack_id: Option<&'a str>,
    /// The address pool its loopback comes from.
    pub loopback_pool: &'a str,
}

/// The upsert payload of a device: identity (hostname), role, template,
/// placement and loopback. The template is referenced by its HFID (its
/// `template_name`) when known, else by id.
pub fn device_payload(device: &NewDevice<'_>, loopback_id: &str) -> Value {
    let template = if device.template.hfid.is_empty() {
        json!({"id": device.template.id})
    } else {
        json!({"hfid": device.template.hfid, "kind": device.template.kind})
    };
    let mut payload = json!({
        "hostname": {"value": device.hostname},
        "role": {"value": device.role},
        "object_template": template,
        "pod": {"id": device.pod_id},
        "loopback_ip": {"id": loopback_id},
    });
    if let Some(index) = device.index {
        payload["index"] = json!({"value": index});
    }
    if let Some(rack) = device.rack_id {
        payload["rack"] = json!({"id": rack});
    }
    payload
}

/// Creates (or finds again) a device from its template: allocates its
/// loopback (reserved under [`naming::loopback_identifier`]), upserts the
/// device, attaches the loopback address to the template's one loopback
/// interface and marks that interface active. Returns the device with every
/// interface the template gave it.
pub fn create_device(device: &NewDevice<'_>) -> Result<Device> {
    let loopback = AddressRequest::from_pool_name(device.loopback_pool)
        .identifier(naming::loopback_identifier(&device.hostname))
        .prefix_length(addressing::LOOPBACK_LENGTH)
        .allocate()
        .map_err(|e| e.context(format!("allocating the loopback of {}", device.hostname)))?;
    let created = nodes::upsert(DEVICE_KIND, device_payload(device, &loopback.node.id))
        .map_err(|e| e.context(format!("creating {}", device.hostname)))?;
    let interfaces: Vec<Interface> = interfaces_of(&[created.id.as_str()], None)?
        .into_iter()
        .map(|(_, interface)| interface)
        .collect();
    let loopbacks: Vec<&Interface> = interfaces
        .iter()
        .filter(|i| i.role.as_deref() == Some(LOOPBACK_ROLE))
        .collect();
    let [loopback_interface] = loopbacks.as_slice() else {
        return Err(Error::generator(format!(
            "{} (template {}) has {} interfaces with role 'loopback'; the template must have \
             exactly one",
            device.hostname,
            device.template.label,
            loopbacks.len()
        )));
    };
    attach_address(&loopback.node, &loopback_interface.id)?;
    set_status(&loopback_interface.id, "active")?;
    info!(
        "{} ({}) from template {}, loopback {}",
        device.hostname, device.role, device.template.label, loopback.value
    );
    Ok(Device {
        id: created.id,
        hostname: device.hostname.clone(),
        index: device.index,
        interfaces,
    })
}

/// Attaches an address this run owns to an interface, from the address side.
fn attach_address(address: &NodeRef, interface_id: &str) -> Result<()> {
    nodes::update(
        &address.kind,
        json!({"id": address.id, "interface": {"id": interface_id}}),
    )?;
    Ok(())
}

/// Sets an interface's status without tracking the interface.
fn set_status(interface_id: &str, status: &str) -> Result<bool> {
    nodes::stamp(INTERFACE_KIND, interface_id, "status", status)
}

/// The upsert payload of a planned link.
pub fn link_payload(src: &Port, dst: &Port) -> Value {
    json!({
        "name": {"value": naming::link_name(&src.hostname, &src.interface_name, &dst.hostname, &dst.interface_name)},
        "medium": {"value": LINK_MEDIUM},
        "endpoints": [{"id": src.interface_id}, {"id": dst.interface_id}],
    })
}

/// The upsert payload of an address attached to an interface.
pub fn address_payload(address: &str, interface_id: &str) -> Value {
    json!({
        "address": {"value": address},
        "interface": {"id": interface_id},
    })
}

/// Writes a cabling plan: for each link, the link itself (medium copper), both
/// interfaces active, a /31 from `prefix_pool` reserved under the two
/// interface ids with `role`, the even address on the lower tier and the odd
/// one on the upper tier. Ports of the window left idle are marked inactive;
/// the plan's notes go to the log.
pub fn write_plan(plan: &CablingPlan, prefix_pool: &str, role: PrefixRole) -> Result<()> {
    for note in &plan.notes {
        info!("{note}");
    }
    for link in &plan.links {
        let name = link.name();
        nodes::upsert(LINK_KIND, link_payload(&link.src, &link.dst))
            .map_err(|e| e.context(format!("creating link {name}")))?;
        set_status(&link.src.interface_id, "active")?;
        set_status(&link.dst.interface_id, "active")?;
        let prefix = PrefixRequest::from_pool_name(prefix_pool)
            .identifier(link.p2p_identifier())
            .prefix_length(addressing::P2P_LENGTH)
            .member_type(MemberType::Address)
            .data(json!({"role": {"value": role.as_str()}}))
            .allocate()
            .map_err(|e| e.context(format!("allocating the /31 of {name}")))?;
        let (even, odd) = addressing::p2p_addresses(&prefix.value)?;
        nodes::upsert(
            addressing::ADDRESS_KIND,
            address_payload(&even, &link.src.interface_id),
        )?;
        nodes::upsert(
            addressing::ADDRESS_KIND,
            address_payload(&odd, &link.dst.interface_id),
        )?;
    }
    mark_inactive(&plan.idle)?;
    info!("{} links", plan.links.len());
    Ok(())
}

/// Marks `ports` inactive (ports nothing cables any more), logging each one
/// that was not already.
pub fn mark_inactive(ports: &[Port]) -> Result<()> {
    for port in ports {
        if set_status(&port.interface_id, "inactive")? {
            info!("{} is no longer cabled: marked inactive", port.label());
        }
    }
    Ok(())
}

/// The payload of a prefix pool over `resource` (a prefix id).
pub fn prefix_pool_payload(name: &str, resource_id: &str) -> Value {
    json!({
        "name": {"value": name},
        "default_prefix_type": {"value": addressing::PREFIX_KIND},
        "default_prefix_length": {"value": addressing::PREFIX_POOL_DEFAULT_LENGTH},
        "resources": [{"id": resource_id}],
        "ip_namespace": namespace(),
    })
}

/// The payload of an address pool over `resource` (a prefix id) handing out
/// /32 loopbacks.
pub fn address_pool_payload(name: &str, resource_id: &str) -> Value {
    json!({
        "name": {"value": name},
        "default_address_type": {"value": addressing::ADDRESS_KIND},
        "default_prefix_length": {"value": addressing::LOOPBACK_LENGTH},
        "resources": [{"id": resource_id}],
        "ip_namespace": namespace(),
    })
}

fn namespace() -> Value {
    json!({"hfid": [addressing::NAMESPACE], "kind": "IpamNamespace"})
}

/// Allocates a prefix with `role` from the pool `pool`, reserved under
/// `identifier`.
pub fn allocate_prefix(
    pool: &str,
    identifier: &str,
    length: u8,
    member_type: MemberType,
    role: PrefixRole,
) -> Result<NodeRef> {
    let allocation = PrefixRequest::from_pool_name(pool)
        .identifier(identifier)
        .prefix_length(length)
        .member_type(member_type)
        .data(json!({"role": {"value": role.as_str()}}))
        .allocate()
        .map_err(|e| {
            e.context(format!(
                "allocating the {} prefix from {pool}",
                role.as_str()
            ))
        })?;
    info!("{} {} from {pool}", role.as_str(), allocation.value);
    Ok(allocation.node)
}

/// Creates or updates a prefix pool (tracked: the pool is this run's output).
pub fn upsert_prefix_pool(name: &str, resource: &NodeRef) -> Result<NodeRef> {
    nodes::upsert(PREFIX_POOL_KIND, prefix_pool_payload(name, &resource.id))
        .map_err(|e| e.context(format!("creating pool {name}")))
}

/// Creates or updates an address pool (tracked).
pub fn upsert_address_pool(name: &str, resource: &NodeRef) -> Result<NodeRef> {
    nodes::upsert(ADDRESS_POOL_KIND, address_pool_payload(name, &resource.id))
        .map_err(|e| e.context(format!("creating pool {name}")))
}

/// Adds the devices to the `devices` group (the artifact targets) when that
/// group exists. Adding a member the group already has changes nothing, so a
/// re-run writes nothing; the group's members (every device of the design)
/// are not read. Membership is a relationship edit, not a node write, so the
/// group never becomes part of this run's output.
pub fn join_devices_group(devices: &[Device]) -> Result<()> {
    let Some(group) = nodes::get(
        GROUP_KIND,
        Filter::new().eq("name__value", naming::DEVICES_GROUP),
        &[],
    )?
    else {
        info!(
            "no group '{}': the devices join no artifact group",
            naming::DEVICES_GROUP
        );
        return Ok(());
    };
    let group_id = group
        .id()
        .ok_or_else(|| Error::invalid_input("the devices group came back without an id"))?;
    let ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
    if !ids.is_empty() {
        nodes::relationship_add(group_id, "members", ids)?;
    }
    Ok(())
}

/// Stamps this run's checksum on downstream targets (untracked; unchanged
/// values write nothing), logging the ones that changed.
pub fn stamp_checksum<'a>(
    checksum: &str,
    targets: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
) -> Result<()> {
    for (kind, id, name) in targets {
        if nodes::stamp_checksum(kind, id, checksum)? {
            info!("{name}: checksum updated to {checksum}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(hfid: &[&str]) -> TemplateRef {
        TemplateRef {
            id: "t1".into(),
            kind: "TemplateNetworkDevice".into(),
            hfid: hfid.iter().map(|s| s.to_string()).collect(),
            label: "leaf-switch-compute".into(),
        }
    }

    #[test]
    fn device_payload_references_the_template_by_hfid_and_places_the_leaf() {
        let template = template(&["leaf-switch-compute"]);
        let device = NewDevice {
            hostname: "leaf-pod-a2-3-1".into(),
            role: "leaf",
            index: Some(1),
            template: &template,
            pod_id: "pod",
            rack_id: Some("rack"),
            loopback_pool: "fabric-a-pod-a2-loopback-pool",
        };
        assert_eq!(
            device_payload(&device, "lo"),
            json!({
                "hostname": {"value": "leaf-pod-a2-3-1"},
                "role": {"value": "leaf"},
                "index": {"value": 1},
                "object_template": {"hfid": ["leaf-switch-compute"], "kind": "TemplateNetworkDevice"},
                "pod": {"id": "pod"},
                "rack": {"id": "rack"},
                "loopback_ip": {"id": "lo"},
            })
        );
    }

    #[test]
    fn device_payload_falls_back_to_the_template_id_and_omits_what_a_spine_lacks() {
        let template = template(&[]);
        let device = NewDevice {
            hostname: "spine-pod-a2-1".into(),
            role: "spine",
            index: None,
            template: &template,
            pod_id: "pod",
            rack_id: None,
            loopback_pool: "p",
        };
        let payload = device_payload(&device, "lo");
        assert_eq!(payload["object_template"], json!({"id": "t1"}));
        assert!(payload.get("index").is_none());
        assert!(payload.get("rack").is_none());
    }

    #[test]
    fn link_and_address_payloads() {
        let port = |host: &str, name: &str| Port {
            device_id: format!("d-{host}"),
            hostname: host.into(),
            interface_id: format!("i-{host}-{name}"),
            interface_name: name.into(),
        };
        assert_eq!(
            link_payload(
                &port("spine-pod-a2-1", "Ethernet28"),
                &port("ss-fabric-a-1", "Ethernet28")
            ),
            json!({
                "name": {"value": "spine-pod-a2-1-Ethernet28__ss-fabric-a-1-Ethernet28"},
                "medium": {"value": "copper"},
                "endpoints": [
                    {"id": "i-spine-pod-a2-1-Ethernet28"},
                    {"id": "i-ss-fabric-a-1-Ethernet28"}
                ],
            })
        );
        assert_eq!(
            address_payload("10.0.32.32/31", "i1"),
            json!({"address": {"value": "10.0.32.32/31"}, "interface": {"id": "i1"}})
        );
    }

    #[test]
    fn pool_payloads_follow_the_reference() {
        assert_eq!(
            prefix_pool_payload("fabric-a-prefix-pool", "p16"),
            json!({
                "name": {"value": "fabric-a-prefix-pool"},
                "default_prefix_type": {"value": "IpamIPPrefix"},
                "default_prefix_length": {"value": 24},
                "resources": [{"id": "p16"}],
                "ip_namespace": {"hfid": ["default"], "kind": "IpamNamespace"},
            })
        );
        assert_eq!(
            address_pool_payload("fabric-a-super-spine-loopback-pool", "p28"),
            json!({
                "name": {"value": "fabric-a-super-spine-loopback-pool"},
                "default_address_type": {"value": "IpamIPAddress"},
                "default_prefix_length": {"value": 32},
                "resources": [{"id": "p28"}],
                "ip_namespace": {"hfid": ["default"], "kind": "IpamNamespace"},
            })
        );
    }

    #[test]
    fn design_errors_map_to_contract_errors() {
        let gate: Error = DesignError::gate("g").into();
        assert_eq!(gate, Error::gate("g"));
        assert_eq!(gate.kind, infragen_sdk::ErrorKind::Generator);
        let capacity: Error = DesignError::capacity("c").into();
        assert_eq!(capacity.kind, infragen_sdk::ErrorKind::Generator);
        let invalid: Error = DesignError::invalid_data("i").into();
        assert_eq!(invalid.kind, infragen_sdk::ErrorKind::InvalidInput);
        let missing: Error = DesignError::not_found("n").into();
        assert_eq!(missing.kind, infragen_sdk::ErrorKind::NotFound);
    }

    #[test]
    fn an_interfaces_answer_reads_into_interfaces_with_their_device() {
        let answer: InterfacesAnswer =
            serde_json::from_value(json!({"NetworkInterface": {"edges": [
                {"node": {"id": "i1", "name": {"value": "Ethernet1"}, "role": {"value": "leaf"},
                          "device": {"node": {"id": "d1"}}}},
                {"node": {"id": "i2", "name": {"value": "Loopback0"}, "role": {"value": null},
                          "device": {"node": null}}},
            ]}}))
            .unwrap();
        let interfaces = interfaces_from_rows(answer.interfaces).unwrap();
        assert_eq!(
            interfaces,
            [
                (
                    "d1".to_string(),
                    Interface {
                        id: "i1".into(),
                        name: "Ethernet1".into(),
                        role: Some("leaf".into()),
                    }
                ),
                (
                    String::new(),
                    Interface {
                        id: "i2".into(),
                        name: "Loopback0".into(),
                        role: None,
                    }
                ),
            ]
        );
        let unnamed: InterfacesAnswer =
            serde_json::from_value(json!({"NetworkInterface": {"edges": [
                {"node": {"id": "i3", "name": {"value": null}, "role": {"value": null},
                          "device": {"node": null}}},
            ]}}))
            .unwrap();
        let error = interfaces_from_rows(unnamed.interfaces).unwrap_err();
        assert_eq!(
            error,
            Error::invalid_input("NetworkInterface i3 came back without a name")
        );
    }

    #[test]
    fn a_devices_answer_reads_into_devices_without_interfaces_yet() {
        let answer: DevicesAnswer = serde_json::from_value(json!({"NetworkDevice": {"edges": [
            {"node": {"id": "d1", "hostname": {"value": "spine-1"}, "index": {"value": null}}},
            {"node": {"id": "d2", "hostname": {"value": "leaf-1"}, "index": {"value": 3}}},
        ]}}))
        .unwrap();
        assert_eq!(
            devices_from_rows(answer.devices).unwrap(),
            [
                Device {
                    id: "d1".into(),
                    hostname: "spine-1".into(),
                    index: None,
                    interfaces: Vec::new(),
                },
                Device {
                    id: "d2".into(),
                    hostname: "leaf-1".into(),
                    index: Some(3),
                    interfaces: Vec::new(),
                },
            ]
        );
        let nameless: DevicesAnswer = serde_json::from_value(json!({"NetworkDevice": {"edges": [
            {"node": {"id": "d3", "hostname": {"value": null}, "index": {"value": null}}},
        ]}}))
        .unwrap();
        assert_eq!(
            devices_from_rows(nameless.devices).unwrap_err(),
            Error::invalid_input("NetworkDevice d3 came back without a hostname")
        );
    }
}
