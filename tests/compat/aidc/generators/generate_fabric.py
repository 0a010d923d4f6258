"""generate-fabric: a fabric's address pools and super spines.

Checks its gates before any write (a super-spine template with one loopback,
exactly one `fabric` pod, the seeded FabricSupernetPool, a super-spine count
that fits the /28), then

1. takes the fabric's /16 from FabricSupernetPool (reserved under the fabric
   id) and makes `{fabric}-prefix-pool` over it;
2. takes the super-spine loopback /28 from that pool and makes
   `{fabric}-super-spine-loopback-pool` over it;
3. creates `ss-{fabric}-{i}` for i in 1..amount_of_super_spines from the
   template, in the `fabric` pod, each with a loopback;
4. stamps the checksum of its output on every other pod of the fabric
   (untracked), which is what tells generate-pod to run.
"""

from aidc_design import gates, naming
from aidc_design.design import fabric_from_query
from aidc_design.writer import (
    FABRIC_SUPERNET_LENGTH,
    PREFIX_POOL_KIND,
    SUPER_SPINE_LOOPBACK_LENGTH,
    NewDevice,
    Writer,
)
from infrahub_sdk.generator import InfrahubGenerator


class FabricGenerator(InfrahubGenerator):
    async def generate(self, data: dict) -> None:
        fabric = fabric_from_query(data, self.params["fabric_name"])
        writer = Writer(self.client, self.logger)
        supernet_pool = await writer.pool(PREFIX_POOL_KIND, naming.FABRIC_SUPERNET_POOL)
        context = gates.fabric_gates(fabric, supernet_pool is not None)
        gates.template_gate(
            f"fabric {fabric.name}", context.template, await writer.template_loopbacks(context.template)
        )

        # Gates passed: from here on, writes.
        supernet = await writer.allocate_prefix(
            supernet_pool, fabric.id, FABRIC_SUPERNET_LENGTH, "prefix", "fabric_supernet"
        )
        prefix_pool = await writer.upsert_prefix_pool(naming.fabric_prefix_pool(fabric.name), supernet)
        loopbacks = await writer.allocate_prefix(
            prefix_pool, fabric.id, SUPER_SPINE_LOOPBACK_LENGTH, "address", "super_spine_loopback"
        )
        loopback_pool = await writer.upsert_address_pool(naming.super_spine_loopback_pool(fabric.name), loopbacks)

        super_spines = []
        for i in range(1, fabric.amount_of_super_spines + 1):
            new = NewDevice(
                hostname=naming.super_spine_hostname(fabric.name, i),
                role="super_spine",
                index=None,
                template=context.template,
                pod_id=context.fabric_pod.id,
                rack_id=None,
            )
            super_spines.append(await writer.create_device(new, loopback_pool))

        checksum = writer.checksum()
        pods = [pod for pod in fabric.pods if not pod.is_fabric_pod]
        self.logger.info(f"fabric {fabric.name}: {len(super_spines)} super spines; stamping {len(pods)} pods")
        await writer.stamp_checksum(checksum, "NetworkPod", [(pod.id, pod.name, pod.checksum) for pod in pods])
