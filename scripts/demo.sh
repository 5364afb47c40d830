#!/usr/bin/env bash
# `make run`: the demo. Starts the Okta simulator (seeded with demo users), the sample app and Postern
# (examples/quickstart.yaml), prints where to go, and stops everything on Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
run_dir=$(mktemp -d /tmp/postern-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo stopped; logs were in $run_dir"
}
trap cleanup EXIT INT TERM

wait_for() {  # wait_for URL NAME LOG
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    sleep 0.1
  done
  echo "demo: $2 did not start; see $3" >&2
  exit 1
}

node tests/okta-sim/server.mjs --host 127.0.0.1 --port 8082 --seed tests/okta-sim/seed/demo.json \
  > "$run_dir/okta-sim.log" 2>&1 &
pids+=($!)
wait_for http://127.0.0.1:8082/.well-known/openid-configuration "the Okta simulator" "$run_dir/okta-sim.log"

node tests/e2e/upstream/server.mjs --host 127.0.0.1 --port 8081 > "$run_dir/sample-app.log" 2>&1 &
pids+=($!)
wait_for http://127.0.0.1:8081/ "the sample app" "$run_dir/sample-app.log"

./build/postern --config examples/quickstart.yaml > "$run_dir/access.log" 2> "$run_dir/postern.log" &
pids+=($!)
wait_for http://127.0.0.1:8080/ping "Postern" "$run_dir/postern.log"

cat <<MSG

  Postern is running.

    Open  http://localhost:8080/         the sample app through a public route
    Open  http://app.localhost:8080/     the sample app behind Okta sign-in (any demo user)
    Open  http://alice.localhost:8080/   only alice may enter (bob gets a 403 page)
    Open  http://eng.localhost:8080/     a policy: the Engineering group, GET only, never /admin (the 403 page says why)
    Open  http://app.localhost:8080/.pomerium/   who you are; sign out from there

  Okta simulator: http://127.0.0.1:8082 (issuer; its login page lists the demo users)
    alice@example.com / alice-password   (Engineering)
    bob@example.com   / bob-password     (Finance)
    carol@example.com / carol-password   (Engineering, Finance)

  Use Chromium, Firefox or curl: they send *.localhost to 127.0.0.1 by themselves.
  Not built yet: Okta directory sync (idp_service_account is read but not used; groups come from the token).

  Config: examples/quickstart.yaml     Logs: $run_dir (access.log, postern.log, okta-sim.log)
  Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
