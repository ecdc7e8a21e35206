"""The retail demo (docs/demo-retail.md): the same deterministic rows in SQLite and PostgreSQL,
and every quirk it promises `mapper init` (keys, trees, partitions, a view, a huge fan-out)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import fresh_postgres_database, mapper_cli
from test_demo import normalize

from mapper.demo import create_demo
from mapper.demo.retail import METADATA, TABLES
from mapper.demo.retail.sales import HEAVY_CUSTOMER_ID
from mapper.demo.retail.schema import PARTITION_YEARS, SPEC_COLUMNS
from mapper.demo.retail.specs import SPEC_NAMES
from mapper.errors import UsageError

# SQLite has no decimal type; the amounts the generator makes survive its floats exactly.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Dialect sqlite\+pysqlite does \*not\* support Decimal objects natively"
)
REFERENCE_TABLES = {"countries", "tags"}  # fixed data, the same for every seed
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]


@pytest.fixture(scope="module")
def retail_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The retail demo at scale 1, seed 42, in SQLite (read-only use)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('retail') / 'retail.db'}"
    create_demo(url, schema="retail")
    return url


@pytest.fixture(scope="module")
def retail_pg(postgres_server: str) -> Iterator[str]:
    """The same in PostgreSQL (read-only use)."""
    with fresh_postgres_database(postgres_server) as url:
        create_demo(url, schema="retail")
        yield url


@pytest.fixture(params=BACKENDS)
def retail_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"retail_{'sqlite' if request.param == 'sqlite' else 'pg'}")


@pytest.fixture
def connection(retail_url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(retail_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def rows_in_key_order(url: str) -> dict[str, list[list[Any]]]:
    """Every retail table's normalized rows, by primary key (by all columns where none)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = {
            table.name: [
                [normalize(value) for value in row]
                for row in connection.execute(
                    sa.select(table).order_by(*(table.primary_key.columns or table.columns))
                )
            ]
            for table in TABLES
        }
    engine.dispose()
    return rows


def counts(connection: sa.Connection, query: str) -> dict[Any, int]:
    return {key: value for key, value in connection.execute(sa.text(query))}


@pytest.mark.integration
def test_the_same_rows_in_sqlite_and_postgresql(retail_sqlite: str, retail_pg: str) -> None:
    sqlite_rows, pg_rows = rows_in_key_order(retail_sqlite), rows_in_key_order(retail_pg)
    for table in TABLES:
        assert sqlite_rows[table.name] == pg_rows[table.name], table.name


def test_the_seed_decides_the_rows(tmp_path) -> None:
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("one", "again", "other")}
    for name, seed in (("one", 1), ("again", 1), ("other", 2)):
        create_demo(urls[name], scale=0.2, seed=seed, schema="retail")
    one, again, other = (rows_in_key_order(urls[name]) for name in ("one", "again", "other"))
    assert one == again
    for table in TABLES:
        same = one[table.name] == other[table.name]
        assert same == (table.name in REFERENCE_TABLES), table.name


def test_scale_1_is_a_few_thousand_rows_and_scale_multiplies(tmp_path, retail_sqlite) -> None:
    at_1 = {name: len(rows) for name, rows in rows_in_key_order(retail_sqlite).items()}
    assert 3000 <= sum(at_1.values()) <= 12_000
    assert (at_1["customers"], at_1["orders"], at_1["events"]) == (200, 600, 1200)
    tiny = create_demo(f"sqlite:///{tmp_path / 'tiny.db'}", scale=0.001, schema="retail")
    assert list(tiny) == [table.name for table in TABLES]
    assert (tiny["customers"], tiny["orders"], tiny["countries"]) == (1, 1, at_1["countries"])


