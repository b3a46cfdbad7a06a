"""Redshift SQL kept honest offline: every dbt node compiled for the Redshift target, no cluster.

`dbt compile --target prod` runs with a host that does not resolve, `--no-populate-cache` and
`--vars '{offline_compile: ...}'` (the relations dbt's `is_incremental()` asks the warehouse for
are then stated without asking it), once with incremental models in their incremental form and
once in their first-build form. Every compiled statement must then parse in sqlglot's Redshift
dialect, use no PostgreSQL-only construct, and come from the `redshift__` macro variants.
`make redshift-sql` runs this module.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.dbt
logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its notes on opaque commands are checked below

DBT_PROJECT = PROJECT_DIR / "dbt_project"
DS = "2026-11-20"
# Statements sqlglot cannot model (it keeps them as opaque commands) but Redshift accepts.
OPAQUE_BUT_VALID = re.compile(
    r"^\s*(create role|grant role|grant [a-z, ]+ on all tables in schema|alter default privileges)\b", re.I
)
# Functions and types PostgreSQL has and Redshift has not: a postgres__ macro reached by dispatch
# because its redshift__ variant is missing shows up here.
POSTGRES_ONLY_FUNCTIONS = {
    "pg_input_is_valid", "convert_to", "sha256", "jsonb_extract_path_text", "to_jsonb", "jsonb_build_object",
    "json_build_object", "string_to_array", "regexp_matches", "generate_series", "array_agg", "encode",
}  # fmt: skip
POSTGRES_ONLY_TYPES = {exp.DataType.Type.JSON, exp.DataType.Type.JSONB}


@dataclass(frozen=True)
class Compiled:
    incremental: Path  # target path: incremental models compiled as incremental runs
    first_build: Path  # target path: incremental models compiled as first builds
    manifest: dict


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAREHOUSE_", "DBT_"))}
    env.update(
        {
            # a Redshift target that cannot be reached: compiling must not need it
            "WAREHOUSE_HOST": "redshift.offline.invalid",
            "WAREHOUSE_PORT": "5439",
            "WAREHOUSE_USER": "offline",
            "WAREHOUSE_PASSWORD": "offline-not-a-secret",
            "WAREHOUSE_DBNAME": "warehouse",
            "DBT_TARGET": "prod",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    return env


def compile_for_redshift(folder: Path, variables: dict[str, str], *select: str) -> subprocess.Popen[str]:
    command = [
        str(Path(sys.executable).parent / "dbt"), "--no-use-colors", "compile", "--no-populate-cache",
        "--target", "prod", "--vars", json.dumps(variables), *select,
        "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
        "--target-path", str(folder / "target"), "--log-path", str(folder / "logs"),
    ]  # fmt: skip
    return subprocess.Popen(
        command, env=offline_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    folder = tmp_path_factory.mktemp("redshift")
    runs = {
        "incremental": compile_for_redshift(
            folder / "incremental", {"offline_compile": "incremental", "ds": DS}
        ),
        "first_build": compile_for_redshift(
            folder / "first_build",
            {"offline_compile": "full", "ds": DS},
            "--select",
            "config.materialized:incremental",
        ),
    }
    for name, run in runs.items():
        output = run.communicate(timeout=600)[0]
        assert run.returncode == 0, f"dbt compile ({name}) for Redshift failed:\n{output[-4000:]}"
    incremental = folder / "incremental" / "target"
    return Compiled(
        incremental=incremental / "compiled",
        first_build=folder / "first_build" / "target" / "compiled",
        manifest=json.loads((incremental / "manifest.json").read_text()),
    )


def compiled_files(compiled: Compiled) -> list[Path]:
    return sorted(
        p for root in (compiled.incremental, compiled.first_build) for p in root.rglob("*.sql") if p.is_file()
    )


def redshift_problems(text: str) -> list[str]:
    """Why `text` (one compiled file) is not valid Redshift SQL; empty when it is."""
    try:
        statements = [s for s in sqlglot.parse(text, read="redshift") if s is not None]
    except ParseError as err:
        return [f"does not parse as Redshift SQL: {str(err).splitlines()[0]}"]
    problems = []
    if not statements:
        problems.append("holds no statement")
    for statement in statements:
        if isinstance(statement, exp.Command):
            command = re.sub(r"/\*.*?\*/", " ", statement.sql("redshift"), flags=re.S)
            if not OPAQUE_BUT_VALID.match(command):
                problems.append(f"not understood as Redshift SQL: {command.strip()[:120]}")
        for node in statement.find_all(exp.Is):
            if isinstance(node.expression, exp.JSON):
                problems.append("uses `is json` (PostgreSQL 16 only)")
        for node in statement.find_all(exp.RegexpReplace):
            if node.args.get("modifiers") is not None:
                problems.append("passes regexp_replace flags (Redshift's 4th argument is a position)")
        for node in statement.find_all(exp.DataType):
            if node.this in POSTGRES_ONLY_TYPES:
                problems.append(f"uses the PostgreSQL type {node.sql('postgres')}")
    tokens = sqlglot.tokenize(text, read="redshift")
    for token, following in itertools.pairwise(tokens):
        if following.token_type == TokenType.L_PAREN and token.text.lower() in POSTGRES_ONLY_FUNCTIONS:
            problems.append(f"calls {token.text.lower()}() (PostgreSQL only)")
        if token.token_type == TokenType.DCOLON:
            problems.append("uses a `::` cast (PostgreSQL syntax)")
    return problems


def test_every_model_snapshot_test_and_analysis_compiles_for_redshift(compiled: Compiled) -> None:
    nodes = [
        n for n in compiled.manifest["nodes"].values()
        if n["package_name"] == "shop_analytics" and n["resource_type"] in ("model", "snapshot", "analysis", "test")
    ]  # fmt: skip
    missing = [n["unique_id"] for n in nodes if not n.get("compiled")]
    assert not missing, f"not compiled: {missing}"
    models = {n["name"] for n in nodes if n["resource_type"] == "model"}
    assert {p.stem for p in compiled.incremental.rglob("models/**/*.sql")} >= models


def test_every_model_and_column_is_described_and_every_key_tested(compiled: Compiled) -> None:
    nodes = compiled.manifest["nodes"]
    ours = [n for n in nodes.values() if n["package_name"] == "shop_analytics"]
    documented = [n for n in ours if n["resource_type"] in ("model", "snapshot", "analysis")]
    assert not [n["name"] for n in documented if not n["description"].strip()]
    assert not [
        f"{n['name']}.{c}"
        for n in documented
        for c, info in n["columns"].items()
        if not info["description"].strip()
    ]
    assert not [n["name"] for n in documented if n["resource_type"] != "analysis" and not n["columns"]]
    tested = {
        n["attached_node"]
        for n in ours
        if n["resource_type"] == "test"
        and (n.get("test_metadata") or {}).get("name") in ("unique", "unique_combination")
    }
    keyed = [
        n for n in ours
        if n["resource_type"] in ("model", "snapshot")
        and not n["name"].startswith("base_") and not n["name"].endswith("_rejects")
    ]  # fmt: skip
    assert len(keyed) > 15

    def shows_a_tested_model(node: dict) -> bool:
        # a view presenting the rows of one keyed model: its key is tested there
        parents = [p for p in node["depends_on"]["nodes"] if p.startswith("model.")]
        return node["config"]["materialized"] == "view" and len(parents) == 1 and parents[0] in tested

    assert not [n["name"] for n in keyed if n["unique_id"] not in tested and not shows_a_tested_model(n)]


def test_every_compiled_statement_is_valid_redshift_sql(compiled: Compiled) -> None:
    files = compiled_files(compiled)
    assert len(files) > 100
    problems = {str(f.relative_to(f.parents[3])): redshift_problems(f.read_text()) for f in files}
    assert not {f: p for f, p in problems.items() if p}


def test_the_check_catches_postgresql_only_sql() -> None:
    assert redshift_problems("select a from t where a is json object")
    assert redshift_problems("select encode(sha256(convert_to(a, 'UTF8')), 'hex') from t")
    assert redshift_problems("select regexp_replace(a, '[^0-9]', '', 'g') from t")
    assert redshift_problems("do $x$ begin perform 1; end $x$")
    assert redshift_problems("select a::json from t")
    assert redshift_problems("select from where")
    assert not redshift_problems("select json_extract_path_text(a, 'k', true), sha2('s' || a, 256) from t")


def test_the_redshift_variants_of_the_macros_are_used(compiled: Compiled) -> None:
    def model(name: str) -> str:
        return next(compiled.incremental.rglob(f"models/**/{name}.sql")).read_text()

    customers = model("dim_customers")
    assert "sha2(" in customers and "regexp_replace(" in customers
    assert "json_extract_path_text(address, 'street', true)" in model("int_customer_addresses_flattened")
    assert "can_json_parse(address)" in model("int_customer_addresses_flattened")
    assert "convert_timezone('UTC', updated_at)" in model("base_shop__orders")
    assert re.search(
        r"datediff\(\s*day,\s*customer_orders\.first_order_date", model("rpt_customer_lifetime_value")
    )
    access = next(compiled.incremental.rglob("analyses/warehouse_access_statements.sql")).read_text()
    assert "to role shop_analyst" in access and "do $" not in access


def test_incremental_models_compile_in_both_forms(compiled: Compiled) -> None:
    # each incremental model's incremental form reads the processed day and small state (the
    # CTE named here); its first build reads every day and has no such part
    markers = {
        "base_interactions__user_interactions": "staged_elsewhere",
        "int_user_product_interactions_daily": "withdrawn",
        "int_user_product_interactions_summarized": "merge_path",
        "stg_shop__orders": "staged_from_processed_days",
        "fct_sales": "touched_sales",
    }
    day_filter = f"_ds = cast('{DS}' as date)"
    for name, marker in markers.items():
        incremental = next(compiled.incremental.rglob(f"{name}.sql")).read_text()
        first_build = next(compiled.first_build.rglob(f"{name}.sql")).read_text()
        assert day_filter in incremental, name
        assert day_filter not in first_build, name  # a first build takes every day
        assert marker in incremental, name
        assert marker not in first_build, name


def test_the_hash_key_is_read_from_the_warehouse_never_written_into_sql(compiled: Compiled) -> None:
    customers = next(compiled.incremental.rglob("models/**/dim_customers.sql")).read_text()
    key = '(select hash_key from "warehouse"."pii_keys"."hash_key")'
    assert f"sha2({key} || sha2({key} || lower(trim(" in customers
    assert "PII_HASH" not in customers
    manifest = compiled.manifest
    assert (
        "source.shop_analytics.pii_keys.hash_key"
        in manifest["nodes"]["model.shop_analytics.dim_customers"]["depends_on"]["nodes"]
    )
