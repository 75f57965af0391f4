"""Nightly extraction from the national services (issue 4): the real HTTP mock on loopback,
every fault switch of sources.md §2 survived, into real SQLite and PostgreSQL warehouses."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import time
from collections import Counter

import pytest
import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from national_server import running_national_mock, set_faults

from tthc.extract.national import NationalClient, NationalUnavailable, feeds, load_feed
from tthc.periods import to_local_naive
from tthc.sim.generator import generate
from tthc.sim.national_mock import Faults, MalformedItem, UpdateWhilePaging
from tthc.sim.national_store import create_national_store, national_feedback
from tthc.warehouse import schema as wh
from tthc.warehouse.db import engine_for_url

TOKEN = "night-token"
MARGIN = dt.timedelta(minutes=10)
RUN_KEY = "tthc_nightly/2025-03-10"
FEEDS = {f.name: f for f in feeds("H57")}
# Store table and the item fields forming the record key, per feed.
STORE = {
    "ministry_decisions": ("national_ministry_decisions", ("decision_no",)),
    "national_publications": ("national_publications", ("provincial_decision_no", "procedure_code")),
    "synced_dossiers": ("national_synced_dossiers", ("MaHoSo",)),
    "feedback": ("national_feedback", ("feedback_id",)),
    "dossier_ratings": ("national_dossier_ratings", ("MaHoSo", "rated_at")),
}


@pytest.fixture(scope="module")
def store_template(tmp_path_factory):
    """Ten days of a small province's national records (publications span four 500-item pages)."""
    folder = tmp_path_factory.mktemp("national")
    nat = folder / "national.db"
    generate(f"sqlite:///{folder / 'replica.db'}", f"sqlite:///{nat}", dt.date(2025, 3, 1), dt.date(2025, 3, 10),
             seed=5, dossiers_per_year=20_000)
    return nat


@pytest.fixture
def store(store_template, tmp_path):
    path = tmp_path / "national.db"
    shutil.copy(store_template, path)
    return path


@pytest.fixture
def mock(store):
    with running_national_mock(f"sqlite:///{store}", TOKEN) as base_url:
        yield base_url


@pytest.fixture
def sqlite_warehouse(tmp_path):
    engine = engine_for_url(f"sqlite:///{tmp_path / 'warehouse.db'}")
    wh.create_all(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'warehouse.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("pg_database")
    engine = engine_for_url(url)
    wh.create_all(engine)
    return engine


class StatusLog:
    """Every HTTP status the client received, and the query of each request (a requests response
    hook: observes, changes nothing)."""

    def __init__(self, session: requests.Session) -> None:
        self.statuses: list[int] = []
        self.queries: list[dict] = []
        session.hooks["response"].append(self._note)

    def _note(self, resp: requests.Response, *args, **kwargs) -> None:
        self.statuses.append(resp.status_code)
        query = requests.utils.urlparse(resp.request.url).query
        self.queries.append(dict(p.split("=", 1) for p in requests.utils.unquote(query).split("&")))


def client(base_url: str, token: str = TOKEN, **kw) -> NationalClient:
    return NationalClient(base_url, token, **{"backoff_seconds": 0.02, **kw})


def now_local() -> dt.datetime:
    return to_local_naive(dt.datetime.now(dt.UTC))


def load(c: NationalClient, warehouse, name: str, started: dt.datetime | None = None):
    return load_feed(c, warehouse, FEEDS[name], RUN_KEY, started or now_local(), MARGIN)


def store_keys(store, name: str) -> set[tuple]:
    table, key = STORE[name]
    province = "" if name == "ministry_decisions" else " WHERE province = 'H57'"
    with sqlite3.connect(store) as conn:
        columns = ", ".join(f'"{k}"' for k in key)
        rows = conn.execute(f"SELECT {columns} FROM {table}{province}").fetchall()
    return {r for r in rows if all(v not in (None, "") for v in r)}


def staged_keys(warehouse, name: str) -> list[tuple]:
    table = FEEDS[name].table
    with warehouse.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(*table.primary_key.columns)).all()]


