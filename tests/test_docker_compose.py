"""The team stack (docker-compose.yml, Dockerfile, .env.example), checked without a Docker engine.

- the compose file is validated against the Compose specification's JSON schema
  (`check-jsonschema --builtin-schema vendor.compose-spec`, offline), and a broken copy is shown
  to fail, so the validator is known to bite;
- the parsed file is checked for what the project needs: the services, the environment of the
  Airflow containers, the bind mounts, start-up ordering on healthy databases, ports bound to
  127.0.0.1 only, and no secret committed in clear.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from scripts.airflow_env import airflow_env

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
REQUIREMENTS = REPO / "requirements.txt"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
LONG_RUNNING_AIRFLOW_SERVICES = AIRFLOW_SERVICES[1:]
DATABASE_SERVICES = ("postgres", "shop-db", "warehouse-db")
REQUIRED_SERVICES = {
    *AIRFLOW_SERVICES,
    *DATABASE_SERVICES,
    "shop-seed",
    "minio",
    "minio-init",
    "redis",
    "flower",
}

# Environment every Airflow container gets, with the exact value it must have.
FIXED_AIRFLOW_ENV = {
    "WAREHOUSE_HOST": "warehouse-db",
    "WAREHOUSE_PORT": "5432",
    "WAREHOUSE_DBNAME": "warehouse",
    "SHOP_HOST": "shop-db",
    "SHOP_PORT": "5432",
    "SHOP_DBNAME": "shop",
    "LAKE_URL": "s3://lake",
    "AWS_ENDPOINT_URL_S3": "http://minio:9000",
    "AWS_DEFAULT_REGION": "us-east-1",
    "INTERACTIONS_DROP_DIR": "/opt/airflow/drop/interactions",
    "DBT_TARGET": "dev",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "false",
    "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "false",
    "AIRFLOW__COSMOS__CACHE_DIR": "/opt/airflow/.cosmos_cache",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://airflow-apiserver:8080/execution/",
}
# Environment whose value must come from the host environment / .env (same variable name).
INTERPOLATED_AIRFLOW_ENV = (
    "WAREHOUSE_USER",
    "WAREHOUSE_PASSWORD",
    "SHOP_USER",
    "SHOP_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)
CONNECTION_ENV = (
    "AIRFLOW_CONN_WAREHOUSE_DB",
    "AIRFLOW_CONN_SHOP_DB",
    "AIRFLOW_CONN_AWS_DEFAULT",
)
REQUIRED_AIRFLOW_ENV = (*FIXED_AIRFLOW_ENV, *INTERPOLATED_AIRFLOW_ENV, *CONNECTION_ENV)

REQUIRED_MOUNTS = {
    "/opt/airflow/dags": "./dags",
    "/opt/airflow/dbt_project": "./dbt_project",
    "/opt/airflow/loaders": "./loaders",
    "/opt/airflow/orchestration": "./orchestration",
    "/opt/airflow/drop": "./.local/drop",
    "/opt/airflow/logs": "./logs",
}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}, $NAME; "$$" is a literal "$".
INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
WHOLE_INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-[^}]*)?\}")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|FERNET_KEY|SALT|HASH_KEY|TOKEN|ACCESS_KEY", re.IGNORECASE)
URI_CREDENTIALS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^:/@\s\"']+):(?P<password>[^@\s\"']+)@")


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def run_check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two compose syntaxes it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return {key: value for key, value in pairs}
    return {key: (None if value is None else str(value)) for key, value in env.items()}


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one value (the subset of the syntax compose files use)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise KeyError(f"required variable {name} is missing: {arg}")
        return value or ""

    return INTERPOLATION.sub(replace, text)


def strings_in(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string value (with its path) in a parsed YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings_in(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings_in(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def interpolated_variables(doc: dict[str, Any]) -> dict[str, set[str | None]]:
    """Each variable the compose file interpolates, with the defaults it is given (None: none)."""
    found: dict[str, set[str | None]] = {}
    for _, text in strings_in(doc):
        for match in INTERPOLATION.finditer(text):
            name = match.group("braced") or match.group("bare")
            if not name:
                continue
            default = match.group("arg") if (match.group("op") or "").endswith("-") else None
            found.setdefault(name, set()).add(default)
    return found


def uri_passwords(text: str) -> list[str]:
    """The password part of every `scheme://user:password@` in a string, interpolation kept."""
    # Hide each ${...} behind a token free of URI delimiters, so that
    # `${USER:-u}:${PASS:-p}@host` splits at the right colon.
    hidden = re.findall(r"\$\{[^}]*\}", text)
    masked = re.sub(r"\$\{[^}]*\}", lambda _: "\x00", text)
    passwords = []
    for match in URI_CREDENTIALS.finditer(masked):
        before = masked[: match.start("password")].count("\x00")
        parts = match.group("password").split("\x00")
        restored = parts[0]
        for index, part in enumerate(parts[1:]):
            restored += hidden[before + index] + part
        passwords.append(restored)
    return passwords


def literal_secrets(doc: dict[str, Any]) -> list[str]:
    """Places where a secret is written in clear instead of coming from `${...}` interpolation."""
    problems: list[str] = []
    sections = {"x-airflow-common": doc.get("x-airflow-common") or {}}
    sections.update({f"services.{name}": svc for name, svc in (doc.get("services") or {}).items()})
    for where, section in sections.items():
        for key, value in environment_of(section).items():
            if value is None or key.upper().endswith(("_FILE", "_CMD")):
                continue
            if SECRET_KEY.search(key) and not WHOLE_INTERPOLATION.fullmatch(value):
                problems.append(f"{where}.environment.{key} = {value!r}")
            if value.lstrip().startswith("{"):
                try:
                    conn = json.loads(value)
                except json.JSONDecodeError:
                    continue
                for field in ("password", "secret", "aws_secret_access_key"):
                    secret = conn.get(field)
                    if isinstance(secret, str) and not WHOLE_INTERPOLATION.fullmatch(secret):
                        problems.append(f"{where}.environment.{key} JSON field {field!r} = {secret!r}")
    for path, text in strings_in(doc):
        for password in uri_passwords(text):
            if not WHOLE_INTERPOLATION.fullmatch(password):
                problems.append(f"{path}: password {password!r} in a URI")
    return problems


def env_example_values() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f".env.example line is not NAME=value: {line!r}"
        values[key.strip()] = value.strip()
    return values


def default_environment(doc: dict[str, Any]) -> dict[str, str]:
    """The values compose would use with no .env file and an empty shell environment."""
    env: dict[str, str] = {}
    for name, defaults in interpolated_variables(doc).items():
        concrete = sorted((d for d in defaults if d is not None), key=len, reverse=True)
        if concrete:
            env[name] = concrete[0]
    return env


def published_ports(service: dict[str, Any]) -> Iterator[tuple[str | None, str]]:
    """(host_ip, description) for each port a service publishes."""
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            yield (port.get("host_ip"), json.dumps(port))
            continue
        text = str(port)
        parts = text.rsplit("/", 1)[0]
        # HOST_IP:HOST_PORT:CONTAINER_PORT has three fields (IPv6 host IPs are bracketed).
        fields = re.findall(r"\[[^\]]*\]|\$\{[^}]*\}|[^:]+", parts)
        yield (fields[0] if len(fields) == 3 else None, text)


def mounts_of(service: dict[str, Any]) -> dict[str, str]:
    """target -> source for each volume of a service (short or long syntax)."""
    result = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            result[volume["target"]] = volume.get("source", "")
        else:
            source, _, rest = str(volume).partition(":")
            result[rest.split(":")[0]] = source
    return result


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


# ------------------------------------------------------------------------------------------------
# the Compose specification
# ------------------------------------------------------------------------------------------------
def test_check_jsonschema_is_installed_next_to_the_interpreter():
    assert CHECK_JSONSCHEMA.is_file(), f"missing {CHECK_JSONSCHEMA}: pip install check-jsonschema"


def test_compose_file_matches_the_compose_specification():
    result = run_check_jsonschema(COMPOSE_FILE)
    assert result.returncode == 0, f"check-jsonschema failed:\n{result.stdout}\n{result.stderr}"
    assert "ok" in result.stdout.lower()


BREAKAGES = {
    "ports-not-a-list": (
        lambda doc: doc["services"]["airflow-apiserver"].update(ports="not-a-list"),
        "ports",
    ),
    "unknown-top-level-key": (
        lambda doc: doc.update(servicez={"oops": {"image": "x"}}),
        "servicez",
    ),
    "depends-on-bad-condition": (
        lambda doc: doc["services"]["airflow-scheduler"]["depends_on"]["postgres"].update(
            condition="whenever"
        ),
        "condition",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_compose_schema_check_rejects_a_broken_copy(tmp_path: Path, breakage: str):
    doc = load_compose()
    # Control: the same file dumped by PyYAML (anchors expanded) still passes, so a failure
    # below is caused by the breakage alone.
    control = tmp_path / "docker-compose.control.yml"
    control.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    control_result = run_check_jsonschema(control)
    assert control_result.returncode == 0, control_result.stdout + control_result.stderr

    break_it, expected_in_message = BREAKAGES[breakage]
    broken_doc = copy.deepcopy(doc)
    break_it(broken_doc)
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(broken_doc, sort_keys=False), encoding="utf-8")
    result = run_check_jsonschema(broken)
    assert result.returncode != 0, f"the validator accepted a broken file ({breakage}):\n{result.stdout}"
    assert expected_in_message in result.stdout + result.stderr


# ------------------------------------------------------------------------------------------------
# services, images, commands
# ------------------------------------------------------------------------------------------------
def test_stack_has_every_required_service(services: dict[str, Any]):
    missing = REQUIRED_SERVICES - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_stack_runs_tasks_on_scalable_celery_workers_with_a_redis_broker(services: dict[str, Any]):
    for name in AIRFLOW_SERVICES:
        env = environment_of(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].endswith("@redis:6379/0")
        # results in the metadata DB (Airflow's advice), not in the broker
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].endswith("@postgres:5432/airflow")
    worker = services["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert "container_name" not in worker and "ports" not in worker  # so it scales (--scale airflow-worker=N)
    assert "inspect ping" in " ".join(worker["healthcheck"]["test"])
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert environment_of(worker)["DUMB_INIT_SETSID"] == "0"
    assert "6379" not in json.dumps(services["redis"].get("ports", []))  # the broker is not published
    assert services["flower"]["profiles"] == ["flower"] and services["flower"]["command"] == "celery flower"
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name


@pytest.mark.parametrize(
    ("service", "command"),
    [
        ("airflow-apiserver", "api-server"),
        ("airflow-scheduler", "scheduler"),
        ("airflow-dag-processor", "dag-processor"),
        ("airflow-triggerer", "triggerer"),
        ("airflow-worker", "celery worker"),
    ],
)
def test_airflow_components_run_their_command(services: dict[str, Any], service: str, command: str):
    assert services[service]["command"] == command


@pytest.mark.parametrize("service", [*AIRFLOW_SERVICES, "shop-seed"])
def test_airflow_image_is_built_from_the_repository_dockerfile(services: dict[str, Any], service: str):
    svc = services[service]
    build = svc.get("build")
    context = build if isinstance(build, str) else (build or {}).get("context")
    assert context in (".", "./"), f"{service} must build the image from the repository root"
    if isinstance(build, dict):
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
    assert svc.get("image"), "a shared image name lets every Airflow service reuse one build"


def test_database_services_are_postgres_16_with_their_database(
    services: dict[str, Any],
):
    expected_db = {
        "postgres": "airflow",
        "shop-db": "shop",
        "warehouse-db": "warehouse",
    }
    for name, database in expected_db.items():
        svc = services[name]
        assert svc["image"] == "postgres:16"
        assert environment_of(svc)["POSTGRES_DB"] == database
        assert "pg_isready" in " ".join(svc["healthcheck"]["test"])


DATA_DIRS = {
    "postgres": "/var/lib/postgresql/data",
    "shop-db": "/var/lib/postgresql/data",
    "warehouse-db": "/var/lib/postgresql/data",
    "minio": "/data",
}


def test_each_database_and_minio_keeps_its_data_in_a_named_volume(
    compose: dict[str, Any],
):
    declared = set(compose.get("volumes") or {})
    sources = {
        name: mounts_of(compose["services"][name]).get(data_dir) for name, data_dir in DATA_DIRS.items()
    }
    not_named = {name: src for name, src in sources.items() if src not in declared}
    assert not not_named, f"data directories must be named volumes: {not_named}"
    assert len(set(sources.values())) == len(sources), "one volume per data store"


def test_shop_seed_generates_the_sample_shop_once_shop_db_is_healthy(
    services: dict[str, Any],
):
    seed = services["shop-seed"]
    command = seed["command"]
    command = command if isinstance(command, str) else " ".join(command)
    words = command.split()
    assert words[:3] == ["python", "-m", "loaders"]
    # the command must be one the loaders' command line really accepts
    from loaders.cli import _parser

    parsed = _parser().parse_args([w.replace("${SAMPLE_DS:-2026-11-20}", "2026-11-20") for w in words[3:]])
    assert parsed.run.__name__ == "_generate"
    assert not parsed.no_shop
    assert seed["depends_on"]["shop-db"]["condition"] == "service_healthy"
    assert seed.get("restart", "no") == "no"
    env = environment_of(seed)
    assert env["SHOP_HOST"] == "shop-db" and env["SHOP_DBNAME"] == "shop"
    assert mounts_of(seed)["/opt/airflow/loaders"] == "./loaders"


def test_minio_init_creates_the_lake_bucket_once_minio_is_healthy(
    services: dict[str, Any],
):
    init = services["minio-init"]
    assert str(init["image"]).split(":-")[-1].startswith("minio/mc")
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert re.search(r"mc mb\b.*\blocal/lake\b", script), "minio-init must create bucket `lake`"
    assert "mc alias set local http://minio:9000" in script
    assert services["minio"]["healthcheck"]["test"]


def test_airflow_init_migrates_the_database_and_sets_up_the_admin(
    services: dict[str, Any],
):
    init = services["airflow-init"]
    env = environment_of(init)
    assert env["_AIRFLOW_DB_MIGRATE"] == "true"
    assert env["_AIRFLOW_WWW_USER_USERNAME"] == "${AIRFLOW_ADMIN_USERNAME:-admin}"
    assert env["_AIRFLOW_WWW_USER_PASSWORD"] == "${AIRFLOW_ADMIN_PASSWORD:-admin}"
    script = "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    # the official image's entrypoint runs `airflow db migrate` when _AIRFLOW_DB_MIGRATE is set
    assert "/entrypoint airflow version" in script
    assert "SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in script
    common = environment_of(services["airflow-apiserver"])
    assert common["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    assert common["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "${AIRFLOW_ADMIN_USERNAME:-admin}:admin"
    passwords_dir = os.path.dirname(common["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    # the file airflow-init writes must reach the api-server: a shared named volume
    assert mounts_of(init)[passwords_dir] == mounts_of(services["airflow-apiserver"])[passwords_dir]


def test_only_airflow_init_has_the_pii_hash_key_and_installs_it_in_the_warehouse(
    services: dict[str, Any],
):
    init = services["airflow-init"]
    assert environment_of(init)["PII_HASH_KEY"] == "${PII_HASH_KEY:-}"
    script = "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert "python -m loaders pii-key" in script
    assert script.index("python -m loaders pii-key") > script.index("/entrypoint airflow version")
    # the models read the key from the warehouse: the services that run dbt never hold it
    for name in (*AIRFLOW_SERVICES, "shop-seed"):
        if name != "airflow-init":
            assert "PII_HASH_KEY" not in environment_of(services[name]), name


def test_airflow_components_share_the_secrets_they_exchange(services: dict[str, Any]):
    envs = [environment_of(services[name]) for name in AIRFLOW_SERVICES]
    for key in (
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    ):
        values = {env.get(key) for env in envs}
        assert len(values) == 1 and None not in values, f"{key} differs between Airflow services: {values}"


# ------------------------------------------------------------------------------------------------
# environment and connections
# ------------------------------------------------------------------------------------------------
def test_the_team_stack_configures_airflow_as_the_local_one_does(services: dict[str, Any]):
    """The settings scripts/airflow_env.py gives every local Airflow process and that do not name a
    local path or port have the same value in the containers."""
    local = airflow_env(Path("/nowhere"), {})
    shared = ["AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__COSMOS__ENABLE_TELEMETRY",
              "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY", "DBT_SEND_ANONYMOUS_USAGE_STATS"]  # fmt: skip
    for service in AIRFLOW_SERVICES:
        env = environment_of(services[service])
        differ = {
            key: (env.get(key), local[key])
            for key in shared
            if str(env.get(key)).lower() != local[key].lower()
        }
        assert not differ, f"{service} (compose, local): {differ}"


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_service_has_the_project_environment(services: dict[str, Any], service: str):
    env = environment_of(services[service])
    missing = [key for key in REQUIRED_AIRFLOW_ENV if key not in env]
    assert not missing, f"{service} lacks {missing}"
    wrong = {
        key: env[key]
        for key, expected in FIXED_AIRFLOW_ENV.items()
        if str(env[key]).lower() != expected.lower()
    }
    assert not wrong, f"{service}: unexpected values {wrong}"
    for key in INTERPOLATED_AIRFLOW_ENV:
        match = INTERPOLATION.fullmatch(env[key])
        assert match and match.group("braced") == key, (
            f"{service}: {key} must be ${{{key}:-...}}, got {env[key]!r}"
        )


def test_airflow_connections_point_at_the_compose_services(compose: dict[str, Any]):
    env = environment_of(compose["services"]["airflow-scheduler"])
    shell = default_environment(compose)
    for conn_var, host, database, user_var, password_var in [
        (
            "AIRFLOW_CONN_WAREHOUSE_DB",
            "warehouse-db",
            "warehouse",
            "WAREHOUSE_USER",
            "WAREHOUSE_PASSWORD",
        ),
        ("AIRFLOW_CONN_SHOP_DB", "shop-db", "shop", "SHOP_USER", "SHOP_PASSWORD"),
    ]:
        uri = urlsplit(interpolate(env[conn_var], shell))
        assert uri.scheme in ("postgres", "postgresql")
        assert (uri.hostname, uri.port, uri.path.lstrip("/")) == (host, 5432, database)
        assert unquote(uri.username or "") == interpolate(env[user_var], shell)
        assert unquote(uri.password or "") == interpolate(env[password_var], shell) != ""
        # the database container is created with the same credentials the connection uses
        db_env = environment_of(compose["services"][host])
        assert db_env["POSTGRES_USER"] == env[user_var]
        assert db_env["POSTGRES_PASSWORD"] == env[password_var]

    aws = json.loads(interpolate(env["AIRFLOW_CONN_AWS_DEFAULT"], shell))
    assert aws["conn_type"] == "aws"
    assert aws["extra"]["endpoint_url"] == "http://minio:9000"
    assert aws["login"] == interpolate(env["AWS_ACCESS_KEY_ID"], shell)
    assert aws["password"] == interpolate(env["AWS_SECRET_ACCESS_KEY"], shell)
    # minio-init creates exactly that access key in MinIO
    init_env = environment_of(compose["services"]["minio-init"])
    assert set(init_env.values()) >= {
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
    }


def test_airflow_reads_the_connections_from_the_environment(compose: dict[str, Any], tmp_path: Path):
    """Airflow's own environment-variable secrets backend parses the three connections."""
    env_spec = environment_of(compose["services"]["airflow-scheduler"])
    shell = default_environment(compose)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    child_env.update({key: interpolate(env_spec[key], shell) for key in CONNECTION_ENV})
    child_env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow_home"),
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
    )
    script = (
        "import json\n"
        "from airflow.secrets.environment_variables import EnvironmentVariablesBackend\n"
        "backend = EnvironmentVariablesBackend()\n"
        "out = {}\n"
        "for conn_id in ('warehouse_db', 'shop_db', 'aws_default'):\n"
        "    c = backend.get_connection(conn_id)\n"
        "    out[conn_id] = dict(conn_type=c.conn_type, host=c.host, port=c.port, schema=c.schema,\n"
        "                        login=c.login, password=c.password, extra=c.extra_dejson)\n"
        "print('RESULT=' + json.dumps(out))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=180,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT="))
    conns = json.loads(line.removeprefix("RESULT="))
    assert conns["warehouse_db"]["conn_type"] == "postgres"
    assert (
        conns["warehouse_db"]["host"],
        conns["warehouse_db"]["port"],
        conns["warehouse_db"]["schema"],
    ) == (
        "warehouse-db",
        5432,
        "warehouse",
    )
    assert (conns["shop_db"]["host"], conns["shop_db"]["schema"]) == ("shop-db", "shop")
    # Cosmos' Postgres profile mapping needs a non-empty password
    assert conns["warehouse_db"]["password"] and conns["shop_db"]["password"]
    assert conns["aws_default"]["conn_type"] == "aws"
    assert conns["aws_default"]["extra"]["endpoint_url"] == "http://minio:9000"
    assert conns["aws_default"]["login"] and conns["aws_default"]["password"]


