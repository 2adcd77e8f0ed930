"""The file channel (the default): each digest as .eml, .html and .json in a directory.

Owns naming and atomic writing: a file appears complete or not at all (write to a temporary
name in the same directory, fsync, rename). Names carry the delivery's time and id, so a
retried delivery rewrites the same files instead of adding copies. Must not decide what to send.
"""

from __future__ import annotations

import asyncio
import json
import os
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


def prune(directory: Path, older_than_days: int) -> int:
    """Delete digest files older than the retention period; returns how many went."""
    if not directory.is_dir():
        return 0
    cutoff = time.time() - older_than_days * 86400
    removed = 0
    for f in directory.iterdir():
        if f.suffix in (".eml", ".html", ".json") and f.is_file() and f.stat().st_mtime < cutoff:
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
