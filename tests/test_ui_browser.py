"""The "Chỉ số phục vụ" plugin in a real Airflow api-server, driven by a real Chromium.

One Airflow installation (tests/airflow_stack.py: PostgreSQL metadata database, the api-server
on a free loopback port) with this repository's plugins folder, SimpleAuthManager users with
known passwords, two computed months (tests/ui_months.py) behind the `warehouse` connection
and the `scorecard_output_dir` Variable, and a run of the monthly DAG for September created
through the REST API. Chromium is Debian's (/usr/bin/chromium), driven by Playwright; no
browser is downloaded.

Set TTHC_UI_SCREENSHOTS to a folder (docs/) to keep the screenshots the test takes.
"""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import pytest
import requests
from airflow_stack import AirflowStack, postgres_database
from ui_months import ACTIVE, SEPTEMBER, build_months, unit_scores

from tthc.orchestration.runtime import MONTHLY_DAG, NIGHTLY_DAG
from tthc.reports.formatting import format_number

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CHROMIUM = "/usr/bin/chromium"
VIEWER, VIEWER_PASSWORD = "vanphong", "mat-khau-van-phong"  # office staff: may read, not trigger
ADMIN, ADMIN_PASSWORD = "kysu", "mat-khau-ky-su"
PREFIX = "/tthc-scorecards"


