"""Record SNS subscription filter-policy behaviour against a real moto server.

Provenance script for ``crates/tomodachi/tests/data/sns_filter_policy_table.json``,
the table the Rust ``tomodachi::testing::filter_policy`` unit tests assert against.

For every case below it starts from a fresh SNS topic and SQS queue, subscribes the
queue with the case's ``FilterPolicy`` / ``FilterPolicyScope`` (raw message
delivery), publishes each of the case's messages and checks whether it arrived in
the queue.  Policies that moto rejects at ``Subscribe`` are recorded with the error
code and message.

Where moto's behaviour contradicts the AWS documentation
(https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html and its
subpages), a case carries the AWS expectation (``aws_delivered`` / ``aws_error``) and a
``note``; the row is then written with ``"moto_differs": true`` next to what moto did.
Rows are only marked when moto actually disagrees with the recorded expectation.

Usage (from the repository root)::

    .venv/bin/python scripts/kit-tables/moto_filter_policy_table.py

It starts ``moto_server`` from the same venv on a free loopback port and stops it
again when done.
"""

import json
import pathlib
import subprocess
import sys

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _moto import start_moto  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/tomodachi/tests/data/sns_filter_policy_table.json"

ATTR = "MessageAttributes"
BODY = "MessageBody"


def s(value):
    return {"Type": "String", "Value": value}


def n(value):
    return {"Type": "Number", "Value": str(value)}


def arr(values):
    return {"Type": "String.Array", "Value": json.dumps(values)}


def binary(value):
    return {"Type": "Binary", "Value": value}


def m(attributes=None, **aws):
    """An attribute-scope message; ``aws`` may hold aws_delivered=..., note=..."""
    return {"attributes": attributes or {}, **aws}


def b(body, **aws):
    """A body-scope message (``body`` is JSON-encoded unless ``raw=True``)."""
    return {"body": body, **aws}


ARRAY_NOTE = (
    "AWS docs (string-value-matching): for String.Array attributes each element is "
    "matched separately; moto only applies prefix/suffix to String attributes"
)
ABUT_ARRAY_NOTE = (
    "AWS docs (string-value-matching, anything-but): a String.Array/array value "
    "matches when it contains a value that is not excluded; moto iterates over the "
    "characters of the String.Array text, or requires every array element of a body "
    "value to be non-excluded"
)
EIC_NOTE = (
    "AWS docs (string-value-matching, equals-ignore-case): comparison ignores case on "
    "both sides; moto lower-cases only the message value, not the policy value"
)
STRING_JSON_NOTE = (
    "A String attribute is one string; moto JSON-decodes String values and matches "
    "elements of a decoded array, so a String '[\"rugby\"]' matches \"rugby\" there"
)
BINARY_NOTE = (
    "AWS docs (subscription-filter-policy-constraints): attribute-based filtering "
    "ignores Binary attributes; moto treats a Binary attribute as present for exists"
)
NUMBER_VS_STRING_NOTE = (
    "AWS docs (numeric-value-matching): numeric values are not quoted in the policy; a "
    "Number attribute is a number, a String attribute is a string. moto aborts the "
    "whole value list at the first numeric rule when the attribute is a String, and "
    "string-compares quoted policy values with Number attributes"
)
NULL_NOTE = (
    "AWS docs (subscription-filter-policy-constraints): policies may contain null; in "
    "payload-based filtering null matches a JSON null property value (event-pattern "
    "semantics). moto never matches a null policy value"
)
BOOL_NOTE = (
    "true/false in a policy match JSON booleans only; moto treats true as the number 1 "
    "(Python bool is an int) and so matches the number 1"
)
MOTO_CRASH_NOTE = (
    "moto raises an internal error while matching (non-string/non-number body value), "
    "so Publish fails; AWS evaluates the policy normally"
)
BODY_OR_NOTE = (
    "AWS docs (and-or-logic, OR operator): $or is supported for payload-based filtering "
    "too; moto evaluates body-scope $or branches as if they were message attributes"
)
LOCALSTACK_NOTE = (
    "Not in the AWS developer guide; AWS rejects this policy (error text as recorded "
    "against AWS by LocalStack's snapshot tests, services/sns/filter.py), moto accepts it"
)
OR_COMPLEXITY_NOTE = (
    "AWS sums the combinations of the $or branches (LocalStack's AWS-snapshot-verified "
    "validator); moto multiplies them together, so moto calls this policy too complex"
)

