"""Build small hand-made warehouses for the indicator tests, on SQLite or PostgreSQL.

Works on any warehouse engine: `sqlite_engine(tmp_path)` here, or PostgreSQL through the
`pg_database` fixture of conftest.py. Rows go straight into the staged tables (the contract
the indicator engine reads), with defaults that keep each test down to the columns it is
about:

    wh = Warehouse(engine)
    wh.unit("U1")
    wh.procedure("P1")
    wh.dossier("D1", "U1", "P1", received_at=at(2025, 3, 3, 9), due_at=at(2025, 3, 10, 17))
    res = wh.compute("2025-03")            # {(unit, indicator): (numerator, denominator)}
"""

from __future__ import annotations

import datetime as dt
import itertools

import sqlalchemy as sa

from tthc.indicators.engine import compute_period
from tthc.indicators.tables import ensure_tables, ind_results, ind_unit_scores, ind_violations
from tthc.warehouse import schema

RUN_STARTED = dt.datetime(2026, 11, 1, 2, 0)
DEPT = "000.00.10.H57"
UPDATED = dt.datetime(2025, 1, 1)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second)


def sqlite_engine(tmp_path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")


class Warehouse:
    """A warehouse holding only the rows a test adds."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        schema.create_all(engine)
        ensure_tables(engine)
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)

    def _insert(self, table: sa.Table, **row) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(table), [row])

    def reset_results(self) -> None:
        with self.engine.begin() as conn:
            for t in (ind_results, ind_unit_scores, ind_violations):
                conn.execute(sa.delete(t))

    # --- provincial replica ------------------------------------------------------------
    def unit(self, code: str, tier: str = "commune", name: str | None = None,
             valid_from: dt.date = dt.date(2020, 1, 1), valid_to: dt.date | None = None) -> str:
        self._insert(schema.stg_units, unit_code=code, name=name or f"Đơn vị {code}", tier=tier,
                     parent_code=None, valid_from=valid_from, valid_to=valid_to, updated_at=at(2024, 1, 1))
        return code

    def procedure(self, code: str, owner: str = DEPT, online_level: str | None = "none", has_fee=False,
                  is_certification=False, has_eform=False, reuse_eligible=False,
                  published=(10, "working_day"), configured=(10, "working_day")) -> str:
        self._insert(schema.stg_procedures, procedure_code=code, name=f"Thủ tục {code}", field="Hộ tịch",
                     owner_unit_code=owner, authority_tier="commune", online_level=online_level,
                     has_fee=has_fee, is_certification=is_certification, has_eform=has_eform,
                     reuse_eligible=reuse_eligible, published_duration=published[0],
                     published_duration_unit=published[1], configured_duration=configured[0],
                     configured_duration_unit=configured[1], updated_at=at(2024, 1, 1))
        return code

    def dossier(self, code: str, unit: str, procedure: str, received_at: dt.datetime | None,
                status: int = 4, submitted_at: dt.datetime | None = None, due_at: dt.datetime | None = None,
                completed_at: dt.datetime | None = None, returned_at: dt.datetime | None = None,
                channel: int = 1, origin: str = "provincial", result_format: str | None = None,
                inputs_digitized=False, result_digitized=False, reused_documents: int | None = 0,
                personal_store_linked=False, citizen_data_used=False) -> str:
        self._insert(schema.stg_dossiers, dossier_code=code, procedure_code=procedure, unit_code=unit,
                     channel=channel, origin=origin, status=status,
                     submitted_at=submitted_at or received_at, received_at=received_at, due_at=due_at,
                     completed_at=completed_at, returned_at=returned_at, result_format=result_format,
                     inputs_digitized=inputs_digitized, result_digitized=result_digitized,
                     reused_documents=reused_documents, personal_store_linked=personal_store_linked,
                     citizen_data_used=citizen_data_used, updated_at=UPDATED)
        return code

    def event(self, dossier_code: str, event_type: str, occurred_at: dt.datetime, unit: str = "U1") -> None:
        self._insert(schema.stg_dossier_events, event_id=next(self._ids), dossier_code=dossier_code,
                     event_type=event_type, occurred_at=occurred_at, unit_code=unit, recorded_at=occurred_at)

    def apology(self, dossier_code: str, issued_at: dt.datetime, new_due_at: dt.datetime | None) -> None:
        self._insert(schema.stg_apologies, apology_id=next(self._ids), dossier_code=dossier_code,
                     issued_at=issued_at, new_due_at=new_due_at, recorded_at=issued_at)

    def payment(self, payment_id: str, dossier_code: str, method: str = "online", status: str = "success",
                gateway: str | None = "provincial_portal", paid_at: dt.datetime | None = None) -> None:
        self._insert(schema.stg_payments, payment_id=payment_id, dossier_code=dossier_code, amount_vnd=50000,
                     method=method, gateway=gateway, status=status, paid_at=paid_at, updated_at=UPDATED)

    def announcement(self, announcement_id: int, decision_no: str | None, owner: str = DEPT,
                     info_received_on: dt.date | None = None, submitted_on: dt.date | None = None,
                     signed_on: dt.date | None = None, provincial_decision_no: str | None = None) -> None:
        self._insert(schema.stg_procedure_announcements, announcement_id=announcement_id,
                     ministry_decision_no=decision_no, owner_unit_code=owner,
                     info_received_on=info_received_on, submitted_on=submitted_on, signed_on=signed_on,
                     provincial_decision_no=provincial_decision_no, updated_at=UPDATED)

    def exclude(self, dossier_code: str, check_name: str = "timestamps_out_of_order") -> None:
        self._insert(schema.quality_excluded_dossiers, dossier_code=dossier_code, check_name=check_name)

    # --- national services (staged: latest version per key, local naive times) ---------
    def decision(self, decision_no: str, effective_on: dt.date | None, procedure_codes: list[str],
                 signed_on: dt.date | None = None) -> None:
        self._insert(schema.stg_ministry_decisions, decision_no=decision_no, ministry="Bộ Tư pháp",
                     signed_on=signed_on, effective_on=effective_on, posted_at=None,
                     updated_at=UPDATED, feed_seq=next(self._seq))
        for code in dict.fromkeys(procedure_codes):
            self._insert(schema.stg_ministry_decision_procedures, decision_no=decision_no,
                         procedure_code=code)

    def publication(self, decision_no: str, procedure_code: str, published_at: dt.datetime | None,
                    complete=True, fee_declared=True, updated_at: dt.datetime = UPDATED) -> None:
        self._insert(schema.stg_national_publications, provincial_decision_no=decision_no,
                     procedure_code=procedure_code, published_at=published_at, complete=complete,
                     fee_declared=fee_declared, updated_at=updated_at, feed_seq=next(self._seq))

    def synced(self, dossier_code: str, status: int | None, due_at: dt.datetime | None = None,
               result_at: dt.datetime | None = None) -> None:
        self._insert(schema.stg_synced_dossiers, ma_ho_so=dossier_code, ma_tthc=None, ma_don_vi=None,
                     trang_thai_ho_so=status, ngay_tiep_nhan=None, ngay_hen_tra=due_at,
                     ngay_co_ket_qua=result_at, dong_bo_luc=None, updated_at=UPDATED,
                     feed_seq=next(self._seq))

    def feedback(self, feedback_id: str, unit: str | None, forwarded_at: dt.datetime | None,
                 published_at: dt.datetime | None = None, rating: str | None = None,
                 repeat_of: str | None = None, dossier_code: str | None = None) -> None:
        self._insert(schema.stg_feedback, feedback_id=feedback_id, unit_code=unit, received_at=forwarded_at,
                     forwarded_at=forwarded_at, answered_at=published_at, published_at=published_at,
                     rating=rating, repeat_of=repeat_of, dossier_code=dossier_code,
                     updated_at=UPDATED, feed_seq=next(self._seq))

    def rating(self, dossier_code: str, rated_at: dt.datetime, rating: int | None) -> None:
        self._insert(schema.stg_dossier_ratings, ma_ho_so=dossier_code, rated_at=rated_at, rating=rating,
                     updated_at=rated_at, feed_seq=next(self._seq))

    # --- results ------------------------------------------------------------------------
    def compute(self, period: str) -> dict[tuple[str, str], tuple[int, int]]:
        compute_period(self.engine, period, RUN_STARTED)
        return self.results(period)

    def results(self, period: str) -> dict[tuple[str, str], tuple[int, int]]:
        r = ind_results.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(r.unit_code, r.indicator_code, r.numerator, r.denominator)
                                .where(r.period == period))
            return {(u, c): (int(n), int(d)) for u, c, n, d in rows}

    def violations(self, period: str, indicator_code: str | None = None) -> set[tuple[str, str]]:
        v = ind_violations.c
        query = sa.select(v.unit_code, v.item_id).where(v.period == period)
        if indicator_code:
            query = query.where(v.indicator_code == indicator_code)
        with self.engine.connect() as conn:
            return {(u, i) for u, i in conn.execute(query)}

    def scores(self, period: str) -> dict[str, dict]:
        s = ind_unit_scores.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(ind_unit_scores).where(s.period == period)).mappings().all()
            return {row["unit_code"]: dict(row) for row in rows}


def populate_sample(wh: Warehouse) -> None:
    """A small province touching every indicator (March 2025), for cross-database comparisons."""
    d = dt.date
    wh.unit(DEPT, tier="department", name="Sở Tư pháp")
    wh.unit("000.00.31.H57", tier="district", name="UBND huyện A", valid_to=d(2025, 3, 15))
    wh.unit("000.21.31.H57", tier="commune", name="UBND phường Phú Hội")
    wh.unit("000.22.31.H57", tier="commune", name="UBND xã Hương Phong")
    wh.unit("000.99.31.H57", tier="commune", name="UBND xã cũ", valid_to=d(2024, 12, 31))
    wh.procedure("1.001", online_level="full", has_fee=True, has_eform=True, reuse_eligible=True)
    wh.procedure("1.002", online_level="partial", is_certification=True, published=(5, "day"))
    wh.procedure("1.003", online_level=None, configured=(12, "working_day"))
    units = ["000.21.31.H57", "000.22.31.H57", "000.00.31.H57", DEPT, "000.99.31.H57"]
    procs = ["1.001", "1.002", "1.003"]
    n = 0
    for day in range(1, 29, 3):
        for u_i, unit in enumerate(units):
            n += 1
            code = f"{unit}-2503{day:02d}-{n:04d}"
            received = at(2025, 3, day, 8 + u_i)
            proc = procs[(day + u_i) % 3]
            due = received + dt.timedelta(days=5 + (n % 4) * 3)
            done = received + dt.timedelta(days=3 + n % 9) if n % 5 else None
            wh.dossier(code, unit, proc, received_at=received, due_at=due, completed_at=done,
                       status=9 if done else (7 if n % 10 == 0 else 4), channel=1 + n % 3,
                       origin="specialized:x" if n % 4 == 0 else "provincial",
                       result_format=["electronic", "paper", "both", None][n % 4],
                       inputs_digitized=n % 2 == 0, result_digitized=n % 3 == 0, reused_documents=n % 3,
                       personal_store_linked=n % 4 == 1, citizen_data_used=n % 5 == 2)
            wh.event(code, "received", received + dt.timedelta(hours=n % 11))
            if n % 3 == 0:
                wh.event(code, "supplement_requested", received + dt.timedelta(days=1))
            if n % 7 == 0:
                wh.event(code, "supplement_requested", received + dt.timedelta(days=2))
                wh.event(code, "supplement_requested", received + dt.timedelta(days=2))  # duplicate
            if n % 10 == 0:
                wh.event(code, "withdrawn", received + dt.timedelta(days=4))
            if n % 2:
                wh.payment(f"PAY-{n}", code, method=["online", "cash"][n % 4 == 3],
                           gateway=[None, "provincial_portal", "national_platform"][n % 3],
                           status=["success",
                                   "refunded"][n % 9 == 0], paid_at=received + dt.timedelta(hours=2))
            if n % 6 == 0:
                wh.apology(code, due - dt.timedelta(hours=20 + n), due + dt.timedelta(days=3))
            if n % 3 != 1:
                wh.synced(code, 9 if done else 4, due_at=due, result_at=done)
            if n % 8 == 0:
                wh.rating(code, received + dt.timedelta(days=9), 1 + n % 5)
    wh.dossier("quarantined", "000.21.31.H57", "1.001", received_at=at(2025, 3, 3), due_at=at(2025, 3, 1))
    wh.exclude("quarantined")
    wh.decision("QD-1", effective_on=d(2025, 3, 20), procedure_codes=["1.001", "1.002", "9.999"])
    wh.announcement(1, "QD-1", info_received_on=d(2025, 3, 2), submitted_on=d(2025, 3, 6),
                    signed_on=d(2025, 3, 12), provincial_decision_no="10/QĐ-UBND")
    wh.announcement(2, "QD-1", info_received_on=d(2025, 3, 20), submitted_on=None, signed_on=d(2025, 3, 14))
    wh.publication("10/QĐ-UBND", "1.001", published_at=at(2025, 3, 19, 10), complete=True, fee_declared=True)
    wh.publication("10/QĐ-UBND", "1.002", published_at=at(2025, 3, 27, 10), complete=False)
    for i, (fwd, pub, rating) in enumerate([(at(2025, 3, 1), at(2025, 3, 10), "satisfied"),
                                            (at(2025, 3, 2), at(2025, 3, 25), "dissatisfied"),
                                            (at(2025, 3, 20), None, None),
                                            (at(2025, 3, 5), None, None)]):
        wh.feedback(f"FB-{i}", units[i % 3], forwarded_at=fwd, published_at=pub, rating=rating)
    wh.feedback("FB-R", None, forwarded_at=at(2025, 3, 26), repeat_of="FB-0")
