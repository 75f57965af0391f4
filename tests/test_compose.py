"""docker-compose.yaml, Dockerfile and .env.example: valid Compose, and wired as the stack needs.

There is no Docker engine here, so the file is checked three ways: against the Compose
specification's JSON schema (tests/compose_schema/), structurally (services, anchors,
health checks, dependencies, connections, no committed secret), and by running the pieces
that can run outside a container for real: the PostgreSQL init script against the local
server, the national mock's start command and health check, airflow-init's password step,
and the connection URIs through Airflow's own parser.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yaml"
SCHEMA_FILE = REPO / "tests" / "compose_schema" / "compose-spec.json"
ENV_EXAMPLE = REPO / ".env.example"
INIT_SQL = REPO / "docker" / "postgres-init.sql"

AIRFLOW_SERVICES = {"airflow-init", "api-server", "scheduler", "dag-processor", "triggerer", "worker"}
AIRFLOW_COMPONENTS = {"api-server": "api-server", "scheduler": "scheduler", "dag-processor": "dag-processor",
                      "triggerer": "triggerer", "worker": "celery worker"}
ONE_SHOT = {"airflow-init", "seed"}
CONNECTIONS = ("AIRFLOW_CONN_TTHC_SOURCE", "AIRFLOW_CONN_NATIONAL_PORTAL", "AIRFLOW_CONN_WAREHOUSE",
               "AIRFLOW_CONN_SMTP_DEFAULT")
SECRET_VARS = {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET",
               "AIRFLOW_API_SECRET_KEY", "AIRFLOW_ADMIN_PASSWORD", "TTHC_NATIONAL_TOKEN"}
# Distinct, URL-safe stand-ins for the secrets, so each can be traced after interpolation.
FAKE_SECRETS = {name: f"fake{name.lower().replace('_', '')}{i}" for i, name in enumerate(sorted(SECRET_VARS))}

# Compose interpolation: $$ escapes; ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?msg}, ${VAR?msg}.
_REF = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value, env: dict[str, str]):
    """Resolve a loaded Compose document the way `docker compose config` does (no nesting)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if present:
            return env[name]
        if op in (":?", "?"):
            raise MissingVariable(f"{name}: {arg}")
        return arg if op in (":-", "-") else ""

    return _REF.sub(one, value)


def references(value) -> list[re.Match]:
    """Every ${...} reference in a loaded document."""
    if isinstance(value, dict):
        return [m for v in value.values() for m in references(v)]
    if isinstance(value, list):
        return [m for v in value for m in references(v)]
    if isinstance(value, str):
        return [m for m in _REF.finditer(value) if m.group(0) != "$$"]
    return []


