"""A cluster that cannot be used stops the run (exit 2) before any test, with one clear line.

The unreachable and misconfigured cases need no cluster. Refused credentials and missing RBAC
permissions are produced for real on the local cluster: client certificates for users with no
(or partial) RBAC bindings, signed by the cluster's CA, and one signed by a CA of our own.
"""

from __future__ import annotations

import copy
import datetime
import secrets
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from realcluster import ClusterEnv, RealCluster, assert_one_selected, run_id_of

from podshm.manifests import manifests_dir

NO_CLUSTER = "podshm: no usable cluster: "
CLUSTER_TESTS = """
def test_one(podshm_cluster):
    pass

def test_two(podshm_namespace):
    pass

def test_three(podshm_pod):
    pass
"""


def error_lines(result: pytest.RunResult) -> list[str]:
    """The lines that carry podshm's failure text in the error sections."""
    return [line for line in result.stdout.lines if line.startswith("podshm: ")]


def failure_lines(result: pytest.RunResult) -> list[str]:
    """podshm's lines minus the report header's ("podshm: no usable cluster: ...")."""
    return [line for line in error_lines(result) if not line.startswith(NO_CLUSTER)]


def exit_reason(result: pytest.RunResult) -> str:
    """The one line the run ended with (pytest.exit), asserting the run stopped with exit 2."""
    assert result.ret == 2, result.stdout.str()
    lines = [line for line in result.stdout.lines if "_pytest.outcomes.Exit: " in line]
    assert len(lines) == 1, result.stdout.str()
    result.assert_outcomes()  # no test ran
    return lines[0].split("_pytest.outcomes.Exit: ", 1)[1].strip(" !")


def test_unreachable_api_server_stops_the_run_fast_with_one_line(
    pytester: pytest.Pytester, dead_kubeconfig
):
    pytester.makepyfile(CLUSTER_TESTS)
    start = time.monotonic()
    result = pytester.runpytest(
        "--podshm-kubeconfig", str(dead_kubeconfig), "-p", "no:cacheprovider"
    )
    elapsed = time.monotonic() - start
    expected = (
        "podshm: cannot reach the Kubernetes API server at https://127.0.0.1:1 "
        "(context 'dead'): connection refused -- start it with `podshm cluster up`, "
        "or pick another context with --podshm-context (or PODSHM_CONTEXT)"
    )
    assert exit_reason(result) == expected
    assert "Traceback" not in result.stdout.str()
    assert "During handling" not in result.stdout.str()
    assert elapsed < 5


def test_with_xdist_every_cluster_test_fails_with_the_same_line(
    pytester: pytest.Pytester, dead_kubeconfig
):
    """A worker cannot end the whole run: each test fails at once with the cached line."""
    pytester.makepyfile(CLUSTER_TESTS)
    result = pytester.runpytest_subprocess(
        "--podshm-kubeconfig", str(dead_kubeconfig), "-p", "no:cacheprovider", "-n", "2"
    )
    result.assert_outcomes(errors=3)
    assert "Traceback" not in result.stdout.str()


def test_unknown_context_lists_the_available_ones(pytester: pytest.Pytester, dead_kubeconfig):
    pytester.makepyfile(CLUSTER_TESTS)
    result = pytester.runpytest(
        "--podshm-kubeconfig", str(dead_kubeconfig), "--podshm-context", "prod"
    )
    assert exit_reason(result) == (
        f"podshm: context 'prod' does not exist in kubeconfig {dead_kubeconfig} "
        "(available contexts: dead, other) -- pass one of the available contexts to "
        "--podshm-context (or PODSHM_CONTEXT)"
    )


