"""Customer ids that both stages need to recognise.

A provisional customer is a visitor known only by a device or cookie: stage 1
derives its id (``prov:`` + a hash of the identifier) and stage 2 expires its
context after a quiet period, so both read the prefix from here.
"""

from __future__ import annotations

PROVISIONAL_PREFIX = "prov:"


def is_provisional(customer_id: str) -> bool:
    return customer_id.startswith(PROVISIONAL_PREFIX)
