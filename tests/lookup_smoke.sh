#!/usr/bin/env bash
# samples/lookup as a program: `lookup localhost` through getaddrinfo, then (Linux, where the
# build has c-ares and dnsmasq is installed) `lookup --resolve` for A, MX and TXT records
# against a dnsmasq started here on a free loopback port, as the resolver tests use.
#   tests/lookup_smoke.sh LOOKUP BACKEND [EMULATOR...]
set -uo pipefail
lookup="$1"
backend="$2"
shift 2
run() { EDDY_BACKEND="$backend" "$@" "$lookup" "${args[@]}" </dev/null; }
fail() { echo "lookup smoke ($backend): $*" >&2; exit 1; }

args=(localhost)
out="$(run "$@" | tr -d '\r')" || fail "lookup localhost failed"
grep -Eq '^(127\.0\.0\.1|::1)$' <<<"$out" || fail "lookup localhost printed: $out"
echo "lookup localhost: $(tr '\n' ' ' <<<"$out")"

args=(--resolve BOGUS x)
run "$@" >/dev/null 2>&1
[[ $? == 2 ]] || fail "an unknown record type is not a usage error"

(($# == 0)) || { echo "lookup smoke ($backend): the resolver part runs on Linux only"; exit 0; }
dnsmasq=""
for d in /usr/sbin/dnsmasq /sbin/dnsmasq; do [[ -x "$d" ]] && dnsmasq="$d"; done
[[ -n "$dnsmasq" ]] || fail "dnsmasq is not installed (tools/setup.sh installs dnsmasq-base)"
pid=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null' EXIT
for try in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 20000))
  "$dnsmasq" --no-daemon --no-resolv --no-hosts --conf-file=/dev/null --pid-file --bind-interfaces \
    --listen-address=127.0.0.1 --port="$port" --host-record=a.test,10.0.0.1,fd00::1 \
    --mx-host=mx.test,mail.test,10 --txt-record=txt.test,hello,world 2>/dev/null &
  pid=$!
  # Until it answers (it may still be binding), at most 10 s.
  for _ in $(seq 1 100); do
    args=(--resolve A a.test --server "127.0.0.1:$port")
    if out="$(run 2>/dev/null)"; then break 2; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=""
done
[[ -n "$pid" ]] || fail "dnsmasq did not answer"
grep -q '^10\.0\.0\.1 ttl=' <<<"$out" || fail "A a.test printed: $out"
args=(--resolve mx mx.test --server "127.0.0.1:$port")
out="$(run)" || fail "MX mx.test failed"
[[ "$out" == "10 mail.test" ]] || fail "MX mx.test printed: $out"
args=(--resolve TXT txt.test --server "127.0.0.1:$port")
out="$(run)" || fail "TXT txt.test failed"
[[ "$out" == '"hello" "world"' ]] || fail "TXT txt.test printed: $out"
args=(--resolve A missing.test --server "127.0.0.1:$port")
run >/dev/null 2>&1 && fail "A missing.test succeeded"
echo "lookup --resolve: A, MX, TXT and a missing name as expected"
