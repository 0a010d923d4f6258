#!/usr/bin/env python3
"""Dumps what the generators derive from the design, from a server, in a
canonical sorted form free of ids, so that two stores can be diffed.

    python compare.py dump [--branch B] [-o FILE]    # INFRAHUB_ADDRESS / INFRAHUB_API_TOKEN
    python compare.py diff A.json B.json            # exit 0 when identical

Sections (one line per object, sorted):
  devices     hostname role index template pod rack loopback groups
  interfaces  device/name status role mtu address link
  links       name medium endpoints (device/interface, sorted)
  prefixes    prefix role member_type
  addresses   address interface (device/interface)
  pools       kind name default length/type resources
  checksums   which pods and racks carry a checksum (the value hashes ids, so it differs per store)
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import sys

from infrahub_sdk import Config, InfrahubClient

PAGE = 500

QUERIES = {
    "NetworkDevice": """
        hostname { value } role { value } index { value }
        object_template { node { display_label } }
        pod { node { display_label } } rack { node { display_label } }
        loopback_ip { node { display_label } }
        member_of_groups { edges { node { display_label } } }
    """,
    "NetworkInterface": """
        name { value } status { value } role { value } mtu { value }
        device { node { display_label } }
        ip_address { node { display_label } }
        link { node { display_label } }
    """,
    "NetworkLink": """
        name { value } medium { value }
        endpoints { edges { node { id ... on NetworkInterface { name { value } device { node { display_label } } } } } }
    """,
    "IpamIPPrefix": "prefix { value } role { value } member_type { value }",
    "IpamIPAddress": """
        address { value }
        interface { node { name { value } device { node { display_label } } } }
    """,
    "CoreIPPrefixPool": """
        name { value } default_prefix_length { value } default_prefix_type { value } default_member_type { value }
        resources { edges { node { display_label } } }
    """,
    "CoreIPAddressPool": """
        name { value } default_prefix_length { value } default_address_type { value }
        resources { edges { node { display_label } } }
    """,
    "NetworkPod": "name { value } checksum { value }",
    "LocationRack": "name { value } checksum { value }",
}


async def fetch(client: InfrahubClient, kind: str, branch: str) -> list[dict]:
    nodes: list[dict] = []
    offset = 0
    while True:
        query = (
            f"query {{ {kind}(offset: {offset}, limit: {PAGE}) {{ count edges {{ node {{ {QUERIES[kind]} }} }} }} }}"
        )
        result = (await client.execute_graphql(query=query, branch_name=branch))[kind]
        nodes += [edge["node"] for edge in result["edges"]]
        offset += PAGE
        if offset >= result["count"]:
            return nodes


def value(node: dict | None, attribute: str):
    return ((node or {}).get(attribute) or {}).get("value")


def label(node: dict, relationship: str) -> str | None:
    return (((node.get(relationship) or {}).get("node")) or {}).get("display_label")


def labels(node: dict, relationship: str) -> list[str]:
    return sorted(edge["node"]["display_label"] for edge in (node.get(relationship) or {}).get("edges") or [])


def interface_ref(node: dict | None) -> str | None:
    if not node:
        return None
    return f"{label(node, 'device')}/{value(node, 'name')}"


def line(*fields) -> str:
    return " ".join("-" if f is None or f == [] else ",".join(f) if isinstance(f, list) else str(f) for f in fields)


async def dump(branch: str) -> dict[str, list[str]]:
    client = InfrahubClient(config=Config(default_branch=branch))
    data = {kind: await fetch(client, kind, branch) for kind in QUERIES}
    sections = {
        "devices": [
            line(
                value(d, "hostname"),
                value(d, "role"),
                value(d, "index"),
                label(d, "object_template"),
                label(d, "pod"),
                label(d, "rack"),
                label(d, "loopback_ip"),
                labels(d, "member_of_groups"),
            )
            for d in data["NetworkDevice"]
        ],
        "interfaces": [
            line(
                interface_ref(i),
                value(i, "status"),
                value(i, "role"),
                value(i, "mtu"),
                label(i, "ip_address"),
                label(i, "link"),
            )
            for i in data["NetworkInterface"]
        ],
        "links": [
            line(
                value(link, "name"),
                value(link, "medium"),
                sorted(interface_ref(e["node"]) for e in link["endpoints"]["edges"]),
            )
            for link in data["NetworkLink"]
        ],
        "prefixes": [line(value(p, "prefix"), value(p, "role"), value(p, "member_type")) for p in data["IpamIPPrefix"]],
        "addresses": [
            line(value(a, "address"), interface_ref((a.get("interface") or {}).get("node")))
            for a in data["IpamIPAddress"]
        ],
        "pools": [
            line(
                "CoreIPPrefixPool",
                value(p, "name"),
                value(p, "default_prefix_length"),
                value(p, "default_prefix_type"),
                value(p, "default_member_type"),
                labels(p, "resources"),
            )
            for p in data["CoreIPPrefixPool"]
        ]
        + [
            line(
                "CoreIPAddressPool",
                value(p, "name"),
                value(p, "default_prefix_length"),
                value(p, "default_address_type"),
                labels(p, "resources"),
            )
            for p in data["CoreIPAddressPool"]
        ],
        "checksums": [
            line(kind, value(n, "name"), "stamped" if value(n, "checksum") else "none")
            for kind in ("NetworkPod", "LocationRack")
            for n in data[kind]
        ],
    }
    return {name: sorted(lines) for name, lines in sections.items()}


def diff(a_path: str, b_path: str) -> int:
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    different = 0
    for section in list(a) + [name for name in b if name not in a]:
        left, right = a.get(section, []), b.get(section, [])
        same = left == right
        different += not same
        print(f"{section:<11} {len(left):5} {len(right):5}  {'identical' if same else 'DIFFERENT'}")
        if not same:
            for row in list(difflib.unified_diff(left, right, a_path, b_path, lineterm="", n=0))[:60]:
                print("   ", row)
    return 1 if different else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    dump_parser = commands.add_parser("dump")
    dump_parser.add_argument("--branch", default="main")
    dump_parser.add_argument("-o", "--output")
    diff_parser = commands.add_parser("diff")
    diff_parser.add_argument("a")
    diff_parser.add_argument("b")
    args = parser.parse_args()
    if args.command == "diff":
        return diff(args.a, args.b)
    sections = asyncio.run(dump(args.branch))
    text = json.dumps(sections, indent=1)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
        print(", ".join(f"{len(lines)} {name}" for name, lines in sections.items()))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
