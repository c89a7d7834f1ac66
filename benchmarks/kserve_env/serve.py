"""The kserve peer: the same joblib estimator behind KServe's Python model server (V2 REST and
gRPC, one process), the way a user picking KServe instead of MLServer would serve it.

It runs in its own environment (benchmarks/toolchain.py explains why) and imports nothing from
this project itself: the feature order and the output's name arrive on the command line (the
unpickled pipeline imports its own feature step, on PYTHONPATH).

Run: `python serve.py MODEL.joblib NAME HTTP_PORT GRPC_PORT FEATURE,NAMES,... OUTPUT_NAME`.
"""

import sys
from typing import Any

import joblib
import kserve  # type: ignore[import-not-found]
import numpy as np
from kserve.protocol.infer_type import InferOutput, InferResponse  # type: ignore[import-not-found]
from threadpoolctl import threadpool_limits


class Housing(kserve.Model):  # type: ignore[misc]  # kserve is not installed where mypy runs
    def __init__(self, name: str, path: str, features: list[str], output: str) -> None:
        super().__init__(name)
        self._path, self._features, self._output = path, features, output
        self._model: Any = None

    def load(self) -> bool:
        self._model = joblib.load(self._path)
        self.ready = True
        return True

    def _matrix(self, request: Any) -> Any:
        """One [N, 8] tensor, or one [N] tensor per feature (the layout the others are sent)."""
        inputs = {i.name: i.as_numpy() for i in request.inputs}
        if len(inputs) == 1:
            (only,) = inputs.values()
            return np.asarray(only, dtype=np.float64).reshape(-1, len(self._features))
        return np.column_stack([np.asarray(inputs[f], dtype=np.float64) for f in self._features])

    def predict(self, payload: Any, headers: Any = None) -> Any:
        predictions = self._model.predict(self._matrix(payload))
        out = InferOutput(name=self._output, shape=list(predictions.shape), datatype="FP64")
        out.set_data_from_numpy(predictions, binary_data=False)
        return InferResponse(
            response_id=payload.id or "", model_name=self.name, infer_outputs=[out]
        )


def main() -> None:
    path, name, http, grpc_port, features, output = sys.argv[1:7]
    # As every contender: one OpenMP thread, or threads fight over the one server core.
    threadpool_limits(limits=1)
    model = Housing(name, path, features.split(","), output)
    model.load()
    # KServe's defaults otherwise (access and latency log lines included: ours logs each
    # request too), as a user would start it.
    kserve.ModelServer(http_port=int(http), grpc_port=int(grpc_port), workers=1).start([model])


if __name__ == "__main__":
    main()
