#!/usr/bin/env bash
# Renders an eddy trace (EDDY_TRACE=trace.json) to a PNG with headless Chromium (Debian's
# chromium package), for documentation. Usage: trace-screenshot.sh TRACE.json OUT.png [from_ms to_ms]
# The page is drawn here (one row per thread, a bar per event, callbacks labelled); for
# exploring a trace, open it in Perfetto or chrome://tracing instead.
set -euo pipefail
trace="$1"
out="$2"
from="${3:-0}"
to="${4:-0}"
command -v chromium >/dev/null || { echo "trace-screenshot: chromium is not installed (apt-get install chromium)"; exit 1; }
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
{
  cat <<'HTML'
<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#fff;font:12px sans-serif}canvas{display:block}
</style></head><body><canvas id="c" width="1400" height="420"></canvas><script>
const trace =
HTML
  cat "$trace"
  cat <<HTML
;
const from = $from, to = $to;
HTML
  cat <<'HTML'
const ev = trace.traceEvents.filter(e => e.ph === 'X');
const names = {}; trace.traceEvents.filter(e => e.ph === 'M').forEach(e => names[e.tid] = e.args.name);
const t0 = Math.min(...ev.map(e => e.ts)) + from * 1000;
const t1 = to > 0 ? Math.min(...ev.map(e => e.ts)) + to * 1000 : Math.max(...ev.map(e => e.ts + e.dur));
const tids = [...new Set(ev.map(e => e.tid))].sort((a, b) => a - b);
const c = document.getElementById('c'), g = c.getContext('2d');
const left = 150, width = c.width - left - 20, rowH = 34;
c.height = 60 + tids.length * rowH * 2;
const x = ts => left + (ts - t0) / (t1 - t0) * width;
g.fillStyle = '#222'; g.font = 'bold 14px sans-serif';
g.fillText('eddy trace: ' + ((t1 - t0) / 1000).toFixed(0) + ' ms', 10, 20);
g.font = '12px sans-serif';
for (let ms = 0; ms <= (t1 - t0) / 1000; ms += 50) {
  const xx = x(t0 + ms * 1000); g.fillStyle = '#ddd'; g.fillRect(xx, 30, 1, c.height - 30);
  g.fillStyle = '#666'; g.fillText(ms + ' ms', xx + 2, 42);
}
const colour = e => e.cat === 'phase' ? ({poll: '#9ecae1', timers: '#fdae6b', check: '#a1d99b', pending: '#bcbddc', close: '#d9d9d9'}[e.name] || '#ccc')
                  : e.cat === 'pool' ? '#74c476' : '#e6550d';
tids.forEach((tid, i) => {
  const y = 50 + i * rowH * 2;
  g.fillStyle = '#222'; g.fillText(names[tid] || ('thread ' + tid), 10, y + 20);
  ev.filter(e => e.tid === tid && e.ts + e.dur >= t0 && e.ts <= t1).forEach(e => {
    const sub = e.cat === 'callback' ? 1 : 0;
    const xa = Math.max(x(e.ts), left), xb = Math.min(x(e.ts + e.dur), left + width);
    g.fillStyle = colour(e); g.fillRect(xa, y + sub * rowH, Math.max(xb - xa, 1), rowH - 4);
    if (xb - xa > 40) { g.fillStyle = '#000'; g.fillText(e.name + ' ' + (e.dur / 1000).toFixed(1) + ' ms', xa + 3, y + sub * rowH + 18); }
  });
});
</script></body></html>
HTML
} > "$dir/trace.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,420 \
  --screenshot="$dir/shot.png" "file://$dir/trace.html" >/dev/null 2>&1
mv "$dir/shot.png" "$out"
echo "trace-screenshot: wrote $out"
