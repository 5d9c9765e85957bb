"""What the simulated retailer sells and where: products, stores, queues, offers.

Ids and categories match `deploy/config/catalogue.yaml` where they meet (the
products its offers name, its offer ids), so simulated traffic exercises the
shipped policies instead of missing them by a spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    category: str
    price: float


PRODUCTS: Final[tuple[Product, ...]] = (
    Product("phone-x1", "phones", 699.0),
    Product("phone-x2", "phones", 899.0),
    Product("phone-lite", "phones", 349.0),
    Product("laptop-pro-14", "laptops", 1299.0),
    Product("laptop-air-13", "laptops", 999.0),
    Product("tablet-10", "tablets", 449.0),
    Product("sku-4411", "headphones", 129.0),
    Product("earbuds-anc", "headphones", 89.0),
    Product("case-universal-01", "accessories", 19.99),
    Product("charger-65w", "accessories", 39.99),
    Product("cable-usbc-2m", "cables", 9.99),
    Product("bag-laptop-15", "bags", 49.0),
)

STORES: Final[tuple[str, ...]] = (
    "store-london-042",
    "store-leeds-007",
    "store-manchester-013",
    "store-bristol-021",
)
ASSOCIATES_PER_STORE: Final = 12

# Ofcom's fictional freephone range (0808 157 0000-0999): never a real line.
SERVICE_NUMBER: Final = "0808 157 0123"
AGENTS: Final = 40

CHECKOUT_FAILURES: Final[tuple[str, ...]] = (
    "card_declined",
    "3ds_timeout",
    "address_verification_failed",
    "payment_gateway_error",
)
COMPLAINT_CATEGORIES: Final[tuple[str, ...]] = ("delivery", "billing", "product_fault", "service")
HELP_TOPICS: Final[tuple[str, ...]] = ("returns", "delivery", "billing", "account", "warranty")

# Misspelt or out-of-range queries: what customers type before they give up.
EMPTY_QUERIES: Final[tuple[str, ...]] = (
    "hedphones wirless",
    "fone case x2 pro max",
    "laptop bag 17 inch leather",
    "usb c hub thunderbolt 5",
    "tablet 13 inch oled cheap",
    "earbud replacment tips",
)
GOOD_QUERIES: Final[tuple[str, ...]] = (
    "noise cancelling headphones",
    "phone x2",
    "laptop bag",
    "usb c cable",
    "tablet",
)

# Offers the decision service may show on web and mobile (catalogue ids).
DIGITAL_OFFERS: Final[tuple[str, ...]] = (
    "offer.upgrade_broadband",
    "offer.upgrade_premium_plan",
    "offer.loyalty_join",
    "offer.new_phone_model",
    "offer.crosssell_cart_accessory",
)

# Where marketing consent may be granted for: a contact channel, or None for all.
CONSENT_SCOPES: Final[tuple[str | None, ...]] = (
    None,
    "email",
    "sms",
    "push",
    "web",
    "mobile",
    "phone",
    "store",
)

# fmt: off
FIRST_NAMES: Final[tuple[str, ...]] = (
    "alex", "sam", "jo", "priya", "tom", "aisha", "li", "maria", "omar", "chloe",
    "dev", "hannah", "kwame", "sofia", "ben", "yusuf", "ellie", "raj", "nina", "luca",
)
LAST_NAMES: Final[tuple[str, ...]] = (
    "smith", "jones", "patel", "khan", "brown", "taylor", "wilson", "evans", "chen", "okafor",
    "murphy", "rossi", "singh", "walker", "ali", "wright", "hughes", "novak", "green", "hall",
)
# fmt: on
