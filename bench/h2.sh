#!/usr/bin/env bash
# HTTP/2 load benchmark: h2load (Debian's nghttp2-client) with many streams per connection against nginx as an
# HTTP/2 reverse proxy (`listen … http2`, h2c with prior knowledge) and Postern's public route (h2c), both in front
# of the same HTTP/1.1 backend (nginx answering 100 bytes), measured in one run. Reports requests/s and CPU time per
# request of the proxy (utime + stime of its processes, from /proc), and the ratios to nginx.
#
#   bench/h2.sh [-d SECONDS] [-c CONNECTIONS] [-m STREAMS] [-W WORKERS] [-p BASE_PORT] [-r ROUNDS] [-s] [-k]
#
# -s adds postern-signin-h2: a route that needs a signed-in user (allow_any_authenticated_user, identity headers),
# signed in once through the Okta simulator (tests/okta-sim, bench/signin.mjs); h2load sends the session cookie.
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
duration=10 conns=8 streams=100 workers=2 port_base=${BENCH_PORT:-18280} rounds=1 keep_tmp=0 signin=0

usage() { echo "usage: $0 [-d SECONDS] [-c CONNECTIONS] [-m STREAMS] [-W WORKERS] [-p BASE_PORT] [-r ROUNDS] [-s] [-k]"; }
while getopts "d:c:m:W:p:r:skh" opt; do
  case $opt in
    d) duration=$OPTARG ;;
    c) conns=$OPTARG ;;
    m) streams=$OPTARG ;;
    W) workers=$OPTARG ;;
    p) port_base=$OPTARG ;;
    r) rounds=$OPTARG ;;
    k) keep_tmp=1 ;;
    s) signin=1 ;;
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
signin_port=$((port_base + 4))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/postern-h2.XXXXXX")
chmod 755 "$tmp"
pids=()
trap_cleanup  # configs.sh: stops "${pids[@]}" and removes $tmp on exit

