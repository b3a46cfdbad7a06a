"""One catalog of the raw tables: what each source delivers, column by column.

The shop extract (what it selects and how a day is chosen), the PostgreSQL and Redshift DDL of
``raw.<table>`` and the manifest checks all read the tables from here. A table with a
``changed_at`` column is extracted incrementally (the rows changed during the day); one without
is a full snapshot every day. The interactions file has no key or types of its own: its values
are kept as delivered (text) and typed by dbt.
"""

from __future__ import annotations

from dataclasses import dataclass

from loaders.errors import BadInputError


@dataclass(frozen=True)
class RawTable:
    """A table the loaders land: in the lake and in raw (with lineage columns added)."""

    source: str
    name: str
    key: str
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type)
    changed_at: str | None = None  # None: a full snapshot every day

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def mode(self) -> str:
        return "incremental" if self.changed_at else "snapshot"


SHOP_TABLES: dict[str, RawTable] = {
    t.name: t
    for t in (
        RawTable(
            "shop",
            "customers",
            key="customer_id",
            columns=(
                ("customer_id", "bigint"), ("first_name", "text"), ("last_name", "text"),
                ("email", "text"), ("phone", "text"), ("address", "text"),
                ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
            ),
            changed_at="updated_at",
        ),
        RawTable(
            "shop",
            "products",
            key="product_id",
            columns=(
                ("product_id", "bigint"), ("sku", "text"), ("name", "text"), ("category", "text"),
                ("price", "numeric(10,2)"), ("is_active", "boolean"),
                ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
            ),
        ),
        RawTable(
            "shop",
            "orders",
            key="order_id",
            columns=(
                ("order_id", "bigint"), ("customer_id", "bigint"), ("status", "text"),
                ("quantity", "integer"), ("ordered_at", "timestamptz"), ("updated_at", "timestamptz"),
            ),
            changed_at="updated_at",
        ),
        RawTable(
            "shop",
            "sales",
            key="sale_id",
            columns=(
                ("sale_id", "bigint"), ("order_id", "bigint"), ("product_id", "bigint"),
                ("quantity", "integer"), ("unit_price", "numeric(10,2)"), ("discount", "numeric(10,2)"),
                ("sold_at", "timestamptz"), ("updated_at", "timestamptz"),
            ),
            changed_at="updated_at",
        ),
    )
}  # fmt: skip

INTERACTIONS = RawTable(
    "interactions",
    "user_interactions",
    key="interaction_id",
    columns=tuple(
        (name, "text") for name in ("interaction_id", "user_id", "product_id", "action", "timestamp")
    ),
)


def table_named(name: str) -> RawTable:
    try:
        return SHOP_TABLES[name]
    except KeyError:
        raise BadInputError(f"unknown shop table {name!r}; choose from {', '.join(SHOP_TABLES)}") from None


def raw_table(source: str, table: str) -> RawTable:
    if source == "shop" and table in SHOP_TABLES:
        return SHOP_TABLES[table]
    if (source, table) == (INTERACTIONS.source, INTERACTIONS.name):
        return INTERACTIONS
    raise BadInputError(f"no raw table is defined for {source}/{table}")


def raw_columns(source: str, table: str) -> list[tuple[str, str]]:
    """The columns (name, type) of a raw table, lineage columns excluded."""
    return list(raw_table(source, table).columns)
