"""The kubelet's sysctl allowlist rule (podshm.sysctls) and the cluster setting that feeds it:
parsed once at the command line, rendered into every kubelet's config, kept in the record."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from podshm import sysctls
from podshm.build.pins import pins_for
from podshm.cli import build_parser
from podshm.cli.cluster import request_from
from podshm.errors import PodshmError
from podshm.providers import get
from podshm.providers.base import Request
from podshm.providers.local import configs, converge, vmnodes
from podshm.providers.local.layout import Layout
from podshm.providers.local.pki import Pair
from podshm.providers.local.state import ClusterRecord, read_record, write_record
from podshm.providers.local.vm import join


def test_an_unsafe_ipc_sysctl_is_refused_unless_a_pattern_names_it() -> None:
    assert not sysctls.allowed("kernel.msgmax", ())
    assert sysctls.allowed("kernel.shm_rmid_forced", ())  # the kubelet's one safe IPC sysctl
    group = sysctls.IPC_GROUP
    for name in ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmmax"):
        assert sysctls.allowed(name, group), name
    # An exact name matches itself only; a trailing * is a prefix.
    assert not sysctls.allowed("kernel.semx", ("kernel.sem",))
    assert sysctls.allowed("kernel.sem", ("kernel.se*",))
    assert not sysctls.allowed("fs.mqueue.msg_max", group)
    assert sysctls.refused(["kernel.sem", "fs.mqueue.msg_max"], group) == ["fs.mqueue.msg_max"]


def test_slashed_names_are_compared_in_dotted_form() -> None:
    assert sysctls.normalize("kernel/sem") == "kernel.sem"
    assert (
        sysctls.normalize("net/ipv4/conf/eno2.100/rp_filter") == "net.ipv4.conf.eno2/100.rp_filter"
    )
    assert (
        sysctls.normalize("net.ipv4.conf.eno2/100.rp_filter") == "net.ipv4.conf.eno2/100.rp_filter"
    )
    assert sysctls.allowed("kernel/msgmax", ("kernel.msg*",))


def test_the_refused_branch_picks_a_sysctl_the_node_does_not_allow() -> None:
    assert sysctls.first_refused_ipc(()) == "kernel.msgmax"
    assert sysctls.first_refused_ipc(sysctls.IPC_GROUP) == "fs.mqueue.msg_max"
    assert sysctls.first_refused_ipc(("kernel.*", "fs.mqueue.*")) is None


def test_configz_is_read_for_its_allowlist() -> None:
    document = {"kubeletconfig": {"allowedUnsafeSysctls": ["kernel.msg*", "kernel.sem"]}}
    assert sysctls.from_configz(document) == ("kernel.msg*", "kernel.sem")
    assert sysctls.from_configz({"kubeletconfig": {"port": 10250}}) == ()
    with pytest.raises(ValueError):
        sysctls.from_configz({"kind": "Status"})


def test_proc_sys_values_parse_like_the_pod_spec() -> None:
    assert sysctls.parse_values("32000\t1024000000\t500\t32000\n") == (
        32000,
        1024000000,
        500,
        32000,
    )
    assert sysctls.parse_values("64000 1024000000 500 32000") == (64000, 1024000000, 500, 32000)


def _up(*argv: str) -> Request:
    return request_from(build_parser().parse_args(["cluster", "up", *argv]))


def test_the_cluster_setting_is_parsed_once_into_patterns() -> None:
    assert _up().unsafe_sysctls is None  # keep what runs
    assert _up("--allowed-unsafe-sysctls", "ipc").unsafe_sysctls == sysctls.IPC_GROUP
    assert _up("--allowed-unsafe-sysctls", "none").unsafe_sysctls == ()
    with pytest.raises(SystemExit):
        _up("--allowed-unsafe-sysctls", "kernel.sem")
    with pytest.raises(PodshmError, match="without unsafe sysctls"):
        get("kind").validate(Request(pins_for("v1.37"), nodes=3, unsafe_sysctls=sysctls.IPC_GROUP))
    get("kind").validate(Request(pins_for("v1.37"), nodes=3, unsafe_sysctls=()))


def test_the_kubelet_config_carries_the_patterns_only_when_asked(tmp_path: Path) -> None:
    pair = Pair(tmp_path / "k.crt", tmp_path / "k.key")
    common = {"minor": (1, 37), "ca": tmp_path / "ca", "serving": pair, "cgroup_root": "/p"}
    plain = configs.kubelet_document(runtime_endpoint="unix:///x", **common)
    assert "allowedUnsafeSysctls" not in plain
    layout = Layout(tmp_path)
    layout.config.mkdir(parents=True)
    path = configs.kubelet_config(layout, unsafe_sysctls=sysctls.IPC_GROUP, **common)
    assert yaml.safe_load(path.read_text())["allowedUnsafeSysctls"] == list(sysctls.IPC_GROUP)


def test_the_vm_node_kubelet_gets_the_same_patterns(tmp_path: Path) -> None:
    creds = join.Credentials(
        b"CA",
        Pair(tmp_path / "c.crt", tmp_path / "c.key"),
        Pair(tmp_path / "s.crt", tmp_path / "s.key"),
    )
    for pair in (creds.client, creds.serving):
        pair.cert.write_bytes(b"C")
        pair.key.write_bytes(b"K")
    files = join.guest_files(
        creds, pins_for("v1.37"), "podshm.local/pause:x", unsafe_sysctls=sysctls.IPC_GROUP
    )
    kubelet = yaml.safe_load(files[f"{join.FILES}{join.KUBELET_CONFIG}"][0])
    assert kubelet["allowedUnsafeSysctls"] == list(sysctls.IPC_GROUP)


def _record(**kw: object) -> ClusterRecord:
    base: dict = {
        "kubernetes": "v1.37.2",
        "containerd": "v2",
        "etcd": "v3",
        "runc": "v1",
        "node": "n1",
        "kubeconfig": "/k",
        "context": "c",
        "binaries": {"kubelet": "/bin/kubelet"},
        "images": {},
    }
    return ClusterRecord(**{**base, **kw})


def test_an_old_record_without_the_field_allows_none(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.root.mkdir(parents=True, exist_ok=True)
    fields = json.loads(json.dumps(_record().__dict__))
    del fields["unsafe_sysctls"], fields["vm_unsafe_sysctls"]
    layout.info.write_text(json.dumps(fields))
    record = read_record(layout)
    assert record is not None and record.unsafe_sysctls == [] and record.vm_unsafe_sysctls == []


def test_a_changed_setting_restarts_the_kubelet_and_is_recorded(tmp_path, monkeypatch) -> None:
    layout = Layout(tmp_path)
    layout.root.mkdir(parents=True, exist_ok=True)
    calls: list[tuple] = []
    monkeypatch.setattr(converge.daemons, "stop", lambda lay, name: calls.append(("stop", name)))
    monkeypatch.setattr(
        converge.startup,
        "start_kubelet",
        lambda lay, binaries, pins, patterns: calls.append(("start", patterns)),
    )
    monkeypatch.setattr(converge.daemons, "wait_for", lambda *a, **kw: None)
    monkeypatch.setattr(converge.probes, "AdminApi", lambda lay: None)
    record = _record()
    write_record(layout, record)
    log = io.StringIO()

    same = converge.set_unsafe_sysctls(layout, record, (), log)
    assert same is record and calls == []

    allowed = converge.set_unsafe_sysctls(layout, record, sysctls.IPC_GROUP, log)
    assert calls == [("stop", "kubelet"), ("start", sysctls.IPC_GROUP)]
    assert allowed.unsafe_sysctls == list(sysctls.IPC_GROUP)
    assert read_record(layout) == allowed
    assert "allowedUnsafeSysctls kernel.msg*,kernel.sem,kernel.shm* (was none)" in log.getvalue()


def test_a_vm_node_with_other_patterns_is_booted_again(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(vmnodes.join, "running", lambda: True)
    record = _record(
        vm_nodes=[join.NAME],
        vm_kernel="k",
        unsafe_sysctls=list(sysctls.IPC_GROUP),
        vm_unsafe_sysctls=[],
    )
    why = vmnodes._current(Layout(tmp_path), record, "k", set())
    assert why == (
        "its kubelet allows the unsafe sysctls none, the cluster's "
        "kernel.msg*,kernel.sem,kernel.shm*"
    )


class _Api:
    def __init__(self, answer: object) -> None:
        self.answer = answer

    def node_configz(self, name: str) -> dict:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer  # type: ignore[return-value]


def test_the_kubelet_allowlist_is_read_from_configz_and_a_refusal_kept_apart() -> None:
    from kubernetes.client.exceptions import ApiException

    from podshm.kube.facts import read_kubelet_allowlist

    body = {"kubeletconfig": {"allowedUnsafeSysctls": ["kernel.msg*"]}}
    read = read_kubelet_allowlist(_Api(body), "n1")  # type: ignore[arg-type]
    assert read.known and read.patterns == ("kernel.msg*",)
    assert read.allows(["kernel.msgmax"]) and not read.allows(["kernel.sem"])
    forbidden = read_kubelet_allowlist(_Api(ApiException(status=403, reason="Forbidden")), "n1")  # type: ignore[arg-type]
    assert not forbidden.known and "no get on the nodes/proxy subresource" in forbidden.forbidden
    assert "GET /api/v1/nodes/n1/proxy/configz: HTTP 403" in forbidden.forbidden
    failing = read_kubelet_allowlist(_Api(ApiException(status=502, reason="Bad Gateway")), "n1")  # type: ignore[arg-type]
    assert failing.error and not failing.forbidden


def test_a_kubelet_the_api_server_will_not_proxy_to_is_read_from_podshms_annotation() -> None:
    from kubernetes.client.exceptions import ApiException

    from podshm.kube.facts import read_kubelet_allowlist

    refused = ApiException(status=400, reason="Bad Request")
    bare = read_kubelet_allowlist(_Api(refused), "vm")  # type: ignore[arg-type]
    assert not bare.known and "global unicast" in bare.unreachable
    noted = {sysctls.ANNOTATION: "kernel.msg*,kernel.sem,kernel.shm*"}
    read = read_kubelet_allowlist(_Api(refused), "vm", noted)  # type: ignore[arg-type]
    assert read.known and read.patterns == sysctls.IPC_GROUP
    assert read.describe().startswith(
        "allowedUnsafeSysctls [kernel.msg*, kernel.sem, kernel.shm*] (from node annotation "
    )
    empty = read_kubelet_allowlist(_Api(refused), "vm", {sysctls.ANNOTATION: ""})  # type: ignore[arg-type]
    assert empty.known and empty.patterns == ()
    # The live configuration wins where it can be read.
    body = {"kubeletconfig": {}}
    assert read_kubelet_allowlist(_Api(body), "vm", noted).patterns == ()  # type: ignore[arg-type]


def test_every_up_names_each_kubelets_allowlist_on_its_node(monkeypatch, tmp_path) -> None:
    notes: list[tuple[str, dict]] = []

    class Api:
        def __init__(self, layout: Layout) -> None:
            pass

        def annotate_node(self, name: str, annotations: dict) -> None:
            notes.append((name, annotations))

    monkeypatch.setattr(converge.probes, "AdminApi", Api)
    record = _record(
        unsafe_sysctls=list(sysctls.IPC_GROUP), vm_nodes=[join.NAME], vm_unsafe_sysctls=[]
    )
    converge.announce_unsafe_sysctls(Layout(tmp_path), record)
    assert notes == [
        ("n1", {sysctls.ANNOTATION: "kernel.msg*,kernel.sem,kernel.shm*"}),
        (join.NAME, {sysctls.ANNOTATION: ""}),
    ]


def test_a_record_without_newer_settings_keeps_the_older_format(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.root.mkdir(parents=True, exist_ok=True)
    write_record(layout, _record())
    assert "unsafe_sysctls" not in json.loads(layout.info.read_text())
    assert read_record(layout) == _record()
    allowed = _record(unsafe_sysctls=list(sysctls.IPC_GROUP))
    write_record(layout, allowed)
    assert json.loads(layout.info.read_text())["unsafe_sysctls"] == list(sysctls.IPC_GROUP)
    assert read_record(layout) == allowed
