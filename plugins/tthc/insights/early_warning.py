"""Nightly early warning (cảnh báo sớm): what each unit must act on before the portal counts it.

Letter 11821/UBND-KSTT asks units to act *before* a failure is published; three of its
duties can be seen coming from the warehouse:

- **dossier_due** (6.3, 2.6) — a received dossier still open at the cut-off whose `due_at`
  falls from now until the end of the `dossier_working_days`-th working day after today,
  with no apology giving a later appointment yet (an apology with `new_due_at` > `due_at`).
- **online_receipt** (2.2) — an online dossier (`channel` 2) with no first answer (a
  `received`, `rejected` or `supplement_requested` event) whose 8-working-hour window is
  still open but either mostly used (≥ `receipt_share` of 28,800 working seconds) or ending
  before the next nightly run — at a nightly cadence that run would be too late.
- **feedback_due** (6.1) — feedback forwarded to the unit, not yet answered on the portal
  (`published_at`, which the index reads), whose 15-day deadline is today or within the next
  `feedback_working_days` working days.

Everything is evaluated *as of the cut-off*: rows the warehouse holds that are dated later
(a completion, an event, an apology) are ignored, so the selection is a pure function of
the warehouse and the cut-off. Items are identified by codes only (dossier, procedure,
feedback, unit): never a person's data.

Each unit with something new gets one short Vietnamese mail; units with nothing get none.
The ledger `early_warning_ledger` remembers the state (the deadline) last announced for
each (unit, item type, item id): an unchanged item is not announced again, a changed one
(e.g. a new due date) is. Rows are written as `sending` and committed before the SMTP call,
then marked `sent`; a failed call removes them so the next night retries, and a row left
`sending` by a crash counts as announced (a possible miss rather than a double mail).

Once a week (from `office_weekday` on, until it has gone out that ISO week) the office gets a
summary: the open warnings per unit and the month-end forecast of the index (tthc.insights.forecast).

A mail that cannot be sent is not an error of the run: its items stay unannounced (the next
night announces them if they are still due), the run's summary lists what was not sent, and
the caller decides whom to tell (tthc.orchestration.pipeline.early_warning alerts the engineers). When the
server itself fails (unreachable, refused, login), the remaining mails are not attempted:
each would wait for the same timeout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import jinja2
import sqlalchemy as sa
from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, Table, Text
from sqlalchemy.engine import Connection, Engine

from tthc import config
from tthc.calendar import WorkingCalendar, load_calendar
from tthc.delivery import mail
from tthc.delivery.alerts import Alert
from tthc.indicators.finishers import EIGHT_WORKING_HOURS, FEEDBACK_DAYS
from tthc.orchestration.connections import SmtpEndpoint
from tthc.paths import TEMPLATE_DIR
from tthc.periods import Period
from tthc.warehouse import schema as wh
from tthc.warehouse.db import dialect_insert

log = logging.getLogger(__name__)

TEMPLATE = "early_warning.txt.j2"
DOSSIER_DUE, ONLINE_RECEIPT, FEEDBACK_DUE = "dossier_due", "online_receipt", "feedback_due"
ITEM_TYPES = (DOSSIER_DUE, ONLINE_RECEIPT, FEEDBACK_DUE)
FIRST_ANSWER_EVENTS = ("received", "rejected", "supplement_requested")
# How far back an unanswered online dossier can still be inside its 8 working hours: the
# longest break of the calendar (Tết, about nine days) plus margin.
RECEIPT_LOOKBACK = dt.timedelta(days=21)
# Ledger rows older than this are pruned: no warned item stays relevant that long.
LEDGER_KEEP = dt.timedelta(days=180)

metadata = MetaData()

# Bảng theo dõi cảnh báo đã gửi: the state last announced for each item of each unit.
early_warning_ledger = Table(
    "early_warning_ledger", metadata,
    Column("unit_code", Text, nullable=False),
    Column("item_type", Text, nullable=False),
    Column("item_id", Text, nullable=False),
    Column("state_hash", Text, nullable=False),
    Column("status", Text, nullable=False),  # sending | sent
    Column("announced_at", DateTime(timezone=False), nullable=False),  # the run's cut-off
    PrimaryKeyConstraint("unit_code", "item_type", "item_id", "state_hash"),
)


@dataclass(frozen=True)
class WarningRules:
    """How far ahead each warning looks (the lead may move these to thresholds.yaml)."""

    dossier_working_days: int = 2    # "overdue within the next working day or two"
    feedback_working_days: int = 3   # an answer takes longer to prepare than a completion
    receipt_share: float = 0.5       # "most of their 8 working hours": more than half used
    next_run_after: dt.timedelta = dt.timedelta(days=1)
    office_weekday: int = 0          # Monday: the office's weekly summary and forecast


@dataclass(frozen=True)
class WarningItem:
    """One thing a unit must act on; `deadline` is the instant by which to act."""

    unit_code: str
    item_type: str  # dossier_due | online_receipt | feedback_due
    item_id: str
    deadline: dt.datetime
    procedure_code: str | None = None
    since: dt.datetime | None = None  # online_receipt: when it was submitted

    @property
    def state(self) -> str:
        """What, if it changes, makes the item worth announcing again."""
        return f"{self.item_type}|{self.deadline.isoformat()}"

    @property
    def state_hash(self) -> str:
        return hashlib.sha256(self.state.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class UnitWarning:
    """One unit's mail: its new items, by type, in deadline order."""

    unit_code: str
    items: tuple[WarningItem, ...]

    def of_type(self, item_type: str) -> list[WarningItem]:
        return [i for i in self.items if i.item_type == item_type]


