"""`monitor extract` on real benchmark pages via CliRunner, and on a page served by the feed farm."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.extract.article import extract
from tests.farm import Farm

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpora" / "extraction-benchmark"
FEEDFARM = SHARED / "tools" / "feedfarm.py"
if not (CORPUS / "ground-truth.json").is_file() or not FEEDFARM.is_file():
    raise RuntimeError(f"shared/ not found at {SHARED}: these tests need the benchmark corpus and feedfarm.py")

WSJ = "042bb7b5fedab6eac7db576522b89b93904c237d344bcbe14a6a5ab7f7335856"
KEYS = {"path", "text", "title", "author", "date", "published", "sitename", "language", "canonical_url"}


def test_json_output_one_object_per_input_with_metadata():
    truth = json.loads((CORPUS / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)[:2] + [WSJ]
    paths = [str(CORPUS / "html" / f"{i}.html.gz") for i in ids]
    result = CliRunner().invoke(cli, ["extract", "--json", *paths])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert all(set(r) == KEYS for r in records)
    assert [r["path"] for r in records] == paths
    wsj = records[2]
    assert wsj["text"].startswith("Gaming used to be so simple.")
    assert wsj["title"].startswith("Google Stadia, Microsoft xCloud, Apple Arcade")
    assert wsj["author"] == "Sarah E Needleman"
    assert wsj["date"] == "2019-11-19"
    assert wsj["published"] == "2019-11-19T13:03:00+00:00"      # its datePublished meta
    assert wsj["language"] == "en"
    assert wsj["canonical_url"] == truth[WSJ]["url"]


def test_publication_time_is_read_only_when_asked():
    """The daemon's workers date an article by its feed item: their extraction does not look for the
    page's publication time; the commands that date a file by it ask for it."""
    import gzip
    html = gzip.decompress((CORPUS / "html" / f"{WSJ}.html.gz").read_bytes())
    url = "https://www.wsj.com/"
    assert extract(html, url).published == ""
    asked = extract(html, url, published=True)
    assert asked.published == "2019-11-19T13:03:00+00:00"
    assert asked.date == "2019-11-19"


def test_plain_output_and_missing_file_exit_code(tmp_path):
    page = tmp_path / "a.html"
    page.write_text("<html lang='de'><head><title>Titel</title><link rel=canonical href='/x'></head><body>"
                    "<article><p>" + "Ein Satz über den Haushalt der Stadt. " * 20 + "</p></article></body></html>",
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["extract", "--url", "https://ex.de/y", str(page), str(tmp_path / "nope.html")])
    assert result.exit_code == 1
    assert "canonical_url: https://ex.de/x" in result.output
    assert "language:      de" in result.output
    assert "Haushalt der Stadt" in result.output
    assert "nope.html" in result.output  # the error, on stderr (mixed in by CliRunner)


@pytest.fixture
def feedfarm():
    with Farm("--feeds", "3") as running:
        yield running.url


def test_real_page_from_the_feed_farm(feedfarm, tmp_path):
    articles = httpx.get(f"{feedfarm}/truth.json", timeout=10).json()["articles"]
    art = next(a for a in articles if a["variant"] != "original" and not a["fault"])
    html = httpx.get(art["url"], timeout=10).text
    # The page links its canonical URL; fetched via a redirect-like alias it must still resolve.
    ex = extract(html, art["url"] + "?utm_source=feed")
    assert ex.canonical_url == art["url"]
    assert ex.title == art["title"]
    assert ex.date == art["published"][:10]
    assert ex.language == "en"
    assert len(ex.text) > 1000
    assert "cookies" not in ex.text  # the cookie banner is boilerplate
    assert "Ministers\nOfficials" not in ex.text  # so is the section navigation
    # the CLI fetches through the guarded client: loopback is refused unless the config allows it
    refused = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.yaml"), "extract", "--json", art["url"]])
    assert refused.exit_code == 1 and "non-public address" in refused.output
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text('fetch: {allow_private: ["127.0.0.1/32"]}\nchannels: [{name: a, type: file}]\n')
    result = CliRunner().invoke(cli, ["--config", str(cfg), "extract", "--json", art["url"]])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["text"] == extract(html, art["url"]).text
