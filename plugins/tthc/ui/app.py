"""The FastAPI app the Airflow plugin mounts at /tthc-scorecards: HTML pages and the month files.

Airflow does not protect a plugin's endpoints by itself. Every route here depends on
Airflow's own authentication and authorisation — the JWT the UI keeps in its `_token` cookie,
or an `Authorization: Bearer` token from /auth/token — and asks the auth manager whether the
user may read the monthly DAG's runs (the pages show nothing those runs did not produce).
Without a valid token: 401 (403 for an invalid one or a user without that right).

Files are served only as the month's manifest lists them (tthc.ui.files); pages allow no
script and no embedding outside the Airflow UI (Content-Security-Policy).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException

from tthc.orchestration import connections
from tthc.orchestration.runtime import MONTHLY_DAG
from tthc.periods import period_from_interval
from tthc.reports.formatting import format_month
from tthc.reports.templating import html_environment
from tthc.ui import files, views
from tthc.warehouse.db import engine_for_url

CHUNK = 1 << 20
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "private, no-store",
}
ERRORS = {
    401: "Chưa đăng nhập, hoặc phiên đăng nhập đã hết hạn: hãy đăng nhập lại vào Airflow.",
    403: "Tài khoản này không có quyền xem kết quả của DAG hằng tháng.",
    404: "Không tìm thấy trang hoặc tệp này.",
    503: "Chưa cấu hình được nguồn dữ liệu của trang.",
}

app = FastAPI(
    title="Chỉ số phục vụ người dân, doanh nghiệp",
    # Airflow's own check, on every route: who the user is (the UI's JWT), and that they may
    # read the monthly DAG's runs.
    dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=MONTHLY_DAG))],
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


@app.middleware("http")
async def _security_headers(request: Request, call_next):
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    return response


@app.exception_handler(StarletteHTTPException)
async def _error_page(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
    message = ERRORS.get(exc.status_code, "Đã có lỗi.")
    detail = exc.detail if exc.status_code == 503 else None  # names the setting to fix; others say nothing more
    return _page(
        request,
        "ui/error.html.j2",
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
        message=message,
        detail=detail,
        code=exc.status_code,
    )


def _when(instant: dt.datetime | None) -> str:
    return instant.strftime("%d/%m/%Y %H:%M") if instant else "–"


def _page(request: Request, template: str, status_code: int = 200, headers=None, **context) -> HTMLResponse:
    def url(route: str, /, **params) -> str:
        return request.url_for(route, **params).path

    html = html_environment().get_template(template).render(url=url, when=_when, **context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def _warehouse():
    try:
        return engine_for_url(connections.database_url(connections.WAREHOUSE))
    except Exception as exc:  # AirflowNotFoundException and friends: say which setting is missing
        raise HTTPException(503, f"Kết nối '{connections.WAREHOUSE}' (AIRFLOW_CONN_WAREHOUSE): {exc}") from exc


def _output_root():
    try:
        return files.output_root()
    except Exception as exc:
        raise HTTPException(
            503, f"Biến '{connections.OUTPUT_DIR_VARIABLE}' (AIRFLOW_VAR_SCORECARD_OUTPUT_DIR): {exc}"
        ) from exc


def _period(period: str) -> str:
    if not files.is_period(period):
        raise HTTPException(404)
    return period


@app.get("/", response_class=HTMLResponse, name="months")
def months_page(request: Request) -> HTMLResponse:
    return _page(request, "ui/months.html.j2", months=views.months(_warehouse(), _output_root()))


@app.get("/months/{period}", response_class=HTMLResponse, name="month")
def month_page(request: Request, period: str) -> HTMLResponse:
    found = views.month(_warehouse(), _output_root(), _period(period))
    if found is None:
        raise HTTPException(404)
    return _page(request, "ui/month.html.j2", month=found, run_id=None)


@app.get("/months/{period}/units/{unit_code}", response_class=HTMLResponse, name="unit")
def unit_page(request: Request, period: str, unit_code: str) -> HTMLResponse:
    found = views.unit(_warehouse(), _output_root(), _period(period), unit_code)
    if found is None:
        raise HTTPException(404)
    return _page(request, "ui/unit.html.j2", unit=found)


def _chunks(path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            yield block


@app.get("/months/{period}/files/{path:path}", name="file")
def month_file(period: str, path: str) -> StreamingResponse:
    found = files.month_file(_output_root(), _period(period), path)
    if found is None:
        raise HTTPException(404)
    download = f"{period}_{found.name.rsplit('/', 1)[-1]}"  # ASCII: periods, unit codes, our file names
    return StreamingResponse(
        _chunks(found.path),
        media_type=found.media_type,
        headers={"Content-Disposition": f'attachment; filename="{download}"', "ETag": f'"{found.sha256}"'},
    )


@app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse, name="run")
def run_tab(request: Request, dag_id: str, run_id: str, session: SessionDep) -> HTMLResponse:
    """The tab on a DAG run's page: the month that run computed."""
    from airflow.models.dagrun import DagRun

    if dag_id != MONTHLY_DAG:
        return _page(
            request,
            "ui/run.html.j2",
            message=f"Kết quả chỉ có ở các lượt chạy của DAG hằng tháng {MONTHLY_DAG}.",
            run_id=run_id,
        )
    interval = session.execute(
        select(DagRun.data_interval_start, DagRun.data_interval_end).where(
            DagRun.dag_id == dag_id, DagRun.run_id == run_id
        )
    ).first()
    if interval is None:
        raise HTTPException(404)
    try:
        period = period_from_interval(*interval).code
    except (TypeError, ValueError):  # no data interval, or not one month
        return _page(
            request,
            "ui/run.html.j2",
            run_id=run_id,
            message="Lượt chạy này không ứng với một tháng, nên không có kết quả tháng.",
        )
    found = views.month(_warehouse(), _output_root(), period)
    if found is None:
        return _page(
            request,
            "ui/run.html.j2",
            run_id=run_id,
            message=f"Lượt chạy này chưa tạo kết quả cho {format_month(period)}.",
        )
    return _page(request, "ui/month.html.j2", month=found, run_id=run_id)