@dataclass
class WarningRun:
    """What a night's run found and did (counts and unit codes only: it goes to XCom and logs)."""

    cut_off: str
    candidates: int = 0
    new_items: int = 0
    mailed_units: list[str] = field(default_factory=list)
    units_without_address: list[str] = field(default_factory=list)
    failed_units: list[str] = field(default_factory=list)
    units_mail_disabled: bool = False
    office_summary_sent: bool = False
    office_summary_failed: bool = False  # due, but not sent: the next night tries again
    mail_error: str | None = None  # the first sending error's class name (no message: it may quote addresses)

    @property
    def undelivered(self) -> bool:
        return bool(self.failed_units) or self.office_summary_failed

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def server_failed(exc: OSError) -> bool:
    """True when the failure is the mail server's, not one message's: later mails would fail alike."""
    return not isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError)


# --- selection (pure functions of the warehouse and the cut-off) -----------------------------
def horizon_end(cal: WorkingCalendar, now: dt.datetime, working_days: int) -> dt.datetime:
    """00:00 after the `working_days`-th working day strictly after today: the window's end."""
    last = cal.nth_working_day_after(now.date(), working_days)
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time())


def _kept(dossier_code):
    """Not removed by the quality gate (indicators.md "Data quality and populations")."""
    q = wh.quality_excluded_dossiers.c
    return ~sa.exists().where(q.dossier_code == dossier_code)


def _event_before(dossier_code, event_types: Iterable[str], now: dt.datetime):
    e = wh.stg_dossier_events.c
    return sa.exists().where(e.dossier_code == dossier_code, e.event_type.in_(list(event_types)),
                             e.occurred_at < now)


def dossiers_due_soon(conn: Connection, cal: WorkingCalendar, now: dt.datetime,
                      rules: WarningRules = WarningRules()) -> list[WarningItem]:
    """Received dossiers open at `now`, due before the horizon, without a later appointment yet."""
    d, a = wh.stg_dossiers.c, wh.stg_apologies.c
    end = horizon_end(cal, now, rules.dossier_working_days)
    query = (
        sa.select(d.unit_code, d.dossier_code, d.procedure_code, d.due_at)
        .where(
            d.received_at.is_not(None), d.received_at < now, d.status.not_in([1, 3]),
            d.due_at >= now, d.due_at < end,
            sa.or_(d.completed_at.is_(None), d.completed_at >= now),
            # end_at of a withdrawn (7) or stopped (8) dossier is its first such event
            ~((d.status == 7) & _event_before(d.dossier_code, ["withdrawn"], now)),
            ~((d.status == 8) & _event_before(d.dossier_code, ["stopped"], now)),
            ~sa.exists().where(a.dossier_code == d.dossier_code, a.new_due_at > d.due_at, a.issued_at < now),
            _kept(d.dossier_code),
            d.unit_code.is_not(None),
        )
    )
    return [WarningItem(unit, DOSSIER_DUE, code, due, procedure_code=proc)
            for unit, code, proc, due in conn.execute(query)]


