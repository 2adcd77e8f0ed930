"""Shared fixtures: a real SMTP server (aiosmtpd) and a real webhook receiver, both on 127.0.0.1.

Also `delivery_env`: a config, a store and a helper that queues matched articles in the outbox
the way the poll cycle does (Store.save_feed_items). Nothing here reaches the internet.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.config import settings as config_mod
from monitor.models import Article, Hit, Match
from monitor.store.open import open_store
from tests.farm import Farm
from tests.pgstate import BACKENDS, PgSchema, StateTarget
from tests.receivers import WebhookReceiver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Mailbox:
    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


@dataclass
class SmtpServer:
    """An aiosmtpd server that can be stopped and restarted on the same port (outage drills)."""

    port: int
    mailbox: _Mailbox = field(default_factory=_Mailbox)
    users: dict[str, str] = field(default_factory=dict)
    controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.mailbox.messages

    def _auth(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and self.users.get(auth_data.login.decode()) == auth_data.password.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port,
                                     authenticator=self._auth, auth_require_tls=False)
        self.controller.start()

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL schema of this test's own (dropped afterwards): its URL for state.url."""
    schema = PgSchema()
    yield schema.url
    schema.drop()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def state_target(backend, tmp_path):
    """The test's state on each backend in turn: a SQLite file, or a PostgreSQL schema of its own."""
    if backend == "sqlite":
        yield StateTarget("sqlite", tmp_path / "m.db")
        return
    schema = PgSchema()
    yield StateTarget("postgresql", tmp_path / "m.db", schema.url)
    schema.drop()


@pytest.fixture
def smtp_server():
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook_receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@dataclass(frozen=True)
class _Feed:
    url: str
    name: str = "Feed"
    tags: tuple = ()
    interval_minutes: int | None = None
    full_text: bool = True


class DeliveryEnv:
    """A config parsed from YAML, a store, and `add` to queue matched articles in the outbox."""

    FEED = "https://news.example/feed.xml"

    def __init__(self, tmp_path, channels_yaml: str, digest_yaml: str = "", state: StateTarget | None = None):
        state = state or StateTarget("sqlite", tmp_path / "state" / "m.db")
        text = state.yaml(digests_dir=f"{tmp_path}/digests") if state.url else \
            f"state:\n  path: {tmp_path}/state/m.db\n  digests_dir: {tmp_path}/digests\n"
        text += f"digest:\n  timezone: Europe/Tallinn\n{digest_yaml}"
        text += f"channels:\n{channels_yaml}"
        self.yaml = text
        self.config = config_mod.parse(text, "test.yaml", tmp_path)
        self.store = open_store(self.config)
        self.store.sync_feeds([_Feed(self.FEED)])
        self.n = 0

    def add(self, title: str, rule: str = "kallas", priority: str = "normal", term: str | None = None,
            text: str = "", source: str = "ERR", channels: tuple[str, ...] = (), story_id: int | None = None,
            text_source: str = "page", published: datetime | None = None) -> int:
        self.n += 1
        term = term or rule
        text = text or f"Lorem ipsum dolor. {title} and more about {term} in the body text."
        hits = []
        for fld, value in (("title", title), ("text", text)):
            i = value.lower().find(term.lower())
            if i >= 0:
                hits.append(Hit(fld, i, i + len(term), value[i:i + len(term)]))
        art = Article(url=f"https://news.example/a/{self.n}", feed_url=self.FEED, guid=str(self.n),
                      title=title, text=text, source=source, text_source=text_source,
                      published=published or datetime(2026, 3, 2, 9, self.n % 60, tzinfo=UTC))
        match = Match(rule=rule, priority=priority, title=rule.title(), channels=channels, hits=tuple(hits))
        [art_id] = self.store.save_feed_items(self.FEED, [], [(art, [match], self.config.default_channels)], {})
        if story_id is not None:
            self.store.db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [story_id, art_id])
        return art_id


@pytest.fixture
def delivery_env(tmp_path, state_target):
    """On both backends in turn (SQLite file, PostgreSQL schema): the delivery path is the store's."""
    envs = []

    def make(channels_yaml: str, digest_yaml: str = "") -> DeliveryEnv:
        env = DeliveryEnv(tmp_path, channels_yaml, digest_yaml, state_target)
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.store.close()


@pytest.fixture(scope="session")
def farm_articles():
    """The feed farm's published articles (tests/test_delivery_limits.py makes them worst-case long)."""
    with Farm("--feeds", "40", "--items", "15", "--seed", "14") as farm:
        arts = farm.truth()["articles"]
    assert len(arts) >= 500, "the farm published too few articles for the 500-item digest"
    return arts
