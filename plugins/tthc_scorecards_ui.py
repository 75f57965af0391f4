"""Airflow plugin: the months inside the Airflow UI ("Chỉ số phục vụ"), Airflow 3.1+ interface.

A FastAPI app (tthc.ui.app, mounted at /tthc-scorecards) and two external views: an entry in
the UI's navigation, and a tab on every DAG run's page (the monthly DAG's runs show their
month). Loaded from the plugins folder, which every installation of the project points at
(AIRFLOW__CORE__PLUGINS_FOLDER); the api-server serves it. See docs/ui.md.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from tthc.ui import URL_PREFIX

NAME = "Chỉ số phục vụ"
ROUTE = URL_PREFIX.strip("/")  # external views' hrefs are relative to the UI's base URL


class ScorecardsPlugin(AirflowPlugin):
    name = "tthc_scorecards_ui"
    external_views = [
        {"name": NAME, "href": f"{ROUTE}/", "destination": "nav", "url_route": "chi-so-phuc-vu"},
        {
            "name": NAME,
            "href": f"{ROUTE}/runs/{{DAG_ID}}/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "chi-so-phuc-vu-luot-chay",
        },
    ]

    @property
    def fastapi_apps(self) -> list[dict]:
        # Every task process loads the plugins (for macros and listeners): the app, with FastAPI
        # and Airflow's API security, is imported only where Airflow asks for it, the api-server.
        from tthc.ui.app import app

        return [{"app": app, "url_prefix": URL_PREFIX, "name": NAME}]
