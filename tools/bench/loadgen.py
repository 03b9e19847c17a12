"""A small load generator for machines without `wrk`: `python -m tools.bench.loadgen URL [options]`.

Keeps `--concurrency` connections busy for `--duration` seconds from this separate process and
prints the same `WRK_JSON {...}` line the benchmark's wrk script prints.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlsplit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    options = parser.parse_args()
    parts = urlsplit(options.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = dict(header.split(": ", 1) for header in options.header)
    body = options.body.encode() if options.body else None
    latencies: list[int] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + options.duration

    def worker() -> None:
        connection = None
        mine: list[int] = []
        while time.perf_counter() < deadline:
            begin = time.perf_counter_ns()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
                connection.request(options.method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    with lock:
                        errors["status"] += 1
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                with lock:
                    errors["read"] += 1
                connection = None
                continue
            mine.append((time.perf_counter_ns() - begin) // 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(options.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed_us = int((time.perf_counter() - started) * 1e6)
    latencies.sort()

    def percentile(p: float) -> int:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] if latencies else 0

    print("WRK_JSON " + json.dumps({"requests": len(latencies) + errors["read"], "duration_us": elapsed_us, **errors,
                                    "p50_us": percentile(50), "p99_us": percentile(99)}))


if __name__ == "__main__":
    main()
