"""Pure parts of the docker build path: the base's packages, its cache key, docker-env's lines."""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from podshm.cli import cluster as cluster_cli
from podshm.cli import image as image_cli
from podshm.data import data_path
from podshm.providers.kind import docker_base

DOCKERFILE = data_path("images") / "Dockerfile"


def test_packages_cover_what_the_dockerfile_runs() -> None:
    text = DOCKERFILE.read_text()
    installed = re.search(r"apt-get install -y --no-install-recommends ([^\\\n]+)", text)
    assert installed is not None
    for package in installed.group(1).split():
        assert package in docker_base.PACKAGES
    # apt-get, pip, groupadd/useradd and TLS verification inside the build
    for package in ("apt", "python3", "python3-pip", "passwd", "ca-certificates"):
        assert package in docker_base.PACKAGES
    assert "groupadd" in text and "useradd" in text


def test_dockerfile_defaults_stay_the_public_images() -> None:
    text = DOCKERFILE.read_text()
    assert "ARG BUILD_BASE_IMAGE=debian:bookworm-slim" in text
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in text


def test_cache_key_is_stable_and_follows_every_input(monkeypatch) -> None:
    packages = ["python3=3.11.2-1+b1", "gcc=4:12.2.0-3"]
    key = docker_base.cache_key(packages, "aa")
    assert re.fullmatch(r"[0-9a-f]{12}", key)
    assert docker_base.cache_key(list(reversed(packages)), "aa") == key
    assert docker_base.cache_key(["python3=3.11.2-1+b2", "gcc=4:12.2.0-3"], "aa") != key
    assert docker_base.cache_key(packages, "bb") != key
    monkeypatch.setattr(docker_base, "BUILDER", "podshm-docker-base/999")
    assert docker_base.cache_key(packages, "aa") != key


def test_image_ref_and_import_command() -> None:
    ref = docker_base.image_ref("0123456789ab")
    assert ref == "podshm.local/debian-bookworm:0123456789ab"
    cmd = docker_base.import_command(Path("/c/root.tar"), ref)
    assert cmd[0] == "import" and cmd[-2:] == ["/c/root.tar", ref]
    changes = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--change"]
    assert any(c.startswith("ENV PATH=") and "/usr/bin" in c for c in changes)


def test_env_exports_point_docker_and_kind_at_podshm() -> None:
    lines = docker_base.env_exports(
        "unix:///run/podshm-docker/docker.sock", Path("/root/.cache/podshm/bin/docker-env")
    )
    assert lines == [
        "export DOCKER_HOST=unix:///run/podshm-docker/docker.sock",
        "export DOCKER_BUILDKIT=1",
        "unset DOCKER_CONTEXT",
        "export PATH=/root/.cache/podshm/bin/docker-env:$PATH",
    ]
    odd = docker_base.env_exports("unix:///x", Path("/a b"))
    assert odd[-1] == "export PATH='/a b':$PATH"


def test_env_exports_work_in_a_shell(tmp_path: Path) -> None:
    lines = docker_base.env_exports("unix:///x y", tmp_path / "d ir")
    script = "\n".join([*lines, 'printf "%s\\n" "$DOCKER_HOST" "${PATH%%:*}"'])
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["unix:///x y", str(tmp_path / "d ir")]


def test_tool_dir_links_kind_and_docker(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PODSHM_CACHE_DIR", str(tmp_path / "cache"))
    kind, docker = tmp_path / "kind", tmp_path / "docker"
    kind.write_text("")
    docker.write_text("")
    path = docker_base.tool_dir(kind, docker)
    assert (path / "kind").resolve() == kind and (path / "docker").resolve() == docker
    other = tmp_path / "kind2"
    other.write_text("")
    assert (docker_base.tool_dir(other, docker) / "kind").resolve() == other


def test_base_image_reuses_a_tag_the_engine_has(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PODSHM_CACHE_DIR", str(tmp_path))
    bundle = tmp_path / "ca.crt"
    bundle.write_text("cert")
    monkeypatch.setattr(docker_base, "CA_BUNDLE", bundle)
    monkeypatch.setattr(docker_base.mmdebstrap, "package_set", lambda include: ["python3=1"])
    monkeypatch.setattr(docker_base.docker_engine, "start", lambda log: None)
    monkeypatch.setattr(docker_base, "_has_image", lambda ref: True)

    def no_build(*args, **kw):
        raise AssertionError("must not build")

    monkeypatch.setattr(docker_base.mmdebstrap, "build_root", no_build)
    ref = docker_base.base_image()
    assert ref.startswith("podshm.local/debian-bookworm:")
    assert ref == docker_base.image_ref(docker_base.cache_key(["python3=1"], _sha256("cert")))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podshm")
    sub = parser.add_subparsers(dest="command", required=True)
    cluster_cli.register(sub)
    image_cli.register(sub)
    return parser


@pytest.mark.parametrize(
    ("argv", "func"),
    [
        (["cluster", "docker-env"], cluster_cli._docker_env),
        (["image", "docker-base"], image_cli.run_docker_base),
    ],
)
def test_commands_are_registered(argv: list[str], func) -> None:
    assert _parser().parse_args(argv).func is func
