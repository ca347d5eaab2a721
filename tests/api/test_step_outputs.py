"""What the server checks of step outputs a client says it kept in the step's record."""

from __future__ import annotations

from typing import Any

import pytest

from steward.api.repositories import REPOSITORIES
from steward.blobs.digest import digest_bytes
from steward.errors import InvalidInput
from steward.pipelines.codec import INLINE_LIMIT
from steward.store.pipeline_records import StepOutcome, StepOutput, StepStatus


def _finish_check() -> Any:
    (endpoint,) = [
        endpoint
        for repository in REPOSITORIES
        for endpoint in repository.endpoints
        if endpoint.operation_id == "pipelines.finish"
    ]
    assert endpoint.check is not None
    return endpoint.check


def _outcome(output: StepOutput) -> dict[str, Any]:
    return {
        "outcomes": [
            StepOutcome(step_pk=1, name="link", status=StepStatus.COMPLETED, outputs=(output,))
        ]
    }


def test_an_inline_output_must_be_the_small_json_its_digest_names() -> None:
    check = _finish_check()
    digest = digest_bytes(b"0", "sha256")
    check(_outcome(StepOutput("output", "json", digest, 1, "int", inline="0")))
    with pytest.raises(InvalidInput, match="does not match its digest"):
        check(_outcome(StepOutput("output", "json", digest, 1, "int", inline="1")))
    big = "[" + ",".join(["1"] * INLINE_LIMIT) + "]"
    with pytest.raises(InvalidInput, match="only JSON of up to"):
        check(
            _outcome(
                StepOutput(
                    "output", "json", digest_bytes(big.encode()), len(big), "list", inline=big
                )
            )
        )
    with pytest.raises(InvalidInput, match="only JSON"):
        check(_outcome(StepOutput("output", "bytes", digest, 1, "bytes", inline="0")))
