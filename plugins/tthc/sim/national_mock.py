"""Mock of the national services (sources.md §2), served over real HTTP from the national store.

Five list endpoints read the national store (one row per version of a record, see
`tthc.sim.national_store`) page by page with `ORDER BY sort_ts, key, row_id LIMIT/OFFSET`
on an index the mock creates if missing, so a province-year (about 1.2 M synced dossiers)
is served without loading a table into memory. Every version row is served; clients
de-duplicate by key.

Choices where sources.md leaves room:
- `page_size` above 500 (or below 1, or `page` below 1) is refused with 422, not clamped:
  a client that asks for more than the contract allows learns it at once.
- `since` is ISO 8601 (`Z`, an offset, or no offset = local time Asia/Ho_Chi_Minh; a date
  alone is local midnight); an unreadable one gets 422. A `+` sent unencoded in the query
  string arrives as a space and is read back as `+`.
- Provincial endpoints require `province`; items carry no `province`, `row_id` or `sort_ts`.

Faults (sources.md: "behaviour that real national services show") are set at start
(`Faults`, CLI flags) and on a running server through `/_admin/faults` (same bearer token,
never subject to the faults themselves): GET shows them, POST replaces them, DELETE clears.

Run it: `python -m tthc.sim.national_mock --db sqlite:///national.db --token secret`.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import itertools
import json
import logging
import os
import random
import re
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, TypeAdapter, ValidationError
from sqlalchemy import Connection, Engine, create_engine, inspect, text

log = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
DEFAULT_PORT = 8765
TOKEN_ENV = "TTHC_NATIONAL_TOKEN"
ERROR_STATUSES = (500, 502, 503)
# A bad item sent in place of a record that is not a JSON object at all.
NOT_AN_OBJECT = "<<record unreadable>>"


# --- the endpoints (sources.md §2's table) -----------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """One list endpoint: its store table, record key and item fields, in the contract's order."""

    path: str
    table: str
    key: tuple[str, ...]
    fields: tuple[str, ...]
    provincial: bool = True
    booleans: frozenset[str] = frozenset()
    json_lists: frozenset[str] = frozenset()
    integers: frozenset[str] = frozenset()


ENDPOINTS: dict[str, Endpoint] = {
    e.path: e
    for e in (
        Endpoint(
            "ministry-decisions",
            "national_ministry_decisions",
            ("decision_no",),
            (
                "decision_no",
                "ministry",
                "signed_on",
                "effective_on",
                "posted_at",
                "procedure_codes",
                "updated_at",
            ),
            provincial=False,
            json_lists=frozenset({"procedure_codes"}),
        ),
        Endpoint(
            "national-publications",
            "national_publications",
            ("provincial_decision_no", "procedure_code"),
            (
                "provincial_decision_no",
                "procedure_code",
                "published_at",
                "complete",
                "fee_declared",
                "updated_at",
            ),
            booleans=frozenset({"complete", "fee_declared"}),
        ),
        Endpoint(
            "synced-dossiers",
            "national_synced_dossiers",
            ("MaHoSo",),
            (
                "MaHoSo",
                "MaTTHC",
                "MaDonVi",
                "TrangThaiHoSo",
                "NgayTiepNhan",
                "NgayHenTra",
                "NgayCoKetQua",
                "DongBoLuc",
                "updated_at",
            ),
        ),
        Endpoint(
            "feedback",
            "national_feedback",
            ("feedback_id",),
            (
                "feedback_id",
                "unit_code",
                "received_at",
                "forwarded_at",
                "answered_at",
                "published_at",
                "rating",
                "repeat_of",
                "dossier_code",
                "updated_at",
            ),
        ),
        # Key (MaHoSo, rated_at as an instant): ties within one sort_ts are broken on the stored
        # rated_at text, which is a stable order whatever offset the text carries.
        Endpoint(
            "dossier-ratings",
            "national_dossier_ratings",
            ("MaHoSo", "rated_at"),
            ("MaHoSo", "rating", "rated_at", "updated_at"),
            integers=frozenset({"rating"}),
        ),
    )
}


