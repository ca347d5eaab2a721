"""The one error hierarchy of Steward.

Every error says what was wrong and what to do about it. The server maps the
classes to HTTP status codes (``http_status``) in one place; the CLI prints
the message without a traceback.
"""

from __future__ import annotations


class StewardError(Exception):
    """Base class of every error Steward raises on purpose."""

    http_status = 500


class InvalidInput(StewardError, ValueError):
    """The caller passed something malformed or not allowed."""

    http_status = 400


class NotFound(StewardError, LookupError):
    """The named object does not exist."""

    http_status = 404


class Conflict(StewardError):
    """The request contradicts what is already stored."""

    http_status = 409


class PermissionDenied(StewardError):
    """The caller's role does not allow this action."""

    http_status = 403


class IntegrityError(StewardError):
    """Stored content does not match its recorded digest."""

    http_status = 500


class UnverifiedContent(IntegrityError):
    """An action was refused, nothing changed, because the stored content it would act on
    no longer matches its digest (approving or aliasing a damaged model version).

    The caller asked for something that cannot be done as things stand, so a
    server answers 409 with the message, not a bare 500.
    """

    http_status = 409


class StorageError(StewardError, OSError):
    """A store cannot be read or written: a damaged or unreadable file, a read-only or
    failing disk, an unreachable database server."""

    http_status = 503


class StorageFull(StorageError):
    """The disk (or quota) under a store is full; what was stored before is intact."""

    http_status = 507


class SchemaTooNew(StewardError):
    """The metadata store was written by a newer Steward than this one."""

    http_status = 500


class MissingDependency(StewardError, ImportError):
    """An optional dependency is needed for this feature but not installed."""

    http_status = 500

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the '{package}' package, which is not installed. "
            f'Install it with: pip install "mlsteward[{extra}]"'
        )
        self.package = package
        self.extra = extra


def require(module: str, extra: str, feature: str) -> object:
    """Import an optional module, or raise MissingDependency naming the extra.

    Args:
        module: the module to import, e.g. ``"s3fs"``.
        extra: the ``mlsteward`` extra that installs it.
        feature: what needs it, for the message.

    Returns:
        The imported module.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(module.split(".")[0], extra, feature) from exc


class UnsafeModel(StewardError):
    """Loading a model would run code or trust types that were not allowed."""

    http_status = 422


class UnreadableModel(InvalidInput):
    """A model file is damaged, disguised, or not what its descriptor says it is."""

    http_status = 422


class TransferFailed(StewardError):
    """Copying to or from a remote store failed: network, credentials, or a local disk."""

    http_status = 502


class PipelineFailed(StewardError):
    """A pipeline run finished with a failed step; ``run`` is the stored run."""

    http_status = 500

    def __init__(self, message: str, run: object = None) -> None:
        super().__init__(message)
        self.run = run


class Unavailable(StewardError):
    """A service Steward needs (a Ray cluster, say) does not answer."""

    http_status = 503


class Unauthenticated(StewardError):
    """The request carries no valid credential (missing, unknown, expired or revoked)."""

    http_status = 401


class RateLimited(StewardError):
    """Too many attempts in a short time; wait and try again."""

    http_status = 429
