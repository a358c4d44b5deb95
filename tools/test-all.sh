#!/usr/bin/env bash
# Sets up the machine (tools/setup.sh), builds eddy and runs every test:
#   - Linux, debug with ASan + UBSan (io_uring and epoll ports)
#   - Linux, ThreadSanitizer
#   - Linux, shared library, plus an install check (find_package and pkg-config)
#   - Linux, clang (both ports, -Werror: GCC and clang both build eddy warning-free)
#   - Windows (mingw-w64 cross build of eddy.dll) with the tests under Wine (iocp port; the
#     samples load eddy.dll, the unit tests link a static copy of the same objects), plus an
#     install check of the DLL (find_package from a cross-compiled consumer, run under Wine)
#   - bench-quick: tools/bench/run --quick, eddy against its peers (about 3 minutes plus the
#     build); its Markdown table goes into the log. It fails only when a workload errors (a
#     server that does not start, wrk errors, wrong response bytes), never on a timing.
#     EDDY_SKIP_BENCH=1 leaves it out.
#   - fuzz-quick: tools/fuzz.sh 15, every libFuzzer harness for 15 s (about 3 minutes with
#     the build); a crash, leak or timeout fails it and its reproducer is kept.
# Usage: tools/test-all.sh [preset ...]   (default: all of the above)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

bash "$here/setup.sh"

presets=("$@")
if ((${#presets[@]} == 0)); then
  presets=(linux-debug-asan linux-tsan linux-shared linux-clang mingw-wine fuzz-quick)
  [[ "${EDDY_SKIP_BENCH:-0}" == 1 ]] || presets+=(bench-quick)
fi
jobs="$(nproc 2>/dev/null || echo 2)"

summary=()
status=0
# Each step ends the preset with a failure: run_preset runs inside `if !`, where bash ignores
# set -e, so every command that can fail says `|| return 1`.
run_preset() {
  local p="$1" start end
  start=$(date +%s)
  if [[ "$p" == fuzz-quick ]]; then
    echo "=== $p: tools/fuzz.sh 15"
    bash "$here/fuzz.sh" 15 || return 1
    end=$(date +%s)
    summary+=("$p: passed in $((end - start)) s")
    return 0
  fi
  if [[ "$p" == bench-quick ]]; then
    echo "=== $p: tools/bench/run --quick"
    python3 "$here/bench/run" --quick --jobs "$jobs" || return 1
    end=$(date +%s)
    summary+=("$p: passed in $((end - start)) s")
    return 0
  fi
  echo "=== $p: configure and build"
  cmake --preset "$p" >/dev/null || return 1
  cmake --build --preset "$p" -j "$jobs" || return 1
  echo "=== $p: test"
  if [[ "$p" == mingw-wine ]]; then
    "$here/wine-env.sh" start || return 1
    trap '"$here/wine-env.sh" stop' EXIT
    local rc=0
    ctest --preset "$p" </dev/null || rc=1
    # The preset builds eddy.dll: install it and run a consumer linked to it (issue 15).
    if ((rc == 0)); then
      echo "=== $p: install check (eddy.dll)"
      bash "$here/check-install.sh" --mingw "build/$p" || rc=1
    fi
    "$here/wine-env.sh" stop
    trap - EXIT
    ((rc == 0)) || return 1
  else
    ctest --preset "$p" -j "$jobs" || return 1
  fi
  if [[ "$p" == linux-shared ]]; then
    echo "=== $p: install check"
    bash "$here/check-install.sh" || return 1
  fi
  end=$(date +%s)
  summary+=("$p: passed in $((end - start)) s")
}

for p in "${presets[@]}"; do
  if ! run_preset "$p"; then
    summary+=("$p: FAILED")
    status=1
  fi
done

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
