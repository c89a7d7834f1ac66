"""MLServer's floor: a runtime that answers every request with a constant FP64 prediction of
the right length without touching a model. Started like the stock runtime (`mlserver start`,
`parallel_workers: 0`), it measures what the framework itself costs per request (HTTP or gRPC,
pydantic decoding and encoding, routing), the ceiling no runtime on MLServer can beat.
"""

from mlserver import MLModel
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput

from core.features import TARGET


class Floor(MLModel):  # type: ignore[misc]  # mlserver ships no type hints
    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        # One [N] tensor per column or one [N, 8] tensor: either way N is the first dimension.
        rows = payload.inputs[0].shape[0] if payload.inputs else 0
        output = ResponseOutput(name=TARGET.name, shape=[rows], datatype="FP64", data=[0.0] * rows)
        return InferenceResponse(model_name=self.name, outputs=[output])