def watermark(warehouse, name: str):
    with warehouse.connect() as conn:
        return conn.execute(sa.select(wh.etl_watermarks.c.watermark)
                            .where(wh.etl_watermarks.c.stream == f"national.{name}")).scalar_one_or_none()


def quarantined(warehouse, check: str) -> list[tuple]:
    q = wh.quality_quarantine
    with warehouse.connect() as conn:
        return conn.execute(sa.select(q.c.table_name, q.c.item_key, q.c.detail)
                            .where(q.c.check_name == check)).all()


def test_every_feed_stages_the_latest_version_of_every_record_and_reruns_add_nothing(store, mock, warehouse):
    c = client(mock)
    first = {name: load(c, warehouse, name) for name in FEEDS}
    for name in FEEDS:
        keys = staged_keys(warehouse, name)
        assert len(keys) == len(set(keys)), name
        if name == "dossier_ratings":  # rated_at is read as an instant: compare counts
            assert len(keys) == len(store_keys(store, name))
        else:
            assert set(keys) == store_keys(store, name), name
    assert first["synced_dossiers"].items > first["synced_dossiers"].staged  # older versions de-duplicated

    with sqlite3.connect(store) as conn:  # the store's latest version per dossier, by instant
        latest = dict(conn.execute(
            "SELECT MaHoSo, CAST(TrangThaiHoSo AS INTEGER) FROM national_synced_dossiers s WHERE MaHoSo != '' "
            "AND sort_ts = (SELECT MAX(sort_ts) FROM national_synced_dossiers t WHERE t.MaHoSo = s.MaHoSo)"))
        styles = conn.execute("SELECT SUM(updated_at LIKE '%Z'), SUM(updated_at NOT LIKE '%+07:00' "
                              "AND updated_at NOT LIKE '%Z') FROM national_synced_dossiers").fetchone()
    with warehouse.connect() as conn:
        staged = dict(conn.execute(sa.select(wh.stg_synced_dossiers.c.ma_ho_so,
                                             wh.stg_synced_dossiers.c.trang_thai_ho_so)).all())
        # updated_at and DongBoLuc are the same instant; `Z` and offset-less times must land equal.
        mismatched = conn.execute(sa.select(sa.func.count()).select_from(wh.stg_synced_dossiers).where(
            wh.stg_synced_dossiers.c.updated_at != wh.stg_synced_dossiers.c.dong_bo_luc)).scalar_one()
    assert staged == latest
    assert min(styles) > 0 and mismatched == 0

    # A new version of a feedback record appears in the national store after the pass.
    with sqlite3.connect(store) as conn:
        fid, rating = conn.execute("SELECT feedback_id, rating FROM national_feedback ORDER BY row_id").fetchone()
        moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        conn.execute(
            "INSERT INTO national_feedback (province, feedback_id, unit_code, received_at, forwarded_at, "
            "answered_at, published_at, rating, repeat_of, dossier_code, updated_at, sort_ts) "
            "SELECT province, feedback_id, unit_code, received_at, forwarded_at, answered_at, published_at, "
            "'dissatisfied', repeat_of, dossier_code, ?, ? FROM national_feedback WHERE feedback_id = ? LIMIT 1",
            (moment.isoformat().replace("+00:00", "Z"), moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), fid))
    counts = {name: len(staged_keys(warehouse, name)) for name in FEEDS}
    second = {name: load(c, warehouse, name) for name in FEEDS}
    assert second["feedback"].items == 1  # incremental: since = the first pass's start − margin
    with warehouse.connect() as conn:
        staged_feedback = conn.execute(sa.select(wh.stg_feedback.c.rating, wh.stg_feedback.c.updated_at)
                                       .where(wh.stg_feedback.c.feedback_id == fid)).one()
    assert rating != "dissatisfied" and staged_feedback.rating == "dissatisfied"
    assert staged_feedback.updated_at == to_local_naive(moment).replace(microsecond=moment.microsecond)
    for name in FEEDS:  # reruns add no duplicates
        keys = staged_keys(warehouse, name)
        assert len(keys) == len(set(keys)) == counts[name], name


