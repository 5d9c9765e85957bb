"""`erasure/v1`: an operator's request to forget a customer, on `privacy.requests`."""

from typing import Final, Literal

from pydantic import Field

from libs.contract.common import Identifier, InboundModel, Timestamp

ERASURE_SCHEMA: Final = "erasure/v1"


class ErasureRequest(InboundModel):
    schema_: Literal["erasure/v1"] = Field(alias="schema")
    request_id: Identifier = Field(
        description="Chosen by the requester; a repeat is processed once."
    )
    customer_id: Identifier
    requested_at: Timestamp