def test_environment_variables_select_kubeconfig_and_context(
    pytester: pytest.Pytester, dead_kubeconfig, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PODSHM_KUBECONFIG", str(dead_kubeconfig))
    monkeypatch.setenv("PODSHM_CONTEXT", "missing")
    pytester.makepyfile("def test_one(podshm_cluster): pass")
    result = pytester.runpytest()
    assert exit_reason(result).startswith("podshm: context 'missing' does not exist")


def test_plain_kubeconfig_variable_is_honoured(
    pytester: pytest.Pytester, dead_kubeconfig, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("KUBECONFIG", str(dead_kubeconfig))
    pytester.makepyfile("def test_one(podshm_cluster): pass")
    result = pytester.runpytest()
    assert exit_reason(result).startswith(
        "podshm: cannot reach the Kubernetes API server at https://127.0.0.1:1"
    )


def test_header_says_when_the_cluster_is_unreachable(pytester: pytest.Pytester, dead_kubeconfig):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--podshm-kubeconfig", str(dead_kubeconfig))
    assert result.ret == 0
    header = [line for line in result.stdout.lines if line.startswith("podshm:")]
    assert header == [
        "podshm: no usable cluster: cannot reach the Kubernetes API server at "
        "https://127.0.0.1:1 (context 'dead'): connection refused -- start it with "
        "`podshm cluster up`, or pick another context with --podshm-context (or PODSHM_CONTEXT)"
    ]


# -- real credentials and RBAC on the local cluster --------------------------------------------

RBAC_FIX = (
    "bind a ClusterRole that grants them to your user with a ClusterRoleBinding: cluster-admin, "
    "or the ClusterRole 'podshm-runner' in manifests/rbac/podshm-runner.yaml"
)
TEST_LABELS = {"app.kubernetes.io/name": "podshm-plugin-tests"}

# A spy, not a stand-in: it counts the plugin's connection attempts and calls the real thing.
COUNT_CONNECTIONS_CONFTEST = """
import podshm.target as target

CALLS = []
_open_cluster = target.open_cluster


def counting_open_cluster(*args, **kwargs):
    CALLS.append(args)
    return _open_cluster(*args, **kwargs)


target.open_cluster = counting_open_cluster


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"open_cluster calls: {len(CALLS)}")
"""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def make_ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA the cluster has never heard of."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def load_cluster_ca(cluster: RealCluster) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The local cluster's CA, read only (nothing is written to its pki directory)."""
    key = serialization.load_pem_private_key(cluster.ca_key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key, x509.load_pem_x509_certificate(cluster.ca_cert.read_bytes())


@dataclass(frozen=True)
class User:
    """A client-certificate user and the kubeconfig that authenticates as it."""

    name: str
    kubeconfig: Path


def make_user(
    cluster: RealCluster,
    directory: Path,
    cn: str,
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> User:
    """Issue a client certificate for ``cn`` signed by ``ca``; context ``cn`` uses it."""
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{cn}.crt", directory / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {
                    "server": cluster.server,
                    "certificate-authority": str(cluster.ca_cert),
                },
            }
        ],
        "users": [
            {
                "name": cn,
                "user": {"client-certificate": str(cert_path), "client-key": str(key_path)},
            }
        ],
        "contexts": [{"name": cn, "context": {"cluster": "local", "user": cn}}],
        "current-context": cn,
    }
    path = directory / f"{cn}.kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    return User(cn, path)


def runner_rules() -> list[dict]:
    """The rules of the ClusterRole the RBAC error message tells users to bind."""
    role = yaml.safe_load((manifests_dir() / "rbac" / "podshm-runner.yaml").read_text())
    assert role["kind"] == "ClusterRole" and role["metadata"]["name"] == "podshm-runner"
    return role["rules"]


class Rbac:
    """ClusterRoles and bindings made for one test, removed after it."""

    def __init__(self, cluster: RealCluster) -> None:
        self.cluster = cluster
        self.created: list[tuple[str, str]] = []

    def bind(self, user: str, rules: list[dict]) -> None:
        """A ClusterRole with ``rules`` bound to ``user``; returns once the authorizer agrees."""
        suffix = "".join(secrets.choice(string.ascii_lowercase) for _ in range(6))
        name = f"podshm-plugin-test-{suffix}"
        meta = {"name": name, "labels": TEST_LABELS}
        self.cluster.rbac.create_cluster_role({"metadata": meta, "rules": rules})
        self.created.append(("role", name))
        self.cluster.rbac.create_cluster_role_binding(
            {
                "metadata": meta,
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": name,
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
                ],
            }
        )
        self.created.append(("binding", name))
        self._wait_effective(user, rules)

    def _wait_effective(self, user: str, rules: list[dict], timeout: float = 15.0) -> None:
        """RBAC reaches the authorizer through a watch: ask (as admin) until it sees the rule."""
        rule = rules[0]
        attributes = {
            "verb": rule["verbs"][0],
            "group": rule["apiGroups"][0],
            "resource": rule["resources"][0],
        }
        authz = client.AuthorizationV1Api(self.cluster.api_client)
        review = {"spec": {"user": user, "resourceAttributes": attributes}}
        deadline = time.monotonic() + timeout
        while not authz.create_subject_access_review(review).status.allowed:
            assert time.monotonic() < deadline, f"RBAC for {user} not effective after {timeout} s"
            time.sleep(0.2)

    def remove_all(self) -> None:
        for kind, name in reversed(self.created):
            delete = {
                "role": self.cluster.rbac.delete_cluster_role,
                "binding": self.cluster.rbac.delete_cluster_role_binding,
            }[kind]
            try:
                delete(name)
            except ApiException as err:
                if err.status != 404:
                    raise
        self.created.clear()


