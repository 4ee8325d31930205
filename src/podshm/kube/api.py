"""A thin, dict-returning facade over the official Kubernetes client.

Everything else in podshm talks to the cluster through :class:`KubeApi`: objects come back as
plain camelCase dicts (the same shape as ``kubectl get -o json``), which keeps the logic that
inspects pods pure and unit-testable with literal dicts. Cluster behaviour itself is only ever
tested against a real cluster.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pydantic
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from podshm.errors import PodshmError

# kubernetes.stream.stream() swaps ApiClient.call_api while it opens the websocket: any other
# call on that client meanwhile (another thread's create_pod) goes out as a websocket and
# fails. Execs therefore get an ApiClient of their own, and opening one is serialized; the
# returned streams are then independent.
_STREAM_LOCK = threading.Lock()

# (connect, read) seconds for ordinary API calls: long enough for a busy API server, short
# enough that a vanished cluster surfaces as an error instead of a hang.
REQUEST_TIMEOUT: tuple[float, float] = (5.0, 30.0)


def _json(response: Any) -> Any:
    """Decode a raw (``_preload_content=False``) response body."""
    data = response.data
    return json.loads(data) if data else {}


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
        self.core = client.CoreV1Api(api_client)
        self.authz = client.AuthorizationV1Api(api_client)
        self.version_api = client.VersionApi(api_client)
        self.node_api = client.NodeV1Api(api_client)
        # Only exec_stream uses this client (see _STREAM_LOCK).
        self.exec_core = client.CoreV1Api(client.ApiClient(api_client.configuration))

    @property
    def host(self) -> str:
        """The API server URL this client talks to."""
        return str(self.api_client.configuration.host)

    # -- cluster ---------------------------------------------------------------------------
    def version(self, timeout: float | tuple[float, float] = REQUEST_TIMEOUT) -> dict[str, Any]:
        """GET /version."""
        return _json(self.version_api.get_code(_preload_content=False, _request_timeout=timeout))

    def list_nodes(self, label_selector: str = "") -> list[dict[str, Any]]:
        """All nodes (or those matching ``label_selector``)."""
        resp = self.core.list_node(
            label_selector=label_selector,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
        return list(_json(resp).get("items") or [])

    def read_node(self, name: str) -> dict[str, Any]:
        """One node, fresh (allocatable can change while a run is going)."""
        resp = self.core.read_node(name, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        return _json(resp)

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
        resp = self.authz.create_self_subject_access_review(
            body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
        )
        status = _json(resp).get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")

    # -- namespaces ------------------------------------------------------------------------
    def create_namespace(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a namespace."""
        resp = self.core.create_namespace(
            body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
        )
        return _json(resp)

    def delete_namespace(self, name: str) -> bool:
        """Ask for deletion (do not wait for finalization); False if it was already gone."""
        try:
            self.core.delete_namespace(
                name,
                propagation_policy="Background",
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException as err:
            if err.status == 404:
                return False
            raise
        return True

    def list_namespaces(self, label_selector: str) -> list[dict[str, Any]]:
        """Namespaces matching a label selector."""
        resp = self.core.list_namespace(
            label_selector=label_selector,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
        return list(_json(resp).get("items") or [])

    def label_namespace(self, name: str, labels: dict[str, str]) -> None:
        """Merge labels into a namespace."""
        self.core.patch_namespace(
            name,
            {"metadata": {"labels": labels}},
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )

    # -- runtime classes ---------------------------------------------------------------------
    def list_runtime_classes(self) -> list[dict[str, Any]]:
        """Every RuntimeClass (handler, overhead), for the report and the expectations."""
        response = self.node_api.list_runtime_class(
            _preload_content=False, _request_timeout=REQUEST_TIMEOUT
        )
        return list(_json(response).get("items") or [])

    def create_runtime_class(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a (cluster-scoped) RuntimeClass."""
        response = self.node_api.create_runtime_class(
            body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
        )
        return _json(response)

    def delete_runtime_class(self, name: str) -> None:
        """Delete a RuntimeClass; already gone is fine."""
        try:
            self.node_api.delete_runtime_class(name, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as err:
            if err.status != 404:
                raise

    # -- pods --------------------------------------------------------------------------------
    def create_pod(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a pod; admission rejections raise ApiException (403/422).

        The client validates the dict against its Pod model first (unknown fields are refused),
        which catches a typo in a manifest before the API server does.
        """
        try:
            resp = self.core.create_namespaced_pod(
                namespace, body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            )
        except pydantic.ValidationError as err:
            name = (body.get("metadata") or {}).get("name", "?")
            first = err.errors()[0] if err.errors() else {}
            where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "?"
            raise PodshmError(
                f"pod {name!r} is not a valid Pod: {where}: {first.get('msg', err)}",
                "fix that field in the manifest",
            ) from err
        return _json(resp)

    def read_pod(self, namespace: str, name: str) -> dict[str, Any]:
        """One pod."""
        resp = self.core.read_namespaced_pod(
            name, namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
        )
        return _json(resp)

    def pod_events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """Events about one pod, oldest first."""
        resp = self.core.list_namespaced_event(
            namespace,
            field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}",
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
        items = list(_json(resp).get("items") or [])
        return sorted(items, key=event_time)

    def pod_log(
        self, namespace: str, name: str, container: str, previous: bool = False, tail: int = 200
    ) -> str:
        """The last lines a container wrote."""
        resp = self.core.read_namespaced_pod_log(
            name,
            namespace,
            container=container,
            previous=previous,
            tail_lines=tail,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
        return bytes(resp.data or b"").decode("utf-8", "replace")

    def exec_stream(self, namespace: str, pod: str, container: str, argv: list[str]) -> Any:
        """Open an exec websocket (stdout+stderr, no stdin, no tty); the caller drives it."""
        with _STREAM_LOCK:
            return stream(
                self.exec_core.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=argv,
                container=container,
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _preload_content=False,
            )


def event_time(event: dict[str, Any]) -> str:
    """Sort key for events: the most precise timestamp the event carries (RFC 3339 sorts)."""
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )
