"""An Infrahub repository in the AI/DC shape (aidc/: schema without hand-added HFIDs,
object files naming groups and prefixes, Python generators) served unchanged by
`infragen serve`, its generators run with the real SDK over HTTP: the data center they
build is exactly the one this project's WASM generators build in process, and a second
run changes nothing."""

from __future__ import annotations

import filecmp
import json
import re
import time
from pathlib import Path

from conftest import ROOT, infragen

AIDC = Path(__file__).resolve().parent / "aidc"
FIGURES = ROOT / "target" / "compat-figures.txt"


def test_the_repository_validates_with_its_python_generators_noted():
    out = infragen("validate", str(AIDC)).stdout
    assert out.strip().endswith("ok: no problems in 3 generators, 3 queries, 8 object files, 8 trigger rules"), out
    assert out.count("is a Python generator, which infragen imports but does not run") == 3, out


def test_the_repository_copies_the_projects_design_unchanged():
    for sub in ["schemas", "objects"]:
        comparison = filecmp.dircmp(ROOT / sub, AIDC / sub)
        assert (comparison.left_only, comparison.right_only, comparison.diff_files) == ([], [], []), sub
    for query in (ROOT / "generators").glob("*.gql"):
        assert query.read_text() == (AIDC / "generators" / query.name).read_text(), query.name


def wasm_reference(tmp_path: Path) -> tuple[Path, float]:
    """The seed built by the WASM generators in process, tier by tier; the store and the
    time the runs took (as each report says)."""
    store = tmp_path / "wasm.db"
    infragen("sync", "--repository", str(ROOT), "--store", str(store))
    seconds = 0.0
    for generator in ["generate-fabric", "generate-pod", "generate-rack"]:
        out = infragen(
            "generator",
            generator,
            "--repository",
            str(ROOT),
            "--store",
            str(store),
            "--no-cascade",
            "--concurrency",
            "1",
        ).stdout
        seconds += float(re.search(r"in ([0-9.]+)s$", out.strip().splitlines()[-1]).group(1))
    return store, seconds


def test_python_generators_build_the_wasm_data_center_through_serve(serve, tmp_path):
    reference_store, wasm_seconds = wasm_reference(tmp_path)

    # The repository, imported by serve as it is: schemas, objects (trigger rules too),
    # queries and generator definitions; the Python definitions are named as not run.
    server = serve(AIDC, name="python")
    log = server.log.read_text()
    assert "not running 3 generator definitions that are not WebAssembly" in log, log
    assert "generate-rack (generators/generate_rack.py)" in log, log
    # What infrahubctl loads on top changes nothing: the same schema, the same objects,
    # the trigger rules naming the imported definitions.
    loaded = server.infrahubctl("schema", "load", "schemas", cwd=AIDC).stdout
    assert "already up to date" in loaded, loaded
    server.infrahubctl("object", "load", "objects", cwd=AIDC)

    started = time.monotonic()
    first = server.python(AIDC / "run_all.py", cwd=AIDC).stdout
    python_seconds = time.monotonic() - started
    assert first.strip().endswith(", 0 failed"), first
    server.python(AIDC / "compare.py", "dump", "-o", str(tmp_path / "python-1.json"), cwd=AIDC)
    second = server.python(AIDC / "run_all.py", cwd=AIDC).stdout
    assert second.strip().endswith(", 0 failed"), second
    server.python(AIDC / "compare.py", "dump", "-o", str(tmp_path / "python-2.json"), cwd=AIDC)

    wasm_server = serve(name="wasm", store=reference_store)
    wasm_server.python(AIDC / "compare.py", "dump", "-o", str(tmp_path / "wasm.json"), cwd=AIDC)

    wasm = json.loads((tmp_path / "wasm.json").read_text())
    python_first = json.loads((tmp_path / "python-1.json").read_text())
    python_second = json.loads((tmp_path / "python-2.json").read_text())
    totals = {section: len(lines) for section, lines in wasm.items()}
    assert totals == {
        "devices": 48,
        "interfaces": 1958,
        "links": 160,
        "prefixes": 173,
        "addresses": 368,
        "pools": 13,
        "checksums": 22,
    }
    assert python_first == wasm
    assert python_second == python_first
    FIGURES.parent.mkdir(exist_ok=True)
    FIGURES.write_text(
        f"AI/DC seed {totals}: WASM generators in process {wasm_seconds:.2f}s (the runs), "
        f"Python generators over HTTP {python_seconds:.2f}s (one process, every target): "
        f"{python_seconds / wasm_seconds:.1f}x\n"
    )
