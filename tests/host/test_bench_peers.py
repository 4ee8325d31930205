"""The benchmark's peers on the host: two real processes per run, C and Python, all transports.

What is checked is the machinery, never speed: every message arrives whole and in order (the
CRC-32 of everything sent equals the CRC-32 of the same messages built here), counts agree on
both sides, the report has the documented fields, objects are gone afterwards, and the error
paths (timeout, mismatch, bad usage) keep the one-JSON-line contract.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

import podshm.ipc.peers
from podshm.image.native import host_ipcbench
from podshm.ipc.peers.wire import MQ_MAX_SIZE, TRANSPORTS, stamp
from podshm.ipcbench.records import pair_problems

IMPLS = ("c", "python")
COUNT = 20
PEER_FIELDS = {
    "ok",
    "impl",
    "version",
    "protocol",
    "transport",
    "role",
    "mode",
    "size",
    "tag",
    "cpu",
    "cpus_allowed",
    "cpu_end",
    "verify",
    "sent",
    "received",
    "measured",
    "errors",
    "crc_sent",
    "crc_recv",
    "window_s",
    "lat_ns",
    "thr",
    "objects",
    "elapsed_s",
}


@pytest.fixture(scope="module")
def ipcbench() -> str:
    """The host build of podshm-ipcbench (compiled into the cache once)."""
    return str(host_ipcbench())


def command(impl: str, ipcbench: str) -> list[str]:
    return [ipcbench] if impl == "c" else [sys.executable, "-m", "podshm.ipc", "bench-peer"]


def one_json(returncode: int, stdout: str) -> dict[str, Any]:
    """The one-JSON-line contract of both peers; "ok" agrees with the exit code."""
    lines = stdout.splitlines()
    assert len(lines) == 1, f"want one JSON line, got {stdout!r}"
    doc = json.loads(lines[0])
    assert doc["ok"] is (returncode == 0), doc
    return doc


def run_pair(
    server: list[str], client: list[str], args: list[str], timeout: float = 60
) -> tuple[int, dict, int, dict]:
    """Start the server, run the client, wait for both; (rc, json) of each."""
    srv = subprocess.Popen(
        [*server, "--role", "server", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cli = subprocess.run(
        [*client, "--role", "client", *args], capture_output=True, text=True, timeout=timeout
    )
    out, _err = srv.communicate(timeout=timeout)
    return (
        srv.returncode,
        one_json(srv.returncode, out),
        cli.returncode,
        one_json(cli.returncode, cli.stdout),
    )


def expected_crc(size: int, count: int) -> str:
    """CRC-32 of messages 0..count-1 as the protocol frames them (--verify full)."""
    crc, buf = 0, bytearray(size)
    for seq in range(count):
        stamp(buf, seq, 0, full=True)
        crc = zlib.crc32(buf, crc)
    return f"{crc:08x}"


def object_exists(obj: str) -> bool:
    """Whether a "kind:name" object a server reported still exists."""
    kind, _, name = obj.partition(":")
    if kind in ("file", "fifo"):
        return os.path.lexists(name)
    if kind in ("posix-shm", "posix-sem"):
        prefix = "sem." if kind == "posix-sem" else ""
        return os.path.exists(f"/dev/shm/{prefix}{name.lstrip('/')}")
    if kind == "posix-mq":
        import posix_ipc

        try:
            posix_ipc.MessageQueue(name).close()
        except posix_ipc.ExistentialError:
            return False
        return True
    table = {"sysv-shm": "shm", "sysv-sem": "sem", "sysv-msg": "msg"}[kind]
    rows = Path(f"/proc/sysvipc/{table}").read_text().splitlines()[1:]
    return int(name, 16) in {int(row.split()[0]) & 0xFFFFFFFF for row in rows}


def sizes_for(transport: str) -> list[int]:
    return [s for s in (64, 4096) if s <= MQ_MAX_SIZE or not transport.endswith("-mq")]


CASES = [
    pytest.param(t, m, s, c, id=f"{s}-{c}-{t}-{m}")
    for t in TRANSPORTS
    for m in ("lat", "thr")
    for s in ("c", "python")
    for c in ("c", "python")
]


@pytest.mark.parametrize(("transport", "mode", "server_impl", "client_impl"), CASES)
def test_every_message_arrives_whole_and_counted(
    tmp_path: Path, ipcbench: str, transport: str, mode: str, server_impl: str, client_impl: str
) -> None:
    """Both inner loops, as either peer (same wire protocol), at 64 B and 4 KiB."""
    for size in sizes_for(transport):
        tag = f"t{os.getpid()}-{size}"
        args = [
            *("--transport", transport, "--mode", mode, "--size", str(size)),
            *("--dir", str(tmp_path), "--tag", tag, "--count", str(COUNT)),
            *("--budget", "30", "--verify", "full", "--timeout", "30", "--cpu", "0"),
        ]
        rc_s, srv, rc_c, cli = run_pair(
            command(server_impl, ipcbench), command(client_impl, ipcbench), args
        )
        assert (rc_s, rc_c) == (0, 0), (srv, cli)
        for doc, impl, role in ((srv, server_impl, "server"), (cli, client_impl, "client")):
            assert doc.keys() >= PEER_FIELDS, PEER_FIELDS - doc.keys()
            assert (doc["impl"], doc["role"], doc["transport"], doc["mode"], doc["size"]) == (
                impl,
                role,
                transport,
                mode,
                size,
            )
            assert doc["cpus_allowed"] == [0] and doc["cpu_end"] == 0
        crc = expected_crc(size, COUNT)
        assert cli["sent"] == srv["received"] == COUNT
        assert cli["crc_sent"] == srv["crc_recv"] == crc
        if mode == "lat":
            assert srv["sent"] == cli["received"] == COUNT
            assert srv["crc_sent"] == cli["crc_recv"] == crc
            assert cli["lat_ns"]["samples"] == cli["measured"] == COUNT
            assert srv["thr"] is None
        else:
            assert srv["measured"] == COUNT
            rate = srv["thr"]["msgs_per_s"]  # both rounded to 0.1
            assert srv["thr"]["bytes_per_s"] == pytest.approx(rate * size, abs=0.051 * size)
            assert cli["lat_ns"] is None
        # what the orchestrator checks on every real cell finds nothing wrong either
        cell = {"placement": "same", "impl": "-", "transport": transport, "size": size}
        batch_view = {"placement": "same", "impl": "-"}
        problems = pair_problems(
            {**cell, "mode": mode}, (0, 0), {**srv, **batch_view}, {**cli, **batch_view}
        )
        assert problems == []
        assert srv["objects"], "the server lists what it created"
        assert [o for o in srv["objects"] if object_exists(o)] == []
        assert cli["objects"] == []
        assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.parametrize("transport", [t for t in TRANSPORTS if not t.endswith("-mq")])
@pytest.mark.parametrize("impl", IMPLS)
def test_one_mebibyte_messages(tmp_path: Path, ipcbench: str, transport: str, impl: str) -> None:
    """1 MiB crosses pipes and sockets in pieces and fills whole ring slots."""
    size, count = 1 << 20, 3
    args = [
        *("--transport", transport, "--mode", "lat", "--size", str(size), "--dir", str(tmp_path)),
        *("--tag", "big", "--count", str(count), "--budget", "30", "--verify", "full"),
    ]
    rc_s, srv, rc_c, cli = run_pair(command(impl, ipcbench), command(impl, ipcbench), args)
    assert (rc_s, rc_c) == (0, 0), (srv, cli)
    assert cli["crc_recv"] == srv["crc_recv"] == expected_crc(size, count)


def test_queues_refuse_messages_above_the_default_limit(ipcbench: str, tmp_path: Path) -> None:
    for impl in IMPLS:
        for transport in ("posix-mq", "sysv-mq"):
            argv = [*command(impl, ipcbench), "--transport", transport, "--role", "server"]
            argv += ["--mode", "lat", "--size", str(MQ_MAX_SIZE + 1), "--dir", str(tmp_path)]
            proc = subprocess.run([*argv, "--tag", "x"], capture_output=True, text=True)
            assert proc.returncode == 2, proc.stdout
            assert "8192" in one_json(proc.returncode, proc.stdout)["error"]["reason"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_missing_peer_times_out_and_the_server_cleans_up(
    tmp_path: Path, ipcbench: str, impl: str, transport: str
) -> None:
    base = [*command(impl, ipcbench), "--transport", transport, "--mode", "lat"]
    base += ["--dir", str(tmp_path), "--tag", "alone", "--timeout", "0.3"]
    for role in ("client", "server"):
        proc = subprocess.run([*base, "--role", role], capture_output=True, text=True, timeout=30)
        doc = one_json(proc.returncode, proc.stdout)
        assert proc.returncode == 3, doc
        assert doc["error"]["errno"] == "ETIMEDOUT"
    assert os.listdir(tmp_path) == []
    leftovers = [n for n in os.listdir("/dev/shm") if "podshm-b-alone" in n]
    assert leftovers == []


@pytest.mark.parametrize("impl", IMPLS)
def test_a_peer_with_another_message_size_is_a_mismatch(
    tmp_path: Path, ipcbench: str, impl: str
) -> None:
    args = ["--transport", "fifo", "--mode", "thr", "--dir", str(tmp_path), "--tag", "mm"]
    args += ["--count", "3", "--timeout", "5"]
    server = subprocess.Popen(
        [*command(impl, ipcbench), "--role", "server", *args, "--size", "64"],
        stdout=subprocess.PIPE,
        text=True,
    )
    client = subprocess.run(
        [*command(impl, ipcbench), "--role", "client", *args, "--size", "128"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    out, _ = server.communicate(timeout=30)
    doc = one_json(server.returncode, out)
    assert server.returncode == 4, doc
    assert doc["error"]["message"] == "content mismatch"
    assert client.returncode in (0, 1), client.stdout  # its last write may hit a closed pipe


@pytest.mark.parametrize(
    "argv",
    [
        ["--transport", "carrier-pigeon", "--role", "server", "--mode", "lat"],
        ["--transport", "tcp", "--role", "server", "--mode", "lat", "--size", "8"],
        ["--transport", "tcp", "--role", "server", "--mode", "sideways"],
        ["--transport", "tcp", "--role", "server", "--mode", "lat", "--tag", "a/b"],
    ],
)
@pytest.mark.parametrize("impl", IMPLS)
def test_bad_usage_is_exit_2_with_json(ipcbench: str, impl: str, argv: list[str]) -> None:
    full = [*command(impl, ipcbench), *argv]
    if "--tag" not in argv:
        full += ["--tag", "x"]
    proc = subprocess.run([*full, "--dir", "/tmp"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stdout
    assert one_json(proc.returncode, proc.stdout)["ok"] is False


def test_c_version_reports_the_protocol(ipcbench: str) -> None:
    proc = subprocess.run([ipcbench, "--version"], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["protocol"] == podshm.ipc.peers.wire.PROTOCOL


def test_bench_modules_import_only_what_the_image_has() -> None:
    """podshm.ipc.peers runs in the test image: stdlib, sysv_ipc, posix_ipc, podshm.ipc.

    Its subpackages (``transports``) too: one level deeper, one more dot reaches podshm.ipc.
    """
    peers = Path(podshm.ipc.peers.__file__).parent
    for path in sorted(peers.rglob("*.py")):
        to_ipc = 1 + len(path.relative_to(peers).parts)  # relative level naming podshm.ipc
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level <= to_ipc, f"{path.name} imports outside podshm.ipc"
                continue
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                top = name.split(".")[0]
                allowed = top in sys.stdlib_module_names or top in ("posix_ipc", "sysv_ipc")
                assert allowed or top == "__future__", f"{path.name} imports {name}"
