#!/usr/bin/env python3
"""Mutate every branch of a module and check that its unit tests notice.

Each ``if``/``elif`` condition and each conditional expression of the module is, in turn,
inverted (``not (...)``) and forced (``True``/``False``); the module's tests must fail for
every mutant. Prints the survivors and exits 1 if there are any. Used for
src/podshm/expectations.py (issue: "unit tests that fail when any branch is removed"):

    .venv/bin/python scripts/mutation_check.py \
        src/podshm/expectations.py tests/unit/test_expectations.py
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


class Mutator(ast.NodeTransformer):
    def __init__(self, target: int, mode: str) -> None:
        self.target, self.mode, self.index = target, mode, -1
        self.done = ""

    def _mutate(self, test: ast.expr, node: ast.AST) -> ast.expr:
        self.index += 1
        if self.index != self.target:
            return test
        self.done = f"line {node.lineno}: {ast.unparse(test)} -> {self.mode}"
        if self.mode == "not":
            return ast.UnaryOp(op=ast.Not(), operand=test)
        return ast.Constant(value=self.mode == "True")

    def visit_If(self, node: ast.If) -> ast.AST:
        node.test = self._mutate(node.test, node)
        self.generic_visit(node)
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        node.test = self._mutate(node.test, node)
        self.generic_visit(node)
        return node


def count_branches(tree: ast.AST) -> int:
    return sum(isinstance(n, (ast.If, ast.IfExp)) for n in ast.walk(tree))


def main() -> int:
    module, tests = Path(sys.argv[1]).resolve(), sys.argv[2]
    original = module.read_text()
    total = count_branches(ast.parse(original))
    survivors, killed = [], 0
    backup = Path(tempfile.mkdtemp()) / module.name
    shutil.copy2(module, backup)
    try:
        for target in range(total):
            for mode in ("not", "True", "False"):
                mutator = Mutator(target, mode)
                mutant = ast.unparse(ast.fix_missing_locations(mutator.visit(ast.parse(original))))
                module.write_text(mutant)
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", tests],
                    capture_output=True,
                )
                if proc.returncode == 0:
                    survivors.append(mutator.done)
                else:
                    killed += 1
    finally:
        shutil.copy2(backup, module)
    print(f"{module.name}: {total} branches, {killed} mutants killed, {len(survivors)} survived")
    for line in survivors:
        print(f"  survived: {line}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
