"""Fuzzing the real server: schemathesis generates requests from the server's own OpenAPI
document (seeded, a bounded number per operation) and no answer may be a 5xx; hypothesis
draws rows inside the physical ranges and every answer must be a finite number."""

import copy
import math
import os
from typing import Any

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.features import FEATURES
from inference.client import RestClient
from tests.integration.serving_fixtures import Served

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "25"))
"""Per operation: enough to reach every refusal path in well under a minute on 2 cores
(`make reliability` sets RELIABILITY_FUZZ_EXAMPLES=200)."""
MUTATING = ("/v2/repository",)
"""Load/unload would take the model away mid-test; test_faults drives them on purpose."""


def patched(document: Any) -> Any:
    """MLServer's document with `"type": "bytes"`, which is not a JSON Schema type (schemathesis
    refuses the whole document), read as the base64 string it stands for."""
    if isinstance(document, dict):
        if document.get("type") == "bytes":
            return {**document, "type": "string", "format": "byte"}
        return {key: patched(value) for key, value in document.items()}
    if isinstance(document, list):
        return [patched(value) for value in document]
    return document


def schema_of(served: Served) -> Any:
    document = httpx.get(f"{served.http}/v2/docs/dataplane.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(patched(copy.deepcopy(document)))
    return schema.exclude(path_regex="|".join(MUTATING))


def test_upstream_document_needs_the_patch_and_only_it(served: Served) -> None:
    document = httpx.get(f"{served.http}/v2/docs/dataplane.json", timeout=30).json()
    assert "'type': 'bytes'" in str(document)
    assert "'type': 'bytes'" not in str(patched(document))


def fuzz(served: Served, operation: Any) -> int:
    """Run one operation's generated cases; how many were sent."""
    sent = 0

    @given(case=operation.as_strategy(), ours=st.booleans())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any, ours: bool) -> None:
        nonlocal sent
        # Half the cases name the served model, so bodies reach the runtime, not only a 404.
        if ours and "model_name" in (case.path_parameters or {}):
            case.path_parameters["model_name"] = served.model.name
        response = case.call(base_url=served.http, timeout=30)
        sent += 1
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"

    check()
    return sent


def test_no_generated_request_gets_a_server_error(served: Served) -> None:
    operations = [result.ok() for result in schema_of(served).get_all_operations()]
    sent = {op.label: fuzz(served, op) for op in operations}

    assert len(operations) >= 10
    print(f"fuzz: {sum(sent.values())} requests over {len(sent)} operations, no 5xx")


rows = st.tuples(*(st.floats(f.minimum, f.maximum, allow_nan=False) for f in FEATURES))


@given(batch=st.lists(rows, min_size=1, max_size=20))
@settings(
    max_examples=100, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
def test_any_rows_inside_the_physical_ranges_get_finite_predictions(
    served: Served, batch: list[tuple[float, ...]]
) -> None:
    with RestClient(served.http, served.model.name) as client:
        prediction = client.infer(np.array(batch), "tensor")

    assert prediction.values.shape == (len(batch),)
    assert all(math.isfinite(v) for v in prediction.values)
