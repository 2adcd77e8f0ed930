"""The rule commands end to end through click: check, test, backtest and match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.models import Article
from monitor.store.sqlite import Store

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

RULES = """\
entities:
  kallas:
    - '"Kaja Kallas"'
    - '"EU foreign policy chief"'
rules:
  - id: kallas
    title: Kaja Kallas
    query: '@kallas OR ({Kallas} NEAR/20 (EU OR Estonia*))'
    exclude: '"Maria Callas"'
    priority: high
  - id: safe
    query: '{SAFE} AND defen*'
  - id: greenland
    query: 'Greenland OR Grønland'
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "watch.yaml").write_text(RULES, encoding="utf-8")
    return d


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_check_ok_and_errors(rules_dir, tmp_path):
    res = run("rules", "check", "--rules", str(rules_dir))
    assert res.exit_code == 0
    assert res.output.strip() == "3 rules, 1 entities OK"
    (rules_dir / "bad.yaml").write_text("rules:\n  - id: kallas\n    query: '(x'\n  - id: y\n    query: NOT z\n")
    res = run("rules", "check", "--rules", str(rules_dir))
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 3
    assert lines[0] == f"{rules_dir / 'bad.yaml'}:3:13: rule 'kallas' query: unclosed '('"
    assert lines[1].startswith(f"{rules_dir / 'bad.yaml'}:5:12: rule 'y' query: matches by negation alone")
    assert lines[2].startswith(f"{rules_dir / 'watch.yaml'}:6:9: duplicate rule id 'kallas' (first at ")


def test_check_uses_config_rules_path(rules_dir, tmp_path):
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(f"state:\n  path: {tmp_path / 's.db'}\nrules:\n  path: {rules_dir}\n")
    res = run("--config", str(cfg), "rules", "check")
    assert res.exit_code == 0 and "3 rules" in res.output


def test_match_json_contract(rules_dir, tmp_path):
    txt = tmp_path / "a.txt"
    txt.write_text("\n  Kallas in Brussels\nKaja Kallas backed SAFE defence loans.\n", encoding="utf-8")
    js = tmp_path / "b.json"
    js.write_text(json.dumps({"title": "Greenland", "text": "Maria Callas and Kaja Kallas"}))
    res = run("match", "--rules", str(rules_dir), "--json", str(txt), str(js))
    assert res.exit_code == 0
    first, second = (json.loads(line) for line in res.output.splitlines())
    assert first["path"] == str(txt)
    assert first["rules"] == ["kallas", "safe"]
    kallas = first["matches"][0]
    assert kallas["rule"] == "kallas" and kallas["priority"] == "high"
    assert {"field": "text", "start": 0, "end": 11, "text": "Kaja Kallas"} in kallas["hits"]
    greenland = {"field": "title", "start": 0, "end": 9, "text": "Greenland"}
    assert second == {"path": str(js), "rules": ["greenland"], "matches": [
        {"rule": "greenland", "priority": "normal", "hits": [greenland], "hit_count": 1,
         "why": [{"clause": "Greenland", "hits": [greenland]}]}]}


def test_match_json_why_gives_the_deciding_clause_and_each_side(tmp_path):
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - id: rutte\n    query: 'Stoltenberg OR {Rutte} NEAR/3 (NATO OR alliance)'\n", encoding="utf-8")
    js = tmp_path / "a.json"
    js.write_text(json.dumps({"title": "x", "text": "NATO. " + "word " * 20 + "Mark Rutte leads the alliance."}))
    res = run("match", "--rules", str(tmp_path), "--json", str(js))
    [why] = json.loads(res.output)["matches"][0]["why"]
    assert why["clause"] == "{Rutte} NEAR/3 (NATO OR alliance)"
    assert [h["text"] for h in why["hits"]] == ["Rutte", "alliance"]
    assert [(s["clause"], [h["text"] for h in s["hits"]]) for s in why["sides"]] == [
        ("{Rutte}", ["Rutte"]), ("(NATO OR alliance)", ["alliance"])]


