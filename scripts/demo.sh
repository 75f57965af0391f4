#!/usr/bin/env bash
# README command 1: install, then run the main job on the embedded default (SQLite files under
# var/embedded, a generated province, the national mock on loopback) through Airflow's
# dag.test(), and print where the PDFs are. No PostgreSQL needed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/tthc-scorecards demo "$@"
