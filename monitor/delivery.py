"""Stand-in until delivery lands."""


async def run_digests(store, config, now=None, *, force=False, channels=None, immediate_only=False) -> dict:
    return {}
