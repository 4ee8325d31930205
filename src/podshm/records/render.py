"""``podshm diff`` output: a terminal table, markdown for a PR comment or
``$GITHUB_STEP_SUMMARY``, and JSON for scripts.

Only what changed is listed (unchanged tests are a count): a reviewer reads the regressions
first, so rows are grouped by class in the order of :data:`podshm.records.diff.CLASSES`.
"""

from __future__ import annotations

import json

from podshm.records.diff import CLASSES, DEFAULT_POLICY, Diff, Policy, Row, exit_code
from podshm.records.schema import Value

ARROW = "→"
DIFF_SCHEMA = "podshm-diff/1"
TITLES = {
    "new_failure": "New failures",
    "fixed": "Fixed",
    "still_failing": "Still failing",
    "not_applicable": "Ran before, not applicable now",
    "outcome_changed": "Outcome changed",
    "added": "Added",
    "removed": "Removed",
    "value_changed": "Values changed",
}
# (singular, plural) for the counts line: "3 new failures, 1 fixed, 40 unchanged".
COUNT_WORDS = {
    "new_failure": ("new failure", "new failures"),
    "fixed": ("fixed", "fixed"),
    "still_failing": ("still failing", "still failing"),
    "not_applicable": ("no longer applicable", "no longer applicable"),
    "outcome_changed": ("outcome changed", "outcomes changed"),
    "added": ("added", "added"),
    "removed": ("removed", "removed"),
    "value_changed": ("value changed", "values changed"),
    "unchanged": ("unchanged", "unchanged"),
}
MESSAGE_CHARS = 160
MESSAGE_OUTCOMES = ("failed", "error", "not-applicable")
"""Outcomes whose message is shown under the row: why it failed, why it did not run."""


def counts_line(result: Diff) -> str:
    """Every non-empty class and the unchanged count, e.g. ``1 new failure, 40 unchanged``."""
    parts = []
    for kind, n in result.counts().items():
        if n or kind == "unchanged":
            singular, plural = COUNT_WORDS[kind]
            parts.append(f"{n} {singular if n == 1 else plural}")
    return ", ".join(parts)


def show(value: Value | None) -> str:
    """A value for people: ``(none)`` when not recorded, ``""`` when recorded empty."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if value != "" else '""'


def first_line(message: str) -> str:
    """The first non-empty line of a failure message, shortened for one table cell."""
    line = next((ln.strip() for ln in message.splitlines() if ln.strip()), "")
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 3] + "..."


def outcome_text(row: Row) -> str:
    """``passed → failed``, or one outcome when it did not change."""
    if row.before is None or row.after is None or row.before == row.after:
        return row.after or row.before or ""
    return f"{row.before} {ARROW} {row.after}"


def verdict(result: Diff, policy: Policy) -> str:
    """``no regression`` or ``regression``, by :func:`exit_code`."""
    return "regression" if exit_code(result, policy) else "no regression"


def render_text(result: Diff, base_name: str, candidate_name: str) -> str:
    """The terminal report: cluster header, the changed tests by class, the counts line."""
    lines = [f"podshm diff: {base_name} {ARROW} {candidate_name}"]
    width = max(len(h.label) for h in result.header)
    for h in result.header:
        facts = f"{h.before} {ARROW} {h.after}" if h.changed else h.before
        lines.append(f"  {h.label.ljust(width)}  {facts}")
    for kind in CLASSES:
        rows = result.of(kind) if kind in TITLES else []
        if not rows:
            continue
        lines += ["", f"{TITLES[kind]} ({len(rows)})"]
        id_width = min(max(len(r.id) for r in rows), 70)
        for row in rows:
            lines.append(f"  {row.id.ljust(id_width)}  {outcome_text(row)}")
            if row.message and row.after in MESSAGE_OUTCOMES:
                lines.append(f"      {first_line(row.message)}")
            lines += [
                f"      {c.name}: {show(c.before)} {ARROW} {show(c.after)}" for c in row.changes
            ]
    lines += ["", counts_line(result)]
    return "\n".join(lines)


def md_cell(text: str) -> str:
    """Safe inside a markdown table cell: no pipes, no line breaks."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(
    result: Diff, base_name: str, candidate_name: str, policy: Policy = DEFAULT_POLICY
) -> str:
    """Markdown for a PR comment or ``$GITHUB_STEP_SUMMARY``: verdict, clusters, tables."""
    mark = "❌" if exit_code(result, policy) else "✅"
    lines = [
        f"### {mark} podshm diff: {verdict(result, policy)}",
        "",
        f"`{md_cell(base_name)}` {ARROW} `{md_cell(candidate_name)}`: **{counts_line(result)}**",
        "",
        "| | base | candidate |",
        "|---|---|---|",
    ]
    for h in result.header:
        after = f"**{md_cell(h.after)}**" if h.changed else md_cell(h.after)
        lines.append(f"| {h.label} | {md_cell(h.before)} | {after} |")
    for kind in CLASSES:
        rows = result.of(kind) if kind in TITLES else []
        if not rows:
            continue
        lines += [
            "",
            f"#### {TITLES[kind]} ({len(rows)})",
            "",
            "| test | outcome | details |",
            "|---|---|---|",
        ]
        for row in rows:
            details = [f"`{c.name}`: {show(c.before)} {ARROW} {show(c.after)}" for c in row.changes]
            if row.message and row.after in MESSAGE_OUTCOMES:
                details.insert(0, first_line(row.message))
            cells = (f"`{row.id}`", outcome_text(row), "<br>".join(details))
            lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def render_json(
    result: Diff, base_name: str, candidate_name: str, policy: Policy = DEFAULT_POLICY
) -> str:
    """The whole diff (unchanged rows included) with the exit code it implies."""
    doc = {
        "schema": DIFF_SCHEMA,
        "base": base_name,
        "candidate": candidate_name,
        "fail_on": policy.fail_on,
        "allow_not_applicable": policy.allow_not_applicable,
        "exit_code": exit_code(result, policy),
        **result.to_json(),
    }
    return json.dumps(doc, indent=1, ensure_ascii=False)
