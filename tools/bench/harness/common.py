"""The benchmark harness's paths, CPUs, processes and results (tools/bench/run)."""

import json
import os
import re
import select
import signal
import subprocess
import time

# tools/bench, the directory of the run script (peers/ and CMakeLists.txt are found from it).
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build", "bench")
BIN = os.path.join(BUILD, "bin")
HELLO = os.path.join(BUILD, "eddy", "samples", "hello_http", "hello_http")
HELLO_CO = os.path.join(BUILD, "eddy", "samples", "hello_http_co", "hello_http_co")
LOOP_BENCH = os.path.join(BUILD, "eddy", "bench", "eddy_loop_bench")
PROCESS_BENCH = os.path.join(BUILD, "eddy", "bench", "eddy_process_bench")
EDDY_MICRO = os.path.join(BIN, "eddy_micro")
UV_MICRO = os.path.join(BIN, "uv_micro")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The first two CPUs this process may use: servers on the first, load generators on the second.
_CPUS = sorted(os.sched_getaffinity(0))
SERVER_CPU = str(_CPUS[0])
CLIENT_CPU = str(_CPUS[1] if len(_CPUS) > 1 else _CPUS[0])


class WorkloadError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


# ------------------------------------------------------------------------------ building


def build(jobs):
    log("=== build (build/bench, release)")
    subprocess.run(["cmake", "-S", HERE, "-B", BUILD, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", BUILD, "-j", str(jobs)], check=True)


# ------------------------------------------------------------------------------ processes


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class Server:
    """A server process pinned to CPU 0 that prints 'listening on ...PORT' when ready."""

    def __init__(self, name, cmd, env, cpu=SERVER_CPU):
        self.name = name
        full_env = dict(os.environ)
        full_env.update(env)
        self.proc = subprocess.Popen(["taskset", "-c", cpu] + cmd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
        self.port = None
        deadline = time.time() + 15
        line = b""
        while time.time() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                m = re.search(rb"listening on (?:http://[^:]+:)?(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    return
                if not line:
                    break
            if self.proc.poll() is not None:
                break
        err = self.stop()
        raise WorkloadError(f"{name}: server did not start ({line!r}; stderr: {err.strip()[-300:]!r})")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            return self.proc.stderr.read().decode(errors="replace")
        except Exception:
            return ""


def run_json(cmd, env, cpu=None, timeout=300):
    """Runs a micro program and returns the JSON object it prints."""
    full_env = dict(os.environ)
    full_env.update(env)
    pre = ["taskset", "-c", cpu] if cpu else []
    p = subprocess.run(pre + cmd, capture_output=True, env=full_env, timeout=timeout)
    if p.returncode != 0:
        raise WorkloadError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode(errors='replace').strip()[-300:]}")
    for line in p.stdout.decode().splitlines():
        if line.startswith("{") and "value" in line:
            return json.loads(line)
    raise WorkloadError(f"{' '.join(cmd)} printed no result: {p.stdout.decode()[-300:]!r}")



def run_json_any(cmd, env, cpu):
    """Like run_json, but a program that prints {} (a client) is fine too."""
    full_env = dict(os.environ)
    full_env.update(env)
    p = subprocess.run(["taskset", "-c", cpu] + cmd, capture_output=True, env=full_env, timeout=120)
    if p.returncode != 0:
        raise WorkloadError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode(errors='replace')[-300:]}")
    lines = [l for l in p.stdout.decode().splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


# ------------------------------------------------------------------------------ the suite


class Results:
    def __init__(self):
        self.values = {}  # workload -> impl -> [per round]
        self.errors = []
        self.notes = []

    def add(self, workload, impl, value):
        self.values.setdefault(workload, {}).setdefault(impl, []).append(value)

    def error(self, msg):
        log(f"ERROR: {msg}")
        self.errors.append(msg)


def in_round_order(items, rnd):
    """Peers in order on even rounds and reversed on odd ones (A B C, C B A, ...): a drift in
    the machine's speed during a round (other tenants, steal time) then favours no peer."""
    return items if rnd % 2 == 0 else list(reversed(items))
