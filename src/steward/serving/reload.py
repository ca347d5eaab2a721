"""Hot reload: when an alias moves in the registry, swap in the new version without a gap.

The new version is loaded and warmed up beside the old one; then the router
points at it, and the old deployment's batcher answers what it already holds
before it stops. Checks run on a timer and on ``POST /admin/reload``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from steward.serving.deployment import ModelSource, load_deployment
from steward.serving.memory import settle

if TYPE_CHECKING:
    from steward.serving.config import ServingConfig
    from steward.serving.deployment import Deployment
    from steward.serving.routing import Router

logger = logging.getLogger("steward.serving")

_RETIRE_GRACE_S = 1.0
ROLES = ("primary", "canary", "shadow")


class Reloader:
    """Keeps each deployment of a router on the version its source points at."""

    def __init__(
        self,
        router: Router,
        sources: dict[str, ModelSource],
        config: ServingConfig,
        observe_batch: Callable[[str, int | None, int], None] | None = None,
        on_reload: Callable[[], None] | None = None,
    ) -> None:
        self.router = router
        self.sources = {role: source for role, source in sources.items() if source.follows_alias}
        self.config = config
        self._observe_batch = observe_batch
        self._on_reload = on_reload
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    async def check(self) -> dict[str, int | None]:
        """Reload every deployment whose alias moved; return the roles that changed."""
        changed: dict[str, int | None] = {}
        async with self._lock:
            for role, source in self.sources.items():
                current: Deployment | None = getattr(self.router, role)
                if current is None:
                    continue
                _, version = await asyncio.to_thread(source.resolve_version)
                if version == current.version:
                    continue
                fresh = await asyncio.to_thread(
                    load_deployment,
                    source,
                    trust=self.config.trust,
                    backend=self.config.backend,
                    max_batch_rows=self.config.max_batch_rows,
                    max_wait_ms=self.config.max_wait_ms,
                    observe_batch=self._observe_batch,
                )
                fresh.batcher.start()
                setattr(self.router, role, fresh)
                logger.info("%s now serves %s (was %s)", role, fresh.label, current.label)
                changed[role] = fresh.version
                task = asyncio.get_running_loop().create_task(
                    current.batcher.stop(grace_s=_RETIRE_GRACE_S)
                )
                self._retiring.add(task)
                task.add_done_callback(self._retired)
                if self._on_reload is not None:
                    self._on_reload()
        return changed

    def _retired(self, task: asyncio.Task[None]) -> None:
        self._retiring.discard(task)
        settle()  # the old version's memory goes back to the system

    async def poll(self, interval_s: float) -> None:
        """Check every ``interval_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.check()
            except Exception:
                logger.exception("checking for a new model version failed; still serving the old")

    async def close(self) -> None:
        """Wait for retired deployments to finish what they hold."""
        if self._retiring:
            await asyncio.wait(set(self._retiring), timeout=10)