class Server:
    def __init__(self, stack: AirflowStack, out: Path, run_id: str) -> None:
        self.base = f"http://127.0.0.1:{stack.api_port}"
        self.port = stack.api_port
        self.out = out
        self.run_id = run_id

    def token(self, user: str, password: str) -> str:
        response = requests.post(f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()["access_token"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui-server")
    db, out = build_months(root / "data")
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps({VIEWER: VIEWER_PASSWORD, ADMIN: ADMIN_PASSWORD}))
    settings = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{VIEWER}:viewer,{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW_CONN_WAREHOUSE": f"sqlite:///{db}",
        "AIRFLOW_VAR_SCORECARD_OUTPUT_DIR": str(out),
    }
    with postgres_database("tthc_test_ui") as metadata_url:
        stack = AirflowStack(root / "airflow", metadata_url, settings)
        try:
            stack.airflow("db", "migrate", timeout=600)
            stack.airflow("dags", "reserialize", timeout=300)  # the DAGs in the metadata DB, no dag-processor
            stack.start_api_server()
            srv = Server(stack, out, "")
            # a run of the monthly DAG for September (no scheduler: it stays queued, its page exists)
            response = requests.post(
                f"{srv.base}/api/v2/dags/{MONTHLY_DAG}/dagRuns",
                json={"logical_date": "2025-10-01T00:00:00+07:00", "conf": {}},
                headers={"Authorization": f"Bearer {srv.token(ADMIN, ADMIN_PASSWORD)}"},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            srv.run_id = response.json()["dag_run_id"]
            yield srv
        finally:
            stack.stop()
            stack.metadata().dispose()


def endpoints(srv: Server) -> list[str]:
    unit = ACTIVE[1]
    return [
        f"{PREFIX}/",
        f"{PREFIX}/months/{SEPTEMBER}",
        f"{PREFIX}/months/{SEPTEMBER}/units/{unit}",
        f"{PREFIX}/months/{SEPTEMBER}/files/scorecards/{unit}.pdf",
        f"{PREFIX}/months/{SEPTEMBER}/files/ranking.xlsx",
        f"{PREFIX}/runs/{MONTHLY_DAG}/{srv.run_id}",
    ]


def raw_get(srv: Server, path: str, token: str | None = None) -> tuple[int, bytes]:
    """GET exactly `path`, unnormalised (no client folds `..` or decodes `%2F` for us)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_every_endpoint_needs_airflow_login(server):
    good = server.token(VIEWER, VIEWER_PASSWORD)
    for path in endpoints(server):
        anonymous = requests.get(server.base + path, timeout=30)
        assert anonymous.status_code == 401, path
        assert b"%PDF" not in anonymous.content and "đăng nhập" in anonymous.text
        forged = requests.get(server.base + path, cookies={"_token": good[:-4] + "AAAA"}, timeout=30)
        assert forged.status_code == 403, path  # a token whose signature does not check out
        bearer = requests.get(server.base + path, headers={"Authorization": "Bearer not-a-jwt"}, timeout=30)
        assert bearer.status_code == 403, path
        assert (
            requests.get(server.base + path, headers={"Authorization": f"Bearer {good}"}, timeout=30).status_code == 200
        ), path


def test_path_traversal_is_refused(server):
    token = server.token(VIEWER, VIEWER_PASSWORD)
    (server.out / SEPTEMBER / "not-listed.txt").write_text("on the disk but not published")
    files = f"{PREFIX}/months/{SEPTEMBER}/files"
    attempts = [
        f"{files}/..%2F..%2Fwarehouse.db",
        f"{files}/scorecards/..%2F..%2F..%2Fwarehouse.db",
        f"{files}/%2e%2e/%2e%2e/warehouse.db",
        f"{files}/../../warehouse.db",
        f"{files}/%2Fetc%2Fpasswd",
        f"{files}/not-listed.txt",
        f"{files}/manifest.json",
        f"{PREFIX}/months/..%2F..%2F..%2Fetc/files/passwd",
        f"{PREFIX}/months/..%2Fdata/files/warehouse.db",
    ]
    for path in attempts:
        status, body = raw_get(server, path, token)
        assert status in (400, 404), (path, status)
        assert b"SQLite format 3" not in body and b"root:" not in body and b"not published" not in body, path
    status, body = raw_get(server, f"{files}/ranking.pdf", token)  # the same client reaches a real file
    assert status == 200 and body == (server.out / SEPTEMBER / "ranking.pdf").read_bytes()


def test_another_dags_run_tab_says_where_results_are(server):
    token = server.token(VIEWER, VIEWER_PASSWORD)
    response = requests.get(
        f"{server.base}{PREFIX}/runs/{NIGHTLY_DAG}/any-run", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200 and MONTHLY_DAG in response.text
    missing = requests.get(
        f"{server.base}{PREFIX}/runs/{MONTHLY_DAG}/no-such-run",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert missing.status_code == 404


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("TTHC_UI_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_office_reads_the_months_in_the_airflow_ui(server, screenshots):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # two shared cores: the UI may take a while to load its plugins
    scores = [r for r in unit_scores(server.out, SEPTEMBER) if r["tier"] == "commune"]
    first = min(scores, key=lambda r: int(r["rank"]))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)  # Debian's Chromium, never a downloaded one
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200}, accept_downloads=True)
            page.goto(server.base + "/")
            page.fill("input[name=username]", VIEWER)
            page.fill("input[name=password]", VIEWER_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(server.base + "/")

            # the navigation entry, then the months
            page.get_by_role("link", name="Chỉ số phục vụ").click()
            frame = page.frame_locator("iframe")
            expect(frame.locator("h1")).to_have_text("Kết quả Chỉ số phục vụ người dân, doanh nghiệp theo tháng")
            expect(frame.locator("tbody tr")).to_have_count(2)
            expect(frame.locator("tbody tr").nth(1)).to_contain_text("Đã gửi Văn phòng UBND")  # August, by the ledger
            page.screenshot(path=screenshots / "ui-months.png")

            # a month: the commune ranking's first unit and its total, as unit_scores.csv says
            frame.get_by_role("link", name="Tháng 9 năm 2025").click()
            expect(frame.locator("h1")).to_have_text("Kết quả tháng 9 năm 2025")
            first_row = frame.locator("table[data-tier=commune] tbody tr").first
            expect(first_row.locator("td").nth(2)).to_have_text(first["unit_name"])
            expect(first_row.locator("td").nth(3)).to_have_text(format_number(float(first["total"]), 2))
            page.screenshot(path=screenshots / "ui-month.png", full_page=True)

            # its scorecard PDF: clicked, it downloads the file's bytes; fetched with the browser's
            # session (its cookie), the same link answers 200, application/pdf
            pdf = (server.out / SEPTEMBER / "scorecards" / f"{first['unit_code']}.pdf").read_bytes()
            link = first_row.get_by_role("link", name="PDF")
            with page.expect_download() as download:
                link.click()
            assert Path(download.value.path()).read_bytes() == pdf
            assert download.value.suggested_filename == f"{SEPTEMBER}_{first['unit_code']}.pdf"
            answer = page.request.get(server.base + link.get_attribute("href"))
            assert (answer.status, answer.headers["content-type"]) == (200, "application/pdf")
            assert answer.body() == pdf
            stranger = browser.new_context()  # another browser, not logged in
            assert stranger.request.get(server.base + link.get_attribute("href")).status == 401
            stranger.close()

            # the unit: its chart and its violations
            first_row.get_by_role("link", name=first["unit_name"]).click()
            expect(frame.locator("h1")).to_have_text(first["unit_name"])
            expect(frame.locator("figure.total svg")).to_have_count(1)
            applying = {g for g in range(1, 7) if first[f"g{g}"]}  # a commune has no group 3 or 4 here
            assert applying and len(applying) < 6
            expect(frame.locator(".charts svg")).to_have_count(len(applying))
            expect(frame.get_by_text("Nhóm này không áp dụng cho đơn vị trong 12 tháng qua.")).to_have_count(
                6 - len(applying)
            )
            expect(frame.locator("h2").last).to_have_text("Vi phạm tháng 9 năm 2025 theo chỉ số và nhiệm vụ")
            page.screenshot(path=screenshots / "ui-unit.png", full_page=True)

            # the tab on the monthly DAG's run
            page.goto(f"{server.base}/dags/{MONTHLY_DAG}/runs/{server.run_id}")
            tab = page.locator('a[href*="/plugin/chi-so-phuc-vu-luot-chay"]')  # the nav entry has the same name
            expect(tab).to_have_text("Chỉ số phục vụ")
            tab.click()
            frame = page.frame_locator("iframe")
            expect(frame.locator("h1")).to_have_text("Kết quả tháng 9 năm 2025")
            expect(frame.get_by_text(f"Lượt chạy {server.run_id} của DAG hằng tháng.")).to_be_visible()
            page.screenshot(path=screenshots / "ui-dag-run-tab.png")
        finally:
            browser.close()
