"""A Python tomodachi service for the AMQP interop tests, configured by environment:

SVC_NAME   service name (and AMQP identity)
RK_IN      routing key consumed by `on_message` (JsonBase); each message's data is appended
           as one JSON line to OUT_FILE
COMPETING  "1" to consume with competing=True
RK_OUT     if set: after start, publish PUBLISH_COUNT messages {"i": n, "from": "python"} there
"""
import json
import os

import tomodachi
from tomodachi.envelope import JsonBase


class InteropService(tomodachi.Service):
    name = os.environ["SVC_NAME"]
    message_envelope = JsonBase

    @tomodachi.amqp(os.environ["RK_IN"], competing=os.environ.get("COMPETING") == "1")
    async def on_message(self, data):
        with open(os.environ["OUT_FILE"], "a") as f:
            f.write(json.dumps(data) + "\n")

    async def _started_service(self):
        with open(os.environ["OUT_FILE"] + ".ready", "w") as f:
            f.write("ready")
        rk_out = os.environ.get("RK_OUT")
        if rk_out:
            for n in range(int(os.environ.get("PUBLISH_COUNT", "1"))):
                await tomodachi.amqp_publish(self, {"i": n, "from": "python", "text": "友達"}, routing_key=rk_out)
