#!/usr/bin/env python3
"""Soak test (issue 13, long form): one service under steady HTTP and AMQP load for a long
time, its resident memory and open file descriptors sampled every 10 s.

    .venv/bin/python benches/soak.py AMQP_SLOW_COUNT_BINARY [minutes] [out.jsonl]

The service is the chaos fixture ``crates/tomodachi/tests/fixtures/amqp_slow_count.rs``
(release, ``cargo build --release -p tomodachi --example amqp_slow_count``), its handler without
a sleep: keep-alive ``GET /count`` at ~200 requests/s on 4 connections and JsonBase messages at
~200/s on a routing key of its own (RabbitMQ on 127.0.0.1:5672, ``aioamqp`` from the test venv). Each sample is a JSON line
``{"t", "rss_kib", "fds", "requests", "published", "handled"}``; the summary line gives, after
the warm-up (the first fifth of the run, at least 2 minutes), the median RSS and the largest
deviation from it in percent, and the fd counts seen. Pass: deviation within ±5 % and no fd
growth.
"""

import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid

from benchlib import fds, free_port, status_kib


ROUTING_KEY = f"soak.{uuid.uuid4().hex}"


def envelope(i):
    return json.dumps({
        "service": {"name": "soak", "uuid": "s0"},
        "metadata": {"message_uuid": f"s0.{uuid.uuid4()}", "protocol_version": "tomodachi-json-base--1.0.0",
                     "compatible_protocol_versions": ["json_base-wip"], "timestamp": time.time(),
                     "topic": ROUTING_KEY, "data_encoding": "raw"},
        "data": {"i": i, "pad": "x" * 200},
    }).encode()


def http_load(port, stop, counter, rate):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    interval = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        try:
            conn.request("GET", "/count")
            resp = conn.getresponse()
            resp.read()
            counter[0] += 1
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


async def amqp_load(stop, counter, rate):
    import aioamqp
    transport, protocol = await aioamqp.connect("127.0.0.1", 5672, login="guest", password="guest")
    channel = await protocol.channel()
    interval = 1.0 / rate
    next_at = time.monotonic()
    i = 0
    while not stop.is_set():
        await channel.basic_publish(envelope(i), exchange_name="amq.topic", routing_key=ROUTING_KEY)
        counter[0] += 1
        i += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await protocol.close()
    transport.close()


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    out = open(sys.argv[3], "w") if len(sys.argv) > 3 else sys.stdout
    port = free_port()
    env = dict(os.environ, HTTP_PORT=str(port), TOMODACHI_LOGGER="disabled",
               ROUTING_KEY=ROUTING_KEY, HANDLER_SLEEP_MS="0")
    proc = subprocess.Popen([binary, "--production"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    time.sleep(1.0)  # the consumer is declared and bound
    stop = threading.Event()
    requests = [0]
    published = [0]
    threads = [threading.Thread(target=http_load, args=(port, stop, requests, 50), daemon=True)
               for _ in range(4)]
    threads.append(threading.Thread(target=lambda: asyncio.run(amqp_load(stop, published, 200)),
                                    daemon=True))
    for t in threads:
        t.start()
    samples = []
    started = time.monotonic()
    try:
        while time.monotonic() - started < minutes * 60:
            time.sleep(10)
            if proc.poll() is not None:
                raise SystemExit(f"the service exited with {proc.returncode}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/count")
            handled = int(conn.getresponse().read())
            conn.close()
            sample = {"t": round(time.monotonic() - started, 1), "rss_kib": status_kib(proc.pid, "VmRSS"),
                      "fds": fds(proc.pid), "requests": requests[0], "published": published[0],
                      "handled": handled}
            samples.append(sample)
            print(json.dumps(sample), file=out, flush=True)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
        proc.terminate()
        proc.wait()
    warm = max(120.0, minutes * 60 / 5)
    after = [s for s in samples if s["t"] >= warm] or samples
    median = statistics.median(s["rss_kib"] for s in after)
    deviation = max(abs(s["rss_kib"] - median) / median * 100 for s in after)
    summary = {"summary": True, "minutes": minutes, "samples": len(samples), "warm_up_s": warm,
               "rss_median_kib": median, "rss_max_deviation_pct": round(deviation, 2),
               "rss_first_kib": samples[0]["rss_kib"] if samples else None,
               "fds_after_warm_up": sorted({s["fds"] for s in after}),
               "requests": requests[0], "published": published[0],
               "handled": samples[-1]["handled"] if samples else 0}
    print(json.dumps(summary), file=out, flush=True)


if __name__ == "__main__":
    main()
