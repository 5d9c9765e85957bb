"""context → decision: each event with the context it produced, keyed by customer.

The decision stage reads only this, never the context service's state. The
context travels whole: decisions read most of it, and re-deriving a "part"
would tie the two stages' releases together more tightly than a field list.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter

from libs.contract.codec import to_json_bytes
from libs.contract.erasure import ErasureRequest
from libs.contract.interaction import InteractionEvent
from services.context.domain.model import CustomerContext


@dataclass(frozen=True)
class ContextualizedRecord:
    # "forget": the customer's context moved (a merge) or expired; drop what
    # you keep for this customer_id.
    kind: Literal["event", "erasure", "forget"]
    customer_id: str
    event: InteractionEvent | None = None
    context: CustomerContext | None = None
    erasure: ErasureRequest | None = None


def encode_contextualized(record: ContextualizedRecord) -> bytes:
    # Parts already serialised by their own models go in as fragments: no re-encoding.
    body: dict[str, Any] = {"kind": record.kind, "customer_id": record.customer_id}
    if record.event is not None:
        body["event"] = orjson.Fragment(to_json_bytes(record.event))
    if record.context is not None:
        body["context"] = orjson.Fragment(record.context.to_bytes())
    if record.erasure is not None:
        body["erasure"] = orjson.Fragment(to_json_bytes(record.erasure))
    return orjson.dumps(body)


@cache
def _adapter() -> TypeAdapter[ContextualizedRecord]:
    return TypeAdapter(ContextualizedRecord)


def decode_contextualized(data: bytes) -> ContextualizedRecord:
    return _adapter().validate_json(data)
