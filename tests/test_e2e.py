"""End to end through the CLI: the feed farm, a real SMTP server, `poll --once`, `digest --send`.

The email that arrives must hold exactly the stories that the farm's /truth.json says
carry the planted phrases the test rules watch, each story once.
"""

import re
import subprocess
import sys
from pathlib import Path

from tests.farm import Farm, email_channel
from tests.farm import write_config as farm_config

REPO = Path(__file__).resolve().parents[1]
TOPIC_RULE = {"marker-alpha": "Operation Alder Crest", "marker-beta": "The Halvorsen Accord",
              "marker-gamma": "Project Quillmoor"}       # rule titles, as digests show them


def run(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), *args],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def write_config(tmp: Path, feeds: list[str], smtp_port: int) -> Path:
    return farm_config(tmp, feeds, rules=REPO / "tests" / "e2e_rules", fetch="respect_robots: false",
                       digest="max_items: 200", channels=email_channel(smtp_port, "daily at 08:00"),
                       extra="default_channels: [desk]")


def test_poll_and_digest_deliver_exactly_the_matching_stories(tmp_path, smtp_server):
    with Farm("--feeds", "30", "--items", "8", "--seed", "7") as farm:
        cfg = write_config(tmp_path, farm.feed_urls(), smtp_server.port)
        polled = run(cfg, "poll", "--once")
        truth = farm.truth()["articles"]
    assert "30 feeds (30 ok" in polled.stdout
    run(cfg, "digest", "--send")

    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()

    by_story: dict[int, list[dict]] = {}
    for a in truth:
        by_story.setdefault(a["story"], []).append(a)
    expected = {sid for sid, arts in by_story.items() if arts[0]["topics"]}
    assert expected, "the farm planted no phrases: the test would prove nothing"
    shown = {sid for sid, arts in by_story.items()
             if any(a["url"].split("?")[0] in text for a in arts)}
    assert shown == expected

    # each story once, under the rules its topics name
    for sid in expected:
        title = by_story[sid][0]["title"]
        assert 1 <= text.count(title) <= len(by_story[sid][0]["topics"]), title
        for topic in by_story[sid][0]["topics"]:
            assert TOPIC_RULE[topic] in mail["Subject"] or TOPIC_RULE[topic] in text
    assert re.search(r'<b class="h">', html), "matched terms are highlighted"
    # a syndicated story is one item that names the other outlets
    syndicated = [sid for sid in expected if len({a["outlet"] for a in by_story[sid]}) > 1]
    assert syndicated, "no syndicated marked story: pick another seed"
    assert text.count("also reported by") + text.count("Also reported by") >= len(syndicated)

    # nothing is sent twice
    run(cfg, "digest", "--send")
    assert len(smtp_server.messages) == 1
