"""monitor.sanitize: the pure neutralising steps every output format calls first."""

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from monitor.sanitize import log_text, one_line, strip_controls

BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def test_one_line_turns_every_line_break_into_one_space():
    for br in BREAKS:
        assert one_line(f"Breaking{br}news") == "Breaking news", repr(br)
    assert one_line("  a \n\n\t b\u2028\u2029c  ") == "a b c"


def test_one_line_removes_terminal_controls_too():
    assert one_line("red\x1b[31m alert\x07") == "red [31m alert"
    assert one_line("x\x00y\x9bz\x7f") == "x y z"


def test_strip_controls_keeps_newline_and_tab_and_printable_text():
    assert strip_controls("Kallas\tsays\nhello, Ελλάδα — 東京") == "Kallas\tsays\nhello, Ελλάδα — 東京"
    assert strip_controls("a\r\nb") == "a\nb"
    assert strip_controls("a\u2028b") == "a\nb"


def test_strip_controls_removes_escape_bell_c1_and_carriage_return():
    s = "\x1b]0;pwned\x07title\x1b[2J\x9b31m\rfake\x90x\x9c\x7f"
    out = strip_controls(s)
    assert out == "]0;pwnedtitle[2J31mfakex"
    assert not any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in out)


def test_log_text_indents_continuation_lines():
    forged = "title\n2026-12-01 08:00:00 ERROR   monitor.daemon: forged"
    assert log_text(forged) == "title\n    2026-12-01 08:00:00 ERROR   monitor.daemon: forged"


@given(st.text())
def test_one_line_never_leaves_a_break_or_control(s):
    out = one_line(s)
    assert not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in out)
    assert out == out.strip() and "  " not in out


@given(st.text())
def test_strip_controls_leaves_only_newline_and_tab(s):
    out = strip_controls(s)
    assert all(c in "\n\t" for c in out if unicodedata.category(c) in ("Cc", "Zl", "Zp"))
    # printable characters are all kept, in order
    kept = [c for c in s if unicodedata.category(c) not in ("Cc", "Zl", "Zp")]
    assert [c for c in out if c not in "\n\t"] == [c for c in kept if c not in "\n\t"]


@given(st.text(alphabet=st.characters(max_codepoint=0x3000)) | st.text(alphabet="a\r\n\t\x1b\x85\u2028\u00a0 "))
def test_strip_controls_returns_early_only_when_nothing_would_change(s):
    from monitor.sanitize import _CONTROL, _UNICODE_BREAK
    assert strip_controls(s) == _CONTROL.sub("", _UNICODE_BREAK.sub("\n", s.replace("\r\n", "\n")))
