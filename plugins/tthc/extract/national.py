"""Incremental extraction from the national services (`national_portal`, sources.md §2).

Each feed is read in time slices (`NationalClient.iter_items`): every answer is the first
page from `since`, and the next `since` is the last item's `updated_at`, so no request
reaches deep into the feed and a pass costs in proportion to what it reads. Records updated
while we page move to the end of the order, so the next pass's `since` is the time this
pass started less a safety margin — never the greatest `updated_at` seen — and versions are
de-duplicated by key, keeping the greatest `updated_at` (as an instant), then the later in
the feed. Retries back off and honour Retry-After; nothing is committed unless the whole
pass succeeded.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc.extract.timeparse import parse_bool, parse_date, parse_int, parse_text, parse_time
from tthc.memory import cyclic_gc_paused
from tthc.quality import pending
from tthc.warehouse import schema as wh
from tthc.warehouse.db import dialect_insert, insert_tuples, refresh_statistics

log = logging.getLogger(__name__)
PAGE_SIZE = 500
MICROSECOND = dt.timedelta(microseconds=1)  # a datetime's finest step (finer service times fall within it)
RETRY_STATUSES = {429, 500, 502, 503, 504}


class NationalUnavailable(RuntimeError):
    """A national feed could not be read completely; nothing of the pass was committed."""


@dataclass(frozen=True)
class Feed:
    name: str  # stream name and endpoint path
    path: str
    params: dict
    key: tuple[str, ...]  # item fields forming the record key
    table: sa.Table
    to_row: Callable[[dict], dict]  # item -> staged row (without feed_seq)


def _decision(item: dict) -> dict:
    return {
        "decision_no": parse_text(item.get("decision_no")),
        "ministry": parse_text(item.get("ministry")),
        "signed_on": parse_date(item.get("signed_on")),
        "effective_on": parse_date(item.get("effective_on")),
        "posted_at": parse_time(item.get("posted_at")),
        "updated_at": parse_time(item.get("updated_at")),
        "_procedure_codes": item.get("procedure_codes") if isinstance(item.get("procedure_codes"), list) else [],
    }


def _publication(item: dict) -> dict:
    return {
        "provincial_decision_no": parse_text(item.get("provincial_decision_no")),
        "procedure_code": parse_text(item.get("procedure_code")),
        "published_at": parse_time(item.get("published_at")),
        "complete": parse_bool(item.get("complete")),
        "fee_declared": parse_bool(item.get("fee_declared")),
        "updated_at": parse_time(item.get("updated_at")),
    }


def _synced(item: dict) -> dict:
    return {
        "ma_ho_so": parse_text(item.get("MaHoSo")),
        "ma_tthc": parse_text(item.get("MaTTHC")),
        "ma_don_vi": parse_text(item.get("MaDonVi")),
        "trang_thai_ho_so": parse_int(item.get("TrangThaiHoSo")),
        "ngay_tiep_nhan": parse_time(item.get("NgayTiepNhan")),
        "ngay_hen_tra": parse_time(item.get("NgayHenTra")),
        "ngay_co_ket_qua": parse_time(item.get("NgayCoKetQua")),
        "dong_bo_luc": parse_time(item.get("DongBoLuc")),
        "updated_at": parse_time(item.get("updated_at")),
    }


def _feedback(item: dict) -> dict:
    return {
        "feedback_id": parse_text(item.get("feedback_id")),
        "unit_code": parse_text(item.get("unit_code")),
        "received_at": parse_time(item.get("received_at")),
        "forwarded_at": parse_time(item.get("forwarded_at")),
        "answered_at": parse_time(item.get("answered_at")),
        "published_at": parse_time(item.get("published_at")),
        "rating": parse_text(item.get("rating")),
        "repeat_of": parse_text(item.get("repeat_of")),
        "dossier_code": parse_text(item.get("dossier_code")),
        "updated_at": parse_time(item.get("updated_at")),
    }


def _rating(item: dict) -> dict:
    return {
        "ma_ho_so": parse_text(item.get("MaHoSo")),
        "rated_at": parse_time(item.get("rated_at")),
        "rating": parse_int(item.get("rating")),
        "updated_at": parse_time(item.get("updated_at")),
    }


# Item fields holding times or dates, per feed: a value that is present but unreadable is
# staged as NULL (indicators.md "Nulls") and reported, never silently blanked.
TIME_FIELDS: dict[str, tuple[str, ...]] = {
    "ministry_decisions": ("signed_on", "effective_on", "posted_at", "updated_at"),
    "national_publications": ("published_at", "updated_at"),
    "synced_dossiers": ("NgayTiepNhan", "NgayHenTra", "NgayCoKetQua", "DongBoLuc", "updated_at"),
    "feedback": ("received_at", "forwarded_at", "answered_at", "published_at", "updated_at"),
    "dossier_ratings": ("rated_at", "updated_at"),
}
DATE_FIELDS = frozenset({"signed_on", "effective_on"})


def unreadable_times(feed_name: str, item: dict) -> list[str]:
    """The item's time fields that carry a value (not null, not blank) no format reads."""
    bad = []
    for name in TIME_FIELDS[feed_name]:
        value = item.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        parse = parse_date if name in DATE_FIELDS else parse_time
        if parse(value) is None:
            bad.append(f"{name}={json.dumps(value, ensure_ascii=False)[:40]}")
    return bad


