"""A generator written for this suite in the InfrahubGenerator style (widgets/), run
through `infrahubctl generator` against `infragen serve`: the same output twice, and
tracking deletes what a smaller design no longer makes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent / "widgets"


@pytest.fixture
def repository(tmp_path) -> Path:
    """A copy of widgets/: `infrahubctl generator` makes the repository a git repository."""
    return Path(shutil.copytree(SOURCE, tmp_path / "widgets"))


def widgets(server) -> list[tuple[str, int, str, list[str]]]:
    async def fetch():
        client = server.client()
        nodes = await client.all(kind="TestingWidget", include=["member_of_groups"], prefetch_relationships=True)
        out = []
        for node in nodes:
            await node.member_of_groups.fetch()
            groups = sorted(g.peer.name.value for g in node.member_of_groups.peers)
            out.append((node.name.value, node.position.value, node.widget_set.peer.name.value, groups))
        return sorted(out)

    return asyncio.run(fetch())


def test_a_python_generator_runs_twice_with_the_same_output(serve, repository):
    server = serve()
    server.infrahubctl("schema", "load", "schemas", cwd=repository)
    server.infrahubctl("object", "load", "objects", cwd=repository)
    first = server.infrahubctl("generator", "widgets", cwd=repository)
    assert "Error" not in first.stdout + first.stderr, first.stdout + first.stderr
    made = widgets(server)
    names = [(name, position, widget_set) for name, position, widget_set, _ in made]
    assert names == [
        ("alpha-1", 1, "alpha"),
        ("alpha-2", 2, "alpha"),
        ("alpha-3", 3, "alpha"),
        ("beta-1", 1, "beta"),
        ("beta-2", 2, "beta"),
    ]
    # Each widget is in the group named in `member_of_groups`, and in its run's tracking
    # group (`{definition}-{md5(params)}`), which the SDK keeps.
    for _, _, _, groups in made:
        assert "widgets" in groups, made
        assert len(groups) == 2, made

    second = server.infrahubctl("generator", "widgets", cwd=repository)
    assert second.returncode == 0
    assert "Error" not in second.stdout + second.stderr, second.stdout + second.stderr
    assert widgets(server) == made

    # A smaller design: the run deletes the widget it no longer makes (tracking's
    # delete_unused_nodes), and nothing else.
    async def shrink():
        client = server.client()
        alpha = await client.get(kind="TestingWidgetSet", name__value="alpha")
        alpha.size.value = 1
        await alpha.save()

    asyncio.run(shrink())
    server.infrahubctl("generator", "widgets", "name=alpha", cwd=repository)
    assert [name for name, *_ in widgets(server)] == ["alpha-1", "beta-1", "beta-2"]
