//! The order of devices and of their interfaces, on which every cabling plan
//! depends: a plan pairs the `j`-th uplink of a device with the `k`-th
//! downlink of the `j`-th upper device, so a different order cables a
//! different fabric.
//!
//! - **Devices** are ordered explicitly: by `index` (leafs have one), then by
//!   natural hostname order (`spine-pod-a2-2` before `spine-pod-a2-10`), then
//!   by id. The reference used the order in which devices first appeared in
//!   an interface query, which the API does not guarantee (reference §2.6,
//!   §6.1); creation order and this order agree for generated hostnames.
//! - **Interfaces** of one device are ordered with netutils'
//!   `sort_interface_list` and reversed when the design's sorting dropdown
//!   says `create_reverse_sorted_device_interface_map`.

use core::cmp::Ordering;
use std::collections::HashMap;

use infragen_sdk::sort_interface_list;

use crate::cabling::{DevicePorts, Port};
use crate::error::{DesignError, Result};

/// How one side of a cabling plan orders a device's interfaces: the values of
/// the design's `*_interface_sorting_method` dropdowns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortingMethod {
    /// `create_sorted_device_interface_map`: netutils order (the default).
    #[default]
    Sorted,
    /// `create_reverse_sorted_device_interface_map`: netutils order, reversed.
    ReverseSorted,
}

impl SortingMethod {
    /// The dropdown value of [`SortingMethod::Sorted`].
    pub const SORTED: &'static str = "create_sorted_device_interface_map";
    /// The dropdown value of [`SortingMethod::ReverseSorted`].
    pub const REVERSE_SORTED: &'static str = "create_reverse_sorted_device_interface_map";

    /// Reads a dropdown value. An unset value takes the schema default
    /// (sorted); an unknown one is refused rather than guessed, naming the
    /// field and its owner (the reference resolved it with `getattr` and
    /// failed with an `AttributeError`).
    pub fn from_dropdown(value: Option<&str>, field: &str, owner: &str) -> Result<Self> {
        match value {
            None | Some("") => Ok(SortingMethod::Sorted),
            Some(Self::SORTED) => Ok(SortingMethod::Sorted),
            Some(Self::REVERSE_SORTED) => Ok(SortingMethod::ReverseSorted),
            Some(other) => Err(DesignError::invalid_data(format!(
                "{owner}: {field} is '{other}', expected '{}' or '{}'",
                Self::SORTED,
                Self::REVERSE_SORTED
            ))),
        }
    }

    /// The dropdown value.
    pub fn as_str(self) -> &'static str {
        match self {
            SortingMethod::Sorted => Self::SORTED,
            SortingMethod::ReverseSorted => Self::REVERSE_SORTED,
        }
    }
}

/// An interface as the generators see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Node id.
    pub id: String,
    /// Interface name, e.g. `Ethernet28` or `Ethernet1/1/3`.
    pub name: String,
    /// The interface role (the peer tier it faces), from the template's profile.
    pub role: Option<String>,
}

/// A device with the interfaces a plan may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Node id.
    pub id: String,
    /// Hostname (the device's identity).
    pub hostname: String,
    /// Position of a leaf in its rack; `None` for spines and super spines.
    pub index: Option<i64>,
    /// The device's interfaces, in any order.
    pub interfaces: Vec<Interface>,
}

