"""The pins table: coverage, order, parsing once into Pins, committed wrapper modules, and
what the cache says is built (podshm.build)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podshm.build import catalog, components, gobuild
from podshm.build import pins as versions
from podshm.build.pins import DEFAULT, SUPPORTED, Pins, upgrade_path
from podshm.errors import PodshmError

MODULES = {
    "etcd": "go.etcd.io/etcd/server/v3",
    "containerd": "github.com/containerd/containerd/v2",
    "runc": "github.com/opencontainers/runc",
    "kubernetes": "k8s.io/kubernetes",
}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.lstrip("v").split("."))


def test_table_covers_1_33_to_1_37_in_order() -> None:
    assert [p.label for p in SUPPORTED] == ["1.33", "1.34", "1.35", "1.36", "1.37"]
    assert [p.minor for p in SUPPORTED] == [(1, 33), (1, 34), (1, 35), (1, 36), (1, 37)]
    assert [_key(p.kubernetes) for p in SUPPORTED] == sorted(_key(p.kubernetes) for p in SUPPORTED)
    assert DEFAULT is SUPPORTED[-1]
    assert DEFAULT.kubernetes == "v1.37.2"


def test_every_pin_is_a_release_and_says_why() -> None:
    for pins in SUPPORTED:
        for name, version in pins.by_component().items():
            assert _key(version), (pins.minor, name)  # vX.Y.Z, no pre-release
        assert all(word in pins.why for word in ("etcd", "containerd", "runc")), pins.minor
        # Kubernetes 1.36+ wants containerd 2.x; every entry uses 2.x (config version 3).
        assert pins.containerd.startswith("v2."), pins.minor


@pytest.mark.parametrize("pins", SUPPORTED, ids=lambda p: p.minor)
def test_every_pin_has_a_committed_wrapper_module(pins: Pins) -> None:
    for name, version in pins.by_component().items():
        pinned = gobuild.pinned_dir() / name / version
        gomod = (pinned / "go.mod").read_text()
        assert f"require {MODULES[name]} {version}\n" in gomod, pinned
        assert (pinned / "go.sum").stat().st_size > 0, pinned


@pytest.mark.parametrize("asked", ["v1.36", "1.36", "v1.36.x", "v1.36.3", " 1.36.3 "])
def test_pins_for_accepts_a_minor_or_the_pinned_patch(asked: str) -> None:
    assert versions.pins_for(asked).kubernetes == "v1.36.3"


@pytest.mark.parametrize("asked", ["v1.32", "v1.38.0", "2.0", "latest", "", "v1.36.3-rc.0"])
def test_pins_for_names_the_supported_versions_on_error(asked: str) -> None:
    with pytest.raises(PodshmError) as err:
        versions.pins_for(asked)
    assert all(p.kubernetes in str(err.value) for p in SUPPORTED)


def test_pins_for_refuses_an_unpinned_patch_rather_than_rounding() -> None:
    with pytest.raises(PodshmError, match=r"v1\.36\.3"):
        versions.pins_for("v1.36.1")


def test_a_version_is_parsed_once_into_numbers_the_rules_compare() -> None:
    pins = versions.pins_for("v1.36")
    assert pins.release == (1, 36, 3) and pins.minor == (1, 36) and pins.label == "1.36"
    assert pins.staging == "v0.36.3"


def test_the_upgrade_path_goes_one_minor_at_a_time_and_never_down() -> None:
    path = upgrade_path(versions.pins_for("v1.34"), versions.pins_for("v1.36"))
    assert [p.label for p in path] == ["1.34", "1.35", "1.36"]
    with pytest.raises(PodshmError, match="down to"):
        upgrade_path(versions.pins_for("v1.36"), versions.pins_for("v1.34"))


def _fake_build(cache: Path, component: components.GoComponent, stamp: dict[str, object]) -> None:
    bin_dir = cache / "bin" / component.key
    bin_dir.mkdir(parents=True)
    for binary in component.packages:
        (bin_dir / binary).write_text("")
    (bin_dir / gobuild.STAMP).write_text(json.dumps(stamp))


def test_built_reads_the_build_stamps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODSHM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gobuild, "fingerprint", lambda c: {"version": c.version, "ldflags": []})
    pins = SUPPORTED[0]
    assert catalog.built(pins) == dict.fromkeys(pins.by_component(), False)
    etcd = components.etcd(pins.etcd)
    _fake_build(tmp_path, etcd, {"version": pins.etcd, "ldflags": []})
    # Kubernetes' stamp carries its commit date in the ldflags: not compared (no network).
    kube = components.kubernetes(pins, "", [])
    _fake_build(tmp_path, kube, {"version": pins.kubernetes, "ldflags": ["-X date=2026"]})
    runc = components.runc(pins.runc)
    _fake_build(tmp_path, runc, {"version": "v0.0.1", "ldflags": []})  # stale stamp
    assert catalog.built(pins) == {
        "etcd": True,
        "containerd": False,
        "runc": False,
        "kubernetes": True,
    }


def test_versions_report_lists_every_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODSHM_CACHE_DIR", str(tmp_path))
    rows = catalog.versions_report()
    assert [row["version"] for row in rows] == [p.kubernetes for p in SUPPORTED]
    assert [row["default"] for row in rows] == [False, False, False, False, True]
    assert rows[0]["etcd"] == SUPPORTED[0].etcd
    assert rows[-1]["built"] == dict.fromkeys(("etcd", "containerd", "runc", "kubernetes"), False)


NEXT = Pins(
    kubernetes="v1.38.0-beta.0",
    etcd="v3.7.1",
    containerd="v2.3.7",
    runc="v1.5.2",
    why="a pre-release needing a newer Go",
    toolchain="go1.27.3",
)


def test_a_prerelease_pin_parses_and_names_its_staging_modules() -> None:
    """1.38 arrives as v1.38.0-beta.0 first: its numbers, its pre-release part and the
    staging modules' version (k8s.io/api v0.38.0-beta.0) come from the one pinned string."""
    assert NEXT.release == (1, 38, 0) and NEXT.minor == (1, 38) and NEXT.prerelease == "beta.0"
    assert NEXT.staging == "v0.38.0-beta.0"
    assert DEFAULT.prerelease == ""


def test_a_pin_that_needs_a_newer_go_builds_with_that_toolchain_only(monkeypatch) -> None:
    kube = components.kubernetes(NEXT, "2026-11-06T00:00:00Z", ["k8s.io/api"])
    assert kube.toolchain == "go1.27.3"
    assert gobuild._go_env(toolchain=kube.toolchain)["GOTOOLCHAIN"] == "go1.27.3"
    monkeypatch.delenv("GOTOOLCHAIN", raising=False)
    assert "GOTOOLCHAIN" not in gobuild._go_env()
    assert components.kubernetes(DEFAULT, "d", []).toolchain is None


def test_a_failed_build_leaves_no_half_filled_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1.38's build failed on a module the proxy refuses: its ``.tmp`` stayed in the cache."""
    monkeypatch.setenv("PODSHM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gobuild, "_prepare_workdir", lambda c: (tmp_path / "work", "mod"))

    def refused(*_args: object) -> None:
        raise gobuild.PodshmError("go build failed: 403 Forbidden", "see above")

    monkeypatch.setattr(gobuild, "_run_with_progress", refused)
    with pytest.raises(gobuild.PodshmError):
        gobuild.build(components.etcd(SUPPORTED[0].etcd))
    assert [p.name for p in (tmp_path / "bin").rglob("*")] == ["etcd"]  # no <version>.tmp
