"""Turn the code a user wrote for a task into a callable, keeping the user's own line numbers.

The code is the body of a function, so it may ``return`` a value or leave it in ``result``; ``params``,
``context``, ``upstream`` and the upstream tasks' results by name are globals of that function.
Both validation (does it compile?) and the worker runtime (run it) use this one module.
"""

from __future__ import annotations

import ast
import linecache
import sys
from types import CodeType

FUNCTION_NAME = "task_code"


class TaskCodeError(SyntaxError):
    """The code cannot become a task: carries 1-based ``lineno``/``offset`` like :class:`SyntaxError`."""


def compile_task_code(code: str, filename: str) -> CodeType:
    """Compile ``code`` as the body of ``def task_code(): ...``; raises :class:`SyntaxError` with the user's line."""
    tree = ast.parse(code, filename=filename, mode="exec")
    _reject_generators(tree, filename)
    body: list[ast.stmt] = list(tree.body) or [ast.Pass(lineno=1, col_offset=0)]
    # Reached only when the code does not ``return``: the task's value is whatever it left in ``result``.
    falls_through = ast.parse('return locals().get("result")').body[0]
    ast.increment_lineno(falls_through, max(getattr(n, "end_lineno", 1) or 1 for n in body) - 1)
    func = ast.FunctionDef(
        name=FUNCTION_NAME,
        args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[*body, falls_through], decorator_list=[], returns=None, lineno=1, col_offset=0,
    )
    if sys.version_info >= (3, 12):  # a field of its own since 3.12 (PEP 695)
        func.type_params = []
    # Every node has its location already (parsed, or set above): no ast.fix_missing_locations walk, which
    # cost more than parsing and compiling together (listings re-validate many specs).
    module = ast.Module(body=[func], type_ignores=[])
    compiled = compile(module, filename, "exec")
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    return compiled


def _reject_generators(tree: ast.Module, filename: str) -> None:
    """A top-level ``yield`` would silently turn the task into a generator that never runs."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            raise TaskCodeError("'yield' is not allowed in task code", (filename, node.lineno, node.col_offset + 1, None))
        stack.extend(ast.iter_child_nodes(node))
