"""Monitor schedules and windows: a small five-field cron parser and window specs.

Cron: ``minute hour day-of-month month day-of-week``, each a ``*``, a number, a
range ``a-b``, a list ``a,b`` and an optional step ``/n``; months and weekdays
also by their English three-letter names; ``@hourly``, ``@daily``, ``@weekly``,
``@monthly`` as shorthands. As in Vixie cron, when both day fields are
restricted a day matches either of them.

Windows: ``"1h"``, ``"30m"``, ``"1d"``, ``"2w"`` (the time before now) or
``"500"`` / ``"500 rows"`` (the latest rows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from steward.errors import InvalidInput

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES = {
    3: {month: i for i, month in enumerate(_MONTHS, 1)},
    4: {day: i for i, day in enumerate(_WEEKDAYS)},
}
_SHORTHANDS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
_CRON_HELP = "expected five fields 'minute hour day month weekday', e.g. '0 * * * *' (hourly)"


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression; ``next_after`` finds the next time it fires."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    def matches(self, moment: datetime) -> bool:
        """True when the schedule fires in ``moment``'s minute."""
        weekday = (moment.weekday() + 1) % 7  # cron: Sunday is 0
        if self.any_day or self.any_weekday:
            day_ok = moment.day in self.days and weekday in self.weekdays
        else:
            day_ok = moment.day in self.days or weekday in self.weekdays
        return (
            day_ok
            and moment.month in self.months
            and moment.hour in self.hours
            and moment.minute in self.minutes
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first firing time strictly after ``moment`` (within five years)."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = candidate + timedelta(days=5 * 366)
        while candidate < limit:
            if candidate.month not in self.months:
                candidate = (
                    candidate.replace(day=1, hour=0, minute=0) + timedelta(days=32)
                ).replace(day=1)
                continue
            if not self.matches(candidate.replace(hour=min(self.hours), minute=min(self.minutes))):
                candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0) + timedelta(hours=1)
                continue
            if candidate.minute in self.minutes:
                return candidate
            candidate += timedelta(minutes=1)
        raise InvalidInput(f"cron schedule {self.expression!r} never fires.")


def _field(text: str, index: int) -> frozenset[int]:
    name, low, high = _FIELDS[index]
    names = _NAMES.get(index, {})
    values: set[int] = set()

    def number(token: str) -> int:
        token = token.lower()
        if token in names:
            return names[token]
        if not token.isdigit():
            raise InvalidInput(f"cron {name} field {text!r}: {token!r} is not a number")
        value = int(token)
        if index == 4 and value == 7:
            value = 0  # Sunday may be written 7
        if not low <= value <= high:
            raise InvalidInput(f"cron {name} field {text!r}: {value} is outside {low}-{high}")
        return value

    for part in text.split(","):
        body, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise InvalidInput(f"cron {name} field {text!r}: step {step_text!r} must be >= 1")
            step = int(step_text)
        if body == "*":
            start, stop = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, stop = number(first), number(last)
            if start > stop:
                raise InvalidInput(f"cron {name} field {text!r}: range {body!r} runs backwards")
        else:
            start = number(body)
            stop = high if slash else start
        values.update(range(start, stop + 1, step))
    return frozenset(values)


def parse_cron(expression: str) -> CronSchedule:
    """Parse a five-field cron expression (or ``@hourly``, ``@daily``…).

    Raises:
        InvalidInput: the expression is malformed, with what was wrong.
    """
    text = _SHORTHANDS.get(expression.strip().lower(), expression.strip())
    parts = text.split()
    if len(parts) != 5:
        raise InvalidInput(f"cron schedule {expression!r} has {len(parts)} field(s); {_CRON_HELP}.")
    try:
        fields = [_field(part, i) for i, part in enumerate(parts)]
    except InvalidInput as exc:
        raise InvalidInput(f"cron schedule {expression!r}: {exc}; {_CRON_HELP}.") from None
    return CronSchedule(
        expression=expression.strip(),
        minutes=fields[0],
        hours=fields[1],
        days=fields[2],
        months=fields[3],
        weekdays=fields[4],
        any_day=parts[2] == "*",
        any_weekday=parts[4] == "*",
    )


_WINDOW = re.compile(
    r"^\s*(?P<count>\d+)\s*(?P<unit>s|sec|m|min|h|hr|hours?|d|days?|w|weeks?|rows?)?\s*$",
    re.IGNORECASE,
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class WindowSpec:
    """The stretch of predictions a monitor evaluates: a duration or a row count."""

    text: str
    duration: timedelta | None = None
    rows: int | None = None

    def describe(self) -> str:
        """Readable form: 'the last 1:00:00' or 'the latest 500 rows'."""
        if self.rows is not None:
            return f"the latest {self.rows} rows"
        return f"the last {self.text}"


def parse_window(text: str) -> WindowSpec:
    """Parse ``"1h"``, ``"30m"``, ``"1d"``, ``"2w"``, ``"500"`` or ``"500 rows"``.

    Raises:
        InvalidInput: anything else, or a zero-sized window.
    """
    match = _WINDOW.match(str(text))
    if match is None:
        raise InvalidInput(
            f"window {text!r} is not understood; use a duration like '30m', '1h', '1d', '2w' "
            "or a row count like '500 rows'."
        )
    count = int(match["count"])
    if count <= 0:
        raise InvalidInput(f"window {text!r} is empty; give a positive size.")
    unit = (match["unit"] or "rows").lower()
    if unit.startswith("row"):
        return WindowSpec(text=str(text).strip(), rows=count)
    seconds = _UNITS[unit[0]] * count
    return WindowSpec(text=str(text).strip(), duration=timedelta(seconds=seconds))
