"""The names podshm gives what it creates: run ids and namespace names, and the prefix a user
may choose for them. Pure rules (DNS labels), shared by the settings that check a user's
prefix and the cluster access that creates the namespaces.
"""

from __future__ import annotations

import re
import secrets
import string

from podshm.errors import PodshmError

_ALPHABET = string.ascii_lowercase + string.digits
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# DNS label limit is 63: prefix + "-" + run id (6) + "-" + short (6).
MAX_PREFIX_LEN = 63 - 14


def new_run_id() -> str:
    """Six random lowercase characters: unique enough for concurrent runs on one cluster."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(6))


def validate_prefix(prefix: str) -> str:
    """Check the user's namespace prefix early, before any namespace is attempted."""
    if not prefix or len(prefix) > MAX_PREFIX_LEN or not _LABEL_RE.match(prefix):
        raise PodshmError(
            f"namespace prefix {prefix!r} is not usable: it must be 1-{MAX_PREFIX_LEN} lowercase "
            "letters, digits or '-', starting and ending with a letter or digit",
            "pass another prefix to {namespace_prefix}",
        )
    return prefix


def validate_run_id(run_id: str) -> str:
    """A run id becomes part of names and of a label value: same rules as a DNS label."""
    if not run_id or len(run_id) > 12 or not _LABEL_RE.match(run_id):
        raise PodshmError(
            f"run id {run_id!r} is not usable: 1-12 lowercase letters, digits or '-'",
            "choose another run id",
        )
    return run_id


def namespace_name(prefix: str, run_id: str, short: str | None = None) -> str:
    """``<prefix>-<runid>-<short>``; ``short`` is random when not given."""
    short = short or "".join(secrets.choice(_ALPHABET) for _ in range(6))
    name = f"{prefix}-{run_id}-{short}"
    if len(name) > 63 or not _LABEL_RE.match(name):
        raise PodshmError(f"namespace name {name!r} is not a valid DNS label", None)
    return name