/// Natural order of two names: runs of digits compare by numeric value, the
/// rest by code point, so `spine-pod-a2-2` < `spine-pod-a2-10`. Equal
/// values with different spellings (`01`, `1`) fall back to plain order, so
/// the order is total.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(cx), Some(cy)) => {
                if cx.is_ascii_digit() && cy.is_ascii_digit() {
                    let (nx, rx) = split_digits(x);
                    let (ny, ry) = split_digits(y);
                    let ord = compare_digits(nx, ny);
                    if ord != Ordering::Equal {
                        return ord;
                    }
                    (x, y) = (rx, ry);
                } else if cx != cy {
                    return cx.cmp(cy);
                } else {
                    (x, y) = (&x[1..], &y[1..]);
                }
            }
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Compares two digit runs by value, without a size limit.
fn compare_digits(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> usize { s.iter().position(|&c| c != b'0').unwrap_or(s.len()) };
    let (a, b) = (&a[strip(a)..], &b[strip(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The explicit device order of every plan: `index` (devices without one
/// last), then natural hostname, then id.
pub fn device_order(a: &Device, b: &Device) -> Ordering {
    let key = |d: &Device| (d.index.is_none(), d.index);
    key(a)
        .cmp(&key(b))
        .then_with(|| natural_cmp(&a.hostname, &b.hostname))
        .then_with(|| a.id.cmp(&b.id))
}

/// One side of a cabling plan: every device, in [`device_order`], with its
/// interfaces of `role` ordered by `method`. A device without such an
/// interface is kept (with no ports), so capacity checks can name it.
pub fn interface_map(devices: &[Device], role: &str, method: SortingMethod) -> Vec<DevicePorts> {
    let mut devices: Vec<&Device> = devices.iter().collect();
    devices.sort_by(|a, b| device_order(a, b));
    devices
        .into_iter()
        .map(|device| {
            let with_role: Vec<&Interface> = device
                .interfaces
                .iter()
                .filter(|i| i.role.as_deref() == Some(role))
                .collect();
            let names: Vec<&str> = with_role.iter().map(|i| i.name.as_str()).collect();
            let mut sorted = sort_interface_list(&names);
            if method == SortingMethod::ReverseSorted {
                sorted.reverse();
            }
            // Each name's (first) interface, looked up rather than searched for: a spine
            // has dozens of ports, and each search compared names against all of them.
            let mut by_name: HashMap<&str, &Interface> = HashMap::with_capacity(with_role.len());
            for interface in &with_role {
                by_name.entry(interface.name.as_str()).or_insert(interface);
            }
            let ports = sorted
                .iter()
                .filter_map(|name| by_name.get(name.as_str()).copied())
                .map(|interface| Port {
                    device_id: device.id.clone(),
                    hostname: device.hostname.clone(),
                    interface_id: interface.id.clone(),
                    interface_name: interface.name.clone(),
                })
                .collect();
            DevicePorts {
                device_id: device.id.clone(),
                hostname: device.hostname.clone(),
                index: device.index,
                ports,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: &str, hostname: &str, index: Option<i64>, names: &[(&str, &str)]) -> Device {
        Device {
            id: id.into(),
            hostname: hostname.into(),
            index,
            interfaces: names
                .iter()
                .map(|(name, role)| Interface {
                    id: format!("{hostname}:{name}"),
                    name: (*name).into(),
                    role: Some((*role).into()),
                })
                .collect(),
        }
    }

    #[test]
    fn natural_order_compares_digit_runs_by_value() {
        let mut names = vec![
            "spine-pod-a2-10",
            "spine-pod-a2-2",
            "spine-pod-a2-1",
            "spine-pod-a10-1",
            "spine-pod-a3-1",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "spine-pod-a2-1",
                "spine-pod-a2-2",
                "spine-pod-a2-10",
                "spine-pod-a3-1",
                "spine-pod-a10-1"
            ]
        );
        assert_eq!(natural_cmp("a01", "a1"), "a01".cmp("a1"));
        assert_eq!(natural_cmp("a", "a1"), Ordering::Less);
        assert_eq!(natural_cmp("x9", "x9"), Ordering::Equal);
    }

    #[test]
    fn devices_are_ordered_by_index_then_natural_hostname_never_by_input_order() {
        let devices = vec![
            device("d4", "leaf-pod-a2-3-2", Some(2), &[]),
            device("d3", "leaf-pod-a2-3-1", Some(1), &[]),
        ];
        let map = interface_map(&devices, "spine", SortingMethod::Sorted);
        let order: Vec<_> = map.iter().map(|d| d.hostname.as_str()).collect();
        assert_eq!(order, ["leaf-pod-a2-3-1", "leaf-pod-a2-3-2"]);

        let spines = vec![
            device("z", "spine-pod-a2-10", None, &[]),
            device("y", "spine-pod-a2-2", None, &[]),
            device("x", "spine-pod-a2-1", None, &[]),
        ];
        let map = interface_map(&spines, "leaf", SortingMethod::Sorted);
        let order: Vec<_> = map.iter().map(|d| d.hostname.as_str()).collect();
        assert_eq!(
            order,
            ["spine-pod-a2-1", "spine-pod-a2-2", "spine-pod-a2-10"]
        );
    }

    #[test]
    fn index_wins_over_hostname_and_unindexed_devices_come_last() {
        let devices = vec![
            device("a", "b-host", None, &[]),
            device("b", "z-host", Some(1), &[]),
            device("c", "a-host", Some(2), &[]),
        ];
        let map = interface_map(&devices, "x", SortingMethod::Sorted);
        let order: Vec<_> = map.iter().map(|d| d.hostname.as_str()).collect();
        assert_eq!(order, ["z-host", "a-host", "b-host"]);
    }

    #[test]
    fn interfaces_are_filtered_by_role_and_naturally_sorted_or_reversed() {
        let ss = device(
            "ss1",
            "ss-fabric-a-1",
            None,
            &[
                ("Ethernet10", "spine"),
                ("Ethernet2", "spine"),
                ("Loopback0", "loopback"),
                ("Ethernet1", "spine"),
                ("Ethernet29", "uplink"),
            ],
        );
        let sorted = interface_map(std::slice::from_ref(&ss), "spine", SortingMethod::Sorted);
        let names: Vec<_> = sorted[0]
            .ports
            .iter()
            .map(|p| p.interface_name.as_str())
            .collect();
        assert_eq!(names, ["Ethernet1", "Ethernet2", "Ethernet10"]);
        assert_eq!(sorted[0].ports[0].interface_id, "ss-fabric-a-1:Ethernet1");

        let reversed = interface_map(&[ss], "spine", SortingMethod::ReverseSorted);
        let names: Vec<_> = reversed[0]
            .ports
            .iter()
            .map(|p| p.interface_name.as_str())
            .collect();
        assert_eq!(names, ["Ethernet10", "Ethernet2", "Ethernet1"]);
    }

    #[test]
    fn dell_style_names_sort_by_every_number() {
        let leaf = device(
            "l",
            "leaf-pod-b2-1-1",
            Some(1),
            &[
                ("Ethernet1/1/10", "spine"),
                ("Ethernet1/1/2", "spine"),
                ("Ethernet1/1/1", "spine"),
            ],
        );
        let map = interface_map(&[leaf], "spine", SortingMethod::Sorted);
        let names: Vec<_> = map[0]
            .ports
            .iter()
            .map(|p| p.interface_name.as_str())
            .collect();
        assert_eq!(names, ["Ethernet1/1/1", "Ethernet1/1/2", "Ethernet1/1/10"]);
    }

    #[test]
    fn sorting_dropdown_values_are_parsed_and_unknown_ones_refused() {
        assert_eq!(
            SortingMethod::from_dropdown(Some("create_sorted_device_interface_map"), "f", "o"),
            Ok(SortingMethod::Sorted)
        );
        assert_eq!(
            SortingMethod::from_dropdown(
                Some("create_reverse_sorted_device_interface_map"),
                "f",
                "o"
            ),
            Ok(SortingMethod::ReverseSorted)
        );
        assert_eq!(
            SortingMethod::from_dropdown(None, "f", "o"),
            Ok(SortingMethod::Sorted)
        );
        let error = SortingMethod::from_dropdown(
            Some("sorted"),
            "fabric_interface_sorting_method",
            "fabric Fabric-A",
        )
        .unwrap_err();
        assert_eq!(
            error.message,
            "fabric Fabric-A: fabric_interface_sorting_method is 'sorted', expected \
             'create_sorted_device_interface_map' or 'create_reverse_sorted_device_interface_map'"
        );
        assert_eq!(
            SortingMethod::ReverseSorted.as_str(),
            SortingMethod::REVERSE_SORTED
        );
    }
}
