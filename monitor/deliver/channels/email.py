"""The email channel: multipart text + HTML messages over SMTP, one per part of a digest.

Owns building the MIME message (also used by the file channel's .eml): a subject on one
line, `From` with a display name, `Auto-Submitted: auto-generated` (RFC 3834, so vacation
responders stay quiet), `List-Id` (RFC 2919) and `List-Unsubscribe` (RFC 2369, only when
the channel names a mailto: or https: address), a stable `Message-ID` per part (parts after
the first refer to the first). A digest whose HTML would pass Gmail's clipping point is split
into several messages ("part 2 of 3"). Talks SMTP with STARTTLS, implicit TLS or none in a
worker thread, with `timeout_seconds` as a deadline on the whole exchange (the socket is
shut when it passes). The password comes from the environment variable named by
`password_env`. Must not decide what to send.
"""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import socket
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses

from monitor.config.settings import ChannelSettings, Config, secret
from monitor.deliver.channels import register, send_all
from monitor.deliver.digest import Digest, render_html, render_text
from monitor.deliver.formats import limits
from monitor.deliver.parts import Prepared, part_key, split
from monitor.errors import DeliveryError
from monitor.sanitize import one_line

log = logging.getLogger(__name__)
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def message_id(key: str, sender: str) -> str:
    """Stable per delivery part, so a retried send is recognisably the same message."""
    domain = sender.rpartition("@")[2].strip("> ") or "monitor.localhost"
    return f"<{key}@{domain}>"


def _from_header(sender: str, name: str) -> str:
    (shown, addr), = getaddresses([sender]) or [("", sender)]
    local, _, domain = addr.rpartition("@")
    try:
        return str(Address(display_name=one_line(shown or name), username=local, domain=domain))
    except (ValueError, IndexError):
        return sender


def list_id(channel: str, sender: str) -> str:
    """`List-Id` for a channel: `"monitor: NAME" <NAME.monitor.DOMAIN>` (RFC 2919 wants a dotted id)."""
    domain = sender.rpartition("@")[2].strip("> ") or "localhost"
    label = re.sub(r"[^a-z0-9-]+", "-", channel.lower()).strip("-") or "digest"
    return f"monitor: {one_line(channel)} <{label}.monitor.{domain}>"


def build_message(digest: Digest, delivery_id: str, sender: str = "monitor@localhost",
                  to: list[str] | tuple[str, ...] = (), *, key: str = "", first_key: str = "",
                  options: dict | None = None) -> EmailMessage:
    o = options or {}
    key = key or delivery_id
    msg = EmailMessage()
    msg["Subject"] = one_line(digest.subject)
    msg["From"] = _from_header(sender, str(o.get("from_name") or "monitor"))
    if to:
        msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(digest.created)
    msg["Message-ID"] = message_id(key, sender)
    if first_key and first_key != key:
        msg["In-Reply-To"] = msg["References"] = message_id(first_key, sender)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["List-Id"] = str(o.get("list_id") or list_id(digest.channel, sender))
    unsubscribe = o.get("list_unsubscribe")
    if unsubscribe:
        targets = [unsubscribe] if isinstance(unsubscribe, str) else list(unsubscribe)
        msg["List-Unsubscribe"] = ", ".join(f"<{one_line(str(t))}>" for t in targets)
    msg["X-Monitor-Delivery"] = delivery_id
    # Quoted-printable: readable, and no line over SMTP's 998 octets whatever the publisher wrote.
    msg.set_content(render_text(digest), cte="quoted-printable")
    msg.add_alternative(render_html(digest), subtype="html", cte="quoted-printable")
    return msg


def html_fits(html: str) -> bool:
    """Under the clipping limit as sent: UTF-8, with CRLF line ends."""
    return len(html.encode("utf-8")) + html.count("\n") <= limits.EMAIL_HTML_BYTES


