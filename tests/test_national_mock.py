"""The national services mock (sources.md §2) over real HTTP on loopback, on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg2
import pytest
import requests
from national_server import clear_faults, running_national_mock, set_faults
from sqlalchemy import create_engine, inspect, text

from tthc.sim.national_mock import (
    NOT_AN_OBJECT,
    Faults,
    MalformedItem,
    UpdateWhilePaging,
    build_parser,
    faults_from_args,
    main,
)
from tthc.sim.national_store import (
    create_national_store,
    national_dossier_ratings,
    national_feedback,
    national_ministry_decisions,
    national_publications,
    national_synced_dossiers,
)

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
BASE = datetime(2025, 3, 1, 8, 0, tzinfo=LOCAL)

CONTRACT_FIELDS = {
    "ministry-decisions": {"decision_no", "ministry", "signed_on", "effective_on", "posted_at",
                           "procedure_codes", "updated_at"},
    "national-publications": {"provincial_decision_no", "procedure_code", "published_at", "complete",
                              "fee_declared", "updated_at"},
    "synced-dossiers": {"MaHoSo", "MaTTHC", "MaDonVi", "TrangThaiHoSo", "NgayTiepNhan", "NgayHenTra",
                        "NgayCoKetQua", "DongBoLuc", "updated_at"},
    "feedback": {"feedback_id", "unit_code", "received_at", "forwarded_at", "answered_at", "published_at",
                 "rating", "repeat_of", "dossier_code", "updated_at"},
    "dossier-ratings": {"MaHoSo", "rating", "rated_at", "updated_at"},
}


# --- building small stores ---------------------------------------------------------------
def instant(iso: str) -> datetime:
    """An ISO time as an aware instant; no offset means local time (sources.md §2)."""
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL)


def sort_ts(iso: str) -> str:
    return instant(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def served_form(moment: datetime, variant: int) -> str:
    """The same instant the three ways the national services write it: offset, Z, local."""
    if variant == 0:
        return moment.isoformat()
    if variant == 1:
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return moment.replace(tzinfo=None).isoformat()


def dossier_rows() -> list[dict]:
    """30 H57 dossiers (two with a second version, two sharing one instant) and 3 of another province."""
    rows = []
    for i in range(30):
        moment = BASE + timedelta(hours=i)
        rows.append({
            "province": "H57", "MaHoSo": f"000.00.10.H57-250301-{i:04d}", "MaTTHC": "1.001612",
            "MaDonVi": "000.00.10.H57", "TrangThaiHoSo": str(2 + i % 9), "NgayTiepNhan": "20250301080000",
            "NgayHenTra": "20250305170000", "NgayCoKetQua": "", "DongBoLuc": moment.strftime("%Y%m%d%H%M%S"),
            "updated_at": served_form(moment, i % 3),
        })
    # Same instant as record 5, written in UTC: ties are broken by key.
    rows.append({**rows[0], "MaHoSo": "000.00.10.H57-250301-0000A",
                 "updated_at": served_form(BASE + timedelta(hours=5), 1)})
    # Later versions of two records.
    for i in (3, 7):
        later = served_form(BASE + timedelta(days=2, hours=i), 0)
        rows.append({**rows[i], "TrangThaiHoSo": "10", "updated_at": later})
    for i in range(3):
        rows.append({**rows[i], "province": "H01", "MaHoSo": f"000.00.10.H01-250301-{i:04d}"})
    return rows


def fill_store(url: str, dossiers: list[dict] | None = None, feedback_count: int = 3):
    engine = create_national_store(url)
    stamp = lambda row: {**row, "sort_ts": sort_ts(row["updated_at"])}  # noqa: E731
    with engine.begin() as conn:
        conn.execute(national_synced_dossiers.insert(), [stamp(r) for r in (dossiers or dossier_rows())])
        conn.execute(national_ministry_decisions.insert(), [stamp({
            "decision_no": f"{n}/QĐ-BTP", "ministry": "Bộ Tư pháp", "signed_on": "2025-02-10",
            "effective_on": "2025-03-01", "posted_at": "2025-02-11T09:00:00+07:00",
            "procedure_codes": json.dumps(["1.001612", "1.000894"]), "updated_at": f"2025-02-1{n}T09:00:00Z",
        }) for n in range(1, 4)])
        conn.execute(national_publications.insert(), [stamp({
            "province": "H57", "provincial_decision_no": "123/QĐ-UBND", "procedure_code": code,
            "published_at": "2025-03-02T10:00:00+07:00", "complete": complete, "fee_declared": 1,
            "updated_at": "2025-03-02T10:00:00+07:00",
        }) for code, complete in (("1.001612", 1), ("1.000894", 0), ("2.000001", None))])
        conn.execute(national_feedback.insert(), [stamp({
            "province": "H57", "feedback_id": f"PAKN-{n:04d}", "unit_code": "000.21.31.H57",
            "received_at": "2025-03-03T08:00:00+07:00", "forwarded_at": None, "answered_at": None,
            "published_at": None, "rating": "satisfied" if n % 2 else None, "repeat_of": None,
            "dossier_code": None, "updated_at": served_form(BASE + timedelta(minutes=n), n % 3),
        }) for n in range(feedback_count)])
        conn.execute(national_dossier_ratings.insert(), [stamp({
            "province": "H57", "MaHoSo": f"000.00.10.H57-250301-{n:04d}", "rating": 4 + n % 2,
            "rated_at": "2025-03-04T09:15:00+07:00", "updated_at": "2025-03-04T09:15:00+07:00",
        }) for n in range(2)])
    engine.dispose()


def get(base_url: str, endpoint: str, **params) -> requests.Response:
    if endpoint != "ministry-decisions":
        params.setdefault("province", "H57")
    return requests.get(f"{base_url}/api/v1/{endpoint}", params=params, headers=AUTH, timeout=10)


def one_pass(base_url: str, endpoint: str, page_size: int, **params) -> tuple[list[dict], int]:
    """Page through a query as a client that fixes the page count from the first answer's total."""
    first = get(base_url, endpoint, page=1, page_size=page_size, **params).json()
    items, pages = list(first["items"]), -(-first["total"] // page_size)
    for page in range(2, pages + 1):
        items += get(base_url, endpoint, page=page, page_size=page_size, **params).json()["items"]
    return items, first["total"]


def contract_order() -> list[dict]:
    """The H57 dossier rows in the contract's order: (updated_at instant, key, row order)."""
    rows = [r for r in dossier_rows() if r["province"] == "H57"]
    return [r for _, r in sorted(enumerate(rows),
                                 key=lambda p: (sort_ts(p[1]["updated_at"]), p[1]["MaHoSo"], p[0]))]


def latest_by_key(items: list[dict], key: str) -> dict[str, dict]:
    """The client's de-duplication (sources.md §2): the version with the greatest updated_at instant."""
    latest: dict[str, dict] = {}
    for item in items:
        held = latest.get(item[key])
        if held is None or instant(item["updated_at"]) >= instant(held["updated_at"]):
            latest[item[key]] = item
    return latest


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('national') / 'national.db'}"
    fill_store(url)
    return url