def online_receipts_due(conn: Connection, cal: WorkingCalendar, now: dt.datetime,
                        rules: WarningRules = WarningRules()) -> list[WarningItem]:
    """Online dossiers without a first answer whose 8 working hours are mostly used or end before the next run."""
    d = wh.stg_dossiers.c
    query = (
        sa.select(d.unit_code, d.dossier_code, d.procedure_code, d.submitted_at)
        .where(
            d.channel == 2, d.submitted_at < now, d.submitted_at >= now - RECEIPT_LOOKBACK,
            ~_event_before(d.dossier_code, FIRST_ANSWER_EVENTS, now),
            _kept(d.dossier_code),
            d.unit_code.is_not(None),
        )
    )
    next_run = now + rules.next_run_after
    out = []
    for unit, code, proc, submitted in conn.execute(query):
        used = cal.working_seconds_between(submitted, now)
        if used >= EIGHT_WORKING_HOURS:
            continue  # already failed 2.2: the monthly violations list carries it
        deadline = cal.add_working_seconds(submitted, EIGHT_WORKING_HOURS)
        if used >= rules.receipt_share * EIGHT_WORKING_HOURS or deadline < next_run:
            out.append(WarningItem(unit, ONLINE_RECEIPT, code, deadline, procedure_code=proc, since=submitted))
    return out


def feedback_deadline(forwarded_at: dt.datetime) -> dt.date:
    """The local date of forwarded_at plus 15 days (indicators.md group 6)."""
    return forwarded_at.date() + dt.timedelta(days=FEEDBACK_DAYS)


def feedback_due_soon(conn: Connection, cal: WorkingCalendar, now: dt.datetime,
                      rules: WarningRules = WarningRules()) -> list[WarningItem]:
    """Feedback unanswered at `now` whose deadline is today or within the next working days."""
    f = wh.stg_feedback.c
    last_day = cal.nth_working_day_after(now.date(), rules.feedback_working_days)
    query = sa.select(f.unit_code, f.feedback_id, f.forwarded_at).where(
        f.forwarded_at.is_not(None), f.forwarded_at < now,
        f.forwarded_at >= now - dt.timedelta(days=FEEDBACK_DAYS + 1),
        sa.or_(f.published_at.is_(None), f.published_at >= now),
        f.unit_code.is_not(None),
    )
    out = []
    for unit, feedback_id, forwarded in conn.execute(query):
        day = feedback_deadline(forwarded)
        missed_from = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        if now < missed_from and day <= last_day:
            out.append(WarningItem(unit, FEEDBACK_DUE, str(feedback_id), missed_from))
    return out


def select_warnings(engine: Engine, now: dt.datetime, cal: WorkingCalendar | None = None,
                    rules: WarningRules = WarningRules()) -> list[WarningItem]:
    """Every item some unit should act on as of `now` (naive local), sorted by unit, deadline, id."""
    cal = cal or load_calendar()
    wh.create_all(engine)
    with engine.connect() as conn:
        items = [*dossiers_due_soon(conn, cal, now, rules), *online_receipts_due(conn, cal, now, rules),
                 *feedback_due_soon(conn, cal, now, rules)]
    return sorted(items, key=lambda i: (i.unit_code, i.deadline, i.item_type, i.item_id))


# --- de-duplication ---------------------------------------------------------------------------
def ensure_ledger(engine: Engine) -> None:
    metadata.create_all(engine)


def announced_states(conn: Connection, units: Iterable[str]) -> dict[tuple[str, str, str], str]:
    """(unit, item type, item id) -> the state hash announced last."""
    c = early_warning_ledger.c
    latest: dict[tuple[str, str, str], tuple[dt.datetime, str]] = {}
    rows = conn.execute(sa.select(c.unit_code, c.item_type, c.item_id, c.state_hash, c.announced_at)
                        .where(c.unit_code.in_(sorted(set(units)))))
    for unit, item_type, item_id, state, at in rows:
        key = (unit, item_type, item_id)
        if key not in latest or at > latest[key][0]:
            latest[key] = (at, state)
    return {k: state for k, (_, state) in latest.items()}


def new_items(items: Iterable[WarningItem], announced: dict[tuple[str, str, str], str]) -> list[WarningItem]:
    """Items never announced, or whose state changed since they last were."""
    return [i for i in items if announced.get((i.unit_code, i.item_type, i.item_id)) != i.state_hash]


def by_unit(items: Iterable[WarningItem]) -> list[UnitWarning]:
    grouped: dict[str, list[WarningItem]] = defaultdict(list)
    for item in items:
        grouped[item.unit_code].append(item)
    return [UnitWarning(unit, tuple(grouped[unit])) for unit in sorted(grouped)]


