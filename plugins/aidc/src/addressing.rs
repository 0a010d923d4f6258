//! The addressing plan (reference §2.2–2.4, §2.7): which pool each prefix and
//! address comes from, at which length, with which role, and the arithmetic
//! the generators do themselves (the two addresses of a /31).
//!
//! ```text
//! FabricSupernetPool (10.0.0.0/8, default /16)
//! └─ fabric supernet /16 ─ {fabric}-prefix-pool (default /24)
//!    ├─ super-spine loopbacks /28 ─ {fabric}-super-spine-loopback-pool (/32)
//!    └─ pod supernet /19 ─ {fabric}-{pod}-prefix-pool (default /24)
//!       ├─ pod loopbacks /27 ─ {fabric}-{pod}-loopback-pool (/32): spines and leafs
//!       └─ point-to-point /31s: spine–super spine and leaf–spine links
//! ```
//!
//! Every allocation carries an identifier (the fabric id, the pod id, the
//! device's loopback identifier, the two interface ids of a link), so a
//! re-run gets the same prefix or address back.

use std::net::IpAddr;

use crate::error::{DesignError, Result};

/// Length of a fabric's supernet (the default of `FabricSupernetPool`).
pub const FABRIC_SUPERNET_LENGTH: u8 = 16;
/// Length of the prefix holding a fabric's super-spine loopbacks.
pub const SUPER_SPINE_LOOPBACK_LENGTH: u8 = 28;
/// Length of a pod's supernet.
pub const POD_SUPERNET_LENGTH: u8 = 19;
/// Length of the prefix holding a pod's spine and leaf loopbacks.
pub const POD_LOOPBACK_LENGTH: u8 = 27;
/// Length of a point-to-point prefix and of its two addresses.
pub const P2P_LENGTH: u8 = 31;
/// Length of a loopback address.
pub const LOOPBACK_LENGTH: u8 = 32;
/// Default prefix length of the prefix pools the generators create.
pub const PREFIX_POOL_DEFAULT_LENGTH: u8 = 24;
/// Kind of the prefixes the pools create.
pub const PREFIX_KIND: &str = "IpamIPPrefix";
/// Kind of the addresses the pools create and the generators upsert.
pub const ADDRESS_KIND: &str = "IpamIPAddress";
/// The IP namespace every pool allocates in.
pub const NAMESPACE: &str = "default";

/// The `role` of an `IpamIPPrefix`, one per step of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefixRole {
    /// The seeded /8.
    Supernet,
    /// A fabric's /16.
    FabricSupernet,
    /// A fabric's super-spine loopback /28.
    SuperSpineLoopback,
    /// A pod's /19.
    PodSupernet,
    /// A pod's loopback /27.
    PodLoopback,
    /// A spine–super spine /31.
    PodSuperSpineSpine,
    /// A leaf–spine /31.
    PodLeafSpine,
}

impl PrefixRole {
    /// The dropdown value.
    pub fn as_str(self) -> &'static str {
        match self {
            PrefixRole::Supernet => "supernet",
            PrefixRole::FabricSupernet => "fabric_supernet",
            PrefixRole::SuperSpineLoopback => "super_spine_loopback",
            PrefixRole::PodSupernet => "pod_supernet",
            PrefixRole::PodLoopback => "pod_loopback",
            PrefixRole::PodSuperSpineSpine => "pod_super_spine_spine",
            PrefixRole::PodLeafSpine => "pod_leaf_spine",
        }
    }
}

/// How many host addresses an address pool over an IPv4 prefix of
/// `length` hands out: pools skip the network and broadcast addresses
/// (reference §2.7), so a /28 holds 14 loopbacks and a /27 holds 30.
pub fn loopback_capacity(length: u8) -> u64 {
    match length {
        0..=30 => (1u64 << (32 - u32::from(length))) - 2,
        31 => 2,
        _ => 1,
    }
}

/// The two addresses of a point-to-point prefix, lower tier first: the even
/// address goes to the lower tier (the spine of a pod link, the leaf of a
/// rack link), the odd one to the upper tier, both with the prefix's length
/// (`10.0.32.32/31` → `10.0.32.32/31`, `10.0.32.33/31`). Works for IPv4 /31
/// and IPv6 /127; anything else is refused.
pub fn p2p_addresses(prefix: &str) -> Result<(String, String)> {
    let invalid = |why: &str| DesignError::invalid_data(format!("p2p prefix '{prefix}': {why}"));
    let (address, length) = prefix
        .split_once('/')
        .ok_or_else(|| invalid("expected address/length"))?;
    let length: u8 = length.parse().map_err(|_| invalid("bad prefix length"))?;
    let address: IpAddr = address.parse().map_err(|_| invalid("bad address"))?;
    let (even, odd) = match address {
        IpAddr::V4(v4) if length == 31 => {
            let even = u32::from(v4) & !1;
            (
                IpAddr::from(std::net::Ipv4Addr::from(even)),
                IpAddr::from(std::net::Ipv4Addr::from(even | 1)),
            )
        }
        IpAddr::V6(v6) if length == 127 => {
            let even = u128::from(v6) & !1;
            (
                IpAddr::from(std::net::Ipv6Addr::from(even)),
                IpAddr::from(std::net::Ipv6Addr::from(even | 1)),
            )
        }
        _ => {
            return Err(invalid(
                "a point-to-point prefix is an IPv4 /31 or an IPv6 /127",
            ));
        }
    };
    Ok((format!("{even}/{length}"), format!("{odd}/{length}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2p_gives_the_even_address_to_the_lower_tier() {
        assert_eq!(
            p2p_addresses("10.0.32.32/31").unwrap(),
            ("10.0.32.32/31".to_string(), "10.0.32.33/31".to_string())
        );
        assert_eq!(
            p2p_addresses("10.0.255.254/31").unwrap(),
            ("10.0.255.254/31".to_string(), "10.0.255.255/31".to_string())
        );
        assert_eq!(
            p2p_addresses("2001:db8::/127").unwrap(),
            ("2001:db8::/127".to_string(), "2001:db8::1/127".to_string())
        );
    }

    #[test]
    fn p2p_refuses_anything_but_a_31_or_127() {
        let error = p2p_addresses("10.0.32.0/30").unwrap_err();
        assert_eq!(
            error.message,
            "p2p prefix '10.0.32.0/30': a point-to-point prefix is an IPv4 /31 or an IPv6 /127"
        );
        assert_eq!(
            p2p_addresses("10.0.32.0").unwrap_err().message,
            "p2p prefix '10.0.32.0': expected address/length"
        );
        assert!(p2p_addresses("ten/31").is_err());
    }

    #[test]
    fn loopback_blocks_hold_the_reference_limits() {
        assert_eq!(loopback_capacity(SUPER_SPINE_LOOPBACK_LENGTH), 14);
        assert_eq!(loopback_capacity(POD_LOOPBACK_LENGTH), 30);
        assert_eq!(loopback_capacity(24), 254);
    }

    #[test]
    fn roles_are_the_schema_choices() {
        let roles = [
            PrefixRole::Supernet,
            PrefixRole::FabricSupernet,
            PrefixRole::SuperSpineLoopback,
            PrefixRole::PodSupernet,
            PrefixRole::PodLoopback,
            PrefixRole::PodSuperSpineSpine,
            PrefixRole::PodLeafSpine,
        ];
        let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "supernet",
                "fabric_supernet",
                "super_spine_loopback",
                "pod_supernet",
                "pod_loopback",
                "pod_super_spine_spine",
                "pod_leaf_spine"
            ]
        );
    }
}
