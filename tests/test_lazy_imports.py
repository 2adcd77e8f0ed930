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
    assert not mods & {"trafilatura", "lxml", "httpx", "feedparser", "sqlite_utils", "datasketch"}, \
        sorted(mods & set(HEAVY))


def test_the_poll_pipeline_leaves_parsing_extraction_and_signatures_to_the_workers():
    """The main process of `monitor run` / `poll` imports trafilatura, feedparser and datasketch
    (with scipy) only to do that work inline, without a pool."""
    mods = loaded_after("import monitor.daemon.run, monitor.daemon.pipeline")
    assert not mods & {"trafilatura", "lxml", "feedparser", "datasketch", "scipy"}, \
        sorted(mods & {"trafilatura", "lxml", "feedparser", "datasketch", "scipy"})
