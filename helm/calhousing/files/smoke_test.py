"""One V2 REST and one V2 gRPC request to the predictor; both must agree.

The `helm test` pod runs it in the project's image; e2e and the image test run it through the
ingress or against a container. Needs only urllib, grpcio and MLServer's generated stubs.
Environment: MODEL_NAME, REST_URL, GRPC_TARGET, and GRPC_CA (a PEM file) to use TLS.
"""

import json
import math
import os
import sys
import urllib.request
from pathlib import Path

import grpc
from mlserver.grpc import dataplane_pb2 as pb
from mlserver.grpc import dataplane_pb2_grpc as pb_grpc

MODEL = os.environ["MODEL_NAME"]
# One block group of the 1990 census, in feature order (MedInc ... Longitude).
ROW = [8.3252, 41.0, 6.984127, 1.02381, 322.0, 2.555556, 37.88, -122.23]


def rest(base: str) -> float:
    body = {"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP64", "data": ROW}]}
    request = urllib.request.Request(
        f"{base}/v2/models/{MODEL}/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
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
    ca = os.environ.get("GRPC_CA")
    if ca:
        credentials = grpc.ssl_channel_credentials(Path(ca).read_bytes())
        channel = grpc.secure_channel(target, credentials)
    else:
        channel = grpc.insecure_channel(target)
    with channel:
        reply = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            pb.ModelInferRequest(model_name=MODEL, inputs=[tensor]), timeout=30
        )
    output = reply.outputs[0]
    if output.contents.fp64_contents:
        return float(output.contents.fp64_contents[0])
    return float(memoryview(reply.raw_output_contents[0]).cast("d")[0])


def main() -> None:
    by_rest = rest(os.environ["REST_URL"])
    by_grpc = grpc_call(os.environ["GRPC_TARGET"])
    print(f"REST {by_rest:.4f}, gRPC {by_grpc:.4f} (median house value, $100k)")
    # The target is capped at 5.00001: a finite value in [0, 10] is a real prediction.
    if not (math.isfinite(by_rest) and 0 <= by_rest <= 10 and math.isclose(by_rest, by_grpc)):
        sys.exit("the predictor's REST and gRPC answers are not the same plausible value")


if __name__ == "__main__":
    main()
