"""podshm's run settings, read alike by the plugin, ``podshm run`` and ``podshm bench``.

- :mod:`.table`: the one table (flags, ``PODSHM_*`` variables, defaults, help) and the
  resolved :class:`Settings`; the only place that spells a flag or a variable;
- :mod:`.values`: the precedence rule (flag > environment > default) and every check, each
  value parsed once into its type;
- :mod:`.fronts`: the ``podshm`` commands' flags and the rendering of messages that name a
  setting (``{context}``) in the words of the front end the user typed.

pytest-free on purpose: the CLI reads the table without importing pytest.
"""

from podshm.settings.fronts import (
    add_cli_arguments,
    from_cli_args,
    front_end,
    render,
    renderer_for,
)
from podshm.settings.table import (
    BY_NAME,
    CACHE_DIR_ENV,
    DEFAULT_EXPIRY,
    DEFAULT_POD_TIMEOUT,
    DEFAULT_PRESTART,
    FRONT_END_ENV,
    FRONT_ENDS,
    KIND_RUN_ENV,
    KIND_STATE_ENV,
    PODSHM,
    PULL_POLICIES,
    PYTEST,
    RUN_ID_ENV,
    SETTINGS,
    STATE_DIR_ENV,
    Setting,
    Settings,
)
from podshm.settings.values import parse_duration, ref, resolve

__all__ = [
    "BY_NAME",
    "CACHE_DIR_ENV",
    "DEFAULT_EXPIRY",
    "DEFAULT_POD_TIMEOUT",
    "DEFAULT_PRESTART",
    "FRONT_ENDS",
    "FRONT_END_ENV",
    "KIND_RUN_ENV",
    "KIND_STATE_ENV",
    "PODSHM",
    "PULL_POLICIES",
    "PYTEST",
    "RUN_ID_ENV",
    "SETTINGS",
    "STATE_DIR_ENV",
    "Setting",
    "Settings",
    "add_cli_arguments",
    "from_cli_args",
    "front_end",
    "parse_duration",
    "ref",
    "render",
    "renderer_for",
    "resolve",
]
