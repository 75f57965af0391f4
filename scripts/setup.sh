#!/usr/bin/env bash
# Installs everything the project needs, idempotently: system packages (Debian), a Python 3.11
# virtualenv in .venv with the locked dependencies (requirements.lock, hash-checked), and the
# project itself (editable, so `tthc-scorecards` is on .venv/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pango: WeasyPrint's layout engine. fonts-liberation2: Liberation Serif 2.x, metric-compatible
# with Times New Roman and, unlike 1.07 (fonts-liberation), with Vietnamese glyphs.
# libharfbuzz-subset0: fast font subsetting when fonts are embedded. poppler-utils: pdftoppm.
# chromium, chromium-driver: Debian's browser for the UI's browser test (Playwright drives
# /usr/bin/chromium; no browser is ever downloaded), and its WebDriver for Selenium users.
SYSTEM_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation2 fontconfig poppler-utils
                 chromium chromium-driver)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fc-cache -f >/dev/null 2>&1 || true
fi

PYTHON=${PYTHON:-$(command -v python3.11 || true)}
if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
  echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# uv, pinned, installs the lock in seconds; the lock pins every package with its hashes.
.venv/bin/python -m pip install -q --disable-pip-version-check "uv==0.13.8"
.venv/bin/uv pip install -q --python .venv/bin/python --require-hashes -r requirements.lock
.venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .
# Bytecode now, once: with PYTHONDONTWRITEBYTECODE set (as on these machines) every process —
# each Airflow task among them — would otherwise compile what it imports again (Great
# Expectations alone: 8.7 s to import instead of 3.4 s). Unchanged files are skipped.
.venv/bin/python -m compileall -q -j 0 .venv/lib/python3.11/site-packages plugins >/dev/null \
  || echo "setup: some files did not compile to bytecode; they compile when imported"
echo "setup: ready ($(.venv/bin/python --version), $(.venv/bin/airflow version 2>/dev/null | tail -n1) Airflow)"
