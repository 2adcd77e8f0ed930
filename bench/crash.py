"""Bench: the crash drill of tests/test_crash.py at full size, with its numbers printed.

Kills `monitor run` with SIGKILL --kills times (seeded: which kills are timed and which
fire inside an SMTP transaction, and the delays), compares the end state with an
uninterrupted reference run over a second farm with the same seed and steps, and prints
each kill, the raw duplicate messages (same Message-ID: a resend after a kill between the
server storing a message and the daemon marking it sent) and the verdict.

    .venv/bin/python bench/crash.py                      # 20 kills, 30 feeds x 5 items, 6 advances
    .venv/bin/python bench/crash.py --kills 40 --seed 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_crash import check_drill  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--feeds", type=int, default=30)
    p.add_argument("--items", type=int, default=5)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--advances", type=int, default=6)
    args = p.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            s = check_drill(Path(tmp), args.kills, args.feeds, args.items, args.seed, args.advances)
        except AssertionError as exc:
            print(f"FAILED: {exc}")
            sys.exit(1)
    print(f"{'kill':>4} {'how':>6} {'after s':>8} {'messages in run':>16}")
    for i, k in enumerate(s["kills"], 1):
        print(f"{i:>4} {k['how']:>6} {k['delay'] if k['how'] != 'smtp' else '-':>8} {k['sent']:>16}")
    print(f"kills: {len(s['kills'])} ({sum(k['how'] == 'smtp' for k in s['kills'])} inside an SMTP transaction, "
          f"{sum(k['sent'] > 0 for k in s['kills'])} in runs that sent mail); "
          f"integrity_check ok after {s['integrity'].count('ok')}")
    print(f"farm advanced {s['advanced_in_loop']} of {args.advances} times between kills (the rest at the end)")
    print(f"messages received: {s['messages']}, raw duplicates (same Message-ID): {s['dups']}")
    print(f"articles stored: {len(s['urls'])}, (rule, story) items delivered: {len(s['items'])}, "
          f"each exactly once: {set(s['items'].values()) == {1}}")
    print(f"verdict: equal to the uninterrupted run ({time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    main()
