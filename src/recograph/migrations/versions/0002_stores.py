"""Several stores in one database: every row carries its store; existing rows go to ``default``.

The five catalogue tables are keyed by (store, id) and their foreign keys include the store, so
two stores may use the same product, customer and order ids. Impressions, events and model
versions get a ``store`` column too (model versions are keyed by (store, version)).

SQLite cannot change a primary key in place, and Alembic's batch mode (copy, drop, rename)
would drop a referenced table while foreign keys are enforced; so on SQLite the old tables are
renamed aside, the new ones created, the rows copied with ``store = 'default'`` and the old
tables dropped children first. PostgreSQL changes the keys in place.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT = "default"
# Parents first (creation order); children first is the order to drop in.
CATALOGUE = ("customers", "products", "orders", "order_items", "reviews")
KEYS = {
    "customers": ("customer_id",),
    "products": ("id",),
    "orders": ("order_id",),
    "order_items": ("order_id", "product_id"),
    "reviews": ("review_id",),
}
# table -> [(old constraint name, local column, parent table, parent column)]
FOREIGN_KEYS = {
    "orders": [("fk_orders_customer_id_customers", "customer_id", "customers", "customer_id")],
    "order_items": [
        ("fk_order_items_order_id_orders", "order_id", "orders", "order_id"),
        ("fk_order_items_product_id_products", "product_id", "products", "id"),
    ],
    "reviews": [
        ("fk_reviews_customer_id_customers", "customer_id", "customers", "customer_id"),
        ("fk_reviews_product_id_products", "product_id", "products", "id"),
    ],
}
OLD_INDEXES = {
    "products": [("ix_products_category", ["category"])],
    "orders": [("ix_orders_customer_id", ["customer_id"])],
    "order_items": [("ix_order_items_product_id", ["product_id"])],
    "reviews": [("ix_reviews_product_id", ["product_id"])],
}


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _store() -> sa.Column[str]:
    return sa.Column("store", sa.String(length=64), server_default=DEFAULT, nullable=False)


def _new_fk_name(table: str, parent: str) -> str:
    return f"fk_{table}_store_{parent}"


def _fks(table: str) -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(
            ["store", column],
            [f"{parent}.store", f"{parent}.{parent_column}"],
            name=op.f(_new_fk_name(table, parent)),
        )
        for _, column, parent, parent_column in FOREIGN_KEYS.get(table, [])
    ]


def _catalogue_columns(table: str) -> list[sa.Column[Any]]:
    """The columns of a catalogue table at revision 0001 (``store`` is added by the caller)."""
    columns: dict[str, list[sa.Column[Any]]] = {
        "customers": [
            sa.Column("customer_id", _id(), autoincrement=False, nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("email", sa.String(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
        ],
        "products": [
            sa.Column("id", _id(), autoincrement=False, nullable=False),
            sa.Column("sku", sa.String(), nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("brand", sa.String(), nullable=False),
            sa.Column("category", sa.String(), nullable=False),
            sa.Column("price", sa.Float(), nullable=False),
            sa.Column("description", sa.Text(), nullable=False),
            sa.Column("specs", _json(), nullable=False),
            sa.Column("stock", sa.BigInteger(), nullable=False),
            sa.Column("promoted", sa.Boolean(), nullable=False),
            sa.Column("cost", sa.Float(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
        ],
        "orders": [
            sa.Column("order_id", _id(), autoincrement=False, nullable=False),
            sa.Column("customer_id", sa.BigInteger(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("grand_total", sa.Float(), nullable=False),
            sa.Column("order_date", sa.DateTime(), nullable=False),
        ],
        "order_items": [
            sa.Column("order_id", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("product_id", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("product_name", sa.String(), nullable=False),
            sa.Column("qty", sa.Integer(), nullable=False),
            sa.Column("price", sa.Float(), nullable=False),
            sa.Column("category", sa.String(), nullable=False),
        ],
        "reviews": [
            sa.Column("review_id", _id(), autoincrement=False, nullable=False),
            sa.Column("product_id", sa.BigInteger(), nullable=False),
            sa.Column("customer_id", sa.BigInteger(), nullable=False),
            sa.Column("rating", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
        ],
    }
    return columns[table]


def _upgrade_catalogue_sqlite() -> None:
    for table in CATALOGUE:
        for name, _ in OLD_INDEXES.get(table, []):
            op.drop_index(name, table_name=table)
        op.rename_table(table, f"_old_{table}")
    for table in CATALOGUE:
        columns = _catalogue_columns(table)
        names = [column.name for column in columns]
        created = op.create_table(
            table,
            _store(),
            *columns,
            *_fks(table),
            sa.PrimaryKeyConstraint("store", *KEYS[table], name=op.f(f"pk_{table}")),
        )
        old = sa.table(f"_old_{table}", *(sa.column(name) for name in names))
        copy = sa.select(sa.literal(DEFAULT), *(old.c[name] for name in names))
        op.execute(sa.insert(created).from_select(["store", *names], copy))
        for name, index_columns in OLD_INDEXES.get(table, []):
            op.create_index(name, table, index_columns)
    for table in reversed(CATALOGUE):
        op.drop_table(f"_old_{table}")


def _upgrade_catalogue_in_place() -> None:
    for table in reversed(CATALOGUE):
        for name, *_ in FOREIGN_KEYS.get(table, []):
            op.drop_constraint(name, table, type_="foreignkey")
    for table in CATALOGUE:
        op.add_column(table, _store())
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["store", *KEYS[table]])
    for table in CATALOGUE:
        for _, column, parent, parent_column in FOREIGN_KEYS.get(table, []):
            op.create_foreign_key(
                _new_fk_name(table, parent),
                table,
                parent,
                ["store", column],
                ["store", parent_column],
            )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _upgrade_catalogue_sqlite()
    else:
        _upgrade_catalogue_in_place()
    for table in ("impressions", "events"):
        op.add_column(table, _store())
        op.create_index(op.f(f"ix_{table}_store"), table, ["store"])
    if sqlite:
        with op.batch_alter_table("model_versions", recreate="always") as batch:
            batch.add_column(_store())
            batch.drop_constraint("pk_model_versions", type_="primary")
            batch.create_primary_key("pk_model_versions", ["store", "version"])
    else:
        op.add_column("model_versions", _store())
        op.drop_constraint("pk_model_versions", "model_versions", type_="primary")
        op.create_primary_key("pk_model_versions", "model_versions", ["store", "version"])


def downgrade() -> None:
    raise NotImplementedError(
        "revision 0002 cannot be undone: rows of several stores do not fit the single-store "
        "keys of revision 0001 (restore a backup taken before the upgrade instead)"
    )