# ------------------------------------------------------------------------------------------------
# mounts and start-up order
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_project_code_is_bind_mounted_into_airflow_service(services: dict[str, Any], service: str):
    mounts = mounts_of(services[service])
    wrong = {
        target: mounts.get(target)
        for target, source in REQUIRED_MOUNTS.items()
        if mounts.get(target) != source
    }
    assert not wrong, f"{service}: expected {REQUIRED_MOUNTS}, got {wrong}"


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_service_waits_for_healthy_databases(services: dict[str, Any], service: str):
    depends_on = services[service].get("depends_on") or {}
    assert isinstance(depends_on, dict), "long syntax needed to wait for health"
    for database in DATABASE_SERVICES:
        assert depends_on.get(database, {}).get("condition") == "service_healthy", f"{service} -> {database}"
        assert services[database].get("healthcheck", {}).get("test"), f"{database} has no healthcheck"


@pytest.mark.parametrize("service", LONG_RUNNING_AIRFLOW_SERVICES)
def test_airflow_component_starts_after_the_init_and_has_a_healthcheck(
    services: dict[str, Any], service: str
):
    svc = services[service]
    assert svc["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert svc["healthcheck"]["test"], f"{service} has no healthcheck"
    assert svc.get("restart") == "always"


def test_apiserver_healthcheck_asks_the_version_endpoint(services: dict[str, Any]):
    test = " ".join(services["airflow-apiserver"]["healthcheck"]["test"])
    assert "http://localhost:8080/api/v2/version" in test


def test_every_dependency_exists_and_can_reach_its_condition(services: dict[str, Any]):
    for name, svc in services.items():
        depends_on = svc.get("depends_on") or {}
        items = depends_on.items() if isinstance(depends_on, dict) else ((d, {}) for d in depends_on)
        for target, spec in items:
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), (
                    f"{name} waits for {target} health: no healthcheck"
                )
            if condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", f"{target} must be a one-shot"


