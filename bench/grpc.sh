#!/usr/bin/env bash
# gRPC unary calls per second through Postern against the same upstream called directly, measured in one run:
# h2load (Debian's nghttp2-client) sends real gRPC unary calls (POST, application/grpc, te: trailers, one framed
# message) to the Echo service of the gRPC e2e tests (@grpc/grpc-js over h2c, bench/grpc-upstream.mjs); Postern's
# route is public with `to: h2c://…`. Reports calls/s, Postern's CPU time per call and the ratio to direct. The
# upstream is a single Node process, so it bounds both figures: the ratio says what the hop costs in throughput.
#
#   bench/grpc.sh [-d SECONDS] [-c CONNECTIONS] [-m STREAMS] [-W WORKERS] [-p BASE_PORT] [-r ROUNDS] [-k]
set -euo pipefail
export LC_ALL=C

bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
# shellcheck source=configs.sh
source "$bench_dir/configs.sh"
POSTERN_BIN=${POSTERN_BIN:-$repo/build/postern}
duration=10 conns=4 streams=50 workers=1 port_base=${BENCH_PORT:-18380} rounds=1 keep_tmp=0

usage() { echo "usage: $0 [-d SECONDS] [-c CONNECTIONS] [-m STREAMS] [-W WORKERS] [-p BASE_PORT] [-r ROUNDS] [-k]"; }
while getopts "d:c:m:W:p:r:kh" opt; do
  case $opt in
    d) duration=$OPTARG ;;
    c) conns=$OPTARG ;;
    m) streams=$OPTARG ;;
    W) workers=$OPTARG ;;
    p) port_base=$OPTARG ;;
    r) rounds=$OPTARG ;;
    k) keep_tmp=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for n in "$duration" "$conns" "$streams" "$workers" "$port_base" "$rounds"; do
  [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || { echo "not a positive number: $n" >&2; exit 2; }
done
die() { echo "grpc.sh: $*" >&2; exit 1; }
log() { echo "grpc.sh: $*" >&2; }
for b in node h2load; do command -v "$b" >/dev/null || die "missing: $b (make deps installs nodejs, nghttp2-client)"; done
[[ -d $repo/node_modules/@grpc/grpc-js ]] || die "no node_modules/@grpc/grpc-js: run 'npm ci' in $repo"
[[ -x $POSTERN_BIN ]] || die "no Postern binary at $POSTERN_BIN: build it ('make build') or set POSTERN_BIN"

postern_port=$port_base
tmp=$(mktemp -d "${TMPDIR:-/tmp}/postern-grpc.XXXXXX")
pids=()
trap_cleanup  # configs.sh: stops "${pids[@]}" and removes $tmp on exit

node "$bench_dir/grpc-upstream.mjs" serve "$tmp/upstream.port" >"$tmp/upstream.count" 2>"$tmp/upstream.log" &
upstream_pid=$!
pids+=("$upstream_pid")
for ((i = 0; i < 100; i++)); do [[ -s $tmp/upstream.port ]] && break; sleep 0.1; done
upstream_port=$(head -n 1 "$tmp/upstream.port" 2>/dev/null) || true
[[ $upstream_port =~ ^[0-9]+$ ]] || die "the gRPC upstream did not start (see $tmp/upstream.log; -k keeps it)"

cat >"$tmp/config.yaml" <<EOF_CONF
address: 127.0.0.1:$postern_port
insecure_server: true
health_check_addr: ""
routes:
  - from: http://127.0.0.1:$postern_port
    to: h2c://127.0.0.1:$upstream_port
    allow_public_unauthenticated_access: true
EOF_CONF
"$POSTERN_BIN" --config "$tmp/config.yaml" --threads "$workers" >/dev/null 2>"$tmp/postern.log" &
postern_pid=$!
pids+=("$postern_pid")
for ((i = 0; i < 100; i++)); do
  node "$bench_dir/grpc-upstream.mjs" call "127.0.0.1:$postern_port" "127.0.0.1:$postern_port" >/dev/null 2>&1 && break
  sleep 0.1
done
node "$bench_dir/grpc-upstream.mjs" call "127.0.0.1:$postern_port" "127.0.0.1:$postern_port" >/dev/null ||
  die "a real gRPC call through Postern failed (logs in $tmp; -k keeps them)"

# One gRPC message: no compression, 4-byte big-endian length, the JSON command.
message='{"echo":"bench"}'
printf "\\x00\\x00\\x00\\x00\\x$(printf %02x "${#message}")%s" "$message" >"$tmp/call.bin"
url_path=/postern.test.Echo/Unary

# measure NAME PORT [PID]: one h2load run; prints "NAME calls/s cpu_us_per_call" (CPU of PID, 0 without one).
measure() {
  local name=$1 port=$2 pid=${3:-} t0=0 t1=0 out calls secs
  local -a args=(-c "$conns" -m "$streams" -d "$tmp/call.bin" -H 'content-type: application/grpc' -H 'te: trailers')
  out=$(h2load "${args[@]}" -D 2 "http://127.0.0.1:$port$url_path" 2>&1)  # warm-up
  awk '/^status codes:/ { gsub(/,/, ""); print $3 }' <<<"$out" >>"$tmp/sent"
  [[ -z $pid ]] || t0=$(proc_cpu_ticks "$pid")
  out=$(h2load "${args[@]}" -D "$duration" "http://127.0.0.1:$port$url_path" 2>&1)
  [[ -z $pid ]] || t1=$(proc_cpu_ticks "$pid")
  calls=$(awk '/^status codes:/ { gsub(/,/, ""); print $3 }' <<<"$out")   # 2xx
  echo "$calls" >>"$tmp/sent"
  secs=$(awk '/^finished in/ { sub(/s,$/, "", $3); print $3 }' <<<"$out")
  [[ -n $calls && $calls -gt 0 ]] || { echo "$out" >&2; die "$name: no successful calls"; }
  awk -v n="$name" -v r="$calls" -v s="$secs" -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%s %.0f %.2f\n", n, r / s, t * 1e6 / hz / r }'
}

results=()
for ((round = 0; round < rounds; round++)); do
  if ((round % 2 == 0)); then order=(direct postern); else order=(postern direct); fi
  for t in "${order[@]}"; do
    case $t in
      direct) results+=("$(measure direct "$upstream_port")") ;;
      postern) results+=("$(measure postern-grpc "$postern_port" "$postern_pid")") ;;
    esac
    log "${results[-1]}"
  done
