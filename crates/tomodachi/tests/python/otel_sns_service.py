"""A Python tomodachi service for the OpenTelemetry interop tests over AWS SNS+SQS (moto), run
with `tomodachi run --opentelemetry-instrument` (spans exported to the tests' OTLP receiver by
the OTEL_* variables). Configured by environment:

SVC_NAME      service name
AWS_ENDPOINT  the moto server's URL (SNS, SQS and STS)
TOPIC_IN      topic consumed by `on_message` (JsonBase, competing); each message's data is
              appended as one JSON line to OUT_FILE
TOPIC_OUT     `GET /publish` publishes {"from": "python"} there (message attribute
              source=python)
HTTP_PORT     the HTTP port
"""
import json
import os

import tomodachi
from tomodachi.envelope import JsonBase

ENDPOINT = os.environ["AWS_ENDPOINT"]


class OtelSnsService(tomodachi.Service):
    name = os.environ["SVC_NAME"]
    message_envelope = JsonBase
    options = {
        "http": {"port": int(os.environ.get("HTTP_PORT", "0"))},
        "aws_sns_sqs": {
            "region_name": "eu-west-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        },
        "aws_endpoint_urls": {"sns": ENDPOINT, "sqs": ENDPOINT, "sts": ENDPOINT},
    }

    @tomodachi.http("GET", r"/publish")
    async def publish(self, request):
        await tomodachi.aws_sns_sqs_publish(
            self,
            {"from": "python"},
            topic=os.environ["TOPIC_OUT"],
            message_attributes={"source": "python"},
        )
        return 200, "published"

    @tomodachi.aws_sns_sqs(os.environ["TOPIC_IN"], competing=True)
    async def on_message(self, data):
        with open(os.environ["OUT_FILE"], "a") as f:
            f.write(json.dumps(data) + "\n")

    async def _started_service(self):
        with open(os.environ["OUT_FILE"] + ".ready", "w") as f:
            f.write("ready")
