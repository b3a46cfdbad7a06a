"""dbt on generated shop data: the marketing reports checked against independent computations.

Two days are extracted and loaded by the real loaders (a full extract, then a day of changes
that includes new versions of rows and a little dirt), `dbt build` runs once for the module,
and every figure the reports show is recomputed here, in Python, from the shop database itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest

from loaders.catalog import SHOP_TABLES
from loaders.config import Settings
from loaders.interactions import ingest_interactions
from loaders.lake import Lake
from loaders.load import load_day
from loaders.pii_key import pii_hash
from loaders.sample_data import ShopScale, generate_shop, write_interactions_csv
from loaders.shop import extract_table
from tests.conftest import fresh_warehouse, run_dbt
from tests.reference import Expected, expected_from_csv

pytestmark = pytest.mark.dbt

DAY1, DAY2 = "2026-11-19", "2026-11-20"
SCALE = ShopScale(customers=300, products=40, orders_per_day=40, days=12)
INTERACTIONS_PER_DAY = 4_000
REVENUE_STATUSES = {"placed", "shipped", "delivered"}
STATUSES = REVENUE_STATUSES | {"cancelled", "returned"}
CLV_HORIZON_MONTHS = 12
CENT = Decimal("0.01")


@dataclass
class Shop:
    """The shop database's final state, read back, and what the reports must say about it."""

    customers: dict[int, dict] = field(default_factory=dict)
    products: dict[int, dict] = field(default_factory=dict)
    orders: dict[int, dict] = field(default_factory=dict)  # valid orders only
    lines: dict[int, list[dict]] = field(default_factory=dict)  # order_id -> valid lines

    def revenue_orders(self) -> list[dict]:
        return [o for o in self.orders.values() if o["status"] in REVENUE_STATUSES]

    def net(self, order_id: int) -> Decimal:
        return sum(
            (
                line["quantity"] * line["unit_price"] - line["discount"]
                for line in self.lines.get(order_id, [])
            ),
            Decimal(0),
        )

    def units(self, order: dict) -> int | None:
        if order["quantity"] is not None and order["quantity"] > 0:
            return order["quantity"]
        lines = self.lines.get(order["order_id"])
        return sum(line["quantity"] for line in lines) if lines else None

    def first_order_dates(self) -> dict[int, dt.date]:
        first: dict[int, dt.date] = {}
        for order in self.revenue_orders():
            day = order["ordered_at"].date()
            first[order["customer_id"]] = min(first.get(order["customer_id"], day), day)
        return first


def read_shop(target) -> Shop:
    """Every shop table, with the staging rules applied independently of dbt."""
    shop = Shop()
    with psycopg.connect(target.conninfo()) as conn:
        conn.execute("set timezone = 'UTC'")

        def rows(query: str) -> list[dict]:
            cursor = conn.execute(query)
            names = [c.name for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]

        shop.customers = {c["customer_id"]: c for c in rows("select * from customers")}
        shop.products = {p["product_id"]: p for p in rows("select * from products") if p["price"] >= 0}
        shop.orders = {
            o["order_id"]: o
            for o in rows("select * from orders")
            if o["status"] in STATUSES and o["customer_id"] is not None
        }
        for line in rows("select * from sales order by sale_id"):
            valid = (
                line["quantity"] > 0
                and line["unit_price"] >= 0
                and 0 <= line["discount"] <= line["quantity"] * line["unit_price"]
                and line["order_id"] in shop.orders
            )
            if valid:
                shop.lines.setdefault(line["order_id"], []).append(line)
    return shop


def land_shop_day(settings: Settings, ds: str, *, full: bool) -> None:
    lake = Lake.from_url(settings.lake_url)
    for table in SHOP_TABLES.values():
        extract_table(settings.shop, lake, table, ds, full=full)
        load_day(lake, settings.warehouse, "shop", table.name, ds, raw_schema=settings.raw_schema)


@dataclass(frozen=True)
class Changes:
    """What the second day changed in the shop, so tests can find it again."""

    returned_orders: tuple[int, ...]
    edited_customers: tuple[int, ...]
    discounted_sales: tuple[int, ...]
    unknown_status_order: int
    zero_quantity_sale: int
    negative_price_product: int


