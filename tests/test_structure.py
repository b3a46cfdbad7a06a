"""The package's shape: loaders side by side, none leaning on another or on development tools.

Read from the import statements themselves (module level and inside functions), so a new
import that breaks the rule fails here, whatever the code does with it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from loaders.config import Settings

PACKAGE = Path(__file__).resolve().parent.parent / "loaders"
LOADERS = {"interactions", "shop", "load", "redshift"}
DEVELOPMENT_ONLY = {"sample_data", "local_stack"}
PRODUCTION = sorted(
    p.stem for p in PACKAGE.glob("*.py") if p.stem not in DEVELOPMENT_ONLY | {"cli", "__main__", "__init__"}
)


def loaders_imported_by(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "loaders":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("loaders."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("loaders.")}
    return found


@pytest.mark.parametrize("module", sorted(LOADERS))
def test_no_loader_imports_another_loader(module: str) -> None:
    assert loaders_imported_by(module) & (LOADERS - {module}) == set()


@pytest.mark.parametrize("module", PRODUCTION)
def test_no_production_module_imports_the_sample_data_or_the_local_stack(module: str) -> None:
    assert loaders_imported_by(module) & DEVELOPMENT_ONLY == set()


def test_the_rule_is_checked_on_real_imports() -> None:
    """The reader finds the imports the CLI is known to make (it may use everything)."""
    assert {"interactions", "shop", "destination", "local_stack", "sample_data"} <= loaders_imported_by("cli")


def test_one_place_decides_between_postgres_and_redshift_loads() -> None:
    root = PACKAGE.parent
    deciding = sorted(
        str(p.relative_to(root))
        for p in [*PACKAGE.glob("*.py"), *(root / "dags").glob("*.py")]
        if "warehouse_kind" in p.read_text()
    )
    # config reads it; pii_key installs its key where the warehouse is; destination routes loads
    assert deciding == ["loaders/config.py", "loaders/destination.py", "loaders/pii_key.py"]


# --- one shop schema: the catalog, the shop database the generator plays, dbt's sources ---

# format_type()'s spelling of the catalog's PostgreSQL types
PG_SPELLING = {"timestamptz": "timestamp with time zone", "numeric(10,2)": "numeric(10,2)"}


def test_the_shop_database_has_exactly_the_catalogs_columns_and_types(settings: Settings) -> None:
    """The generator plays the shop application, whose schema (with its keys and constraints)
    is its own; the catalog, from which the extract and the raw DDL are derived, must describe it."""
    import psycopg

    from loaders.catalog import SHOP_TABLES
    from loaders.sample_data import ShopScale, generate_shop

    generate_shop(settings.shop, "2026-11-20", ShopScale(customers=5, products=3, orders_per_day=2, days=1))
    with psycopg.connect(settings.shop.conninfo()) as conn:
        for table in SHOP_TABLES.values():
            found = conn.execute(
                "select attname, format_type(atttypid, atttypmod) from pg_attribute "
                "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
                (table.name,),
            ).fetchall()
            assert found == [(name, PG_SPELLING.get(kind, kind)) for name, kind in table.columns], table.name


def test_dbts_shop_sources_list_the_catalogs_columns_then_the_lineage() -> None:
    import yaml

    from loaders.catalog import SHOP_TABLES

    path = PACKAGE.parent / "dbt_project" / "models" / "staging" / "shop" / "_shop__sources.yml"
    sources = yaml.safe_load(path.read_text())
    tables = {t["name"]: [c["name"] for c in t.get("columns", [])] for t in sources["sources"][0]["tables"]}
    assert set(tables) == set(SHOP_TABLES)
    for name, table in SHOP_TABLES.items():
        assert tables[name] == [*table.column_names, "_ds", "_source_file", "_load_id", "_loaded_at"], name


ROOT = PACKAGE.parent
OWN_PACKAGES = ("loaders", "orchestration", "airflow_plugins", "scripts")


def own_import_graph() -> dict[str, set[str]]:
    """module -> the project's modules it imports (at module level or inside a function)."""
    files = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts): p
        for package in OWN_PACKAGES
        for p in (ROOT / package).glob("*.py")
        if p.stem != "__init__"
    }
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        graph[module] = {name for name in names if name in files and name != module}
    return graph


def a_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules in order), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module) :]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            if cycle := visit(imported, [*path, module]):
                return cycle
        done.add(module)
        return None

    return next((c for m in sorted(graph) if (c := visit(m, []))), None)


def test_the_projects_modules_import_one_another_without_a_cycle() -> None:
    graph = own_import_graph()
    assert {"orchestration.drop_check", "scripts.airflow_env"} <= set(
        graph["orchestration.triggers"] | graph["scripts.airflow_local"]
    )
    assert a_cycle(graph) is None, f"import cycle: {' -> '.join(a_cycle(graph) or [])}"


def test_the_cycle_check_finds_a_cycle_through_an_import_inside_a_function() -> None:
    # as orchestration.triggers and drop_sensor were: the sensor imported the trigger in a method
    assert a_cycle({"a.sensor": {"a.trigger"}, "a.trigger": {"a.sensor"}, "a.other": set()}) == [
        "a.sensor",
        "a.trigger",
    ]
    assert a_cycle({"a.x": {"a.y"}, "a.y": set()}) is None
