"""Precision and recall of story grouping on real coverage: the dev set in bench/storyset/.

Reads the texts the README tells how to rebuild (bench/storyset/texts/collected.jsonl, one JSON
object per article with the manifest's fields plus "text"; not in git), feeds them through
`StoryIndex.assign` in a fixed shuffled order as if all arrived within one story window,
after the 181 unrelated real articles of ../shared/corpora/extraction-benchmark (the window's
other news, and more different-event pairs), and counts pairs:

- same-event pairs grouped into one story (recall), per level that joined them;
- different-event pairs wrongly grouped, of all and of hard negatives (same topic).

    .venv/bin/python bench/storyset/evaluate.py                 # at the default threshold
    .venv/bin/python bench/storyset/evaluate.py --sweep         # the trade-off table in docs/dedupe.md
                                                                # (mean over 5 arrival orders)
    .venv/bin/python bench/storyset/evaluate.py --sweep --split tune    # the topics changes are tried on
    .venv/bin/python bench/storyset/evaluate.py --sweep --split held    # the topics they are checked on

The split is by topic, so every hard negative stays within one half: `tune` holds the NATO,
French-government and blackout topics (8 events), `held` the earthquake and Greenland ones
(8 events). A half is measured alone (its pages after the same background articles).
`fresh` holds the pages collected after the level was tuned on `all` (manifest field
"set": "fresh"; other topics, other languages): a validation the dev set's tuning never saw.

    .venv/bin/python bench/storyset/evaluate.py --sweep --split fresh
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from monitor.stories.index import DEFAULT_RELATED_THRESHOLD, StoryIndex  # noqa: E402

HERE = Path(__file__).resolve().parent
TEXTS = HERE / "texts" / "collected.jsonl"
BACKGROUND = REPO.parent / "shared" / "corpora" / "extraction-benchmark" / "ground-truth.json"
T0 = datetime(2026, 6, 1, tzinfo=UTC)
# --english: a page counts as English when these function words are over an eighth of its words
# (the manifest has no language field; every page of the set is clearly one language or another)
ENGLISH_WORDS = frozenset("the and of to in is was for on that with said has have".split())
TUNE_TOPICS = frozenset({"nato-summit", "france-government-falls", "blackout"})
# --dated: the day each event happened (ours, from the label and the reports; the search tool stores
# no page dates). A page counts as published on its event's day plus a fixed random 0 to 36 hours,
# as a page that carries its date is taken by `monitor stories`.
EVENT_DAYS = {
    "nato-vilnius-summit-2023": "2023-07-11", "zelensky-accepts-vilnius-invite-april-2023": "2023-04-20",
    "nato-washington-summit-2024": "2024-07-10", "nato-hague-summit-2025": "2025-06-24",
    "rutte-dayton-may-2025": "2025-05-26", "rutte-eu-defence-autumn-2025": "2025-10-15",
    "trump-greenland-maralago-jan-2025": "2025-01-07", "greenland-election-mar-2025": "2025-03-11",
    "vance-pituffik-visit-mar-2025": "2025-03-28", "myanmar-earthquake-mar-2025": "2025-03-28",
    "afghanistan-earthquake-aug-2025": "2025-09-01", "afghanistan-kunar-quake-sep-2022": "2022-09-05",
    "barnier-falls-dec-2024": "2024-12-04", "bayrou-falls-sep-2025": "2025-09-08",
    "chile-blackout-feb-2025": "2025-02-25", "iberia-blackout-apr-2025": "2025-04-28",
    "pope-francis-death-apr-2025": "2025-04-21", "pope-leo-elected-may-2025": "2025-05-08",
    "air-india-ahmedabad-jun-2025": "2025-06-12", "jeju-air-muan-dec-2024": "2024-12-29",
    "trump-butler-shooting-jul-2024": "2024-07-13", "trump-golf-routh-sep-2024": "2024-09-15",
    "butler-one-year-on-jul-2025": "2025-07-13", "yoon-martial-law-dec-2024": "2024-12-03",
    "yoon-court-review-dec-2024": "2024-12-27", "yoon-removed-apr-2025": "2025-04-04",
}


def page_time(d: dict) -> datetime:
    """--dated: when a page counts as published (its event's day, plus 0 to 36 hours by its URL)."""
    day = datetime.fromisoformat(EVENT_DAYS[d["event"]]).replace(tzinfo=UTC)
    return day + timedelta(minutes=random.Random(d["url"]).randrange(36 * 60))


def is_english(d: dict) -> bool:
    words = re.findall(r"[a-z]+", d["text"].lower())
    return sum(w in ENGLISH_WORDS for w in words) > len(words) / 8


def split(text: str) -> tuple[str, str]:
    """The first line is the headline when it is short and the excerpt goes on after it."""
    first, _, rest = text.partition("\n")
    return (first, rest) if rest and len(first) < 200 else ("", text)


def load() -> tuple[list[dict], list[dict]]:
    if not TEXTS.exists():
        sys.exit(f"{TEXTS} is missing: rebuild it as bench/storyset/README.md says")
    docs = [json.loads(line) for line in TEXTS.read_text().splitlines() if line.strip()]
    background = []
    if BACKGROUND.exists():
        for key, v in json.loads(BACKGROUND.read_text()).items():
            background.append({"url": v.get("url") or key, "event": f"bg:{key}", "topic": f"bg:{key}",
                               "text": v["articleBody"]})
    return docs, background


def group(docs: list[dict], background: list[dict], threshold: float, seed: int) -> dict[str, tuple[str, str]]:
    """url -> (story key, level) as the index decides, in a fixed shuffled order."""
    order = list(docs)
    random.Random(seed).shuffle(order)
    index = StoryIndex(related_threshold=threshold)
    out: dict[str, tuple[str, str]] = {}
    for i, d in enumerate([*background, *order]):
        title, text = split(d["text"])
        a = index.assign(d["url"], title, text, T0 + timedelta(seconds=30 * i))
        out[d["url"]] = (a.story_key, a.level)
    return out


def measure(docs: list[dict], background: list[dict], threshold: float, seed: int) -> dict:
    got = group(docs, background, threshold, seed)
    everyone = [*docs, *background]
    pos = hits = neg = fps = hard = hard_fps = dev_neg = dev_fps = 0
    by_level = {"copy": 0, "related": 0}
    dev = {d["url"] for d in docs}
    for a, b in itertools.combinations(everyone, 2):
        together = got[a["url"]][0] == got[b["url"]][0]
        if a["event"] == b["event"]:
            pos += 1
            hits += together
        else:
            neg += 1
            fps += together
            if a["url"] in dev and b["url"] in dev:
                dev_neg += 1
                dev_fps += together
            if a["topic"] == b["topic"]:
                hard += 1
                hard_fps += together
    for d in docs:
        key, level = got[d["url"]]
        if level in by_level:
            by_level[level] += 1
    return {"threshold": threshold, "articles": len(docs), "background": len(background),
            "events": len({d["event"] for d in docs}), "same_event_pairs": pos,
            "recall": round(hits / pos, 4) if pos else 0.0, "grouped_pairs": hits,
            "different_event_pairs": neg, "wrongly_grouped": fps,
            "false_rate": round(fps / neg, 4) if neg else 0.0,
            "dev_different_event_pairs": dev_neg, "dev_wrongly_grouped": dev_fps,
            "dev_false_rate": round(dev_fps / dev_neg, 4) if dev_neg else 0.0,
            "hard_negative_pairs": hard, "hard_wrongly_grouped": hard_fps,
            "hard_false_rate": round(hard_fps / hard, 4) if hard else 0.0,
            "joined_as": by_level}


def measure_pairs(docs: list[dict], threshold: float, seed: int, negatives: int = 4000,
                  dated: bool = False) -> dict:
    """Each pair alone, as `monitor stories a b` decides it: a fresh index holding the two
    articles only (no window to tell a rare term from a common one), in a random order (with
    `dated`, each at its `page_time` and in that order, as `monitor stories` takes pages that
    carry their dates). All same-event pairs; a fixed random sample of the different-event ones
    (all hard negatives)."""
    rng = random.Random(seed)
    pairs = list(itertools.combinations(docs, 2))
    same = [p for p in pairs if p[0]["event"] == p[1]["event"]]
    hard = [p for p in pairs if p[0]["event"] != p[1]["event"] and p[0]["topic"] == p[1]["topic"]]
    other = [p for p in pairs if p[0]["topic"] != p[1]["topic"]]
    other = rng.sample(other, min(negatives, len(other)))
    def joined(a: dict, b: dict) -> bool:
        if rng.random() < 0.5:
            a, b = b, a
        index = StoryIndex(related_threshold=threshold)
        times = [page_time(a), page_time(b)] if dated else [T0, T0 + timedelta(minutes=1)]
        for when, d in sorted(zip(times, (a, b)), key=lambda x: x[0]):
            title, text = split(d["text"])
            got = index.assign(d["url"], title, text, when, when)
        return not got.is_new_story
    hits = sum(joined(*p) for p in same)
    hard_fps = sum(joined(*p) for p in hard)
    other_fps = sum(joined(*p) for p in other)
    return {"same": len(same), "hits": hits, "hard": len(hard), "hard_fps": hard_fps,
            "other": len(other), "other_fps": other_fps,
            "recall": hits / len(same) if same else 0.0,
            # the different-event pairs of the pages as they are: hard negatives all counted, the
            # others' rate from the sample
            "false_rate": (hard_fps + other_fps / len(other) * (len(pairs) - len(same) - len(hard)))
                          / (len(pairs) - len(same)) if other else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threshold", type=float, default=DEFAULT_RELATED_THRESHOLD)
    ap.add_argument("--sweep", action="store_true", help="a table over thresholds (0 = copies only)")
    ap.add_argument("--seed", type=int, default=17, help="the (first) shuffled arrival order")
    ap.add_argument("--thresholds", type=float, nargs="+", help="--sweep: these thresholds instead of the table's")
    ap.add_argument("--orders", type=int, default=5, help="--sweep: average over this many arrival orders")
    ap.add_argument("--no-background", action="store_true")
    ap.add_argument("--split", choices=("all", "tune", "held", "fresh", "every"), default="all",
                    help="all: the dev set (default); tune / held: its halves; fresh: the pages added "
                         "after the level was tuned (manifest \"set\": \"fresh\"); every: dev and fresh")
    ap.add_argument("--pairs", action="store_true",
                    help="each pair alone (as `monitor stories a b`), not all pages in one window")
    ap.add_argument("--dated", action="store_true",
                    help="--pairs: each page at its event's day (EVENT_DAYS) plus 0 to 36 hours, as "
                         "`monitor stories` takes pages that carry their own dates")
    ap.add_argument("--english", action="store_true",
                    help="only the English pages (function-word share; pairs of two English pages)")
    args = ap.parse_args()
    docs, background = load()
    if args.english:
        docs = [d for d in docs if is_english(d)]
    if args.split == "fresh":
        docs = [d for d in docs if d.get("set") == "fresh"]
    elif args.split != "every":
        docs = [d for d in docs if d.get("set") != "fresh"]
        if args.split != "all":
            docs = [d for d in docs if (d["topic"] in TUNE_TOPICS) == (args.split == "tune")]
    if args.no_background:
        background = []
    if args.pairs:
        print(f"{args.split}{' (English)' if args.english else ''}: {len(docs)} pages, each pair alone{', dated' if args.dated else ''}\n")
        print("| related_threshold | same-event pairs grouped | different-event pairs grouped "
              "| hard negatives grouped | other different-event pairs (sample) |")
        print("|---|---|---|---|---|")
        for th in (args.thresholds or (args.threshold,)):
            m = measure_pairs(docs, th, args.seed, dated=args.dated)
            print(f"| {th:g} | {m['recall']:.1%} ({m['hits']}/{m['same']}) | {m['false_rate']:.2%} "
                  f"| {m['hard_fps'] / max(1, m['hard']):.1%} ({m['hard_fps']}/{m['hard']}) "
                  f"| {m['other_fps'] / max(1, m['other']):.2%} ({m['other_fps']}/{m['other']}) |")
        return
    if not args.sweep:
        print(json.dumps(measure(docs, background, args.threshold, args.seed), indent=1))
        return
    seeds = range(args.seed, args.seed + args.orders)
    print(f"{args.split}: {len(docs)} pages; mean over {len(seeds)} arrival orders (seeds {seeds[0]}..{seeds[-1]}); recall range in brackets\n")
    print("| related_threshold | same-event pairs grouped | different-event pairs grouped (all) "
          "| different-event pairs among the dev pages | hard negatives grouped |")
    print("|---|---|---|---|---|")
    for th in (args.thresholds or (0.0, 0.05, 0.06, 0.065, 0.07, 0.08, 0.09, 0.1, 0.12, 0.15, 0.2)):
        ms = [measure(docs, background, th, seed) for seed in seeds]
        m = {k: sum(x[k] for x in ms) / len(ms) for k in ("recall", "grouped_pairs", "false_rate", "wrongly_grouped",
                                                           "dev_false_rate", "dev_wrongly_grouped",
                                                           "hard_false_rate", "hard_wrongly_grouped")}
        lo, hi = min(x["recall"] for x in ms), max(x["recall"] for x in ms)
        one = ms[0]
        print(f"| {th:g} | {m['recall']:.1%} ({m['grouped_pairs']:.0f}/{one['same_event_pairs']}) [{lo:.0%}-{hi:.0%}] "
              f"| {m['false_rate']:.2%} ({m['wrongly_grouped']:.0f}/{one['different_event_pairs']}) "
              f"| {m['dev_false_rate']:.2%} ({m['dev_wrongly_grouped']:.0f}/{one['dev_different_event_pairs']}) "
              f"| {m['hard_false_rate']:.1%} ({m['hard_wrongly_grouped']:.0f}/{one['hard_negative_pairs']}) |")

if __name__ == "__main__":
    main()
