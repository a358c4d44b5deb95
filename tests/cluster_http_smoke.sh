#!/usr/bin/env bash
# Runs samples/cluster_http with two workers: both come online and listen, a request is
# answered "hello world from PID", a worker stalled by --stall-one-in is reported stuck,
# killed and replaced, and SIGINT (or SIGTERM) ends the whole cluster with status 0. The
# primary's /metrics (--metrics-port) has both workers' series, labelled worker="ID", and
# promtool (when installed) accepts it.
# Usage: cluster_http_smoke.sh PATH_TO_cluster_http [backend] [sched] [signal] [emulator]
set -euo pipefail
exe="$1"
backend="${2:-}"
sched="${3:-rr}"
sig="${4:-INT}"
emulator="${5:-}"
dir="$(mktemp -d)"
pid=
trap 'rm -rf "$dir"; [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true' EXIT

EDDY_BACKEND="$backend" $emulator "$exe" --port 0 --workers 2 --sched "$sched" --stall-one-in 4 \
  --heartbeat-ms 100 --stuck-ms 1500 --metrics-port 0 </dev/null >"$dir/out" 2>"$dir/err" &
pid=$!

# Waits (polling the log, at most 60 s) until it has `count` lines matching `pattern`.
wait_for() {
  local pattern="$1" count="$2"
  for _ in $(seq 600); do
    if (( $(grep -c -- "$pattern" "$dir/out" || true) >= count )); then return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "cluster_http exited early"; cat "$dir/out" "$dir/err"; exit 1; }
    sleep 0.1
  done
  echo "timed out waiting for $count x '$pattern'"; cat "$dir/out" "$dir/err"; exit 1
}

wait_for "listening on" 2
wait_for " online" 2
port="$(grep -m1 "listening on" "$dir/out" | sed 's/.*://; s/\r//')"
[[ -n "$port" ]] || { echo "no port"; cat "$dir/out"; exit 1; }

# The primary's metrics: both workers' series once each has sent a heartbeat (every 100 ms).
wait_for "metrics on http://" 1
mport="$(grep -m1 "metrics on http://" "$dir/out" | sed 's|.*:\([0-9]*\)/metrics.*|\1|')"
metrics_body() {
  exec 3<>"/dev/tcp/127.0.0.1/$mport"
  printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  sed '1,/^\r\?$/d' <&3
  exec 3<&-
}
for _ in $(seq 100); do
  body="$(metrics_body)"
  (( $(grep -c '^eddy_loop_iterations_total{worker="' <<<"$body" || true) >= 2 )) && break
  sleep 0.1
done
(( $(grep -c '^eddy_loop_iterations_total{worker="' <<<"$body" || true) >= 2 )) || { echo "/metrics lacks two workers: $body"; exit 1; }
grep -q '^eddy_loop_delay_seconds{worker="[0-9]*",quantile="0.99"} ' <<<"$body" || { echo "no delay quantiles: $body"; exit 1; }
grep -q '^eddy_handles{worker="[0-9]*",type="tcp"} ' <<<"$body" || { echo "no handle counts: $body"; exit 1; }
if command -v promtool >/dev/null 2>&1; then
  promtool check metrics <<<"$body" || { echo "promtool rejects the primary's /metrics: $body"; exit 1; }
fi

# One request at a time on new connections; every fourth one stalls its worker (the reply
# never comes: the client gives up after a second and goes on).
answered=0
for i in $(seq 12); do
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  reply="$(timeout 1 cat <&3 || true)"
  exec 3<&-
  if [[ "$reply" == *"hello world from "* ]]; then answered=$((answered + 1)); fi
done
(( answered >= 6 )) || { echo "only $answered answers"; cat "$dir/out"; exit 1; }

wait_for "stuck (no heartbeat for 1500 ms): killed" 1
wait_for "started (replacing " 1

kill -"$sig" "$pid"
status=0
timeout 60 tail --pid="$pid" -f /dev/null || true
wait "$pid" || status=$?
pid=
[[ "$status" -eq 0 ]] || { echo "exit status $status"; cat "$dir/out" "$dir/err"; exit 1; }
echo "cluster_http (${backend:-default}, $sched, SIG$sig): $answered answers, a stuck worker replaced, clean exit"
