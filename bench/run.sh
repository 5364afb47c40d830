#!/usr/bin/env bash
# Load benchmark: the backend hit directly, nginx as a plain reverse proxy, Postern on a public route, and Postern on
# a route that needs a signed-in user (signed in through tests/okta-sim; wrk sends the session cookie), measured in
# one run with wrk (keep-alive). See bench/README.md.
#
#   bench/run.sh [-d SECONDS] [-w SECONDS] [-c "32 256"] [-p BASE_PORT] [-W WORKERS] [-k] [TARGET...]
#
# Targets: direct nginx postern postern-signin postern-policy postern-signin-pg (default: all six), postern-metrics,
# postern-rr3 postern-lr3 postern-ring3. Everything listens on 127.0.0.1; all run-time files live
# in one temp dir (removed on exit unless -k); the table goes to stdout and bench/results/<timestamp>.md.
set -euo pipefail
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin   # nginx lives in /usr/sbin

bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
# shellcheck source=configs.sh
source "$bench_dir/configs.sh"
POSTERN_BIN=${POSTERN_BIN:-$repo/build/postern}

duration=10 warmup=2 conns="32 256" port_base=${BENCH_PORT:-18080} workers=2 keep_tmp=0

usage() {
  cat <<EOF
usage: $0 [-d SECONDS] [-w SECONDS] [-c "32 256"] [-p BASE_PORT] [-W WORKERS] [-k] [TARGET...]
  -d  measured wrk run per target and connection count (default $duration)
  -w  wrk warm-up before each measured run, 0 = none (default $warmup)
  -c  connection counts (default "$conns")
  -p  first of seven ports: backend, backend stub_status, nginx, postern, postern-signin, PostgreSQL, metrics
      (default $port_base, or \$BENCH_PORT); the Okta simulator picks a free port of its own
  -W  worker processes/threads of the backend, nginx and postern (default $workers)
  -k  keep the temp dir (configs, logs, wrk output) and print its path
targets: direct nginx postern postern-signin postern-policy postern-signin-pg postern-metrics postern-rr3 postern-lr3 postern-ring3 (default: the first six; postern-metrics: the public route with metrics_address set, scraped every second; the last three: the public route over three targets by round_robin, least_request and ring_hash); postern binary: \$POSTERN_BIN or build/postern
EOF
}

while getopts "d:w:c:p:W:kh" opt; do
  case $opt in
    d) duration=$OPTARG ;;
    w) warmup=$OPTARG ;;
    c) conns=$OPTARG ;;
    p) port_base=$OPTARG ;;
    W) workers=$OPTARG ;;
    k) keep_tmp=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
