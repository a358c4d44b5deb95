#!/usr/bin/env bash
# Builds the libFuzzer harnesses (the linux-fuzz preset) and runs each for SECONDS (default
# 60) from its seed corpus in tests/fuzz/corpus/<harness>. The corpus is copied to a scratch
# folder first, so what the fuzzer finds never lands in the repository.
# Exits non-zero on any crash, leak or timeout; the reproducers (crash-*, leak-*, timeout-*,
# oom-*) and each harness's log are kept in the folder printed at the end.
#   tools/fuzz.sh [SECONDS]            every harness
#   EDDY_FUZZERS="address_fuzz" tools/fuzz.sh 600   only those named
# Replay one reproducer: build/linux-fuzz/tests/fuzz/<harness> <file>
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: tools/fuzz.sh [SECONDS]" >&2; exit 2; }
build="$root/build/linux-fuzz"

cmake --preset linux-fuzz >/dev/null
cmake --build --preset linux-fuzz -j "$(nproc 2>/dev/null || echo 2)"

if [[ -n "${EDDY_FUZZERS:-}" ]]; then
  read -r -a harnesses <<<"$EDDY_FUZZERS"
else
  mapfile -t harnesses <"$build/tests/fuzz/fuzzers.txt"
fi

out="$build/fuzz-runs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
# Leaks are findings; an input that runs past 10 s is a hang.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

failed=()
for h in "${harnesses[@]}"; do
  [[ -n "$h" ]] || continue
  work="$out/$h"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp "$root/tests/fuzz/corpus/$h/"* "$work/corpus/"
  echo "=== $h: ${seconds} s"
  if "$build/tests/fuzz/$h" "$work/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$work/artifacts/" >"$work/log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^Done' "$work/log" | tr '\n' ' ' || true
    echo
  else
    echo "$h FAILED; log: $work/log"
    tail -n 30 "$work/log"
    failed+=("$h")
  fi
  # The grown corpus is scratch; the log and any reproducer stay.
  rm -rf "$work/corpus"
  if compgen -G "$work/artifacts/*" >/dev/null; then
    echo "$h reproducers:" "$work"/artifacts/*
    [[ " ${failed[*]} " == *" $h "* ]] || failed+=("$h")
  fi
done

echo "=== fuzz results: $out"
if ((${#failed[@]})); then
  echo "failed: ${failed[*]}"
  exit 1
fi
echo "all ${#harnesses[@]} harnesses ran ${seconds} s each without a finding"
