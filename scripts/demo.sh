#!/usr/bin/env bash
# Rollgate demo (`make demo`): a real canary rollout on loopback, compressed to seconds per step.
#
#   model servers: stable v1, canary v2 (starts failing 8 % once it gets 10 % of traffic),
#                  shadow v3 (agrees with v1 on 97 % of predictions)
#   proxy:         real Envoy (target/envoy/1.40.0, or $ENVOY) on manifests/envoy/envoy.yaml with
#                  only ports and paths substituted; the real rollgate_filter.wasm is its ECDS
#                  filter, read from the watched file the controller's ecds_file sink replaces
#   load:          loadgen, 10,000 distinct users
#   metrics:       a real Prometheus scraping Envoy's admin /stats/prometheus every second
#   controller:    rollgate run (six compressed steps, default-style gates) → rollback;
#                  then v2 fixed → promoted to 100 %; A/B summary with rollgate analyze;
#                  report at target/demo/report.html.
# Every process it starts listens on 127.0.0.1 only and is stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/demo"
BIN="$ROOT/target/debug"
WASM="$ROOT/target/wasm32-wasip1/release/rollgate_filter.wasm"
ENVOY="${ENVOY:-$ROOT/target/envoy/1.40.0/bin/envoy}"
RPS="${DEMO_RPS:-400}"
USERS=10000
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rollgate-demo.XXXXXX")"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf '\033[31mdemo: %s\033[0m\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# wait_addr FILE PREFIX: the address after PREFIX on a line of FILE (a server's stdout).
wait_addr() {
  local file=$1 prefix=$2 i
  for i in $(seq 1 300); do
    if grep -q "^$prefix" "$file" 2>/dev/null; then
      grep -m1 "^$prefix" "$file" | awk '{print $NF}'
      return 0
    fi
    sleep 0.1
  done
  die "no '$prefix' line in $file after 30 s: $(tail -n 5 "$file.err" 2>/dev/null)"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------------------------------------
say "Building (rollgate, the demo tools)"
[ -f "$WASM" ] || make -s wasm
# DEMO_SKIP_BUILD=1 reuses the binaries already in target/debug.
[ "${DEMO_SKIP_BUILD:-0}" = 1 ] || cargo build -q -p rollgate -p rollgate-tools --bins
for b in rollgate model-server loadgen demo-tools; do
  [ -x "$BIN/$b" ] || die "missing $BIN/$b"
done
[ -x "$ENVOY" ] || die "no Envoy at $ENVOY: run \`make envoy\` (or set ENVOY=/path/to/envoy)"
ENVOY_VERSION="$("$ENVOY" --version | grep -o '/[0-9][0-9.]*/' | head -n1 | tr -d /)"

PROMETHEUS="$(command -v prometheus || true)"
if [ -z "$PROMETHEUS" ]; then
  cat >&2 <<'EOF'

  !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
  !! No Prometheus on this machine, and `make prometheus` could not install Debian's package.
  !! The controller's gates are PromQL queries: without a Prometheus there is no metric source
  !! to gate on, so the demo stops here. Install it with: sudo apt-get install -y prometheus
  !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
EOF
  exit 1
fi
PROM_VERSION="$("$PROMETHEUS" --version 2>&1 | head -n1 | awk '{print $3}')"

# ---------------------------------------------------------------------------------------------
say "Starting model servers: stable v1, canary v2, shadow v3 (97 % agreement)"
start_model() { # NAME ARGS...
  local name=$1; shift
  "$BIN/model-server" --listen 127.0.0.1:0 --name "$name" "$@" >"$WORK/$name.out" 2>"$WORK/$name.out.err" &
  PIDS+=($!)
}
start_model v1
start_model v2
start_model v3 --agree-rate 0.97
V1="$(wait_addr "$WORK/v1.out" "listening on")"
V2="$(wait_addr "$WORK/v2.out" "listening on")"
V3="$(wait_addr "$WORK/v3.out" "listening on")"
echo "stable v1 on $V1, canary v2 on $V2, shadow v3 on $V3"

# The filter config is manifests/envoy/filter-config.json (clusters of envoy.yaml, authority
# fraud-detector) with the shadow sampling 20 % of users instead of 10 %.
jq '.experiments[0].shadow.sample = 2000' manifests/envoy/filter-config.json >"$WORK/filter-config.json"

# Envoy's bootstrap: manifests/envoy/envoy.yaml as shipped, with only its ports (admin, listener,
# the three upstreams), its listen address (loopback) and the ECDS directory substituted.
ADMIN_PORT="$(free_port)"
LISTEN_PORT="$(free_port)"
mkdir -p "$WORK/run"
sed -e "s#/var/run/rollgate#$WORK/run#g" \
    -e "s#port_value: 9901#port_value: $ADMIN_PORT#" \
    -e "s#port_value: 10000#port_value: $LISTEN_PORT#" \
    -e "s#address: 0.0.0.0#address: 127.0.0.1#" \
    -e "s#port_value: 8081#port_value: ${V1##*:}#" \
    -e "s#port_value: 8082#port_value: ${V2##*:}#" \
    -e "s#port_value: 8083#port_value: ${V3##*:}#" \
    manifests/envoy/envoy.yaml >"$WORK/envoy.yaml"
ADMIN="127.0.0.1:$ADMIN_PORT"
PROXY="127.0.0.1:$LISTEN_PORT"
PROM="127.0.0.1:$(free_port)"
served_canary_weight() { # the canary weight the filter serves, from Envoy's ECDS config dump
  curl -fs "http://$ADMIN/config_dump?resource=ecds_filters" \
    | jq -r '.configs[] | select(.ecds_filter.name == "rollgate") | .ecds_filter.typed_config.config.configuration.value
             | fromjson | .experiments[0].variants[] | select(.name == "canary") | .weight'
}

# write_rollout NAME STATE_FILE: a Rollout spec with seed 001's six stages compressed to seconds.
write_rollout() {
  cat >"$WORK/$1.yaml" <<EOF
apiVersion: rollgate.dev/v1
kind: Rollout
metadata: { name: $1, namespace: ml }
spec:
  experiment: fraud-v2
  stable: stable
  canary: canary
  base_config: $WORK/filter-config.json
  sink:                       # the file envoy.yaml's ECDS filter watches
    ecds_file: { path: $WORK/run/ecds.yaml, name: rollgate, wasm_filename: $WASM }
  prometheus: { url: "http://$PROM", timeout: 2s, scrape_interval: 1s }
  state_file: $WORK/$2
  steps:                      # seed 001's stages, minutes and hours compressed to seconds
    - { weight: 1, pause: 5s }
    - { weight: 5, pause: 5s }
    - { weight: 10, pause: 8s }
    - { weight: 25, pause: 5s }
    - { weight: 50, pause: 5s }
    - { weight: 100 }
  gates:                      # min_samples 4: at 1 % of $RPS req/s a 5 s window holds ~$((RPS / 20)) canary responses
    - { name: error-rate, template: error_rate, condition: "< 0.01", interval: 5s, failure_limit: 2, no_data: inconclusive, min_samples: 4 }
    - { name: p99, template: p99_latency_ms, condition: "< 250", interval: 5s, min_samples: 4 }
    - { name: vs-stable, compare: error_rate, condition: "< 0.05", interval: 5s, min_samples: 4 }
EOF
}

say "Starting Envoy $ENVOY_VERSION with the real filter ($(stat -c %s "$WASM") bytes of .wasm) as its ECDS filter"
# The first ECDS file is what the controller would write at the start: `rollgate render`.
write_rollout fraud-detector-v2 state-1.json
"$BIN/rollgate" render "$WORK/fraud-detector-v2.yaml" >"$WORK/run/ecds.yaml.tmp"
mv "$WORK/run/ecds.yaml.tmp" "$WORK/run/ecds.yaml"
# A base id of its own, so a demo runs beside the tests' Envoys (shared memory is per base id).
# Envoy publishes histograms at each stats flush (default every 5 s); the demo's steps last
# seconds, so --config-yaml overlays a 1 s flush on the bootstrap for the p99 gate.
"$ENVOY" -c "$WORK/envoy.yaml" --config-yaml 'stats_flush_interval: 1s' --base-id "$(( ($$ % 60000) + 3000 ))" --concurrency 2 -l warn \
  --log-path "$WORK/envoy.log" >"$WORK/envoy.out" 2>&1 &
PIDS+=($!)
for i in $(seq 1 300); do
  [ "$(curl -fs "http://$ADMIN/ready" 2>/dev/null)" = LIVE ] && break
  [ "$i" = 300 ] && die "Envoy not ready after 30 s: $(tail -n 5 "$WORK/envoy.log" "$WORK/envoy.out")"
  sleep 0.1
done
[ "$(served_canary_weight)" = 0 ] || die "Envoy does not serve the filter config: $(tail -n 5 "$WORK/envoy.log")"
echo "Envoy $ENVOY_VERSION: listener $PROXY, admin (stats, config_dump) $ADMIN, ECDS file $WORK/run/ecds.yaml"

say "Starting Prometheus $PROM_VERSION (scrape every 1 s)"
cat >"$WORK/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: envoy
    scrape_interval: 1s
    scrape_timeout: 900ms
    metrics_path: /stats/prometheus
    static_configs: [{ targets: ["$ADMIN"] }]
EOF
"$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom-data" \
  --web.listen-address="$PROM" --storage.tsdb.retention.time=1h --log.level=warn \
  >"$WORK/prom.out" 2>"$WORK/prom.out.err" &
PIDS+=($!)
for i in $(seq 1 300); do
  curl -fs "http://$PROM/-/ready" >/dev/null 2>&1 && break
  [ "$i" = 300 ] && die "Prometheus not ready after 30 s: $(tail -n 5 "$WORK/prom.out.err")"
  sleep 0.1
done
METRIC_SOURCE="Prometheus $PROM_VERSION at $PROM, scraping Envoy $ENVOY_VERSION's admin /stats/prometheus every 1 s"
echo "metric source: $METRIC_SOURCE"

say "Starting load: $USERS users, $RPS requests/s"
START_MS="$(now_ms)"
"$BIN/loadgen" --target "$PROXY" --users "$USERS" --rps "$RPS" --duration 10m --seed 42 \
  --header x-user-id --host fraud-detector --quiet --summary-file "$WORK/load.json" >"$WORK/load.out" 2>"$WORK/load.out.err" &
LOADGEN_PID=$!
PIDS+=($LOADGEN_PID)
for i in $(seq 1 200); do
  v="$(curl -fs "http://$PROM/api/v1/query" --data-urlencode \
      'query=sum(rollgate_requests_total{experiment="fraud-v2"})' | jq -r '.data.result[0].value[1] // "0"')"
  [ "${v%.*}" -gt 0 ] 2>/dev/null && break
  [ "$i" = 200 ] && die "no traffic in Prometheus after 20 s: $(tail -n 5 "$WORK/envoy.log")"
  sleep 0.1
done
echo "traffic is flowing and scraped"

# run_rollout NAME [watch args...]: runs the controller with the live table; sets RC.
run_rollout() {
  local name=$1; shift
  "$BIN/rollgate" run "$WORK/$name.yaml" --output json --tick 100ms >"$WORK/$name.jsonl" 2>"$WORK/$name.err" &
  local ctl=$!
  PIDS+=($ctl)
  "$BIN/demo-tools" watch --events "$WORK/$name.jsonl" --prometheus "$PROM" --envoy-admin "$ADMIN" \
    --steps 6 --out "$WORK/$name.watch.json" "$@" || { tail -n 20 "$WORK/$name.err"; die "watch failed"; }
  RC=0
  wait "$ctl" || RC=$?
}

# ---------------------------------------------------------------------------------------------
say "Rollout 1: canary v2 (it starts failing 8 % of its requests once it serves 10 %)"
run_rollout fraud-detector-v2 --inject-at-bp 1000 --inject-admin "$V2" --inject-error-rate 0.08
[ "$RC" = 3 ] || die "rollout 1 ended with exit code $RC, expected 3 (rolled back): $(tail -n 5 "$WORK/fraud-detector-v2.err")"
ROLLBACK_S="$(jq -r '.breach_to_rollback_s // "n/a"' "$WORK/fraud-detector-v2.watch.json")"
ROLLBACK_REASON="$(jq -r '.reason | if .kind == "gate" then "gate \(.gate): \(.value) breaks \(.condition) (failed \(.failures) check(s) in a row)" else tostring end' "$WORK/fraud-detector-v2.watch.json")"
echo "rolled back: $ROLLBACK_REASON; breach → weight 0 in the filter: ${ROLLBACK_S} s"

say "Rollout 2: v2 fixed (errors off), same steps and gates"
curl -fs -X POST "http://$V2/admin/error-rate" -d 0 >/dev/null
write_rollout fraud-detector-v2-fixed state-2.json
run_rollout fraud-detector-v2-fixed
[ "$RC" = 0 ] || die "rollout 2 ended with exit code $RC, expected 0 (promoted): $(tail -n 5 "$WORK/fraud-detector-v2-fixed.err")"
FINAL_WEIGHT="$(served_canary_weight)"
echo "promoted: canary weight in the filter is $FINAL_WEIGHT / 10000"

# ---------------------------------------------------------------------------------------------
say "Stopping load"
kill -TERM "$LOADGEN_PID" 2>/dev/null || true
wait "$LOADGEN_PID" 2>/dev/null || true
END_MS="$(now_ms)"
LOAD="$WORK/load.json"
jq -c '{sent, completed, transport_errors, by_status}' "$LOAD"

say "A/B summary (rollgate analyze, two-proportion z-test on success = 2xx over the whole run)"
jq '{test: "two_proportion_z",
     control:   {successes: .by_variant.stable.ok, total: .by_variant.stable.total},
     treatment: {successes: .by_variant.canary.ok, total: .by_variant.canary.total}}' "$LOAD" \
  >"$WORK/ab-input.json"
