"""Test helper: checks on what the office reads — every word Vietnamese, no text outside its box.

`foreign_words(text, codes)` returns the words of `text` that are not Vietnamese: a word passes
when it is a well-formed Vietnamese syllable (onset, vowel nucleus, final; a stop final p, t, c,
ch only with the acute or dot-below tone, as Vietnamese spelling requires), an acronym the
province writes, a single letter or a Roman numeral; tokens with a digit (ids, numbers, dates),
the codes of `codes` (and the pieces of one split across lines) and the month folder's file
names (outputs.md) are not words. English fails: "finished after the due date" has four
words that are not syllables, and a sentence without any is hard to write.

`overflowing_words(pdf_path)` returns the words of a PDF (pdfplumber) that reach beyond the
table cell they start in, or beyond the page's content box (Decree 30 margins).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pdfplumber

# Acronyms of the administrative register (TTHC: thủ tục hành chính; DVCQG: Cổng Dịch vụ công
# quốc gia; KSTT: Kiểm soát thủ tục; VT: Văn thư; TL.: thừa lệnh …) and the formats the issue allows.
ACRONYMS = {"TTHC", "UBND", "DVC", "DVCQG", "CSDL", "KSTT", "VT", "TL", "KT", "NĐ", "CP", "QĐ", "BC", "PAKN",
            "PDF", "XLSX", "CSV"}
# The month folder's files (outputs.md) and the mail's zipped scorecards: names, not words.
FILE_NAME = re.compile(r"^(?:violations/|scorecards/)?[\w.\-]*\.(?:csv|pdf|xlsx|json|zip)$")
PUNCTUATION = "\"'“”‘’()[]{}.,;:!?…–—-/*+=×%"

ONSET = "ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|b|c|d|đ|g|h|k|l|m|n|p|r|s|t|v|x"
NUCLEUS = "uyê|uya|ươ|uô|uâ|iê|yê|ưa|ia|ua|oa|oă|oe|uê|uy|oo|a|ă|â|e|ê|i|o|ô|ơ|u|ư|y"
CODA = "ch|ng|nh|c|m|n|p|t|i|y|o|u"
SYLLABLE = re.compile(f"^(?:{ONSET})?(?:{NUCLEUS})({CODA})?$")
TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền, sắc, ngã, hỏi, nặng
CHECKED_TONES = {"\u0301", "\u0323"}  # the only tones a syllable ending in p, t, c, ch takes
ROMAN = re.compile(r"^[IVX]+$")
LETTERS = re.compile(r"[^\W\d_]+")

# Decree 30/2020/NĐ-CP margins of report.css, in PDF points: left 30 mm, right 15 mm, bottom 20 mm
# (the page number sits in the top margin box).
MM = 72 / 25.4
LEFT, RIGHT, BOTTOM = 30 * MM, 15 * MM, 20 * MM
TOLERANCE = 0.75  # points: anti-aliased glyph edges and border widths


def is_syllable(word: str) -> bool:
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = [c for c in decomposed if c in TONES]
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONES))
    match = SYLLABLE.match(base)
    if match is None or len(tones) > 1:
        return False
    checked = match.group(1) in ("p", "t", "c", "ch")
    return not checked or (bool(tones) and tones[0] in CHECKED_TONES)


def is_word_ok(word: str) -> bool:
    return word in ACRONYMS or len(word) == 1 or bool(ROMAN.match(word)) or is_syllable(word)


def foreign_words(text: str, codes: set[str]) -> list[str]:
    """The words of `text` that are not Vietnamese (module docstring), in order of appearance."""
    found = []
    for token in unicodedata.normalize("NFKC", text).split():
        token = token.strip(PUNCTUATION)
        if not token or any(c.isdigit() for c in token) or FILE_NAME.match(token):
            continue
        # a code, or a piece of one a narrow cell wrapped (codes are upper case with '_')
        if token in codes or (token.isupper() and any(token in code for code in codes if "_" in code)):
            continue
        found += [w for w in LETTERS.findall(token) if not is_word_ok(w)]
    return found


def pdf_text(path: Path) -> str:
    with pdfplumber.open(path) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def tables(page) -> list:
    """The page's tables, found from its straight rules only: pdfplumber takes any slanted line (a
    trend chart's) for a vertical one, and would cut cells where there are none."""
    straight = [e for e in page.edges if abs(e["x0"] - e["x1"]) < 0.01 or abs(e["top"] - e["bottom"]) < 0.01]
    return page.find_tables({
        "vertical_strategy": "explicit", "horizontal_strategy": "explicit",
        "explicit_vertical_lines": [e for e in straight if e["orientation"] == "v"],
        "explicit_horizontal_lines": [e for e in straight if e["orientation"] == "h"]})


def table_cells(path: Path) -> list[str]:
    """The text of every table cell of a PDF in reading order, its lines joined (a page's text
    interleaves the lines of a row's cells)."""
    with pdfplumber.open(path) as pdf:
        return [unicodedata.normalize("NFC", " ".join(cell.split())) for page in pdf.pages
                for table in tables(page) for row in table.extract() for cell in row if cell]


def overflowing_words(path: Path) -> list[str]:
    """'page N: word' for every word beyond its table cell or the page's content box."""
    out = []
    with pdfplumber.open(path) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            cells = [c for table in tables(page) for c in table.cells if c is not None]
            for w in page.extract_words():
                if w["x0"] < LEFT - TOLERANCE or w["x1"] > page.width - RIGHT + TOLERANCE \
                        or w["bottom"] > page.height - BOTTOM + TOLERANCE:
                    out.append(f"page {number}: {w['text']!r} outside the page's content box")
                    continue
                # the cell the word starts in: its left edge and its middle height inside
                middle = (w["top"] + w["bottom"]) / 2
                home = [c for c in cells if c[0] - TOLERANCE <= w["x0"] < c[2] and c[1] <= middle <= c[3]]
                if any(w["x1"] > c[2] + TOLERANCE for c in home):
                    out.append(f"page {number}: {w['text']!r} runs out of its cell")
    return out
