"""The starts of inline steps, written only when something needs them.

An inline step's nested run was created in a transaction of its own as the
step started, then ended in the batch that records finished steps. Most
steps take milliseconds and nothing reads their run meanwhile, so the start
is held back and the run is created together with its end, in that batch: a
cold run of N inline steps writes a handful of times instead of N more. The
start is written at once when the step's code uses its run (any
``steward.active_run()``, a logged param or artifact, a dataset read whose
lineage names the run, a nested run), and by a watcher thread once the step
has run ``STORE_AFTER_S``, so a long step shows as running while it runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from steward.store.pipeline_records import StepStart

STORE_AFTER_S = 1.0
"""How long an inline step runs before its start is written anyway."""


class DeferredStarts:
    """Step starts held back until a step's run is used, runs long, or ends.

    Args:
        write: stores starts (creates their runs, marks their steps running).
        after_s: how long a step may run before its start is written anyway
            (default ``STORE_AFTER_S``).
    """

    def __init__(
        self, write: Callable[[list[StepStart]], None], after_s: float | None = None
    ) -> None:
        self._write = write
        self._after_s = STORE_AFTER_S if after_s is None else after_s
        self._held: dict[str, tuple[StepStart, float]] = {}
        self._changed = threading.Condition()
        self._watcher: threading.Thread | None = None
        self._closed = False

    def hold(self, name: str, start: StepStart) -> None:
        """Hold back the start of step ``name``, which is starting now."""
        with self._changed:
            idle = not self._held
            self._held[name] = (start, time.monotonic() + self._after_s)
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch, name="steward-step-starts", daemon=True
                )
                self._watcher.start()
            elif idle:
                # A watcher with starts held wakes by their time, no later than this one's
                # (held in order): waking it for each step cost a thread switch per step.
                self._changed.notify()

    def store(self, name: str) -> None:
        """Write the start of step ``name`` now, if it is still held back.

        Raises:
            StorageError: the store cannot be written (the start stays held back).
        """
        with self._changed:
            held = self._held.get(name)
            if held is not None:
                self._write([held[0]])
                del self._held[name]

    def take(self, name: str) -> StepStart | None:
        """Step ``name`` ended: its start if it was never written (its run is then
        created with its end), else None."""
        with self._changed:
            held = self._held.pop(name, None)
        return None if held is None else held[0]

    def close(self) -> None:
        """Stop the watcher (what is still held back is the caller's to record)."""
        with self._changed:
            self._closed = True
            self._changed.notify()
        if self._watcher is not None:
            self._watcher.join()

    def _watch(self) -> None:
        with self._changed:
            while not self._closed:
                now = time.monotonic()
                for name, (start, due) in list(self._held.items()):
                    if due > now:
                        continue
                    try:
                        self._write([start])
                    except Exception:
                        # The step's end creates its run; try again later meanwhile.
                        self._held[name] = (start, now + self._after_s)
                    else:
                        del self._held[name]
                dues = [due for _, due in self._held.values()]
                self._changed.wait(max(0.0, min(dues) - now) if dues else None)
