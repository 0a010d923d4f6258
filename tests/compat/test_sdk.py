"""The Python SDK's read, write, branch, pool, tracking and batch calls against
`infragen serve`, on a small schema of its own, asserting exact results."""

from __future__ import annotations

import asyncio

import pytest

SCHEMA = {
    "version": "1.0",
    "nodes": [
        {
            "name": "Switch",
            "namespace": "Testing",
            "attributes": [
                {"name": "hostname", "kind": "Text", "unique": True},
                {"name": "role", "kind": "Text", "optional": True},
                {"name": "asn", "kind": "Number", "optional": True},
            ],
            "relationships": [
                {
                    "name": "loopback",
                    "peer": "IpamIPAddress",
                    "cardinality": "one",
                    "kind": "Attribute",
                    "optional": True,
                }
            ],
        },
        {
            "name": "IPAddress",
            "namespace": "Ipam",
            "inherit_from": ["BuiltinIPAddress"],
        },
        {
            "name": "IPPrefix",
            "namespace": "Ipam",
            "inherit_from": ["BuiltinIPPrefix"],
        },
    ],
}


def run(coroutine):
    return asyncio.run(coroutine)


def serving(serve, schema: dict):
    """A server with `schema` loaded and converged."""
    server = serve()

    async def setup():
        client = server.client()
        response = await client.schema.load(schemas=[schema])
        assert not response.errors, response.errors
        await client.schema.wait_until_converged()

    run(setup())
    return server


@pytest.fixture
def server(serve):
    return serving(serve, SCHEMA)


def hostnames(nodes) -> list[str]:
    return sorted(node.hostname.value for node in nodes)


def test_reads_filters_pagination_upserts_updates_and_deletes(server):
    async def scenario():
        client = server.client()
        for i in range(1, 8):
            switch = await client.create(
                kind="TestingSwitch", hostname=f"sw{i}", role="leaf" if i % 2 else "spine", asn=65000 + i
            )
            await switch.save()
        # Pagination: the SDK asks page by page; everything comes back once.
        client.pagination_size = 3
        assert hostnames(await client.all(kind="TestingSwitch")) == [f"sw{i}" for i in range(1, 8)]
        assert hostnames(await client.filters(kind="TestingSwitch", role__value="spine")) == ["sw2", "sw4", "sw6"]
        assert hostnames(await client.filters(kind="TestingSwitch", asn__values=[65001, 65007])) == ["sw1", "sw7"]
        one = await client.get(kind="TestingSwitch", hostname__value="sw3")
        assert (one.role.value, one.asn.value) == ("leaf", 65003)

        # An upsert by the derived human-friendly id (the unique hostname) updates.
        again = await client.create(kind="TestingSwitch", hostname="sw3", role="border")
        await again.save(allow_upsert=True)
        assert again.id == one.id
        assert await client.count(kind="TestingSwitch") == 7
        assert (await client.get(kind="TestingSwitch", id=one.id)).role.value == "border"

        one = await client.get(kind="TestingSwitch", id=one.id)
        one.asn.value = 64999
        await one.save()
        assert (await client.get(kind="TestingSwitch", hostname__value="sw3")).asn.value == 64999

        await one.delete()
        assert hostnames(await client.all(kind="TestingSwitch")) == ["sw1", "sw2", "sw4", "sw5", "sw6", "sw7"]

    run(scenario())


def test_groups_by_name_relationship_add_remove_and_batches(server):
    async def scenario():
        client = server.client()
        group = await client.create(kind="CoreStandardGroup", name="lab")
        await group.save()
        batch = await client.create_batch()
        for i in range(1, 6):
            node = await client.create(kind="TestingSwitch", hostname=f"b{i}")
            batch.add(task=node.save, node=node, allow_upsert=True)
        saved = [node async for _, node in batch.execute()]
        assert len(saved) == 5
        # A group named, not given by id: Infrahub resolves it by the peer's default filter.
        member = await client.create(kind="TestingSwitch", hostname="b9", member_of_groups=["lab"])
        await member.save(allow_upsert=True)
        group = await client.get(kind="CoreStandardGroup", name__value="lab", include=["members"])
        await group.members.fetch()
        assert [peer.peer.hostname.value for peer in group.members.peers] == ["b9"]

        b1 = await client.get(kind="TestingSwitch", hostname__value="b1")
        await group.add_relationships(relation_to_update="members", related_nodes=[b1.id])
        await group.remove_relationships(relation_to_update="members", related_nodes=[member.id])
        group = await client.get(kind="CoreStandardGroup", name__value="lab", include=["members"])
        await group.members.fetch()
        assert [peer.peer.hostname.value for peer in group.members.peers] == ["b1"]

    run(scenario())


