# Sourced by the bench scripts: the nginx configuration they all run (a backend answering 100 bytes, nginx as a
# plain proxy), so that every script measures the same nginx.
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
