"""The key of the PII hashes: kept in the warehouse, read by the dbt models, never written into SQL.

The masked marts hash PII with a key (dbt doc ``pii_masking``, macro ``hash_pii``):

    pii_hash(value) = sha256_hex(key || sha256_hex(key || lower(trim(value))))

The key is one row of ``pii_keys.hash_key``, a schema only the transformer role may read (not
analysts, not PII readers). ``install_hash_key`` puts it there with a parameterized statement,
so the key never passes through SQL that dbt renders: the models read it with a scalar
subquery, and compiled SQL, manifests, run results, logs and the docs site carry only that
reference. ``python -m loaders pii-key`` installs ``PII_HASH_KEY`` (Redshift: required, a
secret of at least 16 characters); on the local stack ``make up`` installs it, or the public
development key when it is unset.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from loaders.config import LOCAL_PII_HASH_KEY, Settings
from loaders.errors import LoaderError

log = logging.getLogger(__name__)

KEY_SCHEMA = "pii_keys"
KEY_TABLE = "hash_key"
KEY_RELATION = f"{KEY_SCHEMA}.{KEY_TABLE}"
MIN_SECRET_LENGTH = 16
TRANSFORMER_ROLE = "shop_transformer"
HOW_TO_SET = (
    "set PII_HASH_KEY to a long random secret from your secret store (e.g. `openssl rand -hex 32`) "
    "and run `python -m loaders pii-key`"
)


def pii_hash(key: str, value: str | None) -> str | None:
    """The hash dbt's ``hash_pii`` gives ``value`` under ``key`` (None for null or blank), for
    matching values outside the warehouse (an audience list) with the same key."""
    if value is None or not value.strip(" "):
        return None
    inner = hashlib.sha256((key + value.strip(" ").lower()).encode()).hexdigest()
    return hashlib.sha256((key + inner).encode()).hexdigest()


def check_secret(key: str | None) -> str:
    """``key`` when it may hash PII in production; a LoaderError saying how to set it otherwise."""
    if not key or key == LOCAL_PII_HASH_KEY:
        raise LoaderError(
            f"PII_HASH_KEY is not set (the public development key is refused here): {HOW_TO_SET}"
        )
    if len(key) < MIN_SECRET_LENGTH:
        raise LoaderError(f"PII_HASH_KEY is shorter than {MIN_SECRET_LENGTH} characters: {HOW_TO_SET}")
    return key


@dataclass(frozen=True)
class KeyInstall:
    """What ``install_hash_key`` did: installed (none was there), unchanged (the same key was),
    replaced, or kept (another key was there and ``replace`` was not asked)."""

    outcome: str
    where: str

    def describe(self) -> str:
        return {
            "installed": f"PII hash key installed in {self.where}",
            "unchanged": f"PII hash key already installed in {self.where}: unchanged",
            "replaced": (
                f"PII hash key replaced in {self.where}: every hash changes; rebuild the models "
                "that hash with `dbt build --full-refresh --select dim_customers+`"
            ),
            "kept": f"{self.where} holds another PII hash key: kept",
        }[self.outcome]


def install_hash_key(
    conn: Any,
    key: str,
    *,
    where: str,
    kind: str = "postgres",
    replace: bool = False,
    keep_other: bool = False,
    transformer_role: str = TRANSFORMER_ROLE,
) -> KeyInstall:
    """Make ``key`` the one row of ``pii_keys.hash_key`` over the DB-API connection ``conn``
    (psycopg, or redshift_connector when ``kind`` is redshift), in one transaction.

    The schema is created when missing, closed to PUBLIC, and readable by ``transformer_role``
    when that role exists (``make roles`` grants it otherwise). A different key already there is
    replaced only with ``replace`` (every hash changes); ``keep_other`` keeps it instead of
    raising. The key travels as a statement parameter only."""
    if not key:
        raise LoaderError("the PII hash key is empty")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", transformer_role):
        raise LoaderError(f"role name {transformer_role!r} must be lower-case letters, digits and _")
    redshift = kind == "redshift"
    with conn.cursor() as cur:
        if not redshift:  # concurrent first installs: "if not exists" alone is not race-free
            cur.execute("select pg_advisory_xact_lock(hashtext('loaders.pii_key'))")
        cur.execute(f"create schema if not exists {KEY_SCHEMA}")
        cur.execute(f"revoke all on schema {KEY_SCHEMA} from public")
        cur.execute(
            f"create table if not exists {KEY_RELATION} (hash_key varchar(1024) not null,"
            " installed_at timestamp not null, installed_by varchar(128) not null)"
        )
        cur.execute(f"revoke all on {KEY_RELATION} from public")
        cur.execute(f"lock {KEY_RELATION}" if redshift else f"lock table {KEY_RELATION} in exclusive mode")
        cur.execute(
            f"select count(*), sum(case when hash_key = %s then 1 else 0 end) from {KEY_RELATION}", (key,)
        )
        keys, same = cur.fetchone()
        if keys == 1 and same == 1:
            outcome = "unchanged"
        elif keys and not replace:
            conn.rollback()
            if keep_other:
                return KeyInstall("kept", where)
            raise LoaderError(
                f"{where} already holds another PII hash key; replacing it changes every hash: run "
                "`python -m loaders pii-key --replace`, then rebuild the models that hash "
                "(`dbt build --full-refresh --select dim_customers+`)"
            )
        else:
            outcome = "replaced" if keys else "installed"
            cur.execute(f"delete from {KEY_RELATION}")
            cur.execute(
                f"insert into {KEY_RELATION} (hash_key, installed_at, installed_by) values (%s, %s, current_user)",
                (key, dt.datetime.now(dt.UTC).replace(tzinfo=None)),
            )
        roles = "select role_name from svv_roles" if redshift else "select rolname from pg_roles"
        column = "role_name" if redshift else "rolname"
        cur.execute(f"{roles} where {column} = %s", (transformer_role,))
        if cur.fetchone():
            grantee = f"role {transformer_role}" if redshift else transformer_role
            cur.execute(f"grant usage on schema {KEY_SCHEMA} to {grantee}")
            cur.execute(f"grant select on {KEY_RELATION} to {grantee}")
    conn.commit()
    return KeyInstall(outcome, where)


def install_from_settings(
    settings: Settings, *, replace: bool = False, transformer_role: str = TRANSFORMER_ROLE
) -> KeyInstall:
    """``python -m loaders pii-key``: install ``PII_HASH_KEY`` in the configured warehouse.
    Redshift (WAREHOUSE_KIND=redshift) requires a secret; a PostgreSQL warehouse takes the
    public development key when PII_HASH_KEY is unset."""
    target = settings.warehouse
    where = f"{KEY_RELATION} of {target.describe()}"
    if settings.warehouse_kind == "redshift":
        key = check_secret(settings.pii_hash_key)
        from loaders.destination import connect_redshift

        redshift = connect_redshift(target)
        with redshift:
            return install_hash_key(
                redshift,
                key,
                where=where,
                kind="redshift",
                replace=replace,
                transformer_role=transformer_role,
            )
    from loaders.warehouse import connect

    with connect(target) as conn:
        return install_hash_key(
            conn,
            settings.pii_hash_key or LOCAL_PII_HASH_KEY,
            where=where,
            replace=replace,
            transformer_role=transformer_role,
        )


def install_local_key(settings: Settings) -> KeyInstall:
    """The local stack's bootstrap (``make up``, test and benchmark warehouses): install
    ``PII_HASH_KEY`` (or the public development key) unless the warehouse holds one already,
    which is kept (`python -m loaders pii-key --replace` replaces it)."""
    from loaders.warehouse import connect

    where = f"{KEY_RELATION} of {settings.warehouse.describe()}"
    with connect(settings.warehouse) as conn:
        result = install_hash_key(
            conn, settings.pii_hash_key or LOCAL_PII_HASH_KEY, where=where, keep_other=True
        )
    if result.outcome == "kept" and settings.pii_hash_key:
        log.warning(
            "%s holds another PII hash key than PII_HASH_KEY: kept (`python -m loaders pii-key --replace` "
            "installs PII_HASH_KEY)",
            where,
        )
    return result
