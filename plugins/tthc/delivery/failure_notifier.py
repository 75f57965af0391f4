"""Airflow 3 failure notifier: tells the data engineers which task of which run failed."""

from __future__ import annotations

import logging

from airflow.sdk import BaseNotifier

from tthc import config
from tthc.delivery.mail import build_message, post_webhook, send
from tthc.orchestration.connections import smtp_endpoint

log = logging.getLogger(__name__)


class EngineerFailureNotifier(BaseNotifier):
    """on_failure_callback for every DAG: e-mail (smtp_default) and the webhook when configured."""

    template_fields = ()

    def notify(self, context) -> None:
        ti, run = context.get("ti"), context.get("dag_run")
        dag_id = getattr(ti, "dag_id", None) or getattr(run, "dag_id", "?")
        task_id = getattr(ti, "task_id", "(the run)")
        run_id = getattr(run, "run_id", "?")
        error = context.get("exception")
        first_line = str(error).splitlines()[0] if error else "see the task log"
        subject = f"[tthc-scorecards] FAILED {dag_id}.{task_id} ({run_id})"
        text = (f"DAG: {dag_id}\nTask: {task_id}\nRun: {run_id}\nError: {first_line}\n\n"
                "Nothing partial was published. See docs/runbook.md, section 'When a run fails'.")
        rec = config.recipients()
        try:
            send(smtp_endpoint(), build_message(rec.sender, rec.data_engineers, subject, text))
            if rec.alert_webhook_url:
                post_webhook(rec.alert_webhook_url, {"text": subject, "error": first_line})
        except Exception as exc:  # noqa: BLE001 - a failing alert must not mask the task's own error
            log.error("could not alert the engineers about %s: %s", subject, exc)
