"""Alerts to the data engineers, by every channel that works, never blocking the run.

One path for every alert (quality failures, undelivered early warnings, a blocked or uncertain
publication, a failed task): `alert_engineers` tries the mail (`smtp_default`) and the webhook
(recipients.yaml); the alert ledger records what some channel carried, so nothing is alerted
twice. When no channel carries it — no connection, the server down, a broken recipients file —
the alert is kept in `pending_alerts` with the reason, the caller's run goes on as with a working
channel, and the next run that can sends it (`send_pending_alerts`, from every run's preflight).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc import config
from tthc.delivery.mail import build_message, post_webhook, send
from tthc.orchestration import connections
from tthc.quality.gate import GateResult, report_html
from tthc.warehouse import schema as wh

log = logging.getLogger(__name__)
CHANNEL_TIMEOUT_SECONDS = 10.0  # a working channel answers in well under a second; an alert must not hold a run


@dataclass(frozen=True)
class Alert:
    key: str  # the pending row's key
    subject: str
    body: str
    covers: tuple[str, ...] = ()  # alert-ledger keys it stands for (default: its own key)
    html: str | None = None
    webhook_payload: dict | None = None  # default: {"text": subject, "key": key}

    @property
    def ledger_keys(self) -> tuple[str, ...]:
        return self.covers or (self.key,)


@dataclass
class AlertOutcome:
    """What became of an alert: the channels that carried it, or why none did."""

    key: str
    covers: tuple[str, ...] = ()
    channels: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    already_sent: bool = False

    @property
    def pending(self) -> bool:
        return not self.channels and not self.already_sent

    def as_dict(self) -> dict:
        return {"key": self.key, "sent_by": self.channels, "pending": self.pending, "not_sent_because": self.problems}


def _sent_keys(conn, keys: list[str]) -> set[str]:
    return set(conn.execute(sa.select(wh.alert_ledger.c.alert_key).where(wh.alert_ledger.c.alert_key.in_(keys)))
               .scalars())


def handled_keys(warehouse: Engine, keys: list[str]) -> set[str]:
    """The keys among `keys` already alerted, or held pending (they will be: not again)."""
    with warehouse.connect() as conn:
        pending = {k for covers in conn.execute(sa.select(wh.pending_alerts.c.covers)).scalars()
                   for k in json.loads(covers)}
        return _sent_keys(conn, keys) | (pending & set(keys))


def _carry(alert: Alert) -> AlertOutcome:
    """Try every channel; a channel that fails is a reason, never an exception."""
    out = AlertOutcome(alert.key, alert.ledger_keys)
    try:
        rec = config.recipients()
    except config.ConfigError as exc:
        out.problems.append(f"recipients.yaml is invalid: {exc}")
        return out
    try:
        smtp = connections.smtp_endpoint()
    except Exception as exc:  # noqa: BLE001 - AirflowNotFoundException and friends: a reason, not a crash
        out.problems.append(f"connection '{connections.SMTP}' is not usable ({type(exc).__name__}: {exc}); "
                            "set AIRFLOW_CONN_SMTP_DEFAULT")
    else:
        try:
            send(smtp, build_message(rec.sender, rec.data_engineers, alert.subject, alert.body, html=alert.html),
                 timeout=CHANNEL_TIMEOUT_SECONDS)
            out.channels.append("email")
        except OSError as exc:  # smtplib's errors are OSErrors
            out.problems.append(f"mail server {smtp.host}:{smtp.port} ({connections.SMTP}): "
                                f"{type(exc).__name__}: {exc}")
    if rec.alert_webhook_url:
        try:
            post_webhook(rec.alert_webhook_url, alert.webhook_payload or {"text": alert.subject, "key": alert.key},
                         timeout=CHANNEL_TIMEOUT_SECONDS)
            out.channels.append("webhook")
        except OSError as exc:  # urllib's errors are OSErrors
            out.problems.append(f"webhook: {type(exc).__name__}: {exc}")
    return out


def _settle(warehouse: Engine, alert: Alert, outcome: AlertOutcome, now: dt.datetime) -> None:
    p = wh.pending_alerts.c
    with warehouse.begin() as conn:
        held = conn.execute(sa.select(p.first_tried_at, p.attempts).where(p.alert_key == alert.key)).first()
        if outcome.channels:
            conn.execute(sa.delete(wh.pending_alerts).where(p.alert_key == alert.key))
            conn.execute(sa.insert(wh.alert_ledger), [{"alert_key": k, "sent_at": now,
                                                       "channel": "+".join(outcome.channels)}
                                                      for k in alert.ledger_keys])
            return
        values = {"covers": json.dumps(list(alert.ledger_keys)), "subject": alert.subject, "body": alert.body,
                  "html": alert.html, "webhook_payload": json.dumps(alert.webhook_payload, ensure_ascii=False)
                  if alert.webhook_payload else None, "last_tried_at": now,
                  "last_error": "; ".join(outcome.problems) or "no channel is configured"}
        if held:
            conn.execute(sa.update(wh.pending_alerts).where(p.alert_key == alert.key)
                         .values(**values, attempts=held.attempts + 1))
        else:
            conn.execute(sa.insert(wh.pending_alerts).values(alert_key=alert.key, first_tried_at=now, attempts=1,
                                                             **values))


def alert_engineers(warehouse: Engine, alert: Alert) -> AlertOutcome:
    """Send `alert` unless it was sent before; keep it pending when no channel carries it."""
    with warehouse.connect() as conn:
        if _sent_keys(conn, list(alert.ledger_keys)) >= set(alert.ledger_keys):
            return AlertOutcome(alert.key, alert.ledger_keys, already_sent=True)
    outcome = _carry(alert)
    _settle(warehouse, alert, outcome, dt.datetime.now())
    if outcome.pending:
        log.error("alert '%s' NOT sent to the engineers (kept pending for the next run): %s", alert.subject,
                  "; ".join(outcome.problems) or "no channel is configured")
    return outcome


def pending_alerts(warehouse: Engine) -> list[dict]:
    """The alerts not yet sent, oldest first, with why (for quality.json and the task summary)."""
    p = wh.pending_alerts.c
    with warehouse.connect() as conn:
        rows = conn.execute(sa.select(p.alert_key, p.subject, p.first_tried_at, p.attempts, p.last_error)
                            .order_by(p.first_tried_at, p.alert_key)).mappings().all()
    return [{"key": r["alert_key"], "subject": r["subject"], "since": r["first_tried_at"].isoformat(),
             "attempts": r["attempts"], "not_sent_because": r["last_error"]} for r in rows]


def send_pending_alerts(warehouse: Engine) -> dict:
    """Retry every pending alert once; returns how many went out and how many are still held."""
    p = wh.pending_alerts.c
    with warehouse.connect() as conn:
        rows = conn.execute(sa.select(wh.pending_alerts).order_by(p.first_tried_at)).mappings().all()
    sent = 0
    for r in rows:
        alert = Alert(r["alert_key"], r["subject"], r["body"], tuple(json.loads(r["covers"])), r["html"],
                      json.loads(r["webhook_payload"]) if r["webhook_payload"] else None)
        outcome = _carry(alert)
        _settle(warehouse, alert, outcome, dt.datetime.now())
        sent += bool(outcome.channels)
    if rows:
        log.info("pending alerts: %d sent now, %d still pending", sent, len(rows) - sent)
    return {"sent": sent, "still_pending": len(rows) - sent}


def quality_alert_keys(result: GateResult) -> dict[str, object]:
    """One key per failed check (warning or critical) and period: a rerun does not storm."""
    return {f"quality/{o.name}/{result.period}": o for o in result.failed if o.severity != "info"}


def alerted_checks(outcome: AlertOutcome | None) -> list[str]:
    """The checks a quality alert told the engineers about now (none when it is pending)."""
    return [] if outcome is None or not outcome.channels else [k.split("/")[1] for k in outcome.covers]


def alert_quality(warehouse: Engine, result: GateResult) -> AlertOutcome | None:
    """One alert about the failed checks not yet alerted (nor pending) for this period."""
    keys = quality_alert_keys(result)
    done = handled_keys(warehouse, list(keys))
    fresh = {k: o for k, o in keys.items() if k not in done}
    if not fresh:
        return None
    lines = [f"Quality gate {result.run_key}: status {result.status.upper()}", ""]
    for o in fresh.values():
        lines.append(f"- [{o.severity}] {o.name} on {o.table}: {o.unexpected_count} row(s) — {o.description}")
        if o.sample_ids:
            lines.append(f"  sample ids: {', '.join(o.sample_ids)}")
    lines += ["", "Rows caught are in the warehouse table quality_quarantine; the dossiers removed from",
              "the indicator populations are in quality_excluded_dossiers. Runbook: docs/runbook.md."]
    subject = f"[tthc-scorecards] {result.status.upper()}: {len(fresh)} quality check(s) failed, {result.period}"
    alert = Alert(f"quality/{result.run_key}/{'+'.join(sorted(o.name for o in fresh.values()))}", subject,
                  "\n".join(lines), tuple(fresh), html=report_html(result),
                  webhook_payload={"text": subject, "checks": [o.name for o in fresh.values()],
                                   "period": result.period, "status": result.status})
    return alert_engineers(warehouse, alert)