FOREIGN_KEYS = {  # (table, columns) -> (referred table, referred columns), as documented
    ("stores", ("country_code",)): ("countries", ("code",)),
    ("employees", ("store_id",)): ("stores", ("id",)),
    ("employees", ("manager_id",)): ("employees", ("id",)),
    ("categories", ("parent_id",)): ("categories", ("id",)),
    ("products", ("category_id",)): ("categories", ("id",)),
    ("product_specs", ("product_id",)): ("products", ("id",)),
    ("product_tags", ("product_id",)): ("products", ("id",)),
    ("product_tags", ("tag_id",)): ("tags", ("id",)),
    ("addresses", ("customer_id",)): ("customers", ("id",)),
    ("addresses", ("country_code",)): ("countries", ("code",)),
    ("orders", ("customer_id",)): ("customers", ("id",)),
    ("orders", ("store_id",)): ("stores", ("id",)),
    ("orders", ("sales_rep_id",)): ("employees", ("id",)),
    ("orders", ("billing_address_id",)): ("addresses", ("id",)),
    ("orders", ("shipping_address_id",)): ("addresses", ("id",)),
    ("order_lines", ("order_id",)): ("orders", ("id",)),
    ("order_lines", ("product_id",)): ("products", ("id",)),
    ("returns", ("order_id", "line_no")): ("order_lines", ("order_id", "line_no")),
    ("events", ("customer_id",)): ("customers", ("id",)),
}
PRIMARY_KEYS = {
    "countries": ["code"],
    "stores": ["id"],
    "employees": ["id"],
    "categories": ["id"],
    "products": ["id"],
    "product_specs": ["product_id"],
    "tags": ["id"],
    "product_tags": ["product_id", "tag_id"],
    "customers": ["id"],
    "addresses": ["id"],
    "orders": ["id"],
    "order_lines": ["order_id", "line_no"],
    "returns": ["id"],
    "events": ["id", "occurred_at"],
    "audit_log": [],
}


def test_keys_and_foreign_keys_are_as_documented(connection: sa.Connection) -> None:
    inspector = sa.inspect(connection)
    foreign_keys = {}
    for table in TABLES:
        primary_key = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert primary_key == PRIMARY_KEYS[table.name], table.name
        for foreign_key in inspector.get_foreign_keys(table.name):
            columns = tuple(foreign_key["constrained_columns"])
            foreign_keys[table.name, columns] = (
                foreign_key["referred_table"],
                tuple(foreign_key["referred_columns"]),
            )
    assert foreign_keys == FOREIGN_KEYS
    assert inspector.get_view_names() == ["order_totals"]
    wide = [column["name"] for column in inspector.get_columns("product_specs")]
    assert len(wide) >= 41 and wide[1:] == [name for name, _ in SPEC_COLUMNS]
    assert set(SPEC_NAMES) == set(wide[1:])


@pytest.mark.integration
def test_postgresql_has_the_partitions_enums_array_and_view(retail_pg: str) -> None:
    engine = sa.create_engine(retail_pg)
    with engine.connect() as connection:
        partitioned = connection.execute(
            sa.text(
                "SELECT c.relname, p.partstrat FROM pg_partitioned_table p "
                "JOIN pg_class c ON c.oid = p.partrelid"
            )
        ).all()
        partitions = counts(
            connection,
            "SELECT c.relname, count(f.conname) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid AND i.inhparent = 'events'::regclass "
            "LEFT JOIN pg_constraint f ON f.conrelid = c.oid AND f.contype = 'f' "
            "AND f.conname LIKE '%product_id' GROUP BY c.relname",
        )
        views = connection.scalars(
            sa.text("SELECT viewname FROM pg_views WHERE schemaname = 'public'")
        ).all()
        enums = connection.scalars(
            sa.text("SELECT typname FROM pg_type WHERE typtype = 'e' ORDER BY typname")
        ).all()
        keywords = connection.scalar(
            sa.text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'products' AND column_name = 'keywords'"
            )
        )
        per_partition = counts(
            connection, "SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1"
        )
        totals = connection.execute(
            sa.text(
                "SELECT t.total, (SELECT sum(quantity * unit_price) FROM order_lines l "
                "WHERE l.order_id = t.order_id) FROM order_totals t"
            )
        ).all()
    engine.dispose()
    assert partitioned == [("events", "r")]
    assert partitions == {f"events_{year}": 1 for year in PARTITION_YEARS}
    assert set(views) == {"order_totals"}
    assert enums == ["event_kind", "order_status", "product_status"]
    assert keywords == "ARRAY"
    assert set(per_partition) == set(partitions) and all(per_partition.values())
    assert len(totals) == 600 and all(total == expected for total, expected in totals)


