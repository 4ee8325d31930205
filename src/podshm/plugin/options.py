"""The plugin's command-line options: one ``podshm`` group, generated from the settings table.

Every option, its ``PODSHM_*`` variable, default and choices come from
:data:`podshm.settings.SETTINGS`; the precedence rule lives in :func:`podshm.settings.resolve`.
Options default to None here so that "not given" can fall through to the environment.
"""

from __future__ import annotations

import pytest

from podshm.settings import SETTINGS, Settings, resolve


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register every setting's ``--podshm-*`` flag in one ``podshm`` group."""
    group = parser.getgroup("podshm", "podshm: IPC and /dev/shm conformance in Kubernetes pods")
    for setting in SETTINGS:
        if setting.switch:
            group.addoption(
                setting.pytest_flag,
                action="store_true",
                default=None,
                dest=setting.dest,
                help=setting.help_text(),
            )
        else:
            group.addoption(
                setting.pytest_flag,
                action="store",
                default=None,
                dest=setting.dest,
                metavar=setting.metavar,
                help=setting.help_text(),
            )


def settings_from_config(config: pytest.Config) -> Settings:
    """Resolve and validate every option; a bad value is a PodshmError naming flag and var."""
    return resolve({s.name: config.getoption(s.dest, default=None) for s in SETTINGS})
