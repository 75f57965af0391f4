"""Delivering the month's documents to the office exactly once (and, optionally, to each unit).

The delivery ledger (warehouse table `delivery_ledger`) makes sending exactly-once across
retries, reruns and backfills: a message already 'sent' for (period, recipient) is never sent
again unless `resend` is asked for explicitly; a 'sending' row left by a crash mid-send is not
guessed at — the engineers are alerted instead. A month whose quality gate has a critical
failure is not sent to the office at all: the engineers are told why. Outputs stay on disk
whatever happens here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc import config
from tthc.delivery.alerts import Alert, alert_engineers
from tthc.delivery.mail import Attachment, build_message, send
from tthc.orchestration.connections import SmtpEndpoint
from tthc.quality.gate import month_status
from tthc.reports.formatting import format_month
from tthc.reports.month_folder import read_manifest, write_manifest
from tthc.warehouse import schema as wh
from tthc.warehouse.db import dialect_insert

log = logging.getLogger(__name__)
ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # fixed member times: the same PDFs give the same zip bytes
PDF = ("application", "pdf")
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@dataclass(frozen=True)
class Message:
    recipient_key: str  # ledger key: "office/1of2", "unit/000.00.10.H57"
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[Attachment, ...]

    @property
    def content_hash(self) -> str:
        h = hashlib.sha256()
        for a in self.attachments:
            h.update(a.filename.encode())
            h.update(hashlib.sha256(a.content).digest())
        return h.hexdigest()


ZIP_END = 22  # end-of-central-directory record


def _zip_entry_size(arcname: str, data: bytes) -> int:
    """The bytes one member adds to a zip: deflated data, local header and central-directory entry.

    Computed with the compressor zipfile itself uses, so the parts' sizes are known before
    they are built (no trial and error over a province's worth of PDFs).
    """
    deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    compressed = len(deflate.compress(data)) + len(deflate.flush())
    return compressed + 30 + 46 + 2 * len(arcname.encode())


def zip_parts(files: list[Path], max_bytes: int, stem: str, first_max_bytes: int | None = None
              ) -> list[Attachment]:
    """The scorecards zipped, in as many zips as needed to keep each under `max_bytes`.

    `first_max_bytes` is the room left in the first message beside the ranked lists; when not
    even one scorecard fits there, the first zip starts at the next message's full budget.
    A single scorecard larger than `max_bytes` goes alone (and is logged): it cannot be split.
    """
    groups: list[list[Path]] = [[]]
    budget = max_bytes if first_max_bytes is None else first_max_bytes
    size = ZIP_END
    for f in sorted(files):
        entry = _zip_entry_size(f"scorecards/{f.name}", f.read_bytes())
        if size + entry > budget and (groups[-1] or budget < max_bytes):
            if groups[-1]:
                groups.append([])
            budget, size = max_bytes, ZIP_END
        if size + entry > budget:
            log.warning("scorecard %s alone is larger than the mail attachment limit", f.name)
        groups[-1].append(f)
        size += entry
    parts = []
    for i, group in enumerate(groups, 1):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in group:
                z.writestr(zipfile.ZipInfo(f"scorecards/{f.name}", ZIP_TIME), f.read_bytes(),
                           compress_type=zipfile.ZIP_DEFLATED)
        name = f"{stem}.zip" if len(groups) == 1 else f"{stem}-phan-{i}.zip"
        parts.append(Attachment(name, buf.getvalue(), "application", "zip"))
    return parts


def pack_messages(attachments: list[Attachment], max_bytes: int) -> list[tuple[Attachment, ...]]:
    """Attachments in order, into as few messages as keep each message's total under `max_bytes`."""
    sets: list[list[Attachment]] = [[]]
    size = 0
    for a in attachments:
        if sets[-1] and size + len(a.content) > max_bytes:
            sets.append([])
            size = 0
        sets[-1].append(a)
        size += len(a.content)
    return [tuple(s) for s in sets]


def office_messages(folder: Path, period: str) -> list[Message]:
    rec = config.recipients()
    max_bytes = int(config.thresholds().mail_max_attachment_mb * 1024 * 1024)
    month = format_month(period)
    ranking = [Attachment("ranking.pdf", (folder / "ranking.pdf").read_bytes(), *PDF),
               Attachment("ranking.xlsx", (folder / "ranking.xlsx").read_bytes(), *XLSX)]
    # The first message carries the ranked lists and as many scorecards as fit beside them;
    # the limit holds for each message's attachments together, not for each file alone.
    room = max_bytes - sum(len(a.content) for a in ranking)
    zips = zip_parts(sorted((folder / "scorecards").glob("*.pdf")), max_bytes, f"phieu-danh-gia-{period}",
                     first_max_bytes=room)
    attachment_sets = pack_messages(ranking + zips, max_bytes)
    total = len(attachment_sets)
    messages = []
    for i, attachments in enumerate(attachment_sets, 1):
        part = "" if total == 1 else f" (phần {i}/{total})"
        body = (f"Kính gửi Văn phòng UBND,\n\nHệ thống gửi kết quả Chỉ số phục vụ người dân, doanh nghiệp "
                f"{month}{part}:\n" + "".join(f"- {a.filename}\n" for a in attachments) +
                "\nBảng xếp hạng theo từng cấp (ranking.pdf, ranking.xlsx) và phiếu đánh giá của từng cơ quan, "
                "đơn vị (tệp nén).\n\nThư được gửi tự động; vui lòng không trả lời thư này.\n")
        messages.append(Message(f"office/{i}of{total}", tuple(rec.office_to), tuple(rec.office_cc),
                                f"Kết quả Chỉ số phục vụ người dân, doanh nghiệp {month}{part}", body,
                                attachments))
    if rec.send_to_units:
        for code, address in sorted(rec.units.items()):
            pdf = folder / "scorecards" / f"{code}.pdf"
            if pdf.exists():
                messages.append(Message(
                    f"unit/{code}", (address,), (), f"Phiếu đánh giá Chỉ số phục vụ người dân, doanh nghiệp {month}",
                    f"Kính gửi Thủ trưởng cơ quan, đơn vị,\n\nĐính kèm phiếu đánh giá {month} của đơn vị.\n",
                    (Attachment(pdf.name, pdf.read_bytes(), *PDF),)))
    return messages


def _ledger_state(conn, period: str, key: str) -> str | None:
    rows = conn.execute(sa.select(wh.delivery_ledger.c.status).where(
        wh.delivery_ledger.c.period == period, wh.delivery_ledger.c.recipient == key)).scalars().all()
    for state in ("sent", "sending"):
        if state in rows:
            return state
    return rows[0] if rows else None


def _ledger_values(period: str, msg: Message, status: str, detail: str = "") -> dict:
    now = dt.datetime.now()
    return {"period": period, "recipient": msg.recipient_key, "content_hash": msg.content_hash,
            "status": status, "attempted_at": now, "sent_at": now if status == "sent" else None,
            "detail": detail[:500]}


def _upsert(conn, values: dict) -> None:
    stmt = dialect_insert(conn, wh.delivery_ledger).values(**values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["period", "recipient", "content_hash"],
                                            set_={k: values[k] for k in ("status", "attempted_at", "sent_at",
                                                                         "detail")}))


