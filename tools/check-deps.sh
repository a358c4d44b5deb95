#!/usr/bin/env bash
# Checks, from the compiler's own dependency output (ninja's deps log, filled from the .d
# files), that no core unit (src/) sees a port's or an OS's headers: <liburing.h>,
# <sys/epoll.h>, <windows.h> and the Winsock headers, or anything in a port's or OS services'
# folder (platform/uring, epoll, iocp, posix, win32). The one core unit allowed to is
# src/loop/port.cpp, which holds the ports and dispatches to them.
#
# Usage: tools/check-deps.sh BUILD_DIR     (a Ninja build directory, after a build)
#        tools/check-deps.sh -v BUILD_DIR  (also list each core unit with its platform/ headers)
# Exit status: 0 clean, 1 a core unit sees a forbidden header, 2 usage or no deps found.
set -euo pipefail

verbose=0
if [[ "${1:-}" == "-v" ]]; then verbose=1; shift; fi
build=${1:?usage: tools/check-deps.sh [-v] BUILD_DIR}
command -v ninja >/dev/null || { echo "check-deps: ninja not found" >&2; exit 2; }

allowed='/src/loop/port\.cpp\.o(bj)?$'
forbidden='(/|^)(liburing\.h|liburing/|sys/epoll\.h|windows\.h|winsock2\.h|ws2tcpip\.h|mswsock\.h|winternl\.h)$|(/|^)platform/(uring|epoll|iocp|posix|win32)/|/platform/ports\.hpp$'

# "target: #deps N, ..." then one indented dependency per line: print "target<TAB>dependency"
# for the objects of src/ units.
pairs=$(ninja -C "$build" -t deps |
  awk '/^[^ \t]/ { t = $1; sub(/:$/, "", t); next } /^[ \t]/ && t ~ /eddy_objects\.dir\/src\// { print t "\t" $1 }')
if [[ -z "$pairs" ]]; then
  echo "check-deps: no dependencies recorded for src/ objects in $build (build it first, with Ninja)" >&2
  exit 2
fi

units=$(awk -F'\t' '{ print $1 }' <<<"$pairs" | sort -u | wc -l)
bad=$(awk -F'\t' -v ok="$allowed" -v re="$forbidden" '$1 !~ ok && tolower($2) ~ re' <<<"$pairs")
if ((verbose)); then
  awk -F'\t' '$2 ~ /platform\// { t = $1; sub(/.*eddy_objects\.dir\//, "", t); d = $2; sub(/.*platform\//, "platform/", d); print t "\t" d }' <<<"$pairs" | sort -u
fi
if [[ -n "$bad" ]]; then
  echo "check-deps: core units that see a port's or an OS's headers (only src/loop/port.cpp may):" >&2
  sed 's|^.*eddy_objects\.dir/||' <<<"$bad" | sort -u >&2
  exit 1
fi
echo "check-deps: $units core units checked; none but src/loop/port.cpp sees a port's or an OS's headers"
