"""Fast checks of the image build's pieces: apt sources, wheels, the CLI and its errors."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from podshm import cache, testimage
from podshm.cli import image as cli
from podshm.cli import main as podshm_main
from podshm.errors import PodshmError
from podshm.image import aptsources, build, load, rootfs, wheels, workload
from podshm.podimages import WORKLOAD

MIRROR = "http://mirror.invalid/debian"
SECURITY = "http://mirror.invalid/debian-security"


def test_deb822_sources_keep_only_enabled_binary_entries_of_the_release() -> None:
    text = f"""\
# comment
Types: deb deb-src
URIs: {MIRROR}
Suites: bookworm bookworm-updates trixie
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {SECURITY}
Suites: bookworm-security
Components: main
Enabled: no

Types: deb-src
URIs: {MIRROR}
Suites: bookworm
Components: main
"""
    (source,) = aptsources.sources_from_deb822(text)
    assert source.suites == ("bookworm", "bookworm-updates")
    assert source.components == ("main", "contrib")
    assert source.deb822() == (
        "Types: deb\n"
        f"URIs: {MIRROR}\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main contrib\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def test_one_line_sources_become_deb822_with_options() -> None:
    text = f"""\
deb [arch=amd64 signed-by=/k.gpg] {MIRROR} bookworm main non-free-firmware # trailing
deb-src {MIRROR} bookworm main
deb {MIRROR} trixie main
deb {SECURITY} bookworm-security main
"""
    sources = aptsources.sources_from_one_line(text)
    assert [s.suites for s in sources] == [("bookworm",), ("bookworm-security",)]
    assert sources[0].options == (("Architectures", "amd64"), ("Signed-By", "/k.gpg"))
    assert "Components: main non-free-firmware\n" in sources[0].deb822()


def test_host_sources_read_only_files_apt_reads(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(
        f"Types: deb\nURIs: {MIRROR}\nSuites: bookworm\nComponents: main\n"
    )
    (tmp_path / "other.list.disabled").write_text(f"deb {SECURITY} bookworm-security main\n")
    text = aptsources.host_apt_sources([tmp_path / "missing.list", tmp_path])
    assert text == f"Types: deb\nURIs: {MIRROR}\nSuites: bookworm\nComponents: main\n"


def test_no_bookworm_source_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.list").write_text(f"deb {MIRROR} trixie main\n")
    with pytest.raises(PodshmError, match="no enabled Debian bookworm 'deb' source"):
        aptsources.host_apt_sources([tmp_path])


def test_mmdebstrap_command_uses_the_sources_file_and_copies_usr_local(tmp_path: Path) -> None:
    staging = tmp_path / "dir with space"
    cmd = rootfs.mmdebstrap_command(tmp_path / "p.sources", staging, tmp_path / "out.tar")
    assert cmd[-3:] == ["bookworm", str(tmp_path / "out.tar"), str(tmp_path / "p.sources")]
    assert "--variant=essential" in cmd and "--include=python3" in cmd
    assert "--format=tar" in cmd
    (sync,) = [c for c in cmd if c.startswith("--customize-hook=sync-in")]
    assert shlex.split(sync.split("=", 1)[1]) == ["sync-in", str(staging), "/usr/local"]


def test_workload_recipe_installs_its_packages_with_the_pods_user(tmp_path: Path) -> None:
    recipe = workload.load_recipe()
    assert "postgresql-15" in recipe.include
    cmd = workload.mmdebstrap_command(recipe, tmp_path / "p.sources", tmp_path / "out.tar")
    assert "--include=postgresql-15" in cmd and "--variant=essential" in cmd
    # Debian's postinst must find "no main cluster" before it runs; the user before the checks.
    (essential,) = [c for c in cmd if c.startswith("--essential-hook=")]
    assert "create_main_cluster = false" in essential
    hooks = [c.split("=", 1)[1] for c in cmd if c.startswith("--customize-hook=")]
    assert hooks == [rootfs.USER_HOOK, recipe.customize_hook]
    assert f"--dpkgopt=path-exclude={recipe.dpkg_exclude[0]}" in cmd
    assert all(f"--dpkgopt={opt}" in cmd for opt in workload.mmdebstrap.DPKG_OPTIONS)


def test_a_recipe_edit_is_another_workload_image(tmp_path: Path, monkeypatch) -> None:
    before = WORKLOAD.tag_prefix()
    copy = tmp_path / "workload"
    copy.mkdir()
    text = (workload.workload_recipe_dir() / workload.RECIPE_FILE).read_text()
    (copy / workload.RECIPE_FILE).write_text(text + "\n# edited\n")
    monkeypatch.setattr("podshm.podimages.workload_recipe_dir", lambda: copy)
    assert WORKLOAD.tag_prefix() != before
    assert workload.load_recipe(copy / workload.RECIPE_FILE).include == ("postgresql-15",)


def test_a_broken_recipe_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "recipe.yaml"
    broken.write_text("include: [postgresql-15]\n")
    with pytest.raises(PodshmError) as err:
        workload.load_recipe(broken)
    assert str(broken) in err.value.cause


def test_missing_mmdebstrap_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PodshmError) as err:
        rootfs.build_rootfs_tar("", tmp_path, tmp_path / "out.tar")
    assert "mmdebstrap not found" in err.value.cause
    assert "scripts/install-image-deps.sh" in (err.value.fix or "")


def _wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("demo/__init__.py", "VALUE = 1\n")
        info = zipfile.ZipInfo("demo/_ext.so")
        info.external_attr = 0o755 << 16
        zf.writestr(info, b"\x7fELF")
        zf.writestr("demo-1.0.data/scripts/demo-tool", "#!python\nprint('hi')\n")
        zf.writestr("demo-1.0.dist-info/METADATA", "Name: demo\nVersion: 1.0\n")
        zf.writestr("demo-1.0.dist-info/RECORD", "")
    return path


def test_install_wheel_lays_out_files_like_pip(tmp_path: Path) -> None:
    prefix = tmp_path / "usr-local"
    wheels.install_wheel(_wheel(tmp_path / "demo-1.0-cp311-cp311-linux_x86_64.whl"), prefix)
    site = prefix / wheels.SITE_PACKAGES
    assert (site / "demo" / "__init__.py").read_text() == "VALUE = 1\n"
    assert (site / "demo" / "_ext.so").stat().st_mode & 0o777 == 0o755
    assert (prefix / "bin" / "demo-tool").read_text().startswith("#!/usr/bin/python3\n")
    assert (site / "demo-1.0.dist-info" / "INSTALLER").read_text() == "podshm-image\n"


def test_podshm_source_install_has_a_working_console_script(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "podshm"
    (pkg / "ipc").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "ipc" / "__init__.py").write_text("")
    (pkg / "ipc" / "cli.py").write_text("def main():\n    print('helper ran')\n    return 3\n")
    prefix = tmp_path / "usr-local"
    wheels.install_podshm_source(pkg, prefix, "9.9")
    site = prefix / wheels.SITE_PACKAGES
    script = prefix / "bin" / "podshm-ipc"
    assert script.read_text().startswith("#!/usr/bin/python3\n")
    assert (
        "podshm-ipc = podshm.ipc.cli:main"
        in (site / "podshm-9.9.dist-info" / "entry_points.txt").read_text()
    )
    record = (site / "podshm-9.9.dist-info" / "RECORD").read_text()
    assert "podshm/ipc/cli.py,sha256=" in record and "../../../bin/podshm-ipc," in record
    # run the launcher with this interpreter against the staged site-packages
    proc = subprocess.run(
        [sys.executable, str(script)],
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (3, "helper ran\n")


def test_runtime_dependencies_are_pinned_to_the_installed_versions() -> None:
    pins = wheels.pinned_requirements()
    assert [p.split("==")[0] for p in pins] == ["sysv_ipc", "posix_ipc"]
    assert all("==" in p and p.split("==")[1] for p in pins)


def test_usable_wheel_tags() -> None:
    assert wheels._usable_wheel(
        Path("a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    )
    assert wheels._usable_wheel(Path("a-1-py3-none-any.whl"))
    assert not wheels._usable_wheel(Path("a-1-cp312-cp312-manylinux2014_x86_64.whl"))
    assert not wheels._usable_wheel(Path("a-1-cp311-cp311-win_amd64.whl"))


def test_cache_refuses_the_git_work_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = cache.work_tree_of(testimage.package_dir())
    assert tree is not None
    monkeypatch.setenv("PODSHM_CACHE_DIR", str(tree / "cache"))
    with pytest.raises(PodshmError, match="inside the git work tree"):
        cache.cache_root()


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODSHM_CACHE_DIR", str(tmp_path))
    assert build.images_dir() == tmp_path.resolve() / "images"


def test_pause_source_is_the_vendored_kubernetes_file() -> None:
    source = build.find_pause_source()
    assert source.parts[-3:] == ("images", "pause", "pause.c")
    text = source.read_text()
    assert "Copyright 2016 The Kubernetes Authors." in text
    assert "Licensed under the Apache License, Version 2.0" in text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podshm")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_load_help_lists_the_three_targets(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(["image", "load", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "{containerd,kind,docker}" in out
    for word in ("containerd", "kind", "docker", "--address", "--kind-cluster", "--ctr-path"):
        assert word in out


def test_subcommands_set_func() -> None:
    parser = _parser()
    for argv in (["image", "build"], ["image", "build-pause"], ["image", "load"]):
        assert callable(parser.parse_args(argv).func)
    assert parser.parse_args(["image", "build-pause"]).pause is True
    assert parser.parse_args(["image", "build", "--workload"]).workload is True
    assert parser.parse_args(["image", "load", "--workload"]).workload is True
    with pytest.raises(SystemExit):
        parser.parse_args(["image", "build", "--workload", "--pause"])


@pytest.mark.parametrize(
    ("target", "tool", "hint"),
    [
        ("containerd", "ctr", "install containerd (apt-get install containerd) or pass --ctr-path"),
        ("kind", "kind", "install kind (go install sigs.k8s.io/kind@latest) or pass --kind-path"),
        ("docker", "docker", "install Docker or pass --docker-path"),
    ],
)
def test_missing_load_tool_is_a_clear_error(
    target: str,
    tool: str,
    hint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive = tmp_path / "image.oci.tar"
    archive.write_bytes(b"")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PodshmError) as err:
        load.load_image(archive, target)
    assert str(err.value) == f"{tool} not found on PATH -- {hint}"
    # and through the CLI: exit 2, cause and fix on their own lines
    assert podshm_main(["image", "load", "--into", target, "--archive", str(archive)]) == 2
    err_lines = capsys.readouterr().err.splitlines()
    assert f"podshm: error: {tool} not found on PATH" in err_lines
    assert f"podshm: fix: {hint}" in err_lines


def test_explicit_tool_path_that_does_not_exist(tmp_path: Path) -> None:
    archive = tmp_path / "image.oci.tar"
    archive.write_bytes(b"")
    with pytest.raises(PodshmError, match="is not an executable"):
        load.load_image(archive, "containerd", ctr=str(tmp_path / "nope"))


def test_missing_archive_and_socket_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(PodshmError, match="does not exist"):
        load.load_image(tmp_path / "missing.oci.tar")
    archive = tmp_path / "image.oci.tar"
    archive.write_bytes(b"")
    fake_ctr = tmp_path / "ctr"
    fake_ctr.write_text("#!/bin/sh\nexit 0\n")
    fake_ctr.chmod(0o755)
    with pytest.raises(PodshmError, match=r"containerd socket .* does not exist"):
        load.load_image(archive, ctr=str(fake_ctr), address=str(tmp_path / "none.sock"))


def test_load_commands(tmp_path: Path) -> None:
    fake = tmp_path / "tool"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    archive = tmp_path / "a.tar"
    assert load.load_command(archive, "containerd", ctr=str(fake), address="/s.sock") == [
        str(fake),
        "--address",
        "/s.sock",
        "--namespace",
        "k8s.io",
        "images",
        "import",
        str(archive),
    ]
    assert load.load_command(archive, "kind", kind=str(fake), kind_cluster="c1") == [
        str(fake),
        "load",
        "image-archive",
        str(archive),
        "--name",
        "c1",
    ]
    assert load.load_command(archive, "docker", docker=str(fake)) == [
        str(fake),
        "load",
        "--input",
        str(archive),
    ]


def test_top_level_podshm_cli_wires_the_image_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    with pytest.raises(SystemExit) as exit_:
        podshm_main(["image", "load", "--help"])
    assert exit_.value.code == 0
    assert "{containerd,kind,docker}" in capsys.readouterr().out
    archive = tmp_path / "image.oci.tar"
    archive.write_bytes(b"")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert podshm_main(["image", "load", "--into", "docker", "--archive", str(archive)]) == 2
    assert "podshm: error: docker not found on PATH" in capsys.readouterr().err
