#!/usr/bin/env bash
# System packages the test suite needs beyond pip: Debian's chromium (headless rendering of
# the HTML digest; the web UI's Playwright tests, tests/test_web_browser.py, drive the same
# system browser with executable_path=/usr/bin/chromium: Playwright never downloads one).
# Idempotent: installs only what is missing. Extend the PACKAGES list, do not fork the script.
set -euo pipefail
PACKAGES=(chromium)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
