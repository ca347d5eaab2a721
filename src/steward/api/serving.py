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


def _check_where(arguments: dict[str, Any]) -> None:
    check_name("model", arguments["model"])
    parse_digest(arguments["blob_digest"])
    if not _DAY.fullmatch(arguments["day"]):
        raise InvalidInput("day must be a UTC date, YYYY-MM-DD.")


def _check_segment(arguments: dict[str, Any]) -> None:
    _check_where(arguments)
    if not arguments["requests"]:
        raise InvalidInput("a segment holds at least one request.")


def _check_range_segment(arguments: dict[str, Any]) -> None:
    _check_where(arguments)
    if arguments["row_count"] < 1 or not arguments["prefix"]:
        raise InvalidInput("a range segment holds at least one request under a prefix.")


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
