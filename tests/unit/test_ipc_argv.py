"""The helpers' fast paths give what the slow, general ones give.

``podshm-ipc`` reads a plain command line without argparse, writes its JSON without ``json``
and parses mount lines and sizes without ``re`` (every helper exec is a fresh Python, and
those imports cost more than its start). Each fast path is held here to the general one it
stands for, on the suite's own command lines and on the awkward cases.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from podshm.ipc import mounts
from podshm.ipc.argv import Args, build_parser, parse, parse_fast
from podshm.ipc.parser import COMMANDS
from podshm.ipc.result import UsageError, to_json
from podshm.suite import helpers as ipc

SUITE_ARGVS = [
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

PLAIN_ARGVS = [
    *SUITE_ARGVS,
    *([name] for name in COMMANDS if name not in {"bench-peer", "bench-batch", "ipc-remove"}),
    ["sysv-shm-send", "--linger=1.5", "--cleanup", "--mode", "600", "--size", "4k"],
    ["sysv-msg-recv", "--type", "-3", "--timeout", "0"],
    ["posix-shm-send", "--name", "shm-x", "--sem-name", "/sem-x", "--unlink"],
    ["ipc-remove", "--key", "0x10", "--key", "17", "--sysv-kind", "shm", "--prefix", "podshm"],
    ["ipc-remove", "--mq-name", "q", "--shm-name", "/s", "--shm-name", "t"],
    ["shm-fill", "--bytes", "4m", "--keep", "--name", "f", "--block", "65536"],
    [
        "bench-peer",
        "--transport=posix-shm",
        "--role=server",
        "--mode=lat",
        "--dir=/tmp/d",
        "--tag=t1",
    ],
    [
        "bench-batch",
        "--role=client",
        "--dir=/d",
        "--run=r1",
        "--transports=uds,sysv-mq",
        "--sizes=64,4096",
        "--cpus=0,1",
    ],
]


def _values(args: object) -> dict[str, object]:
    values = dict(vars(args))
    handler = values.pop("handler")
    return {**values, "handler": (handler.__module__, handler.__name__)}


@pytest.mark.parametrize("argv", PLAIN_ARGVS, ids=lambda argv: " ".join(argv)[:60])
def test_a_plain_command_line_reads_as_argparse_reads_it(argv):
    fast = parse_fast(argv)
    assert isinstance(fast, Args), "a plain command line must not need argparse"
    assert _values(fast) == _values(build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["no-such-command"],
        ["sysv-shm-send", "--help"],
        ["sysv-shm-send", "--line", "1"],  # an abbreviation: argparse decides
        ["sysv-shm-send", "--linger", "soon"],  # a refused value: argparse's error
        ["sysv-shm-send", "--linger"],  # a missing value
        ["sysv-shm-send", "--cleanup=yes"],
        ["sysv-shm-send", "stray"],
        ["bench-peer", "--transport=shm"],  # required flags missing
        ["bench-peer", "--transport=nope", "--role=server", "--mode=lat", "--dir=d", "--tag=t"],
    ],
    ids=lambda argv: " ".join(argv) or "empty",
)
def test_anything_else_is_left_to_argparse(argv):
    assert parse_fast(argv) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["sysv-shm-send", "--linger", "soon"],
        ["bench-peer", "--transport=shm"],
        ["no-such-command"],
    ],
)
def test_a_bad_command_line_is_still_argparses_usage_error(argv):
    with pytest.raises(UsageError):
        parse(argv)


def test_an_abbreviation_still_works_through_argparse():
    args = parse(["sysv-shm-send", "--ling", "2"])
    assert args.linger == 2.0


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -7,
        2**70,
        1.5,
        1e300,
        float("nan"),
        float("inf"),
        -float("inf"),
        "",
        'quote " backslash \\ tab \t newline \n',
        "non-ascii é ✓ \U0001f600",
        [1, "a", None, [2.5, {}]],
        (1, 2),
        {"a": 1, "b": [True, {"c": None}], 3: "int key", 1.5: "float", None: 0, True: 1},
        {"obj": object.__name__, "path": __import__("pathlib").Path("/dev/shm")},
    ],
)
def test_to_json_writes_what_json_dumps_writes(value):
    assert to_json(value) == json.dumps(value, default=str)


def test_to_json_writes_anything_else_as_its_str():
    class Odd:
        def __str__(self) -> str:
            return "odd"

    assert to_json({"x": Odd()}) == json.dumps({"x": Odd()}, default=str)


@pytest.mark.parametrize(
    "field",
    ["/dev/shm", r"/a\040b", r"/tab\011x\012y\134z", "/no\\escape", "/short\\04", "/end\\"],
)
def test_mount_fields_unescape_as_the_kernel_escapes(field):
    import re

    expected = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
    assert mounts._unescape(field) == expected


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4194304", 4194304),
        ("64m", 64 << 20),
        ("65536K", 65536 << 10),
        (" 1g ", 1 << 30),
        ("2t", 2 << 40),
        ("50%", None),
        ("m", None),
        ("", None),
        ("4mb", None),
        ("-4m", None),
        ("1.5m", None),
    ],
)
def test_sizes_read_as_tmpfs_writes_them(text, size):
    assert mounts.parse_size(text) == size


def test_a_helper_exec_imports_neither_argparse_nor_json_nor_re():
    """What the fast paths are for: checked in a fresh interpreter, as a pod runs it."""
    code = (
        "import sys\n"
        "from podshm.ipc.cli import main\n"
        "main(['shm-info'])\n"
        "print(sorted(m for m in ('argparse', 'json', 're', 'typing', 'dataclasses')"
        " if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "[]"
