#!/usr/bin/env bash
# CMAKE_CROSSCOMPILING_EMULATOR for the mingw-w64 build: runs a Windows .exe under Wine
# with eddy's quiet, headless environment. Never give it a tty (Wine then wraps every
# character in escape codes).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=wine-env.sh
source "$here/wine-env.sh"
# DLLs built next to the executable are found by Windows' search order; add the mingw
# runtime folder for libstdc++/libgcc when linked dynamically.
exec wine "$@"