@pytest.fixture(scope="module")
def mock(sqlite_url):
    with running_national_mock(sqlite_url, TOKEN) as base_url:
        yield base_url


@pytest.fixture
def faulty(mock):
    """The shared server, with whatever faults a test sets cleared afterwards."""
    yield mock
    clear_faults(mock, TOKEN)


# --- the contract --------------------------------------------------------------------------
def test_missing_or_wrong_token_gets_401(mock):
    url = f"{mock}/api/v1/synced-dossiers"
    assert requests.get(url, params={"province": "H57"}, timeout=10).status_code == 401
    wrong = requests.get(url, params={"province": "H57"}, headers={"Authorization": "Bearer nope"},
                         timeout=10)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    # Auth comes before query validation: an outsider learns nothing about the parameters.
    assert requests.get(url, params={"page_size": 9999}, timeout=10).status_code == 401
    assert requests.get(f"{mock}/_admin/faults", timeout=10).status_code == 401
    assert get(mock, "synced-dossiers").status_code == 200


@pytest.mark.parametrize("endpoint", sorted(CONTRACT_FIELDS))
def test_items_carry_exactly_the_contract_fields(mock, endpoint):
    answer = get(mock, endpoint).json()
    assert set(answer) == {"items", "page", "page_size", "total"}
    assert answer["items"] and all(set(item) == CONTRACT_FIELDS[endpoint] for item in answer["items"])