def feeds(province: str) -> list[Feed]:
    p = {"province": province}
    return [
        Feed("ministry_decisions", "/api/v1/ministry-decisions", {}, ("decision_no",),
             wh.stg_ministry_decisions, _decision),
        Feed("national_publications", "/api/v1/national-publications", p,
             ("provincial_decision_no", "procedure_code"), wh.stg_national_publications, _publication),
        Feed("synced_dossiers", "/api/v1/synced-dossiers", p, ("ma_ho_so",), wh.stg_synced_dossiers, _synced),
        Feed("feedback", "/api/v1/feedback", p, ("feedback_id",), wh.stg_feedback, _feedback),
        Feed("dossier_ratings", "/api/v1/dossier-ratings", p, ("ma_ho_so", "rated_at"),
             wh.stg_dossier_ratings, _rating),
    ]


@dataclass
class NationalClient:
    base_url: str
    token: str
    timeout: float = 30.0
    max_retries: int = 5
    backoff_seconds: float = 0.5
    max_retry_after: float = 60.0
    page_size: int = PAGE_SIZE
    session: requests.Session = field(default_factory=requests.Session)

    def get_page(self, path: str, params: dict) -> dict:
        url = self.base_url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {self.token}"}
        for attempt in range(self.max_retries + 1):
            try:
                resp = self.session.get(url, params=params, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                problem = f"{exc.__class__.__name__}"
            else:
                if resp.status_code == 200:
                    try:
                        body = resp.json()
                    except ValueError:
                        problem = "an answer that is not JSON"
                    else:
                        if isinstance(body, dict) and isinstance(body.get("items"), list):
                            return body
                        problem = "an answer without an items list"
                elif resp.status_code in (401, 403):
                    raise NationalUnavailable(
                        f"national_portal refused the token ({resp.status_code}) on {path}: "
                        "check the password of connection 'national_portal'")
                elif resp.status_code not in RETRY_STATUSES:
                    raise NationalUnavailable(f"national_portal answered {resp.status_code} on {path}")
                else:
                    problem = f"HTTP {resp.status_code}"
                    retry_after = resp.headers.get("Retry-After")
                    if retry_after and retry_after.strip().isdigit() and attempt < self.max_retries:
                        time.sleep(min(float(retry_after), self.max_retry_after))
                        continue
            if attempt < self.max_retries:
                time.sleep(self.backoff_seconds * 2**attempt)
        since = f" since {params['since']}" if "since" in params else ""
        raise NationalUnavailable(
            f"national_portal: {path} page {params.get('page')} failed after {self.max_retries + 1} "
            f"attempts (last: {problem}){since}")

    def _answer(self, feed: Feed, since: dt.datetime | None, page: int, page_size: int) -> dict:
        params = {**feed.params, "page": page, "page_size": page_size}
        if since is not None:
            params["since"] = since.isoformat() + "+07:00"
        return self.get_page(feed.path, params)

    def iter_items(self, feed: Feed, since: dt.datetime | None) -> Iterator[tuple[int, object]]:
        """Every item updated at or after `since`, in the feed's order, with its position in this pass.

        Time slices (sources.md §2: `since` is inclusive, items ordered by (updated_at, key)):
        each request is the first page from `since`; the next one starts at the page's last
        instant and skips the items of that instant it has already read, which come first.
        Only an instant that fills a page is read by offset (`_instant`). A record updated
        while we read moves to the end of the order, where this pass meets it again; the
        next pass (since = this pass's start − margin) gets it anyway.
        """
        position, page, read_at_since = 0, 1, Counter()
        while True:
            items = self._answer(feed, since, page, self.page_size)["items"]
            start = 0
            while start < len(items) and read_at_since[ident := _identity(feed, items[start])] > 0:
                read_at_since[ident] -= 1
                start += 1
            for item in items[start:]:
                yield position, item
                position += 1
            if len(items) < self.page_size:
                return
            last, run_start = _last_instant(items)
            if last is not None and run_start > 0 and (since is None or last > since):
                since, page = last, 1
                read_at_since = Counter(_identity(feed, item) for item in items[run_start:])
            elif last is not None and (since is None or last >= since):
                read, first = Counter(_identity(feed, item) for item in items), position
                for offset, item in self._instant(feed, last, read):  # positions in the feed's order
                    yield first + offset, item
                    position = max(position, first + offset + 1)
                since, page, read_at_since = last + MICROSECOND, 1, Counter()
            else:  # no readable time on the page (or one before `since`): nothing to slice at
                page, read_at_since = page + 1, Counter()

    def _instant(self, feed: Feed, moment: dt.datetime, read: Counter) -> Iterator[tuple[int, object]]:
        """The items updated at `moment`, an instant that fills a page, except those in `read`,
        with their offsets in the instant.

        By offset within the instant, last page first: a record updated meanwhile moves to the
        end of the order, which shifts only records behind it, already read; forwards, a shift
        would carry a record still to read into a page already read and lose it. The items after
        the instant are counted first: what is updated between the two counts only makes `held`
        larger than the instant, never smaller (the surplus, read twice, is de-duplicated).
        """
        after = self._total(feed, moment + MICROSECOND)
        held = self._total(feed, moment) - after
        for page in range(-(-held // self.page_size), 0, -1):
            items = self._answer(feed, moment, page, self.page_size)["items"]
            for offset, item in enumerate(items, (page - 1) * self.page_size):
                if offset >= held:
                    break  # after the instant: the next slice reads it
                ident = _identity(feed, item)
                if read[ident] > 0:
                    read[ident] -= 1
                    continue
                yield offset, item

    def _total(self, feed: Feed, since: dt.datetime) -> int:
        total = self._answer(feed, since, 1, 1).get("total")
        if not isinstance(total, int) or isinstance(total, bool):
            raise NationalUnavailable(f"national_portal: {feed.path} answered without a total (sources.md §2)")
        return total


def _moment(item: object) -> dt.datetime | None:
    return parse_time(item.get("updated_at")) if isinstance(item, dict) else None


def _last_instant(items: list) -> tuple[dt.datetime | None, int]:
    """A page's last readable `updated_at`, and where the run of items from that instant on
    begins: just after the last item read at an earlier instant (0 if the page holds none)."""
    last = None
    for index in range(len(items) - 1, -1, -1):
        moment = _moment(items[index])
        if moment is None:
            continue
        if last is None:
            last = moment
        elif moment < last:
            return last, index + 1
    return last, 0


def _identity(feed: Feed, item: object) -> object:
    """What tells an item read already from another: its instant and record key, or its whole
    text when it has no readable key or time (versions of a record share its key, not its instant)."""
    if isinstance(item, dict):
        row = feed.to_row(item)
        key = tuple(row[k] for k in feed.key)
        if row["updated_at"] is not None and None not in key:
            return (row["updated_at"], *key)
    return json.dumps(item, sort_keys=True, default=str)


@dataclass(frozen=True)
class FeedLoad:
    stream: str
    since: dt.datetime | None
    items: int
    staged: int
    unreadable: list[dict]  # items without a usable key: quarantined, never staged


def _newer(row: dict, current: dict | None) -> bool:
    """Among versions: the greatest updated_at wins, then the later in the feed's order;
    an unreadable updated_at never beats a readable one."""
    if current is None:
        return True
    new, old = row["updated_at"], current["updated_at"]
    if new is None or old is None:
        return old is None and (new is not None or row["feed_seq"] > current["feed_seq"])
    return (new, row["feed_seq"]) > (old, current["feed_seq"])


def load_feed(client: NationalClient, warehouse: Engine, feed: Feed, run_key: str,
              pass_started: dt.datetime, margin: dt.timedelta, reread_from: dt.datetime | None = None) -> FeedLoad:
    """One pass over a feed; `reread_from` asks for everything updated since then again."""
    stream = f"national.{feed.name}"
    with warehouse.connect() as conn:
        since = conn.execute(sa.select(wh.etl_watermarks.c.watermark)
                             .where(wh.etl_watermarks.c.stream == stream)).scalar_one_or_none()
    if since is not None and reread_from is not None:
        since = min(since, reread_from - margin)
    # the pass holds a province-year's records in one dict: quadratic under the collector's
    # full passes (39 of them, 16 s of 86 s CPU for 1.3 M records); records hold no cycles
    with cyclic_gc_paused():
        latest: dict[tuple, dict] = {}
        unreadable: list[dict] = []
        bad_time_items: dict[str, str] = {}  # record key -> which fields, for the quarantine
        seq_base = int(pass_started.timestamp()) * 10_000_000
        count = 0
        for position, item in client.iter_items(feed, since):
            count += 1
            if not isinstance(item, dict):
                unreadable.append({"position": position, "problem": "item is not an object",
                                   "raw": json.dumps(item, ensure_ascii=False)[:200]})
                continue
            row = feed.to_row(item)
            key = tuple(row.get(k) for k in feed.key)
            if any(k is None for k in key):
                unreadable.append({"position": position, "problem": f"key {'/'.join(feed.key)} null or empty",
                                   "raw": json.dumps(item, ensure_ascii=False)[:200]})
                continue
            bad_times = unreadable_times(feed.name, item)
            if bad_times:
                bad_time_items["/".join(map(str, key))] = "unreadable time: " + ", ".join(bad_times)
            row["feed_seq"] = seq_base + position
            if _newer(row, latest.get(key)):
                latest[key] = row
        staged = _stage(warehouse, feed, list(latest.values()), stream, run_key, since, pass_started - margin,
                        count, unreadable, bad_time_items)
    log.info("%s: %d items since %s, %d records staged, %d unreadable, %d with unreadable times", stream, count,
             since, staged, len(unreadable), len(bad_time_items))
    return FeedLoad(stream, since, count, staged, unreadable)


def _stage(warehouse: Engine, feed: Feed, rows: list[dict], stream: str, run_key: str,
           since: dt.datetime | None, next_since: dt.datetime, read: int, unreadable: list[dict],
           bad_time_items: dict[str, str]) -> int:
    table = feed.table
    keys = [c.name for c in table.primary_key.columns]
    columns = [c.name for c in table.columns]
    # In key order, the key's index is written page after page, not at random: a province-year's
    # feed outgrows the database's cache, and random writes made its load 7x slower for 4.4x rows.
    rows = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    now = dt.datetime.now()
    with warehouse.begin() as conn:
        stmt = dialect_insert(conn, table)
        newer = sa.or_(
            table.c.updated_at.is_(None),
            sa.and_(stmt.excluded.updated_at.is_not(None), stmt.excluded.updated_at > table.c.updated_at),
            sa.and_(stmt.excluded.updated_at == table.c.updated_at, stmt.excluded.feed_seq > table.c.feed_seq),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={c.name: stmt.excluded[c.name] for c in table.columns
                                       if c.name not in keys}, where=newer)
        insert_tuples(conn, table, columns, ([r[c] for c in columns] for r in rows), statement=stmt)
        if feed.name == "ministry_decisions":
            _stage_decision_procedures(conn, rows)
        if since is None:
            pending.note_whole_table(conn, table)
        else:
            pending.note_rows(conn, table, rows)
        refresh_statistics(conn, table, len(rows))
        load_id = f"{run_key}/{stream}"
        conn.execute(sa.delete(wh.etl_loads).where(wh.etl_loads.c.load_id == load_id))
        conn.execute(sa.insert(wh.etl_loads).values(
            load_id=load_id, stream=stream, run_key=run_key, lower_bound=since, upper_bound=next_since,
            rows_read=read, rows_staged=len(rows), rows_quarantined=len(unreadable), committed_at=now))
        _quarantine_unreadable(conn, stream, run_key, unreadable, now)
        _quarantine_bad_times(conn, stream, run_key, bad_time_items, now)
        mark = max(next_since, since) if since is not None else next_since
        stmt = dialect_insert(conn, wh.etl_watermarks).values(stream=stream, watermark=mark, updated_at=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=["stream"],
                                                set_={"watermark": mark, "updated_at": now}))
    return len(rows)


def _stage_decision_procedures(conn, decisions: list[dict]) -> None:
    """The decision's procedure list as pairs; re-derived whenever a decision version is staged."""
    t, d = wh.stg_ministry_decision_procedures, wh.stg_ministry_decisions
    for decision in decisions:
        no = decision["decision_no"]
        current = conn.execute(sa.select(d.c.feed_seq).where(d.c.decision_no == no)).scalar_one_or_none()
        if current != decision["feed_seq"]:
            continue  # an older version than the staged one: its list is not the record's
        conn.execute(sa.delete(t).where(t.c.decision_no == no))
        codes = sorted({c for c in decision["_procedure_codes"] if isinstance(c, str) and c.strip()})
        if codes:
            conn.execute(sa.insert(t), [{"decision_no": no, "procedure_code": c} for c in codes])


# Checks made while reading a feed (the staged tables cannot show them afterwards); their
# quarantine keys are "<run key>#<position or record key>", so the gate reports them per run.
ITEM_UNREADABLE, TIME_UNREADABLE = "national_item_unreadable", "national_time_unreadable"


def _quarantine_unreadable(conn, stream: str, run_key: str, unreadable: list[dict], now: dt.datetime) -> None:
    """Items without a usable key are kept for the engineers, never staged or silently dropped."""
    _quarantine_items(conn, ITEM_UNREADABLE, stream, now,
                      {f"{run_key}#{bad['position']}": f"{bad['problem']}: {bad['raw']}" for bad in unreadable})


def _quarantine_bad_times(conn, stream: str, run_key: str, bad: dict[str, str], now: dt.datetime) -> None:
    """Records staged with an unreadable time as NULL: reported, they stay in the populations."""
    _quarantine_items(conn, TIME_UNREADABLE, stream, now, {f"{run_key}#{k}": v for k, v in bad.items()})


def _quarantine_items(conn, check: str, stream: str, now: dt.datetime, details: dict[str, str]) -> None:
    q = wh.quality_quarantine
    rows = [{"check_name": check, "table_name": stream, "item_key": key, "severity": "warning", "detail": detail,
             "first_seen_at": now, "last_seen_at": now} for key, detail in details.items()]
    for i in range(0, len(rows), 5000):
        stmt = dialect_insert(conn, q)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["check_name", "table_name", "item_key"],
            set_={"detail": stmt.excluded.detail, "last_seen_at": stmt.excluded.last_seen_at}), rows[i : i + 5000])
