#!/usr/bin/env bash
# Memory across configuration reloads: starts Postern, rewrites its configuration N times (default 1,000), each time
# alternating between two route sets with policies, health checks and a regex so a reload rebuilds everything, waits
# for each "configuration reloaded" line, sends a request through the new routes, and reports the process's
# resident memory (VmRSS) and heap in use every 100 reloads. Pomerium had multi-gigabyte growth here (its issue
# #5185); the figure to look at is the growth from reload 100 (warm) to the last.
#
#   bench/reload-memory.sh [-n RELOADS] [-p PORT]
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
POSTERN_BIN=${POSTERN_BIN:-$repo/build/postern}
reloads=1000 port=18390
while getopts "n:p:h" opt; do
  case $opt in
    n) reloads=$OPTARG ;;
    p) port=$OPTARG ;;
    *) echo "usage: $0 [-n RELOADS] [-p PORT]" >&2; exit 2 ;;
  esac
done
tmp=$(mktemp -d)
pid=
cleanup() { [[ -z $pid ]] || kill "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

config() {  # VARIANT: two route sets
  cat <<YAML
address: 127.0.0.1:$port
insecure_server: true
health_check_addr: ""
shared_secret: YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=
cookie_secret: YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=
routes:
YAML
  local i
  for ((i = 0; i < 20; i++)); do
    cat <<YAML
  - from: http://app$i-v$1.example.test
    regex: "^/(api|ui)/v[0-9]+/.*$"
    to: [http://127.0.0.1:1, http://127.0.0.2:1]
    lb_policy: RING_HASH
    outlier_detection: {consecutive_5xx: 3}
    policy:
      - allow:
          or:
            - email: {ends_with: "@example.com"}
            - http_path: {starts_with: /api/public}
YAML
  done
  echo "  - from: http://probe.example.test"
  echo "    to: http://127.0.0.1:1"
  echo "    allow_public_unauthenticated_access: true"
}

config 0 >"$tmp/config.yaml"
"$POSTERN_BIN" --config "$tmp/config.yaml" --threads 2 >/dev/null 2>"$tmp/stderr.log" &
pid=$!
for ((i = 0; i < 100; i++)); do grep -q '"msg":"listening"' "$tmp/stderr.log" 2>/dev/null && break; sleep 0.1; done
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
echo "reloads  VmRSS_KiB"
echo "0        $(rss)"
for ((n = 1; n <= reloads; n++)); do
  config $((n % 2)) >"$tmp/config.yaml.new"
  mv "$tmp/config.yaml.new" "$tmp/config.yaml"
  for ((w = 0; w < 200; w++)); do
    (( $(grep -c '"msg":"configuration reloaded"' "$tmp/stderr.log") >= n )) && break
    sleep 0.02
  done
  (( $(grep -c '"msg":"configuration reloaded"' "$tmp/stderr.log") >= n )) || { tail -5 "$tmp/stderr.log" >&2; echo "reload $n did not happen" >&2; exit 1; }
  curl -s -o /dev/null -H "Host: probe.example.test" "http://127.0.0.1:$port/" || true
  ((n % 100 == 0)) && echo "$n     $(rss)"
done
grep -c '"msg":"configuration reload failed' "$tmp/stderr.log" | sed 's/^/failed reloads: /'
