"""argparse types that say what they expected ("'x' is not a count > 0"), not "invalid value".

Shared by ``podshm-ipc``'s command table (:mod:`.parser`) and ``podshm bench`` (its ``--sizes``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def checked(
    convert: Callable[[str], Any], ok: Callable[[Any], bool], what: str
) -> Callable[[str], Any]:
    """An argparse type whose error says what was expected instead of "invalid value"."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


def csv_of(item: Callable[[str], Any], what: str) -> Callable[[str], tuple]:
    """An argparse type for a comma-separated list whose items ``item`` checks one by one."""

    def parse(text: str) -> tuple:
        values = tuple(item(part) for part in text.split(",") if part)
        if not values:
            raise argparse.ArgumentTypeError(f"{text!r} is not a list of {what}")
        return values

    return parse


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """An argparse type accepting exactly these words (usable inside :func:`csv_of`)."""
    return checked(str, lambda v: v in choices, "one of " + ", ".join(choices))
