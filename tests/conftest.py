"""Test-session wiring: an isolated Airflow home (SQLite metadata DB) and shared fixtures.

The environment is set before anything imports Airflow, so every test sees the same
isolated installation, never the developer's own ~/airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="tthc-tests-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "GX_ANALYTICS_ENABLED": "False",
})
sys.path.insert(0, str(Path(__file__).parent))  # test helpers (national_server, builders)

@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database for real DAG runs (once per session)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env=os.environ.copy())
    return _HOME


@pytest.fixture
def pg_database():
    """A fresh, uniquely named PostgreSQL database on 127.0.0.1:5432; dropped afterwards."""
    from airflow_stack import postgres_database

    from tthc.warehouse.db import engine_for_url

    with postgres_database("tthc_test") as url:
        try:
            yield url
        finally:
            engine_for_url(url).dispose()  # the pipeline's cached engine lets go before the drop


class _Inbox:
    """Messages a real SMTP server (aiosmtpd) received, parsed."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        import email
        from email import policy

        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 OK"


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (a mail server that is down)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free loopback port; yields (host, port, inbox)."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port, inbox
    finally:
        controller.stop()
