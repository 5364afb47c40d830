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
