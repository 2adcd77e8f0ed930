"""Bench: memory and CPU of the story index per article, on synthetic texts.

Builds N synthetic articles (about 300 words each, drawn from a Zipf-weighted vocabulary,
published within one story window so that none is evicted), a share of them near-copies
of an earlier article (a paragraph dropped, a new lead, some words changed), and assigns
them in order. Prints:

- bytes per article held by the index (tracemalloc, after all assigns, texts excluded);
- the tracemalloc peak during the assigns;
- ms per assign (a second run without tracemalloc: mean, p95) and `load` of the signatures;
- how many near-copies joined their original and how many articles joined a wrong story.

    .venv/bin/python bench/story_memory.py                 # 10,000 articles, 20 % copies
    .venv/bin/python bench/story_memory.py --n 30000 --copies 0.3
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from monitor.stories.index import StoryIndex

T0 = datetime(2026, 1, 28, 9, 0, tzinfo=UTC)


def make_corpus(n: int, copies: float, seed: int) -> list[tuple[str, str, str, datetime, int]]:
    """(url, title, text, published, true story) in publication order."""
    rnd = random.Random(seed)
    vocab = [f"w{i}" for i in range(20_000)]
    cum = list(itertools.accumulate(1 / (i + 1) ** 1.05 for i in range(len(vocab))))

    def paragraph(k: int) -> str:
        return " ".join(rnd.choices(vocab, cum_weights=cum, k=k)) + "."

    out: list[tuple[str, str, str, datetime, int]] = []
    originals: list[tuple[list[str], int]] = []
    for i in range(n):
        when = T0 + timedelta(seconds=i * 40 * 3600 / n)      # all within 40 h of each other
        if originals and rnd.random() < copies:
            paras, story = rnd.choice(originals)
            paras = list(paras)
            paras[0] = paragraph(12) + " " + paras[0]          # a new lead sentence
            if len(paras) >= 6:
                del paras[rnd.randrange(1, len(paras))]         # a dropped paragraph
            toks = " ".join(paras).split(" ")
            for _ in range(len(toks) // 100):                    # a few changed words
                toks[rnd.randrange(len(toks))] = rnd.choice(vocab)
            body = " ".join(toks) + " " + paragraph(15)         # and the outlet's own footer
        else:
            paras = [paragraph(rnd.randint(40, 70)) for _ in range(rnd.randint(4, 7))]
            story = i
            originals.append((paras, story))
            body = "\n\n".join(paras)
        out.append((f"https://outlet{i % 500}.example/news/2026/01/article-{i}", f"Title {i}", body, when, story))
    return out


RELATED = {"threshold": StoryIndex().related_threshold}     # --related-threshold


def run(corpus, timed: bool) -> tuple[StoryIndex, list, list[float]]:
    """Assign the corpus in order; the timed run keeps the assignments (the measured one drops
    them, as the pipeline does once saved, so the peak is the index's own)."""
    index = StoryIndex(related_threshold=RELATED["threshold"])
    got = []
    ms: list[float] = []
    for url, title, text, when, _ in corpus:
        t0 = time.perf_counter()
        a = index.assign(url, title, text, when)
        if timed:
            ms.append((time.perf_counter() - t0) * 1000)
            got.append(a)
    return index, got, ms


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10_000, help="articles (default 10,000)")
    p.add_argument("--copies", type=float, default=0.2, help="share of near-copies (default 0.2)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--related-threshold", type=float, default=RELATED["threshold"],
                   help="the related level's threshold; 0 measures the copy level alone")
    args = p.parse_args()
    RELATED["threshold"] = args.related_threshold

    corpus = make_corpus(args.n, args.copies, args.seed)
    words = statistics.mean(len(t.split()) for _, _, t, _, _ in corpus)
    StoryIndex().assign("https://warm.example/", "warm", corpus[0][2], T0)   # permutations, imports

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    index, _, _ = run(corpus, timed=False)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert len(index) == args.n
    del index
    gc.collect()

    index, got, ms = run(corpus, timed=True)
    truth = {url: story for url, _, _, _, story in corpus}
    first_of = {}
    for url, _, _, _, story in corpus:
        first_of.setdefault(story, url)
    copies = [a for a, c in zip(got, corpus) if first_of[c[4]] != c[0]]
    joined = sum(a.story_key == first_of[truth[a.article_key]] for a in copies)
    wrong = sum(truth[a.story_key] != truth[a.article_key] for a in got)

    rows = [(a.article_key, a.story_key, a.fingerprint, a.signature, a.published, None, a.terms) for a in got]
    restarted = StoryIndex(related_threshold=args.related_threshold)
    t0 = time.perf_counter()
    for r in rows:
        restarted.add(*r)
    load_s = time.perf_counter() - t0

    print(f"articles                         {args.n} ({len(copies)} near-copies, {words:.0f} words mean)")
    print(f"index bytes per article          {held / args.n:,.0f} (tracemalloc; {held / 2**20:.1f} MiB held)")
    print(f"tracemalloc peak during assigns  {peak / 2**20:.1f} MiB")
    print(f"assign ms/article (mean, p95)    {statistics.mean(ms):.3f}, {sorted(ms)[int(0.95 * len(ms))]:.3f}")
    print(f"assign total s                   {sum(ms) / 1000:.2f}")
    print(f"add (load) of stored signatures  {load_s:.2f} s ({load_s / args.n * 1000:.3f} ms/article)")
    print(f"near-copies that joined          {joined}/{len(copies)}")
    related = [a for a in got if a.level == "related"]
    print(f"related threshold; joined as related  {args.related_threshold}; {len(related)} "
          f"({sum(truth[a.story_key] != truth[a.article_key] for a in related)} to another synthetic story)")
    print(f"articles joined to a wrong story {wrong}")


if __name__ == "__main__":
    main()
