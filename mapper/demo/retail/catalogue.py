"""The retail demo's shop side: stores, their staff (a hierarchy), the category tree,
products with their specs and tags."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from mapper.demo.generate import Row
from mapper.demo.retail.data import (
    ADJECTIVES,
    CATEGORY_TREE,
    CITIES,
    COUNTRIES,
    FAMILY_OF_ROOT,
    KEYWORDS,
    NOUNS,
    TAGS,
)
from mapper.demo.retail.draw import START, Draws
from mapper.demo.retail.specs import product_spec

ONLINE_STORE_ID = 1
JOB_TITLES = ("Sales Associate", "Cashier", "Shift Lead", "Buyer")


class Catalogue(Draws):
    """Draws the shop's tables; keeps what the sales side needs (staff, prices)."""

    stores_opened: list[date]
    staff_of_store: dict[int | None, list[int]]  # store id (None: head office) -> employee ids
    staff_emails: list[str]
    leaf_families: list[tuple[int, str]]  # (category id, family of its root)
    price_of: dict[int, Decimal]  # product id -> price
    family_of: dict[int, str]  # product id -> family

    def stores(self, count: int) -> list[Row]:
        """Store 1 is the online shop (no city, no floor space); the others are shops."""
        rows: list[Row] = []
        self.stores_opened = []
        for store_id in range(1, count + 1):
            online = store_id == ONLINE_STORE_ID
            code = "DE" if online else self.rng.choice(COUNTRIES)[0]
            city = None if online else self.rng.choice(CITIES[code])
            self.stores_opened.append(self.day(date(2005, 1, 1), date(2021, 6, 30)))
            rows.append(
                {
                    "id": store_id,
                    "name": "Online Shop" if online else f"{city} #{store_id}",
                    "country_code": code,
                    "city": city,
                    "is_online": online,
                    "square_meters": None if online else self.rng.randrange(80, 4000, 10),
                    "opened_on": self.stores_opened[-1],
                }
            )
        return rows

    def employees(self, count: int) -> list[Row]:
        """A chief (no manager), regional managers, a manager per store, then staff: some at
        the head office (no store), some under a shift lead (a deeper tree)."""
        stores = len(self.stores_opened)
        regional = list(range(2, 2 + min(max(1, stores // 3), count - 1)))
        first_store_manager = 2 + len(regional)
        store_of_manager = {
            first_store_manager + offset: store
            for offset, store in enumerate(range(1, stores + 1))
            if first_store_manager + offset <= count
        }
        manager_of_store = {store: manager for manager, store in store_of_manager.items()}
        self.staff_of_store, self.staff_emails = {}, []
        rows: list[Row] = []
        taken: set[str] = set()
        for employee_id in range(1, count + 1):
            store: int | None
            if employee_id == 1:
                store, manager, title = None, None, "Chief Executive"
            elif employee_id in regional:
                store, manager, title = None, 1, "Regional Manager"
            elif employee_id in store_of_manager:
                store, title = store_of_manager[employee_id], "Store Manager"
                manager = self.rng.choice(regional or [1])
            else:
                store = None if self.chance(0.1) else self.rng.randint(1, stores)
                boss = manager_of_store.get(store, 1) if store else self.rng.choice(regional or [1])
                peers = self.staff_of_store.get(store, [])
                manager = self.rng.choice(peers) if peers and self.chance(0.25) else boss
                title = self.rng.choice(JOB_TITLES)
            self.staff_of_store.setdefault(store, []).append(employee_id)
            name, email = self.person(taken, "staff.shop.example")
            self.staff_emails.append(email)
            salaried = manager is None or title.endswith("Manager")
            opened = self.stores_opened[store - 1] if store else date(2005, 1, 1)
            rows.append(
                {
                    "id": employee_id,
                    "store_id": store,
                    "manager_id": manager,
                    "full_name": name,
                    "email": email,
                    "job_title": title,
                    "hourly_rate": None if salaried else self.cents(1250, 3500),
                    "hired_on": self.day(opened, date(2024, 12, 31)),
                }
            )
        return rows

    def categories(self) -> list[Row]:
        """The fixed tree in pre-order; sibling positions tie now and then; names repeat."""
        rows: list[Row] = []
        self.leaf_families = []

        def add(nodes: dict[str, Any], parent: int | None, family: str | None) -> None:
            position = 0
            for name, children in nodes.items():
                position += 0 if position and self.chance(0.15) else 1
                category_id = len(rows) + 1
                base = slug = name.lower().replace(" & ", "-").replace(" ", "-")
                number = 1
                while any(row["slug"] == slug for row in rows):
                    number += 1
                    slug = f"{base}-{number}"
                rows.append(
                    {
                        "id": category_id,
                        "parent_id": parent,
                        "name": name,
                        "slug": slug,
                        "position": position,
                    }
                )
                own_family = family or FAMILY_OF_ROOT[name]
                if children:
                    add(children, category_id, own_family)
                else:
                    self.leaf_families.append((category_id, own_family))

        add(CATEGORY_TREE, None, None)
        return rows

    def products(self, count: int) -> list[Row]:
        """Products of leaf categories, with a price, an enum status and an array of keywords."""
        rows: list[Row] = []
        self.price_of, self.family_of = {}, {}
        for product_id in range(1, count + 1):
            category_id, family = self.rng.choice(self.leaf_families)
            self.family_of[product_id] = family
            self.price_of[product_id] = self.cents(99, 299_999)
            name = f"{self.rng.choice(ADJECTIVES)} {self.rng.choice(NOUNS[family])}"
            description = None
            if not self.chance(0.3):
                description = " ".join(self.rng.choices(KEYWORDS + TAGS, k=self.rng.randint(3, 30)))
            keywords = None
            if not self.chance(0.2):
                keywords = self.rng.sample(KEYWORDS, self.rng.randint(0, 4))
            rows.append(
                {
                    "id": product_id,
                    "category_id": category_id,
                    "sku": f"{family[:3].upper()}-{product_id:05d}",
                    "name": name,
                    "description": description,
                    "price": self.price_of[product_id],
                    "status": self.rng.choices(("draft", "active", "discontinued"), (5, 80, 15))[0],
                    "keywords": keywords,
                    "created_at": self.moment(START, datetime(2024, 12, 31, tzinfo=UTC)),
                }
            )
        return rows

    def product_specs(self, products: list[Row]) -> list[Row]:
        """Nine products in ten have a spec row (a one-to-zero-or-one relation)."""
        return [
            product_spec(self.rng, row["id"], self.family_of[row["id"]])
            for row in products
            if self.chance(0.9)
        ]

    def tags(self) -> list[Row]:
        return [{"id": number, "name": name} for number, name in enumerate(TAGS, 1)]

    def product_tags(self, products: list[Row]) -> list[Row]:
        """Zero to six tags per product, each with when it was added and a weight (a float)."""
        rows: list[Row] = []
        for product in products:
            count = self.rng.choices((0, 1, 2, 3, 4, 6), (20, 25, 25, 15, 10, 5))[0]
            for tag_id in sorted(self.rng.sample(range(1, len(TAGS) + 1), count)):
                rows.append(
                    {
                        "product_id": product["id"],
                        "tag_id": tag_id,
                        "added_at": self.moment(product["created_at"]),
                        "weight": round(self.rng.random(), 3),
                    }
                )
        return rows
