"""A workspace binds one metadata store and one blob store.

``current_workspace()`` opens the one the environment points at
(``STEWARD_HOME``, ``STEWARD_STORE_URL``, ``STEWARD_BLOB_URL`` or
``<home>/config.toml``) on first use and keeps it for the process; the SDK,
the CLI and the server all reach the stores through it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from typing import TYPE_CHECKING, Any

from steward.config import Settings, current_user, is_server_url, resolve_settings
from steward.errors import InvalidInput

if TYPE_CHECKING:
    from steward.blobs import BlobStore
    from steward.store.metadata import MetadataStore
    from steward.tracking.backend import TrackingBackend

BLOB_OPTIONS_ENV = "STEWARD_BLOB_OPTIONS"


class Workspace:
    """An open pair of stores and the user writing to them."""

    def __init__(
        self,
        settings: Settings,
        actor: str | None = None,
        blob_options: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.actor = actor or current_user()
        self._blob_options = blob_options

    @cached_property
    def store(self) -> MetadataStore:
        """The metadata store (opened and migrated on first use), or a server's."""
        if self.settings.remote:
            from steward.api.client import RemoteMetadataStore

            remote: Any = RemoteMetadataStore(self.settings.store_url, self.settings.token)
            return remote  # the same repositories, over HTTP
        from steward.store.metadata import MetadataStore

        return MetadataStore(self.settings.store_url)

    @cached_property
    def blob_options(self) -> dict[str, Any] | None:
        """The blob store's fsspec options: as given, else from ``$STEWARD_BLOB_OPTIONS``."""
        if self._blob_options is not None:
            return self._blob_options
        raw = os.environ.get(BLOB_OPTIONS_ENV)
        try:
            return json.loads(raw) if raw else None
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{BLOB_OPTIONS_ENV} must be a JSON object: {exc}") from exc

    @cached_property
    def blobs(self) -> BlobStore:
        """The blob store (a server's when the workspace is remote)."""
        from steward.blobs import open_blob_store

        if is_server_url(self.settings.blob_url):
            from steward.api.blobs import HttpBlobStore

            if self.settings.blob_url == self.settings.store_url:
                transport = self.store.transport  # type: ignore[attr-defined]
            else:
                from steward.api.client import Transport

                transport = Transport(self.settings.blob_url, self.settings.token)
            return HttpBlobStore(transport)
        return open_blob_store(self.settings.blob_url, storage_options=self.blob_options)

    @cached_property
    def tracking(self) -> TrackingBackend:
        """Experiments and runs."""
        from steward.tracking.local import LocalTrackingBackend

        # Through a server a run is created with its first write: one request, not three.
        return LocalTrackingBackend(
            self.store, self.blobs, self.actor, defers_run_start=self.settings.remote
        )

    def close(self) -> None:
        """Release database connections."""
        if "store" in self.__dict__:
            self.store.close()


def open_workspace(
    home: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    blob_url: str | None = None,
    actor: str | None = None,
    blob_options: dict[str, Any] | None = None,
) -> Workspace:
    """Open a workspace; arguments override the environment and config file."""
    settings = resolve_settings(home, store_url, blob_url)
    return Workspace(settings, actor, blob_options)


_lock = threading.Lock()
_current: Workspace | None = None
_pinned = False
_scoped: ContextVar[Workspace | None] = ContextVar("steward_workspace", default=None)


def current_workspace() -> Workspace:
    """The workspace in scope (``workspace_scope``), else the process's: the one
    given to ``use_workspace``, else the one the environment points at
    (reopened if the environment changed)."""
    global _current
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    with _lock:
        if _pinned and _current is not None:
            return _current
        if _current is None or _current.settings != resolve_settings():
            if _current is not None:
                _current.close()
            _current = open_workspace()
        return _current


def use_workspace(workspace: Workspace | None) -> None:
    """Pin ``workspace`` as the process's workspace (None: follow the environment again)."""
    global _current, _pinned
    with _lock:
        _current = workspace
        _pinned = workspace is not None


@contextmanager
def workspace_scope(workspace: Workspace | None) -> Iterator[None]:
    """Make ``workspace`` the current one inside the block, for this thread or task only.

    Library calls that take ``workspace=`` run their inner calls under it, so
    every store they touch is the one the caller named. None changes nothing.
    """
    if workspace is None:
        yield
        return
    token = _scoped.set(workspace)
    try:
        yield
    finally:
        _scoped.reset(token)
