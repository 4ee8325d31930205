"""How the suite calls the in-image ``podshm-ipc`` helpers: every flag lives here.

Tests say *what* they do (``sysv_shm_send(TEXT)``); this module knows *how* the helper spells
it, so a change in the helper's command line touches this file only (the exec and the JSON
parsing live in :meth:`podshm.kube.pods.PodHandle.run_ipc`).
"""

from __future__ import annotations

from podshm.kube.ipccall import IpcResult

# The article's payload (seed 000: "MemContents").
TEXT = "This is the way the world ends..."
PROJ_ID = 65
POSIX_SHM_NAME = "/shMemEx"
POSIX_SEM_NAME = "/mysemaphore"
POSIX_MQ_NAME = "/podshm-mq"
RECV_TIMEOUT_S = 10.0
# Exec deadline on top of a helper's own --timeout: image start-up, API latency.
EXEC_MARGIN_S = 30.0

Argv = list[str]


def _timeout(seconds: float) -> Argv:
    return ["--timeout", f"{seconds:g}"]


# -- System V (key = ftok($FTOK_PATH or --ftok-path, 65)) ---------------------------------------
def sysv_shm_send(text: str = TEXT, create_ftok_file: bool = True) -> Argv:
    """Create a 1024-byte segment keyed by ftok() and write ``text`` into it."""
    argv = ["sysv-shm-send", "--proj-id", str(PROJ_ID), "--text", text]
    return argv + (["--create-ftok-file"] if create_ftok_file else [])


def sysv_shm_recv(expect: str = TEXT, timeout: float = RECV_TIMEOUT_S) -> Argv:
    """Open the segment (never create it) and read the text, waiting up to ``timeout``."""
    return ["sysv-shm-recv", "--proj-id", str(PROJ_ID), "--expect", expect, *_timeout(timeout)]


def sysv_sem_post(create_ftok_file: bool = True) -> Argv:
    """Create (value 0) or open the semaphore set and post it once."""
    argv = ["sysv-sem-post", "--proj-id", str(PROJ_ID)]
    return argv + (["--create-ftok-file"] if create_ftok_file else [])


def sysv_sem_wait(timeout: float = RECV_TIMEOUT_S) -> Argv:
    """Wait until the semaphore exists and is posted, then take it."""
    return ["sysv-sem-wait", "--proj-id", str(PROJ_ID), *_timeout(timeout)]


def sysv_msg_send(text: str = TEXT, create_ftok_file: bool = True) -> Argv:
    """Create or open the message queue and send ``text``."""
    argv = ["sysv-msg-send", "--proj-id", str(PROJ_ID), "--text", text]
    return argv + (["--create-ftok-file"] if create_ftok_file else [])


def sysv_msg_recv(expect: str = TEXT, timeout: float = RECV_TIMEOUT_S) -> Argv:
    """Wait for a message and compare it with ``expect``."""
    return ["sysv-msg-recv", "--proj-id", str(PROJ_ID), "--expect", expect, *_timeout(timeout)]


def sysv_sem_set(nsems: int) -> Argv:
    """Make (and remove) a private semaphore set of ``nsems``: EINVAL above SEMMSL."""
    return ["sysv-sem-set", "--nsems", str(nsems)]


def sysv_msg_size(size: int) -> Argv:
    """Send (and remove) one message of ``size`` bytes: EINVAL above kernel.msgmax."""
    return ["sysv-msg-size", "--bytes", str(size)]


def same_key(sent: IpcResult) -> Argv:
    """A SysV receiver's ``--expect-key``: the key the sender derived, so a receiver deriving
    another (a different file behind the same path) fails at once, not after its receive
    timeout. Empty when the sender used no key (POSIX)."""
    key = sent.get("key_hex")
    return ["--expect-key", key] if key else []


def assert_same_key(sent: IpcResult, got: IpcResult) -> None:
    """Both containers ftok()'d the same shared file into one key (SysV senders only)."""
    if sent.get("key") is not None:
        assert got.get("key") == sent.get("key"), (
            f"different keys: the sender derived {sent.get('key_hex')} and the receiver "
            f"{got.get('key_hex')} from the shared ftok file (its device or inode differs "
            f"between the containers)\n{got.describe()}"
        )


# -- POSIX ----------------------------------------------------------------------------------------
def posix_shm_send(text: str = TEXT) -> Argv:
    """shm_open(/shMemEx) + write + sem_post(/mysemaphore), like the article's memwriter."""
    return [
        "posix-shm-send",
        "--name",
        POSIX_SHM_NAME,
        "--sem-name",
        POSIX_SEM_NAME,
        "--text",
        text,
    ]


