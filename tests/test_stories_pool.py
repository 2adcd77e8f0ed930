"""The related level's event terms are computed in the worker pool, with the MinHash signature.

A feed's batch goes through `decide.analyse_batch` on a real `ExtractorPool` (worker
processes); the main process then only looks the terms up: `StoryIndex.assign` must decide
the same without ever calling `event_terms` itself. With the related level off the workers
do not compute terms at all.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest

import monitor.stories.index as index_mod
from monitor.config.settings import FetchSettings
from monitor.daemon.analysis import RulesPublisher
from monitor.daemon.decide import analyse_batch
from monitor.extract.pool import ExtractorPool
from monitor.models import Article
from monitor.stories.index import StoryIndex
from monitor.stories.related import event_terms
from tests.test_stories_related import QUAKE_REWRITE, QUAKE_SPANISH, QUAKE_WIRE, T0

DOCS = [("https://wire.example/peru-quake", QUAKE_WIRE),
        ("https://daily.example/rescuers-dig", QUAKE_REWRITE),
        ("https://diario.example/sismo", QUAKE_SPANISH)]


def _articles() -> list[Article]:
    out = []
    for url, doc in DOCS:
        title, _, text = doc.partition("\n")
        out.append(Article(url=url, feed_url="https://feeds.example/x.xml", guid=url, title=title, text=text))
    return out


def _analyse(index: StoryIndex, articles: list[Article], pool: bool):
    async def go():
        deps = SimpleNamespace(rules=None, stories=index, config=SimpleNamespace(fetch=FetchSettings()),
                               extractor=None, analysis=None)
        if not pool:
            return await analyse_batch(deps, articles, "test feed")
        publisher = RulesPublisher()
        try:
            with ExtractorPool(workers=1) as extractor:
                deps.extractor, deps.analysis = extractor, publisher
                return await analyse_batch(deps, articles, "test feed")
        finally:
            publisher.close()
    return asyncio.run(go())


@pytest.mark.parametrize("pool", [True, False])
def test_workers_compute_the_event_terms_and_the_index_only_looks_them_up(monkeypatch, pool):
    articles = _articles()
    analyses = _analyse(StoryIndex(), articles, pool)
    for a, an in zip(articles, analyses):
        assert an.signature is not None and an.signature.terms is not None
        expected = event_terms(a.title, a.text)
        assert np.array_equal(an.signature.terms.hashes, expected.hashes)
        assert an.signature.terms.labels == expected.labels

    # what the index decides from the workers' terms, with event_terms unavailable here ...
    def no_terms_here(*_):
        raise AssertionError("event terms computed on the main process")
    monkeypatch.setattr(index_mod, "event_terms", no_terms_here)
    index = StoryIndex()
    got = [index.assign(a.url, a.title, a.text, T0 + timedelta(minutes=i), T0 + timedelta(minutes=i),
                        signature=an.signature) for i, (a, an) in enumerate(zip(articles, analyses))]
    monkeypatch.undo()
    # ... is what it decides computing everything itself
    alone = StoryIndex()
    want = [alone.assign(a.url, a.title, a.text, T0 + timedelta(minutes=i), T0 + timedelta(minutes=i))
            for i, a in enumerate(articles)]
    assert [(g.story_key, g.level, g.similarity, g.shared, g.terms) for g in got] == \
           [(w.story_key, w.level, w.similarity, w.shared, w.terms) for w in want]
    assert [g.level for g in got] == ["first", "related", "related"]
    assert {g.story_key for g in got} == {DOCS[0][0]}


def test_with_the_related_level_off_the_workers_compute_no_terms():
    analyses = _analyse(StoryIndex(related_threshold=0), _articles(), True)
    assert all(an.signature is not None and an.signature.terms is None for an in analyses)
    assert all(len(an.signature.values) == 128 * 4 for an in analyses)       # the MinHash is still there (uint32)
