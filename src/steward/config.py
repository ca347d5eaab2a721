"""Where a workspace lives: settings from the environment or a config file.

Resolution order for each setting: explicit argument, environment variable,
``<home>/config.toml``, default. ``STEWARD_HOME`` defaults to ``./.steward``
(like ``.git``); the metadata store defaults to SQLite inside it, blobs to a
folder inside it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from steward.errors import InvalidInput

HOME_ENV = "STEWARD_HOME"
STORE_URL_ENV = "STEWARD_STORE_URL"
BLOB_URL_ENV = "STEWARD_BLOB_URL"
USER_ENV = "STEWARD_USER"
ALERT_ALLOWED_HOSTS_ENV = "STEWARD_ALERT_ALLOWED_HOSTS"
URI_ENV = "STEWARD_URI"
TOKEN_ENV = "STEWARD_TOKEN"
CONFIG_FILE_NAME = "config.toml"


@dataclass(frozen=True)
class Settings:
    """The resolved location of a workspace's stores."""

    home: Path
    store_url: str
    blob_url: str
    alert_allowed_hosts: tuple[str, ...] = ()
    """Where alerts may go (names, ``*.domain``, addresses, networks); empty: anywhere
    but link-local and metadata addresses (``monitoring/alerts/targets.py``)."""
    token: str | None = field(default=None, repr=False)

    @property
    def remote(self) -> bool:
        """Whether the stores are a Steward server's (``http(s)://``)."""
        return is_server_url(self.store_url)


def is_server_url(url: str) -> bool:
    """Whether ``url`` names a Steward server rather than a database or folder."""
    return url.startswith(("http://", "https://"))


def _read_config_file(home: Path) -> dict[str, str]:
    """The config file's settings as strings (a list of hosts is joined with commas)."""
    path = home / CONFIG_FILE_NAME
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path} is not valid TOML ({exc}); fix or remove it.") from exc
    allowed = {"store_url", "blob_url", "alert_allowed_hosts"}
    unknown = set(data) - allowed
    if unknown:
        raise InvalidInput(
            f"{path} has unknown keys {sorted(unknown)}; allowed keys are {sorted(allowed)}."
        )
    return {
        key: ",".join(map(str, value)) if isinstance(value, list) else str(value)
        for key, value in data.items()
    }


def resolve_settings(
    home: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    blob_url: str | None = None,
) -> Settings:
    """Resolve the workspace settings.

    With ``STEWARD_URI=http://host:port`` both stores are that server's, and
    ``STEWARD_TOKEN`` is the token sent to it; the home folder then holds
    only local caches.

    Args:
        home: the workspace folder; defaults to ``$STEWARD_HOME`` or ``./.steward``.
        store_url: SQLAlchemy URL of the metadata store, or a server's URL.
        blob_url: folder or fsspec URL of the blob store, or a server's URL.

    Returns:
        The resolved settings (paths made absolute).
    """
    home_path = Path(home or os.environ.get(HOME_ENV) or ".steward").expanduser().absolute()
    from_file = _read_config_file(home_path)
    server = os.environ.get(URI_ENV) or None
    if server is not None and not is_server_url(server):
        raise InvalidInput(f"{URI_ENV} must be a server URL like http://host:8080, not {server!r}.")
    store = (
        store_url
        or server
        or os.environ.get(STORE_URL_ENV)
        or from_file.get("store_url")
        or f"sqlite:///{home_path / 'steward.db'}"
    )
    blobs = (
        blob_url
        or (store if is_server_url(store) else None)
        or os.environ.get(BLOB_URL_ENV)
        or from_file.get("blob_url")
        or str(home_path / "blobs")
    )
    hosts = os.environ.get(ALERT_ALLOWED_HOSTS_ENV) or from_file.get("alert_allowed_hosts", "")
    allowed = tuple(entry.strip() for entry in hosts.split(",") if entry.strip())
    token = (os.environ.get(TOKEN_ENV) or None) if is_server_url(store) else None
    return Settings(
        home=home_path, store_url=store, blob_url=blobs, alert_allowed_hosts=allowed, token=token
    )


_LOGIN_ENV = ("LOGNAME", "USER", "LNAME", "USERNAME")
"""Where ``getpass.getuser`` looks first, in its order."""


def current_user() -> str:
    """The name recorded as the author of writes made by this process: ``$STEWARD_USER``,
    else the login name as ``getpass.getuser`` finds it (the environment, then the
    password database), without importing ``getpass`` (and the terminal module it
    loads) into every process that writes."""
    explicit = os.environ.get(USER_ENV)
    if explicit:
        return explicit
    for name in _LOGIN_ENV:
        login = os.environ.get(name)
        if login:
            return login
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
