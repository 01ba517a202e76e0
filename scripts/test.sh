#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, then runs the linters and the test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k search`).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[dev]'

ruff check .
mypy
python3 -m pytest "$@"
