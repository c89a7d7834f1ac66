"""Who asked, and how: a V2 request's id and transport, read from what MLServer hands over.

MLServer copies the transport's headers into `payload.parameters.headers` (REST headers, or
gRPC invocation metadata) and gives a request without an `id` a fresh UUID before `predict`.
It tells the runtime nothing else about the transport, so the headers decide: HTTP/1.1 always
carries `Host`, while gRPC metadata never does (`:authority` is a pseudo-header gRPC keeps).

The request id is the V2 `id`, because the protocol echoes it in the response: the client's
own, or MLServer's UUID. A proxy's `x-request-id` (ingress-nginx sets one) is logged beside it,
so a line of the ingress log and a line of ours can be joined.
"""

from collections.abc import Mapping
from typing import Any, Final

from inference.metrics import Protocol

REQUEST_ID_HEADER: Final = "x-request-id"


def headers_of(payload: Any) -> Mapping[str, str]:
    parameters = getattr(payload, "parameters", None)
    return getattr(parameters, "headers", None) or {}


def protocol_of(headers: Mapping[str, str]) -> Protocol:
    return "rest" if "host" in headers else "grpc"