def test_pools_allocate_once_per_identifier_and_from_pool(server):
    async def scenario():
        client = server.client()
        supernet = await client.create(kind="IpamIPPrefix", prefix="10.10.0.0/16", member_type="prefix")
        await supernet.save()
        pool = await client.create(
            kind="CoreIPPrefixPool",
            name="lab-prefixes",
            default_prefix_length=24,
            default_member_type="prefix",
            default_prefix_type="IpamIPPrefix",
            resources=["10.10.0.0/16"],
            ip_namespace={"hfid": ["default"]},
        )
        await pool.save()
        first = await client.allocate_next_ip_prefix(resource_pool=pool, identifier="rack-1")
        again = await client.allocate_next_ip_prefix(resource_pool=pool, identifier="rack-1")
        other = await client.allocate_next_ip_prefix(resource_pool=pool, identifier="rack-2")
        assert (str(first.prefix.value), str(again.prefix.value), str(other.prefix.value)) == (
            "10.10.0.0/24",
            "10.10.0.0/24",
            "10.10.1.0/24",
        )

        loopbacks = await client.create(kind="IpamIPPrefix", prefix="10.255.0.0/28", member_type="address")
        await loopbacks.save()
        address_pool = await client.create(
            kind="CoreIPAddressPool",
            name="lab-loopbacks",
            default_address_type="IpamIPAddress",
            default_prefix_length=32,
            resources=[loopbacks],
            ip_namespace={"hfid": ["default"]},
        )
        await address_pool.save()
        switch = await client.create(kind="TestingSwitch", hostname="pooled", loopback=address_pool)
        await switch.save(allow_upsert=True)
        switch = await client.get(kind="TestingSwitch", hostname__value="pooled", include=["loopback"])
        await switch.loopback.fetch()
        assert str(switch.loopback.peer.address.value) == "10.255.0.1/32"

    run(scenario())


def test_tracking_deletes_what_a_run_no_longer_makes(server):
    async def generate(count: int) -> None:
        client = server.client()
        client.start_tracking(identifier="lab-run", params={"site": "lab"}, delete_unused_nodes=True)
        for i in range(1, count + 1):
            node = await client.create(kind="TestingSwitch", hostname=f"t{i}")
            await node.save(allow_upsert=True)
        await client.group_context.update_group()

    async def names():
        return hostnames(await server.client().all(kind="TestingSwitch"))

    run(generate(3))
    assert run(names()) == ["t1", "t2", "t3"]
    run(generate(3))
    assert run(names()) == ["t1", "t2", "t3"]
    run(generate(1))
    assert run(names()) == ["t1"]


