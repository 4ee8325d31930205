"""Where podshm's local cluster keeps its state, as far as the layers below it need to know.

The local provider (``podshm.providers.local``) writes there; choosing the target cluster reads
the admin kubeconfig from there without importing the local cluster's code.
"""

from __future__ import annotations

import os
from pathlib import Path

from podshm.settings import STATE_DIR_ENV

CLUSTER_NAME = "podshm"
CONTEXT_NAME = "podshm-local"
DEFAULT_STATE_DIR = "/var/lib/podshm"


def state_root() -> Path:
    """``<state dir>/podshm`` (default ``/var/lib/podshm/podshm``; see ``STATE_DIR_ENV``)."""
    return Path(os.environ.get(STATE_DIR_ENV, DEFAULT_STATE_DIR)) / CLUSTER_NAME


def admin_kubeconfig() -> Path:
    """The kubeconfig `podshm cluster kubeconfig` prints (context ``podshm-local``)."""
    return state_root() / "admin.kubeconfig"
