#!/usr/bin/env python3
"""Publishes N JsonBase messages of a chosen payload size to amq.topic (routing key --routing-key) with aioamqp
(benches/growth.py, issue 15): data ``{"seq": i, "text": <size characters of base64 text>}``,
a distinct message uuid each, ``data_encoding`` ``raw`` or ``base64_gzip_json`` (base64 of a
zlib stream of the data's JSON, as Python tomodachi sends data of 60000 characters or more).
Bodies are built before the clock starts. Prints ONE JSON line as shared/bench/amqp_publish.py.

    .venv/bin/python benches/growth_publish.py --n 2000 --size 10000 [--encoding base64_gzip_json]
"""
import argparse
import asyncio
import base64
import json
import random
import time
import uuid
import zlib

import aioamqp


def body(i, text, encoding, svc_uuid, topic):
    data = {"seq": i, "text": text}
    if encoding == "base64_gzip_json":
        data = base64.b64encode(zlib.compress(json.dumps(data).encode())).decode()
    return json.dumps({
        "service": {"name": "bench-publisher", "uuid": svc_uuid},
        "metadata": {"message_uuid": f"{svc_uuid}.{uuid.uuid4()}", "protocol_version": "tomodachi-json-base--1.0.0",
                     "compatible_protocol_versions": ["json_base-wip"], "timestamp": time.time(),
                     "topic": topic, "data_encoding": encoding},
        "data": data,
    }).encode()


async def main(a):
    rng = random.Random(15)
    text = base64.b64encode(rng.randbytes(a.size * 3 // 4 + 3)).decode()[: a.size]
    svc_uuid = str(uuid.uuid4())
    transport, protocol = await aioamqp.connect(host=a.host, port=a.port, login="guest", password="guest")
    channel = await protocol.channel()
    t_first = time.monotonic()
    size = 0
    for i in range(a.n):
        b = body(i, text, a.encoding, svc_uuid, a.routing_key)
        size = len(b)
        await channel.basic_publish(b, exchange_name="amq.topic", routing_key=a.routing_key, properties={})
    await channel.basic_qos(prefetch_count=1)  # a round trip: everything before it reached the broker
    t_last = time.monotonic()
    await protocol.close()
    transport.close()
    print(json.dumps({"published": a.n, "t_first": t_first, "t_last": t_last,
                      "publish_s": round(t_last - t_first, 3), "bytes_per_msg": size}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--encoding", default="raw", choices=["raw", "base64_gzip_json"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5672)
    ap.add_argument("--routing-key", default="bench.in")
    asyncio.run(main(ap.parse_args()))
