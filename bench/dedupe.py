"""Bench: story grouping accuracy and cost against the feed farm's ground truth.

Starts ../shared/tools/feedfarm.py on 127.0.0.1, fetches /truth.json and every article
page (as the feed links them, tracking parameters included), extracts the text with
monitor.extract.article in a process pool, then runs canonical_url and the StoryIndex in
publication order. Prints pairwise precision and recall of the grouping against the
true story ids, canonical-URL accuracy, and the cost per article.

    .venv/bin/python bench/dedupe.py                # 1,000 feeds (about 20,000 articles)
    .venv/bin/python bench/dedupe.py --feeds 100 --workers 1
    .venv/bin/python bench/dedupe.py --pages /tmp/farm-pages.pickle   # fetch once, then reuse
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import lxml.html
import numpy as np
from datasketch import MinHash, MinHashLSH

from monitor.extract.article import extract
from monitor.stories.dedupe import _datasketch, canonical_url, shingle_hashes, sketch, words
from monitor.stories.index import StoryIndex


def sketch_of(text: str) -> np.ndarray:
    """The index's signature of a text (`dedupe.sketch` of its word shingles)."""
    return sketch(shingle_hashes(words(text)))


_PERMS: list = []


def signature(text: str) -> MinHash:
    """`sketch_of` as a datasketch MinHash, for MinHashLSH (its permutations are never used)."""
    minhash_cls, scheme = _datasketch()
    if not _PERMS:
        _PERMS.append(minhash_cls(num_perm=128, **scheme).permutations)
    return minhash_cls(hashvalues=sketch_of(text).astype(np.uint64), permutations=_PERMS[0], **scheme)

REPO = Path(__file__).resolve().parents[1]
FEEDFARM = REPO.parent / "shared" / "tools" / "feedfarm.py"


