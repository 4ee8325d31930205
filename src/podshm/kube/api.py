"""A thin, dict-returning facade over the official Kubernetes client.

Everything else in podshm talks to the cluster through :class:`KubeApi`: objects come back as
plain camelCase dicts (the same shape as ``kubectl get -o json``), which keeps the logic that
inspects pods pure and unit-testable with literal dicts. Cluster behaviour itself is only ever
tested against a real cluster.

Requests go through the client's ``ApiClient`` (kubeconfig, TLS, tokens, retries: all the
library's) but not through its generated ``CoreV1Api``: that module and the pydantic models it
imports cost 0.6 s of every pytest start (measured: 0.96 s vs 0.36 s to a ready client), a
sixth of a three-test run. The few paths podshm calls are written here once; the API server
validates bodies itself (``fieldValidation=Strict`` refuses unknown fields).
"""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import ws_client

# (connect, read) seconds for ordinary API calls: long enough for a busy API server, short
# enough that a vanished cluster surfaces as an error instead of a hang.
REQUEST_TIMEOUT: tuple[float, float] = (5.0, 30.0)

RUNTIME_CLASSES = "/apis/node.k8s.io/v1/runtimeclasses"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

Query = list[tuple[str, Any]]


def api_error_message(err: ApiException) -> str:
    """The API server's own message for a failed call (the ``message`` of its Status)."""
    body = getattr(err, "body", None)
    if body:
        try:
            status = json.loads(body)
        except (TypeError, ValueError):
            return str(body).strip()
        if isinstance(status, dict) and status.get("message"):
            return str(status["message"])
    return str(err.reason or err).strip()


