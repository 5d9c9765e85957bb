"""Identity resolution, pure: identifiers in, one customer id and the table writes out.

Stage 1's handler (``services/intake/handler.py``) calls ``plan_identity_update``
per event and ``plan_erasure`` per erasure request, applies the writes to its
two tables (links by identifier key, identifier sets by customer id) and
forwards the event re-keyed by the resolved customer id. See docs/identity.md
for the rules.
"""

from services.intake.identity.erasure import Erasure, erase_links, plan_erasure
from services.intake.identity.identifiers import (
    PROVISIONAL_PREFIX,
    IdentifierKind,
    customer_key,
    identifier_key,
    identifier_keys,
    kind_of,
    provisional_customer_id,
)
from services.intake.identity.records import (
    ANONYMOUS_TTL,
    MAX_IDENTIFIERS_PER_CUSTOMER,
    PROVISIONAL_REFRESH,
    IdentifierSet,
    LinkRecord,
    identifier_set_is_expired,
    link_is_expired,
)
from services.intake.identity.resolution import IDENTIFY, LinkConflict, Resolution, resolve
from services.intake.identity.update import IdentityUpdate, plan_identity_update

__all__ = [
    "ANONYMOUS_TTL",
    "IDENTIFY",
    "MAX_IDENTIFIERS_PER_CUSTOMER",
    "PROVISIONAL_PREFIX",
    "PROVISIONAL_REFRESH",
    "Erasure",
    "IdentifierKind",
    "IdentifierSet",
    "IdentityUpdate",
    "LinkConflict",
    "LinkRecord",
    "Resolution",
    "customer_key",
    "erase_links",
    "identifier_key",
    "identifier_keys",
    "identifier_set_is_expired",
    "kind_of",
    "link_is_expired",
    "plan_erasure",
    "plan_identity_update",
    "provisional_customer_id",
    "resolve",
]
