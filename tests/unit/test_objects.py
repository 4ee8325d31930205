"""The Kubernetes object rules every part of podshm shares: readiness, quantities, labels."""

from __future__ import annotations

import pytest

from podshm.objects import (
    MANAGED_BY_LABEL,
    MANAGED_BY_LOCAL_CLUSTER,
    MANAGED_BY_RUN,
    node_ready,
    quantity_to_bytes,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("67108864", 67108864),
        (67108864, 67108864),
        ("1.5Ki", 1536),
        ("256Mi", 256 * 1024 * 1024),
        ("1G", 10**9),
        ("1.1Gi", 1181116007),  # 1181116006.4: rounded up, like Go's Quantity.Value()
        ("1500m", 2),
        ("100m", 1),
        ("2000m", 2),  # whole already: not rounded up once more
    ],
)
def test_quantities_are_whole_bytes_rounded_up(value, expected):
    assert quantity_to_bytes(value) == expected
    assert type(quantity_to_bytes(value)) is int


def ready_condition(status: str) -> dict:
    conditions = [
        {"type": "MemoryPressure", "status": "False"},
        {"type": "Ready", "status": status},
    ]
    return {"status": {"conditions": conditions}}


def test_a_node_is_ready_only_when_its_ready_condition_is_true():
    assert node_ready(ready_condition("True"))
    assert not node_ready(ready_condition("False"))
    assert not node_ready(ready_condition("Unknown"))
    assert not node_ready(
        {"status": {"conditions": [{"type": "MemoryPressure", "status": "True"}]}}
    )
    assert not node_ready({"status": {}})
    assert not node_ready({})


def test_the_managed_by_label_keeps_its_spelling():
    """Objects already on clusters carry these: a change would orphan them from `podshm gc`
    and put test-made RuntimeClasses into `--runtime-class all`."""
    assert MANAGED_BY_LABEL == "app.kubernetes.io/managed-by"
    assert MANAGED_BY_RUN == "podshm"
    assert MANAGED_BY_LOCAL_CLUSTER == "podshm-cluster"