"$BIN/rollgate" analyze --json <"$WORK/ab-input.json" >"$WORK/ab-output.json"
jq -s '.[0] as $in | .[1] as $out |
  {test: $out.test,
   control:   {name: "stable", successes: $in.control.successes,   total: $in.control.total},
   treatment: {name: "canary", successes: $in.treatment.successes, total: $in.treatment.total},
   statistic: $out.statistic, p_value: $out.p_value, ci: $out.ci, lift: $out.lift,
   significant: $out.significant, confidence: $out.confidence}' \
  "$WORK/ab-input.json" "$WORK/ab-output.json" >"$WORK/ab.json"
jq -r '"control stable: \(.control.successes)/\(.control.total)   treatment canary: \(.treatment.successes)/\(.treatment.total)\n" +
       "z = \(.statistic | .*1000|round/1000)   p = \(.p_value)   lift = \(.lift*10000|round/100) %   95 % CI of the difference = [\(.ci[0]*10000|round/10000), \(.ci[1]*10000|round/10000)]   significant: \(.significant)"' "$WORK/ab.json"

say "Report"
"$BIN/demo-tools" timeline --prometheus "$PROM" --start-ms "$START_MS" --end-ms "$END_MS" \
  --events "$WORK/fraud-detector-v2.jsonl" --events "$WORK/fraud-detector-v2-fixed.jsonl" \
  --watch "$WORK/fraud-detector-v2.watch.json" \
  --gate error-rate:error_rate:0.01 --gate p99:p99_latency_ms:250 \
  --ab "$WORK/ab.json" --metric-source "$METRIC_SOURCE" >"$OUT/timeline.json"