class KubeApi:
    """The handful of API calls podshm needs, returning plain dicts."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client

    @property
    def host(self) -> str:
        """The API server URL this client talks to."""
        return str(self.api_client.configuration.host)

    def _serialize(
        self, method: str, path: str, query: Query | None, body: Any, content_type: str
    ) -> tuple[str, str, dict[str, Any], Any, Any]:
        """(method, url, headers, body, post params) with the kubeconfig's credentials."""
        return self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            collection_formats={"command": "multi"},
        )

    def call(
        self,
        method: str,
        path: str,
        query: Query | None = None,
        body: Any = None,
        timeout: float | tuple[float, float] = REQUEST_TIMEOUT,
        content_type: str = "application/json",
    ) -> bytes:
        """One request; the raw body of a 2xx answer, else :class:`ApiException`."""
        return self._call(method, path, query, body, timeout, content_type)[0]

    def _call(
        self,
        method: str,
        path: str,
        query: Query | None = None,
        body: Any = None,
        timeout: float | tuple[float, float] = REQUEST_TIMEOUT,
        content_type: str = "application/json",
    ) -> tuple[bytes, datetime | None]:
        """One request: the raw body of a 2xx answer and the server's clock (its ``Date``
        header, to the second), else :class:`ApiException`."""
        request = self._serialize(method, path, query, body, content_type)
        response = self.api_client.call_api(*request, _request_timeout=timeout)
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(
                http_resp=response,
                body=(response.data or b"").decode("utf-8", "replace"),
                data=None,
            )
        return bytes(response.data or b""), server_date(response.headers)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        data = self.call(method, path, **kwargs)
        return json.loads(data) if data else {}

    # -- cluster ---------------------------------------------------------------------------
    def version(self, timeout: float | tuple[float, float] = REQUEST_TIMEOUT) -> dict[str, Any]:
        """GET /version."""
        return self._json("GET", "/version", timeout=timeout)

    def list_nodes(self, label_selector: str = "") -> list[dict[str, Any]]:
        """All nodes (or those matching ``label_selector``)."""
        query = [("labelSelector", label_selector)] if label_selector else []
        return list(self._json("GET", "/api/v1/nodes", query=query).get("items") or [])

    def read_node(self, name: str) -> dict[str, Any]:
        """One node, fresh (allocatable can change while a run is going)."""
        return self._json("GET", f"/api/v1/nodes/{name}")

    def node_configz(self, name: str) -> dict[str, Any]:
        """The node's kubelet configuration as it runs (``nodes/proxy`` ``/configz``)."""
        return self._json("GET", f"/api/v1/nodes/{name}/proxy/configz")

    def access_allowed(
        self, verb: str, resource: str, subresource: str = "", group: str = ""
    ) -> tuple[bool, str]:
        """Ask the API server (SelfSubjectAccessReview) whether we may do verb on resource.

        The namespace is left empty, which means "in every namespace": podshm creates its own
        namespaces, so a Role bound in one namespace is never enough.
        """
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "resource": resource,
                    "subresource": subresource,
                    "group": group,
                }
            },
        }
        review = self._json(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=body
        )
        status = review.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")

    # -- namespaces ------------------------------------------------------------------------
    def create_namespace(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a namespace."""
        return self._json("POST", "/api/v1/namespaces", body=body)

    def delete_namespace(self, name: str) -> bool:
        """Ask for deletion (do not wait for finalization); False if it was already gone."""
        try:
            self.call(
                "DELETE", f"/api/v1/namespaces/{name}", query=[("propagationPolicy", "Background")]
            )
        except ApiException as err:
            if err.status == 404:
                return False
            raise
        return True

    def delete_pods(self, namespace: str, label_selector: str = "") -> None:
        """Ask for the deletion of every pod in a namespace (or those ``label_selector``
        picks), each with its own grace period: one request, however many pods."""
        query = [("labelSelector", label_selector)] if label_selector else []
        self.call("DELETE", f"/api/v1/namespaces/{namespace}/pods", query=query)

    def list_namespaces(self, label_selector: str) -> list[dict[str, Any]]:
        """Namespaces matching a label selector."""
        query = [("labelSelector", label_selector)]
        return list(self._json("GET", "/api/v1/namespaces", query=query).get("items") or [])

    def label_namespace(
        self,
        name: str,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str | None] | None = None,
    ) -> None:
        """Merge labels and annotations into a namespace (an annotation set to None goes)."""
        metadata: dict[str, Any] = {}
        if labels:
            metadata["labels"] = labels
        if annotations:
            metadata["annotations"] = annotations
        self.call(
            "PATCH",
            f"/api/v1/namespaces/{name}",
            body={"metadata": metadata},
            content_type="application/merge-patch+json",
        )

    # -- leases ------------------------------------------------------------------------------
    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a coordination.k8s.io Lease."""
        return self._json("POST", LEASES.format(namespace=namespace), body=body)

    def patch_lease(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        """Merge ``patch`` into a Lease (a heartbeat's renewal: one small request)."""
        self.call(
            "PATCH",
            f"{LEASES.format(namespace=namespace)}/{name}",
            body=patch,
            content_type="application/merge-patch+json",
        )

    def read_lease(self, namespace: str, name: str) -> tuple[dict[str, Any], datetime | None]:
        """A Lease, and the API server's clock when it answered."""
        data, date = self._call("GET", f"{LEASES.format(namespace=namespace)}/{name}")
        return (json.loads(data) if data else {}), date

    # -- runtime classes ---------------------------------------------------------------------
    def list_runtime_classes(self) -> list[dict[str, Any]]:
        """Every RuntimeClass (handler, overhead), for the report and the expectations."""
        return list(self._json("GET", RUNTIME_CLASSES).get("items") or [])

    def create_runtime_class(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a (cluster-scoped) RuntimeClass."""
        return self._json("POST", RUNTIME_CLASSES, body=body)

    def delete_runtime_class(self, name: str) -> None:
        """Delete a RuntimeClass; already gone is fine."""
        try:
            self.call("DELETE", f"{RUNTIME_CLASSES}/{name}")
        except ApiException as err:
            if err.status != 404:
                raise

    # -- pods --------------------------------------------------------------------------------
    def create_pod(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a pod; admission rejections raise ApiException (403/422), and so does a field
        the Pod schema does not have (400, ``fieldValidation=Strict``): a typo in a manifest is
        refused, not silently dropped."""
        return self._json(
            "POST",
            f"/api/v1/namespaces/{namespace}/pods",
            query=[("fieldValidation", "Strict")],
            body=body,
        )

    def read_pod(self, namespace: str, name: str) -> dict[str, Any]:
        """One pod."""
        return self._json("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")

    def resize_pod(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Change a running pod's resources in place (the ``resize`` subresource, GA in 1.35):
        a strategic merge patch of ``spec.containers[].resources``."""
        return self._json(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/{name}/resize",
            body=patch,
            content_type="application/strategic-merge-patch+json",
        )

    def pod_events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """Events about one pod, oldest first."""
        query = [("fieldSelector", f"involvedObject.kind=Pod,involvedObject.name={name}")]
        events = self._json("GET", f"/api/v1/namespaces/{namespace}/events", query=query)
        items = list(events.get("items") or [])
        return sorted(items, key=event_time)

    def pod_log(
        self, namespace: str, name: str, container: str, previous: bool = False, tail: int = 200
    ) -> str:
        """The last lines a container wrote."""
        query = [("container", container), ("previous", previous), ("tailLines", tail)]
        data = self.call("GET", f"/api/v1/namespaces/{namespace}/pods/{name}/log", query=query)
        return data.decode("utf-8", "replace")

    def exec_stream(self, namespace: str, pod: str, container: str, argv: list[str]) -> Any:
        """Open an exec websocket (stdout+stderr, no stdin, no tty); the caller drives it.

        The client's own websocket transport (``kubernetes.stream``'s), called with the URL
        directly: ``stream()`` would swap this ApiClient's ``call_api`` while it connects, which
        sends any other thread's request meanwhile as a websocket.
        """
        query = [
            ("command", list(argv)),
            ("container", container),
            ("stderr", True),
            ("stdin", False),
            ("stdout", True),
            ("tty", False),
        ]
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/exec"
        _method, url, headers, _body, _post = self._serialize("GET", path, query, None, "*/*")
        return ws_client.websocket_call(
            self.api_client.configuration, "GET", url, headers=headers, _preload_content=False
        )


def server_date(headers: Any) -> datetime | None:
    """The ``Date`` header of an answer (RFC 7231), None when absent or malformed."""
    text = headers.get("Date") if headers is not None else None
    if not text:
        return None
    try:
        return parsedate_to_datetime(str(text))
    except (TypeError, ValueError):
        return None


def event_time(event: dict[str, Any]) -> str:
    """Sort key for events: the most precise timestamp the event carries (RFC 3339 sorts)."""
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )
