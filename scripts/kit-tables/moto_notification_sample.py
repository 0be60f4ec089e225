"""Capture what a real moto server delivers from SNS to SQS, for ``tomodachi::testing::sns_sqs``.

Provenance script for the notification shape the in-memory SNS+SQS
(``crates/tomodachi/src/testing/sns_sqs.rs``) is compared against: it publishes one
message (with a subject and message attributes) to a topic with two subscribed queues,
one with raw message delivery off and one with it on, receives both deliveries and prints
them:

* the non-raw SQS body (the SNS ``Notification`` JSON) as moto writes it, and its key
  order;
* the raw SQS body and the SQS message attributes SNS turned the message attributes into;
* a few SQS behaviours the kit follows or deliberately departs from (deleting with a
  stale receipt handle, the receive count of a message moved to a dead-letter queue).

What moto 5.2.5 showed (and where the kit follows AWS instead):

* the notification keys come sorted (``json.dumps(sort_keys=True, indent=2)``) with
  ``SignatureVersion`` ``2``; AWS writes them in its documented order (``Type``,
  ``MessageId``, ``TopicArn``, ``Subject``, ``Message``, ``Timestamp``,
  ``SignatureVersion``, ``Signature``, ``SigningCertURL``, ``UnsubscribeURL``,
  ``MessageAttributes``) with ``" : "`` separators and version ``1``; the key *set* is the
  same, which the kit's ``notification_keys_match_moto_capture`` test pins;
* deleting with a stale receipt handle deletes the message (AWS: succeeds, deletes
  nothing), and an unknown receipt handle fails with ``The input receipt handle is
  invalid.`` (AWS: ``The input receipt handle "…" is not a valid receipt handle.``);
* a message moved to a dead-letter queue keeps counting receives (``maxReceiveCount`` 2:
  received twice, moved on the third receive, first received from the DLQ with count 3);
* a raw delivery of a message with a ``Binary`` attribute never arrives (so the sample
  publishes no binary attribute).

Usage (from the repository root)::

    .venv/bin/python scripts/kit-tables/moto_notification_sample.py

It starts ``moto_server`` from the same venv on a free loopback port and stops it again
when done. Nothing is written to disk.
"""

import json
import pathlib
import subprocess
import sys
import time

import boto3
import botocore.config

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _moto import start_moto  # noqa: E402



def queue(sqs, name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return url, arn


def receive(sqs, url, **kwargs):
    return sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=1,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
        **kwargs,
    ).get("Messages", [])


def capture(sns, sqs):
    topic = sns.create_topic(Name="sample-topic")["TopicArn"]
    plain_url, plain_arn = queue(sqs, "sample-plain")
    raw_url, raw_arn = queue(sqs, "sample-raw")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=plain_arn)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=raw_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    sns.publish(
        TopicArn=topic,
        Subject="greeting",
        Message='{"hello": "world"}',
        MessageAttributes={
            "event": {"DataType": "String", "StringValue": "created"},
            "count": {"DataType": "Number", "StringValue": "3"},
        },
    )
    plain = receive(sqs, plain_url)[0]
    raw = receive(sqs, raw_url)[0]
    notification = json.loads(plain["Body"])
    return {
        "queue_url": plain_url,
        "topic_arn": topic,
        "notification_body": plain["Body"],
        "notification_keys": list(notification.keys()),
        "notification_attribute_entry": notification.get("MessageAttributes", {}).get(
            "event"
        ),
        "raw_body": raw["Body"],
        "raw_message_attributes": {
            name: {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attr.items()}
            for name, attr in raw.get("MessageAttributes", {}).items()
        },
        "raw_system_attribute_names": sorted(raw.get("Attributes", {})),
    }


def probes(sqs):
    out = {}
    url, _ = queue(sqs, "probe-stale", VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = receive(sqs, url)[0]["ReceiptHandle"]
    time.sleep(1.5)
    second = receive(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first)
    time.sleep(1.5)
    left = receive(sqs, url)
    out["stale_receipt_delete"] = {
        "re_received": len(second),
        "still_there_after_deleting_with_stale_receipt": len(left),
    }
    try:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-receipt")
        out["unknown_receipt_delete"] = "ok"
    except sqs.exceptions.ClientError as e:
        out["unknown_receipt_delete"] = e.response["Error"]

    dlq_url, dlq_arn = queue(sqs, "probe-dlq")
    src_url, _ = queue(
        sqs,
        "probe-src",
        VisibilityTimeout="1",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
    )
    sqs.send_message(QueueUrl=src_url, MessageBody="d")
    counts = []
    for _ in range(3):
        got = receive(sqs, src_url)
        counts.append([m["Attributes"]["ApproximateReceiveCount"] for m in got])
        time.sleep(1.5)
    moved = receive(sqs, dlq_url)
    out["redrive"] = {
        "max_receive_count": 2,
        "source_receive_counts": counts,
        "dlq_receive_count": [m["Attributes"]["ApproximateReceiveCount"] for m in moved],
    }
    return out


def main():
    proc, url = start_moto()
    try:
        kwargs = dict(
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
        )
        sns = boto3.client("sns", **kwargs)
        sqs = boto3.client("sqs", **kwargs)
        result = capture(sns, sqs)
        result["probes"] = probes(sqs)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
