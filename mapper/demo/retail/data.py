"""The retail demo's fixed reference data: countries, the category tree, tags and words.

Names are in several scripts and some repeat on purpose (two `Accessories` and two `Shoes`
categories under different parents).
"""

from __future__ import annotations

from typing import Any

COUNTRIES = (
    ("DE", "Deutschland", "EUR", ("Berlin", "München", "Köln")),
    ("FR", "France", "EUR", ("Paris", "Lyon")),
    ("ES", "España", "EUR", ("Madrid", "A Coruña")),
    ("IT", "Italia", "EUR", ("Milano", "Roma")),
    ("NL", "Nederland", "EUR", ("Amsterdam", "'s-Hertogenbosch")),
    ("PL", "Polska", "PLN", ("Łódź", "Kraków")),
    ("SE", "Sverige", "SEK", ("Göteborg",)),
    ("GB", "United Kingdom", "GBP", ("London", "Stoke-on-Trent")),
    ("US", "United States", "USD", ("New York", "Coeur d'Alene")),
    ("JP", "日本", "JPY", ("東京", "大阪")),
    ("BR", "Brasil", "BRL", ("São Paulo",)),
    ("TR", "Türkiye", "TRY", ("İstanbul",)),
)
CITIES = {code: cities for code, _, _, cities in COUNTRIES}
STREETS = (
    "Hauptstraße",
    "Rue de la Paix",
    "Calle Mayor",
    "Via Roma",
    "Kerkstraat",
    "ulica Długa",
    "Storgatan",
    "High Street",
    "Main St",
    "桜通り",
    "Rua Augusta",
    "İstiklal Caddesi",
)
# name -> subcategories; ids are given in pre-order, so a parent's id is below its children's
CATEGORY_TREE: dict[str, Any] = {
    "Electronics": {
        "Computers": {
            "Laptops": {"Gaming": {}, "Ultrabooks": {}},
            "Monitors": {},
            "Accessories": {},
        },
        "Phones": {"Smartphones": {}, "Accessories": {}},
        "Audio": {"Headphones": {}, "Speakers": {}},
    },
    "Fashion": {
        "Women": {"Dresses": {}, "Shoes": {}},
        "Men": {"Shirts": {}, "Shoes": {}},
        "Kids": {},
    },
    "Home & Garden": {
        "Furniture": {"Chairs": {}, "Tables": {}},
        "Kitchen": {"Cookware": {}, "Küchenhelfer": {}},
        "Garden": {},
    },
    "Grocery": {"Coffee & Tea": {}, "Snacks": {}, "Bio": {}},
    "Toys & Games": {"Board games": {}, "Bricks": {}},
    "Books": {"Fiction": {}, "Cookbooks": {}, "漫画": {}},
}
FAMILY_OF_ROOT = {
    "Electronics": "electronics",
    "Fashion": "apparel",
    "Home & Garden": "home",
    "Grocery": "food",
    "Toys & Games": "toys",
    "Books": "books",
}
NOUNS = {
    "electronics": ("laptop", "monitor", "headphones", "speaker", "charger", "phone case"),
    "apparel": ("t-shirt", "dress", "sneakers", "jacket", "scarf", "Hose"),
    "home": ("chair", "table", "pan", "lamp", "Gießkanne", "shelf"),
    "food": ("espresso beans", "green tea", "granola", "dark chocolate", "olive oil"),
    "toys": ("puzzle", "board game", "brick set", "plush bear", "kite"),
    "books": ("novel", "cookbook", "manga vol. 1", "atlas", "poetry"),
}
ADJECTIVES = ("Classic", "Pro", "Eco", "Mini", "Deluxe", "Über", "Ñ-Edition", '"Smart"', "Café")
KEYWORDS = ("gift", "sale", "neu", "nouveau", "🔥", "日本", "eco", "", "bestseller", "a b")
TAGS = (
    "sale", "new", "bestseller", "eco", "gift idea", "limited", "bundle", "clearance",
    "premium", "handmade", "Made in EU", "vegan", "refurbished", "exclusive", "back to school",
    "summer", "winter", "Black Friday", "🔥 hot", "日本製", "façonné", "staff pick", "outlet",
    "kids", "pro", "smart home", "outdoor", "travel", "fair trade", "last chance",
)  # fmt: skip
RETURN_REASONS = ("damaged", "wrong size", "not as described", "changed my mind", "late", "")
