"""The suite calls the in-image helpers with flags they accept and reads fields they write.

Contract checks against the real ``podshm-ipc`` parser and (for side-effect-free commands) its
real output on this host, so a change on either side fails here rather than in a cluster.
"""

from __future__ import annotations

import json

import pytest

from podshm.ipc.cli import main as podshm_ipc
from podshm.ipc.parser import build_parser
from podshm.kube.execution import ExecResult
from podshm.kube.ipccall import EXIT_IPC_FAILED, IpcResult
from podshm.suite import helpers as ipc

ARGVS = [
    ipc.sysv_shm_send(),
    ipc.sysv_shm_send(create_ftok_file=False),
    ipc.sysv_shm_recv(),
    ipc.sysv_sem_post(),
    ipc.sysv_sem_wait(),
    ipc.sysv_msg_send(),
    ipc.sysv_msg_recv(),
    ipc.posix_shm_send(),
    ipc.posix_shm_recv(),
    ipc.posix_mq_send(),
    ipc.posix_mq_recv(),
    ipc.shm_info(),
    ipc.shm_fill_until_full(),
    ipc.ipc_list(),
]


@pytest.mark.parametrize("argv", ARGVS, ids=lambda argv: argv[0])
def test_helper_accepts_the_suites_flags(argv):
    args = build_parser().parse_args(argv)
    assert args.command == argv[0]


def run(capsys, argv: list[str]) -> IpcResult:
    code = podshm_ipc(argv)
    out = capsys.readouterr().out
    return IpcResult.from_exec(ExecResult(tuple(argv), "host", code, out, "", 0.0))


def test_shm_info_reports_what_the_suite_reads(capsys):
    info = run(capsys, ipc.shm_info())
    assert info.ok, info.describe()
    for field in ("size_bytes", "free_bytes", "is_tmpfs", "fs_type", "size_option", "ipc_ns"):
        assert field in info.json, field


def test_ipc_list_reports_every_kind_and_the_namespace(capsys):
    listing = run(capsys, ipc.ipc_list())
    assert listing.ok, listing.describe()
    for kind in ipc.IPC_KINDS:
        assert kind in listing.json, kind
    assert ipc.ipc_namespace(listing).startswith("ipc:[")
    assert isinstance(ipc.listed_objects(listing), set)


def test_missing_ftok_file_is_enoent_with_exit_1(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("FTOK_PATH", str(tmp_path / "dummy"))
    got = run(capsys, ipc.sysv_shm_recv(timeout=5))
    assert got.exit_code == EXIT_IPC_FAILED and got.errno_name == "ENOENT", got.describe()
    assert json.loads(got.exec.stdout)["command"] == "sysv-shm-recv"
