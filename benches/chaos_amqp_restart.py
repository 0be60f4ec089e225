#!/usr/bin/env python3
"""Chaos, long form (issue 13): RabbitMQ restarted while messages flow.

    .venv/bin/python benches/chaos_amqp_restart.py AMQP_SLOW_COUNT_BINARY [messages] [restarts] [rate]

Runs the chaos fixture ``crates/tomodachi/tests/fixtures/amqp_slow_count.rs`` (release:
``cargo build --release -p tomodachi --example amqp_slow_count``) with the JSON logger, and
publishes ``messages`` (default 10 000) persistent JsonBase messages at ``rate`` per second
(default 500) to its routing key with publisher confirms (``aioamqp`` from the test venv; a
message whose confirm did not arrive is published again with the same ``message_uuid`` after
reconnecting). While they flow, the broker is restarted ``restarts`` times (default 1;
``rabbitmqctl stop_app``, 2 s, ``start_app``, ``await_startup``). It restarts the node under
every connection: by default the one on 127.0.0.1:5672, so run nothing else against it
meanwhile, or point it at a node of its own with ``AMQP_PORT`` and ``RABBITMQ_NODE`` (the
``rabbitmqctl -n`` name), e.g. a second node started with ``RABBITMQ_NODENAME=chaos@localhost``,
a config file with ``listeners.tcp.local = 127.0.0.1:5673``, its own ``RABBITMQ_MNESIA_BASE``,
``RABBITMQ_LOG_BASE`` and ``RABBITMQ_DIST_PORT``.

The service's log lines ``handling`` (one per handler run, with the message uuid) give the
handled total, the distinct uuids and the duplicates (a message handled more than once: a
redelivery of a message whose ack the restart lost, or a publisher re-send that had in fact
arrived). Its open file descriptors are counted before the first restart, 3 s after each
restart, and at the end. Prints one JSON line:
``{"published", "resent", "handled", "distinct", "duplicates", "lost", "fds_before_after_each_restart_and_at_end", ...}``.
Pass: ``lost == 0``.
"""

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid

from benchlib import fds, free_port, handled, json_base, wait_port

ROUTING_KEY = f"chaos.restart.{uuid.uuid4().hex}"
AMQP_PORT = int(os.environ.get("AMQP_PORT", "5672"))
RABBITMQ_NODE = os.environ.get("RABBITMQ_NODE", "")


def envelope(i):
    return json_base(ROUTING_KEY, f"p0.{i:08d}", {"i": i}, "chaos-publisher", "p0").encode()


def rabbitmqctl(*args):
    node = ["-n", RABBITMQ_NODE] if RABBITMQ_NODE else []
    subprocess.run(["rabbitmqctl", *node, *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


async def connect():
    import aioamqp
    while True:
        try:
            transport, protocol = await aioamqp.connect("127.0.0.1", AMQP_PORT, login="guest",
                                                        password="guest")
            channel = await protocol.channel()
            await channel.confirm_select()
            return transport, protocol, channel
        except Exception:  # noqa: BLE001 - the broker is restarting: try again
            await asyncio.sleep(0.2)


async def publish_all(n, rate, progress, stats):
    transport, protocol, channel = await connect()
    interval = 1.0 / rate
    next_at = time.monotonic()
    i = 0
    while i < n:
        try:
            await asyncio.wait_for(
                channel.publish(envelope(i), exchange_name="amq.topic", routing_key=ROUTING_KEY,
                                properties={"delivery_mode": 2}),
                timeout=5)
        except Exception:  # noqa: BLE001 - no confirm: reconnect and publish i again
            stats["resent"] += 1
            try:
                await protocol.close()
            except Exception:  # noqa: BLE001
                pass
            transport.close()
            transport, protocol, channel = await connect()
            continue
        i += 1
        progress[0] = i
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
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    restarts = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 500.0
    port = free_port()
    log_path = f"/tmp/chaos-amqp-restart-{os.getpid()}.log"
    env = dict(os.environ, HTTP_PORT=str(port), TOMODACHI_LOGGER="json", ROUTING_KEY=ROUTING_KEY,
               HANDLER_SLEEP_MS="0")
    config = f"/tmp/chaos-amqp-restart-{os.getpid()}.json"
    with open(config, "w") as f:
        json.dump({"options": {"amqp": {"port": AMQP_PORT}}}, f)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([binary, "--production", "-c", config], env=env, stdout=log,
                                stderr=log)
    wait_port(port)
    time.sleep(1.0)  # the consumer is declared and bound
    fd_samples = [fds(proc.pid)]
    progress = [0]
    stats = {"resent": 0}
    publisher = threading.Thread(target=lambda: asyncio.run(publish_all(n, rate, progress, stats)),
                                 daemon=True)
    started = time.monotonic()
    publisher.start()
    for r in range(restarts):
        # spread the restarts over the run
        target = n * (r + 1) // (restarts + 1)
        while progress[0] < target and publisher.is_alive():
            time.sleep(0.05)
        rabbitmqctl("stop_app")
        time.sleep(2)
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        time.sleep(3)  # the service has reconnected
        fd_samples.append(fds(proc.pid))
    publisher.join()
    published_s = time.monotonic() - started
    # every message handled (or the time is up)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        uuids = [u for u, _ in handled(log_path)]
        if len(set(uuids)) >= n:
            break
        time.sleep(1)
    time.sleep(3)  # late redeliveries
    fd_samples.append(fds(proc.pid))
    proc.terminate()
    code = proc.wait()
    uuids = [u for u, _ in handled(log_path)]
    distinct = set(uuids)
    expected = {f"p0.{i:08d}" for i in range(n)}
    summary = {
        "messages": n, "restarts": restarts, "rate": rate, "publish_seconds": round(published_s, 1),
        "published": progress[0], "resent": stats["resent"], "handled": len(uuids),
        "distinct": len(distinct & expected), "duplicates": len(uuids) - len(distinct),
        "lost": len(expected - distinct), "fds_before_after_each_restart_and_at_end": fd_samples, "exit_code": code,
        "log": log_path,
    }
    print(json.dumps(summary), flush=True)
    if summary["lost"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
