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


MENU = """---
apiVersion: infrahub.app/v1
kind: Menu
spec:
  data:
    - namespace: Network
      name: MainMenu
      label: Network
      icon: "mdi:lan"
      children:
        data:
          - namespace: Network
            name: Devices
            label: Devices
            kind: NetworkDevice
          - namespace: Network
            name: Links
            label: Links
            kind: NetworkLink
"""


# What `infrahubctl menu load` writes of MENU: the SDK fills in `path` from `kind`, and
# orders children by their place in the list; the top item keeps the schema's weight.
MENU_ITEMS = [
    ("Network", "Devices", "/objects/NetworkDevice", "MainMenu", 1000),
    ("Network", "Links", "/objects/NetworkLink", "MainMenu", 2000),
    ("Network", "MainMenu", None, None, 2000),
]


async def menu_items(server) -> list[tuple[str, str, str | None, str | None, int]]:
    """Every menu item the server holds: namespace, name, path, parent's name, weight."""
    client = server.client()
    items = await client.all(kind="CoreMenuItem", prefetch_relationships=True)
    out = []
    for item in items:
        parent = item.parent.peer.name.value if item.parent.id else None
        out.append((item.namespace.value, item.name.value, item.path.value, parent, item.order_weight.value))
    return sorted(out)


def test_a_menu_loads_with_its_hierarchy_and_again_without_duplicates(serve, tmp_path):
    server = serve()
    server.infrahubctl("schema", "load", str(SCHEMAS))
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "menu.yml").write_text(MENU)
    validated = server.infrahubctl("menu", "validate", str(menus))
    assert validated.returncode == 0, validated.stdout + validated.stderr

    server.infrahubctl("menu", "load", str(menus))
    assert asyncio.run(menu_items(server)) == MENU_ITEMS
    before = ids(server, "CoreMenuItem")
    server.infrahubctl("menu", "load", str(menus))
    assert ids(server, "CoreMenuItem") == before
    assert asyncio.run(menu_items(server)) == MENU_ITEMS


def test_a_repositorys_menus_are_served_as_infrahubctl_menu_load_writes_them(serve, tmp_path):
    # `serve --repository` imports the menus `.infrahub.yml` lists, as Infrahub's import
    # does: the same items, paths, weights and hierarchy as `infrahubctl menu load` of the
    # same file into another server.
    repository = tmp_path / "menu-repository"
    (repository / "menus").mkdir(parents=True)
    (repository / ".infrahub.yml").write_text("---\nmenus:\n  - menus/menu.yml\n")
    (repository / "menus" / "menu.yml").write_text(MENU)
    imported = serve(repository=repository, name="imported")
    loaded = serve(name="loaded")
    loaded.infrahubctl("menu", "load", str(repository / "menus"))
    assert asyncio.run(menu_items(loaded)) == MENU_ITEMS
    assert asyncio.run(menu_items(imported)) == MENU_ITEMS


LOCAL_REPOSITORY = {
    ".infrahub.yml": """---
jinja2_transforms:
  - name: fabric_summary
    query: fabric_query
    template_path: templates/fabric.j2
python_transforms:
  - name: fabric_json
    class_name: FabricJson
    file_path: transforms/fabric.py
check_definitions:
  - name: fabric_check
    class_name: FabricCheck
    file_path: checks/fabric.py
queries:
  - name: fabric_query
    file_path: queries/fabric.gql
""",
    "queries/fabric.gql": """query Fabric($name: String!) {
  NetworkFabric(name__value: $name) { edges { node { name { value } amount_of_super_spines { value } } } }
}
""",
    "templates/fabric.j2": """{% for edge in data.NetworkFabric.edges -%}
fabric {{ edge.node.name.value }}: {{ edge.node.amount_of_super_spines.value }} super spines
{% endfor %}""",
    "transforms/fabric.py": """from infrahub_sdk.transforms import InfrahubTransform


class FabricJson(InfrahubTransform):
    query = "fabric_query"

    async def transform(self, data):
        return {"fabrics": [edge["node"]["name"]["value"] for edge in data["NetworkFabric"]["edges"]]}
""",
    "checks/fabric.py": """from infrahub_sdk.checks import InfrahubCheck


class FabricCheck(InfrahubCheck):
    query = "fabric_query"

    def validate(self, data):
        if not data["NetworkFabric"]["edges"]:
            self.log_error(message="no such fabric")
""",
}


