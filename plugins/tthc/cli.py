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

    def operator_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--retries", type=int, default=0, metavar="N",
                       help="retry a failing task N times (default 0: stop at the first failure and show it; "
                            "under the scheduler the DAGs keep their own retries)")
        p.add_argument("-v", "--verbose", action="store_true",
                       help="stream Airflow's full log to the terminal (it is always written to a file)")

    demo = sub.add_parser("demo", help="generate a small province, run the nightly and monthly DAGs, "
                                       "print where the PDFs are (README command 1)")
    demo.add_argument("--period", type=_period, default=DEMO_PERIOD, help=f"month to report (default {DEMO_PERIOD})")
    demo.add_argument("--dossiers-per-year", type=int, default=DEMO_DOSSIERS_PER_YEAR,
                      help=f"scale of the generated province (default {DEMO_DOSSIERS_PER_YEAR})")
    operator_options(demo)

    run = sub.add_parser("run", help="run the extraction and the monthly DAG for one month (dag.test())")
    run.add_argument("--period", type=_period, required=True, help="YYYY-MM")
    run.add_argument("--send", action="store_true", help="e-mail the documents (default: write them only)")
    run.add_argument("--resend", action="store_true",
                     help="with --send: send again even though the delivery ledger says sent")
    run.add_argument("--reextract", action="store_true",
                     help="re-read the sources from the month's start (after a source was corrected)")
    operator_options(run)

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
    operator_options(backfill)

    check = sub.add_parser("check", help="check every connection, the replica's tables, the national token, the "
                                         "warehouse, the output location and the config files (the preflight)",
                           description="The checks every run starts with (docs/runbook.md, 'Preflight messages'). "
                                       "Exit code 0 when a run could start, 1 otherwise.")
    check.add_argument("--send", action="store_true", help="also require a mail server that answers")

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


class Console:
    """One line per finished task; while scorecards render, their count (in place on a terminal)."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.planned: int | None = None
        self.rendered = 0
        self.render_seconds = 0.0

    def run_started(self, dag_id: str, period: str) -> None:
        self.planned, self.rendered, self.render_seconds = None, 0, 0.0
        print(f"{dag_id} {period}", file=self.out, flush=True)

    def _line(self, task: str, state: str, seconds: float | None, text: str) -> None:
        took = f"{seconds:6.1f} s" if seconds is not None else "       "
        print(f"  {task:<22} {state:<8} {took}  {text}".rstrip(), file=self.out, flush=True)

    def event(self, e: dict) -> None:
        state = {"success": "ok", "failed": "FAILED", "up_for_retry": "retrying"}[e["state"]]
        if e["state"] == "success" and e.get("planned") is not None:
            self.planned = e["planned"]
        if e["task"] == "render_scorecards" and e["state"] == "success":
            self.rendered += e.get("rendered") or 0
            self.render_seconds += e.get("seconds") or 0.0
            progress = f"{self.rendered}/{self.planned if self.planned is not None else '?'} scorecards"
            if self.tty:  # the count updates in place; the finished line stays
                print(f"\r  {'render_scorecards':<22} {'…':<8} {self.render_seconds:6.1f} s  {progress}", end="",
                      file=self.out, flush=True)
                if self.rendered == self.planned:
                    print(file=self.out)
            else:
                self._line(f"render_scorecards[{e['map_index']}]", state, e.get("seconds"), progress)
            return
        text = e.get("summary", "") if e["state"] == "success" else e.get("error", "").splitlines()[0]
        self._line(e["task"], state, e.get("seconds"), text)


def _log_file(home: embedded.EmbeddedHome, command: str) -> Path:
    folder = home.root / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}.log"


def _run(command: str, periods: list[str], conf: dict, nightly: bool, retries: int = 0, verbose: bool = False,
         dossiers_per_year: int = DEMO_DOSSIERS_PER_YEAR) -> Path:
    """Check, then run the monthly DAG (after the month's last night, if asked) for each period."""
    from tthc.orchestration.airflow_runner import migrate_metadata_db, watch_dag_run
    from tthc.orchestration.preflight import run_preflight

    home = embedded.default_home()
    embedded.apply_defaults(embedded.airflow_environment(home))
    log_file = _log_file(home, command)
    print(f"Airflow's log: {log_file}" + (" (streamed below: --verbose)" if verbose else ""), flush=True)
    console = Console()
    with ExitStack() as stack:
        if embedded.uses_embedded_sources():
            _generate_embedded(home, periods[0], periods[-1], dossiers_per_year)
            _embedded_national(home, stack)
        report = run_preflight(mail_required=bool(conf.get("send")))
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        report.raise_for_problems()
        migrate_metadata_db(log_file)
        for period in periods:
            p = Period(period)
            last_night = f"{p.last_day} (the month's last night)"
            runs = [("tthc_nightly", last_night, {})] if nightly else []
            for dag_id, label, run_conf in [*runs, ("tthc_monthly_scorecards", period, conf)]:
                console.run_started(dag_id, label)
                watch_dag_run(dag_id, p.end, run_conf, retries, log_file, console.event, verbose=verbose)
        from tthc.orchestration.connections import output_dir

        return output_dir()


def cmd_check(args) -> int:
    from tthc.orchestration.preflight import run_preflight

    home = embedded.default_home()
    with ExitStack() as stack:
        if embedded.uses_embedded_sources() and home.national_db.exists():
            _embedded_national(home, stack)  # the embedded installation as `run` would use it
        report = run_preflight(mail_required=args.send)
    for name in report.passed:
        print(f"ok       {name}")
    for warning in report.warnings:
        print(f"warning  {warning}")
    for problem in report.problems:
        print(f"PROBLEM  {problem}")
    return 1 if report.problems else 0


def cmd_demo(args) -> int:
    t0 = time.monotonic()
    folder = _run("demo", [args.period], {"send": False}, nightly=True, retries=args.retries, verbose=args.verbose,
                  dossiers_per_year=args.dossiers_per_year) / args.period
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
    _report(_run("run", [args.period], _conf(args), nightly=False, retries=args.retries, verbose=args.verbose),
            [args.period])
    return 0


def cmd_backfill(args) -> int:
    if args.first > args.last:
        print(f"backfill: --from {args.first} is after --to {args.last}", file=sys.stderr)
        return 2
    periods = _months(args.first, args.last)
    _report(_run("backfill", periods, _conf(args), nightly=False, retries=args.retries, verbose=args.verbose),
            periods)
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
    commands = {"demo": cmd_demo, "run": cmd_run, "backfill": cmd_backfill, "points": cmd_points,
                "check": cmd_check}
    from tthc.orchestration.airflow_runner import DagRunFailed, Interrupted
    from tthc.orchestration.preflight import PreflightFailed

    try:
        return commands[args.command](args)
    except (PreflightFailed, DagRunFailed) as exc:
        print(f"\ntthc-scorecards {args.command}: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(f"\ntthc-scorecards {args.command}: {exc}; nothing half-done is left in place, a rerun continues",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
