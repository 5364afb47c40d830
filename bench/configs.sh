# Sourced by the bench scripts: the configurations they all run (the backend answering 100 bytes, nginx as a plain
# proxy, Postern on a public route), so that every script measures the same setups.
#
# write_nginx_conf FILE MAIN-DIRECTIVES HTTP-SERVERS: an nginx.conf for `nginx -p DIR/ -c FILE` (daemon off, every
# path relative to the prefix, no access log, keep-alive for a million requests).
write_nginx_conf() {
  cat >"$1" <<EOF_CONF
daemon off;
$2
pid nginx.pid;
error_log error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    server_tokens off;
    client_body_temp_path body;
    proxy_temp_path proxy;
    fastcgi_temp_path fastcgi;
    uwsgi_temp_path uwsgi;
    scgi_temp_path scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
$3
}
EOF_CONF
}

# nginx_backend_servers PORT STATUS_PORT BODY: the backend every request goes to (BODY, as text/plain) and its
# stub_status, whose request counter tells how many requests really went through.
nginx_backend_servers() {
  cat <<EOF_CONF
    server {
        listen 127.0.0.1:$1 backlog=4096;
        listen 127.0.0.2:$1 backlog=4096;
        listen 127.0.0.3:$1 backlog=4096;
        location / { default_type text/plain; return 200 "$3\n"; }
    }
    server {
        listen 127.0.0.1:$2;
        location / { stub_status; }
    }
EOF_CONF
}

# nginx_proxy_servers PORT BACKEND_PORT: nginx as a plain keep-alive reverse proxy to the backend — the reference
# Postern is compared with.
nginx_proxy_servers() {
  cat <<EOF_CONF
    upstream backend {
        server 127.0.0.1:$2;
        keepalive 512;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }
EOF_CONF
}

# postern_public_config PORT BACKEND_PORT: Postern with one public route to the backend (Pomerium's keys).
postern_public_config() {
  cat <<EOF_CONF
address: 127.0.0.1:$1
insecure_server: true
routes:
  - from: http://127.0.0.1:$1
    to: http://127.0.0.1:$2
    allow_public_unauthenticated_access: true
EOF_CONF
}

# postern_three_targets_config PORT BACKEND_PORT LB_POLICY: the public route over three targets (the backend on
# 127.0.0.1, 127.0.0.2 and 127.0.0.3), balanced by LB_POLICY; RING_HASH hashes the X-Tenant header.
postern_three_targets_config() {
  cat <<EOF_CONF
address: 127.0.0.1:$1
insecure_server: true
routes:
  - from: http://127.0.0.1:$1
    to: [http://127.0.0.1:$2, http://127.0.0.2:$2, http://127.0.0.3:$2]
    lb_policy: $3
    hash_policy: [{header: {header_name: X-Tenant}}]
    allow_public_unauthenticated_access: true
EOF_CONF
}

# postern_policy_rules: the route policy of bench/run.sh's postern-policy target: four criteria that hold for
# alice@example.com (Engineering) on GET /, one deny by path (bench/micro/policy_bench.cpp measures its shape alone).
postern_policy_rules() {
  cat <<EOF_CONF
    policy:
      - allow:
          and:
            - domain: example.com
            - groups: {has: Engineering}
            - http_method: {in: [GET, HEAD, POST]}
            - claim/email_verified: "true"
      - deny:
          or:
            - http_path: {starts_with: /admin}
EOF_CONF
}

# sim_register_client SIM_URL PORT CLIENT_ID CLIENT_SECRET OUT_JSON: registers an OIDC client for a Postern whose
# authenticate host is http://localhost:PORT through the simulator's control API; prints the HTTP status.
sim_register_client() {
  curl -s --max-time 10 -o "$5" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    "$1/__sim/clients" --data-binary @- <<EOF_JSON || true
{"client_id": "$3", "client_secret": "$4", "client_name": "Postern bench",
 "application_type": "web",
 "redirect_uris": ["http://localhost:$2/oauth2/callback"],
 "post_logout_redirect_uris": ["http://localhost:$2/.pomerium/signed_out"],
 "grant_types": ["authorization_code", "refresh_token"],
 "token_endpoint_auth_method": "client_secret_basic"}
EOF_JSON
}

# postern_signin_config NAME PORT BACKEND_PORT SIM_URL CLIENT_ID CLIENT_SECRET: Postern with the simulator as its Okta
# and one route that needs a signed-in user: postern-signin authorizes with allow_any_authenticated_user,
# postern-policy with postern_policy_rules; everything else is the same (groups scope for both).
postern_signin_config() {
  local auth
  if [[ $1 == postern-policy ]]; then auth=$(postern_policy_rules); else auth="    allow_any_authenticated_user: true"; fi
  cat <<EOF_CONF
address: 127.0.0.1:$2
insecure_server: true
authenticate_service_url: http://localhost:$2
idp_provider: okta
idp_provider_url: $4
idp_client_id: $5
idp_client_secret: "$6"
idp_scopes: [openid, profile, email, groups, offline_access]
shared_secret: "$(head -c 32 /dev/urandom | base64)"
cookie_secret: "$(head -c 32 /dev/urandom | base64)"
routes:
  - from: http://127.0.0.1:$2
    to: http://127.0.0.1:$3
    pass_identity_headers: true
$auth
EOF_CONF
}

# bench_pg_tool TOOL ARGS...: a PostgreSQL server program (Debian's newest installed version); as the postgres user when
# run as root, because initdb and postgres refuse root.
bench_pg_tool() {
  local tool=$1 bin
  shift
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n $bin ]] || { echo "PostgreSQL is not installed (make deps installs Debian's postgresql)" >&2; return 1; }
  if (($(id -u) == 0)); then runuser -u postgres -- "$bin/$tool" "$@"; else "$bin/$tool" "$@"; fi
}

# bench_pg_start DIR PORT: a private cluster in DIR (trust authentication, 127.0.0.1:PORT, no system service);
# prints its data directory. Stop it with bench_pg_stop. Connection string: postgresql://postgres@127.0.0.1:PORT/postgres
bench_pg_start() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if (($(id -u) == 0)); then chmod 755 "$(dirname "$dir")"; chown postgres: "$dir"; fi
  bench_pg_tool initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  bench_pg_tool pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null || { cat "$dir/server.log" >&2; return 1; }
  echo "$dir/data"
}

bench_pg_stop() { bench_pg_tool pg_ctl -D "$1" -m fast -w stop >/dev/null 2>&1 || true; }

# proc_cpu_ticks PID: utime + stime of PID and its direct children (nginx workers), in clock ticks.
proc_cpu_ticks() {
  local total=0 p s f
  for p in $1 $(pgrep -P "$1" || true); do
    { read -r s <"/proc/$p/stat"; } 2>/dev/null || continue
    read -ra f <<<"${s##*) }"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# trap_cleanup: on exit (INT and TERM included), stops the processes in the caller's `pids` array and removes its
# `$tmp` directory, unless `keep_tmp` is 1 (then says where it is, through the caller's `log`).
bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if ((keep_tmp)); then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap_cleanup() {
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