def test_render_transform_and_check_run_locally_on_what_the_server_answers(serve, tmp_path):
    import subprocess

    repository = tmp_path / "local"
    for name, text in LOCAL_REPOSITORY.items():
        (repository / name).parent.mkdir(parents=True, exist_ok=True)
        (repository / name).write_text(text)
    # `transform` and `check` read the branch to query from the repository's git branch.
    subprocess.run(["git", "init", "-q", "-b", "main", str(repository)], check=True)
    server = serve(repository)
    server.infrahubctl("schema", "load", str(SCHEMAS))
    server.infrahubctl("object", "load", *map(str, SEED_OBJECTS))

    rendered = server.infrahubctl("render", "fabric_summary", "name=Fabric-A", cwd=repository)
    assert rendered.stdout.strip() == "fabric Fabric-A: 6 super spines", rendered.stdout
    transformed = server.infrahubctl("transform", "fabric_json", "name=Fabric-B", cwd=repository)
    assert transformed.stdout.split() == ["{", '"fabrics":', "[", '"Fabric-B"', "]", "}"], transformed.stdout
    # A check without targets runs its query without variables, as on Infrahub.
    checked = server.infrahubctl("check", "fabric_check", cwd=repository, check=False)
    assert checked.returncode != 0
    assert "Variable '$name' of required type 'String!' was not provided." in " ".join(
        (checked.stdout + checked.stderr).split()
    ), checked.stdout + checked.stderr

    # The server imported the repository's check definition as Infrahub's import records it,
    # and the SDK reads it back.
    async def check_definitions() -> list[tuple]:
        client = server.client()
        checks = await client.all(kind="CoreCheckDefinition", prefetch_relationships=True)
        return [
            (
                check.name.value,
                check.file_path.value,
                check.class_name.value,
                check.timeout.value,
                check.query.peer.name.value,
                check.repository.peer.name.value,
            )
            for check in checks
        ]

    assert asyncio.run(check_definitions()) == [
        ("fabric_check", "checks/fabric.py", "FabricCheck", 60, "fabric_query", "local"),
    ]


def test_dump_exports_the_nodes_of_the_namespaces_asked_for(serve, tmp_path):
    import json
    from collections import Counter

    server = serve()
    server.infrahubctl("schema", "load", str(SCHEMAS))
    server.infrahubctl("object", "load", *map(str, SEED_OBJECTS))
    out = tmp_path / "dump"
    server.infrahubctl("dump", "--directory", str(out), "--namespace", "Network", "--namespace", "Location")
    nodes = [json.loads(line) for line in (out / "nodes.json").read_text().splitlines() if line.strip()]
    kinds = Counter(node["kind"] for node in nodes)
    assert {kind: kinds[kind] for kind in ("NetworkFabric", "NetworkPod", "LocationRack")} == {
        "NetworkFabric": 2,
        "NetworkPod": 6,
        "LocationRack": 16,
    }, kinds
    assert all(kind.startswith(("Network", "Location")) for kind in kinds), kinds
    # The seed has no many-to-many relationship inside these namespaces (the `Relationship`
    # query that lists them is tested in the store's tests).
    assert json.loads((out / "relationships.json").read_text()) == []


def test_repositories_are_added_and_listed_as_records(serve):
    server = serve()
    server.infrahubctl("repository", "add", "demo", "https://example.com/demo.git", "--description", "the demo")
    server.infrahubctl("repository", "add", "pinned", "https://example.com/edge.git", "--read-only", "--ref", "v1.0")
    listed = server.infrahubctl("repository", "list").stdout
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in listed.splitlines() if line.startswith("│")]
    # First the repository the server imported (`serve --repository`, here an empty one,
    # named after its directory): imported, so active, online and in sync, as Infrahub marks
    # a repository after its import. Those added here are records only: nothing imports them.
    assert rows == [
        ["store-empty", "CoreReadOnlyRepository", "online", "in-sync", "active", "main"],
        ["demo", "CoreRepository", "unknown", "unknown", "inactive", ""],
        ["pinned", "CoreReadOnlyRepository", "unknown", "unknown", "inactive", "v1.0"],
    ], listed
