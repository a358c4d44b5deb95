#!/usr/bin/env bash
# Wine environment for running eddy's Windows tests (see docs/windows.md).
#   wine-env.sh init   create the prefix once (about 15 s the first time)
#   wine-env.sh start  start a persistent wineserver and prime it
#   wine-env.sh stop   stop the wineserver
# Sourced by wine-run.sh, which CTest uses as CMAKE_CROSSCOMPILING_EMULATOR.
export WINEPREFIX="${EDDY_WINEPREFIX:-${HOME:-/root}/.cache/eddy/wine64}"
export WINEARCH=win64
export WINEDEBUG="${WINEDEBUG:--all,err+module}"
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY WAYLAND_DISPLAY

eddy_wine_init() {
  if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
    mkdir -p "$(dirname "$WINEPREFIX")"
    echo "eddy: creating Wine prefix at $WINEPREFIX"
    wineboot -i </dev/null >/dev/null 2>&1 || true
    wineserver -w || true
  fi
}

eddy_wine_start() {
  eddy_wine_init
  # Persistent server. It exits with status 2 when one is already running for this prefix,
  # which is fine (start is idempotent). Its output is detached so it never holds a pipe
  # of the caller (a CI log, a $(...) capture) open.
  wineserver -p </dev/null >/dev/null 2>&1 || true
  # Without this priming run the first test may hang on inherited stderr.
  wine wineboot </dev/null >/dev/null 2>&1 || true
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    init) eddy_wine_init ;;
    start) eddy_wine_start ;;
    stop) wineserver -k 2>/dev/null || true ;;
    *) echo "usage: $0 init|start|stop" >&2; exit 2 ;;
  esac
fi
