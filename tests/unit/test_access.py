"""Kubeconfig and context selection fail with one clear line naming what to do."""

from __future__ import annotations

import time

import pytest

from podshm.errors import PodshmError
from podshm.kube.access import Access, connect, kubeconfig_paths, list_contexts, load_client

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: t}
contexts:
- name: alpha
  context: {cluster: c, user: u}
- name: beta
  context: {cluster: c, user: u}
"""


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    def write(current: str | None = "alpha", text: str = KUBECONFIG) -> str:
        path = tmp_path / "config"
        path.write_text(text + (f"current-context: {current}\n" if current else ""))
        return str(path)

    return write


def test_search_path(monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "/a:/b")
    assert kubeconfig_paths("/x") == "/x"
    assert kubeconfig_paths(None) == "/a:/b"
    monkeypatch.delenv("KUBECONFIG")
    assert kubeconfig_paths(None) == "~/.kube/config"


def test_no_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(PodshmError) as err:
        load_client(str(tmp_path / "none"), None)
    assert err.value.cause == f"no kubeconfig found at {tmp_path / 'none'}"
    assert "podshm cluster up" in err.value.fix


def test_contexts_listed(kubeconfig):
    assert list_contexts(kubeconfig()) == (["alpha", "beta"], "alpha")


def test_missing_current_context_lists_contexts(kubeconfig):
    path = kubeconfig(current=None)
    assert list_contexts(path) == (["alpha", "beta"], None)
    with pytest.raises(PodshmError) as err:
        load_client(path, None)
    assert "has no current-context (available contexts: alpha, beta)" in err.value.cause


def test_dangling_current_context(kubeconfig):
    with pytest.raises(PodshmError, match=r"current-context 'gone' .* does not exist"):
        load_client(kubeconfig(current="gone"), None)


def test_unknown_context(kubeconfig):
    path = kubeconfig()
    with pytest.raises(PodshmError) as err:
        load_client(path, "prod")
    assert err.value.cause == (
        f"context 'prod' does not exist in kubeconfig {path} (available contexts: alpha, beta)"
    )


def test_broken_kubeconfig(kubeconfig):
    with pytest.raises(PodshmError, match="cannot read kubeconfig"):
        load_client(kubeconfig(text="clusters: [\n"), None)


def test_chosen_context_loads(kubeconfig):
    api_client, context, _source = load_client(kubeconfig(), "beta")
    assert context == "beta" and api_client.configuration.host == "https://127.0.0.1:1"


def test_unreachable_server_fails_fast_naming_the_url(kubeconfig):
    start = time.monotonic()
    with pytest.raises(PodshmError) as err:
        connect(kubeconfig(), None)
    assert time.monotonic() - start < 5
    assert err.value.cause == (
        "cannot reach the Kubernetes API server at https://127.0.0.1:1 (context 'alpha'): "
        "connection refused"
    )


def test_access_reads_like_rbac():
    assert str(Access("create", "pods", "exec")) == "create pods/exec"
    assert str(Access("delete", "namespaces")) == "delete namespaces"