def q(identifier: str) -> str:
    """Quote an identifier: the store keeps the national portal's mixed-case names (MaHoSo)."""
    return '"' + identifier.replace('"', '""') + '"'


def order_columns(endpoint: Endpoint) -> tuple[str, ...]:
    return ("sort_ts", *endpoint.key, "row_id")


def index_ddl(endpoint: Endpoint) -> str:
    """The index that serves both the `since` filter and the page order (province first when filtered)."""
    columns = (("province",) if endpoint.provincial else ()) + order_columns(endpoint)
    name = f"ix_{endpoint.table}_serving_order"
    return f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(endpoint.table)} ({', '.join(map(q, columns))})"


# --- times ---------------------------------------------------------------------------------
def to_sort_ts(moment: datetime) -> str:
    """The store's sort key: the instant in UTC as 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (orders as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_since(raw: str) -> str:
    """`since` as the store's sort key; no offset means local time (Asia/Ho_Chi_Minh)."""
    cleaned = re.sub(r" (\d{2}(:?\d{2})?)$", r"+\1", raw.strip())
    moment = datetime.fromisoformat(cleaned)  # ValueError on anything unreadable
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return to_sort_ts(moment)


# --- faults --------------------------------------------------------------------------------
def check_endpoint(endpoint: str | None) -> None:
    if endpoint is not None and endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; one of {', '.join(sorted(ENDPOINTS))}")


