"""Names the generators give what they create.

Names are identities: devices are upserted by hostname, pools by name, links
by name and pool reservations by identifier. Design names are lowercased in
everything derived from them (`Fabric-A` -> `ss-fabric-a-1`).
"""

# The seeded pool every fabric takes its /16 supernet from.
FABRIC_SUPERNET_POOL = "FabricSupernetPool"

# The group every generated device joins (the artifact target group).
DEVICES_GROUP = "devices"


def super_spine_hostname(fabric: str, i: int) -> str:
    return f"ss-{fabric.lower()}-{i}"


def spine_hostname(pod: str, i: int) -> str:
    return f"spine-{pod.lower()}-{i}"


def leaf_hostname(pod: str, rack_index: int, i: int) -> str:
    return f"leaf-{pod.lower()}-{rack_index}-{i}"


def fabric_prefix_pool(fabric: str) -> str:
    """The prefix pool over a fabric's /16 (super-spine loopbacks, pod /19s)."""
    return f"{fabric.lower()}-prefix-pool"


def super_spine_loopback_pool(fabric: str) -> str:
    return f"{fabric.lower()}-super-spine-loopback-pool"


def pod_prefix_pool(fabric: str, pod: str) -> str:
    """The prefix pool over a pod's /19 (its loopback /27 and every /31)."""
    return f"{fabric.lower()}-{pod.lower()}-prefix-pool"


def pod_loopback_pool(fabric: str, pod: str) -> str:
    """The address pool of a pod's spine and leaf loopbacks."""
    return f"{fabric.lower()}-{pod.lower()}-loopback-pool"


def link_name(src_host: str, src_if: str, dst_host: str, dst_if: str) -> str:
    """`<src host>-<src if>__<dst host>-<dst if>`, lower tier first."""
    return f"{src_host}-{src_if}__{dst_host}-{dst_if}"


def p2p_identifier(src_interface_id: str, dst_interface_id: str) -> str:
    """Reservation identifier of a link's /31: both interface ids, lower tier first."""
    return f"{src_interface_id}{dst_interface_id}"
