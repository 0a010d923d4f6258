//! Allocation from resource pools (the contract's `pools` interface).
//!
//! ```no_run
//! use infragen_sdk::pools::{self, PrefixRequest};
//! # fn run() -> infragen_sdk::Result<()> {
//! let p2p = PrefixRequest::from_pool_name("fabric-a-p2p")
//!     .identifier("spine1-Ethernet1__leaf1-Ethernet49")
//!     .prefix_length(31)
//!     .allocate()?;
//! infragen_sdk::info!("p2p {}", p2p.value);
//! # Ok(()) }
//! ```

use serde_json::Value;

use crate::Result;
use crate::bindings::infragen::generator::pools as host;

pub use host::{Allocation, MemberType, Pool};

/// A request for the next free prefix of a `CoreIPPrefixPool`. Unset fields
/// take the pool's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct PrefixRequest {
    pool: Pool,
    identifier: Option<String>,
    prefix_length: Option<u8>,
    member_type: Option<MemberType>,
    prefix_type: Option<String>,
    data: Option<Value>,
}

impl PrefixRequest {
    /// Allocate from `pool`.
    pub fn new(pool: Pool) -> Self {
        PrefixRequest {
            pool,
            identifier: None,
            prefix_length: None,
            member_type: None,
            prefix_type: None,
            data: None,
        }
    }

    /// Allocate from the pool named `name` (its HFID).
    pub fn from_pool_name(name: impl Into<String>) -> Self {
        PrefixRequest::new(Pool::Name(name.into()))
    }

    /// Allocate from the pool with node id `id`.
    pub fn from_pool_id(id: impl Into<String>) -> Self {
        PrefixRequest::new(Pool::Id(id.into()))
    }

    /// Reserve the result under `identifier`: asking again with it returns the
    /// same prefix, which is what keeps re-runs stable. Without one, every
    /// call allocates a new prefix.
    pub fn identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// Prefix length to allocate.
    pub fn prefix_length(mut self, length: u8) -> Self {
        self.prefix_length = Some(length);
        self
    }

    /// Member type of the created prefix.
    pub fn member_type(mut self, member_type: MemberType) -> Self {
        self.member_type = Some(member_type);
        self
    }

    /// Kind of the created prefix node, e.g. `IpamPrefix`.
    pub fn prefix_type(mut self, kind: impl Into<String>) -> Self {
        self.prefix_type = Some(kind.into());
        self
    }

    /// Extra attributes of the created node, a JSON object in input form
    /// (`json!({"role": {"value": "p2p"}})`).
    pub fn data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Allocates (or returns the reserved) prefix; see [`allocate_prefix`].
    pub fn allocate(&self) -> Result<Allocation> {
        allocate_prefix(self)
    }

    fn to_wit(&self) -> Result<host::PrefixRequest> {
        Ok(host::PrefixRequest {
            pool: self.pool.clone(),
            identifier: self.identifier.clone(),
            prefix_length: self.prefix_length,
            member_type: self.member_type,
            prefix_type: self.prefix_type.clone(),
            data: data_json(&self.data)?,
        })
    }
}

/// A request for the next free address of a `CoreIPAddressPool`. Unset fields
/// take the pool's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AddressRequest {
    pool: Pool,
    identifier: Option<String>,
    prefix_length: Option<u8>,
    address_type: Option<String>,
    data: Option<Value>,
}

impl AddressRequest {
    /// Allocate from `pool`.
    pub fn new(pool: Pool) -> Self {
        AddressRequest {
            pool,
            identifier: None,
            prefix_length: None,
            address_type: None,
            data: None,
        }
    }

    /// Allocate from the pool named `name` (its HFID).
    pub fn from_pool_name(name: impl Into<String>) -> Self {
        AddressRequest::new(Pool::Name(name.into()))
    }

    /// Allocate from the pool with node id `id`.
    pub fn from_pool_id(id: impl Into<String>) -> Self {
        AddressRequest::new(Pool::Id(id.into()))
    }

    /// Reserve the result under `identifier`, as for prefixes.
    pub fn identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// Prefix length of the created address (`32` for a loopback).
    pub fn prefix_length(mut self, length: u8) -> Self {
        self.prefix_length = Some(length);
        self
    }

