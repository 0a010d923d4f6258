"""The design objects as the generators' queries return them
(`generators/generate_{fabric,pod,rack}.gql`), read into plain objects.

Strict about what the schema guarantees (ids, names, numbers with defaults),
lenient about what may legitimately be unset (templates, a pod's fabric): an
unset precondition becomes a gate error in `gates`, with a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FABRIC_POD_ROLE = "fabric"

SORTED = "create_sorted_device_interface_map"
REVERSE_SORTED = "create_reverse_sorted_device_interface_map"


class DesignError(Exception):
    """Data of the wrong shape, or a design object that does not exist."""


@dataclass
class TemplateRef:
    id: str
    kind: str
    hfid: list[str]
    label: str


@dataclass
class PodSummary:
    id: str
    name: str
    index: int | None
    role: str | None
    checksum: str | None = None

    @property
    def is_fabric_pod(self) -> bool:
        return self.role == FABRIC_POD_ROLE


@dataclass
class FabricDesign:
    id: str
    name: str
    amount_of_super_spines: int
    fabric_sorting: str
    spine_sorting: str
    template: TemplateRef | None
    pods: list[PodSummary]


@dataclass
class FabricOfPod:
    id: str
    name: str
    amount_of_super_spines: int
    fabric_sorting: str
    spine_sorting: str
    pods: list[PodSummary]


@dataclass
class RackSummary:
    id: str
    kind: str
    name: str
    amount_of_leafs: int
    checksum: str | None
    index: int | None = None


@dataclass
class PodDesign:
    id: str
    name: str
    index: int | None
    role: str | None
    amount_of_spines: int
    spine_sorting: str
    template: TemplateRef | None
    fabric: FabricOfPod | None
    racks: list[RackSummary] = field(default_factory=list)

    @property
    def is_fabric_pod(self) -> bool:
        return self.role == FABRIC_POD_ROLE


@dataclass
class PodOfRack:
    id: str
    name: str
    role: str | None
    amount_of_spines: int
    leaf_sorting: str
    spine_sorting: str
    fabric: str | None


@dataclass
class RackDesign:
    id: str
    name: str
    index: int | None
    amount_of_leafs: int
    template: TemplateRef | None
    pod: PodOfRack | None


# --- reading GraphQL results -------------------------------------------------


def _value(node: dict, attribute: str) -> Any:
    return (node.get(attribute) or {}).get("value")


def _peer(node: dict, relationship: str) -> dict | None:
    return (node.get(relationship) or {}).get("node")


def _peers(node: dict, relationship: str) -> list[dict]:
    return [edge["node"] for edge in (node.get(relationship) or {}).get("edges") or []]


def _only_node(data: dict, kind: str, what: str, name: str) -> dict:
    nodes = [edge["node"] for edge in (data.get(kind) or {}).get("edges") or []]
    if len(nodes) == 1:
        return nodes[0]
    if not nodes:
        raise DesignError(f"{what} '{name}' does not exist (no {kind} with that name)")
    raise DesignError(f"{what} '{name}': {len(nodes)} {kind} nodes have that name")


def _required(node: dict, attribute: str, what: str) -> Any:
    value = node.get(attribute) if attribute == "id" else _value(node, attribute)
    if value is None:
        raise DesignError(f"{what}: {attribute} is not set")
    return value


def _number(node: dict, attribute: str, what: str) -> int:
    return int(_required(node, attribute, what))


def _optional_number(node: dict, attribute: str) -> int | None:
    value = _value(node, attribute)
    return None if value is None else int(value)


def _sorting(node: dict, attribute: str, what: str) -> str:
    value = _value(node, attribute)
    if value in (None, ""):
        return SORTED
    if value not in (SORTED, REVERSE_SORTED):
        raise DesignError(f"{what}: {attribute} is '{value}', expected '{SORTED}' or '{REVERSE_SORTED}'")
    return value


def _template(node: dict, relationship: str) -> TemplateRef | None:
    peer = _peer(node, relationship)
    if not peer or not peer.get("id"):
        return None
    hfid = peer.get("hfid") or []
    return TemplateRef(
        id=peer["id"],
        kind=peer.get("__typename") or "CoreObjectTemplate",
        hfid=hfid,
        label=peer.get("display_label") or (hfid[0] if hfid else peer["id"]),
    )


def _pods(node: dict, what: str) -> list[PodSummary]:
    return [
        PodSummary(
            id=_required(pod, "id", what),
            name=_required(pod, "name", what),
            index=_optional_number(pod, "index"),
            role=_value(pod, "role"),
            checksum=_value(pod, "checksum"),
        )
        for pod in _peers(node, "children")
        if pod.get("__typename") in (None, "NetworkPod")
    ]


def fabric_from_query(data: dict, fabric_name: str) -> FabricDesign:
    node = _only_node(data, "NetworkFabric", "fabric", fabric_name)
    what = f"fabric {fabric_name}"
    return FabricDesign(
        id=_required(node, "id", what),
        name=_required(node, "name", what),
        amount_of_super_spines=_number(node, "amount_of_super_spines", what),
        fabric_sorting=_sorting(node, "fabric_interface_sorting_method", what),
        spine_sorting=_sorting(node, "spine_interface_sorting_method", what),
        template=_template(node, "super_spine_switch_template"),
        pods=_pods(node, what),
    )


def pod_from_query(data: dict, pod_name: str) -> PodDesign:
    node = _only_node(data, "NetworkPod", "pod", pod_name)
    what = f"pod {pod_name}"
    fabric = None
    parent = _peer(node, "parent")
    if parent:
        of = f"fabric of pod {pod_name}"
        fabric = FabricOfPod(
            id=_required(parent, "id", of),
            name=_required(parent, "name", of),
            amount_of_super_spines=_number(parent, "amount_of_super_spines", of),
            fabric_sorting=_sorting(parent, "fabric_interface_sorting_method", of),
            spine_sorting=_sorting(parent, "spine_interface_sorting_method", of),
            pods=_pods(parent, of),
        )
    racks = [
        RackSummary(
            id=_required(rack, "id", what),
            kind=rack.get("__typename") or "LocationRack",
            name=_required(rack, "name", what),
            amount_of_leafs=_optional_number(rack, "amount_of_leafs") or 1,
            checksum=_value(rack, "checksum"),
            index=_optional_number(rack, "index"),
        )
        for rack in _peers(node, "racks")
    ]
    return PodDesign(
        id=_required(node, "id", what),
        name=_required(node, "name", what),
        index=_optional_number(node, "index"),
        role=_value(node, "role"),
        amount_of_spines=_number(node, "amount_of_spines", what),
        spine_sorting=_sorting(node, "spine_interface_sorting_method", what),
        template=_template(node, "spine_switch_template"),
        fabric=fabric,
        racks=racks,
    )


def rack_from_query(data: dict, rack_name: str) -> RackDesign:
    node = _only_node(data, "LocationRack", "rack", rack_name)
    what = f"rack {rack_name}"
    pod = None
    pod_node = _peer(node, "pod")
    if pod_node:
        of = f"pod of rack {rack_name}"
        fabric = _peer(pod_node, "parent")
        pod = PodOfRack(
            id=_required(pod_node, "id", of),
            name=_required(pod_node, "name", of),
            role=_value(pod_node, "role"),
            amount_of_spines=_number(pod_node, "amount_of_spines", of),
            leaf_sorting=_sorting(pod_node, "leaf_interface_sorting_method", of),
            spine_sorting=_sorting(pod_node, "spine_interface_sorting_method", of),
            fabric=_value(fabric, "name") if fabric else None,
        )
    return RackDesign(
        id=_required(node, "id", what),
        name=_required(node, "name", what),
        index=_optional_number(node, "index"),
        amount_of_leafs=_number(node, "amount_of_leafs", what),
        template=_template(node, "leaf_switch_template"),
        pod=pod,
    )