# ------------------------------------------------------------------------------------------------
# exposure and secrets
# ------------------------------------------------------------------------------------------------
def test_every_published_port_is_bound_to_localhost(services: dict[str, Any]):
    seen = []
    for name, svc in services.items():
        for host_ip, text in published_ports(svc):
            seen.append(name)
            assert host_ip == "127.0.0.1", f"{name} publishes {text!r} beyond 127.0.0.1"
    assert "127.0.0.1:8080:8080" in services["airflow-apiserver"]["ports"]
    assert {"airflow-apiserver", "minio"} <= set(seen)


def test_port_check_catches_a_port_open_to_all_interfaces():
    assert list(published_ports({"ports": ["8080:8080"]})) == [(None, "8080:8080")]
    assert next(published_ports({"ports": ["0.0.0.0:5432:5432"]}))[0] == "0.0.0.0"
    assert next(published_ports({"ports": [{"target": 80, "published": 80}]}))[0] is None
    assert next(published_ports({"ports": ["127.0.0.1:${P:-1}:80"]}))[0] == "127.0.0.1"


def test_no_secret_is_written_in_clear(compose: dict[str, Any]):
    problems = literal_secrets(compose)
    assert not problems, "secrets must come from ${...} interpolation (set them in .env):\n" + "\n".join(
        problems
    )


