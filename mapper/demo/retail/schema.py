"""The retail demo's tables (docs/demo-retail.md): a shop with quirks on purpose.

Integer, text and composite keys; a join table with columns of its own; two trees (categories,
employees); two foreign keys to one table; a composite foreign key; a wide, sparse table; a
table without a primary key; enums; an array; a view; and `events`, partitioned by range of
`occurred_at` in PostgreSQL (whose partitions alone carry the foreign key on `product_id`) and a
plain table in SQLite. PostgreSQL gets native enum, text[] and partitions; SQLite gets text with
a CHECK, JSON text and one table, with the same rows.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mapper.demo.schema import JSON, NAMING_CONVENTION, TIMESTAMP, foreign_key

METADATA = sa.MetaData(naming_convention=NAMING_CONVENTION)
TEXT_ARRAY = sa.JSON(none_as_null=True).with_variant(postgresql.ARRAY(sa.Text), "postgresql")
PRODUCT_STATUSES = ("draft", "active", "discontinued")
ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "returned")
EVENT_KINDS = ("view", "search", "cart", "purchase")
PARTITION_YEARS = (2022, 2023, 2024, 2025)
"""`events` partitions in PostgreSQL, one per year of `occurred_at` (UTC)."""


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    """A PostgreSQL enum type; text with a CHECK of the values elsewhere."""
    return sa.Enum(*values, name=name, create_constraint=True, validate_strings=True)


def _id() -> sa.Column[int]:
    """An integer key (serial in PostgreSQL); the generator gives every row its id."""
    return sa.Column("id", sa.Integer, primary_key=True)


def _fk(name: str, target: str, **options: Any) -> sa.Column[Any]:
    """An integer column referencing `target`."""
    return foreign_key(name, target, sa.Integer, **options)


countries = sa.Table(
    "countries",
    METADATA,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
)

stores = sa.Table(
    "stores",
    METADATA,
    _id(),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("country_code", sa.Text, sa.ForeignKey("countries.code"), nullable=False),
    sa.Column("city", sa.Text, nullable=True),
    sa.Column("is_online", sa.Boolean, nullable=False),
    sa.Column("square_meters", sa.Integer, nullable=True),
    sa.Column("opened_on", sa.Date, nullable=False),
)

employees = sa.Table(
    "employees",
    METADATA,
    _id(),
    _fk("store_id", "stores.id", nullable=True),
    _fk("manager_id", "employees.id", nullable=True, ondelete="SET NULL"),
    sa.Column("full_name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False, unique=True),
    sa.Column("job_title", sa.Text, nullable=False),
    sa.Column("hourly_rate", sa.Numeric(6, 2), nullable=True),
    sa.Column("hired_on", sa.Date, nullable=False),
)

categories = sa.Table(
    "categories",
    METADATA,
    _id(),
    _fk("parent_id", "categories.id", nullable=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("slug", sa.Text, nullable=False, unique=True),
    sa.Column("position", sa.SmallInteger, nullable=False),
)

products = sa.Table(
    "products",
    METADATA,
    _id(),
    _fk("category_id", "categories.id"),
    sa.Column("sku", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("price", sa.Numeric(10, 2), nullable=False),
    sa.Column("status", _enum("product_status", PRODUCT_STATUSES), nullable=False),
    sa.Column("keywords", TEXT_ARRAY, nullable=True),
    sa.Column("created_at", TIMESTAMP, nullable=False),
)

SPEC_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("brand", sa.Text()),
    ("model_number", sa.Text()),
    ("color", sa.Text()),
    ("material", sa.Text()),
    ("finish", sa.Text()),
    ("origin_country", sa.Text()),  # a country code, on purpose without a foreign key
    ("weight_g", sa.Integer()),
    ("width_mm", sa.Integer()),
    ("height_mm", sa.Integer()),
    ("depth_mm", sa.Integer()),
    ("warranty_months", sa.SmallInteger()),
    ("recyclable", sa.Boolean()),
    ("certified_on", sa.Date()),
    ("spec_sheet_url", sa.Text()),
    ("notes", sa.Text()),
    ("energy_class", sa.Text()),
    ("power_w", sa.Integer()),
    ("voltage_v", sa.SmallInteger()),
    ("battery_mah", sa.Integer()),
    ("battery_included", sa.Boolean()),
    ("screen_in", sa.Numeric(4, 1)),
    ("resolution", sa.Text()),
    ("ram_gb", sa.SmallInteger()),
    ("storage_gb", sa.Integer()),
    ("cpu", sa.Text()),
    ("os", sa.Text()),
    ("wifi", sa.Boolean()),
    ("bluetooth", sa.Boolean()),
    ("usb_ports", sa.SmallInteger()),
    ("hdmi_ports", sa.SmallInteger()),
    ("waterproof_rating", sa.Text()),
    ("noise_db", sa.SmallInteger()),
    ("size_label", sa.Text()),
    ("fit", sa.Text()),
    ("fabric", sa.Text()),
    ("care_instructions", sa.Text()),
    ("gender", sa.Text()),
    ("max_load_kg", sa.Numeric(6, 2)),
    ("capacity_l", sa.Numeric(6, 2)),
    ("assembly_required", sa.Boolean()),
    ("pieces", sa.SmallInteger()),
    ("age_min", sa.SmallInteger()),
    ("age_max", sa.SmallInteger()),
    ("organic", sa.Boolean()),
    ("vegan", sa.Boolean()),
    ("gluten_free", sa.Boolean()),
    ("shelf_life_days", sa.Integer()),
)
"""`product_specs`' columns after its key, every one nullable: most are NULL in most rows."""

