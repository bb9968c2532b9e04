#!/usr/bin/env bash
# Local MongoDB-wire server for tenantbench: start | stop | status [--port P] [--cpu LIST]
#
# Uses `mongod` from PATH when present, otherwise SecantusDB's Rust server `secantusd-rs`
# (crate secantus-mdb, pinned below), installing it with cargo when missing (needs cmake;
# about 5 to 15 minutes on 2 cores the first time).
#
# Environment:
#   TENANTBENCH_MONGO_DATA   data root (default: <repo>/target/mongo-data); one folder per port
#   TENANTBENCH_MONGO_CACHE  WiredTiger cache size for secantusd-rs (default: the server's, 4G).
#                            Keep it above the largest collection: with a 1G cache, building an
#                            index over a 1.2 GiB collection made secantusd-rs retry the build on
#                            write conflicts (cache-pressure rollbacks) for as long as it ran.
#   TENANTBENCH_MONGO_CPUS   CPU list to pin the server to with taskset (e.g. 1); default: none
#                            (`--cpu LIST` on the command line does the same)
#
# `stop` ends only the process this script started (pid file in the data folder).
# A second server on another port (e.g. --port 27018) serves hybrid placements on another server.
set -euo pipefail

SECANTUS_VERSION="0.5.3-beta.196"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

usage() {
  cat <<EOF
usage: scripts/mongo-local.sh start|stop|status [--port P] [--cpu LIST]

  start    start a local server on 127.0.0.1:P (default 27017), wait until it answers ping,
           print its URI; installs secantusd-rs when neither it nor mongod is on PATH
  stop     stop the server this script started on port P
  status   say whether the server on port P answers ping
  --cpu    start: pin the server to these CPUs with taskset (e.g. 0, or 0-1)

examples:
  scripts/mongo-local.sh start
  scripts/mongo-local.sh start --port 27018    # a second server for hybrid placements
  scripts/mongo-local.sh start --cpu 0 && scripts/mongo-local.sh start --port 27018 --cpu 1
  TENANTBENCH_MONGO_URI_2=mongodb://127.0.0.1:27018 tenantbench seed --scenario ... --layout hybrid
EOF
}

cmd="${1:-}"
shift || true
port=27017
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="${2:?--port needs a value}"; shift 2 ;;
    --port=*) port="${1#--port=}"; shift ;;
    --cpu) TENANTBENCH_MONGO_CPUS="${2:?--cpu needs a CPU list}"; shift 2 ;;
    --cpu=*) TENANTBENCH_MONGO_CPUS="${1#--cpu=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "mongo-local.sh: unknown argument '$1' (expected --port P or --cpu LIST)" >&2; usage >&2; exit 2 ;;
  esac
done
case "$port" in
  ''|*[!0-9]*) echo "mongo-local.sh: --port expects a number, got '$port'" >&2; exit 2 ;;
esac

data_root="${TENANTBENCH_MONGO_DATA:-$repo/target/mongo-data}"
dir="$data_root/$port"
pidfile="$dir/server.pid"
logfile="$dir/server.log"
uri="mongodb://127.0.0.1:$port"

# Sends a real OP_MSG {ping: 1} and checks the reply says ok: 1 (no mongosh needed).
ping_server() {
  python3 - "$port" <<'PY' 2>/dev/null
import socket, struct, sys
port = int(sys.argv[1])
def bson(items):
    body = b""
    for k, v in items:
        if isinstance(v, int):
            body += b"\x10" + k.encode() + b"\x00" + struct.pack("<i", v)
        else:
            s = v.encode() + b"\x00"
            body += b"\x02" + k.encode() + b"\x00" + struct.pack("<i", len(s)) + s
    return struct.pack("<i", len(body) + 5) + body + b"\x00"
doc = bson([("ping", 1), ("$db", "admin")])
msg = struct.pack("<I", 0) + b"\x00" + doc
hdr = struct.pack("<iiii", 16 + len(msg), 1, 0, 2013)
s = socket.create_connection(("127.0.0.1", port), timeout=2)
s.sendall(hdr + msg)
data = b""
while len(data) < 4 or len(data) < struct.unpack("<i", data[:4])[0]:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
# ok is a double 1.0 (0x01 'ok' 0x00 + 8 bytes) or an int32 1.
ok = (b"\x01ok\x00" + struct.pack("<d", 1.0)) in data or (b"\x10ok\x00" + struct.pack("<i", 1)) in data
sys.exit(0 if ok else 1)
PY
}

