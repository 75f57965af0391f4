#!/usr/bin/env bash
# README command 2: install, start the services the tests use, run the whole test suite.
# .ci/run runs exactly this command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/services.sh
status=0
.venv/bin/pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test: pytest collected no tests: that is a failure, not a pass" >&2
fi
exit "$status"
