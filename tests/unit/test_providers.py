"""The providers behind one protocol, and a version parsed once reaching each of them as Pins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podshm import providers
from podshm.build import gobuild
from podshm.build.pins import pins_for
from podshm.errors import PodshmError
from podshm.providers.base import Provider, Request
from podshm.providers.kind import components as kind_components

PROTOCOL = [
    name
    for name in dir(Provider)
    if not name.startswith("_") and callable(getattr(Provider, name, None))
]


def test_the_package_finds_every_provider_and_each_implements_the_protocol():
    found = providers.available()
    assert set(found) == {"local", "kind"}
    for name, provider in found.items():
        assert provider.name == name and provider.summary
        missing = [call for call in PROTOCOL if not callable(getattr(provider, call, None))]
        assert missing == [], name
    assert providers.get(providers.DEFAULT).name == "local"
    with pytest.raises(PodshmError, match="no cluster provider 'vm'"):
        providers.get("vm")


@pytest.mark.parametrize("name", ["local", "kind"])
def test_every_provider_takes_a_request_with_pins(name: str, monkeypatch):
    provider = providers.get(name)
    monkeypatch.setattr("podshm.providers.local.runtimes.runc.Runc.preflight", lambda self: None)
    provider.validate(Request(pins_for("v1.37"), nodes=1, runtimes=("runc",)))


def test_each_provider_refuses_what_it_cannot_run_before_building():
    with pytest.raises(PodshmError, match=r"runs one host node.*--vm-nodes 1"):
        providers.get("local").validate(Request(pins_for("v1.37"), nodes=3))
    with pytest.raises(PodshmError, match="0 or 1 VM nodes, 2 were asked for"):
        providers.get("local").validate(Request(pins_for("v1.37"), nodes=1, vm_nodes=2))
    with pytest.raises(PodshmError, match="linux-image"):
        providers.get("local").validate(Request(pins_for("v1.37"), nodes=1, vm_kernel="bash"))
    with pytest.raises(PodshmError, match="VM nodes"):
        providers.get("kind").validate(Request(pins_for("v1.37"), nodes=1, vm_nodes=1))
    with pytest.raises(PodshmError, match="runc only"):
        providers.get("kind").validate(Request(pins_for("v1.37"), nodes=3, runtimes=("gvisor",)))


def test_kind_builds_a_minor_asked_for_without_its_patch(tmp_path: Path, monkeypatch):
    """`--provider kind --k8s-version v1.37`: the version string used to reach a split('.')[2]
    in the kubeadm build; now the pins carry the patch and the staging version."""
    gomod, info = tmp_path / "go.mod", tmp_path / "info.json"
    gomod.write_text("module k8s.io/kubernetes\n\tk8s.io/api v0.0.0 => ./staging/src/k8s.io/api\n")
    info.write_text(json.dumps({"Time": "2026-10-27T12:01:04Z"}))
    described = {"GoMod": gomod, "Info": info}
    monkeypatch.setattr(gobuild, "module_info", lambda module, version, toolchain=None: described)
    kubeadm = kind_components.kubeadm(pins_for("v1.37"))
    assert kubeadm.version == "v1.37.2"
    assert kubeadm.replaces == {"k8s.io/api": "k8s.io/api v0.37.2"}
    assert set(kubeadm.packages) == {"kubeadm", "kube-proxy"}
