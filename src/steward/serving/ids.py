"""Request ids: ULIDs, sortable by time, one per predicted row."""

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


def new_request_ids(count: int) -> list[str]:
    """``count`` new ULIDs (26 characters: 48 bits of milliseconds, 80 random bits)."""
    prefix = _encode(int(time.time() * 1000), 10)
    randomness = os.urandom(10 * count)
    return [
        prefix + _encode(int.from_bytes(randomness[i * 10 : (i + 1) * 10], "big"), 16)
        for i in range(count)
    ]
