#!/usr/bin/env bash
# The compatibility check, end to end, in a scratch directory:
#
# 1. the WASM reference: the project's own repository (the repository root) synced into
#    a fresh embedded store, and `generate-fabric`, `generate-pod`, `generate-rack` run
#    in process on main, one tier after the other (--no-cascade --concurrency 1), timed;
# 2. this repository: a fresh `infragen serve`, its schemas and objects loaded with
#    `infrahubctl`, then `run_all.py` (the Python generators over HTTP), timed, twice;
# 3. both stores dumped with compare.py through `infragen serve` and diffed.
#
# Exit code 0 when the Python output is identical to the WASM output and the second run
# changed nothing.
#
#   tests/compat/aidc/check.sh
#
# Environment: INFRAGEN (default target/debug/infragen), PYTHON and INFRAHUBCTL (a venv
# with infrahub-sdk[ctl]==1.23.2; default target/compat-venv, made by scripts/compat), PORT (default 8250; PORT
# and PORT+1 are used), WORKDIR (default a new temporary directory).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
infragen=$(realpath "${INFRAGEN:-$root/target/debug/infragen}")
python=${PYTHON:-$root/target/compat-venv/bin/python}
infrahubctl=${INFRAHUBCTL:-$root/target/compat-venv/bin/infrahubctl}
port=${PORT:-8250}
work=${WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/aidc-compat.XXXXXX")}
mkdir -p "$work/empty"
printf -- '---\n{}\n' >"$work/empty/.infrahub.yml"
echo "== scratch directory: $work"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# serve STORE PORT REPOSITORY: starts `infragen serve` and points INFRAHUB_ADDRESS and
# INFRAHUB_API_TOKEN at it
serve() {
    local token
    token=$("$infragen" token create compat --scope admin --store "$1")
    (cd "$work/empty" && exec "$infragen" serve --store "$1" --listen "127.0.0.1:$2" --repository "$3") \
        >"$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 150); do
        grep -q listening "$1.log" && break
        sleep 0.2
    done
    export INFRAHUB_ADDRESS="http://127.0.0.1:$2" INFRAHUB_API_TOKEN="$token"
}

seconds() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.2f}")' "$1"; }

echo "== 1. WASM reference (in process, embedded store)"
wasm="$work/wasm.db"
"$infragen" sync --repository "$root" --store "$wasm" >/dev/null
start=$(date +%s.%N)
wasm_runs=0
for generator in generate-fabric generate-pod generate-rack; do
    report=$("$infragen" generator "$generator" --repository "$root" --store "$wasm" --no-cascade \
        --concurrency 1 2>/dev/null | tail -n 1)
    echo "$report"
    wasm_runs=$(python3 -c 'import re,sys; print(round(float(sys.argv[1]) + float(re.search(r"in ([0-9.]+)s$", sys.argv[2]).group(1)), 2))' \
        "$wasm_runs" "$report")
done
echo "WASM: the three tiers' runs took ${wasm_runs}s in process ($(seconds "$start")s with three process starts)"

echo "== 2. Python generators over HTTP (infragen serve)"
serve "$work/python.db" "$port" "$work/empty"
cd "$here"
"$infrahubctl" schema load schemas >/dev/null
# triggers.yml names generator definitions, which a repository import creates (Infrahub
# imports it after them); loaded by hand like this, there are none, so it is left out.
"$infrahubctl" object load objects/0*.yml objects/1*.yml >/dev/null
python_time=$("$python" run_all.py | tail -n 1 | tee /dev/stderr | sed -E 's/^elapsed ([0-9.]+)s.*/\1/')
"$python" compare.py dump -o "$work/python-1.json"
"$python" run_all.py | tail -n 1
"$python" compare.py dump -o "$work/python-2.json"
echo "Python over HTTP: ${python_time}s for the first run, $(python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.1f}")' "$python_time" "$wasm_runs")x the WASM runs in process"

echo "== 3. compare"
serve "$wasm" $((port + 1)) "$root"
"$python" compare.py dump -o "$work/wasm.json"
status=0
echo "-- WASM vs Python"
"$python" compare.py diff "$work/wasm.json" "$work/python-1.json" || status=1
echo "-- Python, first run vs second run"
"$python" compare.py diff "$work/python-1.json" "$work/python-2.json" || status=1
exit $status
