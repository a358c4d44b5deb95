"""The HTTP workloads: the servers, the bytes they must answer, wrk, syscall counts."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

from .common import (BIN, CLIENT_CPU, HELLO, HELLO_CO, HERE, Server, WorkloadError, in_round_order, log,
                     proc_cpu_seconds, proc_rss_mib)

# ------------------------------------------------------------------------------ what runs

HTTP_SERVERS = [
    # name, command (the port is appended), environment
    ("eddy-io_uring", [HELLO, "--backend", "io_uring"], {}),
    ("eddy-epoll", [HELLO, "--backend", "epoll"], {}),
    # hello_http written with coroutines (samples/hello_http_co), against eddy-io_uring.
    ("eddy-co-io_uring", [HELLO_CO, "--backend", "io_uring"], {}),
    # hello_http with the slow-callback detector on (every callback timed; the delay monitor
    # and /metrics are always on): what observability costs (issue 16), against eddy-io_uring.
    ("eddy-observed-io_uring", [HELLO, "--backend", "io_uring", "--slow-callback-ms", "100"], {}),
    ("libuv", [os.path.join(BIN, "uv_http")], {}),
    ("asio", [os.path.join(BIN, "asio_http")], {}),
    ("node", ["node", os.path.join(HERE, "peers", "node_http.js")], {}),
    ("raw-io_uring", [os.path.join(BIN, "uring_http")], {}),
    ("raw-epoll", [os.path.join(BIN, "epoll_http")], {}),
]

PIPELINE_LUA = """-- 16 requests per write: wrk counts every response as one request.
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format() end
  req = table.concat(r)
