#!/usr/bin/env bash
# Copies the curated part of a run directory into docs/results/<scenario>/: the self-contained
# report (index.html, charts inline), its Markdown summary, the charts FINDINGS.md shows as SVG
# files (percentiles and histogram of all operations, p50/p99 by class, sweeps, list_recent's
# scaling, comparisons, and per-variant timelines when there are at most 6 variants), and
# machine.md with the run's machine and servers; for a `load` run, goose's report of each
# variant's first trial.
# results.json and the .hlog files stay in the run directory (large; reproducible by re-running).
#
# usage: scripts/publish-results.sh RUN_DIR [NAME]   (NAME defaults to the scenario's name)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
run="${1:?usage: scripts/publish-results.sh RUN_DIR [NAME]}"
[ -f "$run/results.json" ] || { echo "publish-results.sh: $run/results.json not found" >&2; exit 2; }
[ -f "$run/index.html" ] || { echo "publish-results.sh: $run/index.html not found (run: tenantbench report $run)" >&2; exit 2; }
name="${2:-$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["scenario"]["name"])' "$run/results.json")}"
out="docs/results/$name"
rm -rf "$out"
mkdir -p "$out"
cp "$run/index.html" "$run/summary.md" "$out/"
variants=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["variants"]))' "$run/results.json")
for f in "$run"/*.svg; do
  case "$(basename "$f")" in
    timeline-*) if [ "$variants" -le 6 ]; then cp "$f" "$out/"; fi ;;
    percentiles-all.svg|histogram-all.svg|p50-by-class.svg|p99-by-class.svg|sweep-*|scaling-list_recent.svg|compare-*)
      cp "$f" "$out/" ;;
  esac
done
# A `load` run: goose's own report of each variant's first trial (the report links them).
for f in "$run"/*-t1-goose.html; do
  [ -e "$f" ] && cp "$f" "$out/"
done
python3 - "$run/results.json" > "$out/machine.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
e = r["environment"]
print(f"# Machine of the {r['scenario']['name']} run\n")
print(f"- started {r['started_at']}, finished {r.get('finished_at')}; harness {e['harness_version']} at {e.get('git_commit')}")
print(f"- {e['os']}, {e['cores']} cores, {e['memory_bytes'] / 2**30:.0f} GiB")
for s in e["servers"]:
    extra = f", surrogate {s['surrogate']}" if s.get("surrogate") else ""
    print(f"- server {s['role']}: {s['backend']} {s['version']}{extra}, local: {s.get('local')}")
backend = {v["id"]: v["backend"] for v in r["variants"]}
cpus = {}
for t in r["trials"]:
    for s in t["evidence"]["cpu"].get("servers", []):
        cpus.setdefault((backend.get(t["variant"]), s["role"]), s.get("cpus"))
for (b, role), c in cpus.items():
    what = "the API (`serve`, before " + b + ")" if role == "api" else f"{b} server {role}"
    print(f"- {what} ran on CPUs {c} (its Cpus_allowed_list; a single CPU means pinned with taskset)")
print(f"- {len(r['variants'])} variants × {r['repeat']} trials, interleaved; scale {r['scenario'].get('scale', 1)}")
PY
du -sh "$out"
