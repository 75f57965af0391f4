"""Airflow plugin: the months inside the Airflow UI ("Chỉ số phục vụ"), Airflow 3.1+ interface.

A FastAPI app (tthc.ui.app, mounted at /tthc-scorecards) and two external views: an entry in
the UI's navigation, and a tab on every DAG run's page (the monthly DAG's runs show their
month). Loaded from the plugins folder, which every installation of the project points at
(AIRFLOW__CORE__PLUGINS_FOLDER); the api-server serves it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from tthc.ui.app import URL_PREFIX, app

NAME = "Chỉ số phục vụ"
ROUTE = URL_PREFIX.strip("/")  # external views' hrefs are relative to the UI's base URL


class ScorecardsPlugin(AirflowPlugin):
    name = "tthc_scorecards_ui"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": NAME}]
    external_views = [
        {"name": NAME, "href": f"{ROUTE}/", "destination": "nav", "url_route": "chi-so-phuc-vu"},
        {
            "name": NAME,
            "href": f"{ROUTE}/runs/{{DAG_ID}}/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "chi-so-phuc-vu-luot-chay",
        },
    ]