def test_a_branch_and_its_diff(server):
    from infrahub_sdk.exceptions import GraphQLError

    async def scenario():
        client = server.client()
        base = await client.create(kind="TestingSwitch", hostname="core1", asn=1)
        await base.save()
        branch = await client.branch.create(branch_name="change-1", description="lab change", sync_with_git=False)
        assert (branch.name, branch.description, branch.is_default) == ("change-1", "lab change", False)
        assert "change-1" in await client.branch.all()

        on_branch = server.client("change-1")
        node = await on_branch.get(kind="TestingSwitch", hostname__value="core1", branch="change-1")
        node.asn.value = 2
        await node.save()
        added = await on_branch.create(kind="TestingSwitch", hostname="core2", branch="change-1")
        await added.save()

        diff = await client.get_diff_summary(branch="change-1")
        summary = sorted((d["kind"], d["display_label"], d["action"]) for d in diff)
        assert summary == [("TestingSwitch", "core1", "UPDATED"), ("TestingSwitch", "core2", "ADDED")]
        updated = next(d for d in diff if d["action"] == "UPDATED")
        assert [(e["name"], e["action"]) for e in updated["elements"]] == [("asn", "UPDATED")]

        assert hostnames(await client.all(kind="TestingSwitch")) == ["core1"]
        assert await client.branch.validate("change-1") is True
        # Main changes core1's asn too: the branch no longer merges, and says why.
        on_main = await client.get(kind="TestingSwitch", hostname__value="core1")
        on_main.asn.value = 3
        await on_main.save()
        assert await client.branch.validate("change-1") is False
        with pytest.raises(GraphQLError) as refused:
            await client.branch.merge(branch_name="change-1")
        assert [error["message"] for error in refused.value.errors] == [
            "merge of branch 'change-1' refused, 1 conflict(s): "
            f"TestingSwitch {base.id} attribute 'asn': main=3 branch=2"
        ]
        on_main.asn.value = 1
        await on_main.save()
        assert await client.branch.validate("change-1") is True
        await client.branch.merge(branch_name="change-1")
        assert hostnames(await client.all(kind="TestingSwitch")) == ["core1", "core2"]
        assert (await client.get(kind="TestingSwitch", hostname__value="core1")).asn.value == 2
        await client.branch.delete("change-1")
        assert "change-1" not in await client.branch.all()

    run(scenario())


def test_a_stored_query_by_name_keeps_its_group(server):
    async def scenario():
        client = server.client()
        for hostname, role in [("q1", "leaf"), ("q2", "spine"), ("q3", "leaf")]:
            node = await client.create(kind="TestingSwitch", hostname=hostname, role=role)
            await node.save()
        query = await client.create(
            kind="CoreGraphQLQuery",
            name="switches_by_role",
            query="query switches_by_role($role: String!) { TestingSwitch(role__value: $role) "
            "{ edges { node { hostname { value } } } } }",
        )
        await query.save()
        subscriber = await client.get(kind="TestingSwitch", hostname__value="q2")
        # What InfrahubGenerator.collect_data sends: the query by name, its variables, and
        # update_group so the server keeps the query's group of the nodes it returned.
        data = await client.query_gql_query(
            name="switches_by_role", variables={"role": "leaf"}, update_group=True, subscribers=[subscriber.id]
        )
        rows = data["data"]["TestingSwitch"]["edges"]
        assert sorted(row["node"]["hostname"]["value"] for row in rows) == ["q1", "q3"]

        from infrahub_sdk.utils import dict_hash

        name = f"switches_by_role__{dict_hash({'role': 'leaf'})}"
        group = await client.get(kind="CoreGraphQLQueryGroup", name__value=name, include=["members", "subscribers"])
        await group.members.fetch()
        await group.subscribers.fetch()
        assert sorted(m.peer.hostname.value for m in group.members.peers) == ["q1", "q3"]
        assert [s.id for s in group.subscribers.peers] == [subscriber.id]
        assert group.group_type.value == "internal"
        assert group.parameters.value == {"role": "leaf"}

        # The next run replaces the members with what the query returns then.
        q3 = await client.get(kind="TestingSwitch", hostname__value="q3")
        q3.role.value = "spine"
        await q3.save()
        await client.query_gql_query(name="switches_by_role", variables={"role": "leaf"}, update_group=True)
        group = await client.get(kind="CoreGraphQLQueryGroup", name__value=name, include=["members"])
        await group.members.fetch()
        assert [m.peer.hostname.value for m in group.members.peers] == ["q1"]

    run(scenario())


def test_an_answer_keeps_the_order_the_query_selects_fields_in(server):
    # A GraphQL answer is an ordered map, and the SDK hands it over as a dict in the
    # order the server wrote it: a transform that walks it, or prints it, sees the
    # fields as the query wrote them (aliases included), as with Infrahub.
    async def scenario():
        client = server.client()
        switch = await client.create(kind="TestingSwitch", hostname="o1", role="leaf", asn=65010)
        await switch.save()
        data = await client.execute_graphql(
            query='query { TestingSwitch(hostname__value: "o1") { '
            "edges { node { role { value } hostname { value } zz: id asn { value is_default } __typename } } "
            "count } }"
        )
        assert list(data) == ["TestingSwitch"]
        assert list(data["TestingSwitch"]) == ["edges", "count"]
        node = data["TestingSwitch"]["edges"][0]["node"]
        assert list(node) == ["role", "hostname", "zz", "asn", "__typename"]
        assert node["zz"] == switch.id
        assert list(node["asn"]) == ["value", "is_default"]
        assert node["asn"] == {"value": 65010, "is_default": False}

    run(scenario())