def test_429_with_retry_after_is_waited_out(mock, sqlite_warehouse):
    set_faults(mock, TOKEN, Faults(rate_limited_requests=2, retry_after=1))
    c = client(mock)
    log = StatusLog(c.session)
    started = time.monotonic()
    result = load(c, sqlite_warehouse, "ministry_decisions")
    assert time.monotonic() - started >= 2.0  # the server's Retry-After, not the 0.02 s backoff
    assert log.statuses[:3] == [429, 429, 200]
    assert result.staged == len(staged_keys(sqlite_warehouse, "ministry_decisions")) > 0


def test_5xx_at_a_rate_is_retried_to_a_complete_load(store, mock, sqlite_warehouse):
    set_faults(mock, TOKEN, Faults(error_rate=0.4, error_seed=3))
    c = client(mock, max_retries=8)
    log = StatusLog(c.session)
    load(c, sqlite_warehouse, "national_publications")
    assert {s for s in log.statuses if s >= 500} and log.statuses.count(200) == 4  # 4 pages, no more
    assert set(staged_keys(sqlite_warehouse, "national_publications")) == store_keys(store, "national_publications")


def test_slow_answers_are_waited_for_and_a_timeout_is_a_clear_failure(mock, sqlite_warehouse):
    set_faults(mock, TOKEN, Faults(latency=0.3))
    started = time.monotonic()
    result = load(client(mock), sqlite_warehouse, "feedback")
    assert time.monotonic() - started >= 0.3 and result.staged > 0  # one page, 0.3 s late
    before = watermark(sqlite_warehouse, "feedback")
    with pytest.raises(NationalUnavailable, match=r"feedback page 1 failed after 2 attempts \(last: ReadTimeout\)"):
        load(client(mock, timeout=0.1, max_retries=1), sqlite_warehouse, "feedback")
    assert watermark(sqlite_warehouse, "feedback") == before


def in_feed_order(store, name: str) -> list[tuple]:
    """The store's versions of a feed's records, as their keys, in the order the feed serves them."""
    table, key = STORE[name]
    columns = ", ".join(f'"{k}"' for k in key)
    with sqlite3.connect(store) as conn:
        return conn.execute(f"SELECT {columns} FROM {table} WHERE province = 'H57' "
                            f"ORDER BY sort_ts, {columns}, row_id").fetchall()


@pytest.mark.parametrize("kind", ["not_object", "missing_key", "wrong_type"])
@pytest.mark.parametrize("position", [507, 499])  # the 8th item of the 2nd page; the last of the 1st
def test_a_malformed_item_is_quarantined_and_the_rest_staged(store, mock, sqlite_warehouse, kind, position):
    spoilt = in_feed_order(store, "national_publications")[position]
    set_faults(mock, TOKEN, Faults(malformed=MalformedItem(key=spoilt, kind=kind,
                                                           endpoint="national-publications")))
    result = load(client(mock), sqlite_warehouse, "national_publications")
    expected, staged = store_keys(store, "national_publications"), set(staged_keys(sqlite_warehouse,
                                                                                   "national_publications"))
    if kind == "wrong_type":  # key intact, updated_at a number: staged with NULL and reported
        assert staged == expected and not result.unreadable
        [(table, key, detail)] = quarantined(sqlite_warehouse, "national_time_unreadable")
        assert table == "national.national_publications" and key.startswith(f"{RUN_KEY}#")
        assert detail.startswith("unreadable time: updated_at=")
        return
    [(table, key, detail)] = quarantined(sqlite_warehouse, "national_item_unreadable")
    assert (table, key) == ("national.national_publications", f"{RUN_KEY}#{position}")  # reported once
    assert len(result.unreadable) == 1 and expected - staged == {spoilt}
    assert result.staged == len(staged) == result.items - 1  # one record per key, one item spoilt