def test_secret_check_catches_literal_secrets():
    doc = {
        "services": {
            "db": {"environment": {"POSTGRES_PASSWORD": "hunter2", "POSTGRES_DB": "shop"}},
            "app": {
                "environment": [
                    "AIRFLOW_CONN_X=postgresql://u:hunter2@db:5432/shop",
                    'AIRFLOW_CONN_Y={"conn_type": "aws", "login": "${A:-a}", "password": "hunter2"}',
                    "GOOD_PASSWORD=${GOOD_PASSWORD:-local}",
                ]
            },
        }
    }
    problems = literal_secrets(doc)
    assert len(problems) == 3, problems
    assert all("GOOD_PASSWORD" not in p for p in problems)


def test_interpolation_defaults_agree_everywhere(compose: dict[str, Any]):
    conflicting = {
        name: defaults
        for name, defaults in interpolated_variables(compose).items()
        # an empty default (`${NAME:-}`) only marks the variable optional
        if len({d for d in defaults if d}) > 1
    }
    assert not conflicting, f"one variable, different defaults (the stack breaks without .env): {conflicting}"


def test_env_example_sets_every_variable_the_compose_file_reads(
    compose: dict[str, Any],
):
    example = env_example_values()
    used = interpolated_variables(compose)
    missing = sorted(set(used) - set(example))
    assert not missing, f".env.example does not document {missing}"
    # copying .env.example to .env gives the same stack as the built-in defaults
    for name, defaults in used.items():
        concrete = {d for d in defaults if d is not None}
        if concrete:
            assert example[name] in concrete, f"{name}: .env.example {example[name]!r} vs default {concrete}"


