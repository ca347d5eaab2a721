"""The step graph of a pipeline, built by calling its function with lazy outputs.

While a pipeline's function runs under a ``GraphBuilder``, each step call
adds a ``StepNode`` and returns ``OutputHandle``s instead of values. An
argument holding a handle (directly, or inside a list, tuple or dict) is an
input, and the step it came from an upstream; a JSON-able argument is a
parameter; anything else (a DataFrame passed in literally) is a constant,
stored like an output when the run starts. Nodes are added in call order,
which is already a topological order: a handle exists only once its step does.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput

if TYPE_CHECKING:
    from steward.pipelines.steps import Step

OUTPUT_KEY = "$output"
CONSTANT_STEP = "$constant"
"""The step name of a constant argument's ref (its output is ``<step>.<argument>``)."""


@dataclass(frozen=True)
class OutputRef:
    """One output of one step of a graph."""

    step: str
    output: str

    def to_json(self) -> dict[str, Any]:
        """The form stored in step rows: ``{"$output": {"step", "output"}}``."""
        return {OUTPUT_KEY: {"step": self.step, "output": self.output}}


class OutputHandle:
    """What calling a step inside a pipeline returns: its output, known only at run time."""

    __slots__ = ("_builder", "ref")

    def __init__(self, builder: GraphBuilder, ref: OutputRef) -> None:
        self._builder = builder
        self.ref = ref

    def _refuse(self, what: str) -> InvalidInput:
        return InvalidInput(
            f"{what} the output of step {self.ref.step!r} while defining the pipeline, but its "
            "value exists only when the pipeline runs. Pass it to another step and use it there."
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise self._refuse(f"the pipeline reads .{name} of")

    def __bool__(self) -> bool:
        raise self._refuse("the pipeline tests")

    def __iter__(self) -> Iterator[Any]:
        raise self._refuse("the pipeline iterates over")

    def __len__(self) -> int:
        raise self._refuse("the pipeline takes the length of")

    def __getitem__(self, key: Any) -> Any:
        raise self._refuse("the pipeline indexes")

    def __repr__(self) -> str:
        return f"<output {self.ref.output!r} of step {self.ref.step!r}>"


@dataclass(frozen=True)
class StepNode:
    """One call of a step in a pipeline."""

    name: str
    step: Step
    position: int
    arguments: dict[str, Any]
    """Argument name -> value, with ``OutputRef``s where handles were passed."""
    params: dict[str, Any]
    """The JSON-able arguments."""
    inputs: dict[str, Any]
    """The arguments that hold outputs, in their stored JSON form."""
    constants: dict[str, Any]
    """Arguments that are neither, by their ref's output name (``<step>.<argument>``):
    stored as blobs when the run starts, like outputs of a step ``$constant``."""
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class PipelineGraph:
    """The steps of one pipeline run, in topological order, and what it returns."""

    name: str
    nodes: tuple[StepNode, ...]
    result: Any
    """The returned handles in stored JSON form (None when nothing is returned)."""
    params: dict[str, Any] = field(default_factory=dict)

    def node(self, name: str) -> StepNode:
        """The node called ``name`` (KeyError if none)."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def dependants(self, name: str) -> set[str]:
        """Every step downstream of ``name``, transitively."""
        found: set[str] = set()
        for node in self.nodes:  # topological: upstreams are met first
            if name in node.depends_on or found.intersection(node.depends_on):
                found.add(node.name)
        return found


def is_json_value(value: Any) -> bool:
    """Whether ``value`` is plain JSON data (None, bool, numbers, str, lists, str-keyed dicts)."""
    if value is None or isinstance(value, bool | int | float | str):
        return type(value) in (type(None), bool, int, float, str)
    if isinstance(value, list | tuple):
        return all(is_json_value(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_value(v) for k, v in value.items())
    return False


def check_acyclic(dependencies: dict[str, tuple[str, ...]]) -> list[str]:
    """A topological order of ``dependencies`` (step -> the steps it needs).

    Raises:
        InvalidInput: the steps form a cycle (named in order) or need a step that is missing.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise InvalidInput(f"the pipeline's steps form a cycle: {' -> '.join(cycle)}.")
        if name not in dependencies:
            raise InvalidInput(f"step {path[-1]!r} depends on {name!r}, which is not a step.")
        state[name] = 1
        for upstream in dependencies[name]:
            visit(upstream, [*path, name])
        state[name] = 2
        order.append(name)

    for name in dependencies:
        visit(name, [])
    return order


_current: ContextVar[GraphBuilder | None] = ContextVar("steward_graph_builder", default=None)


def current_builder() -> GraphBuilder | None:
    """The graph being built in this context, if any."""
    return _current.get()


class GraphBuilder:
    """Collects the nodes of one pipeline while its function runs."""

    def __init__(self) -> None:
        self.nodes: list[StepNode] = []
        self._names: set[str] = set()
        self._pipelines: list[str] = []

    @contextmanager
    def building(self, pipeline: str) -> Iterator[GraphBuilder]:
        """Run a pipeline function (the outer one, or one it calls) under this builder.

        Raises:
            InvalidInput: the pipeline is already being built: it calls itself.
        """
        if pipeline in self._pipelines:
            cycle = [*self._pipelines[self._pipelines.index(pipeline) :], pipeline]
            raise InvalidInput(
                f"pipeline {pipeline!r} calls itself ({' -> '.join(cycle)}): a pipeline's graph "
                "cannot have cycles. Call its steps instead."
            )
        token = _current.set(self)
        self._pipelines.append(pipeline)
        try:
            yield self
        finally:
            self._pipelines.pop()
            _current.reset(token)

    def _unique_name(self, base: str) -> str:
        name, number = base, 2
        while name in self._names:
            name = f"{base}_{number}"
            number += 1
        self._names.add(name)
        return name

    def _encode(self, value: Any, upstream: set[str]) -> tuple[Any, bool]:
        """``value`` with handles replaced by refs; and whether it held any handle."""
        if isinstance(value, OutputHandle):
            if value._builder is not self:
                raise InvalidInput(
                    f"{value!r} comes from another pipeline run; a step's output can only be "
                    "passed to steps of the same pipeline."
                )
            upstream.add(value.ref.step)
            return value.ref, True
        if isinstance(value, list | tuple):
            items = [self._encode(item, upstream) for item in value]
            held = any(flag for _, flag in items)
            encoded = [item for item, _ in items]
            return (encoded if isinstance(value, list) else tuple(encoded)), held
        if isinstance(value, dict) and all(isinstance(key, str) for key in value):
            pairs = {key: self._encode(item, upstream) for key, item in value.items()}
            return {key: item for key, (item, _) in pairs.items()}, any(
                flag for _, flag in pairs.values()
            )
        return value, False

    def add_step(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Record a call of ``step``; return a handle per output (a tuple when several).

        Raises:
            InvalidInput: the arguments do not match the step's signature, or hold
                an input inside a value that is not JSON.
        """
        bound = bind_call(f"step {step.name!r}", step.name, step.signature, args, kwargs)
        bound.apply_defaults()
        name = self._unique_name(step.name)
        arguments: dict[str, Any] = {}
        params: dict[str, Any] = {}
        inputs: dict[str, Any] = {}
        constants: dict[str, Any] = {}
        upstream: set[str] = set()
        for argument, value in bound.arguments.items():
            encoded, held = self._encode(value, upstream)
            arguments[argument] = encoded
            if held:
                stored = to_stored(encoded)
                if not is_json_value(stored):
                    raise InvalidInput(
                        f"argument {argument!r} of step {name!r} mixes step outputs with values "
                        "that are not JSON; pass outputs directly, or in lists and dicts of them."
                    )
                inputs[argument] = stored
            elif is_json_value(value):
                params[argument] = value
            else:
                ref = OutputRef(CONSTANT_STEP, f"{name}.{argument}")
                arguments[argument] = ref
                inputs[argument] = ref.to_json()
                constants[ref.output] = value
        node = StepNode(
            name=name,
            step=step,
            position=len(self.nodes),
            arguments=arguments,
            params=params,
            inputs=inputs,
            constants=constants,
            depends_on=tuple(sorted(upstream)),
        )
        self.nodes.append(node)
        handles = tuple(
            OutputHandle(self, OutputRef(name, output)) for output in step.options.outputs
        )
        return handles[0] if len(handles) == 1 else handles


def bind_call(
    what: str,
    name: str,
    signature: inspect.Signature,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> inspect.BoundArguments:
    """Bind a call of a step or pipeline to its signature.

    Raises:
        InvalidInput: the arguments do not fit (the message shows the signature).
    """
    try:
        return signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise InvalidInput(
            f"{what} was called with arguments that do not match its signature "
            f"{name}{signature}: {exc}."
        ) from None


def to_stored(value: Any) -> Any:
    """An encoded argument (with ``OutputRef``s) in the JSON form stored in step rows."""
    if isinstance(value, OutputRef):
        return value.to_json()
    if isinstance(value, list | tuple):
        return [to_stored(item) for item in value]
    if isinstance(value, dict):
        return {key: to_stored(item) for key, item in value.items()}
    return value


def refs_in(value: Any) -> list[OutputRef]:
    """Every ``OutputRef`` inside an encoded argument, in order."""
    if isinstance(value, OutputRef):
        return [value]
    if isinstance(value, list | tuple):
        return [ref for item in value for ref in refs_in(item)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in refs_in(item)]
    return []


def resolve(value: Any, lookup: Any) -> Any:
    """An encoded argument with each ``OutputRef`` replaced by ``lookup(ref)``."""
    if isinstance(value, OutputRef):
        return lookup(value)
    if isinstance(value, list):
        return [resolve(item, lookup) for item in value]
    if isinstance(value, tuple):
        return tuple(resolve(item, lookup) for item in value)
    if isinstance(value, dict):
        return {key: resolve(item, lookup) for key, item in value.items()}
    return value


def call_arguments(
    signature: inspect.Signature, arguments: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword arguments for a function from bound argument values."""
    bound = inspect.BoundArguments(signature, arguments)
    return bound.args, bound.kwargs


def params_json(params: dict[str, Any]) -> str:
    """Canonical JSON of parameters (sorted keys), for digests."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