def posix_shm_recv(expect: str = TEXT, timeout: float = RECV_TIMEOUT_S) -> Argv:
    """sem_wait(/mysemaphore) then read /shMemEx, like the article's memreader."""
    return [
        "posix-shm-recv",
        "--name",
        POSIX_SHM_NAME,
        "--sem-name",
        POSIX_SEM_NAME,
        "--expect",
        expect,
        *_timeout(timeout),
    ]


def posix_mq_send(text: str = TEXT) -> Argv:
    """mq_open(O_CREAT) + mq_send."""
    return ["posix-mq-send", "--name", POSIX_MQ_NAME, "--text", text]


def posix_mq_recv(expect: str = TEXT, timeout: float = RECV_TIMEOUT_S) -> Argv:
    """mq_open + mq_timedreceive, compared with ``expect``."""
    return ["posix-mq-recv", "--name", POSIX_MQ_NAME, "--expect", expect, *_timeout(timeout)]


# -- /dev/shm and the IPC namespace ---------------------------------------------------------------
def shm_info(path: str = "/dev/shm") -> Argv:
    """statvfs + covering mount: size_bytes, free_bytes, is_tmpfs, fs_type, size_option."""
    return ["shm-info", "--path", path]


def shm_fill_until_full(directory: str = "/dev/shm", timeout: float = 240.0) -> Argv:
    """Write zeros until the filesystem refuses (seed 000: ``dd if=/dev/zero of=/dev/shm/test``).

    ENOSPC is the expected end (exit 0, ``stopped_on``); the file is removed afterwards.
    """
    return ["shm-fill", "--dir", directory, "--until-full", *_timeout(timeout)]


def shm_loader(batch_bytes: int, batches: int, workers: int, timeout: float = 120.0) -> Argv:
    """The DataLoader pattern: ``workers`` processes hand ``batches`` batches of
    ``batch_bytes`` to the helper through ``multiprocessing.shared_memory`` (/dev/shm)."""
    return [
        "shm-loader",
        *("--batch-bytes", str(batch_bytes)),
        *("--batches", str(batches)),
        *("--workers", str(workers)),
        *_timeout(timeout),
    ]


def ipc_list(keys: list[int] | tuple[int, ...] = ()) -> Argv:
    """Every IPC object of this IPC namespace (/proc/sysvipc, /dev/shm, /dev/mqueue); with
    ``keys``, only those SysV objects, found by opening them where /proc/sysvipc is missing."""
    return ["ipc-list", *(arg for key in keys for arg in ("--key", hex(key)))]


def mount_text(info: IpcResult) -> str:
    """``tmpfs size=67108864`` or ``tmpfs without a size= option``: how ``shm-info`` saw the
    mount, for a size assertion to say why a size is what it is."""
    size = info.get("size_option")
    how = f"size={size}" if size is not None else "without a size= option"
    return f"{info.get('fs_type')} {how}"


def stop_reason(fill: IpcResult) -> str | None:
    """Why a fill stopped: ``stopped_on``, else the error's errno (ENOSPC, ENOMEM...)."""
    return fill.get("stopped_on") or fill.errno_name


# -- reading ipc-list ----------------------------------------------------------------------------
# ipc-list reports one list per kind: SysV rows carry "key", POSIX entries carry "name".
IPC_KINDS = ("sysv_shm", "sysv_sem", "sysv_msg", "posix_shm", "posix_sem", "posix_mq")


def unreadable_kinds(listing: IpcResult) -> set[str]:
    """The kinds an ``ipc-list`` run could not read (no listing, or no mqueue mount): for
    those it saw nothing, which is no evidence that nothing is there."""
    blind = {kind for kind in IPC_KINDS if listing.get(kind) is None}
    if not listing.get("mqueue_mounted"):
        blind.add("posix_mq")
    return blind


def listed_objects(listing: IpcResult) -> set[tuple[str, str]]:
    """``(kind, key-or-name)`` for every object an ``ipc-list`` run saw (a kind it could not
    read adds nothing: check :func:`unreadable_kinds` before reading an absence)."""
    found: set[tuple[str, str]] = set()
    for kind in IPC_KINDS:
        for entry in listing.get(kind) or []:
            ident = entry.get("key_hex") or entry.get("key") or entry.get("name")
            found.add((kind, str(ident)))
    return found


def ipc_namespace(result: IpcResult) -> str | None:
    """The helper's IPC namespace (``ipc:[4026532...]``), reported by every command."""
    return result.get("ipc_ns")


def exec_timeout(helper_timeout: float) -> float:
    """How long to wait for an exec whose helper waits ``helper_timeout`` seconds itself."""
    return helper_timeout + EXEC_MARGIN_S