CASES = [
    # --- exact string matching -------------------------------------------------------
    {
        "policy": {"customer_interests": ["rugby", "tennis"]},
        "scope": ATTR,
        "messages": [
            m({"customer_interests": s("rugby")}),
            m({"customer_interests": s("tennis")}),
            m({"customer_interests": s("baseball")}),
            m({"customer_interests": s("Rugby")}),
            m({"customer_interests": s("rugby ")}),
            m({"customer_interests": arr(["rugby", "tennis"])}),
            m({"customer_interests": arr(["baseball", "tennis"])}),
            m({"customer_interests": arr(["baseball"])}),
            m({"customer_interests": arr([])}),
            m({"other": s("rugby")}),
            m({}),
            m({"customer_interests": binary("rugby")}),
            m(
                {"customer_interests": s('["rugby"]')},
                aws_delivered=False,
                note=STRING_JSON_NOTE,
            ),
        ],
    },
    {
        "policy": {"store": ["example_corp"], "event": ["order_placed"]},
        "scope": ATTR,
        "messages": [
            m({"store": s("example_corp"), "event": s("order_placed")}),
            m({"store": s("example_corp"), "event": s("order_placed"), "x": s("y")}),
            m({"store": s("example_corp")}),
            m({"event": s("order_placed")}),
            m({"store": s("example_corp"), "event": s("order_cancelled")}),
        ],
    },
    {
        "policy": {"kind": ["", "a b", "ünïcødé", "with \"quote\""]},
        "scope": ATTR,
        "messages": [
            m({"kind": s("a b")}),
            m({"kind": s("ünïcødé")}),
            m({"kind": s("with \"quote\"")}),
            m({"kind": s("ab")}),
        ],
    },
    {
        "policy": {"price": [5, "5"]},
        "scope": ATTR,
        "messages": [
            m({"price": n(5)}),
            m({"price": n("5.0")}),
            m({"price": s("5")}, aws_delivered=True, note=NUMBER_VS_STRING_NOTE),
        ],
    },
    {
        "policy": {"price": [5, 10.5]},
        "scope": ATTR,
        "messages": [
            m({"price": n(5)}),
            m({"price": n("10.5")}),
            m({"price": n("1.05e1")}),
            m({"price": n(7)}),
            m({"price": s("5")}),
        ],
    },
    {
        "policy": {"code": ["5"]},
        "scope": ATTR,
        "messages": [
            m({"code": s("5")}),
            m({"code": n(5)}, aws_delivered=False, note=NUMBER_VS_STRING_NOTE),
        ],
    },
    # --- numeric matching ------------------------------------------------------------
    {
        "policy": {"price_usd": [{"numeric": ["=", 301.5]}]},
        "scope": ATTR,
        "messages": [
            m({"price_usd": n("301.5")}),
            m({"price_usd": n("3.015e2")}),
            m({"price_usd": n("301.50")}),
            m({"price_usd": n("301")}),
            m({"price_usd": s("301.5")}),
            m({}),
        ],
    },
    {
        "policy": {"price_usd": [{"numeric": [">", 0, "<=", 150]}]},
        "scope": ATTR,
        "messages": [
            m({"price_usd": n(0)}),
            m({"price_usd": n("0.1")}),
            m({"price_usd": n(150)}),
            m({"price_usd": n("150.01")}),
            m({"price_usd": n(-1)}),
            m({"price_usd": n(75)}),
            m({"price_usd": s("75")}),
        ],
    },
    {
        "policy": {"price_usd": [{"numeric": ["<", 0]}]},
        "scope": ATTR,
        "messages": [m({"price_usd": n("-0.5")}), m({"price_usd": n(0)})],
    },
    {
        "policy": {"v": [{"numeric": [">=", 10, "<", 20]}]},
        "scope": ATTR,
        "messages": [
            m({"v": n(10)}),
            m({"v": n("19.99999")}),
            m({"v": n(20)}),
            m({"v": n("9.9")}),
        ],
    },
    {
        "policy": {"v": [{"numeric": ["<=", -5]}, {"numeric": [">", 100]}, 42]},
        "scope": ATTR,
        "messages": [
            m({"v": n(-5)}),
            m({"v": n(-4)}),
            m({"v": n(42)}),
            m({"v": n(101)}),
            m({"v": n(100)}),
        ],
    },
    # --- prefix / suffix / equals-ignore-case -----------------------------------------
    {
        "policy": {"customer_interests": [{"prefix": "bas"}]},
        "scope": ATTR,
        "messages": [
            m({"customer_interests": s("baseball")}),
            m({"customer_interests": s("basketball")}),
            m({"customer_interests": s("bas")}),
            m({"customer_interests": s("ba")}),
            m({"customer_interests": s("rugby")}),
            m({"customer_interests": s("Baseball")}),
            m({}),
            m(
                {"customer_interests": arr(["rugby", "baseball"])},
                aws_delivered=True,
                note=ARRAY_NOTE,
            ),
        ],
    },
    {
        "policy": {"customer_interests": [{"suffix": "ball"}]},
        "scope": ATTR,
        "messages": [
            m({"customer_interests": s("baseball")}),
            m({"customer_interests": s("ball")}),
            m({"customer_interests": s("rugby")}),
            m({"customer_interests": s("balls")}),
            m(
                {"customer_interests": arr(["football"])},
                aws_delivered=True,
                note=ARRAY_NOTE,
            ),
        ],
    },
    {
        "policy": {"customer_interests": [{"equals-ignore-case": "rugby"}]},
        "scope": ATTR,
        "messages": [
            m({"customer_interests": s("RUGBY")}),
            m({"customer_interests": s("Rugby")}),
            m({"customer_interests": s("rugby")}),
            m({"customer_interests": s("rugbyy")}),
            m({}),
        ],
    },
    {
        "policy": {"customer_interests": [{"equals-ignore-case": "RuGbY"}]},
        "scope": ATTR,
        "messages": [
            m({"customer_interests": s("rugby")}, aws_delivered=True, note=EIC_NOTE),
            m({"customer_interests": s("RUGBY")}, aws_delivered=True, note=EIC_NOTE),
            m({"customer_interests": s("tennis")}),
        ],
    },
    # --- anything-but ------------------------------------------------------------------
    {
        "policy": {"customer_interests": [{"anything-but": ["rugby", "tennis"]}]},
        "scope": ATTR,
        "messages": [
            m({"customer_interests": s("baseball")}),
            m({"customer_interests": s("football")}),
            m({"customer_interests": s("rugby")}),
            m({"customer_interests": s("tennis")}),
            m({}),
            m({"customer_interests": arr(["rugby", "baseball"])}),
            m(
                {"customer_interests": arr(["rugby"])},
                aws_delivered=False,
                note=ABUT_ARRAY_NOTE,
            ),
            m(
                {"customer_interests": arr(["rugby", "tennis"])},
                aws_delivered=False,
                note=ABUT_ARRAY_NOTE,
            ),
        ],
    },
    {
        "policy": {"customer_interests": [{"anything-but": "rugby"}]},
        "scope": ATTR,
        "messages": [
            m({"customer_interests": s("rugby")}),
            m({"customer_interests": s("tennis")}),
        ],
    },
    {
        "policy": {"price": [{"anything-but": [100, 500]}]},
        "scope": ATTR,
        "messages": [
            m({"price": n(101)}),
            m({"price": n("100.1")}),
            m({"price": n(100)}),
            m({"price": n("500.0")}),
            m({}),
        ],
    },
    {
        "policy": {"event": [{"anything-but": {"prefix": "order-"}}]},
        "scope": ATTR,
        "messages": [
            m({"event": s("data-entry")}),
            m({"event": s("order_number")}),
            m({"event": s("order-cancelled")}),
            m({"event": s("order-")}),
            m({}),
        ],
    },
    {
        "policy": {"event": [{"anything-but": {"suffix": "-test"}}]},
        "scope": ATTR,
        "messages": [m({"event": s("x")})],
        "aws_error": "Invalid parameter: FilterPolicy: Unsupported anything-but pattern: suffix",
        "note": LOCALSTACK_NOTE,
    },
    # --- exists ------------------------------------------------------------------------
    {
        "policy": {"store": [{"exists": True}]},
        "scope": ATTR,
        "messages": [
            m({"store": s("fans")}),
            m({"store": n(1)}),
            m({"store": arr([])}),
            m({"customer_interests": arr(["baseball"])}),
            m({}),
            m({"store": binary("fans")}, aws_delivered=False, note=BINARY_NOTE),
        ],
    },
    {
        "policy": {"store": [{"exists": False}]},
        "scope": ATTR,
        "messages": [
            m({"store": s("fans")}),
            m({"customer_interests": arr(["baseball"])}),
            m({}),
            m({"store": binary("fans")}, aws_delivered=True, note=BINARY_NOTE),
        ],
    },
    {
        "policy": {"store": [{"exists": False}, "fans"], "event": ["x"]},
        "scope": ATTR,
        "messages": [
            m({"event": s("x")}),
            m({"event": s("x"), "store": s("fans")}),
            m({"event": s("x"), "store": s("other")}),
            m({"store": s("fans")}),
        ],
    },
    # --- $or -----------------------------------------------------------------------------
    {
        "policy": {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        },
        "scope": ATTR,
        "messages": [
            m({"source": s("aws.cloudwatch"), "metricName": s("CPUUtilization")}),
            m({"source": s("aws.cloudwatch"), "namespace": s("AWS/EC2")}),
            m({"source": s("aws.cloudwatch")}),
            m({"metricName": s("CPUUtilization"), "namespace": s("AWS/EC2")}),
            m({"source": s("aws.cloudwatch"), "metricName": s("ReadLatency")}),
        ],
    },
    {
        "policy": {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {
                    "metricType": ["MetricType"],
                    "$or": [{"metricId": [1234, 4321]}, {"spaceId": [1000, 2000, 3000]}],
                },
            ],
        },
        "scope": ATTR,
        "messages": [
            m({"source": s("aws.cloudwatch"), "metricName": s("ReadLatency")}),
            m({"source": s("aws.cloudwatch"), "metricType": s("MetricType"), "metricId": n(1234)}),
            m({"source": s("aws.cloudwatch"), "metricType": s("MetricType"), "spaceId": n(3000)}),
            m({"source": s("aws.cloudwatch"), "metricType": s("MetricType")}),
            m({"source": s("aws.cloudwatch"), "metricId": n(1234)}),
            m({"source": s("other"), "metricName": s("ReadLatency")}),
        ],
        # The nested-$or example of the AWS docs (and-or-logic): accepted by AWS.
        "aws_accepts": True,
        "aws_messages_delivered": [True, True, True, False, False, False],
        "note": OR_COMPLEXITY_NOTE,
    },
    # --- String.Array --------------------------------------------------------------------
    {
        "policy": {"tags": ["b"]},
        "scope": ATTR,
        "messages": [
            m({"tags": arr(["a", "b", "c"])}),
            m({"tags": arr(["a", "c"])}),
            m({"tags": {"Type": "String.Array", "Value": '["b", 5, true, null]'}}),
            m({"tags": s("b")}),
        ],
    },
    # --- payload (MessageBody) scope ------------------------------------------------------
    {
        "policy": {"customer_interests": ["rugby", "tennis"]},
        "scope": BODY,
        "messages": [
            b({"customer_interests": "rugby"}),
            b({"customer_interests": "baseball"}),
            b({"customer_interests": ["baseball", "rugby"]}),
            b({"customer_interests": ["baseball"]}),
            b({}),
            b({"other": "rugby"}),
            b("rugby"),
            b({"customer_interests": {"x": "rugby"}}),
            b("not json at all", raw=True),
        ],
    },
    {
        "policy": {"store": {"name": ["example_corp"]}},
        "scope": BODY,
        "messages": [
            b({"store": {"name": "example_corp"}}),
            b({"store": {"name": "other"}}),
            b({"store": "example_corp"}),
            b({"name": "example_corp"}),
            b({"store": [{"name": "x"}, {"name": "example_corp"}]}),
            b({"store": {"name": "example_corp", "extra": 1}, "more": True}),
        ],
    },
    {
        "policy": {"a": {"b": {"c": [{"numeric": ["=", 5]}]}}, "d": ["x"]},
        "scope": BODY,
        "messages": [
            b({"a": {"b": {"c": 5}}, "d": "x"}),
            b({"a": {"b": {"c": 5.0}}, "d": "x"}),
            b({"a": {"b": {"c": 6}}, "d": "x"}),
            b({"a": {"b": {"c": 5}}}),
        ],
    },
    {
        "policy": {"price": [{"numeric": [">", 100]}]},
        "scope": BODY,
        "messages": [
            b({"price": 101}),
            b({"price": 100}),
            b({"price": 1e3}),
            b({"price": [50, 150]}),
            b({}),
            b({"price": "101"}, aws_delivered=False, note=MOTO_CRASH_NOTE),
        ],
    },
    {
        "policy": {"price": [101, 102]},
        "scope": BODY,
        "messages": [b({"price": 101}), b({"price": 101.0}), b({"price": 103})],
    },
    {
        "policy": {"customer_id": [None]},
        "scope": BODY,
        "messages": [
            b({"customer_id": None}, aws_delivered=True, note=NULL_NOTE),
            b({"customer_id": "x"}),
            b({}),
        ],
    },
    {
        "policy": {"flag": [True]},
        "scope": BODY,
        "messages": [
            b({"flag": True}),
            b({"flag": False}),
            b({"flag": "true"}),
            b({"flag": 1}, aws_delivered=False, note=BOOL_NOTE),
        ],
    },
    {
        "policy": {"store": [{"exists": False}]},
        "scope": BODY,
        "messages": [b({}), b({"store": "x"}), b({"other": {"store": "x"}})],
    },
    {
        "policy": {"store": [{"exists": True}]},
        "scope": BODY,
        "messages": [b({"store": "x"}), b({"store": 0}), b({})],
    },
    {
        "policy": {"name": [{"prefix": "ab"}]},
        "scope": BODY,
        "messages": [
            b({"name": "abc"}),
            b({"name": "xab"}),
            b({"name": ["x", "abc"]}, aws_delivered=True, note=MOTO_CRASH_NOTE),
        ],
    },
    {
        "policy": {"name": [{"suffix": "ab"}]},
        "scope": BODY,
        "messages": [b({"name": "xab"}), b({"name": "abc"})],
    },
    {
        "policy": {"customer_interests": [{"anything-but": ["rugby"]}]},
        "scope": BODY,
        "messages": [
            b({"customer_interests": "baseball"}),
            b({"customer_interests": "rugby"}),
            b({}),
            b(
                {"customer_interests": ["rugby", "baseball"]},
                aws_delivered=True,
                note=ABUT_ARRAY_NOTE,
            ),
        ],
    },
    {
        "policy": {"customer_interests": [{"equals-ignore-case": "rugby"}]},
        "scope": BODY,
        "messages": [b({"customer_interests": "RUGBY"}), b({"customer_interests": "golf"})],
    },
    {
        "policy": {"$or": [{"a": ["1"]}, {"b": ["2"]}]},
        "scope": BODY,
        "messages": [
            b({"a": "1"}, aws_delivered=True, note=BODY_OR_NOTE),
            b({"b": "2"}, aws_delivered=True, note=BODY_OR_NOTE),
            b({"c": "3"}, aws_delivered=False, note=BODY_OR_NOTE),
        ],
    },
    {
        "policy": {"a": ["x"], "b": ["x"], "c": ["x"], "d": ["x"], "e": {"f": ["x"], "g": ["x"]}},
        "scope": BODY,
        "messages": [
            b({"a": "x", "b": "x", "c": "x", "d": "x", "e": {"f": "x", "g": "x"}}),
            b({"a": "x", "b": "x", "c": "x", "d": "x", "e": {"f": "x"}}),
        ],
    },
    # --- validation: accepted edge cases ----------------------------------------------------
    {
        "policy": {"a": [str(i) for i in range(10)], "b": [str(i) for i in range(15)]},
        "scope": ATTR,
        "messages": [m({"a": s("3"), "b": s("14")}), m({"a": s("3"), "b": s("15")})],
    },
    {
        "policy": {"k1": ["v"], "k2": ["v"], "k3": ["v"], "k4": ["v"], "k5": ["v"]},
        "scope": ATTR,
        "messages": [m({f"k{i}": s("v") for i in range(1, 6)})],
    },
    {
        "policy": {
            "$or": [{"a": [str(i) for i in range(10)]}, {"b": [str(i) for i in range(10)]}]
        },
        "scope": ATTR,
        "messages": [m({"a": s("1")})],
        "aws_accepts": True,
        "aws_messages_delivered": [True],
        "note": OR_COMPLEXITY_NOTE,
    },
    {"policy": {}, "scope": ATTR, "messages": [m({}), m({"a": s("b")})]},
    # --- validation: rejected policies ------------------------------------------------------
    {"policy": {f"k{i}": ["v"] for i in range(6)}, "scope": ATTR},
    {"policy": {f"k{i}": ["v"] for i in range(6)}, "scope": BODY},
    {
        "policy": {"a": [str(i) for i in range(10)], "b": [str(i) for i in range(16)]},
        "scope": ATTR,
    },
    {"policy": {"a": {"b": [str(i) for i in range(76)]}}, "scope": BODY},
    {"policy": {"store": {"name": ["x"]}}, "scope": ATTR},
    {"policy": {"a": "x"}, "scope": ATTR},
    {"policy": {"a": 5}, "scope": BODY},
    {"policy": {"a": [{"exists": "yes"}]}, "scope": ATTR},
    {"policy": {"a": [{"numeric": []}]}, "scope": ATTR},
    {"policy": {"a": [{"numeric": [5]}]}, "scope": ATTR},
    {"policy": {"a": [{"numeric": ["!=", 5]}]}, "scope": ATTR},
    {"policy": {"a": [{"numeric": ["<", "100"]}]}, "scope": ATTR},
    {"policy": {"a": [{"numeric": ["<"]}]}, "scope": ATTR},
    {"policy": {"a": [{"numeric": ["<", 5, ">", 1]}]}, "scope": ATTR},
    {"policy": {"a": [{"numeric": [">", 5, ">", 10]}]}, "scope": ATTR},
    {"policy": {"a": [{"numeric": [">", 5, "<", "x"]}]}, "scope": ATTR},
    {"policy": {"a": [{"numeric": [">", 10, "<", 5]}]}, "scope": ATTR},
    {"policy": {"a": [{"numeric": [">=", 5, "<=", 5]}]}, "scope": BODY},
    {"policy": {"a": [{"foo": "bar"}]}, "scope": ATTR},
    {"policy": {"a": [["x"]]}, "scope": ATTR},
    {"policy": {"a": [{"prefix": 5}]}, "scope": ATTR,
     "messages": [m({"a": s("5")})],
     "aws_error": "Invalid parameter: FilterPolicy: prefix match pattern must be a string",
     "note": LOCALSTACK_NOTE},
    {"policy": {"a": []}, "scope": ATTR,
     "messages": [m({"a": s("x")})],
     "aws_error": "Invalid parameter: FilterPolicy: Empty arrays are not allowed",
     "note": LOCALSTACK_NOTE},
]


