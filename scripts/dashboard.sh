#!/usr/bin/env bash
# Set up (first run only) and start the AirAtlas dashboard on http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh runtime
# PYTHONPATH: a deep link (e.g. /justice) on a fresh server may run a page before app.py.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/streamlit run dashboard/app.py --server.headless true --browser.gatherUsageStats false "$@"
