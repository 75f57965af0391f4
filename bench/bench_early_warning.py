"""Benchmark: the nightly early warning's extra time at province-year scale.

    .venv/bin/python bench/bench_early_warning.py [--dossiers-per-year 1200000]
        [--start 2025-01-01] [--end 2025-12-31] [--workdir /tmp/bench_early_warning] [--reuse]

Generates the province's dossiers from --start to --end with the simulator, stages them
with the real extraction (national feeds through the extraction's own row mappings), then
runs tthc.insights.early_warning.send_warnings for three consecutive nights in mid-December against a
real SMTP server on loopback (aiosmtpd), every unit having an address: the first night
(Monday) announces everything and sends the office its weekly summary with the month-end
forecast; the next two nights only what is new. Prints each night's time and counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import socket
import time
from pathlib import Path

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from bench_indicators import stage_national

from tthc.config import Recipients
from tthc.extract.provincial import extract_all
from tthc.insights.early_warning import WarningRules, early_warning_ledger, select_warnings, send_warnings
from tthc.orchestration.connections import SmtpEndpoint
from tthc.sim.generator import generate
from tthc.warehouse import schema as wh


class CountingInbox:
    def __init__(self) -> None:
        self.messages = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages += 1
        return "250 OK"


def bench_warehouse(args: argparse.Namespace) -> sa.Engine:
    """The workdir's warehouse as it is (--reuse), or one built afresh from the generator."""
    if args.reuse:
        return sa.create_engine(f"sqlite:///{args.workdir / 'warehouse.db'}")
    return build(args.workdir, args.start, args.end, args.dossiers_per_year)


def build(workdir: Path, start: dt.date, end: dt.date, per_year: int) -> sa.Engine:
    workdir.mkdir(parents=True, exist_ok=True)
    replica, national = workdir / "replica.db", workdir / "national.db"
    for f in (replica, national, workdir / "warehouse.db"):
        f.unlink(missing_ok=True)
    t = time.perf_counter()
    summary = generate(f"sqlite:///{replica}", f"sqlite:///{national}", start, end, seed=11,
                       dossiers_per_year=per_year)
    print(f"generated {summary.rows.get('dossiers', 0):,} dossiers in {time.perf_counter() - t:.0f} s")
    warehouse = sa.create_engine(f"sqlite:///{workdir / 'warehouse.db'}")
    wh.create_all(warehouse)
    t = time.perf_counter()
    extract_all(sa.create_engine(f"sqlite:///{replica}"), warehouse, "bench",
                dt.datetime.combine(end, dt.time()) + dt.timedelta(days=1), dt.timedelta(0))
    stage_national(sa.create_engine(f"sqlite:///{national}"), warehouse)
    print(f"staged in {time.perf_counter() - t:.0f} s")
    return warehouse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers-per-year", type=int, default=1_200_000)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2025, 12, 31))
    parser.add_argument("--first-night", type=dt.date.fromisoformat, default=dt.date(2025, 12, 15),
                        help="a Monday: the office's weekly summary is sent that night")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_early_warning"))
    parser.add_argument("--reuse", action="store_true", help="use the workdir's warehouse as it is")
    args = parser.parse_args(argv)
    warehouse = bench_warehouse(args)
    early_warning_ledger.drop(warehouse, checkfirst=True)
    with warehouse.connect() as conn:
        dossiers = conn.execute(sa.select(sa.func.count()).select_from(wh.stg_dossiers)).scalar_one()
        units = [u for (u,) in conn.execute(sa.select(wh.stg_units.c.unit_code))]
    print(f"warehouse: {dossiers:,} dossiers, {len(units)} units")
    recipients = Recipients(office_to=["vanphong@hue.example.vn"], sender="tthc@hue.example.vn",
                            data_engineers=["de@hue.example.vn"], send_to_units=True,
                            units={u: f"unit{i}@hue.example.vn" for i, u in enumerate(units)})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = CountingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = SmtpEndpoint("127.0.0.1", port, None, None, False)
        rules = WarningRules(office_weekday=args.first_night.weekday())
        night = dt.datetime.combine(args.first_night, dt.time())
        t = time.perf_counter()
        select_warnings(warehouse, night, rules=rules)
        print(f"selection alone (first night): {time.perf_counter() - t:.2f} s")
        for n in range(3):
            cut_off = night + dt.timedelta(days=n)
            before = inbox.messages
            t = time.perf_counter()
            run = send_warnings(warehouse, cut_off, smtp, recipients, rules)
            took = time.perf_counter() - t
            print(f"{cut_off:%a %Y-%m-%d}: {took:6.2f} s  candidates {run.candidates:,}  new {run.new_items:,}  "
                  f"units mailed {len(run.mailed_units)}  office summary {run.office_summary_sent}  "
                  f"mails {inbox.messages - before}")
    finally:
        controller.stop()
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
