"""Hot reload: when an alias moves in the registry, swap in the new version without a gap.

The new version is loaded and warmed up beside the old one; then the router
points at it, and the old deployment's batcher answers what it already holds
before it stops. Checks run on a timer and on ``POST /admin/reload``. A
version that cannot be loaded leaves the old one serving; the failure is kept
(``last_error``) for ``/ready`` and ``/metrics`` until a later check succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from steward.serving.deployment import load_deployment
from steward.serving.errors import ReloadFailed, public_message
from steward.serving.memory import settle

if TYPE_CHECKING:
    from steward.serving.config import ServingConfig
    from steward.serving.deployment import Deployment
    from steward.serving.routing import Router
    from steward.serving.sources import ModelSource

logger = logging.getLogger("steward.serving")

_RETIRE_GRACE_S = 1.0


class Reloader:
    """Keeps each deployment of a router on the version its source points at."""

    def __init__(
        self,
        router: Router,
        sources: dict[str, ModelSource],
        config: ServingConfig,
        observe_batch: Callable[[str, int | None, int], None] | None = None,
        on_reload: Callable[[], None] | None = None,
        on_failure: Callable[[str | None], None] | None = None,
    ) -> None:
        self.router = router
        self.sources = {role: source for role, source in sources.items() if source.follows_alias}
        self.config = config
        self.last_error: str | None = None
        """Why the last check could not load a version (None once one succeeds)."""
        self._observe_batch = observe_batch
        self._on_reload = on_reload
        self._on_failure = on_failure
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    async def check(self) -> dict[str, int | None]:
        """Reload every deployment whose alias moved; return the roles that changed.

        Raises:
            ReloadFailed: a new version could not be loaded (the old one still serves).
        """
        changed: dict[str, int | None] = {}
        failures: list[str] = []
        async with self._lock:
            for role, source in self.sources.items():
                current: Deployment | None = getattr(self.router, role)
                if current is None:
                    continue
                try:
                    fresh = await self._load_if_moved(source, current)
                except Exception as exc:
                    logger.warning("%s: cannot load the new version: %s", role, exc)
                    failures.append(f"{role}: {public_message(str(exc))}")
                    continue
                if fresh is not None:
                    self._swap(role, current, fresh)
                    changed[role] = fresh.version
            self.last_error = "; ".join(failures) or None
            if self._on_failure is not None:
                self._on_failure(self.last_error)
        if failures:
            serving = self.router.primary.label
            raise ReloadFailed(f"reload failed ({self.last_error}); still serving {serving}.")
        return changed

    async def _load_if_moved(self, source: ModelSource, current: Deployment) -> Deployment | None:
        _, version = await asyncio.to_thread(source.resolve_version)
        if version == current.version:
            return None
        return await asyncio.to_thread(
            load_deployment,
            source,
            trust=self.config.trust,
            backend=self.config.backend,
            max_batch_rows=self.config.max_batch_rows,
            max_wait_ms=self.config.max_wait_ms,
            observe_batch=self._observe_batch,
        )

    def _swap(self, role: str, current: Deployment, fresh: Deployment) -> None:
        fresh.batcher.start()
        setattr(self.router, role, fresh)
        logger.info("%s now serves %s (was %s)", role, fresh.label, current.label)
        task = asyncio.get_running_loop().create_task(current.batcher.stop(grace_s=_RETIRE_GRACE_S))
        self._retiring.add(task)
        task.add_done_callback(self._retired)
        if self._on_reload is not None:
            self._on_reload()

    def _retired(self, task: asyncio.Task[None]) -> None:
        self._retiring.discard(task)
        settle()  # the old version's memory goes back to the system

    async def poll(self, interval_s: float) -> None:
        """Check every ``interval_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.check()
            except ReloadFailed:
                pass  # kept in last_error, logged above
            except Exception:
                logger.exception("checking for a new model version failed; still serving the old")

    async def close(self) -> None:
        """Wait for retired deployments to finish what they hold."""
        if self._retiring:
            await asyncio.wait(set(self._retiring), timeout=10)
