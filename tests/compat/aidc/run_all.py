#!/usr/bin/env python3
"""Runs every target of every generator of this repository, in one process,
tier after tier as the cascade would: generate-fabric on each fabric, then
generate-pod on each pod, then generate-rack on each rack.

Each run is what Infrahub's generator worker does for one target: the
target's parameters are extracted from it (`parameters` of .infrahub.yml),
the definition's query runs with them, and the generator class runs under the
SDK's tracking (`InfrahubGenerator.run`: group
`{definition}-{md5(params)}`, `delete_unused_nodes=True`).

    INFRAHUB_ADDRESS=http://127.0.0.1:8200 INFRAHUB_API_TOKEN=... python run_all.py [--branch B]

--branch B          run on branch B (which must exist); default main
--create-branch     create branch B from main first (client.branch.create)
--stored-queries    read each run's data through the server's stored query
                    (/api/query/NAME, as Infrahub's worker does) instead of
                    sending the local .gql file to /graphql (as infrahubctl does)
--only NAME         run only these definitions (repeatable)
--debug             print the traceback of a failed run

Prints each run (tier, target, time, ok or the error) and the elapsed time;
exits 1 when a run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
import traceback
from pathlib import Path

from infrahub_sdk import Config, InfrahubClient
from infrahub_sdk.ctl.repository import get_repository_config
from infrahub_sdk.node import InfrahubNode

ROOT = Path(__file__).resolve().parent
TIERS = ["generate-fabric", "generate-pod", "generate-rack"]


def natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


async def targets_of(client: InfrahubClient, group_name: str, branch: str) -> list[InfrahubNode]:
    """The members of a target group, with their attributes, in name order."""
    group = await client.get(kind="CoreGroup", name__value=group_name, include=["members"], branch=branch)
    members = group.members
    await members.fetch()
    peers = [member.peer for member in members.peers]
    return sorted(peers, key=lambda peer: natural_key(peer.display_label or peer.id))


async def run_tier(
    client: InfrahubClient, config, name: str, branch: str, stored_queries: bool, debug: bool
) -> tuple[int, int]:
    """Runs definition `name` on every member of its target group, one after the other."""
    definition = config.get_generator_definition(name=name)
    generator_class = definition.load_class(import_root=str(ROOT), relative_path=str(definition.file_path.parent))
    query_text = None if stored_queries else config.get_query(name=definition.query).load_query(str(ROOT))
    ok = failed = 0
    for target in await targets_of(client, definition.targets, branch):
        params = await target.extract(definition.parameters)
        started = time.perf_counter()
        try:
            generator = generator_class(
                query=definition.query,
                client=client,
                infrahub_node=InfrahubNode,
                branch=branch,
                root_directory=str(ROOT),
                params=params,
                convert_query_response=definition.convert_query_response,
                execute_in_proposed_change=definition.execute_in_proposed_change,
                execute_after_merge=definition.execute_after_merge,
            )
            data = None
            if query_text is not None:
                data = await client.execute_graphql(query=query_text, variables=params, branch_name=branch)
            await generator.run(identifier=definition.name, data=data)
        except Exception as exc:  # noqa: BLE001 - one target's failure does not stop the others
            failed += 1
            print(f"  {name:<16} {target.display_label:<12} FAILED {time.perf_counter() - started:6.2f}s: {exc}")
            if debug:
                traceback.print_exc()
        else:
            ok += 1
            print(f"  {name:<16} {target.display_label:<12} ok     {time.perf_counter() - started:6.2f}s")
    return ok, failed


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--branch", default="main")
    parser.add_argument("--create-branch", action="store_true")
    parser.add_argument("--stored-queries", action="store_true")
    parser.add_argument("--only", action="append", choices=TIERS)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()

    config = get_repository_config(ROOT / ".infrahub.yml")
    client = InfrahubClient(config=Config())
    if args.create_branch:
        await client.branch.create(branch_name=args.branch, sync_with_git=False, description="run_all.py")

    started = time.perf_counter()
    totals = {}
    for tier in TIERS:
        if args.only and tier not in args.only:
            continue
        tier_started = time.perf_counter()
        ok, failed = await run_tier(client, config, tier, args.branch, args.stored_queries, args.debug)
        totals[tier] = (ok, failed, time.perf_counter() - tier_started)
    elapsed = time.perf_counter() - started

    for tier, (ok, failed, seconds) in totals.items():
        print(f"{tier:<16} {ok:3} ok {failed:3} failed {seconds:7.2f}s")
    failures = sum(failed for _, failed, _ in totals.values())
    print(f"elapsed {elapsed:.2f}s on branch {args.branch} of {client.address}, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
