"""Every request of the bad-input corpus, over REST and gRPC, against the real server: a 4xx
with a V2 error body or a non-OK gRPC status, naming the problem; and the next valid request on
the same transport still succeeds."""

import httpx
import pytest

from inference.client import GrpcClient, InferenceClientError, RestClient
from tests.integration.bad_requests import GRPC_CASES, REST_CASES, GrpcCase, RestCase
from tests.integration.serving_fixtures import Served

pytestmark = pytest.mark.integration


def send(served: Served, case: RestCase) -> httpx.Response:
    headers = {"content-type": case.content_type} if case.content_type else {}
    content = case.content()
    url = served.http + case.path.format(model=served.model.name)
    # A generator makes httpx stream the body chunked, with no Content-Length to trust.
    body = iter([content]) if case.chunked else content
    return httpx.request(case.method, url, content=body, headers=headers, timeout=60)


def test_the_corpus_has_at_least_sixty_cases() -> None:
    assert len(REST_CASES) + len(GRPC_CASES) >= 60
    names = [c.name for c in REST_CASES] + [f"grpc-{c.name}" for c in GRPC_CASES]
    assert len(set(names)) == len(names)
    print(f"corpus: {len(REST_CASES)} REST + {len(GRPC_CASES)} gRPC malformed requests")


@pytest.mark.parametrize("case", REST_CASES, ids=[c.name for c in REST_CASES])
def test_rest_refuses_with_a_4xx_naming_the_problem(
    served: Served, rest: RestClient, case: RestCase
) -> None:
    response = send(served, case)

    assert response.status_code == case.status, response.text
    assert set(response.json()) == {"error"}, response.text
    assert case.expected in response.json()["error"]
    assert "Traceback" not in response.text
    assert len(rest.infer(served.model.rows[:1]).values) == 1


@pytest.mark.parametrize("case", GRPC_CASES, ids=[c.name for c in GRPC_CASES])
def test_grpc_refuses_with_a_non_ok_status_naming_the_problem(
    served: Served, grpc_client: GrpcClient, case: GrpcCase
) -> None:
    with pytest.raises(InferenceClientError) as refused:
        grpc_client.send(case.build(served.model.name))

    assert refused.value.status == case.code, refused.value.message
    assert case.expected in refused.value.message
    assert "Traceback" not in refused.value.message
    assert len(grpc_client.infer(served.model.rows[:1], "tensor", raw=True).values) == 1
