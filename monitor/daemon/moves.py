"""A feed that moved permanently (301/308) follows in the config file, comments kept.

Owns one reaction to a permanent redirect the poll saw: rewrite that feed's `url:` in
the config file when it is writable (the daemon then reloads it), else say so in the
log and leave a note that `monitor status` shows, so `feeds remove URL` with either
address keeps working. Must not change the store (pipeline moved the feed there).
"""

from __future__ import annotations

import logging
from typing import Any

from monitor.config.edit import replace_feed_url, write_validated
from monitor.errors import ConfigError

log = logging.getLogger("monitor.daemon.moves")
META_KEY = "feed_moves_not_in_config"


def follow_in_config(deps: Any, old: str, new: str) -> bool:
    """Rewrite old -> new in the config file; True when written. Never raises."""
    cfg = deps.config
    if old not in {f.url for f in cfg.feeds}:
        return False        # not a configured URL (an earlier move already followed)
    reason = None
    try:
        text = cfg.path.read_text(encoding="utf-8")
        updated = replace_feed_url(text, old, new)
        if updated is None:
            reason = "its url: line could not be found to rewrite"
        else:
            write_validated(cfg.path, updated)
    except OSError as exc:
        reason = f"the config is not writable ({exc.strerror or exc})"
    except ConfigError as exc:
        reason = f"the rewritten config would not validate: {exc.messages[0]}"
    if reason is None:
        log.info("feed moved permanently: %s -> %s; updated %s", old, new, cfg.path)
        return True
    log.warning("feed moved permanently: %s -> %s, but %s was not updated: %s; change its url by hand",
                old, new, cfg.path, reason)
    notes: list[dict] = (deps.store.get_meta(META_KEY) or ([], ""))[0]
    notes = [n for n in notes if n.get("old") != old] + [{"old": old, "new": new, "reason": reason}]
    deps.store.set_meta(META_KEY, notes[-50:])
    return False
