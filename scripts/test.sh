#!/usr/bin/env bash
# Set up (first run only) and run every check: ruff, the import layers, then the whole pytest suite
# (real-data tests use ../shared/data when present; browser tests need Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
# Debian's chromium + a CJK font for the real-browser test (no-op when present).
bash .ci/install-browser.sh || echo "note: could not install chromium; browser tests will be skipped"
.venv/bin/ruff check .
# One-way layers (.importlinter, docs/architecture.md): an upward import fails here.
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest -q "$@"