def prepare_messages(digest: Digest, delivery_id: str, sender: str, to: list[str],
                     options: dict | None = None) -> list[tuple[Digest, EmailMessage, str]]:
    """The digest as [(part digest, message, key)], each message's HTML under the clipping limit."""
    pieces = split(digest, render_html, html_fits)
    first = part_key(delivery_id, 1, len(pieces))
    out = []
    for n, (sub, _) in enumerate(pieces, 1):
        key = part_key(delivery_id, n, len(pieces))
        out.append((sub, build_message(sub, delivery_id, sender, to, key=key, first_key=first,
                                       options=options), key))
    return out


def _recipients(value) -> list[str]:
    if isinstance(value, str):
        return [a.strip() for a in value.split(",") if a.strip()]
    return [str(a) for a in value or []]


@register("email")
class EmailChannel:
    def __init__(self, settings: ChannelSettings, config: Config):
        o = settings.options
        self.settings = settings
        self.options = o
        self.host = str(o.get("host", "localhost"))
        self.security = str(o.get("security", "starttls"))
        self.port = int(o.get("port") or DEFAULT_PORTS[self.security])
        self.username = o.get("username")
        self.password_env = o.get("password_env")
        self.sender = str(o.get("from", "monitor@localhost"))
        self.envelope_from = (getaddresses([self.sender]) or [("", self.sender)])[0][1] or self.sender
        self.to = _recipients(o.get("to"))
        self.timeout = float(o.get("timeout_seconds", 30))

    def prepare(self, digest: Digest, delivery_id: str) -> list[Prepared]:
        return [Prepared(sub.outbox_ids, msg.as_bytes(policy=SMTP), key, sub.part_label, len(sub.items))
                for sub, msg, key in prepare_messages(digest, delivery_id, self.sender, self.to, self.options)]

    async def deliver(self, part: Prepared, delivery_id: str) -> None:
        box: dict[str, smtplib.SMTP] = {}
        job = asyncio.ensure_future(asyncio.to_thread(self._send_sync, part.payload, box))
        try:
            await asyncio.wait_for(asyncio.shield(job), self.timeout)
        except TimeoutError:
            smtp = box.get("smtp")
            if smtp is not None and smtp.sock is not None:
                try:
                    smtp.sock.shutdown(socket.SHUT_RDWR)      # ends the thread's blocking read
                except OSError:
                    pass
            try:
                await asyncio.wait_for(job, 5)
            except Exception:  # noqa: BLE001 - the thread's own error is not news now
                pass
            raise DeliveryError(f"{self.settings.name}: SMTP {self.host}:{self.port}: no complete exchange "
                                f"within {self.timeout:g}s") from None

    async def send(self, digest: Digest, delivery_id: str) -> None:
        await send_all(self, digest, delivery_id)

    def _send_sync(self, message: bytes, box: dict) -> None:
        try:
            with self._connect(box) as smtp:
                if self.username:
                    smtp.login(str(self.username), secret(self.password_env) or "")
                refused = smtp.sendmail(self.envelope_from, self.to, message)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{self.settings.name}: SMTP {self.host}:{self.port}: {exc}") from exc
        if refused:
            # Partly accepted (all refused raises above): a retry would duplicate the mail
            # for those who got it, so log it and count the delivery as done.
            log.warning("%s: recipients refused: %s", self.settings.name, ", ".join(refused))

    def _connect(self, box: dict) -> smtplib.SMTP:
        ctx = ssl.create_default_context()
        if self.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ctx)
            box["smtp"] = smtp
            return smtp
        smtp = smtplib.SMTP(timeout=self.timeout)
        box["smtp"] = smtp
        smtp.connect(self.host, self.port)
        if self.security == "starttls":
            try:
                # No silent downgrade: a server without STARTTLS is an error, not plain text.
                smtp.starttls(context=ctx)
            except BaseException:
                smtp.close()
                raise
        return smtp
