"""Stand-in until the rule language lands."""


class RuleWatcher:
    def __init__(self, path):
        self.path, self.current, self.errors = path, None, []

    def refresh(self) -> bool:
        return False


class _Empty:
    rules = ()


def load_rules(path):
    return _Empty()
