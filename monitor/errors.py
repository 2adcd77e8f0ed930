"""The exception tree of monitor, in one place.

    MonitorError                 base of everything monitor raises on purpose
    ├── ConfigError              config/monitor.yaml is invalid (messages carry file:line)
    ├── RuleError                the rule set is invalid (messages are FILE:LINE:COL: message)
    ├── FetchError               a network fetch failed (timeout, refused, too large, blocked)
    │   ├── BlockedAddress       the URL resolves to a non-public address that is not allowed
    │   └── TooLarge             the body exceeded the configured cap (also after decompression)
    ├── FeedParseError           bytes that are not a feed any lenient parser can read
    ├── StateError               the state database cannot be opened or written (names the file)
    └── DeliveryError            a channel failed to deliver (retried from the outbox)

"Not modified" and "no match" are values, not exceptions.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class for errors monitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is invalid; `messages` lists every problem as `file:line: message`."""

    def __init__(self, messages: list[str] | str):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


class RuleError(MonitorError):
    """The rule set is invalid; `messages` lists every problem as `FILE:LINE:COL: message`."""

    def __init__(self, messages: list[str] | str):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


class FetchError(MonitorError):
    """A network fetch failed."""


class BlockedAddress(FetchError):
    """The URL points at a non-public address that the config does not allow."""


class TooLarge(FetchError):
    """The response body exceeded the size cap."""


class FeedParseError(MonitorError):
    """The bytes are not a feed, even for a lenient parser."""


class StateError(MonitorError):
    """The state database is damaged, not a database, read-only or unreachable; the message names it."""


class DeliveryError(MonitorError):
    """A channel could not deliver; the outbox keeps the item and retries.

    `retry_after` (seconds) is set when the service said how long to wait (HTTP 429/503
    `Retry-After`); the outbox then waits at least that long before the next attempt.
    """

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after
