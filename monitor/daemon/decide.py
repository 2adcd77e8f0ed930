"""What a feed's new articles become: analysed in the pool, placed in a story, queued on channels.

Owns the step between extraction and saving: the batch's analysis (daemon/analysis.py,
in the worker pool with a limit per article, or in-process without a pool), the story
of each article and the channels each match is queued on, with the rule set read once
per batch so a reload never splits one. Must not fetch or write (pipeline.py saves
what this decides, in one transaction).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from monitor.daemon.analysis import Analysis, analyse, load_state
from monitor.models import Article, Match
from monitor.stories.dedupe import NUM_PERM, held_to_feed

log = logging.getLogger("monitor.daemon.decide")


async def analyse_batch(deps: Any, articles: list[Article], what: str) -> list[Analysis]:
    """Matches and story signature of each article, one time limit per article; never raises for one."""
    if not articles:
        return []
    rules = deps.rules.current if deps.rules is not None else None
    num_perm = deps.stories.num_perm if deps.stories is not None else NUM_PERM
    related = deps.stories is not None and deps.stories.related_threshold > 0   # event terms in the pool too
    if deps.extractor is None or deps.analysis is None:
        return [analyse(a, (rules, num_perm, related)) for a in articles]
    context = await deps.analysis.context_for(rules, num_perm, related)
    limit = deps.config.fetch.match_seconds_per_article
    results = await deps.extractor.map_batch(analyse, articles, context, setup=load_state, timeout=limit,
                                             what=f"matching {what}")
    out = []
    for a, (status, value) in zip(articles, results):
        if status == "ok":
            out.append(value)
            continue
        if status == "error":
            log.error("matching failed on %s: %s: %s", a.url, type(value).__name__, value)
            out.append(Analysis(error=f"{type(value).__name__}: {value}"))
        else:
            out.append(Analysis(timed_out=True, error=f"matching took over {limit:g}s" if status == "timeout"
                                else "its worker crashed twice"))
        log.warning("article stored unmatched (%s): %s", out[-1].error, a.url)
    return out


def decide(deps: Any, articles: list[Article], analyses: list[Analysis], seen: datetime,
           ) -> tuple[list[tuple[Article, list[Match]]], list, dict[str, str]]:
    """Story and channels for each analysed article: (items, story assignments, unmatched url -> reason).

    `seen` is the fetch time: the story window trusts a publisher's date only near it.
    A later copy of a story already queued for a rule and channel is stored (it shows as
    "also reported by") but queues nothing new there. Related coverage (another outlet's
    own report of the event, `story.level == "related"`) is never suppressed here: it is
    queued and shown under its story (the delivery holds back a second immediate alert).
    An article whose analysis failed is stored unmatched, in a story of its own.
    """
    defaults = deps.config.default_channels
    enabled = {ch.name for ch in deps.config.channels}     # a disabled channel (enabled: false) gets nothing
    queued: set[tuple[str, str, str]] = set()
    items: list[tuple[Article, list[Match]]] = []
    assignments: list = []
    unmatched: dict[str, str] = {}
    for a, an in zip(articles, analyses):
        if an.error:
            unmatched[a.url] = an.error
            items.append((a, []))
            continue
        story = (deps.stories.assign(a.url, a.title, a.text, a.published, seen, signature=an.signature)
                 if deps.stories is not None else None)  # an empty index is falsy
        story_key = story.story_key if story else a.url
        copy = story is not None and story.level == "copy"
        # a copy's story id is read only when a match asks whether its story was queued already
        # (one round trip on PostgreSQL, under the story lock: most copies match no rule)
        story_id: int | None = None
        looked_up = False
        own_site = not held_to_feed(a.url)      # an outlet's own copy: never suppressed by a held item
        if story:
            assignments.append(story)
        resolved = []
        for m in an.matches:
            channels = []
            for ch in m.channels or defaults:
                if ch not in enabled:
                    continue
                key = (story_key, m.rule, ch)
                if copy and key in queued:
                    continue
                if copy and not looked_up:
                    story_id, looked_up = deps.store.story_id_of(story_key), True
                if copy and story_id and deps.store.story_already_queued(story_id, m.rule, ch,
                                                                          ignore_held=own_site):
                    continue
                queued.add(key)
                channels.append(ch)
            resolved.append(replace(m, channels=tuple(channels)))
        items.append((a, resolved))
    return items, assignments, unmatched
