#!/usr/bin/env bash
# Instructions per proxied request, user space, for nginx as a plain reverse proxy and for Postern on a public
# route, measured in one run under valgrind's callgrind. Unlike CPU time, instruction counts do not drift with what
# else the machine is doing, so a change to the data path shows up here as a number that repeats to within a percent
# (see bench/README.md).
#
#   bench/instructions.sh [-d SECONDS] [-c CONNECTIONS] [-p BASE_PORT] [-s] [-k]
#
# With -b, also the public route over three targets balanced by round_robin, least_request and ring_hash.
# With -m, also the public route with metrics on (metrics_address; postern-metrics, scraped once a second during the
# run) and with tracing on (postern-traced: otel_traces_exporter otlp to a local receiver, every request sampled).
# With -s, also Postern on a route that needs a signed-in user, twice: with allow_any_authenticated_user
# (postern-signin), with the 5-criteria policy of bench/configs.sh (postern-policy), and with the PostgreSQL session
# store on a private cluster (postern-signin-pg: the cache in front of it is the hot path), each signed in once through
# the Okta simulator (tests/okta-sim) with wrk sending the session cookie: what a policy costs per request.
#
# Each proxy runs one worker under callgrind in front of the same backend (nginx answering 100 bytes); wrk loads it
# with keep-alive connections; counters are zeroed after a warm-up and dumped after the measured run. Requests are
# counted by the backend (its stub_status), the same way for both. Kernel work (syscalls) is not counted: that is
# what bench/run.sh measures with CPU time.
set -euo pipefail
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin

bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
# shellcheck source=configs.sh
source "$bench_dir/configs.sh"
POSTERN_BIN=${POSTERN_BIN:-$repo/build/postern}
duration=8 conns=256 port_base=${BENCH_PORT:-18180} keep_tmp=0 signed_in=0 balancers=0 ops=0

usage() { echo "usage: $0 [-d SECONDS] [-c CONNECTIONS] [-p BASE_PORT] [-s] [-b] [-m] [-k]"; }
while getopts "d:c:p:sbmkh" opt; do
  case $opt in
    s) signed_in=1 ;;
    m) ops=1 ;;
    b) balancers=1 ;;
    d) duration=$OPTARG ;;
    c) conns=$OPTARG ;;
    p) port_base=$OPTARG ;;
    k) keep_tmp=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for n in "$duration" "$conns" "$port_base"; do [[ $n =~ ^[0-9]+$ ]] || { echo "not a number: $n" >&2; exit 2; }; done

die() { echo "instructions.sh: $*" >&2; exit 1; }
log() { echo "instructions.sh: $*" >&2; }
for b in nginx wrk curl valgrind callgrind_control; do
  command -v "$b" >/dev/null || die "missing: $b (make deps installs nginx-light, wrk, curl, valgrind)"
done
[[ -x $POSTERN_BIN ]] || die "no Postern binary at $POSTERN_BIN: build it ('make build') or set POSTERN_BIN"

backend_port=$port_base status_port=$((port_base + 1)) nginx_port=$((port_base + 2)) postern_port=$((port_base + 3))
signin_port=$((port_base + 4))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/postern-instr.XXXXXX")
chmod 755 "$tmp"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ -z ${pg_data:-} ]] || bench_pg_stop "$pg_data"
  if ((keep_tmp)); then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_port() {
  local i
  for ((i = 0; i < 300; i++)); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  die "nothing answers on 127.0.0.1:$1 (logs in $tmp; -k keeps them)"
}

nginx_conf() {  # NAME MAIN-DIRECTIVES SERVERS
  mkdir -p "$tmp/$1"
  write_nginx_conf "$tmp/$1/nginx.conf" "$2" "$3"
}

