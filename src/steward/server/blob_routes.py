"""Blob and ref routes: streamed, resumable, digest-verified, contained.

No route holds a whole blob in memory: uploads stream to a staging file
(hashed as they arrive) and enter the store only once their digest checks;
downloads stream from the store and honour ``Range: bytes=N-`` so an
interrupted download resumes. Large uploads go in chunks through an upload
session (``POST /blob-uploads``, ``PATCH`` with ``Upload-Offset``, ``GET``
for the offset reached, ``PUT ?digest=`` to finish), so a dropped
connection costs one chunk, not the file.

Every name taken from a path (digest, upload id, ref key) is decoded once
(by the server), normalised, and checked before it touches a file: digests
must match ``<algorithm>:<64 hex>``, upload ids 32 hex digits, ref keys
clean relative paths (no ``..``, backslash, NUL, or segment that would
decode again to ``.`` or ``..``).
"""

from __future__ import annotations

import posixpath
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from steward.auth import Principal, Role
from steward.blobs.base import check_ref_key
from steward.blobs.digest import CHUNK_SIZE, new_hasher, parse_digest
from steward.errors import Conflict, InvalidInput, NotFound
from steward.server.routes import API_PREFIX, parse_json_body
from steward.server.security import Authenticator, access

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.workspace import Workspace

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_RANGE = re.compile(r"^bytes=(\d{1,19})-(\d{0,19})$")
OFFSET_HEADER = "upload-offset"
STALE_SESSION_S = 24 * 3600.0
"""Upload sessions untouched this long are dropped when the server starts."""


def contained_ref_key(raw: str) -> str:
    """A ref key from a URL path, refused unless it is a clean relative path.

    The server has decoded the path once; the key must already be in normal
    form, and stay so (no ``.``/``..`` segment, no leading ``/``, no NUL) even
    if some layer decoded it once or twice more (``%2e%2e``, ``%252e%252e``).

    Raises:
        InvalidInput: the key is not a contained relative path.
    """
    refused = InvalidInput(f"ref key {raw[:100]!r} is not a clean relative path.")
    if not raw or "\\" in raw or any(ord(char) < 32 for char in raw):
        raise refused
    if posixpath.normpath(raw) != raw or raw.startswith("/"):
        raise refused
    # Were some layer to decode the key again (twice, even), it must still stay inside.
    decoded = unquote(unquote(raw)).replace("\\", "/")
    segments = decoded.split("/")
    if decoded.startswith("/") or "\x00" in decoded or any(s in (".", "..") for s in segments):
        raise refused
    return check_ref_key(raw)


def upload_id_of(raw: str) -> str:
    """A checked upload session id.

    Raises:
        NotFound: not the form of an id this server issues.
    """
    if not _UPLOAD_ID.fullmatch(raw):
        raise NotFound("no such upload session.")
    return raw