@pytest.fixture
def rbac(real_cluster_env: ClusterEnv) -> Iterator[Rbac]:
    """Make ClusterRoles and bindings for this test; they are deleted after it."""
    made = Rbac(real_cluster_env.cluster)
    try:
        yield made
    finally:
        made.remove_all()


def unique_user(prefix: str) -> str:
    """A user name no other test (or human) binds anything to."""
    return prefix + "-" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(6))


@pytest.mark.cluster
def test_user_without_rbac_bindings_gets_one_line_naming_every_permission_and_the_role(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, tmp_path: Path
):
    cluster = real_cluster_env.cluster
    user = make_user(cluster, tmp_path, "podshm-test-nobody", load_cluster_ca(cluster))
    pytester.makepyfile("def test_one(podshm_cluster): pass")
    start = time.monotonic()
    result = pytester.runpytest_subprocess("--podshm-kubeconfig", str(user.kubeconfig))
    elapsed = time.monotonic() - start
    everything = (
        "create namespaces, delete namespaces, list namespaces, patch namespaces, create pods, "
        "deletecollection pods, get pods, "
        "create pods/exec, get pods/log, list events, list nodes"
    )
    expected = (
        "podshm: context 'podshm-test-nobody' lacks RBAC permissions podshm needs in all "
        f"namespaces: {everything} -- {RBAC_FIX}"
    )
    assert exit_reason(result) == expected
    assert NO_CLUSTER + expected.removeprefix("podshm: ") in result.stdout.lines
    assert "Traceback" not in result.stdout.str()
    assert elapsed < 15


@pytest.mark.cluster
def test_partial_rbac_names_only_what_is_missing_and_connects_once(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, rbac: Rbac, tmp_path: Path
):
    """Bound: podshm-runner without 'delete namespaces' and without pods/exec."""
    cluster = real_cluster_env.cluster
    name = unique_user("podshm-test-partial")
    user = make_user(cluster, tmp_path, name, load_cluster_ca(cluster))
    rules = []
    for rule in copy.deepcopy(runner_rules()):
        if rule["resources"] == ["pods/exec"]:
            continue
        if rule["resources"] == ["namespaces"]:
            rule["verbs"].remove("delete")
        rules.append(rule)
    rbac.bind(name, rules)
    pytester.makepyfile(CLUSTER_TESTS)
    pytester.makeconftest(COUNT_CONNECTIONS_CONFTEST)
    start = time.monotonic()
    result = pytester.runpytest_subprocess("--podshm-kubeconfig", str(user.kubeconfig))
    elapsed = time.monotonic() - start
    expected = (
        f"podshm: context '{name}' lacks RBAC permissions podshm needs in all namespaces: "
        f"delete namespaces, create pods/exec -- {RBAC_FIX}"
    )
    assert exit_reason(result) == expected
    # The header tried once; the check before the tests reuses that failure.
    assert "open_cluster calls: 1" in result.stdout.lines
    assert elapsed < 15


@pytest.mark.cluster
def test_the_documented_clusterrole_is_enough_to_run_a_scenario(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, rbac: Rbac, tmp_path: Path
):
    """manifests/rbac/podshm-runner.yaml, bound to a fresh user: the suite runs as that user."""
    cluster = real_cluster_env.cluster
    name = unique_user("podshm-test-runner")
    user = make_user(cluster, tmp_path, name, load_cluster_ca(cluster))
    rbac.bind(name, runner_rules())
    result = pytester.runpytest_subprocess(
        "--pyargs",
        "podshm.suite",
        "-k",
        "default_devshm",
        "--podshm-kubeconfig",
        str(user.kubeconfig),
        timeout=300,
    )
    run_id = real_cluster_env.track(run_id_of(result))
    assert_one_selected(result, "passed")
    result.stdout.fnmatch_lines([f"podshm: API server {cluster.server} (context {name}), *"])
    real_cluster_env.assert_cleaned_up(run_id)


@pytest.mark.cluster
def test_certificate_from_an_unknown_ca_is_rejected_credentials(
    pytester: pytest.Pytester, real_cluster_env: ClusterEnv, tmp_path: Path
):
    cluster = real_cluster_env.cluster
    user = make_user(cluster, tmp_path, "podshm-test-rogue", make_ca("not-the-cluster-ca"))
    pytester.makepyfile("def test_one(podshm_cluster): pass")
    result = pytester.runpytest_subprocess("--podshm-kubeconfig", str(user.kubeconfig))
    assert exit_reason(result) == (
        f"podshm: the API server at {cluster.server} rejected the credentials of context "
        "'podshm-test-rogue' (401 Unauthorized) -- refresh the credentials in your kubeconfig "
        "(or log in again)"
    )
    assert "Traceback" not in result.stdout.str()
