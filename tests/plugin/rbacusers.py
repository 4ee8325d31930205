"""Users of the local cluster made for a test: client certificates signed by its CA (or a CA
of our own) and ClusterRoles bound to them, removed after the test (the ``rbac`` fixture)."""

from __future__ import annotations

import datetime
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from realcluster import RealCluster

from podshm.manifests import manifests_dir

TEST_LABELS = {"app.kubernetes.io/name": "podshm-plugin-tests"}


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


def unique_user(prefix: str) -> str:
    """A user name no other test (or human) binds anything to."""
    return prefix + "-" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(6))
