"""Docs are part of the feature: these fail when a command or a setting is undocumented."""

import dataclasses
import re
from pathlib import Path

from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config import settings as config
from monitor.config.channels import BASE_KEYS, CHANNEL_KEYS
from monitor.config.http import HttpSettings
from monitor.config.state import STATE_KEYS
from monitor.config.workers import WorkerSettings

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def all_commands(group, prefix=""):
    for name, cmd in group.commands.items():
        yield f"{prefix}{name}", cmd
        if hasattr(cmd, "commands"):
            yield from all_commands(cmd, f"{prefix}{name} ")


def test_readme_starts_with_the_two_commands():
    head = README.splitlines()[:8]
    assert any(line.startswith("make run") for line in head)
    assert any(line.startswith("make test") for line in head)


def test_every_command_is_in_the_readme_and_has_help():
    runner = CliRunner()
    for name, _ in all_commands(cli):
        assert f"monitor {name}" in README or f"`{name}`" in README, f"README does not mention `monitor {name}`"
        result = runner.invoke(cli, [*name.split(), "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, name


def test_every_setting_is_documented_in_the_shipped_config():
    text = (REPO / "config" / "monitor.yaml").read_text()
    keys = {f.name for cls in (config.FetchSettings, config.DigestSettings, config.DedupeSettings, WorkerSettings,
                               HttpSettings, config.FeedSettings) for f in dataclasses.fields(cls)}
    keys |= STATE_KEYS | BASE_KEYS | set().union(*CHANNEL_KEYS.values())
    for key in sorted(keys):
        assert re.search(rf"^\s*#?\s*(- )?{key}:", text, re.M), f"config/monitor.yaml does not document {key}"
    for key in config.TOP_KEYS:
        assert re.search(rf"^#?\s*{key}:", text, re.M), f"config/monitor.yaml does not document {key}"


def test_help_examples_are_printed_as_written():
    """Click rewraps paragraphs: a block of two or more example commands needs a \\b line."""
    runner = CliRunner()
    for name, cmd in all_commands(cli):
        printed = {line.split("#")[0].strip() for line in runner.invoke(cli, [*name.split(), "--help"]).output.splitlines()}
        for line in (cmd.help or "").splitlines():
            example = line.split("#")[0].strip()
            if example.startswith("monitor "):
                assert example in printed, f"`monitor {name} --help` rewraps its example: {example}"


def test_every_module_is_in_the_architecture_doc():
    """docs/architecture.md stays true: each module of the package is named there."""
    text = (REPO / "docs" / "architecture.md").read_text()
    for path in sorted((REPO / "monitor").rglob("*.py")):
        if path.name != "__init__.py":
            assert re.search(rf"\b{re.escape(path.stem)}\b", text), \
                f"docs/architecture.md does not name {path.relative_to(REPO)}"