product_specs = sa.Table(
    "product_specs",
    METADATA,
    _fk("product_id", "products.id", ondelete="CASCADE", primary_key=True),
    *(sa.Column(name, type_, nullable=True) for name, type_ in SPEC_COLUMNS),
)

tags = sa.Table(
    "tags",
    METADATA,
    _id(),
    sa.Column("name", sa.Text, nullable=False, unique=True),
)

product_tags = sa.Table(
    "product_tags",
    METADATA,
    _fk("product_id", "products.id", ondelete="CASCADE", primary_key=True),
    _fk("tag_id", "tags.id", ondelete="CASCADE", primary_key=True),
    sa.Column("added_at", TIMESTAMP, nullable=False),
    sa.Column("weight", sa.Float, nullable=False),
)

customers = sa.Table(
    "customers",
    METADATA,
    _id(),
    sa.Column("email", sa.Text, nullable=False, unique=True),
    sa.Column("full_name", sa.Text, nullable=False),
    sa.Column("phone", sa.Text, nullable=True),
    sa.Column("marketing_opt_in", sa.Boolean, nullable=False),
    sa.Column("created_at", TIMESTAMP, nullable=False),
)

addresses = sa.Table(
    "addresses",
    METADATA,
    _id(),
    _fk("customer_id", "customers.id", ondelete="CASCADE"),
    sa.Column("line1", sa.Text, nullable=False),
    sa.Column("line2", sa.Text, nullable=True),
    sa.Column("city", sa.Text, nullable=False),
    sa.Column("postal_code", sa.Text, nullable=True),
    sa.Column("country_code", sa.Text, sa.ForeignKey("countries.code"), nullable=False),
)

