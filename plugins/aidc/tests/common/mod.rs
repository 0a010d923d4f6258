//! The seed design's device templates (reference §1.5) as plain devices, so
//! cabling plans can be computed exactly as the generators will on the
//! devices the store creates from those templates.
#![allow(dead_code)]

use aidc_design::ordering::{self, Device, Interface, SortingMethod};
use aidc_design::{DevicePorts, naming};

/// One template: interface names (already expanded) with their roles.
pub type Template = Vec<(String, Option<&'static str>)>;

fn range(prefix: &str, from: u32, to: u32, role: Option<&'static str>) -> Template {
    (from..=to)
        .map(|i| (format!("{prefix}{i}"), role))
        .collect()
}

fn template(parts: Vec<Template>) -> Template {
    let mut all = vec![("Loopback0".to_string(), Some("loopback"))];
    for part in parts {
        all.extend(part);
    }
    all
}

pub fn super_spine_switch() -> Template {
    template(vec![
        range("Ethernet", 1, 28, Some("spine")),
        range("Ethernet", 29, 32, None),
    ])
}

pub fn spine_switch() -> Template {
    template(vec![
        range("Ethernet", 1, 27, Some("leaf")),
        range("Ethernet", 28, 32, Some("super_spine")),
    ])
}

pub fn leaf_switch_compute() -> Template {
    template(vec![
        range("Ethernet", 1, 26, Some("server")),
        range("Ethernet", 27, 32, Some("spine")),
    ])
}

pub fn leaf_switch_storage() -> Template {
    template(vec![
        range("Ethernet", 1, 10, Some("storage")),
        range("Ethernet", 11, 16, Some("spine")),
    ])
}

pub fn dell_spine() -> Template {
    template(vec![
        range("Ethernet1/", 1, 32, Some("leaf")),
        range("Ethernet1/", 33, 64, Some("super_spine")),
    ])
}

pub fn dell_super_spine() -> Template {
    template(vec![range("Ethernet1/", 1, 64, Some("spine"))])
}

pub fn dell_leaf_compute() -> Template {
    template(vec![
        range("Ethernet1/1/", 1, 16, Some("spine")),
        range("Ethernet1/1/", 17, 34, Some("server")),
    ])
}

pub fn dell_leaf_storage() -> Template {
    template(vec![
        range("Ethernet1/1/", 1, 16, Some("spine")),
        range("Ethernet1/1/", 17, 34, Some("storage")),
    ])
}

/// A device made from `template`; interface ids are `<hostname>:<name>` so
/// assertions read like the plan. Interfaces are handed over in a scrambled
/// order, as an API may return them, to prove the plan does not depend on it.
pub fn device(hostname: &str, index: Option<i64>, template: &Template) -> Device {
    let mut interfaces: Vec<Interface> = template
        .iter()
        .map(|(name, role)| Interface {
            id: format!("{hostname}:{name}"),
            name: name.clone(),
            role: role.map(str::to_string),
        })
        .collect();
    interfaces.reverse();
    let len = interfaces.len();
    interfaces.rotate_left(len / 3);
    Device {
        id: format!("id-{hostname}"),
        hostname: hostname.to_string(),
        index,
        interfaces,
    }
}

/// The `count` super spines of a fabric, in scrambled order.
pub fn super_spines(fabric: &str, count: u32, template: &Template) -> Vec<Device> {
    let mut devices: Vec<Device> = (1..=count)
        .map(|i| device(&naming::super_spine_hostname(fabric, i), None, template))
        .collect();
    devices.reverse();
    devices
}

/// The `count` spines of a pod, in scrambled order.
pub fn spines(pod: &str, count: u32, template: &Template) -> Vec<Device> {
    let mut devices: Vec<Device> = (1..=count)
        .map(|i| device(&naming::spine_hostname(pod, i), None, template))
        .collect();
    devices.rotate_left(1);
    devices
}

/// The `count` leafs of rack `rack_index` of a pod, in reverse order.
pub fn leafs(pod: &str, rack_index: i64, count: u32, template: &Template) -> Vec<Device> {
    (1..=count)
        .rev()
        .map(|i| {
            device(
                &naming::leaf_hostname(pod, rack_index, i),
                Some(i64::from(i)),
                template,
            )
        })
        .collect()
}

/// One side of a plan, as the generators build it.
pub fn side(devices: &[Device], role: &str, method: SortingMethod) -> Vec<DevicePorts> {
    ordering::interface_map(devices, role, method)
}

/// A link as `(src host, src if, dst host, dst if)`.
pub type Endpoints = (String, String, String, String);

pub fn endpoints(plan: &aidc_design::CablingPlan) -> Vec<Endpoints> {
    plan.links
        .iter()
        .map(|l| {
            (
                l.src.hostname.clone(),
                l.src.interface_name.clone(),
                l.dst.hostname.clone(),
                l.dst.interface_name.clone(),
            )
        })
        .collect()
}

pub fn link(a: &str, b: &str, c: &str, d: &str) -> Endpoints {
    (a.into(), b.into(), c.into(), d.into())
}