def change_the_shop(target, ds: str) -> Changes:
    """The shop application's activity on day ``ds``, on top of the generated history: new
    versions of rows first loaded the day before, and rows the cleaning rules must reject."""
    noon = dt.datetime.fromisoformat(ds).replace(hour=12, tzinfo=dt.UTC)
    day_start = noon.replace(hour=0)
    moved = '{"street": "1 New Street", "city": "Porto", "postal_code": "4000-001", "country": "PT"}'
    with psycopg.connect(target.conninfo()) as conn:

        def ids(statement: str, *params: object) -> list[int]:
            return [row[0] for row in conn.execute(statement, params)]

        returned = ids(
            "update orders set status = 'returned', updated_at = %s where order_id in (select order_id"
            " from orders where status = 'delivered' and updated_at < %s order by order_id limit 5)"
            " returning order_id",
            noon,
            day_start,
        )
        edited = ids(
            "update customers set email = 'moved.' || email, address = %s, updated_at = %s where customer_id"
            " in (select customer_id from customers where updated_at < %s order by customer_id limit 3)"
            " returning customer_id",
            moved,
            noon,
            day_start,
        )
        discounted = ids(
            "update sales set discount = 1.00, updated_at = %s where sale_id in (select s.sale_id from sales s"
            " join orders o using (order_id) where s.updated_at < %s and s.discount = 0"
            " and o.status = 'delivered' order by s.sale_id limit 4) returning sale_id",
            noon,
            day_start,
        )
        (bad_order,) = ids(
            "insert into orders select max(order_id) + 1, 1, 'lost in transit', 1, %s, %s from orders"
            " returning order_id",
            noon,
            noon,
        )
        (bad_sale,) = ids(
            "insert into sales select max(sale_id) + 1, %s, 1, 0, 9.99, 0, %s, %s from sales returning sale_id",
            returned[0],
            noon,
            noon,
        )
        (bad_product,) = ids(
            "insert into products select max(product_id) + 1, 'SKU-BAD', 'Broken Price', 'home', -1, true,"
            " %s, %s from products returning product_id",
            noon,
            noon,
        )
    assert len(returned) == 5 and len(edited) == 3 and len(discounted) == 4
    return Changes(tuple(returned), tuple(edited), tuple(discounted), bad_order, bad_sale, bad_product)


@dataclass
class Built:
    settings: Settings
    folder: Path
    changes: Changes
    interactions: dict[str, Expected]  # per day


