"""A small real HTTP server standing in for the few Kubernetes API endpoints the drift check
calls (there is no cluster here): GET a CronJob; POST (409 on a taken name), GET and LIST
Jobs; PATCH a Deployment or an InferenceService. It records every call, so a test can compare
them with the RBAC the chart grants."""

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from kubernetes import client

ROUTE = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<resource>[^/]+)"
    r"(?:/(?P<name>[^/]+))?$"
)


@dataclass(frozen=True)
class Call:
    verb: str
    group: str
    resource: str
    name: str | None


@dataclass
class Cluster:
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """(resource, name) -> object."""
    calls: list[Call] = field(default_factory=list)
    patches: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def jobs(self) -> list[dict[str, Any]]:
        return [o for (kind, _), o in self.objects.items() if kind == "jobs"]


def _verb(method: str, name: str | None) -> str:
    if method == "GET":
        return "get" if name else "list"
    return {"POST": "create", "PATCH": "patch"}[method]


def _matches(labels: dict[str, str], selector: str) -> bool:
    pairs = [term.split("=", 1) for term in selector.split(",") if term]
    return all(labels.get(k) == v for k, v in pairs)


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


class Handler(BaseHTTPRequestHandler):
    """Serves one Cluster (`cluster`, set on a subclass by `handler`)."""

    cluster: Cluster

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[re.Match[str], dict[str, list[str]]] | None:
        url = urlparse(self.path)
        match = ROUTE.match(url.path)
        if match is None:
            self._answer(404, {"kind": "Status", "code": 404})
            return None
        verb = _verb(self.command, match["name"])
        self.cluster.calls.append(Call(verb, match["group"], match["resource"], match["name"]))
        return match, parse_qs(url.query)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("content-length", 0))
        loaded: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
        return loaded

    def do_GET(self) -> None:
        routed = self._route()
        if routed is None:
            return
        match, query = routed
        if match["name"]:
            found = self.cluster.objects.get((match["resource"], match["name"]))
            self._answer(*((200, found) if found else (404, {"kind": "Status", "code": 404})))
            return
        selector = query.get("labelSelector", [""])[0]
        items = [
            o
            for (kind, _), o in self.cluster.objects.items()
            if kind == match["resource"] and _matches(o["metadata"].get("labels", {}), selector)
        ]
        self._answer(200, {"kind": "JobList", "apiVersion": "batch/v1", "items": items,
                           "metadata": {}})  # fmt: skip

    def do_POST(self) -> None:
        routed = self._route()
        if routed is None:
            return
        body = self._body()
        key = (routed[0]["resource"], body["metadata"]["name"])
        if key in self.cluster.objects:
            self._answer(409, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "reason": "AlreadyExists", "code": 409})  # fmt: skip
            return
        self.cluster.objects[key] = body
        self._answer(201, body)

    def do_PATCH(self) -> None:
        routed = self._route()
        if routed is None:
            return
        match = routed[0]
        body = self._body()
        key = (match["resource"], match["name"])
        if key not in self.cluster.objects:
            self._answer(404, {"kind": "Status", "code": 404})
            return
        self.cluster.patches.append((match["resource"], match["name"], body))
        self.cluster.objects[key] = merge_patch(self.cluster.objects[key], body)
        self._answer(200, self.cluster.objects[key])


def handler(cluster: Cluster) -> type[BaseHTTPRequestHandler]:
    return type("ClusterHandler", (Handler,), {"cluster": cluster})


@contextmanager
def standin(cluster: Cluster) -> Iterator[client.ApiClient]:
    """The official client, pointed at the stand-in on a free port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(cluster))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with client.ApiClient(configuration) as api:
            yield api
    finally:
        server.shutdown()
        server.server_close()
