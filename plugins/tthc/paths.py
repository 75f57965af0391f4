"""Where the project's non-Python assets live (SQL, templates, config)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = REPO_ROOT / "include" / "sql"
TEMPLATE_DIR = REPO_ROOT / "include" / "templates"


def config_dir() -> Path:
    """The province's config folder; TTHC_CONFIG_DIR points elsewhere (tests, other provinces)."""
    return Path(os.environ.get("TTHC_CONFIG_DIR", REPO_ROOT / "config"))