body="Hello from the Postern bench backend (nginx on 127.0.0.1). This body is 100 bytes long"
while ((${#body} < 99)); do body+=.; done
nginx_conf backend "worker_processes 1;" "$(nginx_backend_servers "$backend_port" "$status_port" "$body")"
nginx -p "$tmp/backend/" -c "$tmp/backend/nginx.conf" >"$tmp/backend/stderr.log" 2>&1 &
pids+=($!)
wait_port "$backend_port"

backend_requests() { curl -s --max-time 5 "http://127.0.0.1:$status_port/" | awk 'NR == 3 { print $3 }'; }

# measure NAME PORT PID [HEADER]: instructions per request of the callgrind-run process PID serving PORT (wrk sends
# HEADER, a session cookie, with every request when given).
measure() {
  local name=$1 port=$2 pid=$3 before after out total
  local -a header=()
  [[ -z ${4:-} ]] || header=(-H "$4")
  wrk -t1 -c"$conns" -d3 "${header[@]}" "http://127.0.0.1:$port/" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  before=$(backend_requests)
  wrk -t1 -c"$conns" -d"${duration}s" "${header[@]}" "http://127.0.0.1:$port/" >"$tmp/$name.wrk"
  after=$(backend_requests)
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  out=$(ls -t "$tmp/$name".callgrind.* 2>/dev/null | head -n 1)
  [[ -n $out ]] || die "$name: callgrind wrote no dump"
  total=$(awk '/^totals:/ { print $2 }' "$out")
  [[ -n $total && $after -gt $before ]] || die "$name: no measurement (total '$total', requests $before -> $after)"
  echo "$name $((after - before)) $total"
}

results=()

nginx_conf nginx "worker_processes 1; master_process off;" "$(nginx_proxy_servers "$nginx_port" "$backend_port")"
valgrind --tool=callgrind --callgrind-out-file="$tmp/nginx.callgrind" \
  nginx -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" >"$tmp/nginx/stderr.log" 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")
wait_port "$nginx_port"
log "measuring nginx (callgrind, ${duration}s at $conns connections)"
results+=("$(measure nginx "$nginx_port" "$nginx_pid")")
kill -TERM "$nginx_pid" 2>/dev/null || true
wait "$nginx_pid" 2>/dev/null || true

# start_postern NAME PORT: Postern with $tmp/NAME/config.yaml, one worker, under callgrind; sets pid once PORT answers.
start_postern() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/$1.callgrind" \
    "$POSTERN_BIN" --config "$tmp/$1/config.yaml" --threads 1 >"$tmp/$1/access.log" 2>"$tmp/$1/stderr.log" &
  pid=$!
  pids+=("$pid")
  wait_port "$2"
}

mkdir -p "$tmp/postern"
postern_public_config "$postern_port" "$backend_port" >"$tmp/postern/config.yaml"
start_postern postern "$postern_port"
postern_pid=$pid
log "measuring postern (callgrind, ${duration}s at $conns connections; access log on)"
results+=("$(measure postern "$postern_port" "$postern_pid")")
kill -TERM "$postern_pid" 2>/dev/null || true
wait "$postern_pid" 2>/dev/null || true

# -b: the public route over three targets by each balancer (bench/configs.sh postern_three_targets_config).
if ((balancers)); then
  # postern-hdr: the one-target public route with the X-Tenant header wrk sends to postern-ring3 (its baseline).
  for pair in postern-rr3:ROUND_ROBIN postern-lr3:LEAST_REQUEST postern-hdr:ONE postern-ring3:RING_HASH; do
    name=${pair%%:*} policy=${pair#*:}
    mkdir -p "$tmp/$name"
    if [[ $policy == ONE ]]; then postern_public_config "$postern_port" "$backend_port" >"$tmp/$name/config.yaml"
    else postern_three_targets_config "$postern_port" "$backend_port" "$policy" >"$tmp/$name/config.yaml"; fi
    start_postern "$name" "$postern_port"
    log "measuring $name (callgrind, ${duration}s at $conns connections; three targets, $policy)"
    # ring_hash hashes the X-Tenant header wrk sends (parsing and forwarding it is part of its figure)
    if [[ $policy == RING_HASH || $policy == ONE ]]; then results+=("$(measure "$name" "$postern_port" "$pid" "X-Tenant: bench")")
    else results+=("$(measure "$name" "$postern_port" "$pid")"); fi
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
fi

# -m: metrics on (scraped every second while measured) and traces on (every request, to a receiver that answers 200).
if ((ops)); then
  metrics_port=$((port_base + 6)) otlp_port=$((port_base + 7))
  mkdir -p "$tmp/postern-metrics" "$tmp/postern-traced"
  { postern_public_config "$postern_port" "$backend_port"; echo "metrics_address: 127.0.0.1:$metrics_port"; } \
    >"$tmp/postern-metrics/config.yaml"
  start_postern postern-metrics "$postern_port"
  ( while sleep 1; do curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$metrics_port/metrics" || true; done ) &
  scraper=$!
  log "measuring postern-metrics (callgrind, ${duration}s at $conns connections; scraped every second)"
  results+=("$(measure postern-metrics "$postern_port" "$pid")")
  kill "$scraper" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  command -v node >/dev/null || die "-m needs node for the OTLP receiver"
  node -e 'require("http").createServer((q, r) => { q.resume(); q.on("end", () => { r.writeHead(200, {"content-type": "application/json"}); r.end("{}"); }); }).listen(+process.argv[1], "127.0.0.1")' "$otlp_port" &
  pids+=($!)
  { postern_public_config "$postern_port" "$backend_port"
    printf 'otel_traces_exporter: otlp\notel_exporter_otlp_endpoint: http://127.0.0.1:%s\n' "$otlp_port"; } \
    >"$tmp/postern-traced/config.yaml"
  start_postern postern-traced "$postern_port"
  log "measuring postern-traced (callgrind, ${duration}s at $conns connections; every request traced)"
  results+=("$(measure postern-traced "$postern_port" "$pid")")
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
fi

if ((signed_in)); then
  command -v node >/dev/null || die "-s needs node (20+) for the Okta simulator"
  mkdir -p "$tmp/okta-sim"
  node "$repo/tests/okta-sim/server.mjs" --host 127.0.0.1 --port 0 --seed "$repo/tests/okta-sim/seed/demo.json" \
    --url-file "$tmp/okta-sim/url" >"$tmp/okta-sim/stdout.log" 2>"$tmp/okta-sim/stderr.log" </dev/null &
  pids+=($!)
  for ((i = 0; i < 150; i++)); do [[ -s $tmp/okta-sim/url ]] && break; sleep 0.1; done
  sleep 0.05
  sim_url=$(head -n 1 "$tmp/okta-sim/url")
  [[ $sim_url =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || die "the Okta simulator did not start (logs in $tmp; -k keeps them)"
  pg_data=$(bench_pg_start "$tmp/pg" "$((port_base + 5))") || die "PostgreSQL did not start"
  for name in postern-signin postern-policy postern-signin-pg; do
    client_id=postern-instr-$name-$RANDOM client_secret=instr-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    code=$(sim_register_client "$sim_url" "$signin_port" "$client_id" "$client_secret" "$tmp/okta-sim/$name.json")
    [[ $code == 2?? ]] || die "the Okta simulator refused the client registration (HTTP $code)"
    mkdir -p "$tmp/$name"
    postern_signin_config "$name" "$signin_port" "$backend_port" "$sim_url" "$client_id" "$client_secret" \
      >"$tmp/$name/config.yaml"
    [[ $name != postern-signin-pg ]] ||
      printf 'databroker_storage_type: postgres\ndatabroker_storage_connection_string: postgresql://postgres@127.0.0.1:%s/postgres\n' \
        "$((port_base + 5))" >>"$tmp/$name/config.yaml"
    start_postern "$name" "$signin_port"
    cookie=$(node "$bench_dir/signin.mjs" "http://127.0.0.1:$signin_port/" 2>"$tmp/$name/signin.log") ||
      { cat "$tmp/$name/signin.log" >&2; die "$name: signing in failed"; }
    log "measuring $name (callgrind, ${duration}s at $conns connections; signed in, access and authorize logs on)"
    results+=("$(measure "$name" "$signin_port" "$pid" "Cookie: $cookie")")
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  bench_pg_stop "$pg_data"
  pg_data=
fi

{
  echo "# Instructions per proxied request (user space, callgrind), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo
  echo "- $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(valgrind --version); $("$POSTERN_BIN" --version 2>/dev/null | head -n 1)"
  echo "- one worker each, wrk -t1 -c$conns -d${duration}s after a 3 s warm-up, 100-byte responses; requests counted by the backend"
  echo
  echo "| proxy | requests | instructions | instructions/request | ÷ nginx |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  read -r _ nginx_reqs nginx_total <<<"${results[0]}"
  nginx_per=$((nginx_total / nginx_reqs))
  for r in "${results[@]}"; do
    read -r name reqs total <<<"$r"
    per=$((total / reqs))
    awk -v n="$name" -v r="$reqs" -v t="$total" -v p="$per" -v b="$nginx_per" \
      'BEGIN { printf "| %s | %d | %d | %d | %.2f |\n", n, r, t, p, p / b }'
  done
}