def test_rules_check_warns_about_lowercase_operators_without_refusing(tmp_path):
    (tmp_path / "r.yaml").write_text("rules:\n  - id: r\n    query: 'Kallas or Rutte'\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["rules", "check", "--rules", str(tmp_path)])
    assert res.exit_code == 0
    assert f"{tmp_path / 'r.yaml'}:3:20: warning: rule 'r' query: lowercase 'or'" in res.stderr
    assert "1 rules, 0 entities OK (1 warning)" in res.stdout


def test_match_invalid_rules_exit_2(tmp_path):
    (tmp_path / "r.yaml").write_text("rules:\n  - id: x\n    query: 'a AND'\n")
    txt = tmp_path / "a.txt"
    txt.write_text("a\nb\n")
    res = CliRunner().invoke(cli, ["match", "--rules", str(tmp_path / "r.yaml"), str(txt)])
    assert res.exit_code == 2
    assert "r.yaml:3:15: rule 'x' query: AND needs an operand" in res.stderr
    assert res.stdout == ""


def test_match_html_goes_through_extraction(rules_dir, tmp_path):
    page = tmp_path / "p.html"
    body = "<p>Kaja Kallas said the SAFE instrument will fund defence projects across Europe.</p>" * 5
    page.write_text(f"<html><head><title>Kallas</title></head><body><article>{body}</article></body></html>")
    res = run("match", "--rules", str(rules_dir), "--json", str(page))
    assert json.loads(res.output)["rules"] == ["kallas", "safe"]


def test_rules_test_on_a_seed_article(rules_dir):
    seed = SHARED / "seeds" / "000_cdfba7690330a649.txt"
    assert seed.exists(), f"shared corpus missing: {seed}"
    res = run("rules", "test", "--rules", str(rules_dir), str(seed), "--verbose")
    assert res.exit_code == 0
    assert "FIRED kallas [high] Kaja Kallas" in res.output
    assert "[[Kaja Kallas]]" in res.output
    assert "-   greenland: query does not match" in res.output or "FIRED greenland" in res.output


def test_backtest_over_the_store(rules_dir, tmp_path):
    db = tmp_path / "s.db"
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(f"state:\n  path: {db}\nrules:\n  path: {rules_dir}\n")
    store = Store(db)
    arts = [Article(url=f"https://news.example/{i}", feed_url="f", guid=str(i), title=t, text=x)
            for i, (t, x) in enumerate([("Kallas in Tallinn", "Kaja Kallas spoke."),
                                        ("Greenland vote", "Grønland and Denmark."),
                                        ("Opera", "Maria Callas sang; Kaja Kallas listened.")])]
    store.save_feed_items("f", [], [(a, [], []) for a in arts], {})
    res = run("--config", str(cfg), "rules", "backtest", "--days", "1")
    assert res.exit_code == 0, res.output
    assert "3 articles from the last 1 day(s), 3 rule(s)" in res.output
    assert "kallas: 1\n    Kallas in Tallinn  https://news.example/0" in res.output
    assert "greenland: 1" in res.output and "safe: 0" in res.output
    res = run("--config", str(cfg), "rules", "backtest", "safe")
    assert "safe: 0" in res.output and "kallas" not in res.output


@pytest.mark.parametrize("args", [["rules", "check"], ["rules", "test"], ["rules", "backtest"], ["match"]])
def test_help_has_an_example(args):
    res = run(*args, "--help")
    assert res.exit_code == 0 and "Example: monitor" in res.output


def _as_dicts(path, matches) -> dict:
    """The JSON line's structure, built as json.dumps would be given it."""
    def hit(h):
        return {"field": h.field, "start": h.start, "end": h.end, "text": h.text}

    def why(w):
        out = {"clause": w.clause, "hits": [hit(h) for h in w.hits]}
        if w.sides:
            out["sides"] = [why(s) for s in w.sides]
        return out
    return {"path": path, "rules": sorted(m.rule for m in matches),
            "matches": [{"rule": m.rule, "priority": m.priority, "hits": [hit(h) for h in m.hits],
                         "hit_count": m.hit_count or len(m.hits), "why": [why(w) for w in m.why]} for m in matches]}


def test_the_json_line_is_json_dumps_with_terminal_controls_escaped(tmp_path):
    from monitor.cli.rules import _match_json
    from monitor.match import load_rules
    from monitor.models import Article
    from monitor.sanitize import json_safe
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - id: r1\n    query: '\"Kaja Kallas\" OR ({Kallas} NEAR/3 (NATO OR Ελλάδα))'\n"
        "  - id: r2\n    query: 'said AND NOT opera'\n    priority: high\n", encoding="utf-8")
    rs = load_rules(tmp_path)
    doc = Article(url="u", feed_url="f", guid="g", title='Kallas \\ "NATO"',
                  text='Kaja Kallas said\t"no" to\nNATO \u0085 Ελλάδα 😀 Kallas Ελλάδα\u2028x')
    matches = rs.match(doc)
    assert [m.rule for m in matches] == ["r1", "r2"]
    for path in ('a "b" \\ c.json', "plain.json", "d\x7fe\u2029.json"):
        line = _match_json(path, matches)
        assert line == json_safe(json.dumps(_as_dicts(path, matches), ensure_ascii=False))
        assert json.loads(line) == _as_dicts(path, matches)      # the data intact
        assert not any(c in line for c in "\x7f\x85\u2028\u2029")
    assert '"path": "d\\u007fe\\u2029.json"' in _match_json("d\x7fe\u2029.json", matches)
    assert _match_json("x", []) == json.dumps(_as_dicts("x", []), ensure_ascii=False)


