"""Checks on names and values before anything is written."""

from __future__ import annotations

import numbers
import re

from steward.errors import Conflict, InvalidInput
from steward.paths import normalise_relative_path

NAME_LENGTH = 250
PARAM_VALUE_LENGTH = 6000
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_\-. /:@]+$")


def check_name(kind: str, value: object) -> str:
    """Validate an experiment, run, param, metric or tag name and return it.

    Names are 1-250 characters of letters, digits, ``_ - . / : @`` and spaces,
    with no leading or trailing space and no ``..`` path segment.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{kind} name must be a string, got {type(value).__name__}.")
    if not value or len(value) > NAME_LENGTH:
        raise InvalidInput(f"{kind} name must be 1-{NAME_LENGTH} characters, got {len(value)}.")
    if not _NAME_PATTERN.match(value) or value != value.strip():
        raise InvalidInput(
            f"{kind} name {value!r} is invalid: use letters, digits, spaces and _ - . / : @ "
            "(no leading or trailing spaces)."
        )
    if ".." in value.split("/") or value.startswith("/"):
        raise InvalidInput(
            f"{kind} name {value!r} must not contain '..' segments or start with '/'."
        )
    return value


def check_metric_value(key: str, value: object) -> float:
    """Return a metric value as float; NaN and ±inf are kept, non-numbers refused."""
    if type(value) is float:  # the common cases, without the slower ABC check below
        return value
    if type(value) is int:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(
            f"metric {key!r} must be a number, got {type(value).__name__} {value!r:.60}."
        )
    return float(value)


def check_step(key: str, step: object) -> int:
    """Return a metric step as int, refusing non-integers."""
    if type(step) is int:  # the common case, without the slower ABC check below
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(f"step of metric {key!r} must be an integer, got {step!r:.60}.")
    return int(step)


def check_param_value(key: str, value: object) -> str:
    """Return a param value as its string form, refusing over-long values."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > PARAM_VALUE_LENGTH:
        raise InvalidInput(
            f"param {key!r} is {len(text)} characters long; the limit is {PARAM_VALUE_LENGTH}. "
            "Log long values as an artifact instead."
        )
    if "\x00" in text:
        raise InvalidInput(f"param {key!r} contains a NUL byte.")
    return text


def param_conflict(run_id: str, key: str, logged: str, refused: str) -> Conflict:
    """The error for a param logged again with another value (params are immutable)."""
    return Conflict(
        f"param {key!r} of run {run_id} is already {logged!r}; params are immutable, "
        f"so {refused!r} was refused. Log it under another name or in a new run."
    )


def check_tag_value(key: str, value: object) -> str:
    """Return a tag value as its string form."""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise InvalidInput(f"tag {key!r} contains a NUL byte.")
    return text


def check_artifact_path(path: str) -> str:
    """Normalise an artifact path and refuse any that would leave the run's folder.

    Refused: empty paths, absolute paths, NUL bytes, backslashes and ``..``
    segments. Returns the path with ``.`` segments and duplicate slashes removed
    (see ``steward.paths.normalise_relative_path``).
    """
    return normalise_relative_path(path, "artifact path")
