"""One V2 REST and one V2 gRPC request to the predictor; both must agree.

The `helm test` pod runs it in the project's image; `make gateway-check`, e2e and the cluster
tests run it through the Gateway, the image test against a container. Needs only urllib, grpcio
and MLServer's generated stubs.
Environment: MODEL_NAME, REST_URL, GRPC_TARGET; GRPC_CA to use TLS (a PEM file, or `system`
for the system's roots); CONNECT_TO, an address to connect to instead of the host names'
(as curl's --resolve: the Host header, SNI and certificate check keep the names).
"""

import json
import math
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import grpc
from mlserver.grpc import dataplane_pb2 as pb
from mlserver.grpc import dataplane_pb2_grpc as pb_grpc

MODEL = os.environ["MODEL_NAME"]
# One block group of the 1990 census, in feature order (MedInc ... Longitude).
ROW = [8.3252, 41.0, 6.984127, 1.02381, 322.0, 2.555556, 37.88, -122.23]


CONNECT_TO = os.environ.get("CONNECT_TO")


def rest(base: str) -> float:
    body = {"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP64", "data": ROW}]}
    url, headers = urllib.parse.urlsplit(base), {"Content-Type": "application/json"}
    if CONNECT_TO:
        headers["Host"] = url.netloc
        url = url._replace(netloc=CONNECT_TO)
    request = urllib.request.Request(
        f"{url.geturl()}/v2/models/{MODEL}/infer", data=json.dumps(body).encode(), headers=headers
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return float(json.load(response)["outputs"][0]["data"][0])


def grpc_call(target: str) -> float:
    tensor = pb.ModelInferRequest.InferInputTensor(
        name="features",
        datatype="FP64",
        shape=[1, 8],
        contents=pb.InferTensorContents(fp64_contents=ROW),
    )
    with _channel(target) as channel:
        reply = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            pb.ModelInferRequest(model_name=MODEL, inputs=[tensor]), timeout=30
        )
    output = reply.outputs[0]
    if output.contents.fp64_contents:
        return float(output.contents.fp64_contents[0])
    return float(memoryview(reply.raw_output_contents[0]).cast("d")[0])


def _channel(target: str) -> grpc.Channel:
    host, port = target.rsplit(":", 1)
    options: list[tuple[str, str]] = []
    if CONNECT_TO:
        options = [("grpc.ssl_target_name_override", host), ("grpc.default_authority", host)]
        target = f"{CONNECT_TO}:{port}"
    ca = os.environ.get("GRPC_CA")
    if not ca:
        return grpc.insecure_channel(target, options)
    roots = None if ca == "system" else Path(ca).read_bytes()
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(roots), options)


def main() -> None:
    by_rest = rest(os.environ["REST_URL"])
    by_grpc = grpc_call(os.environ["GRPC_TARGET"])
    print(f"REST {by_rest:.4f}, gRPC {by_grpc:.4f} (median house value, $100k)")
    # The target is capped at 5.00001: a finite value in [0, 10] is a real prediction.
    if not (math.isfinite(by_rest) and 0 <= by_rest <= 10 and math.isclose(by_rest, by_grpc)):
        sys.exit("the predictor's REST and gRPC answers are not the same plausible value")


if __name__ == "__main__":
    main()
