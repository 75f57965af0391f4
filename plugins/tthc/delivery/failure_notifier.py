"""Airflow 3 failure notifier: tells the data engineers which task of which run failed."""

from __future__ import annotations

import logging

from airflow.sdk import BaseNotifier

from tthc.delivery.alerts import Alert, alert_engineers
from tthc.orchestration import connections
from tthc.warehouse.db import engine_for_url

log = logging.getLogger(__name__)


def failure_alert(dag_id: str, task_id: str, run_id: str, try_number: object, error: BaseException | None) -> Alert:
    first_line = str(error).splitlines()[0] if error and str(error) else "see the task log"
    subject = f"[tthc-scorecards] FAILED {dag_id}.{task_id} ({run_id})"
    text = (f"DAG: {dag_id}\nTask: {task_id}\nRun: {run_id}\nError: {first_line}\n\n"
            "Nothing partial was published. See docs/runbook.md, section 'When a run fails'.")
    return Alert(f"task_failed/{dag_id}/{run_id}/{task_id}/{try_number}", subject, text,
                 webhook_payload={"text": subject, "error": first_line})


class EngineerFailureNotifier(BaseNotifier):
    """on_failure_callback for every DAG: the engineers alerted by every channel that works."""

    template_fields = ()

    def notify(self, context) -> None:
        ti, run = context.get("ti"), context.get("dag_run")
        alert = failure_alert(getattr(ti, "dag_id", None) or getattr(run, "dag_id", "?"),
                              getattr(ti, "task_id", "(the run)"), getattr(run, "run_id", "?"),
                              getattr(ti, "try_number", 0), context.get("exception"))
        try:
            alert_engineers(engine_for_url(connections.database_url(connections.WAREHOUSE)), alert)
        except Exception as exc:  # noqa: BLE001 - a failing alert (the warehouse down too) must not mask the error
            log.error("could not alert the engineers about %s: %s", alert.subject, exc)
