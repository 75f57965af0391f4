# syntax=docker/dockerfile:1
# The one image of the docker-compose stack: every Airflow component (api-server, scheduler,
# dag-processor, triggerer, Celery workers) and the national services mock run from it.
# The base's Airflow and Python versions must match requirements.lock (tests/test_compose.py checks).
FROM apache/airflow:3.3.2-python3.11

# WeasyPrint's system libraries, as scripts/setup.sh installs them on a workstation: Pango
# lays out the PDFs; fonts-liberation2 (Liberation Serif 2.x, metric-compatible with Times New
# Roman) has the Vietnamese glyphs that 1.07 lacks; libharfbuzz-subset0 subsets embedded fonts.
USER root
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation2 fontconfig \
 && fc-cache -f \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*
USER airflow

# The locked dependencies first (a layer that changes only with the lock): hash-checked,
# no resolver, so the image runs exactly the versions CI tested.
COPY --chown=airflow:0 requirements.lock /opt/tthc/requirements.lock
RUN pip install --no-cache-dir --require-hashes --no-deps -r /opt/tthc/requirements.lock

# The project keeps the repository's layout under /opt/tthc: tthc.paths finds include/ and
# config/ next to plugins/. Installed editable, as scripts/setup.sh does, for the same reason
# and for the `tthc-scorecards` command. config/ is also bind-mounted by docker-compose.yaml,
# so that a recipients or calendar change needs no rebuild.
COPY --chown=airflow:0 pyproject.toml /opt/tthc/pyproject.toml
COPY --chown=airflow:0 dags /opt/tthc/dags
COPY --chown=airflow:0 plugins /opt/tthc/plugins
COPY --chown=airflow:0 include /opt/tthc/include
COPY --chown=airflow:0 config /opt/tthc/config
RUN pip install --no-cache-dir --no-deps -e /opt/tthc

# Mount points of the named volumes, created here so that the volumes start owned by airflow
# and writable by group 0, as the image expects when run with another AIRFLOW_UID.
RUN mkdir -p /opt/airflow/output /opt/airflow/auth \
 && chmod g+rwx /opt/airflow/output /opt/airflow/auth

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/tthc/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/tthc/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    GX_ANALYTICS_ENABLED=False
