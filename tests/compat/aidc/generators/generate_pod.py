"""generate-pod: a pod's address pools, spines and spine-to-super-spine cabling.

A `fabric` pod is skipped with an info line (its super spines are
generate-fabric's). Otherwise it checks, before any write: a fabric, a spine
template with one loopback, an index, the fabric's `fabric` pod holding every
super spine and the fabric's prefix pool (else "run generate-fabric first"),
loopbacks for the pod's spines and leafs, and the super-spine ports the pod's
window needs. Then

1. takes the pod's /19 from `{fabric}-prefix-pool` (reserved under the pod id)
   and makes `{fabric}-{pod}-prefix-pool` over it;
2. takes the pod's loopback /27 from that pool and makes
   `{fabric}-{pod}-loopback-pool` over it;
3. creates `spine-{pod}-{i}` for i in 1..amount_of_spines;
4. cables uplink j of spine s to super spine j, port (pod_index - 2)*N + s,
   with a /31 per link (role pod_super_spine_spine);
5. marks inactive the spines' leaf-facing ports in the window of every rack
   index no rack of the pod has (a deleted rack's ports);
6. stamps the checksum of its output on the pod's racks.
"""

from aidc_design import cabling, gates, naming
from aidc_design.design import pod_from_query
from aidc_design.writer import (
    POD_LOOPBACK_LENGTH,
    POD_SUPERNET_LENGTH,
    PREFIX_POOL_KIND,
    NewDevice,
    Writer,
)
from infrahub_sdk.generator import InfrahubGenerator


class PodGenerator(InfrahubGenerator):
    async def generate(self, data: dict) -> None:
        pod = pod_from_query(data, self.params["pod_name"])
        skip = gates.pod_skip(pod)
        if skip:
            self.logger.info(skip)
            return
        writer = Writer(self.client, self.logger)
        context = gates.pod_design_gates(pod)
        gates.template_gate(f"pod {pod.name}", context.template, await writer.template_loopbacks(context.template))
        fabric = context.fabric
        super_spines = await writer.devices_with_interfaces(
            "spine", pod__ids=[context.fabric_pod.id], role__value="super_spine"
        )
        fabric_pool = await writer.pool(PREFIX_POOL_KIND, naming.fabric_prefix_pool(fabric.name))
        gates.pod_upstream_gates(pod, fabric, len(super_spines), fabric_pool is not None)
        downlinks = cabling.interface_map(super_spines, "spine", fabric.fabric_sorting)
        cabling.check_pod_capacity(pod.name, context.index, pod.amount_of_spines, fabric.name, downlinks)

        # Gates passed: from here on, writes.
        supernet = await writer.allocate_prefix(fabric_pool, pod.id, POD_SUPERNET_LENGTH, "prefix", "pod_supernet")
        prefix_pool = await writer.upsert_prefix_pool(naming.pod_prefix_pool(fabric.name, pod.name), supernet)
        loopbacks = await writer.allocate_prefix(prefix_pool, pod.id, POD_LOOPBACK_LENGTH, "address", "pod_loopback")
        loopback_pool = await writer.upsert_address_pool(naming.pod_loopback_pool(fabric.name, pod.name), loopbacks)

        spines = []
        for i in range(1, pod.amount_of_spines + 1):
            new = NewDevice(
                hostname=naming.spine_hostname(pod.name, i),
                role="spine",
                index=None,
                template=context.template,
                pod_id=pod.id,
                rack_id=None,
            )
            spines.append(await writer.create_device(new, loopback_pool))
        uplinks = cabling.interface_map(spines, "super_spine", fabric.spine_sorting)
        plan = cabling.pod_cabling_plan(pod.name, context.index, fabric.name, uplinks, downlinks)
        await writer.write_plan(plan, prefix_pool, "pod_super_spine_spine")
        # The racks' windows on the spines: a window whose rack is gone is nobody's.
        rack_indexes = [rack.index for rack in pod.racks if rack.index is not None]
        leaf_facing = cabling.interface_map(spines, "leaf", pod.spine_sorting)
        await writer.mark_inactive(cabling.unowned_rack_ports(leaf_facing, rack_indexes))

        checksum = writer.checksum()
        self.logger.info(
            f"pod {pod.name}: {len(spines)} spines, {len(plan.links)} links; stamping {len(pod.racks)} racks"
        )
        await writer.stamp_checksum(
            checksum, "LocationRack", [(rack.id, rack.name, rack.checksum) for rack in pod.racks]
        )
