"""Run records: what one suite run found, in a form that outlives the run.

A run record (schema ``podshm-run/1``, :mod:`podshm.records.schema`) holds the cluster a run
talked to and every test's outcome and measured values. It is written by the pytest plugin
(:mod:`podshm.plugin.runrecord`) beside the junit XML, or rebuilt from a junit XML alone
(:mod:`podshm.records.junit`). Two of them are compared by ``podshm diff``
(:mod:`podshm.records.diff`, :mod:`podshm.records.render`), any number shown side by side
by ``podshm matrix`` (:mod:`podshm.records.sidebyside`). Nothing here imports pytest or
talks to a cluster, so records can be read and compared anywhere (a CI job, a laptop).
"""

from __future__ import annotations

from podshm.records.ids import stable_id_from_junit, stable_id_from_nodeid
from podshm.records.schema import (
    SCHEMA,
    CaseResult,
    ClusterInfo,
    ImageInfo,
    NodeInfo,
    RunRecord,
    RuntimeClassInfo,
    validate,
)

__all__ = [
    "SCHEMA",
    "CaseResult",
    "ClusterInfo",
    "ImageInfo",
    "NodeInfo",
    "RunRecord",
    "RuntimeClassInfo",
    "stable_id_from_junit",
    "stable_id_from_nodeid",
    "validate",
]
