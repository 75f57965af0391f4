"""The embedded default: everything on SQLite under one folder, no server to install.

Only what the operator has not set is filled in, so the same commands run against real
connections (AIRFLOW_CONN_*, AIRFLOW_VAR_*) when those are in the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tthc.paths import REPO_ROOT

DEMO_TOKEN = "demo-national-token"  # the local mock's token: not a secret, never used elsewhere


@dataclass(frozen=True)
class EmbeddedHome:
    root: Path

    @property
    def source_db(self) -> Path:
        return self.root / "tthc_source.db"

    @property
    def national_db(self) -> Path:
        return self.root / "national.db"

    @property
    def warehouse_db(self) -> Path:
        return self.root / "warehouse.db"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"


def default_home() -> EmbeddedHome:
    return EmbeddedHome(Path(os.environ.get("TTHC_HOME", REPO_ROOT / "var" / "embedded")).resolve())


def airflow_environment(home: EmbeddedHome) -> dict[str, str]:
    """Airflow's own settings for a local, single-process installation."""
    return {
        "AIRFLOW_HOME": str(home.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home.airflow_home / 'airflow.db'}",
        "GX_ANALYTICS_ENABLED": "False",
    }


def connection_environment(home: EmbeddedHome, national_port: int) -> dict[str, str]:
    """The four connections and the output Variable of outputs.md, pointing at the embedded files."""
    return {
        "AIRFLOW_CONN_TTHC_SOURCE": f"sqlite:///{home.source_db}",
        "AIRFLOW_CONN_WAREHOUSE": f"sqlite:///{home.warehouse_db}",
        "AIRFLOW_CONN_NATIONAL_PORTAL": f"http://:{DEMO_TOKEN}@127.0.0.1:{national_port}",
        "AIRFLOW_CONN_SMTP_DEFAULT": "smtp://127.0.0.1:1025",
        "AIRFLOW_VAR_SCORECARD_OUTPUT_DIR": str(home.output_dir),
    }


def apply_defaults(values: dict[str, str]) -> dict[str, str]:
    """Set each variable the environment does not already have; return those it set."""
    applied = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(applied)
    return applied


def uses_embedded_sources() -> bool:
    return "AIRFLOW_CONN_TTHC_SOURCE" not in os.environ and "AIRFLOW_CONN_NATIONAL_PORTAL" not in os.environ
