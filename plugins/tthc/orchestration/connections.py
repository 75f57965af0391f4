"""Sources and sinks are Airflow connections (outputs.md "Configuration").

| id | what |
|---|---|
| tthc_source | the provincial replica, any SQLAlchemy URL |
| national_portal | the national services; the bearer token is the password |
| warehouse | our own tables, SQLite or PostgreSQL |
| smtp_default | the mail server |

The output folder is the Variable `scorecard_output_dir`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

SOURCE, NATIONAL, WAREHOUSE, SMTP = "tthc_source", "national_portal", "warehouse", "smtp_default"
OUTPUT_DIR_VARIABLE = "scorecard_output_dir"

_DRIVERS = {"postgres": "postgresql+psycopg2", "postgresql": "postgresql+psycopg2"}


def sqlalchemy_url(conn) -> str:
    """The SQLAlchemy URL an Airflow connection stands for (an `sqlalchemy_url` extra wins)."""
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return extra["sqlalchemy_url"]
    if conn.conn_type == "sqlite":
        return f"sqlite:///{conn.schema or conn.host}"
    return sa.URL.create(
        drivername=_DRIVERS.get(conn.conn_type, conn.conn_type),
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port,
        database=conn.schema or None,
    ).render_as_string(hide_password=False)


def get_connection(conn_id: str):
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def database_url(conn_id: str) -> str:
    return sqlalchemy_url(get_connection(conn_id))


@dataclass(frozen=True)
class HttpEndpoint:
    base_url: str
    token: str


def national_endpoint() -> HttpEndpoint:
    conn = get_connection(NATIONAL)
    scheme = conn.conn_type if conn.conn_type in ("http", "https") else "http"
    port = f":{conn.port}" if conn.port else ""
    return HttpEndpoint(f"{scheme}://{conn.host}{port}", conn.password or "")


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int
    login: str | None
    password: str | None
    starttls: bool


def smtp_endpoint() -> SmtpEndpoint:
    conn = get_connection(SMTP)
    extra = conn.extra_dejson or {}
    return SmtpEndpoint(conn.host or "127.0.0.1", int(conn.port or 25), conn.login or None,
                        conn.password or None, bool(extra.get("starttls", False)))


class ConnectionMissing(RuntimeError):
    """A connection the run needs is not defined; the message names it and how to set it."""


def required_smtp() -> SmtpEndpoint:
    """smtp_default for a run that must send: a missing connection is an error naming it."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return smtp_endpoint()
    except AirflowNotFoundException:
        raise ConnectionMissing(f"sending was asked for but connection '{SMTP}' is not defined: set "
                                "AIRFLOW_CONN_SMTP_DEFAULT (e.g. smtp://relay.example:25)") from None


def output_dir() -> Path:
    from airflow.sdk import Variable

    return Path(Variable.get(OUTPUT_DIR_VARIABLE))
