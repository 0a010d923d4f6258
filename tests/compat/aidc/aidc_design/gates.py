"""Preconditions each generator checks before its first write, so that a run
that cannot finish changes nothing.

Every message names the target, what is missing, and what to do: which
generator must run first, or what to set in the design. Each generator has
design gates (over its query result), then upstream gates (over what the
upstream generator should have made, counted with a few reads).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import naming
from .design import FabricDesign, FabricOfPod, PodDesign, PodOfRack, PodSummary, RackDesign, TemplateRef

SUPER_SPINE_LOOPBACK_LENGTH = 28
POD_LOOPBACK_LENGTH = 27


class GateError(RuntimeError):
    """A precondition the design or the upstream tier does not meet."""


def loopback_capacity(length: int) -> int:
    """How many addresses an address pool over an IPv4 prefix hands out
    (network and broadcast excluded): a /28 holds 14, a /27 holds 30."""
    if length <= 30:
        return (1 << (32 - length)) - 2
    return 2 if length == 31 else 1


@dataclass
class FabricContext:
    template: TemplateRef
    fabric_pod: PodSummary


def fabric_gates(fabric: FabricDesign, supernet_pool_exists: bool) -> FabricContext:
    name = fabric.name
    if fabric.template is None:
        raise GateError(
            f"fabric {name}: no super spine switch template (super_spine_switch_template is "
            "empty); set one on the fabric, then run generate-fabric"
        )
    count = fabric.amount_of_super_spines
    if count < 1:
        raise GateError(f"fabric {name}: amount_of_super_spines is {count}; a fabric needs at least one super spine")
    capacity = loopback_capacity(SUPER_SPINE_LOOPBACK_LENGTH)
    if count > capacity:
        raise GateError(
            f"fabric {name}: {count} super spines do not fit the /{SUPER_SPINE_LOOPBACK_LENGTH} of "
            f"super-spine loopbacks, which holds {capacity} addresses"
        )
    fabric_pods = [pod for pod in fabric.pods if pod.is_fabric_pod]
    if not fabric_pods:
        raise GateError(
            f"fabric {name}: no pod with role 'fabric' to hold the super spines; add one to "
            "the fabric, then run generate-fabric"
        )
    if len(fabric_pods) > 1:
        names = ", ".join(pod.name for pod in fabric_pods)
        raise GateError(
            f"fabric {name}: {len(fabric_pods)} pods have role 'fabric' ({names}); exactly one must "
            "hold the super spines"
        )
    if not supernet_pool_exists:
        raise GateError(
            f"fabric {name}: the pool {naming.FABRIC_SUPERNET_POOL} does not exist; load the seed "
            "design (objects/) before running generate-fabric"
        )
    return FabricContext(template=fabric.template, fabric_pod=fabric_pods[0])


def pod_skip(pod: PodDesign) -> str | None:
    """A `fabric` pod is skipped: its super spines are generate-fabric's."""
    if pod.is_fabric_pod:
        return f"skipping pod {pod.name}: its role is 'fabric'; its super spines are made by generate-fabric"
    return None


@dataclass
class PodContext:
    fabric: FabricOfPod
    fabric_pod: PodSummary
    template: TemplateRef
    index: int


