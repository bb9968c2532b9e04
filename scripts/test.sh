#!/usr/bin/env bash
# The test command (README, .ci/run): installs the tools some tests use when missing
# (scripts/setup-test-tools.sh: Chromium, junitparser, kubernetes-validate, actionlint),
# starts the local MongoDB-wire servers on 27017 and 27018 when none answers (installing
# secantusd-rs on first use), runs every test in the release
# profile (the build the binary and the smoke runs use), and stops the servers it started.
#
# With CI set, tests that need a server (MongoDB-wire or PostgreSQL) fail instead of skipping
# when none answers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The tools some tests use beside cargo (Chromium, junitparser, kubernetes-validate,
# actionlint), each installed once and skipped when present.
scripts/setup-test-tools.sh

# PostgreSQL for the postgres backend's tests: started when installed but not answering.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "test.sh: starting the local PostgreSQL" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1 "/" $2}'); do
      pg_ctlcluster "${c%/*}" "${c#*/}" start || true
    done
  else
    service postgresql start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

# The default server (27017) and a second one (27018) for hybrid placements on another server.
started=()
for port in 27017 27018; do
  if ! scripts/mongo-local.sh status --port "$port" >/dev/null 2>&1; then
    scripts/mongo-local.sh start --port "$port" >/dev/null
    started+=("$port")
  fi
done
cleanup() { for port in "${started[@]}"; do scripts/mongo-local.sh stop --port "$port" || true; done; }
trap cleanup EXIT

# Migrations the tests measure are kept apart from the user's (what `migrate --dry-run` scales from).
export TENANTBENCH_STATE_DIR="${TENANTBENCH_STATE_DIR:-$PWD/target/test-state}"
export TENANTBENCH_MONGO_URI="${TENANTBENCH_MONGO_URI:-mongodb://127.0.0.1:27017}"
export TENANTBENCH_MONGO_URI_2="${TENANTBENCH_MONGO_URI_2:-mongodb://127.0.0.1:27018}"
cargo test --release "$@"
