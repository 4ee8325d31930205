"""The settings as each front end spells them: the ``podshm`` commands' flags, and the messages
that name a setting (``{context}``) rendered as ``--podshm-context (or PODSHM_CONTEXT)`` under
pytest and ``--context (or PODSHM_CONTEXT)`` under ``podshm run``.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterable, Mapping

from podshm.settings.table import BY_NAME, FRONT_END_ENV, PODSHM, PYTEST, SETTINGS, Settings
from podshm.settings.values import resolve


def add_cli_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, names: Iterable[str] | None = None
) -> None:
    """Add the ``--<name>`` flags of the ``podshm`` commands (all, or the named ones)."""
    wanted = set(names) if names is not None else {s.name for s in SETTINGS if s.cli}
    for setting in SETTINGS:
        if setting.name not in wanted:
            continue
        if setting.switch:
            parser.add_argument(
                setting.cli_flag, action="store_true", default=None, help=setting.help_text()
            )
        else:
            parser.add_argument(
                setting.cli_flag,
                metavar=setting.metavar,
                choices=setting.choices or None,
                help=setting.help_text(),
            )


def from_cli_args(args: argparse.Namespace) -> Settings:
    """Resolve the settings of a ``podshm`` command from its parsed flags."""
    return resolve({s.name: getattr(args, s.name, None) for s in SETTINGS})


# -- messages: settings named in the words of the front end the user typed ---------------------
_REFERENCE = re.compile(r"\{([a-z_]+)\}")


def front_end(environ: Mapping[str, str] | None = None) -> str:
    """The front end of this process's pytest run: ``podshm`` when ``podshm run`` started it."""
    env = os.environ if environ is None else environ
    return PODSHM if env.get(FRONT_END_ENV) == PODSHM else PYTEST


def render(text: str, front: str) -> str:
    """``{context}`` -> ``--podshm-context (or PODSHM_CONTEXT)`` under pytest, ``--context (or
    PODSHM_CONTEXT)`` under ``podshm``; text that names no setting is returned unchanged."""
    return _REFERENCE.sub(lambda m: BY_NAME[m[1]].named(front) if m[1] in BY_NAME else m[0], text)


def renderer_for(front: str) -> Callable[[str], str]:
    """What a front end installs (:func:`podshm.errors.use_renderer`) so that every error
    it shows names settings its way."""
    return lambda text: render(text, front)
