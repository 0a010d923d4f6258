//! `generate-pod`: a pod's address pools, spines and spine-to-super-spine
//! cabling.
//!
//! Reads `generate_pod.gql` for `$pod_name`. A `fabric` pod is skipped with
//! an info line (its super spines are `generate-fabric`'s). Otherwise it
//! checks, before any write: a fabric, a spine template, an index, the
//! fabric's `fabric` pod holding every super spine and the fabric's prefix
//! pool (else "run generate-fabric first"), loopbacks for the pod's spines
//! and leafs, and the super-spine ports the pod's window needs. Then
//!
//! 1. takes the pod's /19 from `{fabric}-prefix-pool` (reserved under the pod
//!    id) and makes `{fabric}-{pod}-prefix-pool` over it;
//! 2. takes the pod's loopback /27 from that pool and makes
//!    `{fabric}-{pod}-loopback-pool` over it;
//! 3. creates `spine-{pod}-{i}` for `i` in `1..=amount_of_spines`;
//! 4. cables uplink `j` of spine `s` to super spine `j`, port
//!    `(pod_index − 2)·N + s`, with a /31 per link (role
//!    `pod_super_spine_spine`);
//! 5. marks inactive the spines' leaf-facing ports in the window of every
//!    rack index no rack of the pod has (a deleted rack's ports; its rack
//!    generator can no longer run);
//! 6. stamps the checksum of its output on the pod's racks.

use aidc_design::addressing::{self, PrefixRole};
use aidc_design::cabling;
use aidc_design::design::PodDesign;
use aidc_design::ordering::interface_map;
use aidc_design::writer::{self, NewDevice};
use aidc_design::{gates, naming};
use infragen_sdk::pools::MemberType;
use infragen_sdk::{Context, Generator, Result, info, tracking};
use serde_json::Value;

struct GeneratePod;

impl Generator for GeneratePod {
    fn generate(ctx: &Context, data: Value) -> Result<()> {
        let pod_name = ctx.param_str("pod_name")?;
        let pod = PodDesign::from_query(&data, pod_name)?;
        if let Some(skip) = gates::pod_skip(&pod) {
            info!("{skip}");
            return Ok(());
        }
        let gates = gates::pod_design_gates(&pod)?;
        gates::template_gate(
            &format!("pod {}", pod.name),
            gates.template,
            writer::template_loopbacks(gates.template)?,
        )?;
        let fabric = gates.fabric;
        let super_spines =
            writer::devices_with_interfaces(&gates.fabric_pod.id, "super_spine", "spine")?;
        let fabric_pool = naming::fabric_prefix_pool(&fabric.name);
        let fabric_pool_exists = writer::pool_exists(writer::PREFIX_POOL_KIND, &fabric_pool)?;
        gates::pod_upstream_gates(&pod, fabric, super_spines.len(), fabric_pool_exists)?;
        let downlinks = interface_map(&super_spines, "spine", fabric.fabric_sorting);
        let spine_count = pod.amount_of_spines as usize;
        cabling::check_pod_capacity(
            &pod.name,
            gates.index,
            spine_count,
            &fabric.name,
            &downlinks,
        )?;

        // Gates passed: from here on, writes.
        let supernet = writer::allocate_prefix(
            &fabric_pool,
            &pod.id,
            addressing::POD_SUPERNET_LENGTH,
            MemberType::Prefix,
            PrefixRole::PodSupernet,
        )?;
        let prefix_pool = naming::pod_prefix_pool(&fabric.name, &pod.name);
        writer::upsert_prefix_pool(&prefix_pool, &supernet)?;
        let loopbacks = writer::allocate_prefix(
            &prefix_pool,
            &pod.id,
            addressing::POD_LOOPBACK_LENGTH,
            MemberType::Address,
            PrefixRole::PodLoopback,
        )?;
        let loopback_pool = naming::pod_loopback_pool(&fabric.name, &pod.name);
        writer::upsert_address_pool(&loopback_pool, &loopbacks)?;

        let mut spines = Vec::new();
        for i in 1..=spine_count as u32 {
            spines.push(writer::create_device(&NewDevice {
                hostname: naming::spine_hostname(&pod.name, i),
                role: "spine",
                index: None,
                template: gates.template,
                pod_id: &pod.id,
                rack_id: None,
                loopback_pool: &loopback_pool,
            })?);
        }
        let uplinks = interface_map(&spines, "super_spine", fabric.spine_sorting);
        let plan =
            cabling::pod_cabling_plan(&pod.name, gates.index, &fabric.name, &uplinks, &downlinks)?;
        writer::write_plan(&plan, &prefix_pool, PrefixRole::PodSuperSpineSpine)?;
        writer::join_devices_group(&spines)?;
        // The racks' windows on the spines: a window whose rack is gone is nobody's.
        let rack_indexes: Vec<i64> = pod.racks.iter().filter_map(|r| r.index).collect();
        let leaf_facing = interface_map(&spines, "leaf", pod.spine_sorting);
        writer::mark_inactive(&cabling::unowned_rack_ports(&leaf_facing, &rack_indexes))?;

        let checksum = tracking::checksum();
        info!(
            "pod {}: {} spines, {} links; stamping {} racks",
            pod.name,
            spines.len(),
            plan.links.len(),
            pod.racks.len()
        );
        writer::stamp_checksum(
            &checksum,
            pod.racks
                .iter()
                .map(|r| (r.kind.as_str(), r.id.as_str(), r.name.as_str())),
        )
    }
}

infragen_sdk::export_generator!(GeneratePod);
