//! `generate-rack`: a rack's leafs and leaf-to-spine cabling.
//!
//! Reads `generate_rack.gql` for `$rack_name`; checks, before any write: a
//! pod that is not the fabric pod, a fabric above it, a leaf template, an
//! index, the pod's spines all present and the pod's two pools (else "run
//! generate-pod first"), 1 or 2 leafs, and the spine ports the rack's window
//! needs. Then
//!
//! 1. creates `leaf-{pod}-{rack_index}-{i}` (with `index` `i`) for `i` in
//!    `1..=amount_of_leafs`, loopbacks from the pod's loopback pool;
//! 2. cables uplink `j` of leaf `L` to spine `j`, port
//!    `2·(rack_index − 1) + (L − 1)`, with a /31 per link from the pod's
//!    prefix pool (role `pod_leaf_spine`).
//!
//! The rack is the last tier: it stamps nothing.

use aidc_design::addressing::PrefixRole;
use aidc_design::cabling;
use aidc_design::design::RackDesign;
use aidc_design::ordering::interface_map;
use aidc_design::writer::{self, NewDevice};
use aidc_design::{gates, naming};
use infragen_sdk::{Context, Generator, Result, info};
use serde_json::Value;

struct GenerateRack;

impl Generator for GenerateRack {
    fn generate(ctx: &Context, data: Value) -> Result<()> {
        let rack_name = ctx.param_str("rack_name")?;
        let rack = RackDesign::from_query(&data, rack_name)?;
        let gates = gates::rack_design_gates(&rack)?;
        gates::template_gate(
            &format!("rack {}", rack.name),
            gates.template,
            writer::template_loopbacks(gates.template)?,
        )?;
        let pod = gates.pod;
        let spines = writer::devices_with_interfaces(&pod.id, "spine", "leaf")?;
        let loopback_pool = naming::pod_loopback_pool(gates.fabric, &pod.name);
        let prefix_pool = naming::pod_prefix_pool(gates.fabric, &pod.name);
        gates::rack_upstream_gates(
            &rack,
            &gates,
            spines.len(),
            writer::pool_exists(writer::ADDRESS_POOL_KIND, &loopback_pool)?,
            writer::pool_exists(writer::PREFIX_POOL_KIND, &prefix_pool)?,
        )?;
        let downlinks = interface_map(&spines, "leaf", pod.spine_sorting);
        cabling::check_rack_capacity(
            &rack.name,
            gates.index,
            rack.amount_of_leafs,
            &pod.name,
            &downlinks,
        )?;

        // Gates passed: from here on, writes.
        let mut leafs = Vec::new();
        for i in 1..=rack.amount_of_leafs as u32 {
            leafs.push(writer::create_device(&NewDevice {
                hostname: naming::leaf_hostname(&pod.name, gates.index, i),
                role: "leaf",
                index: Some(i64::from(i)),
                template: gates.template,
                pod_id: &pod.id,
                rack_id: Some(&rack.id),
                loopback_pool: &loopback_pool,
            })?);
        }
        let uplinks = interface_map(&leafs, "spine", pod.leaf_sorting);
        let plan =
            cabling::rack_cabling_plan(&rack.name, gates.index, &pod.name, &uplinks, &downlinks)?;
        writer::write_plan(&plan, &prefix_pool, PrefixRole::PodLeafSpine)?;
        writer::join_devices_group(&leafs)?;
        info!(
            "rack {}: {} leafs, {} links",
            rack.name,
            leafs.len(),
            plan.links.len()
        );
        Ok(())
    }
}

infragen_sdk::export_generator!(GenerateRack);
