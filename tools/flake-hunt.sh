#!/usr/bin/env bash
# Hunts flaky tests: builds the given Linux presets, then runs each suite N times with
# `ctest -j4` (more jobs than this machine's cores, on purpose) while a CPU hog keeps every
# core busy, and lists every test that failed at least once, with how often.
#
# Usage: tools/flake-hunt.sh [N] [preset ...]
#   N        runs per preset (default 20)
#   presets  default: linux-release linux-debug-asan linux-tsan
# Environment: FLAKE_JOBS (ctest -j, default 4), FLAKE_HOGS (busy processes, default nproc).
# Exit status: 0 when no test failed in any run, 1 otherwise. No retries, no --repeat: a test
# that fails once here is a bug to fix at its root.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

runs="${1:-20}"
shift || true
presets=("$@")
((${#presets[@]})) || presets=(linux-release linux-debug-asan linux-tsan)
ctest_jobs="${FLAKE_JOBS:-4}"
hogs="${FLAKE_HOGS:-$(nproc 2>/dev/null || echo 2)}"
build_jobs="$(nproc 2>/dev/null || echo 2)"

hog_pids=()
stop_hogs() {
  ((${#hog_pids[@]})) && kill "${hog_pids[@]}" 2>/dev/null || true
  hog_pids=()
}
trap stop_hogs EXIT
start_hogs() {
  local i
  for ((i = 0; i < hogs; ++i)); do
    # A plain busy loop at normal priority: it competes with the tests for every core.
    bash -c 'while :; do :; done' &
    hog_pids+=("$!")
  done
}

report="$(mktemp -d "${TMPDIR:-/tmp}/eddy-flake-hunt.XXXXXX")"
declare -A failures=()
status=0
for p in "${presets[@]}"; do
  echo "=== $p: configure and build"
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p" -j "$build_jobs" >/dev/null
  start_hogs
  for ((r = 1; r <= runs; ++r)); do
    log="$report/$p.$r.log"
    if ctest --preset "$p" -j "$ctest_jobs" </dev/null >"$log" 2>&1; then
      echo "$p run $r/$runs: passed"
    else
      status=1
      failed="build/$p/Testing/Temporary/LastTestsFailed.log"
      names=()
      if [[ -f "$failed" ]]; then
        # Lines are "NUMBER:NAME".
        while IFS=: read -r _ name; do
          [[ -n "$name" ]] || continue
          names+=("$name")
          key="$p  $name"
          failures[$key]=$((${failures[$key]:-0} + 1))
        done <"$failed"
      fi
      echo "$p run $r/$runs: FAILED ${names[*]:-(see $log)}"
    fi
  done
  stop_hogs
done

echo
echo "=== flake hunt: $runs runs per preset, ctest -j$ctest_jobs, $hogs CPU hogs; logs in $report"
if ((${#failures[@]} == 0 && status == 0)); then
  echo "no test failed"
  exit 0
fi
printf '%s\n' "failures (preset, test, runs failed):"
for key in "${!failures[@]}"; do
  printf '  %s  %d/%d\n' "$key" "${failures[$key]}" "$runs"
done | sort
exit 1