def _mark(engine: Engine, period: str, msg: Message, status: str, detail: str = "") -> None:
    with engine.begin() as conn:
        _upsert(conn, _ledger_values(period, msg, status, detail))


def _other_split_state(conn, period: str, key: str) -> str | None:
    """The office's parts as an earlier run split them, when that split differs from `key`'s.

    Rerun PDFs differ by a few bytes, which can change the number of parts: 'sent' when
    every part of an earlier split went out, 'sending' (not known) when only some did.
    """
    if not key.startswith("office/"):
        return None
    total = key.rsplit("of", 1)[1]
    d = wh.delivery_ledger.c
    parts: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for recipient, status in conn.execute(sa.select(d.recipient, d.status).where(
            d.period == period, d.recipient.like("office/%"))):
        part, n = recipient.removeprefix("office/").split("of")
        if n != total:
            parts[n][part].add(status)
    if any(all("sent" in split[str(i)] for i in range(1, int(n) + 1)) for n, split in parts.items()):
        return "sent"
    if any(states & {"sent", "sending"} for split in parts.values() for states in split.values()):
        return "sending"
    return None


def _lock_ledger(conn, period: str) -> None:
    """Serialise the period's claims between concurrent runs (a backfill and the schedule)."""
    if conn.dialect.name == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(f"delivery/{period}".encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_id)))
    elif not conn.connection.driver_connection.in_transaction:
        # SQLite: take the write lock before reading, so that two claims cannot both read "no row"
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _claim(engine: Engine, period: str, msg: Message, resend: bool) -> str | None:
    """Write 'sending' for `msg` unless the ledger forbids it; returns the forbidding state, or None.

    Read and write happen under one lock, so a message is claimed by one run only.
    """
    with engine.begin() as conn:
        _lock_ledger(conn, period)
        state = _ledger_state(conn, period, msg.recipient_key)
        if state != "sent":
            state = _other_split_state(conn, period, msg.recipient_key) or state
        if state in ("sent", "sending") and not resend:
            return state
        _upsert(conn, _ledger_values(period, msg, "sending"))
    return None


