"""The example CI workflow under docs/ is valid YAML with the steps README promises."""

from __future__ import annotations

from pathlib import Path

import pytest
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


ROOT = DOCS.parent


def commands(text: str) -> list[str]:
    """Shell commands of a text: continuation lines joined, comments and `.venv/bin/` dropped."""
    joined = text.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.split(" # ")[0].strip().replace(".venv/bin/", "")
        if line and not line.startswith("#"):
            found.append(" ".join(line.split()))
    return found


def readme_commands(heading: str) -> list[str]:
    """The commands of README's ``sh`` blocks under one ``##`` heading."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```sh\n")[1:]
    return [c for block in blocks for c in commands(block.split("```", 1)[0])]


@pytest.mark.parametrize(("heading", "at_least"), [("Running against kind", 10), ("A VM node", 3)])
def test_ci_runs_every_command_readme_gives_in_a_section(heading: str, at_least: int):
    shown = readme_commands(heading)
    ci = " \n ".join(commands((ROOT / "scripts" / "test.sh").read_text()))
    # `export KUBECONFIG=$(...)` is spelled in two lines in the script (set -e sees failures).
    missing = [
        c
        for c in shown
        if c not in ci and not (c.startswith("export ") and c.split("=", 1)[-1] in ci)
    ]
    assert len(shown) >= at_least and missing == []


def test_ci_runs_readmes_two_commands_verbatim_and_in_order():
    """README promises two commands for a fresh machine; CI runs exactly those, in that
    order, so a newcomer's first two commands are the ones CI proves."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    shown = commands(section.split("```sh\n", 1)[1].split("```", 1)[0])
    ci = [
        c for c in commands((ROOT / ".ci" / "run").read_text()) if not c.startswith(("set ", "cd "))
    ]
    assert shown == ["make suite", "make test"]
    assert ci == shown
