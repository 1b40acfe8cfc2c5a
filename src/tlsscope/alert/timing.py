"""When an alert goes out: its batch's boundary, past the rule's quiet hours, and when a
failed attempt is tried again. Pure functions of a time (UTC) and a rule's settings.

    due(now, batch, quiet, zone, critical_passes)   when a new alert is to be sent
    retry_after(attempts)                           the wait before attempt n+1, or None
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

BATCHES = ("instant", "hourly", "daily")
DAILY_HOUR = 8  # a daily batch goes out at 08:00 in the rule's time zone
# After the 1st, 2nd, ... failed attempt (1 min ... 6 h); after the last, the delivery fails.
BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=15),
           dt.timedelta(hours=1), dt.timedelta(hours=3), dt.timedelta(hours=6))
_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def retry_after(attempts: int) -> dt.timedelta | None:
    """The wait after `attempts` failed attempts, or None: it has failed for good."""
    return BACKOFF[attempts - 1] if 1 <= attempts <= len(BACKOFF) else None


def zone(name: str) -> zoneinfo.ZoneInfo:
    """A time zone by its IANA name; ValueError names a bad one."""
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        raise ValueError(f"not a time zone: {name[:64]!r}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"not a time zone: {name[:64]!r} (an IANA name such as "
                         "Europe/Lisbon or UTC)") from None


def quiet_hours(text: str) -> tuple[dt.time, dt.time] | None:
    """"22:00-07:00" → (22:00, 07:00); "" → None; ValueError for anything else."""
    if not text:
        return None
    found = _QUIET.match(text.strip())
    if found is None:
        raise ValueError(f"quiet hours must be HH:MM-HH:MM (such as 22:00-07:00), not "
                         f"{text[:40]!r}")
    a, b, c, d = (int(g) for g in found.groups())
    if (a, b) == (c, d):
        raise ValueError("quiet hours must not start and end at the same time")
    return dt.time(a, b), dt.time(c, d)


def _quiet_end(local: dt.datetime, quiet: tuple[dt.time, dt.time]) -> dt.datetime | None:
    """The end of the quiet hours `local` falls in (local time), or None when it does not."""
    start, end = quiet
    t = local.time().replace(tzinfo=None)
    if start < end:  # 01:00-06:00
        inside = start <= t < end
        day = local.date()
    else:  # 22:00-07:00: across midnight
        inside = t >= start or t < end
        day = local.date() + dt.timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return dt.datetime.combine(day, end, tzinfo=local.tzinfo)


def _boundary(now: dt.datetime, batch: str, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    if batch == "hourly":
        return now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    if batch == "daily":
        local = now.astimezone(tz)
        at = dt.datetime.combine(local.date(), dt.time(DAILY_HOUR), tzinfo=tz)
        if at <= local:
            at = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(DAILY_HOUR),
                                     tzinfo=tz)
        return at.astimezone(dt.UTC)
    return now


def due(now: dt.datetime, batch: str, quiet: str, zone_name: str,
        critical_passes: bool) -> dt.datetime:
    """When an alert made at `now` goes out: at once (instant), at the next full hour (hourly)
    or at 08:00 local time (daily); pushed to the end of the quiet hours when that falls in
    them, unless `critical_passes` (a critical alert, and the rule lets it through)."""
    tz = zone(zone_name)
    at = _boundary(now.astimezone(dt.UTC), batch, tz)
    hours = quiet_hours(quiet)
    if hours is None or critical_passes:
        return at
    end = _quiet_end(at.astimezone(tz), hours)
    return at if end is None else end.astimezone(dt.UTC)