end
request = function() return req end
"""

# What hello_http sends (samples/hello_http/http_server.cpp); every peer must send the same.
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello World\n"
OK_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nHello World\n"
OK_10 = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nHello World\n"
BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
NOT_IMPL = b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

# (what the client sends, in pieces, and everything the server must answer before closing)
CONVERSATIONS = [
    ([b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"
      b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhe",
      b"llo" b"GET / HTTP/1.1\r\nHo", b"st: a\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n"],
     OK + OK + OK_10 + OK + OK + OK_CLOSE),
    ([b"GET / HTTP/1.1\r\n\r\nGE\x01T / HTTP/1.1\r\n\r\n"], OK + BAD),
    ([b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"], NOT_IMPL),
    ([b"GET / HTTP/1.0\r\n\r\n"], OK_CLOSE),
]


# ------------------------------------------------------------------------------ HTTP


def verify_bytes(name, port):
    """Checks the exact bytes a server answers to a few conversations (pipelining, split
    requests, bodies, HTTP/1.0, Connection: close, a bad request, Transfer-Encoding)."""
    for pieces, expected in CONVERSATIONS:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        got = b""
        try:
            try:
                for piece in pieces:
                    s.sendall(piece)
                    time.sleep(0.02)  # let a piece arrive on its own, to exercise partial requests
            except OSError:
                pass  # the server closed early: what it sent says why
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            raise WorkloadError(f"{name}: no end of stream after {got!r} (expected {expected!r})")
        except OSError as e:
            raise WorkloadError(f"{name}: {e} after {got!r} (expected {expected!r})")
        finally:
            s.close()
        if got != expected:
            raise WorkloadError(f"{name}: wrong answer to {b''.join(pieces)!r}:\n  got      {got!r}\n  expected {expected!r}")


def parse_wrk(out):
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if not m:
        raise WorkloadError(f"wrk printed no request count: {out[-500:]!r}")
    requests = int(m.group(1))
    errors = {}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors = dict(zip(["connect", "read", "write", "timeout"], map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors["non2xx"] = int(m.group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return requests, rps, errors


def wrk(port, connections, duration, script=None, on_running=None):
    cmd = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s"]
    if script:
        cmd += ["-s", script]
    cmd.append(f"http://127.0.0.1:{port}/")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if on_running:
        on_running(p)
    out, _ = p.communicate(timeout=duration + 60)
    out = out.decode(errors="replace")
    if p.returncode != 0:
        raise WorkloadError(f"wrk exited {p.returncode}: {out[-300:]!r}")
    return parse_wrk(out)


def timed_http(server, connections, duration, script=None, rss_samples=None):
    """One wrk run; returns (cpu µs per request, requests/s)."""
    sampler = None
    stop = threading.Event()
    if rss_samples is not None:
        def sample():
            while not stop.wait(0.25):
                try:
                    rss_samples.append(proc_rss_mib(server.pid))
                except OSError:
                    return
        sampler = threading.Thread(target=sample, daemon=True)
    cpu0 = proc_cpu_seconds(server.pid)
    if sampler:
        sampler.start()
    try:
        requests, rps, errors = wrk(server.port, connections, duration, script)
    finally:
        stop.set()
        if sampler:
            sampler.join()
    cpu1 = proc_cpu_seconds(server.pid)
    bad = {k: v for k, v in errors.items() if v and k != "timeout"}
    if bad or requests == 0:
        raise WorkloadError(f"{server.name}: wrk -c{connections}: {requests} requests, errors {errors}")
    if server.proc.poll() is not None:
        raise WorkloadError(f"{server.name}: server exited during the run")
    return (cpu1 - cpu0) * 1e6 / requests, rps


def syscall_tool():
    """'perf' when perf can count raw_syscalls here, 'strace' when only strace works, or None."""
    if shutil.which("perf"):
        p = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "true"], capture_output=True)
        if p.returncode == 0 and re.search(rb"^\d+,", p.stderr, re.M):
            return "perf"
    if shutil.which("strace"):
        return "strace"
    return None


def count_syscalls(tool, server, connections, duration):
    """Syscalls per request over one wrk run, counted by perf stat or strace -c -f."""
    if tool == "perf":
        cmd = ["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", str(server.pid)]
    else:
        cmd = ["strace", "-c", "-f", "-q", "-p", str(server.pid)]
    counter = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # attached before the load starts
    try:
        requests, _, errors = wrk(server.port, connections, duration)
    finally:
        counter.send_signal(signal.SIGINT)
        _, err = counter.communicate(timeout=30)
    err = err.decode(errors="replace")
    if tool == "perf":
        m = re.search(r"^(\d+),", err, re.M)
    else:
        m = re.search(r"^[\d.\s]+?(\d+)\s+(?:\d+\s+)?total$", err, re.M)
    if not m or requests == 0:
        raise WorkloadError(f"{server.name}: could not count syscalls: {err[-300:]!r}")
    return int(m.group(1)) / requests



def http_round(res, rnd, args, sys_tool, verified):
    for name, cmd, env in in_round_order(HTTP_SERVERS, rnd):
        if args.servers and name not in args.servers:
            continue
        log(f"--- round {rnd + 1}: HTTP {name}")
        try:
            server = Server(name, cmd + ["--port", "0"], env)
        except (WorkloadError, OSError) as e:
            res.error(str(e))
            continue
        try:
            time.sleep(0.3)
            res.add("rss_idle", name, proc_rss_mib(server.pid))
            if name not in verified:
                verify_bytes(name, server.port)
                verified.add(name)
            wrk(server.port, 100, args.warmup)  # warm-up (Node's JIT), not measured
            cpu, rps = timed_http(server, 100, args.duration)
            res.add("http_c100_cpu", name, cpu)
            res.add("http_c100_rps", name, rps)
            samples = []
            cpu, rps = timed_http(server, 1000, args.duration, rss_samples=samples)
            res.add("http_c1000_cpu", name, cpu)
            res.add("http_c1000_rps", name, rps)
            res.add("rss_c1000", name, max(samples) if samples else proc_rss_mib(server.pid))
            cpu, rps = timed_http(server, 100, args.duration, script=args.pipeline_lua)
            res.add("http_pipe16_cpu", name, cpu)
            res.add("http_pipe16_rps", name, rps)
            idle = res.values["rss_idle"][name][-1]
            for conns in args.scale:
                # Thousands of keep-alive connections (issue 14): CPU per request, peak RSS,
                # and what each held connection costs beyond the idle server.
                samples = []
                cpu, rps = timed_http(server, conns, args.duration, rss_samples=samples)
                peak = max(samples) if samples else proc_rss_mib(server.pid)
                res.add(f"http_c{conns}_cpu", name, cpu)
                res.add(f"http_c{conns}_rps", name, rps)
                res.add(f"rss_c{conns}", name, peak)
                res.add(f"mem_per_conn_c{conns}", name, max(peak - idle, 0.0) * 1024 / conns)
            if sys_tool and rnd == 0:
                res.add("http_c100_syscalls", name, count_syscalls(sys_tool, server, 100, min(args.duration, 3)))
            log(f"    c100 {res.values['http_c100_cpu'][name][-1]:.2f} µs/req, "
                f"{res.values['http_c100_rps'][name][-1]:.0f} req/s")
        except (WorkloadError, OSError, subprocess.SubprocessError) as e:
            msg = str(e)
            res.error(msg if msg.startswith(name) else f"{name}: {msg}")
        finally:
            server.stop()
