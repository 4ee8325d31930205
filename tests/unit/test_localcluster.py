"""Pure parts of the local cluster: build descriptions, generated files, PID bookkeeping."""

from __future__ import annotations

import io
import os
import sys
import tomllib
from pathlib import Path

import yaml

from podshm.build import components, gobuild
from podshm.build.pins import DEFAULT, pins_for
from podshm.providers.local import configs, converge, daemons, plan, runtimes, startup
from podshm.providers.local.layout import Layout
from podshm.providers.local.pki import Authority, Pair
from podshm.providers.local.state import ClusterRecord


def test_kubernetes_is_stamped_like_upstream_builds() -> None:
    comp = components.kubernetes(pins_for("v1.37.2"), "2026-10-27T12:01:04Z", ["k8s.io/api"])
    assert "-X k8s.io/component-base/version.gitVersion=v1.37.2" in comp.ldflags
    assert "-X k8s.io/client-go/pkg/version.gitMinor=37" in comp.ldflags
    assert comp.replaces == {"k8s.io/api": "k8s.io/api v0.37.2"}
    assert comp.packages["kubelet"] == "k8s.io/kubernetes/cmd/kubelet"


def test_binary_names_follow_go_build_rules() -> None:
    assert gobuild._default_binary_name("go.etcd.io/etcd/server/v3") == "server"
    assert gobuild._default_binary_name("github.com/opencontainers/runc") == "runc"
    assert gobuild._default_binary_name("k8s.io/kubernetes/cmd/kubelet") == "kubelet"


def test_wrapper_module_pins_staging_modules(monkeypatch) -> None:
    monkeypatch.setattr(gobuild, "_directives", lambda c: ("go 1.26.0", ["godebug x=1"]))
    comp = components.kubernetes(pins_for("v1.37.2"), "d", ["k8s.io/api", "k8s.io/apimachinery"])
    text = gobuild.wrapper_gomod(comp)
    assert "require k8s.io/kubernetes v1.37.2" in text
    assert "\tk8s.io/api => k8s.io/api v0.37.2" in text
    assert "go 1.26.0" in text and "godebug x=1" in text


def test_committed_wrapper_modules_match_the_defaults() -> None:
    build = gobuild.pinned_dir()
    for key in (f"{name}/{version}" for name, version in DEFAULT.by_component().items()):
        assert (build / key / "go.mod").is_file(), key
        assert (build / key / "go.sum").stat().st_size > 0, key


def test_kubelet_config_for_cgroup_v1(tmp_path) -> None:
    layout = Layout(tmp_path)
    layout.config.mkdir(parents=True)
    pair = Pair(tmp_path / "k.crt", tmp_path / "k.key")
    new = yaml.safe_load(
        configs.kubelet_config(
            layout, minor=(1, 37), ca=tmp_path / "ca", serving=pair, cgroup_root="/podshm"
        ).read_text()
    )
    assert new["cgroupDriver"] == "cgroupfs"
    assert new["failCgroupV1"] is False
    assert new["cgroupRoot"] == "/podshm"
    assert new["authentication"]["anonymous"]["enabled"] is False
    # Before 1.35 the field does not exist and strict decoding would reject it.
    old = yaml.safe_load(
        configs.kubelet_config(
            layout, minor=(1, 34), ca=tmp_path / "ca", serving=pair, cgroup_root="/podshm"
        ).read_text()
    )
    assert "failCgroupV1" not in old


def test_containerd_config_is_rendered_completely(tmp_path) -> None:
    layout = Layout(tmp_path)
    layout.config.mkdir(parents=True)
    chosen = runtimes.select("crun")
    binaries = {"runc": Path("/x/runc"), "crun-wrapper": Path("/c/crun")}
    tables = [
        r.containerd_table(binaries, layout.runtime_root(r.name), layout.config) for r in chosen
    ]
    text = configs.containerd_toml(
        layout, cni_bin="/usr/lib/cni", pause_image="podshm.local/pause:1", runtime_tables=tables
    ).read_text()
    assert "${" not in text
    config = tomllib.loads(text)
    cri = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert config["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == (
        "podshm.local/pause:1"
    )
    assert config["grpc"]["address"] == str(layout.containerd_socket)
    handlers = cri["containerd"]["runtimes"]
    assert list(handlers) == ["runc", "crun"]
    for name, handler in handlers.items():
        options = handler["options"]
        assert options["BinaryName"] == str(binaries["crun-wrapper" if name == "crun" else name])
        assert options["SystemdCgroup"] is False
        # Each runtime's state under podshm's own directory, never the host's /run/containerd.
        assert Path(options["Root"]).is_relative_to(layout.root), options


