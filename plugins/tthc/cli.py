"""`tthc-scorecards`: the operators' command (outputs.md "Command line")."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from tthc.orchestration import embedded
from tthc.periods import Period

DEMO_PERIOD = "2025-09"
DEMO_DOSSIERS_PER_YEAR = 60_000
DEMO_SEED = 11821


def _period(value: str) -> str:
    try:
        return Period(value).code
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tthc-scorecards",
        description="Huế service-index scorecards (Chỉ số phục vụ người dân, doanh nghiệp): run the Airflow "
                    "pipeline, score indicators, generate a province, serve the national mock.",
        epilog="Connections come from the environment (AIRFLOW_CONN_TTHC_SOURCE, AIRFLOW_CONN_NATIONAL_PORTAL, "
               "AIRFLOW_CONN_WAREHOUSE, AIRFLOW_CONN_SMTP_DEFAULT, AIRFLOW_VAR_SCORECARD_OUTPUT_DIR); where none "
               "are set, the embedded default (SQLite files under $TTHC_HOME, default var/embedded) is used.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate a small province, run the nightly and monthly DAGs, "
                                       "print where the PDFs are (README command 1)")
    demo.add_argument("--period", type=_period, default=DEMO_PERIOD, help=f"month to report (default {DEMO_PERIOD})")
    demo.add_argument("--dossiers-per-year", type=int, default=DEMO_DOSSIERS_PER_YEAR,
                      help=f"scale of the generated province (default {DEMO_DOSSIERS_PER_YEAR})")

    run = sub.add_parser("run", help="run the extraction and the monthly DAG for one month (dag.test())")
    run.add_argument("--period", type=_period, required=True, help="YYYY-MM")
    run.add_argument("--send", action="store_true", help="e-mail the documents (default: write them only)")
    run.add_argument("--resend", action="store_true",
                     help="with --send: send again even though the delivery ledger says sent")
    run.add_argument("--reextract", action="store_true",
                     help="re-read the sources from the month's start (after a source was corrected)")

    backfill = sub.add_parser(
        "backfill", help="run the monthly DAG for every month of a range, oldest first (dag.test())",
        description="Reprocess a range of months through Airflow, one dag.test() run each, idempotently. "
                    "Nothing is e-mailed unless --send; a month already sent is never sent again unless "
                    "--resend. With the scheduler running, `airflow backfill create` does the same (docs/runbook.md).")
    backfill.add_argument("--from", dest="first", type=_period, required=True, help="first month, YYYY-MM")
    backfill.add_argument("--to", dest="last", type=_period, required=True, help="last month, YYYY-MM")
    backfill.add_argument("--send", action="store_true", help="deliver months not yet delivered")
    backfill.add_argument("--resend", action="store_true", help="with --send: deliver again months already sent")
    backfill.add_argument("--reextract", action="store_true",
                          help="re-read the sources from each month's start (after a source was corrected)")

    points = sub.add_parser("points", help="print the points the scoring rules give (6 decimals)",
                            description="points INDICATOR NUMERATOR DENOMINATOR, or "
                                        "points PAYMENT A_NUM A_DEN B_NUM B_DEN C_NUM C_DEN")
    points.add_argument("indicator")
    points.add_argument("numbers", nargs="+", type=float)

    sub.add_parser("generate", help="generate a province into a replica and a national store "
                                    "(options: tthc-scorecards generate --help)", add_help=False)
    sub.add_parser("national-mock", help="serve the national services mock over HTTP "
                                         "(options: tthc-scorecards national-mock --help)", add_help=False)
    return parser


def cmd_points(args) -> int:
    from tthc.indicators.scoring import points

    expected = 6 if args.indicator.upper() == "PAYMENT" else 2
    if len(args.numbers) != expected:
        print(f"points {args.indicator}: expected {expected} numbers, got {len(args.numbers)}", file=sys.stderr)
        return 2
    try:
        value = points(args.indicator.upper(), *args.numbers)
    except (KeyError, ValueError) as exc:
        print(f"points: {exc}", file=sys.stderr)
        return 2
    print(f"{value:.6f}")
    return 0


def _generate_embedded(home: embedded.EmbeddedHome, first: str, last: str, dossiers_per_year: int) -> None:
    """Generate the embedded province from the month before `first` through `last`, unless the
    existing one already covers that range at that scale."""
    from tthc.sim.generator import generate

    marker = home.root / "generated.json"
    if marker.exists() and home.source_db.exists():
        have = json.loads(marker.read_text())
        if (have.get("dossiers_per_year"), have.get("seed")) == (dossiers_per_year, DEMO_SEED) and \
                have.get("first", "9999-99") <= first and have.get("last", "0000-00") >= last:
            return
    home.root.mkdir(parents=True, exist_ok=True)
    for db in (home.source_db, home.national_db, home.warehouse_db):
        db.unlink(missing_ok=True)
    start, end = Period(first).previous().first_day, Period(last).next().first_day
    t0 = time.monotonic()
    generate(f"sqlite:///{home.source_db}", f"sqlite:///{home.national_db}", start, end, seed=DEMO_SEED,
             dossiers_per_year=dossiers_per_year)
    marker.write_text(json.dumps({"first": first, "last": last, "dossiers_per_year": dossiers_per_year,
                                  "seed": DEMO_SEED}))
    print(f"generated a province ({start}..{end}) in {time.monotonic() - t0:.1f} s: {home.root}")


def _embedded_national(home: embedded.EmbeddedHome, stack: ExitStack) -> None:
    """Serve the embedded national store on a free loopback port and point the connections at the
    embedded files for as long as the server runs (then the environment is as it was)."""
    from tthc.sim.national_mock import BackgroundServer, create_app

    server = BackgroundServer(create_app(f"sqlite:///{home.national_db}", embedded.DEMO_TOKEN))
    base_url = stack.enter_context(server)
    port = int(base_url.rsplit(":", 1)[1])
    applied = embedded.apply_defaults(embedded.connection_environment(home, port))
    stack.callback(lambda: [os.environ.pop(name, None) for name in applied])


def _months(first: str, last: str) -> list[str]:
    out, p = [], Period(first)
    while p.code <= last:
        out.append(p.code)
        p = p.next()
    return out


def _run(periods: list[str], conf: dict, nightly: bool, dossiers_per_year: int = DEMO_DOSSIERS_PER_YEAR) -> Path:
    """Run the monthly DAG (after the month's last night, if asked) for each period, in order."""
    home = embedded.default_home()
    embedded.apply_defaults(embedded.airflow_environment(home))
    with ExitStack() as stack:
        if embedded.uses_embedded_sources():
            _generate_embedded(home, periods[0], periods[-1], dossiers_per_year)
            _embedded_national(home, stack)
        from tthc.orchestration.airflow_runner import migrate_metadata_db, run_dag

        migrate_metadata_db()
        for period in periods:
            p = Period(period)
            if nightly:
                run_dag("tthc_nightly", p.end)  # the month's last night
            run_dag("tthc_monthly_scorecards", p.end, conf)
        from tthc.orchestration.connections import output_dir

        return output_dir()


def cmd_demo(args) -> int:
    t0 = time.monotonic()
    folder = _run([args.period], {"send": False}, nightly=True, dossiers_per_year=args.dossiers_per_year) / args.period
    pdfs = sorted((folder / "scorecards").glob("*.pdf"))
    print(f"\nDone in {time.monotonic() - t0:.0f} s. The month {args.period} is in {folder}")
    print(f"  ranked lists: {folder / 'ranking.pdf'} and ranking.xlsx")
    print(f"  scorecards:   {folder / 'scorecards'}/ ({len(pdfs)} PDFs, one per unit)")
    print("  data:         indicators.csv, unit_scores.csv, score_changes.csv, violations/, quality.json, "
          "manifest.json")
    return 0


def _report(root: Path, periods: list[str]) -> None:
    for period in periods:
        manifest = json.loads((root / period / "manifest.json").read_text(encoding="utf-8"))
        print(f"{period}: written to {root / period}; delivery: {manifest['delivery']['status']}")


def _conf(args) -> dict:
    return {"send": args.send, "resend": args.resend, "reextract": args.reextract}


def cmd_run(args) -> int:
    _report(_run([args.period], _conf(args), nightly=False), [args.period])
    return 0


def cmd_backfill(args) -> int:
    if args.first > args.last:
        print(f"backfill: --from {args.first} is after --to {args.last}", file=sys.stderr)
        return 2
    periods = _months(args.first, args.last)
    _report(_run(periods, _conf(args), nightly=False), periods)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "generate":
        from tthc.sim.generator import main as generate_main

        return generate_main(argv[1:]) or 0
    if argv and argv[0] == "national-mock":
        from tthc.sim.national_mock import main as mock_main

        return mock_main(argv[1:]) or 0
    args = build_parser().parse_args(argv)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    commands = {"demo": cmd_demo, "run": cmd_run, "backfill": cmd_backfill, "points": cmd_points}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
