"""Project-level pytest configuration (podshm's own tests, not the plugin).

The podshm plugin itself loads through its ``pytest11`` entry point; this file
only enables ``pytester`` for the plugin's tests and orders the tests that must
come last: the leftover-namespace check, then the cluster lifecycle tests
(which take the local cluster down); registers the project-only markers.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "run_last(order): run after every other test, lower order first (project tests only)",
    )
    config.addinivalue_line(
        "markers",
        "vm: boots podshm's VM node in QEMU (TCG; minutes cold; select with -m vm, project "
        "tests only)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        marker = item.get_closest_marker("run_last")
        return marker.args[0] if marker and marker.args else (1 if marker else 0)

    items.sort(key=rank)  # stable: the usual order within each rank
