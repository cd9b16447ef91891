"""SQLAlchemy ORM tables; the schema itself is managed by the Alembic migrations."""

from recograph.models.tables import (
    EVENT_TYPES,
    STORE_TABLES,
    Base,
    Customer,
    Event,
    Impression,
    ModelVersion,
    Order,
    OrderItem,
    Product,
    Review,
    utcnow,
)

__all__ = [
    "EVENT_TYPES",
    "STORE_TABLES",
    "Base",
    "Customer",
    "Event",
    "Impression",
    "ModelVersion",
    "Order",
    "OrderItem",
    "Product",
    "Review",
    "utcnow",
]
