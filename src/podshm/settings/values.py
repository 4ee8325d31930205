"""Resolving a run's settings: flag > ``PODSHM_*`` environment > default, each value checked
and parsed once into its type (seconds, a count, an existing directory), so everything
downstream receives :class:`~podshm.settings.table.Settings`, never raw text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from podshm.errors import PodshmError
from podshm.names import validate_prefix
from podshm.settings.table import (
    DURATION_UNITS,
    FALSE_WORDS,
    SETTINGS,
    TRUE_WORDS,
    Setting,
    Settings,
)


def ref(setting: Setting | str) -> str:
    """``{name}``: how a message refers to a setting; :func:`render` turns it into flags."""
    return "{" + (setting if isinstance(setting, str) else setting.name) + "}"


def _switch(setting: Setting, value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise PodshmError(f"{ref(setting)}: {value!r} is not a boolean", "use 1/true/yes or 0/false/no")


def _timeout(setting: Setting, value: Any) -> float:
    try:
        timeout = float(value)
        if timeout <= 0:
            raise ValueError
    except (TypeError, ValueError) as err:
        raise PodshmError(
            f"{ref(setting)}: {value!r} is not a positive number of seconds",
            f"pass a number of seconds, e.g. 180, to {ref(setting)}",
        ) from err
    return timeout


def _choice(setting: Setting, value: Any) -> str:
    if str(value) not in setting.choices:
        raise PodshmError(
            f"{ref(setting)}: {value!r} is not one of {', '.join(setting.choices)}",
            f"use one of {', '.join(setting.choices)}",
        )
    return str(value)


def _count(setting: Setting, value: Any) -> int:
    try:
        count = int(value)
        if count < 0:
            raise ValueError
    except (TypeError, ValueError) as err:
        raise PodshmError(
            f"{ref(setting)}: {value!r} is not a whole number >= 0",
            f"pass a whole number, e.g. 8, to {ref(setting)} (0 turns it off)",
        ) from err
    return count


def _prefix(setting: Setting, value: Any) -> str:
    return validate_prefix(str(value))


def _directory(setting: Setting, value: Any) -> str:
    path = Path(str(value)).expanduser()
    if not path.is_dir():
        raise PodshmError(
            f"{ref(setting)}: directory {path} does not exist",
            f"pass an existing directory of pod manifests to {ref(setting)}",
        )
    return str(path)


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``2h`` or ``1d``; ValueError otherwise."""
    text = str(text).strip().lower()
    unit = text[-1:] if text[-1:] in DURATION_UNITS else "s"
    number = float(text[:-1] if text[-1:] in DURATION_UNITS else text)
    if number <= 0:
        raise ValueError(text)
    return number * DURATION_UNITS[unit]


def _duration(setting: Setting, value: Any) -> float:
    try:
        return parse_duration(value)
    except (TypeError, ValueError) as err:
        raise PodshmError(
            f"{ref(setting)}: {value!r} is not a duration",
            f"pass a duration such as 30m to {ref(setting)} (units s, m, h, d)",
        ) from err


CHECKS: dict[str, Callable[[Setting, Any], Any]] = {
    "expiry": _duration,
    "pod_timeout": _timeout,
    "exec_timeout": _timeout,
    "prestart": _count,
    "namespace_prefix": _prefix,
    "manifests": _directory,
}


def resolve(given: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Flag if given (not None), else ``PODSHM_*`` if set and not empty, else the default.

    A bad value is a :class:`PodshmError` naming the flags and the variable.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = given.get(setting.name)
        if value is None:
            value = env.get(setting.env) or setting.default
        if setting.switch:
            value = _switch(setting, value)
        elif value is not None and setting.choices:
            value = _choice(setting, value)
        elif value is not None and setting.name in CHECKS:
            value = CHECKS[setting.name](setting, value)
        values[setting.name] = value
    return Settings(**values)