def test_field_types_follow_the_contract(mock):
    decision = get(mock, "ministry-decisions").json()["items"][0]
    assert decision["procedure_codes"] == ["1.001612", "1.000894"]
    assert decision["signed_on"] == "2025-02-10"
    publications = {p["procedure_code"]: p for p in get(mock, "national-publications").json()["items"]}
    assert [publications[c]["complete"] for c in ("1.001612", "1.000894", "2.000001")] == [True, False, None]
    assert publications["1.001612"]["fee_declared"] is True
    assert [r["rating"] for r in get(mock, "dossier-ratings").json()["items"]] == [4, 5]
    dossier = get(mock, "synced-dossiers", page_size=1).json()["items"][0]
    assert dossier["NgayCoKetQua"] == "" and dossier["NgayTiepNhan"] == "20250301080000"


def test_paging_covers_every_version_once_in_a_stable_order(mock):
    expected = [(r["MaHoSo"], r["updated_at"]) for r in contract_order()]
    first, total = one_pass(mock, "synced-dossiers", page_size=7)
    again, _ = one_pass(mock, "synced-dossiers", page_size=7)
    assert total == len(expected) == 33
    assert [(i["MaHoSo"], i["updated_at"]) for i in first] == expected
    assert first == again
    # Two versions of records 3 and 7 are both served; the tie at record 5's instant is broken by key.
    assert Counter(i["MaHoSo"] for i in first)["000.00.10.H57-250301-0003"] == 2
    codes = [i["MaHoSo"] for i in first]
    assert codes.index("000.00.10.H57-250301-0000A") == codes.index("000.00.10.H57-250301-0005") - 1
    assert not any("H01" in code for code in codes)
    assert get(mock, "synced-dossiers", province="H01").json()["total"] == 3


def test_concurrent_clients_get_the_same_pages(mock):
    def page(number: int) -> dict:
        return get(mock, "synced-dossiers", page=number, page_size=5).json()

    expected = [page(p) for p in range(1, 8)]
    with ThreadPoolExecutor(max_workers=7) as pool:
        answers = list(pool.map(page, range(1, 8)))
    assert answers == expected and sum(len(a["items"]) for a in answers) == 33


def test_page_answer_reports_its_page_and_total(mock):
    answer = get(mock, "synced-dossiers", page=5, page_size=7).json()
    assert (answer["page"], answer["page_size"], answer["total"], len(answer["items"])) == (5, 7, 33, 5)
    beyond = get(mock, "synced-dossiers", page=6, page_size=7).json()
    assert beyond["items"] == [] and beyond["total"] == 33


def test_page_size_is_capped_at_500_with_422(mock):
    assert get(mock, "synced-dossiers", page_size=500).status_code == 200
    for params in ({"page_size": 501}, {"page_size": 0}, {"page": 0}):
        assert get(mock, "synced-dossiers", **params).status_code == 422, params


def test_province_is_required_on_provincial_endpoints(mock):
    answer = requests.get(f"{mock}/api/v1/feedback", headers=AUTH, timeout=10)
    assert answer.status_code == 422 and "province" in answer.text


def test_since_is_inclusive_and_reads_z_offset_and_local_forms(mock):
    # Record 12's instant (08:00 + 12 h local = 20:00 local = 13:00 UTC).
    cut = BASE + timedelta(hours=12)
    expected = sum(1 for r in dossier_rows()
                   if r["province"] == "H57" and instant(r["updated_at"]) >= cut)
    forms = ["2025-03-01T13:00:00Z", "2025-03-01T20:00:00+07:00", "2025-03-01T20:00:00",
             "2025-03-01T15:00:00+02:00"]
    totals = [get(mock, "synced-dossiers", since=form).json()["total"] for form in forms]
    assert totals == [expected] * len(forms) and expected == 20
    answer = get(mock, "synced-dossiers", since=forms[0], page_size=500).json()
    assert answer["items"][0]["MaHoSo"] == "000.00.10.H57-250301-0012"  # inclusive: the cut itself
    one_microsecond_later = get(mock, "synced-dossiers", since="2025-03-01T13:00:00.000001Z").json()
    assert one_microsecond_later["total"] == expected - 1
    # A client that forgets to encode '+' sends a space; it is read back as '+'.
    raw = requests.get(f"{mock}/api/v1/synced-dossiers?province=H57&since=2025-03-01T20:00:00+07:00",
                       headers=AUTH, timeout=10)
    assert raw.json()["total"] == expected
    assert get(mock, "synced-dossiers", since="yesterday").status_code == 422


