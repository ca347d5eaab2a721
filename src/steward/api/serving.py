"""The records of deployments over HTTP: prediction-log segments and feedback labels.

A model server (``steward serve``) writes its prediction log to blobs and
indexes each segment here; labels that arrive later are joined by request
id. Readers (monitors, lineage) list segments and labels of a model.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from steward.api.endpoint import Endpoint, Repository
from steward.auth import Role
from steward.blobs.digest import parse_digest
from steward.errors import InvalidInput
from steward.store.serving import ServingStore
from steward.store.validation import check_name

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PREFIX = re.compile(r"[A-Za-z0-9._:-]{0,61}-")


def _check_place(arguments: dict[str, Any]) -> None:
    check_name("model", arguments["model"])
    parse_digest(arguments["blob_digest"])
    if not _DAY.fullmatch(arguments["day"]):
        raise InvalidInput("day must be a UTC date, YYYY-MM-DD.")


def _check_segment(arguments: dict[str, Any]) -> None:
    _check_place(arguments)
    if not arguments["requests"]:
        raise InvalidInput("a segment holds at least one request.")


def _check_range_segment(arguments: dict[str, Any]) -> None:
    _check_place(arguments)
    if not arguments["ranges"]:
        raise InvalidInput("a segment holds at least one range of requests.")
    for prefix, row_count, at in arguments["ranges"]:
        if not _PREFIX.fullmatch(prefix):
            raise InvalidInput(
                "a range's prefix is 1 to 62 letters, digits, '.', '_', ':' or '-', ending in '-'."
            )
        if not 1 <= row_count < 2**31:
            raise InvalidInput("a range holds 1 to 2**31 - 1 requests.")
        if not 0 <= at < 2**63:
            raise InvalidInput("at is milliseconds since the epoch, not negative.")


_serving = partial(Endpoint, "serving")
_read, _write = Role.VIEWER, Role.EDITOR

SERVING = Repository(
    "serving",
    (
        _serving(
            ServingStore.add_segment, "POST", "/prediction-segments", _write, _check_segment, 201
        ),
        _serving(
            ServingStore.add_range_segment,
            "POST",
            "/prediction-segments/ranges",
            _write,
            _check_range_segment,
            201,
        ),
        _serving(ServingStore.list_segments, "GET", "/prediction-segments", _read),
        _serving(ServingStore.known_requests, "POST", "/prediction-requests/known", _read),
        _serving(ServingStore.add_feedback, "POST", "/prediction-feedback", _write),
        _serving(ServingStore.feedback, "GET", "/prediction-feedback", _read),
    ),
)
