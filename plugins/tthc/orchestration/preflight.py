"""The preflight: everything a run needs, checked in seconds before any extraction.

Each check says what is wrong and how to fix it, one message per problem (docs/runbook.md,
"Preflight messages"). A problem the run cannot go on with fails it; a check the run does not
need (the mail server of a run that sends nothing) only warns. Run as the first task of both
DAGs, by every `tthc-scorecards` command that runs them, and by `tthc-scorecards check`.
"""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from tthc import config
from tthc.orchestration import connections

TIMEOUT_SECONDS = 5.0  # per network check: a healthy service answers in milliseconds


class PreflightFailed(RuntimeError):
    """The run cannot start; the message lists every problem found."""


@dataclass
class PreflightReport:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"problems": self.problems, "warnings": self.warnings, "passed": self.passed}

    def raise_for_problems(self) -> None:
        if self.problems:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            raise PreflightFailed(f"preflight: {len(self.problems)} problem(s), nothing was run:\n{lines}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _connection(conn_id: str, env: str, example: str):
    """The Airflow connection, or the message saying how to define it."""
    try:
        return connections.get_connection(conn_id), None
    except Exception as exc:  # noqa: BLE001 - AirflowNotFoundException, a malformed URI: all are the message
        return None, (f"connection '{conn_id}' is not usable ({_first_line(exc)}): set {env} "
                      f"(e.g. {example}) or define it in Airflow")


def check_config() -> list[str]:
    """Every config file the pipeline reads validates."""
    from tthc.calendar import load_calendar
    from tthc.indicators.catalogue import load_catalogue

    loaders: list[Callable[[], object]] = [config.province, config.thresholds, config.bands, config.recipients,
                                           config.forecast, load_calendar, load_catalogue]
    problems = []
    for load in loaders:
        try:
            load()
        except config.ConfigError as exc:
            problems.append(f"config: {exc} — correct the file (docs/runbook.md, 'Configuration')")
    return problems


def check_replica(url: str) -> list[str]:
    """The replica opens read-only and has every table and column of the contract (sources.md §1)."""
    from tthc.extract.contract import SOURCE_COLUMNS
    from tthc.warehouse.db import SourceMissing, source_engine

    try:
        engine = source_engine(url)
        inspector = sa.inspect(engine)
        tables = set(inspector.get_table_names())
    except SourceMissing as exc:
        return [str(exc)]
    except Exception as exc:  # noqa: BLE001 - any driver error is the message
        return [f"connection '{connections.SOURCE}': cannot read the replica ({_first_line(exc)}): check host, "
                "database and credentials of AIRFLOW_CONN_TTHC_SOURCE"]
    problems = []
    for table, columns in SOURCE_COLUMNS.items():
        if table not in tables:
            problems.append(f"replica ({connections.SOURCE}): table '{table}' is missing (sources.md §1): "
                            "point the connection at the TTHC replica, or ask its owners to restore the table")
            continue
        have = {c["name"] for c in inspector.get_columns(table)}
        missing = [c for c, _ in columns if c not in have]
        if missing:
            problems.append(f"replica ({connections.SOURCE}): table '{table}' lacks column(s) "
                            f"{', '.join(missing)} (sources.md §1): the replica does not follow the contract")
    return problems


def check_national(province_code: str) -> list[str]:
    """The national services answer and accept the token (one item of the first feed)."""
    from tthc.extract import national

    try:
        endpoint = connections.national_endpoint()
    except Exception as exc:  # noqa: BLE001
        return [f"connection '{connections.NATIONAL}' is not usable ({_first_line(exc)}): set "
                "AIRFLOW_CONN_NATIONAL_PORTAL (e.g. https://:TOKEN@dichvucong.example)"]
    # A few quick retries: the service is flaky by nature (503/429), a wrong token is not.
    client = national.NationalClient(endpoint.base_url, endpoint.token, timeout=TIMEOUT_SECONDS, max_retries=2,
                                     max_retry_after=TIMEOUT_SECONDS)
    feed = national.feeds(province_code)[0]
    try:
        client.get_page(feed.path, {**feed.params, "page": 1, "page_size": 1})
    except national.NationalUnavailable as exc:
        return [f"{exc} (at {endpoint.base_url})"]
    return []


def check_warehouse(url: str) -> list[str]:
    """The warehouse opens, has (or gets) its tables, and takes a write (rolled back)."""
    from tthc.warehouse import schema as wh
    from tthc.warehouse.db import engine_for_url

    try:
        engine = engine_for_url(url)
        wh.create_all(engine)
        with engine.connect() as conn, conn.begin() as tx:
            conn.execute(sa.insert(wh.alert_ledger).values(alert_key=f"preflight/{uuid.uuid4().hex}"))
            tx.rollback()
    except Exception as exc:  # noqa: BLE001 - read-only file, no server, no rights: all are the message
        return [f"connection '{connections.WAREHOUSE}': the warehouse is not writable ({_first_line(exc)}): "
                "check AIRFLOW_CONN_WAREHOUSE and that its user may create tables and write"]
    return []


def check_output() -> list[str]:
    """The output location exists or can be made, and takes a file (removed at once)."""
    try:
        root = connections.output_dir()
    except Exception as exc:  # noqa: BLE001 - the Variable is not set
        return [f"Variable '{connections.OUTPUT_DIR_VARIABLE}' is not usable ({_first_line(exc)}): set "
                "AIRFLOW_VAR_SCORECARD_OUTPUT_DIR to the folder the months are written to"]
    probe = root / f".preflight-{uuid.uuid4().hex[:8]}.tmp"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except Exception as exc:  # noqa: BLE001 - permissions, a read-only disk, a file in the way
        return [f"output location {root} is not writable ({_first_line(exc)}): fix its permissions or point "
                f"Variable '{connections.OUTPUT_DIR_VARIABLE}' elsewhere"]
    return []


def check_smtp() -> list[str]:
    """smtp_default is defined and its server answers (no mail is sent)."""
    conn, problem = _connection(connections.SMTP, "AIRFLOW_CONN_SMTP_DEFAULT", "smtp://relay.example:25")
    if problem:
        return [problem]
    endpoint = connections.smtp_endpoint()
    try:
        with smtplib.SMTP(endpoint.host, endpoint.port, timeout=TIMEOUT_SECONDS) as smtp:
            smtp.noop()
    except OSError as exc:
        return [f"mail server {endpoint.host}:{endpoint.port} of connection '{connections.SMTP}' does not answer "
                f"({_first_line(exc)}): start it or correct AIRFLOW_CONN_SMTP_DEFAULT"]
    return []


def run_preflight(mail_required: bool) -> PreflightReport:
    """Every check; the mail server is a problem only when the caller must send now.

    The operator's `--send` must send now, so a dead mail server fails it in seconds. The DAGs'
    own preflight only warns: the month is still built, and the tasks that mail handle a server
    that does not answer (early warnings kept for the next night, delivery failing with the
    connection's name and retried by Airflow, alerts kept pending).
    """
    report = PreflightReport()

    def record(name: str, problems: list[str], fatal: bool = True) -> None:
        (report.problems if fatal else report.warnings).extend(problems)
        if not problems:
            report.passed.append(name)

    record("config", check_config())
    source, problem = _connection(connections.SOURCE, "AIRFLOW_CONN_TTHC_SOURCE",
                                  "postgresql://reader@replica.example/tthc")
    record("replica", [problem] if problem else check_replica(connections.sqlalchemy_url(source)))
    try:
        province_code = config.province().code
    except config.ConfigError:
        province_code = None  # already reported by check_config
    if province_code:
        record("national_portal", check_national(province_code))
    warehouse, problem = _connection(connections.WAREHOUSE, "AIRFLOW_CONN_WAREHOUSE",
                                     "postgresql://tthc@db.example/warehouse")
    record("warehouse", [problem] if problem else check_warehouse(connections.sqlalchemy_url(warehouse)))
    record("output", check_output())
    smtp = check_smtp()
    if not mail_required:
        smtp = [f"{p} (the run goes on: mails that cannot go out are kept or retried, alerts wait)" for p in smtp]
    record("smtp", smtp, fatal=mail_required)
    return report