def ledger_rows(engine: Engine, period: str) -> list[dict]:
    """The period's delivery ledger, for the manifest: recipient key, status, when."""
    d = wh.delivery_ledger.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(d.recipient, d.status, d.attempted_at, d.sent_at)
                            .where(d.period == period).order_by(d.recipient, d.attempted_at)).mappings().all()
    out = []
    for r in rows:
        when = r["sent_at"] or r["attempted_at"]
        out.append({"recipient": r["recipient"], "status": r["status"], "at": when.isoformat() if when else None})
    return out


class DeliveryFailed(RuntimeError):
    """The office's mail could not go out; the message names the connection and what to do."""


def deliver_month(engine: Engine, folder: Path, period: str, smtp: SmtpEndpoint | None, send_mail: bool,
                  resend: bool = False) -> dict:
    manifest = read_manifest(folder)
    status, critical = month_status(engine, period)
    if status == "critical":
        reason = f"quality gate critical: {', '.join(critical) or 'see quality.json'}"
        alert_engineers(engine, Alert(f"publication_blocked/{period}",
                                      f"[tthc-scorecards] {period} NOT sent to the office: {reason}",
                                      f"The month {period} was written to {folder} but not sent to the office, "
                                      f"because its quality gate failed critically ({reason}).\nFix the source, "
                                      "rerun the month; see docs/runbook.md."))
        outcome = {"status": "blocked", "reason": reason}
    elif not send_mail:
        # A rerun without sending must not hide that an earlier run delivered the month.
        outcome = {"status": "not_requested", "ledger": ledger_rows(engine, period)}
    else:
        try:
            outcome = _send_all(engine, folder, period, smtp, resend)
        except OSError as exc:  # recorded in the manifest, then raised so that Airflow retries
            _record(folder, period, manifest, {"status": "failed", "error": exc.__class__.__name__,
                                               "ledger": ledger_rows(engine, period)})
            raise DeliveryFailed(f"{period}: the office's mail was not sent — mail server {smtp.host}:{smtp.port} "
                                 f"(connection 'smtp_default'): {type(exc).__name__}: {exc}. Nothing was marked "
                                 "sent; rerun once the server answers.") from exc
    _record(folder, period, manifest, outcome)
    return outcome


def _record(folder: Path, period: str, manifest: dict, delivery: dict) -> None:
    write_manifest(folder, period, dt.datetime.fromisoformat(manifest["built_at"]), manifest["source_watermarks"],
                   delivery)


def _send_all(engine: Engine, folder: Path, period: str, smtp: SmtpEndpoint | None, resend: bool) -> dict:
    if smtp is None:
        raise DeliveryFailed("sending was asked for but connection 'smtp_default' is not defined: "
                             "set AIRFLOW_CONN_SMTP_DEFAULT (e.g. smtp://relay.example:25)")
    sent, skipped, uncertain = [], [], []
    for msg in office_messages(folder, period):
        state = _claim(engine, period, msg, resend)
        if state == "sent":
            skipped.append(msg.recipient_key)
            continue
        if state == "sending":
            uncertain.append(msg.recipient_key)
            continue
        try:
            send(smtp, build_message(config.recipients().sender, list(msg.to), msg.subject, msg.body,
                                     attachments=msg.attachments, cc=list(msg.cc)))
        except OSError as exc:
            _mark(engine, period, msg, "failed", f"{exc.__class__.__name__}: {exc}")
            raise
        except BaseException:  # stopped by the operator: the server never confirmed, so not sent
            _mark(engine, period, msg, "failed", "interrupted before the mail server confirmed")
            raise
        _mark(engine, period, msg, "sent")
        sent.append(msg.recipient_key)
    if uncertain:
        alert_engineers(engine, Alert(f"delivery_uncertain/{period}/{'+'.join(uncertain)}",
                                      f"[tthc-scorecards] {period}: delivery state unknown for {', '.join(uncertain)}",
                                      "A previous attempt stopped between 'sending' and 'sent', or sent only some "
                                      "parts of an earlier split of the month. Check the mail server's log; "
                                      "rerun with resend=true only if the office did not receive it."))
    log.info("delivery %s: sent %s, already sent %s, uncertain %s", period, sent, skipped, uncertain)
    return {"status": "sent" if not uncertain else "uncertain", "sent": sent, "already_sent": skipped,
            "uncertain": uncertain}
