"""Cron schedules and time zones as a CronJob's controller reads them, so a bad one becomes a
condition naming the field instead of a CronJob the API server refuses.

Kubernetes parses ``spec.schedule`` with robfig/cron v3's standard parser: five fields (minute,
hour, day of month, month, day of week) or a descriptor (``@hourly``, ``@every 5m``...); each
field a comma list of ``*``, ``?``, a value or a range ``a-b``, each optionally ``/step``; month
and weekday names (``jan``, ``mon``) in any case; weekdays 0-6. It refuses ``TZ=``/``CRON_TZ=``
in the schedule (the ``timeZone`` field says it). Written here rather than taken from a library:
croniter (the common one) accepts more than Kubernetes does — a sixth seconds field, ``L``,
``W``, ``#``, weekday 7 — so it would pass schedules the API server then rejects; this module
accepts exactly robfig's standard grammar.

Time zones are looked up in the IANA tz database (``zoneinfo``, static data shipped with Python
or the ``tzdata`` package), the same names the CronJob controller's Go runtime knows.
"""

from __future__ import annotations

import re
import zoneinfo

from modelops.core.durations import parse_duration

DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
WEEKDAYS = {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (name, lowest, highest, names)
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 6, WEEKDAYS),
)
_NUMBER = re.compile(r"^[0-9]+$")


def schedule_problem(schedule: str) -> str | None:
    """Why the CronJob controller would refuse ``schedule``; None when it is valid."""
    text = schedule.strip()
    if not text:
        return "is empty"
    if re.match(r"^(CRON_)?TZ=", text):
        return "must not carry TZ= or CRON_TZ=: set spec.timeZone instead"
    if text.startswith("@"):
        if text in DESCRIPTORS:
            return None
        if text.startswith("@every "):
            try:
                if parse_duration(text.removeprefix("@every ").strip()).total_seconds() > 0:
                    return None
            except ValueError:
                pass
            return f"{text!r}: @every needs a positive duration such as 5m"
        return f"{text!r} is not a descriptor (@yearly, @monthly, @weekly, @daily, @hourly, @every <duration>)"
    fields = text.split()
    if len(fields) != len(FIELDS):
        return f"{text!r} has {len(fields)} fields; a schedule has 5 (minute hour day-of-month month day-of-week)"
    for value, (name, low, high, names) in zip(fields, FIELDS, strict=True):
        problem = _field_problem(value, low, high, names)
        if problem is not None:
            return f"{text!r}: {name} field {value!r}: {problem}"
    return None


def _value(text: str, names: dict[str, int]) -> int | None:
    if text.lower() in names:
        return names[text.lower()]
    return int(text) if _NUMBER.match(text) else None


def _field_problem(field: str, low: int, high: int, names: dict[str, int]) -> str | None:
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        if "/" in part and (not _NUMBER.match(step_text) or int(step_text) == 0):
            return f"step {step_text!r} must be a positive number"
        if span in ("*", "?"):
            continue
        first_text, dash, last_text = span.partition("-")
        first = _value(first_text, names)
        last = _value(last_text, names) if dash else first
        if first is None or last is None:
            return f"{span!r} is not a value{' or a name' if names else ''} in {low}-{high}"
        if not (low <= first <= high and low <= last <= high):
            return f"{span!r} is outside {low}-{high}"
        if first > last:
            return f"range {span!r} ends before it starts"
    return None


def time_zone_problem(name: str) -> str | None:
    """Why ``name`` is not a time zone of the tz database; None when it is one."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not a time zone of the IANA tz database (e.g. Europe/Paris, Etc/UTC)"
    return None
