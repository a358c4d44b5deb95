#!/usr/bin/env bash
# Sets up the machine (tools/setup.sh), builds eddy and runs every test:
#   - Linux, debug with ASan + UBSan (io_uring and epoll ports)
#   - Linux, ThreadSanitizer
#   - Linux, shared library, plus an install check (find_package and pkg-config)
#   - Windows (mingw-w64 cross build) with the tests under Wine (iocp port)
# Usage: tools/test-all.sh [preset ...]   (default: all of the above)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

bash "$here/setup.sh"

presets=("$@")
if ((${#presets[@]} == 0)); then
  presets=(linux-debug-asan linux-tsan linux-shared mingw-wine)
fi
jobs="$(nproc 2>/dev/null || echo 2)"

summary=()
status=0
run_preset() {
  local p="$1" start end
  start=$(date +%s)
  echo "=== $p: configure and build"
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p" -j "$jobs"
  echo "=== $p: test"
  if [[ "$p" == mingw-wine ]]; then
    "$here/wine-env.sh" start
    trap '"$here/wine-env.sh" stop' EXIT
    ctest --preset "$p" </dev/null
    "$here/wine-env.sh" stop
    trap - EXIT
  else
    ctest --preset "$p" -j "$jobs"
  fi
  if [[ "$p" == linux-shared ]]; then
    echo "=== $p: install check"
    bash "$here/check-install.sh"
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
