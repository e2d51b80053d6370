#!/usr/bin/env bash
# Bounded load test of the local stack (`make load`): starts `sketchref up` on free ports, waits until
# the gateway is ready, runs locust headless (default 60 s, 10 users) with loadtest/locustfile.py,
# stops the stack, and writes reports/load/: load_*.csv, report.html, jobs.json, summary.md.
# Prints throughput and p50/p95 job latency. Exit status non-zero when any job failed.
#   scripts/load.sh                          # 60 s, 10 users
#   LOAD_USERS=20 LOAD_TIME=30s scripts/load.sh
#   LOAD_UP_ARGS="--pool prefork --concurrency 1" scripts/load.sh   # the stack's worker flags
#   LOAD_URL=http://127.0.0.1:8000 scripts/load.sh   # against a stack that is already running
# Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${VENV_BIN:-$ROOT/.venv/bin}
USERS=${LOAD_USERS:-10}
RATE=${LOAD_SPAWN_RATE:-2}
TIME=${LOAD_TIME:-60s}
OUT=${LOAD_REPORT_DIR:-$ROOT/reports/load}
READY_TIMEOUT=${LOAD_READY_TIMEOUT:-600}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 YOLO_OFFLINE=1 YOLO_AUTOINSTALL=false
export SKETCHREF_LOAD_REPORT_DIR=$OUT
rm -rf "$OUT" && mkdir -p "$OUT/logs"

UP_PID=""
DATA=""
stop_stack() {
  if [ -n "$UP_PID" ] && kill -0 "$UP_PID" 2>/dev/null; then
    echo "load: stopping the stack"
    kill -INT "$UP_PID" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 1; done
    kill -0 "$UP_PID" 2>/dev/null && kill -TERM "$UP_PID" 2>/dev/null || true
    wait "$UP_PID" 2>/dev/null || true
  fi
  [ -n "${DATA:-}" ] && rm -rf "$DATA"
  return 0
}
trap stop_stack EXIT

if [ -n "${LOAD_URL:-}" ]; then
  URL=$LOAD_URL
else
  PORT=$("$BIN/python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  URL=http://127.0.0.1:$PORT
  echo "load: starting sketchref up on $URL (logs: $OUT/logs, $OUT/up.log)"
  DATA=$(mktemp -d)
  # every simulated user comes from 127.0.0.1: the per-client rate limit would throttle them as one.
  # LOAD_UP_ARGS: extra `sketchref up` flags, e.g. "--pool prefork --concurrency 1" (no comment line may
  # sit inside the continued command below: it would end it, and the setting would not reach `up`)
  # shellcheck disable=SC2086
  SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE=${SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE:-0} \
  "$BIN/sketchref" up --port "$PORT" --free-ports --data-dir "$DATA" --log-dir "$OUT/logs" ${LOAD_UP_ARGS:-} > "$OUT/up.log" 2>&1 &
  UP_PID=$!
fi

echo "load: waiting for $URL/readyz"
deadline=$((SECONDS + READY_TIMEOUT))
until "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('$URL/readyz', timeout=2).status_code != 200)" 2>/dev/null; do
  if [ -n "$UP_PID" ] && ! kill -0 "$UP_PID" 2>/dev/null; then echo "load: sketchref up exited"; tail -40 "$OUT/up.log"; exit 1; fi
  if [ $SECONDS -ge $deadline ]; then echo "load: $URL not ready after ${READY_TIMEOUT}s"; tail -40 "$OUT/up.log" || true; exit 1; fi
  sleep 1
done

# One warm-up job through every stage, so model loading is not measured as latency.
"$BIN/python" - "$URL" <<'PY'
import os, sys, time, httpx
url = sys.argv[1]
key = os.environ.get("SKETCHREF_LOAD_API_KEY")
h = {"Authorization": f"Bearer {key}"} if key else {}
box = [[[10, 90, 90, 10, 10], [10, 10, 90, 90, 10]]]
job = httpx.post(url + "/v1/jobs", json={"strokes": box, "width": 100, "height": 100}, headers=h, timeout=10).json()
t0 = time.time()
while job.get("status") not in ("succeeded", "failed") and time.time() - t0 < 300:
    time.sleep(0.5)
    job = httpx.get(f"{url}/v1/jobs/{job['id']}", headers=h, timeout=10).json()
print("load: warm-up job", job.get("status"))
PY

echo "load: locust $USERS users for $TIME"
set +e
"$BIN/locust" -f loadtest/locustfile.py --headless -u "$USERS" -r "$RATE" -t "$TIME" --host "$URL" \
  --stop-timeout 30 --csv "$OUT/load" --html "$OUT/report.html" --only-summary > "$OUT/locust.log" 2>&1
LOCUST_RC=$?
set -e
tail -30 "$OUT/locust.log"
echo
"$BIN/python" loadtest/summary.py "$OUT" "$USERS" "$TIME"
SUMMARY_RC=$?
[ "$LOCUST_RC" = 0 ] && [ "$SUMMARY_RC" = 0 ]
