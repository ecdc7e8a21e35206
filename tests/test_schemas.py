"""Schema-qualified tables (`schema.table`) in PostgreSQL: reflected, joined and migrated."""

from __future__ import annotations

import bson
import sqlalchemy as sa
from conftest import fresh_postgres_database

from mapper import api
from mapper.ids import oid

SCHEMA = """
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id integer PRIMARY KEY, customer text NOT NULL);
CREATE TABLE sales.items (id integer PRIMARY KEY,
    order_id integer NOT NULL REFERENCES sales.orders(id), sku text NOT NULL, qty integer);
CREATE INDEX ix_items_order_id ON sales.items (order_id);
CREATE TABLE public.orders (id integer PRIMARY KEY, note text);
INSERT INTO sales.orders VALUES (1, 'Ada'), (2, 'Linus');
INSERT INTO sales.items VALUES (10, 1, 'b-2', 1), (11, 1, 'a-1', 3), (12, 2, 'c-3', NULL);
INSERT INTO public.orders VALUES (1, 'not the sales order');
"""


def test_schema_qualified_tables(postgres_server: str, tmp_path) -> None:
    with fresh_postgres_database(postgres_server) as url:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql(SCHEMA)
        engine.dispose()
        path = tmp_path / "orders.yaml"
        path.write_text("""version: 1
collections:
  orders:
    table: sales.orders
    fields:
      items: {embed: sales.items, columns: [sku, qty], _id: false, order_by: [sku]}
      quantity: {sum: sales.items.qty}
""")
        with api.prepare([path], url) as prepared:
            problems = list(prepared.warnings)
            documents = [document for _, document in api.preview(prepared, 10)]
    assert problems == []
    assert documents == [
        {
            "_id": oid("orders", [1]),
            "id": 1,
            "customer": "Ada",
            "items": [{"sku": "a-1", "qty": 3}, {"sku": "b-2", "qty": 1}],
            "quantity": 4,
        },
        {"_id": oid("orders", [2]), "id": 2, "customer": "Linus", "items": [{"sku": "c-3"}]},
    ]
    assert isinstance(documents[0]["_id"], bson.ObjectId)
