//! Names the generators give what they create: hostnames, pool names, link
//! names and reservation identifiers.
//!
//! Names are identities: devices are upserted by hostname, pools by name,
//! links by name and pool reservations by identifier. Changing a rule here
//! makes every generator create new objects (and delete the old ones), so the
//! rules are the reference's, unchanged, and pinned by tests.

/// The seeded pool every fabric takes its /16 supernet from.
pub const FABRIC_SUPERNET_POOL: &str = "FabricSupernetPool";

/// The group every generated device joins (the artifact target group).
pub const DEVICES_GROUP: &str = "devices";

/// Design names are lowercased in everything derived from them
/// (`Fabric-A` → `ss-fabric-a-1`).
fn lower(name: &str) -> String {
    name.to_lowercase()
}

/// Hostname of super spine `i` (1-based) of a fabric: `ss-{fabric}-{i}`.
pub fn super_spine_hostname(fabric: &str, i: u32) -> String {
    format!("ss-{}-{i}", lower(fabric))
}

/// Hostname of spine `i` (1-based) of a pod: `spine-{pod}-{i}`.
pub fn spine_hostname(pod: &str, i: u32) -> String {
    format!("spine-{}-{i}", lower(pod))
}

/// Hostname of leaf `i` (its `index`, 1-based) of the rack with `rack_index`
/// in a pod: `leaf-{pod}-{rack_index}-{i}`.
pub fn leaf_hostname(pod: &str, rack_index: i64, i: u32) -> String {
    format!("leaf-{}-{rack_index}-{i}", lower(pod))
}

/// The prefix pool over a fabric's /16, from which the super-spine loopback
/// /28 and the pods' /19s are taken: `{fabric}-prefix-pool`.
pub fn fabric_prefix_pool(fabric: &str) -> String {
    format!("{}-prefix-pool", lower(fabric))
}

/// The address pool of the super-spine loopbacks:
/// `{fabric}-super-spine-loopback-pool`.
pub fn super_spine_loopback_pool(fabric: &str) -> String {
    format!("{}-super-spine-loopback-pool", lower(fabric))
}

/// The prefix pool over a pod's /19, from which its loopback /27 and every
/// point-to-point /31 of the pod are taken: `{fabric}-{pod}-prefix-pool`.
pub fn pod_prefix_pool(fabric: &str, pod: &str) -> String {
    format!("{}-{}-prefix-pool", lower(fabric), lower(pod))
}

/// The address pool of a pod's spine and leaf loopbacks:
/// `{fabric}-{pod}-loopback-pool`.
pub fn pod_loopback_pool(fabric: &str, pod: &str) -> String {
    format!("{}-{}-loopback-pool", lower(fabric), lower(pod))
}

/// Name of the link between two interfaces, lower tier first:
/// `<src host>-<src if>__<dst host>-<dst if>`.
pub fn link_name(src_host: &str, src_if: &str, dst_host: &str, dst_if: &str) -> String {
    format!("{src_host}-{src_if}__{dst_host}-{dst_if}")
}

/// Reservation identifier of a point-to-point /31: the two interface ids,
/// lower tier first, concatenated without a separator (the reference's
/// `src.id + dst.id`), so a re-run gets the same /31 back.
pub fn p2p_identifier(src_interface_id: &str, dst_interface_id: &str) -> String {
    format!("{src_interface_id}{dst_interface_id}")
}

/// Reservation identifier of a device's loopback address. It is the
/// identifier Infrahub's server gives an allocation made through the
/// device's `loopback_ip` relationship (`hfid=<Kind>__<hfid> rel=<relationship>`),
/// so a device created either way keeps the same address.
pub fn loopback_identifier(hostname: &str) -> String {
    format!("hfid=NetworkDevice__{hostname} rel=loopback_ip")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_follow_the_reference_and_are_lowercased() {
        assert_eq!(super_spine_hostname("Fabric-A", 1), "ss-fabric-a-1");
        assert_eq!(super_spine_hostname("Fabric-B", 4), "ss-fabric-b-4");
        assert_eq!(spine_hostname("Pod-A2", 3), "spine-pod-a2-3");
        assert_eq!(leaf_hostname("Pod-A2", 3, 2), "leaf-pod-a2-3-2");
        assert_eq!(leaf_hostname("Pod-B3", 4, 1), "leaf-pod-b3-4-1");
    }

    #[test]
    fn pool_names_are_derived_from_lowercased_design_names() {
        assert_eq!(fabric_prefix_pool("Fabric-A"), "fabric-a-prefix-pool");
        assert_eq!(
            super_spine_loopback_pool("Fabric-A"),
            "fabric-a-super-spine-loopback-pool"
        );
        assert_eq!(
            pod_prefix_pool("Fabric-A", "Pod-A2"),
            "fabric-a-pod-a2-prefix-pool"
        );
        assert_eq!(
            pod_loopback_pool("Fabric-B", "Pod-B3"),
            "fabric-b-pod-b3-loopback-pool"
        );
    }

    #[test]
    fn link_name_puts_the_lower_tier_first() {
        assert_eq!(
            link_name(
                "spine-pod-a2-1",
                "Ethernet28",
                "ss-fabric-a-1",
                "Ethernet28"
            ),
            "spine-pod-a2-1-Ethernet28__ss-fabric-a-1-Ethernet28"
        );
    }

    #[test]
    fn identifiers_are_stable_strings() {
        assert_eq!(p2p_identifier("aaa", "bbb"), "aaabbb");
        assert_eq!(
            loopback_identifier("leaf-pod-a2-3-1"),
            "hfid=NetworkDevice__leaf-pod-a2-3-1 rel=loopback_ip"
        );
    }
}
