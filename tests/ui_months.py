"""Two computed months of a tiny province, as the UI tests read them: warehouse and month folders.

The warehouse is filled by the real indicator engine (tests/warehouse_builder.py); September
also goes through the real quality gate, and August through the real delivery to the office,
over a real SMTP server on loopback, so the delivery ledger is the one the pipeline writes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import socket
from pathlib import Path

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from warehouse_builder import DEPT, Warehouse, at

from tthc.delivery.office import deliver_month
from tthc.orchestration.connections import SmtpEndpoint
from tthc.orchestration.runtime import MONTHLY_DAG
from tthc.quality.gate import run_gate
from tthc.reports.month_folder import write_month_folder
from tthc.warehouse import schema as wh

AUGUST, SEPTEMBER = "2025-08", "2025-09"
COMMUNES = ("000.21.31.H57", "000.22.31.H57")
ACTIVE = (DEPT, *COMMUNES)
NAMES = {DEPT: "Sở Tư pháp", COMMUNES[0]: "UBND phường Phú Hội", COMMUNES[1]: "UBND xã Hương Phong"}


class _Accept:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        return "250 OK"


def _smtp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_months(root: Path) -> tuple[Path, Path]:
    """(warehouse file, output root) holding August and September 2025."""
    root.mkdir(parents=True, exist_ok=True)
    db = root / "warehouse.db"
    url = f"sqlite:///{db}"
    engine = sa.create_engine(url)
    w = Warehouse(engine)
    for code in ACTIVE:
        w.unit(code, tier="department" if code == DEPT else "commune", name=NAMES[code])
    w.procedure("1.001")
    for month in (8, 9):
        for i, unit in enumerate(ACTIVE):
            # the later a unit's dossiers are completed, the more of them are late: a real ranking,
            # which changes from August to September
            lateness = (i + month) % 3
            for j in range(4):
                w.dossier(
                    f"{unit}-{month}-{j}",
                    unit,
                    "1.001",
                    received_at=at(2025, month, 2 + j, 9),
                    due_at=at(2025, month, 13, 17),
                    completed_at=at(2025, month, 8 + 4 * lateness + j, 10),
                )
    with engine.begin() as conn:
        conn.execute(
            sa.insert(wh.etl_watermarks).values(
                stream="tthc_source.dossiers",
                watermark=dt.datetime(2025, 9, 30, 23),
                updated_at=dt.datetime(2025, 9, 30, 23),
            )
        )
    out = root / "out"
    w.compute(AUGUST)
    write_month_folder(engine, AUGUST, out, dt.datetime(2025, 9, 1, 2, 0), workers=1)
    port = _smtp_port()
    controller = Controller(_Accept(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        deliver_month(engine, out / AUGUST, AUGUST, SmtpEndpoint("127.0.0.1", port, None, None, False), send_mail=True)
    finally:
        controller.stop()
    run_gate(engine, url, MONTHLY_DAG, SEPTEMBER, dt.datetime(2025, 10, 1, 0, 5))
    w.compute(SEPTEMBER)
    write_month_folder(engine, SEPTEMBER, out, dt.datetime(2025, 10, 1, 2, 0), workers=1)
    engine.dispose()
    return db, out


def unit_scores(out: Path, period: str) -> list[dict]:
    """The month's unit_scores.csv, as rows."""
    return list(csv.DictReader(io.StringIO((out / period / "unit_scores.csv").read_text(encoding="utf-8"))))
