"""The retail demo's sales side: customers and their addresses, orders with their lines and
returns, click-stream events and the audit log. Customer 1, a wholesale account, places 40% of
the orders and makes 40% of the events: the huge fan-out on purpose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from mapper.demo.generate import Row
from mapper.demo.retail.catalogue import ONLINE_STORE_ID, Catalogue
from mapper.demo.retail.data import (
    ADJECTIVES,
    CITIES,
    COUNTRIES,
    KEYWORDS,
    RETURN_REASONS,
    STREETS,
    TAGS,
)
from mapper.demo.retail.draw import EVENTS_START, START, Draws
from mapper.demo.retail.schema import EVENT_KINDS, ORDER_STATUSES

HEAVY_CUSTOMER_ID, HEAVY_SHARE = 1, 0.4
HEAVY_EMAIL = "orders@northwind.example"
HEAVY_CUSTOMER = {
    "id": HEAVY_CUSTOMER_ID,
    "email": HEAVY_EMAIL,
    "full_name": "Northwind Wholesale GmbH",
    "phone": "+49 30 1234567",
    "marketing_opt_in": False,
    "created_at": START + timedelta(days=14, microseconds=123456),
}
NOTES = ("Bitte klingeln", "leave at door 🚪", "", "ASAP!!")
DISCOUNTS = (Decimal("5.00"), Decimal("12.50"), Decimal("33.33"))


class Sales(Draws):
    """Draws the sales tables against a drawn `Catalogue` (its stores, staff and prices)."""

    def __init__(self, catalogue: Catalogue):
        super().__init__(catalogue.rng)
        self.shop = catalogue
        self.addresses_of: dict[int, list[int]] = {}  # customer id -> address ids

    def customers(self, count: int) -> list[Row]:
        taken = {HEAVY_EMAIL}
        rows: list[Row] = [dict(HEAVY_CUSTOMER)]
        for customer_id in range(2, count + 1):
            name, email = self.person(taken, self.rng.choice(("example.com", "mail.example")))
            phone = None
            if not self.chance(0.4):
                phone = f"+{self.rng.randint(1, 99)} {self.rng.randint(100_000, 99_999_999)}"
            rows.append(
                {
                    "id": customer_id,
                    "email": email,
                    "full_name": name,
                    "phone": phone,
                    "marketing_opt_in": self.chance(0.35),
                    "created_at": self.moment(START, datetime(2025, 3, 1, tzinfo=UTC)),
                }
            )
        return rows

    def addresses(self, customers: list[Row]) -> list[Row]:
        """The wholesale account has eight; others one to three, and a few none at all."""
        rows: list[Row] = []
        for customer in customers:
            heavy = customer["id"] == HEAVY_CUSTOMER_ID
            count = 8 if heavy else self.rng.choices((0, 1, 2, 3), (5, 60, 25, 10))[0]
            own = self.addresses_of[customer["id"]] = []
            for _ in range(count):
                code = "DE" if heavy else self.rng.choice(COUNTRIES)[0]
                own.append(len(rows) + 1)
                postal_code = None if self.chance(0.1) else f"{self.rng.randint(1000, 99999):05d}"
                rows.append(
                    {
                        "id": own[-1],
                        "customer_id": customer["id"],
                        "line1": f"{self.rng.choice(STREETS)} {self.rng.randint(1, 250)}",
                        "line2": None if self.chance(0.7) else f"c/o {self.rng.choice(TAGS)}",
                        "city": self.rng.choice(CITIES[code]),
                        "postal_code": postal_code,
                        "country_code": code,
                    }
                )
        return rows

    def buyers(self, count: int, customers: list[Row]) -> list[Row]:
        """Who places each of `count` orders: 40% the wholesale account, the rest skewed
        (some customers never order; those without an address cannot)."""
        others = [
            row
            for row in customers
            if row["id"] != HEAVY_CUSTOMER_ID and self.addresses_of[row["id"]]
        ]
        heavy = round(count * HEAVY_SHARE) if others else count
        weights = [0.0 if self.chance(0.1) else self.rng.expovariate(1.0) for _ in others]
        chosen = [customers[0]] * heavy
        if others:
            chosen += self.rng.choices(others, weights if any(weights) else None, k=count - heavy)
        return chosen

    def orders(self, count: int, customers: list[Row]) -> list[Row]:
        """Orders numbered in time order; billing and shipping are two addresses (shipping
        NULL for a pick-up), the sales rep is a member of the store's staff (or NULL)."""
        placed = [
            (self.moment(max(EVENTS_START, customer["created_at"])), customer)
            for customer in self.buyers(count, customers)
        ]
        placed.sort(key=lambda pair: pair[0])
        stores = len(self.shop.stores_opened)
        rows: list[Row] = []
        for order_id, (ordered_at, customer) in enumerate(placed, 1):
            wholesale = customer["id"] == HEAVY_CUSTOMER_ID
            online = wholesale or stores == 1 or self.chance(0.4)
            store = ONLINE_STORE_ID if online else self.rng.randint(2, stores)
            staff = [] if online else self.shop.staff_of_store.get(store, [])
            own = self.addresses_of[customer["id"]]
            billing = own[0] if wholesale else self.rng.choice(own)
            shipping = billing if self.chance(0.7) else self.rng.choice(own)
            status = self.rng.choices(ORDER_STATUSES, (3, 5, 7, 70, 8, 7))[0]
            shipped = status in ("shipped", "delivered", "returned")
            rows.append(
                {
                    "id": order_id,
                    "customer_id": customer["id"],
                    "store_id": store,
                    "sales_rep_id": self.rng.choice(staff) if staff and self.chance(0.7) else None,
                    "billing_address_id": billing,
                    "shipping_address_id": None
                    if self.chance(0.05 if online else 0.8)
                    else shipping,
                    "status": status,
                    "ordered_at": ordered_at,
                    "shipped_at": self.within(ordered_at, 5) if shipped else None,
                    "note": self.rng.choice(NOTES) if self.chance(0.15) else None,
                }
            )
        return rows

    def order_lines(self, orders: list[Row]) -> list[Row]:
        """One to six lines (up to twelve for wholesale); line numbers skip one now and then."""
        rows: list[Row] = []
        products = len(self.shop.price_of)
        for order in orders:
            wholesale = order["customer_id"] == HEAVY_CUSTOMER_ID
            count = self.rng.choices(range(1, 7), (35, 25, 15, 10, 8, 7))[0]
            if wholesale:
                count = self.rng.randint(1, 12)
            line_no = 0
            for _ in range(count):
                line_no += 2 if self.chance(0.05) else 1
                product_id = self.rng.randint(1, products)
                price = self.shop.price_of[product_id]
                if self.chance(0.1):
                    price = (price * Decimal("0.9")).quantize(Decimal("0.01"))
                quantity = self.rng.choices((1, 2, 3, 5), (70, 20, 7, 3))[0]
                rows.append(
                    {
                        "order_id": order["id"],
                        "line_no": line_no,
                        "product_id": product_id,
                        "quantity": self.rng.randint(10, 200) if wholesale else quantity,
                        "unit_price": price,
                        "discount_pct": None if self.chance(0.8) else self.rng.choice(DISCOUNTS),
                    }
                )
        return rows

    def returns(self, orders: list[Row], lines: list[Row]) -> list[Row]:
        """A line or two of every returned order, and a line of a few delivered ones: each
        refers to its order line by the composite key (order_id, line_no)."""
        lines_of: dict[int, list[Row]] = {}
        for line in lines:
            lines_of.setdefault(line["order_id"], []).append(line)
        rows: list[Row] = []
        for order in orders:
            own = lines_of[order["id"]]
            if order["status"] == "returned":
                chosen = self.rng.sample(own, min(len(own), self.rng.randint(1, 2)))
            elif order["status"] == "delivered" and self.chance(0.03):
                chosen = [self.rng.choice(own)]
            else:
                continue
            for line in sorted(chosen, key=lambda line: line["line_no"]):
                quantity = self.rng.randint(1, line["quantity"])
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "order_id": order["id"],
                        "line_no": line["line_no"],
                        "quantity": quantity,
                        "reason": self.rng.choice(RETURN_REASONS),
                        "returned_at": self.moment(order["shipped_at"]),
                        "refund": None if self.chance(0.2) else line["unit_price"] * quantity,
                    }
                )
        return rows

    def events(self, count: int, customers: list[Row]) -> list[Row]:
        """Numbered in time order: 40% the wholesale account's, a fifth anonymous (NULL)."""
        heavy = round(count * HEAVY_SHARE) if len(customers) > 1 else count
        who: list[Row | None] = [customers[0]] * heavy
        for _ in range(count - heavy):
            who.append(None if self.chance(1 / 3) else self.rng.choice(customers[1:]))
        happened = [
            (
                self.moment(
                    max(EVENTS_START, customer["created_at"]) if customer else EVENTS_START
                ),
                customer,
            )
            for customer in who
        ]
        happened.sort(key=lambda pair: pair[0])
        products = len(self.shop.price_of)
        rows: list[Row] = []
        for event_id, (occurred_at, customer) in enumerate(happened, 1):
            kind = self.rng.choices(EVENT_KINDS, (55, 20, 15, 10))[0]
            rows.append(
                {
                    "id": event_id,
                    "occurred_at": occurred_at,
                    "customer_id": customer["id"] if customer else None,
                    "product_id": None if kind == "search" else self.rng.randint(1, products),
                    "kind": kind,
                    "session_id": f"{self.rng.getrandbits(64):016x}",
                    "payload": self.payload(kind),
                }
            )
        return rows

    def payload(self, kind: str) -> dict[str, Any] | None:
        """A small JSON object, keys already in jsonb's order (shorter first)."""
        if kind == "search":
            query = " ".join(self.rng.sample(KEYWORDS + ADJECTIVES, self.rng.randint(1, 3)))
            return {"query": query, "results": self.rng.randint(0, 500)}
        if kind == "view":
            return None if self.chance(0.3) else {"ms": self.rng.randint(5, 90_000)}
        return {"quantity": self.rng.randint(1, 5)}

    def audit_log(self, orders: list[Row], products: list[Row]) -> list[Row]:
        """Who did what to which row (`entity`, `entity_id`), in time order; about one row in
        a hundred is there twice (a retried write), so no column set is a key."""
        rows: list[Row] = []
        for order in orders:
            actor = "api:northwind" if order["customer_id"] == HEAVY_CUSTOMER_ID else "system"
            rows.append(_audit(order["ordered_at"], actor, "create", "orders", order["id"]))
            if order["shipped_at"] is not None:
                clerk = self.rng.choice(self.shop.staff_emails)
                rows.append(_audit(order["shipped_at"], clerk, "ship", "orders", order["id"]))
            if order["status"] == "cancelled":
                at = self.within(order["ordered_at"], 1)
                rows.append(_audit(at, "customer", "cancel", "orders", order["id"]))
        for product in products:
            if self.chance(0.1):
                at, clerk = (
                    self.moment(product["created_at"]),
                    self.rng.choice(self.shop.staff_emails),
                )
                change = f"price {self.cents(99, 9999)} → {product['price']}"
                rows.append(_audit(at, clerk, "update", "products", product["id"], change))
        rows += [dict(row) for row in rows if self.chance(0.01)]
        rows.sort(key=lambda row: row["logged_at"])
        return rows


def _audit(
    at: datetime, actor: str, action: str, entity: str, entity_id: int, detail: str | None = None
) -> Row:
    return {
        "logged_at": at,
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "detail": detail,
    }
