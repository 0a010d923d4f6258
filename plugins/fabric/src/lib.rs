//! `generate-fabric`: a fabric's address pools and super spines.
//!
//! Reads `generate_fabric.gql` for `$fabric_name`; checks its gates before
//! any write (a super-spine template, exactly one `fabric` pod, the seeded
//! `FabricSupernetPool`, a super-spine count that fits the /28); then
//!
//! 1. takes the fabric's /16 from `FabricSupernetPool` (reserved under the
//!    fabric id) and makes `{fabric}-prefix-pool` over it;
//! 2. takes the super-spine loopback /28 from that pool and makes
//!    `{fabric}-super-spine-loopback-pool` over it;
//! 3. creates `ss-{fabric}-{i}` for `i` in `1..=amount_of_super_spines` from
//!    the template, in the `fabric` pod, each with a loopback;
//! 4. stamps the checksum of its output on every other pod of the fabric
//!    (untracked), which is what tells `generate-pod` to run.

use aidc_design::addressing::{self, PrefixRole};
use aidc_design::design::FabricDesign;
use aidc_design::writer::{self, NewDevice};
use aidc_design::{gates, naming};
use infragen_sdk::pools::MemberType;
use infragen_sdk::{Context, Generator, Result, info, tracking};
use serde_json::Value;

struct GenerateFabric;

impl Generator for GenerateFabric {
    fn generate(ctx: &Context, data: Value) -> Result<()> {
        let fabric_name = ctx.param_str("fabric_name")?;
        let fabric = FabricDesign::from_query(&data, fabric_name)?;
        let supernet_pool =
            writer::pool_exists(writer::PREFIX_POOL_KIND, naming::FABRIC_SUPERNET_POOL)?;
        let gates = gates::fabric_gates(&fabric, supernet_pool)?;
        gates::template_gate(
            &format!("fabric {}", fabric.name),
            gates.template,
            writer::template_loopbacks(gates.template)?,
        )?;

        // Gates passed: from here on, writes.
        let supernet = writer::allocate_prefix(
            naming::FABRIC_SUPERNET_POOL,
            &fabric.id,
            addressing::FABRIC_SUPERNET_LENGTH,
            MemberType::Prefix,
            PrefixRole::FabricSupernet,
        )?;
        let prefix_pool = naming::fabric_prefix_pool(&fabric.name);
        writer::upsert_prefix_pool(&prefix_pool, &supernet)?;
        let loopbacks = writer::allocate_prefix(
            &prefix_pool,
            &fabric.id,
            addressing::SUPER_SPINE_LOOPBACK_LENGTH,
            MemberType::Address,
            PrefixRole::SuperSpineLoopback,
        )?;
        let loopback_pool = naming::super_spine_loopback_pool(&fabric.name);
        writer::upsert_address_pool(&loopback_pool, &loopbacks)?;

        let mut super_spines = Vec::new();
        for i in 1..=fabric.amount_of_super_spines as u32 {
            super_spines.push(writer::create_device(&NewDevice {
                hostname: naming::super_spine_hostname(&fabric.name, i),
                role: "super_spine",
                index: None,
                template: gates.template,
                pod_id: &gates.fabric_pod.id,
                rack_id: None,
                loopback_pool: &loopback_pool,
            })?);
        }
        writer::join_devices_group(&super_spines)?;

        let checksum = tracking::checksum();
        let pods: Vec<_> = fabric.pods.iter().filter(|p| !p.is_fabric_pod()).collect();
        info!(
            "fabric {}: {} super spines; stamping {} pods",
            fabric.name,
            super_spines.len(),
            pods.len()
        );
        writer::stamp_checksum(
            &checksum,
            pods.iter()
                .map(|p| ("NetworkPod", p.id.as_str(), p.name.as_str())),
        )
    }
}

infragen_sdk::export_generator!(GenerateFabric);
