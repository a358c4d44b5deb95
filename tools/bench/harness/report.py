"""Summaries, ratios, targets, and the report: results.md and the SVG charts."""

import os
import statistics

from .http import HTTP_SERVERS

# workload key -> (title, unit, better, description)
# The connection counts of the scale runs (issue 14); full runs only (tools/bench/run --scale).
SCALE = [5000, 10000]

WORKLOADS = {
    "http_c100_cpu": ("HTTP hello, 100 connections: server CPU per request", "µs", "lower", ""),
    "http_c100_rps": ("HTTP hello, 100 connections: requests/s", "req/s", "higher", ""),
    "http_c100_syscalls": ("HTTP hello, 100 connections: syscalls per request", "syscalls", "lower", ""),
    "http_c1000_cpu": ("HTTP hello, 1000 connections: server CPU per request", "µs", "lower", ""),
    "http_c1000_rps": ("HTTP hello, 1000 connections: requests/s", "req/s", "higher", ""),
    "http_pipe16_cpu": ("HTTP hello, 100 connections, 16-deep pipelining: server CPU per request", "µs", "lower", ""),
    "http_pipe16_rps": ("HTTP hello, 100 connections, 16-deep pipelining: requests/s", "req/s", "higher", ""),
    "rss_idle": ("RSS, idle server", "MiB", "lower", ""),
    "rss_c1000": ("RSS at 1000 connections", "MiB", "lower", ""),
    **{k: v for n in SCALE for k, v in {
        f"http_c{n}_cpu": (f"HTTP hello, {n} connections: server CPU per request", "µs", "lower", ""),
        f"http_c{n}_rps": (f"HTTP hello, {n} connections: requests/s", "req/s", "higher", ""),
        f"rss_c{n}": (f"RSS at {n} connections", "MiB", "lower", ""),
        f"mem_per_conn_c{n}": (f"Memory per held connection at {n} (RSS under load − idle RSS) / connections",
                               "KiB", "lower", ""),
    }.items()},
    "pingpong": ("TCP ping-pong, 64 bytes, one connection", "round trips/s", "higher", ""),
    "pump": ("TCP pump, one connection, 256 KiB writes", "GB/s", "higher", ""),
    "timers": ("1M timers: start + run + close", "ms", "lower", ""),
    "timers_start": ("1M timers: start phase (construct + start)", "ms", "lower", ""),
    "timers_run": ("1M timers: run phase (all fire; includes the last 10 ms deadline)", "ms", "lower", ""),
    "timers_close": ("1M timers: close phase (close + callbacks + free)", "ms", "lower", ""),
    "work": ("1M queue_work jobs", "jobs/s", "higher", ""),
    "async": ("async wakeups (round trips from another thread)", "wakeups/s", "higher", ""),
    "dns": ("10k getaddrinfo(\"localhost\"), 4 in flight", "lookups/s", "higher", ""),
    "spawn": ("spawn /bin/true and reap it, 4 in flight", "spawns/s", "higher", ""),
}


# ------------------------------------------------------------------------------ summaries


def summary(vals):
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "rounds": vals}


EDDY = ["eddy-io_uring", "eddy-epoll"]


def ratios(values):
    """eddy/peer per round for every eddy port and peer that have the same rounds."""
    out = {}
    for e in EDDY:
        if e not in values:
            continue
        for peer, pv in values.items():
            if peer in EDDY:
                continue
            ev = values[e]
            n = min(len(ev), len(pv))
            rs = [ev[i] / pv[i] for i in range(n) if pv[i]]
            if rs:
                out[f"{e}/{peer}"] = summary(rs)
    return out


