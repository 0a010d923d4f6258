//! Cabling plans: which interface of a lower-tier device connects to which
//! interface of an upper-tier device (reference §2.5).
//!
//! Both plans take each side as a list of [`DevicePorts`] already in the
//! design's order (see [`ordering`](crate::ordering)): the lower tier's
//! uplinks and the upper tier's downlinks.
//!
//! - **Pod** (spines up to super spines): uplink `j` of spine `s` (0-based,
//!   in device order) connects to super spine `j`, on its downlink at
//!   position `(pod_index − 2)·N + s`, `N` being the number of super spines.
//!   Each pod owns a window of `N` ports on every super spine; pod index 2 is
//!   the first to cable (index 1 is the fabric pod).
//! - **Rack** (leafs up to spines): uplink `j` of the leaf with index `L`
//!   connects to spine `j`, on its downlink at position
//!   `2·(rack_index − 1) + (L − 1)`. Each rack owns a window of 2 ports on
//!   every spine, whether it has 1 or 2 leafs.
//!
//! Uplinks beyond the number of upper devices stay unused (and are reported
//! in [`CablingPlan::notes`]). Unlike the reference, a position beyond a
//! device's ports, an index below the first window, or a pod with more
//! spines than its window holds (which would overlap the next pod's ports)
//! is a capacity error, never a wraparound or a silent overlap.

use crate::error::{DesignError, Result};
use crate::naming;

/// One interface in a plan, with its device.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Port {
    /// Id of the device the interface belongs to.
    pub device_id: String,
    /// Hostname of that device.
    pub hostname: String,
    /// Id of the interface.
    pub interface_id: String,
    /// Name of the interface.
    pub interface_name: String,
}

impl Port {
    /// `hostname interface`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.hostname, self.interface_name)
    }
}

/// One side of a plan for one device: its ports of the relevant role, in
/// the design's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePorts {
    /// Id of the device.
    pub device_id: String,
    /// Hostname of the device.
    pub hostname: String,
    /// The device's `index` (a leaf's position in its rack).
    pub index: Option<i64>,
    /// The ports, ordered.
    pub ports: Vec<Port>,
}

/// A link to create, lower tier first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedLink {
    /// The lower-tier end (the spine in a pod plan, the leaf in a rack plan).
    pub src: Port,
    /// The upper-tier end.
    pub dst: Port,
}

impl PlannedLink {
    /// The link's name: `<src host>-<src if>__<dst host>-<dst if>`.
    pub fn name(&self) -> String {
        naming::link_name(
            &self.src.hostname,
            &self.src.interface_name,
            &self.dst.hostname,
            &self.dst.interface_name,
        )
    }

    /// The reservation identifier of the link's /31.
    pub fn p2p_identifier(&self) -> String {
        naming::p2p_identifier(&self.src.interface_id, &self.dst.interface_id)
    }
}

/// What a plan decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CablingPlan {
    /// The links, in lower-tier device order, then uplink order.
    pub links: Vec<PlannedLink>,
    /// Ports this plan owns but does not cable: upper-tier ports inside this
    /// pod's or rack's own window that no link uses (fewer spines or leafs
    /// than the window holds, or fewer uplinks than upper devices), then the
    /// lower tier's uplinks beyond the upper devices. They belong to nobody
    /// else, so a generator may mark them inactive: that is how a port freed
    /// by a smaller design stops looking cabled.
    pub idle: Vec<Port>,
    /// What a person should know: uplinks left unused, upper devices that
    /// get no link from some lower device.
    pub notes: Vec<String>,
}

/// Checks, before anything is created, that a pod with `spine_count`
/// spines at `pod_index` fits the super spines' ports: the index is at least
/// 2, the spines fit the pod's window of `N` ports (so windows of
/// neighbouring pods never overlap), and every super spine has the ports the
/// window needs.
pub fn check_pod_capacity(
    pod: &str,
    pod_index: i64,
    spine_count: usize,
    fabric: &str,
    super_spines: &[DevicePorts],
) -> Result<()> {
    if pod_index < 2 {
        return Err(DesignError::capacity(format!(
            "pod {pod}: index {pod_index} cannot be cabled: pod index 2 is the first that owns \
             super-spine ports (index 1 is the fabric pod's); give the pod an index of 2 or more"
        )));
    }
    let n = super_spines.len();
    if n == 0 {
        return Err(DesignError::capacity(format!(
            "pod {pod}: fabric {fabric} has no super spines to cable the pod's spines to"
        )));
    }
    if spine_count > n {
        return Err(DesignError::capacity(format!(
            "pod {pod}: {spine_count} spines do not fit the window of {n} ports each pod owns on \
             every super spine of fabric {fabric} (one per super spine): pod index {pod_index} \
             would overlap the ports of pod index {}; use at most {n} spines per pod",
            pod_index + 1
        )));
    }
    let base = window_start(pod_index - 2, n)?;
    let needed = base + spine_count;
    for ss in super_spines {
        let have = ss.ports.len();
        if have < needed {
            let limit = if have >= spine_count {
                format!(
                    "with {spine_count} spines per pod the highest pod index fabric {fabric} can \
                     cable is {}",
                    2 + (have - spine_count) / n
                )
            } else {
                format!(
                    "{} has fewer spine-facing ports than the pod has spines",
                    ss.hostname
                )
            };
            return Err(DesignError::capacity(format!(
                "pod {pod}: index {pod_index} needs spine-facing port {needed} of {}, which has \
                 only {have}; {limit}",
                ss.hostname
            )));
        }
    }
    Ok(())
}