def test_env_example_mentions_every_variable_of_the_airflow_containers(
    compose: dict[str, Any],
):
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    env = environment_of(compose["x-airflow-common"])
    undocumented = [key for key in env if not re.search(rf"\b{re.escape(key)}=", text)]
    assert not undocumented, f".env.example does not mention {undocumented}"


def test_env_file_with_real_values_is_ignored_by_git():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(
        ["git", "check-ignore", "-q", ".env"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, ".env must be listed in .gitignore"
    result = subprocess.run(
        ["git", "check-ignore", "-q", ".env.example"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1, ".env.example must not be ignored"


# ------------------------------------------------------------------------------------------------
# Dockerfile
# ------------------------------------------------------------------------------------------------
def test_dockerfile_extends_airflow_and_installs_the_pinned_requirements():
    lines = [
        line.strip()
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[0] == "FROM apache/airflow:3.3.2-python3.11"
    copy_line = next(
        i for i, line in enumerate(lines) if line.startswith("COPY") and "requirements.txt" in line
    )
    pip_line = next(i for i, line in enumerate(lines) if line.startswith("RUN") and "pip install" in line)
    assert copy_line < pip_line
    assert "--no-cache-dir" in lines[pip_line] and "-r /requirements.txt" in lines[pip_line]
    users = [line for line in lines[:pip_line] if line.startswith("USER")]
    assert users and users[-1] == "USER airflow", "pip must run as the airflow user"
    assert "ENV PYTHONPATH=/opt/airflow" in lines
    # the image's Airflow and the pinned one agree
    assert re.search(
        r"^apache-airflow==3\.3\.2$",
        REQUIREMENTS.read_text(encoding="utf-8"),
        re.MULTILINE,
    )


def test_init_builds_the_dbt_manifest_the_dag_renders_from() -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    script = " ".join(services["airflow-init"]["command"])
    assert "dbt parse" in script
    assert "/opt/airflow/dbt_project" in script
    # every Airflow component waits for init, so the manifest exists before the DAG is parsed
    for name in ("airflow-scheduler", "airflow-dag-processor", "airflow-apiserver", "airflow-triggerer"):
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_the_authenticated_docs_plugin_and_its_site_are_in_every_airflow_service() -> None:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        service = document["services"][name]
        mounts = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in service["volumes"]]
        assert "./airflow_plugins:/opt/airflow/plugins" in mounts, name
        assert "docs-site:/opt/airflow/docs-site" in mounts, name
        env = service["environment"]
        assert env["DBT_DOCS_DIR"] == "/opt/airflow/docs-site", name
    assert "docs-site" in document["volumes"]
