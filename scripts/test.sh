#!/usr/bin/env bash
# Set up (first run only) and run every check: ruff, then the whole pytest suite
# (real-data tests use ../shared/data when present; browser tests need Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
if ! command -v chromium >/dev/null 2>&1; then
  bash scripts/install-browser.sh || echo "note: chromium not installed; browser tests will be skipped"
fi
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q "$@"
