"""Extraction quality and speed on the 181-page Scrapinghub article-extraction benchmark.

Scores article bodies with the benchmark's own method (see the corpus README:
word 4-gram shingles, per-page TP/FP/FN normalised to sum to 1, precision and
recall averaged over pages, F1 the harmonic mean of the two means), first checked
against the published prediction files in `output/`, then for several trafilatura
option sets, then the daemon's own `monitor.extract.article.extract`. Finally pages/s
through `ExtractorPool` with one and with two workers.

    .venv/bin/python bench/extraction.py            # everything
    .venv/bin/python bench/extraction.py --quick    # daemon options and speed only

Needs `<repo>/../shared`; fails loudly if it is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpora" / "extraction-benchmark"
sys.path.insert(0, str(REPO))

TOKEN = re.compile(r"\w+")


def load_corpus() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(truth by id, url by id, html by id); exits if the corpus is missing."""
    if not (CORPUS / "ground-truth.json").is_file():
        sys.exit(f"extraction benchmark not found at {CORPUS} (shared/ must sit beside the repo)")
    truth_doc = json.loads((CORPUS / "ground-truth.json").read_text(encoding="utf-8"))
    truth = {k: v["articleBody"] or "" for k, v in truth_doc.items()}
    urls = {k: v.get("url") or "" for k, v in truth_doc.items()}
    html = {k: gzip.decompress((CORPUS / "html" / f"{k}.html.gz").read_bytes()).decode("utf-8")
            for k in truth}
    return truth, urls, html


def shingles(text: str, n: int = 4) -> Counter:
    tokens = TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < n:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def page_counts(truth: str, pred: str) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one page."""
    t, p = shingles(truth), shingles(pred)
    tp = fp = fn = 0
    for key in t.keys() | p.keys():
        a, b = t.get(key, 0), p.get(key, 0)
        tp += min(a, b)
        fp += max(0, b - a)
        fn += max(0, a - b)
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def _ratio(tp: float, other: float) -> float:
    if other == 0 and tp > 0:
        return 1.0
    return tp / (tp + other) if tp + other > 0 else 0.0


def score(truth: dict[str, str], preds: dict[str, str]) -> dict[str, float]:
    """Precision, recall, F1 and accuracy of predictions against the truth, the benchmark's way."""
    precisions, recalls, exact = [], [], 0
    for key, gold in truth.items():
        pred = preds.get(key) or ""
        tp, fp, fn = page_counts(gold, pred)
        if fp == 0 and fn == 0:
            p = r = 1.0
        else:
            p, r = _ratio(tp, fp), _ratio(tp, fn)
        if tp + fp > 0:
            precisions.append(p)
        if TOKEN.search(gold):
            recalls.append(r)
        exact += TOKEN.findall(gold) == TOKEN.findall(pred)
    prec = sum(precisions) / len(precisions) if precisions else 0.0
    rec = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"f1": f1, "precision": prec, "recall": rec, "accuracy": exact / len(truth)}


