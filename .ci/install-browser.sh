#!/usr/bin/env bash
# Debian's headless Chromium for tests/dashboard/test_browser.py (Playwright drives /usr/bin/chromium;
# no `playwright install`), plus a CJK font so station and district names render in screenshots.
# Needs root (or passwordless sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
if command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; then
  exit 0
fi
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium chromium-driver fonts-wqy-microhei
