"""SQLAlchemy tables: the imported store (five tables) and what serving records.

Store tables keep the export's own field names (``products.id``, ``customers.customer_id``…)
so one row of a file maps to one row of its table without renaming. The schema is created and
changed only through the Alembic migrations in ``recograph/migrations``; a change here needs a
new revision there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only makes "INTEGER PRIMARY KEY" an alias of the rowid; BIGINT keys would be slower.
Id = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")

EVENT_TYPES = ("CLICK", "ADD_TO_CART", "PURCHASE")
DEFAULT_STORE = "default"  # recograph.stores.DEFAULT_STORE (kept here: models import nothing)
STORE_LENGTH = 64


def store_column(*, primary_key: bool = False) -> Mapped[str]:
    """The store a row belongs to (every row of every table carries it)."""
    return mapped_column(
        String(STORE_LENGTH),
        primary_key=primary_key,
        default=DEFAULT_STORE,
        server_default=DEFAULT_STORE,
        index=not primary_key,
    )


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Naive UTC, the form every date-time column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Product(Base):
    __tablename__ = "products"

    store: Mapped[str] = store_column(primary_key=True)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    sku: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    brand: Mapped[str] = mapped_column(String)
    category: Mapped[str] = mapped_column(String, index=True)
    price: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text)
    specs: Mapped[dict[str, Any]] = mapped_column(Json)
    stock: Mapped[int] = mapped_column(BigInteger)
    promoted: Mapped[bool] = mapped_column(Boolean)
    cost: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Customer(Base):
    __tablename__ = "customers"

    store: Mapped[str] = store_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String)
    email: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        ForeignKeyConstraint(
            ["store", "customer_id"], ["customers.store", "customers.customer_id"]
        ),
    )

    store: Mapped[str] = store_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16))
    grand_total: Mapped[float] = mapped_column(Float)
    order_date: Mapped[datetime] = mapped_column(DateTime)


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        ForeignKeyConstraint(["store", "order_id"], ["orders.store", "orders.order_id"]),
        ForeignKeyConstraint(["store", "product_id"], ["products.store", "products.id"]),
    )

    store: Mapped[str] = store_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, index=True
    )
    product_name: Mapped[str] = mapped_column(String)
    qty: Mapped[int] = mapped_column(Integer)
    price: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String)


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        ForeignKeyConstraint(["store", "product_id"], ["products.store", "products.id"]),
        ForeignKeyConstraint(
            ["store", "customer_id"], ["customers.store", "customers.customer_id"]
        ),
    )

    store: Mapped[str] = store_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(BigInteger, index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    rating: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Impression(Base):
    """One recommendation response: which products were shown, in which order, and why.

    ``items`` is a list of ``{"product_id", "position", "score", "reason_kind"}``.
    """

    __tablename__ = "impressions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    store: Mapped[str] = store_column()
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    session_id: Mapped[str | None] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    page_type: Mapped[str | None] = mapped_column(String(32))
    context: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    items: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)


class Event(Base):
    """A shopper's action on a product, tied to the impression (request) that showed it."""

    __tablename__ = "events"
    __table_args__ = (CheckConstraint("type IN ('CLICK', 'ADD_TO_CART', 'PURCHASE')", name="type"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    store: Mapped[str] = store_column()
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    type: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    session_id: Mapped[str | None] = mapped_column(String(128))
    product_id: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    price: Mapped[float | None] = mapped_column(Float)


class ModelVersion(Base):
    """A published build: its manifest (parameters, data hash, counts) and offline metrics."""

    __tablename__ = "model_versions"

    store: Mapped[str] = store_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    engine: Mapped[str] = mapped_column(String(32))
    manifest: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


STORE_TABLES: dict[str, type[Base]] = {
    "products": Product,
    "customers": Customer,
    "orders": Order,
    "order_items": OrderItem,
    "reviews": Review,
}
