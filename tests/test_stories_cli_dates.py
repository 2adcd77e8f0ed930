"""`monitor stories` takes a file's own date as its publication time, as the daemon takes a feed
item's: pages further apart than the story window are never grouped, a future date is a wrong
clock, a file without a date follows the one before it. Real pages from
../shared/corpora/extraction-benchmark (they carry article:published_time and the like)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.cli.rules import parse_published, read_document
from monitor.cli.stories import T0, publication_times

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "extraction-benchmark" / "html"
# a Nigerian Senate report: article:published_time 2018-10-09T16:02:36+01:00, "October 9, 2018" in its text
SENATE = "0dd1357045727799a447563fd8851f4ebe79f042073ea16991a9b67aa595f81a"
# a VentureBeat page whose URL says 2019/11/18 and whose metadata says 2019-11-19T07:03:25+00:00
WEWORK = "06e5123e4ef7cfb4533250dc45d1e03d0838fc66223f45c583c4d12f48b4da85"

if not CORPUS.is_dir():
    raise RuntimeError(f"shared/ not found at {CORPUS}: these tests need the extraction benchmark's pages")


def _page(key: str) -> str:
    return gzip.decompress((CORPUS / f"{key}.html.gz").read_bytes()).decode("utf-8")


def _stories(tmp_path: Path, *args: str) -> list[dict]:
    out = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.yaml"), "stories", "--json", *args])
    assert out.exit_code == 0, out.output
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_a_pages_own_publication_time_is_read_from_its_metadata(tmp_path):
    senate = tmp_path / "senate.html"
    senate.write_text(_page(SENATE))
    assert read_document(str(senate)).published == datetime(2018, 10, 9, 15, 2, 36, tzinfo=UTC)
    wework = tmp_path / "wework.html"
    wework.write_text(_page(WEWORK))
    # the metadata's time, a day after the URL's date that the page's day was read from
    assert read_document(str(wework)).published == datetime(2019, 11, 19, 7, 3, 25, tzinfo=UTC)
    plain = tmp_path / "plain.txt"
    plain.write_text("Title\nNo date here.")
    assert read_document(str(plain)).published is None


def test_the_same_page_six_weeks_later_is_another_story_and_a_day_later_the_same(tmp_path):
    html = _page(SENATE)
    first, later, next_day = tmp_path / "a.html", tmp_path / "b.html", tmp_path / "c.html"
    first.write_text(html)
    later.write_text(html.replace("2018-10-09", "2018-11-20").replace("2018/10/09", "2018/11/20"))
    next_day.write_text(html.replace("2018-10-09T16:02:36", "2018-10-10T11:30:00"))
    assert read_document(str(later)).published == datetime(2018, 11, 20, 15, 2, 36, tzinfo=UTC)
    # given latest first: still decided in order of the dates
    got = _stories(tmp_path, str(later), str(next_day), str(first))
    assert [s["paths"] for s in got] == [[str(first), str(next_day)], [str(later)]]
    assert got[0]["decisions"][0]["level"] == "copy" and got[0]["decisions"][0]["joined"] == str(first)
    # without the dates: one story, in the order given
    got = _stories(tmp_path, "--ignore-dates", str(later), str(next_day), str(first))
    assert [s["paths"] for s in got] == [[str(later), str(next_day), str(first)]]


def test_json_published_is_the_date_and_a_future_one_is_a_wrong_clock(tmp_path):
    text = ("Harbour crane collapses in Varnholm\nA container crane collapsed at the port of Varnholm on "
            "Monday, injuring 14 dock workers, the port authority said. The 1,200-tonne crane fell onto "
            "a berth during unloading. Investigators from the maritime safety board arrived in the "
            "afternoon, and the terminal will stay closed until Thursday, operator Norrhamn said.")
    title, body = text.split("\n", 1)
    files = []
    for name, published in [("a.json", "2025-03-03T09:00:00Z"), ("b.json", "Mon, 14 Apr 2025 10:00:00 +0000"),
                            ("c.json", "2999-01-01T00:00:00Z")]:
        path = tmp_path / name
        path.write_text(json.dumps({"url": f"https://{name[0]}.example/crane", "title": title, "text": body,
                                    "published": published}))
        files.append(str(path))
    # b is six weeks after a: its own story; c's date is no date, so it follows b (the file before it)
    got = _stories(tmp_path, *files)
    assert [s["paths"] for s in got] == [[files[0]], [files[1], files[2]]]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"title": "t", "text": "x", "published": 20250303}))
    out = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.yaml"), "stories", str(bad)])
    assert out.exit_code == 1 and "'published' must be a string" in out.stderr


def test_undated_files_follow_the_file_before_them():
    day = datetime(2025, 6, 25, 12, tzinfo=UTC)
    now, skew, minute = datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=15), timedelta(minutes=1)
    assert publication_times([None, None], now, skew) == [T0, T0 + minute]
    assert publication_times([None, day, None, now + timedelta(days=1)], now, skew) == \
        [day - minute, day, day + minute, day + 2 * minute]
    assert publication_times([day + timedelta(days=30), None, day], now, skew) == \
        [day + timedelta(days=30), day + timedelta(days=30) + minute, day]


@pytest.mark.parametrize("value, expected", [
    ("2025-06-25", datetime(2025, 6, 25, 12, tzinfo=UTC)),
    ("2025-06-25T14:05:00+02:00", datetime(2025, 6, 25, 12, 5, tzinfo=UTC)),
    ("2025-06-25T14:05:00Z", datetime(2025, 6, 25, 14, 5, tzinfo=UTC)),
    ("2025-06-25 14:05", datetime(2025, 6, 25, 14, 5, tzinfo=UTC)),
    ("Wed, 25 Jun 2025 14:05:00 GMT", datetime(2025, 6, 25, 14, 5, tzinfo=UTC)),
    ("", None), ("yesterday", None), ("2025-13-45", None),
])
def test_parse_published(value, expected):
    assert parse_published(value) == expected
