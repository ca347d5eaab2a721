"""``POST /explain``: why the served model gave these answers, bounded in cost.

Takes a ``/predict`` body of at most ``max_rows`` rows and returns, per row,
the score and each feature's contribution to it (occlusion against a
baseline: the one stored with the model version's latest explanation, else
the medians and modes of its input example). Features are taken one model
call at a time until the time budget is spent; the rest are left out and the
reply says ``truncated``. Runs off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from steward.errors import Conflict
from steward.serving import protocols
from steward.serving.errors import PayloadTooLarge
from steward.serving.protocols import native
from steward.serving.routes import json_response

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.serving.deployment import Deployment
    from steward.serving.repository import ModelRepository
    from steward.serving.served import ServedModel
    from steward.workspace import Workspace

EXPLAIN_MAX_ROWS = 20
EXPLAIN_TIME_BUDGET_S = 2.0


def _baseline(workspace: Workspace | None, deployment: Deployment) -> dict[str, Any]:
    """The stored explanation's baseline (models from the registry), else one from the
    input example."""
    from steward.governance.explain import baseline_values

    if workspace is not None and deployment.version is not None:
        reports = workspace.store.governance.reports(
            deployment.name, deployment.version, "explanation"
        )
        for report in reports:
            if report.body.get("baseline"):
                return dict(report.body["baseline"])
    example = deployment.model.input_example
    if example is not None and hasattr(example, "columns"):
        return baseline_values(example)
    raise Conflict(
        "this model has no baseline to explain against: store an explanation "
        "(steward.governance.explain) or log the model with an input_example."
    )


def _scorer(deployment: Deployment) -> Any:
    import numpy as np

    model = deployment.model

    def score(rows: Any) -> Any:
        if not deployment.has_probabilities:
            return np.asarray(model.predict(rows), dtype=np.float64)
        probabilities = np.asarray(model.predict_proba(rows))
        if probabilities.shape[1] == 2:
            return probabilities[:, 1]
        return probabilities.max(axis=1)

    return score


def _store_of(served: ServedModel) -> Workspace | None:
    """The workspace holding a registry model's explanations (None for a bundle)."""
    if served.spec.source.is_bundle:
        return None
    from steward.workspace import current_workspace

    return current_workspace()


def add_explain_routes(
    app: FastAPI,
    repository: ModelRepository,
    *,
    max_rows: int = EXPLAIN_MAX_ROWS,
    time_budget_s: float = EXPLAIN_TIME_BUDGET_S,
) -> None:
    """Add ``POST /explain`` (a server of one model) and ``POST /models/{name}/explain``."""
    baselines: dict[tuple[str, int | None], dict[str, Any]] = {}

    async def explain(request: Request, served: ServedModel) -> Response:
        from steward.governance.explain import local_contributions

        with served.admitted():
            async with repository.using(served) as router:
                payload = await protocols.read_json(
                    request, served.config.max_body_bytes, repository.config.body_timeout_s
                )
                rows = native.parse(payload, None).rows
                if len(rows) > max_rows:
                    raise PayloadTooLarge(
                        f"/explain takes at most {max_rows} rows (got {len(rows)}); send fewer."
                    )
                deployment = router.primary
                deployment.validate(rows, max_rows)
                key = (deployment.name, deployment.version)
                if key not in baselines:
                    baselines[key] = await asyncio.to_thread(
                        _baseline, _store_of(served), deployment
                    )
                found = await asyncio.to_thread(
                    local_contributions,
                    _scorer(deployment),
                    rows,
                    baselines[key],
                    time_budget_s=time_budget_s,
                )
        return json_response(
            {
                "model": deployment.name,
                "version": deployment.version,
                "method": found.method,
                "baseline": baselines[key],
                "explanations": [
                    {"score": score, "contributions": contributions}
                    for score, contributions in zip(found.scores, found.contributions, strict=True)
                ],
                "truncated": found.truncated,
            }
        )

    @app.post("/explain", tags=["explain"])
    async def explain_default(request: Request) -> Response:
        """Per-feature contributions to the model's score for a few rows."""
        return await explain(request, repository.default())

    @app.post("/models/{name}/explain", tags=["explain"])
    async def explain_named(request: Request, name: str) -> Response:
        """``/explain`` for the model served as ``name``."""
        return await explain(request, repository.get(name))
