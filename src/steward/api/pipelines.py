"""Pipeline runs, their steps and the step cache over HTTP.

A pipeline runs where its caller is (in-process, a process pool or Ray) and
records its steps here, so a team shares one step cache and one history.
What a step records names blobs (outputs, artifacts) and carries names and
values the SDK checked; the server checks them again, as it does for runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from steward.api.endpoint import Endpoint, Repository
from steward.api.tracking import check_artifact_entries, check_batch
from steward.auth import Role
from steward.blobs.digest import digest_bytes, parse_digest
from steward.errors import InvalidInput
from steward.store.pipeline_records import INLINE_LIMIT, StepOutcome, StepOutput
from steward.store.pipelines import PipelineStore
from steward.store.validation import check_name


def _check_outputs(outputs: Sequence[StepOutput]) -> None:
    for output in outputs:
        algorithm, _ = parse_digest(output.digest)
        if output.size < 0:
            raise InvalidInput(f"output {output.name!r} has a negative size.")
        if output.inline is not None:
            # A value kept in the record must be the small JSON its digest names, or a
            # cache hit would hand other steps something else than was computed.
            data = output.inline.encode()
            if output.kind != "json" or len(data) > INLINE_LIMIT:
                raise InvalidInput(
                    f"output {output.name!r}: only JSON of up to {INLINE_LIMIT} bytes is kept "
                    "in a step's record; store larger outputs as blobs."
                )
            if digest_bytes(data, algorithm) != output.digest:
                raise InvalidInput(f"output {output.name!r}: its value does not match its digest.")


def _check_new_run(arguments: dict[str, Any]) -> None:
    check_name("pipeline", arguments["pipeline"])
    if arguments["pid"] < 0:
        raise InvalidInput("pid cannot be negative.")
    for step in arguments["steps"]:
        check_name("step", step.name)


def _check_pipeline_name(arguments: dict[str, Any]) -> None:
    check_name("pipeline", arguments["pipeline"])


def _check_outcome(outcome: StepOutcome) -> None:
    check_name("step", outcome.name)
    check_batch({"params": outcome.params, "tags": outcome.tags, "metrics": outcome.metrics})
    check_artifact_entries(outcome.artifacts)
    _check_outputs(outcome.outputs)
    if outcome.code_digest is not None:
        parse_digest(outcome.code_digest)


def _check_finish(arguments: dict[str, Any]) -> None:
    for outcome in arguments["outcomes"]:
        _check_outcome(outcome)


_pipelines = partial(Endpoint, "pipelines")
_read, _write = Role.VIEWER, Role.EDITOR
_run = "/pipeline-runs/{run_id}"

PIPELINES = Repository(
    "pipelines",
    (
        _pipelines(PipelineStore.create_run, "POST", _run, _write, _check_new_run, 201),
        _pipelines(
            PipelineStore.start_steps, "POST", "/pipeline-runs/{parent_run_id}/starts", _write
        ),
        _pipelines(
            PipelineStore.finish,
            "POST",
            "/pipeline-runs/{parent_run_id}/outcomes",
            _write,
            _check_finish,
        ),
        _pipelines(PipelineStore.list_runs, "GET", "/pipeline-runs", _read),
        _pipelines(PipelineStore.get_run, "GET", _run, _read),
        _pipelines(PipelineStore.find_run_ids, "GET", "/pipeline-run-ids", _read),
        _pipelines(PipelineStore.reusable_steps, "GET", _run + "/reusable-steps", _read),
        _pipelines(PipelineStore.lookup_cache, "POST", "/step-cache/lookup", _read),
        _pipelines(
            PipelineStore.cache_candidates,
            "GET",
            "/step-cache/candidates",
            _read,
            _check_pipeline_name,
        ),
        _pipelines(PipelineStore.stale_reads, "POST", "/step-cache/stale-reads", _read),
        _pipelines(PipelineStore.forget_cache, "POST", "/step-cache/forget", _write),
    ),
)
