"""The email channel: a multipart text + HTML message over SMTP.

Owns building the MIME message (also used by the file channel's .eml) and talking SMTP
with STARTTLS, implicit TLS or none. The password comes from the environment variable
named by `password_env`, never from the config. smtplib runs in a worker thread so the
event loop keeps serving. Must not decide what to send.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime

from monitor.config.settings import ChannelSettings, Config, secret
from monitor.deliver.channels import register
from monitor.deliver.digest import Digest, render_html, render_text
from monitor.errors import DeliveryError

log = logging.getLogger(__name__)
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def message_id(delivery_id: str, sender: str) -> str:
    """Stable per delivery, so a retried send is recognisably the same message."""
    domain = sender.rpartition("@")[2].strip("> ") or "monitor.localhost"
    return f"<{delivery_id}@{domain}>"


def build_message(digest: Digest, delivery_id: str, sender: str = "monitor@localhost",
                  to: list[str] | tuple[str, ...] = ()) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = digest.subject
    msg["From"] = sender
    if to:
        msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(digest.created)
    msg["Message-ID"] = message_id(delivery_id, sender)
    msg["X-Monitor-Delivery"] = delivery_id
    msg.set_content(render_text(digest))
    msg.add_alternative(render_html(digest), subtype="html")
    return msg


def _recipients(value) -> list[str]:
    if isinstance(value, str):
        return [a.strip() for a in value.split(",") if a.strip()]
    return [str(a) for a in value or []]


@register("email")
class EmailChannel:
    def __init__(self, settings: ChannelSettings, config: Config):
        o = settings.options
        self.settings = settings
        self.host = str(o.get("host", "localhost"))
        self.security = str(o.get("security", "starttls"))
        self.port = int(o.get("port") or DEFAULT_PORTS[self.security])
        self.username = o.get("username")
        self.password_env = o.get("password_env")
        self.sender = str(o.get("from", "monitor@localhost"))
        self.to = _recipients(o.get("to"))
        self.timeout = float(o.get("timeout_seconds", 30))

    async def send(self, digest: Digest, delivery_id: str) -> None:
        msg = build_message(digest, delivery_id, self.sender, self.to)
        await asyncio.to_thread(self._send_sync, msg)

    def _send_sync(self, msg: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                if self.username:
                    smtp.login(str(self.username), secret(self.password_env) or "")
                refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=self.to)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{self.settings.name}: SMTP {self.host}:{self.port}: {exc}") from exc
        if refused:
            # Partly accepted (all refused raises above): a retry would duplicate the mail
            # for those who got it, so log it and count the delivery as done.
            log.warning("%s: recipients refused: %s", self.settings.name, ", ".join(refused))

    def _connect(self) -> smtplib.SMTP:
        ctx = ssl.create_default_context()
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ctx)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            try:
                # No silent downgrade: a server without STARTTLS is an error, not plain text.
                smtp.starttls(context=ctx)
            except BaseException:
                smtp.close()
                raise
        return smtp
