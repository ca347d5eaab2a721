"""SQL for the users of a team server and their API tokens.

Tokens are stored as their SHA-256 only (see ``steward.auth`` for why that
hash), expire, and can be revoked; a disabled user's tokens stop working at
once. The last active admin can be neither demoted nor disabled, so a server
is never left without someone who can manage it.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from steward.auth import Principal, Role, hash_password, hash_token, new_token, verify_password
from steward.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from steward.store import schema as t
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import ms_to_datetime, now_ms
from steward.store.tracking_sql import Statement
from steward.store.validation import check_name

DAY_MS = 86_400_000
MAX_TOKEN_DAYS = 3650
_TOUCH_INTERVAL_S = 60.0
PRINCIPAL_TTL_S = 2.0
"""How long a server process reuses a token's lookup. A change made through this
process (revoke, disable, new role) applies at once; one made through another
process sharing the database applies here within this many seconds."""
_PRINCIPALS_MAX = 10_000
_TOKEN_KINDS = ("api", "session")


@dataclass(frozen=True)
class User:
    """A user of a team server (never with a password or its hash)."""

    id: str
    name: str
    role: str
    active: bool
    has_password: bool
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class ApiToken:
    """An API token's record; the token itself is shown once, when created."""

    id: str
    user: str
    name: str
    kind: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class NewToken:
    """A token just created: its record, and the secret to hand to its owner once."""

    token: ApiToken
    secret: str


def _user(row: Any) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=row.role,
        active=bool(row.active),
        has_password=row.password_hash is not None,
        created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
        created_by=row.created_by,
    )


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=row.id,
        user=row.user,
        name=row.name,
        kind=row.kind,
        created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
        created_by=row.created_by,
        expires_at=ms_to_datetime(row.expires_at),  # type: ignore[arg-type]
        revoked_at=ms_to_datetime(row.revoked_at),
        last_used_at=ms_to_datetime(row.last_used_at),
    )


_TOKEN_COLUMNS = (
    t.api_tokens.c.id,
    t.users.c.name.label("user"),
    t.api_tokens.c.name,
    t.api_tokens.c.kind,
    t.api_tokens.c.created_at,
    t.api_tokens.c.created_by,
    t.api_tokens.c.expires_at,
    t.api_tokens.c.revoked_at,
    t.api_tokens.c.last_used_at,
)


_SELECT_TOKEN = Statement(
    """SELECT api_tokens.id, api_tokens.kind, api_tokens.expires_at, api_tokens.revoked_at,
              users.name, users.role, users.active
       FROM api_tokens JOIN users ON users.pk = api_tokens.user_pk
       WHERE api_tokens.token_hash = ?"""
)


