"""Records on Concierge's internal topics (``concierge.internal.*``).

Not part of the public contract: stages agree on these among themselves and
may change them together. Each carries the stage's payload plus a ``kind`` so
that erasures and identity merges travel in order with the events of the
same customer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from libs.contract.erasure import ErasureRequest
from libs.contract.interaction import InteractionEvent


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_bytes(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)


class ResolvedRecord(Envelope):
    """identity → context, keyed by ``customer_id``.

    ``merge_out``: the context of ``customer_id`` (a provisional customer) is to
    be moved into ``merge_target``; ``merge_in`` carries it there. ``expire``:
    a quiet provisional context is to be dropped (sent by the context stage's
    own sweeper, because only a stream may change a table).
    """

    kind: Literal["event", "erasure", "merge_out", "merge_in", "expire"]
    customer_id: str
    provisional: bool = False
    event: InteractionEvent | None = None
    erasure: ErasureRequest | None = None
    merge_target: str | None = None
    merged_context: dict[str, Any] | None = None


def decode_resolved(data: bytes) -> ResolvedRecord:
    return ResolvedRecord.model_validate_json(data)
