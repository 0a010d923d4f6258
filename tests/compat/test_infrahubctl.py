"""infrahubctl against `infragen serve`: schema load (twice), schema check, info, object
load, and a branch's whole life (create, list, merge, delete)."""

from __future__ import annotations

import asyncio

from conftest import ROOT

SCHEMAS = ROOT / "schemas"
# triggers.yml names generator definitions, which a repository import creates; a server
# loaded by hand has none, so it is left out here (the AI/DC test imports it).
SEED_OBJECTS = sorted(p for p in (ROOT / "objects").glob("*.yml") if p.name != "triggers.yml")


def counts(server, *kinds: str, branch: str = "main") -> dict[str, int]:
    async def count() -> dict[str, int]:
        client = server.client(branch)
        return {kind: await client.count(kind=kind, branch=branch) for kind in kinds}

    return asyncio.run(count())


def ids(server, *kinds: str) -> dict[str, set[str]]:
    async def fetch() -> dict[str, set[str]]:
        client = server.client()
        return {kind: {node.id for node in await client.all(kind=kind)} for kind in kinds}

    return asyncio.run(fetch())


def test_schema_load_twice_then_check_and_info(serve):
    server = serve()
    first = server.infrahubctl("schema", "load", str(SCHEMAS)).stdout
    for name in ["device", "generator", "ipam", "logical_design", "physical_location"]:
        assert f"schema '{SCHEMAS / name}.yml' loaded successfully" in first, first
    second = server.infrahubctl("schema", "load", str(SCHEMAS)).stdout
    assert "The schema in Infrahub was already up to date, no changes were required" in second, second

    check = server.infrahubctl("schema", "check", str(SCHEMAS)).stdout
    assert check.strip().endswith("No diff"), check
    assert f"schema '{SCHEMAS / 'ipam'}.yml' is Valid!" in check, check

    info = server.infrahubctl("info").stdout
    assert "Connection Status:  ✅" in info, info
    assert "Infrahub Version:   1.11.9" in info, info
    assert "User:               compat-suite" in info, info


def test_schema_check_shows_the_change_and_a_refused_schema(serve, tmp_path):
    server = serve()
    server.infrahubctl("schema", "load", str(SCHEMAS))
    changed = tmp_path / "widget.yml"
    changed.write_text(
        'version: "1.0"\nnodes:\n  - name: Widget\n    namespace: Testing\n'
        "    attributes:\n      - {name: name, kind: Text, unique: true}\n"
    )
    out = server.infrahubctl("schema", "check", str(changed)).stdout
    assert "diff:\n    added:\n        ProfileTestingWidget:" in out, out
    assert "        TestingWidget:" in out, out
    broken = tmp_path / "broken.yml"
    broken.write_text(
        'version: "1.0"\nnodes:\n  - name: Thing\n    namespace: Testing\n'
        "    relationships:\n      - {name: owner, peer: TestingNowhere, cardinality: one}\n"
    )
    out = server.infrahubctl("schema", "check", str(broken)).stdout
    assert "Unable to load the schema:" in out, out
    assert "unknown peer kind 'TestingNowhere'" in out, out
    # Nothing of either was loaded.
    assert "TestingWidget" not in server.infrahubctl("schema", "check", str(SCHEMAS)).stdout


def test_object_load_is_idempotent(serve):
    server = serve()
    server.infrahubctl("schema", "load", str(SCHEMAS))
    server.infrahubctl("object", "load", *map(str, SEED_OBJECTS))
    expected = {"NetworkFabric": 2, "NetworkPod": 6, "LocationRack": 16, "CoreStandardGroup": 5}
    assert counts(server, *expected) == expected
    before = ids(server, *expected)
    # infrahubctl logs "Created node" for every upsert; the same nodes must remain.
    server.infrahubctl("object", "load", *map(str, SEED_OBJECTS))
    assert ids(server, *expected) == before


def test_a_branch_is_created_listed_merged_and_deleted(serve):
    server = serve()
    server.infrahubctl("schema", "load", str(SCHEMAS))
    server.infrahubctl("object", "load", *map(str, SEED_OBJECTS))
    created = server.infrahubctl("branch", "create", "review-1", "--description", "a review").stdout
    assert "Branch 'review-1' created successfully" in created, created
    listed = server.infrahubctl("branch", "list").stdout
    assert "review-1" in listed and "a review" in listed, listed

    async def change_on_branch() -> None:
        client = server.client("review-1")
        group = await client.create(kind="CoreStandardGroup", name="under-review", branch="review-1")
        await group.save()

    asyncio.run(change_on_branch())
    assert counts(server, "CoreStandardGroup", branch="review-1") == {"CoreStandardGroup": 6}
    assert counts(server, "CoreStandardGroup") == {"CoreStandardGroup": 5}

    merged = server.infrahubctl("branch", "merge", "review-1").stdout
    assert "Branch 'review-1' merged successfully" in merged, merged
    assert counts(server, "CoreStandardGroup") == {"CoreStandardGroup": 6}

    deleted = server.infrahubctl("branch", "delete", "review-1").stdout
    assert "Branch 'review-1' deleted successfully" in deleted, deleted
    assert "review-1" not in server.infrahubctl("branch", "list").stdout