class PrincipalCache:
    """Recent token lookups by token hash, each kept ``ttl_s`` seconds.

    ``forget`` (after any change to users or tokens) drops them all and bumps a
    generation, so a lookup that read the database before the change cannot put
    its stale answer back afterwards.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.generation = 0
        self._entries: dict[str, tuple[float, Principal, int]] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> tuple[Principal, int] | None:
        """The principal and expiry (ms) cached for a token hash, if still fresh."""
        entry = self._entries.get(token_hash)
        if entry is None or time.monotonic() - entry[0] >= self.ttl_s:
            return None
        return entry[1], entry[2]

    def put(self, token_hash: str, principal: Principal, expires_at: int, generation: int) -> None:
        """Keep a lookup made while ``generation`` was current (dropped if it no longer is)."""
        with self._lock:
            if generation != self.generation or self.ttl_s <= 0:
                return
            if len(self._entries) >= _PRINCIPALS_MAX:  # bounded under a flood of tokens
                self._entries.clear()
            self._entries[token_hash] = (time.monotonic(), principal, expires_at)

    def forget(self) -> None:
        """Drop every cached lookup (users or tokens changed)."""
        with self._lock:
            self.generation += 1
            self._entries.clear()


class AuthStore:
    """Users and API tokens in the metadata store."""

    def __init__(self, engine: Engine, principal_ttl_s: float = PRINCIPAL_TTL_S) -> None:
        self.engine = engine
        self._touched: dict[str, float] = {}
        self._touch_lock = threading.Lock()
        self.principals = PrincipalCache(principal_ttl_s)

    # -- users ---------------------------------------------------------------------

    def create_user(self, name: str, role: str, actor: str, password: str | None = None) -> User:
        """Add a user with a role (and, for browser sign-in, a password).

        Raises:
            Conflict: the name is taken.
            InvalidInput: bad name, unknown role, or a password under 12 characters.
        """
        check_name("user", name)
        role_label = Role.parse(role).label
        password_hash = hash_password(password) if password is not None else None

        def create() -> User:
            with write_transaction(self.engine) as connection:
                if connection.execute(select(t.users.c.pk).where(t.users.c.name == name)).first():
                    raise Conflict(f"user {name!r} already exists.")
                connection.execute(
                    insert(t.users).values(
                        id=uuid.uuid4().hex,
                        name=name,
                        role=role_label,
                        password_hash=password_hash,
                        active=True,
                        created_at=now_ms(),
                        created_by=actor,
                    )
                )
                return self._get_user(connection, name)

        return run_with_retry(create)

    @staticmethod
    def _get_user(connection: Connection, name: str) -> User:
        row = connection.execute(select(t.users).where(t.users.c.name == name)).first()
        if row is None:
            raise NotFound(f"no user named {name!r}; list them with 'steward server users list'.")
        return _user(row)

    def get_user(self, name: str) -> User:
        """Fetch a user.

        Raises:
            NotFound: no such user.
        """
        with read_transaction(self.engine) as connection:
            return self._get_user(connection, name)

    def list_users(self) -> list[User]:
        """Every user, oldest first."""
        with read_transaction(self.engine) as connection:
            rows = connection.execute(select(t.users).order_by(t.users.c.pk)).all()
        return [_user(row) for row in rows]

    def update_user(
        self,
        name: str,
        actor: str,
        role: str | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> User:
        """Change a user's role, enable or disable them, or set their password.

        Raises:
            NotFound: no such user.
            Conflict: the change would leave no active admin.
        """
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = Role.parse(role).label
        if active is not None:
            values["active"] = active
        if password is not None:
            values["password_hash"] = hash_password(password)
        if not values:
            raise InvalidInput("nothing to change: give a role, active or a password.")

        def change() -> User:
            with write_transaction(self.engine) as connection:
                before = self._get_user(connection, name)
                stays_admin = values.get("role", before.role) == Role.ADMIN.label and values.get(
                    "active", before.active
                )
                if before.role == Role.ADMIN.label and before.active and not stays_admin:
                    admins = connection.execute(
                        select(func.count()).where(
                            t.users.c.role == Role.ADMIN.label, t.users.c.active.is_(True)
                        )
                    ).scalar_one()
                    if admins <= 1:
                        raise Conflict(
                            f"{name!r} is the last active admin; make another admin first."
                        )
                connection.execute(update(t.users).where(t.users.c.name == name).values(values))
                return self._get_user(connection, name)

        try:
            return run_with_retry(change)
        finally:
            self.principals.forget()

    # -- tokens --------------------------------------------------------------------

    def create_token(
        self,
        user: str,
        name: str,
        actor: str,
        expires_in_days: float = 90,
        kind: str = "api",
    ) -> NewToken:
        """Issue a token for ``user``; the secret is in the result and nowhere else.

        Raises:
            NotFound: no such user.
            InvalidInput: a bad name, kind or lifetime (more than 0, at most 3650 days).
        """
        check_name("token", name)
        if kind not in _TOKEN_KINDS:
            raise InvalidInput(f"token kind must be one of {_TOKEN_KINDS}, not {kind!r}.")
        if not 0 < expires_in_days <= MAX_TOKEN_DAYS:
            raise InvalidInput(
                f"a token lives more than 0 and at most {MAX_TOKEN_DAYS} days, "
                f"not {expires_in_days}."
            )
        secret = new_token()
        created = now_ms()
        token_id = uuid.uuid4().hex

        def create() -> ApiToken:
            with write_transaction(self.engine) as connection:
                user_pk = connection.execute(
                    select(t.users.c.pk).where(t.users.c.name == user)
                ).scalar()
                if user_pk is None:
                    raise NotFound(f"no user named {user!r}.")
                connection.execute(
                    insert(t.api_tokens).values(
                        id=token_id,
                        user_pk=user_pk,
                        name=name,
                        kind=kind,
                        token_hash=hash_token(secret),
                        created_at=created,
                        created_by=actor,
                        expires_at=created + int(expires_in_days * DAY_MS),
                    )
                )
                return self._tokens(connection, t.api_tokens.c.id == token_id)[0]

        return NewToken(run_with_retry(create), secret)

    @staticmethod
    def _tokens(connection: Connection, *where: Any) -> list[ApiToken]:
        query = (
            select(*_TOKEN_COLUMNS)
            .join(t.users, t.users.c.pk == t.api_tokens.c.user_pk)
            .where(*where)
            .order_by(t.api_tokens.c.pk)
        )
        return [_token(row) for row in connection.execute(query)]

    def list_tokens(self, user: str | None = None) -> list[ApiToken]:
        """API tokens (not browser sessions), of one user or of all, oldest first."""
        where = [t.api_tokens.c.kind == "api"]
        if user is not None:
            where.append(t.users.c.name == user)
        with read_transaction(self.engine) as connection:
            return self._tokens(connection, *where)

    def revoke_token(self, token_id: str, actor: str) -> ApiToken:
        """Revoke a token at once (a no-op on one already revoked).

        Raises:
            NotFound: no such token.
        """

        def revoke() -> ApiToken:
            with write_transaction(self.engine) as connection:
                found = self._tokens(connection, t.api_tokens.c.id == token_id)
                if not found:
                    raise NotFound(f"no token with id {token_id!r}.")
                connection.execute(
                    update(t.api_tokens)
                    .where(t.api_tokens.c.id == token_id, t.api_tokens.c.revoked_at.is_(None))
                    .values(revoked_at=now_ms())
                )
                return self._tokens(connection, t.api_tokens.c.id == token_id)[0]

        try:
            return run_with_retry(revoke)
        finally:
            self.principals.forget()

    # -- checking credentials ------------------------------------------------------

    def authenticate(self, secret: str) -> Principal:
        """The user a token belongs to (a lookup is reused for ``PRINCIPAL_TTL_S``).

        Raises:
            Unauthenticated: unknown, expired or revoked token, or a disabled user.
        """
        token_hash = hash_token(secret)
        cached = self.principals.get(token_hash)
        now = now_ms()
        if cached is None:
            principal, expires_at = self._look_up(token_hash, now)
        else:
            principal, expires_at = cached
        if expires_at <= now:
            raise Unauthenticated("the token has expired; ask an admin for a new one.")
        self._touch(principal.token_id, now)
        return principal

    def _look_up(self, token_hash: str, now: int) -> tuple[Principal, int]:
        generation = self.principals.generation
        # Every uncached request runs this: plain SQL at the driver level, one indexed lookup.
        with read_transaction(self.engine) as connection:
            row = _SELECT_TOKEN.run(connection, (token_hash,)).first()
        if row is None or row.revoked_at is not None or not row.active:
            raise Unauthenticated("the token is unknown or was revoked; ask an admin for one.")
        principal = Principal(
            user=row.name,
            role=Role.parse(row.role),
            token_id=row.id,
            kind=row.kind,
            expires_at=ms_to_datetime(row.expires_at),
        )
        self.principals.put(token_hash, principal, row.expires_at, generation)
        return principal, row.expires_at

    def _touch(self, token_id: str, now: int) -> None:
        """Record when a token was last used, at most once a minute per token."""
        moment = time.monotonic()
        with self._touch_lock:
            if moment - self._touched.get(token_id, -_TOUCH_INTERVAL_S) < _TOUCH_INTERVAL_S:
                return
            self._touched[token_id] = moment

        def write() -> None:
            with write_transaction(self.engine) as connection:
                connection.execute(
                    update(t.api_tokens)
                    .where(t.api_tokens.c.id == token_id)
                    .values(last_used_at=now)
                )

        run_with_retry(write)

    def check_password(self, name: str, password: str) -> User:
        """The active user ``name`` if ``password`` is theirs.

        Raises:
            Unauthenticated: unknown user, wrong password or disabled user (one
                message for all three, so it reveals nothing).
        """
        with read_transaction(self.engine) as connection:
            row = connection.execute(select(t.users).where(t.users.c.name == name)).first()
        stored = row.password_hash if row is not None else None
        if not verify_password(password, stored) or row is None or not row.active:
            raise Unauthenticated("wrong user name or password.")
        return _user(row)

    def needs_bootstrap(self) -> bool:
        """Whether no active admin holds a usable credential (a live token or a password)."""
        now = now_ms()
        admins = select(t.users.c.pk).where(
            t.users.c.role == Role.ADMIN.label, t.users.c.active.is_(True)
        )
        with read_transaction(self.engine) as connection:
            with_password = connection.execute(
                admins.where(t.users.c.password_hash.is_not(None))
            ).first()
            live_token = connection.execute(
                select(t.api_tokens.c.pk).where(
                    t.api_tokens.c.user_pk.in_(admins),
                    t.api_tokens.c.kind == "api",
                    t.api_tokens.c.revoked_at.is_(None),
                    t.api_tokens.c.expires_at > now,
                )
            ).first()
        return with_password is None and live_token is None
