"""JSON encoding, decoding and JSON Schema of typed values, driven by type hints.

The client and the server of the REST API both speak through this module, so a
record (a frozen dataclass or NamedTuple from the stores) crosses the wire and
comes back as the same record. Decoding is strict because request bodies may
be hostile: unknown fields, wrong types, integers past 64 bits, NUL bytes in
strings and non-UTC times are refused with ``InvalidInput`` naming the field.

Floats keep NaN and the infinities as the strings ``"NaN"``, ``"Infinity"``
and ``"-Infinity"`` (JSON has no literal for them). Times are ISO 8601 with
an offset and decode to aware UTC datetimes. NamedTuples travel as arrays
(metric points go by the ten thousand); dataclasses as objects.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, Union

from steward.errors import InvalidInput
from steward.store.records import record_builder

Decoder = Callable[[Any, str], Any]
Encoder = Callable[[Any], Any]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_FLOAT_NAMES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_LIST_ORIGINS = {list, Sequence, Iterable, set, frozenset, typing.Sequence, typing.Iterable}
_DICT_ORIGINS = {dict, Mapping, typing.Mapping}


def _refuse(where: str, expected: str, value: Any) -> InvalidInput:
    shown = type(value).__name__ if not isinstance(value, str | int | float) else repr(value)
    return InvalidInput(f"{where}: expected {expected}, got {shown[:60]}.")


def _is_named_tuple(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields")


def _is_optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType) and type(None) in typing.get_args(
        hint
    )


@cache
def field_hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of a dataclass's or NamedTuple's fields."""
    return typing.get_type_hints(cls)


# -- decoding -------------------------------------------------------------------------


def _decode_str(value: Any, where: str) -> str:
    if type(value) is not str:
        raise _refuse(where, "a string", value)
    if "\x00" in value:
        raise InvalidInput(f"{where}: contains a NUL character.")
    return value


def _decode_int(value: Any, where: str) -> int:
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        raise _refuse(where, "a 64-bit integer", value)
    return value


def _decode_float(value: Any, where: str) -> float:
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        return float(value)
    if kind is str and value in _FLOAT_NAMES:
        return _FLOAT_NAMES[value]
    raise _refuse(where, "a number (or 'NaN', 'Infinity', '-Infinity')", value)