def test_since_totals_count_every_matching_item_across_days_and_after_the_store_changes(tmp_path):
    url = f"sqlite:///{tmp_path / 'national.db'}"
    fill_store(url)
    instants = [instant(r["updated_at"]) for r in dossier_rows() if r["province"] == "H57"]
    # Every instant, just after it, and UTC midnights: the totals span three UTC days.
    cuts = sorted({*instants, *(m + timedelta(microseconds=1) for m in instants),
                   *(datetime(2025, 3, d, tzinfo=UTC) for d in (1, 2, 3, 4))})

    def total(cut: datetime) -> int:
        return get(base_url, "synced-dossiers", since=cut.isoformat()).json()["total"]

    with running_national_mock(url, TOKEN) as base_url:
        assert [total(cut) for cut in cuts] == [sum(m >= cut for m in instants) for cut in cuts]
        # A version another connection writes while the mock serves is counted at once.
        late = datetime(2025, 3, 2, 23, 30, tzinfo=UTC)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(national_synced_dossiers.insert(), [{
                **dossier_rows()[0], "updated_at": late.isoformat(), "sort_ts": sort_ts(late.isoformat())}])
        engine.dispose()
        instants.append(late)
        assert [total(cut) for cut in cuts] == [sum(m >= cut for m in instants) for cut in cuts]


def test_serving_index_is_created_and_used(sqlite_url, mock):
    engine = create_engine(sqlite_url)
    names = {ix["name"] for ix in inspect(engine).get_indexes("national_synced_dossiers")}
    assert "ix_national_synced_dossiers_serving_order" in names
    with engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.execute(text(
            'EXPLAIN QUERY PLAN SELECT * FROM national_synced_dossiers WHERE province = :p AND sort_ts >= :s'
            ' ORDER BY sort_ts, "MaHoSo", row_id LIMIT 100 OFFSET 1000'), {"p": "H57", "s": "2025"}))
    engine.dispose()
    assert "serving_order" in plan and "TEMP B-TREE" not in plan


# --- faults ------------------------------------------------------------------------------
def test_rotated_token_gets_401_until_cleared(faulty):
    set_faults(faulty, TOKEN, Faults(token_rotated=True))
    assert get(faulty, "feedback").status_code == 401
    assert requests.get(f"{faulty}/_admin/faults", headers=AUTH, timeout=10).json()["token_rotated"] is True
    clear_faults(faulty, TOKEN)
    assert get(faulty, "feedback").status_code == 200


