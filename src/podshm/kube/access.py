"""Reaching the cluster: kubeconfig and context selection, a fast reachability probe, RBAC.

Every failure here becomes a :class:`~podshm.errors.PodshmError` whose cause and fix are one
line each, because these are the errors a user meets first (wrong context, cluster not
started, missing permissions) and a traceback from urllib3 helps nobody.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from podshm.errors import PodshmError
from podshm.kube.api import KubeApi, api_error_message

DEFAULT_KUBECONFIG = "~/.kube/config"
# An unreachable API server is reported, with the exit code, in under 5 s.
PROBE_TIMEOUT_S = 3.0
CLUSTER_UP_FIX = "start it with `podshm cluster up`, or pick another context with {context}"


@dataclass(frozen=True)
class Access:
    """One (verb, resource) pair podshm needs, cluster-wide."""

    verb: str
    resource: str
    subresource: str = ""
    group: str = ""

    def __str__(self) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f"{self.verb} {res}"


# What a run does: its own namespaces, pods in them, exec into the pods, and the reads that
# feed waiting, diagnostics and the report header. Its heartbeat (a Lease in its namespace)
# is not among them: without the right to write one a run still runs, and its namespaces are
# recognised as dead by their expiry alone.
CREDENTIALS_FIX = "refresh the credentials in your kubeconfig (or log in again)"

REQUIRED_ACCESS: tuple[Access, ...] = (
    Access("create", "namespaces"),
    Access("delete", "namespaces"),
    Access("list", "namespaces"),
    Access("patch", "namespaces"),  # kept pods, the expiry renewed while a run lives
    Access("create", "pods"),
    Access("deletecollection", "pods"),  # a test's pods go by its label
    Access("get", "pods"),
    Access("create", "pods", "exec"),
    Access("get", "pods", "log"),
    Access("list", "events"),
    Access("list", "nodes"),
)
RBAC_FIX = (
    "bind a ClusterRole that grants them to your user with a ClusterRoleBinding: cluster-admin, "
    "or the ClusterRole 'podshm-runner' in manifests/rbac/podshm-runner.yaml"
)


@dataclass
class Connection:
    """A verified connection: the client, where it points, and what the server said it is."""

    api: KubeApi
    context: str
    server_url: str
    kubeconfig: str
    version: dict[str, Any]


def kubeconfig_paths(explicit: str | None = None) -> str:
    """The kubeconfig search path, as kubectl resolves it: option, $KUBECONFIG, ~/.kube/config.

    The result may hold several paths joined with ``os.pathsep`` (the client merges them).
    """
    if explicit:
        return explicit
    return os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG


def existing_kubeconfigs(paths: str) -> list[str]:
    """The files of a kubeconfig search path that exist."""
    return [p for p in paths.split(os.pathsep) if p and Path(p).expanduser().is_file()]


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def list_contexts(paths: str) -> tuple[list[str], str | None]:
    """Context names and the current context of a kubeconfig search path.

    Uses the client's own ``list_kube_config_contexts``; when that refuses the file (it insists
    on a valid current-context), the files are read directly so the error can still list the
    contexts the user could choose.
    """
    try:
        contexts, current = config.list_kube_config_contexts(config_file=paths)
        names = [str(c.get("name")) for c in contexts or []]
        return names, (str(current["name"]) if current else None)
    except (ConfigException, KeyError, TypeError, AttributeError, OSError, yaml.YAMLError):
        pass
    names, current_name = [], None
    for path in existing_kubeconfigs(paths):
        try:
            data = yaml.safe_load(Path(path).expanduser().read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise PodshmError(
                f"cannot read kubeconfig {path}: {err}", "fix the file or point at another one"
            ) from err
        if not isinstance(data, dict):
            raise PodshmError(
                f"kubeconfig {path} is not a YAML mapping", "fix the file or point at another one"
            )
        for entry in data.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") and entry["name"] not in names:
                names.append(str(entry["name"]))
        if current_name is None and data.get("current-context"):
            current_name = str(data["current-context"])
    return names, current_name


def load_client(kubeconfig: str | None, context: str | None) -> tuple[client.ApiClient, str, str]:
    """Build an ApiClient for the chosen context; returns (client, context name, source).

    Raises a PodshmError when there is no kubeconfig, the context does not exist, or the
    kubeconfig cannot be loaded (a broken file, a failing exec credential plugin...).
    """
    paths = kubeconfig_paths(kubeconfig)
    if not existing_kubeconfigs(paths):
        if kubeconfig is None and context is None and _in_cluster():
            cfg = client.Configuration()
            config.load_incluster_config(client_configuration=cfg)
            return client.ApiClient(cfg), "in-cluster", "in-cluster service account"
        raise PodshmError(
            f"no kubeconfig found at {paths}",
            "pass a kubeconfig to {kubeconfig} (or set KUBECONFIG), "
            "or create a local cluster with `podshm cluster up`",
        )
    names, current = list_contexts(paths)
    available = ", ".join(names) if names else "none"
    if context is None:
        if not current:
            raise PodshmError(
                f"kubeconfig {paths} has no current-context (available contexts: {available})",
                "choose one with {context}",
            )
        if current not in names:
            raise PodshmError(
                f"the current-context {current!r} of kubeconfig {paths} does not exist "
                f"(available contexts: {available})",
                "pass one of the available contexts to {context}",
            )
        context = current
    elif context not in names:
        raise PodshmError(
            f"context {context!r} does not exist in kubeconfig {paths} "
            f"(available contexts: {available})",
            "pass one of the available contexts to {context}",
        )
    cfg = client.Configuration()
    try:
        config.load_kube_config(
            config_file=paths, context=context, client_configuration=cfg, persist_config=False
        )
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as err:
        raise PodshmError(
            f"cannot load context {context!r} from kubeconfig {paths}: {err}",
            "fix the context's cluster/user entries (kubectl config view shows them)",
        ) from err
    return client.ApiClient(cfg), context, paths


def _short_reason(err: BaseException) -> str:
    """A one-line reason out of urllib3's nested connection errors."""
    text = str(getattr(err, "reason", None) or err)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if match:
        return match.group(1).strip().lower()
    lowered = text.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return f"no answer within {PROBE_TIMEOUT_S:g} s"
    if "certificate" in lowered or "ssl" in lowered:
        return "TLS handshake failed (" + text.split("(", 1)[-1].rstrip(")")[:160] + ")"
    return text.splitlines()[0][:200] if text else type(err).__name__


