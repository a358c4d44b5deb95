#!/usr/bin/env bash
# Installs what eddy needs on a Debian 12 machine. Safe to run again: it only
# installs packages that are missing and primes the Wine prefix once.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config git
  libfmt-dev libmsgsl-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  liburing-dev
  clang libclang-rt-14-dev  # the libFuzzer harnesses (tools/fuzz.sh, the linux-fuzz preset)
  libuv1-dev  # the peer in bench/process_bench.cpp
  libc-ares-dev  # dns::resolver
  dnsmasq-base   # the resolver tests' DNS server (the binary only: no system service on port 53)
  g++-mingw-w64-x86-64-posix
  wine wine64
  nodejs
  # the benchmark harness (tools/bench/run) and its peers
  python3 wrk libboost-dev strace
  prometheus  # promtool: the metrics test runs `promtool check metrics` (tests/observe_test.cpp)
)
if [[ "${EDDY_SETUP_SKIP_WINE:-0}" == 1 ]]; then
  # Drop exactly these two (a ${packages[@]/wine/} substitution would leave "64" behind).
  kept=()
  for p in "${packages[@]}"; do [[ $p == wine || $p == wine64 ]] || kept+=("$p"); done
  packages=("${kept[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  [[ -z "$p" ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# node may come from somewhere other than Debian's package (it is preinstalled here).
if command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs/}")
fi
filtered=()
for p in "${missing[@]}"; do [[ -n "$p" ]] && filtered+=("$p"); done

if ((${#filtered[@]})); then
  echo "eddy setup: installing ${filtered[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-o DPkg::Lock::Timeout=600 -y --no-install-recommends)
  if [[ $(id -u) -ne 0 ]]; then sudo=sudo; else sudo=; fi
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  $sudo apt-get install "${apt_opts[@]}" -qq "${filtered[@]}"
else
  echo "eddy setup: all packages present"
fi

# Prime the Wine prefix once (outside the repository; see docs/windows.md).
if [[ "${EDDY_SETUP_SKIP_WINE:-0}" != 1 ]] && command -v wine >/dev/null 2>&1; then
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  "$here/wine-env.sh" init
fi