def test_429_with_retry_after_for_the_next_k_requests(faulty):
    set_faults(faulty, TOKEN, Faults(rate_limited_requests=2, retry_after=3))
    answers = [get(faulty, "feedback") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3" and answers[1].headers["Retry-After"] == "3"


def test_5xx_at_the_configured_rate_reproducibly(faulty):
    def statuses(n: int) -> list[int]:
        set_faults(faulty, TOKEN, Faults(error_rate=0.3, error_seed=7))
        return [get(faulty, "ministry-decisions", page_size=1).status_code for _ in range(n)]

    first = statuses(120)
    errors = [s for s in first if s != 200]
    assert 0.18 <= len(errors) / len(first) <= 0.42
    assert set(errors) <= {500, 502, 503} and len(set(errors)) >= 2
    assert statuses(120) == first  # same seed, same sequence


def test_latency_slows_each_answer(faulty):
    def elapsed() -> float:
        started = time.perf_counter()
        assert get(faulty, "feedback").status_code == 200
        return time.perf_counter() - started

    set_faults(faulty, TOKEN, Faults(latency=0.2))
    slow = [elapsed() for _ in range(3)]
    clear_faults(faulty, TOKEN)
    fast = [elapsed() for _ in range(3)]
    assert min(slow) >= 0.2 and min(fast) < min(slow)


@pytest.mark.parametrize("kind", ["not_object", "wrong_type", "missing_key"])
def test_malformed_item_inside_an_otherwise_good_page(faulty, kind):
    good = get(faulty, "synced-dossiers", page=2, page_size=5).json()["items"]
    spoilt = good[2]
    set_faults(faulty, TOKEN, Faults(malformed=MalformedItem(key=(spoilt["MaHoSo"],), kind=kind,
                                                             endpoint="synced-dossiers")))
    answer = get(faulty, "synced-dossiers", page=2, page_size=5)
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert items[:2] == good[:2] and items[3:] == good[3:]
    # The record is spoilt wherever it is served: here first in a page from its own instant.
    [again, *rest] = get(faulty, "synced-dossiers", since=spoilt["updated_at"], page_size=3).json()["items"]
    assert rest == good[3:]
    for bad in (items[2], again):
        if kind == "not_object":
            assert bad == NOT_AN_OBJECT
        elif kind == "wrong_type":
            assert isinstance(bad["updated_at"], int) and bad["MaHoSo"] == spoilt["MaHoSo"]
        else:
            assert "MaHoSo" not in bad and bad["updated_at"] == spoilt["updated_at"]
    # Other records and other endpoints stay clean.
    assert all(isinstance(i, dict) and "MaHoSo" in i for i in get(faulty, "synced-dossiers", page=1,
                                                                    page_size=5).json()["items"])
    assert all(isinstance(i, dict) and "feedback_id" in i
               for i in get(faulty, "feedback", page=2, page_size=1).json()["items"])


def test_invalid_faults_are_refused(faulty):
    bodies = ({"error_rate": 2}, {"no_such_fault": True}, {"malformed": {"key": ["x"], "kind": "odd"}},
              {"malformed": {"key": []}}, {"malformed": {"key": ["a"], "endpoint": "dossier-ratings"}},
              {"malformed": {"page": 1}}, {"update_while_paging": {"after_request": 0}},
              {"update_while_paging": {"after_request": 1, "endpoint": "dossiers"}})
    for body in bodies:
        answer = requests.post(f"{faulty}/_admin/faults", json=body, headers=AUTH, timeout=10)
        assert answer.status_code == 422, body
    assert requests.get(f"{faulty}/_admin/faults", headers=AUTH, timeout=10).json()["error_rate"] == 0


# --- records updated while a client pages ----------------------------------------------
def two_passes(base_url: str, margin: timedelta) -> tuple[list[dict], list[dict], datetime]:
    """Pass 1 over everything, pass 2 from (pass 1's start − margin), as sources.md tells clients."""
    pass_start = datetime.now(UTC)
    first, _ = one_pass(base_url, "feedback", page_size=10)
    since = (pass_start - margin).isoformat().replace("+00:00", "Z")
    second, _ = one_pass(base_url, "feedback", page_size=10, since=since)
    return first, second, pass_start


def test_new_version_moves_to_the_end_and_the_next_pass_catches_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'national.db'}"
    fill_store(url, feedback_count=20)
    faults = Faults(update_while_paging=UpdateWhilePaging(after_request=1, count=2, endpoint="feedback"))
    with running_national_mock(url, TOKEN, faults) as base_url:
        first, second, pass_start = two_passes(base_url, margin=timedelta(minutes=5))
        everything = get(base_url, "feedback", page_size=500).json()
        armed = requests.get(f"{base_url}/_admin/faults", headers=AUTH, timeout=10).json()
    bumped = [first[0]["feedback_id"], first[1]["feedback_id"]]
    # Pass 1 saw only the old versions: the new ones landed behind the pages it had counted.
    assert len(first) == 20 and all(instant(i["updated_at"]) < pass_start for i in first)
    # The bumped records now sit at the end of the order, with updated_at after the pass started.
    assert everything["total"] == 22
    assert [i["feedback_id"] for i in everything["items"][-2:]] == bumped
    assert all(instant(i["updated_at"]) >= pass_start for i in everything["items"][-2:])
    # Pass 2 from (pass start − margin) catches them; de-duplication keeps the newest version.
    assert [i["feedback_id"] for i in second] == bumped
    merged = latest_by_key(first + second, "feedback_id")
    assert len(merged) == 20 and all(instant(merged[k]["updated_at"]) >= pass_start for k in bumped)
    assert armed["update_while_paging"] is None  # fires once


def test_in_place_update_moves_the_record_and_shifts_the_page_behind(tmp_path):
    url = f"sqlite:///{tmp_path / 'national.db'}"
    fill_store(url, feedback_count=20)
    order = [f"PAKN-{n:04d}" for n in range(20)]
    faults = Faults(update_while_paging=UpdateWhilePaging(after_request=1, count=1, mode="in_place"))
    with running_national_mock(url, TOKEN, faults) as base_url:
        first, second, pass_start = two_passes(base_url, margin=timedelta(minutes=5))
        everything = get(base_url, "feedback", page_size=500).json()
    assert everything["total"] == 20
    assert [i["feedback_id"] for i in everything["items"]] == order[1:] + order[:1]
    assert instant(everything["items"][-1]["updated_at"]) >= pass_start
    # In that pass the client met the moved record twice and skipped the one that shifted onto page 1.
    assert [i["feedback_id"] for i in first] == order[:10] + order[11:] + order[:1]
    assert [i["feedback_id"] for i in second] == order[:1]