def _ledger_rows(items: Iterable[WarningItem], status: str, cut_off: dt.datetime) -> list[dict]:
    return [{"unit_code": i.unit_code, "item_type": i.item_type, "item_id": i.item_id,
             "state_hash": i.state_hash, "status": status, "announced_at": cut_off} for i in items]


def _record(conn: Connection, rows: list[dict]) -> None:
    if rows:
        stmt = dialect_insert(conn, early_warning_ledger)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["unit_code", "item_type", "item_id", "state_hash"],
            set_={"status": stmt.excluded.status, "announced_at": stmt.excluded.announced_at}), rows)


def _forget(conn: Connection, unit: str, cut_off: dt.datetime) -> None:
    c = early_warning_ledger.c
    conn.execute(sa.delete(early_warning_ledger).where(c.unit_code == unit, c.status == "sending",
                                                       c.announced_at == cut_off))


def prune_ledger(conn: Connection, cut_off: dt.datetime) -> int:
    c = early_warning_ledger.c
    return conn.execute(sa.delete(early_warning_ledger).where(c.announced_at < cut_off - LEDGER_KEEP)).rowcount


# --- the mails -----------------------------------------------------------------------------
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=False,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["when"] = lambda t: f"{t:%H:%M} ngày {t:%d/%m/%Y}"
    env.filters["day"] = lambda t: f"{t:%d/%m/%Y}"
    env.filters["num"] = lambda x: "–" if x is None else f"{x:.2f}".replace(".", ",")
    return env


def unit_mail_text(warning: UnitWarning, cut_off: dt.datetime) -> tuple[str, str]:
    """(subject, body) of a unit's warning mail, in Vietnamese."""
    body = _environment().get_template(TEMPLATE).render(
        office=False, unit_code=warning.unit_code, cut_off=cut_off,
        dossiers=warning.of_type(DOSSIER_DUE), receipts=warning.of_type(ONLINE_RECEIPT),
        feedback=warning.of_type(FEEDBACK_DUE),
        # a feedback item's deadline date is the day before the instant it is missed from
        feedback_day=lambda i: (i.deadline - dt.timedelta(days=1)).date())
    subject = f"[Cảnh báo sớm] {warning.unit_code}: {len(warning.items)} việc cần xử lý ({cut_off:%d/%m/%Y})"
    return subject, body


def office_mail_text(cut_off: dt.datetime, open_items: list[WarningItem], forecast_rows: list,
                     forecast_note: str, units: dict[str, tuple[int, str]] | None = None) -> tuple[str, str]:
    """(subject, body) of the office's weekly summary: open warnings per unit and the forecast.

    `units`: code → (position, Vietnamese name), the ranked lists' order (forecast.units_as_ranked)."""
    units = units or {}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(ITEM_TYPES, 0))
    for item in open_items:
        counts[item.unit_code][item.item_type] += 1
    ordered = sorted(counts, key=lambda code: (units.get(code, (len(units), code))[0], code))
    body = _environment().get_template(TEMPLATE).render(
        office=True, cut_off=cut_off, counts=[(c, units.get(c, (0, c))[1], counts[c]) for c in ordered],
        forecast=forecast_rows, forecast_note=forecast_note)
    subject = f"[Cảnh báo sớm] Tổng hợp tuần và dự báo chỉ số cuối tháng ({cut_off:%d/%m/%Y})"
    return subject, body


def _send_unit(engine: Engine, smtp: SmtpEndpoint, sender: str, address: str, warning: UnitWarning,
               cut_off: dt.datetime) -> None:
    subject, body = unit_mail_text(warning, cut_off)
    with engine.begin() as conn:  # committed before the SMTP call: a crash never mails twice
        _record(conn, _ledger_rows(warning.items, "sending", cut_off))
    try:
        mail.send(smtp, mail.build_message(sender, [address], subject, body))
    except Exception:
        with engine.begin() as conn:
            _forget(conn, warning.unit_code, cut_off)
        raise
    with engine.begin() as conn:
        _record(conn, _ledger_rows(warning.items, "sent", cut_off))


def _office_summary_due(engine: Engine, cut_off: dt.datetime, rules: WarningRules) -> str | None:
    """The ISO week key when this run owes the office its weekly summary, else None.

    Due from `office_weekday` on until sent that week: a Monday whose mail failed is caught up
    on Tuesday rather than lost."""
    if cut_off.weekday() < rules.office_weekday:
        return None
    year, week, _ = cut_off.isocalendar()
    key = f"{year}-W{week:02d}"
    c = early_warning_ledger.c
    with engine.connect() as conn:
        done = conn.execute(sa.select(c.item_id).where(
            c.unit_code == "", c.item_type == "office_summary", c.item_id == key)).first()
    return None if done else key


