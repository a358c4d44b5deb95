#!/usr/bin/env bash
# Checks that an installed eddy can be used: for a shared and then a static build, configures
# eddy, installs it into a temporary prefix, then builds and runs tests/consumer against it
#   1. with CMake:       find_package(eddy CONFIG) through CMAKE_PREFIX_PATH
#   2. with pkg-config:  c++ main.cpp $(pkg-config --cflags --libs eddy) through PKG_CONFIG_PATH
# Exits non-zero on the first failure. Usage: tools/check-install.sh [work-dir]
# (default: a fresh temporary folder, removed on success; EDDY_KEEP_WORK=1 keeps it).
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d "${TMPDIR:-/tmp}/eddy-install-check.XXXXXX")}"
mkdir -p "$work"
cxx="${CXX:-c++}"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

step() { printf '\n== %s\n' "$*"; }

for kind in shared static; do
  if [[ $kind == shared ]]; then shared=ON; else shared=OFF; fi
  build="$work/$kind/build"
  prefix="$work/$kind/prefix"
  rm -rf "$work/$kind"

  step "$kind: build and install eddy into $prefix"
  cmake -S "$src" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=$shared \
    -DEDDY_BUILD_TESTS=OFF -DEDDY_BUILD_SAMPLES=OFF -DEDDY_BUILD_BENCHMARKS=OFF \
    -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
  cmake --build "$build"
  cmake --install "$build" >/dev/null

  step "$kind: consumer with find_package(eddy CONFIG)"
  cmake -S "$src/tests/consumer" -B "$work/$kind/consumer-cmake" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  cmake --build "$work/$kind/consumer-cmake"
  "$work/$kind/consumer-cmake/eddy_consumer"

  step "$kind: consumer with pkg-config"
  pc_dir="$(dirname "$(find "$prefix" -name eddy.pc -print -quit)")"
  [[ -n $pc_dir && -f $pc_dir/eddy.pc ]] || { echo "eddy.pc was not installed" >&2; exit 1; }
  pc_flags=()
  [[ $kind == static ]] && pc_flags=(--static)
  # shellcheck disable=SC2207  # pkg-config output is a list of words by design
  flags=($(PKG_CONFIG_PATH="$pc_dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" pkg-config "${pc_flags[@]}" --cflags --libs eddy))
  echo "pkg-config ${pc_flags[*]} --cflags --libs eddy: ${flags[*]}"
  "$cxx" -std=c++20 -o "$work/$kind/consumer-pkgconfig" "$src/tests/consumer/main.cpp" "${flags[@]}"
  if [[ $kind == shared ]]; then
    LD_LIBRARY_PATH="$(dirname "$(find "$prefix" -name 'libeddy.so*' -print -quit)")" "$work/$kind/consumer-pkgconfig"
  else
    "$work/$kind/consumer-pkgconfig"
  fi
done

step "install check passed (shared and static, CMake and pkg-config)"
if [[ $# -eq 0 && "${EDDY_KEEP_WORK:-0}" != 1 ]]; then rm -rf "$work"; fi
