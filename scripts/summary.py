"""Prints the per-fabric summary of the demo from the query result it saved."""

import ipaddress
import json
import sys
from collections import Counter, defaultdict


def edges(data, kind):
    return [edge["node"] for edge in data[kind]["edges"]]


def main(path):
    data = json.load(open(path))["data"]
    fabric_of_pod = {pod["id"]: pod["parent"]["node"]["display_label"] for pod in edges(data, "NetworkPod")}
    fabric_of_host = {}
    roles = defaultdict(Counter)
    interfaces = Counter()
    for device in edges(data, "NetworkDevice"):
        fabric = fabric_of_pod.get((device["pod"]["node"] or {}).get("id"), "?")
        fabric_of_host[device["hostname"]["value"]] = fabric
        roles[fabric][device["role"]["value"]] += 1
        interfaces[fabric] += device["interfaces"]["count"]
    links = Counter()
    for link in edges(data, "NetworkLink"):
        source = link["name"]["value"].split("__")[0]
        host = max((h for h in fabric_of_host if source.startswith(h + "-")), key=len, default=None)
        links[fabric_of_host.get(host, "?")] += 1
    supernets = {}
    for pool in edges(data, "CoreIPPrefixPool"):
        name = pool["name"]["value"]
        for fabric in roles:
            if name == f"{fabric.lower()}-prefix-pool":
                supernets[fabric] = [ipaddress.ip_network(r["node"]["display_label"]) for r in pool["resources"]["edges"]]
    prefixes, addresses = Counter(), Counter()
    for prefix in edges(data, "IpamIPPrefix"):
        network = ipaddress.ip_network(prefix["prefix"]["value"])
        for fabric, nets in supernets.items():
            if any(network.subnet_of(net) for net in nets):
                prefixes[fabric] += 1
    for address in edges(data, "IpamIPAddress"):
        ip = ipaddress.ip_interface(address["address"]["value"]).ip
        for fabric, nets in supernets.items():
            if any(ip in net for net in nets):
                addresses[fabric] += 1
    header = f"{'fabric':<10} {'supernet':<14} {'super spines':>12} {'spines':>7} {'leafs':>6} {'interfaces':>11} {'links':>6} {'prefixes':>9} {'addresses':>10}"
    print(header)
    for fabric in sorted(roles):
        count = roles[fabric]
        supernet = ", ".join(str(n) for n in supernets.get(fabric, []))
        print(
            f"{fabric:<10} {supernet:<14} {count['super_spine']:>12} {count['spine']:>7} {count['leaf']:>6} "
            f"{interfaces[fabric]:>11} {links[fabric]:>6} {prefixes[fabric]:>9} {addresses[fabric]:>10}"
        )
    print(f"{len(fabric_of_host)} devices, {sum(links.values())} links in all")


if __name__ == "__main__":
    main(sys.argv[1])
