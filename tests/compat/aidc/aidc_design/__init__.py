"""The AI/DC design shared by the three generators (fabric, pod, rack).

A Python port of this project's WebAssembly generators' library
(`plugins/aidc/src/*.rs`), module for module:

- `naming`: hostnames, pool names, link names, reservation identifiers;
- `design`: the query results read into plain objects;
- `gates`: the preconditions checked before the first write;
- `cabling`: interface ordering, the cabling formulas and capacity checks;
- `writer`: everything that talks to Infrahub through the SDK.
"""
