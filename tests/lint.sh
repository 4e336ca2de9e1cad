#!/usr/bin/env bash
# The house rules (pyproject.toml holds each tool's settings):
#   lint-imports  package layers: no cycle between barge's packages, the CLI
#                 never imports the server, API routes only reach job
#                 contracts, plugins only the driver contracts and helpers;
#   ruff          pyflakes, bugbear, isort, blind excepts;
#   mypy          the engine, the driver contracts and the job contracts.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
status=0
"$BIN/lint-imports" --no-cache || status=1
"$BIN/ruff" check --no-cache core plugins tests bench || status=1
"$BIN/mypy" --no-incremental || status=1
exit $status
