"""Erasure: after forgetting a customer, tell every outbound system to stop.

The adapter deletes the customer's contact history; this builds the
``erasure`` suppression (all scopes, until lifted) the contract promises.
Its id derives from the request id, so a repeated request re-announces the
same suppression rather than a new one.
"""

from __future__ import annotations

from datetime import datetime

from libs.contract.common import Trigger
from libs.contract.erasure import ErasureRequest
from libs.contract.suppression import SuppressionEvent, SuppressionReason, SuppressionState
from services.decision.domain.suppressions import suppression_id


def erasure_suppression(request: ErasureRequest, now: datetime) -> SuppressionEvent:
    return SuppressionEvent(
        suppression_id=suppression_id(request.customer_id, "erasure", request.request_id),
        customer_id=request.customer_id,
        state=SuppressionState.active,
        reason=SuppressionReason.erasure,
        detail="customer data erased on request: contact nothing for this customer id",
        trigger=Trigger(event_id=request.request_id, type="erasure", channel=None),
        effective_at=now,
        until=None,
    )
