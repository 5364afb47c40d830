#!/usr/bin/env bash
# HTTP/2 load benchmark: h2load (Debian's nghttp2-client) with many streams per connection against nginx as an
# HTTP/2 reverse proxy (`listen … http2`, h2c with prior knowledge) and Postern's public route (h2c), both in front
# of the same HTTP/1.1 backend (nginx answering 100 bytes), measured in one run. Reports requests/s and CPU time per
# request of the proxy (utime + stime of its processes, from /proc), and the ratios to nginx.
#
#   bench/h2.sh [-d SECONDS] [-c CONNECTIONS] [-m STREAMS] [-W WORKERS] [-p BASE_PORT] [-r ROUNDS] [-k]
#
# -r runs the two targets alternately that many times (A/B interleaved, the fair comparison on a machine whose speed
# drifts) and reports the means.
set -euo pipefail
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin

bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
# shellcheck source=configs.sh
source "$bench_dir/configs.sh"
POSTERN_BIN=${POSTERN_BIN:-$repo/build/postern}
duration=10 conns=8 streams=100 workers=2 port_base=${BENCH_PORT:-18280} rounds=1 keep_tmp=0

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
die() { echo "h2.sh: $*" >&2; exit 1; }
log() { echo "h2.sh: $*" >&2; }
for b in nginx h2load curl; do
  command -v "$b" >/dev/null || die "missing: $b (make deps installs nginx-light, nghttp2-client, curl)"
done
[[ -x $POSTERN_BIN ]] || die "no Postern binary at $POSTERN_BIN: build it ('make build') or set POSTERN_BIN"

backend_port=$port_base status_port=$((port_base + 1)) nginx_port=$((port_base + 2)) postern_port=$((port_base + 3))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/postern-h2.XXXXXX")
chmod 755 "$tmp"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if ((keep_tmp)); then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_port() {
  local i
  for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  die "nothing answers on 127.0.0.1:$1 (logs in $tmp; -k keeps them)"
}
# cpu_ticks PID: utime + stime of PID and its children (nginx workers), in clock ticks.
cpu_ticks() {
  local total=0 p s f
  for p in $1 $(pgrep -P "$1" || true); do
    { read -r s <"/proc/$p/stat"; } 2>/dev/null || continue
    read -ra f <<<"${s##*) }"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
clk_tck=$(getconf CLK_TCK)

body="Hello from the Postern bench backend (nginx on 127.0.0.1). This body is 100 bytes long"
while ((${#body} < 99)); do body+=.; done
mkdir -p "$tmp/backend" "$tmp/nginx" "$tmp/postern"
write_nginx_conf "$tmp/backend/nginx.conf" "worker_processes $workers;" "$(nginx_backend_servers "$backend_port" "$status_port" "$body")"
nginx -p "$tmp/backend/" -c "$tmp/backend/nginx.conf" >"$tmp/backend/stderr.log" 2>&1 &
pids+=($!)
wait_port "$backend_port"

# nginx as an HTTP/2 (h2c) reverse proxy: the same proxy block as the HTTP/1.1 reference, on an http2 listener.
write_nginx_conf "$tmp/nginx/nginx.conf" "worker_processes $workers;" \
  "$(nginx_proxy_servers "$nginx_port" "$backend_port" | sed "s|listen 127.0.0.1:$nginx_port backlog=4096;|listen 127.0.0.1:$nginx_port http2 backlog=4096;\n        http2_max_concurrent_streams 128;|")"
nginx -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" >"$tmp/nginx/stderr.log" 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")
postern_public_config "$postern_port" "$backend_port" >"$tmp/postern/config.yaml"
echo 'health_check_addr: ""' >>"$tmp/postern/config.yaml"
"$POSTERN_BIN" --config "$tmp/postern/config.yaml" --threads "$workers" >/dev/null 2>"$tmp/postern/stderr.log" &
postern_pid=$!
pids+=("$postern_pid")
for port in "$nginx_port" "$postern_port"; do
  for ((i = 0; i < 100; i++)); do
    [[ $(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version}' --max-time 1 "http://127.0.0.1:$port/") == 2 ]] && break
    sleep 0.1
  done
  [[ $(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code} %{http_version}' "http://127.0.0.1:$port/") == "200 2" ]] ||
    die "127.0.0.1:$port does not answer 200 over h2c (logs in $tmp; -k keeps them)"
done

# measure NAME PORT PID: one h2load run; prints "NAME req/s cpu_us_per_req".
measure() {
  local name=$1 port=$2 pid=$3 t0 t1 out reqs secs
  h2load -c "$conns" -m "$streams" -D 2 "http://127.0.0.1:$port/" >/dev/null 2>&1  # warm-up
  t0=$(cpu_ticks "$pid")
  out=$(h2load -c "$conns" -m "$streams" -D "$duration" "http://127.0.0.1:$port/" 2>&1)
  t1=$(cpu_ticks "$pid")
  reqs=$(awk '/^requests:/ { print $8 }' <<<"$out")   # succeeded
  secs=$(awk '/^finished in/ { sub(/s,$/, "", $3); print $3 }' <<<"$out")
  [[ -n $reqs && $reqs -gt 0 ]] || { echo "$out" >&2; die "$name: no successful requests"; }
  awk -v n="$name" -v r="$reqs" -v s="$secs" -v t="$((t1 - t0))" -v hz="$clk_tck" \
    'BEGIN { printf "%s %.0f %.2f\n", n, r / s, t * 1e6 / hz / r }'
}

results=()
for ((round = 0; round < rounds; round++)); do
  if ((round % 2 == 0)); then order=(nginx postern); else order=(postern nginx); fi
  for t in "${order[@]}"; do
    if [[ $t == nginx ]]; then results+=("$(measure nginx-h2 "$nginx_port" "$nginx_pid")")
    else results+=("$(measure postern-h2 "$postern_port" "$postern_pid")"); fi
    log "${results[-1]}"
  done
done

printf '%s\n' "${results[@]}" | awk -v d="$duration" -v c="$conns" -v m="$streams" -v w="$workers" -v r="$rounds" '
  { rps[$1] += $2; cpu[$1] += $3; n[$1]++ }
  END {
    printf "# HTTP/2 (h2c) load: h2load -c %d -m %d, %d s per run, %d round(s), %d workers each, 100-byte responses\n\n", c, m, d, r, w
    print "| target | req/s | CPU µs/req | req/s ÷ nginx | CPU ÷ nginx |"
    print "| --- | ---: | ---: | ---: | ---: |"
    for (t in rps) {
      a = rps[t] / n[t]; u = cpu[t] / n[t]
      na = rps["nginx-h2"] / n["nginx-h2"]; nu = cpu["nginx-h2"] / n["nginx-h2"]
      printf "| %s | %.0f | %.2f | %.2f | %.2f |\n", t, a, u, a / na, u / nu
    }
  }'
