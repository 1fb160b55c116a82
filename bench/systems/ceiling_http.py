"""ceiling-http: pre-rendered bodies posted to the sink at a fixed concurrency, no Kafka.

The most this machine's HTTP client can push through the dev sink: what a notifier could
reach if Kafka, decoding and rendering were free. `transport` picks aiohttp (the fastest
plain client found) or httpx's default async transport, to keep the transport choice on
record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

from bench.systems.common import headers, load_spec, now_ns, write_result

Request = tuple[str, bytes]


def read_bodies(path: str, count: int) -> list[Request]:
    """`count` (idempotency key, body) pairs from a file of `KEY BODY` lines."""
    out: list[Request] = []
    with Path(path).open("rb") as lines:
        for line in lines:
            if len(out) >= count:
                break
            key, _, body = line.rstrip(b"\n").partition(b" ")
            out.append((key.decode(), body))
    return out


async def post_aiohttp(url: str, api_key: str, requests: list[Request], concurrency: int) -> int:
    import aiohttp

    failures = 0
    pending: Iterator[Request] = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal failures
            # One shared iterator: each worker takes the next body when it is free.
            for key, body in pending:
                async with session.post(url, data=body, headers=headers(api_key, key)) as r:
                    await r.read()
                    failures += r.status != 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


async def post_httpx(url: str, api_key: str, requests: list[Request], concurrency: int) -> int:
    import httpx

    failures = 0
    pending: Iterator[Request] = iter(requests)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            nonlocal failures
            for key, body in pending:
                response = await client.post(url, content=body, headers=headers(api_key, key))
                failures += response.status_code != 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


def main() -> int:
    spec = load_spec()
    requests = read_bodies(spec["bodies"], int(spec["expected"]))
    url = spec["sink_url"] + "/notifications"
    post = post_aiohttp if spec["transport"] == "aiohttp" else post_httpx
    start_ns, cpu0 = now_ns(), time.process_time()
    failures = asyncio.run(post(url, spec["api_key"], requests, int(spec["concurrency"])))
    write_result(
        spec["result"],
        {
            "count": len(requests) - failures,
            "failures": failures,
            "first_ns": start_ns,
            "last_ns": now_ns(),
            "cpu_s": time.process_time() - cpu0,
        },
    )
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