/// The pod plan: spines (`spines`, their super-spine uplinks) to super spines
/// (`super_spines`, their spine-facing downlinks). Runs
/// [`check_pod_capacity`] first.
pub fn pod_cabling_plan(
    pod: &str,
    pod_index: i64,
    fabric: &str,
    spines: &[DevicePorts],
    super_spines: &[DevicePorts],
) -> Result<CablingPlan> {
    check_pod_capacity(pod, pod_index, spines.len(), fabric, super_spines)?;
    let n = super_spines.len();
    let base = window_start(pod_index - 2, n)?;
    let mut plan = CablingPlan::default();
    for (s, spine) in spines.iter().enumerate() {
        let position = base + s;
        for (j, uplink) in spine.ports.iter().take(n).enumerate() {
            let ss = &super_spines[j];
            let Some(downlink) = ss.ports.get(position) else {
                return Err(DesignError::capacity(format!(
                    "pod {pod}: index {pod_index} needs spine-facing port {} of {}, which has \
                     only {}",
                    position + 1,
                    ss.hostname,
                    ss.ports.len()
                )));
            };
            plan.links.push(PlannedLink {
                src: uplink.clone(),
                dst: downlink.clone(),
            });
        }
        note_unused(
            &mut plan.notes,
            spine,
            super_spines,
            "super-spine",
            "super spines",
            || format!("fabric {fabric}"),
        );
    }
    plan.idle = idle_ports(super_spines, base..base + n, &plan.links);
    plan.idle.extend(unused_uplinks(spines, n));
    Ok(plan)
}

/// Checks, before anything is created, that a rack with `leaf_count` leafs
/// at `rack_index` fits the spines' ports: the index is at least 1, the rack
/// has 1 or 2 leafs (its window is 2 ports), and every spine has the ports
/// the window needs.
pub fn check_rack_capacity(
    rack: &str,
    rack_index: i64,
    leaf_count: i64,
    pod: &str,
    spines: &[DevicePorts],
) -> Result<()> {
    if rack_index < 1 {
        return Err(DesignError::capacity(format!(
            "rack {rack}: index {rack_index} cannot be cabled: rack indexes start at 1"
        )));
    }
    if leaf_count < 1 {
        return Err(DesignError::capacity(format!(
            "rack {rack}: amount_of_leafs is {leaf_count}; a rack needs 1 or 2 leafs"
        )));
    }
    if leaf_count > RACK_WINDOW as i64 {
        return Err(DesignError::capacity(format!(
            "rack {rack}: {leaf_count} leafs do not fit the window of {RACK_WINDOW} ports each \
             rack owns on every spine of pod {pod} (one per leaf); use 1 or 2 leafs"
        )));
    }
    let leafs = leaf_count as usize;
    let base = window_start(rack_index - 1, RACK_WINDOW)?;
    let needed = base + leafs;
    for spine in spines {
        let have = spine.ports.len();
        if have < needed {
            let limit = if have >= leafs {
                format!(
                    "with {leafs} leaf(s) per rack the highest rack index pod {pod} can cable is {}",
                    (have - leafs) / RACK_WINDOW + 1
                )
            } else {
                format!(
                    "{} has fewer leaf-facing ports than the rack has leafs",
                    spine.hostname
                )
            };
            return Err(DesignError::capacity(format!(
                "rack {rack}: index {rack_index} needs leaf-facing port {needed} of {}, which has \
                 only {have}; {limit}",
                spine.hostname
            )));
        }
    }
    Ok(())
}