# (description, workload, eddy port, peer, limit, "le" or "ge", what the ratio measures)
TARGETS = [
    ("HTTP c100 CPU/request: io_uring port ≤ 1.05× raw io_uring", "http_c100_cpu", "eddy-io_uring", "raw-io_uring", 1.05, "le"),
    ("HTTP c100 CPU/request: io_uring port ≤ 0.8× libuv", "http_c100_cpu", "eddy-io_uring", "libuv", 0.8, "le"),
    ("HTTP c100 CPU/request: epoll port ≤ 1.0× libuv", "http_c100_cpu", "eddy-epoll", "libuv", 1.0, "le"),
    ("Syscalls/request at c100 on io_uring ≤ 0.25", "http_c100_syscalls", "eddy-io_uring", None, 0.25, "le"),
    ("1M timers in ≤ 0.5× libuv's time (io_uring port)", "timers", "eddy-io_uring", "libuv", 0.5, "le"),
    ("1M timers in ≤ 0.5× libuv's time (epoll port)", "timers", "eddy-epoll", "libuv", 0.5, "le"),
    ("1M queue_work ≥ 2× libuv's rate (io_uring port)", "work", "eddy-io_uring", "libuv", 2.0, "ge"),
    ("1M queue_work ≥ 2× libuv's rate (epoll port)", "work", "eddy-epoll", "libuv", 2.0, "ge"),
    ("Pump ≥ 0.95× the raw blocking pair (io_uring port)", "pump", "eddy-io_uring", "blocking", 0.95, "ge"),
    ("Pump ≥ 0.95× the raw blocking pair (epoll port)", "pump", "eddy-epoll", "blocking", 0.95, "ge"),
    ("RSS at 1000 connections ≤ libuv + 2 MiB (io_uring port)", "rss_c1000", "eddy-io_uring", "libuv", 2.0, "diff"),
    ("RSS at 1000 connections ≤ libuv + 2 MiB (epoll port)", "rss_c1000", "eddy-epoll", "libuv", 2.0, "diff"),
    ("hello_http_co within 5% of hello_http: c100 CPU/request co/callbacks ≤ 1.05 (io_uring)", "http_c100_cpu",
     "eddy-co-io_uring", "eddy-io_uring", 1.05, "le"),
    ("hello_http_co within 5% of hello_http: c100 requests/s co/callbacks ≥ 0.95 (io_uring)", "http_c100_rps",
     "eddy-co-io_uring", "eddy-io_uring", 0.95, "ge"),
    ("Observability on within 3% of off: c100 CPU/request observed/plain ≤ 1.03 (io_uring)", "http_c100_cpu",
     "eddy-observed-io_uring", "eddy-io_uring", 1.03, "le"),
    # Issue 14: at scale, CPU per request at most libuv's (both ports) and the raw io_uring
    # server's (io_uring); memory per held connection at most libuv's (one loop-wide read buffer).
    *[t for wl, what in [("http_c1000_cpu", "1000 conn"), *[(f"http_c{n}_cpu", f"{n} conn") for n in SCALE],
                         ("http_pipe16_cpu", "pipelined ×16")]
      for t in [(f"HTTP {what} CPU/request: io_uring port ≤ 1.0× libuv", wl, "eddy-io_uring", "libuv", 1.0, "le"),
                (f"HTTP {what} CPU/request: io_uring port ≤ 1.0× raw io_uring", wl, "eddy-io_uring", "raw-io_uring",
                 1.0, "le"),
                (f"HTTP {what} CPU/request: epoll port ≤ 1.0× libuv", wl, "eddy-epoll", "libuv", 1.0, "le")]],
    *[(f"Memory per connection at {SCALE[-1]} ≤ libuv's ({who})", f"mem_per_conn_c{SCALE[-1]}", server, "libuv", 1.0,
       "le") for who, server in [("io_uring port", "eddy-io_uring"), ("epoll port", "eddy-epoll"),
                                 ("coroutines, io_uring", "eddy-co-io_uring")]],
    *[(f"Idle RSS ≤ libuv + 1 MiB ({who})", "rss_idle", server, "libuv", 1.0, "diff")
      for who, server in [("io_uring port", "eddy-io_uring"), ("epoll port", "eddy-epoll")]],
]


