"""The compatibility suite: the real infrahub-sdk and infrahubctl (1.23.2, from PyPI)
against `infragen serve` on loopback, as an Infrahub user would run them.

Each test starts its own server on a fresh store (`serve` fixture): port 0, the address it
prints, an admin API token made with `infragen token create`. `scripts/compat` builds the
virtual environment and runs this suite; `INFRAGEN` names the binary (default
target/debug/infragen).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRAGEN = Path(os.environ.get("INFRAGEN", ROOT / "target" / "debug" / "infragen"))
VENV_BIN = Path(sys.executable).parent


@dataclass
class Server:
    """One `infragen serve`: where it listens, its token, its store and its log."""

    address: str
    token: str
    store: Path
    log: Path
    process: subprocess.Popen
    env: dict[str, str] = field(default_factory=dict)

    def infrahubctl(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Runs infrahubctl against this server; its output, with ANSI colours off."""
        result = subprocess.run(
            [str(VENV_BIN / "infrahubctl"), *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"infrahubctl {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def python(self, script: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Runs a Python script of the suite against this server."""
        result = subprocess.run(
            [sys.executable, str(script), *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"{script.name} {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def client(self, branch: str = "main"):
        from infrahub_sdk import Config, InfrahubClient

        return InfrahubClient(config=Config(address=self.address, api_token=self.token, default_branch=branch))


def infragen(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Runs the infragen binary; fails the test with its output when it fails."""
    result = subprocess.run([str(INFRAGEN), *args], cwd=cwd, capture_output=True, text=True, timeout=1200)
    if result.returncode != 0:
        raise AssertionError(f"infragen {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def empty_repository(directory: Path) -> Path:
    """A repository with nothing in it, for a server whose content infrahubctl loads."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ".infrahub.yml").write_text("---\n{}\n")
    return directory


@pytest.fixture
def serve(tmp_path):
    """Starts `infragen serve --repository REPO` on a fresh store; stopped after the test."""
    started: list[Server] = []

    def start(repository: Path | None = None, name: str = "store", store: Path | None = None) -> Server:
        """Serves REPOSITORY (default: an empty one) from STORE (default: a new one)."""
        repository = repository or empty_repository(tmp_path / f"{name}-empty")
        store = store or tmp_path / f"{name}.db"
        token = infragen("token", "create", "compat-suite", "--scope", "admin", "--store", str(store)).stdout.strip()
        log = tmp_path / f"{name}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [
                    str(INFRAGEN),
                    "serve",
                    "--store",
                    str(store),
                    "--listen",
                    "127.0.0.1:0",
                    "--repository",
                    str(repository),
                ],
                cwd=repository,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        address = None
        while address is None:
            match = re.search(r"listening on (http://\S+)", log.read_text())
            if match:
                address = match.group(1)
            elif process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"infragen serve did not start:\n{log.read_text()}")
            else:
                time.sleep(0.1)
        env = dict(os.environ, INFRAHUB_ADDRESS=address, INFRAHUB_API_TOKEN=token, NO_COLOR="1", COLUMNS="200")
        server = Server(address=address, token=token, store=store, log=log, process=process, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
