"""Reading a ``podshm-ipc`` command line against the table of :mod:`podshm.ipc.parser`.

:func:`parse` first tries :func:`parse_fast`, which reads a plain command line (the command,
then ``--flag value`` / ``--flag=value`` / ``--switch`` by their full names) straight from the
table, using the table's own types, choices and defaults; anything else (``--help``, an
abbreviation, a value its type refuses, a missing required flag) goes to argparse, built from
the same table, which gives the answer or the usage error. Both read one table, so the result
is the same (``tests/unit/test_ipc_argv.py`` holds them to it); the fast way spares every
helper exec the import of argparse and the ``re``/``enum``/``gettext`` it brings, which cost
more than the Python start itself.
"""

from __future__ import annotations

from .parser import COMMANDS, EPILOG, PROG
from .result import UsageError

TYPE_CHECKING = False  # see result.py: no typing import at run time
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn


def handler(command: str) -> Callable[..., None]:
    """The function that runs ``command``, its module imported now."""
    module, _, function = COMMANDS[command][0].partition(":")
    loaded = __import__(f"{__package__}.{module}", fromlist=[function])
    return getattr(loaded, function)


class Args:
    """A parsed command line: ``command``, ``handler`` and one attribute per flag (the same
    names and values as argparse's Namespace)."""

    command: str
    handler: Callable[..., None]

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Args({', '.join(f'{k}={v!r}' for k, v in sorted(vars(self).items()))})"


def _dest(names: tuple[str, ...], kwargs: dict[str, Any]) -> str:
    """argparse's attribute name for a flag: ``dest``, else its first long name."""
    long = next((n for n in names if n.startswith("--")), names[0])
    return str(kwargs.get("dest") or long.lstrip("-").replace("-", "_"))


def _looks_negative(text: str) -> bool:
    """``-1``, ``-0.5``: a value, not a flag (argparse's rule when no flag looks like one)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_fast(argv: Sequence[str]) -> Args | None:
    """A plain command line read straight from the table; None for anything argparse must
    answer (help, abbreviations, refused values, missing or repeated required flags...)."""
    if not argv or argv[0] not in COMMANDS:
        return None
    command = argv[0]
    flags = COMMANDS[command][2]()
    by_name: dict[str, tuple[str, dict[str, Any]]] = {}
    values: dict[str, Any] = {}
    for names, kwargs in flags:
        dest = _dest(names, kwargs)
        for name in names:
            by_name[name] = (dest, kwargs)
        action = kwargs.get("action")
        values[dest] = False if action == "store_true" else kwargs.get("default")
    given: set[str] = set()
    i = 1
    while i < len(argv):
        option, eq, inline = argv[i].partition("=")
        found = by_name.get(option) if option.startswith("--") else None
        if found is None:
            return None
        dest, kwargs = found
        action = kwargs.get("action")
        i += 1
        if action == "store_true":
            if eq:
                return None
            values[dest] = True
            given.add(dest)
            continue
        if eq:
            text = inline
        else:
            if i >= len(argv) or (argv[i].startswith("-") and not _looks_negative(argv[i])):
                return None
            text = argv[i]
            i += 1
        try:
            value = kwargs["type"](text) if "type" in kwargs else text
        except Exception:
            return None
        if "choices" in kwargs and value not in kwargs["choices"]:
            return None
        if action == "append":
            values[dest] = [*(values[dest] or []), value]
        else:
            values[dest] = value
        given.add(dest)
    for names, kwargs in flags:
        dest = _dest(names, kwargs)
        if kwargs.get("required") and dest not in given:
            return None
        default = kwargs.get("default")
        if dest not in given and isinstance(default, str) and "type" in kwargs:
            try:  # argparse passes a string default through the flag's type, as if given
                values[dest] = kwargs["type"](default)
            except Exception:
                return None
    return Args(command=command, handler=handler(command), **values)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line as argparse (also usable by the suite to render --help); with
    ``only``, every command listed but only that one's flags built (and modules imported)."""
    import argparse

    class ArgParser(argparse.ArgumentParser):
        """Turns argparse's print-usage-and-exit into a UsageError, so bad usage is JSON too."""

        command_names: tuple[str, ...] = ()

        def error(self, message: str) -> NoReturn:
            raise UsageError(message, f"bad usage: {message} (see `{self.prog} --help`)")

    parser = ArgParser(
        prog=PROG,
        description="IPC probes for pods: one JSON line per run, bounded waits.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_handler, help_, flags) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_, description=help_)
        if only is not None and name != only:
            continue
        cmd.set_defaults(handler=handler(name))
        for names, kwargs in flags():
            cmd.add_argument(*names, **kwargs)
    parser.command_names = tuple(COMMANDS)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command an argv names (the first word that is one), for the JSON of a bad one."""
    return next((arg for arg in argv if arg in COMMANDS), None)


def parse(argv: Sequence[str]) -> Args | argparse.Namespace:
    """The command line, read the fast way when it is plain, else by argparse (which raises
    :class:`UsageError` for a bad one and exits after ``--help``)."""
    fast = parse_fast(argv)
    if fast is not None:
        return fast
    return build_parser(command_of(argv)).parse_args(list(argv))
