//! `infragen:generator/pools`: allocations from resource pools, tracked.

use super::{Creation, HostError, HostState, parse_json_object, wit_node_ref};
use crate::backend::{AddressAllocation, Allocated, PoolSelector, PrefixAllocation};
use crate::contract::v0_1::{
    AddressRequest, Allocation, MemberType, Pool, PrefixRequest, infragen,
};
use crate::policy::Call;

fn selector(pool: Pool) -> (PoolSelector, usize) {
    match pool {
        Pool::Id(id) => {
            let len = id.len();
            (PoolSelector::Id(id), len)
        }
        Pool::Name(name) => {
            let len = name.len();
            (PoolSelector::Name(name), len)
        }
    }
}

fn optional_len(text: &Option<String>) -> usize {
    text.as_ref().map_or(0, String::len)
}

/// The allocation's `data`, which may not make the new node a member of a group or give
/// it a profile: group membership is the host's.
fn parse_data(data: Option<String>) -> Result<Option<serde_json::Value>, HostError> {
    let data = data
        .map(|text| parse_json_object("the allocation data", &text))
        .transpose()?;
    if let Some(key) = data.as_ref().and_then(|data| {
        ["member_of_groups", "subscriber_of_groups", "profiles"]
            .into_iter()
            .find(|key| data.get(*key).is_some())
    }) {
        return Err(HostError::guest(
            crate::contract::v0_1::ErrorKind::PermissionDenied,
            format!(
                "allocation data may not set {key}: group membership and profiles are the \
                 host's and the operator's, not a generator's"
            ),
        ));
    }
    Ok(data)
}

impl HostState {
    /// Records an allocation as this run's output. A resource reserved under its
    /// identifier by an earlier run is this run's only if its pair owns it: another
    /// pair's identifier must not hand over that pair's prefix (which this run's next
    /// reconcile would then delete).
    fn track_allocation(
        &mut self,
        allocated: Allocated,
        created: bool,
        checked: bool,
    ) -> Result<Allocation, HostError> {
        let id = &allocated.node.id;
        if checked && !created && !self.owns(id) {
            return Err(HostError::guest(
                crate::contract::v0_1::ErrorKind::PermissionDenied,
                format!(
                    "generator `{}` may not take {} ({} {id}): it is reserved under that \
                     identifier for another generator's output",
                    self.run.generator, allocated.value, allocated.node.kind
                ),
            ));
        }
        self.run.tracker.record(id);
        Ok(Allocation {
            node: wit_node_ref(allocated.node),
            value: allocated.value,
        })
    }
}

impl infragen::generator::pools::Host for HostState {
    async fn allocate_prefix(&mut self, request: PrefixRequest) -> Result<Allocation, HostError> {
        let (pool, pool_len) = selector(request.pool);
        self.run.begin_call(
            "pools.allocate-prefix",
            pool_len
                + optional_len(&request.identifier)
                + optional_len(&request.prefix_type)
                + optional_len(&request.data),
        )?;
        if let Some(kind) = &request.prefix_type {
            self.refuse_kind(kind)?;
        }
        let allocation = PrefixAllocation {
            pool,
            identifier: request.identifier,
            prefix_length: request.prefix_length,
            member_type: request.member_type.map(|member| match member {
                MemberType::Prefix => "prefix".to_owned(),
                MemberType::Address => "address".to_owned(),
            }),
            prefix_type: request.prefix_type,
            data: parse_data(request.data)?,
        };
        let created = Creation::default();
        let check = created.check(&self.run, Call::Write);
        let backend = std::sync::Arc::clone(&self.run.backend);
        let allocated = backend
            .allocate_prefix_checked(&self.run.branch, &allocation, &check)
            .await?;
        drop(check);
        self.track_allocation(allocated, created.happened(), backend.checks_effects())
    }

    async fn allocate_address(&mut self, request: AddressRequest) -> Result<Allocation, HostError> {
        let (pool, pool_len) = selector(request.pool);
        self.run.begin_call(
            "pools.allocate-address",
            pool_len
                + optional_len(&request.identifier)
                + optional_len(&request.address_type)
                + optional_len(&request.data),
        )?;
        if let Some(kind) = &request.address_type {
            self.refuse_kind(kind)?;
        }
        let allocation = AddressAllocation {
            pool,
            identifier: request.identifier,
            prefix_length: request.prefix_length,
            address_type: request.address_type,
            data: parse_data(request.data)?,
        };
        let created = Creation::default();
        let check = created.check(&self.run, Call::Write);
        let backend = std::sync::Arc::clone(&self.run.backend);
        let allocated = backend
            .allocate_address_checked(&self.run.branch, &allocation, &check)
            .await?;
        drop(check);
        self.track_allocation(allocated, created.happened(), backend.checks_effects())
    }
}
