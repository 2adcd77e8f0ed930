"""monitor: a self-hosted news monitoring and alerting daemon.

Feeds are polled, articles extracted, matched against YAML watch rules,
de-duplicated into stories and delivered as digests. See docs/architecture.md.
"""

__version__ = "0.1.0"