def test_sqlite_keeps_enums_as_checked_text(retail_sqlite: str) -> None:
    engine = sa.create_engine(retail_sqlite)
    with engine.connect() as connection:
        with pytest.raises(sa.exc.IntegrityError, match="CHECK"):
            connection.exec_driver_sql("UPDATE orders SET status = 'lost' WHERE id = 1")
        assert connection.scalar(sa.text("SELECT count(*) FROM order_totals")) == 600
    engine.dispose()


def test_the_wholesale_customer_has_by_far_the_largest_fan_out(connection) -> None:
    for table in ("orders", "events"):
        per_customer = counts(
            connection,
            f"SELECT customer_id, count(*) FROM {table} WHERE customer_id IS NOT NULL "
            "GROUP BY customer_id",
        )
        total = connection.scalar(sa.text(f"SELECT count(*) FROM {table}"))
        heavy = per_customer.pop(HEAVY_CUSTOMER_ID)
        assert heavy >= 0.35 * total, table
        assert heavy > 10 * max(per_customer.values()), table


def test_quirks_are_in_the_rows(connection) -> None:
    def one(query: str) -> Any:
        return connection.scalar(sa.text(query))

    def depth(table: str, parent: str) -> int:
        parent_of = dict(connection.execute(sa.text(f"SELECT id, {parent} FROM {table}")).all())
        deepest = 0
        for node in parent_of:
            steps = 0
            while node is not None:
                node, steps = parent_of[node], steps + 1
                assert steps <= len(parent_of), f"a cycle in {table}"
            deepest = max(deepest, steps)
        return deepest

    assert depth("categories", "parent_id") >= 4
    assert depth("employees", "manager_id") >= 4
    assert one("SELECT count(*) FROM orders WHERE shipping_address_id IS NULL") > 0
    assert one("SELECT count(*) FROM orders WHERE shipping_address_id <> billing_address_id") > 0
    assert one("SELECT count(*) FROM events WHERE product_id IS NULL") > 0
    assert one("SELECT count(*) FROM events WHERE customer_id IS NULL") > 0
    assert one("SELECT count(*) FROM returns") > 0
    duplicated = "SELECT count(*) FROM (SELECT 1 FROM audit_log GROUP BY logged_at, actor, "
    assert one(duplicated + "action, entity, entity_id, detail HAVING count(*) > 1) d") > 0
    without_specs = "SELECT 1 FROM product_specs s WHERE s.product_id = p.id"
    assert one(f"SELECT count(*) FROM products p WHERE NOT EXISTS ({without_specs})") > 0
    repeated = "SELECT name FROM categories GROUP BY name HAVING count(*) > 1"
    assert one(f"SELECT count(*) FROM ({repeated}) d") > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_creates_the_retail_demo_and_drop_recreates_it(request, tmp_path, backend) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    command = ["demo", "--schema", "retail", "--source", url, "--scale", "0.2", "--seed", "3"]
    done = mapper_cli(*command)
    assert done.returncode == 0, done.stderr
    assert "order_lines" in done.stdout and "product_specs" in done.stdout
    again = mapper_cli(*command)
    assert again.returncode == 2 and "--drop" in again.stderr
    dropped = mapper_cli(*command, "--drop")
    assert dropped.returncode == 0, dropped.stderr
    assert dropped.stdout == done.stdout


def test_an_unknown_demo_schema_is_a_usage_error(sqlite_url: str) -> None:
    with pytest.raises(UsageError, match="tasks, retail|retail, tasks"):
        create_demo(sqlite_url, schema="shop")
    assert mapper_cli("demo", "--schema", "shop", "--source", sqlite_url).returncode == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_tables_and_view_already_there_are_filled(request, backend) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    engine = sa.create_engine(url)
    METADATA.create_all(engine)
    engine.dispose()
    assert create_demo(url, scale=0.05, schema="retail")["orders"] == 30
