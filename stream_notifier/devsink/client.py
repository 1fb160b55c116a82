"""A small synchronous client for the dev sink's control API (``/_sink/...``).

For tests, the demo and benchmarks: inspect what the sink received and steer its faults.
It never touches ``/notifications`` itself; that is the code under test's job.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, cast

import httpx

__all__ = ["SinkClient"]


class SinkClient:
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SinkClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return cast(dict[str, Any], response.json())

    def health(self) -> bool:
        try:
            return self._http.get("/_sink/health").status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the sink answers its health check (e.g. after starting it by CLI)."""
        deadline = time.monotonic() + timeout
        while not self.health():
            if time.monotonic() > deadline:
                raise TimeoutError(f"dev sink at {self.base_url} not ready after {timeout}s")
            time.sleep(0.05)

    def requests(self, since: int = 0, include_all: bool = False) -> list[dict[str, Any]]:
        """Recorded requests with ``seq > since``: only accepted ones (200, rows stored) unless
        ``include_all``, which adds rejected, faulted, dropped and replayed ones."""
        params: dict[str, str | int] = {"since": since}
        if include_all:
            params["all"] = "1"
        return cast(
            list[dict[str, Any]], self._call("GET", "/_sink/requests", params=params)["requests"]
        )

    def bodies(self) -> list[dict[str, Any]]:
        """The bodies of the accepted requests, in the order they were answered."""
        return [r["body"] for r in self.requests()]

    def rows(self) -> list[dict[str, Any]]:
        """Every notification row stored, including those written before a late 500."""
        return cast(list[dict[str, Any]], self._call("GET", "/_sink/rows")["rows"])

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sink/stats")

    def reset(self) -> None:
        self._call("DELETE", "/_sink/requests")

    def faults(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("GET", "/_sink/faults")["faults"])

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the fault configuration, e.g. ``set_faults(status=503, times=2)``."""
        return cast(dict[str, Any], self._call("POST", "/_sink/faults", json=faults)["faults"])

    def clear_faults(self) -> dict[str, Any]:
        """Back to the faults the sink was started with (none, unless given at startup)."""
        return cast(dict[str, Any], self._call("DELETE", "/_sink/faults")["faults"])

    def wait_for(
        self, count: int, timeout: float = 10.0, interval: float = 0.02
    ) -> list[dict[str, Any]]:
        """Poll until at least ``count`` accepted requests are recorded; return them all."""
        deadline = time.monotonic() + timeout
        # Poll the cheap counter; the records themselves may be many and are fetched once.
        while (accepted := int(self.stats()["accepted"])) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"dev sink accepted {accepted} of {count} expected requests in {timeout}s"
                )
            time.sleep(interval)
        return self.requests()