((${#targets[@]})) || targets=(direct nginx postern postern-signin postern-policy postern-signin-pg)

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "run.sh: $*" >&2; }

for n in "$duration" "$warmup" "$port_base" "$workers" $conns; do
  [[ $n =~ ^[0-9]+$ ]] || die "not a number: '$n'"
done
((duration > 0 && workers > 0)) || die "-d and -W must be > 0"
[[ -n ${conns// /} ]] || die "-c needs at least one connection count"
for t in "${targets[@]}"; do
  case $t in direct | nginx | postern | postern-signin | postern-policy | postern-signin-pg | postern-metrics | postern-rr3 | postern-lr3 | postern-ring3) ;; *) usage >&2; die "unknown target '$t'" ;; esac
done

target_header=
backend_port=$port_base status_port=$((port_base + 1)) nginx_port=$((port_base + 2)) postern_port=$((port_base + 3))
signin_port=$((port_base + 4)) pg_port=$((port_base + 5)) metrics_port=$((port_base + 6))
has_target() { [[ " ${targets[*]} " == *" $1 "* ]]; }
uses_postern() { has_target postern || has_target postern-metrics || has_target postern-signin || has_target postern-policy || has_target postern-signin-pg || has_target postern-rr3 || has_target postern-lr3 || has_target postern-ring3; }
uses_signin() { has_target postern-signin || has_target postern-policy || has_target postern-signin-pg; }
is_signin() { [[ $1 == postern-signin || $1 == postern-policy || $1 == postern-signin-pg ]]; }

# postern-signin: the Okta simulator's demo seed and the user signed in as
sim_server=$repo/tests/okta-sim/server.mjs sim_seed=$repo/tests/okta-sim/seed/demo.json
signin_user=alice@example.com signin_password=alice-password

# --- prerequisites -------------------------------------------------------------------------------------------
missing=()
for b in nginx wrk curl timeout; do command -v "$b" >/dev/null || missing+=("$b"); done
if ((${#missing[@]})); then
  die "missing: ${missing[*]}. Install with 'make deps' (Debian packages nginx-light, wrk, curl)."
fi
if uses_signin; then
  command -v node >/dev/null || die "postern-signin needs node (20+) for the Okta simulator"
  [[ -d $repo/node_modules ]] || die "postern-signin needs the simulator's Node packages: run 'npm ci' in $repo"
fi
if uses_postern && [[ ! -x $POSTERN_BIN ]]; then
  die "no Postern binary at $POSTERN_BIN: build it ('make build') or set POSTERN_BIN"
fi

# --- process bookkeeping: everything we start is stopped on exit, error or Ctrl-C ----------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/postern-bench.XXXXXX")
chmod 755 "$tmp"   # nginx workers run as 'nobody' when started as root
started=()         # root PIDs we started, in order
wrk_pid=

alive() { [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# proc_tree PID: the PID and all its live descendants (nginx master -> workers).
proc_tree() {
  local -A kids=()
  local f s pid ppid
  for f in /proc/[0-9]*/stat; do
    { read -r s <"$f"; } 2>/dev/null || continue
    pid=${s%% *} s=${s##*) } && ppid=${s#* } && ppid=${ppid%% *}
    kids[$ppid]+=" $pid"
  done
  local queue=("$1") tree=() more
  while ((${#queue[@]})); do
    pid=${queue[0]} queue=("${queue[@]:1}")
    tree+=("$pid")
    read -ra more <<<"${kids[$pid]:-}"
    queue+=("${more[@]}")
  done
  echo "${tree[@]}"
}

# stop PID: SIGTERM, up to 10 s grace, then SIGKILL it and the descendants it had.
stop() {
  local pid=$1 tree i
  alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  read -ra tree <<<"$(proc_tree "$pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    log "pid $pid ignored SIGTERM, killing it"
    kill -KILL "${tree[@]}" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# forget_and_stop PID: stop a target after its runs and drop it from the cleanup list.
forget_and_stop() {
  local p keep=()
  stop "$1"
  for p in "${started[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  started=("${keep[@]}")
}

cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  [[ -n $wrk_pid ]] && stop "$wrk_pid"
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do stop "${started[i]}"; done
  [[ -z $pg_data ]] || bench_pg_stop "$pg_data"
  if ((keep_tmp)); then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT PID LOGFILE: until PORT accepts connections; fail if PID dies or after 10 s.
wait_port() {
  local i
  for ((i = 0; i < 100; i++)); do
    port_open "$1" && return 0
    alive "$2" || { tail -n 20 "$3" >&2; die "process $2 exited before listening on $1 (log: $3)"; }
    sleep 0.1
  done
  tail -n 20 "$3" >&2
  die "nothing listening on 127.0.0.1:$1 after 10 s (log: $3)"
}

for p in "$backend_port" "$status_port" "$nginx_port" "$postern_port" "$signin_port"; do
  ! port_open "$p" || die "127.0.0.1:$p is already in use; pick other ports with -p BASE_PORT"
done

# --- backend: nginx answering every request with a fixed 100-byte body --------------------------------------
body="Hello from the Postern bench backend (nginx on 127.0.0.1). This body is 100 bytes long"
while ((${#body} < 99)); do body+=.; done
printf '%s\n' "$body" >"$tmp/body.txt"

# nginx_conf NAME WORKERS SERVERS...: write $tmp/NAME/nginx.conf (run as `nginx -p $tmp/NAME/`).
nginx_conf() {
  local name=$1 nworkers=$2
  shift 2
  mkdir -p "$tmp/$name"
  write_nginx_conf "$tmp/$name/nginx.conf" "worker_processes $nworkers;" "$*"
}

# start_nginx NAME PORT: run nginx with $tmp/NAME/nginx.conf as our child (daemon off); sets nginx_pid.
start_nginx() {
  local dir=$tmp/$1
  nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" -t >"$dir/configtest.log" 2>&1 ||
    { cat "$dir/configtest.log" >&2; die "nginx rejected $dir/nginx.conf"; }
  nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/stderr.log" 2>&1 &
  nginx_pid=$!
  started+=("$nginx_pid")
  wait_port "$2" "$nginx_pid" "$dir/error.log"
}

nginx_conf backend "$workers" "$(nginx_backend_servers "$backend_port" "$status_port" "$body")"

# --- targets: start_TARGET sets target_pid, target_port and target_cookie (Cookie header wrk sends, or empty) ---
start_direct() { target_pid=$backend_pid target_port=$backend_port target_cookie=; }

start_nginx_proxy() {
  nginx_conf nginx "$workers" "$(nginx_proxy_servers "$nginx_port" "$backend_port")"
  start_nginx nginx "$nginx_port"
  target_pid=$nginx_pid target_port=$nginx_port target_cookie=
}

# run_postern NAME PORT: run Postern with $tmp/NAME/config.yaml; sets target_pid and target_port.
run_postern() {
  local dir=$tmp/$1
  # stdout is the access log; appended so that truncating it between runs (to save disk) is safe
  "$POSTERN_BIN" --config "$dir/config.yaml" --threads "$workers" >>"$dir/access.log" 2>"$dir/stderr.log" &
  target_pid=$! target_port=$2 target_cookie=
  started+=("$target_pid")
  wait_port "$2" "$target_pid" "$dir/stderr.log"
}

start_postern() {
  mkdir -p "$tmp/postern"
  postern_public_config "$postern_port" "$backend_port" >"$tmp/postern/config.yaml"
  run_postern postern "$postern_port"
}

# start_postern_metrics: the public route with metrics on (metrics_address), and a scraper that GETs /metrics once a
# second for as long as the target runs (Prometheus' default is once a minute: this is the heavier case).
start_postern_metrics() {
  mkdir -p "$tmp/postern-metrics"
  { postern_public_config "$postern_port" "$backend_port"; echo "metrics_address: 127.0.0.1:$metrics_port"; } \
    >"$tmp/postern-metrics/config.yaml"
  run_postern postern-metrics "$postern_port"
  curl -sf --max-time 5 -o "$tmp/postern-metrics/first.prom" "http://127.0.0.1:$metrics_port/metrics" ||
    die "postern-metrics does not serve /metrics on 127.0.0.1:$metrics_port"
  (while sleep ${BENCH_SCRAPE_SECONDS:-1}; do curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$metrics_port/metrics"; done) &
  scraper_pid=$!
  started+=("$scraper_pid")
}

# start_postern_three NAME POLICY: the public route over three targets (the backend on 127.0.0.1, .2 and .3) balanced
# by POLICY; ring_hash hashes an X-Tenant header wrk sends.
start_postern_three() {
  mkdir -p "$tmp/$1"
  postern_three_targets_config "$postern_port" "$backend_port" "$2" >"$tmp/$1/config.yaml"
  run_postern "$1" "$postern_port"
  [[ $2 != RING_HASH ]] || target_header="X-Tenant: bench"
}

# start_sim: the Okta simulator (demo seed) on a free port; sets sim_pid and sim_url.
start_sim() {
  local dir=$tmp/okta-sim i
  mkdir -p "$dir"
  rm -f "$dir/url" "$dir/client.json"   # a previous target's simulator left its own
  node "$sim_server" --host 127.0.0.1 --port 0 --seed "$sim_seed" --url-file "$dir/url" \
    >"$dir/stdout.log" 2>"$dir/stderr.log" </dev/null &
  sim_pid=$!
  started+=("$sim_pid")
  for ((i = 0; i < 150; i++)); do
    [[ -s $dir/url ]] && break
    alive "$sim_pid" || { tail -n 20 "$dir/stderr.log" >&2; die "the Okta simulator exited at start (log: $dir/stderr.log)"; }
    sleep 0.1
  done
  sleep 0.05   # --url-file is written in one go, but not necessarily atomically
  sim_url=$(head -n 1 "$dir/url")
  [[ $sim_url =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || { tail -n 20 "$dir/stderr.log" >&2; die "the Okta simulator did not report its URL (got '$sim_url')"; }
}

# sim_calls: non-control requests the simulator has served so far (authorize, token, JWKS, userinfo, ...).
sim_calls() {
  local n
  n=$(curl -sf --max-time 5 "$sim_url/__sim/calls" | grep -o '"count":[0-9]*' | head -n 1) || true
  n=${n#*:}
  [[ $n =~ ^[0-9]+$ ]] || die "cannot read the Okta simulator's call counter at $sim_url/__sim/calls"
  echo "$n"
}

# postern-signin-pg: a private PostgreSQL cluster in the temp dir (bench_pg_start in configs.sh).
pg_data=
start_pg() {
  [[ -z $pg_data ]] || return 0
  pg_data=$(bench_pg_start "$tmp/pg" "$pg_port") || die "PostgreSQL did not start (see $tmp/pg; -k keeps it)"
  log "PostgreSQL on 127.0.0.1:$pg_port ($tmp/pg)"
}

# Postern on a route that needs a signed-in user, with the Okta simulator as its IdP; signs in once (bench/signin.mjs)
# and hands wrk the session cookie. The simulator is not part of the target: its CPU is not counted.
# start_postern_signin NAME: postern-signin authorizes with allow_any_authenticated_user, postern-policy with the
# 5-criteria policy of bench/configs.sh (postern_policy_rules); everything else is the same.
start_postern_signin() {
  local name=$1 dir=$tmp/$1 client_id client_secret code
  start_sim
  client_id=postern-bench-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
  client_secret=bench-$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  code=$(sim_register_client "$sim_url" "$signin_port" "$client_id" "$client_secret" "$tmp/okta-sim/client.json")
  [[ $code == 2?? ]] || { cat "$tmp/okta-sim/client.json" >&2; die "the Okta simulator refused the client registration (HTTP $code)"; }
  mkdir -p "$dir"
  postern_signin_config "$name" "$signin_port" "$backend_port" "$sim_url" "$client_id" "$client_secret" >"$dir/config.yaml"
  if [[ $name == postern-signin-pg ]]; then
    start_pg
    printf 'databroker_storage_type: postgres\ndatabroker_storage_connection_string: postgresql://postgres@127.0.0.1:%s/postgres\n' \
      "$pg_port" >>"$dir/config.yaml"
  fi
  run_postern "$name" "$signin_port"
  check_redirects "$signin_port" "$name"
  target_cookie=$(node "$bench_dir/signin.mjs" "http://127.0.0.1:$signin_port/" "$signin_user" "$signin_password" \
    2>"$dir/signin.log") || { cat "$dir/signin.log" >&2; die "$name: signing in as $signin_user failed"; }
  [[ $target_cookie == _pomerium=?* ]] || die "$name: bench/signin.mjs printed no cookie"
  [[ ! -s $dir/signin.log ]] || sed 's/^/run.sh: /' "$dir/signin.log" >&2
  log "$name: signed in as $signin_user through $sim_url (cookie ${#target_cookie} bytes)"
}

# --- measurement helpers -------------------------------------------------------------------------------------
clk_tck=$(getconf CLK_TCK)

# cpu_ticks PID: utime+stime (+ reaped children's) of PID and its descendants, in clock ticks.
cpu_ticks() {
  local pid s f total=0
  for pid in $(proc_tree "$1"); do
    { read -r s <"/proc/$pid/stat"; } 2>/dev/null || continue
    read -ra f <<<"${s##*) }"   # f[0] = state, f[11..14] = utime stime cutime cstime
    total=$((total + f[11] + f[12] + f[13] + f[14]))
  done
  echo "$total"
}

backend_requests() {
  local n
  n=$(curl -sf --max-time 5 "http://127.0.0.1:$status_port/" | awk 'NR == 3 { print $3 }') || true
  [[ $n =~ ^[0-9]+$ ]] || die "cannot read the backend's request counter on 127.0.0.1:$status_port"
  echo "$n"
}

# check_serves PORT NAME [COOKIE]: one GET (sending COOKIE, if given) must return 200 and exactly the backend's body.
check_serves() {
  local code args=()
  [[ -z ${3:-} ]] || args=(-H "Cookie: $3")
  code=$(curl -s --max-time 5 -o "$tmp/check.out" -w '%{http_code}' "${args[@]}" "http://127.0.0.1:$1/") || true
  if [[ $code != 200 ]] || ! cmp -s "$tmp/check.out" "$tmp/body.txt"; then
    die "$2 on 127.0.0.1:$1 does not serve the backend's body${3:+ with the session cookie} (HTTP $code; rerun with -k and look at the logs in the temp dir)"
  fi
}

# check_redirects PORT NAME: one GET without a cookie must be a 302 to the authenticate host (http://localhost:PORT/).
check_redirects() {
  local out code loc
  out=$(curl -s --max-time 5 -o /dev/null -w '%{http_code} %{redirect_url}' \
    -H 'Accept: text/html' "http://127.0.0.1:$1/") || true
  code=${out%% *} loc=${out#* }
  if [[ $code != 302 || $loc != "http://localhost:$1/"* ]]; then
    die "$2 on 127.0.0.1:$1 does not send a request without a session to sign-in (HTTP $code, Location '$loc')"
  fi
}

# check_target NAME: what the target must do before and after every measured run.
check_target() {
  check_serves "$target_port" "$1" "$target_cookie"
  ! is_signin "$1" || check_redirects "$target_port" "$1"
}

# run_wrk OUTFILE SECONDS CONNS URL [wrk args...] (plus -H "Cookie: $target_cookie" when set): wrk -t1 in the background (so Ctrl-C is handled at once),
# bounded by timeout.
run_wrk() {
  local out=$1 secs=$2 c=$3 url=$4 rc=0
  shift 4
  [[ -z $target_cookie ]] || set -- -H "Cookie: $target_cookie" "$@"
  [[ -z $target_header ]] || set -- -H "$target_header" "$@"
  timeout -k 5 $((secs + 30)) wrk -t1 -c"$c" -d"${secs}s" "$@" "$url" >"$out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || rc=$?
  wrk_pid=
  ((rc == 0)) || { cat "$out" >&2; die "wrk failed (exit $rc)"; }
}

# wrk prints one machine-readable line at the end: requests, seconds, errors, p50 and p99 in microseconds.
cat >"$tmp/report.lua" <<'EOF'
done = function(s, lat, _)
  local e = s.errors
  io.write(string.format("BENCH %d %.6f %d %.1f %.1f\n", s.requests, s.duration / 1e6,
    e.connect + e.read + e.write + e.timeout + e.status, lat:percentile(50), lat:percentile(99)))
end
EOF

# measure TARGET CONNS: append one row to $tmp/rows.tsv.
measure() {
  local t=$1 c=$2 url="http://127.0.0.1:$target_port/" out="$tmp/wrk-$1-$2.txt"
  local cpu0 cpu1 be0 be1 idp0 idp1 reqs secs errs p50 p99
  ((warmup == 0)) || run_wrk "$tmp/warmup.txt" "$warmup" "$c" "$url"
  ! is_signin "$t" || idp0=$(sim_calls)
  be0=$(backend_requests)
  cpu0=$(cpu_ticks "$target_pid")
  run_wrk "$out" "$duration" "$c" "$url" --latency -s "$tmp/report.lua"
  cpu1=$(cpu_ticks "$target_pid")
  be1=$(backend_requests)
  ! is_signin "$t" || idp1=$(sim_calls)
  read -r _ reqs secs errs p50 p99 < <(grep '^BENCH ' "$out") || die "no result line in $out"
  ((reqs > 0)) || { cat "$out" >&2; die "$t: wrk completed no requests"; }
  check_target "$t"
  [[ $t != postern* ]] || : >"$tmp/$t/access.log"
  ! is_signin "$t" || log "$t c=$c: $((idp1 - idp0)) requests to the Okta simulator during the run"
  awk -v t="$t" -v c="$c" -v n="$reqs" -v s="$secs" -v e="$errs" -v p50="$p50" -v p99="$p99" \
    -v fwd="$((be1 - be0))" -v ticks="$((cpu1 - cpu0))" -v hz="$clk_tck" 'BEGIN {
      printf "%s\t%d\t%.0f\t%.3f\t%.3f\t%d\t%.1f\t%.2f\n",
        t, c, n / s, p50 / 1000, p99 / 1000, e, 100 * fwd / n, ticks * 1e6 / hz / n }' | tee -a "$tmp/rows.tsv" |
    awk -F'\t' '{ printf "run.sh: %-14s c=%-4s %8s req/s  p50 %s ms  p99 %s ms  errors %s  fwd %s%%  CPU %s us/req\n",
      $1, $2, $3, $4, $5, $6, $7, $8 }' >&2
}

# --- the run -------------------------------------------------------------------------------------------------
start_nginx backend "$backend_port"
backend_pid=$nginx_pid
check_serves "$backend_port" backend
: >"$tmp/rows.tsv"

for t in "${targets[@]}"; do
  case $t in
    direct) start_direct ;;
    nginx) start_nginx_proxy ;;
    postern) start_postern ;;
    postern-metrics) start_postern_metrics ;;
    postern-signin | postern-policy | postern-signin-pg) start_postern_signin "$t" ;;
    postern-rr3) start_postern_three "$t" ROUND_ROBIN ;;
    postern-lr3) start_postern_three "$t" LEAST_REQUEST ;;
    postern-ring3) start_postern_three "$t" RING_HASH ;;
  esac
  check_target "$t"
  for c in $conns; do measure "$t" "$c"; done
  [[ $t == direct ]] || forget_and_stop "$target_pid"
  [[ $t != postern-metrics ]] || forget_and_stop "$scraper_pid"
  ! is_signin "$t" || forget_and_stop "$sim_pid"
  target_header=
done

# --- report --------------------------------------------------------------------------------------------------
stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p "$bench_dir/results"
result=$bench_dir/results/$stamp.md
{
  echo "# Postern load benchmark, $(date '+%Y-%m-%d %H:%M:%S %Z')"
  echo
  echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r)"
  echo "- $(nginx -v 2>&1 | sed 's/^nginx version: //'), wrk $({ wrk -v 2>&1 || true; } | awk 'NR == 1 { print $2 }')"
  if uses_postern; then
    echo "- $("$POSTERN_BIN" --version 2>&1 | head -n 1) ($POSTERN_BIN, commit $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown))"
  fi
  echo "- wrk -t1, keep-alive, ${duration}s per run after a ${warmup}s warm-up; $workers workers each for the backend, nginx and postern; 100-byte responses"
  if has_target postern-signin; then
    echo "- postern-signin: route with allow_any_authenticated_user and pass_identity_headers, IdP tests/okta-sim (demo seed, groups scope), signed in once as $signin_user; wrk sends the _pomerium cookie on every request; the simulator's CPU is not counted"
  fi
  if has_target postern-signin-pg; then
    echo "- postern-signin-pg: postern-signin with the PostgreSQL session store (a private cluster on 127.0.0.1, fsync on); PostgreSQL's CPU is not counted"
  fi
  if has_target postern-policy; then
    echo "- postern-policy: the same, with a 5-criteria policy (domain, groups, method, claim; deny by path) instead of allow_any_authenticated_user"
  fi
  echo "- command: bench/run.sh -d $duration -w $warmup -c \"$conns\" -W $workers ${targets[*]}"
  echo
  echo "| target | connections | req/s | p50 ms | p99 ms | errors | forwarded % | CPU µs/req | req/s ÷ nginx | CPU ÷ nginx | req/s ÷ postern (public) | req/s ÷ postern-signin |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F'\t' '
    NR == FNR {
      # A target named more than once (to interleave A/B runs) is a baseline by its mean.
      if ($1 == "nginx") { rs[$2] += $3; rn[$2]++; rps[$2] = rs[$2] / rn[$2]; cs[$2] += $8; cpu[$2] = cs[$2] / rn[$2] }
      if ($1 == "postern") { ps[$2] += $3; pn[$2]++; prps[$2] = ps[$2] / pn[$2] }
      if ($1 == "postern-signin") { ss[$2] += $3; sn[$2]++; srps[$2] = ss[$2] / sn[$2] }
      next
    }
    {
      r = ($2 in rps && rps[$2] > 0) ? sprintf("%.2f", $3 / rps[$2]) : "-"
      u = ($2 in cpu && cpu[$2] > 0) ? sprintf("%.2f", $8 / cpu[$2]) : "-"
      p = (($1 == "postern-signin" || $1 ~ /^postern-(metrics|rr3|lr3|ring3)$/) && $2 in prps && prps[$2] > 0) ? sprintf("%.2f", $3 / prps[$2]) : "-"
      q = (($1 == "postern-policy" || $1 == "postern-signin-pg") && $2 in srps && srps[$2] > 0) ? sprintf("%.2f", $3 / srps[$2]) : "-"
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, r, u, p, q
      if (p != "-" && $1 == "postern-signin") signin = signin sprintf("%s%s at %s connections", signin == "" ? "" : ", ", p, $2)
      if (p != "-" && $1 != "postern-signin") { ls[$1, $2] += $3; ln[$1, $2]++ }
      if (q != "-" && $1 == "postern-policy") policy = policy sprintf("%s%s at %s connections", policy == "" ? "" : ", ", q, $2)
      if (q != "-" && $1 == "postern-signin-pg") pgr = pgr sprintf("%s%s at %s connections", pgr == "" ? "" : ", ", q, $2)
    }
    END {
      if (signin != "") printf "\npostern-signin req/s ÷ postern (public) req/s: %s (target: ≥ 0.80)\n", signin
      if (policy != "") printf "\npostern-policy req/s ÷ postern-signin req/s: %s (target: ≥ 0.95)\n", policy
      if (pgr != "") printf "\npostern-signin-pg req/s ÷ postern-signin req/s: %s (target: ≥ 0.95)\n", pgr
      for (key in ls) {
        split(key, kc, SUBSEP)
        printf "\n%s req/s ÷ postern (public, one target) req/s: %.2f at %s connections%s (target: ≥ %s)\n", kc[1],
          ls[key] / ln[key] / prps[kc[2]], kc[2], (ln[key] > 1 ? sprintf(", means of %d and %d runs", ln[key], pn[kc[2]]) : ""),
          (kc[1] == "postern-ring3" ? "0.95" : kc[1] == "postern-metrics" ? "0.98" : "0.97")
      }
    }' "$tmp/rows.tsv" "$tmp/rows.tsv"
} | tee "$result"
log "saved $result"
