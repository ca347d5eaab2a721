"""Code digests: functions found in their module's parsed source, as inspect finds them."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from steward.pipelines import fingerprint

SHAPES = '''
import functools

LIMIT = 3


def plain(x):
    """Docstring."""
    return x + LIMIT


@functools.lru_cache(
    maxsize=None,
)
def decorated_over_lines(x):
    return plain(x)


@functools.lru_cache
@functools.lru_cache
def two_decorators(x): return x


async def coroutine(x):
    return x


def with_text(x):
    text = """
a line at column 0
"""
    # a comment
# a comment at column 0
    return text + str(x)


def outer(x):
    def inner(y):
        return y * LIMIT
    return inner


class Holder:
    def method(self, x):
        return x

    @staticmethod
    def static(x):
        return x


short = lambda x: x + 1  # noqa: E731
'''


@pytest.fixture
def shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "fingerprint_shapes.py").write_text(textwrap.dedent(SHAPES))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("fingerprint_shapes")
    yield module
    sys.modules.pop("fingerprint_shapes")


def test_each_function_gets_the_tree_inspect_gives(shapes: Any) -> None:
    functions = [
        shapes.plain,
        shapes.decorated_over_lines.__wrapped__,
        shapes.two_decorators.__wrapped__.__wrapped__,
        shapes.coroutine,
        shapes.with_text,
        shapes.outer,
        shapes.outer(1),
        shapes.Holder.method,
        shapes.Holder.static,
        shapes.short,
        shapes.Holder,
    ]
    for function in functions:
        fast, tree = fingerprint._source_tree(function)
        slow, reference = fingerprint._from_getsource(function)
        assert fast == slow, function
        assert (tree is None) == (reference is None)
        if tree is not None and reference is not None:
            assert fingerprint._names_used(tree) == fingerprint._names_used(reference)
    # Each def is found in the parsed file (not through inspect); lambdas and classes are not.
    parsed = fingerprint._parsed_files[shapes.plain.__code__.co_filename][1]
    for function in functions[:9]:
        code = function.__code__
        assert parsed[code.co_firstlineno].name == code.co_name  # type: ignore[attr-defined]
    assert shapes.short.__code__.co_firstlineno not in parsed
    again, _ = fingerprint._source_tree(shapes.plain)  # the cached tree was not stripped
    assert (
        again
        == fingerprint._source_tree(shapes.plain)[0]
        == fingerprint._from_getsource(shapes.plain)[0]
    )


def test_a_file_edited_since_it_was_parsed_is_parsed_again(shapes: Any, tmp_path: Path) -> None:
    before = fingerprint.code_digest(shapes.plain)
    path = tmp_path / "fingerprint_shapes.py"
    path.write_text(path.read_text().replace("return x + LIMIT", "return x - LIMIT - 1"))
    importlib.reload(shapes)
    assert fingerprint.code_digest(shapes.plain) != before
