#!/usr/bin/env python3
"""Memory per idle keep-alive connection (issue 15): the service's resident set (VmRSS,
/proc/<pid>/status) with N idle keep-alive connections open, each after one answered
``GET /``, against the same service with none, side by side for this port's ``hello``, a bare
hyper server (``bare_hyper_hello``, the ceiling) and Python tomodachi 0.29 (``hello.py`` of the
shared baseline).

    benches/conn_memory.py EXAMPLES_DIR [N ...]            # default N: 1000 5000
    VENV=.venv benches/conn_memory.py target/release/examples 5000

EXAMPLES_DIR holds release example binaries (``target/release/examples`` of a checkout). Every
service runs with keep-alive on (``HTTP_KEEPALIVE_TIMEOUT=600``) and the access log off, pinned
to core 0 (``SVC_CPU``); the client is this script. Per connection = (RSS with N open − RSS
before) / N, after the connections have been idle for ``SETTLE`` seconds (2). Prints one JSON
line per service and N, then a Markdown table.
"""

import json
import os
import resource
import socket
import subprocess
import sys
import time

from benchlib import free_port, status_kib, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SHARED") or os.path.join(os.path.dirname(ROOT), "shared", "bench")
VENV = os.environ.get("VENV") or os.path.join(ROOT, ".venv")
SVC_CPU = os.environ.get("SVC_CPU", "0")
SETTLE = float(os.environ.get("SETTLE", "2"))


def services(examples):
    return [
        ("rust", [os.path.join(examples, "hello"), "--production"]),
        ("bare-hyper", [os.path.join(examples, "bare_hyper_hello")]),
        # run from SHARED, as the shared harness does (the importer takes a relative path)
        ("python", [os.path.join(VENV, "bin", "tomodachi"), "run", "--production",
                    "py/hello.py"]),
    ]


def open_connections(port, n):
    """N keep-alive connections, each after one answered request (so every buffer the server
    keeps per connection exists)."""
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(request)
        conns.append(s)
    for s in conns:
        got = b""
        while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"hello"):
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("the server closed a keep-alive connection")
            got += chunk
        if not got.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer: {got[:80]!r}")
    return conns


def measure(label, cmd, n):
    port = free_port()
    env = dict(os.environ, HTTP_PORT=str(port), HTTP_ACCESS_LOG="0",
               HTTP_KEEPALIVE_TIMEOUT="600", TOMODACHI_LOGGER="disabled",
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen(["taskset", "-c", SVC_CPU] + cmd, env=env, cwd=SHARED,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        # one connection first, so lazily built per-process state is not counted per connection
        for s in open_connections(port, 1):
            s.close()
        time.sleep(SETTLE)
        before = status_kib(proc.pid, "VmRSS")
        conns = open_connections(port, n)
        time.sleep(SETTLE)
        after = status_kib(proc.pid, "VmRSS")
        for s in conns:
            s.close()
        return {"label": label, "n": n, "rss_before_kib": before, "rss_after_kib": after,
                "per_conn_bytes": round((after - before) * 1024 / n)}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    examples = sys.argv[1]
    counts = [int(a) for a in sys.argv[2:]] or [1000, 5000]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 2 * max(counts) + 100:
        sys.exit(f"open-file limit {hard} is too low for {max(counts)} connections")
    rows = []
    for n in counts:
        for label, cmd in services(examples):
            row = measure(label, cmd, n)
            print(json.dumps(row), flush=True)
            rows.append(row)
    print()
    print("| service | connections | RSS before KiB | RSS with them open KiB | bytes per connection |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['label']} | {r['n']} | {r['rss_before_kib']} | {r['rss_after_kib']} | "
              f"{r['per_conn_bytes']} |")


if __name__ == "__main__":
    main()
