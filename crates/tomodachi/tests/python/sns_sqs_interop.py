"""A Python tomodachi service for the AWS SNS+SQS interop tests, configured by environment:

SVC_NAME       service name
AWS_ENDPOINT   the moto server's URL (SNS, SQS and STS)
TOPIC_IN       topic consumed by `on_message` (JsonBase, competing, filter policy
               {"source": ["rust"]}); each message is appended as one JSON line to OUT_FILE:
               {"data", "topic", "attributes", "message_type"} (binary attributes base64)
TOPIC_OUT      if set: after start, publish PUBLISH_COUNT messages {"i": n, "from": "python"}
               there with message attributes {"source": "python", "n": n, "tags": ["a", 1]}
"""
import base64
import json
import os

import tomodachi
from tomodachi.envelope import JsonBase

ENDPOINT = os.environ["AWS_ENDPOINT"]


def plain(value):
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    return value


class InteropService(tomodachi.Service):
    name = os.environ["SVC_NAME"]
    message_envelope = JsonBase
    options = {
        "aws_sns_sqs": {
            "region_name": "eu-west-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        },
        "aws_endpoint_urls": {"sns": ENDPOINT, "sqs": ENDPOINT, "sts": ENDPOINT},
    }

    @tomodachi.aws_sns_sqs(os.environ["TOPIC_IN"], competing=True, filter_policy={"source": ["rust"]})
    async def on_message(self, data, topic, message_attributes, message_type):
        record = {
            "data": data,
            "topic": topic,
            "message_type": message_type,
            "attributes": {k: plain(v) for k, v in message_attributes.items()},
        }
        with open(os.environ["OUT_FILE"], "a") as f:
            f.write(json.dumps(record) + "\n")

    async def _started_service(self):
        with open(os.environ["OUT_FILE"] + ".ready", "w") as f:
            f.write("ready")
        topic_out = os.environ.get("TOPIC_OUT")
        if topic_out:
            for n in range(int(os.environ.get("PUBLISH_COUNT", "1"))):
                await tomodachi.aws_sns_sqs_publish(
                    self,
                    {"i": n, "from": "python", "text": "友達"},
                    topic=topic_out,
                    message_attributes={"source": "python", "n": n, "tags": ["a", 1]},
                )
