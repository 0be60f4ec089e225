#!/usr/bin/env python3
"""Peak memory of a service under hostile input (issue 13): the service's VmHWM (peak resident
set, /proc/<pid>/status) after

* ``huge-body``: ten concurrent 90 MiB POSTs to a path without a route (``hello``, which has
  only ``GET /``), each body streamed in 64 KiB writes until the server stops reading;
* ``bomb``: three JsonBase messages on ``bench.in`` (``amqp_count``) whose ``base64_gzip_json``
  data is 1.4 MB of zlib that inflates to 1.2 GB (a decompression bomb).

    benches/hostile_memory.py EXAMPLES_DIR [huge-body|bomb ...]

EXAMPLES_DIR holds release example binaries (``target/release/examples`` of a checkout), so two
builds can be compared. ``bomb`` needs RabbitMQ on 127.0.0.1:5672 and ``aioamqp`` (run it with
the test venv's Python, ``.venv/bin/python``). Prints one JSON line per case.
"""

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zlib

from benchlib import free_port


def peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def start(binary, port):
    env = dict(os.environ, HTTP_PORT=str(port), HTTP_ACCESS_LOG="0", TOMODACHI_LOGGER="disabled")
    proc = subprocess.Popen([binary, "--production"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{binary} did not start")


def upload(port, size):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
    chunk = b"x" * 65536
    sent = 0
    try:
        while sent < size:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    s.close()


def huge_body(examples):
    port = free_port()
    proc = start(os.path.join(examples, "hello"), port)
    before = peak_kib(proc.pid)
    threads = [threading.Thread(target=upload, args=(port, 90 * 1024 * 1024)) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.5)
    peak = peak_kib(proc.pid)
    proc.terminate()
    proc.wait()
    return {"case": "huge-body", "peak_kib_before": before, "peak_kib_after": peak}


def bomb_body():
    text = b'"' + b" " * (1200 * 1024 * 1024) + b'"'
    data = base64.b64encode(zlib.compress(text, 9)).decode()
    del text
    return json.dumps({
        "service": {"name": "bomber", "uuid": "b0"},
        "metadata": {"message_uuid": "b0.1", "protocol_version": "tomodachi-json-base--1.0.0",
                     "compatible_protocol_versions": ["json_base-wip"], "timestamp": time.time(),
                     "topic": "bench.in", "data_encoding": "base64_gzip_json"},
        "data": data,
    })


async def publish(body, count):
    import aioamqp
    transport, protocol = await aioamqp.connect("127.0.0.1", 5672, login="guest", password="guest")
    channel = await protocol.channel()
    for i in range(count):
        await channel.basic_publish(body.replace('"b0.1"', f'"b0.{i + 1}"').encode(),
                                    exchange_name="amq.topic", routing_key="bench.in")
    await protocol.close()
    transport.close()


def bomb(examples):
    port = free_port()
    proc = start(os.path.join(examples, "amqp_count"), port)
    time.sleep(1.0)  # the consumer is declared and bound
    before = peak_kib(proc.pid)
    body = bomb_body()
    asyncio.run(publish(body, 3))
    time.sleep(8.0)
    peak = peak_kib(proc.pid)
    proc.terminate()
    proc.wait()
    return {"case": "bomb", "body_bytes": len(body), "peak_kib_before": before,
            "peak_kib_after": peak}


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    examples = sys.argv[1]
    cases = sys.argv[2:] or ["huge-body", "bomb"]
    for case in cases:
        result = {"huge-body": huge_body, "bomb": bomb}[case](examples)
        result["examples"] = examples
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
