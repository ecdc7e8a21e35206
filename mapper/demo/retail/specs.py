"""Rows of the retail demo's wide table, `product_specs`: sparse, by product family.

Every product has the general columns filled now and then; a family's own columns (screens for
electronics, sizes for apparel...) are filled only for its products, so most of the 47 columns
are NULL in most rows, as in a real catalogue's attribute table.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

Draw = Callable[[random.Random], Any]


def _one_of(*values: Any) -> Draw:
    return lambda rng: rng.choice(values)


def _between(low: int, high: int) -> Draw:
    return lambda rng: rng.randint(low, high)


def _decimal(low: int, high: int, places: int) -> Draw:
    """A decimal with `places` places in [low, high] (hundredths or tenths)."""
    return lambda rng: Decimal(rng.randint(low * 10**places, high * 10**places)).scaleb(-places)


def _flag(rng: random.Random) -> bool:
    return rng.random() < 0.5


def _certified_on(rng: random.Random) -> date:
    return date(2018, 1, 1) + timedelta(days=rng.randrange(2500))


def _sheet_url(rng: random.Random) -> str:
    return f"https://cdn.shop.example/specs/{rng.getrandbits(40):010x}.pdf?lang=de&v=2"


GENERAL: dict[str, Draw] = {
    "brand": _one_of("Acme", "Nordlicht", "Kōgei", "Señora Casa", "Zephyr", "Øland", "Brightline"),
    "model_number": lambda rng: (
        f"{rng.choice('ABCXZ')}{rng.randint(100, 9999)}-{rng.randint(1, 9)}"
    ),
    "color": _one_of("black", "white", "midnight blue", "rouge", "grün", "space grey", "beige"),
    "material": _one_of("steel", "aluminium", "oak", "cotton", "ABS plastic", "glass", "bamboo"),
    "finish": _one_of("matte", "gloss", "brushed", "satin", "natural"),
    "origin_country": _one_of("DE", "CN", "VN", "PL", "IT", "JP", "TR", "US"),
    "weight_g": _between(5, 40_000),
    "width_mm": _between(10, 2000),
    "height_mm": _between(5, 2200),
    "depth_mm": _between(1, 900),
    "warranty_months": _one_of(0, 6, 12, 24, 36, 60),
    "recyclable": _flag,
    "certified_on": _certified_on,
    "spec_sheet_url": _sheet_url,
    "notes": _one_of("", "Bulk item: ships separately.", "Nicht für Kinder unter 3 Jahren.", "⚠️"),
}
BY_FAMILY: dict[str, dict[str, Draw]] = {
    "electronics": {
        "energy_class": _one_of("A+++", "A++", "A", "B", "C", "E", "G"),
        "power_w": _between(1, 3000),
        "voltage_v": _one_of(5, 12, 110, 230),
        "battery_mah": _between(300, 20_000),
        "battery_included": _flag,
        "screen_in": _decimal(4, 85, 1),
        "resolution": _one_of("1920×1080", "2560×1440", "3840×2160", "1366×768"),
        "ram_gb": _one_of(4, 8, 16, 32, 64),
        "storage_gb": _one_of(64, 128, 256, 512, 1024, 2048),
        "cpu": _one_of("ARM Cortex-A78", "x86-64 8-core", "RISC-V", "M-series"),
        "os": _one_of("Android 14", "Linux", "Windows 11", "iOS 17", "none"),
        "wifi": _flag,
        "bluetooth": _flag,
        "usb_ports": _between(0, 6),
        "hdmi_ports": _between(0, 4),
        "waterproof_rating": _one_of("IP54", "IP67", "IP68", "IPX4"),
        "noise_db": _between(15, 90),
    },
    "apparel": {
        "size_label": _one_of("XS", "S", "M", "L", "XL", "XXL", "38", "42", "One size"),
        "fit": _one_of("slim", "regular", "relaxed", "oversized"),
        "fabric": _one_of("100% cotton", "merino wool", "polyester/elastane 92/8", "lin"),
        "care_instructions": _one_of("30 °C", "hand wash only", "do not tumble dry", "40 °C"),
        "gender": _one_of("women", "men", "unisex", "kids"),
    },
    "home": {
        "max_load_kg": _decimal(1, 500, 2),
        "capacity_l": _decimal(0, 300, 2),
        "assembly_required": _flag,
        "noise_db": _between(20, 75),
    },
    "food": {
        "organic": _flag,
        "vegan": _flag,
        "gluten_free": _flag,
        "shelf_life_days": _between(3, 1500),
    },
    "toys": {
        "pieces": _between(1, 5000),
        "age_min": _between(0, 8),
        "age_max": _between(9, 99),
    },
    "books": {},
}

SPEC_NAMES = tuple(dict.fromkeys([*GENERAL, *(name for own in BY_FAMILY.values() for name in own)]))
"""Every column a spec row can fill (the test checks it against the table)."""


def product_spec(rng: random.Random, product_id: int, family: str) -> dict[str, Any]:
    """One `product_specs` row: the general columns at 70%, the family's own at 85%."""
    row: dict[str, Any] = {"product_id": product_id, **dict.fromkeys(SPEC_NAMES)}
    for draws, probability in ((GENERAL, 0.7), (BY_FAMILY[family], 0.85)):
        for name, draw in draws.items():
            if rng.random() < probability:
                row[name] = draw(rng)
    return row
