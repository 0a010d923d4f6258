"""Everything the generators do through the Infrahub SDK: reading devices with
their interfaces, creating a device from its template with a loopback from a
pool, writing a cabling plan, and stamping a checksum on the next tier.

The rules it follows (the same as the WebAssembly generators'):

- What a generator makes (pools, devices, links, addresses) is saved with
  `save(allow_upsert=True)` while the SDK tracks the run: it joins the run's
  tracking group, and what a previous run made and this one did not is
  deleted when the run ends (`delete_unused_nodes=True`).
- Interfaces are never saved tracked. They come from the device templates as
  components of their device; a tracked save would make an interface part of
  this run's output, and the first run that stops cabling that port would
  delete it. Their status is written only when it differs, as an update of
  that one attribute with `update_group_context=False` (an untracked stamp).
  Addresses are attached from the address side (`IpamIPAddress.interface`,
  the other side of `NetworkInterface.ip_address`), which the run owns.
- The checksum stamped on the next tier is untracked too, and written only
  when it changed, so an unchanged run fires no trigger downstream.
- Every allocation is part of the run's output (tracked explicitly: the SDK
  tracks only what is saved) and is reserved under an identifier, so a re-run
  gets the same prefix or address back: the fabric or pod id for its blocks, the two
  interface ids of a link for its /31, and for a loopback the identifier the
  server gives an allocation made through a relationship
  (`hfid=NetworkDevice__<hostname> rel=loopback_ip`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import naming
from .cabling import CablingPlan, Device, Interface
from .design import TemplateRef
from .gates import GateError

if TYPE_CHECKING:
    from infrahub_sdk import InfrahubClient
    from infrahub_sdk.node import InfrahubNode

DEVICE_KIND = "NetworkDevice"
INTERFACE_KIND = "NetworkInterface"
TEMPLATE_INTERFACE_KIND = "TemplateNetworkInterface"
LINK_KIND = "NetworkLink"
PREFIX_KIND = "IpamIPPrefix"
ADDRESS_KIND = "IpamIPAddress"
PREFIX_POOL_KIND = "CoreIPPrefixPool"
ADDRESS_POOL_KIND = "CoreIPAddressPool"
GROUP_KIND = "CoreStandardGroup"
LOOPBACK_ROLE = "loopback"
LINK_MEDIUM = "copper"
NAMESPACE = {"hfid": ["default"], "kind": "IpamNamespace"}

FABRIC_SUPERNET_LENGTH = 16
SUPER_SPINE_LOOPBACK_LENGTH = 28
POD_SUPERNET_LENGTH = 19
POD_LOOPBACK_LENGTH = 27
P2P_LENGTH = 31
LOOPBACK_LENGTH = 32
PREFIX_POOL_DEFAULT_LENGTH = 24


@dataclass
class NewDevice:
    hostname: str
    role: str
    index: int | None
    template: TemplateRef
    pod_id: str
    rack_id: str | None


def p2p_addresses(prefix: str) -> tuple[str, str]:
    """The two addresses of a /31 (or /127), lower tier first (the even one)."""
    network = ipaddress.ip_network(prefix)
    if network.prefixlen != network.max_prefixlen - 1:
        raise ValueError(f"p2p prefix '{prefix}': a point-to-point prefix is an IPv4 /31 or an IPv6 /127")
    even = network.network_address
    return f"{even}/{network.prefixlen}", f"{even + 1}/{network.prefixlen}"


class Writer:
    """The SDK side of one generator run."""

    def __init__(self, client: InfrahubClient, log: logging.Logger) -> None:
        self.client = client
        self.log = log
        # Every interface read during the run, by id, to write a status only when it differs.
        self._interfaces: dict[str, InfrahubNode] = {}
        self._devices_group: set[str] | None = None

    # --- reads ---------------------------------------------------------------

    async def pool(self, kind: str, name: str) -> InfrahubNode | None:
        return await self.client.get(kind=kind, name__value=name, raise_when_missing=False)

    async def template_loopbacks(self, template: TemplateRef) -> int:
        """How many interfaces of a device template have role `loopback`."""
        found = await self.client.filters(
            kind=TEMPLATE_INTERFACE_KIND, device__ids=[template.id], role__value=LOOPBACK_ROLE
        )
        return len(found)

    async def devices_with_interfaces(self, interface_role: str, **filters: Any) -> list[Device]:
        """The devices matching `filters`, each with its interfaces of `interface_role`."""
        nodes = await self.client.filters(kind=DEVICE_KIND, **filters)
        devices = {node.id: Device(id=node.id, hostname=node.hostname.value, index=node.index.value) for node in nodes}
        if not devices:
            return []
        interfaces = await self.client.filters(
            kind=INTERFACE_KIND, device__ids=list(devices), role__value=interface_role
        )
        for node in interfaces:
            device = devices.get(node.device.id)
            if device is not None:
                device.interfaces.append(self._remember(node))
        return list(devices.values())

    def _remember(self, node: InfrahubNode) -> Interface:
        self._interfaces[node.id] = node
        return Interface(id=node.id, name=node.name.value, role=node.role.value, status=node.status.value)

    # --- pools ---------------------------------------------------------------

    async def allocate_prefix(
        self, pool: InfrahubNode, identifier: str, length: int, member_type: str, role: str
    ) -> InfrahubNode:
        prefix = await self.client.allocate_next_ip_prefix(
            resource_pool=pool,
            identifier=identifier,
            prefix_length=length,
            member_type=member_type,
            data={"role": role},
        )
        if prefix is None:
            raise GateError(f"allocating the {role} prefix from {pool.name.value} failed")
        await self.track(prefix)
        self.log.info(f"{role} {prefix.prefix.value} from {pool.name.value}")
        return prefix

    async def track(self, allocated: InfrahubNode) -> None:
        """Makes an allocation part of this run's output. The SDK tracks what is
        saved, and an allocation is only read back; tracked, the prefix is deleted
        (and its reservation freed) by the first run that no longer allocates it,
        e.g. the /31 of a link that is gone."""
        await self.client.group_context.add_related_nodes(ids=[allocated.id], update_group_context=True)

    async def upsert_prefix_pool(self, name: str, resource: InfrahubNode) -> InfrahubNode:
        pool = await self.client.create(
            kind=PREFIX_POOL_KIND,
            name=name,
            default_prefix_type=PREFIX_KIND,
            default_prefix_length=PREFIX_POOL_DEFAULT_LENGTH,
            resources=[resource.id],
            ip_namespace=NAMESPACE,
        )
        await pool.save(allow_upsert=True)
        return pool

    async def upsert_address_pool(self, name: str, resource: InfrahubNode) -> InfrahubNode:
        pool = await self.client.create(
            kind=ADDRESS_POOL_KIND,
            name=name,
            default_address_type=ADDRESS_KIND,
            default_prefix_length=LOOPBACK_LENGTH,
            resources=[resource.id],
            ip_namespace=NAMESPACE,
        )
        await pool.save(allow_upsert=True)
        return pool

    # --- devices -------------------------------------------------------------

    async def devices_group_members(self) -> set[str] | None:
        """The hostnames of the `devices` group's devices; None when there is no such group."""
        if self._devices_group is None:
            group = await self.client.get(
                kind=GROUP_KIND, name__value=naming.DEVICES_GROUP, include=["members"], raise_when_missing=False
            )
            if group is None:
                self.log.info(f"no group '{naming.DEVICES_GROUP}': the devices join no artifact group")
                return None
            self._devices_group = {
                peer.hfid[0] for peer in group.members.peers if peer.typename == DEVICE_KIND and peer.hfid
            }
        return self._devices_group

    async def create_device(self, new: NewDevice, loopback_pool: InfrahubNode) -> Device:
        """Creates (or finds again) a device from its template, with a loopback
        address from `loopback_pool` on the template's one loopback interface."""
        data: dict[str, Any] = {
            "hostname": new.hostname,
            "role": new.role,
            "object_template": {"id": new.template.id},
            "pod": {"id": new.pod_id},
            "loopback_ip": loopback_pool,  # from_pool: the server allocates (and reserves) the address
        }
        if new.index is not None:
            data["index"] = new.index
        if new.rack_id is not None:
            data["rack"] = {"id": new.rack_id}
        # The group is named only when the device is not a member yet: in an upsert,
        # `member_of_groups` replaces the device's groups, so naming it on every run
        # would take the device out of its tracking group until the run ends (and
        # emit a membership change each way).
        members = await self.devices_group_members()
        if members is not None and new.hostname not in members:
            data["member_of_groups"] = [naming.DEVICES_GROUP]
        device = await self.client.create(kind=DEVICE_KIND, **data)
        await device.save(allow_upsert=True)

        nodes = await self.client.filters(kind=INTERFACE_KIND, device__ids=[device.id])
        interfaces = [self._remember(node) for node in nodes]
        loopbacks = [i for i in interfaces if i.role == LOOPBACK_ROLE]
        if len(loopbacks) != 1:
            raise GateError(
                f"{new.hostname} (template {new.template.label}) has {len(loopbacks)} interfaces with "
                "role 'loopback'; the template must have exactly one"
            )
        # After the save the SDK (1.23.2) leaves `device.loopback_ip` wrapping the
        # RelatedNode it built from the response instead of the address id, so the
        # device is read again for its allocated address (as the reference does).
        device = await self.client.get(kind=DEVICE_KIND, id=device.id)
        address = await self.client.get(kind=ADDRESS_KIND, id=device.loopback_ip.id)
        address.interface = loopbacks[0].id
        await address.save(allow_upsert=True)
        await self.set_status(loopbacks[0].id, "active")
        self.log.info(
            f"{new.hostname} ({new.role}) from template {new.template.label}, loopback {address.address.value}"
        )
        return Device(id=device.id, hostname=new.hostname, index=new.index, interfaces=interfaces)

    async def set_status(self, interface_id: str, status: str) -> bool:
        """Sets an interface's status, untracked, only when it differs."""
        node = self._interfaces[interface_id]
        if node.status.value == status:
            return False
        node.status.value = status
        await node.save(update_group_context=False)
        return True

    # --- cabling -------------------------------------------------------------

    async def write_plan(self, plan: CablingPlan, prefix_pool: InfrahubNode, role: str) -> None:
        """For each link: the link (copper), both interfaces active, a /31 from
        `prefix_pool` reserved under the two interface ids, the even address on
        the lower tier and the odd one on the upper tier. Ports of the window
        left idle are marked inactive."""
        for note in plan.notes:
            self.log.info(note)
        for link in plan.links:
            node = await self.client.create(
                kind=LINK_KIND,
                name=link.name,
                medium=LINK_MEDIUM,
                endpoints=[link.src.interface_id, link.dst.interface_id],
            )
            await node.save(allow_upsert=True)
            await self.set_status(link.src.interface_id, "active")
            await self.set_status(link.dst.interface_id, "active")
            prefix = await self.client.allocate_next_ip_prefix(
                resource_pool=prefix_pool,
                identifier=link.p2p_identifier,
                prefix_length=P2P_LENGTH,
                member_type="address",
                data={"role": role},
            )
            await self.track(prefix)
            even, odd = p2p_addresses(str(prefix.prefix.value))
            for value, port in ((even, link.src), (odd, link.dst)):
                address = await self.client.create(kind=ADDRESS_KIND, address=value, interface=port.interface_id)
                await address.save(allow_upsert=True)
        await self.mark_inactive(plan.idle)
        self.log.info(f"{len(plan.links)} links")

    async def mark_inactive(self, ports: list) -> None:
        """Marks `ports` inactive (nothing cables them any more), logging each
        one that was not already."""
        for port in ports:
            if await self.set_status(port.interface_id, "inactive"):
                self.log.info(f"{port.label} is no longer cabled: marked inactive")

    # --- the next tier -------------------------------------------------------

    def checksum(self) -> str:
        """sha256 of the sorted ids this run saved (tracked), joined by `,`."""
        context = self.client.group_context
        ids = sorted(context.related_group_ids + context.related_node_ids)
        return hashlib.sha256(",".join(ids).encode()).hexdigest()

    async def stamp_checksum(self, checksum: str, kind: str, targets: list[tuple[str, str, str | None]]) -> None:
        """Writes `checksum` on each (id, name, current checksum) target whose
        checksum differs, untracked."""
        for target_id, name, current in targets:
            if current == checksum:
                continue
            node = await self.client.get(kind=kind, id=target_id)
            node.checksum.value = checksum
            await node.save(update_group_context=False)
            self.log.info(f"{name}: checksum updated to {checksum}")
