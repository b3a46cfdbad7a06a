"""Deterministic sample data: the shop's PostgreSQL database and a day's interactions CSV.

The same seed and arguments always give the same bytes. The interactions CSV carries realistic
dirt at about 1 % of rows (empty actions, missing ids and timestamps, malformed timestamps,
re-delivered duplicates) plus a few structurally broken lines (wrong field count, unbalanced
quotes), so every cleaning rule downstream has something to do.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg

from loaders.config import PostgresTarget
from loaders.days import day_bounds

log = logging.getLogger(__name__)

INTERACTIONS_HEADER = ("interaction_id", "user_id", "product_id", "action", "timestamp")
ACTIONS = ("view", "click", "add_to_cart", "purchase")
ACTION_WEIGHTS = (70, 18, 8, 4)
EPOCH = dt.date(2020, 1, 1)

FIRST_NAMES = [
    "Ada",
    "Alan",
    "Amara",
    "Ana",
    "Arjun",
    "Ayla",
    "Bea",
    "Bo",
    "Carla",
    "Chen",
    "Dara",
    "Diego",
    "Elif",
    "Emma",
    "Farah",
    "Felix",
    "Greta",
    "Hana",
    "Ines",
    "Ivan",
    "Jada",
    "Jonas",
    "Kai",
    "Kemal",
    "Lara",
    "Leo",
    "Lina",
    "Luca",
    "Maya",
    "Milan",
    "Nadia",
    "Noah",
    "Omar",
    "Olga",
    "Priya",
    "Quinn",
    "Rafael",
    "Rosa",
    "Sami",
    "Sara",
    "Tariq",
    "Tess",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Yusuf",
    "Zoe",
]
LAST_NAMES = [
    "Abbott",
    "Baker",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kaur",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Novak",
    "Okafor",
    "Olsen",
    "Patel",
    "Quispe",
    "Rossi",
    "Schmidt",
    "Silva",
    "Tanaka",
    "Usman",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
]
STREETS = [
    "Oak",
    "Maple",
    "Cedar",
    "Elm",
    "Pine",
    "Birch",
    "Willow",
    "Harbor",
    "Mill",
    "Station",
    "Church",
    "Market",
]
CITIES = (
    ("Lisbon", "Lisboa", "PT", "1{0:03d}-{1:03d}"),
    ("Berlin", "Berlin", "DE", "1{0:04d}"),
    ("Austin", "TX", "US", "78{0:03d}"),
    ("Lyon", "Auvergne-Rhone-Alpes", "FR", "69{0:03d}"),
    ("Toronto", "ON", "CA", "M{0:01d}A {1:01d}B{0:01d}"),
    ("Osaka", "Osaka", "JP", "53{0:01d}-{1:04d}"),
)
CATEGORIES = ("electronics", "home", "garden", "toys", "books", "sports", "beauty", "grocery")
ADJECTIVES = ["Classic", "Compact", "Deluxe", "Eco", "Smart", "Ultra", "Mini", "Pro", "Essential", "Urban"]
NOUNS = [
    "Lamp",
    "Kettle",
    "Backpack",
    "Speaker",
    "Chair",
    "Bottle",
    "Notebook",
    "Blender",
    "Jacket",
    "Drone",
    "Mug",
    "Tent",
]
ORDER_STATUSES = (("delivered", 70), ("shipped", 12), ("placed", 8), ("cancelled", 6), ("returned", 4))


@dataclass(frozen=True)
class ShopScale:
    customers: int = 2_000
    products: int = 200
    orders_per_day: int = 150
    days: int = 30


@dataclass(frozen=True)
class ShopCounts:
    customers: int
    products: int
    orders: int
    sales: int


@dataclass(frozen=True)
class InteractionsFile:
    path: Path
    lines: int  # data lines, header excluded
    bytes: int


# --- interactions CSV ------------------------------------------------------------------------


def write_interactions_csv(
    path: Path,
    ds: str,
    *,
    rows: int = 20_000,
    customers: int = ShopScale.customers,
    products: int = ShopScale.products,
    seed: int = 42,
    dirt: bool = True,
    broken_lines: bool = True,
    redelivered: Sequence[str] = (),
) -> InteractionsFile:
    """Write the interactions drop for day ``ds``: ``rows`` data lines, dirt included.

    ``broken_lines=False`` keeps the value dirt but no structurally broken line, so that a
    plain ``COPY`` can read the file too (the benchmark's baseline). ``redelivered`` are lines
    of earlier days' files delivered again (same interaction ids), spread through the file on
    top of the ``rows`` new lines."""
    rng = random.Random(f"interactions:{seed}:{ds}")
    again = list(redelivered)
    every = max(rows // len(again), 1) if again else 0
    day_start, _ = day_bounds(ds)
    id_base = (dt.date.fromisoformat(ds) - EPOCH).days * 10_000_000
    choices = rng.choices
    actions = choices(ACTIONS, weights=ACTION_WEIGHTS, k=rows)
    seconds = sorted(rng.randrange(86_400) for _ in range(rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    recent: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(INTERACTIONS_HEADER) + "\n")
        buf: list[str] = []
        for i in range(rows):
            ts = (day_start + dt.timedelta(seconds=seconds[i])).strftime("%Y-%m-%dT%H:%M:%SZ")
            fields = [
                str(id_base + i + 1),
                str(rng.randint(1, customers)),
                str(rng.randint(1, products)),
                actions[i],
                ts,
            ]
            line = None
            if dirt and rng.random() < 0.011:
                line = _dirty_line(rng, fields, recent, broken_lines)
            if line is None:
                line = ",".join(fields)
            buf.append(line)
            if again and i % every == every - 1:
                buf.append(again.pop())
            if len(recent) < 64:
                recent.append(",".join(fields))
            elif rng.random() < 0.05:
                recent[rng.randrange(64)] = ",".join(fields)
            if len(buf) >= 10_000:
                out.write("\n".join(buf) + "\n")
                buf.clear()
        buf.extend(again)
        if buf:
            out.write("\n".join(buf) + "\n")
    size = path.stat().st_size
    log.info(
        "wrote %s interactions for %s to %s (%.1f MB, %.1fs)",
        f"{rows:,}", ds, path, size / 1e6, time.monotonic() - start,
    )  # fmt: skip
    return InteractionsFile(path=path, lines=rows + len(redelivered), bytes=size)


def _dirty_line(
    rng: random.Random, fields: list[str], recent: list[str], broken_lines: bool = True
) -> str | None:
    kind = rng.choices(
        (
            "empty_action", "no_user", "no_product", "no_timestamp", "bad_timestamp",
            "duplicate", "quoted", "wrong_field_count", "unbalanced_quote",
        ),
        weights=(20, 10, 10, 8, 12, 25, 8, 4, 3),
    )[0]  # fmt: skip
    if kind == "empty_action":
        fields[3] = ""
    elif kind == "no_user":
        fields[1] = ""
    elif kind == "no_product":
        fields[2] = ""
    elif kind == "no_timestamp":
        fields[4] = ""
    elif kind == "bad_timestamp":
        fields[4] = rng.choice(
            (
                "2026-13-45T25:61:00Z",
                "yesterday",
                "20/11/2026 10:00",
                "not a timestamp",
                "2026-02-30T10:00:00Z",
            )
        )
    elif kind == "duplicate" and recent:
        return rng.choice(recent)  # a re-delivered earlier row: same interaction_id
    elif kind == "quoted":
        fields[3] = f'"{fields[3]}"'  # legal CSV quoting
    elif kind in ("wrong_field_count", "unbalanced_quote") and not broken_lines:
        return None
    elif kind == "wrong_field_count":
        return ",".join([*fields, "extra"]) if rng.random() < 0.5 else ",".join(fields[:4])
    elif kind == "unbalanced_quote":
        fields[3] = '"' + fields[3]
    return ",".join(fields)


# --- the shop database -----------------------------------------------------------------------

SHOP_DDL = """
drop table if exists sales, orders, products, customers cascade;
create table customers (
    customer_id  bigint primary key,
    first_name   text not null,
    last_name    text not null,
    email        text not null,
    phone        text,
    address      text,            -- JSON document as stored by the shop application
    created_at   timestamptz not null,
    updated_at   timestamptz not null
);
create table products (
    product_id   bigint primary key,
    sku          text not null unique,
    name         text not null,
    category     text not null,
    price        numeric(10, 2) not null,
    is_active    boolean not null,
    created_at   timestamptz not null,
    updated_at   timestamptz not null
);
create table orders (
    order_id     bigint primary key,
    customer_id  bigint not null references customers,
    status       text not null,
    quantity     integer,         -- total units; the shop front sometimes leaves it null
    ordered_at   timestamptz not null,
    updated_at   timestamptz not null
);
create table sales (
    sale_id      bigint primary key,
    order_id     bigint not null references orders,
    product_id   bigint not null references products,
    quantity     integer not null,
    unit_price   numeric(10, 2) not null,
    discount     numeric(10, 2) not null default 0,
    sold_at      timestamptz not null,
    updated_at   timestamptz not null
);
"""
SHOP_INDEXES = """
create index on customers (updated_at);
create index on products (updated_at);
create index on orders (updated_at);
create index on orders (customer_id);
create index on sales (updated_at);
create index on sales (order_id);
"""


def generate_shop(
    target: PostgresTarget, ds: str, scale: ShopScale = ShopScale(), seed: int = 42
) -> ShopCounts:
    """(Re)create the shop tables with ``scale.days`` days of history ending on day ``ds``."""
    rng = random.Random(f"shop:{seed}")
    _, end = day_bounds(ds)
    history_start = end - dt.timedelta(days=scale.days)
    signup_start = history_start - dt.timedelta(days=365)

    customers = []
    for cid in range(1, scale.customers + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = _between(rng, signup_start, end)
        city, state, country, postal = rng.choice(CITIES)
        address: dict[str, object] = {
            "street": f"{rng.randint(1, 250)} {rng.choice(STREETS)} Street",
            "city": city,
            "state": state,
            "postal_code": postal.format(rng.randint(0, 9), rng.randint(0, 999)),
            "country": country,
        }
        if rng.random() < 0.05:
            address["unit"] = f"Apt {rng.randint(1, 40)}"
        if rng.random() < 0.03:
            del address["state"]
        text: str | None
        text = json.dumps(address)
        roll = rng.random()
        if roll < 0.005:
            text = text[: len(text) // 2]  # truncated by a legacy import: malformed JSON
        elif roll < 0.015:
            text = None
        customers.append(
            (
                cid, first, last,
                f"{first}.{last}{cid}@example.com".lower(),
                f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}" if rng.random() > 0.1 else None,
                text, created, _between(rng, created, end),
            )
        )  # fmt: skip

    products = []
    for pid in range(1, scale.products + 1):
        created = _between(rng, signup_start, history_start)
        products.append(
            (
                pid, f"SKU-{pid:05d}",
                f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {pid}",
                rng.choice(CATEGORIES),
                round(rng.uniform(3, 400), 2),
                rng.random() > 0.05,
                created, _between(rng, created, end),
            )
        )  # fmt: skip
    prices = {p[0]: p[4] for p in products}

    orders: list[tuple[int, int, str, int | None, dt.datetime, dt.datetime]] = []
    sales = []
    sale_id = 0
    statuses = [s for s, _ in ORDER_STATUSES]
    weights = [w for _, w in ORDER_STATUSES]
    for day in range(scale.days):
        day_start = history_start + dt.timedelta(days=day)
        for _ in range(scale.orders_per_day):
            order_id = len(orders) + 1
            ordered_at = _between(rng, day_start, day_start + dt.timedelta(days=1))
            # returning customers are more likely: a skewed choice over ids
            customer_id = min(int(rng.paretovariate(1.2)), scale.customers)
            customer_id = rng.randint(1, scale.customers) if rng.random() < 0.6 else customer_id
            units = 0
            for _line in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
                sale_id += 1
                product_id = rng.randint(1, scale.products)
                quantity = rng.choice((1, 1, 1, 2, 2, 3, 5))
                units += quantity
                discount = round(prices[product_id] * quantity * 0.1, 2) if rng.random() < 0.1 else 0
                sold_at = ordered_at + dt.timedelta(seconds=rng.randint(0, 120))
                sales.append(
                    (sale_id, order_id, product_id, quantity, prices[product_id], discount, sold_at, sold_at)
                )
            status = rng.choices(statuses, weights=weights)[0]
            updated = min(ordered_at + dt.timedelta(hours=rng.randint(0, 96)), end - dt.timedelta(seconds=1))
            quantity_field = None if rng.random() < 0.04 else units
            orders.append((order_id, customer_id, status, quantity_field, ordered_at, updated))

    start = time.monotonic()
    with psycopg.connect(target.conninfo()) as conn:
        conn.execute(SHOP_DDL)
        for table, rows in (
            ("customers", customers),
            ("products", products),
            ("orders", orders),
            ("sales", sales),
        ):
            with conn.cursor().copy(f"copy {table} from stdin") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.execute(SHOP_INDEXES)
        conn.execute("analyze")
    counts = ShopCounts(len(customers), len(products), len(orders), len(sales))
    log.info("shop database %s generated in %.1fs: %s", target.describe(), time.monotonic() - start, counts)
    return counts


def _between(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    span = int((end - start).total_seconds())
    return start + dt.timedelta(seconds=rng.randrange(max(span, 1)))


@dataclass(frozen=True)
class ShopDay:
    """What one day of shop activity changed (``advance_shop``)."""

    new_customers: int
    edited_customers: int
    repriced_products: int
    new_orders: int
    new_sales: int
    status_changes: int
    edited_sales: int


def advance_shop(
    target: PostgresTarget, ds: str, *, orders_per_day: int = ShopScale.orders_per_day, seed: int = 42
) -> ShopDay:
    """The shop application's activity on day ``ds``, on top of what the database holds: new
    customers and orders (with their sales lines), customers who edit their details, a few
    repriced products, orders moving on (placed -> shipped -> delivered, some cancelled or
    returned) and a discount granted on a line. Every change is stamped inside the day, so the
    day's incremental extract picks it up. Deterministic for the same database and arguments."""
    rng = random.Random(f"shop-day:{seed}:{ds}")
    day_start, day_end = day_bounds(ds)

    def stamp() -> dt.datetime:
        return _between(rng, day_start, day_end)

    with psycopg.connect(target.conninfo()) as conn:

        def ids(query: str, *params: object) -> list[int]:
            return [row[0] for row in conn.execute(query, params)]

        customer_ids = ids("select customer_id from customers order by customer_id")
        product_ids = ids("select product_id from products order by product_id")
        prices: dict[int, Decimal | float] = dict(
            conn.execute("select product_id, price from products").fetchall()
        )
        next_customer = (customer_ids[-1] if customer_ids else 0) + 1
        new_customers = []
        for cid in range(next_customer, next_customer + max(1, len(customer_ids) // 400)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            city, state, country, postal = rng.choice(CITIES)
            address = {
                "street": f"{rng.randint(1, 250)} {rng.choice(STREETS)} Street", "city": city,
                "state": state, "postal_code": postal.format(rng.randint(0, 9), rng.randint(0, 999)),
                "country": country,
            }  # fmt: skip
            at = stamp()
            new_customers.append(
                (cid, first, last, f"{first}.{last}{cid}@example.com".lower(),
                 f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}", json.dumps(address), at, at)
            )  # fmt: skip
        with conn.cursor().copy("copy customers from stdin") as copy:
            for customer in new_customers:
                copy.write_row(customer)
        customer_ids += [row[0] for row in new_customers]

        edited = rng.sample(customer_ids[: -len(new_customers)], k=min(len(customer_ids) // 200 + 1, 40))
        for cid in edited:
            if rng.random() < 0.5:
                conn.execute(
                    "update customers set phone = %s, updated_at = %s where customer_id = %s",
                    (f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}", stamp(), cid),
                )
            else:
                city, state, country, postal = rng.choice(CITIES)
                moved = {
                    "street": f"{rng.randint(1, 250)} {rng.choice(STREETS)} Street", "city": city,
                    "state": state, "postal_code": postal.format(rng.randint(0, 9), rng.randint(0, 999)),
                    "country": country,
                }  # fmt: skip
                conn.execute(
                    "update customers set address = %s, updated_at = %s where customer_id = %s",
                    (json.dumps(moved), stamp(), cid),
                )

        repriced = rng.sample(product_ids, k=min(2, len(product_ids)))
        for pid in repriced:
            prices[pid] = round(float(prices[pid]) * rng.choice((0.9, 1.05, 1.1)), 2)
            conn.execute(
                "update products set price = %s, updated_at = %s where product_id = %s",
                (prices[pid], stamp(), pid),
            )

        order_id = (conn.execute("select coalesce(max(order_id), 0) from orders").fetchone() or (0,))[0]
        sale_id = (conn.execute("select coalesce(max(sale_id), 0) from sales").fetchone() or (0,))[0]
        orders, sales = [], []
        for _ in range(orders_per_day):
            order_id += 1
            ordered_at = stamp()
            customer_id = rng.choice(customer_ids)
            units = 0
            for _line in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
                sale_id += 1
                product_id = rng.choice(product_ids)
                quantity = rng.choice((1, 1, 1, 2, 2, 3, 5))
                units += quantity
                discount = round(float(prices[product_id]) * quantity * 0.1, 2) if rng.random() < 0.1 else 0
                sold_at = min(
                    ordered_at + dt.timedelta(seconds=rng.randint(0, 120)), day_end - dt.timedelta(seconds=1)
                )
                sales.append(
                    (sale_id, order_id, product_id, quantity, prices[product_id], discount, sold_at, sold_at)
                )
            quantity_field = None if rng.random() < 0.04 else units
            orders.append((order_id, customer_id, "placed", quantity_field, ordered_at, ordered_at))
        for table, rows in (("orders", orders), ("sales", sales)):
            with conn.cursor().copy(f"copy {table} from stdin") as copy:
                for row in rows:
                    copy.write_row(row)

        # orders of the last week move on
        moving = conn.execute(
            "select order_id, status from orders where ordered_at >= %s and ordered_at < %s "
            "and status in ('placed', 'shipped', 'delivered') order by order_id",
            (day_start - dt.timedelta(days=7), day_start),
        ).fetchall()
        changes = 0
        for oid, status in moving:
            roll = rng.random()
            step = {
                "placed": "cancelled" if roll < 0.03 else ("shipped" if roll < 0.6 else None),
                "shipped": "delivered" if roll < 0.6 else None,
                "delivered": "returned" if roll < 0.02 else None,
            }[status]
            if step:
                conn.execute(
                    "update orders set status = %s, updated_at = %s where order_id = %s", (step, stamp(), oid)
                )
                changes += 1

        discounted = ids(
            "select sale_id from sales where discount = 0 and sold_at >= %s and sold_at < %s order by sale_id",
            day_start - dt.timedelta(days=3), day_start,
        )  # fmt: skip
        granted = rng.sample(discounted, k=min(2, len(discounted)))
        for sid in granted:
            conn.execute(
                "update sales set discount = round(quantity * unit_price * 0.05, 2), updated_at = %s "
                "where sale_id = %s",
                (stamp(), sid),
            )
        conn.execute("analyze")
    day = ShopDay(
        len(new_customers), len(edited), len(repriced), len(orders), len(sales), changes, len(granted)
    )
    log.info("shop database %s advanced to %s: %s", target.describe(), ds, day)
    return day
