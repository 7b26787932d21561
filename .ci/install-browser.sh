#!/usr/bin/env bash
# Debian's headless Chromium for tests/dashboard/test_browser.py (Playwright drives /usr/bin/chromium;
# no `playwright install`). Needs root (or passwordless sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
command -v chromium >/dev/null 2>&1 && exit 0
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium chromium-driver
