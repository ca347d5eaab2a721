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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from steward.errors import Conflict
from steward.serving import protocols
from steward.serving.errors import PayloadTooLarge
from steward.serving.protocols import native

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.serving.app import ServingState
    from steward.serving.deployment import Deployment

EXPLAIN_MAX_ROWS = 20
EXPLAIN_TIME_BUDGET_S = 2.0


def _baseline(state: ServingState, deployment: Deployment) -> dict[str, Any]:
    """The stored explanation's baseline, else one from the input example."""
    from steward.governance.explain import baseline_values

    if deployment.version is not None and not state.sources["primary"].is_bundle:
        reports = state.workspace.store.governance.reports(
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


def add_explain_route(
    app: FastAPI,
    state: ServingState,
    respond: Callable[[Any], Response],
    *,
    max_rows: int = EXPLAIN_MAX_ROWS,
    time_budget_s: float = EXPLAIN_TIME_BUDGET_S,
) -> None:
    """Add ``POST /explain`` to a serving app; ``respond`` makes the app's JSON replies."""
    baselines: dict[tuple[str, int | None], dict[str, Any]] = {}

    @app.post("/explain", tags=["explain"])
    async def explain(request: Request) -> Response:
        """Per-feature contributions to the primary model's score for a few rows."""
        from steward.governance.explain import local_contributions

        router = state.ready_router()
        payload = await protocols.read_json(request, state.config.max_body_bytes)
        parsed = native.parse(payload, None)
        rows = parsed.rows
        if len(rows) > max_rows:
            raise PayloadTooLarge(
                f"/explain takes at most {max_rows} rows (got {len(rows)}); send fewer."
            )
        deployment = router.primary
        deployment.validate(rows, max_rows)
        key = (deployment.name, deployment.version)
        if key not in baselines:
            baselines[key] = await asyncio.to_thread(_baseline, state, deployment)
        found = await asyncio.to_thread(
            local_contributions,
            _scorer(deployment),
            rows,
            baselines[key],
            time_budget_s=time_budget_s,
        )
        return respond(
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
