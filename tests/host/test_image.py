"""The built test image really runs the podshm helpers, in a real container runtime.

A throwaway containerd (the Debian package, with runc) is started with its own
root, state, socket and namespace, so nothing is shared with a containerd the
machine or a local cluster already runs; the CRI plugin is disabled to keep it
light. The image is built (or reused from the cache), imported with the same
``load_image`` the cluster code uses, and run once per check with ``ctr run``.

These tests fail, never skip, when the tools are missing: an image nobody can
run is exactly what they exist to catch.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from podshm import testimage
from podshm.cli import main as podshm_main
from podshm.image import build, load, rootfs
from podshm.podimages import TEST

INSTALL_HINT = "run scripts/install-image-deps.sh (as root) to install them"
MiB = 1024 * 1024
CONTAINERD_DEFAULT_SHM = 64 * MiB
"""containerd's default OCI spec mounts /dev/shm as tmpfs with size=65536k
(oci/spec.go, populateDefaultUnixSpec); the CRI plugin uses the same 64 MiB for pods."""


def _require_tools(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)} on PATH: {INSTALL_HINT}", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the image tests need root (mmdebstrap and containerd)", pytrace=False)


@pytest.fixture(scope="module")
def built_test_image() -> build.BuiltImage:
    """The test image, built once per module (a cache hit after the first run)."""
    _require_tools("mmdebstrap", "apt-get")
    return build.build_test_image(progress=build.stderr_progress())


@dataclass
class Containerd:
    """A private containerd: its socket, its directory and a namespace nobody else uses."""

    root: Path
    address: str
    namespace: str

    def ctr(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ctr", "--address", self.address, "--namespace", self.namespace, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(self, ref: str, *command: str) -> subprocess.CompletedProcess[str]:
        """``ctr run --rm`` with FIFOs and runc state kept inside this containerd's dir."""
        name = f"podshm-{os.getpid()}-{time.monotonic_ns()}"
        return self.ctr(
            "run",
            "--rm",
            "--fifo-dir",
            str(self.root / "fifo"),
            "--runc-root",
            str(self.root / "runc"),
            ref,
            name,
            *command,
        )


CONFIG_TEMPLATE = """\
version = 2
root = "{root}/root"
state = "{root}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{root}/containerd.sock"

[ttrpc]
  address = "{root}/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
"""


