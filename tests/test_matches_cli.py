"""`monitor matches`: the matches page's list on the command line."""

import json

from click.testing import CliRunner

from monitor.cli.main import cli
from tests.webenv import WebEnv


def test_matches_lists_stories_filters_by_rule_and_prints_json(tmp_path):
    env = WebEnv(tmp_path)
    a = env.add("Kaja Kallas in Kyiv", "Kaja Kallas", source="Alpha")
    env.add("Greenland vote", "Greenland", source="Beta")
    c = env.add("Kallas copy", "Kaja Kallas", source="Gamma")
    env.store.db.execute("UPDATE articles SET story_id = ? WHERE id IN (?, ?)", [a, a, c])
    env.store.db.execute("UPDATE matches SET created = '2001-01-01T00:00:00+00:00' WHERE article_id = 2")
    run = CliRunner()
    base = ["--config", str(env.config.path), "matches"]
    text = run.invoke(cli, base)
    assert text.exit_code == 0, text.output
    out = text.output
    assert "Alpha" in out and "Gamma" in out and out.count("also: ") == 1 and "Greenland" not in out
    assert "1 story" in out
    old = run.invoke(cli, [*base, "--since", "2000-06-01", "--rule", "greenland", "--json"])
    lines = [json.loads(x) for x in old.output.splitlines() if x.startswith("{")]
    assert [x["articles"][0]["title"] for x in lines] == ["Greenland vote"]
    assert run.invoke(cli, [*base, "--since", "yesterday"]).exit_code == 2
    assert run.invoke(cli, [*base, "--since", "2h", "--rule", "nope"]).output.count("Kallas") == 0


def test_web_password_prints_a_hash_the_login_accepts():
    from monitor.web.security import check_password
    result = CliRunner().invoke(cli, ["web-password"], input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    encoded = result.output.strip().splitlines()[-1]
    assert encoded.startswith("pbkdf2_sha256$") and "correct horse" not in encoded
    assert check_password("correct horse battery", encoded) and not check_password("wrong", encoded)
    assert CliRunner().invoke(cli, ["web-password"], input="short\n").exit_code == 2
