#!/usr/bin/env bash
# The Okta directory at scale (issue 10): starts the repository's Okta simulator with a generated org (default
# 100,000 users, 10,000 groups, 20 groups per user), lifts its rate limits (the figures are Postern's work, not
# Okta's pacing: see the README for the time at Okta's limits), runs build/bench/micro/postern_directory_scale_bench
# against it and writes the table to bench/results/directory-<time>.md.
#
#   bench/directory-scale.sh [-u USERS] [-g NGROUPS] [-k GROUPS_PER_USER] [-n CHANGED_GROUPS]
#
# Between the full sync and the delta run, the simulator's clock moves 10 minutes on (the default sync interval) and
# one new user joins CHANGED_GROUPS groups. Everything listens on 127.0.0.1; the simulator is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=100000 NGROUPS=10000 PER=20 CHANGED=10
while getopts "u:g:k:n:" o; do
  case $o in
    u) USERS=$OPTARG ;; g) NGROUPS=$OPTARG ;; k) PER=$OPTARG ;; n) CHANGED=$OPTARG ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done
BENCH=${BENCH_BIN:-build/bench/micro/postern_directory_scale_bench}
[[ -x $BENCH ]] || { echo "build first (make build): $BENCH is missing" >&2; exit 1; }
TOKEN=00postern-demo-ssws-token-0123456789abcdef
tmp=$(mktemp -d)
sim_pid=
cleanup() { [[ -n $sim_pid ]] && kill "$sim_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

echo "starting the simulator: $USERS users, $NGROUPS groups, $PER groups per user" >&2
node tests/okta-sim/server.mjs --port 0 --seed tests/okta-sim/seed/demo.json \
  --generate "users=$USERS,groups=$NGROUPS,groups_per_user=$PER" >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
for _ in $(seq 1 1200); do
  grep -q listening "$tmp/sim.out" 2>/dev/null && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$tmp/sim.err" >&2; exit 1; }
  sleep 0.1
done
URL=$(awk '/listening/ {print $4}' "$tmp/sim.out")
[[ -n $URL ]] || { echo "the simulator did not start" >&2; exit 1; }
ctl() { curl -sf --max-time 30 -X "$1" -H 'content-type: application/json' "$URL/__sim/$2" ${3:+-d "$3"} >/dev/null; }
ctl POST rate-limit '{"limit":100000000}'

# What the delta run must find: CHANGED groups with a new member, 10 minutes after the full sync.
cat >"$tmp/between.sh" <<SH
#!/usr/bin/env bash
set -e
ctl() { curl -sf --max-time 30 -X "\$1" -H 'content-type: application/json' "$URL/__sim/\$2" \${3:+-d "\$3"} >/dev/null; }
ctl POST clock '{"advance":600}'
ctl POST users '{"login":"bench-new-hire@gen.example.com","password":"x"}'
for j in \$(seq 0 $((CHANGED - 1))); do
  ctl POST "groups/gen-group-\$(printf %05d \$((j * 97 % $NGROUPS)))/members" '{"users":["bench-new-hire@gen.example.com"]}'
done
SH
chmod +x "$tmp/between.sh"

mkdir -p bench/results
out=bench/results/directory-$(date +%Y%m%d-%H%M%S).md
{
  echo "# Okta directory at scale — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "$USERS users, $NGROUPS groups, $PER groups per user (simulator, rate limits lifted), $(nproc) cores."
  echo
  "$BENCH" --org "$URL" --token "$TOKEN" --between "$tmp/between.sh" --changed "$CHANGED" \
    --group "gen-group-$(printf %05d $((NGROUPS / 2)))"
} | tee "$out"
echo "written to $out" >&2
