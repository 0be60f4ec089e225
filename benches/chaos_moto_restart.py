#!/usr/bin/env python3
"""Chaos, long form (issue 13): the SNS+SQS emulator restarted while messages flow.

    .venv/bin/python benches/chaos_moto_restart.py AMQP_SLOW_COUNT_BINARY [messages] [restarts] [rate]

Starts a real ``moto_server`` (from the test venv) on a free loopback port and the chaos fixture
``crates/tomodachi/tests/fixtures/amqp_slow_count.rs`` (release) consuming the SQS queue
``chaos-queue`` with the JSON logger, then sends ``messages`` (default 300) JsonBase messages
at ``rate`` per second (default 10; moto costs 15-100 ms of CPU per message) with boto3. While
they flow, the emulator is killed and started again on the same port ``restarts`` times
(default 2). An emulator restart loses every queue and the messages in them (a real SQS does
not restart: this is the worst case of the queue disappearing under a running consumer). The
consumer must notice, set the queue up again and handle everything sent after it did; the
sender retries a send that failed (the queue is missing until the consumer re-creates it).

Reports, from the service's ``handling`` log lines (one per handler run, with the message
uuid): messages sent, handled, duplicates, the messages lost with an emulator restart (in the
queue when it went down: the emulator's loss, counted), the messages sent after the last
restart that were never handled (must be 0), the seconds from each restart to the first
message handled after it, and the service's open file descriptors before the first restart and
at the end. Pass: ``lost_after_last_restart == 0`` and the service still running.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from benchlib import fds, free_port, handled, json_base, wait_port

REGION = "eu-west-1"
QUEUE = "chaos-queue"


def start_moto(port):
    venv_bin = os.path.dirname(sys.executable)
    proc = subprocess.Popen([os.path.join(venv_bin, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def envelope(i):
    inner = json_base(QUEUE, f"s0.{i:08d}", {"i": i}, "chaos-sender", "s0")
    return json.dumps({"Type": "Notification", "Message": inner})


def main():
    import boto3
    from botocore.config import Config

    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    restarts = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0

    moto_port = free_port()
    moto = start_moto(moto_port)
    url = f"http://127.0.0.1:{moto_port}"
    workdir = tempfile.mkdtemp(prefix="chaos-moto-")
    config = {"uuid": str(uuid.uuid4()), "options": {
        "aws_sns_sqs": {"region_name": REGION, "aws_access_key_id": "testing",
                        "aws_secret_access_key": "testing"},
        "aws_endpoint_urls": {"sns": url, "sqs": url, "sts": url}}}
    cfg = os.path.join(workdir, "config.json")
    with open(cfg, "w") as f:
        json.dump(config, f)
    http_port = free_port()
    log_path = os.path.join(workdir, "service.log")
    env = dict(os.environ, HTTP_PORT=str(http_port), TOMODACHI_LOGGER="json", SQS_QUEUE=QUEUE,
               HANDLER_SLEEP_MS="0")
    with open(log_path, "w") as log:
        service = subprocess.Popen([binary, "--production", "-c", cfg], env=env, stdout=log, stderr=log)
    wait_port(http_port)

    sqs = boto3.client("sqs", endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing",
                       config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))

    def queue_url():
        while True:
            try:
                return sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
            except Exception:  # noqa: BLE001 - missing until the consumer sets it up (again)
                time.sleep(0.2)

    qurl = queue_url()
    fd_samples = [fds(service.pid)]
    restart_at = [n * (r + 1) // (restarts + 1) for r in range(restarts)]
    sent_in_epoch = {0: []}
    restart_times = []
    epoch = 0
    resent = 0
    interval = 1.0 / rate
    next_at = time.monotonic()
    i = 0
    while i < n:
        if restart_at and i == restart_at[0]:
            restart_at.pop(0)
            # let the consumer take what is in flight, then pull the rug
            moto.send_signal(signal.SIGKILL)
            moto.wait()
            moto = start_moto(moto_port)
            restart_times.append(time.time())
            epoch += 1
            sent_in_epoch[epoch] = []
            qurl = queue_url()
        try:
            sqs.send_message(QueueUrl=qurl, MessageBody=envelope(i))
        except Exception:  # noqa: BLE001 - the queue is being set up again: retry this one
            resent += 1
            time.sleep(0.2)
            qurl = queue_url()
            continue
        sent_in_epoch[epoch].append(f"s0.{i:08d}")
        i += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    last = set(sent_in_epoch[epoch])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seen = {u for u, _ in handled(log_path)}
        if last <= seen:
            break
        time.sleep(1)
    time.sleep(3)
    alive = service.poll() is None
    fd_samples.append(fds(service.pid) if alive else None)
    service.send_signal(signal.SIGTERM)
    try:
        code = service.wait(timeout=60)
    except subprocess.TimeoutExpired:
        service.kill()
        code = service.wait()
    moto.send_signal(signal.SIGTERM)
    moto.wait()

    records = [u for u, _ in handled(log_path)]
    seen = set(records)
    stamps = sorted(t for _, t in handled(log_path))
    recovery = [round(next((t for t in stamps if t > r), float("nan")) - r, 2) for r in restart_times]
    sent = [u for e in sorted(sent_in_epoch) for u in sent_in_epoch[e]]
    lost_with_emulator = len([u for e in sorted(sent_in_epoch)[:-1] for u in sent_in_epoch[e] if u not in seen])
    summary = {
        "messages": n, "restarts": restarts, "rate": rate, "sent": len(sent), "resent": resent,
        "handled": len(records), "duplicates": len(records) - len(seen),
        "lost_with_an_emulator_restart": lost_with_emulator,
        "lost_after_last_restart": len(last - seen),
        "seconds_to_first_handled_after_each_restart": recovery,
        "service_alive_at_end": alive, "exit_code": code, "fds_before_and_after": fd_samples,
        "log": log_path,
    }
    print(json.dumps(summary), flush=True)
    if summary["lost_after_last_restart"] or not alive:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
