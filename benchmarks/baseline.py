"""The baseline contender: a plain FastAPI + joblib server, the kind the seed projects shipped.

One pydantic model per row, a DataFrame-free numpy predict, one uvicorn worker. No V2
protocol, no validation beyond pydantic's types, no metrics, no prediction log: the cheapest
honest way to put the same model file behind HTTP. Kept here, beside the suite, as a yardstick.

Run: `python -m benchmarks.baseline MODEL.joblib PORT`.
"""

import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from threadpoolctl import threadpool_limits


class House(BaseModel):
    MedInc: float
    HouseAge: float
    AveRooms: float
    AveBedrms: float
    Population: float
    AveOccup: float
    Latitude: float
    Longitude: float


class PredictRequest(BaseModel):
    rows: list[House]


class PredictResponse(BaseModel):
    predictions: list[float]


def create_app(model_path: Path) -> FastAPI:
    app = FastAPI(title="calhousing baseline")
    model: Any = joblib.load(model_path)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    def predict(request: PredictRequest) -> PredictResponse:
        matrix = np.array([list(row.model_dump().values()) for row in request.rows])
        return PredictResponse(predictions=model.predict(matrix).tolist())

    return app


def main() -> None:
    model_path, port = Path(sys.argv[1]), int(sys.argv[2])
    # As our runtime does: one OpenMP thread, or threads fight over the cores (see settings).
    threadpool_limits(limits=1)
    uvicorn.run(create_app(model_path), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