def pod_design_gates(pod: PodDesign) -> PodContext:
    name = pod.name
    fabric = pod.fabric
    if fabric is None:
        raise GateError(
            f"pod {name}: it belongs to no fabric (parent is empty); attach it to a fabric, then "
            "run generate-fabric and generate-pod"
        )
    if pod.template is None:
        raise GateError(
            f"pod {name}: no spine switch template (spine_switch_template is empty); set one on "
            "the pod, then run generate-pod"
        )
    if pod.index is None:
        raise GateError(
            f"pod {name}: no index; the index picks the pod's super-spine ports (2 for the first "
            "pod after the fabric pod)"
        )
    fabric_pod = next((p for p in fabric.pods if p.is_fabric_pod), None)
    if fabric_pod is None:
        raise GateError(
            f"pod {name}: fabric {fabric.name} has no pod with role 'fabric' holding its super "
            f"spines; add one, then run generate-fabric for {fabric.name} first"
        )
    spines = pod.amount_of_spines
    if spines < 1:
        raise GateError(f"pod {name}: amount_of_spines is {spines}; a pod needs at least one spine")
    leafs = sum(max(rack.amount_of_leafs, 0) for rack in pod.racks)
    capacity = loopback_capacity(POD_LOOPBACK_LENGTH)
    if spines + leafs > capacity:
        raise GateError(
            f"pod {name}: {spines} spines and {leafs} leafs need {spines + leafs} loopbacks, but "
            f"the pod's /{POD_LOOPBACK_LENGTH} holds {capacity}"
        )
    return PodContext(fabric=fabric, fabric_pod=fabric_pod, template=pod.template, index=pod.index)


def pod_upstream_gates(pod: PodDesign, fabric: FabricOfPod, super_spines_found: int, fabric_pool_exists: bool) -> None:
    wanted = fabric.amount_of_super_spines
    if super_spines_found != wanted:
        raise GateError(
            f"pod {pod.name}: fabric {fabric.name} is not fully generated ({super_spines_found} of "
            f"{wanted} super spines exist); run generate-fabric for {fabric.name} first"
        )
    if not fabric_pool_exists:
        raise GateError(
            f"pod {pod.name}: fabric {fabric.name} has no prefix pool "
            f"({naming.fabric_prefix_pool(fabric.name)}); run generate-fabric for {fabric.name} first"
        )


@dataclass
class RackContext:
    pod: PodOfRack
    fabric: str
    template: TemplateRef
    index: int


def rack_design_gates(rack: RackDesign) -> RackContext:
    name = rack.name
    pod = rack.pod
    if pod is None:
        raise GateError(
            f"rack {name}: it belongs to no pod (pod is empty); attach it to a pod, then run "
            "generate-pod and generate-rack"
        )
    if pod.role == "fabric":
        raise GateError(
            f"rack {name}: pod {pod.name} has role 'fabric', which holds super spines and no "
            "racks; attach the rack to a cpu or storage pod"
        )
    if pod.fabric is None:
        raise GateError(
            f"rack {name}: pod {pod.name} belongs to no fabric; attach it to a fabric, then run "
            f"generate-fabric and generate-pod for {pod.name} first"
        )
    if rack.template is None:
        raise GateError(
            f"rack {name}: no leaf switch template (leaf_switch_template is empty); set one on "
            "the rack, then run generate-rack"
        )
    if rack.index is None:
        raise GateError(f"rack {name}: no index; the index picks the rack's spine ports (1 for the first rack)")
    return RackContext(pod=pod, fabric=pod.fabric, template=rack.template, index=rack.index)


def rack_upstream_gates(
    rack: RackDesign,
    context: RackContext,
    spines_found: int,
    loopback_pool_exists: bool,
    prefix_pool_exists: bool,
) -> None:
    pod = context.pod
    wanted = pod.amount_of_spines
    if spines_found != wanted:
        raise GateError(
            f"rack {rack.name}: pod {pod.name} is not fully generated ({spines_found} of {wanted} "
            f"spines exist); run generate-pod for {pod.name} first"
        )
    for exists, what, pool in (
        (loopback_pool_exists, "loopback pool", naming.pod_loopback_pool(context.fabric, pod.name)),
        (prefix_pool_exists, "prefix pool", naming.pod_prefix_pool(context.fabric, pod.name)),
    ):
        if not exists:
            raise GateError(
                f"rack {rack.name}: pod {pod.name} has no {what} ({pool}); run generate-pod for {pod.name} first"
            )


def template_gate(target: str, template: TemplateRef, loopbacks: int) -> None:
    """Every device template needs exactly one loopback interface."""
    if loopbacks != 1:
        raise GateError(
            f"{target}: template {template.label} has {loopbacks} interfaces with role 'loopback'; "
            "a device template needs exactly one, which carries the device's loopback address"
        )
