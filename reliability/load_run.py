"""A bounded load run from its own process: N single-row requests over V2 REST and gRPC from a
few threads, real rows, and one JSON line of figures (answered, errors, rate, latency).

    python -m reliability.load_run --rest http://127.0.0.1:8080 --grpc 127.0.0.1:8081 \
        --model calhousing --csv ../shared/data/california_housing.csv --requests 50000
"""

import argparse
import json
import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from core.features import FEATURE_NAMES
from inference.client import GrpcClient, InferenceClientError, RestClient


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows = pd.read_csv(args.csv, usecols=list(FEATURE_NAMES))[list(FEATURE_NAMES)].to_numpy()
    per_thread = args.requests // args.threads
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        grpc = index % 2 == 1  # half the threads speak gRPC
        client = GrpcClient(args.grpc, args.model) if grpc else RestClient(args.rest, args.model)
        local: Counter[str] = Counter()
        times = []
        with client:
            for i in range(per_thread):
                row = rows[(index * per_thread + i) % len(rows)].reshape(1, -1)
                start = time.perf_counter()
                try:
                    client.infer(row, "tensor")
                    local["grpc" if grpc else "rest"] += 1
                except InferenceClientError as err:
                    local[f"error {err.status}"] += 1
                times.append(time.perf_counter() - start)
        with lock:
            outcomes.update(local)
            latencies.extend(times)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    answered = outcomes["rest"] + outcomes["grpc"]
    return {
        "requests": per_thread * args.threads,
        "answered": answered,
        "rest": outcomes["rest"],
        "grpc": outcomes["grpc"],
        "errors": {k: v for k, v in outcomes.items() if k.startswith("error")},
        "seconds": round(elapsed, 2),
        "per_second": round(answered / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 2),
        "p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rest", required=True)
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    print(json.dumps(run(parser.parse_args())))


if __name__ == "__main__":
    main()
