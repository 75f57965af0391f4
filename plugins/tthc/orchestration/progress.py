"""What the operator's console shows of a DAG run: one line per task as it finishes.

`ProgressListener` is an Airflow listener registered only in the process that runs `dag.test()`
for `tthc-scorecards` (never under the scheduler): it appends one JSON event per finished task
to a file the command reads. `summary` turns a task's return value into a few words.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from airflow.sdk._shared.listeners import hookimpl


def _count(n: object) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def summary(task_id: str, result: object) -> str:
    """A few words on what a task did, from its return value (pipeline's summaries)."""
    if not isinstance(result, dict | list | int):
        return ""
    if task_id == "preflight" and isinstance(result, dict):
        checks = result.get("preflight", {})
        warnings = checks.get("warnings", [])
        return f"{len(checks.get('passed', []))} checks passed" + (f", {len(warnings)} warning(s)" if warnings else "")
    if task_id == "extract_source" and isinstance(result, dict):
        return f"{_count(sum(result.values()))} rows from the replica"
    if task_id == "extract_national" and isinstance(result, dict):
        items = sum(f.get("items", 0) for f in result.values())
        unreadable = sum(f.get("unreadable", 0) for f in result.values())
        return f"{_count(items)} national items" + (f", {unreadable} unreadable" if unreadable else "")
    if task_id == "quality_gate" and isinstance(result, dict):
        failed = result.get("failed", [])
        alert = result.get("alert") or {}
        pending = ", alert NOT sent (kept pending)" if alert.get("pending") else ""
        return f"{result.get('status')}, {len(failed)} check(s) failed{pending}"
    if task_id == "compute_indicators" and isinstance(result, dict):
        return f"{result.get('units')} units, {_count(result.get('violations'))} violations"
    if task_id == "plan_scorecards" and isinstance(result, list):
        return f"{scorecards_planned(task_id, result)} scorecards in {len(result)} batch(es)"
    if task_id == "render_scorecards" and isinstance(result, int):
        return f"{result} scorecard(s)"
    if task_id == "finish_month_folder" and isinstance(result, dict):
        return f"{result.get('scorecards')} scorecards, {result.get('folder')}"
    if task_id in ("deliver", "early_warning") and isinstance(result, dict):
        return str(result.get("status"))
    if task_id == "backtest_forecast" and isinstance(result, dict):
        return f"{len(result.get('months', []))} closed month(s) replayed"
    return ""


def scorecards_planned(task_id: str, result: object) -> int | None:
    """How many scorecards the run will render (from plan_scorecards), for the progress count."""
    if task_id == "plan_scorecards" and isinstance(result, list):
        return sum(len(b) for b in result)
    return None


class ProgressListener:
    """Appends {"task", "map_index", "state", "seconds", "summary"|"error"} lines to `path`."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _write(self, event: dict) -> None:
        with self.path.open("a", encoding="utf-8") as f:  # one short line per write: read whole or not yet
            f.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def _base(ti, state: str) -> dict:
        seconds = (ti.end_date - ti.start_date).total_seconds() if ti.start_date and ti.end_date else None
        return {"task": ti.task_id, "map_index": ti.map_index, "try": ti.try_number, "state": state,
                "seconds": seconds}

    @hookimpl
    def on_task_instance_success(self, previous_state, task_instance) -> None:
        try:
            result = task_instance.xcom_pull(task_ids=task_instance.task_id, map_indexes=task_instance.map_index)
        except Exception:  # noqa: BLE001 - a summary is a nicety; the state is what matters
            result = None
        self._write({**self._base(task_instance, "success"), "summary": summary(task_instance.task_id, result),
                     "planned": scorecards_planned(task_instance.task_id, result),
                     "rendered": result if task_instance.task_id == "render_scorecards" else None})

    @hookimpl
    def on_task_instance_failed(self, previous_state, task_instance, error) -> None:
        retries = getattr(getattr(task_instance, "task", None), "retries", 0) or 0
        will_retry = task_instance.try_number <= retries  # tries 1..retries are followed by another
        self._write({**self._base(task_instance, "up_for_retry" if will_retry else "failed"),
                     "error": f"{type(error).__name__}: {error}" if error else "see the log"})
