"""The loop workloads (tools/bench/micro) and the Google Benchmark suites."""

import json
import os
import subprocess

from .common import (BIN, CLIENT_CPU, EDDY_MICRO, LOOP_BENCH, PROCESS_BENCH, SERVER_CPU, UV_MICRO, Server,
                     WorkloadError, in_round_order, log, run_json, run_json_any)

MICRO_IMPLS = [
    ("eddy-io_uring", [EDDY_MICRO], {"EDDY_BACKEND": "io_uring"}),
    ("eddy-epoll", [EDDY_MICRO], {"EDDY_BACKEND": "epoll"}),
    ("libuv", [UV_MICRO], {}),
]


def micro_round(res, rnd, args):
    sizes = args.sizes
    jobs = [
        ("timers", ["timers", str(sizes["timers"])], SERVER_CPU),
        ("work", ["work", str(sizes["work"])], None),
        ("async", ["async", str(sizes["async"])], None),
        ("dns", ["dns", str(sizes["dns"]), "4"], None),
        ("spawn", ["spawn", str(sizes["spawn"]), "4"], None),
    ]
    for key, mode_args, cpu in jobs:
        if args.only and key not in args.only:
            continue
        for name, cmd, env in in_round_order(MICRO_IMPLS, rnd):
            log(f"--- round {rnd + 1}: {key} {name}")
            try:
                r = run_json(cmd + mode_args, env, cpu)
                res.add(key, name, r["value"])
                for phase in ["start", "run", "close"]:
                    if f"{phase}_ms" in r:
                        res.add(f"{key}_{phase}", name, r[f"{phase}_ms"])
            except (WorkloadError, subprocess.SubprocessError) as e:
                res.error(f"{key} {name}: {e}")
    # two-process workloads: server on CPU 0, client on CPU 1
    pairs = [
        ("pingpong", "echo-server", "pingpong", MICRO_IMPLS, "client"),
        ("pump", "pump-server", "pump", MICRO_IMPLS + [("blocking", [os.path.join(BIN, "raw_pump")], {})], "server"),
    ]
    for key, server_mode, client_mode, impls, reporter in pairs:
        if args.only and key not in args.only:
            continue
        for name, cmd, env in in_round_order(impls, rnd):
            log(f"--- round {rnd + 1}: {key} {name}")
            srv_mode, cli_mode = server_mode, client_mode
            if name == "blocking":
                srv_mode, cli_mode = "server", "client"
            server = None
            try:
                server = Server(name, cmd + [srv_mode], env)
                client = run_json_any(cmd + [cli_mode, str(server.port), str(args.duration)], env, CLIENT_CPU)
                if reporter == "client":
                    value = client["value"]
                else:
                    out, err = server.proc.communicate(timeout=60)
                    if server.proc.returncode != 0:
                        raise WorkloadError(f"{key} {name} server exited {server.proc.returncode}: {err.decode()[-300:]}")
                    value = json.loads(out.decode().strip().splitlines()[-1])["value"]
                res.add(key, name, value)
            except (WorkloadError, subprocess.SubprocessError, ValueError, OSError) as e:
                res.error(f"{key} {name}: {e}")
            finally:
                if server:
                    server.stop()


def micro_suite(args):
    """The Google Benchmark suites (bench/loop_bench.cpp, bench/process_bench.cpp), as one JSON
    object whose "benchmarks" list holds both."""
    merged = None
    for exe in [LOOP_BENCH, PROCESS_BENCH]:
        if not os.path.exists(exe):
            continue
        out = os.path.join(args.out, os.path.basename(exe) + ".json")
        cmd = [exe, f"--benchmark_out={out}", "--benchmark_out_format=json",
               f"--benchmark_min_time={args.gbench_min_time}"]
        log(f"=== Google Benchmark: {os.path.basename(exe)}")
        p = subprocess.run(cmd, capture_output=True, timeout=900)
        if p.returncode != 0 or not os.path.exists(out):
            raise WorkloadError(f"{os.path.basename(exe)} exited {p.returncode}: {p.stderr.decode()[-300:]}")
        with open(out) as f:
            doc = json.load(f)
        if merged is None:
            merged = doc
        else:
            merged["benchmarks"] += doc.get("benchmarks", [])
    return merged
