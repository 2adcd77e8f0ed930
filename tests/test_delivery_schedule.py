"""The pure schedule logic of delivery.py, table-tested with fixed clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.config import settings as config_mod
from monitor.deliver.schedule import due_channels, in_quiet_hours, next_retry, plan, previous_slot

TZ = ZoneInfo("Europe/Tallinn")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.mark.parametrize("schedule,now,slot", [
    ("hourly", local(2026, 3, 4, 10, 59), local(2026, 3, 4, 10, 0)),
    ("immediate", local(2026, 3, 4, 10, 0), local(2026, 3, 4, 10, 0)),
    ("daily at 08:00", local(2026, 3, 4, 7, 59), local(2026, 3, 3, 8, 0)),
    ("daily at 08:00", local(2026, 3, 4, 8, 0), local(2026, 3, 4, 8, 0)),
    ("daily at 8:30", local(2026, 3, 4, 23, 0), local(2026, 3, 4, 8, 30)),
    # 2026-03-04 is a Wednesday
    ("weekly on monday at 09:00", local(2026, 3, 4, 12, 0), local(2026, 3, 2, 9, 0)),
    ("weekly on wed at 09:00", local(2026, 3, 4, 8, 0), local(2026, 2, 25, 9, 0)),
    ("weekly on wed at 09:00", local(2026, 3, 4, 9, 0), local(2026, 3, 4, 9, 0)),
    # across the spring DST change (29 March 2026 in Europe/Tallinn): still 08:00 wall clock
    ("daily at 08:00", local(2026, 3, 29, 9, 0), local(2026, 3, 29, 8, 0)),
])
def test_previous_slot(schedule, now, slot):
    got = previous_slot(schedule, now)
    assert got == slot and got.hour == slot.hour


@pytest.mark.parametrize("quiet,hm,held", [
    ("22:00-07:00", (23, 30), True),
    ("22:00-07:00", (6, 59), True),
    ("22:00-07:00", (7, 0), False),
    ("22:00-07:00", (12, 0), False),
    ("12:00-13:00", (12, 30), True),
    ("12:00-13:00", (13, 0), False),
    (None, (3, 0), False),
])
def test_quiet_hours(quiet, hm, held):
    assert in_quiet_hours(quiet, local(2026, 3, 4, *hm)) is held


CONFIG = config_mod.parse("""
digest:
  timezone: Europe/Tallinn
  quiet_hours: "22:00-07:00"
channels:
  - {name: now, type: file, schedule: immediate}
  - {name: hourly, type: file, schedule: hourly}
  - {name: morning, type: file, schedule: "daily at 06:00"}
  - {name: weekly, type: file, schedule: "weekly on mon at 09:00"}
""", "t.yaml")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("now_local,last_local,due", [
    # never sent: everything is due at once
    (local(2026, 3, 4, 10, 5), {}, {"now", "hourly", "morning", "weekly"}),
    # sent at 10:00 local; at 10:05 nothing new is due
    (local(2026, 3, 4, 10, 5), {n: local(2026, 3, 4, 10, 0) for n in ("now", "hourly", "morning", "weekly")},
     set()),
    # an hour later the hourly slots have passed, the daily and weekly have not
    (local(2026, 3, 4, 11, 0), {n: local(2026, 3, 4, 10, 0) for n in ("now", "hourly", "morning", "weekly")},
     {"now", "hourly"}),
    # next morning: the daily is due, the weekly (Mondays) is not
    (local(2026, 3, 5, 8, 0), {n: local(2026, 3, 4, 10, 0) for n in ("now", "hourly", "morning", "weekly")},
     {"now", "hourly", "morning"}),
    # in quiet hours nothing scheduled goes out, however overdue
    (local(2026, 3, 5, 23, 0), {}, set()),
    # the first minute after quiet hours, held digests go (the 06:00 daily was held, not dropped)
    (local(2026, 3, 6, 7, 0), {n: local(2026, 3, 5, 21, 0) for n in ("now", "hourly", "morning", "weekly")},
     {"now", "hourly", "morning"}),
])
def test_due_channels(now_local, last_local, due):
    last = {k: v.astimezone(UTC) for k, v in last_local.items()}
    assert set(due_channels(CONFIG, last, now_local.astimezone(UTC))) == due


def r(i, rule="kallas", priority="normal"):
    return {"outbox_id": i, "rule": rule, "priority": priority}


ROWS = [r(1), r(2), r(3), r(4, "safe"), r(5, "safe", "high"), r(6, "x", "high")]


@pytest.mark.parametrize("schedule,due,quiet,counts,limit,kind,ids", [
    # a due digest takes everything, no limit
    ("hourly", True, False, {}, 2, "digest", [1, 2, 3, 4, 5, 6]),
    # between digests only high priority goes out on a scheduled channel
    ("hourly", False, False, {}, 5, "alert", [5, 6]),
    # also in quiet hours
    ("daily at 08:00", False, True, {}, 5, "alert", [5, 6]),
    # an immediate channel sends everything, at most `limit` per rule per hour
    ("immediate", False, False, {}, 2, "alert", [1, 2, 4, 5, 6]),
    # what was already sent this hour counts against the limit
    ("immediate", False, False, {"kallas": 2, "safe": 1}, 2, "alert", [4, 6]),
    # in quiet hours an immediate channel holds normal items
    ("immediate", False, True, {}, 5, "alert", [5, 6]),
    # limit used up everywhere: nothing now, the rest waits
    ("hourly", False, False, {"safe": 9, "x": 9}, 1, None, None),
])
def test_plan(schedule, due, quiet, counts, limit, kind, ids):
    p = plan(schedule, ROWS, digest_due=due, quiet=quiet, alert_counts=counts, per_rule_per_hour=limit)
    if kind is None:
        assert p is None
    else:
        assert p.kind == kind and [x["outbox_id"] for x in p.rows] == ids


CREATED = utc(2026, 3, 4, 10, 0)


@pytest.mark.parametrize("attempts,now,expected", [
    (0, CREATED, CREATED + timedelta(minutes=1)),
    (3, CREATED + timedelta(minutes=10), CREATED + timedelta(minutes=18)),
    (10, CREATED + timedelta(hours=2), CREATED + timedelta(hours=3)),             # capped at an hour
    (10, CREATED + timedelta(hours=23, minutes=30), CREATED + timedelta(hours=24)),  # not past the deadline
    (12, CREATED + timedelta(hours=24), None),                                   # given up
])
def test_next_retry(attempts, now, expected):
    assert next_retry(CREATED, attempts, now, timedelta(hours=24)) == expected