server_binary() {
  if command -v mongod >/dev/null 2>&1; then
    echo mongod
  elif command -v secantusd-rs >/dev/null 2>&1; then
    echo secantusd-rs
  elif [ -x "$HOME/.cargo/bin/secantusd-rs" ]; then
    echo "$HOME/.cargo/bin/secantusd-rs"
  else
    echo ""
  fi
}

install_secantus() {
  echo "mongo-local.sh: no mongod or secantusd-rs found; installing secantus-mdb $SECANTUS_VERSION with cargo (first time only)" >&2
  if ! command -v cmake >/dev/null 2>&1; then
    echo "mongo-local.sh: secantus-mdb needs cmake; installing it with apt-get" >&2
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake >/dev/null
    else
      echo "mongo-local.sh: cmake is missing and this is not root: run 'sudo apt-get install cmake'" >&2
      exit 1
    fi
  fi
  cargo install secantus-mdb --version "$SECANTUS_VERSION" --locked --ignore-rust-version >&2
}

running_pid() {
  if [ -f "$pidfile" ]; then
    local pid
    pid="$(cat "$pidfile")"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "$pid"
      return 0
    fi
  fi
  return 1
}

start() {
  if ping_server; then
    if pid="$(running_pid)"; then
      echo "mongo-local.sh: already running (pid $pid) at $uri" >&2
    else
      echo "mongo-local.sh: a server not started by this script already answers on port $port; using it" >&2
    fi
    echo "$uri"
    return 0
  fi
  local bin
  bin="$(server_binary)"
  if [ -z "$bin" ]; then
    install_secantus
    bin="$(server_binary)"
    [ -n "$bin" ] || { echo "mongo-local.sh: secantusd-rs still not found after install" >&2; exit 1; }
  fi
  mkdir -p "$dir/db"
  local pin=()
  if [ -n "${TENANTBENCH_MONGO_CPUS:-}" ]; then
    if command -v taskset >/dev/null 2>&1; then
      pin=(taskset -c "$TENANTBENCH_MONGO_CPUS")
    else
      echo "mongo-local.sh: taskset not found (Debian: util-linux); starting unpinned" >&2
    fi
  fi
  if [ "$(basename "$bin")" = mongod ]; then
    nohup "${pin[@]}" "$bin" --bind_ip 127.0.0.1 --port "$port" --dbpath "$dir/db" >"$logfile" 2>&1 &
  else
    local cache=()
    if [ -n "${TENANTBENCH_MONGO_CACHE:-}" ]; then
      cache=(--cache-size "$TENANTBENCH_MONGO_CACHE")
    fi
    nohup "${pin[@]}" "$bin" --host 127.0.0.1 --port "$port" --storage-path "$dir/db" --standalone \
      "${cache[@]}" --log-level WARNING >"$logfile" 2>&1 &
  fi
  local pid=$!
  echo "$pid" >"$pidfile"
  for _ in $(seq 1 300); do
    if ping_server; then
      echo "mongo-local.sh: $(basename "$bin") (pid $pid) answers ping at $uri; data in $dir" >&2
      echo "$uri"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "mongo-local.sh: the server exited during start-up; last lines of $logfile:" >&2
      tail -n 20 "$logfile" >&2 || true
      rm -f "$pidfile"
      exit 1
    fi
    sleep 0.2
  done
  echo "mongo-local.sh: no answer to ping on port $port after 60 s; see $logfile" >&2
  exit 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    echo "mongo-local.sh: no server started by this script is running on port $port" >&2
    rm -f "$pidfile"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "mongo-local.sh: pid $pid did not stop in 10 s; sending KILL" >&2
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  echo "mongo-local.sh: stopped pid $pid (port $port)" >&2
}

status() {
  if ping_server; then
    if pid="$(running_pid)"; then
      echo "running: $uri (pid $pid, started by this script)"
    else
      echo "running: $uri (not started by this script)"
    fi
  else
    echo "not running: nothing answers ping at $uri"
    return 1
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