@pytest.fixture(scope="module")
def built(pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Two days of shop extracts and interactions loaded, and `dbt build` run once."""
    folder = tmp_path_factory.mktemp("dbt_shop")
    with fresh_warehouse(pg_settings, folder) as settings:
        generate_shop(settings.shop, DAY2, SCALE)
        land_shop_day(settings, DAY1, full=True)
        changes = change_the_shop(settings.shop, DAY2)
        land_shop_day(settings, DAY2, full=False)
        interactions = {}
        for ds in (DAY1, DAY2):
            path = write_interactions_csv(
                folder / f"{ds}.csv",
                ds,
                rows=INTERACTIONS_PER_DAY,
                customers=SCALE.customers,
                products=SCALE.products,
            ).path
            ingest_interactions(
                path, ds, lake=Lake.from_url(settings.lake_url), warehouse_target=settings.warehouse
            )
            interactions[ds] = expected_from_csv(path)
        run_dbt(settings, folder, "build")
        yield Built(settings, folder, changes, interactions)


def query(settings: Settings, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        return conn.execute(statement, params).fetchall()


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- staging --------------------------------------------------------------------------------


def test_staging_keeps_the_latest_version_of_each_row(built: Built) -> None:
    settings, changes = built.settings, built.changes
    statuses = query(
        settings,
        "select order_id, status from staging.stg_shop__orders where order_id = any(%s)",
        (list(changes.returned_orders),),
    )
    assert dict(statuses) == dict.fromkeys(changes.returned_orders, "returned")
    emails = query(
        settings,
        "select email from staging.stg_shop__customers where customer_id = any(%s)",
        (list(changes.edited_customers),),
    )
    assert len(emails) == 3 and all(email.startswith("moved.") for (email,) in emails)
    keys = {"orders": "order_id", "customers": "customer_id", "sales": "sale_id"}
    superseded = {
        # valid versions that are not the staged one of their key
        entity: query(
            settings,
            f"select count(*) from staging.base_shop__{entity} as v join staging.stg_shop__{entity} as s"
            f" using ({key}) where v.rejection_reason is null and (v._ds, v._load_id) <> (s._ds, s._load_id)",
        )[0][0]
        for entity, key in keys.items()
    }
    assert superseded == {"orders": 5, "customers": 3, "sales": 4}
    shop = read_shop(settings.shop)
    staged_lines = query(settings, "select count(*) from staging.stg_shop__sales")[0][0]
    assert query(settings, "select count(*) from staging.stg_shop__orders")[0][0] == len(shop.orders)
    assert staged_lines == sum(len(lines) for lines in shop.lines.values())


def test_rows_the_rules_exclude_are_kept_with_their_reason(built: Built) -> None:
    settings, changes = built.settings, built.changes
    rejects = query(
        settings,
        "select * from (select 'order', order_id, rejection_reason from staging.base_shop__orders"
        " union all select 'sale', sale_id, rejection_reason from staging.base_shop__sales"
        " union all select 'product', product_id, rejection_reason from staging.base_shop__products"
        " union all select 'customer', customer_id, rejection_reason from staging.base_shop__customers)"
        " as rejects (entity, id, rejection_reason) where rejection_reason is not null",
    )
    assert sorted(rejects) == [
        ("order", changes.unknown_status_order, "unknown status"),
        ("product", changes.negative_price_product, "negative price"),
        ("sale", changes.zero_quantity_sale, "invalid quantity"),
    ]


def test_missing_order_quantities_are_derived_from_the_sales_lines(built: Built) -> None:
    shop = read_shop(built.settings.shop)
    missing = {o["order_id"] for o in shop.orders.values() if o["quantity"] is None}
    assert missing, "the generated data has orders without quantity"
    rows = query(
        built.settings,
        "select order_id, quantity, quantity_source from marts.fct_orders where reported_quantity is null",
    )
    assert {r[0] for r in rows} == missing
    for order_id, quantity, source in rows:
        expected = shop.units(shop.orders[order_id])
        assert (quantity, source) == (expected, "derived_from_sales" if expected else "unknown")


def test_addresses_are_flattened_and_malformed_ones_flagged(built: Built) -> None:
    shop = read_shop(built.settings.shop)
    expected: dict[int, tuple] = {}
    for customer_id, customer in shop.customers.items():
        try:
            document = json.loads(customer["address"]) if customer["address"] else None
        except json.JSONDecodeError:
            document = "malformed"
        if document == "malformed" or (document is not None and not isinstance(document, dict)):
            expected[customer_id] = ("malformed", None, None, None)
        elif document is None:
            expected[customer_id] = ("missing", None, None, None)
        else:
            expected[customer_id] = (
                "valid",
                document.get("street"),
                document.get("city"),
                document.get("country"),
            )
    rows = query(
        built.settings, "select customer_id, address_status, street, city, country from pii.pii_customers"
    )
    assert {r[0]: tuple(r[1:]) for r in rows} == expected
    statuses = Counter(status for status, *_ in expected.values())
    assert statuses["malformed"] > 0 and statuses["missing"] > 0  # the checks have teeth


# --- reports --------------------------------------------------------------------------------


def test_daily_sales_match_an_independent_computation(built: Built) -> None:
    shop = read_shop(built.settings.shop)
    first = shop.first_order_dates()
    days: dict[dt.date, dict] = defaultdict(
        lambda: {"orders": 0, "units": 0, "revenue": Decimal(0), "customers": set()}
    )
    for order in shop.revenue_orders():
        day = days[order["ordered_at"].date()]
        day["orders"] += 1
        day["units"] += shop.units(order) or 0
        day["revenue"] += shop.net(order["order_id"])
        day["customers"].add(order["customer_id"])
    rows = query(
        built.settings,
        "select order_date, orders, units, revenue, average_order_value, customers, new_customers,"
        " returning_customers from reports.rpt_daily_sales where orders > 0",
    )
    assert {r[0] for r in rows} == set(days)
    for order_date, orders, units, revenue, aov, customers, new, returning in rows:
        day = days[order_date]
        new_expected = sum(1 for c in day["customers"] if first[c] == order_date)
        assert (orders, units, revenue) == (day["orders"], day["units"], day["revenue"]), order_date
        assert aov == cents(day["revenue"] / day["orders"]), order_date
        assert (customers, new, returning) == (
            len(day["customers"]),
            new_expected,
            len(day["customers"]) - new_expected,
        )
    assert sum(r[6] for r in rows) == len(first)  # every customer is new exactly once


def test_customer_lifetime_value_follows_the_formula_for_a_few_customers(built: Built) -> None:
    shop = read_shop(built.settings.shop)
    as_of = max(o["ordered_at"].date() for o in shop.orders.values())
    per_customer: dict[int, list[dict]] = defaultdict(list)
    for order in shop.revenue_orders():
        per_customer[order["customer_id"]].append(order)
    by_revenue = sorted(per_customer, key=lambda c: sum(shop.net(o["order_id"]) for o in per_customer[c]))
    single = next(c for c in by_revenue if len(per_customer[c]) == 1)
    prospect = next(c for c in sorted(shop.customers) if c not in per_customer)
    chosen = [*by_revenue[-3:], by_revenue[0], single, prospect]
    rows = {
        r[0]: r[1:]
        for r in query(
            built.settings,
            "select customer_id, orders, revenue, first_order_at, tenure_days, predicted_clv, lifecycle_stage"
            " from reports.rpt_customer_lifetime_value where customer_id = any(%s)",
            (chosen,),
        )
    }
    for customer_id in chosen:
        orders = per_customer.get(customer_id, [])
        if not orders:
            assert rows[customer_id][:2] == (0, Decimal("0.00"))
            assert rows[customer_id][4:] == (Decimal("0.00"), "prospect")
            continue
        revenue = sum(shop.net(o["order_id"]) for o in orders)
        first_at = min(o["ordered_at"] for o in orders)
        tenure = (as_of - first_at.date()).days
        predicted = cents(revenue * 30 * CLV_HORIZON_MONTHS / max(tenure, 30))
        assert rows[customer_id][:5] == (
            len(orders),
            revenue,
            first_at.replace(tzinfo=None),
            tenure,
            predicted,
        )


def test_product_performance_matches_interactions_and_sales(built: Built) -> None:
    shop = read_shop(built.settings.shop)
    actions: dict[int, Counter[str]] = defaultdict(Counter)
    for expected in built.interactions.values():
        for _, product, action in expected.clean.values():
            actions[product][action] += 1
    sold: dict[int, list] = defaultdict(lambda: [0, Decimal(0)])
    for order in shop.revenue_orders():
        for line in shop.lines.get(order["order_id"], []):
            sold[line["product_id"]][0] += line["quantity"]
            sold[line["product_id"]][1] += line["quantity"] * line["unit_price"] - line["discount"]
    rows = query(
        built.settings,
        "select product_id, views, clicks, add_to_carts, purchases, view_to_click_rate, units_sold, revenue"
        " from reports.rpt_product_performance",
    )
    assert {r[0] for r in rows} == set(shop.products)
    for product_id, views, clicks, carts, purchases, rate, units, revenue in rows:
        counted = actions[product_id]
        assert (views, clicks, carts, purchases) == tuple(
            counted[a] for a in ("view", "click", "add_to_cart", "purchase")
        ), product_id
        if views:
            assert rate == (Decimal(clicks) / views).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        assert (units, revenue) == (sold[product_id][0], sold[product_id][1]), product_id


def test_marketing_funnel_counts_events_and_users_per_day(built: Built) -> None:
    shop = read_shop(built.settings.shop)
    rows = query(
        built.settings,
        "select funnel_date, views, clicks, add_to_carts, purchases, viewers, clickers, cart_users,"
        " purchasers, orders, revenue from reports.rpt_marketing_funnel order by funnel_date",
    )
    assert [str(r[0]) for r in rows] == [DAY1, DAY2]
    for row in rows:
        clean = built.interactions[str(row[0])].clean.values()
        steps = ("view", "click", "add_to_cart", "purchase")
        events = tuple(sum(1 for *_, a in clean if a == step) for step in steps)
        users = tuple(len({u for u, _, a in clean if a == step}) for step in steps)
        orders = [o for o in shop.revenue_orders() if o["ordered_at"].date() == row[0]]
        assert row[1:5] == events
        assert row[5:9] == users
        assert row[9:] == (len(orders), sum((shop.net(o["order_id"]) for o in orders), Decimal(0)))


# --- PII ------------------------------------------------------------------------------------


def test_marts_hold_customer_pii_only_masked(built: Built) -> None:
    shop = read_shop(built.settings.shop)
    [(key,)] = query(built.settings, "select hash_key from pii_keys.hash_key")
    rows = query(
        built.settings, "select customer_id, first_name, email, email_hash, phone from marts.dim_customers"
    )
    assert len(rows) == len(shop.customers)
    for customer_id, first_name, email, email_hash, phone in rows:
        customer = shop.customers[customer_id]
        clear = customer["email"].strip().lower()
        assert first_name == customer["first_name"][0].upper() + "."
        assert email == clear[0] + "***@" + clear.split("@")[1]
        assert email_hash == pii_hash(key, customer["email"])
        digits = "".join(ch for ch in customer["phone"] or "" if ch.isdigit())
        assert phone == (("***" + digits[-2:]) if customer["phone"] else None)


def test_the_leak_scan_fails_when_clear_text_reaches_a_mart_or_report(built: Built) -> None:
    settings, folder = built.settings, built.folder
    with psycopg.connect(settings.warehouse.conninfo(), autocommit=True) as conn:
        original = conn.execute(
            "select sku from reports.rpt_product_performance where product_id = 1"
        ).fetchone()[0]
        # a report column nobody declared as PII receives a customer's email
        conn.execute(
            "update reports.rpt_product_performance set sku = (select email from pii.pii_customers"
            " where customer_id = 2) where product_id = 1"
        )
        try:
            result = run_dbt(settings, folder, "test", "--select", "test_name:no_clear_text_pii", check=False)
        finally:
            conn.execute(
                "update reports.rpt_product_performance set sku = %s where product_id = 1", (original,)
            )
    assert result.returncode != 0
    assert "FAIL 1 no_clear_text_pii_rpt_product_performance" in result.stdout
    assert result.stdout.count("Failure in test ") == 1


def test_the_leak_scan_reads_interactions_whose_action_is_not_a_known_word(built: Built) -> None:
    """fct_interactions.action declares the known actions as PII-free (the scan reads only the
    day's other actions, through a partial index): an email delivered as an action is found."""
    settings, folder = built.settings, built.folder
    base = "staging.base_interactions__user_interactions"
    with psycopg.connect(settings.warehouse.conninfo(), autocommit=True) as conn:
        interaction_id, action = conn.execute(
            f"select interaction_id, action from {base} where rejection_reason is null order by interaction_id limit 1"
        ).fetchone()
        conn.execute(
            f"update {base} set action = (select lower(email) from pii.pii_customers where customer_id = 2) "
            "where interaction_id = %s and rejection_reason is null",
            (interaction_id,),
        )
        try:
            leaked = run_dbt(settings, folder, "test", "--select", "test_name:no_clear_text_pii", check=False)
        finally:
            conn.execute(
                f"update {base} set action = %s where interaction_id = %s and rejection_reason is null",
                (action, interaction_id),
            )
    assert leaked.returncode != 0
    assert "FAIL 1 no_clear_text_pii_fct_interactions" in leaked.stdout
    assert leaked.stdout.count("Failure in test ") == 1
    assert run_dbt(settings, folder, "test", "--select", "test_name:no_clear_text_pii").returncode == 0


# --- incremental by day ---------------------------------------------------------------------


def fingerprint(settings: Settings) -> dict[str, tuple]:
    """A digest and a count of each incremental fact table (all columns, in key order)."""
    return {
        table: query(
            settings, f"select md5(string_agg(t::text, '|' order by {key})), count(*) from marts.{table} as t"
        )[0]
        for table, key in (("fct_sales", "sale_id"), ("fct_interactions", "interaction_id"))
    }


def test_re_running_a_day_or_a_range_of_days_leaves_the_same_facts(built: Built) -> None:
    before = fingerprint(built.settings)
    run_dbt(
        built.settings,
        built.folder,
        "run",
        "--select",
        "+fct_sales",
        "+fct_interactions",
        "--vars",
        f"{{ds: {DAY2}}}",
    )
    assert fingerprint(built.settings) == before
    run_dbt(
        built.settings, built.folder, "run", "--select", "+fct_sales", "+fct_interactions",
        "--vars", f"{{start_ds: {DAY1}, end_ds: {DAY2}}}",
    )  # fmt: skip
    assert fingerprint(built.settings) == before


def test_reloading_a_day_replaces_that_days_facts(built: Built) -> None:
    """A day re-extracted without one of its sale lines loses that line, and only it; loading
    the day again as it was brings the facts back to what they were."""
    settings, folder = built.settings, built.folder
    before = fingerprint(settings)
    with psycopg.connect(settings.shop.conninfo(), autocommit=True) as shop:
        line = shop.execute(
            "select * from sales where updated_at >= %s and sale_id <> %s order by sale_id desc limit 1",
            (dt.datetime.fromisoformat(DAY2).replace(tzinfo=dt.UTC), built.changes.zero_quantity_sale),
        ).fetchone()
        assert line is not None
        shop.execute("delete from sales where sale_id = %s", (line[0],))
        try:
            land_shop_day(settings, DAY2, full=False)
            # staging is materialized by day too: the day's lineage up to fct_sales runs again
            run_dbt(settings, folder, "run", "--select", "+fct_sales", "--vars", f"{{ds: {DAY2}}}")
            remaining = query(
                settings,
                "select count(*), count(*) filter (where sale_id = %s) from marts.fct_sales",
                (line[0],),
            )
            assert remaining[0] == (before["fct_sales"][1] - 1, 0)
        finally:
            shop.execute("insert into sales values (%s, %s, %s, %s, %s, %s, %s, %s)", line)
    land_shop_day(settings, DAY2, full=False)
    run_dbt(settings, folder, "run", "--select", "+fct_sales", "--vars", f"{{ds: {DAY2}}}")
    assert fingerprint(settings) == before