/// The rack plan: leafs (`leafs`, their spine uplinks; each leaf's `index`
/// picks its port in the window) to spines (`spines`, their leaf-facing
/// downlinks). Runs [`check_rack_capacity`] first.
pub fn rack_cabling_plan(
    rack: &str,
    rack_index: i64,
    pod: &str,
    leafs: &[DevicePorts],
    spines: &[DevicePorts],
) -> Result<CablingPlan> {
    check_rack_capacity(rack, rack_index, leafs.len() as i64, pod, spines)?;
    let base = window_start(rack_index - 1, RACK_WINDOW)?;
    let mut plan = CablingPlan::default();
    for leaf in leafs {
        let position = match leaf.index {
            Some(index @ 1..=2) => base + (index as usize - 1),
            other => {
                return Err(DesignError::capacity(format!(
                    "rack {rack}: leaf {} has index {}; a leaf's index picks its port in the \
                     rack's window of {RACK_WINDOW} and must be 1 or 2",
                    leaf.hostname,
                    other.map_or("none".to_string(), |i| i.to_string())
                )));
            }
        };
        for (j, uplink) in leaf.ports.iter().take(spines.len()).enumerate() {
            let spine = &spines[j];
            let Some(downlink) = spine.ports.get(position) else {
                return Err(DesignError::capacity(format!(
                    "rack {rack}: index {rack_index} needs leaf-facing port {} of {}, which has \
                     only {}",
                    position + 1,
                    spine.hostname,
                    spine.ports.len()
                )));
            };
            plan.links.push(PlannedLink {
                src: uplink.clone(),
                dst: downlink.clone(),
            });
        }
        note_unused(&mut plan.notes, leaf, spines, "spine", "spines", || {
            format!("pod {pod}")
        });
    }
    plan.idle = idle_ports(spines, base..base + RACK_WINDOW, &plan.links);
    plan.idle.extend(unused_uplinks(leafs, spines.len()));
    Ok(plan)
}

/// Ports each rack owns on every spine.
pub const RACK_WINDOW: usize = 2;

/// The spines' leaf-facing ports (ordered as the rack generator orders them)
/// in the windows of rack indexes that no rack of the pod has: window `k`
/// belongs to the rack with index `k + 1`. Those ports belong to nobody —
/// the rack that cabled them was deleted, or never existed — so the pod
/// generator marks them inactive; a rack generator that can no longer run
/// cannot.
pub fn unowned_rack_ports(spines: &[DevicePorts], rack_indexes: &[i64]) -> Vec<Port> {
    spines
        .iter()
        .flat_map(|spine| spine.ports.iter().enumerate())
        .filter(|(position, _)| {
            let index = i64::try_from(position / RACK_WINDOW + 1).unwrap_or(i64::MAX);
            !rack_indexes.contains(&index)
        })
        .map(|(_, port)| port.clone())
        .collect()
}

/// First position of window `k` (0-based) of `width` ports.
fn window_start(k: i64, width: usize) -> Result<usize> {
    usize::try_from(k)
        .ok()
        .and_then(|k| k.checked_mul(width))
        .ok_or_else(|| {
            DesignError::capacity(format!("window {k} of {width} ports is out of range"))
        })
}

/// Reports a lower device's uplinks beyond the upper devices, and upper
/// devices it cannot reach for lack of uplinks.
fn note_unused(
    notes: &mut Vec<String>,
    lower: &DevicePorts,
    upper: &[DevicePorts],
    uplink_role: &str,
    upper_tier: &str,
    owner: impl Fn() -> String,
) {
    let (have, n) = (lower.ports.len(), upper.len());
    if have > n {
        let unused: Vec<&str> = lower.ports[n..]
            .iter()
            .map(|p| p.interface_name.as_str())
            .collect();
        notes.push(format!(
            "{}: {} {uplink_role} uplink(s) stay unused ({}): {} has {n} {upper_tier}",
            lower.hostname,
            unused.len(),
            abbreviate(&unused),
            owner()
        ));
    } else if have < n {
        let missed: Vec<&str> = upper[have..].iter().map(|d| d.hostname.as_str()).collect();
        notes.push(format!(
            "{} has {have} {uplink_role} uplink(s) for {n} {upper_tier}: {} get(s) no link from it",
            lower.hostname,
            abbreviate(&missed)
        ));
    }
}

/// The ports of `window` on every upper device that no link uses.
fn idle_ports(
    upper: &[DevicePorts],
    window: core::ops::Range<usize>,
    links: &[PlannedLink],
) -> Vec<Port> {
    upper
        .iter()
        .flat_map(|device| {
            device
                .ports
                .get(window.start..window.end.min(device.ports.len()))
        })
        .flatten()
        .filter(|port| !links.iter().any(|link| &link.dst == *port))
        .cloned()
        .collect()
}

/// The uplinks of each lower device beyond the first `upper` (one per upper
/// device), which no plan cables.
fn unused_uplinks(lower: &[DevicePorts], upper: usize) -> Vec<Port> {
    lower
        .iter()
        .flat_map(|device| device.ports.iter().skip(upper))
        .cloned()
        .collect()
}

/// `a, b, c` for a few names, `a, b, …, z` for many, so a log line stays short.
fn abbreviate(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [_] | [_, _] | [_, _, _] | [_, _, _, _] => names.join(", "),
        [first, second, .., last] => format!("{first}, {second}, …, {last}"),
    }
}