def credentials_rejected(url: str, context: str) -> PodshmError:
    """The error for a 401: the server is there, our token or certificate is not accepted."""
    return PodshmError(
        f"the API server at {url} rejected the credentials of context {context!r} "
        "(401 Unauthorized)",
        CREDENTIALS_FIX,
    )


def probe(api_client: client.ApiClient, context: str, timeout: float = PROBE_TIMEOUT_S) -> dict:
    """GET /version once, without retries, bounded by ``timeout``; return the version info.

    A separate client with retries off is used so that a dead address costs one timeout, not
    urllib3's default of four.
    """
    url = api_client.configuration.host
    probe_cfg = copy.copy(api_client.configuration)
    probe_cfg.retries = False
    probe_client = client.ApiClient(probe_cfg)
    try:
        info = KubeApi(probe_client).version(timeout=(timeout, timeout))
    except ApiException as err:
        if err.status == 401:
            raise credentials_rejected(url, context) from err
        raise PodshmError(
            f"the API server at {url} (context {context!r}) answered GET /version with "
            f"HTTP {err.status}: {api_error_message(err)}",
            "check that the URL points at a Kubernetes API server",
        ) from err
    except Exception as err:  # urllib3/ssl/socket errors: all mean "cannot talk to it"
        raise PodshmError(
            f"cannot reach the Kubernetes API server at {url} (context {context!r}): "
            f"{_short_reason(err)}",
            CLUSTER_UP_FIX,
        ) from err
    finally:
        probe_client.close()
    if not isinstance(info, dict) or "gitVersion" not in info:
        raise PodshmError(
            f"{url} (context {context!r}) answered GET /version without a Kubernetes version",
            "check that the URL points at a Kubernetes API server",
        )
    return info


def check_access(api: KubeApi, context: str, needed: tuple[Access, ...] = REQUIRED_ACCESS) -> None:
    """Fail with one line naming every missing permission (SelfSubjectAccessReview)."""
    missing: list[str] = []
    for access in needed:
        try:
            allowed, _reason = api.access_allowed(
                access.verb, access.resource, access.subresource, access.group
            )
        except ApiException as err:
            if err.status == 401:
                raise credentials_rejected(api.host, context) from err
            raise PodshmError(
                f"cannot ask the API server at {api.host} what context {context!r} may do "
                f"(SelfSubjectAccessReview: HTTP {err.status}: {api_error_message(err)})",
                RBAC_FIX,
            ) from err
        if not allowed:
            missing.append(str(access))
    if missing:
        raise PodshmError(
            f"context {context!r} lacks RBAC permissions podshm needs in all namespaces: "
            + ", ".join(missing),
            RBAC_FIX,
        )


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    probe_timeout: float = PROBE_TIMEOUT_S,
    check_rbac: bool = True,
) -> Connection:
    """Load the kubeconfig, probe the API server and (optionally) check RBAC; fail fast."""
    api_client, context_name, source = load_client(kubeconfig, context)
    version = probe(api_client, context_name, probe_timeout)
    api = KubeApi(api_client)
    if check_rbac:
        check_access(api, context_name)
    return Connection(
        api=api,
        context=context_name,
        server_url=str(api_client.configuration.host),
        kubeconfig=source,
        version=version,
    )


def connection_lost(err: BaseException) -> str | None:
    """A short reason when ``err`` means "the API server stopped answering", else None.

    urllib3 wraps refused or reset connections in MaxRetryError/ProtocolError, the exec
    websocket raises its own errors, plain sockets raise ConnectionError/TimeoutError: each of
    these, met in the middle of a test, is one line, not a traceback through the client.
    """
    import urllib3.exceptions
    import websocket

    kinds = (
        urllib3.exceptions.HTTPError,
        websocket.WebSocketException,
        ConnectionError,
        TimeoutError,
    )
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, kinds):
            return _short_reason(current)
        current = current.__cause__ or current.__context__
    return None
