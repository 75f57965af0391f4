"""The Jinja environment of everything rendered from include/templates as HTML: the documents
(PDF scorecards, ranked lists) and the Airflow UI's pages, with the same Vietnamese filters."""

from __future__ import annotations

import functools
import re

import jinja2
from markupsafe import Markup, escape

from tthc.paths import TEMPLATE_DIR
from tthc.reports import formatting as fmt

ITEM_TYPE_TITLES = {
    "dossier": "hồ sơ",
    "procedure": "thủ tục",
    "announcement_procedure": "công bố/thủ tục",
    "announcement": "quyết định công bố",
    "publication": "công khai",
    "payment": "giao dịch thanh toán",
    "feedback": "phản ánh, kiến nghị",
    "unit": "đơn vị",
}


def rank_change(change: int | None) -> str:
    if change is None:
        return "–"
    if change == 0:
        return "="
    return f"▲ {change}" if change > 0 else f"▼ {-change}"


# Letters and digits joined by dots, or by hyphens before a digit: Unicode's line-breaking rules
# (UAX #14, LB25 and LB29) give such an id no break opportunity, so it needs no box of its own.
_UNBREAKABLE_ID = re.compile(r"[0-9A-Za-z]+(?:[.][0-9A-Za-z]+|-[0-9][0-9A-Za-z]*)*")


def whole(item_id: str) -> Markup:
    """An id on one line (the reader searches for it or types it as it is): a nowrap span only
    where a line could break inside it (a '/', a hyphen before a letter) — a span per id was a
    tenth of a scorecard's rendering time."""
    text = str(item_id)
    if _UNBREAKABLE_ID.fullmatch(text):
        return escape(text)
    return Markup('<span class="id">%s</span>') % text


@functools.cache
def html_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the render, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=lambda v, d=2: fmt.format_number(v, d),
        count=fmt.format_count,
        pct=fmt.format_percent,
        signed=fmt.format_signed,
        month=fmt.format_month,
        dateline=fmt.format_date_line,
        item_type=lambda t: ITEM_TYPE_TITLES.get(t, t),
        month_short=fmt.format_month_short,
        rank_change=rank_change,
        whole=whole,
    )
    return env
