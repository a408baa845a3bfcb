"""API latency under a short load: p50/p99 of the dataset list, a dataset's detail and a
task's quote, served by gunicorn on PostgreSQL with a real worker (the deployment's shape).

Run: ``python -m benchmarks.api_latency [--requests 400] [--concurrency 8]``. It starts its
own stack on a scratch PostgreSQL database (127.0.0.1:5432) and Redis (127.0.0.1:6379),
seeds it with the demo market, and sends load only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.support.stack import live_stack


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def load(url: str, token: str, n_requests: int, concurrency: int) -> tuple[list[float], int]:
    """Send ``n_requests`` GETs from ``concurrency`` threads; return latencies (ms), errors."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_thread = n_requests // concurrency

    def worker() -> None:
        nonlocal errors
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        for _ in range(per_thread):
            started = time.perf_counter()
            response = session.get(url, timeout=30)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                errors += response.status_code != 200

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, live_stack(Path(tmp)) as stack:
        stack.manage("demo", "--no-serve")
        token = requests.post(
            f"{stack.url}/api/auth/token/",
            json={"username": "hospital-ai", "password": "datafair-demo-password"},
            timeout=30,
        ).json()["token"]
        headers = {"Authorization": f"Token {token}"}
        task = requests.get(f"{stack.url}/api/tasks/", headers=headers, timeout=30).json()
        task_id = task["results"][0]["id"]
        dataset_id = requests.get(f"{stack.url}/api/datasets/", headers=headers, timeout=30).json()[
            "results"
        ][0]["id"]
        endpoints = {
            "list: GET /api/datasets/": f"{stack.url}/api/datasets/",
            "detail: GET /api/datasets/{id}/": f"{stack.url}/api/datasets/{dataset_id}/",
            "quote: GET /api/tasks/{id}/": f"{stack.url}/api/tasks/{task_id}/",
        }
        print(
            f"gunicorn (2 workers × 4 threads) on PostgreSQL, {args.requests} requests per "
            f"endpoint from {args.concurrency} client threads on the same 2-core machine\n"
        )
        print("| endpoint | requests | errors | p50 ms | p99 ms | mean ms | req/s |")
        print("|---|---|---|---|---|---|---|")
        for name, url in endpoints.items():
            load(url, token, 40, args.concurrency)  # warm-up
            started = time.perf_counter()
            latencies, errors = load(url, token, args.requests, args.concurrency)
            wall = time.perf_counter() - started
            print(
                f"| {name} | {len(latencies)} | {errors} | {_percentile(latencies, 0.5):.1f} | "
                f"{_percentile(latencies, 0.99):.1f} | {statistics.fmean(latencies):.1f} | "
                f"{len(latencies) / wall:.0f} |"
            )


if __name__ == "__main__":
    main()