def publish_args(message):
    if "body" in message:
        body = message["body"]
        text = body if message.get("raw") else json.dumps(body)
        return {"Message": text}, body
    attrs = {}
    for name, attr in message["attributes"].items():
        if attr["Type"] == "Binary":
            attrs[name] = {"DataType": "Binary", "BinaryValue": attr["Value"].encode()}
        else:
            attrs[name] = {"DataType": attr["Type"], "StringValue": attr["Value"]}
    args = {"Message": "kit-table"}
    if attrs:
        args["MessageAttributes"] = attrs
    return args, None


def run_case(sns, sqs, index, case):
    policy, scope = case["policy"], case["scope"]
    topic = sns.create_topic(Name=f"kit-fp-{index}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"kit-fp-{index}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    rows = []
    try:
        try:
            sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={
                    "RawMessageDelivery": "true",
                    "FilterPolicyScope": scope,
                    "FilterPolicy": json.dumps(policy),
                },
            )
        except botocore.exceptions.ClientError as err:
            row = {
                "policy": policy,
                "scope": scope,
                "error": err.response["Error"]["Message"],
                "error_code": err.response["Error"]["Code"],
            }
            if case.get("aws_accepts"):
                row.update(moto_differs=True, aws_error=None, note=case["note"])
                row["aws_messages"] = [
                    {**msg_row(msg, scope), "delivered": d}
                    for msg, d in zip(case["messages"], case["aws_messages_delivered"])
                ]
            return [row]
        if "aws_error" in case:
            rows.append(
                {
                    "policy": policy,
                    "scope": scope,
                    "error": None,
                    "moto_differs": True,
                    "aws_error": case["aws_error"],
                    "note": case["note"],
                }
            )
            return rows
        if "messages" not in case:
            raise RuntimeError(f"case {index}: moto accepted {policy!r}, expected an error")
        for msg in case["messages"]:
            args, _ = publish_args(msg)
            row = {"policy": policy, **msg_row(msg, scope)}
            try:
                sns.publish(TopicArn=topic, **args)
                got = sqs.receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages", [])
                for got_msg in got:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=got_msg["ReceiptHandle"])
                delivered = len(got) > 0
                row["delivered"] = delivered
            except botocore.exceptions.ClientError as err:
                delivered = None
                row["delivered"] = None
                row["moto_publish_error"] = err.response["Error"]["Code"]
            except botocore.parsers.ResponseParserError:
                # moto answers with a bare HTTP 500 page when its matcher raises.
                delivered = None
                row["delivered"] = None
                row["moto_publish_error"] = "HTTP 500 Internal Server Error"
            if "aws_delivered" in msg and msg["aws_delivered"] != delivered:
                row.update(
                    moto_differs=True, aws_delivered=msg["aws_delivered"], note=msg["note"]
                )
            rows.append(row)
        return rows
    finally:
        for sub in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
        sns.delete_topic(TopicArn=topic)
        sqs.delete_queue(QueueUrl=queue_url)


def msg_row(msg, scope):
    row = {"scope": scope}
    if "body" in msg:
        row["body"] = msg["body"]
        if msg.get("raw"):
            row["body_is_raw_text"] = True
    else:
        row["attributes"] = msg["attributes"]
    return row


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
        rows = []
        for index, case in enumerate(CASES):
            rows.extend(run_case(sns, sqs, index, case))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    deliveries = [r for r in rows if "delivered" in r]
    errors = [r for r in rows if r.get("error")]
    differs = [r for r in rows if r.get("moto_differs")]
    print(
        f"sns filter policy table: {len(CASES)} policies, {len(rows)} rows: "
        f"{len(deliveries)} deliveries ({sum(bool(r['delivered']) for r in deliveries)} "
        f"delivered), {len(errors)} rejected policies, {len(differs)} rows where moto "
        f"differs from AWS"
    )
    for r in differs:
        print(f"  moto differs: {json.dumps(r['policy'])} -> {r['note'][:90]}")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
