"""A closed-loop gRPC load generator (separate process): N concurrent callers, one channel each.

wrk and hey speak HTTP/1.1 only, so gRPC gets this small generator: each caller sends the same
V2 ModelInferRequest back to back for the duration and records every latency. Prints one JSON
object with the same fields as the wrk script's summary.

Run: `python -m benchmarks.grpc_load TARGET MODEL ROWS CONCURRENCY SECONDS DATA.npy`.
"""

import asyncio
import json
import sys
import time
from pathlib import Path

import grpc
import numpy as np
from mlserver.grpc import dataplane_pb2 as pb
from mlserver.grpc.dataplane_pb2_grpc import GRPCInferenceServiceStub

from inference.client import grpc_request

MAX_MESSAGE = 64 * 1024 * 1024


async def _caller(
    target: str, request: pb.ModelInferRequest, until: float, latencies: list[float]
) -> int:
    errors = 0
    options = [("grpc.max_receive_message_length", MAX_MESSAGE)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        stub = GRPCInferenceServiceStub(channel)
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                await stub.ModelInfer(request, timeout=30)
            except grpc.aio.AioRpcError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - start)
    return errors


async def _run(target: str, request: pb.ModelInferRequest, clients: int, seconds: float) -> str:
    latencies: list[float] = []
    start = time.perf_counter()
    until = start + seconds
    errors = await asyncio.gather(
        *(_caller(target, request, until, latencies) for _ in range(clients))
    )
    elapsed = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return json.dumps(
        {
            "requests": len(latencies),
            "errors": int(sum(errors)),
            "seconds": elapsed,
            "p50_ms": float(p50),
            "p95_ms": float(p95),
            "p99_ms": float(p99),
        }
    )


def main() -> None:
    target, model, rows, clients, seconds, data = sys.argv[1:7]
    matrix = np.load(Path(data))[: int(rows)]
    request = grpc_request(model, matrix, "columns")
    print(asyncio.run(_run(target, request, int(clients), float(seconds))))


if __name__ == "__main__":
    main()
