#!/usr/bin/env bash
# Runs the graceful sample: a client sends a request and, once the server says it is working
# on it, the server gets SIGTERM (SIGINT under Wine, where it arrives as CTRL_C). The
# request must still complete, a new connection must not be served once the server says it
# stopped accepting, and the server must exit 0.
# Usage: graceful_smoke.sh PATH_TO_graceful [backend] [signal] [emulator]
set -euo pipefail
exe="$1"
backend="${2:-}"
sig="${3:-TERM}"
emulator="${4:-}"
dir="$(mktemp -d)"
mkfifo "$dir/out"
pid=
trap 'rm -rf "$dir"; [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true' EXIT

EDDY_BACKEND="$backend" $emulator "$exe" --port 0 --work-ms 300 </dev/null >"$dir/out" 2>/dev/null &
pid=$!
exec 4<"$dir/out"
line=
read -r -t 30 line <&4 || { echo "no 'listening on' line from the server"; exit 1; }
line="${line%$'\r'}"
hostport="${line##*tcp://}"
port="${hostport##*:}"
host="${hostport%:*}"
[[ -n "$port" ]] || { echo "no port in: $line"; exit 1; }

exec 3<>"/dev/tcp/$host/$port"
printf 'job-1\n' >&3
read -r -t 30 reply <&3 || { echo "no first reply"; exit 1; }
[[ "${reply%$'\r'}" == "working: job-1" ]] || { echo "unexpected: $reply"; exit 1; }

kill -"$sig" "$pid"
read -r -t 30 line <&4 || { echo "no 'stopped accepting' line"; exit 1; }
[[ "$line" == "[graceful] stopped accepting"* ]] || { echo "unexpected: $line"; exit 1; }
# A new client is not served: its connect is refused, or (io_uring, where the ring lets go of
# the listening socket only when it processes the cancel, at the server's next poll) the
# handshake completes and the connection is then reset without a reply.
if exec 5<>"/dev/tcp/$host/$port" 2>/dev/null; then
  printf 'job-2\n' >&5 2>/dev/null || true
  late=""
  read -r -t 10 late <&5 2>/dev/null || true
  exec 5<&-
  [[ "$late" != working* ]] || { echo "a connection made while draining was served"; exit 1; }
fi
# The request in flight completes, then the server ends the connection.
rest="$(timeout 30 cat <&3)"
exec 3<&-
[[ "$rest" == "done: job-1" ]] || { echo "in-flight request not finished: '$rest'"; exit 1; }
status=0
wait "$pid" || status=$?
pid=
[[ "$status" -eq 0 ]] || { echo "exit status $status"; exit 1; }
echo "graceful (${backend:-default}, SIG$sig): in-flight request finished, clean exit"
