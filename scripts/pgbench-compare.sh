#!/usr/bin/env bash
# tenantbench against pgbench on the same PostgreSQL database and query, side by side:
# list_recent on the quickstart data (shared layout, compound index), the same clients and
# duration, rounds interleaved (pgbench, tenantbench, pgbench, tenantbench, …). Prints each
# tool's throughput and p50 per round and their ratios. pgbench does not print a p50: it is
# computed from pgbench's per-transaction log (-l); both tools leave out their first 2 seconds.
#
# usage: scripts/pgbench-compare.sh [--clients N] [--seconds S] [--rounds R]
# environment: TENANTBENCH_PG_URI (default postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

clients=8
seconds=12
rounds=2
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients="${2:?--clients needs a number}"; shift 2 ;;
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "pgbench-compare.sh: unknown argument '$1' (expected --clients N, --seconds S, --rounds R)" >&2; exit 2 ;;
  esac
done
for v in "$clients" "$seconds" "$rounds"; do
  case "$v" in ''|*[!0-9]*) echo "pgbench-compare.sh: expected whole numbers, got '$v'" >&2; exit 2 ;; esac
done
[ "$seconds" -gt 4 ] || { echo "pgbench-compare.sh: --seconds must be above 4 (2 are warm-up)" >&2; exit 2; }
command -v pgbench >/dev/null || { echo "pgbench-compare.sh: pgbench is not installed (Debian: postgresql-client)" >&2; exit 2; }

uri="${TENANTBENCH_PG_URI:-postgres://postgres@127.0.0.1:5432/postgres}"
db_uri="${uri%/*}/tb_quickstart_shared"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
tb=target/release/tenantbench

# The quickstart population and data with a list_recent-only workload: the same databases
# (same prefix and data definition), so the seeded data is reused.
sed '/^\[workload\]/,$d' scenarios/quickstart.toml > "$work/compare.toml"
cat >> "$work/compare.toml" <<EOF
[workload]
concurrency = $clients
duration_s = $seconds
warmup_s = 2
mix = { list_recent = 1 }

[matrix]
layout = ["shared"]
indexes = ["compound"]
EOF
sed -i 's/^name = "quickstart"/name = "quickstart"\nprefix = "tb_quickstart"/' "$work/compare.toml"
"$tb" seed --backend postgres --scenario "$work/compare.toml" --indexes compound --no-progress >/dev/null

# The same query for pgbench: tenant by Zipf rank (pgbench needs a parameter >= 1.001; the
# tenants' sizes follow Zipf s = 1 and tenantbench picks them in proportion to size), status
# uniform among the five (tenantbench derives it from a key: nearly uniform).
cat > "$work/list_recent.sql" <<'EOF'
\set r random_zipfian(1, 200, 1.001)
\set s random(1, 5)
SELECT id FROM orders WHERE tenant_id = 't' || lpad(:r::text, 5, '0') AND status = (ARRAY['paid', 'shipped', 'pending', 'cancelled', 'refunded'])[:s] ORDER BY created_at DESC LIMIT 20;
EOF

p50_of_log() { # files... -> "tps mean_ms p50_ms p90_ms p99_ms" over the log after its first 2 seconds
  python3 - "$seconds" "$@" <<'PY'
import sys
secs = float(sys.argv[1]); files = sys.argv[2:]
rows = []
for f in files:
    for line in open(f):
        p = line.split()
        rows.append((int(p[4]) + int(p[5]) / 1e6, int(p[2])))
t0 = min(r[0] for r in rows)
kept = sorted(us for t, us in rows if t - us / 1e6 >= t0 + 2.0)
q = lambda f: kept[min(len(kept) - 1, int(f * len(kept)))] / 1000.0
print(f"{len(kept) / (secs - 2.0):.0f} {sum(kept) / len(kept) / 1000.0:.3f} {q(0.5):.3f} {q(0.9):.3f} {q(0.99):.3f}")
PY
}

printf "%-6s %-12s %10s %8s %8s %8s %8s\n" round tool "ops/s" "mean ms" "p50 ms" "p90 ms" "p99 ms"
for r in $(seq 1 "$rounds"); do
  rm -f "$work"/pgb*
  pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -f "$work/list_recent.sql" -l \
    --log-prefix="$work/pgb" "$db_uri" >"$work/out-pgbench.txt" 2>&1 \
    || { cat "$work/out-pgbench.txt" >&2; exit 1; }
  read -r pg_tps pg_mean pg_p50 pg_p90 pg_p99 < <(p50_of_log "$work"/pgb*)
  printf "%-6s %-12s %10s %8s %8s %8s %8s\n" "$r" pgbench "$pg_tps" "$pg_mean" "$pg_p50" "$pg_p90" "$pg_p99"
  "$tb" run --backend postgres --scenario "$work/compare.toml" --out "$work/run$r" --no-report --no-progress >/dev/null 2>"$work/tb.err" \
    || { cat "$work/tb.err" >&2; exit 1; }
  read -r tb_tps tb_mean tb_p50 tb_p90 tb_p99 < <(python3 - "$work/run$r/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = next(x for x in r["spread"] if x["phase"] == "steady" and x["class"] == "all")
m = s['merged']
print(f"{s['throughput'][0]:.0f} {m['mean_us'] / 1000.0:.3f} {m['p50_us'] / 1000.0:.3f} {m['p90_us'] / 1000.0:.3f} {m['p99_us'] / 1000.0:.3f}")
PY
)
  printf "%-6s %-12s %10s %8s %8s %8s %8s   (throughput %.2f× pgbench, mean %.2f×, p50 %.2f×)\n" "$r" tenantbench "$tb_tps" "$tb_mean" "$tb_p50" "$tb_p90" "$tb_p99" \
    "$(echo "$tb_tps / $pg_tps" | bc -l)" "$(echo "$tb_mean / $pg_mean" | bc -l)" "$(echo "$tb_p50 / $pg_p50" | bc -l)"
done