def _mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root``, deepest first (so they unmount in order)."""
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = line.split()[4].replace("\\040", " ")
            if point == str(root) or point.startswith(f"{root}/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def _pids_mentioning(marker: str) -> list[int]:
    """Processes whose command line contains ``marker`` (our unique directory)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def containerd() -> Iterator[Containerd]:
    """Start containerd in a fresh temporary directory; stop it and remove every trace."""
    _require_tools("containerd", "ctr", "runc")
    root = Path(tempfile.mkdtemp(prefix="podshm-ctrd-"))
    namespace = f"podshm-imgtest-{os.getpid()}"
    (root / "config.toml").write_text(CONFIG_TEMPLATE.format(root=root))
    log = open(root / "containerd.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        ["containerd", "--config", str(root / "config.toml")],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    runtime = Containerd(root=root, address=str(root / "containerd.sock"), namespace=namespace)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (root / "containerd.log").read_text()[-2000:]
                pytest.fail(f"throwaway containerd did not come up:\n{tail}", pytrace=False)
            if Path(runtime.address).exists() and runtime.ctr("version").returncode == 0:
                break
            time.sleep(0.2)
        yield runtime
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        # Shims outlive containerd by design; ours name our socket on their command line.
        for pid in _pids_mentioning(str(root)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for point in _mounts_under(root):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        # runc leaves the namespace's parent cgroup (/<namespace>) behind; it is ours alone.
        for cgroup in Path("/sys/fs/cgroup").glob(f"*/{namespace}"):
            with contextlib.suppress(OSError):
                cgroup.rmdir()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def imported(built_test_image: build.BuiltImage, containerd: Containerd) -> str:
    """The test image imported into the throwaway containerd; returns its reference."""
    load.load_image(
        built_test_image.archive_path,
        "containerd",
        address=containerd.address,
        namespace=containerd.namespace,
    )
    listed = containerd.ctr("images", "ls", "--quiet")
    assert built_test_image.ref in listed.stdout.split(), listed.stdout + listed.stderr
    return built_test_image.ref


def _one_json(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line, got: {proc.stdout!r}"
    return json.loads(lines[0])


def test_podshm_ipc_shm_info_runs_in_the_image(imported: str, containerd: Containerd) -> None:
    """The helper CLI is on PATH in the image and reports the runtime's /dev/shm."""
    result = _one_json(containerd.run(imported, "podshm-ipc", "shm-info", "--path", "/dev/shm"))
    assert result["command"] == "shm-info", result
    assert result["ok"] is True, result
    assert result["is_tmpfs"] is True, result
    assert result["size_bytes"] == CONTAINERD_DEFAULT_SHM, result


def test_image_runs_as_non_root_by_default(imported: str, containerd: Containerd) -> None:
    """Pods under Pod Security "restricted" need a numeric non-root user from the image."""
    proc = containerd.run(imported, "id")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == f"uid={rootfs.USER_ID}({rootfs.USER_NAME})", proc.stdout


def test_ipc_modules_import_for_the_non_root_user(imported: str, containerd: Containerd) -> None:
    """The C extensions load on bookworm's python3 and /dev/shm is a writable 64 MiB tmpfs."""
    script = (
        "import json, os, posix_ipc, sysv_ipc\n"
        "st = os.statvfs('/dev/shm')\n"
        "fs = [l.split()[2] for l in open('/proc/mounts') if l.split()[1] == '/dev/shm']\n"
        "print(json.dumps({'uid': os.getuid(), 'size': st.f_blocks * st.f_frsize, 'fs': fs,\n"
        "                  'writable': os.access('/dev/shm', os.W_OK)}))\n"
    )
    result = _one_json(containerd.run(imported, "python3", "-c", script))
    assert result == {
        "uid": rootfs.USER_ID,
        "size": CONTAINERD_DEFAULT_SHM,
        "fs": ["tmpfs"],
        "writable": True,
    }


def test_rebuild_with_same_inputs_is_a_no_op(
    built_test_image: build.BuiltImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``podshm image build`` twice: same reference, archive untouched, no mmdebstrap.

    Both builds read a snapshot of the podshm sources, so a file a developer
    edits meanwhile cannot make the inputs differ; when nobody did, the first
    build is a cache hit on the fixture's image.
    """
    snapshot = tmp_path / "podshm"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    shutil.copytree(testimage.package_dir(), snapshot, ignore=ignore)
    monkeypatch.setattr(testimage, "package_dir", lambda: snapshot)
    first = build.build_test_image()
    before = first.archive_path.stat().st_mtime_ns

    def no_mmdebstrap(*args: object, **kwargs: object) -> None:
        raise AssertionError("mmdebstrap ran for an unchanged image")

    monkeypatch.setattr(rootfs, "build_rootfs_tar", no_mmdebstrap)
    started = time.monotonic()
    assert podshm_main(["image", "build", "--json"]) == 0
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["ref"] == first.ref
    assert TEST.owns(result["ref"])
    assert result["archive_path"] == str(first.archive_path)
    assert result["cached"] is True
    assert "up to date, no rebuild" in err
    assert first.archive_path.stat().st_mtime_ns == before
    assert elapsed < 30, f"a cached build took {elapsed:.1f}s"


def test_pause_image_runs(containerd: Containerd) -> None:
    """The offline sandbox image imports under its upstream name and its binary runs."""
    _require_tools("gcc")
    pause = build.build_pause_image(progress=build.stderr_progress())
    assert pause.ref == build.PAUSE_IMAGE_REF
    # loaded through the CLI this time: `podshm image load --pause --into containerd`
    argv = ["load", "--pause", "--into", "containerd", "--address", containerd.address]
    assert podshm_main(["image", *argv, "--namespace", containerd.namespace]) == 0
    proc = containerd.run(pause.ref, "/pause", "-v")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"pause.c v{build.PAUSE_VERSION}-podshm"
    assert build.build_pause_image().cached is True
