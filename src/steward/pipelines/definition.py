"""``@steward.pipeline``: a plain function whose step calls make the graph.

Calling a pipeline runs it (inline, with the cache); ``Pipeline.run`` takes
the executor and other options. ``load_target`` finds a pipeline by
``module:function`` or ``path/to/file.py:function`` for the CLI and for
resuming a run in a new process.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import sys
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from steward.errors import InvalidInput, NotFound
from steward.pipelines.graph import (
    GraphBuilder,
    OutputHandle,
    PipelineGraph,
    bind_call,
    current_builder,
    is_json_value,
    to_stored,
)

if TYPE_CHECKING:
    from steward.store.pipeline_records import PipelineRunRecord


class Pipeline:
    """A function whose calls to steps define a graph. Calling it runs it."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.fn = fn
        self.name = name
        functools.update_wrapper(self, fn)

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        """The function's signature (the pipeline's parameters)."""
        return inspect.signature(self.fn)

    @property
    def target(self) -> str:
        """Where the definition lives, as ``load_target`` reads it back."""
        module = self.fn.__module__
        if module == "__main__" or module in FILE_MODULES:
            path = getattr(sys.modules.get(module), "__file__", None)
            if path:
                return f"{Path(path).resolve()}:{self.fn.__qualname__}"
        return f"{module}:{self.fn.__qualname__}"

    def bind(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """The pipeline's parameters with defaults filled in, each checked (and converted
        from text when the parameter is annotated int, float or bool).

        Raises:
            InvalidInput: an unknown or missing parameter, or a value of the wrong type.
        """
        given = dict(params or {})
        parameters = self.signature.parameters
        unknown = sorted(set(given) - set(parameters))
        if unknown:
            known = ", ".join(parameters) or "none"
            raise InvalidInput(
                f"pipeline {self.name!r} has no parameter {', '.join(map(repr, unknown))}; "
                f"its parameters: {known}."
            )
        try:
            hints = typing.get_type_hints(self.fn)
        except Exception:  # annotations naming what is not importable here: no conversions
            hints = {}
        bound: dict[str, Any] = {}
        for name, parameter in parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise InvalidInput(
                    f"pipeline {self.name!r} takes *args or **kwargs; name its parameters."
                )
            if name in given:
                bound[name] = _convert(self.name, name, given[name], hints.get(name))
            elif parameter.default is not parameter.empty:
                bound[name] = parameter.default
            else:
                raise InvalidInput(
                    f"pipeline {self.name!r} needs parameter {name!r}; pass it "
                    f"(--param {name}=VALUE on the command line)."
                )
        return bound

    def build(self, params: Mapping[str, Any] | None = None) -> PipelineGraph:
        """The step graph for these parameters (nothing runs).

        Raises:
            InvalidInput: bad parameters, a step called with arguments that do not fit,
                a pipeline that calls itself, or one with no steps.
        """
        bound = self.bind(params)
        builder = GraphBuilder()
        with builder.building(self.name):
            returned = self.fn(**bound)
        if not builder.nodes:
            raise InvalidInput(
                f"pipeline {self.name!r} calls no step; decorate the functions it calls "
                "with @steward.step."
            )
        stored_params = {k: v for k, v in bound.items() if is_json_value(v)}
        return PipelineGraph(
            self.name, tuple(builder.nodes), _result(self.name, returned), stored_params
        )

    def run(self, params: Mapping[str, Any] | None = None, **options: Any) -> PipelineRunRecord:
        """Run the pipeline with ``params``; ``options`` (executor, cache, ray_address,
        experiment, run_name, progress, raise_on_failure) as for ``steward.pipelines.run``."""
        from steward.pipelines.execution import execute

        return execute(self, params, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is not None:  # a pipeline used inside another: its steps join the graph
            with builder.building(self.name):
                return self.fn(*args, **kwargs)
        bound = bind_call(f"pipeline {self.name!r}", self.name, self.signature, args, kwargs)
        return self.run(dict(bound.arguments))

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r} ({self.target})>"


def _result(name: str, returned: Any) -> Any:
    def encode(value: Any) -> Any:
        if isinstance(value, OutputHandle):
            return value.ref
        if isinstance(value, list | tuple):
            return [encode(item) for item in value]
        if isinstance(value, dict):
            return {str(key): encode(item) for key, item in value.items()}
        return value

    encoded = encode(returned)
    stored = to_stored(encoded)
    if not is_json_value(stored):
        raise InvalidInput(
            f"pipeline {name!r} returns something other than step outputs and JSON values; "
            "return step outputs (or lists and dicts of them)."
        )
    return stored


def _convert(pipeline: str, name: str, value: Any, hint: Any) -> Any:
    """A parameter given as text (the command line) converted to its annotated type."""
    if not isinstance(value, str) or hint in (None, str, Any):
        return value
    try:
        if hint is bool:
            lowered = value.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(value)
        if hint in (int, float):
            return hint(value)
    except ValueError:
        raise InvalidInput(
            f"parameter {name!r} of pipeline {pipeline!r} must be {hint.__name__}, not {value!r}."
        ) from None
    return value


@overload
def pipeline(fn: Callable[..., Any]) -> Pipeline: ...


@overload
def pipeline(
    fn: None = None, *, name: str | None = None
) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    fn: Callable[..., Any] | None = None, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Make a function a pipeline: ``@steward.pipeline`` or ``@steward.pipeline(name=...)``.

    The function's body calls steps; a step's return value passed to another
    step is an edge of the graph. Its parameters are the pipeline's.
    """
    from steward.store.validation import check_name

    def decorate(function: Callable[..., Any]) -> Pipeline:
        if isinstance(function, Pipeline):
            function = function.fn
        if not callable(function):
            raise InvalidInput(f"@steward.pipeline decorates a function, not {function!r}.")
        return Pipeline(function, check_name("pipeline", name or function.__name__))

    return decorate(fn) if fn is not None else decorate


FILE_MODULES: set[str] = set()
"""Modules imported from a file path by ``load_target`` (their target names the file)."""


def _import_file(path: Path) -> Any:
    """Import a Python file as the module named by its stem, its folder put on ``sys.path``
    (so worker processes import it the same way)."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = path.stem
    existing = sys.modules.get(module_name)
    if existing is not None:
        if Path(getattr(existing, "__file__", "") or "").resolve() == path:
            FILE_MODULES.add(module_name)
            return existing
        raise InvalidInput(
            f"cannot import {path} as module {module_name!r}: another module of that name is "
            "already loaded; rename the file or use module:function."
        )
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise NotFound(f"cannot import {path} as Python.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    FILE_MODULES.add(module_name)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def load_target(target: str) -> Pipeline:
    """The pipeline at ``module:function`` or ``path/to/file.py:function``.

    Raises:
        InvalidInput: the target is not of that form, or is not a pipeline.
        NotFound: the module, file or function does not exist.
    """
    source, sep, qualname = target.rpartition(":")
    if not sep or not source or not qualname:
        raise InvalidInput(
            f"{target!r} does not name a pipeline; write module:function "
            "(e.g. flows.training:train) or path/to/file.py:function."
        )
    if source.endswith(".py"):
        path = Path(source).expanduser().resolve()
        if not path.is_file():
            raise NotFound(f"pipeline file {source} does not exist.")
        module = _import_file(path)
    else:
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(source)
        except ModuleNotFoundError as exc:
            if exc.name and source.startswith(exc.name):
                raise NotFound(
                    f"no module named {source!r} (run from the folder that holds it, or set "
                    "PYTHONPATH)."
                ) from None
            raise
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise NotFound(f"module {source!r} has no {qualname!r}.")
    if not isinstance(found, Pipeline):
        raise InvalidInput(
            f"{target} is not a pipeline; decorate it with @steward.pipeline "
            f"(it is a {type(found).__name__})."
        )
    return found
