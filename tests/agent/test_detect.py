"""Cron triggers answer exactly the latest slot passed since their cursor (property test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from steward.agent.detect import find_causes, schedule
from steward.store.agent_records import TriggerRecord
from steward.store.records import datetime_to_ms

EXPRESSIONS = st.sampled_from(
    ["* * * * *", "*/7 * * * *", "0 * * * *", "30 2 * * *", "0 0 * * 1", "15 8 1,15 * *"]
)
MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)


def _trigger(expression: str, cursor: datetime) -> TriggerRecord:
    return TriggerRecord(
        id="t",
        name="t",
        pipeline="m:f",
        params={},
        kind="cron",
        spec={"cron": expression},
        model=None,
        paused=False,
        cursor=datetime_to_ms(cursor),
        created_at=cursor,
        created_by="tester",
        updated_at=cursor,
    )


@settings(max_examples=60, deadline=None)
@given(EXPRESSIONS, MOMENTS, st.integers(min_value=0, max_value=90 * 24 * 60))
def test_cron_answers_the_latest_slot_once(expression: str, cursor: datetime, minutes: int) -> None:
    cursor = cursor.replace(microsecond=0)
    now = cursor + timedelta(minutes=minutes)
    cron = schedule(expression)
    findings = find_causes(_trigger(expression, cursor), None, now)  # type: ignore[arg-type]
    if not findings.causes:
        assert cron.next_after(cursor) > now and findings.cursor == datetime_to_ms(cursor)
        return
    (cause,) = findings.causes
    slot = datetime.fromisoformat(cause.details["slot"])
    assert cursor < slot <= now and cron.next_after(slot) > now  # the latest slot passed
    assert cause.key == f"cron:{slot.isoformat()}" and cause.cursor == datetime_to_ms(slot)
    # Answered: from the new cursor there is nothing more until the next slot.
    again = find_causes(_trigger(expression, slot), None, now)  # type: ignore[arg-type]
    assert again.causes == []
