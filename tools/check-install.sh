#!/usr/bin/env bash
# Checks that an installed eddy can be used: for a shared and then a static build, configures
# eddy, installs it into a temporary prefix, then builds and runs tests/consumer against it
#   1. with CMake:       find_package(eddy CONFIG) through CMAKE_PREFIX_PATH
#   2. with pkg-config:  c++ main.cpp $(pkg-config --cflags --libs eddy) through PKG_CONFIG_PATH
# Exits non-zero on the first failure. Usage: tools/check-install.sh [work-dir]
# (default: a fresh temporary folder, removed on success; EDDY_KEEP_WORK=1 keeps it).
#
# Windows: tools/check-install.sh --mingw BUILD_DIR [work-dir] installs an existing mingw-w64
# build of eddy.dll (the mingw-wine preset's build/mingw-wine), cross-builds the consumer
# against it with find_package(eddy CONFIG) (through eddy_DIR: the cross toolchain confines
# CMAKE_PREFIX_PATH to the mingw sysroot) and runs it under Wine with eddy.dll next to it.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

step() { printf '\n== %s\n' "$*"; }

if [[ "${1:-}" == --mingw ]]; then
  build="$(cd "${2:?usage: check-install.sh --mingw BUILD_DIR [work-dir]}" && pwd)"
  work="${3:-$(mktemp -d "${TMPDIR:-/tmp}/eddy-install-check-mingw.XXXXXX")}"
  prefix="$work/prefix"
  rm -rf "$prefix" "$work/consumer"
  grep -q '^BUILD_SHARED_LIBS:BOOL=ON' "$build/CMakeCache.txt" || { echo "$build is not a DLL build" >&2; exit 1; }
  step "mingw: install eddy.dll from $build into $prefix"
  cmake --install "$build" --prefix "$prefix" >/dev/null
  dll="$(find "$prefix" -name eddy.dll -print -quit)"
  [[ -n $dll ]] || { echo "eddy.dll was not installed" >&2; exit 1; }
  [[ -n "$(find "$prefix" -name 'libeddy.dll.a' -print -quit)" ]] || { echo "the import library was not installed" >&2; exit 1; }
  step "mingw: consumer with find_package(eddy CONFIG)"
  cmake -S "$src/tests/consumer" -B "$work/consumer" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$src/tools/toolchains/mingw-w64.cmake" \
    -Deddy_DIR="$(dirname "$(find "$prefix" -name eddy-config.cmake -print -quit)")" >/dev/null
  cmake --build "$work/consumer"
  # It must load eddy.dll (not a static copy of eddy), which Windows finds next to it.
  imports="$(x86_64-w64-mingw32-objdump -p "$work/consumer/eddy_consumer.exe")"
  grep -q "DLL Name: eddy.dll" <<<"$imports" || { echo "eddy_consumer.exe does not import eddy.dll" >&2; exit 1; }
  cp "$dll" "$work/consumer/"
  "$src/tools/wine-run.sh" "$work/consumer/eddy_consumer.exe"
  step "mingw install check passed (eddy.dll, find_package, run under Wine)"
  if [[ $# -lt 3 && "${EDDY_KEEP_WORK:-0}" != 1 ]]; then rm -rf "$work"; fi
  exit 0
fi

work="${1:-$(mktemp -d "${TMPDIR:-/tmp}/eddy-install-check.XXXXXX")}"
mkdir -p "$work"
cxx="${CXX:-c++}"

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
