"""Record RabbitMQ topic-exchange routing against a real broker.

Provenance script for ``crates/tomodachi/tests/data/rabbitmq_topic_table.json``,
the table the Rust ``tomodachi::testing::topic`` unit tests assert against.

It connects to RabbitMQ over AMQP (``aioamqp``, already a dependency of the
Python ``tomodachi`` package in the project venv), declares a temporary topic
exchange and one exclusive auto-delete queue per binding pattern, publishes
every routing key once, then drains every queue and records which
``(pattern, routing_key)`` pairs were delivered.  Everything it declared is
deleted before it exits.

Usage (from the repository root)::

    .venv/bin/python scripts/kit-tables/rabbitmq_topic_table.py

Environment: ``AMQP_HOST`` (127.0.0.1), ``AMQP_PORT`` (5672),
``AMQP_USER``/``AMQP_PASSWORD`` (guest/guest).
"""

import asyncio
import json
import os
import pathlib
import sys
import uuid

import aioamqp
import aioamqp.exceptions

OUT = (
    pathlib.Path(__file__).resolve().parents[2]
    / "crates/tomodachi/tests/data/rabbitmq_topic_table.json"
)

PATTERNS = [
    "#",
    "*",
    "",
    "a",
    "a.b",
    "a.b.c",
    "a.*",
    "*.b",
    "*.a",
    "*.*",
    "*.*.*",
    "a.*.b",
    "a.*.*",
    "a.#",
    "#.a",
    "#.b",
    "a.#.b",
    "a.#.#",
    "a.*.#",
    "a.#.*",
    "#.a.#",
    "*.a.*",
    "#.#",
    "#.*",
    "*.#",
    "#.*.#",
    "*.#.*",
    "#.#.#",
    "a..b",
    "a.",
    ".a",
    ".",
    "..",
    "*.",
    ".*",
    "#.",
    ".#",
    "a.#.",
    "a*",
    "#a",
    "a.b#",
]

ROUTING_KEYS = [
    "",
    "a",
    "b",
    "c",
    "a.b",
    "b.a",
    "a.a",
    "b.b",
    "x.a",
    "a.c",
    "a.b.c",
    "a.c.b",
    "a.b.b",
    "a.b.a",
    "x.a.y",
    "a.x.y.b",
    "a.b.c.d",
    "x.y.z",
    "a..b",
    "a.",
    ".a",
    ".",
    "..",
    "a..",
    "..a",
    "*",
    "#",
    "a.*",
    "a.#",
    "a*",
    "#a",
    "a.b#",
    "A",
    "a.B",
]


async def record():
    host = os.environ.get("AMQP_HOST", "127.0.0.1")
    port = int(os.environ.get("AMQP_PORT", "5672"))
    transport, protocol = await aioamqp.connect(
        host=host,
        port=port,
        login=os.environ.get("AMQP_USER", "guest"),
        password=os.environ.get("AMQP_PASSWORD", "guest"),
    )
    exchange = "tomodachi-kit-topic-table-" + uuid.uuid4().hex
    queues = {}
    delivered = set()
    try:
        channel = await protocol.channel()
        await channel.exchange_declare(exchange, "topic", auto_delete=True)
        try:
            for pattern in PATTERNS:
                declared = await channel.queue_declare(
                    "tomodachi-kit-topic-" + uuid.uuid4().hex,
                    exclusive=True,
                    auto_delete=True,
                )
                queue = declared["queue"]
                queues[pattern] = queue
                await channel.queue_bind(queue, exchange, pattern)

            for index, key in enumerate(ROUTING_KEYS):
                await channel.basic_publish(str(index).encode(), exchange, key)
            # RabbitMQ routes a channel's publishes in order, before it serves a later
            # synchronous method of the same channel; the pause is belt and braces
            # (aioamqp's publisher-confirm support races, so it is not used).
            await asyncio.sleep(0.5)

            for pattern, queue in queues.items():
                while True:
                    try:
                        got = await channel.basic_get(queue, no_ack=True)
                    except aioamqp.exceptions.EmptyQueue:
                        break
                    key = ROUTING_KEYS[int(got["message"].decode())]
                    if got["routing_key"] != key:
                        raise RuntimeError(f"routing key mismatch: {got!r} vs {key!r}")
                    delivered.add((pattern, key))
        finally:
            for queue in queues.values():
                await channel.queue_delete(queue)
            await channel.exchange_delete(exchange)
            await channel.close()
    finally:
        await protocol.close()
        transport.close()

    rows = [
        {"pattern": p, "routing_key": k, "matches": (p, k) in delivered}
        for p in PATTERNS
        for k in ROUTING_KEYS
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    matched = sum(r["matches"] for r in rows)
    print(
        f"rabbitmq topic table: {len(PATTERNS)} patterns x {len(ROUTING_KEYS)} keys = "
        f"{len(rows)} rows, {matched} delivered, {len(rows) - matched} not delivered"
    )
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(record()))
