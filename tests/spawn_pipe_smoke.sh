#!/usr/bin/env bash
# Runs the spawn_pipe sample as a user would: by default (the test helper's `args` mode
# through a pipe), with a program that exits 3, and with a program that does not exist.
# Usage: spawn_pipe_smoke.sh PATH_TO_spawn_pipe PATH_TO_eddy_test_helper [emulator]
# With an emulator (tools/wine-run.sh) the Windows build runs under Wine; the helper's path is
# then given as Wine sees it (Z: is the Linux root).
set -euo pipefail
exe="$1"
helper="$2"
emulator="${3:-}"
if [[ -n "$emulator" ]]; then helper="Z:${helper//\//\\}"; fi

run() { # prints the sample's stdout and stderr (CRs removed), then "status N"
  local status=0 out
  out="$($emulator "$exe" "$@" </dev/null 2>&1)" || status=$?
  printf '%s\nstatus %d\n' "${out//$'\r'/}" "$status"
}

out="$(run)"
grep -q '^\[spawn_pipe\] started pid [0-9]' <<<"$out" || { echo "no start line: $out"; exit 1; }
grep -qx 'hello from a child' <<<"$out" || { echo "child output missing: $out"; exit 1; }
grep -qx 'through a pipe' <<<"$out" || { echo "child output missing: $out"; exit 1; }
grep -qx '\[spawn_pipe\] child exited with status 0' <<<"$out" || { echo "no exit line: $out"; exit 1; }
grep -qx 'status 0' <<<"$out" || { echo "bad exit status: $out"; exit 1; }

out="$(run "$helper" exit 3)"
grep -qx '\[spawn_pipe\] child exited with status 3' <<<"$out" || { echo "no exit 3 line: $out"; exit 1; }
grep -qx 'status 3' <<<"$out" || { echo "sample did not pass on status 3: $out"; exit 1; }

out="$(run eddy-no-such-program-anywhere)"
grep -q 'cannot start eddy-no-such-program-anywhere: no such file' <<<"$out" || { echo "no spawn error: $out"; exit 1; }
grep -qx 'status 127' <<<"$out" || { echo "bad status for a missing program: $out"; exit 1; }
echo "spawn_pipe: default run, exit 3 and a missing program all as expected"
