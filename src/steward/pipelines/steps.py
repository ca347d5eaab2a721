"""``@steward.step``: a plain function that becomes a node of a pipeline when called in one.

Outside a pipeline a step is its function: calling it calls the function.
Inside a pipeline's definition, calling it records a node and returns lazy
handles to its outputs (see ``steward.pipelines.graph``); passing a handle
to another step is what makes an edge.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from steward.errors import InvalidInput

_MEMORY_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_MEMORY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")
_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
DEFAULT_OUTPUT = "output"


def parse_memory(value: Any) -> int:
    """Bytes from an int or a size such as ``"4GB"``, ``"512MiB"``.

    Raises:
        InvalidInput: not a size.
    """
    if isinstance(value, bool):
        raise InvalidInput(f"memory must be bytes or a size such as '4GB', not {value!r}.")
    if isinstance(value, int | float):
        if value <= 0:
            raise InvalidInput(f"memory must be positive, not {value!r}.")
        return int(value)
    match = _MEMORY.match(str(value))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _MEMORY_UNITS:
        raise InvalidInput(
            f"memory {value!r} is not a size; write e.g. 4GB, 512MiB or a number of bytes."
        )
    return int(float(match.group(1)) * _MEMORY_UNITS[unit])


def normalise_resources(resources: Mapping[str, Any] | None) -> dict[str, float]:
    """Check a step's resources: ``num_cpus``, ``num_gpus``, ``memory`` (a size) and
    custom Ray resources by name (all non-negative numbers).

    Raises:
        InvalidInput: a value is not a non-negative number (or size, for memory).
    """
    result: dict[str, float] = {}
    for key, value in (resources or {}).items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"resource names must be non-empty strings, not {key!r}.")
        if key == "memory":
            result[key] = float(parse_memory(value))
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidInput(
                f"resource {key!r} must be a non-negative number, not {value!r} "
                "(e.g. resources={'num_cpus': 2, 'memory': '4GB'})."
            )
        result[key] = float(value)
    return result


def _output_names(outputs: int | Sequence[str] | None) -> tuple[str, ...]:
    if outputs is None:
        return (DEFAULT_OUTPUT,)
    if isinstance(outputs, int) and not isinstance(outputs, bool):
        if outputs < 1:
            raise InvalidInput(f"outputs must be at least 1, not {outputs}.")
        return (DEFAULT_OUTPUT,) if outputs == 1 else tuple(f"output_{i}" for i in range(outputs))
    if isinstance(outputs, bool):
        raise InvalidInput("outputs must be a count or a list of names, not a boolean.")
    names = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    for name in names:
        if not isinstance(name, str) or not _OUTPUT_NAME.match(name):
            raise InvalidInput(
                f"output name {name!r} is invalid: use letters, digits and _ (not first a digit)."
            )
    if not names or len(set(names)) != len(names):
        raise InvalidInput(f"outputs must be distinct names, got {list(names)}.")
    return names


@dataclass(frozen=True)
class StepOptions:
    """How a step runs: its name, caching, resources, outputs and retries."""

    name: str
    cache: bool = True
    resources: dict[str, float] = field(default_factory=dict)
    outputs: tuple[str, ...] = (DEFAULT_OUTPUT,)
    retries: int = 0


def qualified_name(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of a function."""
    return f"{fn.__module__}:{fn.__qualname__}"


class Step:
    """A function that is a step of pipelines. Calling it outside a pipeline calls the function."""

    def __init__(self, fn: Callable[..., Any], options: StepOptions) -> None:
        if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn):
            raise InvalidInput(
                f"step {options.name!r} is a coroutine or generator function; a step must be a "
                "plain function that returns its output."
            )
        self.fn = fn
        self.options = options
        functools.update_wrapper(self, fn)

    @property
    def name(self) -> str:
        """The step's name (its function's name unless given)."""
        return self.options.name

    @property
    def function(self) -> str:
        """``module:qualname`` of the step's function."""
        return qualified_name(self.fn)

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        """The function's signature."""
        return inspect.signature(self.fn)

    @functools.cached_property
    def code_digest(self) -> str:
        """The digest of the step's code (see ``steward.pipelines.fingerprint``)."""
        from steward.pipelines.fingerprint import code_digest

        return code_digest(self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from steward.pipelines.graph import current_builder

        builder = current_builder()
        if builder is None:
            return self.fn(*args, **kwargs)
        return builder.add_step(self, args, kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # By reference when the module holds this very step (the usual case), so a
        # worker imports it; by value otherwise (a step made in a closure).
        try:
            found = _find(self.fn.__module__, self.fn.__qualname__)
        except (ImportError, AttributeError):
            found = None
        if found is self:
            return (_find, (self.fn.__module__, self.fn.__qualname__))
        return (Step, (self.fn, self.options))

    def portable(self) -> Step:
        """This step as sent by value (for cloudpickle, to workers that cannot import
        ``__main__``)."""
        return _PortableStep(self.fn, self.options)

    def __repr__(self) -> str:
        return f"<Step {self.name!r} ({self.function})>"


class _PortableStep(Step):
    """A step pickled with its function, never by reference."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (Step, (self.fn, self.options))


def _find(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


@overload
def step(fn: Callable[..., Any]) -> Step: ...


@overload
def step(
    fn: None = None,
    *,
    name: str | None = None,
    cache: bool = True,
    resources: Mapping[str, Any] | None = None,
    outputs: int | Sequence[str] | None = None,
    retries: int = 0,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    cache: bool = True,
    resources: Mapping[str, Any] | None = None,
    outputs: int | Sequence[str] | None = None,
    retries: int = 0,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make a function a pipeline step: ``@steward.step`` or ``@steward.step(cache=False)``.

    Args:
        fn: the function (when used without parentheses).
        name: the step's name in pipelines (default: the function's name).
        cache: reuse outputs of an earlier successful run with the same code,
            parameters and inputs (default True).
        resources: what the step needs on Ray: ``num_cpus``, ``num_gpus``,
            ``memory`` (``"4GB"``) and custom resources by name.
        outputs: how many outputs the function returns as a tuple, or their names;
            calling the step in a pipeline then returns one handle per output.
        retries: run the step again this many times if it raises or its worker dies.

    Raises:
        InvalidInput: a bad option (negative resources, odd output names…).
    """
    from steward.store.validation import check_name

    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidInput(f"retries must be a non-negative integer, not {retries!r}.")

    def decorate(function: Callable[..., Any]) -> Step:
        if isinstance(function, Step):
            function = function.fn
        if not callable(function):
            raise InvalidInput(f"@steward.step decorates a function, not {function!r}.")
        step_name = check_name("step", name or function.__name__)
        options = StepOptions(
            name=step_name,
            cache=bool(cache),
            resources=normalise_resources(resources),
            outputs=_output_names(outputs),
            retries=retries,
        )
        return Step(function, options)

    return decorate(fn) if fn is not None else decorate
