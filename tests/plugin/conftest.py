"""pytester for the plugin's tests, and the real local cluster for the ones that need one.

Tests that claim cluster behaviour run the plugin (in an inner pytest) against the real
Kubernetes started by `podshm cluster up`: ``real_cluster_env`` points the inner runs at it
and fails - never skips - when it is not there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes import config as kube_config
from rbacusers import Rbac
from realcluster import ClusterEnv, RealCluster

from podshm.image import build_test_image
from podshm.providers.local.layout import Layout


def pytest_configure(config: pytest.Config) -> None:
    """Enable pytester for these tests.

    Not ``pytest_plugins = ["pytester"]``: pytest refuses that in a conftest below the
    rootdir as soon as the run starts higher up (``pytest tests src/podshm/suite``, as
    scripts/test.sh does). Registering the plugin here works in both cases: its options get
    their defaults and its fixtures are parsed on registration.
    """
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PODSHM_* or KUBECONFIG from the developer's shell leaks into the inner runs."""
    for var in list(os.environ):
        if var.startswith("PODSHM_") or var == "KUBECONFIG":
            monkeypatch.delenv(var)


@pytest.fixture
def dead_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig pointing at a port nothing listens on, with two contexts."""
    path = tmp_path / "dead-kubeconfig"
    path.write_text(
        """
apiVersion: v1
kind: Config
clusters:
- name: dead
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: t}
contexts:
- name: dead
  context: {cluster: dead, user: u}
- name: other
  context: {cluster: dead, user: u}
current-context: dead
"""
    )
    return path


@pytest.fixture(scope="session")
def real_cluster() -> Iterator[RealCluster]:
    """The cluster `podshm cluster up` started; a missing cluster is a failure, not a skip."""
    layout = Layout.default()
    kubeconfig = layout.admin_kubeconfig
    if not kubeconfig.is_file():
        pytest.fail(
            f"the local cluster's kubeconfig {kubeconfig} does not exist: run `podshm cluster up`"
            " (these tests need the real cluster and never skip)",
            pytrace=False,
        )
    data = yaml.safe_load(kubeconfig.read_text())
    server = str(data["clusters"][0]["cluster"]["server"])
    api_client = kube_config.new_client_from_config(
        config_file=str(kubeconfig), persist_config=False
    )
    try:
        client.VersionApi(api_client).get_code(_request_timeout=(5, 10))
    except Exception as err:  # refused, timed out, TLS: all mean "not running"
        api_client.close()
        pytest.fail(
            f"the local cluster's API server {server} does not answer ({type(err).__name__}): "
            "run `podshm cluster up` (these tests need the real cluster and never skip)",
            pytrace=False,
        )
    image = build_test_image().ref  # cached: a content hash, no rebuild when nothing changed
    try:
        yield RealCluster(layout, kubeconfig, image, server, api_client)
    finally:
        api_client.close()


@pytest.fixture
def real_cluster_env(
    clean_environment: None, real_cluster: RealCluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ClusterEnv]:
    """PODSHM_KUBECONFIG, PODSHM_IMAGE and PODSHM_PULL_POLICY=Never for the inner runs."""
    monkeypatch.setenv("PODSHM_KUBECONFIG", str(real_cluster.kubeconfig))
    monkeypatch.setenv("PODSHM_IMAGE", real_cluster.image)
    monkeypatch.setenv("PODSHM_PULL_POLICY", "Never")  # no registry: the image is on the node
    env = ClusterEnv(real_cluster, monkeypatch)
    yield env
    for run_id in sorted(env.runs):
        real_cluster.delete_run(run_id)


@pytest.fixture
def rbac(real_cluster_env: ClusterEnv) -> Iterator[Rbac]:
    """Make ClusterRoles and bindings for this test; they are deleted after it."""
    made = Rbac(real_cluster_env.cluster)
    try:
        yield made
    finally:
        made.remove_all()
