//! Preconditions each generator checks **before its first write**, so a run
//! that cannot finish changes nothing.
//!
//! Every message names the target, what is missing, and what to do: which
//! generator must run first, or what to set in the design. The reference had
//! two of these gates (and a `ValueError` for the fabric pod); a missing
//! template or pool surfaced there as `AttributeError: 'NoneType' object has
//! no attribute 'id'` halfway through a run (reference §2.9, §6.8).
//!
//! Each generator has two steps: *design* gates over what its query returned,
//! then *upstream* gates over what the upstream generator should have made
//! (counted by the plugin with a few reads).

use crate::addressing;
use crate::design::{
    FabricDesign, FabricOfPod, PodDesign, PodOfRack, PodSummary, RackDesign, TemplateRef,
};
use crate::error::{DesignError, Result};
use crate::naming;

/// What `generate-fabric` may go ahead with.
#[derive(Debug)]
pub struct FabricContext<'a> {
    /// Template of the super spines.
    pub template: &'a TemplateRef,
    /// The pod that holds the super spines.
    pub fabric_pod: &'a PodSummary,
}

/// Checks a fabric before `generate-fabric` writes anything:
/// a super-spine template, a sane super-spine count that fits the loopback
/// /28, exactly one `fabric` pod, and the seeded supernet pool.
pub fn fabric_gates(
    fabric: &FabricDesign,
    supernet_pool_exists: bool,
) -> Result<FabricContext<'_>> {
    let name = &fabric.name;
    let template = fabric.template.as_ref().ok_or_else(|| {
        DesignError::gate(format!(
            "fabric {name}: no super spine switch template (super_spine_switch_template is \
             empty); set one on the fabric, then run generate-fabric"
        ))
    })?;
    let count = fabric.amount_of_super_spines;
    if count < 1 {
        return Err(DesignError::capacity(format!(
            "fabric {name}: amount_of_super_spines is {count}; a fabric needs at least one super spine"
        )));
    }
    let capacity = addressing::loopback_capacity(addressing::SUPER_SPINE_LOOPBACK_LENGTH);
    if count as u64 > capacity {
        return Err(DesignError::capacity(format!(
            "fabric {name}: {count} super spines do not fit the /{} of super-spine loopbacks, \
             which holds {capacity} addresses",
            addressing::SUPER_SPINE_LOOPBACK_LENGTH
        )));
    }
    let fabric_pods: Vec<&PodSummary> = fabric.pods.iter().filter(|p| p.is_fabric_pod()).collect();
    let fabric_pod = match fabric_pods.as_slice() {
        [one] => *one,
        [] => {
            return Err(DesignError::gate(format!(
                "fabric {name}: no pod with role 'fabric' to hold the super spines; add one to \
                 the fabric, then run generate-fabric"
            )));
        }
        many => {
            let names: Vec<&str> = many.iter().map(|p| p.name.as_str()).collect();
            return Err(DesignError::gate(format!(
                "fabric {name}: {} pods have role 'fabric' ({}); exactly one must hold the super spines",
                many.len(),
                names.join(", ")
            )));
        }
    };
    if !supernet_pool_exists {
        return Err(DesignError::gate(format!(
            "fabric {name}: the pool {} does not exist; load the seed design (objects/) before \
             running generate-fabric",
            naming::FABRIC_SUPERNET_POOL
        )));
    }
    Ok(FabricContext {
        template,
        fabric_pod,
    })
}

/// The info line of a `fabric` pod, which the pod generator skips: its
/// super spines are the fabric generator's. The reference raised a
/// `ValueError` here, failing one run in every cascade.
pub fn pod_skip(pod: &PodDesign) -> Option<String> {
    pod.is_fabric_pod().then(|| {
        format!(
            "skipping pod {}: its role is 'fabric'; its super spines are made by generate-fabric",
            pod.name
        )
    })
}

/// What `generate-pod` may go ahead with once its design gates pass.
#[derive(Debug)]
pub struct PodContext<'a> {
    /// The pod's fabric.
    pub fabric: &'a FabricOfPod,
    /// The fabric's `fabric` pod, where the super spines are.
    pub fabric_pod: &'a PodSummary,
    /// Template of the spines.
    pub template: &'a TemplateRef,
    /// The pod's index.
    pub index: i64,
}

/// Checks a (non-fabric) pod's design: a fabric, a spine template, an index,
/// at least one spine, a `fabric` pod in the fabric, and enough loopbacks in
/// the pod's /27 for its spines and its racks' leafs.
pub fn pod_design_gates(pod: &PodDesign) -> Result<PodContext<'_>> {
    let name = &pod.name;
    let fabric = pod.fabric.as_ref().ok_or_else(|| {
        DesignError::gate(format!(
            "pod {name}: it belongs to no fabric (parent is empty); attach it to a fabric, then \
             run generate-fabric and generate-pod"
        ))
    })?;
    let template = pod.template.as_ref().ok_or_else(|| {
        DesignError::gate(format!(
            "pod {name}: no spine switch template (spine_switch_template is empty); set one on \
             the pod, then run generate-pod"
        ))
    })?;
    let index = pod.index.ok_or_else(|| {
        DesignError::gate(format!(
            "pod {name}: no index; the index picks the pod's super-spine ports (2 for the first \
             pod after the fabric pod)"
        ))
    })?;
    let fabric_pod = fabric
        .pods
        .iter()
        .find(|p| p.is_fabric_pod())
        .ok_or_else(|| {
            DesignError::gate(format!(
                "pod {name}: fabric {} has no pod with role 'fabric' holding its super spines; add \
             one, then run generate-fabric for {} first",
                fabric.name, fabric.name
            ))
        })?;
    let spines = pod.amount_of_spines;
    if spines < 1 {
        return Err(DesignError::capacity(format!(
            "pod {name}: amount_of_spines is {spines}; a pod needs at least one spine"
        )));
    }
    let leafs: i64 = pod.racks.iter().map(|r| r.amount_of_leafs.max(0)).sum();
    let capacity = addressing::loopback_capacity(addressing::POD_LOOPBACK_LENGTH);
    if (spines + leafs) as u64 > capacity {
        return Err(DesignError::capacity(format!(
            "pod {name}: {spines} spines and {leafs} leafs need {} loopbacks, but the pod's /{} \
             holds {capacity}",
            spines + leafs,
            addressing::POD_LOOPBACK_LENGTH
        )));
    }
    Ok(PodContext {
        fabric,
        fabric_pod,
        template,
        index,
    })
}

