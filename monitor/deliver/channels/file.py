"""The file channel (the default): each digest as .eml, .html and .json in a directory.

Owns naming and atomic writing: a file appears complete or not at all (write to a temporary
name in the same directory, fsync, rename). Names carry the delivery's time and id, so a
retried delivery rewrites the same files instead of adding copies. Must not decide what to send.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import time
from datetime import UTC
from pathlib import Path

from monitor.config.settings import ChannelSettings, Config
from monitor.deliver.channels import register, send_all
from monitor.deliver.channels.email import build_message
from monitor.deliver.digest import Digest, render_html, to_json
from monitor.deliver.parts import Prepared
from monitor.errors import DeliveryError


def directories(config: Config) -> list[Path]:
    """Every folder a file channel of this config writes to."""
    return sorted({Path(str(ch.options["path"])) if ch.options.get("path") else config.digests_dir
                   for ch in config.channels if ch.type == "file"})


# What base_name() writes, and write_atomic()'s temporary names: the only files prune() may delete.
DIGEST_FILE = re.compile(
    r"^\d{8}T\d{6}Z-.+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(?:eml|html|json)$")
DIGEST_TEMP = re.compile(r"^\.\d{8}T\d{6}Z-.+\.(?:eml|html|json).+\.tmp$")


def is_digest_file(name: str) -> bool:
    """True only for a file this channel wrote (or a temporary left by a crash while writing)."""
    return bool(DIGEST_FILE.match(name) or DIGEST_TEMP.match(name))


def prune(directory: Path, older_than_days: int) -> int:
    """Delete monitor's own digest files older than the retention period; returns how many went.

    The folder may be shared with the user's own files: only names this channel writes
    (`<UTC stamp>-<channel>-<delivery uuid>.eml|html|json`, see base_name) are considered,
    never a symlink or anything in a subfolder.
    """
    if not directory.is_dir():
        return 0
    cutoff = time.time() - older_than_days * 86400
    removed = 0
    for f in directory.iterdir():
        if not is_digest_file(f.name) or f.is_symlink() or not f.is_file():
            continue
        if f.stat().st_mtime < cutoff:
            f.unlink(missing_ok=True)
            removed += 1
    return removed


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def base_name(digest: Digest, delivery_id: str) -> str:
    stamp = digest.created.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{digest.channel}-{delivery_id}"


@register("file")
class FileChannel:
    def __init__(self, settings: ChannelSettings, config: Config):
        self.settings = settings
        path = settings.options.get("path")
        # Relative paths are relative to the working directory, like every path in the config.
        self.directory = Path(str(path)) if path else config.digests_dir

    def prepare(self, digest: Digest, delivery_id: str) -> list[Prepared]:
        """One part: the three files' contents, fixed at the first attempt like any channel's parts."""
        doc = {**to_json(digest), "delivery_id": delivery_id}
        files = {"name": base_name(digest, delivery_id), "html": render_html(digest),
                 "json": json.dumps(doc, ensure_ascii=False, indent=2),
                 "eml": bytes(build_message(digest, delivery_id)).decode("utf-8", "surrogateescape")}
        return [Prepared(digest.outbox_ids, json.dumps(files, ensure_ascii=False).encode("utf-8", "surrogateescape"),
                         delivery_id, items=len(digest.items))]

    async def deliver(self, part: Prepared, delivery_id: str) -> None:
        await asyncio.to_thread(self._write, json.loads(part.payload.decode("utf-8", "surrogateescape")))

    async def send(self, digest: Digest, delivery_id: str) -> None:
        await send_all(self, digest, delivery_id)

    def _write(self, files: dict[str, str]) -> None:
        name = files["name"]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomic(self.directory / f"{name}.html", files["html"].encode())
            write_atomic(self.directory / f"{name}.json", files["json"].encode())
            # The .eml last: its presence marks a complete digest for anyone watching the directory.
            write_atomic(self.directory / f"{name}.eml", files["eml"].encode("utf-8", "surrogateescape"))
        except OSError as exc:
            raise DeliveryError(f"{self.settings.name}: cannot write {self.directory}: {exc}") from exc
