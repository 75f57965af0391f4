"""Alerts to the data engineers: quality failures (de-duplicated per check and period)
and task failures (an Airflow 3 notifier on every DAG)."""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc import config
from tthc.delivery.mail import build_message, post_webhook, send
from tthc.orchestration.connections import SmtpEndpoint
from tthc.quality.gate import GateResult, report_html
from tthc.warehouse import schema as wh

log = logging.getLogger(__name__)


def quality_alert_keys(result: GateResult) -> dict[str, object]:
    """One key per failed check (warning or critical) and period: a rerun does not storm."""
    return {f"quality/{o.name}/{result.period}": o for o in result.failed if o.severity != "info"}


def alert_quality(warehouse: Engine, result: GateResult, smtp: SmtpEndpoint | None) -> list[str]:
    """Mail (and webhook) the engineers about failed checks not yet alerted for this period.

    Returns the checks alerted now. The ledger row is written only after the mail went out,
    so a failed send is retried by the next run rather than lost.
    """
    keys = quality_alert_keys(result)
    with warehouse.connect() as conn:
        done = set(conn.execute(sa.select(wh.alert_ledger.c.alert_key)
                                .where(wh.alert_ledger.c.alert_key.in_(list(keys)))).scalars())
    fresh = {k: o for k, o in keys.items() if k not in done}
    if not fresh:
        return []
    rec = config.recipients()
    lines = [f"Quality gate {result.run_key}: status {result.status.upper()}", ""]
    for o in fresh.values():
        lines.append(f"- [{o.severity}] {o.name} on {o.table}: {o.unexpected_count} row(s) — {o.description}")
        if o.sample_ids:
            lines.append(f"  sample ids: {', '.join(o.sample_ids)}")
    lines += ["", "Rows caught are in the warehouse table quality_quarantine; the dossiers removed from",
              "the indicator populations are in quality_excluded_dossiers. Runbook: docs/runbook.md."]
    subject = f"[tthc-scorecards] {result.status.upper()}: {len(fresh)} quality check(s) failed, {result.period}"
    channels = []
    if smtp is not None:
        send(smtp, build_message(rec.sender, rec.data_engineers, subject, "\n".join(lines),
                                 html=report_html(result)))
        channels.append("email")
    if rec.alert_webhook_url:
        post_webhook(rec.alert_webhook_url, {"text": subject, "checks": [o.name for o in fresh.values()],
                                             "period": result.period, "status": result.status})
        channels.append("webhook")
    now = dt.datetime.now()
    with warehouse.begin() as conn:
        conn.execute(sa.insert(wh.alert_ledger),
                     [{"alert_key": k, "sent_at": now, "channel": "+".join(channels)} for k in fresh])
    return [o.name for o in fresh.values()]


def alert_engineers_once(warehouse: Engine, smtp: SmtpEndpoint | None, key: str, subject: str,
                         text: str) -> list[str]:
    """Mail (and webhook) the engineers about `key` unless it was alerted before.

    For alerts about a failing mail server, a channel that fails is logged, not raised; the
    ledger row is written only when some channel carried the alert, so the next run tries
    again. Returns the channels that carried it.
    """
    with warehouse.connect() as conn:
        if conn.execute(sa.select(wh.alert_ledger.c.alert_key).where(wh.alert_ledger.c.alert_key == key)).first():
            return []
    rec = config.recipients()
    channels = []
    if smtp is not None:
        try:
            send(smtp, build_message(rec.sender, rec.data_engineers, subject, text))
            channels.append("email")
        except OSError as exc:
            log.error("alert %s not mailed to the engineers: %s", key, type(exc).__name__)
    if rec.alert_webhook_url:
        try:
            post_webhook(rec.alert_webhook_url, {"text": subject, "key": key})
            channels.append("webhook")
        except OSError as exc:  # urllib's errors are OSErrors
            log.error("alert %s not posted to the webhook: %s", key, type(exc).__name__)
    if channels:
        with warehouse.begin() as conn:
            conn.execute(sa.insert(wh.alert_ledger).values(alert_key=key, sent_at=dt.datetime.now(),
                                                           channel="+".join(channels)))
    return channels
