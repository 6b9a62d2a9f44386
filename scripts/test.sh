#!/usr/bin/env bash
# The test command: unit tests, then (where present) the workflow's lint and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
python -m pytest -q "$@"