@pytest.mark.parametrize("mode", ["new_version", "in_place"])
def test_records_updated_while_paging_are_not_lost(store, mock, sqlite_warehouse, mode):
    # After the 2nd answer, 5 records the pass has read move to the end of the order.
    set_faults(mock, TOKEN, Faults(update_while_paging=UpdateWhilePaging(
        after_request=2, count=5, mode=mode, endpoint="national-publications")))
    c = client(mock)
    expected = store_keys(store, "national_publications")

    def recent() -> tuple[int, int]:
        """Versions updated in the last minutes: in the store, and staged."""
        with sqlite3.connect(store) as conn:
            stored = conn.execute("SELECT COUNT(*) FROM national_publications WHERE sort_ts >= ?", (
                (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),)).fetchone()[0]
        with sqlite_warehouse.connect() as conn:
            staged = conn.execute(sa.select(sa.func.count()).select_from(wh.stg_national_publications).where(
                wh.stg_national_publications.c.updated_at >= now_local() - dt.timedelta(minutes=5))).scalar_one()
        return stored, staged

    versions = len(in_feed_order(store, "national_publications"))
    first = load(c, sqlite_warehouse, "national_publications")
    # Nothing skipped, and the moved versions, now at the end of the order, read in the same pass.
    assert set(staged_keys(sqlite_warehouse, "national_publications")) == expected
    assert recent() == (5, 5) and first.items == versions + 5
    load(c, sqlite_warehouse, "national_publications")  # the next night reads them again: same records
    assert recent() == (5, 5)
    assert set(staged_keys(sqlite_warehouse, "national_publications")) == expected


def test_a_refused_token_stops_the_feed_with_a_clear_message_and_commits_nothing(mock, warehouse):
    c = client(mock)
    load(c, warehouse, "feedback")
    before = (watermark(warehouse, "feedback"), staged_keys(warehouse, "feedback"))
    with pytest.raises(NationalUnavailable, match=r"refused the token \(401\).*connection 'national_portal'"):
        load(client(mock, token="wrong"), warehouse, "feedback", now_local() + dt.timedelta(hours=1))
    set_faults(mock, TOKEN, Faults(token_rotated=True))
    with pytest.raises(NationalUnavailable, match=r"refused the token \(401\)"):
        load(c, warehouse, "feedback", now_local() + dt.timedelta(hours=1))
    assert (watermark(warehouse, "feedback"), staged_keys(warehouse, "feedback")) == before


def test_a_service_down_mid_pass_commits_nothing_and_the_next_run_catches_up(store, mock, warehouse):
    # Seed 17 lets three answers through, then fails: the pass breaks half read.
    set_faults(mock, TOKEN, Faults(error_rate=0.5, error_seed=17))
    c = client(mock, max_retries=0)
    log = StatusLog(c.session)
    with pytest.raises(NationalUnavailable, match=r"national-publications page \d failed after 1 attempts "
                                                  r"\(last: HTTP 50[023]\)"):
        load(c, warehouse, "national_publications")
    assert log.statuses.count(200) == 3  # three of the four pages read before the failure
    assert watermark(warehouse, "national_publications") is None
    assert staged_keys(warehouse, "national_publications") == []
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(wh.etl_loads)).scalar_one() == 0

    set_faults(mock, TOKEN, Faults())
    load(client(mock), warehouse, "national_publications")
    assert set(staged_keys(warehouse, "national_publications")) == store_keys(store, "national_publications")


def test_a_service_that_does_not_answer_at_all_fails_after_its_retries(sqlite_warehouse):
    with pytest.raises(NationalUnavailable, match=r"failed after 3 attempts \(last: ConnectionError\)"):
        load(client("http://127.0.0.1:9", max_retries=2), sqlite_warehouse, "feedback")
    assert watermark(sqlite_warehouse, "feedback") is None
    assert Counter(k for k, *_ in quarantined(sqlite_warehouse, "national_item_unreadable")) == Counter()


# --- time slices (sources.md §2: since inclusive, ordered by (updated_at, key)) ------------------
T0 = dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC)