@dataclass(frozen=True)
class MalformedItem:
    """Spoil one record: every item of it is served malformed, in whatever page it falls.

    Keyed by the record, not by a page, so that it is met however a client pages.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    key: tuple[str, ...]  # the record key's values, in the endpoint's key order
    # not_object: the item is a JSON string; wrong_type: updated_at is a number (epoch
    # seconds); missing_key: the record key's fields are absent.
    kind: Literal["not_object", "wrong_type", "missing_key"] = "not_object"
    endpoint: str | None = None  # None: every endpoint whose key this is

    def __post_init__(self) -> None:
        check_endpoint(self.endpoint)
        if not self.key:
            raise ValueError("key needs the record key's values")
        if self.endpoint is not None and len(self.key) != len(ENDPOINTS[self.endpoint].key):
            raise ValueError(f"{self.endpoint} keys have {len(ENDPOINTS[self.endpoint].key)} values")


@dataclass(frozen=True)
class UpdateWhilePaging:
    """After the `after_request`-th answer, bump `count` records of it to now (fires once).

    Answers are counted from when the faults were set, on `endpoint` (every endpoint when None).
    The bumped records are the first `count` items of the answer just served, records the client
    has already passed, so their new versions go to the end of the order. `new_version` inserts a
    version row (the store's one-row-per-version design; nothing else moves, the total grows);
    `in_place` rewrites the row's updated_at, so the rows behind it shift back by `count` and an
    offset-paging client also skips the first `count` records of the next page in that pass.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    after_request: int
    count: int = 1
    mode: Literal["new_version", "in_place"] = "new_version"
    endpoint: str | None = None

    def __post_init__(self) -> None:
        check_endpoint(self.endpoint)
        if self.after_request < 1:
            raise ValueError("answers count from 1")
        if self.count < 1:
            raise ValueError("count must be at least 1")


@dataclass(frozen=True)
class Faults:
    """Misbehaviour the mock produces on demand; the defaults are a well-behaved service."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    token_rotated: bool = False  # every API request gets 401, even with the right token
    rate_limited_requests: int = 0  # the next K API requests get 429 ...
    retry_after: int = 1  # ... with Retry-After: N seconds
    error_rate: float = 0.0  # share of API requests answered 500/502/503
    error_seed: int = 0  # seeds the draw, so a run's errors are reproducible
    latency: float = 0.0  # seconds added to each API request
    malformed: MalformedItem | None = None
    update_while_paging: UpdateWhilePaging | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if self.rate_limited_requests < 0 or self.retry_after < 0 or self.latency < 0:
            raise ValueError("rate_limited_requests, retry_after and latency cannot be negative")


FAULTS_ADAPTER = TypeAdapter(Faults)


class FaultState:
    """The running server's faults and their counters, shared by the request threads."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self.set(faults)

    def set(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._rate_limited_left = faults.rate_limited_requests
            self._answers_to_update = 0
            self._rng = random.Random(faults.error_seed)

    def current(self) -> Faults:
        with self._lock:
            return self.faults

    def refusal(self) -> HTTPException | None:
        """The 401/429/5xx this request gets, if any (drawn in request order, so reproducible)."""
        with self._lock:
            faults = self.faults
            if faults.token_rotated:
                return unauthorized("token rejected (rotated)")
            if self._rate_limited_left > 0:
                self._rate_limited_left -= 1
                return HTTPException(429, "rate limit exceeded", {"Retry-After": str(faults.retry_after)})
            if faults.error_rate > 0 and self._rng.random() < faults.error_rate:
                return HTTPException(self._rng.choice(ERROR_STATUSES), "upstream error")
        return None

    def take_update(self, endpoint: Endpoint) -> UpdateWhilePaging | None:
        """Count an answer of `endpoint`; the update-while-paging switch if it fires on it (it disarms itself)."""
        with self._lock:
            update = self.faults.update_while_paging
            if update is None or update.endpoint not in (None, endpoint.path):
                return None
            self._answers_to_update += 1
            if self._answers_to_update < update.after_request:
                return None
            self.faults = dataclasses.replace(self.faults, update_while_paging=None)
            return update


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, {"WWW-Authenticate": "Bearer"})


def spoil(items: list[Any], endpoint: Endpoint, malformed: MalformedItem) -> None:
    """Replace the items of the spoilt record with malformed ones, in place."""
    if malformed.endpoint not in (None, endpoint.path) or len(malformed.key) != len(endpoint.key):
        return
    for position, item in enumerate(items):
        if tuple(item[name] for name in endpoint.key) != malformed.key:
            continue
        if malformed.kind == "not_object":
            items[position] = NOT_AN_OBJECT
        elif malformed.kind == "wrong_type":
            item["updated_at"] = int(time.time())
        else:
            for name in endpoint.key:
                item.pop(name, None)


# --- the store -----------------------------------------------------------------------------
def to_item(endpoint: Endpoint, row: Sequence[Any]) -> dict[str, Any]:
    """A store row (the endpoint's fields, in order) as the JSON item the contract describes."""
    item = dict(zip(endpoint.fields, row, strict=True))
    for name in endpoint.booleans:
        if item[name] is not None:
            item[name] = bool(int(item[name]))
    for name in endpoint.integers:
        if item[name] is not None:
            item[name] = int(item[name])
    for name in endpoint.json_lists:
        if isinstance(item[name], str):
            try:
                item[name] = json.loads(item[name])
            except ValueError:
                pass  # served as stored: the pipeline must survive a bad value, not the mock hide it
    return item


class NationalStore:
    """Reads pages from the national store and bumps records for the update-while-paging fault.

    A `since` query's total is the rows of since's UTC day from `since` on plus the rows of the
    later days, whose counts per day are kept: a client reading in time slices asks from a new
    `since` at every page, and counting every row after it each time would make its pass
    quadratic in the feed's length. The kept counts are dropped whenever the store changed
    (SQLite's `data_version`, which a commit by any other connection moves); other databases
    are counted afresh every time.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_lock = threading.Lock()
        self._counts_lock = threading.Lock()
        self._day_counts: dict[tuple[str, str | None], tuple[list[str], list[int]]] = {}
        self._data_version: int | None = None
        file = engine.url.database if engine.dialect.name == "sqlite" else None
        self._watch = sqlite3.connect(file, check_same_thread=False) if file and file != ":memory:" else None
        present = set(inspect(engine).get_table_names())
        missing = sorted(e.table for e in ENDPOINTS.values() if e.table not in present)
        if missing:
            raise RuntimeError(f"national store {engine.url!r} lacks tables: {', '.join(missing)}")
        inspector = inspect(engine)
        self.columns = {e.table: inspector.get_columns(e.table) for e in ENDPOINTS.values()}
        with engine.begin() as conn:
            for endpoint in ENDPOINTS.values():
                conn.execute(text(index_ddl(endpoint)))

    @staticmethod
    def _where(endpoint: Endpoint, province: str | None, since: str | None) -> tuple[str, dict[str, str]]:
        clauses, params = [], {}
        if endpoint.provincial:
            clauses.append('"province" = :province')
            params["province"] = province
        if since is not None:
            clauses.append('"sort_ts" >= :since')
            params["since"] = since
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def page(
        self, endpoint: Endpoint, province: str | None, since: str | None, page: int, page_size: int
    ) -> tuple[list[tuple[int, dict[str, Any]]], int]:
        """(row_id, item) pairs of one page, and the total count of items matching the query."""
        where, params = self._where(endpoint, province, since)
        select = (
            f"SELECT {q('row_id')}, {', '.join(map(q, endpoint.fields))} FROM {q(endpoint.table)}{where}"
            f" ORDER BY {', '.join(map(q, order_columns(endpoint)))} LIMIT :limit OFFSET :offset"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(select), {**params, "limit": page_size, "offset": (page - 1) * page_size}
            ).all()
            total = self._total(conn, endpoint, province, since)
        return [(row[0], to_item(endpoint, row[1:])) for row in rows], total

    def _total(self, conn: Connection, endpoint: Endpoint, province: str | None, since: str | None) -> int:
        where, params = self._where(endpoint, province, since)
        count = f"SELECT COUNT(*) FROM {q(endpoint.table)}{where}"
        if since is None or self._watch is None:
            return conn.execute(text(count), params).scalar_one()
        day = since[:10]
        days, later = self._days(conn, endpoint, province)
        # '~' sorts after every 'YYYY-MM-DDT…' of that day and before the next day's.
        within = conn.execute(text(f'{count} AND "sort_ts" < :day_end'), {**params, "day_end": day + "~"})
        return within.scalar_one() + later[bisect.bisect_right(days, day)]

    def _days(self, conn: Connection, endpoint: Endpoint, province: str | None) -> tuple[list[str], list[int]]:
        """The days holding rows (sort_ts's first 10 characters, in order) and, for each, the
        rows of that day and the days after it (one more entry, 0, past the last day)."""
        with self._counts_lock:
            version = self._watch.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version:
                self._day_counts.clear()
                self._data_version = version
            if (endpoint.table, province) not in self._day_counts:
                where, params = self._where(endpoint, province, None)
                rows = conn.execute(
                    text(
                        f'SELECT substr("sort_ts", 1, 10) AS day, COUNT(*) FROM {q(endpoint.table)}{where}'
                        " GROUP BY day HAVING day IS NOT NULL ORDER BY day"
                    ),
                    params,
                ).all()
                later = list(itertools.accumulate((n for _, n in reversed(rows)), initial=0))[::-1]
                self._day_counts[endpoint.table, province] = ([day for day, _ in rows], later)
            return self._day_counts[endpoint.table, province]

    def dispose(self) -> None:
        """Close the store's connections (so that a test can drop its database at once)."""
        if self._watch is not None:
            self._watch.close()
        self.engine.dispose()

    def bump(self, endpoint: Endpoint, row_ids: Sequence[int], mode: str, now: datetime) -> None:
        """Set updated_at/sort_ts of these records to `now`: a new version row, or the row itself."""
        stamp = {
            "updated_at": now.astimezone(LOCAL_TZ).isoformat(timespec="microseconds"),
            "sort_ts": to_sort_ts(now),
        }
        table = q(endpoint.table)
        columns = self.columns[endpoint.table]
        copied = [c["name"] for c in columns if c["name"] not in ("row_id", "updated_at", "sort_ts")]
        row_id_column = next(c for c in columns if c["name"] == "row_id")
        # SQLite numbers an INTEGER PRIMARY KEY itself, PostgreSQL a serial/identity column; a plain
        # INTEGER key without either is numbered here.
        numbered_by_db = (
            self.engine.dialect.name == "sqlite"
            or row_id_column.get("default") is not None
            or row_id_column.get("identity") is not None
        )
        names = ([] if numbered_by_db else ["row_id"]) + [*copied, "updated_at", "sort_ts"]
        values = ([] if numbered_by_db else [":new_id"]) + [*map(q, copied), ":updated_at", ":sort_ts"]
        insert = text(
            f"INSERT INTO {table} ({', '.join(map(q, names))})"
            f' SELECT {", ".join(values)} FROM {table} WHERE "row_id" = :row_id'
        )
        update = text(
            f'UPDATE {table} SET "updated_at" = :updated_at, "sort_ts" = :sort_ts WHERE "row_id" = :row_id'
        )
        next_id = text(f'SELECT COALESCE(MAX("row_id"), 0) + 1 FROM {table}')
        with self._write_lock, self.engine.begin() as conn:
            for row_id in row_ids:
                if mode == "in_place":
                    conn.execute(update, {**stamp, "row_id": row_id})
                    continue
                new_id = None if numbered_by_db else conn.execute(next_id).scalar_one()
                conn.execute(insert, {**stamp, "new_id": new_id, "row_id": row_id})


def store_engine(db_url: str) -> Engine:
    # A generous SQLite lock timeout: the generator may be writing the store while we serve it.
    connect_args = {"timeout": 30} if db_url.startswith("sqlite") else {}
    return create_engine(db_url, pool_pre_ping=True, connect_args=connect_args)


# --- the app -------------------------------------------------------------------------------
def create_app(db_url: str, token: str, faults: Faults | None = None) -> FastAPI:
    """The national services mock over the store at `db_url`, answering bearer `token`."""
    if not token:
        raise ValueError("the national mock needs a non-empty token")
    store = NationalStore(store_engine(db_url))
    state = FaultState(faults or Faults())
    app = FastAPI(title="National services mock (sources.md §2)", docs_url=None, redoc_url=None)
    app.state.faults = state
    app.state.store = store

    def authorized(request: Request) -> None:
        """Dependency of every route: the bearer token, checked before the query is validated."""
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        offered = credentials.strip().encode()
        if scheme.lower() != "bearer" or not secrets.compare_digest(offered, token.encode()):
            raise unauthorized("missing or wrong bearer token")

    def misbehave(request: Request) -> None:
        """Dependency of the API routes: the latency, auth and refusal faults, in that order."""
        latency = state.current().latency
        if latency:
            time.sleep(latency)
        authorized(request)
        refusal = state.refusal()
        if refusal is not None:
            raise refusal

    def make_handler(endpoint: Endpoint):
        def handler(
            province: str | None = Query(None),
            since: str | None = Query(None),
            page: int = Query(1, ge=1),
            page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
        ):
            if endpoint.provincial and not province:
                raise HTTPException(422, "query parameter 'province' is required")
            try:
                since_key = parse_since(since) if since is not None else None
            except ValueError as error:
                raise HTTPException(422, f"'since' is not an ISO 8601 time: {since!r}") from error
            rows, total = store.page(endpoint, province, since_key, page, page_size)
            items: list[Any] = [item for _, item in rows]
            malformed = state.current().malformed
            if malformed:
                spoil(items, endpoint, malformed)
            update = state.take_update(endpoint)
            if update is not None:
                store.bump(
                    endpoint, [row_id for row_id, _ in rows[: update.count]], update.mode, datetime.now(UTC)
                )
            # Already JSON values: FastAPI's encoder would cost as much again as the query.
            return JSONResponse({"items": items, "page": page, "page_size": page_size, "total": total})

        handler.__name__ = "list_" + endpoint.path.replace("-", "_")
        return handler

    for endpoint in ENDPOINTS.values():
        app.get(f"/api/v1/{endpoint.path}", dependencies=[Depends(misbehave)])(make_handler(endpoint))

    # The admin routes answer the real token even while the faults are on, so tests can clear them.
    @app.get("/_admin/faults", dependencies=[Depends(authorized)])
    def get_faults():
        return dataclasses.asdict(state.current())

    @app.post("/_admin/faults", dependencies=[Depends(authorized)])
    async def set_faults(request: Request):
        try:
            new = FAULTS_ADAPTER.validate_python(await request.json())
        except (ValidationError, ValueError) as error:
            return JSONResponse({"detail": str(error)}, status_code=422)
        state.set(new)
        log.info("national mock faults set: %s", new)
        return dataclasses.asdict(new)

    @app.delete("/_admin/faults", dependencies=[Depends(authorized)])
    def clear_faults():
        state.set(Faults())
        log.info("national mock faults cleared")
        return dataclasses.asdict(state.current())

    return app


class BackgroundServer:
    """Serve an app with uvicorn in a daemon thread on loopback; `with` gives its base URL.

    Port 0 picks a free port: the socket is bound here, so the URL is known before start.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        bound_host, bound_port = self._socket.getsockname()[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="national-mock", daemon=True
        )

    def start(self, timeout: float = 10.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the national mock did not start")
            time.sleep(0.01)
        return self.base_url

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- command line --------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="national-mock",
        description="Serve the national services (sources.md §2) over HTTP from a national store.",
    )
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of the national store")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)")
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"bearer token clients must send (default: ${TOKEN_ENV}, kept out of ps)",
    )
    faults = parser.add_argument_group("faults (all off by default; change them live via /_admin/faults)")
    faults.add_argument("--token-rotated", action="store_true", help="answer every API request with 401")
    faults.add_argument(
        "--rate-limited-requests",
        type=int,
        default=0,
        metavar="K",
        help="answer the next K API requests with 429",
    )
    faults.add_argument(
        "--retry-after",
        type=int,
        default=1,
        metavar="N",
        help="Retry-After seconds on a 429 (default: %(default)s)",
    )
    faults.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of API requests answered 500/502/503",
    )
    faults.add_argument("--error-seed", type=int, default=0, help="seed of the error draw")
    faults.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS", help="delay added to each API request"
    )
    faults.add_argument(
        "--malformed-key",
        nargs="+",
        metavar="VALUE",
        help="spoil the record with this key (its values in the endpoint's key order) wherever it is served",
    )
    faults.add_argument(
        "--malformed-kind", choices=["not_object", "wrong_type", "missing_key"], default="not_object"
    )
    faults.add_argument("--malformed-endpoint", choices=sorted(ENDPOINTS), help="only on this endpoint")
    faults.add_argument(
        "--update-after-request",
        type=int,
        metavar="N",
        help="after the N-th answer, bump records of that answer to now",
    )
    faults.add_argument("--update-count", type=int, default=1, help="how many records to bump")
    faults.add_argument("--update-mode", choices=["new_version", "in_place"], default="new_version")
    faults.add_argument("--update-endpoint", choices=sorted(ENDPOINTS), help="only on this endpoint")
    return parser


def faults_from_args(args: argparse.Namespace) -> Faults:
    malformed = None
    if args.malformed_key is not None:
        malformed = MalformedItem(tuple(args.malformed_key), args.malformed_kind, args.malformed_endpoint)
    update = None
    if args.update_after_request is not None:
        update = UpdateWhilePaging(
            args.update_after_request, args.update_count, args.update_mode, args.update_endpoint
        )
    return Faults(
        token_rotated=args.token_rotated,
        rate_limited_requests=args.rate_limited_requests,
        retry_after=args.retry_after,
        error_rate=args.error_rate,
        error_seed=args.error_seed,
        latency=args.latency,
        malformed=malformed,
        update_while_paging=update,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.token:
        parser.error(f"give --token or set {TOKEN_ENV}")
    app = create_app(args.db, args.token, faults_from_args(args))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
