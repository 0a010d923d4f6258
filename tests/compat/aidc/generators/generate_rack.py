"""generate-rack: a rack's leafs and leaf-to-spine cabling.

Checks, before any write: a pod that is not the fabric pod, a fabric above
it, a leaf template with one loopback, an index, the pod's spines all present
and the pod's two pools (else "run generate-pod first"), 1 or 2 leafs, and
the spine ports the rack's window needs. Then

1. creates `leaf-{pod}-{rack_index}-{i}` (with index i) for i in
   1..amount_of_leafs, loopbacks from the pod's loopback pool;
2. cables uplink j of leaf L to spine j, port 2*(rack_index - 1) + (L - 1),
   with a /31 per link from the pod's prefix pool (role pod_leaf_spine).

The rack is the last tier: it stamps nothing.
"""

from aidc_design import cabling, gates, naming
from aidc_design.design import rack_from_query
from aidc_design.writer import ADDRESS_POOL_KIND, PREFIX_POOL_KIND, NewDevice, Writer
from infrahub_sdk.generator import InfrahubGenerator


class RackGenerator(InfrahubGenerator):
    async def generate(self, data: dict) -> None:
        rack = rack_from_query(data, self.params["rack_name"])
        writer = Writer(self.client, self.logger)
        context = gates.rack_design_gates(rack)
        gates.template_gate(f"rack {rack.name}", context.template, await writer.template_loopbacks(context.template))
        pod = context.pod
        spines = await writer.devices_with_interfaces("leaf", pod__ids=[pod.id], role__value="spine")
        loopback_pool = await writer.pool(ADDRESS_POOL_KIND, naming.pod_loopback_pool(context.fabric, pod.name))
        prefix_pool = await writer.pool(PREFIX_POOL_KIND, naming.pod_prefix_pool(context.fabric, pod.name))
        gates.rack_upstream_gates(rack, context, len(spines), loopback_pool is not None, prefix_pool is not None)
        downlinks = cabling.interface_map(spines, "leaf", pod.spine_sorting)
        cabling.check_rack_capacity(rack.name, context.index, rack.amount_of_leafs, pod.name, downlinks)

        # Gates passed: from here on, writes.
        leafs = []
        for i in range(1, rack.amount_of_leafs + 1):
            new = NewDevice(
                hostname=naming.leaf_hostname(pod.name, context.index, i),
                role="leaf",
                index=i,
                template=context.template,
                pod_id=pod.id,
                rack_id=rack.id,
            )
            leafs.append(await writer.create_device(new, loopback_pool))
        uplinks = cabling.interface_map(leafs, "spine", pod.leaf_sorting)
        plan = cabling.rack_cabling_plan(rack.name, context.index, pod.name, uplinks, downlinks)
        await writer.write_plan(plan, prefix_pool, "pod_leaf_spine")
        self.logger.info(f"rack {rack.name}: {len(leafs)} leafs, {len(plan.links)} links")
