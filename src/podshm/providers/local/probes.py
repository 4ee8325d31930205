"""Readiness probes of the local cluster: the API server as admin, etcd's /health."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from podshm.objects import node_ready
from podshm.providers.local.layout import Layout
from podshm.providers.local.plan import SERVER


class AdminApi:
    """Minimal HTTPS client with the admin certificate, for health probes during `up`."""

    def __init__(self, layout: Layout) -> None:
        self.ctx = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
        self.ctx.load_cert_chain(str(layout.pki / "admin.crt"), str(layout.pki / "admin.key"))

    def get(self, url: str, timeout: float = 3) -> tuple[int, str]:
        with urllib.request.urlopen(url, context=self.ctx, timeout=timeout) as resp:
            return resp.status, resp.read().decode()

    def annotate_node(self, name: str, annotations: dict[str, str]) -> None:
        body = json.dumps({"metadata": {"annotations": annotations}}).encode()
        request = urllib.request.Request(
            f"{SERVER}/api/v1/nodes/{name}",
            data=body,
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json"},
        )
        with urllib.request.urlopen(request, context=self.ctx, timeout=10) as resp:
            resp.read()

    def create(self, url: str, body: dict) -> None:
        """POST an object; one that already exists is fine (a restarted control plane)."""
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, context=self.ctx, timeout=10) as resp:
                resp.read()
        except urllib.error.HTTPError as err:
            if err.code != 409:
                raise

    def node_ready(self, name: str) -> bool:
        """Whether node ``name`` is Ready, as the API server has it (not yet registered: no)."""
        try:
            return node_ready(self.node(name))
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return False
            raise

    def delete_node(self, name: str) -> None:
        """Delete the Node object ``name`` (one already gone is fine)."""
        request = urllib.request.Request(f"{SERVER}/api/v1/nodes/{name}", method="DELETE")
        try:
            with urllib.request.urlopen(request, context=self.ctx, timeout=10) as resp:
                resp.read()
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise

    def node(self, name: str) -> dict[str, Any]:
        """The Node object ``name``."""
        _, body = self.get(f"{SERVER}/api/v1/nodes/{name}")
        found: dict[str, Any] = json.loads(body)
        return found


def etcd_get(layout: Layout, url: str) -> str:
    ctx = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
    ctx.load_cert_chain(
        str(layout.pki / "apiserver-etcd-client.crt"), str(layout.pki / "apiserver-etcd-client.key")
    )
    with urllib.request.urlopen(url, context=ctx, timeout=3) as resp:
        return resp.read().decode()
