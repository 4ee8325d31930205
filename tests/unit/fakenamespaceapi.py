"""A stand-in for the namespace, pod-collection and Lease calls of
:class:`~podshm.kube.api.KubeApi`, recording what the code under test asked for (shared by
test_namespaces.py, test_sweep.py and test_heartbeat.py)."""

from __future__ import annotations

from datetime import datetime

from kubernetes.client.exceptions import ApiException

from podshm.kube.namespaces import RUN_ID_LABEL


class FakeApi:
    def __init__(self, namespaces: list[dict] | None = None) -> None:
        self.namespaces = namespaces or []
        self.created: list[dict] = []
        self.deleted: list[str] = []
        self.labelled: dict[str, dict] = {}
        self.annotated: dict[str, dict] = {}
        self.selectors: list[str] = []
        self.pod_selectors: list[tuple[str, str]] = []
        self.conflicts = 0
        self.order: list[tuple[str, str]] = []
        self.leases: dict[tuple[str, str], dict] = {}
        self.lease_error: ApiException | None = None
        self.renewals: list[tuple[str, str, dict]] = []
        self.server_now: datetime | None = None

    def create_namespace(self, body):
        if self.conflicts:
            self.conflicts -= 1
            raise ApiException(status=409, reason="AlreadyExists")
        self.created.append(body)
        return body

    def delete_pods(self, namespace, label_selector=""):
        self.order.append(("pods", namespace))
        self.pod_selectors.append((namespace, label_selector))

    def delete_namespace(self, name):
        self.order.append(("namespace", name))
        self.deleted.append(name)
        return True

    def label_namespace(self, name, labels=None, annotations=None):
        if labels:
            self.labelled.setdefault(name, {}).update(labels)
        if annotations:
            self.annotated.setdefault(name, {}).update(annotations)

    def list_namespaces(self, label_selector):
        self.selectors.append(label_selector)
        return self.namespaces

    def create_lease(self, namespace, body):
        if self.lease_error is not None:
            raise self.lease_error
        self.leases[(namespace, body["metadata"]["name"])] = body
        return body

    def patch_lease(self, namespace, name, patch):
        self.renewals.append((namespace, name, patch))

    def read_lease(self, namespace, name):
        if (namespace, name) not in self.leases:
            raise ApiException(status=404, reason="Not Found")
        return self.leases[(namespace, name)], self.server_now


def ns(name: str, run: str, phase: str = "Active") -> dict:
    return {"metadata": {"name": name, "labels": {RUN_ID_LABEL: run}}, "status": {"phase": phase}}
