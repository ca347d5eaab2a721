"""Content digests: how a blob is named.

A digest is written ``"<algorithm>:<hex>"`` so the algorithm is always
recorded beside the value. ``blake3`` is the default (several GB/s);
``sha256`` is available where a standard digest is required.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path
from typing import BinaryIO, Protocol

from steward.blobs.files import temp_beside
from steward.errors import IntegrityError, InvalidInput, NotFound

ALGORITHMS = ("blake3", "sha256")
DEFAULT_ALGORITHM = "blake3"
_DIGEST_PATTERN = re.compile(r"^(blake3|sha256):([0-9a-f]{64})$")
CHUNK_SIZE = 1 << 20
PARALLEL_HASH_MIN = 4 << 20
"""Inputs at least this large are hashed with several threads (blake3 only)."""


class Hasher(Protocol):
    """The part of a hashlib-like object that Steward uses."""

    def update(self, data: bytes, /) -> object:
        """Feed bytes."""

    def hexdigest(self) -> str:
        """Return the hex digest."""


def new_hasher(algorithm: str, parallel: bool = False) -> Hasher:
    """Return a fresh incremental hasher for ``algorithm``.

    Args:
        algorithm: ``blake3`` or ``sha256``.
        parallel: let blake3 spread large inputs over all cores. Worth it for
            one large input; for small ones (or many hashed side by side) the
            thread hand-offs cost more than they save.
    """
    if algorithm == "blake3":
        from blake3 import blake3

        return blake3(max_threads=blake3.AUTO) if parallel else blake3()
    if algorithm == "sha256":
        return hashlib.sha256()
    raise InvalidInput(f"unknown digest algorithm {algorithm!r}; use one of {ALGORITHMS}.")


def format_digest(algorithm: str, hex_value: str) -> str:
    """Join an algorithm and a hex value into a digest string."""
    return f"{algorithm}:{hex_value}"


def is_digest(text: object) -> bool:
    """Whether ``text`` is a well-formed digest string."""
    return isinstance(text, str) and _DIGEST_PATTERN.fullmatch(text) is not None


def parse_digest(digest: str) -> tuple[str, str]:
    """Split a digest string into (algorithm, hex), validating both.

    Raises:
        InvalidInput: if the string is not ``blake3:<64 hex>`` or ``sha256:<64 hex>``.
    """
    match = _DIGEST_PATTERN.fullmatch(digest) if isinstance(digest, str) else None
    if match is None:
        raise InvalidInput(
            f"{digest!r} is not a blob digest; expected '<blake3|sha256>:<64 lowercase hex>'."
        )
    return match.group(1), match.group(2)


def _hex_digest(data: bytes | memoryview, algorithm: str) -> str:
    hasher = new_hasher(algorithm, parallel=len(data) >= PARALLEL_HASH_MIN)
    hasher.update(data)  # type: ignore[arg-type]  # blake3 and hashlib take any buffer
    return hasher.hexdigest()


def digest_bytes(data: bytes | memoryview, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """Digest of in-memory bytes."""
    return format_digest(algorithm, _hex_digest(data, algorithm))


def digest_file(path: str, algorithm: str = DEFAULT_ALGORITHM) -> tuple[str, int]:
    """Digest and size of a local file, read in streaming chunks."""
    size = 0
    with open(path, "rb") as handle:
        hasher = new_hasher(
            algorithm, parallel=os.fstat(handle.fileno()).st_size >= PARALLEL_HASH_MIN
        )
        while chunk := handle.read(CHUNK_SIZE):
            hasher.update(chunk)
            size += len(chunk)
    return format_digest(algorithm, hasher.hexdigest()), size


def digest_local_file(path: str | os.PathLike[str], algorithm: str) -> tuple[Path, str, int]:
    """A local file about to be stored: its path, digest and size.

    Raises:
        NotFound: no such file.
    """
    source = Path(path)
    if not source.is_file():
        raise NotFound(f"cannot store {source}: no such file.")
    digest, size = digest_file(str(source), algorithm)
    return source, digest, size


def verify_digest(digest: str, actual_hex: str, where: str) -> None:
    """Raise IntegrityError unless ``actual_hex`` is the hex part of ``digest``.

    Args:
        digest: the digest the content is stored under.
        actual_hex: the hex digest of the content as read.
        where: the store's URL, for the message.
    """
    _, expected = parse_digest(digest)
    if expected != actual_hex:
        raise IntegrityError(
            f"blob {digest} in {where} is corrupted: its content now hashes to {actual_hex}. "
            "Restore it from a remote copy or log the object again."
        )


def check_bytes(data: bytes | memoryview, digest: str, where: str) -> None:
    """Raise IntegrityError unless ``data`` hashes to ``digest``.

    Args:
        data: the content as read.
        digest: the digest it is stored under.
        where: the store's URL, for the message.
    """
    algorithm, _ = parse_digest(digest)
    verify_digest(digest, _hex_digest(data, algorithm), where)


def copy_hashing(reader: BinaryIO, writer: BinaryIO, hasher: Hasher) -> int:
    """Copy ``reader`` to ``writer``, feeding every byte to ``hasher``; return the size."""
    size = 0
    while chunk := reader.read(CHUNK_SIZE):
        hasher.update(chunk)
        writer.write(chunk)
        size += len(chunk)
    return size


def write_verified(reader: BinaryIO, writer: BinaryIO, digest: str, where: str) -> int:
    """Copy ``reader`` to ``writer`` while checking the bytes against ``digest``.

    Returns:
        The number of bytes copied.

    Raises:
        IntegrityError: the bytes do not hash to ``digest`` (the caller
            discards what was written).
    """
    algorithm, _ = parse_digest(digest)
    hasher = new_hasher(algorithm)
    size = copy_hashing(reader, writer, hasher)
    verify_digest(digest, hasher.hexdigest(), where)
    return size


def copy_verified(
    reader: BinaryIO, destination: str | os.PathLike[str], digest: str, where: str
) -> Path:
    """Stream ``reader`` into ``destination`` while checking it against ``digest``.

    The destination appears only once whole and verified (temp file + rename);
    its folder is created if needed.

    Raises:
        IntegrityError: the content does not hash to ``digest`` (nothing is written).
    """
    target = os.fspath(destination)
    temp = temp_beside(target)
    try:
        writer = open(temp, "xb")  # noqa: SIM115  # closed below, before the rename
    except FileNotFoundError:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        writer = open(temp, "xb")  # noqa: SIM115
    try:
        with writer:
            write_verified(reader, writer, digest, where)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return Path(target)