def fill_feedback(store, versions: list[tuple[str, dt.datetime]]) -> None:
    """Replace the store's feedback with these (feedback_id, updated_at) versions, written as the
    national services write times: with an offset, in UTC or local without one, to the microsecond."""
    def served(n: int, moment: dt.datetime) -> str:
        local = moment.astimezone(dt.timezone(dt.timedelta(hours=7)))
        forms = (local.isoformat(), moment.isoformat().replace("+00:00", "Z"), local.replace(tzinfo=None).isoformat())
        return forms[n % 3]

    engine = create_national_store(f"sqlite:///{store}")
    with engine.begin() as conn:
        conn.execute(national_feedback.delete())
        if versions:
            conn.execute(national_feedback.insert(), [{
                "province": "H57", "feedback_id": fid, "unit_code": "000.21.31.H57",
                "received_at": "2025-03-01T08:00:00+07:00", "rating": "satisfied" if n % 2 else None,
                "updated_at": served(n, moment), "sort_ts": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            } for n, (fid, moment) in enumerate(versions)])
    engine.dispose()


def stored_versions(store) -> Counter:
    """The feedback versions in the store, as (feedback_id, updated_at instant) pairs."""
    with sqlite3.connect(store) as conn:
        return Counter((fid, to_local_naive(dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)))
                       for fid, ts in conn.execute("SELECT feedback_id, sort_ts FROM national_feedback"))


def read_in_pass(c: NationalClient) -> list[tuple[int, str, dt.datetime]]:
    """What one pass over the feedback feed reads: (position, feedback_id, updated_at instant)."""
    feed = FEEDS["feedback"]
    return [(position, row["feedback_id"], row["updated_at"]) for position, row in
            ((position, feed.to_row(item)) for position, item in c.iter_items(feed, None))]


def read_versions(c: NationalClient) -> Counter:
    """What one pass over the feedback feed reads, as (feedback_id, updated_at instant) pairs."""
    return Counter((fid, moment) for _, fid, moment in read_in_pass(c))