done
kill -TERM "$upstream_pid"
wait "$upstream_pid" 2>/dev/null || true
# Every 2xx must be a call the service answered (a malformed message would be a 200 with a grpc-status error).
sent=$(awk '{ n += $1 } END { print n }' "$tmp/sent")
answered=$(head -n 1 "$tmp/upstream.count")
log "h2load got $sent HTTP 2xx answers; the gRPC service answered $answered calls"
[[ $answered -ge $sent ]] || die "the service answered fewer calls than h2load counted: the calls were not valid"

printf '%s\n' "${results[@]}" | awk -v d="$duration" -v c="$conns" -v m="$streams" -v w="$workers" -v r="$rounds" '
  { rps[$1] += $2; cpu[$1] += $3; n[$1]++ }
  END {
    printf "# gRPC unary calls: h2load -c %d -m %d, %d s per run, %d round(s), Postern with %d worker(s), grpc-js upstream (h2c)\n\n", c, m, d, r, w
    print "| target | calls/s | Postern CPU µs/call | calls/s ÷ direct |"
    print "| --- | ---: | ---: | ---: |"
    da = rps["direct"] / n["direct"]
    printf "| direct | %.0f | - | 1.00 |\n", da
    pa = rps["postern-grpc"] / n["postern-grpc"]
    printf "| postern-grpc | %.0f | %.2f | %.2f |\n", pa, cpu["postern-grpc"] / n["postern-grpc"], pa / da
  }'