wait_port() {
  local i
  for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  die "nothing answers on 127.0.0.1:$1 (logs in $tmp; -k keeps them)"
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

# -s: the Okta simulator, Postern with a route that needs sign-in, and one sign-in whose cookie h2load sends.
signin_cookie=
if ((signin)); then
  command -v node >/dev/null || die "-s needs node (20+) for the Okta simulator"
  mkdir -p "$tmp/okta-sim" "$tmp/signin"
  node "$repo/tests/okta-sim/server.mjs" --host 127.0.0.1 --port 0 --seed "$repo/tests/okta-sim/seed/demo.json" \
    --url-file "$tmp/okta-sim/url" >"$tmp/okta-sim/stdout.log" 2>"$tmp/okta-sim/stderr.log" </dev/null &
  pids+=($!)
  for ((i = 0; i < 150; i++)); do [[ -s $tmp/okta-sim/url ]] && break; sleep 0.1; done
  sleep 0.05
  sim_url=$(head -n 1 "$tmp/okta-sim/url")
  [[ $sim_url =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || die "the Okta simulator did not start (see $tmp/okta-sim; -k keeps it)"
  client_id=postern-h2-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
  client_secret=bench-$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  code=$(sim_register_client "$sim_url" "$signin_port" "$client_id" "$client_secret" "$tmp/okta-sim/client.json")
  [[ $code == 2?? ]] || die "the Okta simulator refused the client registration (HTTP $code)"
  { postern_signin_config postern-signin "$signin_port" "$backend_port" "$sim_url" "$client_id" "$client_secret"
    echo 'health_check_addr: ""'; } >"$tmp/signin/config.yaml"
  "$POSTERN_BIN" --config "$tmp/signin/config.yaml" --threads "$workers" >/dev/null 2>"$tmp/signin/stderr.log" &
  signin_pid=$!
  pids+=("$signin_pid")
  for ((i = 0; i < 100; i++)); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$signin_port/" && break; sleep 0.1; done
  signin_cookie=$(node "$bench_dir/signin.mjs" "http://127.0.0.1:$signin_port/" alice@example.com alice-password \
    2>"$tmp/signin/signin.log") || { cat "$tmp/signin/signin.log" >&2; die "signing in as alice failed"; }
  [[ $signin_cookie == _pomerium=?* ]] || die "bench/signin.mjs printed no cookie"
  [[ $(curl -s --http2-prior-knowledge -H "cookie: $signin_cookie" -o /dev/null -w '%{http_code} %{http_version}' \
    "http://127.0.0.1:$signin_port/") == "200 2" ]] || die "the signed-in route does not answer 200 over h2c"
fi

# measure NAME PORT PID [COOKIE]: one h2load run; prints "NAME req/s cpu_us_per_req".
measure() {
  local name=$1 port=$2 pid=$3 t0 t1 out reqs secs
  local -a extra=()
  [[ -z ${4:-} ]] || extra=(-H "cookie: $4")
  h2load -c "$conns" -m "$streams" -D 2 "${extra[@]}" "http://127.0.0.1:$port/" >/dev/null 2>&1  # warm-up
  t0=$(proc_cpu_ticks "$pid")
  out=$(h2load -c "$conns" -m "$streams" -D "$duration" "${extra[@]}" "http://127.0.0.1:$port/" 2>&1)
  t1=$(proc_cpu_ticks "$pid")
  reqs=$(awk '/^requests:/ { print $8 }' <<<"$out")   # succeeded
  secs=$(awk '/^finished in/ { sub(/s,$/, "", $3); print $3 }' <<<"$out")
  [[ -n $reqs && $reqs -gt 0 ]] || { echo "$out" >&2; die "$name: no successful requests"; }
  awk -v n="$name" -v r="$reqs" -v s="$secs" -v t="$((t1 - t0))" -v hz="$clk_tck" \
    'BEGIN { printf "%s %.0f %.2f\n", n, r / s, t * 1e6 / hz / r }'
}

results=()
for ((round = 0; round < rounds; round++)); do
  if ((round % 2 == 0)); then order=(nginx postern signin); else order=(signin postern nginx); fi
  for t in "${order[@]}"; do
    case $t in
      nginx) results+=("$(measure nginx-h2 "$nginx_port" "$nginx_pid")") ;;
      postern) results+=("$(measure postern-h2 "$postern_port" "$postern_pid")") ;;
      signin) ((signin)) || continue
        results+=("$(measure postern-signin-h2 "$signin_port" "$signin_pid" "$signin_cookie")") ;;
    esac
    log "${results[-1]}"
  done
done

printf '%s\n' "${results[@]}" | awk -v d="$duration" -v c="$conns" -v m="$streams" -v w="$workers" -v r="$rounds" '
  { rps[$1] += $2; cpu[$1] += $3; n[$1]++ }
  END {
    printf "# HTTP/2 (h2c) load: h2load -c %d -m %d, %d s per run, %d round(s), %d workers each, 100-byte responses\n\n", c, m, d, r, w
    print "| target | req/s | CPU µs/req | req/s ÷ nginx | CPU ÷ nginx | req/s ÷ postern-h2 |"
    print "| --- | ---: | ---: | ---: | ---: | ---: |"
    na = rps["nginx-h2"] / n["nginx-h2"]; nu = cpu["nginx-h2"] / n["nginx-h2"]; pa = rps["postern-h2"] / n["postern-h2"]
    split("nginx-h2 postern-h2 postern-signin-h2", order, " ")
    for (i = 1; i <= 3; i++) {
      t = order[i]
      if (!(t in rps)) continue
      a = rps[t] / n[t]; u = cpu[t] / n[t]
      printf "| %s | %.0f | %.2f | %.2f | %.2f | %s |\n", t, a, u, a / na, u / nu, t == "postern-signin-h2" ? sprintf("%.2f", a / pa) : "-"
    }
  }'
