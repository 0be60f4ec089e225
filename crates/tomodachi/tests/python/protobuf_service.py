"""The Python tomodachi equivalent of examples/protobuf_service.rs (ProtobufBase, example.Person),
for the protobuf interop tests, configured by environment:

SVC_NAME      service name (default "example-protobuf")
AMQP_PREFIX   if set: the AMQP routing key prefix; `example.protobuf` is consumed and each Person
              republished unchanged to `example.protobuf.response`
AWS_ENDPOINT  if set: the moto server's URL; SNS topic `example-protobuf` is consumed through the
              queue `example-protobuf-queue` and each Person republished to
              `example-protobuf-response` with the message attributes it came with
AWS_PREFIX    the SNS topic and SQS queue name prefix (default none)

Each Person received is appended to OUT_FILE as one JSON line {"transport", "id", "tags",
"data_encoding", "attributes"}; OUT_FILE.ready is created once started.

Person is built from a descriptor at run time (the same schema as person.proto), so no protoc
is needed.
"""
import json
import os

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import tomodachi
from tomodachi.envelope import ProtobufBase


def person_class():
    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="person.proto", package="example", syntax="proto3")
    message = proto.message_type.add(name="Person")
    for name, number, kind in [
        ("id", 1, field.TYPE_STRING),
        ("first_name", 2, field.TYPE_STRING),
        ("last_name", 3, field.TYPE_STRING),
        ("age", 4, field.TYPE_INT32),
    ]:
        message.field.add(name=name, number=number, type=kind, label=field.LABEL_OPTIONAL)
    message.field.add(name="tags", number=5, type=field.TYPE_STRING, label=field.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("example.Person"))


Person = person_class()
AMQP_PREFIX = os.environ.get("AMQP_PREFIX")
AWS_ENDPOINT = os.environ.get("AWS_ENDPOINT")


def record(transport, person, metadata, attributes=None):
    with open(os.environ["OUT_FILE"], "a") as f:
        f.write(
            json.dumps(
                {
                    "transport": transport,
                    "id": person.id,
                    "tags": len(person.tags),
                    "data_encoding": metadata["data_encoding"],
                    "attributes": attributes,
                }
            )
            + "\n"
        )


class ProtobufExample(tomodachi.Service):
    name = os.environ.get("SVC_NAME", "example-protobuf")
    message_envelope = ProtobufBase
    options = {}
    if AMQP_PREFIX is not None:
        options["amqp"] = {"routing_key_prefix": AMQP_PREFIX}
    if AWS_ENDPOINT:
        options["aws_sns_sqs"] = {
            "region_name": "eu-west-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "topic_prefix": os.environ.get("AWS_PREFIX", ""),
            "queue_name_prefix": os.environ.get("AWS_PREFIX", ""),
        }
        options["aws_endpoint_urls"] = {"sns": AWS_ENDPOINT, "sqs": AWS_ENDPOINT, "sts": AWS_ENDPOINT}

    if AMQP_PREFIX is not None:

        @tomodachi.amqp("example.protobuf", proto_class=Person)
        async def on_amqp_person(self, data, metadata):
            record("amqp", data, metadata)
            await tomodachi.amqp_publish(self, data, routing_key="example.protobuf.response")

    if AWS_ENDPOINT:

        @tomodachi.aws_sns_sqs("example-protobuf", queue_name="example-protobuf-queue", proto_class=Person)
        async def on_sns_person(self, data, metadata, message_attributes):
            record("sns", data, metadata, message_attributes)
            await tomodachi.aws_sns_sqs_publish(
                self, data, topic="example-protobuf-response", message_attributes=message_attributes
            )

    async def _started_service(self):
        with open(os.environ["OUT_FILE"] + ".ready", "w") as f:
            f.write("ready")