def undelivered_alert(run: WarningRun) -> Alert:
    """The alert telling the engineers what a night could not send: codes only."""
    night = run.cut_off[:10]
    parts = []
    if run.failed_units:
        parts.append(f"{len(run.failed_units)} unit mail(s) not sent ({', '.join(run.failed_units)})")
    if run.office_summary_failed:
        parts.append("the office's weekly summary not sent")
    subject = f"[tthc-scorecards] early warning {night}: {'; '.join(parts)}"
    text = (f"Early warning, cut-off {run.cut_off}: {'; '.join(parts)}.\n"
            f"Error: {run.mail_error or 'unknown'} (the smtp_default connection's server).\n\n"
            "Nothing is lost: the items were not recorded as announced, so the next night's run announces "
            "those still due, and the weekly summary goes out with the next run that can send it.\n"
            "Check the mail relay and the smtp_default connection; docs/runbook.md, 'Early warning'.")
    return Alert(f"early_warning_undelivered/{night}", subject, text)


def send_warnings(engine: Engine, cut_off: dt.datetime, smtp: SmtpEndpoint,
                  recipients: config.Recipients | None = None, rules: WarningRules = WarningRules(),
                  cal: WorkingCalendar | None = None,
                  forecast: Callable[[Engine, dt.datetime], tuple[list, str]] | None = None) -> WarningRun:
    """The nightly task: select, de-duplicate, mail each unit with something new, then the office weekly.

    `forecast(engine, cut_off)` -> (rows, method note) feeds the office's weekly summary
    (tthc.insights.forecast.weekly_forecast by default). Mails that fail are listed in the returned
    run (`undelivered`), never raised: their items stay unannounced for the next night.
    """
    rec = recipients or config.recipients()
    ensure_ledger(engine)
    items = select_warnings(engine, cut_off, cal, rules)
    run = WarningRun(cut_off=cut_off.isoformat(), candidates=len(items))
    with engine.begin() as conn:
        prune_ledger(conn, cut_off)
        fresh = new_items(items, announced_states(conn, {i.unit_code for i in items}))
    run.new_items = len(fresh)
    run.units_mail_disabled = not rec.send_to_units
    server_down = False
    for warning in by_unit(fresh):
        address = rec.units.get(warning.unit_code)
        if address is None:
            run.units_without_address.append(warning.unit_code)
            continue
        if not rec.send_to_units:
            continue
        if server_down:
            run.failed_units.append(warning.unit_code)  # not attempted: the server already failed
            continue
        try:
            _send_unit(engine, smtp, rec.sender, address, warning, cut_off)
            run.mailed_units.append(warning.unit_code)
        except OSError as exc:  # smtplib's errors too; a refused address does not stop the others
            log.warning("early warning to unit %s not sent: %s", warning.unit_code, type(exc).__name__)
            run.failed_units.append(warning.unit_code)
            run.mail_error = run.mail_error or type(exc).__name__
            server_down = server_down or server_failed(exc)
    week = _office_summary_due(engine, cut_off, rules)
    if week is not None and server_down:
        run.office_summary_failed = True
    elif week is not None:
        from tthc.insights.forecast import units_as_ranked, weekly_forecast

        rows, note = (forecast or weekly_forecast)(engine, cut_off)
        month = Period.of((cut_off - dt.timedelta(microseconds=1)).date())
        subject, body = office_mail_text(cut_off, items, rows, note, units_as_ranked(engine, month))
        try:
            mail.send(smtp, mail.build_message(rec.sender, list(rec.office_to), subject, body,
                                               cc=list(rec.office_cc) or None))
        except OSError as exc:
            log.warning("early warning: the office's weekly summary %s not sent: %s", week, type(exc).__name__)
            run.office_summary_failed = True
            run.mail_error = run.mail_error or type(exc).__name__
        else:
            with engine.begin() as conn:
                _record(conn, [{"unit_code": "", "item_type": "office_summary", "item_id": week,
                                "state_hash": "sent", "status": "sent", "announced_at": cut_off}])
            run.office_summary_sent = True
    log.info("early warning %s: %d candidate items, %d new, %d units mailed, %d not sent%s", run.cut_off,
             run.candidates, run.new_items, len(run.mailed_units), len(run.failed_units),
             ", office summary not sent" if run.office_summary_failed else "")
    return run