class BlobService:
    """The blob store of a workspace, served: staging folder and upload sessions."""

    def __init__(self, workspace: Workspace, staging: Path) -> None:
        self.workspace = workspace
        self.staging = staging
        staging.mkdir(parents=True, exist_ok=True)
        self.drop_stale_sessions()

    def drop_stale_sessions(self, max_age_s: float = STALE_SESSION_S) -> int:
        """Remove upload sessions untouched for ``max_age_s`` (abandoned); return how many."""
        cutoff = time.time() - max_age_s
        dropped = 0
        for path in self.staging.iterdir():
            if _UPLOAD_ID.fullmatch(path.name) and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                Path(f"{path}.owner").unlink(missing_ok=True)
                dropped += 1
        return dropped

    def session_path(self, upload_id: str, principal: Principal) -> Path:
        """The staging file of an upload session the caller owns.

        Raises:
            NotFound: no such session, or another user's.
        """
        path = self.staging / upload_id_of(upload_id)
        owner = self.staging / f"{upload_id}.owner"
        if path.resolve().parent != self.staging.resolve() or not owner.is_file():
            raise NotFound("no such upload session.")
        if owner.read_text() != principal.user:
            raise NotFound("no such upload session.")
        return path

    def open_session(self, principal: Principal) -> str:
        """Start an upload session owned by the caller."""
        upload_id = uuid.uuid4().hex
        (self.staging / upload_id).touch()
        (self.staging / f"{upload_id}.owner").write_text(principal.user)
        return upload_id

    def finish(self, staged: Path, digest: str) -> dict[str, Any]:
        """Verify a staged file against ``digest`` and store it; the staged file goes."""
        algorithm, _ = parse_digest(digest)
        hasher = new_hasher(algorithm)
        with open(staged, "rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                hasher.update(chunk)
        try:
            if hasher.hexdigest() != parse_digest(digest)[1]:
                raise InvalidInput(
                    f"the uploaded bytes hash to {algorithm}:{hasher.hexdigest()}, not {digest}; "
                    "nothing was stored. Upload the blob again."
                )
            ref = self.workspace.blobs.put_file(staged)
        finally:
            staged.unlink(missing_ok=True)
            Path(f"{staged}.owner").unlink(missing_ok=True)
        return {"digest": ref.digest, "size": ref.size}

    def read_range(self, digest: str, start: int) -> Iterator[bytes]:
        """The stored bytes of a blob from ``start`` on, in chunks."""
        reader: BinaryIO = self.workspace.blobs.open_unverified(digest)
        with reader:
            if start:
                reader.seek(start)
            while chunk := reader.read(CHUNK_SIZE):
                yield chunk


async def _stream_to(request: Request, path: Path, mode: str) -> int:
    """Append the request body to ``path``; return how many bytes came."""
    size = 0
    with open(path, mode) as handle:
        async for chunk in request.stream():
            handle.write(chunk)
            size += len(chunk)
    return size


def add_blob_routes(app: FastAPI, service: BlobService, authenticator: Authenticator) -> None:
    """Mount the blob, upload-session and ref routes."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, StreamingResponse

    blobs = service.workspace.blobs

    async def caller(request: Request, role: Role) -> Principal:
        return await run_in_threadpool(authenticator.authorize, request, role)

    @access(Role.VIEWER)
    async def blob_store_info(request: Request) -> Response:
        await caller(request, Role.VIEWER)
        epoch = await run_in_threadpool(blobs.damage_epoch)
        return JSONResponse({"algorithm": blobs.algorithm, "damage_epoch": epoch})

    @access(Role.VIEWER)
    async def head_blob(request: Request, digest: str) -> Response:
        await caller(request, Role.VIEWER)
        parse_digest(digest)
        size = await run_in_threadpool(blobs.size, digest)
        return Response(headers={"content-length": str(size), "accept-ranges": "bytes"})

    @access(Role.VIEWER)
    async def get_blob(request: Request, digest: str) -> Response:
        await caller(request, Role.VIEWER)
        parse_digest(digest)
        size = await run_in_threadpool(blobs.size, digest)
        start, status = 0, 200
        wanted = request.headers.get("range")
        headers = {"accept-ranges": "bytes", "x-steward-digest": digest}
        if wanted is not None:
            match = _RANGE.fullmatch(wanted.strip())
            if match is None or match.group(2) or int(match.group(1)) > size:
                raise InvalidInput("only 'Range: bytes=N-' with N at most the size is served.")
            start, status = int(match.group(1)), 206
            headers["content-range"] = f"bytes {start}-{max(size - 1, start)}/{size}"
        headers["content-length"] = str(size - start)
        return StreamingResponse(
            service.read_range(digest, start),
            status_code=status,
            media_type="application/octet-stream",
            headers=headers,
        )

    @access(Role.EDITOR)
    async def put_blob(request: Request, digest: str) -> Response:
        principal = await caller(request, Role.EDITOR)
        parse_digest(digest)
        upload_id = await run_in_threadpool(service.open_session, principal)
        staged = service.staging / upload_id
        try:
            await _stream_to(request, staged, "ab")
        except BaseException:
            staged.unlink(missing_ok=True)
            Path(f"{staged}.owner").unlink(missing_ok=True)
            raise
        result = await run_in_threadpool(service.finish, staged, digest)
        return JSONResponse(result, status_code=201)

    @access(Role.VIEWER)
    async def missing_blobs(request: Request) -> Response:
        principal = await caller(request, Role.VIEWER)  # decided before the body is read
        body = parse_json_body(await request.body())
        digests = body.get("digests") if isinstance(body, dict) else None
        touch = body.get("touch", False) if isinstance(body, dict) else False
        if touch is True:  # marking blobs as used (an add reusing them, see gc) is a write
            principal.require(Role.EDITOR)
        if not isinstance(digests, list) or len(digests) > 100_000:
            raise InvalidInput("send {'digests': [...]} with at most 100,000 digests.")
        if not isinstance(touch, bool):
            raise InvalidInput("'touch' must be true or false.")
        for digest in digests:
            if not isinstance(digest, str):
                raise InvalidInput("every digest must be a string.")
            parse_digest(digest)
        return JSONResponse(await run_in_threadpool(blobs.missing, digests, touch))

    @access(Role.EDITOR)
    async def open_upload(request: Request) -> Response:
        principal = await caller(request, Role.EDITOR)
        upload_id = await run_in_threadpool(service.open_session, principal)
        return JSONResponse({"upload_id": upload_id, "offset": 0}, status_code=201)

    @access(Role.EDITOR)
    async def upload_offset(request: Request, upload_id: str) -> Response:
        principal = await caller(request, Role.EDITOR)
        path = await run_in_threadpool(service.session_path, upload_id, principal)
        return JSONResponse({"upload_id": upload_id, "offset": path.stat().st_size})

    @access(Role.EDITOR)
    async def append_upload(request: Request, upload_id: str) -> Response:
        principal = await caller(request, Role.EDITOR)
        path = await run_in_threadpool(service.session_path, upload_id, principal)
        offset = request.headers.get(OFFSET_HEADER, "")
        if not offset.isdigit():
            raise InvalidInput(f"send the {OFFSET_HEADER} header: where this chunk starts.")
        current = path.stat().st_size
        if int(offset) != current:
            raise Conflict(f"the upload is at offset {current}, not {offset}; resume from there.")
        try:
            await _stream_to(request, path, "ab")
        except BaseException:
            # A cut-off chunk is dropped whole, so the offset stays where it was.
            with open(path, "r+b") as handle:
                handle.truncate(current)
            raise
        return JSONResponse({"upload_id": upload_id, "offset": path.stat().st_size})

    @access(Role.EDITOR)
    async def finish_upload(request: Request, upload_id: str) -> Response:
        principal = await caller(request, Role.EDITOR)
        path = await run_in_threadpool(service.session_path, upload_id, principal)
        digest = request.query_params.get("digest", "")
        parse_digest(digest)
        result = await run_in_threadpool(service.finish, path, digest)
        return JSONResponse(result, status_code=201)

    @access(Role.VIEWER)
    async def list_refs(request: Request) -> Response:
        await caller(request, Role.VIEWER)
        prefix = request.query_params.get("prefix", "")
        if prefix:
            contained_ref_key(prefix.removesuffix("/"))
        return JSONResponse(await run_in_threadpool(blobs.list_refs, prefix))

    @access(Role.VIEWER)
    async def get_ref(request: Request, key: str) -> Response:
        await caller(request, Role.VIEWER)
        data = await run_in_threadpool(blobs.get_ref, contained_ref_key(key))
        return Response(data, media_type="application/octet-stream")

    @access(Role.EDITOR)
    async def put_ref(request: Request, key: str) -> Response:
        await caller(request, Role.EDITOR)
        checked = contained_ref_key(key)
        exclusive = request.query_params.get("exclusive", "false") == "true"
        data = await request.body()
        await run_in_threadpool(blobs.put_ref, checked, data, exclusive)
        return Response(status_code=204)

    binary: dict[str, Any] = {"application/octet-stream": {"schema": {}}}
    octet: dict[str, Any] = {"requestBody": {"content": binary}}
    routes: list[tuple[str, str, Any, dict[str, Any]]] = [
        ("GET", "/blob-store", blob_store_info, {}),
        ("POST", "/blobs/missing", missing_blobs, _json_body("digests")),
        ("HEAD", "/blobs/{digest}", head_blob, {}),
        ("GET", "/blobs/{digest}", get_blob, {}),
        ("PUT", "/blobs/{digest}", put_blob, octet),
        ("POST", "/blob-uploads", open_upload, {}),
        ("GET", "/blob-uploads/{upload_id}", upload_offset, {}),
        ("PATCH", "/blob-uploads/{upload_id}", append_upload, octet),
        ("PUT", "/blob-uploads/{upload_id}", finish_upload, {}),
        ("GET", "/refs", list_refs, {}),
        ("GET", "/refs/{key:path}", get_ref, {}),
        ("PUT", "/refs/{key:path}", put_ref, octet),
    ]
    for verb, path, handler, extra in routes:
        app.add_api_route(
            API_PREFIX + path,
            handler,
            methods=[verb],
            tags=["blobs"],
            openapi_extra={**extra, "security": [{"bearer": []}, {"session": []}]},
            response_model=None,
        )


def _json_body(field: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {field: {"type": "array", "items": {"type": "string"}}},
        "required": [field],
    }
    return {"requestBody": {"content": {"application/json": {"schema": schema}}}}
