"""The months inside the Airflow UI ("Chỉ số phục vụ"): an Airflow 3 plugin's FastAPI pages.

`files` reaches the month folders, `views` reads what the pages show, `app` serves them behind
Airflow's own login; plugins/tthc_scorecards_ui.py registers the app and its UI entries.
"""

URL_PREFIX = "/tthc-scorecards"  # where the api-server mounts the app
