"""The steps the DAGs wire together. Each acts on its run's period and start, never on "now".

The DAG files make tasks of these functions as they are (`task(pipeline.extract_source)`), so
inputs are plain values that pass through XCom — period codes, and instants as naive local ISO
text (datetimes are accepted too, for callers outside Airflow); outputs are small summaries.
Connections are resolved here, not in the DAG files.
"""

from __future__ import annotations

import datetime as dt
import logging

from tthc import config
from tthc.extract import national, provincial
from tthc.orchestration import connections
from tthc.orchestration.runtime import instant
from tthc.periods import Period
from tthc.quality.gate import run_gate
from tthc.warehouse.db import engine_for_url, source_engine

log = logging.getLogger(__name__)
Instant = str | dt.datetime  # naive local time; ISO text when it comes through XCom


def warehouse_engine():
    return engine_for_url(connections.database_url(connections.WAREHOUSE))


def preflight() -> dict:
    """Fail the run in seconds when something it needs is wrong (orchestration.preflight), then
    send the alerts earlier runs could not. A mail server that does not answer only warns here:
    the month is built all the same, and the tasks that mail cope with it."""
    from tthc.delivery.alerts import send_pending_alerts
    from tthc.orchestration.preflight import run_preflight

    report = run_preflight(mail_required=False)
    report.raise_for_problems()
    for warning in report.warnings:
        log.warning("preflight: %s", warning)
    return {**report.as_dict(), "pending_alerts": send_pending_alerts(warehouse_engine())}


def extract_source(run_key: str, upper_bound: Instant, reread_from: Instant | None = None) -> dict:
    """Incremental load of the replica's tables; the watermark advances to `upper_bound`."""
    limits = config.thresholds()
    source = source_engine(connections.database_url(connections.SOURCE))
    loads = provincial.extract_all(source, warehouse_engine(), run_key, instant(upper_bound),
                                   dt.timedelta(minutes=limits.watermark_overlap_minutes), instant(reread_from))
    return {load.stream: load.rows for load in loads}


def extract_national(run_key: str, pass_started: Instant, reread_from: Instant | None = None) -> dict:
    """One pass over every national feed; each feed commits only when it was read whole."""
    limits = config.thresholds()
    endpoint = connections.national_endpoint()
    client = national.NationalClient(endpoint.base_url, endpoint.token, timeout=limits.http_timeout_seconds,
                                     max_retries=limits.http_max_retries)
    engine = warehouse_engine()
    from tthc.warehouse.schema import create_all

    create_all(engine)
    margin = dt.timedelta(minutes=limits.national_safety_margin_minutes)
    out = {}
    for feed in national.feeds(config.province().code):
        load = national.load_feed(client, engine, feed, run_key, instant(pass_started), margin, instant(reread_from))
        out[load.stream] = {"items": load.items, "staged": load.staged, "unreadable": len(load.unreadable)}
    return out


def quality_gate(dag_id: str, period: str, run_started_at: Instant) -> dict:
    """Validate, quarantine, exclude; alert the engineers of new failures. Returns the status.

    The gate's outcome is stored before any alert is tried, and an alert no channel carries
    is kept pending (tthc.delivery.alerts): a missing or failing channel changes nothing else.
    """
    from tthc.delivery.alerts import alert_quality, alerted_checks

    engine = warehouse_engine()
    result = run_gate(engine, connections.database_url(connections.WAREHOUSE), dag_id, period,
                      instant(run_started_at))
    alert = alert_quality(engine, result) if result.failed else None
    return {"status": result.status, "failed": [o.name for o in result.failed], "alerted": alerted_checks(alert),
            "alert": alert.as_dict() if alert else None, "excluded_dossiers": result.excluded_dossiers}


def early_warning(cut_off: Instant, send: bool) -> dict:
    """The night's early warning (tthc.insights.early_warning) as of the run's cut-off.

    Only runs that send (scheduled nights, or `send: true`) mail anyone; the others — backfills
    of past nights, manual and demo runs — count what would be announced and record nothing,
    so no unit is ever mailed about a past night and nothing is marked announced unsent. A mail
    that cannot go out does not fail the night: its items stay unannounced for the next night,
    the engineers are alerted (once per night, by every channel that works, or kept pending)
    and the task's summary says what was not sent.
    """
    from tthc.delivery.alerts import alert_engineers
    from tthc.insights import early_warning as ew

    engine, cut_off = warehouse_engine(), instant(cut_off)
    if not send:
        items = ew.select_warnings(engine, cut_off)
        log.info("early warning %s: not sending (a backfill or manual run); %d item(s) due, none announced",
                 cut_off.isoformat(), len(items))
        return {"status": "not_requested", "cut_off": cut_off.isoformat(), "candidates": len(items)}
    run = ew.send_warnings(engine, cut_off, connections.required_smtp())
    out = {"status": "ok", **run.as_dict()}
    if run.undelivered:
        alert = ew.undelivered_alert(run)
        log.warning("%s; the items stay unannounced for the next night", alert.subject)
        out |= {"status": "undelivered", "alert": alert_engineers(engine, alert).as_dict()}
    return out


def compute_indicators(period: str, run_started_at: Instant) -> dict:
    from tthc.indicators.engine import compute_period

    Period(period)  # validates the code before any work
    return compute_period(warehouse_engine(), period, instant(run_started_at))


def backtest_forecast(period: str, run_started_at: Instant) -> dict:
    """The month-end forecast replayed on this province's own closed months (insights.forecast)."""
    from tthc.insights.forecast import backtest_closed_months

    return backtest_closed_months(warehouse_engine(), Period(period).code, instant(run_started_at))


def _build_id(run_id: str) -> str:
    import hashlib

    return hashlib.sha1(run_id.encode()).hexdigest()[:10]


def start_month_folder(period: str, cut_off: Instant, dag_run_id: str) -> str:
    from tthc.reports.month_folder import start_month_folder as start

    return str(start(warehouse_engine(), period, connections.output_dir(), instant(cut_off), _build_id(dag_run_id)))


def plan_scorecards(period: str) -> list[list[str]]:
    from tthc.reports.month_folder import scorecard_units, unit_batches

    return unit_batches(scorecard_units(warehouse_engine(), period), config.thresholds().scorecards_per_render_task)


def render_scorecards(period: str, cut_off: Instant, staging: str, units: list[str]) -> int:
    from pathlib import Path

    from tthc.reports.month_folder import render_scorecards as render

    done = render(warehouse_engine(), period, Path(staging), instant(cut_off), units,
                  workers=config.thresholds().render_processes_per_task)
    return len(done)


def finish_month_folder(period: str, cut_off: Instant, staging: str) -> dict:
    from pathlib import Path

    from tthc.reports.month_folder import finish_month_folder as finish

    folder = finish(warehouse_engine(), period, Path(staging), instant(cut_off))
    return {"folder": str(folder), "scorecards": len(list((folder / "scorecards").glob("*.pdf")))}


def deliver(period: str, send: bool, resend: bool) -> dict:
    from tthc.delivery.office import deliver_month

    smtp = connections.required_smtp() if send else None
    return deliver_month(warehouse_engine(), connections.output_dir() / period, period, smtp, send, resend)
