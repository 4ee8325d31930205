"""Exec exit codes come from the error channel; the helper's JSON is parsed in one place."""

from __future__ import annotations

import json

import pytest

from podshm.kube.execution import (
    ERROR_CHANNEL,
    STDERR_CHANNEL,
    STDOUT_CHANNEL,
    ExecResult,
    exec_in_container,
    parse_exec_status,
)
from podshm.kube.ipccall import IpcResult, parse_json_line

NONZERO = {
    "metadata": {},
    "status": "Failure",
    "message": "command terminated with non-zero exit code: error executing command, exit 3",
    "reason": "NonZeroExitCode",
    "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
}


def test_success_status_is_zero():
    assert parse_exec_status('{"metadata":{},"status":"Success"}') == (0, "")


def test_nonzero_exit_code():
    code, message = parse_exec_status(json.dumps(NONZERO))
    assert code == 3 and "non-zero exit code" in message


def test_failure_without_exit_code():
    status = {"status": "Failure", "message": 'exec: "nope": executable file not found in $PATH'}
    assert parse_exec_status(json.dumps(status)) == (-1, status["message"])


def test_no_status():
    assert parse_exec_status("") == (None, "")


class FakeStream:
    """Mimics kubernetes.stream.ws_client.WSClient: frames arrive over several updates."""

    def __init__(self, frames: list[dict[int, str]], closes: bool = True) -> None:
        self.frames = frames
        self.closes = closes
        self.channels: dict[int, str] = {}
        self.open = True
        self.closed_by_us = False

    def is_open(self) -> bool:
        return self.open

    def update(self, timeout: float = 0) -> None:
        if self.frames:
            for ch, data in self.frames.pop(0).items():
                self.channels[ch] = self.channels.get(ch, "") + data
        elif self.closes:
            self.open = False

    def read_channel(self, channel: int, timeout: float = 0) -> str:
        return self.channels.pop(channel, "")

    def close(self) -> None:
        self.closed_by_us = True
        self.open = False


class FakeApi:
    def __init__(self, stream: FakeStream) -> None:
        self.stream = stream
        self.argv: list[str] = []

    def exec_stream(self, namespace, pod, container, argv):
        self.argv = argv
        return self.stream


def test_exec_collects_streams_and_exit_code():
    report = {"command": "shm-info", "ok": False, "error": {"errno": "ENOENT"}}
    stream = FakeStream(
        [
            {STDOUT_CHANNEL: '{"command": "shm-info", '},
            {STDOUT_CHANNEL: json.dumps(report)[len('{"command": "shm-info", ') :] + "\n"},
            {STDERR_CHANNEL: "warning\n", ERROR_CHANNEL: json.dumps(NONZERO)},
        ]
    )
    result = exec_in_container(FakeApi(stream), "ns", "p", "sender", ["podshm-ipc", "x"], 5)
    assert result.exit_code == 3 and not result.timed_out
    assert result.stderr == "warning\n"
    assert json.loads(result.stdout) == report
    assert stream.closed_by_us


def test_exec_deadline(monkeypatch):
    stream = FakeStream([{STDOUT_CHANNEL: "partial"}], closes=False)
    result = exec_in_container(FakeApi(stream), "ns", "p", "sender", ["sleep", "9"], 0.05)
    assert result.timed_out and result.exit_code is None
    assert "timed out" in result.describe()


def test_exec_stream_closed_without_status():
    stream = FakeStream([{STDOUT_CHANNEL: "x"}])
    result = exec_in_container(FakeApi(stream), "ns", "p", "c", ["true"], 5)
    assert result.exit_code == -1 and "without an exit status" in result.status_message


def exec_result(stdout: str, code: int | None = 0) -> ExecResult:
    return ExecResult(("podshm-ipc", "x"), "sender", code, stdout, "", 0.1)


def test_ipc_result_parses_the_last_json_line():
    line = json.dumps({"command": "sysv-shm-recv", "ok": True, "text": "hi", "key": 1090650113})
    result = IpcResult.from_exec(exec_result("noise\n" + line + "\n"))
    assert result.ok and result.get("text") == "hi" and result.get("key") == 1090650113


@pytest.mark.parametrize("errno", ["ENOENT", 2, "2"])
def test_errno_name_accepts_names_and_numbers(errno):
    line = json.dumps({"ok": False, "error": {"errno": errno, "message": "m", "reason": "r"}})
    assert IpcResult.from_exec(exec_result(line, 1)).errno_name == "ENOENT"


def test_ipc_result_without_json_says_so():
    result = IpcResult.from_exec(exec_result("Traceback ...", 1))
    assert result.json is None and not result.ok
    assert "no JSON object on stdout" in result.describe()
    assert "IPC call failed" in result.describe()
    assert parse_json_line("[1, 2]\n{bad") is None