/// Checks what generate-fabric should have made for the pod: every super
/// spine of the fabric, and the fabric's prefix pool.
pub fn pod_upstream_gates(
    pod: &PodDesign,
    fabric: &FabricOfPod,
    super_spines_found: usize,
    fabric_prefix_pool_exists: bool,
) -> Result<()> {
    let wanted = fabric.amount_of_super_spines;
    if super_spines_found as i64 != wanted {
        return Err(DesignError::gate(format!(
            "pod {}: fabric {} is not fully generated ({super_spines_found} of {wanted} super \
             spines exist); run generate-fabric for {} first",
            pod.name, fabric.name, fabric.name
        )));
    }
    if !fabric_prefix_pool_exists {
        return Err(DesignError::gate(format!(
            "pod {}: fabric {} has no prefix pool ({}); run generate-fabric for {} first",
            pod.name,
            fabric.name,
            naming::fabric_prefix_pool(&fabric.name),
            fabric.name
        )));
    }
    Ok(())
}

/// What `generate-rack` may go ahead with once its design gates pass.
#[derive(Debug)]
pub struct RackContext<'a> {
    /// The rack's pod.
    pub pod: &'a PodOfRack,
    /// Name of the pod's fabric.
    pub fabric: &'a str,
    /// Template of the leafs.
    pub template: &'a TemplateRef,
    /// The rack's index.
    pub index: i64,
}

/// Checks a rack's design: a pod that is not the fabric pod, a fabric above
/// it, a leaf template and an index.
pub fn rack_design_gates(rack: &RackDesign) -> Result<RackContext<'_>> {
    let name = &rack.name;
    let pod = rack.pod.as_ref().ok_or_else(|| {
        DesignError::gate(format!(
            "rack {name}: it belongs to no pod (pod is empty); attach it to a pod, then run \
             generate-pod and generate-rack"
        ))
    })?;
    if pod.role.as_deref() == Some(crate::design::FABRIC_POD_ROLE) {
        return Err(DesignError::gate(format!(
            "rack {name}: pod {} has role 'fabric', which holds super spines and no racks; \
             attach the rack to a cpu or storage pod",
            pod.name
        )));
    }
    let fabric = pod.fabric.as_deref().ok_or_else(|| {
        DesignError::gate(format!(
            "rack {name}: pod {} belongs to no fabric; attach it to a fabric, then run \
             generate-fabric and generate-pod for {} first",
            pod.name, pod.name
        ))
    })?;
    let template = rack.template.as_ref().ok_or_else(|| {
        DesignError::gate(format!(
            "rack {name}: no leaf switch template (leaf_switch_template is empty); set one on \
             the rack, then run generate-rack"
        ))
    })?;
    let index = rack.index.ok_or_else(|| {
        DesignError::gate(format!(
            "rack {name}: no index; the index picks the rack's spine ports (1 for the first rack)"
        ))
    })?;
    Ok(RackContext {
        pod,
        fabric,
        template,
        index,
    })
}

/// Checks what generate-pod should have made for the rack: every spine of
/// the pod, and the pod's loopback and prefix pools.
pub fn rack_upstream_gates(
    rack: &RackDesign,
    context: &RackContext<'_>,
    spines_found: usize,
    loopback_pool_exists: bool,
    prefix_pool_exists: bool,
) -> Result<()> {
    let pod = context.pod;
    let wanted = pod.amount_of_spines;
    if spines_found as i64 != wanted {
        return Err(DesignError::gate(format!(
            "rack {}: pod {} is not fully generated ({spines_found} of {wanted} spines exist); \
             run generate-pod for {} first",
            rack.name, pod.name, pod.name
        )));
    }
    for (exists, what, pool) in [
        (
            loopback_pool_exists,
            "loopback pool",
            naming::pod_loopback_pool(context.fabric, &pod.name),
        ),
        (
            prefix_pool_exists,
            "prefix pool",
            naming::pod_prefix_pool(context.fabric, &pod.name),
        ),
    ] {
        if !exists {
            return Err(DesignError::gate(format!(
                "rack {}: pod {} has no {what} ({pool}); run generate-pod for {} first",
                rack.name, pod.name, pod.name
            )));
        }
    }
    Ok(())
}

/// Checks that a device template has exactly one `loopback` interface, where
/// the device's loopback address goes. `target` names the design object
/// (`pod Pod-A2`), `loopbacks` is the number of the template's interfaces
/// with role `loopback`.
pub fn template_gate(target: &str, template: &TemplateRef, loopbacks: usize) -> Result<()> {
    if loopbacks == 1 {
        return Ok(());
    }
    Err(DesignError::gate(format!(
        "{target}: template {} has {loopbacks} interfaces with role 'loopback'; a device \
         template needs exactly one, which carries the device's loopback address",
        template.label
    )))
}
