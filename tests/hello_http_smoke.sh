#!/usr/bin/env bash
# Runs the hello_http sample as a user would: start it on a free port, wait for its
# "listening on" line, ask it for / over a raw TCP connection (bash's /dev/tcp), then send
# SIGINT and require a clean exit 0. Usage: hello_http_smoke.sh PATH_TO_hello_http [backend]
# [emulator]: with an emulator (tools/wine-run.sh) the Windows build runs under Wine, where
# SIGINT to the Wine process arrives as CTRL_C_EVENT. hello_http (not hello_http_co) also
# gets GET /metrics, which must be Prometheus text that promtool accepts (when installed).
set -euo pipefail
exe="$1"
backend="${2:-auto}"
emulator="${3:-}"
dir="$(mktemp -d)"
mkfifo "$dir/out"
pid=
trap 'rm -rf "$dir"; [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true' EXIT

metrics=1
[[ "$(basename "$exe")" == hello_http_co* ]] && metrics=0
extra=()
[[ $metrics == 1 ]] && extra=(--slow-callback-ms 500)
$emulator "$exe" --port 0 --backend "$backend" "${extra[@]}" </dev/null >"$dir/out" 2>/dev/null &
pid=$!
# Wait for the server's first line (it prints it once it listens); the timeout only guards.
exec 4<"$dir/out"
line=
read -r -t 30 line <&4 || { echo "no 'listening on' line from the server"; exit 1; }
line="${line%$'\r'}"  # Wine ends lines with CRLF
url="$(grep -o 'http://[^ ]*' <<<"$line" | head -n1)"
hostport="${url#http://}"
port="${hostport##*:}"
host="${hostport%:*}"
[[ -n "$port" ]] || { echo "no port in: $line"; exit 1; }

exec 3<>"/dev/tcp/$host/$port"
printf 'GET / HTTP/1.1\r\nHost: smoke\r\nConnection: close\r\n\r\n' >&3
reply="$(cat <&3)"
exec 3<&-
grep -q '^HTTP/1.1 200 OK' <<<"$reply" || { echo "bad reply: $reply"; exit 1; }
grep -q '^Hello World' <<<"$reply" || { echo "no body: $reply"; exit 1; }

if [[ $metrics == 1 ]]; then
  exec 3<>"/dev/tcp/$host/$port"
  printf 'GET /metrics HTTP/1.1\r\nHost: smoke\r\nConnection: close\r\n\r\n' >&3
  reply="$(cat <&3)"
  exec 3<&-
  grep -q '^HTTP/1.1 200 OK' <<<"$reply" || { echo "bad /metrics reply: $reply"; exit 1; }
  grep -q '^Content-Type: text/plain; version=0.0.4' <<<"$reply" || { echo "no Prometheus content type: $reply"; exit 1; }
  body="$(sed '1,/^\r\?$/d' <<<"$reply")"
  for series in eddy_loop_iterations_total eddy_loop_utilization 'eddy_loop_delay_seconds{quantile="0.99"}' \
                eddy_slow_callbacks_total 'eddy_handles{type="tcp"}' eddy_threadpool_threads process_resident_memory_bytes; do
    grep -qF "$series" <<<"$body" || { echo "/metrics lacks $series: $body"; exit 1; }
  done
  if command -v promtool >/dev/null 2>&1; then
    tr -d '\r' <<<"$body" | promtool check metrics || { echo "promtool rejects /metrics: $body"; exit 1; }
  else
    echo "promtool not installed: /metrics checked for its series only"
  fi
fi

kill -INT "$pid"
status=0
wait "$pid" || status=$?
trap 'rm -rf "$dir"' EXIT
[[ "$status" -eq 0 ]] || { echo "exit status $status after SIGINT"; exit 1; }
echo "hello_http ($backend): 200 OK, clean exit on SIGINT"