def strings(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # PyYAML resolves the `<<` merge keys


@pytest.fixture(scope="module")
def filled_env() -> dict[str, str]:
    return {**env_example(), **FAKE_SECRETS}


@pytest.fixture(scope="module")
def resolved(raw, filled_env) -> dict:
    return interpolate(raw, filled_env)


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def env_of(service: dict) -> dict:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment is written as a mapping"
    return env


# --- the Compose specification -----------------------------------------------------------
def test_file_validates_against_the_compose_schema(validator, raw, resolved):
    for document in (raw, resolved):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("breakage", ["unknown_key", "bad_condition", "bad_healthcheck"])
def test_the_schema_catches_a_broken_file(validator, raw, breakage):
    broken = json.loads(json.dumps(raw))
    worker = broken["services"]["worker"]
    if breakage == "unknown_key":
        worker["replicas_count"] = 3
    elif breakage == "bad_condition":
        worker["depends_on"]["postgres"]["condition"] = "service_ready"
    else:
        worker["healthcheck"]["test"] = {"cmd": "true"}
    assert list(validator.iter_errors(broken))


def test_every_service_is_built_or_pulled_from_a_pinned_image(resolved):
    for name, service in resolved["services"].items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag ({image})"


# --- Airflow components -----------------------------------------------------------------
def test_all_airflow_components_run_from_one_image_and_environment(raw):
    services = raw["services"]
    assert AIRFLOW_SERVICES <= set(services)
    common_env = raw["x-airflow-env"]
    image = raw["x-tthc-image"]
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["image"] == image["image"] and service["build"] == image["build"], name
        env = env_of(service)
        for key, value in common_env.items():
            assert env.get(key) == value, f"{name} differs from the shared environment on {key}"
    for name, command in AIRFLOW_COMPONENTS.items():
        assert services[name]["command"] == command


def test_component_commands_and_job_checks_exist_in_this_airflow(raw):
    """Airflow's own parser reads each component's command and health check (`celery worker` comes
    from the Celery provider, whose commands load only when Celery is the configured executor)."""
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    services = raw["services"]
    for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert callable(parser.parse_args(services[name]["command"].split()).func), name
    for name, job in (("dag-processor", "DagProcessorJob"), ("triggerer", "TriggererJob")):
        check = shlex.split(services[name]["healthcheck"]["test"][1].replace("$${HOSTNAME}", "host"))
        args = parser.parse_args(check[1:])
        assert (args.job_type, args.hostname) == (job, "host"), name


def test_one_jwt_secret_and_celery_on_redis_and_postgres(raw, resolved, filled_env):
    jwt_refs = {env_of(raw["services"][n])["AIRFLOW__API_AUTH__JWT_SECRET"] for n in AIRFLOW_SERVICES}
    assert len(jwt_refs) == 1 and next(iter(jwt_refs)).startswith("${AIRFLOW_JWT_SECRET:?")
    for name in AIRFLOW_SERVICES:
        env = env_of(resolved["services"][name])
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == filled_env["AIRFLOW_JWT_SECRET"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.password) == ("redis", "redis", filled_env["REDIS_PASSWORD"])
        for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
            url = urlsplit(env[key])
            assert url.scheme.endswith("postgresql+psycopg2"), key
            assert (url.hostname, url.port, url.path) == ("postgres", 5432, "/airflow"), key


def test_execution_api_points_at_the_api_server(resolved):
    services = resolved["services"]
    url = urlsplit(env_of(services["worker"])["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "api-server" and url.path == "/execution/"
    published = [p.rsplit(":", 1)[1] for p in services["api-server"]["ports"]]
    assert str(url.port) in published
    assert f"localhost:{url.port}/" in " ".join(services["api-server"]["healthcheck"]["test"])


def test_worker_can_be_scaled(raw):
    worker = raw["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker and "hostname" not in worker
    for name, service in raw["services"].items():
        assert "container_name" not in service, f"{name}: a fixed name blocks --scale and parallel stacks"
    # What the workers hand each other (logs, the month folders) lives on shared named volumes.
    mounts = {v.split(":")[1]: v.split(":")[0] for v in worker["volumes"]}
    assert mounts["/opt/airflow/output"] in raw["volumes"] and mounts["/opt/airflow/logs"] in raw["volumes"]


# --- health and start-up order ------------------------------------------------------------
def test_every_long_running_service_has_a_healthcheck(raw):
    services = raw["services"]
    one_shot = {n for n, s in services.items() if s.get("restart") == "no"}
    assert one_shot == ONE_SHOT
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if name in ONE_SHOT:
            assert check == {"disable": True}, f"{name} is a job: it exits, it is never 'healthy'"
        else:
            assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name


def test_depends_on_waits_for_health_where_it_matters(raw):
    services = raw["services"]
    for name, service in services.items():
        for target, dep in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            wanted = "service_completed_successfully" if target in ONE_SHOT else "service_healthy"
            assert dep["condition"] == wanted, f"{name} -> {target}"
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert {"postgres", "redis", "airflow-init"} <= set(services[name]["depends_on"]), name
    assert set(services["airflow-init"]["depends_on"]) == {"postgres"}
    # Tasks run on the workers: they call the execution API, the national services and mail.
    assert {"api-server", "national-mock", "mailpit"} <= set(services["worker"]["depends_on"])
    for name in ("national-mock", "seed"):
        assert set(services[name]["depends_on"]) == {"postgres"}


# --- connections, Variable and the services they point at ----------------------------------
def test_connections_and_output_variable_are_set_for_every_airflow_service(resolved):
    for name in AIRFLOW_SERVICES:
        env = env_of(resolved["services"][name])
        for key in CONNECTIONS:
            assert env.get(key), f"{name} lacks {key}"
        output = env["AIRFLOW_VAR_SCORECARD_OUTPUT_DIR"]
        if name != "airflow-init":
            assert any(v.split(":")[1] == output for v in resolved["services"][name]["volumes"]), name


def _connection(uri: str):
    from airflow.models.connection import Connection

    return Connection(conn_id="compose_test", uri=uri)


def test_connections_point_at_the_stack_services(resolved, filled_env):
    from tthc.orchestration.connections import sqlalchemy_url

    services = resolved["services"]
    env = env_of(services["worker"])
    for key, database in (("AIRFLOW_CONN_TTHC_SOURCE", "tthc_source"), ("AIRFLOW_CONN_WAREHOUSE", "warehouse")):
        url = urlsplit(sqlalchemy_url(_connection(env[key])))
        assert (url.scheme, url.hostname, url.port, url.path) == ("postgresql+psycopg2", "postgres", 5432,
                                                                  f"/{database}")
        assert url.password == filled_env["POSTGRES_PASSWORD"]

    national = _connection(env["AIRFLOW_CONN_NATIONAL_PORTAL"])
    assert (national.conn_type, national.host) == ("http", "national-mock")
    assert national.password == filled_env["TTHC_NATIONAL_TOKEN"]  # the bearer token (outputs.md)
    mock = services["national-mock"]
    assert f"--port {national.port}" in mock["command"][-1]
    assert f"localhost:{national.port}/" in mock["healthcheck"]["test"][-1]
    assert env_of(mock)["TTHC_NATIONAL_TOKEN"] == national.password

    smtp = _connection(env["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert (smtp.conn_type, smtp.host, smtp.port) == ("smtp", "mailpit", 1025)  # Mailpit's SMTP port
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    assert any(p.endswith(":8025") for p in services["mailpit"]["ports"])  # its web UI


# --- secrets --------------------------------------------------------------------------------
_SECRET_KEY = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY|_AUTH)$")
_WHOLE_REQUIRED_REF = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")
_URI_PASSWORD = re.compile(r"://[^/@\s:]*:([^@\s]*)@")
_HIGH_ENTROPY = re.compile(r"\b(?=[A-Za-z0-9+/=_-]*\d)(?=[A-Za-z0-9+/=_-]*[a-z])[A-Za-z0-9+/=_-]{24,}\b")


def test_no_secret_is_committed(raw):
    services = raw["services"]
    envs = [raw["x-airflow-env"]] + [env_of(s) for s in services.values() if "environment" in s]
    for env in envs:
        for key, value in env.items():
            if _SECRET_KEY.search(key):
                assert _WHOLE_REQUIRED_REF.match(str(value)), f"{key} must be a ${{VAR:?...}} reference"
    for text in strings(raw):
        for password in _URI_PASSWORD.findall(text):
            assert _WHOLE_REQUIRED_REF.match(password), f"a URI carries a literal password: {text}"
        without_refs = _REF.sub("", text)
        assert not _HIGH_ENTROPY.search(without_refs), f"looks like a key or token: {text}"
    redis_command = services["redis"]["command"]
    assert _WHOLE_REQUIRED_REF.match(redis_command[redis_command.index("--requirepass") + 1])


def test_every_secret_is_required_and_has_an_empty_placeholder(raw):
    refs = references(raw)
    used = {m.group("name") for m in refs}
    assert SECRET_VARS <= used
    for m in refs:
        if m.group("name") in SECRET_VARS:
            assert m.group("op") == ":?" and m.group("arg"), f"{m.group(0)}: a secret has no default"
    example = env_example()
    assert used <= set(example), f".env.example lacks {sorted(used - set(example))}"
    for name in SECRET_VARS:
        assert example[name] == "", f".env.example must not carry a value for {name}"
    with pytest.raises(MissingVariable, match=r"set [A-Z_]+ in \.env"):
        interpolate(raw, example)  # Compose refuses to start until the secrets are filled in


def test_env_file_and_local_state_stay_out_of_the_image():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "var"} <= set(ignored)


# --- PostgreSQL ---------------------------------------------------------------------------
def _init_sql_databases() -> list[str]:
    array = re.search(r"ARRAY\[([^\]]*)\]", INIT_SQL.read_text()).group(1)
    return re.findall(r"'([a-z_]+)'", array)


def test_init_script_is_mounted_and_creates_every_database_the_stack_uses(resolved):
    postgres = resolved["services"]["postgres"]
    assert "./docker/postgres-init.sql:/docker-entrypoint-initdb.d/10-databases.sql:ro" in postgres["volumes"]
    created = set(_init_sql_databases())
    assert {"airflow", "warehouse", "tthc_source"} <= created
    used = set()
    for text in strings(resolved["services"]):
        for url in re.findall(r"postgresql[+a-z0-9]*://\S+", text):
            used.add(urlsplit(url).path.lstrip("/"))
    assert used and used <= created, f"not created by the init script: {used - created}"


@pytest.mark.postgres
def test_init_script_runs_on_postgresql_and_twice_is_harmless():
    """The real script through psql, with every database name prefixed so that the shared server
    keeps its own databases: creates them all, and a second run creates nothing."""
    prefix = f"tthc_ct_{uuid.uuid4().hex[:8]}_"
    names = _init_sql_databases()
    sql = INIT_SQL.read_text()
    for name in names:
        sql = sql.replace(f"'{name}'", f"'{prefix}{name}'")
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt"]
    try:
        first = subprocess.run(psql, input=sql, capture_output=True, text=True, check=True)
        second = subprocess.run(psql, input=sql, capture_output=True, text=True, check=True)
        listed = subprocess.run([*psql, "-c", f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'"],
                                capture_output=True, text=True, check=True).stdout.split()
        assert sorted(listed) == sorted(prefix + n for n in names)
        assert first.stderr == second.stderr == ""
    finally:
        drops = "".join(f'DROP DATABASE IF EXISTS "{prefix}{n}";' for n in names)
        subprocess.run([*psql, "-c", drops], capture_output=True, check=False)


# --- the pieces that run outside a container ------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local_env(extra: dict[str, str]) -> dict[str, str]:
    """The container's environment, with this virtualenv's python first on PATH."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **extra}


def test_national_mock_starts_on_an_empty_store_and_its_healthcheck_tells(resolved, filled_env, tmp_path):
    mock = resolved["services"]["national-mock"]
    port = str(_free_port())  # the stack's 8765 may be taken on a shared machine
    assert mock["command"][:2] == ["bash", "-c"]
    script = mock["command"][2].replace("--port 8765", f"--port {port}")
    check = [part.replace("localhost:8765", f"localhost:{port}") for part in mock["healthcheck"]["test"][1:]]
    env = _local_env({**env_of(mock), "NATIONAL_STORE_URL": f"sqlite:///{tmp_path / 'national.db'}"})
    server = subprocess.Popen(["bash", "-c", script.replace("0.0.0.0", "127.0.0.1")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(check, env=env, capture_output=True).returncode != 0:
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "the mock never became healthy"
            time.sleep(0.3)
        wrong = {**env, "TTHC_NATIONAL_TOKEN": "not-the-token"}
        assert subprocess.run(check, env=wrong, capture_output=True).returncode != 0
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_airflow_init_writes_the_password_file_the_auth_manager_reads(resolved, filled_env, tmp_path):
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    init = resolved["services"]["airflow-init"]
    script = init["command"][2]
    python = re.search(r"<<'PYTHON'\n(.*?)\nPYTHON", script, re.S).group(1)
    assert script.rstrip().endswith("airflow db migrate")
    target = tmp_path / "passwords.json"
    env = _local_env({**env_of(init), "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(target)})
    subprocess.run([sys.executable, "-c", python], env=env, check=True)
    with target.open() as stream:
        assert SimpleAuthManager._get_passwords(stream=stream) == {"admin": filled_env["AIRFLOW_ADMIN_PASSWORD"]}
    assert target.stat().st_mode & 0o077 == 0
    users = env_of(init)["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    assert [u.split(":")[0] for u in users.split(",")] == ["admin"]
    api = resolved["services"]["api-server"]
    assert any(v.endswith(":" + str(Path(env_of(api)["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).parent))
               for v in api["volumes"])


# --- the image ------------------------------------------------------------------------------
def _locked(package: str) -> str:
    return re.search(rf"^{re.escape(package)}==([^\s\\]+)", (REPO / "requirements.lock").read_text(), re.M).group(1)


def test_image_matches_the_lock_and_the_workstation_setup(raw):
    dockerfile = (REPO / "Dockerfile").read_text()
    base = re.search(r"^FROM apache/airflow:(\S+)-python(\S+)$", dockerfile, re.M)
    assert base.group(1) == _locked("apache-airflow")
    assert base.group(2) == "3.11"
    assert re.search(r"pip install [^\n]*--require-hashes --no-deps -r /opt/tthc/requirements.lock", dockerfile)
    setup = (REPO / "scripts" / "setup.sh").read_text()
    system = set(re.search(r"SYSTEM_PACKAGES=\(([^)]*)\)", setup).group(1).split())
    wanted = {"fonts-liberation2", "libharfbuzz-subset0", "libpango-1.0-0", "libpangoft2-1.0-0"}
    assert wanted <= system
    apt = re.search(r"apt-get install[^\n]*\\\n([^\n]*)", dockerfile).group(1).split()
    assert wanted <= set(apt)
    for folder in ("dags", "plugins", "include", "config"):
        assert f"COPY --chown=airflow:0 {folder} /opt/tthc/{folder}" in dockerfile
    env = raw["x-airflow-env"]
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/tthc/dags"
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/tthc/plugins"
    # plugins/.airflowignore keeps Airflow from loading the tthc package as plugins.
    assert "tthc/" in (REPO / "plugins" / ".airflowignore").read_text().split()
    assert "./config:/opt/tthc/config:ro" in raw["x-airflow-common"]["volumes"]
