"""Interface ordering, the cabling formulas and their capacity checks.

Pure functions, no I/O. Devices are ordered explicitly (index, then natural
hostname, then id), never by API result order; each device's ports of one
role are sorted with netutils' `sort_interface_list`, reversed when the
design asks for it.

Pod: uplink `j` of spine `s` goes to super spine `j`, port `(pod_index - 2)*N + s`
(N super spines; pod index 2 is the first that cables).
Rack: uplink `j` of leaf `L` (its index, 1 or 2) goes to spine `j`, port
`2*(rack_index - 1) + (L - 1)`: each rack owns a window of 2 ports per spine.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from netutils.interface import sort_interface_list as netutils_sort_interface_list

from .design import REVERSE_SORTED
from .gates import GateError
from .naming import link_name, p2p_identifier

RACK_WINDOW = 2


@dataclass
class Interface:
    id: str
    name: str
    role: str | None
    status: str | None


@dataclass
class Device:
    id: str
    hostname: str
    index: int | None
    interfaces: list[Interface] = field(default_factory=list)


@dataclass(frozen=True)
class Port:
    device_id: str
    hostname: str
    interface_id: str
    interface_name: str

    @property
    def label(self) -> str:
        return f"{self.hostname} {self.interface_name}"


@dataclass
class DevicePorts:
    device_id: str
    hostname: str
    index: int | None
    ports: list[Port]


@dataclass
class PlannedLink:
    src: Port
    dst: Port

    @property
    def name(self) -> str:
        return link_name(self.src.hostname, self.src.interface_name, self.dst.hostname, self.dst.interface_name)

    @property
    def p2p_identifier(self) -> str:
        return p2p_identifier(self.src.interface_id, self.dst.interface_id)


@dataclass
class CablingPlan:
    links: list[PlannedLink] = field(default_factory=list)
    idle: list[Port] = field(default_factory=list)  # ports of the window left uncabled
    notes: list[str] = field(default_factory=list)


# --- ordering ----------------------------------------------------------------


def sort_interface_list(names: list[str]) -> list[str]:
    """netutils' order; names netutils cannot tokenize go last, sorted."""
    valid, invalid = [], []
    for name in names:
        try:
            netutils_sort_interface_list([name])
            valid.append(name)
        except ValueError:
            invalid.append(name)
    return netutils_sort_interface_list(valid) + sorted(set(invalid))


def _is_digit(byte: int) -> bool:
    return 0x30 <= byte <= 0x39


def _natural_cmp(a: str, b: str) -> int:
    """Digit runs compare by value, everything else byte by byte."""
    x, y = a.encode(), b.encode()
    i = j = 0
    while True:
        if i == len(x) and j == len(y):
            return (a > b) - (a < b)
        if i == len(x):
            return -1
        if j == len(y):
            return 1
        cx, cy = x[i], y[j]
        if _is_digit(cx) and _is_digit(cy):
            i2, j2 = i, j
            while i2 < len(x) and _is_digit(x[i2]):
                i2 += 1
            while j2 < len(y) and _is_digit(y[j2]):
                j2 += 1
            nx, ny = x[i:i2].lstrip(b"0"), y[j:j2].lstrip(b"0")
            if (len(nx), nx) != (len(ny), ny):
                return -1 if (len(nx), nx) < (len(ny), ny) else 1
            i, j = i2, j2
        elif cx != cy:
            return -1 if cx < cy else 1
        else:
            i, j = i + 1, j + 1


def _device_cmp(a: Device, b: Device) -> int:
    key_a = (a.index is None, a.index or 0)
    key_b = (b.index is None, b.index or 0)
    if key_a != key_b:
        return -1 if key_a < key_b else 1
    by_name = _natural_cmp(a.hostname, b.hostname)
    if by_name:
        return by_name
    return (a.id > b.id) - (a.id < b.id)


def interface_map(devices: list[Device], role: str, method: str) -> list[DevicePorts]:
    """The devices in order, each with its ports of `role` in order."""
    result = []
    for device in sorted(devices, key=functools.cmp_to_key(_device_cmp)):
        with_role = {i.name: i for i in device.interfaces if i.role == role}
        names = sort_interface_list(list(with_role))
        if method == REVERSE_SORTED:
            names.reverse()
        ports = [Port(device.id, device.hostname, with_role[n].id, n) for n in names]
        result.append(DevicePorts(device.id, device.hostname, device.index, ports))
    return result


# --- pod cabling -------------------------------------------------------------


def check_pod_capacity(
    pod: str, pod_index: int, spine_count: int, fabric: str, super_spines: list[DevicePorts]
) -> None:
    if pod_index < 2:
        raise GateError(
            f"pod {pod}: index {pod_index} cannot be cabled: pod index 2 is the first that owns "
            "super-spine ports (index 1 is the fabric pod's); give the pod an index of 2 or more"
        )
    n = len(super_spines)
    if n == 0:
        raise GateError(f"pod {pod}: fabric {fabric} has no super spines to cable the pod's spines to")
    if spine_count > n:
        raise GateError(
            f"pod {pod}: {spine_count} spines do not fit the window of {n} ports each pod owns on "
            f"every super spine of fabric {fabric} (one per super spine): pod index {pod_index} "
            f"would overlap the ports of pod index {pod_index + 1}; use at most {n} spines per pod"
        )
    needed = (pod_index - 2) * n + spine_count
    for ss in super_spines:
        have = len(ss.ports)
        if have < needed:
            if have >= spine_count:
                limit = (
                    f"with {spine_count} spines per pod the highest pod index fabric {fabric} can "
                    f"cable is {2 + (have - spine_count) // n}"
                )
            else:
                limit = f"{ss.hostname} has fewer spine-facing ports than the pod has spines"
            raise GateError(
                f"pod {pod}: index {pod_index} needs spine-facing port {needed} of {ss.hostname}, "
                f"which has only {have}; {limit}"
            )