def check_targets(values):
    out = []
    for desc, wl, port, peer, limit, how in TARGETS:
        v = values.get(wl, {})
        if port not in v or (peer and peer not in v):
            out.append({"target": desc, "status": "not measured"})
            continue
        ev = v[port]
        if peer is None:
            got = statistics.median(ev)
        elif how == "diff":
            n = min(len(ev), len(v[peer]))
            got = statistics.median([ev[i] - v[peer][i] for i in range(n)])
        else:
            n = min(len(ev), len(v[peer]))
            rs = [ev[i] / v[peer][i] for i in range(n) if v[peer][i]]  # as ratios(): a 0 has no ratio
            if not rs:
                out.append({"target": desc, "status": "not measured"})
                continue
            got = statistics.median(rs)
        met = got >= limit if how == "ge" else got <= limit
        out.append({"target": desc, "value": got, "limit": limit, "kind": how, "status": "met" if met else "missed"})
    return out


def fmt(x):
    if x is None:
        return "–"
    a = abs(x)
    if a >= 100000:
        return f"{x / 1000:.0f}k"
    if a >= 1000:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def cell(vals):
    if not vals:
        return "–"
    s = summary(vals)
    if len(vals) == 1:
        return fmt(s["median"])
    return f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})"


HTTP_KEYS = ["http_c100_cpu", "http_c100_rps", "http_c100_syscalls", "http_c1000_cpu", "http_c1000_rps",
             "http_pipe16_cpu", "http_pipe16_rps", "rss_idle", "rss_c1000"] + \
    [k for n in SCALE for k in (f"http_c{n}_cpu", f"http_c{n}_rps", f"rss_c{n}", f"mem_per_conn_c{n}")]
MICRO_KEYS = ["pingpong", "pump", "timers", "timers_start", "timers_run", "timers_close", "work", "async", "dns",
              "spawn"]


def markdown(doc):
    values = doc["values"]
    lines = [f"# eddy benchmark results ({doc['meta']['started']})", ""]
    m = doc["meta"]
    lines.append(f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), Linux {m['kernel']}; load average at start "
                 f"{m['load_start']}, at end {m['load_end']}. Mode: {m['mode']}, {m['rounds']} round(s), "
                 f"{m['duration']} s per HTTP and TCP run. Cells: median (min–max) over the rounds.")
    lines.append("")
    for title, keys, impls in [
        (f"HTTP hello (server on CPU {m['server_cpu']}, wrk -t1 on CPU {m['client_cpu']})", HTTP_KEYS, [s[0] for s in HTTP_SERVERS]),
        ("Loop workloads", MICRO_KEYS, ["eddy-io_uring", "eddy-epoll", "libuv", "blocking"]),
    ]:
        present = [i for i in impls if any(i in values.get(k, {}) for k in keys)]
        if not present:
            continue
        lines += [f"## {title}", "", "| workload | unit | " + " | ".join(present) + " |",
                  "|---|---|" + "---:|" * len(present)]
        for k in keys:
            t, unit, better, note = WORKLOADS[k]
            if k not in values and not note:
                continue
            row = [f"{t} ({better} is better)", unit]
            if k not in values:
                row += [note] + [""] * (len(present) - 1)
            else:
                row += [cell(values[k].get(i)) for i in present]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    peers = [p for p in [s[0] for s in HTTP_SERVERS] + ["blocking"] if p not in EDDY]
    used = [p for p in peers if any(f"{e}/{p}" in r for r in doc["ratios"].values() for e in EDDY)]
    if used:
        lines += ["## Ratios eddy/peer", "",
                  "Computed round by round, then median (min–max). Below 1 means eddy's figure is smaller "
                  "(better for CPU, time, syscalls and memory; worse for rates).", "",
                  "| workload | eddy port | " + " | ".join(used) + " |", "|---|---|" + "---:|" * len(used)]
    for k in HTTP_KEYS + MICRO_KEYS:
        r = doc["ratios"].get(k, {})
        for e in EDDY:
            if not any(f"{e}/{p}" in r for p in used):
                continue
            row = [WORKLOADS[k][0], e.replace("eddy-", "")]
            row += [cell(r[f"{e}/{p}"]["rounds"]) if f"{e}/{p}" in r else "–" for p in used]
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Targets", "", "| target | got | status |", "|---|---:|---|"]
    for t in doc["targets"]:
        if t["status"] == "not measured":
            lines.append(f"| {t['target']} | – | not measured |")
        else:
            got = f"{t['value']:+.2f} MiB" if t["kind"] == "diff" else f"{t['value']:.3f}"
            lines.append(f"| {t['target']} | {got} | **{t['status']}** |")
    if "http_c100_syscalls" not in values and "http_c100_cpu" not in values:
        pass
    elif doc.get("syscall_tool"):
        lines += ["", f"Syscalls counted with {doc['syscall_tool']} in a separate {min(m['duration'], 3)} s pass at 100 connections (round 1)."]
    else:
        lines += ["", "Syscalls per request: neither perf nor strace could count them here."]
    if doc.get("micro_suite"):
        lines += ["", "## Google Benchmark micro suites (bench/loop_bench.cpp, bench/process_bench.cpp)", "",
                  "| benchmark | real time | counters |", "|---|---:|---|"]
        for b in doc["micro_suite"].get("benchmarks", []):
            if b.get("error_occurred"):
                lines.append(f"| {b['name']} | skipped | {b.get('error_message', '')} |")
                continue
            skip = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads", "iterations",
                    "real_time", "cpu_time", "time_unit", "family_index", "per_family_instance_index",
                    "aggregate_name", "aggregate_unit"}
            # A counter named "iterations" (a rate, so a float) replaces the iteration count.
            counters = ", ".join(f"{k} {fmt(v)}" for k, v in b.items()
                                 if isinstance(v, (int, float)) and (k not in skip or (k == "iterations" and isinstance(v, float))))
            lines.append(f"| {b['name']} | {fmt(b['real_time'])} {b['time_unit']} | {counters} |")
    if doc["errors"]:
        lines += ["", "## Errors", ""] + [f"- {e}" for e in doc["errors"]]
    lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ charts