def test_certificates_are_reused_not_reissued(tmp_path) -> None:
    ca = Authority(tmp_path)
    first = ca.issue("admin", "podshm-admin", orgs=("system:masters",), client=True)
    body = first.cert.read_bytes()
    again = Authority(tmp_path).issue("admin", "podshm-admin", client=True)
    assert again.cert.read_bytes() == body
    assert oct(first.key.stat().st_mode & 0o777) == "0o600"


def test_pid_files_never_match_a_reused_pid(tmp_path) -> None:
    layout = Layout(tmp_path)
    pid = daemons.start(layout, "sleeper", [sys.executable, "-c", "import time; time.sleep(30)"])
    assert daemons.running(layout, "sleeper") == pid
    recorded = (layout.pids / "sleeper.pid").read_text()
    # Same PID, other start time: a different process, never signalled.
    (layout.pids / "sleeper.pid").write_text(f"{pid} 1\n")
    assert daemons.running(layout, "sleeper") is None
    assert daemons.stop(layout, "sleeper") is False
    assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # still alive: it was not ours to stop
    (layout.pids / "sleeper.pid").write_text(recorded)
    assert daemons.stop(layout, "sleeper") is True
    os.waitpid(pid, 0)
    assert not (layout.pids / "sleeper.pid").exists()


def test_the_api_server_audits_every_request_once_at_metadata_level(tmp_path) -> None:
    """The audit log bench/suite.py counts a run's requests from: under the state directory
    (`down` removes it), size-bounded, one event per request and no bodies."""
    layout = Layout(tmp_path / "state")
    argv = plan.apiserver_argv(Path("/bin/kube-apiserver"), layout)
    policy_file = configs.audit_policy(layout)
    assert f"--audit-policy-file={policy_file}" in argv
    assert f"--audit-log-path={layout.audit_log}" in argv
    assert layout.audit_log.is_relative_to(layout.root)
    assert f"--audit-log-maxsize={configs.AUDIT_LOG_MAX_MB}" in argv
    assert "--audit-log-maxbackup=1" in argv
    policy = yaml.safe_load(policy_file.read_text())
    assert policy["omitStages"] == ["RequestReceived"]
    assert policy["rules"] == [{"level": "Metadata"}]


def test_a_control_plane_with_other_flags_is_restarted_once(tmp_path, monkeypatch) -> None:
    """`up` on a running cluster brings its control plane to this podshm's flags."""
    layout = Layout(tmp_path / "state")
    record = ClusterRecord(
        kubernetes="v1.37.2", containerd="v2.3.7", etcd="v3.7.0", runc="v1.5.2", node="n",
        kubeconfig="k", context="c", runtimes=["runc"], images={},
        binaries={name: f"/bin/{name}" for name in startup.CONTROL_PLANE},
    )  # fmt: skip
    running = {
        name: plan.control_plane_argv(name, Path(f"/bin/{name}"), layout)
        for name in startup.CONTROL_PLANE
    }
    restarts: list[str] = []
    monkeypatch.setattr(converge, "running_argv", lambda _layout, name: running[name])
    monkeypatch.setattr(startup, "restart_control_plane", lambda *a, **k: restarts.append("all"))
    assert converge.control_plane_flags(layout, record, io.StringIO()) is False
    running["kube-apiserver"] = [*running["kube-apiserver"][:-6], "--v=1"]  # no audit flags
    log = io.StringIO()
    assert converge.control_plane_flags(layout, record, log) is True
    assert restarts == ["all"]
    assert "kube-apiserver runs with other flags" in log.getvalue()
