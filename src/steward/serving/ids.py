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
    import numpy as np

    prefix = _encode(int(time.time() * 1000), 10)
    if count == 1:
        return [prefix + _encode(int.from_bytes(os.urandom(10), "big"), 16)]
    # The random parts of many ids at once: each id's 80 bits as 16 groups of 5.
    bits = np.unpackbits(np.frombuffer(os.urandom(10 * count), dtype=np.uint8))
    groups = bits.reshape(count * 16, 5) @ np.array([16, 8, 4, 2, 1], dtype=np.uint8)
    text = np.frombuffer(_ALPHABET.encode(), dtype=np.uint8)[groups].tobytes().decode()
    return [prefix + text[i : i + 16] for i in range(0, 16 * count, 16)]
