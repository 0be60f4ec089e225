# The Python tomodachi 0.29 twin of benches/fixtures/growth_consumer.rs (issue 15, "how cost
# grows"): the same environment, the same queues, the same record lines.
#
#   GROWTH_TRANSPORT  amqp (default) | sqs | none
#   GROWTH_HANDLERS   handlers (default 1): handler 0 on GROWTH_ROUTING_KEY (bench.in; SNS topic
#                     bench-topic / queue bench-queue), handler i > 0 on <key>.h<i>
#                     (bench-topic-h<i> / bench-queue-h<i>); AMQP handlers are competing=True, so
#                     every instance (Rust or Python) consumes the queue sha256(routing key)
#   GROWTH_HANDLER_MS each handler run sleeps this long (default 0)
#   GROWTH_SCHEDULES  scheduled functions that do not fire for hours (default 0)
#   GROWTH_RECORD     a file each handled message appends "<seq> <flag>\n" to (flag: SQS receive
#                     count - 1; 0 for AMQP, upstream does not hand the redelivered bit over)
#   GROWTH_READY      a file written by _started_service
#   AMQP_HOST/AMQP_PORT, AWS_ENDPOINT
#
#   tomodachi run --production benches/growth_service.py     (from the repository root)
import asyncio
import os

import tomodachi
from tomodachi.envelope import JsonBase

TRANSPORT = os.getenv("GROWTH_TRANSPORT", "amqp")
HANDLERS = int(os.getenv("GROWTH_HANDLERS", "1"))
SCHEDULES = int(os.getenv("GROWTH_SCHEDULES", "0"))
HANDLER_MS = int(os.getenv("GROWTH_HANDLER_MS", "0"))
KEY = os.getenv("GROWTH_ROUTING_KEY", "bench.in")
ENDPOINT = os.getenv("AWS_ENDPOINT", "http://127.0.0.1:5000")
RECORD = os.getenv("GROWTH_RECORD")
READY = os.getenv("GROWTH_READY")

_record_fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if RECORD else None


def _record(data, flag):
    if _record_fd is None:
        return
    seq = data.get("seq", -1) if isinstance(data, dict) else -1
    os.write(_record_fd, f"{seq} {flag}\n".encode())


def _amqp_handler(i):
    key = KEY if i == 0 else f"{KEY}.h{i}"

    async def handler(self, data):
        if HANDLER_MS:
            await asyncio.sleep(HANDLER_MS / 1000)
        _record(data, 0)

    handler.__name__ = handler.__qualname__ = f"on_message_{i}"
    return tomodachi.amqp(key, competing=True)(handler)


def _sqs_handler(i):
    topic, queue = ("bench-topic", "bench-queue") if i == 0 else (f"bench-topic-h{i}", f"bench-queue-h{i}")

    async def handler(self, data, approximate_receive_count=None):
        if HANDLER_MS:
            await asyncio.sleep(HANDLER_MS / 1000)
        _record(data, max((approximate_receive_count or 1) - 1, 0))

    handler.__name__ = handler.__qualname__ = f"on_message_{i}"
    return tomodachi.aws_sns_sqs(topic, queue_name=queue)(handler)


def _schedule(i):
    async def job(self):
        pass

    job.__name__ = job.__qualname__ = f"job_{i}"
    # daily at different minutes past 03:00: nothing fires during a benchmark
    return tomodachi.schedule(interval=f"{i % 60} 3 * * *")(job)


async def _started_service(self):
    if READY:
        with open(READY, "w") as f:
            f.write("ready\n")


attrs = {
    "name": "bench-growth",
    "message_envelope": JsonBase,
    "options": tomodachi.Options(
        amqp=tomodachi.Options.AMQP(host=os.getenv("AMQP_HOST", "127.0.0.1"), port=int(os.getenv("AMQP_PORT", "5672"))),
        aws_endpoint_urls=tomodachi.Options.AWSEndpointURLs(sns=ENDPOINT, sqs=ENDPOINT),
        aws_sns_sqs=tomodachi.Options.AWSSNSSQS(
            region_name="eu-west-1", aws_access_key_id="AKIDBENCHDUMMY", aws_secret_access_key="bench-dummy-secret"
        ),
    ),
    "_started_service": _started_service,
}
for _i in range(HANDLERS):
    if TRANSPORT == "amqp":
        attrs[f"on_message_{_i}"] = _amqp_handler(_i)
    elif TRANSPORT == "sqs":
        attrs[f"on_message_{_i}"] = _sqs_handler(_i)
for _i in range(SCHEDULES):
    attrs[f"job_{_i}"] = _schedule(_i)

Service = type("Service", (tomodachi.Service,), attrs)