orders = sa.Table(
    "orders",
    METADATA,
    _id(),
    _fk("customer_id", "customers.id"),
    _fk("store_id", "stores.id"),
    _fk("sales_rep_id", "employees.id", nullable=True, ondelete="SET NULL"),
    _fk("billing_address_id", "addresses.id"),
    _fk("shipping_address_id", "addresses.id", nullable=True),
    sa.Column("status", _enum("order_status", ORDER_STATUSES), nullable=False),
    sa.Column("ordered_at", TIMESTAMP, nullable=False),
    sa.Column("shipped_at", TIMESTAMP, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
)

order_lines = sa.Table(
    "order_lines",
    METADATA,
    _fk("order_id", "orders.id", ondelete="CASCADE", primary_key=True),
    sa.Column("line_no", sa.SmallInteger, primary_key=True, autoincrement=False),
    _fk("product_id", "products.id"),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", sa.Numeric(10, 2), nullable=False),
    sa.Column("discount_pct", sa.Numeric(5, 2), nullable=True),
)

returns = sa.Table(
    "returns",
    METADATA,
    _id(),
    sa.Column("order_id", sa.Integer, nullable=False),
    sa.Column("line_no", sa.SmallInteger, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("returned_at", TIMESTAMP, nullable=False),
    sa.Column("refund", sa.Numeric(10, 2), nullable=True),
    sa.ForeignKeyConstraint(
        ["order_id", "line_no"],
        ["order_lines.order_id", "order_lines.line_no"],
        name="fk_returns_order_line",
        ondelete="CASCADE",
    ),
    sa.Index("ix_returns_order_line", "order_id", "line_no"),
)

events = sa.Table(
    "events",
    METADATA,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("occurred_at", TIMESTAMP, primary_key=True),
    _fk("customer_id", "customers.id", nullable=True),
    sa.Column("product_id", sa.Integer, nullable=True, index=True),  # see PARTITION_FOREIGN_KEY
    sa.Column("kind", _enum("event_kind", EVENT_KINDS), nullable=False),
    sa.Column("session_id", sa.Text, nullable=False),
    sa.Column("payload", JSON, nullable=True),
    postgresql_partition_by="RANGE (occurred_at)",
)
events.add_is_dependent_on(products)  # the partitions' foreign key, unknown to the metadata

audit_log = sa.Table(  # no primary key, no foreign key: `entity_id` refers to `entity`'s table
    "audit_log",
    METADATA,
    sa.Column("logged_at", TIMESTAMP, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("entity", sa.Text, nullable=False),
    sa.Column("entity_id", sa.Integer, nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
)

ORDER_TOTALS = """
SELECT o.id AS order_id, o.customer_id, count(l.line_no) AS line_count,
       coalesce(sum(l.quantity), 0) AS item_count,
       round(coalesce(sum(l.quantity * l.unit_price), 0), 2) AS total
FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
GROUP BY o.id, o.customer_id
"""
"""The view `order_totals`: an order's line count, item count and total."""


def _partition(year: int) -> tuple[str, str]:
    """One year of `events`, with the foreign key that the partitioned table lacks."""
    return (
        f"CREATE TABLE events_{year} PARTITION OF events FOR VALUES "
        f"FROM ('{year}-01-01 00:00:00+00') TO ('{year + 1}-01-01 00:00:00+00')",
        f"ALTER TABLE events_{year} ADD CONSTRAINT fk_events_{year}_product_id "
        "FOREIGN KEY (product_id) REFERENCES products (id)",
    )


@sa.event.listens_for(METADATA, "after_create")
def _create_view(_metadata: sa.MetaData, connection: sa.Connection, **_: Any) -> None:
    """The view; made again where the tables were there already."""
    sqlite = connection.dialect.name == "sqlite"
    create = "CREATE VIEW IF NOT EXISTS" if sqlite else "CREATE OR REPLACE VIEW"
    connection.exec_driver_sql(f"{create} order_totals AS {ORDER_TOTALS}")


@sa.event.listens_for(METADATA, "before_drop")
def _drop_view(_metadata: sa.MetaData, connection: sa.Connection, **_: Any) -> None:
    connection.exec_driver_sql("DROP VIEW IF EXISTS order_totals")


@sa.event.listens_for(events, "after_create")
def _create_partitions(_table: sa.Table, connection: sa.Connection, **_: Any) -> None:
    """PostgreSQL only: `events` is one plain table elsewhere."""
    if connection.dialect.name == "postgresql":
        for year in PARTITION_YEARS:
            for statement in _partition(year):
                connection.exec_driver_sql(statement)


TABLES: tuple[sa.Table, ...] = (
    countries,
    stores,
    employees,
    categories,
    products,
    product_specs,
    tags,
    product_tags,
    customers,
    addresses,
    orders,
    order_lines,
    returns,
    events,
    audit_log,
)
"""Every retail table, in creation (dependency) order."""
