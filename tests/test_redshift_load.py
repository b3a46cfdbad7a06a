"""The Redshift load path, checked exactly without a cluster: statements and their order."""

from __future__ import annotations

import sqlglot

from loaders.catalog import SHOP_TABLES
from loaders.lake import S3Lake
from loaders.redshift import RedshiftCopyOptions, base_ddl, load_statements, raw_table_ddl

ROLE = "arn:aws:iam::123456789012:role/redshift-copy"
LAKE = S3Lake("shop-lake", "prod", client=object())
CSV_OPTIONS = (
    f"iam_role '{ROLE}' format as csv gzip ignoreheader 1 timeformat 'auto' dateformat 'auto' "
    "emptyasnull blanksasnull maxerror 0 compupdate off statupdate off"
)


def manifest(**extra) -> dict:
    return {
        "table": "orders",
        "ds": "2026-11-20",
        "format": "csv.gz",
        "columns": [{"name": n, "type": t} for n, t in SHOP_TABLES["orders"].columns],
        "parts": [{"key": "part-00000-ab12cd34.csv.gz", "rows": 458, "bytes": 12345, "sha256": "f" * 64}],
        "rows_read": 458,
        "rows_valid": 458,
        "rows_rejected": 0,
        "version": "20261120T060102123456Z-3fa9c1",
        **extra,
    }


def test_a_csv_gzip_day_is_copied_into_a_stage_then_swapped_with_its_audit_row() -> None:
    statements = load_statements(
        LAKE, manifest(), schema="raw", source="shop", table="orders", ds="2026-11-20", load_id=42,
        options=RedshiftCopyOptions(iam_role=ROLE),
    )  # fmt: skip
    cols = '"order_id", "customer_id", "status", "quantity", "ordered_at", "updated_at"'
    source = "s3://shop-lake/prod/raw/shop/orders/ds=2026-11-20/"
    assert statements == [
        'create temp table "orders__stage_20261120" ("order_id" bigint, "customer_id" bigint, '
        '"status" varchar(65535), "quantity" integer, "ordered_at" timestamptz, "updated_at" timestamptz)',
        f'copy "orders__stage_20261120" ({cols}) from '
        f"'s3://shop-lake/prod/raw/shop/orders/ds=2026-11-20/part-00000-ab12cd34.csv.gz' {CSV_OPTIONS}",
        'delete from "raw"."orders" where _ds = \'2026-11-20\'',
        f'insert into "raw"."orders" ({cols}, _ds, _source_file, _load_id, _loaded_at) '
        f"select {cols}, '2026-11-20', '{source}', 42, getdate() from \"orders__stage_20261120\"",
        'insert into "raw".load_audit (load_id, source, table_name, ds, source_file, source_sha256, '
        "rows_read, rows_loaded, rows_rejected, bytes_read, seconds, started_at, finished_at, loaded_by, lake_version) "
        f"select 42, 'shop', 'orders', '2026-11-20', '{source}', null, 458, count(*), 0, 12345, "
        "0.000, getdate(), getdate(), current_user, '20261120T060102123456Z-3fa9c1' "
        'from "orders__stage_20261120"',
        'drop table "orders__stage_20261120"',
    ]


def test_the_region_option_is_added_for_csv_when_the_bucket_is_elsewhere() -> None:
    statements = load_statements(
        LAKE, manifest(), schema="raw", source="shop", table="orders", ds="2026-11-20", load_id=1,
        options=RedshiftCopyOptions(iam_role=ROLE, region="eu-west-1"),
    )  # fmt: skip
    assert statements[1].endswith("statupdate off region 'eu-west-1'")


def test_interaction_rejects_travel_to_the_rejects_table_too() -> None:
    m = manifest(
        table="user_interactions",
        columns=[{"name": c, "type": "text"} for c in ("interaction_id", "user_id", "product_id", "action", "timestamp")],
        rows_read=460, rows_valid=458, rows_rejected=2,
        rejects={"key": "rejects-ab12cd34.csv.gz", "rows": 2},
    )  # fmt: skip
    statements = load_statements(
        LAKE, m, schema="raw", source="interactions", table="user_interactions", ds="2026-11-20", load_id=9,
        options=RedshiftCopyOptions(iam_role=ROLE),
    )  # fmt: skip
    assert statements[-5:] == [
        'create temp table "user_interactions__rejects_stage_20261120" (line_number bigint, reason varchar(256), raw_line varchar(65535))',
        'copy "user_interactions__rejects_stage_20261120" (line_number, reason, raw_line) from '
        f"'s3://shop-lake/prod/raw/interactions/user_interactions/ds=2026-11-20/rejects-ab12cd34.csv.gz' {CSV_OPTIONS}",
        'delete from "raw"."user_interactions_rejects" where _ds = \'2026-11-20\'',
        'insert into "raw"."user_interactions_rejects" (_ds, _source_file, _load_id, line_number, raw_line, reason, _loaded_at) '
        "select '2026-11-20', 's3://shop-lake/prod/raw/interactions/user_interactions/ds=2026-11-20/', 9, "
        'line_number, raw_line, reason, getdate() from "user_interactions__rejects_stage_20261120"',
        'drop table "user_interactions__rejects_stage_20261120"',
    ]


def test_quotes_in_values_cannot_break_out_of_their_literals() -> None:
    statements = load_statements(
        LAKE, manifest(source_sha256="x'; drop table raw.orders; --"), schema="raw", source="shop",
        table="orders", ds="2026-11-20", load_id=1, options=RedshiftCopyOptions(iam_role="arn:'role"),
    )  # fmt: skip
    assert "iam_role 'arn:''role'" in statements[1]
    assert "'x''; drop table raw.orders; --'" in statements[4]


def test_every_statement_parses_as_redshift_sql() -> None:
    statements = [
        *base_ddl("raw"),
        *(raw_table_ddl("raw", name, list(table.columns)) for name, table in SHOP_TABLES.items()),
        *load_statements(
            LAKE, manifest(), schema="raw", source="shop", table="orders", ds="2026-11-20", load_id=3,
            options=RedshiftCopyOptions(iam_role=ROLE),
        ),
    ]  # fmt: skip
    for statement in statements:
        if statement.startswith("copy "):
            continue  # sqlglot has no grammar for Redshift's COPY options; checked exactly above
        sqlglot.parse_one(statement, read="redshift")