def pod_cabling_plan(
    pod: str, pod_index: int, fabric: str, spines: list[DevicePorts], super_spines: list[DevicePorts]
) -> CablingPlan:
    check_pod_capacity(pod, pod_index, len(spines), fabric, super_spines)
    n = len(super_spines)
    base = (pod_index - 2) * n
    plan = CablingPlan()
    for s, spine in enumerate(spines):
        for j, uplink in enumerate(spine.ports[:n]):
            plan.links.append(PlannedLink(src=uplink, dst=super_spines[j].ports[base + s]))
        _note_unused(plan.notes, spine, super_spines, "super-spine", "super spines", f"fabric {fabric}")
    plan.idle = _idle_ports(super_spines, base, base + n, plan.links) + _unused_uplinks(spines, n)
    return plan


# --- rack cabling ------------------------------------------------------------


def check_rack_capacity(rack: str, rack_index: int, leaf_count: int, pod: str, spines: list[DevicePorts]) -> None:
    if rack_index < 1:
        raise GateError(f"rack {rack}: index {rack_index} cannot be cabled: rack indexes start at 1")
    if leaf_count < 1:
        raise GateError(f"rack {rack}: amount_of_leafs is {leaf_count}; a rack needs 1 or 2 leafs")
    if leaf_count > RACK_WINDOW:
        raise GateError(
            f"rack {rack}: {leaf_count} leafs do not fit the window of {RACK_WINDOW} ports each "
            f"rack owns on every spine of pod {pod} (one per leaf); use 1 or 2 leafs"
        )
    needed = (rack_index - 1) * RACK_WINDOW + leaf_count
    for spine in spines:
        have = len(spine.ports)
        if have < needed:
            if have >= leaf_count:
                limit = (
                    f"with {leaf_count} leaf(s) per rack the highest rack index pod {pod} can cable "
                    f"is {(have - leaf_count) // RACK_WINDOW + 1}"
                )
            else:
                limit = f"{spine.hostname} has fewer leaf-facing ports than the rack has leafs"
            raise GateError(
                f"rack {rack}: index {rack_index} needs leaf-facing port {needed} of "
                f"{spine.hostname}, which has only {have}; {limit}"
            )


def rack_cabling_plan(
    rack: str, rack_index: int, pod: str, leafs: list[DevicePorts], spines: list[DevicePorts]
) -> CablingPlan:
    check_rack_capacity(rack, rack_index, len(leafs), pod, spines)
    base = (rack_index - 1) * RACK_WINDOW
    plan = CablingPlan()
    for leaf in leafs:
        if leaf.index not in (1, 2):
            raise GateError(
                f"rack {rack}: leaf {leaf.hostname} has index {leaf.index if leaf.index is not None else 'none'}; "
                f"a leaf's index picks its port in the rack's window of {RACK_WINDOW} and must be 1 or 2"
            )
        position = base + leaf.index - 1
        for j, uplink in enumerate(leaf.ports[: len(spines)]):
            spine = spines[j]
            if position >= len(spine.ports):
                raise GateError(
                    f"rack {rack}: index {rack_index} needs leaf-facing port {position + 1} of "
                    f"{spine.hostname}, which has only {len(spine.ports)}"
                )
            plan.links.append(PlannedLink(src=uplink, dst=spine.ports[position]))
        _note_unused(plan.notes, leaf, spines, "spine", "spines", f"pod {pod}")
    plan.idle = _idle_ports(spines, base, base + RACK_WINDOW, plan.links) + _unused_uplinks(leafs, len(spines))
    return plan


# --- helpers -----------------------------------------------------------------


def _abbreviate(names: list[str]) -> str:
    if len(names) <= 4:
        return ", ".join(names)
    return f"{names[0]}, {names[1]}, …, {names[-1]}"


def _note_unused(
    notes: list[str], lower: DevicePorts, upper: list[DevicePorts], uplink_role: str, upper_tier: str, owner: str
) -> None:
    have, n = len(lower.ports), len(upper)
    if have > n:
        unused = [p.interface_name for p in lower.ports[n:]]
        notes.append(
            f"{lower.hostname}: {len(unused)} {uplink_role} uplink(s) stay unused ({_abbreviate(unused)}): "
            f"{owner} has {n} {upper_tier}"
        )
    elif have < n:
        missed = [d.hostname for d in upper[have:]]
        notes.append(
            f"{lower.hostname} has {have} {uplink_role} uplink(s) for {n} {upper_tier}: "
            f"{_abbreviate(missed)} get(s) no link from it"
        )


def unowned_rack_ports(spines: list[DevicePorts], rack_indexes: list[int]) -> list[Port]:
    """The spines' leaf-facing ports in the windows of rack indexes no rack of the pod has
    (window k is rack index k + 1's): nobody's, so the pod generator marks them inactive."""
    return [
        port
        for spine in spines
        for position, port in enumerate(spine.ports)
        if position // RACK_WINDOW + 1 not in rack_indexes
    ]


def _idle_ports(upper: list[DevicePorts], start: int, end: int, links: list[PlannedLink]) -> list[Port]:
    used = {link.dst for link in links}
    return [port for device in upper for port in device.ports[start:end] if port not in used]


def _unused_uplinks(lower: list[DevicePorts], upper: int) -> list[Port]:
    return [port for device in lower for port in device.ports[upper:]]
