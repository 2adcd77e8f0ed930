"""Start-up cost is import cost: the light commands must not import the heavy stages (issue 18).

Behaviour, not timing: each check runs a fresh interpreter and looks at sys.modules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ["trafilatura", "lxml", "httpx", "feedparser", "jinja2", "starlette", "uvicorn", "sqlite_utils",
         "numpy", "scipy", "datasketch", "courlan", "py3langid", "monitor.store.sqlite", "monitor.match",
         "monitor.deliver.delivery", "monitor.daemon.pipeline"]


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_command_line_module_imports_no_stage():
    mods = loaded_after("import monitor.cli.main")
    assert not mods & set(HEAVY), sorted(mods & set(HEAVY))


def test_help_imports_no_stage():
    mods = loaded_after("import sys\nfrom monitor.cli.main import cli\n"
                        "try:\n    cli(['--help'], prog_name='monitor')\nexcept SystemExit:\n    pass")
    assert not mods & set(HEAVY), sorted(mods & set(HEAVY))


def test_matching_a_text_file_loads_the_rule_engine_but_not_extraction_nor_the_network(tmp_path):
    (tmp_path / "r.yaml").write_text("rules:\n  - id: r\n    query: kallas\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("A title\n\nKaja Kallas spoke.\n", encoding="utf-8")
    mods = loaded_after("import sys\nfrom monitor.cli.main import cli\n"
                        f"try:\n    cli(['match', '--rules', {str(tmp_path)!r}, {str(tmp_path / 'a.txt')!r}],"
                        " prog_name='monitor')\nexcept SystemExit:\n    pass")
    assert "monitor.match" in mods          # the probe did run the command
    assert not mods & {"trafilatura", "lxml", "httpx", "feedparser", "sqlite_utils", "datasketch", "numpy"}, \
        sorted(mods & set(HEAVY))


def _status_config(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text("rules:\n  - id: r\n    query: kallas\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text(f"state:\n  path: {tmp_path}/m.db\nrules:\n  path: {tmp_path}/rules\n"
                                     "feeds: []\n", encoding="utf-8")
    return tmp_path / "m.yaml"


def test_status_reads_the_state_without_numpy(tmp_path):
    """sqlite-utils would import numpy, only for numpy column types monitor never writes."""
    cfg = _status_config(tmp_path)
    mods = loaded_after("import sys\nfrom monitor.cli.main import cli\n"
                        f"try:\n    cli(['--config', {str(cfg)!r}, 'status'], prog_name='monitor')\n"
                        "except SystemExit:\n    pass")
    assert "monitor.store.sqlite" in mods and "monitor.match.rules" in mods   # it did read both
    assert "numpy" not in mods


def test_status_checks_the_rules_without_compiling_them(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import monitor.match as match_mod
    from monitor.cli.main import cli
    cfg = _status_config(tmp_path)
    built = []
    monkeypatch.setattr(match_mod.RuleSet, "__init__", lambda self, *a, **k: built.append(1))
    result = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert "rules: 1 valid on disk" in result.output and built == []
    (tmp_path / "rules" / "r.yaml").write_text("rules:\n  - id: r\n    query: kallas AND\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert "r.yaml:3" in result.output and built == []


def test_numpy_stays_importable_after_the_store(tmp_path):
    mods = loaded_after("import monitor.store.sqlite\nimport numpy\nassert numpy.zeros(2).sum() == 0")
    assert "numpy" in mods


def test_rules_check_validates_without_compiling(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import monitor.match as match_mod
    from monitor.cli.main import cli
    (tmp_path / "r.yaml").write_text("rules:\n  - id: r\n    query: kallas AND\n", encoding="utf-8")
    built = []
    monkeypatch.setattr(match_mod.RuleSet, "__init__", lambda self, *a, **k: built.append(1))
    bad = CliRunner().invoke(cli, ["rules", "check", "--rules", str(tmp_path)])
    assert bad.exit_code == 1 and "r.yaml:3" in bad.output     # the error, with its place
    (tmp_path / "r.yaml").write_text("rules:\n  - id: r\n    query: kallas\n", encoding="utf-8")
    good = CliRunner().invoke(cli, ["rules", "check", "--rules", str(tmp_path)])
    assert good.exit_code == 0 and "1 rules" in good.output
    assert built == []


def test_the_poll_pipeline_leaves_parsing_extraction_and_signatures_to_the_workers():
    """The main process of `monitor run` / `poll` imports trafilatura, feedparser and datasketch
    (with scipy) only to do that work inline, without a pool."""
    mods = loaded_after("import monitor.daemon.run, monitor.daemon.pipeline")
    assert not mods & {"trafilatura", "lxml", "feedparser", "datasketch", "scipy"}, \
        sorted(mods & {"trafilatura", "lxml", "feedparser", "datasketch", "scipy"})



def loaded_in_worker(names: list[str]) -> list[str]:
    """Run in a pool worker: which of these modules it has imported."""
    return [n for n in names if n in sys.modules]


WORKER_PROBE = """
import asyncio, json, sys
from monitor.extract import pool as pool_mod
from monitor.ingest.feeds import parse_feed
from tests.test_lazy_imports import loaded_in_worker
rss = (b"<rss version='2.0'><channel><title>t</title><item><title>a</title>"
       b"<link>https://a.example/1</link></item></channel></rss>")
async def probe():
    with pool_mod.ExtractorPool(workers=1, preload=getattr(pool_mod, sys.argv[1])) as pool:
        parsed = await pool.call(parse_feed, rss, "https://a.example/feed", "application/rss+xml", 10)
        assert parsed.entries
        return await pool.call(loaded_in_worker, ["trafilatura", "lxml.html", "feedparser", "datasketch", "scipy"])
print(json.dumps(asyncio.run(probe())))
"""


def worker_modules(preload: str) -> list[str]:
    # a fresh interpreter each: the forkserver, and what it preloads, is one per process
    out = subprocess.run([sys.executable, "-c", WORKER_PROBE, preload], capture_output=True, text=True,
                         cwd=REPO, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_workers_that_only_parse_and_match_never_import_trafilatura_nor_datasketch():
    assert worker_modules("BASE_PRELOAD") == ["feedparser"]
    assert worker_modules("FULL_PRELOAD") == ["trafilatura", "lxml.html", "feedparser"]
