"""Who may do what: roles, API tokens and passwords.

Four roles, each including the ones before it: ``viewer`` reads, ``editor``
logs runs and registers models, ``approver`` approves versions and moves the
``production`` alias, ``admin`` manages users, tokens and settings.

Tokens are ``stw_`` followed by 43 URL-safe characters: 256 bits from
``secrets``. Only their SHA-256 is stored. A slow password hash (scrypt,
bcrypt, argon2) protects *low-entropy* secrets against guessing; a 256-bit
random token cannot be guessed at any hash speed, so a fast hash loses no
security, and it lets every request find its token by an indexed lookup of
the hash instead of a slow verify (MLflow's basic auth spends most of each
request there). Passwords, which people choose, are hashed with scrypt.

``steward.access.authorize(token, role)`` is the one check that every server
(the team server, the model server's admin routes) makes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from steward.errors import InvalidInput, PermissionDenied

TOKEN_PREFIX = "stw_"
_TOKEN_BYTES = 32
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
MIN_PASSWORD_LENGTH = 12


class Role(IntEnum):
    """A user's role; a higher role may do everything a lower one may."""

    VIEWER = 1
    EDITOR = 2
    APPROVER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        """The role's name as users write it (``viewer``…)."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | Role) -> Role:
        """The role called ``value`` (``viewer``, ``editor``, ``approver``, ``admin``).

        Raises:
            InvalidInput: no such role.
        """
        if isinstance(value, Role):
            return value
        try:
            return cls[str(value).upper()]
        except KeyError:
            names = ", ".join(role.label for role in cls)
            raise InvalidInput(f"unknown role {value!r}; use one of {names}.") from None


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user: str
    role: Role
    token_id: str
    kind: str = "api"
    expires_at: datetime | None = None

    def require(self, role: Role) -> None:
        """Raise PermissionDenied unless this caller holds ``role`` (or a higher one)."""
        if self.role < role:
            raise PermissionDenied(
                f"user {self.user!r} is {self.role.label}; this needs the {role.label} role. "
                "Ask an admin: steward server users set-role."
            )


def new_token() -> str:
    """A fresh API token (shown once to its owner, never stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The hex SHA-256 under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_password(password: str) -> str:
    """A salted scrypt hash of a password, as ``scrypt$<salt>$<hash>``.

    Raises:
        InvalidInput: the password is shorter than 12 characters.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters.")
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + "$".join(base64.b64encode(part).decode() for part in (salt, derived))


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (a ``hash_password`` result), in constant time."""
    if not stored or not stored.startswith("scrypt$"):
        # Spend the same time as a real check, so timing does not reveal unknown users.
        hashlib.scrypt(b"x", salt=b"0" * 16, **_SCRYPT)
        return False
    _, salt, expected = stored.split("$")
    derived = hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=base64.b64decode(salt),
        **_SCRYPT,
    )
    return hmac.compare_digest(derived, base64.b64decode(expected))