def check_scorer(truth: dict[str, str]) -> None:
    """Score the published predictions; the trafilatura 2.0.0 row must match the README."""
    print("scorer check against published predictions (README: trafilatura F1 0.958 P 0.938 R 0.978)")
    for path in sorted((CORPUS / "output").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        preds = {k: (v or {}).get("articleBody") or "" for k, v in doc["output"].items()}
        s = score(truth, preds)
        print(f"  {path.stem:<12} F1 {s['f1']:.3f}  P {s['precision']:.3f}  R {s['recall']:.3f}"
              f"  acc {s['accuracy']:.3f}")
    print()


def run(fn: Callable[[str, str], str], html: dict[str, str], urls: dict[str, str]) -> tuple[dict, float]:
    t0 = time.perf_counter()
    preds = {k: fn(h, urls[k]) or "" for k, h in html.items()}
    return preds, time.perf_counter() - t0


def candidates() -> dict[str, Callable[[str, str], str]]:
    """trafilatura option sets to compare, by name (url given unless the name says no-url)."""
    import trafilatura

    def opts(**kw):
        def fn(h: str, u: str) -> str:
            return trafilatura.extract(h, url=u or None, **kw) or ""
        return fn

    from monitor.extract.article import PRECISION_PASS, RECALL_PASS, SECOND_PASS_RATIO, clean_text

    def two_pass(h: str, u: str) -> str:
        first = trafilatura.extract(h, url=u or None, **PRECISION_PASS) or ""
        second = trafilatura.extract(h, url=u or None, **RECALL_PASS) or ""
        return second if len(first) < SECOND_PASS_RATIO * len(second) else first

    def no_url(h: str, u: str) -> str:
        return trafilatura.extract(h, include_comments=False) or ""

    return {
        "upstream (include_comments=False, no url)": no_url,
        "default + url": opts(),
        "include_comments=False": opts(include_comments=False),
        "favor_precision": opts(include_comments=False, favor_precision=True),
        "favor_recall": opts(include_comments=False, favor_recall=True),
        "fast": opts(include_comments=False, fast=True),
        "include_tables=False": opts(include_comments=False, include_tables=False),
        "precision, tables=False": opts(include_comments=False, favor_precision=True, include_tables=False),
        "deduplicate": opts(include_comments=False, deduplicate=True),
        "precision + deduplicate": opts(include_comments=False, favor_precision=True, deduplicate=True),
        "fast + recall": opts(include_comments=False, fast=True, favor_recall=True),
        "precision + line cleaning": lambda h, u: clean_text(opts(**PRECISION_PASS)(h, u)),
        "precision, recall 2nd pass (no cleaning)": two_pass,
    }


def print_row(name: str, s: dict[str, float], secs: float, n: int) -> None:
    print(f"| {name:<44} | {s['f1']:.3f} | {s['precision']:.3f} | {s['recall']:.3f} | "
          f"{s['accuracy']:.3f} | {n / secs:6.1f} |")


def quality(truth, urls, html, full: bool) -> None:
    from monitor.extract.article import extract

    print(f"| {'options':<44} | F1    | P     | R     | acc   | pages/s |")
    print(f"|{'-' * 46}|-------|-------|-------|-------|---------|")
    if full:
        for name, fn in candidates().items():
            preds, secs = run(fn, html, urls)
            print_row(name, score(truth, preds), secs, len(html))
    preds, secs = run(lambda h, u: extract(h, u).text, html, urls)
    print_row("monitor.extract.article.extract (daemon)", score(truth, preds), secs, len(html))
    print()


async def _through_pool(workers: int, html: dict[str, str], urls: dict[str, str]) -> tuple[float, int]:
    from monitor.extract.pool import ExtractorPool

    with ExtractorPool(workers=workers) as pool:
        await pool.warm_up()
        t0 = time.perf_counter()
        results = await asyncio.gather(*(pool.extract(h, urls[k]) for k, h in html.items()))
        secs = time.perf_counter() - t0
    return secs, sum(1 for r in results if r.text)


def speed(html, urls, rounds: int) -> None:
    """pages/s through the pool (workers started and warmed before the clock starts)."""
    pages = {f"{k}:{i}": h for i in range(rounds) for k, h in html.items()}
    page_urls = {f"{k}:{i}": urls[k] for i in range(rounds) for k in html}
    print(f"pool throughput, {len(pages)} pages ({rounds} x 181), workers warmed first")
    for workers in (1, 2):
        secs, nonempty = asyncio.run(_through_pool(workers, pages, page_urls))
        print(f"  workers={workers}: {secs:6.2f} s  {len(pages) / secs:6.1f} pages/s  ({nonempty} with text)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="daemon options and speed only")
    ap.add_argument("--rounds", type=int, default=2, help="corpus passes for the speed test")
    args = ap.parse_args()
    truth, urls, html = load_corpus()
    if not args.quick:
        check_scorer(truth)
    quality(truth, urls, html, full=not args.quick)
    speed(html, urls, args.rounds)


if __name__ == "__main__":
    main()