@pytest.fixture
def empty_store(tmp_path):
    path = tmp_path / "national.db"
    create_national_store(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def small_mock(empty_store):
    with running_national_mock(f"sqlite:///{empty_store}", TOKEN) as base_url:
        yield base_url


def test_a_pass_asks_about_one_page_per_page_size_of_records_each_from_its_own_since(empty_store, small_mock):
    fill_feedback(empty_store, [(f"PAKN-{n:03d}", T0 + dt.timedelta(minutes=n)) for n in range(23)])
    c = client(small_mock, page_size=5)
    log = StatusLog(c.session)
    assert read_versions(c) == stored_versions(empty_store)
    # Each page after the first starts with the item that ended the one before (read, skipped):
    # 5, then 4 new records a page (499 of 500 in production), no probe, never an offset.
    assert log.statuses == [200] * 6 and [q["page"] for q in log.queries] == ["1"] * 6
    sinces = [dt.datetime.fromisoformat(q["since"].replace(" ", "+")) for q in log.queries[1:]]
    assert sinces == [T0 + dt.timedelta(minutes=n) for n in (4, 8, 12, 16, 20)]
    fill_feedback(empty_store, [(f"PAKN-{n:03d}", T0 + dt.timedelta(minutes=n)) for n in range(25)])
    log.statuses.clear()
    # The 6th page is full: a 7th finds only the item it ended with, and ends the pass.
    assert read_versions(c) == stored_versions(empty_store) and len(log.statuses) == 7


def test_the_items_sharing_the_last_instant_of_a_page_are_read_once(empty_store, small_mock):
    # Page 1 ends inside the 4 items at 01:01, page 2 inside the 3 at 01:02.
    versions = [(f"A-{n}", T0) for n in range(3)] + [(f"B-{n}", T0 + dt.timedelta(minutes=1)) for n in range(4)] + \
        [(f"C-{n}", T0 + dt.timedelta(minutes=2)) for n in range(3)]
    fill_feedback(empty_store, versions)
    c = client(small_mock, page_size=5)
    log = StatusLog(c.session)
    assert read_versions(c) == stored_versions(empty_store) == Counter({(k, to_local_naive(m)): 1 for k, m in versions})
    assert len(log.statuses) == 3


@pytest.mark.parametrize("mode", [None, "new_version", "in_place"])
def test_an_instant_holding_more_than_a_page_is_read_whole_by_offset_and_loses_nothing(
        empty_store, small_mock, sqlite_warehouse, mode):
    at = T0 + dt.timedelta(hours=1)
    versions = [(f"A-{n}", T0 + dt.timedelta(minutes=n)) for n in range(3)] + \
        [(f"B-{n:02d}", at) for n in range(11)] + [(f"C-{n}", at + dt.timedelta(microseconds=1 + n)) for n in range(3)]
    fill_feedback(empty_store, versions)
    # Answers: 1 page from the start, 2 from the instant (full of it), 3-4 its totals, 5-7 its pages
    # by offset from the last: after the 5th, its first two records move to the end of the order.
    if mode:
        set_faults(small_mock, TOKEN, Faults(update_while_paging=UpdateWhilePaging(
            after_request=5, count=2, mode=mode, endpoint="feedback")))
    c = client(small_mock, page_size=4)
    log = StatusLog(c.session)
    started = now_local()
    result = load(c, sqlite_warehouse, "feedback", started)
    # Every record once, and the two moved ones again at the end, in their new versions.
    assert sorted(staged_keys(sqlite_warehouse, "feedback")) == sorted((k,) for k, _ in versions)
    assert result.items == len(versions) + (2 if mode else 0)
    with sqlite_warehouse.connect() as conn:
        moved = conn.execute(sa.select(wh.stg_feedback.c.feedback_id).where(
            wh.stg_feedback.c.updated_at >= started - dt.timedelta(minutes=1))).scalars().all()
    assert sorted(moved) == (["B-08", "B-09"] if mode else [])
    assert watermark(sqlite_warehouse, "feedback") == started - MARGIN
    # Offsets only inside the instant: pages of `since` = that instant, nowhere else.
    deep = {q["since"] for q in log.queries if q["page"] != "1"}
    assert [dt.datetime.fromisoformat(d.replace(" ", "+")) for d in deep] == [at]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(versions=[(0, 0), (1, 1), (1, 1), (1, 1)], page_size=3, update=None)  # a page ends inside duplicates
# A version added between the two counts of an instant that fills a page (its 4th answer).
@example(versions=[(0, 0)] * 3 + [(0, 1)] + [(0, 2)] * 4 + [(1, 2)], page_size=4,
         update=UpdateWhilePaging(after_request=4, count=1, mode="new_version"))
@given(versions=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=30),
       page_size=st.integers(1, 6),
       update=st.none() | st.builds(UpdateWhilePaging, after_request=st.integers(1, 4), count=st.integers(1, 3),
                                    mode=st.sampled_from(["new_version", "in_place"])))
def test_a_pass_reads_exactly_the_feeds_versions(empty_store, small_mock, versions, page_size, update):
    # Few keys and instants a microsecond apart: versions share keys, instants fill pages.
    fill_feedback(empty_store, [(f"PAKN-{k}", T0 + dt.timedelta(microseconds=m)) for k, m in versions])
    before = stored_versions(empty_store)
    set_faults(small_mock, TOKEN, Faults(update_while_paging=update))
    c = client(small_mock, page_size=page_size)
    log = StatusLog(c.session)
    positions = read_in_pass(c)
    read = Counter((fid, moment) for _, fid, moment in positions)
    if update is None or len(log.statuses) <= update.after_request:  # nothing moved while the pass read
        assert read == before  # each version once
        # Positions (feed_seq, quarantine keys) are unique and follow the feed's order.
        assert len({p for p, *_ in positions}) == len(positions)
        assert [(m, fid) for _, fid, m in sorted(positions)] == sorted((m, fid) for _, fid, m in positions)
    else:  # every version the store holds after the move, at least once, and nothing it never held. (A
        # version rewritten in place before it was read is gone; of two alike in key and instant, one may
        # move while the other stays: either stands for both.)
        after = stored_versions(empty_store)
        assert set(after) <= set(read) <= set(before) | set(after)
        assert {fid for fid, _ in read} == {fid for fid, _ in before}
