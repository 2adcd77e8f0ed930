#!/usr/bin/env bash
# The system packages the test suite needs beyond pip: Debian's Chromium, which the browser
# tests (tests/test_web_browser.py) drive through Playwright with executable_path=/usr/bin/chromium
# (Playwright never downloads a browser here). Idempotent: does nothing when all are present.
# Called by `make test`, `make test-slow` and .ci/run.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
echo "install-test-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "install-test-deps: chromium still missing" >&2; exit 1; }