def start_farm(feeds: int, tmp: Path) -> tuple[subprocess.Popen, str]:
    if not FEEDFARM.exists():
        raise SystemExit(f"the feed farm is missing: {FEEDFARM} (shared/ must sit beside the repo)")
    ready = tmp / "ready"
    proc = subprocess.Popen([sys.executable, str(FEEDFARM), "--feeds", str(feeds), "--port", "0",
                             "--ready-file", str(ready)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (ready.exists() and ready.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("feedfarm did not start")
        time.sleep(0.1)
    return proc, ready.read_text().strip()


def feed_link(article: dict) -> str:
    """The link as the outlet's feed gives it: copies carry tracking parameters."""
    if article["variant"] == "original":
        return article["url"]
    return article["url"] + f"?utm_source=feed&utm_medium=rss&utm_campaign=o{article['outlet']}"


def extract_page(html: str, url: str) -> tuple[str, str, str | None]:
    """Worker: text and title as the pipeline gets them, plus the page's rel=canonical."""
    ex = extract(html, url)
    hrefs = lxml.html.fromstring(html).xpath('//link[@rel="canonical"]/@href')
    return ex.text, ex.title, (hrefs[0] if hrefs else None)


def strip_title_line(text: str, title: str) -> str:
    # trafilatura keeps the <h1>; the farm's titles end in the story id, which would make
    # grouping trivially easy, so the bench measures on the body alone
    return "\n".join(line for line in text.splitlines() if line.strip() != title.strip())


async def fetch_and_extract(articles: list[dict], workers: int, concurrency: int) -> dict[str, tuple]:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(concurrency)
    out: dict[str, tuple] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as client:
            async def one(a: dict) -> None:
                link = feed_link(a)
                assert urlsplit(link).hostname.startswith("127."), link   # loopback only
                async with sem:
                    resp = await client.get(link)
                resp.raise_for_status()
                out[a["url"]] = await loop.run_in_executor(pool, extract_page, resp.text, link)
            await asyncio.gather(*(one(a) for a in articles))
    return out


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(pred: dict[str, str], true: dict[str, int], keys: list[str]) -> tuple[float, float, int, int]:
    """Pairwise precision and recall of a clustering, from the contingency table."""
    cells = Counter((pred[k], true[k]) for k in keys)
    tp = sum(pairs(n) for n in cells.values())
    pred_pairs = sum(pairs(n) for n in Counter(pred[k] for k in keys).values())
    true_pairs = sum(pairs(n) for n in Counter(true[k] for k in keys).values())
    return (tp / pred_pairs if pred_pairs else 1.0), (tp / true_pairs if true_pairs else 1.0), tp, true_pairs


def run_index(arts: list[dict], pages: dict, threshold: float, window: float,
              related: float = 0.0) -> tuple[dict, list, StoryIndex, dict, list]:
    index = StoryIndex(threshold=threshold, window_hours=window, related_threshold=related)
    pred: dict[str, str] = {}
    level: dict[str, str] = {}
    assign_ms: list[float] = []
    cpu_ms: list[float] = []            # CPU time of the process: what a loaded machine does not inflate
    for a in arts:
        text, title, _ = pages[a["url"]]
        body = strip_title_line(text, title)
        # the farm's titles end in the story id: a figure every copy shares, no real title has
        headline = re.sub(r"\s*\(\d+\)$", "", a["title"])
        published = datetime.fromisoformat(a["published"])
        c0, t0 = time.process_time(), time.perf_counter()
        got = index.assign(a["key"], headline, body, published)
        assign_ms.append((time.perf_counter() - t0) * 1000)
        cpu_ms.append((time.process_time() - c0) * 1000)
        pred[a["key"]] = got.story_key
        level[a["key"]] = got.level
    return pred, assign_ms, index, level, cpu_ms


def report(args, truth: list[dict], pages: dict, fetch_s: float) -> None:
    arts = sorted(truth, key=lambda a: (a["published"], a["url"]))
    for a in arts:
        a["key"] = canonical_url(feed_link(a), pages[a["url"]][2])
    url_ok = sum(a["key"] == a["url"] for a in arts)
    distinct = len({a["key"] for a in arts})
    # one site per outlet, as on the internet (and as the farm's --hosts gives): the farm serves
    # every outlet from 127.0.0.1 here, and the related level never compares one site's articles,
    # so a single host would show the related level no farm article at all
    for a in arts:
        a["key"] = a["key"].replace("://127.0.0.1", f"://outlet{a['outlet']}.farm", 1)

    sig_ms = []
    for a in arts:
        text, title, _ = pages[a["url"]]
        body = strip_title_line(text, title)
        t0 = time.perf_counter()
        sketch_of(body)
        sig_ms.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    pred, copy_ms, _, _, copy_cpu = run_index(arts, pages, args.threshold, args.window)     # copies only
    copy_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    both, assign_ms, index, level, both_cpu = run_index(arts, pages, args.threshold, args.window,
                                                        args.related_threshold)
    total_s = time.perf_counter() - t0
    # memory of the index holding every article (both levels), texts excluded: tracemalloc
    # around a third run, after the timed ones (tracemalloc slows it, so it is not timed)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    held_index = run_index(arts, pages, args.threshold, args.window, args.related_threshold)[2]
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    held_n = len(held_index)
    del held_index
    true = {a["key"]: a["story"] for a in arts}
    keys = [a["key"] for a in arts]
    precision, recall, tp, true_pairs = pairwise(pred, true, keys)
    both_precision, both_recall, both_tp, _ = pairwise(both, true, keys)
    related = [k for k in keys if level[k] == "related"]
    related_wrong = sum(1 for k in related if true[both[k]] != true[k])

    # recall per variant: of the copies whose story has an earlier article, how many joined it
    by_story = defaultdict(list)
    for a in arts:
        by_story[a["story"]].append(a)
    joined = Counter()
    copies = Counter()
    for members in by_story.values():
        first = pred[members[0]["key"]]
        for a in members[1:]:
            copies[a["variant"]] += 1
            joined[a["variant"]] += pred[a["key"]] == first
    wrong = sum(1 for k in keys if pred[k] != k and true[pred[k]] != true[k])
    same_min, other_max = margins(arts, pages)

    rows = [
        ("feeds", f"{args.feeds}"),
        ("articles", f"{len(arts)} ({dict(Counter(a['variant'] for a in arts))})"),
        ("true stories / predicted stories", f"{len(by_story)} / {len(set(pred.values()))}"),
        ("canonical URL == truth URL", f"{url_ok}/{len(arts)}; distinct keys {distinct}"),
        ("pairwise precision (copies)", f"{precision:.4f}"),
        ("pairwise recall (copies)", f"{recall:.4f} ({tp}/{true_pairs} pairs)"),
        ("related level: articles joined as related", f"{len(related)}, of which to a wrong story {related_wrong}"),
        ("both levels: pairwise precision / recall",
         f"{both_precision:.4f} / {both_recall:.4f} ({both_tp}/{true_pairs} pairs)"),
    ]
    rows += [(f"later copies that joined the story: {v}", f"{joined[v]}/{copies[v]}") for v in sorted(copies)]
    rows += [
        ("articles joined to a wrong story", f"{wrong}"),
        ("min est. Jaccard to nearest same-story copy", f"{same_min:.3f}"),
        ("max est. Jaccard to any other story", f"{other_max:.3f}"),
        ("threshold / related threshold / window", f"{args.threshold} / {args.related_threshold} / {args.window} h"),
        ("signature ms/article (mean, p95)", f"{statistics.mean(sig_ms):.3f}, {quantile(sig_ms, 0.95):.3f}"),
        ("assign ms/article, copies only (mean, p95)", f"{statistics.mean(copy_ms):.3f}, {quantile(copy_ms, 0.95):.3f}"),
        ("assign ms/article, both levels (mean, p95)",
         f"{statistics.mean(assign_ms):.3f}, {quantile(assign_ms, 0.95):.3f}"),
        ("assign CPU ms/article, copies only / both levels (mean)",
         f"{statistics.mean(copy_cpu):.3f} / {statistics.mean(both_cpu):.3f}"),
        ("  of which LSH + exact + insert (copies only)", f"{statistics.mean(copy_ms) - statistics.mean(sig_ms):.3f}"),
        ("assign total s, copies only / both levels", f"{copy_s:.2f} / {total_s:.2f}"),
        ("fetch + extract s (not dedupe)", f"{fetch_s:.1f}"),
        ("index size at end", f"{len(index)}"),
        ("index memory, both levels: bytes per article (incl. the fixed 4 MiB term-count table)",
         f"{held / held_n:,.0f} ({(held - (4 << 20)) / held_n:,.0f} without the table), {held_n} articles"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def margins(arts: list[dict], pages: dict) -> tuple[float, float]:
    """How far the threshold is from both kinds of error: the least similar copy of a story
    (to its nearest fellow copy) and the most similar pair of different stories (LSH at 0.1)."""
    sigs = {a["key"]: signature(strip_title_line(pages[a["url"]][0], pages[a["url"]][1])) for a in arts}
    story = {a["key"]: a["story"] for a in arts}
    lsh = MinHashLSH(threshold=0.1, num_perm=128)
    for k, m in sigs.items():
        lsh.insert(k, m)
    same_best: dict[str, float] = {}
    other_max = 0.0
    for k, m in sigs.items():
        for c in lsh.query(m):
            if c == k:
                continue
            j = m.jaccard(sigs[c])
            if story[c] == story[k]:
                same_best[k] = max(same_best.get(k, 0.0), j)
            else:
                other_max = max(other_max, j)
    sizes = Counter(story.values())
    lonely = [k for k in sigs if sizes[story[k]] > 1 and k not in same_best]
    return (0.0 if lonely else min(same_best.values(), default=1.0)), other_max


def quantile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feeds", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2, help="extraction processes (default 2)")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent page fetches (default 16)")
    p.add_argument("--threshold", type=float, default=StoryIndex().threshold)
    p.add_argument("--window", type=float, default=72.0, help="story window in hours (default 72)")
    p.add_argument("--related-threshold", type=float, default=StoryIndex().related_threshold,
                   help="the related level's threshold (default: the index's)")
    p.add_argument("--pages", type=Path, default=None,
                   help="keep the farm's truth and extracted pages in this file: read it when it exists "
                        "(no farm, no fetch), else fetch and write it (the farm's output is deterministic)")
    args = p.parse_args()
    if args.pages and args.pages.exists():
        truth, pages, fetch_s = pickle.loads(args.pages.read_bytes())
        if len(truth) and args.feeds != 1000:
            print(f"note: --feeds ignored, pages read from {args.pages}", file=sys.stderr)
        report(args, truth, pages, fetch_s)
        return
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_farm(args.feeds, Path(tmp))
        try:
            truth = httpx.get(base + "/truth.json", timeout=120, trust_env=False).json()["articles"]
            t0 = time.perf_counter()
            pages = asyncio.run(fetch_and_extract(truth, args.workers, args.concurrency))
            fetch_s = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    if args.pages:
        args.pages.write_bytes(pickle.dumps((truth, pages, fetch_s)))
    report(args, truth, pages, fetch_s)


if __name__ == "__main__":
    main()
