"""Getting a reloaded rule set to the workers (daemon/analysis.py): the whole set once, then
only the changed files (a delta) that a worker applies to the set it has, as the main process
did; a worker with none (new, or restarted) reads the chain from the whole set."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

import monitor.daemon.analysis as analysis
from monitor.config.settings import FetchSettings
from monitor.daemon.decide import analyse_batch
from monitor.extract.pool import ExtractorPool
from monitor.match import RuleWatcher
from monitor.models import Article

DOCS = [Article(url=f"https://example.org/{i}", feed_url="", guid=str(i), title=title, text=text)
        for i, (title, text) in enumerate([
            ("Kallas meets Rutte", "Kaja Kallas and Mark Rutte spoke about Greenland and defence."),
            ("Greenland talks", "Talks on Greenland's future; Denmark and the EU said little."),
            ("SAFE loans agreed", "The SAFE instrument lends 150 billion euros for defence."),
            ("Weather", "Rain in Tallinn, sun in Nuuk."),
        ])]


def _write(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    st = path.stat()      # a new mtime even within the filesystem's clock step
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "entities.yaml").write_text("entities:\n  nato-chief: ['\"Mark Rutte\"', Rutte]\n")
    _write(tmp_path, "a.yaml", "rules:\n  - id: kallas\n    query: '\"Kaja Kallas\" OR {Kallas}'\n"
                               "  - id: rutte\n    query: '@nato-chief'\n")
    _write(tmp_path, "b.yaml", "rules:\n  - id: greenland\n    query: greenland NEAR/5 (denmark OR eu OR defence)\n")
    _write(tmp_path, "c.yaml", "rules:\n  - id: safe\n    query: '{SAFE} AND defence'\n")
    return tmp_path


def _worker_view(chain: tuple[str, ...], fresh: bool) -> object:
    if fresh:
        analysis._loaded = None
    return analysis.load_state((chain, 64, False))[0]


def _same_matches(a: object, b: object) -> None:
    for doc in DOCS:
        assert a.match(doc) == b.match(doc)      # type: ignore[attr-defined]
    assert [r.id for r in a.rules] == [r.id for r in b.rules]      # type: ignore[attr-defined]


def test_a_reload_is_published_as_the_changed_files_and_workers_apply_it(folder, monkeypatch):
    monkeypatch.setattr(analysis, "_loaded", None)
    watcher = RuleWatcher(folder)
    publisher = analysis.RulesPublisher()
    try:
        v1 = publisher.publish(watcher.current)
        assert len(v1) == 1 and v1[0].endswith(".whole")
        assert publisher.publish(watcher.current) == v1          # the same set: nothing written again
        had = _worker_view(v1, fresh=True)
        _same_matches(had, watcher.current)

        first = watcher.current
        _write(folder, "b.yaml", "rules:\n  - id: greenland\n    query: greenland\n  - id: nuuk\n    query: nuuk\n")
        assert watcher.refresh()
        v2 = publisher.publish(watcher.current)
        assert v2[:1] == v1 and len(v2) == 2 and v2[1].endswith(".delta")
        assert Path(v2[1]).stat().st_size < Path(v1[0]).stat().st_size / 2
        delta = analysis.rules_delta(first, watcher.current)   # what v2's file holds
        assert [(Path(p).name, found is None) for p, found in delta["segments"]] == \
               [("a.yaml", True), ("b.yaml", False), ("c.yaml", True)]

        os.rename(v1[0], v1[0] + ".gone")      # a worker that has v1 needs only the delta
        try:
            updated = _worker_view(v2, fresh=False)
        finally:
            os.rename(v1[0] + ".gone", v1[0])
        _same_matches(updated, watcher.current)
        assert "nuuk" in [m.rule for m in updated.match(DOCS[3])]
        _same_matches(_worker_view(v2, fresh=True), watcher.current)    # a new worker: the whole chain

        # an entity changed (a rule in another file uses it), a file removed, a file added
        (folder / "entities.yaml").write_text("entities:\n  nato-chief: ['\"Mark Rutte\"']\n")
        (folder / "c.yaml").unlink()
        _write(folder, "d.yaml", "rules:\n  - id: safe\n    query: '{SAFE}'\n")
        assert watcher.refresh()
        v3 = publisher.publish(watcher.current)
        assert len(v3) == 3
        _same_matches(_worker_view(v3, fresh=False), watcher.current)
        _same_matches(_worker_view(v3, fresh=True), watcher.current)
        assert not Path(v1[0] + ".tmp").exists()
    finally:
        publisher.close()


def test_the_chain_is_written_whole_again_after_max_deltas(folder, monkeypatch):
    monkeypatch.setattr(analysis, "_loaded", None)
    watcher = RuleWatcher(folder)
    publisher = analysis.RulesPublisher()
    try:
        lengths = []
        for i in range(analysis.MAX_DELTAS + 3):
            _write(folder, "c.yaml", f"rules:\n  - id: safe\n    query: '{{SAFE}} OR w{i}x'\n")
            assert watcher.refresh()
            chain = publisher.publish(watcher.current)
            lengths.append(len(chain))
            _same_matches(_worker_view(chain, fresh=i % 2 == 0), watcher.current)
        assert max(lengths) == analysis.MAX_DELTAS + 1 and 1 in lengths[1:]
        files = {p.name for p in publisher.dir.iterdir()}
        assert len(files) <= 2 * (analysis.MAX_DELTAS + 1)      # older chains are removed
    finally:
        publisher.close()


def test_workers_in_a_real_pool_match_the_reloaded_set(folder):
    watcher = RuleWatcher(folder)

    async def go() -> tuple[list, list]:
        deps = SimpleNamespace(rules=watcher, stories=None, config=SimpleNamespace(fetch=FetchSettings()),
                               extractor=None, analysis=analysis.RulesPublisher())
        try:
            with ExtractorPool(workers=1) as pool:
                deps.extractor = pool
                before = await analyse_batch(deps, DOCS, "test")
                _write(folder, "a.yaml", "rules:\n  - id: kallas\n    query: tallinn\n")
                assert watcher.refresh()
                after = await analyse_batch(deps, DOCS, "test")
        finally:
            deps.analysis.close()
        return before, after

    before, after = asyncio.run(go())
    fired = [[m.rule for m in a.matches] for a in after]
    assert [[m.rule for m in a.matches] for a in before] != fired
    assert fired == [[m.rule for m in watcher.current.match(d)] for d in DOCS]
    assert "kallas" in fired[3] and "rutte" not in sum(fired, [])