"$BIN/rollgate" report --input "$OUT/timeline.json" --output "$OUT/report.html" >/dev/null
SHADOW="$(curl -fs "http://$PROM/api/v1/query" --data-urlencode \
  'query=sum(rollgate_shadow_comparisons_total{experiment="fraud-v2",result="agree"}) / sum(rollgate_shadow_comparisons_total{experiment="fraud-v2",result=~"agree|disagree"})' \
  | jq -r '.data.result[0].value[1] // "n/a"')"

shadow_count() { # RESULT-REGEX METRIC
  curl -fs "http://$PROM/api/v1/query" --data-urlencode \
    "query=sum($2{experiment=\"fraud-v2\",result=~\"$1\"})" | jq -r '.data.result[0].value[1] // "0"'
}
SHADOW_COMPARED="$(shadow_count 'agree|disagree' rollgate_shadow_comparisons_total)"
SHADOW_SENT="$(shadow_count sent rollgate_shadow_requests_total)"
SHADOW_EVICTED="$(shadow_count evicted rollgate_shadow_requests_total)"

say "Summary"
cat <<EOF
proxy:                    Envoy $ENVOY_VERSION ($ENVOY), the filter as its ECDS filter, pushed by the ecds_file sink
metric source:            $METRIC_SOURCE
rollout 1 (v2, 8 % errors at 10 %):  rolled back — $ROLLBACK_REASON
time from breach to rollback (canary weight 0 in the filter): ${ROLLBACK_S} s
rollout 2 (v2 fixed):     promoted, canary at $FINAL_WEIGHT/10000 in the filter
shadow v3 agreement:      $(awk -v s="$SHADOW" 'BEGIN { if (s == "n/a") print s; else printf "%.1f %%", s * 100 }') over $SHADOW_COMPARED comparisons (v3 configured to agree 97 %); $SHADOW_SENT copies sent, $SHADOW_EVICTED evicted before comparison
load:                     $(jq -r '"\(.completed) responses (users drawn from '"$USERS"'), \(.transport_errors) transport errors"' "$LOAD")
report:                   $OUT/report.html
EOF