COLORS = {"eddy-io_uring": "#1f6feb", "eddy-epoll": "#6cb6ff", "libuv": "#d29922", "asio": "#8957e5",
          "node": "#3fb950", "raw-io_uring": "#6e7781", "raw-epoll": "#afb8c1", "blocking": "#57606a"}


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_bars(title, subtitle, groups, impls, unit, log_hint=False):
    """A grouped bar chart: groups = [(label, {impl: (median, min, max)})]; whiskers show min–max."""
    bar_w, gap, left, top, height = 14, 18, 60, 50, 220
    group_w = bar_w * len(impls) + gap
    width = left + group_w * len(groups) + 20
    width = max(width, 520)
    legend_h = 22 * ((len(impls) + 3) // 4)
    total_h = top + height + 60 + legend_h
    vmax = max([mx for _, d in groups for (_, _, mx) in d.values()] + [1e-12]) * 1.1
    y = lambda v: top + height - (v / vmax) * height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="18" font-size="14" font-weight="bold">{esc(title)}</text>',
           f'<text x="{left}" y="34" fill="#555">{esc(subtitle)}</text>']
    for i in range(5):  # grid
        v = vmax * i / 4
        out.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#555">{esc(fmt(v))}</text>')
    out.append(f'<text x="12" y="{top + height / 2}" transform="rotate(-90 12 {top + height / 2})" '
               f'text-anchor="middle" fill="#555">{esc(unit)}</text>')
    for gi, (label, data) in enumerate(groups):
        gx = left + gap / 2 + gi * group_w
        for ii, impl in enumerate(impls):
            if impl not in data:
                continue
            med, mn, mx = data[impl]
            x = gx + ii * bar_w
            out.append(f'<rect x="{x:.1f}" y="{y(med):.1f}" width="{bar_w - 2}" height="{top + height - y(med):.1f}" '
                       f'fill="{COLORS.get(impl, "#999")}"><title>{esc(impl)}: {esc(fmt(med))} {esc(unit)} '
                       f'(min {esc(fmt(mn))}, max {esc(fmt(mx))})</title></rect>')
            cx = x + (bar_w - 2) / 2
            if mx > mn:
                out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(mx):.1f}" y2="{y(mn):.1f}" stroke="#222"/>')
        out.append(f'<text x="{gx + (group_w - gap) / 2:.1f}" y="{top + height + 16}" text-anchor="middle">'
                   f'{esc(label)}</text>')
    for ii, impl in enumerate(impls):
        lx = left + (ii % 4) * 130
        ly = top + height + 40 + (ii // 4) * 22
        out.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{COLORS.get(impl, "#999")}"/>')
        out.append(f'<text x="{lx + 16}" y="{ly}">{esc(impl)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def charts(doc, outdir):
    values = doc["values"]
    files = []

    def group(keys, impls, norm=None):
        gs = []
        for k in keys:
            if k not in values:
                continue
            d = {}
            for i in impls:
                if i not in values[k]:
                    continue
                s = summary(values[k][i])
                d[i] = (s["median"], s["min"], s["max"])
            gs.append((k, d))
        return gs

    http_impls = [s[0] for s in HTTP_SERVERS]
    specs = [
        ("http_cpu.svg", "HTTP hello: server CPU time per request (lower is better)",
         ["http_c100_cpu", "http_c1000_cpu"] + [f"http_c{n}_cpu" for n in SCALE], http_impls, "µs per request"),
        ("http_cpu_pipelined.svg", "HTTP hello, 16-deep pipelining: server CPU per request (lower is better)",
         ["http_pipe16_cpu"], http_impls, "µs per request"),
        ("http_rps.svg", "HTTP hello: requests per second (higher is better)",
         ["http_c100_rps", "http_c1000_rps", "http_pipe16_rps"], http_impls, "requests/s"),
        ("rss.svg", "Resident memory (lower is better)", ["rss_idle", "rss_c1000"] + [f"rss_c{n}" for n in SCALE],
         http_impls, "MiB"),
        ("syscalls.svg", "Syscalls per request at 100 connections (lower is better)", ["http_c100_syscalls"],
         http_impls, "syscalls per request"),
    ]
    labels = {"http_c100_cpu": "100 conn", "http_c1000_cpu": "1000 conn", "http_pipe16_cpu": "pipelined ×16",
              "http_c100_rps": "100 conn", "http_c1000_rps": "1000 conn", "http_pipe16_rps": "pipelined ×16",
              "rss_idle": "idle", "rss_c1000": "1000 conn", "http_c100_syscalls": "100 conn",
              **{f"{k}{n}{sfx}": f"{n} conn" for n in SCALE for k, sfx in [("http_c", "_cpu"), ("http_c", "_rps"),
                                                                            ("rss_c", "")]}}
    for fname, title, keys, impls, unit in specs:
        gs = [(labels[k], d) for k, d in group(keys, impls)]
        if not gs:
            continue
        used = [i for i in impls if any(i in d for _, d in gs)]
        with open(os.path.join(outdir, fname), "w") as f:
            f.write(svg_bars(title, "median of the rounds; whiskers: min–max", gs, used, unit))
        files.append(fname)
    # The loop workloads have different units: one chart, each group relative to libuv
    # (speed, higher is better: libuv's value / ours for lower-is-better figures).
    rel = []
    impls = ["eddy-io_uring", "eddy-epoll", "libuv", "blocking"]
    for k in MICRO_KEYS:
        if k not in values or "libuv" not in values[k]:
            continue
        base = statistics.median(values[k]["libuv"])
        d = {}
        for i in impls:
            if i not in values[k]:
                continue
            vs = values[k][i]
            conv = [(base / v if WORKLOADS[k][2] == "lower" else v / base) for v in vs if v]
            if conv:
                d[i] = (statistics.median(conv), min(conv), max(conv))
        rel.append((k, d))
    if rel:
        used = [i for i in impls if any(i in d for _, d in rel)]
        with open(os.path.join(outdir, "loop.svg"), "w") as f:
            f.write(svg_bars("Loop workloads, speed relative to libuv (higher is better)",
                             "libuv = 1; timers: libuv's time / ours; others: our rate / libuv's", rel, used,
                             "× libuv"))
        files.append("loop.svg")
    return files



def write_report(doc, outdir):
    """Writes results.md and the charts into outdir; returns the Markdown."""
    md = markdown(doc)
    svgs = charts(doc, outdir)
    if svgs:
        md += "\n## Charts\n\n" + "\n".join(f"![{s}]({s})" for s in svgs) + "\n"
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(md)
    return md
