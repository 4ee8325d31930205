"""The local cluster (`podshm cluster up`) is a real, secure Kubernetes.

Run by `make test` after `podshm cluster up`, against that cluster (the test
script points PODSHM_KUBECONFIG at it): a failure to start fails CI, it never
skips. Exec goes through the Kubernetes exec API with the official client.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client

from podshm.build.pins import DEFAULT
from podshm.kube.cluster import Cluster
from podshm.kube.namespaces import Namespace
from podshm.providers.local.layout import CONTEXT_NAME, Layout
from podshm.providers.local.plan import SERVER

pytestmark = pytest.mark.cluster
GIB = 1024**3


@pytest.fixture(scope="module")
def layout() -> Layout:
    return Layout.default()


def meminfo_bytes(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{field} not in /proc/meminfo")


def test_suite_targets_the_local_cluster(podshm_cluster: Cluster, layout: Layout) -> None:
    assert podshm_cluster.facts.api_server_url == SERVER
    assert podshm_cluster.connection.context == CONTEXT_NAME
    status = subprocess.run(
        [sys.executable, "-m", "podshm.cli", "cluster", "status", "--json"],
        capture_output=True,
        text=True,
    )
    report = json.loads(status.stdout)
    assert status.returncode == 0, status.stdout
    assert report["apiserver_ready"] and report["node_ready"]
    assert all(c["pid"] for c in report["components"].values())


def test_components_report_the_real_release(podshm_cluster: Cluster) -> None:
    facts = podshm_cluster.facts
    assert facts.server_version == DEFAULT.kubernetes
    (node,) = facts.nodes
    assert node.ready
    assert node.kubelet_version == DEFAULT.kubernetes
    assert node.container_runtime == "containerd://" + DEFAULT.containerd.lstrip("v")


def test_node_reports_real_memory(podshm_cluster: Cluster) -> None:
    (node,) = podshm_cluster.facts.nodes
    # cAdvisor reads MemTotal; allocatable is that less the 100Mi hard-eviction threshold.
    assert node.capacity_memory_bytes == meminfo_bytes("MemTotal")
    assert node.allocatable_memory_bytes == node.capacity_memory_bytes - 100 * 1024**2


def test_two_container_pod_exec_and_default_devshm(podshm_pod) -> None:
    pod = podshm_pod("ipc-pair.yaml")
    for container in ("sender", "receiver"):
        result = pod.exec(container, ["df", "-k", "/dev/shm"], timeout=30)
        assert result.exit_code == 0, result.describe()
        blocks = int(result.stdout.splitlines()[1].split()[1])
        assert blocks == 65536, result.describe()  # 64 MiB, the runtime's default
        who = pod.exec(container, ["id", "-u"], timeout=30)
        assert who.stdout.strip() == "65532", who.describe()


def test_memory_emptydir_with_size_limit_at_devshm(podshm_pod) -> None:
    pod = podshm_pod("devshm-memory-sizelimit.yaml", SIZE_LIMIT="256Mi")
    result = pod.exec("sender", ["df", "-k", "/dev/shm"], timeout=30)
    assert result.exit_code == 0, result.describe()
    assert int(result.stdout.splitlines()[1].split()[1]) == 256 * 1024, result.describe()


def test_pod_security_admission_rejects_host_ipc(
    podshm_cluster: Cluster, podshm_namespace: Namespace
) -> None:
    assert podshm_namespace.pod_security == "restricted"
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hostipc"},
        "spec": {
            "hostIPC": True,
            "containers": [{"name": "c", "image": "podshm.local/none:0", "command": ["sleep"]}],
        },
    }
    core = client.CoreV1Api(podshm_cluster.api.api_client)
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_pod(podshm_namespace.name, body)
    assert err.value.status == 403
    assert "violates PodSecurity" in err.value.body and "hostIPC" in err.value.body


def test_service_account_tokens_work(podshm_cluster: Cluster, podshm_namespace: Namespace) -> None:
    core = client.CoreV1Api(podshm_cluster.api.api_client)
    # The controller-manager creates a new namespace's "default" ServiceAccount shortly after.
    deadline = time.monotonic() + 30
    while not core.list_namespaced_service_account(
        podshm_namespace.name, field_selector="metadata.name=default"
    ).items:
        assert time.monotonic() < deadline, "no default ServiceAccount after 30 s"
        time.sleep(0.2)
    # A plain body: the client validates model arguments by class identity, and pytester's
    # in-process runs elsewhere in the session can leave a second copy of the models module.
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    token = core.create_namespaced_service_account_token(
        "default", podshm_namespace.name, request
    ).status.token
    review = client.AuthenticationV1Api(podshm_cluster.api.api_client).create_token_review(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    )
    assert review.status.authenticated
    assert review.status.user.username == f"system:serviceaccount:{podshm_namespace.name}:default"


def test_no_anonymous_access_and_tls_everywhere(layout: Layout) -> None:
    ctx = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
    # API server: TLS verified against our CA, and no identity means 401.
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{SERVER}/api/v1/namespaces", context=ctx, timeout=5)
    assert err.value.code == 401
    # kubelet: TLS too, and anonymous requests are refused.
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen("https://127.0.0.1:10250/pods", context=ctx, timeout=5)
    assert err.value.code == 401
