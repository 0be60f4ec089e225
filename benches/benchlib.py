"""Helpers the whole-process benchmark and chaos scripts in benches/ share: free loopback
ports, a process's memory and open file descriptors from /proc, waiting for a port, JsonBase
envelopes, and the chaos fixture's ``handling`` log lines."""

from datetime import datetime
import json
import os
import re
import signal
import subprocess
import socket
import time


def free_port():
    """A loopback port nothing listens on (now)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status_kib(pid, key):
    """A ``/proc/<pid>/status`` figure in KiB (``VmRSS``, ``VmHWM``), 0 when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def fds(pid):
    """How many file descriptors the process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_port(port, seconds=30):
    """Waits until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def json_base(topic, message_uuid, data, service="bench", service_uuid="s0"):
    """A JsonBase envelope (raw data encoding) as Python tomodachi builds it."""
    return json.dumps({
        "service": {"name": service, "uuid": service_uuid},
        "metadata": {"message_uuid": message_uuid, "protocol_version": "tomodachi-json-base--1.0.0",
                     "compatible_protocol_versions": ["json_base-wip"], "timestamp": time.time(),
                     "topic": topic, "data_encoding": "raw"},
        "data": data,
    })


def handled(log_path):
    """The chaos fixture's ``handling`` records in a JSON log: ``(message_uuid, unix time)``
    per handler run, in order."""
    out = []
    with open(log_path, errors="replace") as f:
        for line in f:
            if '"handling"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("message") == "handling":
                stamp = datetime.fromisoformat(record["timestamp"]).timestamp()
                out.append((record.get("message_uuid"), stamp))
    return out


_CALLGRIND_LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$")


def callgrind_functions(path):
    """``callgrind_annotate`` output -> {function: Ir} (object file and source path dropped);
    {} when the file is missing."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path, errors="replace"):
        m = _CALLGRIND_LINE.match(line)
        if not m or "PROGRAM TOTALS" in m.group(2):
            continue
        k = re.sub(r" \[/[^\]]*\]$", "", m.group(2).strip())
        if k.startswith("???:"):
            k = k[4:]
        elif k.startswith(("./", "/")) and ":" in k:
            k = k.split(":", 1)[1]
        out[k] = out.get(k, 0) + int(m.group(1).replace(",", ""))
    return out


def stop(p):
    """SIGTERM, then the exit code (killed after 60 s)."""
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()