FABRIC = {
    "version": "1.0",
    "nodes": [
        {
            "name": "Pod",
            "namespace": "Testing",
            "human_friendly_id": ["name__value"],
            "attributes": [{"name": "name", "kind": "Text", "unique": True}],
            "relationships": [
                {"name": "racks", "peer": "TestingRack", "cardinality": "many", "identifier": "pod__rack"}
            ],
        },
        {
            "name": "Rack",
            "namespace": "Testing",
            "human_friendly_id": ["name__value"],
            "attributes": [{"name": "name", "kind": "Text", "unique": True}],
            "relationships": [
                {
                    "name": "pod",
                    "peer": "TestingPod",
                    "cardinality": "one",
                    "optional": False,
                    "identifier": "pod__rack",
                },
                {
                    "name": "devices",
                    "peer": "TestingDevice",
                    "kind": "Component",
                    "cardinality": "many",
                    "identifier": "rack__device",
                },
            ],
        },
        {
            "name": "Device",
            "namespace": "Testing",
            "human_friendly_id": ["name__value"],
            "attributes": [{"name": "name", "kind": "Text", "unique": True}],
            "relationships": [
                {
                    "name": "rack",
                    "peer": "TestingRack",
                    "kind": "Parent",
                    "cardinality": "one",
                    "optional": False,
                    "identifier": "rack__device",
                },
                {
                    "name": "ports",
                    "peer": "TestingPort",
                    "cardinality": "many",
                    "on_delete": "cascade",
                    "identifier": "device__port",
                },
            ],
        },
        {
            "name": "Port",
            "namespace": "Testing",
            "attributes": [{"name": "name", "kind": "Text"}],
            "relationships": [
                {
                    "name": "device",
                    "peer": "TestingDevice",
                    "cardinality": "one",
                    "optional": False,
                    "identifier": "device__port",
                }
            ],
        },
    ],
}


def test_a_delete_is_refused_while_a_mandatory_relationship_points_at_it_and_cascades_where_told(serve):
    """The case that lost data before: deleting a pod that racks must have is refused with
    Infrahub's sentence and deletes nothing; a device takes its ports with it
    (`on_delete: cascade`), a rack its devices (Component)."""
    from infrahub_sdk.exceptions import GraphQLError

    server = serving(serve, FABRIC)

    async def scenario():
        client = server.client()
        pod = await client.create(kind="TestingPod", name="pod1")
        await pod.save()
        rack = await client.create(kind="TestingRack", name="rack1", pod=pod)
        await rack.save()
        device = await client.create(kind="TestingDevice", name="leaf1", rack=rack)
        await device.save()
        for name in ("eth1", "eth2"):
            port = await client.create(kind="TestingPort", name=name, device=device)
            await port.save()

        async def names(kind: str) -> list[str]:
            return sorted(node.name.value for node in await client.all(kind=kind))

        with pytest.raises(GraphQLError) as refused:
            await pod.delete()
        assert [error["message"] for error in refused.value.errors] == [
            f"Cannot delete TestingPod '{pod.id}'. It is linked to mandatory relationship pod "
            f"on node TestingRack '{rack.id}' at TestingRack.pod"
        ]
        assert (await names("TestingPod"), await names("TestingRack")) == (["pod1"], ["rack1"])
        assert (await names("TestingDevice"), await names("TestingPort")) == (["leaf1"], ["eth1", "eth2"])

        await device.delete()
        assert (await names("TestingDevice"), await names("TestingPort")) == ([], [])
        assert await names("TestingRack") == ["rack1"]

        device = await client.create(kind="TestingDevice", name="leaf2", rack=rack)
        await device.save()
        await rack.delete()
        assert (await names("TestingRack"), await names("TestingDevice")) == ([], [])
        await pod.delete()
        assert await names("TestingPod") == []

    run(scenario())