def test_update_while_paging_fires_after_the_nth_answer_of_its_endpoint(tmp_path):
    url = f"sqlite:///{tmp_path / 'national.db'}"
    fill_store(url, feedback_count=20)
    faults = Faults(update_while_paging=UpdateWhilePaging(after_request=2, count=1, endpoint="feedback"))
    with running_national_mock(url, TOKEN, faults) as base_url:
        assert get(base_url, "synced-dossiers").status_code == 200  # another endpoint: not counted
        first = get(base_url, "feedback", page_size=5).json()
        second = get(base_url, "feedback", since=first["items"][-1]["updated_at"], page_size=5).json()
        after = get(base_url, "feedback", page_size=500).json()
    assert first["total"] == second["total"] + 4 == 20  # nothing moved before the 2nd answer was served
    # Then the 2nd answer's first record moved to the end of the order.
    assert after["total"] == 21 and after["items"][-1]["feedback_id"] == second["items"][0]["feedback_id"]


# --- PostgreSQL and the command line -----------------------------------------------------
@pytest.fixture
def postgres_url():
    name = f"tthc_national_mock_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgres
def test_serves_a_postgresql_store(postgres_url):
    fill_store(postgres_url, feedback_count=20)
    faults = Faults(update_while_paging=UpdateWhilePaging(after_request=1, count=2, endpoint="feedback"))
    with running_national_mock(postgres_url, TOKEN, faults) as base_url:
        dossiers, total = one_pass(base_url, "synced-dossiers", page_size=7)
        since_total = get(base_url, "synced-dossiers", since="2025-03-01T20:00:00").json()["total"]
        first, second, pass_start = two_passes(base_url, margin=timedelta(minutes=5))
        decision = get(base_url, "ministry-decisions").json()["items"][0]
    assert total == len(dossiers) == 33 and since_total == 20
    assert [i["MaHoSo"] for i in dossiers] == [i["MaHoSo"] for i in contract_order()]
    assert decision["procedure_codes"] == ["1.001612", "1.000894"]
    assert len(first) == 20 and [i["feedback_id"] for i in second] == [i["feedback_id"] for i in first[:2]]
    assert all(instant(i["updated_at"]) >= pass_start for i in second)
    engine = create_engine(postgres_url)
    names = {ix["name"] for ix in inspect(engine).get_indexes("national_synced_dossiers")}
    engine.dispose()
    assert "ix_national_synced_dossiers_serving_order" in names


def test_cli_flags_build_the_faults():
    args = build_parser().parse_args([
        "--db", "sqlite://", "--token", "t", "--rate-limited-requests", "3", "--retry-after", "5",
        "--error-rate", "0.1", "--latency", "0.2", "--malformed-key", "123/QĐ-UBND", "1.001612",
        "--malformed-kind", "missing_key", "--update-after-request", "3", "--update-count", "4",
        "--update-mode", "in_place",
    ])
    assert (args.host, args.port) == ("127.0.0.1", 8765)
    assert faults_from_args(args) == Faults(
        rate_limited_requests=3, retry_after=5, error_rate=0.1, latency=0.2,
        malformed=MalformedItem(key=("123/QĐ-UBND", "1.001612"), kind="missing_key"),
        update_while_paging=UpdateWhilePaging(after_request=3, count=4, mode="in_place"),
    )


def test_cli_needs_a_token(monkeypatch, capsys):
    monkeypatch.delenv("TTHC_NATIONAL_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", "sqlite://"])
    assert exit_info.value.code == 2 and "TTHC_NATIONAL_TOKEN" in capsys.readouterr().err


def test_cli_serves_over_http(sqlite_url):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "tthc.sim.national_mock", "--db", sqlite_url, "--port", str(port),
               "--rate-limited-requests", "1", "--retry-after", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "TTHC_NATIONAL_TOKEN": TOKEN})
    try:
        url = f"http://127.0.0.1:{port}/api/v1/feedback?province=H57"
        deadline = time.monotonic() + 30
        while True:
            try:
                first = requests.get(url, headers=AUTH, timeout=5)
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, "CLI server did not start"
                time.sleep(0.1)
        assert first.status_code == 429 and first.headers["Retry-After"] == "2"
        assert requests.get(url, headers=AUTH, timeout=5).json()["total"] == 3
    finally:
        process.terminate()
        process.wait(timeout=10)
