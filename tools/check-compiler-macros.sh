#!/usr/bin/env bash
# Checks that compiler-specific code sits behind the macros of one header: no source of the
# library, its tests or samples tests __GNUC__, __clang__ or _MSC_VER, or spells a compiler's
# extension keyword (__attribute__, __declspec, __builtin_*), outside
# platform/contract/compiler.hpp and include/eddy/export.hpp (the public headers' symbol
# visibility). Usage: tools/check-compiler-macros.sh [ROOT]. Exit status 0 clean, 1 otherwise.
set -euo pipefail
root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$root"
hits=$(grep -rnE '\b(__GNUC__|__clang__|_MSC_VER|__attribute__|__declspec|__builtin_[a-z_]+)\b' \
  --include='*.hpp' --include='*.cpp' --include='*.h' --include='*.c' src include platform tests samples |
  grep -vE '^(platform/contract/compiler\.hpp|include/eddy/export\.hpp):' || true)
if [[ -n "$hits" ]]; then
  echo "check-compiler-macros: compiler-specific code outside platform/contract/compiler.hpp:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "check-compiler-macros: compiler differences only in platform/contract/compiler.hpp and include/eddy/export.hpp"
