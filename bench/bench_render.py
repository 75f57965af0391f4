"""Benchmark: render a whole month of documents (every unit's scorecard, ranking PDF and XLSX).

Target (issue 6): under 60 s for a full month on the 2-core machine.

    .venv/bin/python bench/bench_render.py                # after the reform: 15 departments, 40 communes
    .venv/bin/python bench/bench_render.py --pre-reform   # before: 15 departments, 9 districts, 80 communes
    .venv/bin/python bench/bench_render.py --workers 1    # one process
    .venv/bin/python bench/bench_render.py --floor        # each scorecard beside its plain-text floor

`--floor` (issue 18's yardstick): in one process, each scorecard is laid out twice — as the
document, and as the same words in plain paragraphs (same fonts and page, no tables) — and the
CPU time of each, their ratio and their page counts are printed, per card and in total.

Scorecards are rendered by a pool of processes (WeasyPrint lays out one document per core);
the ranking documents are rendered in the parent meanwhile.
"""

from __future__ import annotations

import argparse
import html
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

from tthc.reports.render import render_ranking_pdf, render_ranking_xlsx, render_scorecard
from tthc.reports.samples import post_reform_units, pre_reform_units, sample_ranking, sample_scorecard


def _render_one(job: tuple) -> tuple[int, float, float]:
    """Size, wall seconds and CPU seconds of one scorecard (CPU time shows what a busy
    machine hides: the wall time of a shared 2-core box depends on its neighbours)."""
    ctx, out_dir = job
    started, cpu_started = time.perf_counter(), time.process_time()
    path = render_scorecard(ctx, Path(out_dir) / "scorecards" / f"{ctx.unit.code}.pdf")
    return path.stat().st_size, time.perf_counter() - started, time.process_time() - cpu_started


BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "h4", "caption", "figcaption", "section", "header", "footer", "table"}


class _Words(HTMLParser):
    """The document's visible words, one paragraph per block (a whole table is one paragraph)."""

    def __init__(self):
        super().__init__()
        self.paragraphs, self._current, self._skip = [], [], 0

    def _flush(self):
        text = " ".join(" ".join(self._current).split())
        if text:
            self.paragraphs.append(text)
        self._current = []

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script", "svg")
        if tag in BLOCKS:
            self._flush()

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script", "svg") and self._skip > 0
        if tag in BLOCKS:
            self._flush()

    def handle_data(self, data):
        if not self._skip:
            self._current.append(data)


def floor_html(document_html: str) -> str:
    words = _Words()
    words.feed(document_html)
    words.close()
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in words.paragraphs)
    return ("<html><head><style>@page { size: A4; margin: 2cm 1.5cm 2cm 3cm; } "
            "body { font-family: 'Liberation Serif', 'Tinos', 'Times New Roman', serif; font-size: 13pt; } "
            f"p {{ margin: 0 0 4pt 0; }}</style></head><body>{body}</body></html>")


def _laid_out(document_html: str) -> tuple[float, int]:
    """CPU seconds to lay out and draw the PDF, and its page count: both layouts as every
    document is laid out (render.office_pdf)."""
    from tthc.reports.render import office_pdf

    started = time.process_time()
    document = office_pdf(document_html)
    return time.process_time() - started, len(document.pages)


def floor_report(contexts: list) -> None:
    from tthc.reports.render import render_html, scorecard_view

    rows = []
    for ctx in contexts:
        document = render_html("scorecard.html.j2", scorecard_view(ctx))
        card_cpu, card_pages = _laid_out(document)
        floor_cpu, floor_pages = _laid_out(floor_html(document))
        rows.append((ctx.unit.code, card_cpu, card_pages, floor_cpu, floor_pages))
        print(f"{ctx.unit.code:<16} scorecard {card_cpu:5.2f} s CPU {card_pages:2d} pages | plain text "
              f"{floor_cpu:5.2f} s {floor_pages:2d} pages | ratio {card_cpu / floor_cpu:4.1f}x", flush=True)
    card, floor = sum(r[1] for r in rows), sum(r[3] for r in rows)
    pages = sorted(r[2] for r in rows)
    print(f"total: {len(rows)} scorecards {card:.1f} s CPU, plain-text floor {floor:.1f} s CPU: "
          f"ratio {card / floor:.2f}x (target <= 2x); scorecard pages median {pages[len(pages) // 2]}, "
          f"max {pages[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pre-reform", action="store_true", help="the larger pre-2025-07 month (104 units)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--floor", action="store_true", help="each scorecard beside its plain-text floor (CPU)")
    args = parser.parse_args()

    units = pre_reform_units() if args.pre_reform else post_reform_units()
    if args.floor:
        floor_report([sample_scorecard(unit, units=units) for unit in units])
        return
    started = time.perf_counter()
    contexts = [sample_scorecard(unit, units=units) for unit in units]
    ranking = sample_ranking(units=units)
    built = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as out_dir, ProcessPoolExecutor(args.workers) as pool:
        started = time.perf_counter()
        results = pool.map(_render_one, [(ctx, out_dir) for ctx in contexts])
        render_ranking_pdf(ranking, Path(out_dir) / "ranking.pdf")
        render_ranking_xlsx(ranking, Path(out_dir) / "ranking.xlsx")
        results = list(results)
        elapsed = time.perf_counter() - started

    per_doc = sorted(seconds for _, seconds, _ in results)
    cpu = sum(seconds for _, _, seconds in results)
    size = sum(size for size, _, _ in results)
    print(f"units: {len(units)}  workers: {args.workers}")
    print(f"contexts built in {built:.2f} s (sample data, not part of the target)")
    print(f"rendered {len(results)} scorecards + ranking.pdf + ranking.xlsx in {elapsed:.1f} s "
          f"(target < 60 s): {'OK' if elapsed < 60 else 'OVER TARGET'}")
    print(f"per scorecard: median {per_doc[len(per_doc) // 2]:.2f} s, max {per_doc[-1]:.2f} s wall; "
          f"{cpu / len(results):.2f} s CPU on average; scorecards total {size / 1e6:.1f} MB")
    print(f"CPU time of the scorecards / {args.workers} workers = {cpu / args.workers:.1f} s "
          "(the wall time on an otherwise idle machine)")


if __name__ == "__main__":
    main()
