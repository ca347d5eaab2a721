"""The agent lease: one agent per workspace, held in the metadata store.

An agent holds the lease while it renews it (every third of its time to live,
from a background thread, so a long pipeline does not lose it). Another agent
waits, and says who holds it; it takes the lease over once it expires, or at
once when the holder is a process on this host that no longer exists.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import TYPE_CHECKING

from steward.processes import process_alive
from steward.store.records import now_ms

if TYPE_CHECKING:
    from steward.store.agent_records import LeaseRecord
    from steward.workspace import Workspace

logger = logging.getLogger("steward.agent")

DEFAULT_TTL_S = 30.0


def describe(lease: LeaseRecord) -> str:
    """Who holds a lease, for people: host, process and since when."""
    return (
        f"host {lease.host} pid {lease.pid} since {lease.acquired_at:%Y-%m-%d %H:%M:%S} UTC "
        f"(renewed {lease.renewed_at:%H:%M:%S}, expires {lease.expires_at:%H:%M:%S})"
    )


class Lease:
    """This process's claim on the agent lease, kept alive by a renewing thread."""

    def __init__(self, ws: Workspace, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.ws = ws
        self.ttl_ms = int(ttl_s * 1000)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.holder = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.held = False
        self.last_tick_ms: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> LeaseRecord | None:
        """Take or renew the lease; returns the other holder's lease when it is not ours."""
        store = self.ws.store.agent_lease
        current = store.get()
        take_from = None
        if (
            current is not None
            and current.holder != self.holder
            and current.host == self.host
            and not process_alive(current.pid)
        ):
            take_from = current.holder
        lease, held = store.acquire(
            self.holder,
            host=self.host,
            pid=self.pid,
            ttl_ms=self.ttl_ms,
            actor=self.ws.actor,
            take_from=take_from,
            last_tick_ms=self.last_tick_ms,
        )
        if held and not self.held:
            logger.info("holding the agent lease (host %s pid %s)", self.host, self.pid)
            self._start_renewing()
        self.held = held
        return None if held else lease

    def _start_renewing(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew, name="steward-agent-lease", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                _, held = self.ws.store.agent_lease.acquire(
                    self.holder,
                    host=self.host,
                    pid=self.pid,
                    ttl_ms=self.ttl_ms,
                    actor=self.ws.actor,
                    last_tick_ms=self.last_tick_ms,
                )
            except Exception as exc:  # the store is unreachable: try again next time
                logger.warning("could not renew the agent lease: %s", exc)
                continue
            if not held:
                logger.warning("lost the agent lease to another agent; stopping work")
                self.held = False
                return

    def valid(self) -> bool:
        """Whether this process holds the lease now."""
        return self.held

    def release(self) -> None:
        """Stop renewing and give the lease up, so another agent can start at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.held:
            self.ws.store.agent_lease.release(self.holder, self.ws.actor, self.last_tick_ms)
            logger.info("released the agent lease")
        self.held = False

    def touch(self) -> None:
        """Note a tick (written with the next renewal)."""
        self.last_tick_ms = now_ms()