    /// Kind of the created address node, e.g. `IpamIPAddress`.
    pub fn address_type(mut self, kind: impl Into<String>) -> Self {
        self.address_type = Some(kind.into());
        self
    }

    /// Extra attributes of the created node, as for prefixes.
    pub fn data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Allocates (or returns the reserved) address; see [`allocate_address`].
    pub fn allocate(&self) -> Result<Allocation> {
        allocate_address(self)
    }

    fn to_wit(&self) -> Result<host::AddressRequest> {
        Ok(host::AddressRequest {
            pool: self.pool.clone(),
            identifier: self.identifier.clone(),
            prefix_length: self.prefix_length,
            address_type: self.address_type.clone(),
            data: data_json(&self.data)?,
        })
    }
}

/// Allocates (or returns the reserved) prefix. The created node is tracked
/// like any other write of the run.
pub fn allocate_prefix(request: &PrefixRequest) -> Result<Allocation> {
    Ok(host::allocate_prefix(&request.to_wit()?)?)
}

/// Allocates (or returns the reserved) address. The created node is tracked.
pub fn allocate_address(request: &AddressRequest) -> Result<Allocation> {
    Ok(host::allocate_address(&request.to_wit()?)?)
}

fn data_json(data: &Option<Value>) -> Result<Option<String>> {
    data.as_ref()
        .map(|data| crate::json_object(data, "pool allocation data"))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prefix_request_carries_every_field_to_the_contract() {
        let request = PrefixRequest::from_pool_name("fabric-a-p2p")
            .identifier("p2p-1")
            .prefix_length(31)
            .member_type(MemberType::Address)
            .prefix_type("IpamPrefix")
            .data(json!({"role": {"value": "p2p"}}))
            .to_wit()
            .unwrap();
        assert_eq!(request.pool, Pool::Name("fabric-a-p2p".into()));
        assert_eq!(request.identifier.as_deref(), Some("p2p-1"));
        assert_eq!(request.prefix_length, Some(31));
        assert_eq!(request.member_type, Some(MemberType::Address));
        assert_eq!(request.prefix_type.as_deref(), Some("IpamPrefix"));
        assert_eq!(request.data.as_deref(), Some(r#"{"role":{"value":"p2p"}}"#));
    }

    #[test]
    fn unset_fields_stay_none_so_the_pool_defaults_apply() {
        let request = PrefixRequest::from_pool_id("pool-id").to_wit().unwrap();
        assert_eq!(request.pool, Pool::Id("pool-id".into()));
        assert_eq!(
            (
                request.identifier,
                request.prefix_length,
                request.member_type
            ),
            (None, None, None)
        );
        assert_eq!((request.prefix_type, request.data), (None, None));
    }

    #[test]
    fn address_request_carries_every_field_to_the_contract() {
        let request = AddressRequest::from_pool_name("loopbacks")
            .identifier("leaf1-lo0")
            .prefix_length(32)
            .address_type("IpamIPAddress")
            .data(json!({"description": {"value": "lo0"}}))
            .to_wit()
            .unwrap();
        assert_eq!(request.pool, Pool::Name("loopbacks".into()));
        assert_eq!(request.identifier.as_deref(), Some("leaf1-lo0"));
        assert_eq!(request.prefix_length, Some(32));
        assert_eq!(request.address_type.as_deref(), Some("IpamIPAddress"));
        assert_eq!(
            request.data.as_deref(),
            Some(r#"{"description":{"value":"lo0"}}"#)
        );
        let bare = AddressRequest::from_pool_id("p").to_wit().unwrap();
        assert_eq!(bare.pool, Pool::Id("p".into()));
        assert_eq!((bare.identifier, bare.prefix_length), (None, None));
    }

    #[test]
    fn data_that_is_not_an_object_is_refused_before_the_host_sees_it() {
        let error = PrefixRequest::from_pool_name("p")
            .data(json!(["role", "p2p"]))
            .to_wit()
            .unwrap_err();
        assert_eq!(error.kind, crate::ErrorKind::InvalidInput);
        assert!(
            error.message.contains("pool allocation data"),
            "{}",
            error.message
        );
    }
}
