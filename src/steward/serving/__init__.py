"""Serving: a fast, safe prediction endpoint with logging, feedback, canary and shadow.

``create_app`` builds the ASGI app (native ``/predict``, MLflow
``/invocations``, Open Inference Protocol v2), ``serve`` runs it on uvicorn,
and ``read_predictions`` returns the prediction log joined with feedback
labels. FastAPI and uvicorn are imported only when a server is built:
``pip install "mlsteward[serve]"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steward.serving.config import ServingConfig
from steward.serving.feedback import FeedbackResult, log_feedback
from steward.serving.reading import read_predictions

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(model: str, **options: Any) -> FastAPI:
    """Build the serving app; see ``steward.serving.app.create_app`` for the options."""
    from steward.serving.app import create_app as build

    return build(model, **options)


def serve(model: str, **options: Any) -> None:
    """Run the serving app on uvicorn; see ``steward.serving.server.serve``."""
    from steward.serving.server import serve as run

    run(model, **options)


__all__ = [
    "FeedbackResult",
    "ServingConfig",
    "create_app",
    "log_feedback",
    "read_predictions",
    "serve",
]
