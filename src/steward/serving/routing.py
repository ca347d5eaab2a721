"""Routing between model versions: the primary, a canary share, a shadow.

A canary takes a fixed share of rows; a row with an entity id always goes
the same way (its id is hashed into [0, 1)), rows without one are split at
random per request. A shadow runs on every request after the primary has
answered; only the primary's (or canary's) answer is returned, and both are
logged with the route that produced them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steward.serving.ids import new_request_ids
from steward.serving.prediction_log import LogEntry

if TYPE_CHECKING:
    import numpy as np

    from steward.serving.batching import ModelOutput
    from steward.serving.deployment import Deployment
    from steward.serving.prediction_log import PredictionLogWriter
    from steward.serving.protocols import ParsedInput

logger = logging.getLogger("steward.serving")

PRIMARY, CANARY, SHADOW = "primary", "canary", "shadow"


@dataclass
class PredictionResult:
    """The answer to one request, row by row.

    ``predictions`` (and ``probabilities``, rows of class probabilities) are
    arrays, so a protocol can write them as they are: JSON without a list per
    value, binary tensors without a copy.
    """

    model: str
    predictions: np.ndarray
    probabilities: np.ndarray | None
    classes: list[Any] | None
    request_ids: list[str]
    versions: list[int | None]
    routes: list[str]


def sticky_share(entity_id: str) -> float:
    """Where an entity id falls in [0, 1): the same id always lands in the same place."""
    digest = hashlib.blake2b(entity_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Router:
    """Sends rows to the primary or the canary, mirrors them to the shadow, and logs all."""

    def __init__(
        self,
        primary: Deployment,
        *,
        canary: Deployment | None = None,
        canary_share: float = 0.0,
        shadow: Deployment | None = None,
        log: PredictionLogWriter | None = None,
        max_rows: int = 10_000,
    ) -> None:
        self.primary = primary
        self.canary = canary
        self.canary_share = canary_share
        self.shadow = shadow
        self.log = log
        self.max_rows = max_rows
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        self.on_predictions: Any = None

    def deployments(self) -> list[Deployment]:
        """Every deployment the router may call."""
        return [d for d in (self.primary, self.canary, self.shadow) if d is not None]

    def _assign(self, rows: int, entity_ids: list[str | None] | None) -> list[str]:
        if self.canary is None or self.canary_share <= 0:
            return [PRIMARY] * rows
        draw = random.random()
        routes = []
        for index in range(rows):
            entity = entity_ids[index] if entity_ids is not None else None
            share = sticky_share(entity) if entity is not None else draw
            routes.append(CANARY if share < self.canary_share else PRIMARY)
        return routes

    def _groups(self, routes: list[str]) -> list[tuple[str, Deployment, list[int]]]:
        """The deployments a request's rows go to, each with the indices of its rows."""
        if len(set(routes)) == 1:  # the common case: every row one way, no scan per row
            deployment = self.primary if routes[0] == PRIMARY else self.canary
            assert deployment is not None
            return [(routes[0], deployment, list(range(len(routes))))]
        groups: list[tuple[str, Deployment, list[int]]] = []
        for route, deployment in ((PRIMARY, self.primary), (CANARY, self.canary)):
            indices = [index for index, name in enumerate(routes) if name == route]
            if indices and deployment is not None:
                groups.append((route, deployment, indices))
        return groups

    async def predict(
        self,
        parsed: ParsedInput,
        *,
        protocol: str,
        want_probabilities: bool = True,
        correlation_id: str | None = None,
    ) -> PredictionResult:
        """Validate, route and predict the rows of one request; log what was answered.

        Raises:
            InvalidInput: the rows do not match the signature (or the row limit).
        """
        started = time.perf_counter()
        frame = parsed.rows
        rows = len(frame)
        if rows == 0:
            self.primary.validate(frame, self.max_rows)  # raises: no rows
        routes = self._assign(rows, parsed.entity_ids)
        groups = self._groups(routes)
        prepared = []
        for _route, deployment, indices in groups:
            part = frame if len(indices) == rows else _take(frame, indices)
            prepared.append(
                deployment.validate(_named_for(deployment, part, parsed.columns), self.max_rows)
            )
        outputs = await asyncio.gather(
            *(
                deployment.batcher.submit(rows_in, want_probabilities)
                for (_, deployment, _), rows_in in zip(groups, prepared, strict=True)
            )
        )
        # One range of ids per group (what the log indexes as one row), in the request's order.
        group_ids = [new_request_ids(len(indices)) for _, _, indices in groups]
        request_ids = group_ids[0] if len(groups) == 1 else [""] * rows
        if len(groups) > 1:
            for (_, _, indices), ids in zip(groups, group_ids, strict=True):
                for index, request_id in zip(indices, ids, strict=True):
                    request_ids[index] = request_id
        time_ms = int(time.time() * 1000)
        latency_ms = (time.perf_counter() - started) * 1000
        versions: list[int | None] = [groups[0][1].version] * rows
        for (route, deployment, indices), output, rows_in, ids in zip(
            groups, outputs, prepared, group_ids, strict=True
        ):
            if len(groups) > 1:
                for index in indices:
                    versions[index] = deployment.version
            self._log(
                deployment,
                route,
                protocol,
                time_ms,
                latency_ms,
                ids,
                rows_in,
                output.predictions,
                output.probabilities,
                parsed.entity_ids,
                indices,
                correlation_id,
            )
        predictions, probabilities = _merge(
            rows, [indices for _, _, indices in groups], outputs, want_probabilities
        )
        with_probabilities = [d for _, d, _ in groups if probabilities is not None]
        classes = with_probabilities[-1].classes if with_probabilities else None
        if self.shadow is not None:
            shadow_rows = _named_for(self.shadow, frame, parsed.columns)
            self._mirror(shadow_rows, parsed.entity_ids, request_ids, protocol, correlation_id)
        return PredictionResult(
            self.primary.name,
            predictions,
            probabilities,
            None if classes is None else [_plain(value) for value in classes],
            request_ids,
            versions,
            routes,
        )

    def _log(
        self,
        deployment: Deployment,
        route: str,
        protocol: str,
        time_ms: int,
        latency_ms: float,
        request_ids: list[str],
        inputs: Any,
        predictions: Any,
        probabilities: Any,
        entity_ids: list[str | None] | None,
        indices: list[int],
        correlation_id: str | None,
    ) -> None:
        if self.on_predictions is not None:
            self.on_predictions(deployment, route, len(request_ids))
        if self.log is None:
            return
        self.log.submit(
            LogEntry(
                model=deployment.name,
                version=deployment.version,
                route=route,
                protocol=protocol,
                time_ms=time_ms,
                latency_ms=latency_ms,
                request_ids=request_ids,
                inputs=inputs,
                input_names=deployment.input_names,
                input_dtypes=deployment.input_dtypes,
                predictions=predictions,
                probabilities=probabilities,
                entity_ids=None if entity_ids is None else [entity_ids[i] for i in indices],
                correlation_id=correlation_id,
            )
        )

    def _mirror(
        self,
        frame: Any,
        entity_ids: list[str | None] | None,
        request_ids: list[str],
        protocol: str,
        correlation_id: str | None,
    ) -> None:
        shadow = self.shadow
        assert shadow is not None

        async def run() -> None:
            started = time.perf_counter()
            try:
                rows_in = shadow.validate(frame, self.max_rows)
                output = await shadow.batcher.submit(rows_in, True)
            except Exception as exc:
                logger.warning("shadow %s failed on a request: %s", shadow.label, exc)
                return
            self._log(
                shadow,
                SHADOW,
                protocol,
                int(time.time() * 1000),
                (time.perf_counter() - started) * 1000,
                request_ids,
                rows_in,
                output.predictions,
                output.probabilities,
                entity_ids,
                list(range(len(request_ids))),
                correlation_id,
            )

        task = asyncio.get_running_loop().create_task(run())
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for shadow predictions still running."""
        if self._shadow_tasks:
            await asyncio.wait(set(self._shadow_tasks), timeout=timeout)


def _merge(
    rows: int, parts: list[list[int]], outputs: list[ModelOutput], want_probabilities: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The outputs of the groups a request was split into, back in the request's row order."""
    import numpy as np

    if len(outputs) == 1 and len(parts[0]) == rows:
        output = outputs[0]
        probabilities = output.probabilities if want_probabilities else None
        return np.asarray(output.predictions), None if probabilities is None else np.asarray(
            probabilities
        )
    predictions = np.empty(rows, dtype=object)
    for indices, output in zip(parts, outputs, strict=True):
        predictions[indices] = list(np.asarray(output.predictions).tolist())
    given = [np.asarray(output.probabilities) for output in outputs]
    if not want_probabilities or any(p is None or p.ndim != 2 for p in given):
        return predictions, None
    if len({p.shape[1] for p in given}) != 1:
        return predictions, None
    probabilities = np.empty((rows, given[0].shape[1]), dtype="float64")
    for indices, part in zip(parts, given, strict=True):
        probabilities[indices] = part
    return predictions, probabilities


def _named_for(deployment: Deployment, rows: Any, columns: list[str] | None) -> Any:
    """Array rows as ``deployment`` must read them.

    An array's columns follow the signature it was parsed with (the primary's).
    A canary or shadow whose columns differ gets a DataFrame named after them,
    which its signature check puts in its own order by name.
    """
    if columns is None or not hasattr(rows, "ndim") or deployment.input_names == columns:
        return rows
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def _take(rows: Any, indices: list[int]) -> Any:
    """The rows at ``indices`` of a DataFrame or an array."""
    return rows.iloc[indices] if hasattr(rows, "iloc") else rows[indices]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
