"""The retail demo (docs/demo-retail.md): its schema, and rows that are a pure function of
(seed, scale), drawn from one `random.Random(seed)`.

Reference data (countries, the category tree, tags) is fixed; every other count scales. Ids grow
with time (orders and events are numbered in time order) and every parent row, trees included,
comes before its children.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from mapper.demo.generate import Row, scaled
from mapper.demo.retail.catalogue import Catalogue
from mapper.demo.retail.data import COUNTRIES
from mapper.demo.retail.sales import Sales
from mapper.demo.retail.schema import METADATA, TABLES

BASE_COUNTS = {
    "stores": 8,
    "employees": 60,
    "products": 300,
    "customers": 200,
    "orders": 600,
    "events": 1200,
}

__all__ = ["METADATA", "TABLES", "generate"]


def generate(seed: int, scale: float) -> Iterator[tuple[str, list[Row]]]:
    """(table name, rows) for every retail table, in creation order; deterministic."""
    shop = Catalogue(random.Random(seed))
    count = {table: scaled(base, scale) for table, base in BASE_COUNTS.items()}
    yield (
        "countries",
        [
            {"code": code, "name": name, "currency": currency}
            for code, name, currency, _ in COUNTRIES
        ],
    )
    yield "stores", shop.stores(count["stores"])
    yield "employees", shop.employees(count["employees"])
    yield "categories", shop.categories()
    products = shop.products(count["products"])
    yield "products", products
    yield "product_specs", shop.product_specs(products)
    yield "tags", shop.tags()
    yield "product_tags", shop.product_tags(products)
    sales = Sales(shop)
    customers = sales.customers(count["customers"])
    yield "customers", customers
    yield "addresses", sales.addresses(customers)
    orders = sales.orders(count["orders"], customers)
    yield "orders", orders
    lines = sales.order_lines(orders)
    yield "order_lines", lines
    yield "returns", sales.returns(orders, lines)
    yield "events", sales.events(count["events"], customers)
    yield "audit_log", sales.audit_log(orders, products)