def test_match_json_output_holds_no_control_character_and_keeps_the_data(rules_dir, tmp_path):
    """`match --json` is written past the control-stripping filter: every control character
    of a hostile input (ESC, BEL, DEL, C1, U+2028) is escaped in the JSON, none reaches the
    stream, and a JSON reader gets the text as it was."""
    from monitor.sanitize import _CHANGED
    text = "Kaja Kallas \x1b[31mred\x07 \x7f \x9b2J \u2028 Kallas\r\nNATO"
    p = tmp_path / "hostile\x1b.json"
    p.write_text(json.dumps({"title": "Greenland \x85 now", "text": text}))
    res = CliRunner().invoke(cli, ["match", "--rules", str(rules_dir), "--json", str(p)])
    assert res.exit_code == 0, res.output
    assert not _CHANGED.search(res.stdout.rstrip("\n"))
    got = json.loads(res.stdout)
    assert got["path"] == str(p) and "kallas" in got["rules"]
    assert any("\x1b" in h["text"] or h["text"] == "Kallas" for m in got["matches"] for h in m["hits"])


@pytest.mark.parametrize("chunk", [1, 200, 1 << 16])
def test_match_json_gathered_into_a_pipe_keeps_every_line_in_order(rules_dir, tmp_path, monkeypatch, chunk):
    """Into a pipe or file the lines are written OUT_CHUNK characters at a time: the same lines,
    in input order, whatever the chunk, with what came before an unreadable input."""
    import monitor.cli.rules as rules_cli
    paths = []
    for i in range(7):
        p = tmp_path / f"d{i}.json"
        p.write_text(json.dumps({"title": "Greenland" if i % 2 else "x", "text": "Kaja Kallas " * i}))
        paths.append(str(p))
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    args = ["match", "--rules", str(rules_dir), "--json", *paths[:3], str(bad), *paths[3:]]
    monkeypatch.setattr(rules_cli, "OUT_CHUNK", 1 << 30)
    whole = CliRunner().invoke(cli, args)
    monkeypatch.setattr(rules_cli, "OUT_CHUNK", chunk)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == whole.exit_code == 1
    assert res.stdout == whole.stdout
    assert [json.loads(line)["path"] for line in res.stdout.splitlines()] == paths
    assert [json.loads(line)["rules"] for line in res.stdout.splitlines()][:2] == [[], ["greenland", "kallas"]]
