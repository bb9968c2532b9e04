#!/usr/bin/env bash
# The main job (README): start the local MongoDB-wire server (installing it on first use),
# build tenantbench, seed the quickstart scenario in the shared and per-tenant layouts, verify
# both against the generator, run its workload without and with the tenant index, and list
# what was created.
#
# The report step joins this script when it lands.
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
for indexes in none tenant; do
  echo "== run the workload on the shared layout, index profile $indexes"
  "$tb" run --scenario "$scenario" --layout shared --indexes "$indexes"
done
echo "== databases created by tenantbench"
"$tb" ls | tail -n 3
echo
echo "Done. Drop the data with: $tb drop --scenario $scenario"
