#!/usr/bin/env bash
# Sets up the machine (tools/setup.sh), builds eddy in release mode and runs the main
# sample. Extra arguments go to the sample.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

EDDY_SETUP_SKIP_WINE="${EDDY_SETUP_SKIP_WINE:-1}" bash "$here/setup.sh"
cmake --preset linux-release >/dev/null
cmake --build --preset linux-release --target event_order -j "$(nproc 2>/dev/null || echo 2)"
exec "$root/build/linux-release/samples/event_order/event_order" "$@"
