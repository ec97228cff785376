"""The HTTP load loop and result record shared by the online benches (``online.py``).

``run_load`` posts one JSON body from ``connections`` concurrent keep-alive connections until
``requests`` answers are in, after 50 warm-up requests, and reports latency percentiles, throughput
and every status seen (0 for a transport error, so that a killed replica shows as an error, not a
crash of the bench).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np

WARM_UP_REQUESTS = 50


@dataclass
class Result:
    """What one system answered at one connection count."""

    system: str
    connections: int
    p50_ms: float
    p99_ms: float
    rps: float
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def errors(self) -> int:
        """Answers other than 200 (transport errors count as status 0)."""
        return sum(count for status, count in self.statuses.items() if status != 200)


async def run_load(
    url: str,
    body: object,
    *,
    connections: int,
    requests: int,
    headers: dict[str, str] | None = None,
    timeout_s: float = 60.0,
    on_progress: Callable[[int], None] | None = None,
) -> Result:
    """Post ``body`` to ``url`` ``requests`` times over ``connections`` connections; ``system`` is left empty."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    remaining = requests

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                status = (await client.post(url, json=body)).status_code
            except httpx.TransportError:
                status = 0
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
            if on_progress is not None:
                on_progress(len(latencies))

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=timeout_s, headers=headers) as client:
        for _ in range(WARM_UP_REQUESTS):
            await client.post(url, json=body)
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return Result(
        "", connections, statistics.median(latencies), float(np.percentile(latencies, 99)), requests / elapsed, statuses
    )
