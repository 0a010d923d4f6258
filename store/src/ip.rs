//! IP values of `IPHost`, `IPNetwork` and `IPAddress` attributes: parsing, normalisation and
//! the derived fields the GraphQL dialect exposes (`prefixlen`, `netmask`, …).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address with a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpWithPrefix {
    /// The address (host address for IPHost, network address for IPNetwork).
    pub addr: IpAddr,
    /// The prefix length.
    pub prefixlen: u8,
}

fn bits(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

pub(crate) fn to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

pub(crate) fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(v & 0xffff_ffff).unwrap_or(0)))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

impl IpWithPrefix {
    /// Parse `addr` or `addr/len`; a bare address gets the full prefix length.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (a, l) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a valid IP address"))?;
        let prefixlen = match l {
            Some(l) => l
                .trim()
                .parse::<u8>()
                .map_err(|_| format!("'{text}' has an invalid prefix length"))?,
            None => bits(addr),
        };
        if prefixlen > bits(addr) {
            return Err(format!("'{text}' has an invalid prefix length"));
        }
        Ok(Self { addr, prefixlen })
    }
    fn mask(&self) -> u128 {
        let b = u32::from(bits(self.addr));
        let host = u32::from(bits(self.addr)) - u32::from(self.prefixlen);
        let all = if b == 128 {
            u128::MAX
        } else {
            (1u128 << b) - 1
        };
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }
    fn all(&self) -> u128 {
        if bits(self.addr) == 128 {
            u128::MAX
        } else {
            (1u128 << 32) - 1
        }
    }
    /// The netmask as an address.
    pub fn netmask(&self) -> IpAddr {
        from_u128(self.mask(), self.addr.is_ipv4())
    }
    /// The hostmask as an address.
    pub fn hostmask(&self) -> IpAddr {
        from_u128(self.all() & !self.mask(), self.addr.is_ipv4())
    }
    /// The network address.
    pub fn network(&self) -> IpAddr {
        from_u128(to_u128(self.addr) & self.mask(), self.addr.is_ipv4())
    }
    /// The broadcast (last) address.
    pub fn broadcast(&self) -> IpAddr {
        from_u128(
            (to_u128(self.addr) & self.mask()) | (self.all() & !self.mask()),
            self.addr.is_ipv4(),
        )
    }
    /// Number of addresses in the network (saturating for /0 IPv6).
    pub fn num_addresses(&self) -> u128 {
        let host = u32::from(bits(self.addr)) - u32::from(self.prefixlen);
        if host >= 128 {
            u128::MAX
        } else {
            1u128 << host
        }
    }
    /// 4 or 6.
    pub fn version(&self) -> u8 {
        if self.addr.is_ipv4() { 4 } else { 6 }
    }
    /// The first address of the network, as a number.
    pub fn first(&self) -> u128 {
        to_u128(self.addr) & self.mask()
    }
    /// The last address of the network, as a number.
    pub fn last(&self) -> u128 {
        self.first() | (self.all() & !self.mask())
    }
    /// The address width: 32 or 128.
    pub fn bits(&self) -> u8 {
        bits(self.addr)
    }
    /// Whether `other` lies inside this network (same version, at least as long a prefix).
    pub fn contains(&self, other: &IpWithPrefix) -> bool {
        self.version() == other.version()
            && other.prefixlen >= self.prefixlen
            && other.first() >= self.first()
            && other.last() <= self.last()
    }
    /// Whether the address `other.addr` lies inside this network.
    pub fn contains_addr(&self, other: &IpWithPrefix) -> bool {
        let a = to_u128(other.addr);
        self.version() == other.version() && a >= self.first() && a <= self.last()
    }
    /// Whether host bits are set (not a network address).
    pub fn has_host_bits(&self) -> bool {
        self.network() != self.addr
    }
}

/// Normalise an IPHost/IPAddress value: `addr/len`.
pub fn normalize_host(text: &str) -> Result<String, String> {
    let p = IpWithPrefix::parse(text)?;
    Ok(format!("{}/{}", p.addr, p.prefixlen))
}

/// Normalise an IPNetwork value: `network/len`, refusing host bits.
pub fn normalize_network(text: &str) -> Result<String, String> {
    let p = IpWithPrefix::parse(text)?;
    if p.has_host_bits() {
        return Err(format!(
            "'{text}' has host bits set (network is {}/{})",
            p.network(),
            p.prefixlen
        ));
    }
    Ok(format!("{}/{}", p.addr, p.prefixlen))
}
