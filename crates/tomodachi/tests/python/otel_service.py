"""A Python tomodachi service for the OpenTelemetry interop tests, run with
`tomodachi run --opentelemetry-instrument` (spans exported to the tests' OTLP receiver by the
OTEL_* variables). Configured by environment:

SVC_NAME   service name (and AMQP identity)
RK_IN      routing key consumed by `on_message` (JsonBase); each message's data is appended
           as one JSON line to OUT_FILE
RK_OUT     `GET /publish` publishes {"from": "python"} there
WITH_SCHEDULE  when set, `heartbeat` runs every second and `failing` (which raises) too (the
           metrics tests)

`GET /log` logs "inside the handler" (answer=42) with `tomodachi.get_logger()`.
"""
import json
import os

import tomodachi
from tomodachi.envelope import JsonBase


class OtelService(tomodachi.Service):
    name = os.environ["SVC_NAME"]
    message_envelope = JsonBase
    options = tomodachi.Options(http=tomodachi.Options.HTTP(port=int(os.environ.get("HTTP_PORT", "0"))))

    @tomodachi.http("GET", r"/resource/(?P<id>[^/]+?)/?")
    async def resource(self, request, id):
        return 200, "id = {}".format(id)

    @tomodachi.http("GET", r"/publish")
    async def publish(self, request):
        await tomodachi.amqp_publish(self, {"from": "python"}, routing_key=os.environ["RK_OUT"])
        return 200, "published"

    @tomodachi.http("GET", r"/log")
    async def log(self, request):
        tomodachi.get_logger().info("inside the handler", answer=42)
        return 200, "logged"

    @tomodachi.amqp(os.environ["RK_IN"])
    async def on_message(self, data):
        with open(os.environ["OUT_FILE"], "a") as f:
            f.write(json.dumps(data) + "\n")

    if os.environ.get("WITH_SCHEDULE"):

        @tomodachi.schedule(interval=1, immediately=True)
        async def heartbeat(self):
            pass

        @tomodachi.schedule(interval=1, immediately=True)
        async def failing(self):
            raise Exception("no luck")

    async def _started_service(self):
        with open(os.environ["OUT_FILE"] + ".ready", "w") as f:
            f.write("ready")
