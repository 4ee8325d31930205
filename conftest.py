"""Project-level pytest configuration (podshm's own tests, not the plugin).

The podshm plugin itself loads through its ``pytest11`` entry point; this file
only enables ``pytester`` for the plugin's tests and orders the tests that need the cluster to
themselves last: the API server stop and ``gc --older-than`` (which would break or remove
any concurrent run), the leftover-namespace check, then the cluster lifecycle tests (which
take the local cluster down); registers the project-only markers. A parallel run
(``-n``, as ``make test`` does) leaves them out with ``-m "not exclusive"`` and runs them
after, in a session of their own.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "exclusive(order): needs the cluster to itself (stops a component, removes every "
        "run's namespaces, checks cluster-wide state): runs after every other test, lower "
        "order first; never beside other tests (-m 'not exclusive' under -n; project tests "
        "only)",
    )
    config.addinivalue_line(
        "markers",
        "vm: boots podshm's VM node in QEMU (TCG; minutes cold; select with -m vm, project "
        "tests only)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        marker = item.get_closest_marker("exclusive")
        return marker.args[0] if marker and marker.args else (1 if marker else 0)

    items.sort(key=rank)  # stable: the usual order within each rank
