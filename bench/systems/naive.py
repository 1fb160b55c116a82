"""naive: what a first attempt looks like. Poll one record, POST it with a synchronous httpx
client, commit synchronously, repeat. Correct (in order, at least once) and slow.

Runs until terminated; the harness stops it once the sink has every notification.
"""

from __future__ import annotations

import time

import httpx
from confluent_kafka import Consumer

from bench.systems.common import (
    MAX_ATTEMPTS,
    headers,
    load_spec,
    preparer,
    render_record,
    retry_delay,
)
from stream_notifier.kafka.consumer import to_raw


def main() -> int:
    spec = load_spec()
    prep = preparer(spec["routes"])
    url = spec["sink_url"] + "/notifications"
    consumer = Consumer(
        {
            "bootstrap.servers": spec["bootstrap"],
            "group.id": spec["group_id"],
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([spec["topic"]])
    with httpx.Client(timeout=30.0) as client:
        while True:
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            for notification in render_record(prep, to_raw(message)):
                body = notification.payload
                request_headers = headers(spec["api_key"], notification.idempotency_key)
                for _ in range(MAX_ATTEMPTS):
                    response = client.post(url, content=body, headers=request_headers)
                    if response.status_code == 200:
                        break
                    delay = retry_delay(response.status_code, response.headers, response.content)
                    if delay is None:
                        break
                    time.sleep(delay)
            consumer.commit(message=message, asynchronous=False)


if __name__ == "__main__":
    raise SystemExit(main())
