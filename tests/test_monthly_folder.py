"""The month's folder (outputs.md "One folder per month"): exactly its files, a true manifest,
built aside and moved into place whole, a failure leaves the previous folder, a rerun replaces it.

The warehouse is filled by the real indicator engine from a tiny hand-built province (three
active units and one closed before the month), so the path from the result tables to the
files is the production one.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
from pathlib import Path

import openpyxl
import pypdf
import pytest
import sqlalchemy as sa
from warehouse_builder import DEPT, Warehouse, at

from tthc.reports import month_folder
from tthc.reports.month_folder import read_manifest, swap_into_place, write_manifest, write_month_folder
from tthc.warehouse import schema as wh

PERIOD = "2025-09"
BUILT_AT = dt.datetime(2025, 10, 1, 2, 0)
WATERMARK = dt.datetime(2025, 9, 30, 23, 0)
COMMUNES = ("000.21.31.H57", "000.22.31.H57")
ACTIVE = (DEPT, *COMMUNES)
CLOSED = "000.99.31.H57"  # closed before the month: no scorecard, no violations file
EXPECTED_FILES = {"indicators.csv", "unit_scores.csv", "score_changes.csv", "ranking.pdf", "ranking.xlsx",
                  "quality.json", "manifest.json", *(f"scorecards/{u}.pdf" for u in ACTIVE),
                  *(f"violations/{u}.csv" for u in ACTIVE)}


def build_month(root: Path) -> tuple[Path, Path]:
    """A warehouse computed for PERIOD and its month folder: (warehouse file, output root)."""
    root.mkdir(parents=True, exist_ok=True)
    db = root / "warehouse.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    w = Warehouse(engine)
    w.unit(DEPT, tier="department", name="Sở Tư pháp")
    w.unit(COMMUNES[0], name="UBND phường Phú Hội")
    w.unit(COMMUNES[1], name="UBND xã Hương Phong")
    w.unit(CLOSED, name="UBND xã cũ", valid_to=dt.date(2024, 12, 31))
    w.procedure("1.001")
    for i, unit in enumerate(ACTIVE):
        for j in range(3):  # on time, then later each unit: different totals, a real ranking
            w.dossier(f"{unit}-2509-{j}", unit, "1.001", received_at=at(2025, 9, 3 + j, 9),
                      due_at=at(2025, 9, 20, 17), completed_at=at(2025, 9, 10 + 5 * i + j, 10))
    with engine.begin() as conn:
        conn.execute(sa.insert(wh.etl_watermarks).values(stream="tthc_source.dossiers", watermark=WATERMARK,
                                                         updated_at=WATERMARK))
    w.compute(PERIOD)
    write_month_folder(engine, PERIOD, root / "out", BUILT_AT, workers=1)
    engine.dispose()
    return db, root / "out"


def copy_month(built: tuple[Path, Path], dest: Path) -> tuple[sa.Engine, Path]:
    """A private copy of a built month (warehouse and output root), so tests do not share state."""
    db, out = built
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(db, dest / "warehouse.db")
    shutil.copytree(out, dest / "out")
    return sa.create_engine(f"sqlite:///{dest / 'warehouse.db'}"), dest / "out"


def files_of(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in files_of(folder)}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    return build_month(tmp_path_factory.mktemp("month"))


@pytest.fixture
def month(built, tmp_path):
    engine, out = copy_month(built, tmp_path)
    yield engine, out
    engine.dispose()


def test_the_folder_holds_exactly_the_outputs_files(built):
    _db, out = built
    folder = out / PERIOD
    assert files_of(folder) == EXPECTED_FILES
    # nothing else in the output root: no temporary or previous copies
    assert [p.name for p in out.iterdir()] == [PERIOD]
    for unit in ACTIVE:
        pdf = pypdf.PdfReader(folder / "scorecards" / f"{unit}.pdf")
        text = " ".join(" ".join(page.extract_text() for page in pdf.pages).split())
        assert unit in text
        # "Vì sao điểm thay đổi": the warehouse has no August, and the section says so
        assert "VÌ SAO ĐIỂM THAY ĐỔI" in text and "Tháng 8 năm 2025 đơn vị chưa được chấm điểm" in text
    ranking_text = "".join(page.extract_text() for page in pypdf.PdfReader(folder / "ranking.pdf").pages)
    assert "UBND phường Phú Hội" in ranking_text and "UBND xã cũ" not in ranking_text
    sheets = openpyxl.load_workbook(io.BytesIO((folder / "ranking.xlsx").read_bytes()), read_only=True)
    cells = {str(c) for ws in sheets.worksheets for row in ws.iter_rows(values_only=True) for c in row}
    assert set(ACTIVE) <= cells and CLOSED not in cells
    scores = (folder / "unit_scores.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[1] for line in scores[1:]] == [*ACTIVE, "H57"]
    quality = json.loads((folder / "quality.json").read_text(encoding="utf-8"))
    assert quality == {"period": PERIOD, "status": "ok", "critical_checks": [], "runs": [], "alerts_not_sent": []}
    # score_changes.csv (beyond outputs.md): no August results, so nothing to compare with
    changes = list(csv.DictReader(io.StringIO((folder / "score_changes.csv").read_text(encoding="utf-8"))))
    totals = [r for r in changes if r["component"] == "TOTAL"]
    assert [r["unit_code"] for r in totals] == [*ACTIVE, "H57"]
    assert all(r["previous"] == "" and r["change"] == "" and float(r["current"]) > 0 for r in totals)
    assert {r["period"] for r in changes} == {PERIOD}


def test_the_manifest_lists_every_file_with_its_hash_and_size(built):
    _db, out = built
    folder = out / PERIOD
    manifest = read_manifest(folder)
    assert manifest["period"] == PERIOD
    assert manifest["built_at"] == BUILT_AT.isoformat()
    assert manifest["source_watermarks"] == {"tthc_source.dossiers": WATERMARK.isoformat()}
    assert manifest["delivery"] == {"status": "pending"}
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == EXPECTED_FILES - {"manifest.json"}
    for name, entry in listed.items():
        data = (folder / name).read_bytes()
        assert entry == {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def test_the_manifest_ignores_other_writers_temporary_files(month):
    # Two deliveries rewrite the manifest at once: each must not list (and hash) the other's
    # temporary file, which is renamed away while it looks (a FileNotFoundError before).
    _engine, out = month
    folder = out / PERIOD
    (folder / ".manifest.json.0a1b2c3d.tmp").write_text("{}", encoding="utf-8")
    (folder / "scorecards" / ".H01.pdf.4242.tmp").write_bytes(b"%PDF")
    manifest = read_manifest(folder)
    write_manifest(folder, PERIOD, BUILT_AT, manifest["source_watermarks"], {"status": "pending"})
    assert {f["path"] for f in read_manifest(folder)["files"]} == EXPECTED_FILES - {"manifest.json"}


def test_a_failure_midway_leaves_the_previous_folder_and_no_temporary_one(month, monkeypatch):
    engine, out = month
    before = snapshot(out / PERIOD)

    def broken_renderer(ctx, path):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(month_folder, "render_ranking_pdf", broken_renderer)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_month_folder(engine, PERIOD, out, BUILT_AT + dt.timedelta(days=1), workers=1)
    assert snapshot(out / PERIOD) == before
    assert [p.name for p in out.iterdir()] == [PERIOD]


def test_a_failed_swap_puts_the_previous_folder_back(tmp_path):
    final = tmp_path / PERIOD
    final.mkdir()
    (final / "manifest.json").write_text("previous", encoding="utf-8")
    with pytest.raises(FileNotFoundError):
        swap_into_place(tmp_path / ".vanished-build", final)  # the new copy cannot be moved in
    assert (final / "manifest.json").read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == [PERIOD]


def test_a_rerun_replaces_the_folder_whole_with_identical_files(month):
    engine, out = month
    folder = out / PERIOD
    before = snapshot(folder)
    (folder / "stray.txt").write_text("left by hand", encoding="utf-8")
    # workers=2: the scorecards are rendered in a process pool, as in production
    assert write_month_folder(engine, PERIOD, out, BUILT_AT, workers=2) == folder
    # the stray file went with the old folder; the same warehouse and build time give the same
    # bytes in every file, the PDFs and the manifest included
    assert snapshot(folder) == before
    assert [p.name for p in out.iterdir()] == [PERIOD]
    rebuilt_at = BUILT_AT + dt.timedelta(days=2)
    write_month_folder(engine, PERIOD, out, rebuilt_at, workers=1)
    after = snapshot(folder)
    assert {n: b for n, b in after.items() if n.endswith(".csv")} == \
        {n: b for n, b in before.items() if n.endswith(".csv")}
    assert read_manifest(folder)["built_at"] == rebuilt_at.isoformat()


def test_a_rendering_batch_gets_the_same_scorecards_as_the_whole_month(month):
    engine, _ = month
    every, ranking = month_folder.build_contexts(engine, PERIOD, BUILT_AT.date())
    late = next(c for c in every if c.annex)  # one with failed items to read
    batch, batch_ranking = month_folder.build_contexts(engine, PERIOD, BUILT_AT.date(), [late.unit.code])
    assert batch == [late]
    assert batch_ranking == ranking
    assert month_folder.build_contexts(engine, PERIOD, BUILT_AT.date(), ()) == ([], ranking)
