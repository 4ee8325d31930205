"""An installed wheel works like the checkout: package data, the test image, the suite.

The wheel is built from this checkout and installed into a fresh virtual environment;
every command runs from a directory outside the checkout, so nothing can be found by
climbing from the source tree. Needs the local cluster (the suite runs against it) and
the package registries (the venv's dependencies, the image's wheels).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from podshm.image import build_test_image
from podshm.providers.local.layout import Layout

pytestmark = [pytest.mark.cluster]
REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


_LITTER = shutil.ignore_patterns(".git", ".venv", "*.egg-info", "__pycache__", ".*_cache")


def ignore_checkout_litter(directory: str, names: list[str]) -> set[str]:
    """What a build or test run leaves in the checkout; top-level only for build/ and
    reports/, since src/podshm/build is a package of the same name."""
    ignored = set(_LITTER(directory, names))
    if Path(directory) == REPO:
        ignored |= {"build", "reports"} & set(names)
    return ignored


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with the wheel built from it installed."""
    work = tmp_path_factory.mktemp("wheel")
    # Build from a copy: setuptools writes build/ and *.egg-info into the tree it builds.
    source = work / "source"
    shutil.copytree(
        REPO,
        source,
        symlinks=True,
        ignore=ignore_checkout_litter,
    )
    dist = work / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        work,
    )
    (wheel,) = dist.glob("podshm-*.whl")
    run([sys.executable, "-m", "venv", str(work / "venv")], work)
    run([str(work / "venv/bin/pip"), "install", "-q", str(wheel)], work)
    return work


def test_the_wheel_ships_every_manifest_the_c_sources_and_the_go_pins(wheel_venv: Path):
    probe = """
import json
from podshm import manifests
from podshm.data import data_path
from podshm.image import native, build
from podshm.build import gobuild
names = manifests.available()
for name in names:
    params = {"NAME": "x", "IMAGE": "i", "PULL_POLICY": "Never"}
    if "WORKLOAD_IMAGE" in manifests.placeholders(manifests.read(name), name):
        params["WORKLOAD_IMAGE"] = "w"
    manifests.render(name, params)
print(json.dumps({
    "manifests": names,
    "rbac": data_path("manifests", "rbac", "podshm-runner.yaml").is_file(),
    "ipcbench": str(native.find_ipcbench_source()),
    "pause": str(build.find_pause_source()),
    "pins": sorted(str(p.relative_to(gobuild.pinned_dir())) for p in
                   gobuild.pinned_dir().glob("*/*/go.sum")),
}))
"""
    out = run([str(wheel_venv / "venv/bin/python"), "-c", probe], wheel_venv)
    found = json.loads(out.stdout)
    shipped = sorted(p.name for p in (REPO / "src/podshm/data/manifests").glob("*.yaml"))
    assert found["manifests"] == shipped
    assert found["rbac"]
    for key in ("ipcbench", "pause"):
        assert found[key].startswith(str(wheel_venv / "venv")), found[key]
    checkout_pins = sorted(
        str(p.relative_to(REPO / "src/podshm/data/gomod"))
        for p in (REPO / "src/podshm/data/gomod").glob("*/*/go.sum")
    )
    assert found["pins"] == checkout_pins


def test_the_wheel_builds_the_same_test_image_as_the_checkout(wheel_venv: Path):
    """A cold build in an empty cache; same inputs, so the same content tag."""
    expected = build_test_image().ref
    out = run(
        [str(wheel_venv / "venv/bin/podshm"), "image", "build", "--print-ref"],
        wheel_venv,
        env={"PODSHM_CACHE_DIR": str(wheel_venv / "cache")},
    )
    assert out.stdout.strip() == expected


def test_the_wheel_runs_the_suite_against_the_local_cluster(wheel_venv: Path):
    """The documented command for installed podshm, outside any checkout."""
    env = {
        "KUBECONFIG": str(Layout.default().admin_kubeconfig),
        "PODSHM_IMAGE": "",
        "PODSHM_KUBECONFIG": "",
    }
    junit = wheel_venv / "junit.xml"
    out = run(
        [
            str(wheel_venv / "venv/bin/pytest"),
            "--pyargs",
            "podshm.suite",
            "-m",
            "sysv and not destructive",
            "-p",
            "no:cacheprovider",
            "--junitxml",
            str(junit),
        ],
        wheel_venv,
        env=env,
    )
    assert "podshm: test image podshm.local/podshm-test:" in out.stdout
    assert " passed" in out.stdout.splitlines()[-1]
    assert "failed" not in out.stdout.splitlines()[-1]
    assert junit.is_file()
