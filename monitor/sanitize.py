"""Neutralising publisher-controlled text on its way into an output format.

Owns pure string functions, one per kind of sink:

- `one_line(s)`: for single-line sinks (mail headers and subjects, file names,
  chat titles, log fields): every line break (CR, LF, VT, FF, NEL, U+2028, U+2029,
  the ASCII separators FS/GS/RS/US) and every other control character becomes a
  space, runs of whitespace become one space, ends are trimmed.
- `strip_controls(s)`: for terminals and the text log: removes ESC, BEL, CR, DEL and
  every other C0/C1 control character, keeping only `\\n` and `\\t` (a CR at the end
  of a line is dropped with it, so CRLF becomes LF). Nothing that a terminal would
  interpret as a command survives; printable text is kept as is.
- `json_safe(encoded)`: for JSON text bound for a terminal, a pipe or a JSON log: DEL, C1
  controls and U+2028/U+2029, which JSON's quoting leaves raw, escaped as \\uXXXX.
- `log_text(s)`: for one text-log record: `strip_controls`, and every continuation
  line indented so that a publisher's newline cannot forge a log line of its own.

Must not: escape for a markup language (HTML, mrkdwn, Markdown are the renderers'
job, which call these first), truncate, or touch the network.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators.
_LINE_OR_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
# Everything _LINE_OR_CONTROL covers except tab and line feed; U+2028/U+2029 become "\n".
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_UNICODE_BREAK = re.compile("[\u2028\u2029]")
_CHANGED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")   # what strip_controls changes (CR included)


def one_line(s: str) -> str:
    """`s` as a single line: line breaks and control characters as spaces, whitespace collapsed."""
    return _SPACES.sub(" ", _LINE_OR_CONTROL.sub(" ", s)).strip()


def strip_controls(s: str) -> str:
    """`s` without control characters (ESC, BEL, CR, C1, ...); keeps newline and tab."""
    if s.isprintable() or not _CHANGED.search(s):
        return s        # the common case (every line of `monitor match --json`): one C pass,
                        # then one regex scan (twice as slow) for text with newlines or tabs
    s = s.replace("\r\n", "\n")
    s = _UNICODE_BREAK.sub("\n", s)
    return _CONTROL.sub("", s)


def json_safe(encoded: str) -> str:
    """JSON text (json.dumps(..., ensure_ascii=False) or its string quoting) with what that
    leaves raw and a terminal may act on, DEL, the C1 controls and U+2028/U+2029, escaped as
    \\uXXXX: the same data for a JSON reader, no control character for a terminal (every
    C0 control is escaped by the JSON quoting itself). Most strings are ASCII without DEL:
    returned as they are after two C-level checks."""
    if encoded.isascii() and "\x7f" not in encoded:
        return encoded
    return _JSON_UNSAFE.sub(_json_escape, encoded)


def _json_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")   # what json.dumps(ensure_ascii=False) leaves raw


def log_text(s: str, indent: str = "    ") -> str:
    """`s` fit for a text log line: no control characters, continuation lines indented."""
    return strip_controls(s).replace("\n", "\n" + indent)