def _decode_bool(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise _refuse(where, "true or false", value)
    return value


def _decode_datetime(value: Any, where: str) -> datetime:
    if type(value) is not str:
        raise _refuse(where, "an ISO 8601 time", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _refuse(where, "an ISO 8601 time", value) from exc
    if parsed.tzinfo is None:
        raise InvalidInput(f"{where}: the time {value!r} needs a UTC offset (e.g. 'Z').")
    return parsed.astimezone(UTC)


def _decode_any(value: Any, where: str) -> Any:
    return value


_SCALAR_DECODERS: dict[Any, Decoder] = {
    str: _decode_str,
    int: _decode_int,
    float: _decode_float,
    bool: _decode_bool,
    datetime: _decode_datetime,
    Any: _decode_any,
    object: _decode_any,
}


@cache
def decoder_for(hint: Any) -> Decoder:
    """A function decoding JSON data of type ``hint`` (raises InvalidInput naming the field)."""
    if hint in _SCALAR_DECODERS:
        return _SCALAR_DECODERS[hint]
    if hint is None or hint is type(None):
        return _decode_none
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return _union_decoder(args)
    if origin is typing.Literal:
        return _literal_decoder(args)
    if origin in _LIST_ORIGINS or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        item_hint = args[0] if args else Any
        slow = _list_decoder(decoder_for(item_hint), origin)
        if origin not in (set, frozenset, tuple) and _scalar_fields(item_hint):
            return _rows_decoder(item_hint, slow)
        return slow
    if origin is tuple:
        return _tuple_decoder(tuple(decoder_for(arg) for arg in args))
    if origin in _DICT_ORIGINS:
        value_hint = args[1] if args else Any
        return _dict_decoder(decoder_for(value_hint), value_hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_decoder(hint)
    if _is_named_tuple(hint):
        return _named_tuple_decoder(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _dataclass_decoder(hint)
    raise TypeError(f"no JSON decoding for {hint!r}")


def _decode_none(value: Any, where: str) -> None:
    if value is not None:
        raise _refuse(where, "null", value)


def _union_decoder(args: tuple[Any, ...]) -> Decoder:
    optional = type(None) in args
    choices = [decoder_for(arg) for arg in args if arg is not type(None)]
    if len(choices) == 1:
        only = choices[0]
        return lambda value, where: None if value is None else only(value, where)

    def decode(value: Any, where: str) -> Any:
        if value is None and optional:
            return None
        for choice in choices:
            try:
                return choice(value, where)
            except InvalidInput:
                continue
        raise _refuse(where, " or ".join(str(arg) for arg in args), value)

    return decode


def _literal_decoder(allowed: tuple[Any, ...]) -> Decoder:
    def decode(value: Any, where: str) -> Any:
        if value not in allowed or type(value) not in {type(item) for item in allowed}:
            raise _refuse(where, f"one of {list(allowed)}", value)
        return value

    return decode


def _scalar_fields(hint: Any) -> list[Any] | None:
    """The field types of a NamedTuple whose fields are all str, int or float, else None."""
    if not _is_named_tuple(hint):
        return None
    types_ = [field_hints(hint)[name] for name in hint._fields]
    return types_ if all(kind in (str, int, float) for kind in types_) else None


def _column_ok(rows: list[Any], index: int, kind: Any) -> bool:
    if kind is str:
        return _clean_strings([row[index] for row in rows])
    if kind is int:
        return all(type(row[index]) is int and INT64_MIN <= row[index] <= INT64_MAX for row in rows)
    return all(type(row[index]) is float for row in rows)


def _rows_decoder(cls: Any, slow: Decoder) -> Decoder:
    """Arrays of scalar NamedTuples (metric points) checked a column at a time: one
    pass per field instead of a call per value. Anything unusual (a missing
    field, ``"NaN"``, an int where a float goes) takes the general path."""
    kinds = _scalar_fields(cls) or []
    width = len(kinds)
    make = cls._make

    def decode(value: Any, where: str) -> Any:
        if (
            type(value) is list
            and all(type(row) is list and len(row) == width for row in value)
            and all(_column_ok(value, index, kind) for index, kind in enumerate(kinds))
        ):
            return list(map(make, value))
        return slow(value, where)

    return decode


def _list_decoder(item: Decoder, origin: Any) -> Decoder:
    collect = {set: set, frozenset: frozenset, tuple: tuple}.get(origin, list)

    def decode(value: Any, where: str) -> Any:
        if type(value) is not list:
            raise _refuse(where, "an array", value)
        items = [item(element, f"{where}[{index}]") for index, element in enumerate(value)]
        return items if collect is list else collect(items)

    return decode


def _tuple_decoder(items: tuple[Decoder, ...]) -> Decoder:
    def decode(value: Any, where: str) -> tuple[Any, ...]:
        if type(value) is not list or len(value) != len(items):
            raise _refuse(where, f"an array of {len(items)} items", value)
        return tuple(
            decode_item(element, f"{where}[{index}]")
            for index, (decode_item, element) in enumerate(zip(items, value, strict=True))
        )

    return decode


def _clean_strings(strings: Collection[Any]) -> bool:
    """Whether every item is exactly a ``str``, without a NUL (passes in C, no call per item)."""
    return not strings or (set(map(type, strings)) == {str} and "\x00" not in "".join(strings))


def _plain_values(value: dict[str, Any], kind: Any) -> bool:
    """Whether a dict's keys are clean strings and its values all of ``kind`` already."""
    if not _clean_strings(value):
        return False
    if kind is str:
        return _clean_strings(value.values())
    return all(type(item) is kind for item in value.values())


def _dict_decoder(item: Decoder, value_hint: Any = Any) -> Decoder:
    fast = value_hint in (str, float)  # params, tags, latest metrics: checked in one pass

    def decode(value: Any, where: str) -> dict[str, Any]:
        if type(value) is not dict:
            raise _refuse(where, "an object", value)
        if fast and _plain_values(value, value_hint):
            return value
        return {
            _decode_str(key, f"{where} key"): item(element, f"{where}.{key}")
            for key, element in value.items()
        }

    return decode


def _enum_decoder(cls: type[enum.Enum]) -> Decoder:
    def decode(value: Any, where: str) -> enum.Enum:
        try:
            return cls(value)
        except ValueError as exc:
            raise _refuse(where, f"one of {[member.value for member in cls]}", value) from exc

    return decode


def _fields_decoder(cls: type, names: Sequence[str], required: set[str]) -> Decoder:
    hints = field_hints(cls)
    decoders = {name: decoder_for(hints[name]) for name in names}

    known = frozenset(decoders)
    # Fields of text (``str`` or ``str | None``) are checked together, in one join;
    # the others each by their decoder.
    texts = frozenset(name for name in names if hints[name] is str)
    optional_texts = frozenset(name for name in names if hints[name] == str | None)
    others = [
        (name, decoders[name]) for name in names if name not in texts and name not in optional_texts
    ]

    def from_object(value: dict[str, Any], where: str) -> dict[str, Any]:
        fields = value.keys()
        if fields <= known and fields >= required:
            # The usual case costs no per-field message: a value that fails is decoded
            # again below, naming its field.
            try:
                if _clean_strings(
                    [
                        item
                        for name, item in value.items()
                        if name in texts or (item is not None and name in optional_texts)
                    ]
                ):
                    decoded = dict(value)
                    for name, decode in others:
                        if name in decoded:
                            decoded[name] = decode(decoded[name], where)
                    return decoded
            except InvalidInput:
                pass
        unknown = set(value) - set(decoders)
        if unknown:
            raise InvalidInput(f"{where}: unknown field(s) {sorted(unknown)[:5]}.")
        missing = required - set(value)
        if missing:
            raise InvalidInput(f"{where}: missing field(s) {sorted(missing)}.")
        return {name: decoders[name](element, f"{where}.{name}") for name, element in value.items()}

    return from_object


def _named_tuple_decoder(cls: type) -> Decoder:
    names: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    defaults = getattr(cls, "_field_defaults", {})
    required = {name for name in names if name not in defaults}
    from_object = _fields_decoder(cls, names, required)
    hints = field_hints(cls)
    positional = [decoder_for(hints[name]) for name in names]
    low = len(required)

    def decode(value: Any, where: str) -> Any:
        if type(value) is list:
            if not low <= len(value) <= len(names):
                raise _refuse(where, f"an array of {low}-{len(names)} items", value)
            return cls(
                *[item(element, where) for item, element in zip(positional, value, strict=False)]
            )
        if type(value) is dict:
            return cls(**from_object(value, where))
        raise _refuse(where, "an array or object", value)

    return decode


def _dataclass_decoder(cls: type) -> Decoder:
    fields = [field for field in dataclasses.fields(cls) if field.init]
    required = {
        field.name
        for field in fields
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    }
    from_object = _fields_decoder(cls, [field.name for field in fields], required)
    build: Callable[[dict[str, Any]], Any] = record_builder(cls)

    def decode(value: Any, where: str) -> Any:
        if type(value) is not dict:
            raise _refuse(where, "an object", value)
        return build(from_object(value, where))

    return decode


def decode(value: Any, hint: Any, where: str = "body") -> Any:
    """Decode parsed JSON ``value`` as type ``hint``.

    Raises:
        InvalidInput: the value does not fit the type (the message names ``where``).
    """
    return decoder_for(hint)(value, where)


# -- encoding -------------------------------------------------------------------------


def _encode_float(value: Any) -> Any:
    if value != value or value in (math.inf, -math.inf):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return value


def _encode_any(value: Any) -> Any:
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, dict):
        return {str(key): _encode_any(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode_any(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _identity(value: Any) -> Any:
    return value


def _encode_float_values(value: Mapping[str, float]) -> dict[str, Any]:
    """A dict of floats, copied as is unless a value is NaN or infinite."""
    if all(math.isfinite(number) for number in value.values()):
        return dict(value)
    return {key: _encode_float(number) for key, number in value.items()}


def _rows_encoder(kinds: list[Any]) -> Encoder:
    """Scalar NamedTuples (metric points) to arrays, fixing only non-finite floats."""
    floats = [index for index, kind in enumerate(kinds) if kind is float]

    def encode(value: Any) -> Any:
        rows = [list(row) for row in value]
        for index in floats:
            for row in rows:
                number = row[index]
                if number != number or number in (math.inf, -math.inf):
                    row[index] = _encode_float(number)
        return rows

    return encode


@cache
def encoder_for(hint: Any) -> Encoder:
    """A function turning a value of type ``hint`` into plain JSON data."""
    if hint in (str, int, bool) or hint is None or hint is type(None):
        return _identity
    if hint is float:
        return _encode_float
    if hint is datetime:
        return lambda value: value.isoformat()
    if hint in (Any, object):
        return _encode_any
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        choices = [arg for arg in args if arg is not type(None)]
        if len(choices) == 1:
            only = encoder_for(choices[0])
            return lambda value: None if value is None else only(value)
        return _encode_any
    if origin is typing.Literal:
        return _identity
    if origin in _LIST_ORIGINS or origin is tuple:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            encoders = [encoder_for(arg) for arg in args]
            return lambda value: [
                encode(item) for encode, item in zip(encoders, value, strict=False)
            ]
        item_hint = args[0] if args else Any
        if _scalar_fields(item_hint):
            return _rows_encoder(_scalar_fields(item_hint) or [])
        item = encoder_for(item_hint)
        if item is _identity:
            return list
        return lambda value: [item(element) for element in value]
    if origin in _DICT_ORIGINS:
        item = encoder_for(args[1] if args else Any)
        if item is _identity:
            return dict
        if item is _encode_float:
            return _encode_float_values
        return lambda value: {key: item(element) for key, element in value.items()}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda value: value.value
    if _is_named_tuple(hint):
        encoders = [encoder_for(field_hints(hint)[name]) for name in hint._fields]
        return lambda value: [encode(item) for encode, item in zip(encoders, value, strict=False)]
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = field_hints(hint)
        pairs = [(f.name, encoder_for(hints[f.name])) for f in dataclasses.fields(hint)]
        return lambda value: {name: encode(getattr(value, name)) for name, encode in pairs}
    raise TypeError(f"no JSON encoding for {hint!r}")


def encode(value: Any, hint: Any) -> Any:
    """Turn ``value`` of type ``hint`` into plain JSON data (NaN as ``"NaN"``…)."""
    return encoder_for(hint)(value)


def to_json(value: Any, hint: Any) -> bytes:
    """``value`` of type ``hint`` as JSON bytes, the same bytes as ``encode`` then orjson.

    orjson writes dataclasses, times (ISO 8601, as ``isoformat``), enums, lists and
    string-keyed dicts itself, many times faster than ``encode`` rebuilds them; only
    a non-finite float comes out differently (orjson writes ``null``). So a value
    whose type orjson handles alike, and whose floats are all finite, goes to orjson
    as it is; any other goes through ``encode``.
    """
    import orjson

    native = _native_check(hint)
    if native is _ALWAYS or (native is not None and _passes(native, value)):
        return orjson.dumps(value)
    return orjson.dumps(encoder_for(hint)(value))


NativeCheck = Callable[[Any], bool]


def _always(value: Any) -> bool:
    return True


_ALWAYS: NativeCheck = _always
_NATIVE_SCALARS = (str, int, bool, datetime, type(None), None)


def _passes(check: NativeCheck, value: Any) -> bool:
    try:
        return check(value)
    except (TypeError, AttributeError):  # not the declared type: let ``encode`` say so
        return False


def _finite(value: Any) -> bool:
    return math.isfinite(value)


@cache
def _native_check(hint: Any) -> NativeCheck | None:
    """How to tell that orjson writes a value of ``hint`` as ``encode`` would: ``_ALWAYS``,
    a check of the value, or None (never: NamedTuples, sets, ``Any``...)."""
    if hint in _NATIVE_SCALARS:
        return _ALWAYS
    if hint is float:
        return _finite
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _ALWAYS if all(type(m.value) in (str, int) for m in hint) else None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        choices = [arg for arg in args if arg is not type(None)]
        only = _native_check(choices[0]) if len(choices) == 1 else None
        if only is None or only is _ALWAYS:
            return only
        return lambda value: value is None or only(value)
    if origin is typing.Literal:
        return _ALWAYS
    if origin in (list, Sequence, typing.Sequence) and args:
        items = _native_check(args[0])
        if items is None:
            return None
        if items is _ALWAYS:
            return lambda value: type(value) in (list, tuple)
        each: NativeCheck = items
        return lambda value: type(value) in (list, tuple) and all(map(each, value))
    if origin in _DICT_ORIGINS and args:
        values = _native_check(args[1])
        if values is None:
            return None
        if values is _ALWAYS:
            return lambda value: type(value) is dict
        every: NativeCheck = values
        return lambda value: type(value) is dict and all(map(every, value.values()))
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = field_hints(hint)
        checks = [(f.name, _native_check(hints[f.name])) for f in dataclasses.fields(hint)]
        pending: list[tuple[str, NativeCheck]] = []
        for name, check in checks:
            if check is None:
                return None
            if check is not _ALWAYS:
                pending.append((name, check))
        # Exactly the class: a subclass may hold fields that ``encode`` leaves out.
        return lambda value: (
            type(value) is hint and all(check(getattr(value, name)) for name, check in pending)
        )
    return None


# -- JSON Schema ---------------------------------------------------------------------------

_FLOAT_SCHEMA = {"anyOf": [{"type": "number"}, {"enum": list(_FLOAT_NAMES)}]}
_SCALAR_SCHEMAS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX},
    float: _FLOAT_SCHEMA,
    bool: {"type": "boolean"},
    datetime: {"type": "string", "format": "date-time"},
    Any: {},
    object: {},
}


def json_schema(hint: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of ``hint``; records go into ``components`` and are referenced."""
    if hint in _SCALAR_SCHEMAS:
        return dict(_SCALAR_SCHEMAS[hint])
    if hint is None or hint is type(None):
        return {"type": "null"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return {"anyOf": [json_schema(arg, components) for arg in args]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in _LIST_ORIGINS or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        return {"type": "array", "items": json_schema(args[0] if args else Any, components)}
    if origin is tuple:
        items = [json_schema(arg, components) for arg in args]
        return {"type": "array", "prefixItems": items, "minItems": len(args), "maxItems": len(args)}
    if origin in _DICT_ORIGINS:
        values = json_schema(args[1] if args else Any, components)
        return {"type": "object", "additionalProperties": values}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [member.value for member in hint]}
    if _is_named_tuple(hint) or (dataclasses.is_dataclass(hint) and isinstance(hint, type)):
        return _record_schema(hint, components)
    raise TypeError(f"no JSON schema for {hint!r}")


def object_schema(
    hints: Mapping[str, Any], required: Iterable[str], components: dict[str, Any]
) -> dict[str, Any]:
    """The schema of an object with the given fields (unknown fields refused)."""
    return {
        "type": "object",
        "properties": {name: json_schema(hint, components) for name, hint in hints.items()},
        "required": sorted(required),
        "additionalProperties": False,
    }


def _record_schema(cls: type, components: dict[str, Any]) -> dict[str, Any]:
    name = cls.__name__
    if name not in components:
        components[name] = {}  # placeholder against recursion
        hints = field_hints(cls)
        if _is_named_tuple(cls):
            fields = cls._fields  # type: ignore[attr-defined]
            components[name] = {
                "type": "array",
                "description": f"[{', '.join(fields)}]",
                "prefixItems": [json_schema(hints[field], components) for field in fields],
                "minItems": len(fields),
                "maxItems": len(fields),
            }
        else:
            fields = [field for field in dataclasses.fields(cls) if field.init]
            required = [
                field.name
                for field in fields
                if field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ]
            components[name] = object_schema(
                {field.name: hints[field.name] for field in fields}, required, components
            )
    return {"$ref": f"#/components/schemas/{name}"}


def is_optional(hint: Any) -> bool:
    """Whether ``hint`` admits None."""
    return hint is None or hint is type(None) or hint is Any or _is_optional(hint)
