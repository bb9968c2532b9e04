#!/usr/bin/env bash
# Runs a scenario with N load generator processes on this machine, as N pods or machines would:
#   1. `tenantbench run --seed-only` seeds (or reuses) the generators' data, with the flags the
#      generators get: databases of their own per layout and index profile, and per trial when
#      the workload writes, so that every trial starts on its variant's data as seeded (the
#      generators never seed; docs/scale-out.md, "The generators' data");
#   2. N `tenantbench run --worker i/N --start-at T` processes start together, each running
#      1/N of the load (and of the pool), trial k of every generator at the same instant;
#   3. when all have ended, `tenantbench merge` adds their histograms and interval logs (never
#      averaging percentiles) and `tenantbench report` writes the merged run's report, which
#      names every generator with its share and its own CPU.
#
# usage: scripts/run-workers.sh N --scenario FILE [run flags...] [--out DIR]
#   N       generators (1 to 64)
#   --out   where to write (default reports/<scenario file name>-workers<N>-<UTC time>):
#           DIR/g0 … DIR/g<N-1> (each generator's run directory and log), DIR/merged
#   other flags go to every `tenantbench run` (--layout, --indexes, --repeat, --backend, --uri,
#   --prefix, --scale, --timer, …); the script sets --worker, --start-at and --out itself.
# environment:
#   TENANTBENCH   the binary (default target/release/tenantbench, built with cargo when missing)
#   LEAD          seconds from now to the aligned start (default 5): enough for N processes to
#                 start and check their data
#
# Exit status: 0 when every generator and the merge succeeded; otherwise the first failure's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() { echo "run-workers.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: scripts/run-workers.sh N --scenario FILE [run flags...] [--out DIR]"
n="$1"; shift
[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 64 ] || die "N = '$n': expected a whole number of generators from 1 to 64"

out=""
scenario=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out|-o) [ $# -ge 2 ] || die "$1 needs a directory"; out="$2"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    --worker|--worker=*|--start-at|--start-at=*|--resume|--resume=*|--seed-only)
      die "$1: the script sets --worker, --start-at and --out itself, and seeds with --seed-only" ;;
    --gate|--gate=*|--gate-baseline|--gate-baseline=*)
      die "$1: judge the merged run instead: tenantbench gate DIR/merged --rules RULES" ;;
    --scenario|-s) [ $# -ge 2 ] || die "$1 needs a file"; scenario="$2"; args+=("$1" "$2"); shift 2 ;;
    --scenario=*) scenario="${1#--scenario=}"; args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$scenario" ] || die "--scenario FILE is required"
[ -f "$scenario" ] || die "--scenario $scenario: no such file"

bin="${TENANTBENCH:-target/release/tenantbench}"
if [ ! -x "$bin" ]; then
  [ -z "${TENANTBENCH:-}" ] || die "TENANTBENCH=$bin: not an executable"
  echo "run-workers.sh: building $bin (first time only)" >&2
  cargo build --release --quiet --bin tenantbench
fi
lead="${LEAD:-5}"
[[ "$lead" =~ ^[0-9]+$ ]] || die "LEAD = '$lead': expected whole seconds"

if [ -z "$out" ]; then
  out="reports/$(basename "$scenario" .toml)-workers$n-$(date -u +%Y%m%dT%H%M%SZ)"
fi
[ ! -e "$out/merged/results.json" ] || die "--out $out already holds a merged run; choose another directory"
mkdir -p "$out"

echo "run-workers.sh: seeding (or reusing) the generators' data of every variant and trial" >&2
"$bin" run "${args[@]}" --seed-only --no-progress

start_at=$(date -u -d "+$lead seconds" +%Y-%m-%dT%H:%M:%SZ)
echo "run-workers.sh: $n generators, aligned start $start_at, run directories $out/g0 … $out/g$((n - 1))" >&2
pids=()
for i in $(seq 0 $((n - 1))); do
  "$bin" run "${args[@]}" --worker "$i/$n" --start-at "$start_at" --out "$out/g$i" \
    --no-report --no-progress >"$out/g$i.log" 2>&1 &
  pids+=("$!")
done
# Ctrl-C: each generator stops its trial cleanly and keeps what ran (as `run` does).
trap 'kill -INT "${pids[@]}" 2>/dev/null || true' INT TERM

status=0
dirs=()
for i in $(seq 0 $((n - 1))); do
  if wait "${pids[$i]}"; then
    echo "run-workers.sh: generator $i/$n done" >&2
  else
    rc=$?
    echo "run-workers.sh: generator $i/$n exited $rc; the end of $out/g$i.log:" >&2
    tail -n 15 "$out/g$i.log" >&2 || true
    [ "$status" -ne 0 ] || status=$rc
  fi
  [ -f "$out/g$i/results.json" ] && dirs+=("$out/g$i")
done
[ "${#dirs[@]}" -gt 0 ] || die "no generator wrote results; see $out/g*.log"

"$bin" merge "${dirs[@]}" -o "$out/merged" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
if [ -f "$out/merged/results.json" ]; then
  "$bin" report "$out/merged" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
fi
exit "$status"
