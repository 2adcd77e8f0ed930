"""Publisher text made inert for each chat dialect: no mentions, no injected links or markup.

Every string a feed controls (titles, source names, snippets, rule titles from the rules
files) passes through one of these on its way into a chat payload, after `one_line`:

- `slack(s)`: Slack mrkdwn treats only `&`, `<` and `>` as control characters; escaping
  them means `<!channel>`, `<@U123>` and `<http://x|y>` stay text. A publisher's own
  `&lt;!channel&gt;` becomes `&amp;lt;...`, shown literally, never decoded to a mention.
- `markdown(s)`: Mattermost and Teams Markdown: backslash-escapes the characters that start
  markup or links (`[`, `]`, `*`, `_`, `` ` ``, `~`, `|`, `<`, `>`, `\\`, and `#`/`>`/`-` at the
  start), and breaks
  `@channel`, `@all`, `@here`, `@everyone` and `@user` mentions and bare `scheme://` URLs with
  a zero-width joiner so they neither notify nor turn into links.
- `discord(s)`: the same Markdown escaping plus mention breaking for `@everyone`/`@here` and
  `<@id>`/`<#id>`/`<@&id>`; the payload also sets `allowed_mentions: {parse: []}`.
- `plain(s)`: Adaptive Card plain text and headers: mention and URL breaking only.

Must not cut text (textcut.py) nor build payloads.
"""

from __future__ import annotations

import re

from monitor.sanitize import one_line

ZWJ = "\u2060"   # word joiner: invisible, keeps "@" and "channel" apart for every mention parser

_MENTION = re.compile(r"@(?=\w)")
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15}):(?=//)")
_WWW = re.compile(r"(?i)\bwww\.")
_MD = re.compile(r"([\\`*_~|\[\]<>])")     # emphasis, code, tables, links ([..](..), <..>), mentions


def _defuse(s: str) -> str:
    if "@" in s:
        s = _MENTION.sub("@" + ZWJ, s)
    if "//" in s:
        s = _URL.sub(lambda m: m.group(1) + ZWJ + ":", s)
    if "." in s:
        s = _WWW.sub(lambda m: m.group(0)[:3] + ZWJ + ".", s)
    return s


def _backslash(m: re.Match) -> str:
    return "\\" + m.group(1)


def slack(s: str) -> str:
    return one_line(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown(s: str) -> str:
    out = _MD.sub(_backslash, _defuse(one_line(s)))
    return "\\" + out if out[:1] in "#>-+=" and out else out      # no heading, quote or list at the start


def discord(s: str) -> str:
    return markdown(s)


def plain(s: str) -> str:
    return _defuse(one_line(s))


def url_for_markdown(url: str) -> str:
    """A URL inside `[text](url)`: spaces and parentheses percent-encoded so the link cannot end early."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def url_for_slack(url: str) -> str:
    """A URL inside `<url|text>`: `|` and `>` would end it, so they are percent-encoded."""
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
