#!/usr/bin/env bash
# Runs every suite. Fast unit tests first (they fail fast), then the slow
# suites (real daemons, drivers, docker CLI) in parallel on both cores: each
# test's daemon has its own socket, data root and mounts, so they don't meet.
# pytest exits 5 when it collected nothing: that is a broken run, not a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

run() {
  "$PY" -m pytest "$@"
  rc=$?
  if [ "$rc" -eq 5 ]; then echo "tests/run.sh: pytest collected no tests in: $*" >&2; exit 1; fi
  [ "$rc" -eq 0 ] || exit "$rc"
}

# The house rules first: import contracts (no package cycle, routes only run
# jobs, plugins import only the driver contracts), ruff, and mypy on the typed core.
bash tests/lint.sh || exit 1
run -q -p no:cacheprovider tests/unit
run -q -p no:cacheprovider -n 2 --dist loadfile plugins tests/example_driver tests/integration tests/compat tests/security \
  tests/differential tests/chaos
# The image paths once more through a daemon on overlay (the driver users get
# here by default); the fixture's default is vfs, which needs no mounts.
BARGE_TEST_DRIVER=overlay run -q -p no:cacheprovider -n 2 tests/integration/test_images_api.py \
  tests/integration/test_images_bad_input.py tests/integration/test_images_docker_cli.py tests/compat
