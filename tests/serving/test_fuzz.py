"""Fuzz every route from the OpenAPI spec: whatever arrives, no 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")


def test_openapi_fuzz_finds_no_server_errors(champion: Any, start_server: Any) -> None:
    from steward.serving import ServingConfig

    server = start_server("models:/clf@champion", config=ServingConfig(reload_interval_s=0))
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures: list[str] = []
    with httpx.Client() as client:
        for operation in schema.get_all_operations():
            op = operation.ok()
            label = f"{op.method} {op.path}"

            @settings(
                max_examples=25,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                kwargs = case.as_transport_kwargs(base_url=server.url)
                reply = client.request(
                    kwargs["method"],
                    kwargs["url"],
                    headers=kwargs.get("headers"),
                    params=kwargs.get("params"),
                    json=kwargs.get("json"),
                    content=kwargs.get("content") or kwargs.get("data"),
                )
                if reply.status_code >= 500:
                    failures.append(f"{label}: {reply.status_code} {reply.text[:200]}")  # noqa: B023
                assert len(reply.content) < 1_000_000

            from hypothesis import given

            given(case=op.as_strategy())(check)()
    assert httpx.get(f"{server.url}/ready").status_code == 200
    assert failures == []
