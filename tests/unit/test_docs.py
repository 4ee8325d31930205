"""The example CI workflow under docs/ is valid YAML with the steps README promises."""

from __future__ import annotations

from pathlib import Path

import yaml

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_example_workflow_is_valid_yaml_running_the_suite_on_kind():
    workflow = yaml.safe_load((DOCS / "github-actions-kind.yaml").read_text())
    steps = workflow["jobs"]["ipc-conformance"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert any(u.startswith("helm/kind-action") for u in uses)
    assert "docker build -f images/Dockerfile" in runs
    assert "kind load docker-image" in runs
    assert "pytest --pyargs podshm.suite" in runs and "--junitxml" in runs
    assert "podshm diff" in runs
