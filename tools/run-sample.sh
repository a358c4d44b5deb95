#!/usr/bin/env bash
# Sets up the machine (tools/setup.sh), builds eddy in release mode and runs the main
# sample, the hello_http server (Ctrl-C stops it). Extra arguments go to the sample, e.g.
# --port 8080 --backend epoll.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

EDDY_SETUP_SKIP_WINE="${EDDY_SETUP_SKIP_WINE:-1}" bash "$here/setup.sh"
cmake --preset linux-release >/dev/null
cmake --build --preset linux-release --target hello_http -j "$(nproc 2>/dev/null || echo 2)"
exec "$root/build/linux-release/samples/hello_http/hello_http" "$@"
