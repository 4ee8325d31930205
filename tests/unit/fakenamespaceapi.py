"""A stand-in for the namespace calls of :class:`~podshm.kube.api.KubeApi`, recording what
the code under test asked for (shared by test_namespaces.py and test_sweep.py)."""

from __future__ import annotations

from kubernetes.client.exceptions import ApiException

from podshm.kube.namespaces import RUN_ID_LABEL


class FakeApi:
    def __init__(self, namespaces: list[dict] | None = None) -> None:
        self.namespaces = namespaces or []
        self.created: list[dict] = []
        self.deleted: list[str] = []
        self.labelled: dict[str, dict] = {}
        self.selectors: list[str] = []
        self.conflicts = 0
        self.order: list[tuple[str, str]] = []

    def create_namespace(self, body):
        if self.conflicts:
            self.conflicts -= 1
            raise ApiException(status=409, reason="AlreadyExists")
        self.created.append(body)
        return body

    def delete_pods(self, namespace):
        self.order.append(("pods", namespace))

    def delete_namespace(self, name):
        self.order.append(("namespace", name))
        self.deleted.append(name)
        return True

    def label_namespace(self, name, labels):
        self.labelled[name] = labels

    def list_namespaces(self, label_selector):
        self.selectors.append(label_selector)
        return self.namespaces


def ns(name: str, run: str, phase: str = "Active") -> dict:
    return {"metadata": {"name": name, "labels": {RUN_ID_LABEL: run}}, "status": {"phase": phase}}
