"""Request ids: one range per answered row group, ``<ULID>-0`` … ``<ULID>-<n - 1>``.

A group of rows that one model version answers gets one ULID (sortable by
time, 80 random bits) and numbers its rows from 0, the form batch scoring's
ids have. The prediction log then indexes the group as one range (a prefix
and a count) rather than one row per id; an id gets its own index row only
when a label arrives for it.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_request_prefix() -> str:
    """A new range's prefix: a ULID (48 bits of milliseconds, 80 random bits) and ``-``."""
    millis = _encode(int(time.time() * 1000), 10)
    return millis + _encode(int.from_bytes(os.urandom(10), "big"), 16) + "-"


def new_request_ids(count: int) -> list[str]:
    """``count`` new request ids, one range: ``<ULID>-0`` to ``<ULID>-<count - 1>``."""
    prefix = new_request_prefix()
    return [f"{prefix}{number}" for number in range(count)]


def request_ranges(request_ids: list[str]) -> list[tuple[str, int]]:
    """The ranges ``(prefix, count)`` that ``request_ids`` fill, each wholly, in any order.

    Raises:
        ValueError: an id is not of a range's form, or a range has gaps or repeats (ids
            made by ``new_request_ids`` always fill their ranges).
    """
    if not request_ids:
        return []
    head = request_ids[0].rpartition("-")[0]
    prefix = head + "-"
    if head and request_ids == [f"{prefix}{number}" for number in range(len(request_ids))]:
        return [(prefix, len(request_ids))]  # one range in order: a group's own entry
    numbers: dict[str, set[str]] = {}
    for request_id in request_ids:
        head, dash, number = request_id.rpartition("-")
        if not dash or not head:
            raise ValueError(f"request id {request_id!r} is not of the form <prefix>-<number>")
        numbers.setdefault(head + dash, set()).add(number)
    ranges = [(head, len(found)) for head, found in numbers.items()]
    if sum(count for _, count in ranges) != len(request_ids) or any(
        numbers[head] != {str(number) for number in range(count)} for head, count in ranges
    ):
        raise ValueError("request ids must fill their ranges, each numbered from 0 without gaps")
    return ranges
