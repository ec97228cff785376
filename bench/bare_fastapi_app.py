"""The floor for HTTP scoring: a bare FastAPI app running one ONNX Runtime session, nothing else.

Started by ``bench/score_latency.py`` as ``uvicorn --factory bench.bare_fastapi_app:create_app``
with ``BENCH_ONNX_PATH`` pointing at the same ONNX file the warehouse serves.
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel


class Rows(BaseModel):
    """Feature rows in model column order."""

    rows: list[list[float | None]]


def create_app() -> FastAPI:
    """One route: rows in, probabilities out."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(os.environ["BENCH_ONNX_PATH"], sess_options=options)
    input_name = session.get_inputs()[0].name
    output_name = os.environ["BENCH_ONNX_OUTPUT"]
    app = FastAPI()

    @app.post("/predict")
    def predict(body: Rows) -> dict[str, list[float]]:
        matrix = np.array([[np.nan if v is None else v for v in row] for row in body.rows], dtype=np.float32)
        (output,) = session.run([output_name], {input_name: matrix})
        return {"scores": np.asarray(output)[:, -1].tolist()}

    return app
