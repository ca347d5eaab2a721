"""Code digests and cache keys of steps.

A step's code digest covers its own source and the source of what it uses
from its own module, transitively: functions and classes defined there, and
module-level constants (numbers, strings, tuples of them) by value. The
source is compared as a syntax tree without decorators or docstrings, so
reformatting, comments and docstrings do not invalidate the cache, while any
change to what runs does. Code imported from other modules (libraries, your
helpers package) is not followed: pin library versions, or run with
``cache=False`` after changing such code. A function whose source cannot be
read (defined in a REPL) is digested from its bytecode instead.

The cache key of a step run is the digest of its code digest, its parameters
(canonical JSON) and the digests of its inputs, so a step reruns when its
code, a parameter or any input changes, and not otherwise (an upstream that
reran but produced the same bytes does not invalidate it). One more check
keeps data fresh: a cached step whose run read a dataset version
(``steward.data.get`` inside the step) is reused only while that version is
still its dataset's latest, so a retraining pipeline that reads "the latest
survey data" runs again when a new version arrives.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import hashlib
import inspect
import json
import linecache
import textwrap
import types
from typing import Any

KEY_VERSION = 1
"""Bumped when the key's recipe changes, so old entries stop matching."""

_CONSTANT_TYPES = (int, float, str, bytes, bool, type(None))


def _strip(node: ast.AST) -> ast.AST:
    """The definition without decorators and docstring (they do not change what runs)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        node.decorator_list = []
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return node


def _bytecode(code: types.CodeType) -> str:
    parts = [code.co_code.hex(), repr(code.co_names), repr(code.co_varnames)]
    for constant in code.co_consts:
        parts.append(
            _bytecode(constant) if isinstance(constant, types.CodeType) else repr(constant)
        )
    return "|".join(parts)


def _from_getsource(obj: Any) -> tuple[str, ast.AST | None]:
    """The normalised syntax tree of a function or class (dumped), and the tree itself,
    from ``inspect.getsource``; a function without readable source by its bytecode."""
    try:
        source = textwrap.dedent(inspect.getsource(obj))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        code = getattr(obj, "__code__", None)
        return ("bytecode:" + _bytecode(code) if code is not None else repr(obj)), None
    definition = tree.body[0] if tree.body else tree
    return ast.dump(_strip(definition), annotate_fields=False), definition


_parsed_files: dict[str, tuple[list[str], dict[int, ast.AST]]] = {}
"""File -> (its lines as ``linecache`` holds them, its functions by first line)."""


def _functions_of_file(code: types.CodeType, namespace: dict[str, Any]) -> dict[int, ast.AST]:
    """The function definitions in ``code``'s source file, by their first line (that of
    the first decorator, as ``co_firstlineno`` counts); parsed once per file while
    ``linecache`` holds the same lines (it rereads a file that changed)."""
    filename = code.co_filename
    if filename.startswith("<"):  # a REPL, exec'd text
        return {}
    linecache.checkcache(filename)
    lines = linecache.getlines(filename, namespace)
    known = _parsed_files.get(filename)
    if known is not None and known[0] is lines:
        return known[1]
    functions: dict[int, ast.AST] = {}
    with contextlib.suppress(SyntaxError, ValueError):  # not Python (any more): inspect's turn
        _collect_functions(ast.parse("".join(lines)).body, functions)
    _parsed_files[filename] = (lines, functions)
    return functions


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
"""The fields of a statement that hold statements (or clauses that do)."""


def _collect_functions(statements: list[Any], found: dict[int, ast.AST]) -> None:
    """Every function defined in ``statements``, nested ones too, by first line (only
    statements are visited: a ``def`` is never inside an expression)."""
    for node in statements:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[min([node.lineno, *(item.lineno for item in node.decorator_list)])] = node
        for field in _BLOCKS:
            inner = getattr(node, field, None)
            if inner:
                _collect_functions(inner, found)


def _source_tree(obj: Any) -> tuple[str, ast.AST | None]:
    """The normalised syntax tree of a function or class (dumped), and the tree itself.

    A function is found in its module's syntax tree, parsed once per file: the same
    tree ``inspect.getsource`` + ``ast.parse`` gives (``ast.dump`` leaves positions
    out), without tokenizing each function's lines again. Anything else (classes,
    lambdas, source that changed since import) goes through ``inspect``.
    """
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType):
        node = _functions_of_file(code, getattr(obj, "__globals__", {})).get(code.co_firstlineno)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == code.co_name:
            definition = _strip(copy.copy(node))  # the parsed tree stays as it is
            return ast.dump(definition, annotate_fields=False), definition
    return _from_getsource(obj)


def _names_used(tree: ast.AST) -> list[str]:
    return sorted({node.id for node in ast.walk(tree) if isinstance(node, ast.Name)})


def _module_constant(value: Any) -> bool:
    if isinstance(value, tuple | frozenset):
        return all(_module_constant(item) for item in value)
    return isinstance(value, _CONSTANT_TYPES)


def code_digest(fn: Any) -> str:
    """The digest of ``fn``'s code and of what it uses from its own module.

    Args:
        fn: a function (a step's, or any other).

    Returns:
        ``sha256:<hex>``.
    """
    module = getattr(fn, "__module__", None)
    namespace = getattr(fn, "__globals__", {})
    parts: list[str] = []
    seen: set[int] = set()
    pending: list[tuple[str, Any]] = [("", fn)]
    while pending:
        label, obj = pending.pop()
        target = getattr(obj, "fn", obj)  # a Step used by another step: its function
        if id(target) in seen:
            continue
        seen.add(id(target))
        dumped, tree = _source_tree(target)
        parts.append(f"{label}={dumped}")
        if tree is None:
            continue
        for name in _names_used(tree):
            value = namespace.get(name)
            if value is None:
                continue
            inner = getattr(value, "fn", value)
            if (
                (inspect.isfunction(inner) or inspect.isclass(inner))
                and getattr(inner, "__module__", None) == module
                and id(inner) not in seen
            ):
                pending.append((name, inner))
            elif _module_constant(value) and not inspect.ismodule(value):
                parts.append(f"{name}:={value!r}")
    return "sha256:" + hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()


def cache_key(
    code: str, params: dict[str, Any], inputs: dict[str, Any], outputs: tuple[str, ...]
) -> str:
    """The cache key of a step run.

    Args:
        code: the step's code digest.
        params: its JSON parameters.
        inputs: argument -> input digest (or lists / dicts of digests).
        outputs: the names of its outputs.

    Returns:
        ``sha256:<hex>``.
    """
    payload = json.dumps(
        {"v": KEY_VERSION, "code": code, "params": params, "inputs": inputs, "outputs": outputs},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
