#!/usr/bin/env bash
# The main job (README): start the local MongoDB-wire server (installing it on first use),
# build tenantbench, seed the quickstart scenario in the shared and per-tenant layouts, verify
# both against the generator, print the run plan, run the scenario's matrix (without and with
# the tenant index, two trials each, interleaved) into reports/quickstart-<UTC>/, and list what
# was created.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scenario="${1:-scenarios/quickstart.toml}"
echo "== local server"
export TENANTBENCH_MONGO_URI="${TENANTBENCH_MONGO_URI:-$(scripts/mongo-local.sh start)}"
echo "== build"
cargo build --release --quiet
tb=target/release/tenantbench
echo "== doctor"
"$tb" doctor
for layout in shared per-tenant; do
  echo "== seed $scenario ($layout)"
  "$tb" seed --scenario "$scenario" --layout "$layout"
  echo "== verify ($layout)"
  "$tb" verify --scenario "$scenario" --layout "$layout"
done
echo "== plan"
"$tb" plan --scenario "$scenario"
echo "== run the scenario's matrix (shared layout: no index, {tenant: 1}, compound; two trials each)"
"$tb" run --scenario "$scenario"
echo "== databases created by tenantbench"
"$tb" ls | tail -n 3
echo
echo "Done. Drop the data with: $tb drop --scenario $scenario"
