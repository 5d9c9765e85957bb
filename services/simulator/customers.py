"""Simulated customers: stable identifiers derived from a customer number alone.

Identifiers do not depend on the seed, so runs with different seeds describe
the same customer base behaving differently, and a customer's cookie, device,
phone, e-mail and loyalty card are the same in every journey they take.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from services.simulator.catalogue import FIRST_NAMES, LAST_NAMES

# Ofcom's ranges reserved for drama (07700 900xxx, 020 7946 0xxx, 01632 960xxx,
# 0113..0161 496 0xxx, 0191 498 0xxx, 029 2018 0xxx): a thousand numbers each,
# none of which will ever ring a real person. Mobile first, so small runs look
# like mobile callers.
FICTIONAL_PHONE_BLOCKS: Final[tuple[str, ...]] = (
    "+447700900",
    "+442079460",
    "+441632960",
    *(f"+44{area}4960" for area in (113, 114, 115, 116, 117, 118, 121, 131, 141, 151, 161)),
    "+441914980",
    "+442920180",
)
NUMBERS_PER_BLOCK: Final = 1000
PHONE_POOL_SIZE: Final = len(FICTIONAL_PHONE_BLOCKS) * NUMBERS_PER_BLOCK


@dataclass(frozen=True, slots=True)
class Customer:
    number: int
    customer_id: str
    anonymous_id: str
    device_id: str
    # None beyond the fictional pool: two customers sharing a number would be
    # merged by identity resolution, which is worse than having no phone.
    phone: str | None
    email: str
    loyalty_id: str


def customer(number: int) -> Customer:
    """Customer `number` (1-based); the same identifiers on every call."""
    if number < 1:
        raise ValueError(f"customer numbers start at 1, got {number}")
    first = FIRST_NAMES[number % len(FIRST_NAMES)]
    last = LAST_NAMES[(number // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return Customer(
        number=number,
        customer_id=f"cust-{number:06d}",
        anonymous_id=f"anon-{_digest('cookie', number)}",
        device_id=f"dev-{_digest('device', number)}",
        phone=fictional_phone(number),
        email=f"{first}.{last}{number}@example.com",
        loyalty_id=f"loy-{5_500_000 + number}",
    )


def fictional_phone(number: int) -> str | None:
    """E.164 number for customer `number`, unique within the pool."""
    index = number - 1
    if not 0 <= index < PHONE_POOL_SIZE:
        return None
    block, line = divmod(index, NUMBERS_PER_BLOCK)
    return f"{FICTIONAL_PHONE_BLOCKS[block]}{line:03d}"


def as_typed(phone: str) -> str:
    """The number as a web form receives it ("+44 7700 900123"); E.164 once normalised."""
    return f"{phone[:3]} {phone[3:7]} {phone[7:]}"


def _digest(kind: str, number: int) -> str:
    return hashlib.sha256(f"{kind}:{number}".encode()).hexdigest()[:12]
